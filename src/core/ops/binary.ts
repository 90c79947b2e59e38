// Elementwise binary primitives (with broadcasting and MLX promotion), their gradients,
// and the ops composed from them (where, clip, isclose, allclose, arrayEqual).
import { Array, ArrayLike, asArray } from '../array.js';
import { DType, bool, floatOf } from '../dtype.js';
import { OpOptions, toStream, Stream } from '../device.js';
import { definePrimitive, bind1, Primitive } from '../primitive.js';
import { promoteArgs, resultType, broadcastShapes } from './util.js';
import { astype } from './astype.js';
import { negative, log, abs, isnan, exp, square } from './unary.js';
import { sumTo } from './reduce.js';
import { all } from './reduce.js';
import { zerosLike } from './creation.js';

/** Output dtype: 'same' as the promoted inputs, 'float' promotes integers to float32, 'bool' for comparisons. */
type Result = 'same' | 'float' | 'bool';

interface BinaryDef {
  result: Result;
  /** Gradients with respect to a and b for output cotangent g (before un-broadcasting). */
  grad?: (g: Array, a: Array, b: Array, out: Array) => [Array | null, Array | null];
  nonDifferentiable?: string;
  /** Dtypes refused (after promotion), with why. */
  refuse?: (d: DType) => string | null;
  /** Inputs are cast to bool first (logical ops). */
  boolInputs?: boolean;
}

export const binaryPrimitives: Record<string, Primitive<never>> = {};

function binary(name: string, def: BinaryDef) {
  const prim = definePrimitive({
    name,
    nonDifferentiable: def.nonDifferentiable,
    vjp: def.grad ? ([g], { inputs: [a, b], outputs: [y] }) => {
      const [ga, gb] = def.grad!(g, a, b, y);
      return [ga && sumTo(ga, a.shape), gb && sumTo(gb, b.shape)];
    } : undefined,
    jvp: def.grad ? ([ta, tb], { inputs: [a, b], outputs: [y] }) => {
      // The map from (ta, tb) to the output tangent is linear: push each through the rule.
      const parts: Array[] = [];
      if (ta) parts.push(def.grad!(ta, a, b, y)[0]!);
      if (tb) parts.push(def.grad!(tb, a, b, y)[1]!);
      return [parts.length === 2 ? add(parts[0], parts[1]) : parts[0]];
    } : undefined,
    vmap: (ins, axes) => {
      const [x, y] = batchFront(ins, axes);
      return [[build(x, y, x.stream)], [0]];
    },
  });
  binaryPrimitives[name] = prim as Primitive<never>;
  function build(a: Array, b: Array, stream: Stream): Array {
    const why = def.refuse?.(a.dtype);
    if (why) throw new TypeError(`[${name}] ${why}`);
    const shape = broadcastShapes(name, a.shape, b.shape);
    const dtype = def.result === 'bool' ? bool : a.dtype;
    return bind1(prim, [a, b], {}, { shape, dtype }, stream);
  }
  return (a: ArrayLike, b: ArrayLike, opts?: OpOptions): Array => {
    const stream = toStream(opts?.stream ?? streamOf(a, b));
    let dt = resultType(a, b);
    if (def.boolInputs) dt = bool;
    else if (def.result === 'float') dt = floatOf(dt);
    const [x, y] = promoteArgs([a, b], stream, dt);
    return build(x, y, stream);
  };
}

function streamOf(a: ArrayLike, b: ArrayLike): Stream | undefined {
  if (a instanceof Array) return a.stream;
  if (b instanceof Array) return b.stream;
  return undefined;
}

const intOnly = (op: string) => (d: DType) => (d.isFloat ? `${op} needs integer or bool arrays, got ${d.name}` : null);
const noBool = (op: string) => (d: DType) => (d === bool ? `${op} is not defined for bool arrays` : null);
const predicate = (op: string) => ({ result: 'bool' as const, nonDifferentiable: `${op} is a comparison` });

export const add = binary('add', { result: 'same', grad: (g) => [g, g] });
export const subtract = binary('subtract', { result: 'same', refuse: noBool('subtract'), grad: (g) => [g, negative(g)] });
export const multiply = binary('multiply', { result: 'same', grad: (g, a, b) => [multiply(g, b), multiply(g, a)] });
export const divide = binary('divide', { result: 'float', grad: (g, a, b) => [divide(g, b), negative(divide(multiply(g, a), square(b)))] });
export const floorDivide = binary('floorDivide', { result: 'same', refuse: noBool('floorDivide'), grad: (g) => [zerosLike(g), zerosLike(g)] });
export const remainder = binary('remainder', { result: 'same', refuse: noBool('remainder'), grad: (g, a, b) => [g, negative(multiply(g, floorDivide(a, b)))] });
export const power = binary('power', {
  result: 'same',
  grad: (g, a, b, y) => [
    multiply(g, multiply(b, power(a, subtract(b, 1)))),
    // d/db a^b = a^b log a, taken as 0 where a = 0 (as JAX and MLX do)
    multiply(g, where(equal(a, 0), 0, multiply(y, log(a)))),
  ],
});
export const maximum = binary('maximum', {
  result: 'same',
  grad: (g, a, b) => { const m = greaterEqual(a, b); return [where(m, g, 0), where(m, 0, g)]; },
});
export const minimum = binary('minimum', {
  result: 'same',
  grad: (g, a, b) => { const m = lessEqual(a, b); return [where(m, g, 0), where(m, 0, g)]; },
});
export const equal = binary('equal', predicate('equal'));
export const notEqual = binary('notEqual', predicate('notEqual'));
export const less = binary('less', predicate('less'));
export const lessEqual = binary('lessEqual', predicate('lessEqual'));
export const greater = binary('greater', predicate('greater'));
export const greaterEqual = binary('greaterEqual', predicate('greaterEqual'));
export const logicalAnd = binary('logicalAnd', { ...predicate('logicalAnd'), boolInputs: true });
export const logicalOr = binary('logicalOr', { ...predicate('logicalOr'), boolInputs: true });
export const bitwiseAnd = binary('bitwiseAnd', { result: 'same', refuse: intOnly('bitwiseAnd'), nonDifferentiable: 'bitwiseAnd is an integer op' });
export const bitwiseOr = binary('bitwiseOr', { result: 'same', refuse: intOnly('bitwiseOr'), nonDifferentiable: 'bitwiseOr is an integer op' });
export const bitwiseXor = binary('bitwiseXor', { result: 'same', refuse: intOnly('bitwiseXor'), nonDifferentiable: 'bitwiseXor is an integer op' });
export const leftShift = binary('leftShift', { result: 'same', refuse: intOnly('leftShift'), nonDifferentiable: 'leftShift is an integer op' });
export const rightShift = binary('rightShift', { result: 'same', refuse: intOnly('rightShift'), nonDifferentiable: 'rightShift is an integer op' });
export const arctan2 = binary('arctan2', {
  result: 'float',
  grad: (g, a, b) => { const d = add(square(a), square(b)); return [multiply(g, divide(b, d)), negative(multiply(g, divide(a, d)))]; },
});
export const logaddexp = binary('logaddexp', {
  result: 'float',
  grad: (g, a, b, y) => [multiply(g, exp(subtract(a, y))), multiply(g, exp(subtract(b, y)))],
});

// ---------------------------------------------------------------- where (select)

export const Select = definePrimitive({
  name: 'select',
  vjp: ([g], { inputs: [c, a, b] }) => [null, sumTo(where(c, g, 0), a.shape), sumTo(where(c, 0, g), b.shape)],
  jvp: ([, ta, tb], { inputs: [c], outputs: [y] }) => [where(c, ta ?? zerosLike(y), tb ?? zerosLike(y))],
  vmap: (ins, axes) => {
    const [c, a, b] = batchFront(ins, axes);
    return [[where(c, a, b)], [0]];
  },
});

/** Elements of `x` where `condition` holds, else of `y` (all three broadcast). */
export function where(condition: ArrayLike, x: ArrayLike, y: ArrayLike, opts?: OpOptions): Array {
  const stream = toStream(opts?.stream ?? streamOf(condition, streamOf(x, y) ? (x instanceof Array ? x : y) : x));
  const c = astype(asArray(condition, stream), bool);
  const [a, b] = promoteArgs([x, y], stream);
  const shape = broadcastShapes('where', c.shape, a.shape, b.shape);
  return bind1(Select, [c, a, b], {}, { shape, dtype: a.dtype }, stream);
}

/** Limits values to [min, max]; either bound may be null. */
export function clip(a: ArrayLike, min: ArrayLike | null, max: ArrayLike | null, opts?: OpOptions): Array {
  if (min === null && max === null) throw new Error('[clip] at least one of min and max must be given');
  let r = asArray(a);
  if (min !== null) r = maximum(r, min, opts);
  if (max !== null) r = minimum(r, max, opts);
  return r;
}

/** |a - b| <= atol + rtol * |b|, elementwise (NaNs equal only with equalNan). */
export function isclose(a: ArrayLike, b: ArrayLike, rtol = 1e-5, atol = 1e-8, equalNan = false, opts?: OpOptions): Array {
  const x = asArray(a), y = asArray(b);
  const dt = floatOf(resultType(x, y));
  const xf = astype(x, dt), yf = astype(y, dt);
  let close = lessEqual(abs(subtract(xf, yf)), add(atol, multiply(rtol, abs(yf))), opts);
  // Infinities of the same sign are close; the difference above is NaN there.
  close = logicalOr(close, equal(xf, yf), opts);
  if (equalNan) close = logicalOr(close, logicalAnd(isnan(xf), isnan(yf)), opts);
  return close;
}

export function allclose(a: ArrayLike, b: ArrayLike, rtol = 1e-5, atol = 1e-8, equalNan = false, opts?: OpOptions): Array {
  return all(isclose(a, b, rtol, atol, equalNan, opts));
}

/** True when shapes match and all elements are equal (NaNs equal only with equalNan). */
export function arrayEqual(a: ArrayLike, b: ArrayLike, equalNan = false, opts?: OpOptions): Array {
  const x = asArray(a), y = asArray(b);
  const stream = toStream(opts?.stream ?? x.stream);
  if (x.shape.length !== y.shape.length || x.shape.some((d, i) => d !== y.shape[i])) return arrayFromBool(false, stream);
  let eq = equal(x, y, opts);
  if (equalNan) eq = logicalOr(eq, logicalAnd(isnan(x), isnan(y)));
  return all(eq);
}

import { array } from '../array.js';
import { batchFront } from './shape.js';
function arrayFromBool(v: boolean, stream: Stream): Array { return array(v, bool, { stream }); }
