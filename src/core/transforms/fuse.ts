// Fusion of elementwise chains on a tape: each group of elementwise nodes becomes one
// 'fused' node whose program the backend renders into a single loop.
import type { Tape, TapeNode } from './tape.js';
import { isElementwise } from './tape.js';
import { Fused, FusedOp, FusedParams } from './fused.js';
import type { Primitive } from '../primitive.js';

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

  for (let r = tape.nodes.length - 1; r >= 0; r--) {
    const root = tape.nodes[r];
    if (groupOf.has(r) || !fusable(root)) continue;
    const members = new Set([r]);
    for (let grown = true; grown && members.size < MAX_OPS;) {
      grown = false;
      for (const m of [...members]) {
        for (const s of tape.nodes[m].args) {
          const p = producer.get(s);
          if (p === undefined || members.has(p) || groupOf.has(p) || members.size >= MAX_OPS) continue;
          const n = tape.nodes[p];
          if (!fusable(n) || n.stream !== root.stream || !sameShape(n.specs[0].shape, root.specs[0].shape)) continue;
          if (!(consumers.get(s) ?? []).every((c) => members.has(c))) continue;
          members.add(p);
          grown = true;
        }
      }
    }
    if (members.size < 2) continue;
    const group = [...members].sort((a, b) => a - b);
    for (const m of group) groupOf.set(m, group);
  }

  const done = new Set<number[]>();
  const nodes: TapeNode[] = [];
  tape.nodes.forEach((n, i) => {
    const group = groupOf.get(i);
    if (!group) { nodes.push(n); return; }
    // The root is the group's last node: everything the group reads is computed before it.
    if (i !== group[group.length - 1] || done.has(group)) return;
    done.add(group);
    nodes.push(fusedNode(group.map((m) => tape.nodes[m]), (s) => isOutput.has(s) || (consumers.get(s) ?? []).some((c) => !group.includes(c))));
  });
  tape.nodes = nodes;
}

/** One 'fused' node computing `members` (in topological order); `exported` says which slots leave the group. */
function fusedNode(members: TapeNode[], exported: (slot: number) => boolean): TapeNode {
  const inner = new Map<number, number>(); // slot -> program value, for values made inside
  const args: number[] = [];
  const inputIndex = new Map<number, number>();
  members.forEach((m) => m.args.forEach((s) => {
    if (!inputIndex.has(s) && !members.some((o) => o.outs[0] === s)) { inputIndex.set(s, args.length); args.push(s); }
  }));
  const ops: FusedOp[] = members.map((m, j) => {
    inner.set(m.outs[0], args.length + j);
    return { prim: m.prim.name, args: m.args.map((s) => inner.get(s) ?? inputIndex.get(s)!), dtype: m.specs[0].dtype.name, params: m.params };
  });
  const out = members.filter((m) => exported(m.outs[0]));
  const params: FusedParams = { nInputs: args.length, ops, outputs: out.map((m) => inner.get(m.outs[0])!) };
  return { prim: Fused as Primitive, params, args, outs: out.map((m) => m.outs[0]), specs: out.map((m) => m.specs[0]), stream: members[0].stream };
}
