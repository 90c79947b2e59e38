// Constructor arguments as MLX takes them: positional in MLX's order, or keyword-style as a
// trailing options object (`new Adam(1e-3, { betas: [0.9, 0.95] })`, `new Adam({ learningRate: 1e-3 })`).
import { isPlainObject } from '../utils/index.js';

/** Reads `args` against the parameter `names` (MLX's order); unknown or repeated names are errors. */
export function parseArgs<O extends object>(where: string, names: readonly (keyof O & string)[], args: readonly unknown[]): Partial<O> {
  const out: Record<string, unknown> = {};
  const last = args.length - 1;
  args.forEach((a, i) => {
    if (i === last && isPlainObject(a)) {
      for (const [k, v] of Object.entries(a)) {
        if (!names.includes(k as keyof O & string)) throw new Error(`[${where}] unknown option '${k}'; expected one of ${names.join(', ')}`);
        if (k in out) throw new Error(`[${where}] '${k}' is given twice, as an argument and as an option`);
        if (v !== undefined) out[k] = v;
      }
      return;
    }
    if (i >= names.length) throw new Error(`[${where}] expected at most ${names.length} arguments (${names.join(', ')}), got ${args.length}`);
    if (a !== undefined) out[names[i]] = a;
  });
  return out as Partial<O>;
}

export function checkNumber(where: string, name: string, v: unknown, min = -Infinity): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`[${where}] ${name} must be a number, got ${typeof v === 'number' ? v : typeof v}`);
  if (v < min) throw new Error(`[${where}] ${name} must be >= ${min}, got ${v}`);
  return v;
}

export function checkBetas(where: string, v: unknown): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || v.some((b) => typeof b !== 'number'))
    throw new Error(`[${where}] betas must be two numbers, got ${JSON.stringify(v)}`);
  return [v[0], v[1]];
}
