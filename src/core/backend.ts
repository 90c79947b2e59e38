// What the core asks of a backend, in one place. A backend owns its buffers (allocate,
// free, read, write) and evaluates nodes; the evaluator in eval.ts drives it.
import type { Device, Stream } from './device.js';
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
  /**
   * Starts copying a small buffer to the host behind the work queued so far (optional), so a
   * readSync of it later waits for that work only, not for work queued after this call.
   */
  prefetch?(buf: Buffer, dtype: DType, size: number): void;
  /** Evaluates one node: sets `_buf` on each of node.outputs from the inputs' buffers. */
  evalNode(node: Node): void;
  /** Releases a buffer whose last reference went away (to the cache or the system). */
  release(buf: Buffer): void;
  /** Waits for the work queued on `stream`, or on every stream of the backend (no-op on synchronous backends). */
  synchronize(stream?: Stream): void;
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

// ---------------------------------------------------------------- graph capture (optional)

/**
 * What compile() needs to replay a function as a device graph (CUDA graphs): a backend that
 * can record the work queued while nodes evaluate and launch it again with one call. The
 * CPU backend has none; compile() then replays its tape as usual.
 */
export interface GraphCapture {
  /** Why this backend cannot capture now (null when it can). */
  unavailable(): string | null;
  /** Starts a recording; nothing is recorded until `start()`. */
  begin(): GraphRecording;
}

export interface GraphRecording {
  /** A buffer of the graph's own memory holding a copy of `src` (queued before the recording starts). */
  privateCopy(src: Buffer, nbytes: number): Buffer;
  /** Records the stream from here on; allocations come from the graph's memory until end or abort. */
  start(): void;
  /** Whether `buf` is the graph's memory. */
  owns(buf: Buffer): boolean;
  /** Whether two buffers are the same memory (one object, or one block of the graph's reached twice). */
  sameMemory(a: Buffer, b: Buffer): boolean;
  /** Hands the memory of `buf` (the graph's, read for the last time by the next node) to that node's output. */
  donate(buf: Buffer): void;
  /** Stops recording and makes the graph ready to launch; throws why it cannot. */
  end(): RecordedGraph;
  /** Stops recording if needed and frees the graph's memory. */
  abort(): void;
}

export interface RecordedGraph {
  /** Whether the graph still exists (the backend frees graphs on clearCache and under memory pressure). */
  readonly alive: boolean;
  /** Kernels and copies the graph launches. */
  readonly nodes: number;
  /** Bytes of memory the graph holds. */
  readonly bytes: number;
  /** Queues a copy of `nbytes` from `src` into `dst` (the graph's memory), on the graph's stream. */
  copy(dst: Buffer, src: Buffer, nbytes: number): void;
  /** Buffers handed out by the last launch that are still referenced. */
  handedOut(): Buffer[];
  /** Moves a handed-out buffer to fresh memory (a copy), so launching again cannot change what its arrays hold. */
  evict(buf: Buffer): void;
  /** Launches the graph; `outputs` are buffers of the graph's memory it recorded; returns a new buffer object over each, handed out. */
  launch(outputs: readonly Buffer[]): Buffer[];
  destroy(): void;
}

const graphCaptures = new Map<Device['type'], GraphCapture>();

export function registerGraphCapture(type: Device['type'], g: GraphCapture): void {
  graphCaptures.set(type, g);
}

/** The graph capture of `d`'s backend, or null where it has none. */
export function graphCaptureFor(d: Device): GraphCapture | null {
  return graphCaptures.get(d.type) ?? null;
}

// ---------------------------------------------------------------- fusion support (optional)

const rowFusion = new Set<Device['type']>();

/** A backend that runs 'fused' row programs (reductions over the last axis inside a fused node) says so here. */
export function registerRowFusion(type: Device['type']): void { rowFusion.add(type); }

/** Whether compile() may fuse reductions with elementwise work for arrays on `d`. */
export function fusesRows(d: Device): boolean { return rowFusion.has(d.type); }

const linearFusion = new Set<Device['type']>();

/** A backend that runs 'fusedLinear' nodes (GEMVs sharing x, with GLU or residual epilogues: transforms/fuse-linear.ts) says so here. */
export function registerLinearFusion(type: Device['type']): void { linearFusion.add(type); }

/** Whether compile() may merge small-batch matmuls into 'fusedLinear' nodes for arrays on `d`. */
export function fusesLinear(d: Device): boolean { return linearFusion.has(d.type); }
