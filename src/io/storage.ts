// Raw storage in and out of arrays: the file formats hold each dtype's bytes as lathe
// stores them (little-endian, float16/bfloat16 as raw bits), so loading and saving copy
// bytes and never convert values. Going through public ops (`array`, `view`, `dataSync`)
// would copy every tensor once more, so this uses two core internals that do not:
// `fromStorage` (an array owning a TypedArray) and `readHostSync` (a buffer's host bytes).
import { endianness } from 'node:os';
import { Array, fromStorage } from '../core/array.js';
import { readHostSync } from '../core/eval.js';
import { toStream, StreamOrDevice } from '../core/device.js';
import { DType, TypedArray, allocStorage } from '../core/dtype.js';

const littleEndian = endianness() === 'LE';

function checkHost(where: string): void {
  if (!littleEndian) throw new Error(`[${where}] lathe's file formats need a little-endian host`);
}

/** Fresh storage for `n` elements of `dtype` and a byte view of it, to read a file into. */
export function newStorage(dtype: DType, n: number): { storage: TypedArray; bytes: Uint8Array } {
  const storage = allocStorage(dtype, n);
  return { storage, bytes: new Uint8Array(storage.buffer, storage.byteOffset, storage.byteLength) };
}

/** An evaluated array that takes ownership of `storage` (already in dtype's layout). */
export function arrayFromStorage(storage: TypedArray, shape: readonly number[], dtype: DType, stream?: StreamOrDevice, where = 'load'): Array {
  checkHost(where);
  return fromStorage(storage, shape, dtype, toStream(stream));
}

/** Evaluates `a` and returns its raw bytes, row-major (a view: never write to it). */
export function arrayBytes(a: Array, where: string): Uint8Array {
  checkHost(where);
  a.eval();
  const s = readHostSync(a);
  const n = a.size * a.dtype.size;
  return new Uint8Array(s.buffer, s.byteOffset, Math.min(n, s.byteLength));
}

/** Reverses the byte order of each `width`-byte element in place. */
export function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i + width <= bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a]; bytes[a] = bytes[b]; bytes[b] = t;
    }
  }
}

export function shapeString(shape: readonly number[]): string {
  return `(${shape.join(',')}${shape.length === 1 ? ',' : ''})`;
}
