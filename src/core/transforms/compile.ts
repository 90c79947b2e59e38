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
import { Array } from '../array.js';
import { bool } from '../dtype.js';
import { defaultStream } from '../device.js';
import { treeLeaves, treeStructure } from '../tree.js';
import { Tape, buildTape, eliminateCommonSubexpressions, replay, shapelessInfo, ShapelessInfo, standIn } from './tape.js';
import { fuseElementwise } from './fuse.js';
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
}

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
  constants: number;
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
    c = { opts, cache: new Map(), structures: new Map(), stats: { traces: 0, nodes: 0, tapeNodes: 0, fusedNodes: 0, fusedOps: 0, constants: 0 } };
    list.push(c);
  }
  return c;
}

/**
 * `mx.compile(fn, { inputs, outputs, shapeless })`: a function computing what fn computes.
 * fn takes and returns trees of arrays; non-array arguments are constants of the trace.
 */
export function compile<A extends unknown[], R>(fn: (...args: A) => R, opts: CompileOptions = {}): (...args: A) => R {
  const { cache, structures, stats: st } = cacheFor(fn, opts);

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
    fuseElementwise(tape);
    const fused = tape.nodes.filter((n) => n.prim.name === 'fused');
    Object.assign(st, {
      traces: st.traces + 1, nodes, tapeNodes: tape.nodes.length, fusedNodes: fused.length, constants: tape.consts.length,
      fusedOps: fused.reduce((s, n) => s + (n.params as { ops: unknown[] }).ops.length, 0),
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
    const e = entry!;
    if (opts.outputs !== undefined) {
      const have = treeLeaves(opts.outputs).length;
      if (have !== e.nState)
        throw new Error(`[compile] the outputs state holds ${have} arrays but the traced function assigned ${e.nState}; keep its tree structure fixed between calls`);
      fillLeaves(opts.outputs, results.slice(e.nOutputs));
    }
    return fillTemplate(e.template, results.slice(0, e.nOutputs)) as R;
  };
  stats.set(compiled, st);
  return compiled;
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
