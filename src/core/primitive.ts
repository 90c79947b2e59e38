// The primitive registry. A primitive is a small declaration: its name and its rules for
// the transforms. Backends evaluate it by name; ops (src/core/ops) check inputs, work out
// output shapes and dtypes, and bind it into the graph.
import { Array, Node } from './array.js';
import type { DType } from './dtype.js';
import type { Stream } from './device.js';

export interface Spec { shape: readonly number[]; dtype: DType }

export interface RuleContext<P> {
  inputs: Array[];
  outputs: Array[];
  params: P;
}

export interface Primitive<P = unknown> {
  readonly name: string;
  /** Cotangents of the outputs (zeros filled in) to cotangents of the inputs (null: none). */
  vjp?: (cotangents: Array[], ctx: RuleContext<P>) => (Array | null)[];
  /** Tangents of the inputs (null: zero) to tangents of the outputs. */
  jvp?: (tangents: (Array | null)[], ctx: RuleContext<P>) => Array[];
  /** Batched inputs with their batch axes (null: unbatched) to outputs and their batch axes. */
  vmap?: (inputs: Array[], axes: (number | null)[], params: P) => [Array[], number[]];
  /** Gradients through this primitive are zero (argmax, comparisons, integer ops); says why. */
  nonDifferentiable?: string;
}

const registry = new Map<string, Primitive<never>>();

export function definePrimitive<P>(def: Primitive<P>): Primitive<P> {
  if (registry.has(def.name)) throw new Error(`[primitive] '${def.name}' is defined twice`);
  registry.set(def.name, def as Primitive<never>);
  return def;
}

export function primitives(): string[] { return [...registry.keys()].sort(); }
export function getPrimitive(name: string): Primitive<unknown> | undefined {
  return registry.get(name) as Primitive<unknown> | undefined;
}

/** Adds a node to the graph. Params must be plain JSON data (compile compares them). */
export function bind<P>(prim: Primitive<P>, inputs: Array[], params: P, specs: Spec[], stream: Stream): Array[] {
  const outs = specs.map((s) => new Array(s.shape, s.dtype, stream));
  const node = new Node(prim as Primitive, inputs, params, outs);
  for (const o of outs) o._node = node;
  return outs;
}

export function bind1<P>(prim: Primitive<P>, inputs: Array[], params: P, spec: Spec, stream: Stream): Array {
  return bind(prim, inputs, params, [spec], stream)[0];
}
