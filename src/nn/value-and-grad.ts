// nn.valueAndGrad and nn.checkpoint: transforms with respect to a model's trainable
// parameters. The function is traced with the model holding stand-ins for its parameters;
// the model gets its own arrays back afterwards, so it never keeps a trace's graph alive.
import { Array, valueAndGrad as mxValueAndGrad, checkpoint as mxCheckpoint } from '../core/index.js';
import { treeFlatten } from '../utils/index.js';
import { Module, ParamTree } from './module.js';

type Fn = (...args: never[]) => unknown;

/** Calls fn with the model's trainable parameters replaced by `params`, then puts the old ones back. */
function withParams<T>(model: Module, params: ParamTree, fn: () => T): T {
  const saved = model.trainableParameters();
  model.update(params);
  try {
    return fn();
  } finally {
    model.update(saved);
  }
}

function checkTrainable(where: string, model: Module, params: ParamTree): void {
  const flat = treeFlatten<Array>(params);
  if (!flat.length) throw new Error(`[${where}] ${model.constructor.name} has no trainable parameters (is it all frozen?)`);
  const bad = flat.find(([, a]) => !a.dtype.isFloat);
  if (bad) {
    throw new TypeError(`[${where}] trainable parameter '${bad[0]}' has dtype ${bad[1].dtype.name}; only floating-point parameters have gradients. Freeze it: model.freeze({ keys: '${bad[0].split('.').pop()}' }) on its module`);
  }
}

/**
 * `nn.valueAndGrad(model, fn)`: a function returning [fn(...args), grads], where grads
 * are the gradients of fn's scalar loss with respect to model.trainableParameters(), in
 * that tree's shape. fn may return [loss, ...aux] as with mx.valueAndGrad.
 */
export function valueAndGrad<F extends Fn>(model: Module, fn: F): (...args: Parameters<F>) => [ReturnType<F>, ParamTree] {
  const inner = (params: ParamTree, ...args: unknown[]) => withParams(model, params, () => (fn as unknown as (...a: unknown[]) => unknown)(...args));
  const vg = mxValueAndGrad(inner);
  return (...args: Parameters<F>) => {
    const params = model.trainableParameters();
    checkTrainable('nn.valueAndGrad', model, params);
    return vg(params, ...(args as unknown[])) as [ReturnType<F>, ParamTree];
  };
}

/**
 * `nn.checkpoint(module, fn = module.forward)`: fn with gradient checkpointing with respect
 * to the module's trainable parameters and fn's inputs: the backward pass recomputes fn's
 * intermediate values instead of keeping them.
 */
export function checkpoint<F extends Fn>(module: Module, fn?: F): F {
  const call = fn ?? ((...a: unknown[]) => module.forward(...a));
  const inner = (params: ParamTree, ...args: unknown[]) => withParams(module, params, () => (call as (...a: unknown[]) => unknown)(...args));
  const checkpointed = mxCheckpoint(inner);
  return ((...args: unknown[]) => checkpointed(module.trainableParameters(), ...args)) as unknown as F;
}
