// Portable GEMM, used where no BLAS library loads (or LATHE_NO_BLAS=1): GotoBLAS-style
// blocking around a WebAssembly SIMD micro-kernel that keeps an MR x NR block of C in
// registers. Panels of A and B are packed (zero-padded) into wasm memory; C is
// accumulated there and scaled into the caller's array at the end.
import { op, moduleBytes, Bytes, I32, V128 } from './wasm.js';

export type Floats = Float32Array | Float64Array;

// The few WebAssembly APIs used here (TypeScript declares them only in its DOM libs).
declare const WebAssembly: {
  Memory: new (d: { initial: number }) => { buffer: ArrayBuffer; grow(pages: number): number };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
};

/** C = alpha op(A) op(B) + beta C, row-major, as cblas_?gemm (offsets instead of pointers). */
export type GemmFn = (
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Floats, aOff: number, lda: number, B: Floats, bOff: number, ldb: number,
  beta: number, C: Floats, cOff: number, ldc: number,
) => void;

interface Shape { bytes: number; lanes: number; mr: number; nv: number }
const F32: Shape = { bytes: 4, lanes: 4, mr: 4, nv: 2 }; // 4 x 8 block of floats
const F64: Shape = { bytes: 8, lanes: 2, mr: 4, nv: 2 }; // 4 x 4 block of doubles
const KC = 256; // depth of a packed block (A panel + B panel stay in L1/L2)
const MC = 128; // rows of A per L2 block

/**
 * kernel(ap, bp, cp, mPanels, nPanels, kc, ldcBytes): for each B panel j, for each A panel i,
 * C[i*MR.., j*NR..] += Apanel_i (MR x kc) * Bpanel_j (kc x NR).
 */
function kernelBytes(s: Shape): Uint8Array {
  const [AP, BP, CP, MP, NP, KCP, LDC] = [0, 1, 2, 3, 4, 5, 6];
  const [J, I, K, A, B, C, T] = [7, 8, 9, 10, 11, 12, 13];
  const acc = (r: number, v: number) => 14 + r * s.nv + v;
  const bv = (v: number) => 14 + s.mr * s.nv + v;
  const av = 14 + s.mr * s.nv + s.nv;
  const add = s.bytes === 4 ? op.f32x4Add : op.f64x2Add;
  const mul = s.bytes === 4 ? op.f32x4Mul : op.f64x2Mul;
  const splat = s.bytes === 4 ? op.load32Splat : op.load64Splat;
  const vecBytes = 16, nr = s.nv * s.lanes;
  const body: Bytes = [];
  const emit = (...xs: Bytes[]) => { for (const x of xs) body.push(...x); };
  emit(op.i32(0), op.set(J), op.block, op.loop);
  emit(op.get(J), op.get(NP), op.i32GeS, op.brIf(1));
  emit(op.i32(0), op.set(I), op.block, op.loop);
  emit(op.get(I), op.get(MP), op.i32GeS, op.brIf(1));
  // a = ap + i*kc*MR*bytes; b = bp + j*kc*NR*bytes; c = cp + i*MR*ldc + j*NR*bytes
  emit(op.get(AP), op.get(I), op.get(KCP), op.i32Mul, op.i32(s.mr * s.bytes), op.i32Mul, op.i32Add, op.set(A));
  emit(op.get(BP), op.get(J), op.get(KCP), op.i32Mul, op.i32(nr * s.bytes), op.i32Mul, op.i32Add, op.set(B));
  emit(op.get(CP), op.get(I), op.get(LDC), op.i32Mul, op.i32(s.mr), op.i32Mul, op.i32Add,
    op.get(J), op.i32(nr * s.bytes), op.i32Mul, op.i32Add, op.set(C));
  // Accumulators start from C (zero before the first depth block), so each element of C is
  // one sequential float sum over k whatever the blocking: results do not depend on M, N, or
  // the position of a depth block (what LATHE_BATCH_INVARIANT relies on).
  emit(op.get(C), op.set(T));
  for (let r = 0; r < s.mr; r++) {
    for (let v = 0; v < s.nv; v++) emit(op.get(T), op.v128Load(v * vecBytes), op.set(acc(r, v)));
    emit(op.get(T), op.get(LDC), op.i32Add, op.set(T));
  }
  emit(op.get(KCP), op.set(K), op.loop);
  for (let v = 0; v < s.nv; v++) emit(op.get(B), op.v128Load(v * vecBytes), op.set(bv(v)));
  for (let r = 0; r < s.mr; r++) {
    emit(op.get(A), splat(r * s.bytes), op.set(av));
    for (let v = 0; v < s.nv; v++) emit(op.get(acc(r, v)), op.get(av), op.get(bv(v)), mul, add, op.set(acc(r, v)));
  }
  emit(op.get(A), op.i32(s.mr * s.bytes), op.i32Add, op.set(A));
  emit(op.get(B), op.i32(nr * s.bytes), op.i32Add, op.set(B));
  emit(op.get(K), op.i32(1), op.i32Sub, op.set(K), op.get(K), op.brIf(0), op.end);
  for (let r = 0; r < s.mr; r++) {
    for (let v = 0; v < s.nv; v++)
      emit(op.get(C), op.get(acc(r, v)), op.v128Store(v * vecBytes));
    emit(op.get(C), op.get(LDC), op.i32Add, op.set(C));
  }
  emit(op.get(I), op.i32(1), op.i32Add, op.set(I), op.br(0), op.end, op.end);
  emit(op.get(J), op.i32(1), op.i32Add, op.set(J), op.br(0), op.end, op.end);
  return moduleBytes('kernel', 7, [[7, I32], [s.mr * s.nv + s.nv + 1, V128]], body);
}

type Kernel = (ap: number, bp: number, cp: number, mp: number, np: number, kc: number, ldc: number) => void;

class WasmGemm {
  private mem = new WebAssembly.Memory({ initial: 1 });
  private kernel: Kernel;
  constructor(private s: Shape, private Ctor: Float32ArrayConstructor | Float64ArrayConstructor) {
    const mod = new WebAssembly.Module(kernelBytes(s));
    this.kernel = new WebAssembly.Instance(mod, { env: { mem: this.mem } }).exports.kernel as Kernel;
  }

  private view(bytes: number): Floats {
    const need = Math.ceil((bytes - this.mem.buffer.byteLength) / 65536);
    if (need > 0) this.mem.grow(need);
    return new this.Ctor(this.mem.buffer);
  }

  run: GemmFn = (tA, tB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
    const { mr, nv, lanes, bytes } = this.s;
    const nr = nv * lanes;
    const mPan = Math.ceil(M / mr), nPan = Math.ceil(N / nr);
    const Mp = mPan * mr, Np = nPan * nr, kc0 = Math.min(KC, K);
    const apAt = 0, bpAt = Mp * kc0, cAt = bpAt + kc0 * Np; // element offsets
    const w = this.view((cAt + Mp * Np) * bytes);
    w.fill(0, cAt, cAt + Mp * Np);
    // Strides of op(A) and op(B) in their row (i or k) and column (k or j) directions.
    const [aRow, aCol] = tA ? [1, lda] : [lda, 1];
    const [bRow, bCol] = tB ? [1, ldb] : [ldb, 1];
    for (let pc = 0; pc < K; pc += KC) {
      const kc = Math.min(KC, K - pc);
      // Pack A[:, pc:pc+kc] into MR-row panels, k-major inside a panel.
      for (let p = 0; p < mPan; p++) {
        const base = apAt + p * kc * mr;
        for (let r = 0; r < mr; r++) {
          const i = p * mr + r;
          if (i >= M) { for (let k = 0; k < kc; k++) w[base + k * mr + r] = 0; continue; }
          let src = aOff + i * aRow + pc * aCol;
          for (let k = 0; k < kc; k++, src += aCol) w[base + k * mr + r] = A[src];
        }
      }
      // Pack B[pc:pc+kc, :] into NR-column panels.
      for (let q = 0; q < nPan; q++) {
        const base = bpAt + q * kc * nr;
        const j0 = q * nr, cols = Math.min(nr, N - j0);
        for (let k = 0; k < kc; k++) {
          const dst = base + k * nr;
          let src = bOff + (pc + k) * bRow + j0 * bCol;
          let c = 0;
          for (; c < cols; c++, src += bCol) w[dst + c] = B[src];
          for (; c < nr; c++) w[dst + c] = 0;
        }
      }
      for (let ic = 0; ic < mPan; ic += MC / mr) {
        const panels = Math.min(MC / mr, mPan - ic);
        this.kernel(
          (apAt + ic * kc * mr) * bytes, bpAt * bytes, (cAt + ic * mr * Np) * bytes,
          panels, nPan, kc, Np * bytes,
        );
      }
    }
    for (let i = 0; i < M; i++) {
      const src = cAt + i * Np, dst = cOff + i * ldc;
      if (beta === 0) for (let j = 0; j < N; j++) C[dst + j] = alpha * w[src + j];
      else for (let j = 0; j < N; j++) C[dst + j] = alpha * w[src + j] + beta * C[dst + j];
    }
  };
}

/** Straightforward loops for small products, where packing costs more than it saves. */
const smallGemm: GemmFn = (tA, tB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
  const [aRow, aCol] = tA ? [1, lda] : [lda, 1];
  const [bRow, bCol] = tB ? [1, ldb] : [ldb, 1];
  const row = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    row.fill(0);
    for (let k = 0; k < K; k++) {
      const a = A[aOff + i * aRow + k * aCol]; // no skipping zeros: 0 * Inf must stay NaN
      let src = bOff + k * bRow;
      for (let j = 0; j < N; j++, src += bCol) row[j] += a * B[src];
    }
    const dst = cOff + i * ldc;
    if (beta === 0) for (let j = 0; j < N; j++) C[dst + j] = alpha * row[j];
    else for (let j = 0; j < N; j++) C[dst + j] = alpha * row[j] + beta * C[dst + j];
  }
};

let wasm32: WasmGemm | null | undefined, wasm64: WasmGemm | null | undefined;
function load(s: Shape, Ctor: Float32ArrayConstructor | Float64ArrayConstructor): WasmGemm | null {
  try { return new WasmGemm(s, Ctor); } catch { return null; } // no WebAssembly SIMD: plain loops
}

/**
 * The wasm kernel for every size (no small-product loops, which accumulate in float64): each
 * element of C is the same sequence of float operations whatever M, N and the other rows,
 * so a row's result does not depend on the batch it is in. Plain float loops without wasm.
 */
export const invariantGemm: GemmFn = (tA, tB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
  if (M === 0 || N === 0) return;
  const f32 = C instanceof Float32Array;
  const impl = K === 0 ? null : f32 ? (wasm32 === undefined ? (wasm32 = load(F32, Float32Array)) : wasm32)
    : (wasm64 === undefined ? (wasm64 = load(F64, Float64Array)) : wasm64);
  if (impl) { impl.run(tA, tB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc); return; }
  const [aRow, aCol] = tA ? [1, lda] : [lda, 1];
  const [bRow, bCol] = tB ? [1, ldb] : [ldb, 1];
  const round = f32 ? Math.fround : (x: number) => x;
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let acc = 0;
    for (let k = 0; k < K; k++) acc = round(acc + round(A[aOff + i * aRow + k * aCol] * B[bOff + k * bRow + j * bCol]));
    const dst = cOff + i * ldc + j;
    C[dst] = beta === 0 ? alpha * acc : alpha * acc + beta * C[dst];
  }
};

/** The portable GEMM for float32 or float64 arrays. */
export const portableGemm: GemmFn = (tA, tB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
  if (M === 0 || N === 0) return;
  let impl: WasmGemm | null = null;
  if (M * N * K >= 32 * 32 * 32 && K > 0) {
    if (C instanceof Float32Array) impl = wasm32 === undefined ? (wasm32 = load(F32, Float32Array)) : wasm32;
    else impl = wasm64 === undefined ? (wasm64 = load(F64, Float64Array)) : wasm64;
  }
  (impl ? impl.run : smallGemm)(tA, tB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
};
