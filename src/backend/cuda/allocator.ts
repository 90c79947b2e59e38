// A caching allocator for device memory. Freed blocks go to a free list per size class and
// are reused by later allocations of that class. All work runs on one stream, so a block
// freed now can be handed out at once: any kernel that uses it next is queued after every
// kernel that used it before. When the device runs out of memory (or the memory limit is
// reached) the cache is released and the allocation retried before reporting failure.
import type { Buffer } from '../../core/backend.js';
import { check, CudaError, CU, Driver } from './ffi/libcuda.js';

export class CudaBuffer implements Buffer {
  refs = 0;
  /**
   * The memory of a CUDA graph (see GraphPool), or null for an ordinary allocation. A graph
   * may move a buffer it handed out to fresh memory before replaying over it (`ptr` and
   * `capacity` change; every array sharing the buffer follows).
   */
  pool: GraphPool | null = null;
  /** `capacity` is the size class actually held (>= nbytes). */
  constructor(public ptr: bigint, readonly nbytes: number, public capacity: number) {}
}

/**
 * Memory a CUDA graph owns: the blocks its captured kernels read and write at fixed
 * addresses. While the graph is being captured, allocations come from here and frees go
 * back here (reused within the capture, in stream order); afterwards the blocks stay the
 * graph's, invisible to every other allocation, until the graph is destroyed.
 */
export class GraphPool {
  /** Every block the pool holds: address -> size class. */
  readonly blocks = new Map<bigint, number>();
  private readonly lists = new Map<number, bigint[]>();
  /** Whether allocations may still come from here (only while capturing). */
  open = true;

  /** A free block of class `size` from the pool's own free list, or undefined. */
  take(size: number): bigint | undefined { return this.lists.get(size)?.pop(); }

  adopt(ptr: bigint, size: number): void { this.blocks.set(ptr, size); }

  /** Returns a block to the pool's free list (while capturing; a no-op afterwards). */
  give(ptr: bigint): void {
    const size = this.blocks.get(ptr);
    if (size === undefined || !this.open) return;
    let list = this.lists.get(size);
    if (!list) { list = []; this.lists.set(size, list); }
    list.push(ptr);
  }

  /**
   * The memory of `buf` (a pool buffer whose array is read for the last time by the next
   * node) goes back on top of its free list now, so that node's output of the same size
   * class takes it: the node then writes its result in place. `buf`'s own later free is void.
   */
  donate(buf: CudaBuffer): void {
    this.give(buf.ptr);
    buf.pool = DONATED;
  }

  get bytes(): number { let n = 0; for (const s of this.blocks.values()) n += s; return n; }
}

/** Marks a buffer whose memory was donated: freeing it does nothing. */
const DONATED = new GraphPool();
DONATED.open = false;

let current: CachingAllocator | null = null;
/** The CUDA backend's allocator, once the backend has started (graph.ts reaches it here). */
export function cudaAllocator(): CachingAllocator | null { return current; }

/** Size classes: powers of two up to 4 KiB, then eight steps per power of two (at most 12.5% slack). */
export function sizeClass(n: number): number {
  if (n <= 0) return 0;
  if (n <= 4096) return Math.max(256, 2 ** Math.ceil(Math.log2(n)));
  const step = 2 ** Math.floor(Math.log2(n)) / 8;
  return Math.ceil(n / step) * step;
}

export class CachingAllocator {
  private readonly lists = new Map<number, bigint[]>();
  active = 0;
  peak = 0;
  cached = 0;
  memoryLimit = Infinity;
  cacheLimit = Infinity;

  /** While a graph is captured: the pool every allocation comes from. */
  capturing: GraphPool | null = null;
  /** Called first when the cache is trimmed to zero (clearCache, out of memory): graphs give back their memory. */
  onRelease: (() => void) | null = null;

  /** `sync` waits for queued work (before memory really goes back to the driver). */
  constructor(private readonly driver: Driver, private readonly sync: () => void) {
    current = this;
  }

  alloc(nbytes: number): CudaBuffer {
    const size = sizeClass(nbytes);
    if (size === 0) return new CudaBuffer(0n, 0, 0);
    if (this.capturing) return this.poolAlloc(this.capturing, nbytes, size);
    if (this.active + size > this.memoryLimit) {
      this.trim(0);
      if (this.active + size > this.memoryLimit)
        throw new Error(`[memory] allocating ${nbytes} bytes on the GPU would pass the memory limit of ${this.memoryLimit} bytes (${this.active} active)`);
    }
    const list = this.lists.get(size);
    let ptr = list?.pop();
    if (ptr !== undefined) this.cached -= size;
    else ptr = this.fresh(size, nbytes);
    this.active += size;
    if (this.active > this.peak) this.peak = this.active;
    return new CudaBuffer(ptr, nbytes, size);
  }

  /**
   * A block for a graph being captured: the pool's own free list first, then a cached block
   * (no longer anybody else's), then the driver. Never trims: that would synchronize the
   * stream being captured.
   */
  private poolAlloc(pool: GraphPool, nbytes: number, size: number): CudaBuffer {
    let ptr = pool.take(size);
    if (ptr === undefined) {
      if (this.active + size > this.memoryLimit)
        throw new Error(`[memory] allocating ${nbytes} bytes for a CUDA graph would pass the memory limit of ${this.memoryLimit} bytes (${this.active} active)`);
      ptr = this.lists.get(size)?.pop();
      if (ptr !== undefined) this.cached -= size;
      else {
        const out = new BigUint64Array(1);
        const status = this.driver.cuMemAlloc(out, size) as number;
        if (status === CU.ERROR_OUT_OF_MEMORY) throw new CudaError(`[memory] the GPU is out of memory allocating ${nbytes} bytes for a CUDA graph`, status);
        check(this.driver, status, `cuMemAlloc(${size})`);
        ptr = out[0];
      }
      pool.adopt(ptr, size);
      this.active += size;
      if (this.active > this.peak) this.peak = this.active;
    }
    const b = new CudaBuffer(ptr, nbytes, size);
    b.pool = pool;
    return b;
  }

  /**
   * Gives a destroyed graph's memory back: blocks still held by arrays (outputs handed out)
   * become ordinary allocations of those arrays; the rest return to the cache.
   */
  releasePool(pool: GraphPool, held: readonly CudaBuffer[]): void {
    pool.open = false;
    const kept = new Set<bigint>();
    for (const b of held) {
      if (b.pool !== pool || b.refs === 0) continue;
      b.pool = null;
      b.capacity = pool.blocks.get(b.ptr) ?? b.capacity;
      kept.add(b.ptr);
    }
    for (const [ptr, size] of pool.blocks) {
      if (kept.has(ptr)) continue;
      this.active -= size;
      let list = this.lists.get(size);
      if (!list) { list = []; this.lists.set(size, list); }
      list.push(ptr);
      this.cached += size;
    }
    pool.blocks.clear();
    if (this.cached > this.cacheLimit) this.trim(this.cacheLimit);
  }

  private fresh(size: number, nbytes: number): bigint {
    const out = new BigUint64Array(1);
    let status = this.driver.cuMemAlloc(out, size) as number;
    if (status === CU.ERROR_OUT_OF_MEMORY && (this.cached > 0 || this.onRelease)) {
      this.trim(0);
      status = this.driver.cuMemAlloc(out, size) as number;
    }
    if (status === CU.ERROR_OUT_OF_MEMORY)
      throw new CudaError(`[memory] the GPU is out of memory allocating ${nbytes} bytes (${this.active} bytes active in lathe arrays, cache released)`, status);
    check(this.driver, status, `cuMemAlloc(${size})`);
    return out[0];
  }

  /** Returns a block to its size class; trims the cache past its limit. */
  free(what: CudaBuffer): void {
    if (what.capacity === 0) return;
    if (what.pool) { what.pool.give(what.ptr); return; } // a graph's memory stays the graph's
    this.active -= what.capacity;
    let list = this.lists.get(what.capacity);
    if (!list) { list = []; this.lists.set(what.capacity, list); }
    list.push(what.ptr);
    this.cached += what.capacity;
    if (this.cached > this.cacheLimit) this.trim(this.cacheLimit);
  }

  /** Frees cached blocks, largest first, until at most `target` bytes stay cached. */
  trim(target: number): void {
    if (target <= 0 && this.onRelease && !this.capturing) this.onRelease();
    if (this.cached <= Math.max(0, target)) return;
    this.sync();
    const sizes = [...this.lists.keys()].sort((a, b) => b - a);
    for (const size of sizes) {
      const list = this.lists.get(size)!;
      while (list.length && this.cached > target) {
        check(this.driver, this.driver.cuMemFree(list.pop()!), 'cuMemFree');
        this.cached -= size;
      }
      if (!list.length) this.lists.delete(size);
      if (this.cached <= target) break;
    }
  }
}
