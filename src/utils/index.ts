// lathe/utils: tree utilities (mlx.utils in camelCase).
export { treeFlatten, treeUnflatten, treeMap, treeMapWithPath, treeReduce, treeMerge, isPlainObject } from './tree.js';
export type { TreeOf, MappedTree, IsLeaf } from './tree.js';
