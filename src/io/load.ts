// `load` and `save` by file extension, as `mx.load` / `mx.save` (plus the formats MLX writes
// with `save_safetensors`, `save_gguf` and `savez`).
import { statSync } from 'node:fs';
import { Array } from '../core/array.js';
import type { StreamOrDevice } from '../core/device.js';
import { ioError } from './file.js';
import { loadNpy, saveNpy } from './npy.js';
import { loadNpz, savez } from './npz.js';
import { loadSafetensors, saveSafetensors } from './safetensors.js';
import { loadSafetensorsDir } from './sharded.js';
import { loadGguf, saveGguf, GgufValue } from './gguf.js';

export type FileFormat = 'npy' | 'npz' | 'safetensors' | 'gguf';

export interface LoadOptions {
  /** The format, when the extension does not say it. */
  format?: FileFormat;
  /** Also return the file's metadata (safetensors and GGUF only). */
  returnMetadata?: boolean;
  /** Where the arrays are placed (default: the default device's stream). */
  stream?: StreamOrDevice;
}

/** Metadata of a safetensors (all strings) or GGUF file. */
export type Metadata = Record<string, GgufValue>;

function formatOf(path: string, where: string): FileFormat | 'sharded' {
  for (const f of ['npy', 'npz', 'safetensors', 'gguf'] as const) if (path.endsWith(`.${f}`)) return f;
  if (path.endsWith('.safetensors.index.json')) return 'sharded';
  let dir = false;
  try { dir = statSync(path).isDirectory(); } catch { /* reported below */ }
  if (dir) return 'sharded';
  return ioError(where, path, "cannot tell the format from the extension; expected .npy, .npz, .safetensors, .gguf, a folder of safetensors shards, or { format: 'npy' | 'npz' | 'safetensors' | 'gguf' }");
}

/**
 * Loads arrays from a file, by extension: .npy gives an array; .npz, .safetensors, .gguf and
 * sharded safetensors (a folder or `*.safetensors.index.json`) give a record of arrays read
 * lazily, on first access. With `returnMetadata`, `[arrays, metadata]`.
 */
export function load(path: `${string}.npy`, opts?: LoadOptions & { returnMetadata?: false }): Array;
export function load(path: string, opts: LoadOptions & { returnMetadata: true }): [Record<string, Array>, Metadata];
export function load(path: string, opts?: LoadOptions): Array | Record<string, Array>;
export function load(path: string, opts: LoadOptions = {}): Array | Record<string, Array> | [Record<string, Array>, Metadata] {
  const where = 'load';
  const format = opts.format ?? formatOf(path, where);
  const o = { stream: opts.stream };
  if (format === 'npy' || format === 'npz') {
    if (opts.returnMetadata) ioError(where, path, `${format} files have no metadata; returnMetadata works for safetensors and GGUF`);
    return format === 'npy' ? loadNpy(path, o) : loadNpz(path, o);
  }
  const f = format === 'gguf' ? loadGguf(path, o) : format === 'safetensors' ? loadSafetensors(path, o) : format === 'sharded' ? loadSafetensorsDir(path, o) : ioError(where, path, `unknown format '${String(format)}'`);
  return opts.returnMetadata ? [f.tensors, f.metadata] : f.tensors;
}

/**
 * Saves by extension: an array to .npy (`.npy` is appended when there is no known extension,
 * as `mx.save` does); a record of arrays to .npz, .safetensors or .gguf, with metadata for the
 * last two. Returns the path written.
 */
export function save(path: string, value: Array | Record<string, Array>, metadata?: Metadata): string {
  const where = 'save';
  if (value instanceof Array) {
    if (/\.(npz|safetensors|gguf)$/.test(path)) ioError(where, path, 'this format holds named arrays: pass a record such as { weight: x }');
    return saveNpy(path, value);
  }
  if (value === null || typeof value !== 'object') ioError(where, path, `expected an Array or a record of arrays, got ${value === null ? 'null' : typeof value}`);
  if (path.endsWith('.npz')) {
    if (metadata) ioError(where, path, 'npz files have no metadata');
    return savez(path, value);
  }
  if (path.endsWith('.safetensors')) { saveSafetensors(path, value, metadata as Record<string, string> | undefined); return path; }
  if (path.endsWith('.gguf')) { saveGguf(path, value, metadata); return path; }
  return ioError(where, path, 'a record of arrays is saved as .npz, .safetensors or .gguf: give the path one of these extensions');
}
