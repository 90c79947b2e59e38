// Cumulative ops: cumsum, cumprod, cummax, cummin, logcumsumexp, as MLX's Scan: one
// primitive each with params { axis, reverse, inclusive }. The public ops take
// (a, axis?, reverse = false, inclusive = true); no axis scans the flattened array.
// Exclusive scans start from the identity (0, 1, the dtype's lowest/highest, -inf).
//
// Dtypes follow MLX: cumsum of bool gives int32, the others keep the input dtype (integers
// wrap in it); logcumsumexp of integers gives float32.
// Gradients of cummax/cummin go to the first position (in scan order) holding each running
// extremum; cumprod's are exact when the input has zeros.
import { Array, ArrayLike, asArray } from '../array.js';
import { DType, bool, int32, floatOf } from '../dtype.js';
import { OpOptions, toStream } from '../device.js';
import { definePrimitive, bind1, Primitive } from '../primitive.js';
import { normAxis } from './util.js';
import { reshape, broadcastTo, moveaxis } from './shape.js';
import { astype } from './astype.js';
import { add, subtract, multiply, divide, equal, greater, less, where, logicalAnd, logicalOr } from './binary.js';
import { abs, exp, log, isnan, logicalNot } from './unary.js';
import { arange, zeros } from './creation.js';
import { bindGatherAxis, bindScatterAxis } from './indexing.js';

export interface ScanParams { axis: number; reverse: boolean; inclusive: boolean }

type Rules = Pick<Primitive<ScanParams>, 'vjp' | 'jvp' | 'nonDifferentiable'>;
interface ScanDef { prim: Primitive<ScanParams>; dtypeOf: (d: DType) => DType }

function scanPrimitive(name: string, dtypeOf: (d: DType) => DType, rules: () => Rules): ScanDef {
  const def: ScanDef = {
    dtypeOf,
    prim: definePrimitive<ScanParams>({
      name,
      // Rules are built lazily: they refer to the scan defs below.
      vjp: (c, ctx) => rules().vjp!(c, ctx),
      jvp: (t, ctx) => rules().jvp!(t, ctx),
      vmap: ([x], [ax], p) => [[bindScan(def, moveaxis(x, ax!, 0), { ...p, axis: p.axis + 1 })], [0]],
    }),
  };
  return def;
}

function bindScan(def: ScanDef, x: Array, p: ScanParams, stream = x.stream): Array {
  return bind1(def.prim, [x], p, { shape: x.shape, dtype: def.dtypeOf(x.dtype) }, stream);
}

const same = (d: DType) => d;
const back = (p: ScanParams): ScanParams => ({ ...p, reverse: !p.reverse });

const CumSum: ScanDef = scanPrimitive('cumsum', (d) => (d === bool ? int32 : d), () => ({
  vjp: ([g], { params }) => [bindScan(CumSum, g, back(params))],
  jvp: ([t], { params }) => [bindScan(CumSum, t!, params)],
}));

const CumProd: ScanDef = scanPrimitive('cumprod', same, () => ({ vjp: cumprodVjp, jvp: cumprodJvp }));

/** Where the zeros of x are, and which one comes first in scan order (it alone carries a gradient). */
function zerosOf(x: Array, p: ScanParams) {
  const zero = equal(x, 0);
  const seen = bindScan(CumSum, zero, { ...p, inclusive: true });
  const first = logicalAnd(zero, equal(seen, 1));
  // cumprod of x with its first zero replaced by 1: the product of everything but that zero.
  const withoutFirst = bindScan(CumProd, where(first, 1, x), p);
  return { zero, seen, first, withoutFirst };
}

// Before the first zero (in scan order), d(y_j)/d(x_i) = y_j / x_i; at the first zero it is
// the product without that zero; past it every product holds the zero, so it is 0.
const cumprodVjp: Rules['vjp'] = ([g], { inputs: [x], outputs: [y], params: p }) => {
  const { seen, first, withoutFirst } = zerosOf(x, p);
  const before = equal(seen, 0);
  const gBefore = divide(bindScan(CumSum, multiply(g, y), back(p)), where(before, x, 1));
  const gFirst = bindScan(CumSum, multiply(g, withoutFirst), back(p));
  return [where(before, gBefore, where(first, gFirst, 0))];
};

const cumprodJvp: Rules['jvp'] = ([t], { inputs: [x], outputs: [y], params: p }) => {
  const { zero, first, withoutFirst } = zerosOf(x, p);
  const before = equal(bindScan(CumSum, zero, p), 0);
  const tBefore = multiply(y, bindScan(CumSum, divide(t!, where(zero, 1, x)), p));
  const tFirst = multiply(bindScan(CumSum, where(first, t!, 0), p), withoutFirst);
  return [where(before, tBefore, tFirst)];
};

const CumMax: ScanDef = scanPrimitive('cummax', same, () => extremumRules(CumMax, greater));
const CumMin: ScanDef = scanPrimitive('cummin', same, () => extremumRules(CumMin, less));

/**
 * For each output position, the input position it copies: the first (in scan order) that
 * holds the running extremum. `valid` is false where an exclusive scan gives the identity.
 */
function sources(def: ScanDef, beats: typeof greater, x: Array, p: ScanParams): { index: Array; valid: Array | null } {
  const n = x.shape[p.axis];
  const pos = broadcastTo(reshape(arange(n, null, null, int32, { stream: x.stream }), x.shape.map((d, i) => (i === p.axis ? n : 1))), x.shape);
  const order = p.reverse ? subtract(n - 1, pos) : pos;
  const before = bindScan(def, x, { ...p, inclusive: false });
  // A new record beats everything before it; a NaN is one unless a NaN came first.
  const record = logicalOr(beats(x, before), logicalAnd(isnan(x), logicalNot(isnan(before))));
  const latest = bindScan(CumMax, where(record, order, 0), p);
  const valid = p.inclusive ? null : greater(order, 0);
  const inScan = valid ? where(valid, latest, 0) : latest;
  return { index: p.reverse ? subtract(n - 1, inScan) : inScan, valid };
}

function extremumRules(def: ScanDef, beats: typeof greater): Rules {
  return {
    vjp: ([g], { inputs: [x], params: p }) => {
      const { index, valid } = sources(def, beats, x, p);
      return [bindScatterAxis(zeros(x.shape, g.dtype, { stream: g.stream }), index, valid ? where(valid, g, 0) : g, p.axis, 'sum')];
    },
    jvp: ([t], { inputs: [x], params: p }) => {
      const { index, valid } = sources(def, beats, x, p);
      const picked = bindGatherAxis(t!, index, p.axis);
      return [valid ? where(valid, picked, 0) : picked];
    },
  };
}

// d(y_j)/d(x_i) = exp(x_i - y_j) over the scanned positions. Signs are split so each part
// is a logcumsumexp of log|g| (TensorFlow's formulation), which never overflows.
const LogCumSumExp: ScanDef = scanPrimitive('logcumsumexp', same, () => ({
  vjp: ([g], { inputs: [x], outputs: [y], params: p }) => {
    const logG = subtract(log(abs(g)), y);
    const part = (sign: typeof greater) => exp(add(bindScan(LogCumSumExp, where(sign(g, 0), logG, -Infinity), back(p)), x));
    return [subtract(part(greater), part(less))];
  },
  jvp: ([t], { inputs: [x], outputs: [y], params: p }) => {
    const logT = add(log(abs(t!)), x);
    const part = (sign: typeof greater) => exp(subtract(bindScan(LogCumSumExp, where(sign(t!, 0), logT, -Infinity), p), y));
    // An empty (exclusive) prefix has y = -inf and no tangent.
    return [where(equal(y, -Infinity), 0, subtract(part(greater), part(less)))];
  },
}));

type ScanOp = (a: ArrayLike, axis?: number | null, reverse?: boolean, inclusive?: boolean, opts?: OpOptions) => Array;

function scanOp(name: string, def: ScanDef, floatInput = false): ScanOp {
  return (a, axis, reverse = false, inclusive = true, opts) => {
    let x = asArray(a);
    if (floatInput) x = astype(x, floatOf(x.dtype));
    if (axis === undefined || axis === null) { x = reshape(x, [x.size]); axis = 0; }
    const ax = normAxis(name, axis, x.ndim);
    return bindScan(def, x, { axis: ax, reverse, inclusive }, opts?.stream ? toStream(opts.stream) : x.stream);
  };
}

/** Cumulative sum along `axis` (of the flattened array by default). */
export const cumsum: ScanOp = scanOp('cumsum', CumSum);
/** Cumulative product along `axis`. */
export const cumprod: ScanOp = scanOp('cumprod', CumProd);
/** Running maximum along `axis`; NaN propagates. */
export const cummax: ScanOp = scanOp('cummax', CumMax);
/** Running minimum along `axis`; NaN propagates. */
export const cummin: ScanOp = scanOp('cummin', CumMin);
/** log(cumsum(exp(a))) along `axis`, computed stably. */
export const logcumsumexp: ScanOp = scanOp('logcumsumexp', LogCumSumExp, true);
