// A compiled function's traced graph, kept as a tape: nodes in topological order over
// numbered value slots (inputs, then constants, then node outputs). Built once from the
// graph that tracing left behind, simplified (dead code, common subexpressions), and
// replayed on real inputs by binding each node again.
import { Array, Node } from '../array.js';
import type { Stream } from '../device.js';
import { definePrimitive, bind, bind1, Primitive, Spec } from '../primitive.js';
import { evalArrays, readHostSync } from '../eval.js';
import { keep } from '../scope.js';
import { broadcastShapes } from '../ops/util.js';
import { unaryPrimitives } from '../ops/unary.js';
import { binaryPrimitives } from '../ops/binary.js';
import { reducePrimitives } from '../ops/reduce.js';
import { fusedOutputShapes, type FusedParams } from './fused.js';

export interface TapeNode {
  prim: Primitive;
  params: unknown;
  /** Slots read, in order. */
  args: number[];
  /** Slots written, one per output. */
  outs: number[];
  specs: Spec[];
  stream: Stream;
}

export interface Tape {
  nInputs: number;
  /** The traced inputs' shapes. */
  inputShapes: (readonly number[])[];
  /** Captured arrays, in slots nInputs.. nInputs + consts.length - 1. */
  consts: Array[];
  nodes: TapeNode[];
  outputs: number[];
  nSlots: number;
}

/** Stand-ins that tracing runs on: they have a shape and dtype but never data. */
export const CompileInput = definePrimitive<Record<string, never>>({
  name: 'compileInput',
  nonDifferentiable: 'a compile stand-in has no value',
  vmap: () => { throw new Error('[compile] cannot vmap a stand-in input of a function being traced'); },
});

export function standIn(like: Array): Array {
  return bind1(CompileInput, [], {}, { shape: like.shape, dtype: like.dtype }, like.stream);
}

/** Primitives whose output is their inputs broadcast together, computed element by element. */
export function isElementwise(name: string): boolean {
  return name in unaryPrimitives || name in binaryPrimitives || name === 'select' || name === 'astype';
}

/**
 * The tape computing `outputs` from the stand-ins `inputs`. Only nodes that depend on an
 * input are recorded (so dead code never enters); every other array reached is a constant,
 * kept by reference. Arrays made during the trace (id >= firstId) are kept out of tidy().
 */
export function buildTape(inputs: Array[], outputs: Array[], firstId: number): Tape {
  const isInput = new Set(inputs);
  const depends = new Map<Node, boolean>();
  const ordered: Node[] = [];
  const isTraced = (a: Array) => isInput.has(a) || (!a._buf && !!a._node && depends.get(a._node) === true);

  // Post-order walk, iterative so deep graphs do not overflow the stack.
  const stack: { node: Node; next: number }[] = [];
  const visit = (a: Array) => { if (!isInput.has(a) && !a._buf && a._node && !depends.has(a._node)) stack.push({ node: a._node, next: 0 }); };
  for (const out of outputs) {
    visit(out);
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (depends.has(top.node)) { stack.pop(); continue; }
      if (top.next < top.node.inputs.length) { visit(top.node.inputs[top.next++]); continue; }
      stack.pop();
      const dep = top.node.inputs.some(isTraced);
      depends.set(top.node, dep);
      if (dep) ordered.push(top.node);
    }
  }

  // Slots: inputs, then constants, then node outputs.
  const slot = new Map<Array, number>(inputs.map((a, i) => [a, i]));
  const consts: Array[] = [];
  const capture = (a: Array) => { if (!isTraced(a) && !slot.has(a)) { slot.set(a, inputs.length + consts.length); consts.push(a); } };
  for (const node of ordered) node.inputs.forEach(capture);
  outputs.forEach(capture);
  let nSlots = inputs.length + consts.length;
  const nodes: TapeNode[] = ordered.map((node) => ({
    prim: node.prim,
    params: node.params,
    args: node.inputs.map((x) => slot.get(x)!),
    outs: node.outputs.map((o) => { slot.set(o, nSlots); return nSlots++; }),
    specs: node.outputs.map((o) => ({ shape: o.shape, dtype: o.dtype })),
    stream: node.outputs[0].stream,
  }));
  prepareConstants(consts, firstId);
  return { nInputs: inputs.length, inputShapes: inputs.map((a) => a.shape), consts, nodes, outputs: outputs.map((o) => slot.get(o)!), nSlots };
}

/**
 * Keeps captured arrays alive and computed: those made during the trace leave tidy()'s
 * reach, and lazy ones are evaluated once now (unless they hang off another trace's
 * stand-ins) so replays do not recompute them.
 */
function prepareConstants(consts: Array[], firstId: number): void {
  const lazy: Array[] = [];
  for (const c of consts) {
    let computable = true;
    const seen = new Set<Array>();
    const todo = [c];
    while (todo.length) {
      const a = todo.pop()!;
      if (seen.has(a)) continue;
      seen.add(a);
      if (a.id >= firstId) keep(a);
      if (a._buf) continue;
      if (!a._node || a._node.prim === CompileInput) { computable = false; continue; }
      todo.push(...a._node.inputs);
    }
    if (!c._buf && computable) lazy.push(c);
  }
  if (lazy.length) evalArrays(lazy);
}

// Primitives compare by identity: customFunction makes one per function under one name.
const primIds = new WeakMap<Primitive, number>();
let nextPrimId = 0;
const primId = (p: Primitive) => { let id = primIds.get(p); if (id === undefined) primIds.set(p, (id = nextPrimId++)); return id; };

/** Merges equal scalar constants, then nodes with the same primitive, params and inputs. */
export function eliminateCommonSubexpressions(tape: Tape): void {
  const canon = new Map<number, number>();
  const get = (s: number) => canon.get(s) ?? s;
  const scalars = new Map<string, number>();
  tape.consts.forEach((c, i) => {
    if (!c._buf || c.size !== 1) return;
    let bits: unknown;
    try { bits = readHostSync(c)[0]; } catch { return; } // backends without synchronous reads
    const key = `${c.dtype.name}|${c.shape.join(',')}|${c.stream.index}|${typeof bits === 'bigint' ? bits : Object.is(bits, -0) ? '-0' : bits}`;
    const s = tape.nInputs + i;
    if (scalars.has(key)) canon.set(s, scalars.get(key)!); else scalars.set(key, s);
  });
  const seen = new Map<string, TapeNode>();
  tape.nodes = tape.nodes.filter((n) => {
    n.args = n.args.map(get);
    const key = `${primId(n.prim)}|${JSON.stringify(n.params)}|${n.args.join(',')}|${n.stream.index}|${n.specs.map((s) => `${s.dtype.name}(${s.shape.join(',')})`).join(',')}`;
    const same = seen.get(key);
    if (!same) { seen.set(key, n); return true; }
    n.outs.forEach((s, i) => canon.set(s, same.outs[i]));
    return false;
  });
  tape.outputs = tape.outputs.map(get);
}

/** Output shapes of a node for new input shapes, or null where its params fix the shapes. */
type ShapeRule = (inShapes: (readonly number[])[], params: unknown, traced: { ins: (readonly number[])[]; outs: (readonly number[])[] }) => number[][] | null;

const elementwiseRule: ShapeRule = (ins, _p, t) => { const s = broadcastShapes('compile', ...ins); return t.outs.map(() => s); };

const reductionRule: ShapeRule = ([x], p) => {
  const axes = (p as { axes?: unknown }).axes;
  if (!globalThis.Array.isArray(axes) || axes.some((a) => typeof a !== 'number' || a < 0 || a >= x.length)) return null;
  return [x.map((d, i) => (axes.includes(i) ? 1 : d))];
};

/** A reshape that only adds or drops size-1 axes (as keepdims=false does) maps dims one to one. */
const reshapeRule: ShapeRule = ([x], _p, t) => {
  const tin = t.ins[0], tout = t.outs[0];
  if (x.length !== tin.length) return null;
  const out: number[] = [];
  let i = 0;
  for (const d of tout) {
    while (i < tin.length && tin[i] !== d && tin[i] === 1) { if (x[i] !== 1) return null; i++; }
    if (i < tin.length && tin[i] === d) out.push(x[i++]);
    else if (d === 1) out.push(1);
    else return null;
  }
  for (; i < tin.length; i++) if (tin[i] !== 1 || x[i] !== 1) return null;
  return [out];
};

const transposeRule: ShapeRule = ([x], p) => [(p as { axes: number[] }).axes.map((a) => x[a])];

function shapeRule(name: string): ShapeRule | null {
  if (name === 'fused') return (ins, p) => fusedOutputShapes(ins, p as FusedParams); // row programs have per-row outputs
  if (isElementwise(name)) return elementwiseRule;
  if (name in reducePrimitives) return reductionRule;
  if (name === 'reshape') return reshapeRule;
  if (name === 'transpose') return transposeRule;
  return null;
}

const sameShapes = (a: (readonly number[])[] | null, b: (readonly number[])[]) =>
  !!a && a.length === b.length && a.every((s, i) => s.length === b[i].length && s.every((d, j) => d === b[i][j]));

/** Per node, its traced input shapes; a tape can replay across shapes when every rule reproduces them. */
export interface ShapelessInfo { inShapes: (readonly number[])[][] }

export function shapelessInfo(tape: Tape): ShapelessInfo | null {
  const shapes: (readonly number[])[] = [...tape.inputShapes];
  tape.consts.forEach((c, i) => { shapes[tape.nInputs + i] = c.shape; });
  const inShapes: (readonly number[])[][] = [];
  for (const n of tape.nodes) n.outs.forEach((s, i) => { shapes[s] = n.specs[i].shape; });
  for (const n of tape.nodes) {
    const ins = n.args.map((s) => shapes[s]);
    const outs = n.specs.map((s) => s.shape);
    const rule = shapeRule(n.prim.name);
    let got: number[][] | null = null;
    try { got = rule && rule(ins, n.params, { ins, outs }); } catch { got = null; }
    if (!sameShapes(got, outs)) return null;
    inShapes.push(ins);
  }
  return { inShapes };
}

/**
 * Binds the tape's nodes on `inputs`, giving ordinary lazy arrays. With `shapeless`, output
 * shapes are worked out anew from the inputs' shapes; null means some node cannot (retrace).
 */
export function replay(tape: Tape, inputs: Array[], shapeless?: ShapelessInfo): Array[] | null {
  const vals: Array[] = new globalThis.Array(tape.nSlots);
  inputs.forEach((a, i) => { vals[i] = a; });
  tape.consts.forEach((c, i) => { vals[tape.nInputs + i] = c; });
  for (const [j, n] of tape.nodes.entries()) {
    const ins = n.args.map((s) => vals[s]);
    let specs = n.specs;
    if (shapeless) {
      const inShapes = ins.map((x) => x.shape);
      const outs = n.specs.map((s) => s.shape);
      let shapes: number[][] | null;
      // Shapes the trace's constants cannot broadcast with: retrace rather than fail.
      try { shapes = shapeRule(n.prim.name)!(inShapes, n.params, { ins: shapeless.inShapes[j], outs }); } catch { shapes = null; }
      if (!shapes) return null;
      specs = shapes.map((shape, i) => ({ shape, dtype: n.specs[i].dtype }));
    }
    bind(n.prim, ins, n.params, specs, n.stream).forEach((o, i) => { vals[n.outs[i]] = o; });
  }
  return tape.outputs.map((s) => vals[s]);
}
