// What the core asks of a backend, in one place. A backend owns its buffers (allocate,
// free, read, write) and evaluates nodes; the evaluator in eval.ts drives it.
import type { Device } from './device.js';
import type { DType, TypedArray } from './dtype.js';
import type { Node } from './array.js';

/** A buffer owned by a backend. Several arrays may share one (reshape); `refs` counts them. */
export interface Buffer {
  readonly nbytes: number;
  refs: number;
}

export interface MemoryStats {
  active: number;
  peak: number;
  cache: number;
}

export interface Backend {
  readonly name: string;
  /** Primitives this backend cannot evaluate yet: the goal is an empty list. */
  readonly unimplemented: readonly string[];
  /** Buffer holding a copy of host data in the dtype's storage layout. */
  fromHost(data: TypedArray, dtype: DType): Buffer;
  /** Host copy of a buffer, synchronously; null where the backend cannot read synchronously. */
  readSync(buf: Buffer, dtype: DType, size: number): TypedArray | null;
  read(buf: Buffer, dtype: DType, size: number): Promise<TypedArray>;
  /** Evaluates one node: sets `_buf` on each of node.outputs from the inputs' buffers. */
  evalNode(node: Node): void;
  /** Releases a buffer whose last reference went away (to the cache or the system). */
  release(buf: Buffer): void;
  /** Waits for queued work (no-op on synchronous backends). */
  synchronize(): void;
  memory(): MemoryStats;
  resetPeakMemory(): void;
  clearCache(): void;
  setMemoryLimit(bytes: number): number;
  setCacheLimit(bytes: number): number;
}

const backends = new Map<string, Backend>();

export function registerBackend(type: Device['type'], b: Backend): void {
  backends.set(type, b);
}

export function backendFor(d: Device): Backend {
  const b = backends.get(d.type);
  if (!b) throw new Error(`[device] no backend is registered for ${d}`);
  return b;
}

export function allBackends(): Backend[] {
  return [...backends.values()];
}
