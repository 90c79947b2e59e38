// mx.customFunction: a function whose vjp, jvp or vmap the user supplies. Calling it runs fn
// and wraps the results in one 'customFunction' node over [inputs..., fn's outputs...] that
// hands fn's outputs through. Without an override, a transform passes straight through the
// node into fn's own graph; with one, it calls the user's rule on the inputs instead.
import { Array, Node } from '../array.js';
import { definePrimitive, bind, Primitive, RuleContext } from '../primitive.js';
import { zerosLike } from '../ops/creation.js';
import { broadcastTo, expandDims } from '../ops/shape.js';
import { treeLeaves, treeMapArrays, treeReplaceLeaves } from '../tree.js';
import { broadcastPrefix, callFn } from './trace.js';

/** Where an argument or output tree held arrays, as JSON, so node params stay plain data. */
type Skeleton = unknown;
const MARK = '$array';
const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  x !== null && typeof x === 'object' && (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null);
const isMark = (x: unknown): boolean => isPlainObject(x) && Object.keys(x).length === 1 && x[MARK] === true;
const skeleton = (t: unknown): Skeleton => treeMapArrays(t, () => ({ [MARK]: true }));

/** The tree of `sk` with its marks replaced by `leaves`, in order (other values kept as they are). */
function fill(sk: Skeleton, leaves: readonly unknown[]): unknown {
  let i = 0;
  const walk = (x: unknown): unknown => {
    if (isMark(x)) return leaves[i++];
    if (globalThis.Array.isArray(x)) return x.map(walk);
    if (isPlainObject(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, walk(v)]));
    return x;
  };
  return walk(sk);
}

export interface CustomParams { nIn: number; inTree: Skeleton; outTree: Skeleton }

/** Replaces arrays by a value per leaf: the axes a vmap rule gets, in the arguments' shape. */
export type AxesOf<T> = T extends Array ? number | null : T extends readonly unknown[] ? { [K in keyof T]: AxesOf<T[K]> } : T extends object ? { [K in keyof T]: AxesOf<T[K]> } : T;
/** One gradient per primal (null: zero); a lone array stands for the gradient of a single primal. */
export type GradsOf<P extends readonly unknown[]> = { [K in keyof P]: P[K] | null } | Array;

type Fn = (...args: never[]) => unknown;
export interface CustomRules<F extends Fn> {
  vjp?: (primals: Parameters<F>, cotangents: ReturnType<F>, outputs: ReturnType<F>) => GradsOf<Parameters<F>>;
  jvp?: (primals: Parameters<F>, tangents: Parameters<F>) => ReturnType<F>;
  vmap?: (inputs: Parameters<F>, axes: AxesOf<Parameters<F>>) => [ReturnType<F>, unknown];
}

export interface CustomFunction<F extends Fn> {
  (...args: Parameters<F>): ReturnType<F>;
  /** Sets the vjp: (primals, cotangents, outputs) => one gradient per primal. */
  vjp(rule: NonNullable<CustomRules<F>['vjp']>): CustomFunction<F>;
  /** Sets the jvp: (primals, tangents) => the outputs' tangents. */
  jvp(rule: NonNullable<CustomRules<F>['jvp']>): CustomFunction<F>;
  /** Sets the vmap: (inputs, axes) => [outputs, outAxes]. */
  vmap(rule: NonNullable<CustomRules<F>['vmap']>): CustomFunction<F>;
}

type Rules = { vjp?: (...a: never[]) => unknown; jvp?: (...a: never[]) => unknown; vmap?: (...a: never[]) => unknown };
/** Each custom function has its own primitive object (same name, own rules). */
const rulesOf = new WeakMap<Primitive<never>, Rules>();

/** Batch size of the first batched input. */
function batchSize(ins: Array[], axes: (number | null)[]): number {
  const i = axes.findIndex((a) => a !== null);
  return ins[i].shape[axes[i]!];
}
const withBatch = (y: Array, ax: number | null, n: number): Array => (ax === null ? broadcastTo(expandDims(y, 0), [n, ...y.shape]) : y);

// Default rules: hand the node through to fn's outputs (the trailing inputs).
const passVjp = (cts: Array[], { params: { nIn } }: RuleContext<CustomParams>) => [...new globalThis.Array<null>(nIn).fill(null), ...cts];
const passJvp = (ts: (Array | null)[], { outputs, params: { nIn } }: RuleContext<CustomParams>) => outputs.map((y, i) => ts[nIn + i] ?? zerosLike(y));
const passVmap = (ins: Array[], axes: (number | null)[], { nIn }: CustomParams): [Array[], number[]] => {
  const n = batchSize(ins, axes);
  return [ins.slice(nIn).map((y, i) => withBatch(y, axes[nIn + i], n)), ins.slice(nIn).map((_, i) => axes[nIn + i] ?? 0)];
};

export const CustomFunctionPrimitive = definePrimitive<CustomParams>({ name: 'customFunction', vjp: passVjp, jvp: passJvp, vmap: passVmap });

function customPrimitive(rules: Rules): Primitive<CustomParams> {
  const prim: Primitive<CustomParams> = {
    name: 'customFunction',
    vjp: (cts, ctx) => (rules.vjp ? customVjp(rules, cts, ctx) : passVjp(cts, ctx)),
    jvp: (ts, ctx) => (rules.jvp ? customJvp(rules, ts, ctx) : passJvp(ts, ctx)),
    vmap: (ins, axes, params) => (rules.vmap ? customVmap(rules, ins, axes, params) : passVmap(ins, axes, params)),
  };
  rulesOf.set(prim as Primitive<never>, rules);
  return prim;
}

function customVjp(rules: Rules, cts: Array[], { inputs, outputs, params: { nIn, inTree, outTree } }: RuleContext<CustomParams>): (Array | null)[] {
  const primals = fill(inTree, inputs.slice(0, nIn)) as unknown[];
  const rule = rules.vjp as (p: unknown[], c: unknown, o: unknown) => unknown;
  const res = rule(primals, fill(outTree, cts), fill(outTree, outputs));
  const perArg = res instanceof Array && primals.length === 1 ? [res] : res;
  if (!globalThis.Array.isArray(perArg) || perArg.length !== primals.length)
    throw new Error(`[customFunction] the vjp rule must return a list with one gradient per primal (${primals.length}), got ${globalThis.Array.isArray(perArg) ? `${perArg.length} entries` : typeof perArg}`);
  const grads: (Array | null)[] = [];
  perArg.forEach((g, i) => {
    const want = treeLeaves(primals[i]);
    if (g === null || g === undefined) { grads.push(...want.map(() => null)); return; }
    const got = treeLeaves(g);
    if (got.length !== want.length) throw new Error(`[customFunction] the vjp rule returned ${got.length} arrays for primal ${i}, which holds ${want.length}`);
    grads.push(...got);
  });
  return [...grads, ...outputs.map(() => null)];
}

function customJvp(rules: Rules, ts: (Array | null)[], { inputs, outputs, params: { nIn, inTree } }: RuleContext<CustomParams>): Array[] {
  const xs = inputs.slice(0, nIn);
  const rule = rules.jvp as (p: unknown, t: unknown) => unknown;
  const got = treeLeaves(rule(fill(inTree, xs), fill(inTree, xs.map((x, i) => ts[i] ?? zerosLike(x)))));
  if (got.length !== outputs.length) throw new Error(`[customFunction] the jvp rule returned ${got.length} tangents for ${outputs.length} outputs`);
  return got;
}

function customVmap(rules: Rules, ins: Array[], axes: (number | null)[], { nIn, inTree }: CustomParams): [Array[], number[]] {
  const rule = rules.vmap as (i: unknown, a: unknown) => unknown;
  const res = rule(fill(inTree, ins.slice(0, nIn)), fill(inTree, axes.slice(0, nIn)));
  if (!globalThis.Array.isArray(res) || res.length !== 2) throw new Error('[customFunction] the vmap rule must return [outputs, outAxes]');
  const outs = treeLeaves(res[0]);
  const outAxes = broadcastPrefix('customFunction', 'outAxes', res[1], res[0], (p): p is number | null => p === null || typeof p === 'number');
  const n = batchSize(ins, axes);
  return [outs.map((y, i) => withBatch(y, outAxes[i], n)), outAxes.map((a) => a ?? 0)];
}

/** The inputs of `node` that its `rule` reads: a user's rule reads the arguments, the default fn's outputs. */
export function customInputsUsed(node: Node, rule: 'jvp' | 'vmap'): readonly Array[] {
  const rules = rulesOf.get(node.prim as Primitive<never>);
  if (!rules && node.prim !== (CustomFunctionPrimitive as Primitive<unknown>)) return node.inputs;
  const { nIn } = node.params as CustomParams;
  return rules?.[rule] ? node.inputs.slice(0, nIn) : node.inputs.slice(nIn);
}

/**
 * `mx.customFunction(fn)`: fn with overridable transforms, like MLX's `mx.custom_function`:
 * `const f = mx.customFunction(fn).vjp((primals, cotangents, outputs) => grads)`.
 */
export function customFunction<F extends Fn>(fn: F): CustomFunction<F> {
  const rules: Rules = {};
  const prim = customPrimitive(rules);
  const call = (...args: Parameters<F>): ReturnType<F> => {
    const xs = treeLeaves(args);
    const out = callFn(fn, args);
    const ys = treeLeaves(out);
    if (!ys.length) return out as ReturnType<F>;
    const params: CustomParams = { nIn: xs.length, inTree: skeleton(args), outTree: skeleton(out) };
    const res = bind(prim, [...xs, ...ys], params, ys.map((y) => ({ shape: y.shape, dtype: y.dtype })), ys[0].stream);
    return treeReplaceLeaves(out, res) as ReturnType<F>;
  };
  const cf = call as CustomFunction<F>;
  cf.vjp = (rule) => { rules.vjp = rule; return cf; };
  cf.jvp = (rule) => { rules.jvp = rule; return cf; };
  cf.vmap = (rule) => { rules.vmap = rule; return cf; };
  return cf;
}

// ---------------------------------------------------------------- depends

/** Outputs are the first n inputs, unchanged; the rest only have to be computed first. */
export const Depends = definePrimitive<{ n: number }>({
  name: 'depends',
  vjp: (cts, { inputs, params: { n } }) => inputs.map((_, i) => (i < n ? cts[i] : null)),
  jvp: (ts, { outputs }) => outputs.map((y, i) => ts[i] ?? zerosLike(y)),
  vmap: (ins, axes, { n }) => {
    const b = batchSize(ins, axes);
    const xs = ins.slice(0, n).map((x, i) => withBatch(x, axes[i], b));
    return [depends(xs, ins.slice(n)), axes.slice(0, n).map((a) => a ?? 0)];
  },
});

/**
 * `xs` again, through a node that also takes `deps`, so whatever reads the result runs
 * after `deps` are computed (checkpoint uses it to delay recomputation to the backward pass).
 */
export function depends(xs: readonly Array[], deps: readonly Array[]): Array[] {
  if (!xs.length || !deps.length) return [...xs];
  return bind(Depends, [...xs, ...deps], { n: xs.length }, xs.map((x) => ({ shape: x.shape, dtype: x.dtype })), xs[0].stream);
}
