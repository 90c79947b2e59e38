// Attention with an online softmax over key blocks (FlashAttention-2, forward and backward):
// block products run through the BLAS GEMM (blas.ts) in float32 (float64 for float64; half
// inputs are converted one key/value head at a time), scores live in one BQ × BK block, and
// grouped query heads share their key/value head: no L × S matrix, no repeated heads.
import { allocUninit, type CpuArg, type CpuKernel } from '../../backend.js';
import { gemm } from '../../blas.js';
import { load, loadAll, store, expf, type Floats } from './rows.js';

interface SdpaParams {
  scale: number; causal: boolean; mask: 'none' | 'bool' | 'additive';
  windowSize: number | null; softcap: number | null; hasKeyLengths: boolean;
}

/** Query rows per block and keys per block: the scores of one block pair are BQ × BK floats. */
const BQ = 128, BK = 256;

/** Shapes, scratch type and mask addressing shared by the forward and backward kernels. */
function attentionSetup(ins: CpuArg[], p: SdpaParams, from: number) {
  const [q, k, v] = ins;
  let i = from;
  const mask = p.mask !== 'none' ? ins[i++] : null;
  const lens = p.hasKeyLengths ? loadAll(ins[i]) : null;
  const [B, Hq, L, D] = q.shape, Hk = k.shape[1], S = k.shape[2], Dv = v.shape[3];
  const F = q.dtype.name === 'float64' ? Float64Array : Float32Array;
  const ex = q.dtype.name === 'float64' ? Math.exp : expf;
  // The 4-d mask is read in place, with stride 0 along its broadcast axes.
  const ms = mask ? mask.shape.map((d, ax) => (d === 1 ? 0 : mask.shape.slice(ax + 1).reduce((a, b) => a * b, 1))) : [0, 0, 0, 0];
  const maskVals = mask ? (mask.dtype.name === 'bool' || mask.dtype.name === 'float32' || mask.dtype.name === 'float64' ? mask.data : loadAll(mask)) : null;
  /** Keys [lo, hi) that some query of rows [q0, q0 + bq) may see, for batch row b. */
  const keyRange = (b: number, q0: number, bq: number): [number, number] => {
    const shift = S - L;
    let lo = 0, hi = S;
    if (p.causal) hi = Math.min(hi, q0 + bq + shift);
    if (p.windowSize !== null) lo = Math.max(lo, q0 + shift - p.windowSize + 1);
    if (lens) hi = Math.min(hi, Math.max(0, lens[b]));
    return [lo, hi];
  };
  /**
   * Turns raw block scores (already times scale) into final scores in place: soft cap
   * (keeping tanh in `th` for the backward pass), masks (−inf where not allowed).
   */
  const finish = (sc: Floats, th: Floats | null, bq: number, bk: number, b: number, h: number, q0: number, k0: number) => {
    const shift = S - L, cap = p.softcap, w = p.windowSize;
    // Blocks inside the causal triangle and the window, with no mask or cap, stay as they are.
    if (cap === null && !maskVals && (!p.causal || k0 + bk - 1 <= q0 + shift) && (w === null || q0 + bq - 1 + shift - k0 < w)) return;
    for (let i = 0; i < bq; i++) {
      const qpos = q0 + i + shift;
      const mrow = b * ms[0] + h * ms[1] + (q0 + i) * ms[2];
      for (let j = 0; j < bk; j++) {
        const at = i * bk + j, kpos = k0 + j;
        let s = sc[at];
        if (cap !== null) { const t = Math.tanh(s / cap); if (th) th[at] = t; s = cap * t; }
        if ((p.causal && kpos > qpos) || (w !== null && qpos - kpos >= w)) s = -Infinity;
        else if (maskVals) {
          const m = maskVals[mrow + kpos * ms[3]] as number;
          if (p.mask === 'bool') { if (!m) s = -Infinity; } else s += m;
        }
        sc[at] = s;
      }
    }
  };
  return { q, k, v, B, Hq, Hk, L, S, D, Dv, rep: Hq / Hk, F, ex, keyRange, finish };
}

/** Rows of a head as floats of type F: the input's own storage when it already is, else a converted copy. */
function asFloats(a: CpuArg, off: number, n: number, F: typeof Float32Array | typeof Float64Array, scratch: Floats): [Floats, number] {
  if ((F === Float32Array && a.dtype.name === 'float32') || (F === Float64Array && a.dtype.name === 'float64')) return [a.data as Floats, off];
  load(a.data, a.dtype, off, n, scratch);
  return [scratch, 0];
}

/**
 * [q, k, v, mask?, keyLengths?] -> [out, lse]. Per query head and block of BQ rows: stream
 * the key blocks, keeping a running max m, sum l and unnormalized output O per row
 * (online softmax), then O / l. Grouped heads read their key/value head in place.
 */
export const scaledDotProductAttention: CpuKernel = (ins, specs, p: SdpaParams) => {
  const { q, k, v, B, Hq, Hk, L, S, D, Dv, rep, F, ex, keyRange, finish } = attentionSetup(ins, p, 3);
  const out = allocUninit(specs[0]), lse = allocUninit(specs[1]) as Floats;
  const kS = new F(S * D), vS = new F(S * Dv), qS = new F(BQ * D);
  const sc = new F(BQ * BK), o = new F(BQ * Dv), row = new Float64Array(Dv);
  const m = new Float64Array(BQ), l = new Float64Array(BQ);
  for (let b = 0; b < B; b++) for (let hk = 0; hk < Hk; hk++) {
    const [K, kOff] = asFloats(k, (b * Hk + hk) * S * D, S * D, F, kS);
    const [V, vOff] = asFloats(v, (b * Hk + hk) * S * Dv, S * Dv, F, vS);
    for (let h = hk * rep; h < (hk + 1) * rep; h++) for (let q0 = 0; q0 < L; q0 += BQ) {
      const bq = Math.min(BQ, L - q0), rowAt = (b * Hq + h) * L + q0;
      const [Q, qOff] = asFloats(q, rowAt * D, bq * D, F, qS);
      m.fill(-Infinity); l.fill(0); o.fill(0, 0, bq * Dv);
      const [lo, hi] = keyRange(b, q0, bq);
      for (let k0 = lo; k0 < hi; k0 += BK) {
        const bk = Math.min(BK, hi - k0);
        gemm(false, true, bq, bk, D, p.scale, Q, qOff, D, K, kOff + k0 * D, D, 0, sc, 0, bk);
        finish(sc, null, bq, bk, b, h, q0, k0);
        for (let i = 0; i < bq; i++) {
          let mx = m[i];
          for (let j = 0; j < bk; j++) if (sc[i * bk + j] > mx) mx = sc[i * bk + j];
          if (mx === -Infinity) { sc.fill(0, i * bk, (i + 1) * bk); continue; } // nothing allowed yet
          const alpha = ex(m[i] - mx);
          let sum = 0;
          for (let j = 0; j < bk; j++) { const e = ex(sc[i * bk + j] - mx); sc[i * bk + j] = e; sum += e; }
          l[i] = l[i] * alpha + sum;
          m[i] = mx;
          if (alpha !== 1) for (let d = 0; d < Dv; d++) o[i * Dv + d] *= alpha;
        }
        gemm(false, false, bq, Dv, bk, 1, sc, 0, bk, V, vOff + k0 * Dv, Dv, 1, o, 0, Dv);
      }
      for (let i = 0; i < bq; i++) {
        const inv = l[i] > 0 ? 1 / l[i] : 0;
        for (let d = 0; d < Dv; d++) row[d] = o[i * Dv + d] * inv;
        store(out, specs[0].dtype, (rowAt + i) * Dv, Dv, row);
        lse[rowAt + i] = l[i] > 0 ? m[i] + Math.log(l[i]) : -Infinity;
      }
    }
  }
  return [out, lse];
};

/**
 * [q, k, v, out, lse, dout, mask?, keyLengths?] -> [dq, dk, dv], FlashAttention-2's backward:
 * per key/value head, dk and dv accumulate over its query heads and blocks; P is recomputed
 * from lse, dS = P ∘ (dP − rowsum(dO ∘ O)), dq += scale·dS k, dk += scale·dSᵀ q, dv += Pᵀ dO.
 */
export const scaledDotProductAttentionVjp: CpuKernel = (ins, specs, p: SdpaParams) => {
  const { q, k, v, B, Hq, Hk, L, S, D, Dv, rep, F, ex, keyRange, finish } = attentionSetup(ins, p, 6);
  const [, , , o, lse, dout] = ins;
  const lseV = lse.data as Floats;
  const dq = allocUninit(specs[0]), dk = allocUninit(specs[1]), dv = allocUninit(specs[2]);
  const kS = new F(S * D), vS = new F(S * Dv), qS = new F(BQ * D);
  const dK = new F(S * D), dV = new F(S * Dv), dQ = new F(BQ * D), dO = new F(BQ * Dv);
  const P = new F(BQ * BK), dP = new F(BQ * BK), th = p.softcap !== null ? new F(BQ * BK) : null;
  const Di = new Float64Array(BQ), oRow = new Float64Array(Dv), gRow = new Float64Array(Dv);
  for (let b = 0; b < B; b++) for (let hk = 0; hk < Hk; hk++) {
    const [K, kOff] = asFloats(k, (b * Hk + hk) * S * D, S * D, F, kS);
    const [V, vOff] = asFloats(v, (b * Hk + hk) * S * Dv, S * Dv, F, vS);
    dK.fill(0); dV.fill(0);
    for (let h = hk * rep; h < (hk + 1) * rep; h++) for (let q0 = 0; q0 < L; q0 += BQ) {
      const bq = Math.min(BQ, L - q0), rowAt = (b * Hq + h) * L + q0;
      const [Q, qOff] = asFloats(q, rowAt * D, bq * D, F, qS);
      for (let i = 0; i < bq; i++) {
        load(o.data, o.dtype, (rowAt + i) * Dv, Dv, oRow);
        load(dout.data, dout.dtype, (rowAt + i) * Dv, Dv, gRow);
        let s = 0;
        for (let d = 0; d < Dv; d++) { s += oRow[d] * gRow[d]; dO[i * Dv + d] = gRow[d]; }
        Di[i] = s;
      }
      dQ.fill(0, 0, bq * D);
      const [lo, hi] = keyRange(b, q0, bq);
      for (let k0 = lo; k0 < hi; k0 += BK) {
        const bk = Math.min(BK, hi - k0);
        gemm(false, true, bq, bk, D, p.scale, Q, qOff, D, K, kOff + k0 * D, D, 0, P, 0, bk);
        finish(P, th, bq, bk, b, h, q0, k0);
        for (let i = 0; i < bq; i++) {
          const li = lseV[rowAt + i];
          for (let j = 0; j < bk; j++) P[i * bk + j] = li === -Infinity ? 0 : ex(P[i * bk + j] - li);
        }
        gemm(true, false, bk, Dv, bq, 1, P, 0, bk, dO, 0, Dv, 1, dV, k0 * Dv, Dv);
        gemm(false, true, bq, bk, Dv, 1, dO, 0, Dv, V, vOff + k0 * Dv, Dv, 0, dP, 0, bk);
        for (let i = 0; i < bq; i++) for (let j = 0; j < bk; j++) {
          const at = i * bk + j;
          let ds = P[at] * (dP[at] - Di[i]);
          if (th) ds *= 1 - th[at] * th[at];
          dP[at] = ds;
        }
        gemm(false, false, bq, D, bk, p.scale, dP, 0, bk, K, kOff + k0 * D, D, 1, dQ, 0, D);
        gemm(true, false, bk, D, bq, p.scale, dP, 0, bk, Q, qOff, D, 1, dK, k0 * D, D);
      }
      store(dq, specs[0].dtype, rowAt * D, bq * D, dQ);
    }
    store(dk, specs[1].dtype, (b * Hk + hk) * S * D, S * D, dK);
    store(dv, specs[2].dtype, (b * Hk + hk) * S * Dv, S * Dv, dV);
  }
  return [dq, dk, dv];
};
