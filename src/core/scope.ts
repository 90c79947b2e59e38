// Explicit memory scopes: tidy(fn) disposes every array made inside fn except what it returns.
import type { Array } from './array.js';

const scopes: Set<Array>[] = [];

export function trackNew(a: Array): void {
  if (scopes.length) scopes[scopes.length - 1].add(a);
}

/** Stops `a` from being disposed by the enclosing tidy scopes. */
export function keep<T extends Array>(a: T): T {
  for (const s of scopes) s.delete(a);
  return a;
}

export function enterScope(): void { scopes.push(new Set()); }

/** How many tidy scopes are open (for tests: a scope left open would capture every later array). */
export function scopeDepth(): number { return scopes.length; }

/**
 * Leaves the innermost scope, disposing its arrays except those in `survivors` (all of
 * them when null), which pass to the enclosing scope.
 */
export function exitScope(survivors: ReadonlySet<Array> | null): void {
  const s = scopes.pop();
  if (!s) throw new Error('[tidy] no scope to exit');
  const parent = scopes[scopes.length - 1];
  for (const a of s) {
    if (!survivors || survivors.has(a)) parent?.add(a);
    else a.dispose();
  }
}
