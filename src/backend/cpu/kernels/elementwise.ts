// CPU kernels for elementwise primitives: one expression per op and dtype, compiled into
// loops by codegen.ts. The same tables serve compile() fusion on the CPU.
import type { DType } from '../../../core/dtype.js';
import { CpuKernel, registerCpuKernels, allocOut } from '../backend.js';
import { runElementwise } from '../codegen.js';

/** JS source computing a unary op on value `x` of dtype `d` (the input's, after promotion). */
export type UnaryExpr = (x: string, d: DType, params: Record<string, unknown>) => string;
export type BinaryExpr = (a: string, b: string, d: DType) => string;

const big = (d: DType) => d.isBig;
const i32mul = (d: DType) => d.name === 'int32' || d.name === 'uint32';

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
  round: (x, d, p) => (d.isFloat ? `roundTo(${x}, ${Number(p.decimals ?? 0)})` : x),
  isnan: (x, d) => (d.isFloat ? `(${x} !== ${x})` : 'false'),
  isinf: (x, d) => (d.isFloat ? `(${x} === Infinity || ${x} === -Infinity)` : 'false'),
  isfinite: (x, d) => (d.isFloat ? `Number.isFinite(${x})` : 'true'),
  logicalNot: (x, d) => (big(d) ? `(${x} === 0n)` : `!${x}`),
  bitwiseInvert: (x, d) => (d.kind === 'bool' ? `!${x}` : `(~${x})`),
  stopGradient: (x) => x,
};

export const binaryExprs: Record<string, BinaryExpr> = {
  add: (a, b) => `(${a} + ${b})`,
  subtract: (a, b) => `(${a} - ${b})`,
  multiply: (a, b, d) => (i32mul(d) ? `Math.imul(${a}, ${b})` : `(${a} * ${b})`),
  divide: (a, b) => `(${a} / ${b})`,
  floorDivide: (a, b, d) => (big(d) ? `floorDivBig(${a}, ${b})` : d.isFloat ? `Math.floor(${a} / ${b})` : `(${b} === 0 ? 0 : Math.floor(${a} / ${b}))`),
  remainder: (a, b, d) => (big(d) ? `remBig(${a}, ${b})` : d.isFloat ? `remFloat(${a}, ${b})` : `remInt(${a}, ${b})`),
  power: (a, b, d) => (big(d) ? `powBig(${a}, ${b})` : d.isFloat ? `Math.pow(${a}, ${b})` : `powInt(${a}, ${b})`),
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
  leftShift: (a, b, d) => (big(d) ? `shlBig(${a}, ${b})` : `(${b} >= 32 ? 0 : ${a} << ${b})`),
  rightShift: (a, b, d) => (big(d) ? `shrBig(${a}, ${b})` : d.kind === 'uint' ? `(${b} >= 32 ? 0 : ${a} >>> ${b})` : `(${a} >> (${b} >= 32 ? 31 : ${b}))`),
  arctan2: (a, b) => `Math.atan2(${a}, ${b})`,
  logaddexp: (a, b) => `logaddexp(${a}, ${b})`,
};

/** Conversion of a loaded value of dtype `from` to one storable as `to` (a C cast). */
export function castExpr(x: string, from: DType, to: DType): string {
  if (from === to) return x;
  if (to.kind === 'bool') return big(from) ? `(${x} !== 0n)` : `(${x} !== 0)`;
  if (to.isBig) return big(from) ? x : from.isFloat ? `toBig(${x})` : `BigInt(${x})`;
  if (big(from)) return to.isFloat ? `Number(${x})` : `Number(BigInt.asIntN(64, ${x}) & 0xffffffffn)`;
  if (to.isFloat || !from.isFloat) return x;
  return `Math.trunc(${x})`;
}

const unaryKernel = (name: string): CpuKernel => ([x], [out], params) => {
  const o = allocOut(out);
  runElementwise(unaryExprs[name]('x0', x.dtype, params ?? {}), [x], o, out.shape, out.dtype);
  return [o];
};

const binaryKernel = (name: string): CpuKernel => ([a, b], [out]) => {
  const o = allocOut(out);
  runElementwise(binaryExprs[name]('x0', 'x1', a.dtype), [a, b], o, out.shape, out.dtype);
  return [o];
};

const table: Record<string, CpuKernel> = {};
for (const name of Object.keys(unaryExprs)) table[name] = unaryKernel(name);
for (const name of Object.keys(binaryExprs)) table[name] = binaryKernel(name);
table.stopGradient = ([x]) => [x.data];
table.astype = ([x], [out]) => {
  const o = allocOut(out);
  runElementwise(castExpr('x0', x.dtype, out.dtype), [x], o, out.shape, out.dtype);
  return [o];
};
table.select = ([c, a, b], [out]) => {
  const o = allocOut(out);
  runElementwise('(x0 ? x1 : x2)', [c, a, b], o, out.shape, out.dtype);
  return [o];
};
registerCpuKernels(table);
