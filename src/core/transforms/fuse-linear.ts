// GEMV fusion on a compiled tape: a decode step's matrix-vector products (x @ W^T with a
// few rows of x) are bandwidth bound and short, so launches dominate them. Where the
// backend says it runs them (fusesLinear: the GPU), three patterns become one
// 'fusedLinear' node each, one kernel launch:
//   - GLU:      swiglu/geglu(x @ Wg^T, x @ Wu^T)  -> act(gate)·up, gate and up computed together
//   - residual: add(x @ W^T, r), r of the product's shape and dtype (either operand order)
//   - siblings: matmuls reading the same x (q/k/v): one launch over all weights' rows,
//               one output per weight
// The node's reference is the unfused composition (the same primitives with the same
// params), and its kernel must give exactly what that gives (backend/cuda/kernels/gemv.ts).
// Model files are untouched: their weights stay separate arrays named as checkpoint keys.
import type { Array } from '../array.js';
import type { Device } from '../device.js';
import { definePrimitive, bind1, getPrimitive, type Primitive } from '../primitive.js';
import { Matmul, type MatmulParams } from '../ops/matmul.js';
import { binaryPrimitives } from '../ops/binary.js';
import { zerosLike } from '../ops/creation.js';
import { fusesLinear } from '../backend.js';
import { vjp } from './vjp.js';
import { jvp } from './jvp.js';
import { vmap } from './vmap.js';
import type { Tape, TapeNode } from './tape.js';

export type GluAct = 'silu' | 'gelu' | 'geluTanh';

/**
 * Inputs: x (..., K), then W_0 .. W_{weights-1} (each (..., N_j, K) with leading dims of 1),
 * then r for 'residual'. Outputs: 'none' one product per weight; 'glu' act(x W_0^T)·(x W_1^T);
 * 'residual' x W_0^T + r.
 */
export interface FusedLinearParams {
  weights: number;
  epilogue: 'none' | 'glu' | 'residual';
  /** 'glu': the gated primitive replaced ('swiglu' or 'geglu') and its activation. */
  glu?: string;
  act?: GluAct;
  /** The matmuls' params ({ transposeB: true }). */
  matmul: MatmulParams;
}

/** `enabled` false (LATHE_FUSE_LINEAR=0) leaves every tape alone: the unfused launches, for comparisons. */
export const fuseLinearOptions = { enabled: !(typeof process !== 'undefined' && process.env?.LATHE_FUSE_LINEAR === '0') };

/** Most rows of x (the product of its leading dims) a GEMV takes. */
export const MAX_ROWS = 4;
/** Most weights one node reads (the kernel takes a pointer and a row count per weight). */
export const MAX_WEIGHTS = 8;

/** The shape of x @ W^T for x (..., M, K) and W (..., N, K), batch dims broadcast. */
export function linearShape(x: readonly number[], w: readonly number[]): number[] {
  const nd = Math.max(x.length, w.length);
  const pad = (s: readonly number[]) => [...new globalThis.Array<number>(nd - s.length).fill(1), ...s];
  const xp = pad(x), wp = pad(w);
  return [...xp.slice(0, -2).map((d, i) => Math.max(d, wp[i])), xp[nd - 2], wp[nd - 2]];
}

/** The unfused composition, from the primitives the node replaced: its rules and the oracle of its kernels. */
export function fusedLinearReference(inputs: Array[], p: FusedLinearParams): Array[] {
  const [x, ...rest] = inputs;
  const stream = x.stream;
  const ys = rest.slice(0, p.weights).map((w) => bind1(Matmul, [x, w], p.matmul, { shape: linearShape(x.shape, w.shape), dtype: x.dtype }, stream));
  if (p.epilogue === 'none') return ys;
  const spec = { shape: ys[0].shape, dtype: ys[0].dtype };
  if (p.epilogue === 'residual') return [bind1(binaryPrimitives.add as Primitive<Record<string, never>>, [ys[0], rest[p.weights]], {}, spec, stream)];
  const glu = getPrimitive(p.glu ?? '');
  if (!glu) throw new Error(`[fusedLinear] the GLU epilogue names primitive '${p.glu}', which is not registered (import lathe/fast)`);
  return [bind1(glu, [ys[0], ys[1]], { act: p.act }, spec, stream)];
}

const asFn = (p: FusedLinearParams) => (...xs: Array[]) => fusedLinearReference(xs, p);

/**
 * compile() makes these nodes after tracing, so autodiff normally never meets them; but a
 * compiled function called inside grad/jvp/vmap replays its tape lazily, fused nodes
 * included, so each rule goes through the reference (as 'fused' re-expands its program).
 */
export const FusedLinear: Primitive<FusedLinearParams> = definePrimitive<FusedLinearParams>({
  name: 'fusedLinear',
  vjp: (cts, { inputs, params }) => vjp(asFn(params), inputs, cts)[1],
  jvp: (ts, { inputs, params }) => jvp(asFn(params), inputs, inputs.map((x, i) => ts[i] ?? zerosLike(x)))[1],
  vmap: (inputs, axes, params) => {
    const outs = vmap(asFn(params), axes, 0)(...inputs);
    return [outs, outs.map(() => 0)];
  },
});

const GLU = new Set(['swiglu', 'geglu']);
const FLOATS = new Set(['float32', 'float16', 'bfloat16']);
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** A matmul the GEMV kernels take: its node, x and W slots, N, and what siblings must share. */
interface Gemv { node: number; x: number; w: number; key: string }

/**
 * Rewrites `tape` in place (between common subexpressions and elementwise fusion) where
 * `runs` says the nodes' device has the kernel. Returns the fusedLinear nodes made and the
 * primitives merged into them.
 */
export function fuseLinear(tape: Tape, runs: (d: Device) => boolean = fusesLinear): { nodes: number; ops: number } {
  if (!fuseLinearOptions.enabled) return { nodes: 0, ops: 0 };
  const shapes: (readonly number[])[] = [...tape.inputShapes];
  tape.consts.forEach((c, i) => { shapes[tape.nInputs + i] = c.shape; });
  const producer = new Map<number, number>();
  const uses = new Map<number, number>();
  tape.nodes.forEach((n, i) => {
    n.outs.forEach((s, j) => { producer.set(s, i); shapes[s] = n.specs[j].shape; });
    for (const s of n.args) uses.set(s, (uses.get(s) ?? 0) + 1);
  });
  const isOutput = new Set(tape.outputs);
  /** Read once, by one node, and not a result of the tape: the value can live inside a kernel. */
  const feedsOnly = (s: number) => uses.get(s) === 1 && !isOutput.has(s);

  const gemvAt = (i: number | undefined): Gemv | null => {
    if (i === undefined) return null;
    const n = tape.nodes[i];
    if (n.prim !== (Matmul as Primitive) || n.outs.length !== 1 || n.args.length !== 2 || !runs(n.stream.device)) return null;
    const p = n.params as MatmulParams;
    const dtype = n.specs[0].dtype.name;
    if (p.transposeB !== true || p.transposeA || !FLOATS.has(dtype)) return null;
    const [x, w] = n.args;
    const xs = shapes[x], ws = shapes[w];
    if (x === w || xs.length < 2 || ws.length < 2) return null;
    const K = xs[xs.length - 1], N = ws[ws.length - 2];
    const rows = xs.slice(0, -1).reduce((a, b) => a * b, 1);
    if (K < 1 || N < 1 || rows < 1 || rows > MAX_ROWS || ws[ws.length - 1] !== K || ws.slice(0, -2).some((d) => d !== 1)) return null;
    if (!sameShape(n.specs[0].shape, linearShape(xs, ws))) return null;
    return { node: i, x, w, key: `${x}|${n.stream}|${dtype}|${K}|${JSON.stringify(p)}` };
  };

  const taken = new Set<number>(); // nodes merged away
  const placed = new Map<number, TapeNode>(); // node index -> the fusedLinear node put in its place
  const hoisted = new Map<number, number[]>(); // node index -> nodes moved just before it
  const moved = new Set<number>();
  let ops = 0;
  const linear = (at: TapeNode, args: number[], params: FusedLinearParams, outsOf: TapeNode[]): TapeNode => ({
    prim: FusedLinear as Primitive, params, args, outs: outsOf.flatMap((n) => n.outs), specs: outsOf.flatMap((n) => n.specs), stream: at.stream,
  });

  // act(gate)·up, both products of one x.
  tape.nodes.forEach((n, i) => {
    if (!GLU.has(n.prim.name) || n.outs.length !== 1 || n.args.length !== 2 || !runs(n.stream.device)) return;
    const [a, b] = n.args;
    if (a === b || !feedsOnly(a) || !feedsOnly(b)) return;
    const ga = gemvAt(producer.get(a)), gb = gemvAt(producer.get(b));
    if (!ga || !gb || ga.key !== gb.key) return;
    const [ma, mb] = [tape.nodes[ga.node], tape.nodes[gb.node]];
    if (ma.stream !== n.stream || !sameShape(ma.specs[0].shape, n.specs[0].shape) || !sameShape(mb.specs[0].shape, n.specs[0].shape) || ma.specs[0].dtype !== n.specs[0].dtype) return;
    taken.add(ga.node).add(gb.node);
    const act = (n.params as { act: GluAct }).act;
    placed.set(i, linear(n, [ga.x, ga.w, gb.w], { weights: 2, epilogue: 'glu', glu: n.prim.name, act, matmul: ma.params as MatmulParams }, [n]));
    ops += 3;
  });

  // x @ W^T + r.
  tape.nodes.forEach((n, i) => {
    if (n.prim.name !== 'add' || n.outs.length !== 1 || n.args.length !== 2 || !runs(n.stream.device)) return;
    for (const k of [0, 1]) {
      const y = n.args[k], r = n.args[1 - k];
      const g = gemvAt(producer.get(y));
      if (!g || taken.has(g.node) || r === y || !feedsOnly(y)) continue;
      const m = tape.nodes[g.node];
      if (m.stream !== n.stream || m.specs[0].dtype !== n.specs[0].dtype || !sameShape(m.specs[0].shape, n.specs[0].shape) || !sameShape(shapes[r], n.specs[0].shape)) continue;
      taken.add(g.node);
      placed.set(i, linear(n, [g.x, g.w, r], { weights: 1, epilogue: 'residual', matmul: m.params as MatmulParams }, [n]));
      ops += 2;
      return;
    }
  });

  // Siblings: the rest, grouped by x (and dtype, K, stream), in tape order. The node takes the
  // first member's place; a later member's weight made by a node after that place is read
  // there only if its maker can move up (its own inputs are ready), else the member waits
  // for a later place.
  const groups = new Map<string, Gemv[]>();
  tape.nodes.forEach((_, i) => {
    if (taken.has(i)) return;
    const g = gemvAt(i);
    if (!g) return;
    const list = groups.get(g.key);
    if (list) list.push(g); else groups.set(g.key, [g]);
  });
  const readyBefore = (s: number, at: number) => { const p = producer.get(s); return p === undefined || p < at; };
  for (let list of groups.values()) {
    while (list.length > 1) {
      const first = list[0].node;
      const chunk: Gemv[] = [list[0]], up: number[] = [], rest: Gemv[] = [];
      for (const g of list.slice(1)) {
        if (chunk.length === MAX_WEIGHTS) { rest.push(g); continue; }
        const p = producer.get(g.w);
        if (p === undefined || p < first) { chunk.push(g); continue; }
        const maker = tape.nodes[p];
        if (!taken.has(p) && !placed.has(p) && !moved.has(p) && !gemvAt(p) && maker.args.every((s) => readyBefore(s, first))) {
          up.push(p);
          moved.add(p);
          chunk.push(g);
        } else rest.push(g); // may still join siblings after its weight is made
      }
      list = rest;
      if (chunk.length < 2) { up.forEach((p) => moved.delete(p)); continue; }
      const members = chunk.map((g) => tape.nodes[g.node]);
      chunk.slice(1).forEach((g) => taken.add(g.node));
      placed.set(first, linear(members[0], [chunk[0].x, ...chunk.map((g) => g.w)], { weights: chunk.length, epilogue: 'none', matmul: members[0].params as MatmulParams }, members));
      if (up.length) hoisted.set(first, up.sort((a, b) => a - b));
      ops += chunk.length;
    }
  }

  if (!placed.size) return { nodes: 0, ops: 0 };
  const nodes: TapeNode[] = [];
  tape.nodes.forEach((n, i) => {
    if (taken.has(i) || moved.has(i)) return;
    for (const h of hoisted.get(i) ?? []) nodes.push(tape.nodes[h]);
    nodes.push(placed.get(i) ?? n);
  });
  tape.nodes = nodes;
  return { nodes: placed.size, ops };
}
