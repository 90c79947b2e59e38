// NumPy's .npz: a zip file of .npy members, one per array. Loading reads the zip directory;
// each array is read (and inflated) on first access.
import { Array } from '../core/array.js';
import type { StreamOrDevice } from '../core/device.js';
import { FileSource, ioError, writeFile } from './file.js';
import { lazyRecord } from './lazy.js';
import { npyArray, npyHeader, parseNpy } from './npy.js';
import { arrayBytes } from './storage.js';
import { readZipDirectory, readZipEntry, writeZip, ZipEntry } from './zip.js';

/** The arrays of an .npz file, lazily, keyed as numpy keys them (member names less `.npy`). */
export function loadNpz(path: string, opts: { stream?: StreamOrDevice } = {}): Record<string, Array> {
  const where = 'load';
  const file = new FileSource(path, where);
  const members = new Map<string, ZipEntry>();
  for (const e of readZipDirectory(file)) if (e.name.endsWith('.npy')) members.set(e.name.slice(0, -4), e);
  return lazyRecord(members.keys(), (key) => {
    const e = members.get(key)!;
    const bytes = readZipEntry(file, e);
    const fail = (msg: string): never => ioError(where, path, `member '${e.name}': ${msg}`);
    const h = parseNpy(bytes, fail);
    return npyArray(h, bytes.length - h.dataOffset, (into) => into.set(bytes.subarray(h.dataOffset, h.dataOffset + into.length)), opts.stream, fail, where);
  });
}

/** Arrays to save: named, or a list (named `arr_0`, `arr_1`, ... as numpy does). */
export type NpzArrays = Record<string, Array> | readonly Array[];

function writeNpz(path: string, arrays: NpzArrays, compress: boolean, where: string): string {
  if (!path.endsWith('.npz')) path += '.npz';
  const fail = (msg: string): never => ioError(where, path, msg);
  const named: [string, Array][] = globalThis.Array.isArray(arrays)
    ? arrays.map((a, i) => [`arr_${i}`, a])
    : Object.entries(arrays as Record<string, Array>);
  for (const [name, a] of named) {
    if (!(a instanceof Array)) fail(`'${name}' is not a lathe Array`);
    a._checkAlive(where);
    npyHeader(a.dtype, a.shape, (msg) => fail(`'${name}': ${msg}`)); // dtype check before writing anything
  }
  writeFile(path, where, (fd) => {
    // A generator: each array is evaluated and written before the next one is touched.
    function* members() {
      for (const [name, a] of named) yield { name: `${name}.npy`, chunks: [npyHeader(a.dtype, a.shape, fail), arrayBytes(a, where)] };
    }
    writeZip(fd, members(), compress, fail);
  });
  return path;
}

/** `mx.savez`: several arrays in one uncompressed .npz (`.npz` is appended when missing). */
export function savez(path: string, arrays: NpzArrays): string {
  return writeNpz(path, arrays, false, 'savez');
}

/** `mx.savez_compressed`: like `savez`, with each member deflated. */
export function savezCompressed(path: string, arrays: NpzArrays): string {
  return writeNpz(path, arrays, true, 'savezCompressed');
}
