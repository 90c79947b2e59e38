// CUDA graphs for compile(): the work a compiled function queues on the default GPU stream is
// recorded once (stream capture) and launched again with one call, so a replay costs a few
// microseconds of host time instead of one launch per kernel.
//
// A graph reads and writes fixed addresses, so its memory is its own (a GraphPool, see
// allocator.ts): every allocation made while it is captured comes from the pool, frees go
// back to the pool (reused within the capture, in stream order), and nothing else is ever
// handed those blocks while the graph lives. Outputs are handed out as buffers over the
// graph's memory, with no copy; before the graph is launched again, a handed-out buffer that
// some array still holds is moved to fresh memory (evict), so a kept output never changes.
//
// What cannot be recorded is refused while capturing, with the reason: uploads from the host
// (the pinned staging arena would be read again at every replay), reads back to the host and
// stream synchronization (dataSync, host fallbacks). compile() then runs the function as usual.
import { registerGraphCapture, type Buffer, type GraphCapture, type GraphRecording, type RecordedGraph } from '../../core/backend.js';
import { cudaBackend } from './backend.js';
import { CudaBuffer, GraphPool, cudaAllocator, type CachingAllocator } from './allocator.js';
import { check, CU, describe, type GraphDriver } from './ffi/libcuda.js';
import type { CFn } from './ffi/load.js';
import type { Runtime } from './runtime.js';

/** Thrown by a call that a graph cannot record. */
export class GraphCaptureError extends Error {}

/** Driver calls refused while capturing, and what a program does to reach them. */
const REFUSED: Record<string, string> = {
  cuMemcpyHtoDAsync: 'copies data from the host (an array made from JS values inside the function, a random key drawn on the host)',
  cuMemcpyDtoHAsync: 'reads data back to the host (dataSync, item, a host fallback such as a factorization)',
  cuStreamSynchronize: 'reads data back to the host or waits for the GPU (dataSync, item, a host fallback such as a factorization)',
};

const live = new Set<CudaGraph>();
/** Allocations of the graph machinery itself must not free graphs under them. */
let busy = 0;

function state(): { rt: Runtime; alloc: CachingAllocator } {
  const rt = cudaBackend.runtime;
  const alloc = cudaAllocator();
  if (!alloc) throw new Error('[cuda] the allocator is not started');
  if (!alloc.onRelease) alloc.onRelease = () => { if (!busy) for (const g of [...live]) g.destroy(); };
  return { rt, alloc };
}

const graphApi = (rt: Runtime): GraphDriver => {
  if ('error' in rt.driver.graphs) throw new Error(`[compile] ${rt.driver.graphs.error}`);
  return rt.driver.graphs;
};

function copyDtoD(rt: Runtime, dst: bigint, src: bigint, nbytes: number): void {
  if (nbytes === 0 || dst === src) return;
  rt.joinStreams(); // `src` may have been written on another lathe stream
  check(rt.driver, rt.driver.cuMemcpyDtoDAsync(dst, src, nbytes, rt.stream), 'cuMemcpyDtoDAsync');
}

class CudaGraph implements RecordedGraph {
  alive = true;
  private handouts: CudaBuffer[] = [];

  constructor(private readonly exec: bigint, private readonly graph: bigint, readonly nodes: number, private readonly pool: GraphPool) {
    live.add(this);
  }

  get bytes(): number { return this.pool.bytes; }

  copy(dst: Buffer, src: Buffer, nbytes: number): void {
    copyDtoD(state().rt, (dst as CudaBuffer).ptr, (src as CudaBuffer).ptr, nbytes);
  }

  handedOut(): Buffer[] { return this.handouts.filter((b) => b.refs > 0 && b.pool === this.pool); }

  evict(buf: Buffer): void {
    const b = buf as CudaBuffer;
    if (b.pool !== this.pool) return;
    const { rt, alloc } = state();
    busy++;
    let fresh: CudaBuffer;
    try { fresh = alloc.alloc(b.nbytes); } finally { busy--; }
    copyDtoD(rt, fresh.ptr, b.ptr, b.nbytes);
    b.ptr = fresh.ptr;
    b.capacity = fresh.capacity;
    b.pool = null;
  }

  launch(outputs: readonly Buffer[]): Buffer[] {
    if (!this.alive) throw new Error('[compile] the CUDA graph was destroyed');
    const { rt } = state();
    const g = graphApi(rt);
    rt.joinStreams(); // graphs run on the default stream; their inputs may come from others
    check(rt.driver, g.cuGraphLaunch(this.exec, rt.stream), 'cuGraphLaunch');
    const byPtr = new Map<bigint, CudaBuffer>();
    this.handouts = [];
    return outputs.map((o) => {
      const rec = o as CudaBuffer;
      let b = byPtr.get(rec.ptr);
      if (!b) {
        b = new CudaBuffer(rec.ptr, rec.nbytes, rec.capacity);
        b.pool = this.pool;
        byPtr.set(rec.ptr, b);
        this.handouts.push(b);
      }
      return b;
    });
  }

  destroy(): void {
    if (!this.alive) return;
    this.alive = false;
    live.delete(this);
    const { rt, alloc } = state();
    const g = graphApi(rt);
    // An executable graph still running is freed when it completes; its memory is reused only
    // by work queued after it on the same stream.
    g.cuGraphExecDestroy(this.exec);
    g.cuGraphDestroy(this.graph);
    alloc.releasePool(this.pool, this.handouts);
    this.handouts = [];
  }
}

class Recording implements GraphRecording {
  private readonly pool = new GraphPool();
  private capturing = false;
  private readonly saved = new Map<string, CFn>();

  privateCopy(src: Buffer, nbytes: number): Buffer {
    const { rt, alloc } = state();
    alloc.capturing = this.pool;
    busy++;
    let b: CudaBuffer;
    try { b = alloc.alloc(nbytes); } finally { alloc.capturing = null; busy--; }
    copyDtoD(rt, b.ptr, (src as CudaBuffer).ptr, nbytes);
    return b;
  }

  start(): void {
    const { rt, alloc } = state();
    const g = graphApi(rt);
    check(rt.driver, g.cuStreamBeginCapture(rt.stream, CU.CAPTURE_MODE_RELAXED), 'cuStreamBeginCapture');
    this.capturing = true;
    alloc.capturing = this.pool;
    const d = rt.driver as unknown as Record<string, CFn>;
    for (const [name, why] of Object.entries(REFUSED)) {
      this.saved.set(name, d[name]);
      d[name] = () => { throw new GraphCaptureError(`[compile] no CUDA graph: the function ${why}, which a graph cannot replay`); };
    }
  }

  owns(buf: Buffer): boolean {
    const b = buf as CudaBuffer;
    return b.pool === this.pool || this.pool.blocks.has(b.ptr);
  }

  sameMemory(a: Buffer, b: Buffer): boolean { return a === b || (a as CudaBuffer).ptr === (b as CudaBuffer).ptr; }

  donate(buf: Buffer): void { this.pool.donate(buf as CudaBuffer); }

  /** Ends the stream capture; returns the graph (0n when the capture failed) and the status. */
  private stop(): { graph: bigint; status: number } {
    const { rt, alloc } = state();
    const d = rt.driver as unknown as Record<string, CFn>;
    for (const [name, fn] of this.saved) d[name] = fn;
    this.saved.clear();
    alloc.capturing = null;
    this.pool.open = false;
    if (!this.capturing) return { graph: 0n, status: 0 };
    this.capturing = false;
    const g = graphApi(rt);
    const out = new BigUint64Array(1);
    const status = g.cuStreamEndCapture(rt.stream, out) as number;
    return { graph: out[0], status };
  }

  end(): RecordedGraph {
    const { rt, alloc } = state();
    const g = graphApi(rt);
    const { graph, status } = this.stop();
    if (status !== 0 || graph === 0n) {
      if (graph !== 0n) g.cuGraphDestroy(graph);
      alloc.releasePool(this.pool, []);
      throw new GraphCaptureError(`[compile] no CUDA graph: ending the stream capture failed: ${describe(rt.driver, status)}`);
    }
    const count = new BigUint64Array(1);
    check(rt.driver, g.cuGraphGetNodes(graph, 0n, count), 'cuGraphGetNodes');
    const exec = new BigUint64Array(1);
    const s = g.cuGraphInstantiate(exec, graph, 0n) as number;
    if (s !== 0) {
      g.cuGraphDestroy(graph);
      alloc.releasePool(this.pool, []);
      throw new GraphCaptureError(`[compile] no CUDA graph: cuGraphInstantiate failed: ${describe(rt.driver, s)}`);
    }
    return new CudaGraph(exec[0], graph, Number(count[0]), this.pool);
  }

  abort(): void {
    const { rt, alloc } = state();
    const { graph } = this.stop();
    if (graph !== 0n) graphApi(rt).cuGraphDestroy(graph);
    alloc.releasePool(this.pool, []);
  }
}

const cudaGraphs: GraphCapture = {
  unavailable() {
    if (process.env.LATHE_CUDA_GRAPHS === '0') return 'disabled by LATHE_CUDA_GRAPHS=0';
    let rt: Runtime;
    try { rt = cudaBackend.runtime; } catch (e) { return (e as Error).message; }
    return 'error' in rt.driver.graphs ? rt.driver.graphs.error : null;
  },
  begin: () => new Recording(),
};

registerGraphCapture('gpu', cudaGraphs);

/** Graphs alive now and the memory they hold (for tests and diagnostics). */
export function graphStats(): { graphs: number; bytes: number } {
  let bytes = 0;
  for (const g of live) bytes += g.bytes;
  return { graphs: live.size, bytes };
}

/** Destroys every graph (compiled functions capture again on later calls). */
export function destroyGraphs(): void {
  for (const g of [...live]) g.destroy();
}
