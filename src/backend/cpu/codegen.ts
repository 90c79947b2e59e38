// Generates tight elementwise loops as JS functions, one per (expression, dtypes, layout).
// Broadcast inputs are read through strides (0 on broadcast axes); contiguous and scalar
// inputs get flat loops. compile() on the CPU reuses this to fuse chains of ops.
import { DType, TypedArray } from '../../core/dtype.js';
import { F16_TABLE, BF16_TABLE, toF16, toBF16 } from '../../core/half.js';
import { helpers } from './scalar.js';
import { threads, SharedKernel } from './pool.js';

/** How a value of `dtype` is read from storage expression `ref`. */
export function loadExpr(ref: string, dtype: DType): string {
  if (dtype.name === 'float16') return `F16[${ref}]`;
  if (dtype.name === 'bfloat16') return `BF16[${ref}]`;
  return ref;
}

/** How a computed value `v` is written for `dtype` (typed-array stores do the rest of the cast). */
export function storeExpr(v: string, dtype: DType): string {
  if (dtype.name === 'float16') return `toF16(${v})`;
  if (dtype.name === 'bfloat16') return `toBF16(${v})`;
  if (dtype.name === 'bool') return `((${v}) ? 1 : 0)`;
  return v;
}

/** Names generated kernels may use, on the main thread and in the pool's workers alike. */
export const kernelScope = { F16: F16_TABLE, BF16: BF16_TABLE, toF16, toBF16, ...helpers };
const scopeDecl = `const { ${Object.keys(kernelScope).join(', ')} } = H;`;

/** Compiles a generated body (statements over the scope `H`, ending in `return <kernel>`). */
export function compileBody<F>(body: string): F {
  return new Function('H', body)(kernelScope) as F;
}

/** Loops over full and scalar inputs take an element range, so the pool can split them. */
export type ElementwiseFn = (out: TypedArray, ins: TypedArray[], shape: readonly number[], strides: number[][], offsets?: number[] | null, start?: number, end?: number) => void;

const cache = new Map<string, SharedKernel>();

/**
 * A loop computing `out[i] = store(expr(x0, x1, ...))` where xk is input k loaded at its
 * (broadcast) position. `expr` is JS source over the names x0..x{n-1}.
 */
export function elementwise(expr: string, inDtypes: DType[], outDtype: DType, modes: ('full' | 'scalar' | 'strided')[]): ElementwiseFn {
  return elementwiseKernel(expr, inDtypes, outDtype, modes).fn as ElementwiseFn;
}

function elementwiseKernel(expr: string, inDtypes: DType[], outDtype: DType, modes: ('full' | 'scalar' | 'strided')[]): SharedKernel {
  const key = `ew|${expr}|${inDtypes.map((d) => d.name).join(',')}|${outDtype.name}|${modes.join(',')}`;
  let k = cache.get(key);
  if (!k) {
    const body = source(expr, inDtypes, outDtype, modes);
    k = { key, body, fn: compileBody(body) };
    cache.set(key, k);
  }
  return k;
}

function source(expr: string, inDtypes: DType[], outDtype: DType, modes: string[]): string {
  const n = inDtypes.length;
  const ids = [...Array(n).keys()];
  const head = ids.map((k) => `const a${k} = ins[${k}];`).join('\n');
  const hoisted = ids.filter((k) => modes[k] === 'scalar').map((k) => `const x${k} = ${loadExpr(`a${k}[0]`, inDtypes[k])};`).join('\n');
  const store = storeExpr(expr, outDtype);
  let body: string;
  if (!modes.includes('strided')) {
    const loads = ids.filter((k) => modes[k] === 'full').map((k) => `const x${k} = ${loadExpr(`a${k}[i]`, inDtypes[k])};`).join(' ');
    body = `const n = end === undefined ? out.length : end;\nfor (let i = start === undefined ? 0 : start; i < n; i++) { ${loads} out[i] = ${store}; }`;
  } else {
    const st = ids.filter((k) => modes[k] === 'strided');
    const loads = ids.filter((k) => modes[k] !== 'scalar').map((k) =>
      modes[k] === 'full' ? `const x${k} = ${loadExpr(`a${k}[oi]`, inDtypes[k])};` : `const x${k} = ${loadExpr(`a${k}[o${k} + j * t${k}]`, inDtypes[k])};`).join(' ');
    body = `
const nd = shape.length, inner = shape[nd - 1], total = out.length;
if (total === 0) return;
const idx = new Int32Array(nd);
${st.map((k) => `const s${k} = strides[${k}], t${k} = s${k}[nd - 1]; let o${k} = offsets ? offsets[${k}] : 0;`).join('\n')}
for (let oi = 0; oi < total;) {
  for (let j = 0; j < inner; j++, oi++) { ${loads} out[oi] = ${store}; }
  for (let d = nd - 2; d >= 0; d--) {
    idx[d]++; ${st.map((k) => `o${k} += s${k}[d];`).join(' ')}
    if (idx[d] < shape[d]) break;
    ${st.map((k) => `o${k} -= s${k}[d] * shape[d];`).join(' ')} idx[d] = 0;
  }
}`;
  }
  return `${scopeDecl}\nreturn function ew(out, ins, shape, strides, offsets, start, end) {\n${head}\n${hoisted}\n${body}\n};`;
}

/** Row-major strides of `inShape` read at each position of `outShape` (0 on broadcast axes). */
export function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): number[] {
  const nd = outShape.length;
  const strides = new Array<number>(nd).fill(0);
  let s = 1;
  for (let d = inShape.length - 1; d >= 0; d--) {
    const od = d + nd - inShape.length;
    strides[od] = inShape[d] === 1 && outShape[od] !== 1 ? 0 : s;
    s *= inShape[d];
  }
  return strides;
}

/** Merges adjacent axes that every input walks contiguously, so loops run long. */
export function collapse(shape: readonly number[], strides: number[][]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1 && shape.length > 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => s[d] * shape[d] === outStrides[k][last] || (s[d] === 0 && outStrides[k][last] === 0))) {
      outShape[last] *= shape[d];
      strides.forEach((s, k) => { outStrides[k][last] = s[d]; });
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  if (!outShape.length) return { shape: [1], strides: strides.map(() => [1]) };
  return { shape: outShape, strides: outStrides };
}

/** Runs `expr` over inputs broadcast to `outShape`, writing into `out`. */
export function runElementwise(expr: string, ins: { data: TypedArray; shape: readonly number[]; dtype: DType }[], out: TypedArray, outShape: readonly number[], outDtype: DType): void {
  if (out.length === 0) return;
  const size = out.length;
  const raw = ins.map((x) => broadcastStrides(x.shape, outShape));
  const { shape, strides } = collapse(outShape, raw);
  const modes = ins.map((x, k) => (x.data.length === 1 ? 'scalar' : x.data.length === size && isContiguous(strides[k], shape) ? 'full' : 'strided')) as ('full' | 'scalar' | 'strided')[];
  const kernel = elementwiseKernel(expr, ins.map((x) => x.dtype), outDtype, modes);
  const data = ins.map((x) => x.data);
  // Flat loops split into element ranges over the worker pool; strided ones stay here.
  if (!modes.includes('strided') && threads.worthIt(size)) threads.run(kernel, '', [out, data, shape, strides, null], [out], size);
  else (kernel.fn as ElementwiseFn)(out, data, shape, strides);
}

export function isContiguous(strides: number[], shape: number[]): boolean {
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && strides[d] !== s) return false;
    s *= shape[d];
  }
  return true;
}

/**
 * Gathers `src` read through arbitrary strides (and a start offset) into dense `out` of
 * `outShape`: the one kernel behind transpose, slicing and broadcasting.
 */
export function copyStrided(src: TypedArray, dtype: DType, out: TypedArray, outShape: readonly number[], strides: number[], offset = 0): void {
  if (out.length === 0) return;
  const c = collapse(outShape, [strides]);
  const contiguous = isContiguous(c.strides[0], c.shape);
  if (contiguous && offset === 0 && src.length === out.length) { out.set(src as never); return; }
  // Storage is copied as raw bits, so any dtype moves through one loop per storage type.
  elementwise('x0', [storageDtype(dtype)], storageDtype(dtype), ['strided'])(out, [src], c.shape, c.strides, [offset]);
}

/** The dtype whose loads and stores move this dtype's bits unchanged. */
function storageDtype(d: DType): DType { return d.name === 'float16' || d.name === 'bfloat16' || d.name === 'bool' ? uint16Raw : d; }
import { uint16 as uint16Raw } from '../../core/dtype.js';
