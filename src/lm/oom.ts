// Out-of-memory errors with their context: the backends say how many bytes they could not
// allocate; lathe/lm adds what it was doing (loading which tensor, prefilling how many tokens)
// and how much memory was free, so the message says what to change.
import * as mx from '../core/index.js';

const MiB = 2 ** 20;
const size = (n: number) => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / MiB).toFixed(1)} MiB`);

/** Whether `e` is a backend's allocation failure ('[memory] ...'). */
export function isOutOfMemory(e: unknown): e is Error {
  return e instanceof Error && e.message.startsWith('[memory]');
}

/** The allocation failure `e`, retold as `[where] out of memory while <what>: ...`. */
export function outOfMemoryError(where: string, what: string, e: Error): Error {
  const m = e.message;
  const requested = /allocating (\d+) bytes/.exec(m);
  const limit = /memory limit of (\d+) bytes/.exec(m);
  const active = mx.getActiveMemory(), cache = mx.getCacheMemory();
  const parts = [requested ? `${size(Number(requested[1]))} requested` : 'an allocation failed'];
  if (limit) parts.push(`${size(Math.max(0, Number(limit[1]) - active))} free under the memory limit of ${size(Number(limit[1]))}`);
  else parts.push('the device had no more');
  parts.push(`${size(active)} held by lathe arrays${cache ? `, ${size(cache)} cached` : ''}`);
  const err = new Error(`[${where}] out of memory while ${what}: ${parts.join('; ')}. Free arrays (dispose, mx.clearCache()), use a smaller dtype or a quantized model, `
    + `or raise the limit (mx.setMemoryLimit). (${m})`);
  (err as Error & { cause?: unknown }).cause = e;
  return err;
}

/** Runs fn; an allocation failure inside is rethrown with `what` (a function, so it costs nothing when all goes well). */
export function withMemoryContext<T>(where: string, what: () => string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw isOutOfMemory(e) ? outOfMemoryError(where, what(), e) : e;
  }
}
