// rmsNorm and layerNorm over the last axis, forward and analytic backward: one read of each
// row for its statistics and one for the result, float64 sums, the weight and bias
// gradients summed over rows in float64.
import { allocUninit, type CpuKernel } from '../../backend.js';
import { rowReader, rowWriter, loadAll, store, statsRound } from './rows.js';

interface NormParams { eps: number; hasWeight?: boolean; biasDtype?: string | null }

const lastDim = (shape: readonly number[]) => shape[shape.length - 1];

/** [x, w?] -> y = x / rms(x) · w. */
export const rmsNorm: CpuKernel = (ins, [spec], { eps }: NormParams) => {
  const [x, w] = ins;
  const D = lastDim(x.shape), rows = D ? x.data.length / D : 0;
  const out = allocUninit(spec);
  const rs = statsRound(x.dtype), wv = w ? loadAll(w) : null;
  const read = rowReader(x, D), write = rowWriter(out, spec.dtype, D);
  for (let r = 0; r < rows; r++) {
    const [xs, xo] = read(r * D, D), [ys, yo] = write.at(r * D);
    let ss = 0;
    for (let i = 0; i < D; i++) { const v = xs[xo + i]; ss += v * v; }
    const inv = rs(1 / Math.sqrt(rs(rs(ss / D) + eps)));
    if (wv) for (let i = 0; i < D; i++) ys[yo + i] = wv[i] * (xs[xo + i] * inv);
    else for (let i = 0; i < D; i++) ys[yo + i] = xs[xo + i] * inv;
    write.done(r * D, D);
  }
  return [out];
};

/** [x, w?, g] -> [dx, dw?]: dx = r·gw − x·r³·mean(gw·x), dw = Σ_rows g·x·r, with gw = g·w. */
export const rmsNormVjp: CpuKernel = (ins, specs, { eps }: NormParams) => {
  const x = ins[0], w = ins.length === 3 ? ins[1] : null, g = ins[ins.length - 1];
  const D = lastDim(x.shape), rows = D ? x.data.length / D : 0;
  const dx = allocUninit(specs[0]);
  const wv = w ? loadAll(w) : null, dw = w ? new Float64Array(D) : null;
  const readX = rowReader(x, D), readG = rowReader(g, D), write = rowWriter(dx, specs[0].dtype, D);
  for (let r = 0; r < rows; r++) {
    const [xs, xo] = readX(r * D, D), [gs, go] = readG(r * D, D), [ys, yo] = write.at(r * D);
    let ss = 0, dot = 0;
    for (let i = 0; i < D; i++) {
      const v = xs[xo + i];
      ss += v * v;
      dot += (wv ? gs[go + i] * wv[i] : gs[go + i]) * v;
    }
    const inv = 1 / Math.sqrt(ss / D + eps), c = (inv * inv * inv * dot) / D;
    for (let i = 0; i < D; i++) {
      const v = xs[xo + i], gi = gs[go + i];
      if (dw) dw[i] += gi * v * inv;
      ys[yo + i] = inv * (wv ? gi * wv[i] : gi) - v * c;
    }
    write.done(r * D, D);
  }
  const outs = [dx];
  if (dw) { const o = allocUninit(specs[1]); store(o, specs[1].dtype, 0, D, dw); outs.push(o); }
  return outs;
};

/** [x, w?, b?] -> y = (x − mean) / sqrt(var + eps) · w + b. */
export const layerNorm: CpuKernel = (ins, [spec], { eps, hasWeight, biasDtype }: NormParams) => {
  const x = ins[0], w = hasWeight ? ins[1] : null, b = biasDtype ? ins[ins.length - 1] : null;
  const D = lastDim(x.shape), rows = D ? x.data.length / D : 0;
  const out = allocUninit(spec);
  const rs = statsRound(x.dtype), wv = w ? loadAll(w) : null, bv = b ? loadAll(b) : null;
  const read = rowReader(x, D), write = rowWriter(out, spec.dtype, D);
  for (let r = 0; r < rows; r++) {
    const [xs, xo] = read(r * D, D), [ys, yo] = write.at(r * D);
    let s = 0;
    for (let i = 0; i < D; i++) s += xs[xo + i];
    const mean = s / D;
    let ss = 0;
    for (let i = 0; i < D; i++) { const c = xs[xo + i] - mean; ss += c * c; }
    const inv = rs(1 / Math.sqrt(rs(rs(ss / D) + eps)));
    for (let i = 0; i < D; i++) {
      const y = (xs[xo + i] - mean) * inv;
      ys[yo + i] = (wv ? y * wv[i] : y) + (bv ? bv[i] : 0);
    }
    write.done(r * D, D);
  }
  return [out];
};

/** [x, w?, g] -> [dx, dw?, db?]: dx = r·(gw − mean(gw) − x̂·mean(gw·x̂)), dw = Σ g·x̂, db = Σ g. */
export const layerNormVjp: CpuKernel = (ins, specs, { eps, hasWeight, biasDtype }: NormParams) => {
  const x = ins[0], w = hasWeight ? ins[1] : null, g = ins[ins.length - 1];
  const D = lastDim(x.shape), rows = D ? x.data.length / D : 0;
  const dx = allocUninit(specs[0]);
  const wv = w ? loadAll(w) : null;
  const dw = w ? new Float64Array(D) : null, db = biasDtype ? new Float64Array(D) : null;
  const readX = rowReader(x, D), readG = rowReader(g, D), write = rowWriter(dx, specs[0].dtype, D);
  for (let r = 0; r < rows; r++) {
    const [xs, xo] = readX(r * D, D), [gs, go] = readG(r * D, D), [ys, yo] = write.at(r * D);
    let s = 0;
    for (let i = 0; i < D; i++) s += xs[xo + i];
    const mean = s / D;
    let ss = 0;
    for (let i = 0; i < D; i++) { const c = xs[xo + i] - mean; ss += c * c; }
    const inv = 1 / Math.sqrt(ss / D + eps);
    let sg = 0, sgx = 0;
    for (let i = 0; i < D; i++) {
      const xh = (xs[xo + i] - mean) * inv, gi = gs[go + i], gw = wv ? gi * wv[i] : gi;
      sg += gw;
      sgx += gw * xh;
      if (dw) dw[i] += gi * xh;
      if (db) db[i] += gi;
    }
    const mg = sg / D, mgx = sgx / D;
    for (let i = 0; i < D; i++) {
      const xh = (xs[xo + i] - mean) * inv, gi = gs[go + i];
      ys[yo + i] = inv * ((wv ? gi * wv[i] : gi) - mg - xh * mgx);
    }
    write.done(r * D, D);
  }
  const outs = [dx];
  for (const [acc, spec] of [[dw, specs[1]], [db, specs[dw ? 2 : 1]]] as const) {
    if (!acc) continue;
    const o = allocUninit(spec);
    store(o, spec.dtype, 0, D, acc);
    outs.push(o);
  }
  return outs;
};
