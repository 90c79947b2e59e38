// How a fast op reaches a kernel. Each fused op is a primitive with a reference built from
// basic ops (MLX's `fallback_`). `apply` binds the primitive where the stream's backend has
// a kernel registered under its name, and runs the reference where it has none: a backend
// gains a fused kernel by registering one name, op by op, and every op runs everywhere.
// The primitive registry and the backend table are not public API (as in MLX, where fast
// ops are C++ primitives), so this is the one file of src/fast that reaches into the core.
import * as mx from '../core/index.js';
import type { Array, Stream, StreamOrDevice } from '../core/index.js';
import { definePrimitive, bind, type Primitive, type RuleContext, type Spec } from '../core/primitive.js';
import { backendFor, type Backend } from '../core/backend.js';

export type { Spec };
export type Reference<P> = (inputs: Array[], params: P) => Array[];

export interface FastDefinition<P> {
  /** The primitive's name: the key a backend registers its kernel under. */
  name: string;
  /** The op from basic ops: the fallback where a backend has no kernel, and the oracle in tests. */
  reference: Reference<P>;
  /** Rules; a missing one is derived from the reference (differentiating or mapping it). */
  vjp?: (cotangents: Array[], ctx: RuleContext<P>) => (Array | null)[];
  jvp?: (tangents: (Array | null)[], ctx: RuleContext<P>) => Array[];
  vmap?: (inputs: Array[], axes: (number | null)[], params: P) => [Array[], number[]];
}

export interface FastPrimitive<P> {
  readonly prim: Primitive<P>;
  readonly reference: Reference<P>;
  /** The node for the kernel where `stream`'s backend has one, else the reference's result. */
  apply(inputs: Array[], params: P, specs: Spec[], stream: Stream): Array[];
  /** The rules derived from the reference, for custom rules that fall back on them. */
  referenceVmap(inputs: Array[], axes: (number | null)[], params: P): [Array[], number[]];
}

const call = <P>(ref: Reference<P>, params: P) => (...xs: Array[]) => ref(xs, params);

export function defineFast<P>(def: FastDefinition<P>): FastPrimitive<P> {
  const { reference } = def;
  const referenceVmap = (inputs: Array[], axes: (number | null)[], params: P): [Array[], number[]] => {
    const outs = mx.vmap(call(reference, params), axes, 0)(...inputs);
    return [outs, outs.map(() => 0)];
  };
  const prim = definePrimitive<P>({
    name: def.name,
    vjp: def.vjp ?? ((cts, { inputs, params }) => mx.vjp(call(reference, params), inputs, cts)[1]),
    jvp: def.jvp ?? ((ts, { inputs, params }) =>
      mx.jvp(call(reference, params), inputs, inputs.map((x, i) => ts[i] ?? mx.zerosLike(x)))[1]),
    vmap: def.vmap ?? referenceVmap,
  });
  return {
    prim,
    reference,
    referenceVmap,
    apply: (inputs, params, specs, stream) =>
      (hasKernel(def.name, stream) ? bind(prim, inputs, params, specs, stream) : reference(inputs, params)),
  };
}

// Kernels are registered once and never removed: positive answers are cached (the
// backends compute `unimplemented` from the whole registry on each read).
const known = new WeakMap<Backend, Set<string>>();

/** Whether the backend of `stream` evaluates primitive `name` itself. */
export function hasKernel(name: string, stream: Stream): boolean {
  const backend = backendFor(stream.device);
  let names = known.get(backend);
  if (!names) known.set(backend, (names = new Set()));
  if (names.has(name)) return true;
  if (backend.unimplemented.includes(name)) return false;
  names.add(name);
  return true;
}

/** The stream an op runs on: `stream` if given (a device means its default stream), else the input's. */
export function streamOf(x: Array, stream?: StreamOrDevice): Stream {
  if (!stream) return x.stream;
  return stream instanceof mx.Stream ? stream : mx.defaultStream(stream);
}

export const fmt = (s: readonly number[]): string => `(${s.join(',')}${s.length === 1 ? ',' : ''})`;

/** Checks that `x` holds floating-point values (the fused ops have no integer kernels). */
export function checkFloat(where: string, name: string, x: Array): void {
  if (!x.dtype.isFloat) throw new Error(`[${where}] ${name} must be floating point, got ${x.dtype.name}`);
}

/**
 * vmap for ops that work row by row over the last axis and take leading axes as batch:
 * `rowInputs` (the first ones) move their mapped axis to the front, and the rest must be
 * unmapped, else the reference is mapped instead. `op` rebuilds the batched call.
 */
export function rowwiseVmap<P>(fast: () => FastPrimitive<P>, rowInputs: number, op: (inputs: Array[], params: P) => Array[]) {
  return (inputs: Array[], axes: (number | null)[], params: P): [Array[], number[]] => {
    if (axes.slice(rowInputs).some((a) => a !== null)) return fast().referenceVmap(inputs, axes, params);
    const n = inputs[axes.findIndex((a) => a !== null)].shape[axes.find((a) => a !== null)!];
    const rows = inputs.slice(0, rowInputs).map((x, i) => {
      const ax = axes[i];
      return ax === null ? mx.broadcastTo(mx.expandDims(x, 0), [n, ...x.shape]) : mx.moveaxis(x, ax, 0);
    });
    const outs = op([...rows, ...inputs.slice(rowInputs)], params);
    return [outs, outs.map(() => 0)];
  };
}

/**
 * A primitive with no reference and no derivative (user kernels): `why` says what to do
 * instead of differentiating it, and mapping it over a batch fails with the same advice.
 */
export function defineOpaque<P>(name: string, why: string): Primitive<P> {
  return definePrimitive<P>({
    name,
    nonDifferentiable: why,
    vmap: () => { throw new Error(`[${name}] cannot be mapped with vmap: ${why}`); },
  });
}

export { bind };
