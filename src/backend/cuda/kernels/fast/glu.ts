// swiglu and geglu (src/fast/glu.ts; the CPU kernel's formulas) as one elementwise pass each
// way, in 16-byte packs with a scalar tail, computed in float32: forward y = act(a)·b;
// backward da = g·b·act′(a), db = g·act(a), recomputing the activation.
import type { DType } from '../../../../core/dtype.js';
import type { KernelSource } from '../../compiler.js';
import { registerCudaKernels, type CudaKernel } from '../../backend.js';
import { sizeOf, WIDE } from '../layout.js';
import { withDefines, dtypeDefs, packWidth } from './rows.js';

type Act = 'silu' | 'gelu' | 'geluTanh';
interface GluParams { act: Act }

export interface GluSpec { act: Act; dtype: DType; backward: boolean; vec: number; wide: boolean }

const ACT = { silu: 0, gelu: 1, geluTanh: 2 };

export function renderGlu(name: string, s: GluSpec): KernelSource {
  const defs: [string, string | number][] = [['VEC', s.vec], ['ACT', ACT[s.act]], ['I', s.wide ? 'i64' : 'i32'], ...dtypeDefs('X', s.dtype)];
  // f: act(v); d: act′(v) (backward only).
  const fwd = String.raw`
__device__ __forceinline__ float ${name}_act(float v) {
#if ACT == 0
  return v / (1.0f + expf(-v));
#elif ACT == 1
  return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
#else
  return 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
#endif
}
extern "C" __global__ void __launch_bounds__(256) ${name}(X_T* __restrict__ y, const X_T* __restrict__ a, const X_T* __restrict__ b, I n) {
  const I step = (I)gridDim.x * blockDim.x, nv = n / VEC;
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < nv; i += step) {
    const Pack<X_T, VEC> p = reinterpret_cast<const Pack<X_T, VEC>*>(a)[i], q = reinterpret_cast<const Pack<X_T, VEC>*>(b)[i];
    Pack<X_T, VEC> o;
#pragma unroll
    for (int j = 0; j < VEC; j++) o.v[j] = ST_X(${name}_act(LD_X(p.v[j])) * LD_X(q.v[j]));
    reinterpret_cast<Pack<X_T, VEC>*>(y)[i] = o;
  }
  for (I i = nv * VEC + (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) y[i] = ST_X(${name}_act(LD_X(a[i])) * LD_X(b[i]));
}`;
  const bwd = String.raw`
__device__ __forceinline__ void ${name}_step(float v, float bv, float gv, float& da, float& db) {
  float f, d;
#if ACT == 0
  const float s = 1.0f / (1.0f + expf(-v));
  f = v * s;
  d = s * (1.0f + v * (1.0f - s));
#elif ACT == 1
  const float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
  f = v * cdf;
  d = cdf + v * 0.39894228040143268f * expf(-0.5f * v * v);
#else
  const float k = 0.79788456080286536f, t = tanhf(k * (v + 0.044715f * v * v * v));
  f = 0.5f * v * (1.0f + t);
  d = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * k * (1.0f + 3.0f * 0.044715f * v * v);
#endif
  da = gv * bv * d;
  db = gv * f;
}
extern "C" __global__ void __launch_bounds__(256) ${name}(X_T* __restrict__ da, X_T* __restrict__ db, const X_T* __restrict__ a,
    const X_T* __restrict__ b, const X_T* __restrict__ g, I n) {
  const I step = (I)gridDim.x * blockDim.x, nv = n / VEC;
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < nv; i += step) {
    const Pack<X_T, VEC> p = reinterpret_cast<const Pack<X_T, VEC>*>(a)[i], q = reinterpret_cast<const Pack<X_T, VEC>*>(b)[i],
      h = reinterpret_cast<const Pack<X_T, VEC>*>(g)[i];
    Pack<X_T, VEC> oa, ob;
#pragma unroll
    for (int j = 0; j < VEC; j++) {
      float u, w;
      ${name}_step(LD_X(p.v[j]), LD_X(q.v[j]), LD_X(h.v[j]), u, w);
      oa.v[j] = ST_X(u);
      ob.v[j] = ST_X(w);
    }
    reinterpret_cast<Pack<X_T, VEC>*>(da)[i] = oa;
    reinterpret_cast<Pack<X_T, VEC>*>(db)[i] = ob;
  }
  for (I i = nv * VEC + (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    float u, w;
    ${name}_step(LD_X(a[i]), LD_X(b[i]), LD_X(g[i]), u, w);
    da[i] = ST_X(u);
    db[i] = ST_X(w);
  }
}`;
  return { name, source: withDefines(defs, s.backward ? bwd : fwd) };
}

function launchGlu(backward: boolean): CudaKernel {
  return (ins, specs, { act }: GluParams, ctx) => {
    const outs = specs.map((s) => ctx.alloc(s));
    const n = sizeOf(specs[0].shape);
    if (n === 0) return outs;
    const dtype = ins[0].dtype;
    // 16 bytes per pack when every pointer allows; the tail past the last whole pack goes element by element.
    const vec = packWidth(16, [dtype], [...ins.map((x) => x.buf.ptr), ...outs.map((o) => o.ptr)]);
    const wide = n > WIDE;
    const s: GluSpec = { act, dtype, backward, vec, wide };
    const fn = ctx.kernels.get(`glu|${act}|${dtype.name}|${backward}|${vec}|${wide}`, () => renderGlu(backward ? `glu_vjp_${act}` : `glu_${act}`, s));
    const a = ctx.rt.args.reset();
    for (const o of outs) a.ptr(o.ptr);
    for (const x of ins) a.ptr(x.buf.ptr);
    a.idx(n, wide);
    ctx.rt.launch(fn, [ctx.rt.gridFor(Math.ceil(n / vec), 256, 8), 1, 1], [256, 1, 1]);
    return outs;
  };
}

const glu = launchGlu(false), gluVjp = launchGlu(true);
registerCudaKernels({ swiglu: glu, swigluVjp: gluVjp, geglu: glu, gegluVjp: gluVjp });
