// Compiles representative CUDA kernels of every family and dtype with nvcc (no GPU
// needed), so a kernel that does not compile is caught on CPU-only machines and in CI.
// All sources go into one file (the prelude is include-guarded), compiled in one nvcc run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as mx from '../../src/index.js';
import type { DType } from '../../src/core/dtype.js';
import type { KernelSource } from '../../src/backend/cuda/compiler.js';
import { unaryCuda, binaryCuda, castCuda, renderElementwise, Mode } from '../../src/backend/cuda/kernels/elementwise.js';
import { renderCopy, renderTranspose } from '../../src/backend/cuda/kernels/copy.js';
import { renderReduce, renderArgReduce, renderSoftmax, Variant } from '../../src/backend/cuda/kernels/reduce.js';
import { renderFused } from '../../src/backend/cuda/kernels/fused.js';
import { renderIntGemm } from '../../src/backend/cuda/kernels/matmul.js';
import { renderGemv, renderGemvFused } from '../../src/backend/cuda/kernels/gemv.js';
import { waitForPredecessors } from '../../src/backend/cuda/compiler.js';
import { renderArange } from '../../src/backend/cuda/kernels/creation.js';
import { store } from '../../src/backend/cuda/kernels/ctypes.js';
import { renderScan, ScanMode } from '../../src/backend/cuda/kernels/scan.js';
import { renderBitonic, renderMerge, renderSortEmit } from '../../src/backend/cuda/kernels/sort.js';
import { renderGather, renderScatter, renderSearchsorted, Target } from '../../src/backend/cuda/kernels/indexing.js';
import { renderRandomBits } from '../../src/backend/cuda/kernels/random.js';
import { renderIm2col, renderCol2im } from '../../src/backend/cuda/kernels/conv.js';
import { renderQuantize, renderDequantize, renderDequantizeChunks } from '../../src/backend/cuda/kernels/quantize.js';
import { renderQmvT, renderQmvN, renderQmvSum } from '../../src/backend/cuda/kernels/fast/quantized-gemv.js';
import { renderCudaKernel, CudaKernelParams } from '../../src/backend/cuda/kernels/fast/cuda-kernel.js';
import { renderNormForward, renderNormBackward, renderColumnSum, NormShape } from '../../src/backend/cuda/kernels/fast/norm.js';
import { renderRope } from '../../src/backend/cuda/kernels/fast/rope.js';
import { renderGlu } from '../../src/backend/cuda/kernels/fast/glu.js';
import { renderCeForward, renderCeBackward } from '../../src/backend/cuda/kernels/fast/cross-entropy.js';
import { renderMmaFwd, renderMmaBwd } from '../../src/backend/cuda/kernels/fast/attention-mma.js';
import { renderSimtFwd, renderSimtBwd, renderCombine, renderBwdPre, renderDqConvert } from '../../src/backend/cuda/kernels/fast/attention-simt.js';

const nvcc = process.env.NVCC ?? 'nvcc';
const found = spawnSync(nvcc, ['--version'], { encoding: 'utf8' });
const skip = found.status === 0 ? false : `nvcc not found (set NVCC to its path); CUDA kernel sources were not compiled`;
if (skip) console.log(`# skipped: ${skip}`);

const all = mx.allDtypes.filter((d) => d.name !== 'float64');
const SAME = new Set(['abs', 'negative', 'sign', 'square', 'floor', 'ceil', 'round', 'stopGradient']);
const PRED = new Set(['isnan', 'isinf', 'isfinite', 'logicalNot', 'bitwiseInvert']);
const FLOAT_ONLY = new Set(['divide', 'arctan2', 'logaddexp']);
const INT_ONLY = new Set(['bitwiseAnd', 'bitwiseOr', 'bitwiseXor', 'leftShift', 'rightShift']);

/**
 * Every kernel family over dtypes that cover each storage/compute type pair the renderers
 * distinguish (a full cross product would take minutes to compile).
 */
function catalog(): KernelSource[] {
  const out: KernelSource[] = [];
  let k = 0;
  const name = (tag: string) => `${tag}_${k++}`;
  const dt = (...names: string[]) => names.map((n) => mx.dtypes[n as mx.DTypeName]);
  const some = dt('float32', 'float16', 'bfloat16', 'int8', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool');
  const ew = (tag: string, expr: string, ins: { dtype: DType; mode: Mode; raw?: boolean }[], o: DType, wide = false) =>
    out.push(renderElementwise(name(tag), { expr, ins, out: o, nd: 3, wide }));
  for (const [op, f] of Object.entries(unaryCuda)) {
    const dts = SAME.has(op) || PRED.has(op) ? some.filter((d) => op !== 'bitwiseInvert' || !d.isFloat) : dt('float32', 'bfloat16');
    for (const d of dts) {
      const o = PRED.has(op) && op !== 'bitwiseInvert' ? mx.bool : d;
      ew(`u_${op}`, store(f('x0', d, { decimals: op === 'round' ? -1 : 0 }), o), [{ dtype: d, mode: 'full' }], o);
    }
  }
  for (const [op, f] of Object.entries(binaryCuda)) {
    const dts = FLOAT_ONLY.has(op) ? dt('float32', 'float16') : some.filter((d) => !INT_ONLY.has(op) || !d.isFloat);
    for (const d of dts) {
      const o = /equal|less|greater|logical/i.test(op) ? mx.bool : d;
      ew(`b_${op}`, store(f('x0', 'x1', d), o), [{ dtype: d, mode: 'strided' }, { dtype: d, mode: 'scalar' }], o);
    }
  }
  for (const from of all) for (const to of dt('bool', 'int8', 'uint32', 'int64', 'uint64', 'float16', 'bfloat16', 'float32'))
    ew('cast', store(castCuda('x0', from, to), to), [{ dtype: from, mode: 'full' }], to, from === mx.int64);
  for (const d of all) ew('select', '(x0 ? x1 : x2)', [{ dtype: mx.bool, mode: 'strided' }, { dtype: d, mode: 'full', raw: true }, { dtype: d, mode: 'scalar', raw: true }], d);
  // packed (16-byte) loops: dense inputs of mixed widths, a scalar, raw bits
  for (const [a, o] of [[mx.float32, mx.float32], [mx.bfloat16, mx.bfloat16], [mx.float16, mx.bool], [mx.int64, mx.int8], [mx.uint8, mx.float32]] as const)
    out.push(renderElementwise(name('packed'), { expr: store(castCuda('x0', a, o), o), ins: [{ dtype: a, mode: 'full' }, { dtype: o, mode: 'scalar' }], out: o, nd: 1, wide: a === mx.int64, vec: 16 / Math.max(a.size, o.size) }));
  for (const d of dt('float32', 'bfloat16', 'uint8')) out.push(renderElementwise(name('packedsel'), { expr: '(x0 ? x1 : x2)', ins: [{ dtype: mx.bool, mode: 'full' }, { dtype: d, mode: 'full', raw: true }, { dtype: d, mode: 'scalar', raw: true }], out: d, nd: 1, wide: false, vec: 16 / d.size }));
  for (const elem of [1, 2, 4, 8]) for (const denseDst of [true, false]) out.push(renderCopy(name('copy'), { elem, nd: 4, wide: elem === 8, denseDst }));
  for (const elem of [1, 2, 4, 8]) out.push(renderTranspose(name('transpose'), { elem, nd: elem === 2 ? 2 : 3, wide: elem === 8 }));
  const variants: Variant[] = ['warp', 'block', 'cols'];
  for (const op of ['sum', 'prod', 'max', 'min', 'all', 'any']) {
    for (const d of some) {
      const acc = op === 'all' || op === 'any' ? mx.int32 : d;
      const o = op === 'all' || op === 'any' ? mx.bool : d;
      const vs = d === mx.float32 || d === mx.int64 ? variants : [variants[k % 3]];
      for (const variant of vs) out.push(renderReduce(name(`r_${op}`), { op, variant, input: d, acc, output: o, wide: variant === 'cols' }));
      if (d === mx.float16 || d === mx.int32) {
        out.push(renderReduce(name(`rp_${op}`), { op, variant: 'block', input: d, acc, output: null, wide: false }));
        out.push(renderReduce(name(`rf_${op}`), { op, variant: 'warp', input: null, acc, output: o, wide: false }));
      }
    }
  }
  for (const d of some) for (const isMax of [true, false]) out.push(renderArgReduce(name('arg'), { isMax, variant: variants[k % 3], input: d, wide: false }));
  // split arg-reductions: partial (value, index) pairs out of the first pass, into the second
  for (const d of dt('float32', 'bfloat16', 'int64', 'bool')) for (const variant of variants) {
    out.push(renderArgReduce(name('argp'), { isMax: true, variant, input: d, wide: variant === 'cols', partialOut: true }));
    out.push(renderArgReduce(name('argf'), { isMax: false, variant, input: d, wide: false, partialIn: true }));
  }
  for (const d of dt('float32', 'float16', 'bfloat16')) for (const kind of ['softmax', 'logsumexp'] as const) for (const variant of variants)
    out.push(renderSoftmax(name(kind), { kind, variant, input: d, output: d, wide: variant === 'block' }));
  for (const d of dt('float32', 'bfloat16')) for (const [items, threads] of [[1, 256], [16, 256], [32, 1024]])
    out.push(renderSoftmax(name('softmaxc'), { kind: 'softmax', variant: 'cached', input: d, output: d, wide: false, items, threads }));
  for (const d of dt('float32', 'bfloat16', 'float16')) for (const items of [1, 3, 8])
    out.push(renderSoftmax(name('softmaxs'), { kind: 'softmax', variant: 'staged', input: d, output: d, wide: false, items, threads: 1024 }));
  const program = { nInputs: 2, outputs: [5, 6], ops: [
    { prim: 'multiply', args: [0, 1], dtype: 'float16', params: {} }, { prim: 'exp', args: [2], dtype: 'float16', params: {} },
    { prim: 'greater', args: [3, 0], dtype: 'bool', params: {} }, { prim: 'astype', args: [4], dtype: 'int8', params: {} },
    { prim: 'select', args: [4, 3, 0], dtype: 'float16', params: {} }] } as const;
  out.push(renderFused(name('fused'), program as never, [{ dtype: mx.float16, mode: 'strided' }, { dtype: mx.float16, mode: 'scalar' }], 2, false));
  out.push(renderFused(name('fusedp'), program as never, [{ dtype: mx.float16, mode: 'full' }, { dtype: mx.float16, mode: 'scalar' }], 1, false, 8));
  for (const d of dt('int8', 'uint32', 'int64', 'bool')) out.push(renderIntGemm(name('igemm'), d));
  // float GEMVs: each dtype, rows of x, a team within a warp, a warp, and warps meeting in shared memory
  for (const [d, mm, team, unroll] of [[mx.bfloat16, 1, 32, 8], [mx.float16, 4, 8, 4], [mx.float32, 2, 128, 8], [mx.bfloat16, 3, 256, 8]] as const)
    out.push(renderGemv(name('gemv'), { dtype: d, mm, team, unroll }));
  // fused GEMVs (fusedLinear): siblings, each GLU activation, the residual epilogue
  for (const [d, mm, team, unroll, epilogue, weights, act] of [[mx.bfloat16, 1, 32, 8, 'none', 3, undefined], [mx.float16, 4, 8, 4, 'glu', 2, 'gelu'],
    [mx.float32, 2, 128, 8, 'residual', 1, undefined], [mx.bfloat16, 3, 256, 8, 'glu', 2, 'geluTanh'], [mx.float32, 1, 64, 8, 'glu', 2, 'silu']] as const)
    out.push(renderGemvFused(name('gemvf'), { dtype: d, mm, team, unroll, epilogue, weights, act }));
  for (const d of all) out.push(renderArange(name('arange'), d));
  // scans: every op over dtypes of each accumulator type, each mode, partials in and out
  const modes: ScanMode[] = ['rows', 'totals', 'cols'];
  for (const op of ['cumsum', 'cumprod', 'cummax', 'cummin', 'logcumsumexp']) {
    const dts = op === 'logcumsumexp' ? dt('float32', 'float16', 'bfloat16') : op === 'cumsum' ? [...some, mx.int32] : some;
    for (const d of dts) {
      const o = op === 'cumsum' && d === mx.bool ? mx.int32 : d;
      const mode = modes[k % 3];
      out.push(renderScan(name(op), { op, mode, input: d, output: mode === 'totals' ? null : o, acc: o, carry: mode === 'rows' && k % 5 < 2, wide: k % 7 === 0 }));
    }
    out.push(renderScan(name(op), { op, mode: 'rows', input: null, output: null, acc: mx.float32, carry: false, wide: false }));
  }
  // sorts: keys of every dtype; the shared-memory sort with each output, merges, emits
  for (const d of all) {
    out.push(renderBitonic(name('bitonic'), { dtype: d, output: (['values', 'indices', 'pairs'] as const)[k % 3], wide: k % 4 === 0 }));
    out.push(renderMerge(name('merge'), { dtype: d, output: 'pairs', wide: false }));
  }
  for (const d of dt('int8', 'float16', 'float32', 'int64')) for (const output of ['values', 'indices'] as const) out.push(renderSortEmit(name('emit'), { dtype: d, output, wide: false }));
  // indexing: gathers of each element size, scatters of every reduction and dtype
  const idx3: Target = { kind: 'windows', idx: dt('int32', 'uint8', 'int64'), wnd: 2, wide: false };
  const axisT: Target = { kind: 'axis', idx: dt('uint64'), wnd: 0, wide: true };
  const noIdx: Target = { kind: 'windows', idx: [], wnd: 1, wide: false };
  for (const elem of [1, 2, 4, 8]) for (const t of [idx3, axisT, noIdx]) out.push(renderGather(name('gather'), elem, t));
  for (const d of all) {
    for (const reduce of ['sum', 'prod', 'max', 'min'] as const) out.push(renderScatter(name('scatter'), d, reduce, 'reduce', k % 2 ? idx3 : axisT, false));
    for (const phase of ['claim', 'write'] as const) out.push(renderScatter(name('scatter'), d, 'none', phase, idx3, d.size === 8));
    out.push(renderSearchsorted(name('search'), d, k % 2 === 0, k % 3 === 0));
  }
  for (const aligned of [true, false]) out.push(renderRandomBits(name('random'), aligned));
  for (const D of [1, 2, 3]) {
    for (const elem of [2, 4]) out.push(renderIm2col(name('im2col'), elem, D));
    for (const d of dt('float32', 'float16', 'bfloat16')) out.push(renderCol2im(name('col2im'), d, D));
  }
  for (const d of dt('float32', 'float16', 'bfloat16')) {
    out.push(renderQuantize(name('quantize'), d));
    for (const o of [d, mx.float32]) out.push(renderDequantize(name('dequantize'), d, o));
    for (const bits of [4, 8] as const) {
      out.push(renderDequantizeChunks(name('dequantize16'), bits, d, d));
      for (const [lanes, mm, rows, stages] of [[32, 1, 4, 3], [8, 1, 4, 2], [4, 2, 2, 2], [16, 4, 2, 2]] as const) out.push(renderQmvT(name('qmvt'), { bits, x: d, s: d, lanes, rows, mm, stages }));
      for (const split of [true, false]) out.push(renderQmvN(name('qmvn'), { bits, x: d, s: d, mm: split ? 1 : 8, split }));
    }
    out.push(renderQmvSum(name('qmvsum'), d));
  }
  // row-wise fast ops: norms cached (warp and block rows), uncached and element by element;
  // rope in every layout, pack width and kind of position; GLUs; crossEntropy
  const normShapes: NormShape[] = [{ vec: 8, items: 2, tpr: 256, rpb: 1 }, { vec: 4, items: 1, tpr: 32, rpb: 4 }, { vec: 1, items: 0, tpr: 512, rpb: 1 }, { vec: 1, items: 5, tpr: 1024, rpb: 1 }];
  for (const layer of [false, true]) for (const sh of normShapes) {
    const [x, w] = sh.vec === 8 ? dt('bfloat16', 'bfloat16') : sh.vec === 4 ? dt('float16', 'float32') : dt('float32', 'float32');
    out.push(renderNormForward(name('norm'), { ...sh, layer, x, w, b: layer ? w : null, out: w }));
    out.push(renderNormForward(name('norm'), { ...sh, layer, x, w: null, b: null, out: x }));
    out.push(renderNormBackward(name('normvjp'), { ...sh, layer, x, w, g: w, dw: true, db: layer }));
    out.push(renderNormBackward(name('normvjp'), { ...sh, layer, x, w: null, g: x, dw: false, db: layer }));
  }
  for (const d of dt('float32', 'bfloat16')) out.push(renderColumnSum(name('colsum'), d));
  for (const traditional of [false, true]) for (const vec of [8, 4, 2, 1]) for (const positions of ['number', 'scalar', 'batch', 'token'] as const) {
    out.push(renderRope(name('rope'), { x: vec === 4 ? mx.float32 : vec === 2 ? mx.float16 : mx.bfloat16, traditional, vec: traditional && vec === 1 ? 1 : vec, positions,
      offset: positions === 'number' ? null : positions === 'token' ? mx.int64 : mx.int32, freqs: k % 2 ? mx.float32 : null, partial: k % 3 === 0, strided: k % 4 < 2 }));
  }
  for (const act of ['silu', 'gelu', 'geluTanh'] as const) for (const d of dt('float32', 'float16', 'bfloat16')) for (const backward of [false, true])
    out.push(renderGlu(name('glu'), { act, dtype: d, backward, vec: k % 4 ? 16 / d.size : 1, wide: k % 2 === 0 }));
  for (const d of dt('float32', 'float16', 'bfloat16')) for (const vec of [16 / d.size, 1]) {
    out.push(renderCeForward(name('ce'), { z: d, vec, smooth: vec > 1 }));
    out.push(renderCeBackward(name('cevjp'), { z: d, vec, smooth: false }));
  }
  // fast.cudaKernel sources last (their prelude defines MLX's `inf` macro)
  const user = (p: Partial<CudaKernelParams>): CudaKernelParams => ({ name: name('user'), inputNames: ['inp'], outputNames: ['out'], source: '', header: '',
    ensureRowContiguous: true, atomicOutputs: false, grid: [1, 1, 1], threadGroup: [1, 1, 1], template: [], initValue: null, verbose: false, ...p });
  out.push(renderCudaKernel(user({ source: 'auto e = cooperative_groups::this_grid().thread_rank(); T t = inp[e]; out[e] = exp(t);', template: [['T', { dtype: 'float16' }]] }),
    [{ dtype: mx.float16, ndim: 2 }], [mx.float16]));
  out.push(renderCudaKernel(user({ source: 'uint e = blockIdx.x; T t = inp[elem_to_loc(e, inp_shape, inp_strides, inp_ndim)]; out[e] = t * N; if (B) out[e] += 1.0f;',
    template: [['T', { dtype: 'bfloat16' }], ['N', 3], ['B', true]] }), [{ dtype: mx.bfloat16, ndim: 3 }], [mx.bfloat16]));
  out.push(renderCudaKernel(user({ inputNames: ['a', 'b'], outputNames: ['s', 'c'], atomicOutputs: true, header: '__device__ float twice(float v) { return 2 * v; }',
    source: 'int i = cg::this_thread_block().thread_rank(); atomicAdd(&s[0], twice(a[i])); atomicAdd(&c[i % 4], (int)b[0]); cg::this_thread_block().sync();' }),
  [{ dtype: mx.float32, ndim: 1 }, { dtype: mx.int32, ndim: 0 }], [mx.float32, mx.int32]));
  // attention: tensor cores (plain and every mask kind, split keys), CUDA cores, helpers
  const plain = { causal: true, window: false, softcap: false, mask: 'none' as const, maskDtype: null, lens: null };
  const every = { causal: true, window: true, softcap: true, mask: 'additive' as const, maskDtype: mx.bfloat16, lens: mx.int64 };
  const boolMask = { ...plain, mask: 'bool' as const, maskDtype: mx.bool, lens: mx.int32 };
  out.push(renderMmaFwd(name('attnf'), { ...plain, half: 'bf16', D: 128, NW: 4, MT: 1, BN: 64, qreg: true, stages: 2, split: false }));
  out.push(renderMmaFwd(name('attnf'), { ...every, half: 'f16', D: 80, NW: 4, MT: 2, BN: 64, qreg: false, stages: 1, split: true }));
  out.push(renderMmaBwd(name('attnb'), { ...plain, half: 'bf16', D: 64, NW: 4, BM: 64, vecRed: true, dbuf: false }));
  out.push(renderMmaBwd(name('attnb'), { ...boolMask, half: 'f16', D: 96, NW: 8, BM: 64, vecRed: false, dbuf: true }));
  for (const [d, m] of [[mx.float32, every], [mx.float16, boolMask]] as const) {
    out.push(renderSimtFwd(name('attnsf'), { ...m, dtype: d, D: 40, Dv: 24, BM: 16, BN: 64, split: d === mx.float32 }));
    out.push(renderSimtBwd(name('attnsb'), { ...m, dtype: d, D: 128, Dv: 128, BM: 16, BN: 16 }));
    out.push(renderCombine(name('attnc'), d), renderBwdPre(name('attnp'), d), renderDqConvert(name('attnq'), d));
  }
  return out;
}

// As the runtime loads them on sm_90: each kernel first waits for its predecessors (programmatic dependent launch).
test('CUDA kernel sources compile with nvcc (sm_90)', { skip }, () => {
  const sources = catalog().map((s) => ({ ...s, source: waitForPredecessors(s.source) }));
  assert.ok(sources.every((s) => s.source.split('__global__').length - 1 === s.source.split('griddepcontrol.wait').length - 1), 'every kernel waits for its predecessors');
  const dir = mkdtempSync(join(tmpdir(), 'lathe-nvcc-'));
  try {
    const file = join(dir, 'kernels.cu');
    writeFileSync(file, sources.map((s) => s.source).join('\n'));
    const r = spawnSync(nvcc, ['--cubin', '-arch=sm_90', '-std=c++17', '-diag-suppress', '177', '-Xptxas', '-O0', '-o', join(dir, 'kernels.cubin'), file], { encoding: 'utf8' });
    const errors = (r.stderr + r.stdout).split('\n').filter((l) => /error/i.test(l)).slice(0, 20).join('\n');
    assert.equal(r.status, 0, `nvcc failed on ${sources.length} kernels:\n${errors || r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
