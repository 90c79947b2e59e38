// lathe/utils: tree utilities (mlx.utils in camelCase).
import '../backends.js'; // every entry point can evaluate on its own
export { treeFlatten, treeUnflatten, treeMap, treeMapWithPath, treeReduce, treeMerge, isPlainObject } from './tree.js';
export type { TreeOf, MappedTree, IsLeaf } from './tree.js';
