// NVRTC (runtime compilation of CUDA C to GPU machine code), bound through koffi.
import { openLibrary, bind, preloadSibling, CFn } from './load.js';
import { cString } from './libcuda.js';

const decls = {
  nvrtcVersion: 'int nvrtcVersion(_Out_ int *major, _Out_ int *minor)',
  nvrtcCreateProgram: 'int nvrtcCreateProgram(_Out_ uint64_t *prog, const char *src, const char *name, int numHeaders, uint64_t headers, uint64_t includeNames)',
  nvrtcCompileProgram: 'int nvrtcCompileProgram(uint64_t prog, int numOptions, const char **options)',
  nvrtcGetProgramLogSize: 'int nvrtcGetProgramLogSize(uint64_t prog, _Out_ uint64_t *size)',
  nvrtcGetProgramLog: 'int nvrtcGetProgramLog(uint64_t prog, _Out_ uint8_t *log)',
  nvrtcGetCUBINSize: 'int nvrtcGetCUBINSize(uint64_t prog, _Out_ uint64_t *size)',
  nvrtcGetCUBIN: 'int nvrtcGetCUBIN(uint64_t prog, _Out_ uint8_t *cubin)',
  nvrtcDestroyProgram: 'int nvrtcDestroyProgram(uint64_t *prog)',
  nvrtcGetErrorString: 'const char *nvrtcGetErrorString(int result)',
} as const;

export type Nvrtc = Record<keyof typeof decls, CFn> & { version: string };

let nvrtc: Nvrtc | null = null;

/** NVRTC's bindings, or the reason it cannot be used. */
export function loadNvrtc(): Nvrtc | { error: string } {
  if (nvrtc) return nvrtc;
  const names = ['libnvrtc.so', 'libnvrtc.so.13', 'libnvrtc.so.12', 'libnvrtc.so.11.2'];
  const opened = openLibrary(names);
  if ('error' in opened) return { error: `NVRTC missing (libnvrtc.so, the CUDA runtime compiler; set LATHE_CUDA_LIB_DIR to its folder): ${opened.error}` };
  preloadSibling(opened.path, 'libnvrtc-builtins.so');
  try {
    const n = bind(opened.lib, decls) as Nvrtc;
    const major = new Int32Array(1), minor = new Int32Array(1);
    n.nvrtcVersion(major, minor);
    n.version = `${major[0]}.${minor[0]}`;
    nvrtc = n;
    return n;
  } catch (e) {
    return { error: `NVRTC at ${opened.path} is unusable: ${(e as Error).message}` };
  }
}

/** Numbers each line, for error messages that show generated source. */
export function numbered(src: string): string {
  return src.split('\n').map((l, i) => `${String(i + 1).padStart(4)}| ${l}`).join('\n');
}

/** Compiles CUDA C `source` to a CUBIN for `arch` (e.g. 'sm_90'); errors show NVRTC's log and the source. */
export function compileToCubin(n: Nvrtc, source: string, name: string, options: string[]): Uint8Array {
  const prog = new BigUint64Array(1);
  const what = (s: number) => String(n.nvrtcGetErrorString(s) ?? `status ${s}`);
  let status = n.nvrtcCreateProgram(prog, source, `${name}.cu`, 0, 0n, 0n) as number;
  if (status !== 0) throw new Error(`[cuda] nvrtcCreateProgram failed for kernel '${name}': ${what(status)}`);
  try {
    status = n.nvrtcCompileProgram(prog[0], options.length, options) as number;
    if (status !== 0) {
      const size = new BigUint64Array(1);
      n.nvrtcGetProgramLogSize(prog[0], size);
      const log = new Uint8Array(Number(size[0]) + 1);
      n.nvrtcGetProgramLog(prog[0], log);
      throw new Error(`[cuda] NVRTC could not compile kernel '${name}' (${what(status)}, options ${options.join(' ')}):\n${cString(log)}\n--- source ---\n${numbered(source)}`);
    }
    const size = new BigUint64Array(1);
    n.nvrtcGetCUBINSize(prog[0], size);
    const cubin = new Uint8Array(Number(size[0]));
    n.nvrtcGetCUBIN(prog[0], cubin);
    return cubin;
  } finally {
    n.nvrtcDestroyProgram(prog);
  }
}
