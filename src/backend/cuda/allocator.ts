// A caching allocator for device memory. Freed blocks go to a free list per size class and
// are reused by later allocations of that class. All work runs on one stream, so a block
// freed now can be handed out at once: any kernel that uses it next is queued after every
// kernel that used it before. When the device runs out of memory (or the memory limit is
// reached) the cache is released and the allocation retried before reporting failure.
import type { Buffer } from '../../core/backend.js';
import { check, CudaError, CU, Driver } from './ffi/libcuda.js';

export class CudaBuffer implements Buffer {
  refs = 0;
  /** `capacity` is the size class actually held (>= nbytes). */
  constructor(readonly ptr: bigint, readonly nbytes: number, readonly capacity: number) {}
}

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

  /** `sync` waits for queued work (before memory really goes back to the driver). */
  constructor(private readonly driver: Driver, private readonly sync: () => void) {}

  alloc(nbytes: number): CudaBuffer {
    const size = sizeClass(nbytes);
    if (size === 0) return new CudaBuffer(0n, 0, 0);
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

  private fresh(size: number, nbytes: number): bigint {
    const out = new BigUint64Array(1);
    let status = this.driver.cuMemAlloc(out, size) as number;
    if (status === CU.ERROR_OUT_OF_MEMORY && this.cached > 0) {
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
    this.active -= what.capacity;
    let list = this.lists.get(what.capacity);
    if (!list) { list = []; this.lists.set(what.capacity, list); }
    list.push(what.ptr);
    this.cached += what.capacity;
    if (this.cached > this.cacheLimit) this.trim(this.cacheLimit);
  }

  /** Frees cached blocks, largest first, until at most `target` bytes stay cached. */
  trim(target: number): void {
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
