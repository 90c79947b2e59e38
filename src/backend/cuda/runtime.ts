// The CUDA runtime lathe drives: device discovery (with the reason when there is no GPU),
// the context and stream, and kernel launches with arguments packed into one stable
// native buffer. Each lathe GPU stream gets a CUDA stream (the default one is made with the
// context, others on first use); `stream` is the one work is queued on now, set by the
// backend around each node. Work on one stream is ordered; across streams, `waitFor` orders
// a consumer after its producer with an event.
import { loadDriver, Driver, check, describe, out32, out64, cString, CU, getKoffi } from './ffi/libcuda.js';
import { loadNvrtc, Nvrtc } from './ffi/libnvrtc.js';

export interface DeviceInfo {
  ordinal: number;
  name: string;
  /** Compute capability as major * 10 + minor (90 for an H100). */
  cc: number;
  arch: string;
  sms: number;
  /** The CUDA version the driver supports, e.g. 13.0. */
  driverVersion: string;
  nvrtcVersion: string;
}

export type Probe = { ok: true; driver: Driver; nvrtc: Nvrtc; info: DeviceInfo } | { ok: false; reason: string };

let probed: Probe | null = null;

/** Whether a usable NVIDIA GPU is present, and if not, why (no libcuda, no device, driver too old, NVRTC missing). */
export function probe(): Probe {
  probed ??= probeNow();
  return probed;
}

function probeNow(): Probe {
  const d = loadDriver();
  if ('error' in d) return { ok: false, reason: d.error };
  const init = d.cuInit(0) as number;
  if (init === 100) return { ok: false, reason: 'no CUDA device (the NVIDIA driver found none)' };
  if (init === 35) return { ok: false, reason: 'the NVIDIA driver is too old for this libcuda (CUDA_ERROR_INSUFFICIENT_DRIVER)' };
  if (init !== 0) return { ok: false, reason: `cuInit failed: ${describe(d, init)}` };
  check(d, d.cuDriverGetVersion(out32), 'cuDriverGetVersion');
  const dv = out32[0];
  const driverVersion = `${Math.floor(dv / 1000)}.${(dv % 1000) / 10}`;
  if (dv < 12000) return { ok: false, reason: `driver too old: it supports CUDA ${driverVersion}, lathe needs 12.0 or newer` };
  check(d, d.cuDeviceGetCount(out32), 'cuDeviceGetCount');
  if (out32[0] === 0) return { ok: false, reason: 'no CUDA device (the NVIDIA driver found none)' };
  const n = loadNvrtc();
  if ('error' in n) return { ok: false, reason: n.error };
  if (Number(n.version.split('.')[0]) > Math.floor(dv / 1000))
    return { ok: false, reason: `driver too old: it supports CUDA ${driverVersion}, but NVRTC is ${n.version} (its kernels need a driver for CUDA ${n.version.split('.')[0]}.x)` };
  const ordinal = Number(process.env.LATHE_CUDA_DEVICE ?? 0);
  check(d, d.cuDeviceGet(out32, ordinal), `cuDeviceGet(${ordinal})`);
  const dev = out32[0];
  const attr = (a: number) => { check(d, d.cuDeviceGetAttribute(out32, a, dev), 'cuDeviceGetAttribute'); return out32[0]; };
  const cc = attr(CU.ATTR_CC_MAJOR) * 10 + attr(CU.ATTR_CC_MINOR);
  const name = new Uint8Array(256);
  check(d, d.cuDeviceGetName(name, 256, dev), 'cuDeviceGetName');
  return {
    ok: true, driver: d, nvrtc: n,
    info: { ordinal: dev, name: cString(name), cc, arch: `sm_${cc}`, sms: attr(CU.ATTR_MULTIPROCESSOR_COUNT), driverVersion, nvrtcVersion: n.version },
  };
}

/** Packs kernel arguments into one stable native buffer, plus the void* array pointing into it. */
export class KernelArgs {
  private static readonly BYTES = 4096;
  private readonly view: DataView;
  private readonly table: BigUint64Array;
  private readonly addrs: bigint[] = [];
  /** The byte offset each table entry points at now (-1: unset): rewritten only when it changes. */
  private readonly at = new Int32Array(256).fill(-1);
  readonly pointer: bigint;
  private off = 0;
  private n = 0;

  constructor() {
    const k = getKoffi()!;
    const bytes = k.alloc('uint8_t', KernelArgs.BYTES) as bigint;
    const table = k.alloc('uint64_t', 256) as bigint;
    this.view = new DataView(k.view(bytes, KernelArgs.BYTES));
    this.table = new BigUint64Array(k.view(table, 256 * 8));
    this.pointer = table;
    for (let o = 0; o < KernelArgs.BYTES; o += 4) this.addrs.push(bytes + BigInt(o));
  }

  reset(): this { this.off = 0; this.n = 0; return this; }

  private slot(size: number, align: number): number {
    const at = (this.off + align - 1) & -align;
    if (at + size > KernelArgs.BYTES || this.n >= 256) throw new Error('[cuda] kernel arguments exceed 4 KiB');
    if (this.at[this.n] !== at) { this.at[this.n] = at; this.table[this.n] = this.addrs[at >> 2]; }
    this.n++;
    this.off = at + size;
    return at;
  }

  ptr(p: bigint): this { this.view.setBigUint64(this.slot(8, 8), p, true); return this; }
  i64(v: number): this { this.view.setBigInt64(this.slot(8, 8), BigInt(v), true); return this; }
  i32(v: number): this { this.view.setInt32(this.slot(4, 4), v, true); return this; }
  f32(v: number): this { this.view.setFloat32(this.slot(4, 4), v, true); return this; }
  f64(v: number): this { this.view.setFloat64(this.slot(8, 8), v, true); return this; }
  /** A `Vec<N, int>` or `Vec<N, long long>` struct (see the prelude) passed by value. */
  vec(values: readonly number[], wide: boolean): this {
    const size = wide ? 8 : 4;
    const at = this.slot(Math.max(1, values.length) * size, size);
    values.forEach((v, i) => (wide ? this.view.setBigInt64(at + i * 8, BigInt(v), true) : this.view.setInt32(at + i * 4, v, true)));
    return this;
  }
  /** An index-typed scalar (`int` or `long long`). */
  idx(v: number, wide: boolean): this { return wide ? this.i64(v) : this.i32(v); }
}

export type Dim3 = [number, number, number];

/** The context, streams and launch path of one GPU. Created on first use. */
export class Runtime {
  readonly driver: Driver;
  readonly nvrtc: Nvrtc;
  readonly info: DeviceInfo;
  /** The CUDA stream of lathe's default GPU stream (graphs are captured and launched here). */
  readonly defaultStream: bigint;
  /** The CUDA stream work is queued on now: the default one, or a node's while it runs (see `use`). */
  stream: bigint;
  readonly args = new KernelArgs();
  private readonly ctx: bigint;
  // The launch call's handles as numbers: koffi converts those faster than BigInts (host pointers fit in 53 bits).
  private streamNum: number;
  private readonly argsNum: number;
  private readonly idleEvents = new Map<bigint, bigint>();
  /** Records a producer's stream for another stream to wait on: the wait takes the event's state at the call, so one event serves every pair. */
  private readonly orderEvent: bigint;
  /** Streams made for lathe streams other than the default. */
  private readonly side: bigint[] = [];
  /** Counts joins of the side streams into the default one (graph launches); see `released`. */
  private joins = 0;
  private readonly joined = new Map<bigint, number>();

  /**
   * Programmatic dependent launch (sm_90+, cuLaunchKernelEx; LATHE_CUDA_PDL=0 turns it off):
   * a kernel may be scheduled while the one before it in the stream finishes, hiding the
   * launch gap between short kernels (a decode step is ~200 of them). Every kernel compiled
   * here waits for its predecessors' memory at entry (griddepcontrol.wait, compiler.ts), so
   * results do not change. Holds the native CUlaunchConfig (56 bytes) and its one attribute
   * (72 bytes: PROGRAMMATIC_STREAM_SERIALIZATION = 1) that every launch reuses; null when off.
   */
  readonly pdl: DataView | null = null;
  private readonly pdlConfigNum: number = 0;

  constructor(p: Extract<Probe, { ok: true }>) {
    this.driver = p.driver; this.nvrtc = p.nvrtc; this.info = p.info;
    if (usesPdl(p.info, p.driver)) {
      const k = getKoffi()!;
      const config = k.alloc('uint8_t', 56 + 72) as bigint;
      const view = new DataView(k.view(config, 56 + 72));
      for (let i = 0; i < 56 + 72; i++) view.setUint8(i, 0);
      view.setBigUint64(40, config + 56n, true); // attrs
      view.setUint32(48, 1, true); // numAttrs
      view.setUint32(56, 6, true); // CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION
      view.setInt32(56 + 8, 1, true); // programmaticStreamSerializationAllowed
      this.pdl = view;
      this.pdlConfigNum = Number(config);
    }
    const d = this.driver;
    check(d, d.cuDevicePrimaryCtxRetain(out64, p.info.ordinal), 'cuDevicePrimaryCtxRetain');
    this.ctx = out64[0];
    check(d, d.cuCtxSetCurrent(this.ctx), 'cuCtxSetCurrent');
    check(d, d.cuStreamCreate(out64, CU.STREAM_NON_BLOCKING), 'cuStreamCreate');
    this.defaultStream = this.stream = out64[0];
    this.streamNum = Number(this.stream);
    this.argsNum = Number(this.args.pointer);
    check(d, d.cuEventCreate(out64, CU.EVENT_DISABLE_TIMING), 'cuEventCreate');
    this.orderEvent = out64[0];
  }

  /** A new CUDA stream (non-blocking: never implicitly ordered with CUDA's legacy stream). */
  newStream(): bigint {
    check(this.driver, this.driver.cuStreamCreate(out64, CU.STREAM_NON_BLOCKING), 'cuStreamCreate');
    this.side.push(out64[0]);
    return out64[0];
  }

  /** Queues work on `s` from now on. */
  use(s: bigint): void {
    if (s === this.stream) return;
    this.stream = s;
    this.streamNum = Number(s);
  }

  /** Work queued on `dst` from now on waits for the work queued on `src` so far. */
  order(dst: bigint, src: bigint): void {
    if (dst === src) return;
    const d = this.driver;
    check(d, d.cuEventRecord(this.orderEvent, src), 'cuEventRecord');
    check(d, d.cuStreamWaitEvent(dst, this.orderEvent, 0), 'cuStreamWaitEvent');
  }

  /** The current stream waits for the work queued on `src` so far. */
  waitFor(src: bigint): void { this.order(this.stream, src); }

  /**
   * The default stream waits for every other stream: a graph launch reads inputs without
   * knowing which stream made them. Streams then still owe the graph's reads an order (`released`).
   */
  joinStreams(): void {
    if (!this.side.length) return;
    for (const s of this.side) this.order(this.defaultStream, s);
    this.joins++;
  }

  /**
   * A block whose home is `home` goes back to the cache: if a graph ran on the default stream
   * since `home` last waited for it (the graph may read the block), `home` waits now.
   */
  released(home: bigint): void {
    if (home === this.defaultStream || !this.joins || this.joined.get(home) === this.joins) return;
    this.order(home, this.defaultStream);
    this.joined.set(home, this.joins);
  }
  /** Launches `fn` with the arguments packed in `this.args`. */
  launch(fn: bigint, grid: Dim3, block: Dim3, sharedBytes = 0): void {
    if (this.pdl) {
      const c = this.pdl;
      c.setUint32(0, grid[0], true); c.setUint32(4, grid[1], true); c.setUint32(8, grid[2], true);
      c.setUint32(12, block[0], true); c.setUint32(16, block[1], true); c.setUint32(20, block[2], true);
      c.setUint32(24, sharedBytes, true);
      c.setBigUint64(32, this.stream, true);
      const s = this.driver.cuLaunchKernelEx!(this.pdlConfigNum, Number(fn), this.argsNum, 0) as number;
      if (s !== 0) check(this.driver, s, `cuLaunchKernelEx (grid ${grid}, block ${block})`);
      return;
    }
    const s = this.driver.cuLaunchKernel(Number(fn), grid[0], grid[1], grid[2], block[0], block[1], block[2], sharedBytes, this.streamNum, this.argsNum, 0) as number;
    if (s !== 0) check(this.driver, s, `cuLaunchKernel (grid ${grid}, block ${block})`);
  }

  /** Blocks for a 1-D grid-stride loop over n items: enough to fill every SM, no more. */
  gridFor(n: number, threads = 256, perSm = 8): number {
    return Math.max(1, Math.min(Math.ceil(n / threads), this.info.sms * perSm));
  }

  /** Waits for the work queued on every stream (stream by stream, so a graph capture refuses it with its reason). */
  synchronize(): void {
    this.synchronizeStream(this.defaultStream);
    for (const s of this.side) this.synchronizeStream(s);
  }

  synchronizeStream(s: bigint): void { check(this.driver, this.driver.cuStreamSynchronize(s), 'cuStreamSynchronize'); }

  /** Resolves once the work queued on `s` is done, without blocking the event loop while it runs. */
  async idle(s: bigint = this.stream): Promise<void> {
    const d = this.driver;
    // One event per stream: a later read re-recording it only waits longer, never less.
    let ev = this.idleEvents.get(s);
    if (ev === undefined) { check(d, d.cuEventCreate(out64, CU.EVENT_DISABLE_TIMING), 'cuEventCreate'); ev = out64[0]; this.idleEvents.set(s, ev); }
    check(d, d.cuEventRecord(ev, s), 'cuEventRecord');
    for (let spins = 0; ; spins++) {
      const s = d.cuEventQuery(ev) as number;
      if (s === CU.SUCCESS) return;
      if (s !== CU.ERROR_NOT_READY) check(d, s, 'cuEventQuery');
      await new Promise<void>((r) => (spins < 20 ? setImmediate(r) : setTimeout(r, 1)));
    }
  }

  /** Free and total device memory, in bytes. */
  memInfo(): { free: number; total: number } {
    const free = new BigUint64Array(1), total = new BigUint64Array(1);
    check(this.driver, this.driver.cuMemGetInfo(free, total), 'cuMemGetInfo');
    return { free: Number(free[0]), total: Number(total[0]) };
  }
}

/** Whether launches use programmatic dependent launch: Hopper or newer, a driver with cuLaunchKernelEx, not turned off. */
export function usesPdl(info: DeviceInfo, d: Driver): boolean {
  return info.cc >= 90 && d.cuLaunchKernelEx !== null && process.env.LATHE_CUDA_PDL !== '0';
}

let rt: Runtime | null = null;

/** The runtime, creating the context on first use; throws why when there is no usable GPU. */
export function runtime(): Runtime {
  if (rt) return rt;
  const p = probe();
  if (!p.ok) throw new Error(`[cuda] the GPU is not available: ${p.reason}`);
  rt = new Runtime(p);
  return rt;
}
