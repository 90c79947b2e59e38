// CPU kernels for the factorizations: inv, solve, solveTriangular, cholesky, qr, svd and
// eigh, batched over leading dims. Each matrix is computed in float64 (rounded once into
// a float32 result) with textbook algorithms: LU with partial pivoting, Householder QR,
// one-sided Jacobi SVD and cyclic Jacobi for symmetric eigenproblems, which are simple
// and accurate at the sizes a CPU fallback meets.
import type { TypedArray } from '../../../core/dtype.js';
import { CpuKernel, CpuArg, registerCpuKernels, allocOut } from '../backend.js';

type Mat = Float64Array; // row-major

const EPS = 2.220446049250313e-16;

/** The b-th (rows x cols) matrix of an input, as float64. */
function matrixAt(x: CpuArg, b: number, rows: number, cols: number): Mat {
  const n = rows * cols, m = new Float64Array(n), src = x.data as Float32Array | Float64Array;
  for (let i = 0, o = b * n; i < n; i++) m[i] = src[o + i];
  return m;
}

function store(out: TypedArray, b: number, m: Mat): void {
  (out as Float64Array).set(m, b * m.length); // Float32Array.set rounds each value
}

const batchCount = (shape: readonly number[], core: number) => shape.slice(0, shape.length - core).reduce((p, d) => p * d, 1);

/** In-place LU with partial pivoting of n x n `a`; returns the row permutation. */
function luFactor(where: string, a: Mat, n: number): Int32Array {
  const perm = new Int32Array(n).map((_, i) => i);
  for (let k = 0; k < n; k++) {
    let p = k, best = Math.abs(a[k * n + k]);
    for (let i = k + 1; i < n; i++) { const v = Math.abs(a[i * n + k]); if (v > best) { best = v; p = i; } }
    if (best === 0 || Number.isNaN(best)) throw new Error(`[${where}] matrix is singular`);
    if (p !== k) {
      for (let j = 0; j < n; j++) { const t = a[k * n + j]; a[k * n + j] = a[p * n + j]; a[p * n + j] = t; }
      const t = perm[k]; perm[k] = perm[p]; perm[p] = t;
    }
    const piv = a[k * n + k];
    for (let i = k + 1; i < n; i++) {
      const f = (a[i * n + k] /= piv);
      if (f === 0) continue;
      for (let j = k + 1; j < n; j++) a[i * n + j] -= f * a[k * n + j];
    }
  }
  return perm;
}

/** Solves LU x = P b for the columns of b (n x k, row-major), returning x. */
function luSolve(lu: Mat, perm: Int32Array, b: Mat, n: number, k: number): Mat {
  const x = new Float64Array(n * k);
  for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) x[i * k + c] = b[perm[i] * k + c];
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) { const f = lu[i * n + j]; if (f !== 0) for (let c = 0; c < k; c++) x[i * k + c] -= f * x[j * k + c]; }
  for (let i = n - 1; i >= 0; i--) {
    for (let j = i + 1; j < n; j++) { const f = lu[i * n + j]; if (f !== 0) for (let c = 0; c < k; c++) x[i * k + c] -= f * x[j * k + c]; }
    const d = lu[i * n + i];
    for (let c = 0; c < k; c++) x[i * k + c] /= d;
  }
  return x;
}

function identity(n: number): Mat {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

const inv: CpuKernel = ([a], [out]) => {
  const o = allocOut(out), n = a.shape[a.shape.length - 1];
  for (let b = 0, B = batchCount(a.shape, 2); b < B; b++) {
    const lu = matrixAt(a, b, n, n);
    store(o, b, luSolve(lu, luFactor('inv', lu, n), identity(n), n, n));
  }
  return [o];
};

const solve: CpuKernel = ([a, rhs], [out]) => {
  const o = allocOut(out), n = a.shape[a.shape.length - 1], k = rhs.shape[rhs.shape.length - 1];
  for (let b = 0, B = batchCount(a.shape, 2); b < B; b++) {
    const lu = matrixAt(a, b, n, n);
    store(o, b, luSolve(lu, luFactor('solve', lu, n), matrixAt(rhs, b, n, k), n, k));
  }
  return [o];
};

/** Substitution reading only the `upper` or lower triangle of a. */
const solveTriangular: CpuKernel = ([a, rhs], [out], { upper }: { upper: boolean }) => {
  const o = allocOut(out), n = a.shape[a.shape.length - 1], k = rhs.shape[rhs.shape.length - 1];
  for (let b = 0, B = batchCount(a.shape, 2); b < B; b++) {
    const t = matrixAt(a, b, n, n), x = matrixAt(rhs, b, n, k);
    for (let s = 0; s < n; s++) {
      const i = upper ? n - 1 - s : s;
      const [j0, j1] = upper ? [i + 1, n] : [0, i];
      for (let j = j0; j < j1; j++) { const f = t[i * n + j]; if (f !== 0) for (let c = 0; c < k; c++) x[i * k + c] -= f * x[j * k + c]; }
      const d = t[i * n + i];
      for (let c = 0; c < k; c++) x[i * k + c] /= d;
    }
    store(o, b, x);
  }
  return [o];
};

/** Lower Cholesky factor, reading the lower triangle. */
const cholesky: CpuKernel = ([a], [out]) => {
  const o = allocOut(out), n = a.shape[a.shape.length - 1];
  for (let b = 0, B = batchCount(a.shape, 2); b < B; b++) {
    const m = matrixAt(a, b, n, n), l = new Float64Array(n * n);
    for (let j = 0; j < n; j++) {
      let s = m[j * n + j];
      for (let k = 0; k < j; k++) s -= l[j * n + k] * l[j * n + k];
      if (!(s > 0)) throw new Error('[cholesky] matrix is not positive definite');
      const d = Math.sqrt(s);
      l[j * n + j] = d;
      for (let i = j + 1; i < n; i++) {
        let v = m[i * n + j];
        for (let k = 0; k < j; k++) v -= l[i * n + k] * l[j * n + k];
        l[i * n + j] = v / d;
      }
    }
    store(o, b, l);
  }
  return [o];
};

/**
 * Householder reflectors of m x n `r` (reduced in place to upper triangular); each is a
 * unit vector v (stored from row j down) with H = I - 2 v v^T.
 */
function householder(r: Mat, m: number, n: number): Mat[] {
  const k = Math.min(m, n), vs: Mat[] = [];
  for (let j = 0; j < k; j++) {
    const v = new Float64Array(m);
    let norm = 0;
    for (let i = j; i < m; i++) { v[i] = r[i * n + j]; norm += v[i] * v[i]; }
    norm = Math.sqrt(norm);
    const alpha = v[j] > 0 ? -norm : norm; // the sign that avoids cancellation, as LAPACK
    v[j] -= alpha;
    let vn = 0;
    for (let i = j; i < m; i++) vn += v[i] * v[i];
    vn = Math.sqrt(vn);
    if (vn === 0) { vs.push(v); continue; } // column already reduced: H = I (v = 0)
    for (let i = j; i < m; i++) v[i] /= vn;
    for (let c = j; c < n; c++) {
      let dot = 0;
      for (let i = j; i < m; i++) dot += v[i] * r[i * n + c];
      dot *= 2;
      for (let i = j; i < m; i++) r[i * n + c] -= dot * v[i];
    }
    vs.push(v);
  }
  return vs;
}

/** Columns [c0, c1) of H_0 H_1 ... H_{k-1} (an m x m orthogonal matrix), as m x (c1 - c0). */
function reflectorsTimesIdentity(vs: Mat[], m: number, c0: number, c1: number): Mat {
  const w = c1 - c0, q = new Float64Array(m * w);
  for (let c = c0; c < c1; c++) q[c * w + (c - c0)] = 1;
  for (let j = vs.length - 1; j >= 0; j--) {
    const v = vs[j];
    for (let c = 0; c < w; c++) {
      let dot = 0;
      for (let i = j; i < m; i++) dot += v[i] * q[i * w + c];
      if (dot === 0) continue;
      dot *= 2;
      for (let i = j; i < m; i++) q[i * w + c] -= dot * v[i];
    }
  }
  return q;
}

const qr: CpuKernel = ([a], [qOut, rOut]) => {
  const q = allocOut(qOut), r = allocOut(rOut);
  const m = a.shape[a.shape.length - 2], n = a.shape[a.shape.length - 1], k = Math.min(m, n);
  for (let b = 0, B = batchCount(a.shape, 2); b < B; b++) {
    const work = matrixAt(a, b, m, n);
    const vs = householder(work, m, n);
    store(q, b, reflectorsTimesIdentity(vs, m, 0, k));
    const rk = new Float64Array(k * n);
    for (let i = 0; i < k; i++) for (let j = i; j < n; j++) rk[i * n + j] = work[i * n + j];
    store(r, b, rk);
  }
  return [q, r];
};

/**
 * Orthonormal m x m basis whose first r columns are the given orthonormal columns
 * (u: m x r, row-major): the rest come from the Householder QR of u.
 */
function completeBasis(u: Mat, m: number, r: number): Mat {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let c = 0; c < r; c++) out[i * m + c] = u[i * r + c];
  if (r < m) {
    const rest = reflectorsTimesIdentity(householder(u.slice(), m, r), m, r, m);
    const w = m - r;
    for (let i = 0; i < m; i++) for (let c = 0; c < w; c++) out[i * m + r + c] = rest[i * w + c];
  }
  return out;
}

/**
 * One-sided Jacobi SVD of m x n `a` with m >= n: rotates column pairs until orthogonal.
 * Returns U (m x m), s (n, descending) and V (n x n), all row-major.
 */
function jacobiSvd(a: Mat, m: number, n: number, wantUV: boolean): { u: Mat; s: Float64Array; v: Mat } {
  const cols: Float64Array[] = [];
  for (let j = 0; j < n; j++) { const c = new Float64Array(m); for (let i = 0; i < m; i++) c[i] = a[i * n + j]; cols.push(c); }
  const vcols: Float64Array[] = [];
  for (let j = 0; j < n; j++) { const c = new Float64Array(n); c[j] = 1; vcols.push(c); }
  const dot = (x: Float64Array, y: Float64Array) => { let s = 0; for (let i = 0; i < x.length; i++) s += x[i] * y[i]; return s; };
  for (let sweep = 0; sweep < 80; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const cp = cols[p], cq = cols[q];
        const alpha = dot(cp, cp), beta = dot(cq, cq), gamma = dot(cp, cq);
        if (Math.abs(gamma) <= EPS * Math.sqrt(alpha * beta) || gamma === 0) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t), s = c * t;
        for (let i = 0; i < m; i++) { const x = cp[i], y = cq[i]; cp[i] = c * x - s * y; cq[i] = s * x + c * y; }
        if (wantUV) {
          const vp = vcols[p], vq = vcols[q];
          for (let i = 0; i < n; i++) { const x = vp[i], y = vq[i]; vp[i] = c * x - s * y; vq[i] = s * x + c * y; }
        }
      }
    }
    if (!rotated) break;
  }
  const norms = cols.map((c) => Math.sqrt(dot(c, c)));
  const order = [...norms.keys()].sort((i, j) => norms[j] - norms[i]);
  const s = Float64Array.from(order, (i) => norms[i]);
  if (!wantUV) return { u: new Float64Array(0), s, v: new Float64Array(0) };
  const v = new Float64Array(n * n);
  order.forEach((src, j) => { for (let i = 0; i < n; i++) v[i * n + j] = vcols[src][i]; });
  // U's columns are A v_j / s_j for the numerically nonzero s_j; the rest complete a basis.
  const tol = Math.max(m, n) * EPS * (s[0] || 0);
  let r = 0;
  while (r < n && s[r] > tol && s[r] > 0) r++;
  const ur = new Float64Array(m * r);
  for (let j = 0; j < r; j++) { const c = cols[order[j]]; for (let i = 0; i < m; i++) ur[i * r + j] = c[i] / s[j]; }
  return { u: completeBasis(ur, m, r), s, v };
}

const svd: CpuKernel = ([a], outs, { computeUV }: { computeUV: boolean }) => {
  const res = outs.map(allocOut);
  const m = a.shape[a.shape.length - 2], n = a.shape[a.shape.length - 1], k = Math.min(m, n);
  for (let b = 0, B = batchCount(a.shape, 2); b < B; b++) {
    const x = matrixAt(a, b, m, n);
    // Work on the tall orientation: A^T = V S U^T swaps the roles of U and V.
    const tall = m >= n;
    const t = tall ? x : transpose(x, m, n);
    const { u, s, v } = jacobiSvd(t, Math.max(m, n), k, computeUV);
    if (!computeUV) { store(res[0], b, s); continue; }
    const [U, V] = tall ? [u, v] : [v, u];
    store(res[0], b, U);
    store(res[1], b, s);
    store(res[2], b, transpose(V, n, n)); // Vt
  }
  return res;
};

function transpose(x: Mat, rows: number, cols: number): Mat {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = x[i * cols + j];
  return t;
}

/** Cyclic Jacobi on the symmetric matrix given by the lower triangle: ascending eigenvalues, vectors as columns. */
const eigh: CpuKernel = ([a], [wOut, vOut]) => {
  const wo = allocOut(wOut), vo = allocOut(vOut);
  const n = a.shape[a.shape.length - 1];
  for (let b = 0, B = batchCount(a.shape, 2); b < B; b++) {
    const m = matrixAt(a, b, n, n);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) m[i * n + j] = m[j * n + i];
    const v = identity(n);
    for (let sweep = 0; sweep < 100; sweep++) {
      let off = 0, total = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) { const x = m[i * n + j] * m[i * n + j]; total += x; if (i !== j) off += x; }
      if (off <= EPS * EPS * total || off === 0) break;
      for (let p = 0; p < n - 1; p++) {
        for (let q = p + 1; q < n; q++) {
          const apq = m[p * n + q];
          if (apq === 0) continue;
          const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
          const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
          const c = 1 / Math.sqrt(t * t + 1), s = t * c;
          // A <- J^T A J with J rotating columns p and q.
          for (let k = 0; k < n; k++) {
            const x = m[k * n + p], y = m[k * n + q];
            m[k * n + p] = c * x - s * y; m[k * n + q] = s * x + c * y;
          }
          for (let k = 0; k < n; k++) {
            const x = m[p * n + k], y = m[q * n + k];
            m[p * n + k] = c * x - s * y; m[q * n + k] = s * x + c * y;
          }
          for (let k = 0; k < n; k++) {
            const x = v[k * n + p], y = v[k * n + q];
            v[k * n + p] = c * x - s * y; v[k * n + q] = s * x + c * y;
          }
        }
      }
    }
    const w = Float64Array.from({ length: n }, (_, i) => m[i * n + i]);
    const order = [...w.keys()].sort((i, j) => w[i] - w[j]);
    const vs = new Float64Array(n * n);
    order.forEach((src, j) => { for (let i = 0; i < n; i++) vs[i * n + j] = v[i * n + src]; });
    store(wo, b, Float64Array.from(order, (i) => w[i]));
    store(vo, b, vs);
  }
  return [wo, vo];
};

registerCpuKernels({ inv, solve, solveTriangular, cholesky, qr, svd, eigh });
