// The Optimizer base class, as mlx.optimizers.Optimizer: state is a tree that mirrors the
// parameters (one small object of arrays per parameter) plus `step` and the scheduled
// hyper-parameters; subclasses define initSingle and applySingle for one parameter.
//
// Memory: the optimizer owns the arrays it makes (new parameters and state). Once the
// arrays of a step are evaluated, the ones they replaced are disposed at the next update,
// so a training loop holds device memory flat without waiting for the garbage collector.
import * as mx from '../core/index.js';
import { isKeepingGraph } from '../core/eval.js';
import { Module } from '../nn/module.js';
import { isPlainObject, treeReduce } from '../utils/index.js';

/** A learning rate (or other hyper-parameter) as a function of the step count (an array, 0 at the first update). */
export type Schedule = (step: mx.Array) => mx.Array | number;
export type LearningRate = number | mx.Array | Schedule;

/** A tree of arrays: nested plain objects and JS arrays (parameters, gradients). */
export type ParamTree = mx.Array | ParamTree[] | { [key: string]: ParamTree };
/** One parameter's state: named arrays (`m`, `v`, ...). */
export type ParamState = { [name: string]: mx.Array };
/** The optimizer's state: `step`, scheduled values such as `learningRate`, and the parameters' structure with a ParamState at each parameter. */
export type OptimizerState = { [key: string]: mx.Tree };

/** Takes a Module, or a plain tree of parameters (updated in place). */
export type Updatable = Module | { [key: string]: ParamTree };

/** Arrays made by one update and the owned arrays they replaced. */
interface Generation { made: mx.Array[]; replaced: mx.Array[] }

/** The dtype scalar coefficients are computed in: float64 for float64 values, else float32 (as MLX). */
export function computeDtype(d: mx.DType): mx.DType {
  return d === mx.float64 ? mx.float64 : mx.float32;
}

const fmtShape = (s: readonly number[]) => `(${s.join(',')}${s.length === 1 ? ',' : ''})`;
const join = (path: string, k: string | number) => (path ? `${path}.${k}` : `${k}`);
/** The arrays of a tree (Modules and other class instances are leaves, not searched). */
export function arraysIn(t: unknown): mx.Array[] {
  return treeReduce<mx.Array[]>((acc, x) => { if (x instanceof mx.Array) acc.push(x); return acc; }, t, []);
}
const describe = (x: unknown) => (x instanceof mx.Array ? `an array of shape ${fmtShape(x.shape)}` : globalThis.Array.isArray(x) ? 'a list' : x === null ? 'null' : typeof x === 'object' ? 'an object' : typeof x);

export abstract class Optimizer {
  protected _state: OptimizerState;
  protected _initialized = false;
  protected readonly _schedulers = new Map<string, Schedule>();
  private _disposeReplaced = true;
  private readonly owned = new WeakSet<mx.Array>();
  private pending: Generation[] = [];

  constructor() {
    this._state = { step: this.own(mx.array(0, mx.uint64)) };
  }

  /** The class name used in error messages. */
  protected get name(): string { return this.constructor.name; }

  /**
   * Whether arrays the optimizer made and then replaced (old parameters and state) are
   * disposed once their replacements are evaluated. Default true; turn off if you keep
   * references to old parameters (then the garbage collector frees them, late).
   */
  get disposeReplaced(): boolean { return this._disposeReplaced; }
  set disposeReplaced(v: boolean) {
    this._disposeReplaced = v;
    if (!v) this.pending = [];
  }

  // ---- state

  /** The state tree. Assigning one (e.g. loaded from a file) makes the optimizer own its arrays; missing entries are initialized at the next update. */
  get state(): OptimizerState { return this._state; }
  set state(state: OptimizerState) {
    if (!isPlainObject(state)) throw new Error(`[${this.name}] state must be a plain object, got ${describe(state)}`);
    if (!(state.step instanceof mx.Array)) throw new Error(`[${this.name}] state must hold 'step' as an array, got ${describe(state.step)}`);
    for (const a of arraysIn(state)) this.owned.add(a);
    this._initialized = false;
    this._state = state;
  }

  /** Whether every parameter seen so far has its state (after init or an update; false after assigning a state). */
  get initialized(): boolean { return this._initialized; }

  /** The number of updates so far (uint64 array). */
  get step(): mx.Array { return this._state.step as mx.Array; }

  /** The current learning rate (an array); assign a number, an array or a schedule. */
  get learningRate(): mx.Array {
    const lr = this._state.learningRate;
    if (!(lr instanceof mx.Array)) throw new Error(`[${this.name}] has no learning rate: none was given (Adafactor with relativeStep computes its own step size)`);
    return lr;
  }
  set learningRate(lr: LearningRate) { this.maybeSchedule('learningRate', lr); }

  /** Puts a hyper-parameter in the state, on a schedule if `value` is a function (MLX's _maybe_schedule). */
  protected maybeSchedule(name: string, value: LearningRate): void {
    if (typeof value === 'function') {
      this._schedulers.set(name, value);
      this._state[name] = this.scheduled(name, value);
    } else {
      this._schedulers.delete(name);
      this._state[name] = value instanceof mx.Array ? value : this.own(mx.array(value, mx.float32));
    }
  }

  private scheduled(name: string, fn: Schedule): mx.Array {
    const v = fn(this.step);
    if (typeof v !== 'number' && !(v instanceof mx.Array)) throw new Error(`[${this.name}] the schedule for '${name}' must return a number or an array, got ${describe(v)}`);
    return this.own(typeof v === 'number' ? mx.array(v, mx.float32) : v);
  }

  /** The learning rate in the gradient's dtype. */
  protected lr(g: mx.Array): mx.Array { return mx.astype(this.learningRate, g.dtype); }

  // ---- initialization

  /** Creates the state of every parameter that has none yet (optional: the first update does it). */
  init(parameters: ParamTree): void {
    const top = this.checkTop(parameters, 'parameters');
    for (const k of Object.keys(top)) this._state[k] = this.initTree(top[k], this._state[k], k);
    this._initialized = true;
  }

  private initTree(p: unknown, s: unknown, path: string): mx.Tree {
    if (p instanceof mx.Array) {
      const node = (isPlainObject(s) ? s : {}) as ParamState;
      if (Object.keys(node).length === 0) {
        this.initSingle(p, node);
        for (const a of Object.values(node)) this.own(a);
      }
      return node;
    }
    if (globalThis.Array.isArray(p)) {
      const list = (globalThis.Array.isArray(s) ? s : []) as mx.Tree[];
      p.forEach((c, i) => { list[i] = this.initTree(c, list[i], join(path, i)); });
      return list;
    }
    if (isPlainObject(p)) {
      const obj = (isPlainObject(s) ? s : {}) as { [k: string]: mx.Tree };
      for (const k of Object.keys(p)) obj[k] = this.initTree(p[k], obj[k], join(path, k));
      return obj;
    }
    return (s ?? {}) as mx.Tree;
  }

  /** Fills `state` (empty) for one parameter. */
  protected abstract initSingle(parameter: mx.Array, state: ParamState): void;

  /** The new value of one parameter; writes its new state into `state`. */
  protected abstract applySingle(gradient: mx.Array, parameter: mx.Array, state: ParamState): mx.Array;

  // ---- updates

  /** Applies the gradients to `model` (its parameters() are replaced), or to a plain tree of parameters in place. */
  update(model: Updatable, gradients: ParamTree): void {
    if (model instanceof Module) {
      model.update(this.applyGradients(gradients, model.parameters()) as object);
      return;
    }
    if (!isPlainObject(model)) throw new Error(`[${this.name}.update] expected a Module or a plain object of parameters, got ${describe(model)}`);
    writeInto(model, this.applyGradients(gradients, model));
  }

  /**
   * The updated parameters, as a tree shaped like `gradients`. `parameters` may hold more
   * than the gradients (a Module's full tree, say); only the gradients' entries are updated.
   */
  applyGradients(gradients: ParamTree, parameters: ParamTree | Module): ParamTree {
    const params = parameters instanceof Module ? parameters.parameters() : parameters;
    this.checkTop(gradients, 'gradients');
    if (!this._initialized) this.init(gradients);
    const tracking = this._disposeReplaced && !isKeepingGraph();
    if (tracking) this.collect(params);
    const gen: Generation = { made: [], replaced: [] };
    const replaceIn = (holder: Record<string, unknown>, key: string, value: mx.Array) => {
      const old = holder[key];
      if (old === value) return;
      holder[key] = value;
      if (!tracking) return;
      if (old instanceof mx.Array && this.owned.has(old)) gen.replaced.push(old);
      gen.made.push(this.own(value));
    };

    for (const [name, fn] of this._schedulers) replaceIn(this._state, name, this.scheduled(name, fn));
    replaceIn(this._state, 'step', mx.add(this.step, 1));

    const walk = (g: unknown, p: unknown, s: unknown, path: string): unknown => {
      if (g instanceof mx.Array) {
        if (!(p instanceof mx.Array)) throw new Error(`[${this.name}] the gradient at '${path}' has no parameter: got ${describe(p)}`);
        if (g.shape.length !== p.shape.length || g.shape.some((d, i) => d !== p.shape[i]))
          throw new Error(`[${this.name}] the gradient at '${path}' has shape ${fmtShape(g.shape)} but the parameter has shape ${fmtShape(p.shape)}`);
        if (!isPlainObject(s)) throw new Error(`[${this.name}] no state for '${path}' (got ${describe(s)}); assign a state tree that matches the parameters`);
        const st = s as ParamState;
        const before = { ...st };
        const next = this.applySingle(g, p, st);
        for (const k of Object.keys(st)) if (st[k] !== before[k]) { const v = st[k]; st[k] = before[k]; replaceIn(st, k, v); }
        if (tracking && next !== p) {
          if (this.owned.has(p)) gen.replaced.push(p);
          gen.made.push(this.own(next));
        }
        return next;
      }
      if (globalThis.Array.isArray(g)) {
        if (!globalThis.Array.isArray(p)) throw new Error(`[${this.name}] the gradients have a list at '${path}' but the parameters have ${describe(p)}`);
        const sl = (globalThis.Array.isArray(s) ? s : []) as unknown[];
        return g.map((c, i) => walk(c, p[i], sl[i], join(path, i)));
      }
      if (isPlainObject(g)) {
        if (Object.keys(g).length === 0) return p instanceof mx.Array ? p : {}; // a placeholder (treeUnflatten fills gaps in lists with {})
        if (!isPlainObject(p)) throw new Error(`[${this.name}] the gradients have an object at '${path || '(root)'}' but the parameters have ${describe(p)}`);
        const so = (isPlainObject(s) ? s : {}) as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(g)) {
          const r = walk(g[k], p[k], so[k], join(path, k));
          if (r !== undefined) out[k] = r;
        }
        return out;
      }
      return p; // no gradient (null, a number): the parameter is unchanged
    };
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(gradients)) {
      const r = walk((gradients as Record<string, unknown>)[k], (params as Record<string, unknown>)[k], this._state[k], k);
      if (r !== undefined) out[k] = r;
    }
    if (tracking && gen.made.length) this.pending.push(gen);
    return out as ParamTree;
  }

  // ---- ownership

  /** Takes an array the optimizer made for its state: kept out of enclosing tidy scopes, disposed by us once replaced. */
  private own<T extends mx.Array>(a: T): T {
    if (!this.owned.has(a)) {
      this.owned.add(a);
      if (!isKeepingGraph()) mx.keep(a);
    }
    return a;
  }

  /**
   * Disposes the arrays replaced by earlier updates, up to the latest update whose results
   * are all evaluated: evaluated arrays have dropped their graph, so from there back no lazy
   * graph of ours reads what was replaced. Arrays still in the state or the parameters stay.
   */
  private collect(params: unknown): void {
    const done = (a: mx.Array) => a.isEvaluated || a._disposed;
    let last = -1;
    this.pending.forEach((gen, i) => { if (gen.made.every(done)) last = i; });
    if (last < 0) return;
    const live = new Set([...arraysIn(this._state), ...arraysIn(params)]);
    for (const gen of this.pending.splice(0, last + 1)) for (const a of gen.replaced) if (!live.has(a)) a.dispose();
  }

  private checkTop(t: unknown, what: string): Record<string, unknown> {
    if (!isPlainObject(t)) throw new Error(`[${this.name}] ${what} must be a tree with an object at the top (e.g. { weight, bias }), got ${describe(t)}`);
    for (const k of Object.keys(t))
      if (k === 'step' || this._schedulers.has(k) || (k === 'learningRate' && this._state.learningRate !== undefined))
        throw new Error(`[${this.name}] ${what} may not have a top-level entry named '${k}': the optimizer's state uses that name`);
    return t;
  }
}

/** Writes the arrays of `src` into the same places of `dst`, in place. */
function writeInto(dst: unknown, src: unknown): void {
  const d = dst as Record<string | number, unknown>;
  if (globalThis.Array.isArray(src)) src.forEach((v, i) => { if (v instanceof mx.Array) d[i] = v; else writeInto(d[i], v); });
  else if (isPlainObject(src)) for (const [k, v] of Object.entries(src)) { if (v instanceof mx.Array) d[k] = v; else writeInto(d[k], v); }
}
