// Checks for the transform rules of one primitive call: vjp against central finite
// differences in float64 (float32 on the GPU), jvp against vjp (<v, J u> both ways) and finite differences,
// and vmap against a loop over the mapped axis. Inputs are made on the host from a seeded
// generator, so failures reproduce.
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';

export type Out = mx.Array | mx.Array[];
export interface InputSpec {
  shape: number[];
  dtype?: mx.DTypeName;
  /** Uniform in [lo, hi] (default [-2, 2]); integers for integer dtypes. */
  lo?: number;
  hi?: number;
  /** Keeps |x| >= 0.2, away from a kink at zero. */
  nonzero?: boolean;
  /** Fixed values (flat), instead of random ones. */
  values?: number[];
}
export interface Case {
  fn: (...xs: mx.Array[]) => Out;
  inputs: InputSpec[];
  /** Finite-difference step and tolerances for the gradient checks. */
  h?: number;
  rtol?: number;
  atol?: number;
  /** Skip the gradient checks (outputs are not differentiable in any useful sense). */
  grad?: false;
  /** Skip the vmap check. */
  vmap?: false;
  label?: string;
}

// ---------------------------------------------------------------- the device

// With the GPU as the default device (npm run test:gpu, LATHE_DEFAULT_DEVICE=gpu), which
// refuses float64: inputs default to float32, and the checks use the looser float32
// tolerances documented in src/backend/cuda/README.md. Cases that still need float64 (an
// explicit float64 dtype inside the function) are skipped and counted, never silently.
const onGpu = mx.defaultDevice().type === 'gpu';
const FLOAT: mx.DTypeName = onGpu ? 'float32' : 'float64';
/** Finite-difference step and tolerances in float32 (roundoff ~ eps·|loss|/h dominates). */
const GPU_GRAD = { h: 1e-3, rtol: 1e-2, atol: 1e-2, dual: 1e-3 };
/** vmap and vjp outputs against direct calls: batched kernels may sum in another order. */
const GPU_SAME = { rtol: 1e-5, atol: 1e-6 };
const refused: string[] = [];
if (onGpu) process.on('exit', () => {
  if (refused.length) console.log(`# on the GPU: ${refused.length} rule checks skipped, they need float64: ${refused.join('; ')}`);
});
/** A case that cannot be built with float32 standing in for its float64 inputs (a view to an 8-byte dtype, say). */
class WrittenForFloat64 extends Error {}
/** Runs a check, counting it as skipped when the GPU refuses float64 inside it. */
function unlessFloat64(where: string, check: () => void): void {
  try { check(); } catch (e) {
    if (e instanceof WrittenForFloat64) { refused.push(`${where} (${e.message})`); return; }
    if (!onGpu || !(e instanceof Error) || !/float64 is not supported on the GPU/.test(e.message)) throw e;
    refused.push(where);
  }
}
/** The case's first call: on the GPU, an error building it from float32 stand-ins means it was written for float64. */
function firstCall(c: Case, xs: Host[]): Out {
  const args = xs.map(toMx);
  try { return c.fn(...args); } catch (e) {
    if (onGpu && e instanceof Error && c.inputs.some((s) => s.dtype === undefined)) throw new WrittenForFloat64(`float32 inputs: ${e.message}`);
    throw e;
  }
}

// ---------------------------------------------------------------- host arrays

export interface Host { data: number[]; shape: number[]; dtype: mx.DTypeName }
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const isFloat = (d: mx.DTypeName) => mx.dtypes[d].isFloat;

/** A small deterministic generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomHost(spec: InputSpec, r: () => number): Host {
  const dtype = spec.dtype ?? FLOAT;
  const n = size(spec.shape);
  if (spec.values) return { data: [...spec.values], shape: spec.shape, dtype };
  const lo = spec.lo ?? -2, hi = spec.hi ?? 2;
  const data = new globalThis.Array<number>(n);
  for (let i = 0; i < n; i++) {
    if (dtype === 'bool') data[i] = r() < 0.5 ? 1 : 0;
    else if (!isFloat(dtype)) data[i] = Math.floor(lo + r() * (hi - lo + 1));
    else if (spec.nonzero) data[i] = (r() < 0.5 ? -1 : 1) * (0.2 + r() * (Math.max(Math.abs(lo), Math.abs(hi)) - 0.2));
    else data[i] = lo + r() * (hi - lo);
  }
  return { data, shape: spec.shape, dtype };
}

export function toMx(h: Host): mx.Array {
  const vals = h.dtype === 'bool' ? h.data.map((v) => v !== 0) : h.data;
  if (!h.shape.length) return mx.array(vals[0], h.dtype);
  return mx.reshape(mx.array(vals, h.dtype), h.shape);
}

export function toHost(a: mx.Array): Host {
  return { data: [...a.dataSync()].map(Number), shape: [...a.shape], dtype: a.dtype.name };
}

const outList = (o: Out): mx.Array[] => (o instanceof mx.Array ? [o] : o);

/** Stacks same-shape host arrays along a new axis. */
export function stackHost(xs: Host[], axis: number): Host {
  const shape = [...xs[0].shape];
  const outer = size(shape.slice(0, axis)), inner = size(shape.slice(axis));
  const data = new globalThis.Array<number>(outer * xs.length * inner);
  for (let o = 0; o < outer; o++)
    for (let b = 0; b < xs.length; b++)
      for (let k = 0; k < inner; k++) data[(o * xs.length + b) * inner + k] = xs[b].data[o * inner + k];
  shape.splice(axis, 0, xs.length);
  return { data, shape, dtype: xs[0].dtype };
}

function assertClose(got: Host, want: Host, where: string, rtol: number, atol: number): void {
  assert.deepEqual(got.shape, want.shape, `${where}: shape`);
  for (let i = 0; i < want.data.length; i++) {
    const g = got.data[i], w = want.data[i];
    if (g === w || (Number.isNaN(w) && Number.isNaN(g))) continue;
    assert.ok(Math.abs(g - w) <= atol + rtol * Math.abs(w), `${where}: element ${i}: got ${g}, expected ${w} (rtol ${rtol}, atol ${atol})`);
  }
}

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);

// ---------------------------------------------------------------- gradient checks

/** vjp vs central differences of <ct, f(x)> per element; jvp vs differences along u; <ct, J u> both ways. */
export function checkGradients(c: Case, seed: number, where: string): void {
  unlessFloat64(where, () => gradients(c, seed, where));
}

function gradients(c: Case, seed: number, where: string): void {
  const r = rng(seed);
  const xs = c.inputs.map((s) => randomHost(s, r));
  const h = onGpu ? Math.max(c.h ?? 0, GPU_GRAD.h) : c.h ?? 1e-6;
  const rtol = onGpu ? Math.max(c.rtol ?? 0, GPU_GRAD.rtol) : c.rtol ?? 1e-5;
  const atol = onGpu ? Math.max(c.atol ?? 0, GPU_GRAD.atol) : c.atol ?? 1e-6;
  const outs0 = outList(firstCall(c, xs)).map(toHost);
  // Outputs that are infinite (an empty exclusive scan, say) get no cotangent and are not compared.
  const finite = outs0.map((o) => o.data.map((v) => isFloat(o.dtype) && Number.isFinite(v)));
  const cts = outs0.map((o, k) => {
    const ct = isFloat(o.dtype) ? randomHost({ shape: o.shape, dtype: o.dtype }, r) : { ...o };
    return { ...ct, data: ct.data.map((v, i) => (finite[k][i] ? v : 0)) };
  });
  const dotFinite = (vals: number[], k: number) => vals.reduce((s, v, i) => (finite[k][i] ? s + v * cts[k].data[i] : s), 0);
  const loss = (hs: Host[]) => outList(c.fn(...hs.map(toMx))).reduce((s, o, k) => s + dotFinite([...o.dataSync()].map(Number), k), 0);
  const onlyFinite = (t: Host, k: number): Host => ({ ...t, data: t.data.map((v, i) => (finite[k][i] ? v : 0)) });

  const [outs, vjps] = mx.vjp(c.fn, xs.map(toMx), cts.map(toMx));
  outList(outs as Out).forEach((o, k) => assertClose(toHost(o), outs0[k], `${where}: vjp output ${k}`, onGpu ? GPU_SAME.rtol : 1e-12, onGpu ? GPU_SAME.atol : 0));
  const grads = (vjps as mx.Array[]).map(toHost);
  xs.forEach((x, k) => {
    if (!isFloat(x.dtype)) return;
    assert.deepEqual(grads[k].shape, x.shape, `${where}: vjp ${k} shape`);
    const fd = x.data.map((_, j) => {
      const step = (d: number) => xs.map((y, m) => (m !== k ? y : { ...y, data: y.data.map((v, i) => (i === j ? v + d : v)) }));
      return (loss(step(h)) - loss(step(-h))) / (2 * h);
    });
    assertClose(grads[k], { ...x, data: fd }, `${where}: vjp of input ${k} vs finite differences`, rtol, atol);
  });

  const us = xs.map((x) => (isFloat(x.dtype) ? randomHost({ shape: x.shape, dtype: x.dtype }, r) : { ...x, data: x.data.map(() => 0) }));
  const [, jvps] = mx.jvp(c.fn, xs.map(toMx), us.map(toMx));
  const tangents = outList(jvps as Out).map(toHost);
  const along = (d: number) => outList(c.fn(...xs.map((x, k) => (isFloat(x.dtype) ? { ...x, data: x.data.map((v, i) => v + d * us[k].data[i]) } : x)).map(toMx))).map(toHost);
  const plus = along(h), minus = along(-h);
  let ctJu = 0;
  tangents.forEach((t, k) => {
    if (!isFloat(outs0[k].dtype)) return;
    const fd = plus[k].data.map((v, i) => (v - minus[k].data[i]) / (2 * h));
    assertClose(onlyFinite(t, k), onlyFinite({ ...outs0[k], data: fd }, k), `${where}: jvp output ${k} vs finite differences`, rtol, atol);
    ctJu += dotFinite(t.data, k);
  });
  const vjpU = grads.reduce((s, g, k) => (isFloat(xs[k].dtype) ? s + dot(g.data, us[k].data) : s), 0);
  const dual = onGpu ? Math.max(c.rtol ?? 0, GPU_GRAD.dual) : c.rtol ?? 1e-9;
  assert.ok(Math.abs(ctJu - vjpU) <= dual * (1 + Math.abs(vjpU)), `${where}: <v, J u> is ${ctJu} by jvp and ${vjpU} by vjp`);

  // Each input alone, the others held constant: jvp rules must handle inputs with no tangent.
  if (xs.filter((x) => isFloat(x.dtype)).length > 1) xs.forEach((x, k) => {
    if (!isFloat(x.dtype)) return;
    const only = (xk: mx.Array) => c.fn(...xs.map((y, m) => (m === k ? xk : toMx(y))));
    const [, tk] = mx.jvp(only, [toMx(x)], [toMx(us[k])]);
    const alongK = (d: number) => outList(only(toMx({ ...x, data: x.data.map((v, i) => v + d * us[k].data[i]) }))).map(toHost);
    const p = alongK(h), m = alongK(-h);
    outList(tk as Out).map(toHost).forEach((t, o) => {
      if (!isFloat(outs0[o].dtype)) return;
      assertClose(onlyFinite(t, o), onlyFinite({ ...outs0[o], data: p[o].data.map((v, i) => (v - m[o].data[i]) / (2 * h)) }, o), `${where}: jvp in input ${k} alone, output ${o}`, rtol, atol);
    });
  });
}

// ---------------------------------------------------------------- vmap check

/** vmap(fn, inAxes, outAxes) over a batch of 2 equals fn applied to each example, stacked at outAxes. */
export function checkVmap(c: Case, seed: number, where: string, inAxes: (number | null)[], outAxis: number): void {
  unlessFloat64(where, () => vmapped(c, seed, where, inAxes, outAxis));
}

function vmapped(c: Case, seed: number, where: string, inAxes: (number | null)[], outAxis: number): void {
  const r = rng(seed);
  const examples = c.inputs.map((s, k) => (inAxes[k] === null ? [randomHost(s, r)] : [0, 1].map(() => randomHost(s, r))));
  const norm = (ax: number, nd: number) => (ax < 0 ? ax + nd + 1 : ax);
  const batched = examples.map((ex, k) => (inAxes[k] === null ? ex[0] : stackHost(ex, norm(inAxes[k]!, ex[0].shape.length))));
  const perExample = [0, 1].map((b) => outList(firstCall(c, examples.map((ex, k) => ex[inAxes[k] === null ? 0 : b]))).map(toHost));
  // Outputs of fewer dimensions than outAxis put the batch axis last.
  const nd = perExample[0][0].shape.length;
  const oa = outAxis > nd ? nd : outAxis;
  const got = outList(mx.vmap(c.fn, inAxes, oa)(...batched.map(toMx)) as Out).map(toHost);
  assert.equal(got.length, perExample[0].length, `${where}: number of outputs`);
  got.forEach((g, k) => {
    const want = stackHost(perExample.map((o) => o[k]), norm(oa, perExample[0][k].shape.length));
    assert.equal(g.dtype, want.dtype, `${where}: output ${k} dtype`);
    assertClose(g, want, `${where}: output ${k}`, onGpu ? GPU_SAME.rtol : 1e-12, onGpu ? GPU_SAME.atol : 1e-14);
  });
}

/** The inAxes/outAxes variants tried for a case: all at 0; all last; the first at 0 with the rest unmapped or at 1. */
export function vmapVariants(c: Case): { inAxes: (number | null)[]; outAxis: number }[] {
  const n = c.inputs.length;
  const v: { inAxes: (number | null)[]; outAxis: number }[] = [{ inAxes: c.inputs.map(() => 0), outAxis: 0 }];
  v.push({ inAxes: c.inputs.map(() => -1), outAxis: -1 });
  if (n > 1) v.push({ inAxes: c.inputs.map((_, k) => (k === 0 ? 0 : null)), outAxis: 0 });
  if (n > 1) v.push({ inAxes: c.inputs.map((_, k) => (k === 0 ? null : 0)), outAxis: 0 });
  if (c.inputs.every((s) => s.shape.length >= 1)) v.push({ inAxes: c.inputs.map(() => 1), outAxis: 1 });
  return v;
}
