// The 'fused' primitive: a chain of elementwise ops that compile() merged into one node.
// Its params are a small program over input slots, which backends render into one loop.
// A row program (`rows`) also holds reductions over the last axis: its values have the
// full shape F (the inputs broadcast together) or, marked `row`, F with the last axis 1.
// The transforms re-expand the program into its original primitives, so gradients, jvps
// and vmaps of a fused node are exactly those of the unfused subgraph.
import { Array } from '../array.js';
import { DTypeName, dtypes } from '../dtype.js';
import type { Stream } from '../device.js';
import { definePrimitive, bind1, getPrimitive, Primitive } from '../primitive.js';
import { add } from '../ops/binary.js';
import { astype } from '../ops/astype.js';
import { zerosLike } from '../ops/creation.js';
import { broadcastTo, reshape } from '../ops/shape.js';
import { broadcastShapes } from '../ops/util.js';

/** One op of a fused program. Value k < nInputs is input k; value nInputs + j is op j. */
export interface FusedOp {
  prim: string;
  args: number[];
  dtype: DTypeName;
  params: unknown;
  /** In a row program: the value has one element per row (shape F with the last axis 1). */
  row?: boolean;
}

export interface FusedParams {
  nInputs: number;
  ops: FusedOp[];
  /** The values the node outputs, in order; all have the node's (broadcast) shape, or per row in a row program. */
  outputs: number[];
  /** A row program: reductions over the last axis (ROW_REDUCTIONS) among the ops. */
  rows?: boolean;
}

/** The reductions a row program may hold (over the last axis, keeping it as size 1). */
export const ROW_REDUCTIONS: ReadonlySet<string> = new Set(['sum', 'max', 'min', 'prod']);

/** The output shapes of a fused node over inputs of `inShapes` (compile's shapeless replays). */
export function fusedOutputShapes(inShapes: (readonly number[])[], p: FusedParams): number[][] {
  const full = broadcastShapes('compile', ...inShapes);
  return p.outputs.map((v) => (v >= p.nInputs ? shapeOfOp(p.ops[v - p.nInputs], full) : [...full]));
}

/** A value's shape in a program whose full shape is `full`. */
const shapeOfOp = (op: FusedOp, full: readonly number[]): number[] => (op.row ? [...full.slice(0, -1), 1] : [...full]);

/** The full shape of a node: its inputs broadcast together (row programs), else its outputs' shape. */
function fullShape(p: FusedParams, inputs: Array[], outputs: Array[]): readonly number[] {
  return p.rows ? broadcastShapes('fused', ...inputs.map((x) => x.shape)) : outputs[0].shape;
}

function primOf(name: string): Primitive {
  const p = getPrimitive(name);
  if (!p) throw new Error(`[fused] unknown primitive '${name}' in a fused program`);
  return p;
}

/**
 * Rebuilds the unfused subgraph on `inputs`: every value of the program, inputs first.
 * `known` gives values already computed (the fused node's own outputs).
 */
function expand(inputs: Array[], p: FusedParams, shape: readonly number[], stream: Stream, known?: Map<number, Array>): Array[] {
  const vals = [...inputs];
  for (const op of p.ops) {
    const k = vals.length;
    vals.push(known?.get(k) ?? bind1(primOf(op.prim), op.args.map((a) => vals[a]), op.params, { shape: shapeOfOp(op, shape), dtype: dtypes[op.dtype] }, stream));
  }
  return vals;
}

const outputsKnown = (p: FusedParams, outs: Array[]) => new Map(p.outputs.map((v, i) => [v, outs[i]]));

export const Fused: Primitive<FusedParams> = definePrimitive<FusedParams>({
  name: 'fused',
  // Reverse mode through the expanded ops, accumulating cotangents per value.
  vjp: (cts, { inputs, outputs, params: p }) => {
    const vals = expand(inputs, p, fullShape(p, inputs, outputs), outputs[0].stream, outputsKnown(p, outputs));
    const grads: (Array | null)[] = vals.map(() => null);
    const accumulate = (k: number, g: Array) => {
      const x = vals[k];
      if (!x.dtype.isFloat) return; // as in vjp.ts: integer and bool values carry no gradient
      if (g.dtype !== x.dtype) g = astype(g, x.dtype);
      grads[k] = grads[k] ? add(grads[k]!, g) : g;
    };
    p.outputs.forEach((v, i) => accumulate(v, cts[i]));
    for (let j = p.ops.length - 1; j >= 0; j--) {
      const op = p.ops[j], k = p.nInputs + j, g = grads[k];
      const prim = primOf(op.prim);
      if (!g || prim.nonDifferentiable) continue;
      if (!prim.vjp) throw new Error(`[vjp] primitive '${op.prim}' (inside a fused node) has no vjp rule`);
      const gs = prim.vjp([g], { inputs: op.args.map((a) => vals[a]), outputs: [vals[k]], params: op.params });
      op.args.forEach((a, i) => { if (gs[i]) accumulate(a, gs[i]!); });
    }
    return grads.slice(0, p.nInputs);
  },
  // Forward mode: a value's tangent is null (zero) until some input's tangent reaches it.
  jvp: (tangents, { inputs, outputs, params: p }) => {
    const vals = expand(inputs, p, fullShape(p, inputs, outputs), outputs[0].stream, outputsKnown(p, outputs));
    const tans: (Array | null)[] = [...tangents, ...p.ops.map(() => null)];
    p.ops.forEach((op, j) => {
      const ts = op.args.map((a) => tans[a]);
      const prim = primOf(op.prim);
      if (ts.every((t) => t === null) || prim.nonDifferentiable) return;
      if (!prim.jvp) throw new Error(`[jvp] primitive '${op.prim}' (inside a fused node) has no jvp rule`);
      const k = p.nInputs + j;
      tans[k] = prim.jvp(ts, { inputs: op.args.map((a) => vals[a]), outputs: [vals[k]], params: op.params })[0];
    });
    return p.outputs.map((v, i) => tans[v] ?? zerosLike(outputs[i]));
  },
  // Each op's own vmap rule, in order; ops on unbatched values stay unbatched.
  vmap: (inputs, axes, p) => {
    const vals = [...inputs];
    const ax = [...axes];
    const stream = inputs[0].stream;
    for (const op of p.ops) {
      const xs = op.args.map((a) => vals[a]), xa = op.args.map((a) => ax[a]);
      const prim = primOf(op.prim);
      if (xa.every((a) => a === null)) {
        const shape = ROW_REDUCTIONS.has(op.prim) && p.rows
          ? xs[0].shape.map((d, i) => ((op.params as { axes: number[] }).axes.includes(i) ? 1 : d))
          : broadcastShapes('fused', ...xs.map((x) => x.shape));
        vals.push(bind1(prim, xs, op.params, { shape, dtype: dtypes[op.dtype] }, stream));
        ax.push(null);
        continue;
      }
      if (!prim.vmap) throw new Error(`[vmap] primitive '${op.prim}' (inside a fused node) has no vmap rule`);
      const [[y], [ya]] = prim.vmap(xs, xa, op.params);
      vals.push(y);
      ax.push(ya);
    }
    // An output that no batched input reaches gets the batch axis by broadcasting.
    const b = inputs.find((_, i) => axes[i] !== null)!;
    const size = b.shape[axes[inputs.indexOf(b)]!];
    const outs = p.outputs.map((v) => {
      const y = vals[v];
      return ax[v] === null ? broadcastTo(reshape(y, [1, ...y.shape]), [size, ...y.shape]) : y;
    });
    return [outs, p.outputs.map((v) => ax[v] ?? 0)];
  },
});
