// Elementwise binary primitives (with broadcasting and MLX promotion), their gradients,
// and the ops composed from them (where, clip, isclose, allclose, arrayEqual).
import { Array, ArrayLike, asArray, array } from '../array.js';
import { DType, bool, uint8, floatOf, iinfo } from '../dtype.js';
import { OpOptions, toStream, Stream } from '../device.js';
import { definePrimitive, bind1, Primitive } from '../primitive.js';
import { promoteArgs, resultType, broadcastShapes } from './util.js';
import { negative, log, abs, isnan, isfinite, exp, square } from './unary.js';
import { sumTo, all } from './reduce.js';
import { broadcastTo, batchFront } from './shape.js';
import { zerosLike } from './creation.js';
import { astype } from './astype.js';

/**
 * One input's part of the derivative, applied to `g`: d(out)/d(input) * g, elementwise and
 * linear in g. The vjp applies it to the output cotangent and sums away broadcast axes; the
 * jvp applies it to the input's tangent and broadcasts to the output.
 */
type PartialGrad = (g: Array, a: Array, b: Array, out: Array) => Array;

interface BinaryDef {
  /** Dtype the inputs are computed in, from their promoted dtype (default: unchanged). */
  input?: (promoted: DType) => DType;
  /** Comparisons and logical ops give bool. */
  predicate?: boolean;
  /** Refuses a promoted dtype, saying why. */
  refuse?: (d: DType) => string | null;
  grad?: [PartialGrad, PartialGrad];
  nonDifferentiable?: string;
}

export const binaryPrimitives: Record<string, Primitive<never>> = {};

function binary(name: string, def: BinaryDef) {
  const [da, db] = def.grad ?? [];
  const prim = definePrimitive({
    name,
    nonDifferentiable: def.nonDifferentiable,
    vjp: def.grad ? ([g], { inputs: [a, b], outputs: [y] }) =>
      [sumTo(da!(g, a, b, y), a.shape), sumTo(db!(g, a, b, y), b.shape)] : undefined,
    jvp: def.grad ? ([ta, tb], { inputs: [a, b], outputs: [y] }) => {
      const parts = [ta && da!(ta, a, b, y), tb && db!(tb, a, b, y)].filter((t): t is Array => t !== null);
      const t = parts.length === 0 ? zerosLike(y) : parts.length === 1 ? parts[0] : add(parts[0], parts[1]);
      return [broadcastTo(t, y.shape)];
    } : undefined,
    vmap: (ins, axes) => {
      const [x, y] = batchFront(ins, axes);
      return [[build(x, y, x.stream)], [0]];
    },
  });
  binaryPrimitives[name] = prim as Primitive<never>;
  function build(a: Array, b: Array, stream: Stream): Array {
    const shape = broadcastShapes(name, a.shape, b.shape);
    return bind1(prim, [a, b], {}, { shape, dtype: def.predicate ? bool : a.dtype }, stream);
  }
  return (a: ArrayLike, b: ArrayLike, opts?: OpOptions): Array => {
    const stream = toStream(opts?.stream ?? streamOf(a, b));
    const promoted = resultType(a, b);
    checkWeakScalars(name, [a, b], promoted);
    const why = def.refuse?.(promoted);
    if (why) throw new TypeError(`[${name}] ${why}, got ${dtypeNames(a, b)}`);
    const [x, y] = promoteArgs([a, b], stream, def.input ? def.input(promoted) : promoted);
    return build(x, y, stream);
  };
}

/** The stream of the first array argument. */
function streamOf(...args: ArrayLike[]): Stream | undefined {
  for (const a of args) if (a instanceof Array) return a.stream;
  return undefined;
}

const dtypeNames = (...args: ArrayLike[]) => args.map((a) => (typeof a === 'number' || typeof a === 'boolean' ? `scalar ${a}` : asArray(a).dtype.name)).join(' and ');

/**
 * A weak integer scalar takes the integer dtype of the arrays it meets, so it must fit
 * there, as MLX checks: add(uint8Array, 300) is an error, not a silent wrap.
 */
function checkWeakScalars(op: string, args: ArrayLike[], dt: DType): void {
  if (!dt.isInteger || !args.some((a) => a instanceof Array || (typeof a === 'object' && a !== null))) return;
  const { min, max } = iinfo(dt);
  for (const v of args) {
    if (typeof v === 'number' && Number.isInteger(v) && (v < min || v > max))
      throw new RangeError(`[${op}] the scalar ${v} does not fit in ${dt.name} (${min} to ${max})`);
  }
}

const toFloat = (d: DType) => floatOf(d);
const toBool = () => bool;
const intOnly = (d: DType) => (d.isFloat ? 'expected integer or bool inputs' : null);
const noBool = (what: string) => (d: DType) => (d === bool ? `${what} is not defined for bools` : null);
const comparison = (op: string): BinaryDef => ({ predicate: true, nonDifferentiable: `${op} is a comparison` });
const logical = (op: string): BinaryDef => ({ predicate: true, input: toBool, nonDifferentiable: `${op} is a logical op` });
const bitwise = (op: string, input?: (d: DType) => DType): BinaryDef => ({ refuse: intOnly, input, nonDifferentiable: `${op} is an integer op` });
const zero: PartialGrad = (g) => zerosLike(g);

export const add = binary('add', { grad: [(g) => g, (g) => g] });
export const subtract = binary('subtract', { refuse: noBool('subtraction'), grad: [(g) => g, (g) => negative(g)] });
export const multiply = binary('multiply', { grad: [(g, _a, b) => multiply(g, b), (g, a) => multiply(g, a)] });
export const divide = binary('divide', {
  input: toFloat,
  grad: [(g, _a, b) => divide(g, b), (g, a, b) => negative(divide(multiply(g, a), square(b)))],
});
export const floorDivide = binary('floorDivide', { refuse: noBool('floor division'), grad: [zero, zero] });
// a - b * floor(a / b): d/da = 1, d/db = -floor(a / b)
export const remainder = binary('remainder', { refuse: noBool('remainder'), grad: [(g) => g, (g, a, b) => negative(multiply(g, floorDivide(a, b)))] });
export const power = binary('power', {
  grad: [
    // b a^(b-1), taken as 0 where b = 0 (a^0 is constant even at a = 0, as JAX does)
    (g, a, b) => multiply(g, where(equal(b, 0), 0, multiply(b, power(a, subtract(b, 1))))),
    // a^b log a, taken as 0 where a = 0 (as JAX and MLX do)
    (g, a, _b, y) => multiply(g, where(equal(a, 0), 0, multiply(y, log(a)))),
  ],
});
// Ties send the whole gradient to a.
export const maximum = binary('maximum', {
  grad: [(g, a, b) => where(greaterEqual(a, b), g, 0), (g, a, b) => where(greaterEqual(a, b), 0, g)],
});
export const minimum = binary('minimum', {
  grad: [(g, a, b) => where(lessEqual(a, b), g, 0), (g, a, b) => where(lessEqual(a, b), 0, g)],
});
export const equal = binary('equal', comparison('equal'));
export const notEqual = binary('notEqual', comparison('notEqual'));
export const less = binary('less', comparison('less'));
export const lessEqual = binary('lessEqual', comparison('lessEqual'));
export const greater = binary('greater', comparison('greater'));
export const greaterEqual = binary('greaterEqual', comparison('greaterEqual'));
export const logicalAnd = binary('logicalAnd', logical('logicalAnd'));
export const logicalOr = binary('logicalOr', logical('logicalOr'));
export const bitwiseAnd = binary('bitwiseAnd', bitwise('bitwiseAnd'));
export const bitwiseOr = binary('bitwiseOr', bitwise('bitwiseOr'));
export const bitwiseXor = binary('bitwiseXor', bitwise('bitwiseXor'));
// Shifting bools shifts uint8s, as MLX.
const boolToU8 = (d: DType) => (d === bool ? uint8 : d);
export const leftShift = binary('leftShift', bitwise('leftShift', boolToU8));
export const rightShift = binary('rightShift', bitwise('rightShift', boolToU8));
// d/da atan2(a, b) = b / (a^2 + b^2), d/db = -a / (a^2 + b^2)
export const arctan2 = binary('arctan2', {
  input: toFloat,
  grad: [(g, a, b) => divide(multiply(g, b), add(square(a), square(b))), (g, a, b) => negative(divide(multiply(g, a), add(square(a), square(b))))],
});
export const logaddexp = binary('logaddexp', {
  input: toFloat,
  grad: [(g, a, _b, y) => multiply(g, exp(subtract(a, y))), (g, _a, b, y) => multiply(g, exp(subtract(b, y)))],
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
  const stream = toStream(opts?.stream ?? streamOf(condition, x, y));
  const c = asArray(condition, stream);
  const dt = resultType(x, y);
  checkWeakScalars('where', [x, y], dt);
  const [a, b] = promoteArgs([x, y], stream, dt);
  const shape = broadcastShapes('where', c.shape, a.shape, b.shape);
  return bind1(Select, [astype(c, bool, { stream }), a, b], {}, { shape, dtype: dt }, stream);
}

/** Limits values to [min, max]; either bound may be null. */
export function clip(a: ArrayLike, min: ArrayLike | null, max: ArrayLike | null, opts?: OpOptions): Array {
  if (min === null && max === null) throw new Error('[clip] at least one of min and max must be given');
  let r = asArray(a);
  if (min !== null) r = maximum(r, min, opts);
  if (max !== null) r = minimum(r, max, opts);
  return r;
}

/**
 * |a - b| <= atol + rtol * |b|, elementwise, computed in the promoted float dtype. Infinities
 * are close only to themselves; NaNs only to NaNs with equalNan.
 */
export function isclose(a: ArrayLike, b: ArrayLike, rtol = 1e-5, atol = 1e-8, equalNan = false, opts?: OpOptions): Array {
  const stream = toStream(opts?.stream ?? streamOf(a, b));
  const o = { stream };
  const [x, y] = promoteArgs([a, b], stream, floatOf(resultType(a, b)));
  broadcastShapes('isclose', x.shape, y.shape);
  const near = lessEqual(abs(subtract(x, y, o), o), add(atol, multiply(rtol, abs(y, o), o), o), o);
  let close = logicalOr(logicalAnd(near, logicalAnd(isfinite(x, o), isfinite(y, o), o), o), equal(x, y, o), o);
  if (equalNan) close = logicalOr(close, logicalAnd(isnan(x, o), isnan(y, o), o), o);
  return close;
}

export function allclose(a: ArrayLike, b: ArrayLike, rtol = 1e-5, atol = 1e-8, equalNan = false, opts?: OpOptions): Array {
  return all(isclose(a, b, rtol, atol, equalNan, opts), null, false, opts);
}

/** True when shapes match and all elements are equal (NaNs equal only with equalNan). */
export function arrayEqual(a: ArrayLike, b: ArrayLike, equalNan = false, opts?: OpOptions): Array {
  const x = asArray(a), y = asArray(b);
  const stream = toStream(opts?.stream ?? x.stream);
  const o = { stream };
  if (x.shape.length !== y.shape.length || x.shape.some((d, i) => d !== y.shape[i])) return array(false, bool, o);
  let eq = equal(x, y, o);
  if (equalNan) eq = logicalOr(eq, logicalAnd(isnan(x, o), isnan(y, o), o), o);
  return all(eq, null, false, o);
}
