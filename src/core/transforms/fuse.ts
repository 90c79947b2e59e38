// Fusion of elementwise chains on a tape: each group of elementwise nodes becomes one
// 'fused' node whose program the backend renders into a single loop. Where the backend
// says it can (fusesRows), reductions over the last axis join too, with the elementwise
// work before and after them (softmax, rmsNorm, layerNorm written with basic ops): one
// 'fused' row program, which the backend runs as one kernel per row.
import type { Tape, TapeNode } from './tape.js';
import { isElementwise } from './tape.js';
import { Fused, FusedOp, FusedParams, ROW_REDUCTIONS } from './fused.js';
import type { Primitive } from '../primitive.js';
import { fusesRows } from '../backend.js';

/** Largest group fused into one node, to keep generated loops a sane size. */
const MAX_OPS = 256;

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Groups grow from a root (visited last to first) up through its inputs. A node joins when
 * it is elementwise, has the root's shape and stream (so broadcasting happens only where
 * the group reads its inputs), and every consumer of its output is already in the group;
 * it may also be a tape output, which the fused node then exports. No other array made
 * inside the group is needed outside it, which also rules out cycles.
 */
export function fuseElementwise(tape: Tape): void {
  const shapeOf = slotShapes(tape);
  const producer = new Map<number, number>();
  const consumers = new Map<number, number[]>();
  tape.nodes.forEach((n, i) => {
    n.outs.forEach((s) => producer.set(s, i));
    for (const s of new Set(n.args)) {
      const list = consumers.get(s);
      if (list) list.push(i); else consumers.set(s, [i]);
    }
  });
  const isOutput = new Set(tape.outputs);
  const fusable = (n: TapeNode) => n.outs.length === 1 && isElementwise(n.prim.name);
  const groupOf = new Map<number, number[]>();
  const rowGroups = new Set<number[]>();

  // Row programs first: a group around reductions over the last axis of F-shaped values,
  // whose members are F-shaped elementwise ops, those reductions, and elementwise ops on
  // their (..., 1)-shaped results.
  for (let r = tape.nodes.length - 1; r >= 0; r--) {
    const root = tape.nodes[r];
    if (groupOf.has(r) || !fusesRows(root.stream.device)) continue;
    const F = isRowReduction(root, shapeOf) ? shapeOf(root.args[0]) : fusable(root) ? root.specs[0].shape : null;
    if (!F || F.length === 0 || F[F.length - 1] < 2) continue;
    const R = [...F.slice(0, -1), 1];
    const fits = (n: TapeNode) => n.stream === root.stream && (isRowReduction(n, shapeOf)
      ? sameShape(shapeOf(n.args[0]), F)
      : fusable(n) && (sameShape(n.specs[0].shape, F) || sameShape(n.specs[0].shape, R)));
    const members = grow(r, fits);
    if (members.size < 2 || ![...members].some((m) => isRowReduction(tape.nodes[m], shapeOf))) continue;
    const group = [...members].sort((a, b) => a - b);
    for (const m of group) groupOf.set(m, group);
    rowGroups.add(group);
  }

  for (let r = tape.nodes.length - 1; r >= 0; r--) {
    const root = tape.nodes[r];
    if (groupOf.has(r) || !fusable(root)) continue;
    const members = grow(r, (n) => fusable(n) && n.stream === root.stream && sameShape(n.specs[0].shape, root.specs[0].shape));
    if (members.size < 2) continue;
    const group = [...members].sort((a, b) => a - b);
    for (const m of group) groupOf.set(m, group);
  }

  /** Members grown from root r up through producers that `fits` and whose every consumer is a member. */
  function grow(r: number, fits: (n: TapeNode) => boolean): Set<number> {
    const members = new Set([r]);
    for (let grown = true; grown && members.size < MAX_OPS;) {
      grown = false;
      for (const m of [...members]) {
        for (const s of tape.nodes[m].args) {
          const p = producer.get(s);
          if (p === undefined || members.has(p) || groupOf.has(p) || members.size >= MAX_OPS) continue;
          if (!fits(tape.nodes[p])) continue;
          if (!(consumers.get(s) ?? []).every((c) => members.has(c))) continue;
          members.add(p);
          grown = true;
        }
      }
    }
    return members;
  }

  const done = new Set<number[]>();
  const nodes: TapeNode[] = [];
  tape.nodes.forEach((n, i) => {
    const group = groupOf.get(i);
    if (!group) { nodes.push(n); return; }
    // The root is the group's last node: everything the group reads is computed before it.
    if (i !== group[group.length - 1] || done.has(group)) return;
    done.add(group);
    nodes.push(fusedNode(group.map((m) => tape.nodes[m]), (s) => isOutput.has(s) || (consumers.get(s) ?? []).some((c) => !group.includes(c)), rowGroups.has(group)));
  });
  tape.nodes = nodes;
}

/** A sum/max/min/prod over the last axis only (keeping it as size 1). */
function isRowReduction(n: TapeNode, shapeOf: (s: number) => readonly number[]): boolean {
  if (!ROW_REDUCTIONS.has(n.prim.name) || n.outs.length !== 1) return false;
  const axes = (n.params as { axes?: number[] }).axes;
  const nd = shapeOf(n.args[0]).length;
  return nd > 0 && axes?.length === 1 && axes[0] === nd - 1;
}

/** The shape of every slot of the tape. */
function slotShapes(tape: Tape): (s: number) => readonly number[] {
  const shapes: (readonly number[])[] = [...tape.inputShapes];
  tape.consts.forEach((c, i) => { shapes[tape.nInputs + i] = c.shape; });
  for (const n of tape.nodes) n.outs.forEach((s, i) => { shapes[s] = n.specs[i].shape; });
  return (s) => shapes[s];
}

/**
 * One 'fused' node computing `members` (in topological order); `exported` says which slots
 * leave the group. In a row program, ops whose value has the reduced (..., 1) shape are
 * marked `row`.
 */
function fusedNode(members: TapeNode[], exported: (slot: number) => boolean, rows = false): TapeNode {
  const inner = new Map<number, number>(); // slot -> program value, for values made inside
  const args: number[] = [];
  const inputIndex = new Map<number, number>();
  members.forEach((m) => m.args.forEach((s) => {
    if (!inputIndex.has(s) && !members.some((o) => o.outs[0] === s)) { inputIndex.set(s, args.length); args.push(s); }
  }));
  const ops: FusedOp[] = members.map((m, j) => {
    inner.set(m.outs[0], args.length + j);
    const op: FusedOp = { prim: m.prim.name, args: m.args.map((s) => inner.get(s) ?? inputIndex.get(s)!), dtype: m.specs[0].dtype.name, params: m.params };
    if (rows && m.specs[0].shape[m.specs[0].shape.length - 1] === 1) op.row = true;
    return op;
  });
  const out = members.filter((m) => exported(m.outs[0]));
  const params: FusedParams = { nInputs: args.length, ops, outputs: out.map((m) => inner.get(m.outs[0])!) };
  if (rows) params.rows = true;
  return { prim: Fused as Primitive, params, args, outs: out.map((m) => m.outs[0]), specs: out.map((m) => m.specs[0]), stream: members[0].stream };
}
