// Elementwise unary primitives, each with its derivative beside it.
import { Array, ArrayLike, asArray } from '../array.js';
import { DType, bool, floatOf, finfoMax } from '../dtype.js';
import { OpOptions, toStream } from '../device.js';
import { definePrimitive, bind1, Primitive } from '../primitive.js';
import { astype } from './astype.js';
import { add, subtract, multiply, divide, equal, where } from './binary.js';
import { zerosLike, fullLike } from './creation.js';

/** Output dtype: 'same' keeps the input's, 'float' computes integers and bools in float32, 'bool' for predicates. */
type Result = 'same' | 'float' | 'bool';

interface UnaryDef<P> {
  result: Result;
  /** d(out)/d(x) times g (linear in g), from the input and the output: serves vjp and jvp alike. */
  grad?: (g: Array, x: Array, out: Array, params: P) => Array;
  /** Why the gradient is zero (predicates, integer ops). */
  nonDifferentiable?: string;
  /** Refuses an input dtype, saying why. */
  refuse?: (d: DType) => string | null;
}

export const unaryPrimitives: Record<string, Primitive<never>> = {};

function unary<P = Record<string, never>>(name: string, def: UnaryDef<P>) {
  const grad = def.grad;
  const prim = definePrimitive<P>({
    name,
    nonDifferentiable: def.nonDifferentiable,
    vjp: grad ? ([g], { inputs: [x], outputs: [y], params }) => [grad(g, x, y, params)] : undefined,
    jvp: grad ? ([t], { inputs: [x], outputs: [y], params }) => [t ? grad(t, x, y, params) : zerosLike(y)] : undefined,
    vmap: ([x], [ax], params) => [[build(x, params)], [ax!]],
  });
  unaryPrimitives[name] = prim as Primitive<never>;
  function build(x: Array, params: P, opts?: OpOptions): Array {
    const why = def.refuse?.(x.dtype);
    if (why) throw new TypeError(`[${name}] ${why}`);
    const stream = opts?.stream ? toStream(opts.stream) : x.stream;
    const input = def.result === 'float' ? astype(x, floatOf(x.dtype), { stream }) : x;
    const dtype = def.result === 'bool' ? bool : input.dtype;
    return bind1(prim, [input], params, { shape: x.shape, dtype }, stream);
  }
  return (x: ArrayLike, params: P, opts?: OpOptions) => build(asArray(x), params, opts);
}

const zeroGrad = (g: Array) => zerosLike(g);
const predicate = (op: string): UnaryDef<Record<string, never>> => ({ result: 'bool', nonDifferentiable: `${op} is a predicate` });

const absP = unary('abs', { result: 'same', grad: (g, x) => multiply(g, sign(x)) });
const negativeP = unary('negative', {
  result: 'same', grad: (g) => negative(g),
  refuse: (d) => (d === bool ? 'not defined for bool arrays; use logicalNot' : null),
});
const signP = unary('sign', { result: 'same', grad: zeroGrad });
const expP = unary('exp', { result: 'float', grad: (g, _x, y) => multiply(g, y) });
const expm1P = unary('expm1', { result: 'float', grad: (g, _x, y) => multiply(g, add(y, 1)) });
const logP = unary('log', { result: 'float', grad: (g, x) => divide(g, x) });
const log1pP = unary('log1p', { result: 'float', grad: (g, x) => divide(g, add(x, 1)) });
const log2P = unary('log2', { result: 'float', grad: (g, x) => divide(g, multiply(x, Math.LN2)) });
const log10P = unary('log10', { result: 'float', grad: (g, x) => divide(g, multiply(x, Math.LN10)) });
const sqrtP = unary('sqrt', { result: 'float', grad: (g, _x, y) => divide(g, multiply(y, 2)) });
// y = x^(-1/2): dy/dx = -y / (2x)
const rsqrtP = unary('rsqrt', { result: 'float', grad: (g, x, y) => multiply(g, multiply(divide(y, x), -0.5)) });
const squareP = unary('square', { result: 'same', grad: (g, x) => multiply(g, multiply(x, 2)) });
const reciprocalP = unary('reciprocal', { result: 'float', grad: (g, _x, y) => negative(multiply(g, square(y))) });
const sinP = unary('sin', { result: 'float', grad: (g, x) => multiply(g, cos(x)) });
const cosP = unary('cos', { result: 'float', grad: (g, x) => negative(multiply(g, sin(x))) });
const tanP = unary('tan', { result: 'float', grad: (g, _x, y) => multiply(g, add(square(y), 1)) });
const arcsinP = unary('arcsin', { result: 'float', grad: (g, x) => multiply(g, rsqrt(subtract(1, square(x)))) });
const arccosP = unary('arccos', { result: 'float', grad: (g, x) => negative(multiply(g, rsqrt(subtract(1, square(x))))) });
const arctanP = unary('arctan', { result: 'float', grad: (g, x) => divide(g, add(square(x), 1)) });
const sinhP = unary('sinh', { result: 'float', grad: (g, x) => multiply(g, cosh(x)) });
const coshP = unary('cosh', { result: 'float', grad: (g, x) => multiply(g, sinh(x)) });
const tanhP = unary('tanh', { result: 'float', grad: (g, _x, y) => multiply(g, subtract(1, square(y))) });
const arcsinhP = unary('arcsinh', { result: 'float', grad: (g, x) => multiply(g, rsqrt(add(square(x), 1))) });
const arccoshP = unary('arccosh', { result: 'float', grad: (g, x) => multiply(g, rsqrt(subtract(square(x), 1))) });
const arctanhP = unary('arctanh', { result: 'float', grad: (g, x) => divide(g, subtract(1, square(x))) });
// d/dx erf(x) = 2/sqrt(pi) exp(-x^2); d/dx erfinv(x) = sqrt(pi)/2 exp(erfinv(x)^2)
const erfP = unary('erf', { result: 'float', grad: (g, x) => multiply(g, multiply(exp(negative(square(x))), 2 / Math.sqrt(Math.PI))) });
const erfinvP = unary('erfinv', { result: 'float', grad: (g, _x, y) => multiply(g, multiply(exp(square(y)), Math.sqrt(Math.PI) / 2)) });
const sigmoidP = unary('sigmoid', { result: 'float', grad: (g, _x, y) => multiply(g, multiply(y, subtract(1, y))) });
// Piecewise constant: the derivative is zero wherever it exists.
const floorP = unary('floor', { result: 'same', grad: zeroGrad });
const ceilP = unary('ceil', { result: 'same', grad: zeroGrad });
const roundP = unary<{ decimals: number }>('round', { result: 'same', grad: zeroGrad });
const isnanP = unary('isnan', predicate('isnan'));
const isinfP = unary('isinf', predicate('isinf'));
const isfiniteP = unary('isfinite', predicate('isfinite'));
const logicalNotP = unary('logicalNot', predicate('logicalNot'));
const bitwiseInvertP = unary('bitwiseInvert', {
  result: 'same', nonDifferentiable: 'bitwiseInvert is an integer op',
  refuse: (d) => (d.isFloat ? `expected an integer or bool array, got ${d.name}` : null),
});
const stopGradientP = unary('stopGradient', { result: 'same', nonDifferentiable: 'stopGradient blocks gradients by definition' });

type Unary = (x: ArrayLike, opts?: OpOptions) => Array;
const op = (f: (x: ArrayLike, p: Record<string, never>, o?: OpOptions) => Array): Unary => (x, opts) => f(x, {}, opts);

export const abs = op(absP), negative = op(negativeP), sign = op(signP), exp = op(expP), expm1 = op(expm1P),
  log = op(logP), log1p = op(log1pP), log2 = op(log2P), log10 = op(log10P), sqrt = op(sqrtP), rsqrt = op(rsqrtP),
  square = op(squareP), reciprocal = op(reciprocalP), sin = op(sinP), cos = op(cosP), tan = op(tanP),
  arcsin = op(arcsinP), arccos = op(arccosP), arctan = op(arctanP), sinh = op(sinhP), cosh = op(coshP), tanh = op(tanhP),
  arcsinh = op(arcsinhP), arccosh = op(arccoshP), arctanh = op(arctanhP), erf = op(erfP), erfinv = op(erfinvP),
  sigmoid = op(sigmoidP), floor = op(floorP), ceil = op(ceilP), isnan = op(isnanP), isinf = op(isinfP),
  isfinite = op(isfiniteP), logicalNot = op(logicalNotP), bitwiseInvert = op(bitwiseInvertP), stopGradient = op(stopGradientP);

/**
 * Rounds half to even, to `decimals` places, as NumPy: floats keep their dtype (each step
 * rounded in it); integers change only for negative decimals (round(15, -1) is 20).
 */
export function round(x: ArrayLike, decimals = 0, opts?: OpOptions): Array {
  if (!Number.isInteger(decimals)) throw new TypeError(`[round] decimals must be an integer, got ${decimals}`);
  return roundP(x, { decimals }, opts);
}

export function isposinf(x: ArrayLike, opts?: OpOptions): Array {
  const a = asArray(x);
  return a.dtype.isFloat ? equal(a, Infinity, opts) : fullLike(a, false, bool, opts);
}
export function isneginf(x: ArrayLike, opts?: OpOptions): Array {
  const a = asArray(x);
  return a.dtype.isFloat ? equal(a, -Infinity, opts) : fullLike(a, false, bool, opts);
}

/** Radians to degrees (integers and bools become float32). */
export function degrees(x: ArrayLike, opts?: OpOptions): Array {
  const a = asArray(x);
  return multiply(astype(a, floatOf(a.dtype)), 180 / Math.PI, opts);
}
export function radians(x: ArrayLike, opts?: OpOptions): Array {
  const a = asArray(x);
  return multiply(astype(a, floatOf(a.dtype)), Math.PI / 180, opts);
}

/**
 * Replaces NaN by `nan`, +Inf by `posinf` and -Inf by `neginf` (by default the dtype's
 * largest finite values). Integer and bool arrays are returned unchanged.
 */
export function nanToNum(x: ArrayLike, nan = 0, posinf?: number | null, neginf?: number | null, opts?: OpOptions): Array {
  const a = asArray(x);
  if (!a.dtype.isFloat) return a;
  const big = finfoMax(a.dtype);
  let r = where(isnan(a, opts), nan, a, opts);
  r = where(isposinf(a, opts), posinf ?? big, r, opts);
  return where(isneginf(a, opts), neginf ?? -big, r, opts);
}
