// Rotary positional encoding (src/fast/rope.ts's contract; the CPU kernel's arithmetic): x
// viewed as (rows, T, D), rows in `groups` of equal size that share positions (one group, or
// one per batch entry for per-batch and per-token positions). A thread takes one unit of
// pairs (a 16-byte pack where the layout allows) at one (group, token) and rotates it in
// several rows of its group, so each cos/sin is computed once for those rows (the heads).
// Angles follow the CPU: inverse frequencies exp(i·c) rounded from double (or 1/freqs), then
// float32 positions and products; cos and sin in float32.
// x may be a strided view (CudaArg.strides) with unit stride on D: its rows (the leading
// axes) as at most two axes (outer, inner of R1 rows) plus a stride along T, so the (B, H, T, D)
// view of a (B, T, H, D) projection is read in place; y is always dense. Layouts beyond that
// are copied dense first. Dense inputs take the kernel without strides (faster addressing).
// Such views come from fast.rope folding a pending transpose into the node (param `axes`:
// x is transpose(input, axes)), so a model's head split costs no copy.
import type { DType } from '../../../../core/dtype.js';
import type { KernelSource } from '../../compiler.js';
import { registerCudaKernels, type CudaArg, type CudaKernel } from '../../backend.js';
import { collapse, sizeOf } from '../layout.js';
import { withDefines, dtypeDefs, packWidth } from './rows.js';
import { dense, isView, readsRows, stridesOf } from './strided.js';

type Positions = 'number' | 'scalar' | 'batch' | 'token';
interface RopeParams {
  dims: number; traditional: boolean; base: number; scale: number; offset: number;
  positions: Positions; hasFreqs: boolean; inverse: boolean;
  /** x is the input read as transpose(input, axes) (a folded transpose, last axis last). */
  axes?: number[] | null;
}

export interface RopeSpec {
  x: DType;
  traditional: boolean;
  /** Elements per packed access (1: pairs element by element). */
  vec: number;
  positions: Positions;
  offset: DType | null;
  freqs: DType | null;
  /** dims < D: the remaining features are copied. */
  partial: boolean;
  /** x is read through strides (a view); false: x is dense, addressed as y (the code before views, to the byte). */
  strided: boolean;
}

const POS = { number: 0, scalar: 1, batch: 2, token: 3 };

/** Pairs of one unit: a pack holds vec/2 adjacent pairs (traditional) or pairs with vec firsts (split-half). */
const pairsPerUnit = (s: Pick<RopeSpec, 'vec' | 'traditional'>) => (s.vec === 1 ? 1 : s.traditional ? s.vec / 2 : s.vec);

export function renderRope(name: string, s: RopeSpec): KernelSource {
  const defs: [string, string | number][] = [
    ['VEC', s.vec], ['PV', pairsPerUnit(s)], ['TRAD', s.traditional ? 1 : 0], ['POS', POS[s.positions]],
    ['HAS_FREQS', s.freqs ? 1 : 0], ['PARTIAL', s.partial ? 1 : 0],
    ...dtypeDefs('X', s.x), ...dtypeDefs('F', s.freqs), ...dtypeDefs('OFF', s.offset),
  ];
  const body = String.raw`extern "C" __global__ void __launch_bounds__(256) ${name}(X_T* __restrict__ y, const X_T* __restrict__ x, const OFF_T* __restrict__ off,
    const F_T* __restrict__ freqs, i64 items, int T, int D, int half, int units, int splits, int perGroup, int rpt,
    float scale, float start, float c, float sign, i64 tailItems, int dims${s.strided ? ', int R1, i64 s0, i64 s1, i64 sT' : ''}) {
  const i64 stride = (i64)gridDim.x * blockDim.x;
  for (i64 it = (i64)blockIdx.x * blockDim.x + threadIdx.x; it < items; it += stride) {
    const int u = (int)(it % units);
    i64 rest = it / units;
    const int t = (int)(rest % T);
    rest /= T;
    const int sp = (int)(rest % splits);
    const i64 g = rest / splits;
#if POS == 0
    float pos = (float)t + start;
#elif POS == 1
    float pos = (float)t + LD_OFF(off[0]);
#elif POS == 2
    float pos = (float)t + LD_OFF(off[g]);
#else
    float pos = LD_OFF(off[g * T + t]);
#endif
    pos = pos * scale;
    const int i0 = u * PV;
    float cs[PV], sn[PV];
#pragma unroll
    for (int q = 0; q < PV; q++) {
#if HAS_FREQS
      const float inv = 1.0f / LD_F(freqs[i0 + q]);
#else
      const float inv = (float)exp((double)((float)(i0 + q) * c));
#endif
      sincosf(pos * inv, &sn[q], &cs[q]);
      sn[q] *= sign;
    }
    const int r0 = sp * rpt, r1 = min(r0 + rpt, perGroup);${s.strided ? `
    // x's row g·perGroup + r as (outer ra, inner rb of R1), stepped along with r.
    const i64 gr0 = g * perGroup + r0;
    i64 ra = gr0 / R1;
    int rb = (int)(gr0 - ra * R1);
    for (int r = r0; r < r1; r++) {
      const X_T* xr = x + (ra * s0 + rb * s1 + t * sT);
      X_T* yr = y + ((g * perGroup + r) * T + t) * D;
      if (++rb == R1) { rb = 0; ra++; }` : `
    for (int r = r0; r < r1; r++) {
      const i64 base = ((g * perGroup + r) * T + t) * D;
      const X_T* xr = x + base;
      X_T* yr = y + base;`}
#if VEC > 1 && TRAD
      const Pack<X_T, VEC> a = reinterpret_cast<const Pack<X_T, VEC>*>(xr)[u];
      Pack<X_T, VEC> o;
#pragma unroll
      for (int q = 0; q < PV; q++) {
        const float e = LD_X(a.v[2 * q]), f = LD_X(a.v[2 * q + 1]);
        o.v[2 * q] = ST_X(e * cs[q] - f * sn[q]);
        o.v[2 * q + 1] = ST_X(e * sn[q] + f * cs[q]);
      }
      reinterpret_cast<Pack<X_T, VEC>*>(yr)[u] = o;
#elif VEC > 1
      const Pack<X_T, VEC> a = *reinterpret_cast<const Pack<X_T, VEC>*>(xr + i0), b = *reinterpret_cast<const Pack<X_T, VEC>*>(xr + half + i0);
      Pack<X_T, VEC> oa, ob;
#pragma unroll
      for (int q = 0; q < PV; q++) {
        const float e = LD_X(a.v[q]), f = LD_X(b.v[q]);
        oa.v[q] = ST_X(e * cs[q] - f * sn[q]);
        ob.v[q] = ST_X(e * sn[q] + f * cs[q]);
      }
      *reinterpret_cast<Pack<X_T, VEC>*>(yr + i0) = oa;
      *reinterpret_cast<Pack<X_T, VEC>*>(yr + half + i0) = ob;
#else
      const int ia = TRAD ? 2 * i0 : i0, ib = TRAD ? ia + 1 : ia + half;
      const float e = LD_X(xr[ia]), f = LD_X(xr[ib]);
      yr[ia] = ST_X(e * cs[0] - f * sn[0]);
      yr[ib] = ST_X(e * sn[0] + f * cs[0]);
#endif
    }
  }
#if PARTIAL
  // Features past dims pass through.
  const int w = D - dims;
  for (i64 e = (i64)blockIdx.x * blockDim.x + threadIdx.x; e < tailItems; e += stride) {${s.strided ? `
    const i64 rt = e / w, row = rt / T, t = rt - row * T, ra = row / R1;
    y[rt * D + dims + e % w] = x[ra * s0 + (row - ra * R1) * s1 + t * sT + dims + e % w];` : `
    const i64 at = (e / w) * D + dims + e % w;
    y[at] = x[at];`}
  }
#endif
}`;
  return { name, source: withDefines(defs, body) };
}

/**
 * x's rows (the axes before T and D) as at most two axes: R1 inner rows of stride s1 in
 * outer steps of s0; null when they take more.
 */
function rowAxes(shape: readonly number[], strides: readonly number[]): { R1: number; s0: number; s1: number } | null {
  const nd = shape.length;
  const c = collapse(shape.slice(0, nd - 2), [strides.slice(0, nd - 2)]);
  const [cs] = c.strides;
  if (c.shape.length === 1) return { R1: c.shape[0], s0: 0, s1: cs[0] };
  if (c.shape.length === 2) return { R1: c.shape[1], s0: cs[0], s1: cs[1] };
  return null;
}

/** `x` read as transpose(x, axes): a view of its buffer (of its view, when it is one). */
function permuted(x: CudaArg, axes: readonly number[]): CudaArg {
  const s = stridesOf(x);
  return { buf: x.buf, dtype: x.dtype, shape: axes.map((a) => x.shape[a]), strides: axes.map((a) => s[a]) };
}

/** [x (..., T, D), offset?, freqs?] -> x with its first dims features rotated (by −θ when inverse). */
const rope: CudaKernel = (ins, [spec], p: RopeParams, ctx) => {
  let x = p.axes ? permuted(ins[0], p.axes) : ins[0];
  let k = 1;
  const offset = p.positions === 'number' ? null : dense(ctx, ins[k++]);
  const freqs = p.hasFreqs ? dense(ctx, ins[k]) : null;
  if (!readsRows(x) || !rowAxes(x.shape, stridesOf(x))) x = dense(ctx, x);
  const y = ctx.alloc(spec);
  const nd = x.shape.length, D = x.shape[nd - 1], T = x.shape[nd - 2], half = p.dims / 2;
  const n = sizeOf(x.shape);
  if (n === 0) return [y];
  const rows = n / (T * D);
  const groups = p.positions === 'batch' || p.positions === 'token' ? x.shape[0] : 1;
  const perGroup = rows / groups;
  const strided = isView(x), xs = stridesOf(x), { R1, s0, s1 } = rowAxes(x.shape, xs)!, sT = xs[nd - 2];
  // Packs where every unit's elements are aligned: rows of D, x's strides and the rotated spans divide by vec.
  let vec = packWidth(D, [x.dtype], [x.buf.ptr, y.ptr]);
  while (vec > 1 && ((p.traditional ? p.dims % vec : half % vec) || !readsRows(x, vec))) vec >>= 1;
  if (p.traditional && vec < 2) vec = 1;
  const units = half / pairsPerUnit({ vec, traditional: p.traditional });
  // Enough threads to fill the GPU, each rotating as many rows of its group as that allows.
  const base = groups * T * units;
  const splits0 = Math.min(perGroup, Math.max(1, Math.ceil((ctx.rt.info.sms * 2048) / base)));
  const rpt = Math.ceil(perGroup / splits0), splits = Math.ceil(perGroup / rpt);
  const items = base * splits, tailItems = p.dims < D ? rows * T * (D - p.dims) : 0;
  const s: RopeSpec = { x: x.dtype, traditional: p.traditional, vec, positions: p.positions, offset: offset?.dtype ?? null, freqs: freqs?.dtype ?? null, partial: tailItems > 0, strided };
  const fn = ctx.kernels.get(`rope|${s.x.name}|${s.traditional}|${vec}|${s.positions}|${s.offset?.name}|${s.freqs?.name}|${s.partial}|${+strided}`, () => renderRope('rope', s));
  const f = Math.fround;
  ctx.rt.args.reset().ptr(y.ptr).ptr(x.buf.ptr).ptr(offset?.buf.ptr ?? 0n).ptr(freqs?.buf.ptr ?? 0n)
    .i64(items).i32(T).i32(D).i32(half).i32(units).i32(splits).i32(perGroup).i32(rpt)
    .f32(f(p.scale)).f32(f(p.offset)).f32(f(-Math.log(p.base) / half)).f32(p.inverse ? -1 : 1).i64(tailItems).i32(p.dims);
  if (strided) ctx.rt.args.i32(R1).i64(s0).i64(s1).i64(sT);
  ctx.rt.launch(fn, [ctx.rt.gridFor(Math.max(items, tailItems), 256, 8), 1, 1], [256, 1, 1]);
  return [y];
};

registerCudaKernels({ rope });
