// mx.compile: trace a function once per input signature into a tape, simplify it (dead
// code, common subexpressions, elementwise fusion), and replay the tape on later calls.
// Replays bind ordinary lazy nodes, so compiled functions compose with every transform.
//
// As in MLX, what the trace cannot see is fixed at trace time:
// - arrays the function captures (closures, module fields) are constants; pass changing
//   state through `inputs`/`outputs`, or as arguments;
// - random ops without an explicit key draw their key when traced, so every replay
//   repeats the same numbers: pass keys as arguments;
// - JS control flow on shapes or non-array arguments is baked in per cache key (the
//   input shapes, dtypes, ranks and non-array arguments);
// - reading values (item, tolist, eval) inside the function is an error: inputs are
//   stand-ins without data while it is traced.
//
// On a backend with graphs (CUDA), a function called twice with the same input shapes is
// recorded on the second call and later calls launch the recording (device-graph.ts).
import { Array } from '../array.js';
import { evalArrays, isKeepingGraph } from '../eval.js';
import { DeviceGraph, InPlaceMissed, graphDevice, graphNote, recordGraph } from './device-graph.js';
import { bool } from '../dtype.js';
import { defaultStream } from '../device.js';
import { treeLeaves, treeStructure } from '../tree.js';
import { Tape, buildTape, eliminateCommonSubexpressions, replay, shapelessInfo, ShapelessInfo, standIn } from './tape.js';
import { fuseElementwise } from './fuse.js';
import { fuseLinear } from './fuse-linear.js';
import { ROW_REDUCTIONS, type FusedParams } from './fused.js';
import { traced } from './trace.js';

export interface CompileOptions {
  /** A tree of state (e.g. model parameters, optimizer state) read as implicit inputs on each call. */
  inputs?: unknown;
  /** A tree of state the function assigns new arrays into; they are written back after each call. */
  outputs?: unknown;
  /**
   * Reuse one trace across input shapes (same ranks and dtypes). Nodes whose params fix
   * shapes (a reshape other than adding or dropping size-1 axes, broadcastTo, slicing,
   * ...) cannot be replayed at new shapes: such functions are retraced per shape instead.
   */
  shapeless?: boolean;
  /**
   * Replay the function as a device graph where its inputs live on a backend that has them
   * (CUDA graphs on the GPU): the second call with the same input shapes and dtypes records
   * the whole evaluation, later calls copy their inputs in and launch it with one call, and
   * return evaluated arrays. Functions that read values on the host or upload data while
   * running are not recorded (LATHE_DEBUG=1 says why) and run as usual. Default true.
   */
  cudaGraph?: boolean;
  /**
   * Positional arguments whose arrays the call consumes (JAX's donate_argnums). When the
   * function runs as a graph, their arrays are disposed by the call, and one read by a single
   * elementwise op is overwritten in place by it (a KV cache update then copies nothing).
   * Without a graph they are left alone.
   */
  donateArgnums?: readonly number[];
}

/** A compiled function; `dispose()` frees its recorded graphs and traces now (the GC does it otherwise). */
export type CompiledFunction<A extends unknown[], R> = ((...args: A) => R) & { dispose(): void };

let enabled = !(typeof process !== 'undefined' && process.env?.LATHE_DISABLE_COMPILE);

/** Compiled functions call their function directly until enableCompile() (for debugging). */
export function disableCompile(): void { enabled = false; }
export function enableCompile(): void { enabled = true; }

interface Entry {
  tape: Tape;
  shapeless: ShapelessInfo | null;
  /** fn's output tree with each array replaced by SLOT. */
  template: unknown;
  nOutputs: number;
  nState: number;
}

/** Counters for tests and diagnostics: traces so far, and what the latest trace produced. */
export interface CompileStats {
  traces: number;
  /** Tape nodes after dead-code and common-subexpression elimination, before fusion. */
  nodes: number;
  /** Tape nodes after fusion (fused nodes count once). */
  tapeNodes: number;
  fusedNodes: number;
  /** Primitives merged into fused nodes. */
  fusedOps: number;
  /** Reductions over the last axis merged into fused row programs (on backends that run them: the GPU). */
  reductionsFused: number;
  /** 'fusedLinear' nodes (GEMV siblings, GLU and residual epilogues; on backends that run them: the GPU), and the primitives merged into them. */
  linearFused: number;
  linearOps: number;
  constants: number;
  /** Device graphs recorded so far, and launches of them. */
  graphs: number;
  graphLaunches: number;
  /** Nodes (kernels, copies) and bytes of memory of the latest graph recorded. */
  graphNodes: number;
  graphBytes: number;
  /** Why the latest call that could have used a graph did not (null when it did). */
  graphReason: string | null;
}

const stats = new WeakMap<object, CompileStats>();
export function compileStats(compiled: object): CompileStats | undefined { return stats.get(compiled); }

const SLOT = Symbol('compile.slot');

interface FunctionCache { opts: CompileOptions; cache: Map<string, Entry>; structures: Map<string, string>; stats: CompileStats }
const caches = new WeakMap<object, FunctionCache[]>();

/** Traces are shared by every compile() of the same function with the same options, as MLX keys them by function. */
function cacheFor(fn: object, opts: CompileOptions): FunctionCache {
  const list = caches.get(fn) ?? [];
  caches.set(fn, list);
  let c = list.find((e) => e.opts.inputs === opts.inputs && e.opts.outputs === opts.outputs && !!e.opts.shapeless === !!opts.shapeless);
  if (!c) {
    c = {
      opts, cache: new Map(), structures: new Map(),
      stats: { traces: 0, nodes: 0, tapeNodes: 0, fusedNodes: 0, fusedOps: 0, reductionsFused: 0, linearFused: 0, linearOps: 0, constants: 0, graphs: 0, graphLaunches: 0, graphNodes: 0, graphBytes: 0, graphReason: null },
    };
    list.push(c);
  }
  return c;
}

/** A compiled function's graphs for one input signature (input shapes, dtypes, constants). */
interface GraphState {
  entry: Entry;
  calls: number;
  graph: DeviceGraph | null;
  /** Set once this signature gave up on graphs. */
  failed: string | null;
  recaptures: number;
}

type GraphStates = Map<string, GraphState>;
const graphsFreed = new FinalizationRegistry<GraphStates>((states) => { for (const g of states.values()) g.graph?.destroy(); });

/** Records again at most this many times per signature (freed graphs, inputs read in place that change buffers). */
const MAX_RECAPTURES = 3;

/**
 * `mx.compile(fn, { inputs, outputs, shapeless, cudaGraph, donateArgnums })`: a function
 * computing what fn computes. fn takes and returns trees of arrays; non-array arguments are
 * constants of the trace.
 */
export function compile<A extends unknown[], R>(fn: (...args: A) => R, opts: CompileOptions = {}): CompiledFunction<A, R> {
  const { cache, structures, stats: st } = cacheFor(fn, opts);
  const graphs: GraphStates = new Map();
  const graphsWanted = opts.cudaGraph !== false;

  function trace(args: A, argLeaves: Array[], state: Array[], constKey: string): Entry {
    const firstId = new Array([], bool, defaultStream()).id; // arrays made from here on belong to this trace
    const standIns = [...argLeaves, ...state].map(standIn);
    const tracedArgs = replaceLeaves(args, standIns.slice(0, argLeaves.length)) as A;
    const outsBefore = opts.outputs === undefined ? [] : treeLeaves(opts.outputs);
    let out: R, stateOut: Array[];
    if (opts.inputs !== undefined) fillLeaves(opts.inputs, standIns.slice(argLeaves.length));
    try {
      out = traced(() => fn(...tracedArgs));
      stateOut = opts.outputs === undefined ? [] : treeLeaves(opts.outputs);
      const structure = treeStructure(out);
      const before = structures.get(constKey);
      if (before !== undefined && before !== structure)
        throw new Error(`[compile] the function returned a different output structure on a retrace: ${before} before, ${structure} now; a compiled function must return the same tree structure for every input shape and dtype`);
      structures.set(constKey, structure);
    } catch (e) {
      if (opts.outputs !== undefined) fillLeaves(opts.outputs, outsBefore, true);
      throw e;
    } finally {
      if (opts.inputs !== undefined) fillLeaves(opts.inputs, state);
    }
    const outLeaves = treeLeaves(out);
    const tape = buildTape(standIns, [...outLeaves, ...stateOut], firstId);
    eliminateCommonSubexpressions(tape);
    const nodes = tape.nodes.length;
    const linear = fuseLinear(tape);
    fuseElementwise(tape);
    const fused = tape.nodes.filter((n) => n.prim.name === 'fused');
    Object.assign(st, {
      traces: st.traces + 1, nodes, tapeNodes: tape.nodes.length, fusedNodes: fused.length, constants: tape.consts.length,
      linearFused: linear.nodes, linearOps: linear.ops,
      fusedOps: fused.reduce((s, n) => s + (n.params as FusedParams).ops.length, 0),
      reductionsFused: fused.reduce((s, n) => s + ((n.params as FusedParams).rows ? (n.params as FusedParams).ops.filter((o) => ROW_REDUCTIONS.has(o.prim)).length : 0), 0),
    });
    return { tape, shapeless: opts.shapeless ? shapelessInfo(tape) : null, template: markLeaves(out), nOutputs: outLeaves.length, nState: stateOut.length };
  }

  const compiled = (...args: A): R => {
    if (!enabled) return fn(...args);
    const argLeaves = treeLeaves(args);
    const state = opts.inputs === undefined ? [] : treeLeaves(opts.inputs);
    const inputs = [...argLeaves, ...state];
    const constKey = `${treeStructure(args)}#${treeStructure(opts.inputs)}`;
    const sig = (a: Array, withShape: boolean) => `${a.dtype.name}${withShape ? `(${a.shape.join(',')})` : `/${a.ndim}`}@${a.stream.index}`;
    const looseKey = `${constKey}|${inputs.map((a) => sig(a, false)).join(';')}`;
    const strictKey = `${constKey}|${inputs.map((a) => sig(a, true)).join(';')}`;

    const donate = [...donated(args, opts.donateArgnums), ...state.map(() => false)];
    const useGraph = graphsWanted && !isKeepingGraph();
    const known = useGraph ? graphs.get(strictKey) : undefined;
    if (known?.graph) {
      evalArrays(inputs);
      const why = known.graph.stale(inputs);
      if (!why) {
        st.graphLaunches++;
        return finish(known.entry, known.graph.run(inputs));
      }
      known.graph.destroy();
      known.graph = null;
      known.calls = 1;
      if (++known.recaptures > MAX_RECAPTURES) known.failed = why;
      graphNote(`compile: recording again (${why})`);
    }

    let results: Array[] | null = null;
    let entry = opts.shapeless ? cache.get(looseKey) : undefined;
    if (entry) results = replay(entry.tape, inputs, entry.shapeless!);
    if (!results) {
      entry = cache.get(strictKey);
      if (!entry) {
        entry = trace(args, argLeaves, state, constKey);
        cache.set(strictKey, entry);
        if (entry.shapeless && !cache.has(looseKey)) cache.set(looseKey, entry);
      }
      results = replay(entry.tape, inputs)!;
    }
    if (useGraph) results = maybeRecord(strictKey, entry!, inputs, donate, results);
    return finish(entry!, results);
  };

  /** On the second call of a signature: computes this call's results as usual, then records them as a graph. */
  function maybeRecord(key: string, entry: Entry, inputs: Array[], donate: boolean[], results: Array[]): Array[] {
    let gs = graphs.get(key);
    if (!gs) graphs.set(key, (gs = { entry, calls: 0, graph: null, failed: null, recaptures: 0 }));
    if (gs.failed || ++gs.calls < 2) return results;
    const device = graphDevice(entry.tape, inputs);
    if (typeof device === 'string') { gs.failed = device; st.graphReason = device; graphNote(`compile: no graph: ${device}`); return results; }
    evalArrays([...inputs, ...results]); // this call's results, as usual (every kernel is loaded now)
    let inPlace = true;
    for (;;) {
      try {
        gs.graph = recordGraph(entry.tape, inputs, donate, device, inPlace, entry.shapeless ?? undefined);
        break;
      } catch (e) {
        if (e instanceof InPlaceMissed && inPlace) { inPlace = false; continue; }
        const why = (e as Error).message.replace(/^\[compile\] (no CUDA graph: )?/, '');
        gs.failed = why;
        st.graphReason = why;
        graphNote(`compile: no graph: ${why}`);
        return results;
      }
    }
    gs.entry = entry;
    st.graphs++;
    st.graphNodes = gs.graph.graph.nodes;
    st.graphBytes = gs.graph.graph.bytes;
    st.graphReason = null;
    const outs = new Set(results);
    inputs.forEach((x, i) => { if (donate[i] && !outs.has(x)) x.dispose(); });
    return results;
  }

  function finish(e: Entry, results: Array[]): R {
    if (opts.outputs !== undefined) {
      const have = treeLeaves(opts.outputs).length;
      if (have !== e.nState)
        throw new Error(`[compile] the outputs state holds ${have} arrays but the traced function assigned ${e.nState}; keep its tree structure fixed between calls`);
      fillLeaves(opts.outputs, results.slice(e.nOutputs));
    }
    return fillTemplate(e.template, results.slice(0, e.nOutputs)) as R;
  }

  const out = Object.assign(compiled, {
    dispose(): void {
      for (const g of graphs.values()) g.graph?.destroy();
      graphs.clear();
      cache.clear();
      graphsFreed.unregister(out);
    },
  });
  graphsFreed.register(out, graphs, out);
  stats.set(out, st);
  return out;
}

/** Per input leaf: whether its argument is donated. */
function donated(args: unknown[], argnums: readonly number[] | undefined): boolean[] {
  if (!argnums?.length) return treeLeaves(args).map(() => false);
  return args.flatMap((a, k) => treeLeaves(a).map(() => argnums.includes(k)));
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** Calls `at(holder, key)` for each array of `t`, in treeLeaves order. */
function forEachLeaf(t: unknown, at: (holder: Record<string | number, unknown>, key: string | number) => void): void {
  const walk = (x: unknown) => {
    const keys = globalThis.Array.isArray(x) ? [...x.keys()] : isPlainObject(x) ? Object.keys(x) : [];
    const holder = x as Record<string | number, unknown>;
    for (const k of keys) if (holder[k] instanceof Array) at(holder, k); else walk(holder[k]);
  };
  walk(t);
}

/** Writes `leaves` over the arrays of `t` in place, so that whoever holds `t` sees them. */
function fillLeaves(t: unknown, leaves: readonly Array[], lenient = false): void {
  let i = 0;
  forEachLeaf(t, (holder, k) => { if (i < leaves.length) holder[k] = leaves[i]; i++; });
  if (i !== leaves.length && !lenient) throw new Error(`[compile] state tree has ${i} arrays, expected ${leaves.length}`);
}

/** Copies the JS arrays and plain objects of a tree (other values shared). */
function cloneTree<T>(t: T): T {
  if (globalThis.Array.isArray(t)) return t.map(cloneTree) as T;
  if (isPlainObject(t)) return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, cloneTree(v)])) as T;
  return t;
}

/** A copy of `t` with its arrays replaced by `leaves` in order (t itself may be one array). */
function replaceLeaves(t: unknown, leaves: readonly Array[]): unknown {
  const box = cloneTree([t]);
  fillLeaves(box, leaves);
  return box[0];
}

/** A copy of `t` with its arrays replaced by SLOT: the outputs' shape, to rebuild on replay. */
function markLeaves(t: unknown): unknown {
  const box = cloneTree([t]);
  forEachLeaf(box, (holder, k) => { holder[k] = SLOT; });
  return box[0];
}

function fillTemplate(t: unknown, leaves: readonly Array[]): unknown {
  let i = 0;
  const walk = (x: unknown): unknown => {
    if (x === SLOT) return leaves[i++];
    if (globalThis.Array.isArray(x)) return x.map(walk);
    if (isPlainObject(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, walk(v)]));
    return x;
  };
  return walk(t);
}
