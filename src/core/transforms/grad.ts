// mx.grad and mx.valueAndGrad: reverse mode for a scalar loss, with respect to the
// arguments at `argnums` (trees of arrays).
import { Array } from '../array.js';
import { onesLike } from '../ops/creation.js';
import { treeLeaves, treeReplaceLeaves } from '../tree.js';
import { traceCall, fmtShape } from './trace.js';
import { backward } from './vjp.js';

type Fn = (...args: never[]) => unknown;
/** The gradient of an argument: an array for an array (or ArrayLike) argument, else a tree like it. */
export type GradOf<T> = Array extends T ? Array : T;
/** Gradients come back shaped like the arguments they are taken with respect to. */
export type GradsFor<A extends readonly unknown[], N> = N extends number ? GradOf<A[N]> : { -readonly [K in keyof N]: N[K] extends number ? GradOf<A[N[K]]> : never };

function checkArgnums(where: string, argnums: number | readonly number[], args: readonly unknown[]): number[] {
  const nums = typeof argnums === 'number' ? [argnums] : [...argnums];
  if (!nums.length) throw new Error(`[${where}] argnums is empty: there is nothing to differentiate with respect to`);
  for (const i of nums) {
    if (!Number.isInteger(i) || i < 0 || i >= args.length)
      throw new Error(`[${where}] argnums ${i} is out of range for a call with ${args.length} argument${args.length === 1 ? '' : 's'}`);
    const leaves = treeLeaves(args[i]);
    if (!leaves.length) throw new Error(`[${where}] argument ${i} holds no arrays to differentiate with respect to`);
    const bad = leaves.find((l) => !l.dtype.isFloat);
    if (bad) throw new TypeError(`[${where}] cannot differentiate with respect to argument ${i}: it holds an array of dtype ${bad.dtype.name}, and only floating-point arrays have gradients`);
  }
  return nums;
}

function lossOf(where: string, out: unknown): Array {
  const loss = out instanceof Array ? out : globalThis.Array.isArray(out) ? out[0] : undefined;
  if (!(loss instanceof Array))
    throw new TypeError(`[${where}] fn must return a scalar array, or a list whose first entry is one (the loss)`);
  if (loss.size !== 1) throw new Error(`[${where}] fn must return a scalar loss (an array with one element), got an array of shape ${fmtShape(loss.shape)}`);
  if (!loss.dtype.isFloat) throw new TypeError(`[${where}] the loss must be a floating-point array, got ${loss.dtype.name}`);
  return loss;
}

function makeValueAndGrad(where: string, fn: Fn, argnums: number | readonly number[]) {
  return (...args: unknown[]): [unknown, unknown] => {
    const nums = checkArgnums(where, argnums, args);
    const { leaves, out } = traceCall(fn, args, nums);
    const loss = lossOf(where, out);
    const grads = backward(leaves, [loss], [onesLike(loss)]);
    let k = 0;
    const perArg = nums.map((i) => {
      const n = treeLeaves(args[i]).length;
      return treeReplaceLeaves(args[i], grads.slice(k, (k += n)));
    });
    return [out, typeof argnums === 'number' ? perArg[0] : perArg];
  };
}

/**
 * `mx.valueAndGrad(fn, argnums = 0)`: a function returning [fn(...args), gradients]. fn returns
 * a scalar loss, or a list [loss, ...aux]; gradients are of the loss, shaped like the arguments.
 */
export function valueAndGrad<F extends Fn, const N extends number | readonly number[] = 0>(fn: F, argnums?: N): (...args: Parameters<F>) => [ReturnType<F>, GradsFor<Parameters<F>, N>] {
  return makeValueAndGrad('valueAndGrad', fn, argnums ?? 0) as (...args: Parameters<F>) => [ReturnType<F>, GradsFor<Parameters<F>, N>];
}

/** `mx.grad(fn, argnums = 0)`: a function returning the gradient of fn's scalar loss. */
export function grad<F extends Fn, const N extends number | readonly number[] = 0>(fn: F, argnums?: N): (...args: Parameters<F>) => GradsFor<Parameters<F>, N> {
  const vg = makeValueAndGrad('grad', fn, argnums ?? 0);
  return ((...args: unknown[]) => vg(...args)[1]) as (...args: Parameters<F>) => GradsFor<Parameters<F>, N>;
}
