// Memory queries and scopes. Numbers are for the default device's backend (MLX reports the
// GPU's when there is one).
import { backendFor, allBackends } from './backend.js';
import { defaultDevice, Device, Stream } from './device.js';
import { Array } from './array.js';
import { enterScope, exitScope } from './scope.js';
import { evalArrays, isKeepingGraph } from './eval.js';
import { treeLeaves } from './tree.js';

const current = () => backendFor(defaultDevice());

export const getActiveMemory = (): number => current().memory().active;
export const getPeakMemory = (): number => current().memory().peak;
export const getCacheMemory = (): number => current().memory().cache;
export const resetPeakMemory = (): void => current().resetPeakMemory();
export const clearCache = (): void => { for (const b of allBackends()) b.clearCache(); };
/** Sets the limit in bytes past which allocation fails; returns the previous one. */
export const setMemoryLimit = (bytes: number): number => current().setMemoryLimit(bytes);
export const setCacheLimit = (bytes: number): number => current().setCacheLimit(bytes);
/** Waits until the work queued on `s` (a stream or device; default: the default device) is done, as mx.synchronize. */
export const synchronize = (s?: Stream | Device): void =>
  s instanceof Stream ? backendFor(s.device).synchronize(s) : backendFor(s ?? defaultDevice()).synchronize();

/**
 * Runs fn, evaluates what it returns, and disposes every other array created inside.
 * Returned trees (objects, arrays) keep all their arrays. The usual loop:
 * `const next = mx.tidy(() => step(x)); x.dispose(); x = next;`.
 *
 * Inside a function that a transform traces (grad, vmap, compile...), tidy neither
 * evaluates nor disposes: the graph must survive to be differentiated or replayed. Its
 * arrays pass to the enclosing tidy, if any, which cleans up once the transform is done.
 */
export function tidy<T>(fn: () => T): T {
  enterScope();
  let result: T;
  try {
    result = fn();
  } catch (e) {
    exitScope(new Set());
    throw e;
  }
  if (isKeepingGraph()) {
    exitScope(null);
    return result;
  }
  const keepers = treeLeaves(result);
  try {
    evalArrays(keepers);
  } catch (e) {
    exitScope(new Set());
    throw e;
  }
  exitScope(new Set<Array>(keepers));
  return result;
}

export { keep } from './scope.js';

/** Frees the buffers of every array in the given trees now. */
export function dispose(...trees: unknown[]): void {
  for (const t of trees) for (const a of treeLeaves(t)) a.dispose();
}
