// Reductions. Each primitive reduces `axes` keeping them as size-1 axes; the public op
// drops them unless keepdims. Gradients broadcast back over the reduced axes.
import { Array, ArrayLike, asArray } from '../array.js';
import { DType, bool, int32, int64, uint32, uint64 } from '../dtype.js';
import { OpOptions, toStream } from '../device.js';
import { definePrimitive, bind1, Primitive } from '../primitive.js';
import { normAxes } from './util.js';
import { reshape, broadcastTo, moveaxis } from './shape.js';
import { astype } from './astype.js';

export interface ReduceParams { axes: number[] }
type Axis = number | number[] | null;

const keptShape = (shape: readonly number[], axes: number[]) => shape.map((d, i) => (axes.includes(i) ? 1 : d));

/** Shared vmap rule: the batch axis moves to the front and every reduced axis shifts by one. */
function vmapReduce(op: (x: Array, axes: number[]) => Array) {
  return ([x]: Array[], [ax]: (number | null)[], { axes }: ReduceParams): [Array[], number[]] => [[op(moveaxis(x, ax!, 0), axes.map((a) => a + 1))], [0]];
}

export const reducePrimitives: Record<string, Primitive<never>> = {};

function reduction(name: string, def: Omit<Parameters<typeof definePrimitive<ReduceParams>>[0], 'name' | 'vmap'>, dtypeOf: (d: DType) => DType) {
  const bindReduce = (x: Array, axes: number[], stream = x.stream): Array =>
    bind1(prim, [x], { axes }, { shape: keptShape(x.shape, axes), dtype: dtypeOf(x.dtype) }, stream);
  const prim: Primitive<ReduceParams> = definePrimitive<ReduceParams>({ name, ...def, vmap: vmapReduce((x, axes) => bindReduce(x, axes)) });
  reducePrimitives[name] = prim as Primitive<never>;
  return (a: ArrayLike, axis?: Axis, keepdims = false, opts?: OpOptions): Array => {
    const x = asArray(a);
    const axes = normAxes(name, axis, x.ndim);
    const stream = opts?.stream ? toStream(opts.stream) : x.stream;
    const r = bindReduce(x, axes, stream);
    return keepdims ? r : reshape(r, x.shape.filter((_, i) => !axes.includes(i)));
  };
}

/** Sums keep small integers from overflowing, as MLX: bool/int8/int16 -> int32, uint8/uint16 -> uint32. */
export function sumDtype(d: DType): DType {
  if (d === bool || d.name === 'int8' || d.name === 'int16') return int32;
  if (d.name === 'uint8' || d.name === 'uint16') return uint32;
  return d;
}
void int64; void uint64;

export const sum = reduction('sum', {
  vjp: ([g], { inputs: [x] }) => [broadcastTo(g, x.shape)],
  jvp: ([t], { params: { axes } }) => [sum(t!, axes, true)],
}, sumDtype);

export const all = reduction('all', { nonDifferentiable: 'all is a predicate' }, () => bool);
export const any = reduction('any', { nonDifferentiable: 'any is a predicate' }, () => bool);

/** Sums `x` down to `shape` (undoing broadcasting), for gradients. */
export function sumTo(x: Array, shape: readonly number[]): Array {
  if (x.ndim === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
  const lead = x.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < x.ndim; i++) if (i < lead || (shape[i - lead] === 1 && x.shape[i] !== 1)) axes.push(i);
  let r = axes.length ? sum(x, axes, true) : x;
  r = reshape(r, shape);
  return r.dtype === x.dtype ? r : astype(r, x.dtype);
}
