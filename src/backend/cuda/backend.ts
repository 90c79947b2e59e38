// The CUDA backend: buffers are device allocations from the caching allocator, and each
// primitive runs as a kernel rendered to CUDA C, compiled once by NVRTC (see compiler.ts),
// or as a cuBLAS call. Kernels are registered by primitive name, one module per family
// under kernels/, like the CPU backend's. Each lathe GPU stream runs on its own CUDA stream;
// a node reading a buffer written on another stream first waits for that stream (an event).
import type { Backend, Buffer, MemoryStats } from '../../core/backend.js';
import { defaultStream, type Stream } from '../../core/device.js';
import type { Node } from '../../core/array.js';
import type { DType, TypedArray } from '../../core/dtype.js';
import { storageCtor } from '../../core/dtype.js';
import { primitives } from '../../core/primitive.js';
import type { Spec } from '../../core/primitive.js';
import { CachingAllocator, CudaBuffer } from './allocator.js';
import { KernelCache } from './compiler.js';
import { Staging } from './transfer.js';
import { runtime, Runtime } from './runtime.js';
import { sizeOf } from './kernels/layout.js';

export { CudaBuffer };

/** An input as a kernel sees it: a dense row-major device buffer with its shape and dtype. */
export interface CudaArg {
  buf: CudaBuffer;
  shape: readonly number[];
  dtype: DType;
  /**
   * Element strides when `buf` is read as a strided view of `shape` (absent: dense). Only the
   * kernels that read views take such arguments (rope, for fast.rope's folded transposes;
   * see kernels/fast/strided.ts); nothing else is handed one.
   */
  strides?: readonly number[];
}

/** What a kernel may use while it runs. */
export interface CudaContext {
  rt: Runtime;
  kernels: KernelCache;
  /** A new output buffer for `spec` (freed again if the node fails). */
  alloc(spec: Spec): CudaBuffer;
  /** Scratch memory, returned to the allocator when the node is done (stream order keeps that safe). */
  temp(bytes: number): CudaBuffer;
  /** Queues a copy of host data into device memory at `dst` (staged through pinned memory). */
  upload(dst: bigint, data: TypedArray): void;
  /** Waits for queued work, then copies `bytes` of device memory at `src` to the host. */
  download(src: bigint, bytes: number): ArrayBuffer;
}

/** Computes a node's outputs: one buffer per output spec (an input's buffer to share it). */
export type CudaKernel = (ins: CudaArg[], outs: Spec[], params: never, ctx: CudaContext) => CudaBuffer[];

const kernels = new Map<string, CudaKernel>();

export function registerCudaKernels(table: Record<string, CudaKernel>): void {
  for (const [name, k] of Object.entries(table)) kernels.set(name, k);
}

/** The kernel registered for a primitive (a fused kernel falls back on its parts' kernels through it). */
export function cudaKernel(name: string): CudaKernel | undefined { return kernels.get(name); }

/** Thrown for work the GPU cannot do (float64, a primitive without a CUDA kernel yet). */
export class GpuUnsupportedError extends Error {}

const float64Error = (where: string) =>
  new GpuUnsupportedError(`[${where}] float64 is not supported on the GPU; use float32, or run this op on the CPU with { stream: mx.cpu }`);

/** The context of the node being evaluated: its outputs (`made`) and scratch (`temps`). */
class NodeContext implements CudaContext {
  busy = false;
  private readonly made: CudaBuffer[] = [];
  private readonly temps: CudaBuffer[] = [];
  constructor(readonly rt: Runtime, readonly kernels: KernelCache, private readonly allocator: CachingAllocator, private readonly staging: Staging) {}

  alloc(spec: Spec): CudaBuffer { const b = this.allocator.alloc(sizeOf(spec.shape) * spec.dtype.size, this.rt.stream); this.made.push(b); return b; }
  temp(bytes: number): CudaBuffer { const b = this.allocator.alloc(bytes, this.rt.stream); this.temps.push(b); return b; }
  upload(dst: bigint, data: TypedArray): void { if (data.byteLength) this.staging.upload(dst, data); }
  download(src: bigint, bytes: number): ArrayBuffer { return this.staging.download(src, bytes); }

  /** The node failed: its outputs go back. */
  fail(): void {
    for (const b of this.made) this.allocator.free(b);
    if (this.made.length) this.made.length = 0;
  }

  /** The node ran: outputs made but not handed out go back. */
  finish(results: readonly CudaBuffer[]): void {
    for (const b of this.made) if (!results.includes(b)) this.allocator.free(b);
    if (this.made.length) this.made.length = 0;
  }

  /** Scratch goes back (stream order keeps that safe). */
  done(): void {
    for (const b of this.temps) this.allocator.free(b);
    if (this.temps.length) this.temps.length = 0;
    this.busy = false;
  }
}

class CudaBackend implements Backend {
  readonly name = 'cuda';
  private state: { rt: Runtime; alloc: CachingAllocator; staging: Staging; kernels: KernelCache } | null = null;
  private ctx: NodeContext | null = null;
  /** The CUDA stream of each lathe stream (made on first use), and the last one looked up. */
  private readonly cudaStreams = new WeakMap<Stream, bigint>();
  private lastStream: Stream | null = null;
  private lastCudaStream = 0n;
  private memoryLimit = Infinity;
  private cacheLimit = Infinity;
  /** Let float32 GEMMs use TF32 tensor cores (about 10 bits of mantissa in the products). */
  allowTF32 = process.env.LATHE_CUDA_TF32 === '1';

  get unimplemented(): string[] {
    return primitives().filter((p) => !kernels.has(p));
  }

  private get s() {
    if (!this.state) {
      const rt = runtime();
      CudaBuffer.defaultStream = rt.defaultStream;
      const alloc = new CachingAllocator(rt.driver, () => rt.synchronize(), rt);
      alloc.memoryLimit = this.memoryLimit;
      alloc.cacheLimit = this.cacheLimit;
      this.state = { rt, alloc, staging: new Staging(rt), kernels: new KernelCache(rt) };
    }
    return this.state;
  }

  get runtime(): Runtime { return this.s.rt; }

  /** The CUDA stream of lathe stream `st`: the runtime's default one for the device's default stream, else one made on first use. */
  cudaStream(st: Stream): bigint {
    if (st === this.lastStream) return this.lastCudaStream;
    let h = this.cudaStreams.get(st);
    if (h === undefined) {
      const rt = this.s.rt;
      h = st === defaultStream(st.device) ? rt.defaultStream : rt.newStream();
      this.cudaStreams.set(st, h);
    }
    this.lastStream = st;
    this.lastCudaStream = h;
    return h;
  }
  get kernelCache(): KernelCache { return this.s.kernels; }

  fromHost(data: TypedArray, dtype: DType): Buffer {
    if (dtype.name === 'float64') throw float64Error('array');
    const stream = this.s.rt.stream;
    const buf = this.s.alloc.alloc(data.byteLength, stream);
    if (data.byteLength) this.s.staging.upload(buf.ptr, data, stream);
    return buf;
  }

  prefetch(buf: Buffer, dtype: DType, size: number): void {
    this.s.staging.prefetch(buf as CudaBuffer, size * dtype.size);
  }

  readSync(buf: Buffer, dtype: DType, size: number): TypedArray {
    const b = buf as CudaBuffer;
    const bytes = size * dtype.size;
    const raw = this.s.staging.takePrefetched(b, bytes) ?? this.s.staging.download(b.ptr, bytes, b.stream);
    return new storageCtor[dtype.name](raw, 0, size);
  }

  async read(buf: Buffer, dtype: DType, size: number): Promise<TypedArray> {
    await this.s.rt.idle((buf as CudaBuffer).stream);
    return this.readSync(buf, dtype, size);
  }

  evalNode(node: Node): void {
    const name = node.prim.name;
    const k = kernels.get(name);
    if (!k) throw new GpuUnsupportedError(`[${name}] the CUDA backend does not implement this primitive yet (run it on the CPU with { stream: mx.cpu })`);
    const inputs = node.inputs, outputs = node.outputs;
    const { rt, alloc } = this.s;
    const stream = this.cudaStream(outputs[0].stream);
    if (alloc.capturing && stream !== rt.defaultStream)
      throw new Error(`[compile] no CUDA graph: the function runs work on ${outputs[0].stream}, and graphs record the default GPU stream only`);
    const ins: CudaArg[] = new Array(inputs.length);
    for (let i = 0; i < inputs.length; i++) {
      const x = inputs[i];
      if (x.dtype.name === 'float64') throw float64Error(name);
      const buf = x._buf as CudaBuffer;
      // Written on another stream: wait for it there, and make that stream wait for this read
      // before reusing the block. (A graph being captured records only: its launches wait for
      // every stream, and a stream freeing a block waits for the graphs launched since; see Runtime.)
      if (buf.stream !== stream && buf.capacity !== 0 && !alloc.capturing) {
        rt.order(stream, buf.stream);
        if (!buf.readers) buf.readers = [stream];
        else if (!buf.readers.includes(stream)) buf.readers.push(stream);
      }
      ins[i] = { buf, shape: x.shape, dtype: x.dtype };
    }
    const specs: Spec[] = new Array(outputs.length);
    for (let i = 0; i < outputs.length; i++) {
      const o = outputs[i];
      if (o.dtype.name === 'float64') throw float64Error(name);
      specs[i] = { shape: o.shape, dtype: o.dtype };
    }
    // One context object serves every node (no closures made per node: host time per op);
    // a kernel that evaluates a node itself gets a fresh one.
    const reuse = this.ctx && !this.ctx.busy;
    const ctx = reuse ? this.ctx! : new NodeContext(rt, this.s.kernels, alloc, this.s.staging);
    if (!this.ctx) this.ctx = ctx;
    ctx.busy = true;
    // Every launch, copy, memset and GEMM of the node reads rt.stream while it runs.
    const outer = rt.stream;
    rt.use(stream);
    let results: CudaBuffer[];
    try {
      results = k(ins, specs, node.params as never, ctx);
      ctx.finish(results);
    } catch (e) {
      ctx.fail();
      throw e;
    } finally {
      ctx.done();
      rt.use(outer);
    }
    for (let i = 0; i < outputs.length; i++) outputs[i]._setBuffer(results[i]);
  }

  release(buf: Buffer): void { this.state?.alloc.free(buf as CudaBuffer); }

  /** Waits for `stream`'s work (nothing queued if its CUDA stream was never made), or for every stream. */
  synchronize(stream?: Stream): void {
    if (!this.state) return;
    if (!stream) { this.state.rt.synchronize(); return; }
    const h = stream === defaultStream(stream.device) ? this.state.rt.defaultStream : this.cudaStreams.get(stream);
    if (h !== undefined) this.state.rt.synchronizeStream(h);
  }

  memory(): MemoryStats {
    const a = this.state?.alloc;
    return { active: a?.active ?? 0, peak: a?.peak ?? 0, cache: a?.cached ?? 0 };
  }

  resetPeakMemory(): void { if (this.state) this.state.alloc.peak = this.state.alloc.active; }
  clearCache(): void { this.state?.alloc.trim(0); }

  setMemoryLimit(bytes: number): number {
    const old = this.memoryLimit;
    this.memoryLimit = bytes;
    if (this.state) this.state.alloc.memoryLimit = bytes;
    return old;
  }

  setCacheLimit(bytes: number): number {
    const old = this.cacheLimit;
    this.cacheLimit = bytes;
    if (this.state) { this.state.alloc.cacheLimit = bytes; this.state.alloc.trim(bytes); }
    return old;
  }
}

export const cudaBackend = new CudaBackend();
