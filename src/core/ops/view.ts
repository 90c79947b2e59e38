// view: the same bytes read as another dtype (bit reinterpretation, as MLX's view).
import { Array, ArrayLike, asArray } from '../array.js';
import { DTypeLike, DTypeName, toDtype } from '../dtype.js';
import { OpOptions, toStream } from '../device.js';
import { definePrimitive, bind1 } from '../primitive.js';
import { moveaxis } from './shape.js';
import { fmtShape } from './util.js';

export interface ViewParams { dtype: DTypeName }

export const View = definePrimitive<ViewParams>({
  name: 'view',
  nonDifferentiable: 'view reinterprets bits, which has no derivative',
  // The last axis may change length, so the batch axis must not be it.
  vmap: ([x], [ax], { dtype }) => {
    const onLast = ax === x.ndim - 1 && x.ndim > 1;
    return [[view(onLast ? moveaxis(x, ax!, 0) : x, dtype)], [onLast ? 0 : ax!]];
  },
});

/**
 * The bytes of `x` read as `dtype`. Between dtypes of different sizes the last axis scales
 * by the size ratio (viewing float32 (2, 3) as uint8 gives (2, 12)); its byte length must
 * divide by the new itemsize. Bytes read as bool are true when nonzero.
 */
export function view(x: ArrayLike, dtype: DTypeLike, opts?: OpOptions): Array {
  const a = asArray(x);
  const dt = toDtype(dtype, 'view');
  const stream = opts?.stream ? toStream(opts.stream) : a.stream;
  if (dt === a.dtype && stream === a.stream) return a;
  const shape = [...a.shape];
  if (dt.size !== a.dtype.size) {
    const what = `a ${a.dtype.name} array of shape ${fmtShape(a.shape)} as ${dt.name}`;
    if (a.ndim === 0) throw new Error(`[view] cannot view ${what}: a 0-d array can only be viewed as a dtype of the same size (${a.dtype.size} bytes), got ${dt.size}`);
    const bytes = shape[a.ndim - 1] * a.dtype.size;
    if (bytes % dt.size !== 0) throw new Error(`[view] cannot view ${what}: the last axis holds ${bytes} bytes, which is not a multiple of the ${dt.size}-byte itemsize`);
    shape[a.ndim - 1] = bytes / dt.size;
  }
  return bind1(View, [a], { dtype: dt.name }, { shape, dtype: dt }, stream);
}
