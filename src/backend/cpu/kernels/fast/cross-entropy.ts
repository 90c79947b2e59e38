// Cross entropy over a large vocabulary, a chunk of the row at a time: the forward pass keeps
// a running max and rescaled sum (one exp per logit), the backward pass writes
// g·(softmax − (1 − s)·onehot − s/V) straight into the logits' dtype.
import { allocUninit, type CpuKernel } from '../../backend.js';
import { rowReader, rowWriter, loadAll, expf, type Floats } from './rows.js';

interface CeParams { ignoreIndex: number; labelSmoothing: number }

/** Vocabulary entries per chunk (rows of half logits go through float64 scratch this much at a time). */
const CHUNK = 4096;

/** [logits (N, V), targets (N,)] -> [loss, lse], each (N,). */
export const crossEntropy: CpuKernel = (ins, specs, { ignoreIndex, labelSmoothing: s }: CeParams) => {
  const [z, t] = ins;
  const N = t.data.length, V = N ? z.data.length / N : 0;
  const loss = allocUninit(specs[0]) as Floats, lse = allocUninit(specs[1]) as Floats;
  const read = rowReader(z, Math.min(CHUNK, V)), wide = z.dtype.name === 'float64';
  for (let r = 0; r < N; r++) {
    let m = -Infinity, sum = 0, total = 0, zt = NaN;
    const target = Number(t.data[r]);
    for (let c0 = 0; c0 < V; c0 += CHUNK) {
      const n = Math.min(CHUNK, V - c0);
      const [zs, o] = read(r * V + c0, n);
      let cm = m;
      for (let j = 0; j < n; j++) { const v = zs[o + j]; if (v > cm) cm = v; total += v; }
      if (target >= c0 && target < c0 + n) zt = zs[o + target - c0];
      if (!(cm < Infinity)) { m = cm; continue; } // +inf or NaN: the row's lse is that
      if (cm === -Infinity) continue; // nothing but −inf so far: the sum stays 0
      if (cm > m) { sum *= wide ? Math.exp(m - cm) : expf(m - cm); m = cm; }
      if (wide) for (let j = 0; j < n; j++) sum += Math.exp(zs[o + j] - m);
      else for (let j = 0; j < n; j++) sum += expf(zs[o + j] - m);
    }
    const l = m + Math.log(sum);
    lse[r] = l;
    if (target === ignoreIndex) { loss[r] = 0; continue; }
    if (!(target >= 0 && target < V)) throw new Error(`[crossEntropy] target ${target} of row ${r} is outside the vocabulary [0, ${V}) and is not ignoreIndex (${ignoreIndex})`);
    loss[r] = s > 0 ? l - (1 - s) * zt - (s * total) / V : l - zt;
  }
  return [loss, lse];
};

/** [logits, targets, lse, g] -> dlogits, chunk by chunk, in the logits' dtype. */
export const crossEntropyVjp: CpuKernel = (ins, [spec], { ignoreIndex, labelSmoothing: s }: CeParams) => {
  const [z, t, lse, g] = ins;
  const N = t.data.length, V = N ? z.data.length / N : 0;
  const out = allocUninit(spec);
  const lseV = loadAll(lse), gV = loadAll(g), wide = z.dtype.name === 'float64';
  const read = rowReader(z, Math.min(CHUNK, V)), write = rowWriter(out, spec.dtype, Math.min(CHUNK, V));
  for (let r = 0; r < N; r++) {
    const target = Number(t.data[r]), ignored = target === ignoreIndex;
    const gr = ignored ? 0 : gV[r], l = lseV[r], smooth = (s / V) * gr;
    for (let c0 = 0; c0 < V; c0 += CHUNK) {
      const n = Math.min(CHUNK, V - c0), at = r * V + c0;
      const [ys, yo] = write.at(at);
      if (ignored) ys.fill(0, yo, yo + n);
      else {
        const [zs, o] = read(at, n);
        if (wide) for (let j = 0; j < n; j++) ys[yo + j] = gr * Math.exp(zs[o + j] - l) - smooth;
        else for (let j = 0; j < n; j++) ys[yo + j] = gr * expf(zs[o + j] - l) - smooth;
        const tj = target - c0;
        if (tj >= 0 && tj < n) ys[yo + tj] -= (1 - s) * gr;
      }
      write.done(at, n);
    }
  }
  return [out];
};
