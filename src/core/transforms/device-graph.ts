// compile()'s device graphs (CUDA graphs on the GPU): a compiled function with fixed input
// shapes is recorded once while it runs on copies of its inputs, then each later call copies
// the new inputs in and launches the recording with one call. This file is the device-
// independent half (what to record, which memory to bind, how outputs are handed out); the
// backend records and launches (`GraphCapture` in core/backend.ts; CUDA: backend/cuda/graph.ts).
//
// Inputs: small ones are copied into the graph's own memory on every call; large ones
// (>= 1 MiB: weights passed as arguments or state) are read where they are, so the caller
// must pass the same buffers again (arrays are immutable, so the same buffer means the same
// values); another buffer makes compile() record again. Captured arrays (constants) are read
// where they are. Donated arguments (`donateArgnums`) are consumed: one whose only reader is
// an elementwise node is overwritten in place by that node's output, so a KV cache passed in
// and returned costs no copy at all when the caller passes the returned array back.
//
// Outputs are buffers of the graph's memory, handed to new arrays without a copy. Before the
// next launch (or an input copy) could overwrite one, any array still holding it is moved to
// fresh memory, so results the caller keeps never change.
import { Array } from '../array.js';
import type { Buffer, GraphRecording, RecordedGraph } from '../backend.js';
import { graphCaptureFor } from '../backend.js';
import type { Device, Stream } from '../device.js';
import type { DType } from '../dtype.js';
import { evalArrays, withNodeHook } from '../eval.js';
import type { Node } from '../array.js';
import { isElementwise, replay, type ShapelessInfo, type Tape } from './tape.js';

/** Inputs at least this large are read in place (bound) instead of copied into the graph's memory. */
export const BIND_BYTES = 1 << 20;

const debugOn = typeof process !== 'undefined' && !!process.env?.LATHE_DEBUG;
/** LATHE_DEBUG=1 prints why a compiled function runs without a graph. */
export function graphNote(msg: string): void {
  if (debugOn) console.error(`[lathe] ${msg}`);
}

type InSlot = { kind: 'copy'; buf: Buffer; nbytes: number } | { kind: 'bound'; buf: Buffer };
type OutSlot =
  | { kind: 'graph'; buf: Buffer; spec: { shape: readonly number[]; dtype: DType; stream: Stream } }
  | { kind: 'input'; index: number }
  | { kind: 'const'; array: Array }
  | { kind: 'shared'; buf: Buffer; spec: { shape: readonly number[]; dtype: DType; stream: Stream } };

/** One recorded graph of a compiled function, for one input signature. */
export class DeviceGraph {
  /** The buffer each output got at the last launch (to recognize it when passed back in). */
  private last: (Buffer | null)[];

  constructor(
    readonly graph: RecordedGraph,
    private readonly ins: InSlot[],
    private readonly outs: OutSlot[],
    /** Per input: the output whose memory is that input's slot (passed back in: no copy). */
    private readonly aliasOf: (number | undefined)[],
    private readonly consts: { array: Array; buf: Buffer }[],
    /** Inputs consumed by the call (disposed once read). */
    private readonly consumed: boolean[],
  ) {
    this.last = outs.map(() => null);
  }

  /** Why the graph cannot run with these inputs (then it is recorded again), or null. */
  stale(inputs: Array[]): string | null {
    if (!this.graph.alive) return 'the graph was freed (clearCache or memory pressure)';
    for (const c of this.consts) if (c.array._disposed || c.array._buf !== c.buf) return 'an array the function captured was disposed or recomputed';
    for (const [i, s] of this.ins.entries()) if (s.kind === 'bound' && inputs[i]._buf !== s.buf) return `input ${i} (${inputs[i].nbytes} bytes, read in place) is another buffer than when the graph was recorded`;
    return null;
  }

  /** Copies the inputs in, launches, and returns the outputs (inputs must be evaluated; see stale()). */
  run(inputs: Array[]): Array[] {
    const g = this.graph;
    const inPlace = this.ins.map((s, i) => s.kind === 'copy' && this.aliasOf[i] !== undefined && this.last[this.aliasOf[i]!] !== null && inputs[i]._buf === this.last[this.aliasOf[i]!]);
    // Outputs of the last launch that someone still holds move out before anything overwrites them.
    const dying = new Map<Buffer, number>();
    inputs.forEach((x, i) => { if (this.consumed[i] && x._buf) dying.set(x._buf, (dying.get(x._buf) ?? 0) + 1); });
    for (const b of g.handedOut()) if (b.refs > (dying.get(b) ?? 0)) g.evict(b);
    this.ins.forEach((s, i) => { if (s.kind === 'copy' && !inPlace[i]) g.copy(s.buf, inputs[i]._buf!, s.nbytes); });
    inputs.forEach((x, i) => { if (this.consumed[i]) x.dispose(); });
    const graphOuts = this.outs.flatMap((o) => (o.kind === 'graph' ? [o.buf] : []));
    const handed = g.launch(graphOuts);
    let k = 0;
    const results = this.outs.map((o, j) => {
      if (o.kind === 'input') { this.last[j] = null; return inputs[o.index]; }
      if (o.kind === 'const') { this.last[j] = null; return o.array; }
      const buf = o.kind === 'graph' ? handed[k++] : o.buf;
      this.last[j] = o.kind === 'graph' ? buf : null;
      const a = new Array(o.spec.shape, o.spec.dtype, o.spec.stream);
      a._setBuffer(buf);
      return a;
    });
    return results;
  }

  destroy(): void { this.graph.destroy(); }
}

/** The device a tape can be recorded on, or why it cannot. */
export function graphDevice(tape: Tape, inputs: Array[]): Device | string {
  if (!tape.nodes.length) return 'the function computes nothing (its outputs are inputs or constants)';
  const d = inputs[0]?.device ?? tape.nodes[0].stream.device;
  const elsewhere = (x: { device: Device }) => !x.device.equals(d);
  if (inputs.some(elsewhere)) return 'its inputs are on different devices';
  if (tape.nodes.some((n) => !n.stream.device.equals(d))) return `it runs work on a device other than ${d}`;
  if (tape.consts.some(elsewhere)) return `it captures arrays on a device other than ${d}`;
  if (tape.consts.some((c) => !c._buf)) return 'it captures an array that is not computed (one made from another trace)';
  const capture = graphCaptureFor(d);
  if (!capture) return `the ${d.type} backend has no graphs`;
  const why = capture.unavailable();
  return why ?? d;
}

/**
 * Nodes that may overwrite a donated input in place: elementwise loops and fused programs
 * (row programs too: each element is read and written by one thread), with an output of
 * the input's shape and element size, read and written element for element; and scatters
 * into it (the CUDA scatter skips its copy when the output is x's memory: a dynamic
 * sliceUpdate of a KV cache then writes one row).
 */
function writesInPlace(node: Node, x: Array): boolean {
  const name = node.prim.name;
  if (name === 'scatter') return node.inputs[0] === x && !node.inputs.slice(1).includes(x) && alike(node.outputs[0], x);
  if (name !== 'fused' && (!isElementwise(name) || name === 'astype' || name === 'stopGradient')) return false;
  return node.outputs.some((o) => alike(o, x));
}

const alike = (o: Array, x: Array) => o.dtype.size === x.dtype.size && o.shape.length === x.shape.length && o.shape.every((d, i) => d === x.shape[i]);

/**
 * Records the tape on `device` reading `inputs` (evaluated). `donate[i]`: input i may be
 * consumed; with `inPlace` a donated input read by one elementwise node only is overwritten
 * by it. Throws why it cannot record.
 */
export function recordGraph(tape: Tape, inputs: Array[], donate: boolean[], device: Device, inPlace: boolean, shapeless?: ShapelessInfo): DeviceGraph {
  const rec: GraphRecording = graphCaptureFor(device)!.begin();
  const made: Array[] = [];
  let graph: RecordedGraph | null = null;
  try {
    const outputSlots = new Set(tape.outputs);
    const readers = new Map<number, number>();
    for (const n of tape.nodes) for (const s of n.args) readers.set(s, (readers.get(s) ?? 0) + 1);
    const consumed = inputs.map((_, i) => donate[i] && !outputSlots.has(i));
    const ins: InSlot[] = [];
    const standIns = inputs.map((x, i) => {
      const a = new Array(x.shape, x.dtype, x.stream);
      made.push(a);
      if (consumed[i] || x.nbytes < BIND_BYTES) {
        const buf = rec.privateCopy(x._buf!, x.nbytes);
        ins.push({ kind: 'copy', buf, nbytes: x.nbytes });
        a._setBuffer(buf);
      } else {
        ins.push({ kind: 'bound', buf: x._buf! });
        a._setBuffer(x._buf!);
      }
      return a;
    });
    // Donated inputs read by exactly one node, which may write in place.
    const candidates = new Map<Array, Buffer>();
    if (inPlace) standIns.forEach((a, i) => { if (consumed[i] && readers.get(i) === 1) candidates.set(a, a._buf!); });
    const donatedTo = new Map<Node, { x: Array; buf: Buffer }>();
    const hook = {
      before(node: Node) {
        const x = node.inputs.find((a) => candidates.has(a));
        if (!x || !writesInPlace(node, x)) return;
        const buf = candidates.get(x)!;
        candidates.delete(x);
        rec.donate(buf);
        donatedTo.set(node, { x, buf });
      },
      // The memory must have gone to an output of the input's shape (not a scratch buffer, not a per-row output).
      after(node: Node) {
        const d = donatedTo.get(node);
        if (d && !node.outputs.some((o) => o._buf && rec.sameMemory(o._buf, d.buf) && alike(o, d.x)))
          throw new InPlaceMissed(`[compile] a donated input was not overwritten in place by '${node.prim.name}'`);
      },
    };
    rec.start();
    const outs = withNodeHook(hook, () => {
      const r = replay(tape, standIns, shapeless);
      if (!r) throw new Error('[compile] no CUDA graph: the shapeless trace does not replay at these shapes');
      evalArrays(r);
      return r;
    });
    const consts = new Set(tape.consts);
    made.push(...outs.filter((o) => !consts.has(o)));
    graph = rec.end();
    const outSlots: OutSlot[] = tape.outputs.map((s, j) => {
      if (s < tape.nInputs) return { kind: 'input', index: s };
      if (s < tape.nInputs + tape.consts.length) return { kind: 'const', array: tape.consts[s - tape.nInputs] };
      const o = outs[j], buf = o._buf!;
      const spec = { shape: o.shape, dtype: o.dtype, stream: o.stream };
      if (rec.owns(buf)) return { kind: 'graph', buf, spec };
      if (ins.some((x) => x.kind === 'bound' && x.buf === buf) || tape.consts.some((c) => c._buf === buf)) return { kind: 'shared', buf, spec };
      throw new Error(`[compile] no CUDA graph: output ${j} shares memory the graph does not own`);
    });
    // An output in the memory of a copied input's slot: passed back in, it needs no copy.
    const aliasOf = ins.map((s) => {
      if (s.kind !== 'copy') return undefined;
      const j = outSlots.findIndex((o) => o.kind === 'graph' && rec.sameMemory(o.buf, s.buf));
      return j < 0 ? undefined : j;
    });
    return new DeviceGraph(graph, ins, outSlots, aliasOf, tape.consts.map((array) => ({ array, buf: array._buf! })), consumed);
  } catch (e) {
    if (graph) graph.destroy(); else rec.abort();
    throw e;
  } finally {
    for (const a of made) a.dispose();
  }
}

/** A donation that did not land: record again without writing in place. */
export class InPlaceMissed extends Error {}
