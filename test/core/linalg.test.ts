// Products, norms and factorizations beyond the NumPy goldens: both GEMM paths, exact
// integer wrapping, factorization properties (orthogonality, reconstruction, the eigen
// equation), and gradient rules for shapes the shared rule table does not cover.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as mx from '../../src/index.js';
import { portableGemm } from '../../src/backend/cpu/gemm.js';
import { gemm, blasLibrary } from '../../src/backend/cpu/blas.js';
import { rng, checkGradients, checkVmap, Case } from '../transforms/check.js';

const rand = (shape: number[], dtype: mx.DTypeName = 'float64', seed = 1): mx.Array => {
  const r = rng(seed), n = shape.reduce((a, b) => a * b, 1);
  return mx.reshape(mx.array(Float64Array.from({ length: n }, () => r() * 2 - 1), dtype), shape);
};
const maxAbs = (x: mx.Array) => Number(mx.max(mx.abs(x)).item());
const eye = (n: number, dtype: mx.DTypeName = 'float64') => mx.eye(n, null, 0, dtype);
const mT = (x: mx.Array) => mx.swapaxes(x, -1, -2);
const close = (a: mx.Array, b: mx.Array, tol: number, what: string) => {
  const err = maxAbs(mx.subtract(a, b));
  assert.ok(err <= tol, `${what}: max error ${err} > ${tol}`);
};

function refGemm(tA: boolean, tB: boolean, M: number, N: number, K: number, A: Float64Array, lda: number, B: Float64Array, ldb: number): Float64Array {
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += (tA ? A[k * lda + i] : A[i * lda + k]) * (tB ? B[j * ldb + k] : B[k * ldb + j]);
    C[i * N + j] = s;
  }
  return C;
}

test('portable GEMM: transposes, leading dims, offsets, alpha and beta, both precisions', () => {
  const r = rng(3);
  for (const Ctor of [Float32Array, Float64Array]) {
    for (const [M, N, K] of [[3, 5, 2], [37, 45, 70], [64, 9, 300], [1, 70, 33]]) {
      for (const tA of [false, true]) for (const tB of [false, true]) {
        const lda = (tA ? M : K) + 2, ldb = (tB ? K : N) + 1, ldc = N + 3, off = 4;
        const A = Ctor.from({ length: off + (tA ? K : M) * lda }, () => r() - 0.5);
        const B = Ctor.from({ length: off + (tB ? N : K) * ldb }, () => r() - 0.5);
        const C = Ctor.from({ length: off + M * ldc }, () => r());
        const before = C.slice();
        portableGemm(tA, tB, M, N, K, 1.5, A, off, lda, B, off, ldb, 0.5, C, off, ldc);
        const ref = refGemm(tA, tB, M, N, K, Float64Array.from(A.subarray(off)), lda, Float64Array.from(B.subarray(off)), ldb);
        const tol = Ctor === Float32Array ? 1e-4 : 1e-12;
        for (let i = 0; i < M; i++) for (let j = 0; j < ldc; j++) {
          const at = off + i * ldc + j;
          const want = j < N ? 1.5 * ref[i * N + j] + 0.5 * before[at] : before[at]; // padding columns untouched
          assert.ok(Math.abs(C[at] - want) <= tol, `${Ctor.name} ${M}x${N}x${K} tA=${tA} tB=${tB} at (${i},${j}): ${C[at]} vs ${want}`);
        }
      }
    }
  }
});

test('BLAS and the portable GEMM agree', (t) => {
  if (!blasLibrary()) { t.skip('no BLAS library on this machine'); return; }
  const r = rng(5), [M, N, K] = [130, 70, 257];
  const A = Float32Array.from({ length: M * K }, () => r() - 0.5), B = Float32Array.from({ length: K * N }, () => r() - 0.5);
  const c1 = new Float32Array(M * N), c2 = new Float32Array(M * N);
  gemm(false, true, M, N, K, 1, A, 0, K, B, 0, K, 0, c1, 0, N);
  portableGemm(false, true, M, N, K, 1, A, 0, K, B, 0, K, 0, c2, 0, N);
  for (let i = 0; i < c1.length; i++) assert.ok(Math.abs(c1[i] - c2[i]) < 1e-4, `element ${i}`);
});

test('LATHE_NO_BLAS=1 selects the portable kernel, and matmul still works', () => {
  const code = `import * as mx from './src/index.ts'; import { blasLibrary } from './src/backend/cpu/blas.ts';
    const y = mx.matmul(mx.ones([70, 80]), mx.ones([80, 60]));
    console.log(JSON.stringify([blasLibrary(), mx.sum(y).item()]));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env: { ...process.env, LATHE_NO_BLAS: '1' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim()), [null, 70 * 60 * 80]);
});

test('matmul: large float32 products, transposed inputs and 1-D operands', () => {
  const a = rand([200, 300], 'float64', 2), b = rand([300, 150], 'float64', 3);
  const ref = mx.matmul(a, b);
  close(mx.matmul(mx.astype(a, 'float32'), mx.astype(b, 'float32')), mx.astype(ref, 'float32'), 1e-4, 'float32 vs float64');
  close(mx.matmul(mT(mT(a)), b), ref, 1e-12, 'through transposes');
  const v = mx.matmul(mx.array([1, 2, 3]), mx.array([4, 5, 6]));
  assert.deepEqual(v.shape, []);
  assert.equal(v.item(), 32);
  assert.equal(v.dtype, mx.int32);
});

test('matmul: integers wrap like C, float16 rounds once from float32', () => {
  const big = mx.matmul(mx.array([[2 ** 30, 2 ** 30]], 'int32'), mx.array([[4], [1]], 'int32'));
  assert.deepEqual(big.tolist(), [[2 ** 30]]); // 2^32 wraps to 0, plus 2^30
  const u = mx.matmul(mx.array([[4000000000]], 'uint32'), mx.array([[2]], 'uint32'));
  assert.deepEqual(u.tolist(), [[(4000000000 * 2) % 2 ** 32]]);
  const i64 = mx.matmul(mx.array([[3000000000n]], 'int64'), mx.array([[4000000000n]], 'int64'));
  assert.deepEqual(i64.tolist(), [[12000000000000000000n - 2n ** 64n]]);
  const h = mx.matmul(mx.array([[1, 1e-3]], 'float16'), mx.array([[1], [1]], 'float16'));
  assert.equal(h.dtype, mx.float16);
  assert.equal(h.item(), Number(mx.array(1.001, 'float16').item()));
});

test('qr: Q has orthonormal columns, R is upper triangular, QR = A', () => {
  for (const [shape, dtype, tol] of [[[5, 3], 'float64', 1e-12], [[3, 5], 'float64', 1e-12], [[2, 4, 4], 'float64', 1e-12], [[6, 4], 'float32', 2e-5]] as const) {
    const a = rand([...shape], dtype, 11);
    const [q, r] = mx.linalg.qr(a);
    const k = Math.min(shape[shape.length - 1], shape[shape.length - 2]);
    close(mx.matmul(mT(q), q), eye(k, dtype), tol, `QtQ ${shape}`);
    close(mx.matmul(q, r), a, tol, `QR ${shape}`);
    close(mx.tril(r, -1), mx.zerosLike(r), 0, `R lower part ${shape}`);
  }
});

test('svd: orthogonal U and Vt, descending S, U S Vt = A, also rank-deficient and zero matrices', () => {
  const rank1 = mx.array([[1, 2, 3], [2, 4, 6], [-1, -2, -3], [0.5, 1, 1.5]], 'float64');
  for (const [a, tol] of [[rand([5, 3], 'float64', 4), 1e-12], [rand([3, 5], 'float64', 5), 1e-12], [rand([2, 4, 4], 'float64', 6), 1e-12],
    [rank1, 1e-12], [mx.zeros([3, 2], 'float64'), 0], [rand([7, 4], 'float32', 7), 3e-5]] as const) {
    const [u, s, vt] = mx.linalg.svd(a);
    const m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], k = Math.min(m, n);
    close(mx.matmul(u, mT(u)), eye(m, a.dtype.name), tol + 1e-14, `UUt ${a.shape}`);
    close(mx.matmul(vt, mT(vt)), eye(n, a.dtype.name), tol + 1e-14, `VtV ${a.shape}`);
    const sm = mx.matmul(mx.multiply(mx.matmul(u, mx.eye(m, k, 0, a.dtype)), mx.expandDims(s, -2)), mx.matmul(mx.eye(k, n, 0, a.dtype), vt));
    close(sm, a, tol * 10, `USVt ${a.shape}`);
    const sv = s.dataSync();
    for (let i = 1; i < k; i++) assert.ok(sv[i - 1] >= sv[i] && sv[i] >= 0, `S descending ${a.shape}`);
  }
});

test('eigh: A V = V diag(w), orthonormal V, ascending w, UPLO picks the triangle', () => {
  const x = rand([2, 5, 5], 'float64', 8);
  const a = mx.add(x, mT(x));
  const [w, v] = mx.linalg.eigh(a);
  close(mx.matmul(a, v), mx.multiply(v, mx.expandDims(w, -2)), 1e-12, 'eigen equation');
  close(mx.matmul(mT(v), v), eye(5), 1e-12, 'VtV');
  const wv = w.dataSync();
  for (let i = 1; i < 5; i++) assert.ok(wv[i] >= wv[i - 1]);
  // Garbage above the diagonal is ignored with 'L', below with 'U'.
  const noisyLower = mx.add(a, mx.triu(mx.full([5, 5], 9, 'float64'), 1));
  close(mx.linalg.eigvalsh(noisyLower), w, 1e-12, "UPLO 'L'");
  close(mx.linalg.eigvalsh(mT(noisyLower), 'U'), w, 1e-12, "UPLO 'U'");
  const [w32] = mx.linalg.eigh(mx.astype(a, 'float32'));
  assert.equal(w32.dtype, mx.float32);
  close(mx.astype(w32, 'float64'), w, 1e-5, 'float32');
});

test('norm: Infinity ords and keepdims shapes', () => {
  const v = mx.array([3, -7, 2]);
  assert.equal(mx.norm(v, Infinity).item(), 7);
  assert.equal(mx.norm(v, -Infinity).item(), 2);
  const m = mx.array([[1, -2], [3, 4]], 'float32');
  assert.equal(mx.norm(m, Infinity).item(), 7); // max row sum
  assert.equal(mx.norm(m, -Infinity).item(), 3);
  assert.deepEqual(mx.norm(mx.ones([2, 3, 4]), Infinity, [2, 0], true).shape, [1, 3, 1]);
  assert.equal(mx.linalg.norm, mx.norm);
});

test('einsum takes a trailing { stream } and matches matmul', () => {
  const a = rand([3, 4], 'float64', 9), b = rand([4, 2], 'float64', 10);
  close(mx.einsum('ij,jk->ik', a, b, { stream: mx.cpu }), mx.matmul(a, b), 1e-14, 'einsum');
});

// Gradient rules on shapes the shared table (test/transforms/rules.test.ts) leaves out.
const f64 = (shape: number[], extra: Partial<Case['inputs'][number]> = {}) => ({ shape, dtype: 'float64' as const, ...extra });
/** A function of the SVD that does not depend on the signs or completion of singular vectors. */
const svdInvariant = (a: mx.Array) => {
  const [u, s, vt] = mx.linalg.svd(a);
  const m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], k = Math.min(m, n);
  const uk = mx.matmul(u, mx.eye(m, k, 0, 'float64')), vk = mx.matmul(mT(vt), mx.eye(n, k, 0, 'float64'));
  return [mx.matmul(mx.multiply(uk, mx.expandDims(mx.exp(s), -2)), mT(vk)), mx.matmul(uk, mT(uk)), s];
};
const cases: [string, Case][] = [
  ['qr wide', { fn: (a) => mx.linalg.qr(a), inputs: [f64([3, 5])] }],
  ['svd tall', { fn: svdInvariant, inputs: [f64([5, 3])] }],
  ['svd wide, batched', { fn: svdInvariant, inputs: [f64([2, 2, 4])] }],
  ['svd values, wide', { fn: (a) => mx.linalg.svd(a, false), inputs: [f64([2, 4])] }],
  ['eigh upper', { fn: (a) => { const [w, v] = mx.linalg.eigh(a, 'U'); return [w, mx.matmul(mx.multiply(v, mx.expandDims(mx.sin(w), -2)), mT(v))]; }, inputs: [f64([4, 4])] }],
  ['inv batched', { fn: (a) => mx.linalg.inv(mx.add(a, mx.multiply(eye(3), 4))), inputs: [f64([2, 3, 3])] }],
  ['einsum', { fn: (a, b) => mx.einsum('iij,jk->ik', a, b), inputs: [f64([3, 3, 2]), f64([2, 4])] }],
  ['tensordot', { fn: (a, b) => mx.tensordot(a, b, [[0, 2], [1, 0]]), inputs: [f64([2, 3, 4]), f64([4, 2, 3])] }],
  ['addmm', { fn: (c, a, b) => mx.addmm(c, a, b, 0.5, 2), inputs: [f64([4]), f64([3, 2]), f64([2, 4])] }],
  ['norm nuc and 2', { fn: (a) => [mx.norm(a, 'nuc'), mx.norm(a, 2), mx.norm(a, 'fro')], inputs: [f64([3, 4])] }],
];
for (const [name, c] of cases) {
  test(`rules: ${name}`, () => {
    checkGradients(c, 100, name);
    if (c.vmap !== false) checkVmap(c, 200, `${name} vmap`, c.inputs.map(() => 0), 0);
  });
}

test('svd rules agree with each other on full U and Vt of non-square matrices', () => {
  // Finite differences cannot judge the completing columns (any orthonormal completion is
  // valid), but the jvp and vjp rules must still be transposes of each other.
  for (const shape of [[5, 3], [2, 4]]) {
    const a = rand(shape, 'float64', 21);
    const outs = mx.linalg.svd(a);
    const cts = outs.map((o, i) => rand([...o.shape], 'float64', 30 + i));
    const u = rand(shape, 'float64', 40);
    const [, [ga]] = mx.vjp((x: mx.Array) => mx.linalg.svd(x), [a], cts);
    const [, tangents] = mx.jvp((x: mx.Array) => mx.linalg.svd(x), [a], [u]);
    const dot = (x: mx.Array, y: mx.Array) => Number(mx.sum(mx.multiply(x, y)).item());
    const viaJvp = (tangents as mx.Array[]).reduce((s, t, i) => s + dot(t, cts[i]), 0);
    const viaVjp = dot(ga as mx.Array, u);
    assert.ok(Math.abs(viaJvp - viaVjp) < 1e-9 * (1 + Math.abs(viaVjp)), `${shape}: ${viaJvp} vs ${viaVjp}`);
  }
});

test('matmul reads operands stored transposed in place (no copy), with the same values as a copied transpose', () => {
  const w = mx.reshape(mx.arange(0, 12, 1, 'float32'), [4, 3]), x = mx.reshape(mx.arange(0, 6, 1, 'float32'), [2, 3]);
  const folded = mx.matmul(x, mx.transpose(w));
  const node = folded._node!;
  assert.equal(node.prim.name, 'matmul');
  assert.equal(node.inputs[1], w, 'the weight itself is the operand');
  assert.deepEqual(node.params, { transposeB: true });
  const wt = mx.transpose(w);
  mx.eval(wt); // evaluated first: a dense copy, nothing to fold
  assert.deepEqual(folded.tolist(), mx.matmul(x, wt).tolist());
  for (const dtype of ['float32', 'float16', 'bfloat16', 'float64'] as const) {
    const a = mx.astype(mx.reshape(mx.arange(0, 24, 1, 'float32'), [2, 4, 3]), dtype), b = mx.astype(mx.reshape(mx.arange(0, 15, 1, 'float32'), [5, 3]), dtype);
    const bt = mx.transpose(b); mx.eval(bt);
    const at = mx.swapaxes(a, -1, -2); mx.eval(at);
    assert.deepEqual(mx.matmul(mx.swapaxes(mx.swapaxes(a, -1, -2), -1, -2), mx.transpose(b)).tolist(), mx.matmul(a, bt).tolist(), dtype);
    assert.deepEqual(mx.matmul(mx.swapaxes(a, -1, -2), mx.ones([2, 4, 2], dtype)).tolist(), mx.matmul(at, mx.ones([2, 4, 2], dtype)).tolist(), `${dtype} a.T`);
  }
  // Integer products keep row-major operands.
  const i = mx.matmul(mx.ones([2, 3], 'int32'), mx.transpose(mx.ones([4, 3], 'int32')));
  assert.deepEqual(i._node!.params, {});
});

test('transposes that only move axes of size 1 are reshapes; a transpose of a transpose permutes once', () => {
  const x = mx.zeros([2, 1, 3, 1]);
  assert.equal(mx.transpose(x, [1, 0, 3, 2])._node!.prim.name, 'reshape');
  const z = mx.zeros([2, 3, 4]);
  assert.equal(mx.transpose(mx.transpose(z, [2, 0, 1]), [1, 2, 0]), z, 'the identity: the source itself');
  const u = mx.transpose(mx.transpose(mx.reshape(mx.arange(24), [2, 3, 4]), [1, 0, 2]), [0, 2, 1]);
  assert.deepEqual(u._node!.inputs[0].shape, [2, 3, 4]);
  assert.deepEqual(u.tolist(), mx.transpose(mx.reshape(mx.arange(24), [2, 3, 4]), [1, 2, 0]).tolist());
});
