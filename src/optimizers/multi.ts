// MultiOptimizer: different optimizers for different parameters, chosen by path.
import * as mx from '../core/index.js';
import { Module } from '../nn/module.js';
import { treeFlatten, treeUnflatten, treeMapWithPath } from '../utils/index.js';
import { Optimizer, LearningRate, ParamState, ParamTree, OptimizerState } from './optimizer.js';

/** Decides from a parameter's dotted path (`layers.0.weight`) and its gradient whether an optimizer takes it. */
export type ParameterFilter = (path: string, gradient: mx.Array) => boolean;

/**
 * As mlx.optimizers.MultiOptimizer: each gradient goes to the first optimizer whose filter
 * accepts it; the last optimizer takes the rest (one filter fewer than optimizers).
 *
 *     new MultiOptimizer([new Muon(0.02), new AdamW(1e-3)], [(path, g) => g.ndim >= 2 && !path.includes('embed')])
 */
export class MultiOptimizer extends Optimizer {
  readonly optimizers: Optimizer[];
  readonly filters: ParameterFilter[];

  constructor(optimizers: Optimizer[], filters: ParameterFilter[] = []) {
    super();
    if (optimizers.length === 0) throw new Error('[MultiOptimizer] needs at least one optimizer');
    if (filters.length !== optimizers.length - 1)
      throw new Error(`[MultiOptimizer] given ${filters.length} filters but ${optimizers.length - 1} needed (one per optimizer but the last)`);
    this.optimizers = optimizers;
    this.filters = [...filters, () => true];
  }

  /** The gradients split into one tree per optimizer. */
  splitGradients(gradients: ParamTree): ParamTree[] {
    if (this.optimizers.length === 1) return [gradients];
    const parts: [string, mx.Array][][] = this.optimizers.map(() => []);
    for (const [k, g] of treeFlatten<unknown>(gradients)) {
      if (!(g instanceof mx.Array)) continue;
      const i = this.filters.findIndex((f) => f(k, g));
      parts[i].push([k, g]);
    }
    return parts.map((p) => treeUnflatten(p) as ParamTree);
  }

  override init(parameters: ParamTree): void {
    this.splitGradients(parameters).forEach((p, i) => this.optimizers[i].init(p));
  }

  override applyGradients(gradients: ParamTree, parameters: ParamTree | Module): ParamTree {
    const params = parameters instanceof Module ? parameters.parameters() : parameters;
    // The results rebuilt in the gradients' shape (treeMerge would drop empty slots such as a ReLU's `{}` in a list).
    const updated = new Map<string, unknown>();
    this.splitGradients(gradients).forEach((g, i) => {
      for (const [k, v] of treeFlatten<unknown>(this.optimizers[i].applyGradients(g, params))) updated.set(k, v);
    });
    return treeMapWithPath((path: string, g: unknown) => (updated.has(path) ? updated.get(path) : g), gradients) as ParamTree;
  }

  /** `{ states: [each optimizer's state] }`. */
  override get state(): OptimizerState { return { states: this.optimizers.map((o) => o.state) }; }
  override set state(state: OptimizerState) {
    const states = state?.states;
    if (!globalThis.Array.isArray(states) || states.length !== this.optimizers.length)
      throw new Error(`[MultiOptimizer] state must be { states: [...] } with ${this.optimizers.length} entries, got ${globalThis.Array.isArray(states) ? states.length : typeof states}`);
    this.optimizers.forEach((o, i) => { o.state = states[i] as OptimizerState; });
  }

  override get initialized(): boolean { return this.optimizers.every((o) => o.initialized); }

  override get step(): mx.Array { return this.optimizers[0].step; }

  /** The first optimizer's learning rate; assigning sets every optimizer's. */
  override get learningRate(): mx.Array { return this.optimizers[0].learningRate; }
  override set learningRate(lr: LearningRate) { for (const o of this.optimizers) o.learningRate = lr; }

  override get disposeReplaced(): boolean { return this.optimizers[0].disposeReplaced; }
  override set disposeReplaced(v: boolean) { for (const o of this.optimizers) o.disposeReplaced = v; }

  protected initSingle(_p: mx.Array, _s: ParamState): void {
    throw new Error('[MultiOptimizer] delegates to its optimizers');
  }

  protected applySingle(_g: mx.Array, _p: mx.Array, _s: ParamState): mx.Array {
    throw new Error('[MultiOptimizer] delegates to its optimizers');
  }
}
