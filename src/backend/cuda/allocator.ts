// A caching allocator for device memory, stream-ordered. A freed block goes to a free list per
// (stream, size class): its home stream, the one that wrote it, after that stream has waited
// for any other stream that read it. Reused on its home stream it is handed out at once (every
// later use is queued after every earlier one); another stream takes it only when its own list
// is empty, and first waits for the home stream's queued work (an event). When the device runs out of memory (or the memory limit is
// reached) the cache is released and the allocation retried before reporting failure.
import type { Buffer } from '../../core/backend.js';
import { check, CudaError, CU, Driver } from './ffi/libcuda.js';

export class CudaBuffer implements Buffer {
  /** The CUDA stream of lathe's default GPU stream (set when the backend starts). */
  static defaultStream = 0n;
  refs = 0;
  /** The CUDA stream that wrote the buffer: its block goes back to this stream's free lists. */
  stream = CudaBuffer.defaultStream;
  /** Other streams that read the buffer (the home stream waits for them before the block is reused). */
  readers: bigint[] | null = null;
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

/** How the allocator orders streams (the runtime). */
export interface StreamOrder {
  /** Work queued on `dst` from now on waits for the work queued on `src` so far. */
  order(dst: bigint, src: bigint): void;
  /** A block of `home` goes back to the cache (home then waits for graphs that may read it). */
  released(home: bigint): void;
}

export class CachingAllocator {
  /** Free blocks by home stream, then size class. */
  private readonly streams = new Map<bigint, Map<number, bigint[]>>();
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
  constructor(private readonly driver: Driver, private readonly sync: () => void, private readonly streamOrder: StreamOrder) {
    current = this;
  }

  private listsOf(stream: bigint): Map<number, bigint[]> {
    let m = this.streams.get(stream);
    if (!m) { m = new Map(); this.streams.set(stream, m); }
    return m;
  }

  private push(stream: bigint, size: number, ptr: bigint): void {
    const lists = this.listsOf(stream);
    let list = lists.get(size);
    if (!list) { list = []; lists.set(size, list); }
    list.push(ptr);
    this.cached += size;
  }

  /** A cached block of class `size` for `stream`: its own first, else another stream's (after waiting for that stream). */
  private cachedBlock(stream: bigint, size: number): bigint | undefined {
    let ptr = this.streams.get(stream)?.get(size)?.pop();
    if (ptr === undefined && this.streams.size > 1) {
      for (const [home, lists] of this.streams) {
        if (home === stream) continue;
        ptr = lists.get(size)?.pop();
        if (ptr !== undefined) { this.streamOrder.order(stream, home); break; }
      }
    }
    if (ptr !== undefined) this.cached -= size;
    return ptr;
  }

  /** A block of at least `nbytes` for work on `stream` (a CUDA stream; the default one when omitted). */
  alloc(nbytes: number, stream = CudaBuffer.defaultStream): CudaBuffer {
    const size = sizeClass(nbytes);
    if (size === 0) return new CudaBuffer(0n, 0, 0);
    if (this.capturing) return this.poolAlloc(this.capturing, nbytes, size);
    if (this.active + size > this.memoryLimit) {
      this.trim(0);
      if (this.active + size > this.memoryLimit)
        throw new Error(`[memory] allocating ${nbytes} bytes on the GPU would pass the memory limit of ${this.memoryLimit} bytes (${this.active} active)`);
    }
    const ptr = this.cachedBlock(stream, size) ?? this.fresh(size, nbytes);
    this.active += size;
    if (this.active > this.peak) this.peak = this.active;
    const b = new CudaBuffer(ptr, nbytes, size);
    b.stream = stream;
    return b;
  }

  /**
   * A block for a graph being captured: the pool's own free list first, then a cached block
   * of the default stream (graphs are captured there; no longer anybody else's), then the
   * driver. Never trims: that would synchronize the stream being captured.
   */
  private poolAlloc(pool: GraphPool, nbytes: number, size: number): CudaBuffer {
    let ptr = pool.take(size);
    if (ptr === undefined) {
      if (this.active + size > this.memoryLimit)
        throw new Error(`[memory] allocating ${nbytes} bytes for a CUDA graph would pass the memory limit of ${this.memoryLimit} bytes (${this.active} active)`);
      ptr = this.streams.get(CudaBuffer.defaultStream)?.get(size)?.pop();
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
      this.push(CudaBuffer.defaultStream, size, ptr);
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

  /** Returns a block to its home stream's size class; trims the cache past its limit. */
  free(what: CudaBuffer): void {
    if (what.capacity === 0) return;
    if (what.pool) { what.pool.give(what.ptr); return; } // a graph's memory stays the graph's
    const home = what.stream;
    if (what.readers) {
      for (const r of what.readers) this.streamOrder.order(home, r);
      what.readers = null;
    }
    this.streamOrder.released(home);
    this.active -= what.capacity;
    this.push(home, what.capacity, what.ptr);
    if (this.cached > this.cacheLimit) this.trim(this.cacheLimit);
  }

  /** Frees cached blocks, largest first, until at most `target` bytes stay cached. */
  trim(target: number): void {
    if (target <= 0 && this.onRelease && !this.capturing) this.onRelease();
    if (this.cached <= Math.max(0, target)) return;
    this.sync();
    const all: [number, Map<number, bigint[]>][] = [];
    for (const lists of this.streams.values()) for (const size of lists.keys()) all.push([size, lists]);
    all.sort((a, b) => b[0] - a[0]);
    for (const [size, lists] of all) {
      const list = lists.get(size)!;
      while (list.length && this.cached > target) {
        check(this.driver, this.driver.cuMemFree(list.pop()!), 'cuMemFree');
        this.cached -= size;
      }
      if (!list.length) lists.delete(size);
      if (this.cached <= target) break;
    }
  }
}
