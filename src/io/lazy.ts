// Records whose values are made on first access. Loaders return these so that a file of
// many gigabytes is read only as far as its tensors are used.

/**
 * A plain object with one enumerable property per key. Reading a property calls
 * `load(key)` once and keeps the result (later reads return the same value); assigning or
 * deleting works as on any object. `Object.keys` and `in` read nothing.
 */
export function lazyRecord<T>(keys: Iterable<string>, load: (key: string) => T): Record<string, T> {
  const rec: Record<string, T> = {};
  for (const key of keys) {
    const settle = (value: T) => {
      Object.defineProperty(rec, key, { value, enumerable: true, configurable: true, writable: true });
    };
    Object.defineProperty(rec, key, {
      enumerable: true,
      configurable: true,
      get() { const v = load(key); settle(v); return v; },
      set(v: T) { settle(v); },
    });
  }
  return rec;
}

/** `obj[key] = value`, also for keys such as `__proto__` that files may hold. */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, configurable: true, writable: true });
}
