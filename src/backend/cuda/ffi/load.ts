// Finds and opens NVIDIA's shared libraries through koffi. Nothing here throws: a library
// that cannot be opened comes back as the reason, so the backend can say why the GPU is off.
import { createRequire } from 'node:module';
import { existsSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import type * as KoffiModule from 'koffi';

export type Koffi = typeof KoffiModule;
export type Library = ReturnType<Koffi['load']>;
/** A bound C function (koffi's functions take and return untyped values). */
export type CFn = (...args: unknown[]) => unknown;

let koffi: Koffi | null = null;
let koffiError = '';

/** koffi, loaded on first use (its native module may be missing on some platforms). */
export function getKoffi(): Koffi | null {
  if (koffi || koffiError) return koffi;
  try {
    const mod = createRequire(import.meta.url)('koffi') as Koffi & { default?: Koffi };
    koffi = mod.default ?? mod;
  } catch (e) {
    koffiError = `the koffi FFI module could not be loaded (${(e as Error).message.split('\n')[0]})`;
  }
  return koffi;
}
export const koffiLoadError = (): string => koffiError;

/** Folders where CUDA toolkit libraries live when they are not on the loader's path. */
function toolkitDirs(): string[] {
  const env = process.env;
  const dirs: string[] = [];
  if (env.LATHE_CUDA_LIB_DIR) dirs.push(...env.LATHE_CUDA_LIB_DIR.split(':'));
  for (const root of [env.CUDA_HOME, env.CUDA_PATH, '/usr/local/cuda']) {
    if (root) dirs.push(join(root, 'lib64'), join(root, 'lib'), join(root, 'targets/x86_64-linux/lib'), join(root, 'targets/sbsa-linux/lib'));
  }
  try {
    for (const d of readdirSync('/usr/local').filter((n) => n.startsWith('cuda-')).sort().reverse()) dirs.push(join('/usr/local', d, 'lib64'));
  } catch { /* no /usr/local */ }
  dirs.push('/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib/aarch64-linux-gnu');
  return dirs.filter((d) => existsSync(d));
}

export interface Opened { lib: Library; path: string }

/**
 * Opens the first library that loads: each name on the loader's path first, then in the
 * toolkit folders. Returns the reason when none does.
 */
export function openLibrary(names: string[]): Opened | { error: string } {
  const k = getKoffi();
  if (!k) return { error: koffiError };
  const tried: string[] = [];
  const candidates = [...names, ...toolkitDirs().flatMap((d) => names.map((n) => join(d, n)).filter((p) => existsSync(p)))];
  for (const path of candidates) {
    try {
      return { lib: k.load(path), path };
    } catch (e) {
      tried.push(`${path}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  // The first failure says it best (usually: not installed); the rest repeat it per path.
  return { error: tried[0] ?? `${names[0]} was not found` };
}

/**
 * Loads the libraries in `path`'s folder whose names start with `prefix` (the first that
 * loads wins). A library found by full path, outside the loader's search path, may need a
 * sibling it names (cuBLAS needs cuBLASLt; NVRTC opens its builtins at compile time):
 * once loaded, the loader finds it by name.
 */
export function preloadSibling(path: string, prefix: string): void {
  const k = getKoffi();
  if (!k || !path.includes('/')) return;
  const dir = dirname(path);
  let names: string[] = [];
  try { names = readdirSync(dir).filter((n) => n.startsWith(prefix)).sort().reverse(); } catch { return; }
  for (const n of names) {
    try { k.load(join(dir, n)); return; } catch { /* try the next */ }
  }
}

/** Binds `decls` (C prototypes) from `lib`; a missing symbol throws naming it. */
export function bind<K extends string>(lib: Library, decls: Record<K, string>): Record<K, CFn> {
  const out = {} as Record<K, CFn>;
  for (const [name, proto] of Object.entries(decls) as [K, string][]) out[name] = lib.func(proto) as CFn;
  return out;
}
