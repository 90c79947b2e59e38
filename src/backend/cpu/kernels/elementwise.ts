// CPU kernels for elementwise primitives: one JS expression per op and dtype, compiled into
// loops by codegen.ts. The same tables serve compile() fusion on the CPU.
// Values arrive loaded as numbers (float16/bfloat16 widened exactly), or BigInts for 64-bit
// integers; stores round halves once and wrap integers (typed-array stores do the C cast).
import { DType, TypedArray, uint16 } from '../../../core/dtype.js';
import { CpuArg, CpuKernel, registerCpuKernels, allocUninit } from '../backend.js';
import { runElementwise } from '../codegen.js';
import { threads, SharedKernel } from '../pool.js';

/** JS source computing a unary op on value `x` of dtype `d` (the input's, after promotion). */
export type UnaryExpr = (x: string, d: DType, params: Record<string, unknown>) => string;
export type BinaryExpr = (a: string, b: string, d: DType) => string;

const big = (d: DType) => d.isBig;
const i32mul = (d: DType) => d.name === 'int32' || d.name === 'uint32';

function roundExpr(x: string, d: DType, decimals: number): string {
  if (!d.isFloat) return decimals >= 0 || d.kind === 'bool' ? x : big(d) ? `roundBig(${x}, ${decimals})` : `roundInt(${x}, ${decimals})`;
  if (decimals === 0) return `rint(${x})`;
  const fn = d.name === 'float64' ? 'roundDec' : d.name === 'float16' ? 'roundDec16' : 'roundDec32';
  return `${fn}(${x}, ${decimals})`;
}

export const unaryExprs: Record<string, UnaryExpr> = {
  abs: (x, d) => (big(d) ? `(${x} < 0n ? -${x} : ${x})` : d.kind === 'uint' || d.kind === 'bool' ? x : `Math.abs(${x})`),
  negative: (x) => `(-${x})`,
  sign: (x, d) => (big(d) ? `(${x} > 0n ? 1n : ${x} < 0n ? -1n : 0n)` : `(${x} > 0 ? 1 : ${x} < 0 ? -1 : ${x})`),
  exp: (x) => `Math.exp(${x})`,
  expm1: (x) => `Math.expm1(${x})`,
  log: (x) => `Math.log(${x})`,
  log1p: (x) => `Math.log1p(${x})`,
  log2: (x) => `Math.log2(${x})`,
  log10: (x) => `Math.log10(${x})`,
  sqrt: (x) => `Math.sqrt(${x})`,
  rsqrt: (x) => `(1 / Math.sqrt(${x}))`,
  square: (x, d) => (i32mul(d) ? `Math.imul(${x}, ${x})` : `(${x} * ${x})`),
  reciprocal: (x) => `(1 / ${x})`,
  sin: (x) => `Math.sin(${x})`,
  cos: (x) => `Math.cos(${x})`,
  tan: (x) => `Math.tan(${x})`,
  arcsin: (x) => `Math.asin(${x})`,
  arccos: (x) => `Math.acos(${x})`,
  arctan: (x) => `Math.atan(${x})`,
  sinh: (x) => `Math.sinh(${x})`,
  cosh: (x) => `Math.cosh(${x})`,
  tanh: (x) => `Math.tanh(${x})`,
  arcsinh: (x) => `Math.asinh(${x})`,
  arccosh: (x) => `Math.acosh(${x})`,
  arctanh: (x) => `Math.atanh(${x})`,
  erf: (x) => `erf(${x})`,
  erfinv: (x) => `erfinv(${x})`,
  sigmoid: (x) => `(1 / (1 + Math.exp(-${x})))`,
  floor: (x, d) => (d.isFloat ? `Math.floor(${x})` : x),
  ceil: (x, d) => (d.isFloat ? `Math.ceil(${x})` : x),
  round: (x, d, p) => roundExpr(x, d, Number(p.decimals ?? 0)),
  isnan: (x, d) => (d.isFloat ? `(${x} !== ${x})` : 'false'),
  isinf: (x, d) => (d.isFloat ? `(${x} === Infinity || ${x} === -Infinity)` : 'false'),
  isfinite: (x, d) => (d.isFloat ? `(${x} - ${x} === 0)` : 'true'),
  // NaN is true, as in C: only zeros are false
  logicalNot: (x, d) => (big(d) ? `(${x} === 0n)` : `(${x} === 0)`),
  bitwiseInvert: (x, d) => (d.kind === 'bool' ? `(${x} === 0)` : `(~${x})`),
  stopGradient: (x) => x,
};

// Shifts by a negative amount or past the width give 0 (or -1 for negative signed values), as NumPy.
const shiftLeft = (a: string, b: string) => `(${b} < 0 || ${b} >= 32 ? 0 : ${a} << ${b})`;
const shiftRight = (a: string, b: string, d: DType) =>
  (d.kind === 'uint' ? `(${b} >= 32 ? 0 : ${a} >>> ${b})` : `(${a} >> (${b} < 0 || ${b} >= 32 ? 31 : ${b}))`);

export const binaryExprs: Record<string, BinaryExpr> = {
  add: (a, b) => `(${a} + ${b})`,
  subtract: (a, b) => `(${a} - ${b})`,
  multiply: (a, b, d) => (i32mul(d) ? `Math.imul(${a}, ${b})` : `(${a} * ${b})`),
  divide: (a, b) => `(${a} / ${b})`,
  floorDivide: (a, b, d) => (big(d) ? `floorDivBig(${a}, ${b})` : d.isFloat ? `floorDivFloat(${a}, ${b})` : `(${b} === 0 ? 0 : Math.floor(${a} / ${b}))`),
  remainder: (a, b, d) => (big(d) ? `remBig(${a}, ${b})` : d.isFloat ? `remFloat(${a}, ${b})` : `remInt(${a}, ${b})`),
  power: (a, b, d) => (big(d) ? `powBig(${a}, ${b})` : d.isFloat ? `powFloat(${a}, ${b})` : `powInt(${a}, ${b})`),
  // NaN wins in either position, as NumPy's maximum and minimum
  maximum: (a, b, d) => (d.isFloat ? `(${a} > ${b} || ${a} !== ${a} ? ${a} : ${b})` : `(${a} > ${b} ? ${a} : ${b})`),
  minimum: (a, b, d) => (d.isFloat ? `(${a} < ${b} || ${a} !== ${a} ? ${a} : ${b})` : `(${a} < ${b} ? ${a} : ${b})`),
  equal: (a, b) => `(${a} === ${b})`,
  notEqual: (a, b) => `(${a} !== ${b})`,
  less: (a, b) => `(${a} < ${b})`,
  lessEqual: (a, b) => `(${a} <= ${b})`,
  greater: (a, b) => `(${a} > ${b})`,
  greaterEqual: (a, b) => `(${a} >= ${b})`,
  logicalAnd: (a, b) => `(${a} && ${b})`,
  logicalOr: (a, b) => `(${a} || ${b})`,
  bitwiseAnd: (a, b) => `(${a} & ${b})`,
  bitwiseOr: (a, b) => `(${a} | ${b})`,
  bitwiseXor: (a, b) => `(${a} ^ ${b})`,
  leftShift: (a, b, d) => (big(d) ? `shlBig(${a}, ${b})` : shiftLeft(a, b)),
  rightShift: (a, b, d) => (big(d) ? `shrBig(${a}, ${b})` : shiftRight(a, b, d)),
  arctan2: (a, b) => `Math.atan2(${a}, ${b})`,
  logaddexp: (a, b) => `logaddexp(${a}, ${b})`,
};

/** Significant bits of each float dtype, for rounding 64-bit integers once. */
const mantissaBits: Record<string, number> = { float16: 11, bfloat16: 8, float32: 24 };

/** Conversion of a loaded value of dtype `from` to one storable as `to` (a C cast). */
export function castExpr(x: string, from: DType, to: DType): string {
  if (from === to) return x;
  if (to.kind === 'bool') return big(from) ? `(${x} !== 0n)` : `(${x} !== 0)`;
  if (to.isBig) return big(from) ? x : from.isFloat ? `toBig(${x})` : `BigInt(${x})`;
  if (big(from)) {
    if (!to.isFloat) return `Number(BigInt.asUintN(32, ${x}))`; // the low bits; the store wraps
    return to.name === 'float64' ? `Number(${x})` : `bigToFloat(${x}, ${mantissaBits[to.name]})`;
  }
  if (to.isFloat || !from.isFloat) return x;
  return `Math.trunc(${x})`;
}

/** The dtype whose loads and stores move this dtype's bits unchanged (halves as raw bits). */
const rawDtype = (d: DType): DType => (d.name === 'float16' || d.name === 'bfloat16' ? uint16 : d);

const unaryKernel = (name: string): CpuKernel => ([x], [out], params) => {
  const o = allocUninit(out);
  runElementwise(unaryExprs[name]('x0', x.dtype, params ?? {}), [x], o, out.shape, out.dtype);
  return [o];
};

const binaryKernel = (name: string): CpuKernel => ([a, b], [out]) => {
  const o = allocUninit(out);
  runElementwise(binaryExprs[name]('x0', 'x1', a.dtype), [a, b], o, out.shape, out.dtype);
  return [o];
};

const table: Record<string, CpuKernel> = {};
for (const name of Object.keys(unaryExprs)) table[name] = unaryKernel(name);
for (const name of Object.keys(binaryExprs)) table[name] = binaryKernel(name);
table.stopGradient = ([x]) => [x.data];
table.astype = ([x], [out]) => {
  if (x.dtype === out.dtype) return [x.data]; // a copy to another stream shares the storage
  const o = allocUninit(out);
  runElementwise(castExpr('x0', x.dtype, out.dtype), [x], o, out.shape, out.dtype);
  return [o];
};
table.select = ([c, a, b], [out]) => {
  const o = allocUninit(out);
  const n = o.length;
  const dense = (x: CpuArg) => x.data.length === n || x.data.length === 1;
  if (n > 1 && c.data.length === n && dense(a) && dense(b)) {
    selectBits(o, c.data as Uint8Array, a.data, b.data);
  } else {
    const raw = rawDtype(out.dtype); // select moves bits: no need to widen halves
    runElementwise('(x0 ? x1 : x2)', [c, { ...a, dtype: raw }, { ...b, dtype: raw }], o, out.shape, raw);
  }
  return [o];
};

// where() over dense inputs picks bits without branching: (a & k) | (b & ~k) with k = -c,
// through integer views of the storage. A random condition would defeat a branch predictor.
type BitsFn = (o: TypedArray, c: Uint8Array, a: TypedArray, b: TypedArray, start?: number, end?: number) => void;
const bitsCache = new Map<string, SharedKernel>();
type IntView = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => TypedArray;
const intView: Record<1 | 2 | 4 | 8, IntView> = { 1: Uint8Array, 2: Int16Array, 4: Int32Array, 8: Int32Array };

function selectBits(o: TypedArray, c: Uint8Array, a: TypedArray, b: TypedArray): void {
  const size = o.BYTES_PER_ELEMENT as 1 | 2 | 4 | 8;
  const View = intView[size], lanes = size === 8 ? 2 : 1;
  const view = (x: TypedArray) => new View(x.buffer, x.byteOffset, x.length * lanes);
  const aScalar = a.length === 1 && o.length !== 1, bScalar = b.length === 1 && o.length !== 1;
  const key = `${size}|${aScalar}|${bScalar}`;
  let kernel = bitsCache.get(key);
  if (!kernel) {
    const ls = [...Array(lanes).keys()];
    const load = (x: string, scalar: boolean, l: number) => (scalar ? `${x}${l}` : `${x}[j + ${l}]`);
    const hoist = (x: string, scalar: boolean) => (scalar ? ls.map((l) => `const ${x}${l} = ${x}[${l}];`).join(' ') : '');
    const body = ls.map((l) => `o[j + ${l}] = (${load('a', aScalar, l)} & k) | (${load('b', bScalar, l)} & ~k);`).join(' ');
    const src = `return function select(o, c, a, b, start, end) { ${hoist('a', aScalar)} ${hoist('b', bScalar)}
      const s = start === undefined ? 0 : start, n = end === undefined ? c.length : end;
      for (let i = s, j = s * ${lanes}; i < n; i++, j += ${lanes}) { const k = -c[i]; ${body} } };`;
    kernel = { key: `select|${key}`, body: src, fn: new Function(src)() };
    bitsCache.set(key, kernel);
  }
  const args = [view(o), c, view(a), view(b)];
  if (threads.worthIt(c.length)) threads.run(kernel, '', args, [args[0]], c.length);
  else (kernel.fn as BitsFn)(...(args as [TypedArray, Uint8Array, TypedArray, TypedArray]));
}
registerCpuKernels(table);
