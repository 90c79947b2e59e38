// Shared by the optimizer tests: the reference fixture and building optimizers from its cases.
import { readFileSync, existsSync } from 'node:fs';
import * as mx from '../../src/index.js';
import * as optim from '../../src/optimizers/index.js';

type Nested = number | Nested[];
export type Params = Record<string, Nested>;
export interface Case {
  name: string; optimizer: string; args: Record<string, unknown>; dtype: 'float64' | 'float32'; keys: string[];
  reference: string; steps: Params[]; tol?: { atol: number; rtol: number }; why_tol?: string;
}
export interface Fixture {
  steps: number; params: Params; grads: Params[]; cases: Case[]; notes: string[]; torch?: string;
  schedules?: { name: string; lathe: { fn: string; args: number[] }; values: number[] }[];
  clip?: { maxNorm: number; totalNorm: number; clipped: Params }[];
  training?: { x: number[][]; y: number[][]; optimizer: string; args: Record<string, unknown>; reference: string; losses: number[]; final: Params };
}

const path = process.env.LATHE_OPTIMIZER_FIXTURE ?? new URL('../fixtures/optimizers/optimizers.json', import.meta.url).pathname;
export const fixture: Fixture | null = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) as Fixture : null;

/** The optimizer a fixture case describes (args are lathe's option names; a few stand for schedules). */
export function makeOptimizer(name: string, args: Record<string, unknown>): optim.Optimizer {
  const a = { ...args };
  const lr = a.learningRate as { biasCorrectedFrom?: number; beta1?: number } | undefined;
  if (lr && typeof lr === 'object' && 'biasCorrectedFrom' in lr) {
    // PyTorch's Adamax divides the rate by 1 - beta1^t (t = step + 1: schedules see the step before it is counted).
    const { biasCorrectedFrom: base, beta1 } = lr as { biasCorrectedFrom: number; beta1: number };
    a.learningRate = (step: mx.Array) => mx.divide(base, mx.subtract(1, mx.power(beta1, mx.add(mx.astype(step, mx.float32), 1))));
  }
  const Ctor = (optim as unknown as Record<string, new (o: unknown) => optim.Optimizer>)[name];
  if (typeof Ctor !== 'function') throw new Error(`no optimizer ${name}`);
  return new Ctor(a);
}

export function toParams(p: Params, keys: string[], dtype: mx.DTypeName): Record<string, mx.Array> {
  return Object.fromEntries(keys.map((k) => [k, mx.array(p[k] as never, dtype)]));
}

/** Largest |actual - expected| / (atol + rtol |expected|) over all elements (<= 1 passes). */
export function worst(actual: mx.Array, expected: Nested, atol: number, rtol: number): { ratio: number; diff: number } {
  const got = actual.dataSync();
  const want = [expected].flat(Infinity as 1) as number[];
  let ratio = 0, diff = 0;
  want.forEach((e, i) => {
    const d = Math.abs(Number(got[i]) - e);
    diff = Math.max(diff, d);
    ratio = Math.max(ratio, Number.isNaN(d) ? Infinity : d / (atol + rtol * Math.abs(e)));
  });
  return { ratio, diff };
}
