// swiglu and geglu as one elementwise pass each way: the forward keeps no activation, the
// backward recomputes σ (or Φ) and writes both gradients. One loop per activation, so the
// activation is not a branch per element.
import { allocUninit, type CpuArg, type CpuKernel } from '../../backend.js';
import type { Spec } from '../../../../core/primitive.js';
import { helpers } from '../../scalar.js';
import { rowReader, rowWriter, expf, type Floats } from './rows.js';

interface GluParams { act: 'silu' | 'gelu' | 'geluTanh' }
const { erf } = helpers;
const SQRT_2_PI = Math.sqrt(2 / Math.PI), GELU_C = 0.044715, INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const CHUNK = 4096;

/** y[i] = act(a[i]) · b[i]. */
function forward(act: GluParams['act'], wide: boolean, a: Floats, ao: number, b: Floats, bo: number, y: Floats, yo: number, n: number): void {
  if (act === 'silu') {
    for (let i = 0; i < n; i++) { const v = a[ao + i]; y[yo + i] = (v / (1 + (wide ? Math.exp(-v) : expf(-v)))) * b[bo + i]; }
  } else if (act === 'gelu') {
    for (let i = 0; i < n; i++) { const v = a[ao + i]; y[yo + i] = 0.5 * v * (1 + erf(v * Math.SQRT1_2)) * b[bo + i]; }
  } else {
    for (let i = 0; i < n; i++) { const v = a[ao + i]; y[yo + i] = 0.5 * v * (1 + Math.tanh(SQRT_2_PI * (v + GELU_C * v * v * v))) * b[bo + i]; }
  }
}

/** da[i] = g·b·act′(a), db[i] = g·act(a). */
function backward(act: GluParams['act'], wide: boolean, a: Floats, ao: number, b: Floats, bo: number, g: Floats, go: number,
  da: Floats, dao: number, db: Floats, dbo: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = a[ao + i], gi = g[go + i];
    let f: number, d: number;
    if (act === 'silu') {
      const s = 1 / (1 + (wide ? Math.exp(-v) : expf(-v)));
      f = v * s;
      d = s * (1 + v * (1 - s));
    } else if (act === 'gelu') {
      const cdf = 0.5 * (1 + erf(v * Math.SQRT1_2));
      f = v * cdf;
      d = cdf + v * INV_SQRT_2PI * (wide ? Math.exp(-0.5 * v * v) : expf(-0.5 * v * v));
    } else {
      const t = Math.tanh(SQRT_2_PI * (v + GELU_C * v * v * v));
      f = 0.5 * v * (1 + t);
      d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_PI * (1 + 3 * GELU_C * v * v);
    }
    da[dao + i] = gi * b[bo + i] * d;
    db[dbo + i] = gi * f;
  }
}

/** Runs `body` over [0, total) in chunks, with readers for `ins` and writers for `outs`. */
function chunked(ins: CpuArg[], outs: { data: Floats | Uint16Array; spec: Spec }[], body: (r: [Floats, number][], w: [Floats, number][], n: number) => void): void {
  const total = ins[0].data.length, size = Math.min(CHUNK, total);
  const readers = ins.map((a) => rowReader(a, size)), writers = outs.map((o) => rowWriter(o.data, o.spec.dtype, size));
  for (let c0 = 0; c0 < total; c0 += CHUNK) {
    const n = Math.min(CHUNK, total - c0);
    body(readers.map((r) => r(c0, n)), writers.map((w) => w.at(c0)), n);
    for (const w of writers) w.done(c0, n);
  }
}

/** [gate, up] -> act(gate) · up. */
export const glu: CpuKernel = (ins, [spec], { act }: GluParams) => {
  const out = allocUninit(spec) as Floats | Uint16Array, wide = spec.dtype.name === 'float64';
  chunked(ins, [{ data: out, spec }], ([[a, ao], [b, bo]], [[y, yo]], n) => forward(act, wide, a, ao, b, bo, y, yo, n));
  return [out];
};

/** [gate, up, g] -> [g · up · act′(gate), g · act(gate)]. */
export const gluVjp: CpuKernel = (ins, specs, { act }: GluParams) => {
  const [da, db] = specs.map((s) => allocUninit(s) as Floats | Uint16Array), wide = specs[0].dtype.name === 'float64';
  chunked(ins, [{ data: da, spec: specs[0] }, { data: db, spec: specs[1] }],
    ([[a, ao], [b, bo], [g, go]], [[x, xo], [y, yo]], n) => backward(act, wide, a, ao, b, bo, g, go, x, xo, y, yo, n));
  return [da, db];
};
