// The CPU backend: buffers are TypedArrays in each dtype's storage layout, and kernels are
// plain functions over them (tight loops; many are generated per dtype, see codegen.ts).
import type { Backend, Buffer, MemoryStats } from '../../core/backend.js';
import type { Node } from '../../core/array.js';
import { DType, TypedArray, allocStorage } from '../../core/dtype.js';
import type { Spec } from '../../core/primitive.js';

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

  readSync(buf: Buffer): TypedArray { return (buf as CpuBuffer).data; }
  async read(buf: Buffer): Promise<TypedArray> { return (buf as CpuBuffer).data; }

  evalNode(node: Node): void {
    const k = kernels.get(node.prim.name);
    if (!k) throw new Error(`[${node.prim.name}] the CPU backend does not implement this primitive yet`);
    const ins: CpuArg[] = node.inputs.map((x) => ({ data: (x._buf as CpuBuffer).data, shape: x.shape, dtype: x.dtype }));
    const specs = node.outputs.map((o) => ({ shape: o.shape, dtype: o.dtype }));
    const bytes = specs.reduce((s, o) => s + o.dtype.size * o.shape.reduce((a, b) => a * b, 1), 0);
    this.checkLimit(bytes);
    const results = k(ins, specs, node.params as never, node);
    node.outputs.forEach((o, i) => {
      // A kernel may hand back an input's storage unchanged (reshape): share the buffer.
      const same = node.inputs.find((x) => x._buf && (x._buf as CpuBuffer).data === results[i]);
      o._setBuffer(same ? same._buf! : this.track(new CpuBuffer(results[i])));
    });
  }

  release(buf: Buffer): void { this.active -= buf.nbytes; }
  synchronize(): void {}

  private checkLimit(bytes: number): void {
    if (this.active + bytes > this.limit)
      throw new Error(`[memory] allocating ${bytes} bytes would pass the memory limit of ${this.limit} bytes (${this.active} active)`);
  }

  memory(): MemoryStats { return { active: this.active, peak: this.peak, cache: 0 }; }
  resetPeakMemory(): void { this.peak = this.active; }
  clearCache(): void {}
  setMemoryLimit(bytes: number): number { const old = this.limit; this.limit = bytes; return old; }
  setCacheLimit(): number { return 0; }
}

import { primitives as primitiveNames } from '../../core/primitive.js';
export const cpuBackend = new CpuBackend();

/** New zeroed storage for an output spec. */
export function allocOut(spec: Spec): TypedArray {
  return allocStorage(spec.dtype, spec.shape.reduce((a, b) => a * b, 1));
}
