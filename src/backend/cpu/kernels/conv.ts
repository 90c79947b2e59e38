// CPU kernel for the conv primitive (see core/ops/conv.ts): im2col + GEMM. For a chunk of
// output positions, `cols` holds the input patches (rows: positions, columns: kernel
// offset x channel of one group). Then
//   output: y_g = cols @ w_g^T,   input grad: cols = y_g @ w_g, scattered back (col2im),
//   weight grad: w_g += y_g^T @ cols.
// 1x1 convolutions with no stride or padding skip im2col: the input is its own cols.
import type { DType } from '../../../core/dtype.js';
import type { ConvParams } from '../../../core/ops/conv.js';
import { CpuKernel, CpuArg, registerCpuKernels, allocOut } from '../backend.js';
import { gemm, Floats } from '../blas.js';
import { asFloats, f32ToHalf } from './linalg.js';

const CHUNK = 1 << 20; // elements of cols per chunk, to bound memory

interface Geometry {
  N: number; G: number; Cin: number; Cout: number; Cig: number; Cog: number;
  S: number[]; K: number[]; O: number[]; Sp: number; Kp: number; Op: number;
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** For each spatial dim, table[o * K + k] = the input index read at (o, k), or -1 (padding / a dilation hole). */
function dimTables(g: Geometry, p: ConvParams): Int32Array[] {
  return g.S.map((S, d) => {
    const K = g.K[d], O = g.O[d], t = new Int32Array(O * K);
    const idil = p.inputDilation[d];
    for (let o = 0; o < O; o++) {
      for (let k = 0; k < K; k++) {
        const kk = p.flip ? K - 1 - k : k;
        const pos = o * p.strides[d] + kk * p.kernelDilation[d] - p.padLo[d];
        const i = pos / idil;
        t[o * K + k] = pos >= 0 && pos % idil === 0 && i < S ? i : -1;
      }
    }
    return t;
  });
}

/** tab[(r - r0) * Kp + kf] = flat input position read by output position r at kernel offset kf, or -1. */
function patchIndex(g: Geometry, tables: Int32Array[], r0: number, r1: number, tab: Int32Array): void {
  const D = g.S.length;
  const sStride = new Array<number>(D);
  for (let d = D - 1, s = 1; d >= 0; d--) { sStride[d] = s; s *= g.S[d]; }
  const o = new Array<number>(D), k = new Array<number>(D);
  for (let r = r0; r < r1; r++) {
    for (let d = D - 1, rem = r; d >= 0; d--) { o[d] = rem % g.O[d]; rem = Math.floor(rem / g.O[d]); }
    k.fill(0);
    for (let kf = 0; kf < g.Kp; kf++) {
      let flat = 0;
      for (let d = 0; d < D; d++) {
        const i = tables[d][o[d] * g.K[d] + k[d]];
        if (i < 0) { flat = -1; break; }
        flat += i * sStride[d];
      }
      tab[(r - r0) * g.Kp + kf] = flat;
      for (let d = D - 1; d >= 0; d--) { if (++k[d] < g.K[d]) break; k[d] = 0; }
    }
  }
}

function im2col(x: Floats, g: Geometry, n: number, grp: number, tab: Int32Array, rows: number, cols: Floats): void {
  const { Cig, Cin, Kp, Sp } = g;
  for (let q = 0; q < rows * Kp; q++) {
    const src = tab[q], dst = q * Cig;
    if (src < 0) { cols.fill(0, dst, dst + Cig); continue; }
    const base = (n * Sp + src) * Cin + grp * Cig;
    if (Cig >= 16) cols.set(x.subarray(base, base + Cig), dst); // a memcpy beats the loop for wide runs
    else for (let c = 0; c < Cig; c++) cols[dst + c] = x[base + c];
  }
}

function col2im(cols: Floats, g: Geometry, n: number, grp: number, tab: Int32Array, rows: number, x: Floats): void {
  const { Cig, Cin, Kp, Sp } = g;
  for (let q = 0; q < rows * Kp; q++) {
    const src = tab[q];
    if (src < 0) continue;
    const base = (n * Sp + src) * Cin + grp * Cig, from = q * Cig;
    for (let c = 0; c < Cig; c++) x[base + c] += cols[from + c];
  }
}

function geometry(x: readonly number[], w: readonly number[], y: readonly number[], groups: number): Geometry {
  const S = x.slice(1, -1), K = w.slice(1, -1), O = y.slice(1, -1);
  const Cin = x[x.length - 1], Cout = y[y.length - 1];
  return { N: x[0], G: groups, Cin, Cout, Cig: Cin / groups, Cog: Cout / groups, S, K, O, Sp: prod(S), Kp: prod(K), Op: prod(O) };
}

/** True for a 1x1 convolution that reads every input position once, in order. */
function isPointwise(g: Geometry, p: ConvParams): boolean {
  return g.Kp === 1 && g.S.every((s, d) => s === g.O[d] && p.padLo[d] === 0 && p.strides[d] === 1 && p.inputDilation[d] === 1);
}

function run(mode: ConvParams['mode'], p: ConvParams, g: Geometry, X: Floats, W: Floats, Y: Floats): void {
  const { N, G, Cig, Cog, Cin, Cout, Kp, Op } = g;
  const kc = Kp * Cig;
  if (isPointwise(g, p)) {
    const rows = N * Op;
    for (let grp = 0; grp < G; grp++) {
      const xo = grp * Cig, wo = grp * Cog * Cig, yo = grp * Cog;
      if (mode === 'output') gemm(false, true, rows, Cog, Cig, 1, X, xo, Cin, W, wo, Cig, 0, Y, yo, Cout);
      else if (mode === 'input') gemm(false, false, rows, Cig, Cog, 1, Y, yo, Cout, W, wo, Cig, 0, X, xo, Cin);
      else gemm(true, false, Cog, Cig, rows, 1, Y, yo, Cout, X, xo, Cin, 0, W, wo, Cig);
    }
    return;
  }
  const tables = dimTables(g, p);
  const chunk = Math.max(1, Math.min(Op, Math.floor(CHUNK / Math.max(kc, 1))));
  const tab = new Int32Array(chunk * Kp);
  const cols = new (X.constructor as Float32ArrayConstructor)(chunk * kc);
  for (let n = 0; n < N; n++) {
    for (let r0 = 0; r0 < Op; r0 += chunk) {
      const rows = Math.min(chunk, Op - r0);
      patchIndex(g, tables, r0, r0 + rows, tab);
      for (let grp = 0; grp < G; grp++) {
        const yo = (n * Op + r0) * Cout + grp * Cog, wo = grp * Cog * kc;
        if (mode === 'output') {
          im2col(X, g, n, grp, tab, rows, cols);
          gemm(false, true, rows, Cog, kc, 1, cols, 0, kc, W, wo, kc, 0, Y, yo, Cout);
        } else if (mode === 'input') {
          gemm(false, false, rows, kc, Cog, 1, Y, yo, Cout, W, wo, kc, 0, cols, 0, kc);
          col2im(cols, g, n, grp, tab, rows, X);
        } else {
          im2col(X, g, n, grp, tab, rows, cols);
          gemm(true, false, Cog, kc, rows, 1, Y, yo, Cout, cols, 0, kc, 1, W, wo, kc);
        }
      }
    }
  }
}

const conv: CpuKernel = (ins: CpuArg[], [out], p: ConvParams) => {
  const o = allocOut(out);
  const d: DType = out.dtype;
  const half = d.name === 'float16' || d.name === 'bfloat16';
  const result: Floats = half ? new Float32Array(o.length) : (o as Floats);
  const given = ins.map((a) => asFloats(a.data, d));
  const roles = (['input', 'weight', 'output'] as const).filter((r) => r !== p.mode);
  const arrays: Record<string, Floats> = { [p.mode]: result };
  const shapes: Record<string, readonly number[]> = { [p.mode]: out.shape };
  roles.forEach((r, i) => { arrays[r] = given[i]; shapes[r] = ins[i].shape; });
  const g = geometry(shapes.input, shapes.weight, shapes.output, p.groups);
  if (o.length > 0 && g.Cig > 0 && g.Cog > 0 && g.N > 0 && g.Op > 0) run(p.mode, p, g, arrays.input, arrays.weight, arrays.output);
  if (half) f32ToHalf(result as Float32Array, d, o as Uint16Array);
  return [o];
};

registerCpuKernels({ conv });
