// The CPU backend: buffers are TypedArrays in each dtype's storage layout, and kernels are
// plain functions over them (tight loops; many are generated per dtype, see codegen.ts).
// Kernel outputs come from a caching allocator (StorageCache below): large ones live on
// SharedArrayBuffers, so the worker pool (pool.ts) can split loops over them.
import type { Backend, Buffer, MemoryStats } from '../../core/backend.js';
import type { Node } from '../../core/array.js';
import { totalmem } from 'node:os';
import { DType, TypedArray, allocStorage, storageCtor } from '../../core/dtype.js';
import type { Spec } from '../../core/primitive.js';

/**
 * Freed storage kept by exact byte size for the next allocation of that size: fresh
 * memory costs a page fault per 4 KiB on first touch, reused memory is already mapped (and
 * often in cache). Only storage this cache made and nobody outside saw (`owned`) returns
 * to it, so a caller's TypedArray (fromHost, dataSync) is never overwritten.
 */
class StorageCache {
  /** Below this, plain ArrayBuffers: cheap to make, and too small to split over threads. */
  static readonly MIN_BYTES = 4096;
  private bySize = new Map<number, SharedArrayBuffer[]>();
  private owned = new WeakSet<TypedArray>();
  cached = 0;
  limit = Math.min(2 ** 30, totalmem() / 4);

  alloc(dtype: DType, n: number, zeroed: boolean): TypedArray {
    const Ctor = storageCtor[dtype.name];
    const bytes = n * Ctor.BYTES_PER_ELEMENT;
    if (bytes < StorageCache.MIN_BYTES) return allocStorage(dtype, n);
    const hit = this.bySize.get(bytes)?.pop();
    let data: TypedArray;
    if (hit) {
      this.cached -= bytes;
      if (zeroed) new Uint8Array(hit).fill(0); // bytes: BigInt64Array.fill(0) would throw
      data = new Ctor(hit);
    } else {
      data = new Ctor(this.newBuffer(bytes)); // zeroed by the system
    }
    this.owned.add(data);
    return data;
  }

  private newBuffer(bytes: number): SharedArrayBuffer {
    try {
      return new SharedArrayBuffer(bytes);
    } catch {
      this.trim(0); // out of address space or memory: give the cache back and try once more
      return new SharedArrayBuffer(bytes);
    }
  }

  /** Takes back storage released by the backend; returns nothing it does not own. */
  recycle(data: TypedArray): void {
    if (!this.owned.delete(data)) return;
    const bytes = data.byteLength;
    if (this.cached + bytes > this.limit) return;
    let list = this.bySize.get(bytes);
    if (!list) { list = []; this.bySize.set(bytes, list); }
    list.push(data.buffer as SharedArrayBuffer);
    this.cached += bytes;
  }

  /** Marks storage as seen outside the backend: it is left to the garbage collector. */
  expose<T extends TypedArray>(data: T): T { this.owned.delete(data); return data; }

  /** Drops cached storage until at most `bytes` remain. */
  trim(bytes: number): void {
    for (const [size, list] of this.bySize) {
      while (list.length && this.cached > bytes) { list.pop(); this.cached -= size; }
      if (!list.length) this.bySize.delete(size);
    }
  }

  setLimit(bytes: number): number {
    const old = this.limit;
    this.limit = bytes;
    this.trim(bytes);
    return old;
  }
}
const storage = new StorageCache();

export class CpuBuffer implements Buffer {
  refs = 0;
  constructor(readonly data: TypedArray) {}
  get nbytes(): number { return this.data.byteLength; }
}

/** An input as a kernel sees it: dense row-major storage with its shape and dtype. */
export interface CpuArg {
  data: TypedArray;
  shape: readonly number[];
  dtype: DType;
}

/** Computes a node's outputs: one new storage per output spec. */
export type CpuKernel = (ins: CpuArg[], outs: Spec[], params: never, node: Node) => TypedArray[];

const kernels = new Map<string, CpuKernel>();

export function registerCpuKernels(table: Record<string, CpuKernel>): void {
  for (const [name, k] of Object.entries(table)) kernels.set(name, k);
}

export function cpuKernelNames(): string[] { return [...kernels.keys()]; }
/** The CPU kernel registered for a primitive (other backends run host fallbacks through it). */
export function cpuKernel(name: string): CpuKernel | undefined { return kernels.get(name); }

class CpuBackend implements Backend {
  readonly name = 'cpu';
  private active = 0;
  private peak = 0;
  private limit = Infinity;

  get unimplemented(): string[] {
    return primitiveNames().filter((p) => !kernels.has(p));
  }

  private track(buf: CpuBuffer): CpuBuffer {
    this.active += buf.nbytes;
    if (this.active > this.peak) this.peak = this.active;
    return buf;
  }

  fromHost(data: TypedArray): Buffer {
    this.checkLimit(data.byteLength);
    return this.track(new CpuBuffer(data));
  }

  // Storage handed to the caller is theirs to keep: it never returns to the cache.
  readSync(buf: Buffer): TypedArray { return storage.expose((buf as CpuBuffer).data); }
  async read(buf: Buffer): Promise<TypedArray> { return storage.expose((buf as CpuBuffer).data); }

  evalNode(node: Node): void {
    const k = kernels.get(node.prim.name);
    if (!k) throw new Error(`[${node.prim.name}] the CPU backend does not implement this primitive yet`);
    const ins: CpuArg[] = node.inputs.map((x) => ({ data: (x._buf as CpuBuffer).data, shape: x.shape, dtype: x.dtype }));
    const specs = node.outputs.map((o) => ({ shape: o.shape, dtype: o.dtype }));
    const bytes = specs.reduce((s, o) => s + o.dtype.size * o.shape.reduce((a, b) => a * b, 1), 0);
    this.checkLimit(bytes);
    const results = k(ins, specs, node.params as never, node);
    const made: CpuBuffer[] = [];
    node.outputs.forEach((o, i) => {
      const r = results[i];
      // A kernel may hand back an input's storage unchanged (reshape): share the buffer.
      // A view into an input's storage must keep that storage out of the cache.
      const same = node.inputs.find((x) => x._buf && (x._buf as CpuBuffer).data === r);
      if (!same) for (const x of ins) if (x.data.buffer === r.buffer) storage.expose(x.data);
      const twin = made.find((b) => b.data === r); // the same storage for two outputs
      const buf = same ? same._buf! : twin ?? this.track(new CpuBuffer(r));
      made.push(buf as CpuBuffer);
      o._setBuffer(buf);
    });
  }

  release(buf: Buffer): void {
    this.active -= buf.nbytes;
    storage.recycle((buf as CpuBuffer).data);
  }
  synchronize(): void {}

  private checkLimit(bytes: number): void {
    if (this.active + bytes > this.limit)
      throw new Error(`[memory] allocating ${bytes} bytes would pass the memory limit of ${this.limit} bytes (${this.active} active)`);
  }

  memory(): MemoryStats { return { active: this.active, peak: this.peak, cache: storage.cached }; }
  resetPeakMemory(): void { this.peak = this.active; }
  clearCache(): void { storage.trim(0); }
  setMemoryLimit(bytes: number): number { const old = this.limit; this.limit = bytes; return old; }
  setCacheLimit(bytes: number): number { return storage.setLimit(bytes); }
}

import { primitives as primitiveNames } from '../../core/primitive.js';
export const cpuBackend = new CpuBackend();

/** New zeroed storage for an output spec. */
export function allocOut(spec: Spec): TypedArray {
  return storage.alloc(spec.dtype, spec.shape.reduce((a, b) => a * b, 1), true);
}

/** Storage for an output spec whose kernel writes every element: may hold old values. */
export function allocUninit(spec: Spec): TypedArray {
  return storage.alloc(spec.dtype, spec.shape.reduce((a, b) => a * b, 1), false);
}
