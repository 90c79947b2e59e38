// lathe/utils tree functions, checked against the behaviour of mlx.utils.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { treeFlatten, treeUnflatten, treeMap, treeMapWithPath, treeReduce, treeMerge } from '../../src/utils/index.js';

test('treeFlatten: dotted keys in order, prefixes, leaves and isLeaf', () => {
  const a = mx.array([1]);
  const tree = { layers: [{ weight: a, bias: 2 }, {}, { weight: 3 }], head: { w: [4, [5]] } };
  assert.deepEqual(treeFlatten(tree), [['layers.0.weight', a], ['layers.0.bias', 2], ['layers.2.weight', 3], ['head.w.0', 4], ['head.w.1.0', 5]]);
  // MLX's examples: tree_flatten([[[0]]]) and tree_flatten([[[0]]], ".hello").
  assert.deepEqual(treeFlatten([[[0]]]), [['0.0.0', 0]]);
  assert.deepEqual(treeFlatten([[[0]]], '.hello'), [['hello.0.0.0', 0]]);
  assert.deepEqual(treeFlatten([[[0]]], 'hello'), [['hello.0.0.0', 0]]);
  assert.deepEqual(treeFlatten(7), [['', 7]]);
  assert.deepEqual(treeFlatten({}), []);
  assert.deepEqual(treeFlatten({ a: [1, 2], b: 3 }, '', (x) => Array.isArray(x)), [['a', [1, 2]], ['b', 3]]);
  // Class instances (arrays, modules, dates) are leaves; null/undefined too.
  const d = new Date(0);
  assert.deepEqual(treeFlatten({ d, n: null }), [['d', d], ['n', null]]);
});

test('treeUnflatten inverts treeFlatten; integer keys make lists, gaps filled with {}', () => {
  const tree = { layers: [{ weight: 1, bias: 2 }, { weight: 3 }], head: { w: [4, [5]] } };
  assert.deepEqual(treeUnflatten(treeFlatten(tree)), tree);
  assert.deepEqual(treeUnflatten([['hello.world', 42]]), { hello: { world: 42 } });
  assert.deepEqual(treeUnflatten([['layers.2.w', 1], ['layers.0.w', 0]]), { layers: [{ w: 0 }, {}, { w: 1 }] });
  assert.deepEqual(treeUnflatten([['10', 'b'], ['9', 'a']]), [{}, {}, {}, {}, {}, {}, {}, {}, {}, 'a', 'b']);
  assert.deepEqual(treeUnflatten([]), {});
  assert.equal(treeUnflatten([['', 5]]), 5);
  assert.throws(() => treeUnflatten([['0', 1], ['a', 2]]), /\[treeUnflatten\] keys at one level mix list indices and names: '0' and 'a'/);
});

test('treeMap and treeMapWithPath: extra trees, structure kept, paths', () => {
  const t = { a: [1, 2], b: { c: 3 } };
  assert.deepEqual(treeMap((x: number) => x * 10, t), { a: [10, 20], b: { c: 30 } });
  assert.deepEqual(treeMap((x: number, y: number, z: number) => x + y + z, t, [{ a: [10, 20], b: { c: 30 } }, { a: [100, 200], b: { c: 300, extra: 1 } }]),
    { a: [111, 222], b: { c: 333 } });
  assert.throws(() => treeMap((x: number, y: number) => x + y, t, [{ a: [1, 2] }]), /\[treeMap\] the extra trees must contain the first tree's structure: no entry at 'b'/);
  assert.deepEqual(treeMap((x: unknown) => (Array.isArray(x) ? x.length : x), t, [], { isLeaf: Array.isArray }), { a: 2, b: { c: 3 } });
  const paths: string[] = [];
  const out = treeMapWithPath((p: string, x: number) => { paths.push(p); return `${p}=${x}`; }, { model: [{ w: 0, b: 1 }, { w: 0, b: 1 }] });
  assert.deepEqual(paths, ['model.0.w', 'model.0.b', 'model.1.w', 'model.1.b']);
  assert.deepEqual(out, { model: [{ w: 'model.0.w=0', b: 'model.0.b=1' }, { w: 'model.1.w=0', b: 'model.1.b=1' }] });
  assert.deepEqual(treeMapWithPath((p: string) => p, [1, [2]], [], { path: 'root' }), ['root.0', ['root.1.0']]);
  // Arrays are leaves: a typical use squares every parameter.
  const sq = treeMap((x: mx.Array) => mx.square(x), { w: mx.array([2, 3]) });
  assert.deepEqual(sq.w.tolist(), [4, 9]);
});

test('treeReduce folds leaves in order, with or without an initializer', () => {
  assert.equal(treeReduce((acc: number, x: number) => acc + x, { a: [1, 2, 3], b: [4, 5] }, 0), 15);
  assert.equal(treeReduce((acc: string, x: string) => acc + x, { a: ['x', 'y'], b: 'z' }), 'xyz');
  assert.equal(treeReduce((acc: number, x: number) => acc + x, {}, 7), 7);
  assert.equal(treeReduce((acc: number, x: number) => acc + x, []), undefined);
  assert.equal(treeReduce((acc: number, x: number[]) => acc + x.length, { a: [1, 2], b: [3] }, 0, Array.isArray), 3);
  const norm2 = treeReduce((acc: mx.Array, g: mx.Array) => mx.add(acc, mx.sum(mx.square(g))), { a: mx.array([3]), b: [mx.array([4])] }, mx.array(0));
  assert.equal(norm2.item(), 25);
});

test('treeMerge combines disjoint trees; clashes need a merge function', () => {
  assert.deepEqual(treeMerge({ a: { x: 1 }, l: [1, {}] }, { a: { y: 2 }, l: [{}, 2, 3] }), { a: { x: 1, y: 2 }, l: [1, 2, 3] });
  assert.deepEqual(treeMerge({}, { a: 1 }), { a: 1 });
  assert.deepEqual(treeMerge({ a: 1 }, null), { a: 1 });
  assert.throws(() => treeMerge({ a: { b: 1 } }, { a: { b: 2 } }), /\[treeMerge\] both trees have a value at 'a.b'/);
  assert.deepEqual(treeMerge({ a: 1 }, { a: 2 }, (x, y) => (x as number) + (y as number)), { a: 3 });
});
