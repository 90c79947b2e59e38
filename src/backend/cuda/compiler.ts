// Kernel compilation with two caches. Loaded functions are kept in memory by a short key
// that names what the kernel does (so source is only rendered on a miss). CUBINs are kept
// on disk, keyed by a hash of the source, the NVRTC options, the GPU architecture and the
// NVRTC version, so a fresh process loads a known kernel in about a millisecond instead of
// compiling it (tens of milliseconds).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { check, out64 } from './ffi/libcuda.js';
import { compileToCubin } from './ffi/libnvrtc.js';
import type { Runtime } from './runtime.js';

/** A kernel's CUDA C source and the name of its `extern "C" __global__` entry point. */
export interface KernelSource { name: string; source: string }

export interface KernelCacheStats { compiled: number; diskHits: number; loaded: number; compileMs: number; loadMs: number }

/** `LATHE_CACHE_DIR`, else ~/.cache/lathe; CUBINs go in its `cuda` folder. */
export function kernelCacheDir(): string {
  return join(process.env.LATHE_CACHE_DIR || join(homedir(), '.cache', 'lathe'), 'cuda');
}

export class KernelCache {
  private readonly loaded = new Map<string, bigint>();
  readonly stats: KernelCacheStats = { compiled: 0, diskHits: 0, loaded: 0, compileMs: 0, loadMs: 0 };

  constructor(private readonly rt: Runtime) {}

  /** The function for `key`, rendering and loading (or compiling) it on first use. */
  get(key: string, render: () => KernelSource): bigint {
    let fn = this.loaded.get(key);
    if (fn === undefined) {
      fn = this.load(render());
      this.loaded.set(key, fn);
    }
    return fn;
  }

  /** Bumped by forgetLoaded: callers that keep handles of their own (for host speed) drop them. */
  generation = 0;

  /** Drops loaded functions from memory (the disk cache stays); for tests of the disk cache. */
  forgetLoaded(): void { this.loaded.clear(); this.generation++; }

  /**
   * No FMA contraction: a * b + c rounds twice, as separate kernels (and the CPU) do, so a
   * fused kernel gives exactly the eager graph's results. Memory-bound loops lose nothing.
   */
  options(): string[] { return [`--gpu-architecture=${this.rt.info.arch}`, '--std=c++17', '--fmad=false']; }

  private load({ name, source: given }: KernelSource): bigint {
    const options = this.options();
    const source = this.rt.pdl ? waitForPredecessors(given) : given;
    const hash = createHash('sha256').update(`${source}\0${options.join(' ')}\0nvrtc ${this.rt.info.nvrtcVersion}`).digest('hex').slice(0, 40);
    const dir = kernelCacheDir();
    const file = join(dir, `${hash}.cubin`);
    const t0 = performance.now();
    let cubin = readCached(file);
    const fromDisk = cubin !== null;
    if (!cubin) {
      cubin = compileToCubin(this.rt.nvrtc, source, name, options);
      this.stats.compiled++;
      this.stats.compileMs += performance.now() - t0;
      writeCached(dir, file, cubin);
    }
    const d = this.rt.driver;
    const status = d.cuModuleLoadData(out64, cubin) as number;
    if (status !== 0 && fromDisk) {
      rmSync(file, { force: true }); // a damaged cache entry: compile afresh
      return this.load({ name, source });
    }
    check(d, status, `cuModuleLoadData for kernel '${name}'`);
    const module = out64[0];
    check(d, d.cuModuleGetFunction(out64, module, name), `cuModuleGetFunction('${name}')`);
    if (fromDisk) { this.stats.diskHits++; this.stats.loadMs += performance.now() - t0; }
    this.stats.loaded++;
    return out64[0];
  }
}

/**
 * With programmatic dependent launch (runtime.ts `pdl`) a kernel may start before the one
 * before it has finished: each `__global__` function first waits for its predecessors' grids
 * to complete and their memory to be visible (griddepcontrol.wait; a no-op for a launch
 * without the attribute), then lets its own dependents be scheduled (launch_dependents), so
 * their launch overlaps this kernel's run instead of following its end.
 */
export function waitForPredecessors(source: string): string {
  let out = '', at = 0;
  for (let g = source.indexOf('__global__', at); g >= 0; g = source.indexOf('__global__', at)) {
    const body = source.indexOf('{', g);
    if (body < 0) break;
    out += source.slice(at, body + 1) + '\n  asm volatile("griddepcontrol.wait;" ::: "memory");\n  asm volatile("griddepcontrol.launch_dependents;");';
    at = body + 1;
  }
  return out + source.slice(at);
}

function readCached(file: string): Uint8Array | null {
  try { return new Uint8Array(readFileSync(file)); } catch { return null; }
}

/** Writes through a temporary name, so a reader never sees half a file. An unwritable cache is skipped. */
function writeCached(dir: string, file: string, cubin: Uint8Array): void {
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, cubin);
    renameSync(tmp, file);
  } catch { /* read-only home: compile each time */ }
}
