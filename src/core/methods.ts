// MLX's array methods: `x.sum(0)`, `x.reshape(2, 3)`, `x.T`, `x.add(y)`, `for (const row of x)`.
// Each forwards to the op of the same name with the array as its first argument, so the
// method's signature is the op's without that argument (see Method below).
import { Array } from './array.js';
import * as ops from './ops/index.js';

/** An op's signature without its first (array) argument. */
type Method<F> = F extends (x: never, ...rest: infer R) => infer T ? (...rest: R) => T : never;

declare module './array.js' {
  interface Array {
    astype: Method<typeof ops.astype>;
    view: Method<typeof ops.view>;
    /** `x.reshape(2, 3)` or `x.reshape([2, 3])`. */
    reshape(...shape: number[] | [readonly number[]]): Array;
    /** `x.transpose()`, `x.transpose(1, 0, 2)` or `x.transpose([1, 0, 2])`. */
    transpose(...axes: number[] | [readonly number[] | null | undefined]): Array;
    /** The array with its axes reversed. */
    readonly T: Array;
    /** Arrays along the first axis. */
    [Symbol.iterator](): Iterator<Array>;
    flatten: Method<typeof ops.flatten>;
    squeeze: Method<typeof ops.squeeze>;
    swapaxes: Method<typeof ops.swapaxes>;
    moveaxis: Method<typeof ops.moveaxis>;
    split: Method<typeof ops.split>;
    diagonal: Method<typeof ops.diagonal>;
    diag: Method<typeof ops.diag>;
    take: Method<typeof ops.take>;
    sum: Method<typeof ops.sum>;
    prod: Method<typeof ops.prod>;
    mean: Method<typeof ops.mean>;
    max: Method<typeof ops.max>;
    min: Method<typeof ops.min>;
    argmax: Method<typeof ops.argmax>;
    argmin: Method<typeof ops.argmin>;
    all: Method<typeof ops.all>;
    any: Method<typeof ops.any>;
    var: Method<typeof ops.variance>;
    std: Method<typeof ops.std>;
    logsumexp: Method<typeof ops.logsumexp>;
    cumsum: Method<typeof ops.cumsum>;
    cumprod: Method<typeof ops.cumprod>;
    cummax: Method<typeof ops.cummax>;
    cummin: Method<typeof ops.cummin>;
    logcumsumexp: Method<typeof ops.logcumsumexp>;
    abs: Method<typeof ops.abs>;
    negative: Method<typeof ops.negative>;
    exp: Method<typeof ops.exp>;
    log: Method<typeof ops.log>;
    log2: Method<typeof ops.log2>;
    log10: Method<typeof ops.log10>;
    log1p: Method<typeof ops.log1p>;
    sqrt: Method<typeof ops.sqrt>;
    rsqrt: Method<typeof ops.rsqrt>;
    square: Method<typeof ops.square>;
    reciprocal: Method<typeof ops.reciprocal>;
    sin: Method<typeof ops.sin>;
    cos: Method<typeof ops.cos>;
    round: Method<typeof ops.round>;
    add: Method<typeof ops.add>;
    subtract: Method<typeof ops.subtract>;
    multiply: Method<typeof ops.multiply>;
    divide: Method<typeof ops.divide>;
    floorDivide: Method<typeof ops.floorDivide>;
    remainder: Method<typeof ops.remainder>;
    power: Method<typeof ops.power>;
    maximum: Method<typeof ops.maximum>;
    minimum: Method<typeof ops.minimum>;
    equal: Method<typeof ops.equal>;
    notEqual: Method<typeof ops.notEqual>;
    less: Method<typeof ops.less>;
    lessEqual: Method<typeof ops.lessEqual>;
    greater: Method<typeof ops.greater>;
    greaterEqual: Method<typeof ops.greaterEqual>;
    logicalNot: Method<typeof ops.logicalNot>;
    logicalAnd: Method<typeof ops.logicalAnd>;
    logicalOr: Method<typeof ops.logicalOr>;
    matmul: Method<typeof ops.matmul>;
  }
}

type Op = (x: Array, ...rest: unknown[]) => unknown;

/** Method name -> op; the method passes `this` as the op's first argument. */
const forwarded: Record<string, Op> = {
  astype: ops.astype, view: ops.view, flatten: ops.flatten, squeeze: ops.squeeze, swapaxes: ops.swapaxes, moveaxis: ops.moveaxis,
  split: ops.split, diagonal: ops.diagonal, diag: ops.diag, take: ops.take,
  sum: ops.sum, prod: ops.prod, mean: ops.mean, max: ops.max, min: ops.min, argmax: ops.argmax, argmin: ops.argmin,
  all: ops.all, any: ops.any, var: ops.variance, std: ops.std, logsumexp: ops.logsumexp,
  cumsum: ops.cumsum, cumprod: ops.cumprod, cummax: ops.cummax, cummin: ops.cummin, logcumsumexp: ops.logcumsumexp,
  abs: ops.abs, negative: ops.negative, exp: ops.exp, log: ops.log, log2: ops.log2, log10: ops.log10, log1p: ops.log1p,
  sqrt: ops.sqrt, rsqrt: ops.rsqrt, square: ops.square, reciprocal: ops.reciprocal, sin: ops.sin, cos: ops.cos, round: ops.round,
  add: ops.add, subtract: ops.subtract, multiply: ops.multiply, divide: ops.divide, floorDivide: ops.floorDivide,
  remainder: ops.remainder, power: ops.power, maximum: ops.maximum, minimum: ops.minimum,
  equal: ops.equal, notEqual: ops.notEqual, less: ops.less, lessEqual: ops.lessEqual, greater: ops.greater,
  greaterEqual: ops.greaterEqual, logicalNot: ops.logicalNot, logicalAnd: ops.logicalAnd, logicalOr: ops.logicalOr,
  matmul: ops.matmul,
} as unknown as Record<string, Op>;

/** `f(2, 3)` and `f([2, 3])` both mean the list [2, 3]. */
const listArg = (args: unknown[]): readonly number[] | undefined =>
  args.length === 1 && (globalThis.Array.isArray(args[0]) || args[0] === null || args[0] === undefined)
    ? (args[0] as readonly number[] | undefined) ?? undefined
    : (args as number[]);

const methods: Record<string, (this: Array, ...args: never[]) => unknown> = {
  ...Object.fromEntries(Object.entries(forwarded).map(([name, op]) => [name, function (this: Array, ...args: unknown[]) { return op(this, ...args); }])),
  reshape(this: Array, ...shape: unknown[]) { return ops.reshape(this, listArg(shape)!); },
  transpose(this: Array, ...axes: unknown[]) { const a = listArg(axes); return ops.transpose(this, a?.length ? a : null); },
  *[Symbol.iterator](this: Array): Iterator<Array> {
    if (this.ndim === 0) throw new TypeError('[iter] cannot iterate over a 0-d array');
    if (this.shape[0] === 0) return;
    for (const part of ops.split(this, this.shape[0], 0)) yield ops.squeeze(part, 0);
  },
};

const proto = Array.prototype as unknown as Record<string | symbol, unknown>;
for (const key of Reflect.ownKeys(methods)) {
  Object.defineProperty(proto, key, { value: (methods as Record<string | symbol, unknown>)[key], writable: true, configurable: true });
}
Object.defineProperty(proto, 'T', { get(this: Array) { return ops.transpose(this); }, configurable: true });
