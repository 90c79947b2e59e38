// Rotary positional encoding. cos/sin come from a table per (position group, token), computed
// as the reference computes them (float32 angles for float32 and half inputs, float64 for
// float64), and shared by every head of the group; the rotation is done in float64.
import { allocUninit, type CpuKernel } from '../../backend.js';
import { rowReader, rowWriter, load, loadAll, statsRound } from './rows.js';

interface RopeParams {
  dims: number; traditional: boolean; base: number; scale: number; offset: number;
  positions: 'number' | 'scalar' | 'batch' | 'token'; hasFreqs: boolean; inverse: boolean;
  axes?: number[] | null;
}

/** Storage offset of x's row (n, t) of D features: n·T·D + t·D dense, else through the permutation. */
function rowOffsets(src: readonly number[], axes: number[] | null | undefined): (n: number, t: number) => number {
  const nd = src.length, D = src[nd - 1];
  if (!axes) { const T = src[nd - 2]; return (n, t) => (n * T + t) * D; }
  const dense = new globalThis.Array<number>(nd);
  for (let d = nd - 1, s = 1; d >= 0; s *= src[d], d--) dense[d] = s;
  const shape = axes.map((a) => src[a]), strides = axes.map((a) => dense[a]);
  const sT = strides[nd - 2];
  return (n, t) => {
    let off = t * sT;
    for (let d = nd - 3; d >= 0; d--) { const i = n % shape[d]; n = (n - i) / shape[d]; off += i * strides[d]; }
    return off;
  };
}

/** [x (..., T, D), offset?, freqs?] -> x with its first dims features rotated (by −θ when inverse). */
export const rope: CpuKernel = (ins, [spec], p: RopeParams) => {
  const x = { ...ins[0], shape: p.axes ? p.axes.map((a) => ins[0].shape[a]) : ins[0].shape };
  const src = rowOffsets(ins[0].shape, p.axes);
  let k = 1;
  const offset = p.positions === 'number' ? null : ins[k++];
  const freqs = p.hasFreqs ? ins[k] : null;
  const nd = x.shape.length, D = x.shape[nd - 1], T = x.shape[nd - 2], half = p.dims / 2;
  const rows = D && T ? x.data.length / (D * T) : 0; // x as (rows, T, D)
  const out = allocUninit(spec);
  if (!rows) return [out];
  const rs = statsRound(x.dtype);
  const inv = new Float64Array(half);
  if (freqs) {
    load(freqs.data, freqs.dtype, 0, half, inv);
    for (let i = 0; i < half; i++) inv[i] = rs(1 / rs(inv[i]));
  } else {
    const c = rs(-Math.log(p.base) / half);
    for (let i = 0; i < half; i++) inv[i] = rs(Math.exp(rs(i * c)));
  }
  const offs = offset ? loadAll(offset) : null;
  const groups = p.positions === 'batch' || p.positions === 'token' ? x.shape[0] : 1;
  const scale = rs(p.scale), start = rs(p.offset), sign = p.inverse ? -1 : 1;
  const cos = new Float64Array(groups * T * half), sin = new Float64Array(groups * T * half);
  for (let g = 0; g < groups; g++) for (let t = 0; t < T; t++) {
    let pos: number;
    if (p.positions === 'number') pos = rs(t + start);
    else if (p.positions === 'token') pos = rs(offs![g * T + t]);
    else pos = rs(t + rs(offs![p.positions === 'batch' ? g : 0]));
    pos = rs(pos * scale);
    const o = (g * T + t) * half;
    for (let i = 0; i < half; i++) {
      const th = rs(pos * inv[i]);
      cos[o + i] = rs(Math.cos(th));
      sin[o + i] = sign * rs(Math.sin(th));
    }
  }
  // Pair i is (i, i + half) in the split-half layout and (2i, 2i + 1) in the traditional one.
  const step = p.traditional ? 2 : 1, second = p.traditional ? 1 : half;
  const perGroup = rows / groups;
  const read = rowReader(x, D), write = rowWriter(out, spec.dtype, D);
  for (let n = 0; n < rows; n++) {
    const g = Math.floor(n / perGroup);
    for (let t = 0; t < T; t++) {
      const at = (n * T + t) * D, tab = (g * T + t) * half;
      const [xs, xo] = read(src(n, t), D), [ys, yo] = write.at(at);
      for (let i = 0; i < half; i++) {
        const ia = i * step, ib = ia + second;
        const a = xs[xo + ia], b = xs[xo + ib], c = cos[tab + i], s = sin[tab + i];
        ys[yo + ia] = a * c - b * s;
        ys[yo + ib] = a * s + b * c;
      }
      for (let i = p.dims; i < D; i++) ys[yo + i] = xs[xo + i];
      write.done(at, D);
    }
  }
  return [out];
};
