// Optimizer state as flat dotted keys (`step`, `layers.0.weight.m`), the form safetensors
// files hold, and back.
import * as mx from '../core/index.js';
import { treeFlatten, treeUnflatten } from '../utils/index.js';
import { saveSafetensors, loadSafetensors } from '../io/safetensors.js';
import type { Optimizer, OptimizerState } from './optimizer.js';

/** The arrays of a state tree under dotted keys. Non-array leaves are errors. */
export function flattenState(state: OptimizerState): Record<string, mx.Array> {
  const out: Record<string, mx.Array> = {};
  for (const [k, v] of treeFlatten<unknown>(state)) {
    if (!(v instanceof mx.Array)) throw new Error(`[flattenState] '${k}' holds ${v === null ? 'null' : typeof v}, not an array`);
    out[k] = v;
  }
  return out;
}

/** The state tree of flat dotted keys (integer keys become lists, as treeUnflatten). */
export function unflattenState(flat: Record<string, mx.Array>): OptimizerState {
  return treeUnflatten(Object.entries(flat)) as OptimizerState;
}

/** Writes `optimizer.state` to a safetensors file (metadata records the optimizer's class). */
export function saveOptimizerState(path: string, optimizer: Optimizer): void {
  saveSafetensors(path, flattenState(optimizer.state), { format: 'lathe-optimizer-state', optimizer: optimizer.constructor.name });
}

/**
 * Reads a state written by saveOptimizerState into `optimizer` (arrays are read now). If the
 * optimizer already has state for its parameters (after init or an update), the file must
 * hold the same keys with the same shapes and dtypes; every difference is listed.
 */
export function loadOptimizerState(path: string, optimizer: Optimizer): void {
  const file = loadSafetensors(path);
  const flat: Record<string, mx.Array> = {};
  for (const k of Object.keys(file.tensors)) flat[k] = file.tensors[k];
  mx.eval(Object.values(flat));
  const saved = file.metadata.optimizer;
  if (saved && saved !== optimizer.constructor.name)
    throw new Error(`[loadOptimizerState] ${path} holds the state of a ${saved}, not of a ${optimizer.constructor.name}`);
  const current = flattenState(optimizer.state);
  if (optimizer.initialized) {
    const problems: string[] = [];
    for (const [k, a] of Object.entries(current)) {
      const b = flat[k];
      if (!b) problems.push(`missing '${k}'`);
      else if (b.dtype !== a.dtype || b.shape.join(',') !== a.shape.join(','))
        problems.push(`'${k}' is ${b.dtype.name} (${b.shape.join(',')}), expected ${a.dtype.name} (${a.shape.join(',')})`);
    }
    for (const k of Object.keys(flat)) if (!(k in current)) problems.push(`unexpected '${k}'`);
    if (problems.length) throw new Error(`[loadOptimizerState] ${path} does not match the optimizer's state: ${problems.join('; ')}`);
  }
  optimizer.state = unflattenState(flat);
}
