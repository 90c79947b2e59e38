// Host <-> device copies staged through one pinned host arena. Asynchronous copies must
// never read or write JS-owned memory (the GC may move or free it), so data is copied into
// page-locked memory first. The arena is used front to back; when it wraps, the streams that
// queued copies are synchronized, so no queued copy still reads the part being overwritten.
import type { TypedArray } from '../../core/dtype.js';
import { check, out64, getKoffi, CU } from './ffi/libcuda.js';
import type { Runtime } from './runtime.js';
import type { CudaBuffer } from './allocator.js';

const ARENA_BYTES = 16 << 20;
/** Prefetches (small reads queued early) go through a ring of pinned slots, each with an event. */
const SLOTS = 16, SLOT_BYTES = 4096;

interface Early { slot: number; bytes: number; data: ArrayBuffer | null }

export class Staging {
  private base = 0n;
  private bytes: Uint8Array | null = null;
  private off = 0;
  /** The streams that may still have queued copies reading or writing the arena. */
  private readonly busy = new Set<bigint>();

  constructor(private readonly rt: Runtime) {}

  private arena(): Uint8Array {
    if (!this.bytes) {
      check(this.rt.driver, this.rt.driver.cuMemAllocHost(out64, ARENA_BYTES), 'cuMemAllocHost');
      this.base = out64[0];
      this.bytes = new Uint8Array(getKoffi()!.view(this.base, ARENA_BYTES));
    }
    return this.bytes;
  }

  /** Offset of `n` free bytes (n <= arena size), waiting for queued copies when the arena wraps. */
  private reserve(n: number): number {
    const at = (this.off + 255) & ~255;
    if (at + n <= ARENA_BYTES) { this.off = at + n; return at; }
    this.quiesce();
    this.off = n;
    return 0;
  }

  /** Waits for every queued copy; the arena is then free. */
  private quiesce(): void {
    for (const s of this.busy) this.rt.synchronizeStream(s);
    this.busy.clear();
    this.off = 0;
  }

  /** Queues a copy of `src` into device memory at `dst` on `stream` (the current one by default). */
  upload(dst: bigint, src: TypedArray, stream = this.rt.stream): void {
    const arena = this.arena();
    const whole = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
    const d = this.rt.driver;
    for (let done = 0; done < whole.length;) {
      const n = Math.min(whole.length - done, ARENA_BYTES);
      const at = this.reserve(n);
      arena.set(whole.subarray(done, done + n), at);
      check(d, d.cuMemcpyHtoDAsync(dst + BigInt(done), this.base + BigInt(at), n, stream), 'cuMemcpyHtoDAsync');
      this.busy.add(stream);
      done += n;
    }
  }

  private ring = 0n;
  private ringBytes: Uint8Array | null = null;
  private readonly ringEvents: bigint[] = [];
  private nextSlot = 0;
  /** Prefetched buffers not read yet, and which buffer holds each slot. */
  private readonly early = new WeakMap<CudaBuffer, Early>();
  private readonly slotOwner: (WeakRef<CudaBuffer> | null)[] = new globalThis.Array(SLOTS).fill(null);

  /**
   * Queues a copy of `buf` (at most SLOT_BYTES) into a pinned slot now, on its stream, with an
   * event after it: takePrefetched then waits for that event only. When the ring comes round
   * to a slot whose read has not been taken, that one is finished into a host buffer first.
   */
  prefetch(buf: CudaBuffer, bytes: number): void {
    if (bytes > SLOT_BYTES || bytes === 0 || this.early.has(buf)) return;
    const d = this.rt.driver;
    if (!this.ringBytes) {
      check(d, d.cuMemAllocHost(out64, SLOTS * SLOT_BYTES), 'cuMemAllocHost');
      this.ring = out64[0];
      this.ringBytes = new Uint8Array(getKoffi()!.view(this.ring, SLOTS * SLOT_BYTES));
      for (let i = 0; i < SLOTS; i++) { check(d, d.cuEventCreate(out64, CU.EVENT_DISABLE_TIMING), 'cuEventCreate'); this.ringEvents.push(out64[0]); }
    }
    const slot = this.nextSlot;
    this.nextSlot = (slot + 1) % SLOTS;
    const owner = this.slotOwner[slot]?.deref();
    const pending = owner && this.early.get(owner);
    if (pending && pending.slot === slot && !pending.data) pending.data = this.finish(slot, pending.bytes);
    check(d, d.cuMemcpyDtoHAsync(this.ring + BigInt(slot * SLOT_BYTES), buf.ptr, bytes, buf.stream), 'cuMemcpyDtoHAsync');
    check(d, d.cuEventRecord(this.ringEvents[slot], buf.stream), 'cuEventRecord');
    this.early.set(buf, { slot, bytes, data: null });
    this.slotOwner[slot] = new WeakRef(buf);
  }

  /** The bytes prefetched for `buf` (waiting for their copy only), or null if it was not prefetched. */
  takePrefetched(buf: CudaBuffer, bytes: number): ArrayBuffer | null {
    const e = this.early.get(buf);
    if (!e || e.bytes !== bytes) return null;
    this.early.delete(buf);
    if (this.slotOwner[e.slot]?.deref() === buf) this.slotOwner[e.slot] = null;
    return e.data ?? this.finish(e.slot, bytes);
  }

  private finish(slot: number, bytes: number): ArrayBuffer {
    check(this.rt.driver, this.rt.driver.cuEventSynchronize(this.ringEvents[slot]), 'cuEventSynchronize');
    return this.ringBytes!.slice(slot * SLOT_BYTES, slot * SLOT_BYTES + bytes).buffer;
  }

  /** Copies `n` bytes from device memory at `src` into a new ArrayBuffer, in order on `stream` (waits for its queued work). */
  download(src: bigint, n: number, stream = this.rt.stream): ArrayBuffer {
    const arena = this.arena();
    const out = new Uint8Array(n);
    const d = this.rt.driver;
    for (let done = 0; done < n;) {
      const len = Math.min(n - done, ARENA_BYTES);
      this.quiesce();
      check(d, d.cuMemcpyDtoHAsync(this.base, src + BigInt(done), len, stream), 'cuMemcpyDtoHAsync');
      this.busy.add(stream);
      this.quiesce();
      out.set(arena.subarray(0, len), done);
      done += len;
    }
    if (n === 0) this.rt.synchronizeStream(stream);
    return out.buffer;
  }
}
