// CUDA kernel for the conv primitive (see core/ops/conv.ts): im2col + cuBLAS, every mode.
// For a chunk of whole images, `cols` holds the input patches: row r (an output position),
// then per group g, kernel offset kf and channel c: (rows, G, Kp, Cig). With the weight
// viewed as (G, Cog, Kp * Cig), each mode is one strided-batched GEMM over the groups:
//   output: y_g = cols_g @ w_g^T
//   input:  cols_g = y_g @ w_g, then col2im sums each input element's patches back
//           (a gather over the kernel offsets that read it, so no atomics and a fixed order)
//   weight: w_g (+)= y_g^T @ cols_g over the chunks
// 1x1 convolutions with no stride, padding or dilation skip im2col: the input is its own cols.
// Half precision GEMMs accumulate in float32; input gradients of halves go through float32
// cols, weight gradients over several chunks through a float32 accumulator.
import type { DType } from '../../../core/dtype.js';
import { float32 } from '../../../core/dtype.js';
import type { ConvParams } from '../../../core/ops/conv.js';
import type { KernelSource } from '../compiler.js';
import { registerCudaKernels, CudaKernel, CudaArg, CudaContext, CudaBuffer } from '../backend.js';
import { check } from '../ffi/libcuda.js';
import { PRELUDE, stype, store, rawType } from './ctypes.js';
import { castCuda, runElementwise } from './elementwise.js';
import { gemm } from './matmul.js';
import { sizeOf } from './layout.js';

/** Elements of cols per chunk of images (128 MiB of float32), to bound scratch memory; tests lower it. */
export const convLimits = { chunkElements: 1 << 25 };

interface Geometry {
  N: number; G: number; Cin: number; Cout: number; Cig: number; Cog: number;
  S: number[]; K: number[]; O: number[]; Sp: number; Kp: number; Op: number; kc: number;
}

function geometry(x: readonly number[], w: readonly number[], y: readonly number[], groups: number): Geometry {
  const S = x.slice(1, -1), K = w.slice(1, -1), O = y.slice(1, -1);
  const Cin = x[x.length - 1], Cout = y[y.length - 1];
  const Cig = Cin / groups, Kp = sizeOf(K);
  return { N: x[0], G: groups, Cin, Cout, Cig, Cog: Cout / groups, S, K, O, Sp: sizeOf(S), Kp, Op: sizeOf(O), kc: Kp * Cig };
}

const isPointwise = (g: Geometry, p: ConvParams) =>
  g.Kp === 1 && g.S.every((s, d) => s === g.O[d] && p.padLo[d] === 0 && p.strides[d] === 1 && p.inputDilation[d] === 1);

/** Spatial parameters shared by im2col and col2im: sizes, strides, padding, dilations. */
const SPATIAL = (D: number) => `Vec<${D}, i64> S, Vec<${D}, i64> K, Vec<${D}, i64> O, Vec<${D}, i64> stride, Vec<${D}, i64> pad, Vec<${D}, i64> kdil, Vec<${D}, i64> idil, int flip`;

/** cols[e] for the chunk starting at output row r0: the input element a patch reads, or 0. */
export function renderIm2col(name: string, elem: number, D: number): KernelSource {
  const T = rawType(elem);
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(256) ${name}(${T}* __restrict__ cols, const ${T}* __restrict__ x, i64 r0, i64 total, i64 Op, i64 Sp, i64 Cin, i64 G, i64 Kp, i64 Cig, ${SPATIAL(D)}) {
  for (i64 e = (i64)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (i64)gridDim.x * blockDim.x) {
    const i64 c = e % Cig;
    i64 t = e / Cig;
    const i64 kf = t % Kp; t /= Kp;
    const i64 g = t % G, R = r0 + t / G, n = R / Op;
    i64 orem = R % Op, krem = kf, flat = 0, span = 1;
    bool ok = true;
#pragma unroll
    for (int d = ${D - 1}; d >= 0; d--) {
      const i64 od = orem % O.v[d], kd = krem % K.v[d];
      orem /= O.v[d]; krem /= K.v[d];
      const i64 kk = flip ? K.v[d] - 1 - kd : kd;
      const i64 pos = od * stride.v[d] + kk * kdil.v[d] - pad.v[d];
      const i64 i = pos / idil.v[d];
      if (pos < 0 || pos % idil.v[d] != 0 || i >= S.v[d]) ok = false;
      flat += i * span; span *= S.v[d];
    }
    cols[e] = ok ? x[(n * Sp + flat) * Cin + g * Cig + c] : (${T})0;
  }
}
`;
  return { name, source };
}

/** x[x0 + e] = the sum, over the kernel offsets whose patch reads this element, of float32 cols. */
export function renderCol2im(name: string, d: DType, D: number): KernelSource {
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(256) ${name}(${stype(d)}* __restrict__ x, const float* __restrict__ cols, i64 x0, i64 total, i64 Op, i64 Sp, i64 Cin, i64 G, i64 Kp, i64 Cig, ${SPATIAL(D)}) {
  for (i64 e = (i64)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (i64)gridDim.x * blockDim.x) {
    const i64 ch = e % Cin, g = ch / Cig, c = ch % Cig, t = e / Cin, s = t % Sp, nl = t / Sp;
    float acc = 0.0f;
    for (i64 kf = 0; kf < Kp; kf++) {
      i64 srem = s, krem = kf, oflat = 0, span = 1;
      bool ok = true;
#pragma unroll
      for (int d = ${D - 1}; d >= 0; d--) {
        const i64 sd = srem % S.v[d], kd = krem % K.v[d];
        srem /= S.v[d]; krem /= K.v[d];
        const i64 kk = flip ? K.v[d] - 1 - kd : kd;
        const i64 q = sd * idil.v[d] + pad.v[d] - kk * kdil.v[d];
        const i64 od = q / stride.v[d];
        if (q < 0 || q % stride.v[d] != 0 || od >= O.v[d]) ok = false;
        oflat += od * span; span *= O.v[d];
      }
      if (ok) acc += cols[(((nl * Op + oflat) * G + g) * Kp + kf) * Cig + c];
    }
    x[x0 + e] = ${store('acc', d)};
  }
}
`;
  return { name, source };
}

function pushSpatial(ctx: CudaContext, g: Geometry, p: ConvParams): void {
  ctx.rt.args.vec(g.S, true).vec(g.K, true).vec(g.O, true).vec(p.strides, true).vec(p.padLo, true)
    .vec(p.kernelDilation, true).vec(p.inputDilation, true).i32(p.flip ? 1 : 0);
}

const conv: CudaKernel = (ins, [out], p: ConvParams, ctx) => {
  const o = ctx.alloc(out);
  const d: DType = out.dtype;
  const roles = (['input', 'weight', 'output'] as const).filter((r) => r !== p.mode);
  const ops: Partial<Record<'input' | 'weight' | 'output', CudaArg>> = {};
  roles.forEach((r, i) => { ops[r] = ins[i]; });
  const shapeOf = (r: 'input' | 'weight' | 'output') => (r === p.mode ? out.shape : ops[r]!.shape);
  const g = geometry(shapeOf('input'), shapeOf('weight'), shapeOf('output'), p.groups);
  if (o.nbytes === 0) return [o];
  if (g.N * g.Op === 0 || g.Cig === 0 || g.Cog === 0) {
    check(ctx.rt.driver, ctx.rt.driver.cuMemsetD8Async(o.ptr, 0, o.nbytes, ctx.rt.stream), 'cuMemsetD8Async');
    return [o];
  }
  const ptr = (r: 'input' | 'weight' | 'output') => (r === p.mode ? o.ptr : ops[r]!.buf.ptr);
  runConv(ctx, p, g, d, ptr('input'), ptr('weight'), ptr('output'), o);
  return [o];
};

function runConv(ctx: CudaContext, p: ConvParams, g: Geometry, d: DType, X: bigint, W: bigint, Y: bigint, out: CudaBuffer): void {
  const { N, G, Cin, Cout, Cog, Op, Sp, Kp, Cig, kc } = g;
  const e = d.size;
  const pointwise = isPointwise(g, p);
  const D = g.S.length;
  const perImage = Op * G * kc;
  const imgs = pointwise ? N : Math.max(1, Math.min(N, Math.floor(convLimits.chunkElements / perImage)));
  const chunks = Math.ceil(N / imgs);
  const colsDtype = p.mode === 'input' ? float32 : d;
  const cols = pointwise ? null : ctx.temp(imgs * perImage * colsDtype.size);
  // Weight gradients of halves over several chunks accumulate in float32.
  const wAcc = p.mode === 'weight' && d !== float32 && chunks > 1 ? ctx.temp(G * Cog * kc * 4) : null;
  const at = (base: bigint, elems: number, size = e) => base + BigInt(elems * size);
  for (let c = 0; c < chunks; c++) {
    const n0 = c * imgs, nb = Math.min(imgs, N - n0), rows = nb * Op, r0 = n0 * Op;
    // cols of this chunk: (rows, G, Kp, Cig) with row stride G * kc (= Cin when pointwise).
    let colsPtr = pointwise ? at(X, r0 * Cin) : cols!.ptr;
    if (!pointwise && p.mode !== 'input') {
      const total = rows * G * kc;
      const fn = ctx.kernels.get(`im2col|${e}|${D}`, () => renderIm2col(`im2col_${e * 8}`, e, D));
      ctx.rt.args.reset().ptr(colsPtr).ptr(X).i64(r0).i64(total).i64(Op).i64(Sp).i64(Cin).i64(G).i64(Kp).i64(Cig);
      pushSpatial(ctx, g, p);
      ctx.rt.launch(fn, [ctx.rt.gridFor(total), 1, 1], [256, 1, 1]);
    }
    const Yc = at(Y, r0 * Cout);
    if (p.mode === 'output') {
      gemm(ctx.rt, { a: colsPtr, b: W, c: Yc, M: rows, N: Cog, K: kc, lda: G * kc, ldb: kc, ldc: Cout, transB: true,
        strideA: kc, strideB: Cog * kc, strideC: Cog, batch: G, dtype: d });
    } else if (p.mode === 'input') {
      if (pointwise) colsPtr = at(out.ptr, r0 * Cin);
      gemm(ctx.rt, { a: Yc, b: W, c: colsPtr, M: rows, N: kc, K: Cog, lda: Cout, ldb: kc, ldc: G * kc,
        strideA: Cog, strideB: Cog * kc, strideC: kc, batch: G, dtype: d, cDtype: pointwise ? d : float32 });
      if (!pointwise) {
        const total = nb * Sp * Cin;
        const fn = ctx.kernels.get(`col2im|${d.name}|${D}`, () => renderCol2im(`col2im_${d.name}`, d, D));
        ctx.rt.args.reset().ptr(out.ptr).ptr(colsPtr).i64(n0 * Sp * Cin).i64(total).i64(Op).i64(Sp).i64(Cin).i64(G).i64(Kp).i64(Cig);
        pushSpatial(ctx, g, p);
        ctx.rt.launch(fn, [ctx.rt.gridFor(total), 1, 1], [256, 1, 1]);
      }
    } else {
      gemm(ctx.rt, { a: Yc, b: colsPtr, c: wAcc ? wAcc.ptr : out.ptr, M: Cog, N: kc, K: rows, lda: Cout, ldb: G * kc, ldc: kc, transA: true,
        strideA: Cog, strideB: kc, strideC: Cog * kc, batch: G, dtype: d, cDtype: wAcc ? float32 : d, accumulate: c > 0 });
    }
  }
  if (wAcc) {
    const shape = [G * Cog * kc];
    runElementwise(ctx, 'astype', store(castCuda('x0', float32, d), d), [{ arg: { buf: wAcc, shape, dtype: float32 } }], out, shape, d);
  }
}

registerCudaKernels({ conv });
