// astype: dtype conversion (as a C cast), also the copy between devices.
import { Array, setCopyImpl, asArray, ArrayLike } from '../array.js';
import { DType, DTypeLike, toDtype } from '../dtype.js';
import { OpOptions, Stream, toStream } from '../device.js';
import { definePrimitive, bind1 } from '../primitive.js';
import { zerosLike } from './creation.js';

export interface AstypeParams { dtype: string }

// A cast is linear where it is differentiable (between floats); integers carry no gradient.
export const Astype = definePrimitive<AstypeParams>({
  name: 'astype',
  vjp: ([g], { inputs: [x] }) => [x.dtype.isFloat ? astype(g, x.dtype) : null],
  jvp: ([t], { outputs: [y] }) => [t ? astype(t, y.dtype) : zerosLike(y)],
  vmap: ([x], [ax], p) => [[astype(x, toDtype(p.dtype as DTypeLike))], [ax!]],
});

/**
 * Converts to `dtype` as a C cast: floats truncate toward zero into integers, integers wrap
 * into narrower ones, anything nonzero (NaN included) is true, and floats round to nearest
 * even (64-bit integers round once). Out-of-range float to integer casts are unspecified.
 */
export function astype(x: ArrayLike, dtype: DTypeLike, opts?: OpOptions): Array {
  const a = asArray(x);
  const dt = toDtype(dtype, 'astype');
  const stream = opts?.stream ? toStream(opts.stream) : a.stream;
  if (dt === a.dtype && stream === a.stream) return a;
  return bind1(Astype, [a], { dtype: dt.name }, { shape: a.shape, dtype: dt }, stream);
}

/** A copy of `x` on another stream or device, with the same values. */
export function copyTo(x: Array, dtype: DType, stream: Stream): Array {
  return bind1(Astype, [x], { dtype: dtype.name }, { shape: x.shape, dtype }, stream);
}
setCopyImpl(copyTo);
