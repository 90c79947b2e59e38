// NumPy's .npy format: the magic "\x93NUMPY", a version, a header length, a Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces to a
// multiple of 64 bytes, then the raw data.
import { Array } from '../core/array.js';
import { DType, bool, uint8, uint16, uint32, uint64, int8, int16, int32, int64, float16, float32, float64 } from '../core/dtype.js';
import { transpose } from '../core/index.js';
import type { StreamOrDevice } from '../core/device.js';
import { FileSource, ioError, writeAll, writeFile } from './file.js';
import { arrayBytes, arrayFromStorage, newStorage, swapBytes } from './storage.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const KINDS: Record<string, DType> = {
  b1: bool, u1: uint8, i1: int8, u2: uint16, i2: int16, u4: uint32, i4: int32, u8: uint64, i8: int64,
  f2: float16, f4: float32, f8: float64,
};
const DESCR = new Map<DType, string>(Object.entries(KINDS).map(([k, dt]) => [dt, (dt.size === 1 ? '|' : '<') + k]));

export interface NpyHeader {
  dtype: DType;
  shape: number[];
  fortranOrder: boolean;
  bigEndian: boolean;
  /** Bytes before the data. */
  dataOffset: number;
}

/** Where the header dict lies, from the file's first 12 bytes (or fewer, if it is shorter). */
export function npyPreamble(head: Uint8Array, fileSize: number, fail: (msg: string) => never): { start: number; len: number; utf8: boolean } {
  if (head.length < 8 || MAGIC.some((b, i) => head[i] !== b)) fail('not an npy file (bad magic; expected \\x93NUMPY)');
  const major = head[6];
  if (major < 1 || major > 3) fail(`unsupported npy format version ${major}.${head[7]}`);
  const start = major === 1 ? 10 : 12;
  if (head.length < start) fail('the header length runs past the end of the file');
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const len = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (start + len > fileSize) fail(`header length ${len} runs past the end of the file (${fileSize} bytes)`);
  return { start, len, utf8: major === 3 };
}

/** Parses the header dict. */
export function parseNpyDict(dict: Uint8Array, utf8: boolean, dataOffset: number, fail: (msg: string) => never): NpyHeader {
  const text = new TextDecoder(utf8 ? 'utf-8' : 'latin1').decode(dict);
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    fail(`cannot parse the header ${JSON.stringify(text.trim())}; expected 'descr', 'fortran_order' and 'shape'`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => (/^\d+L?$/.test(s) ? parseInt(s, 10) : NaN));
  if (shape.some((d) => !Number.isSafeInteger(d))) fail(`bad shape (${shapeText}) in the header`);
  const order = descr[0];
  const dtype = KINDS[descr.slice(1)];
  if (!'<>|='.includes(order) || !dtype)
    fail(`unsupported dtype '${descr}'; lathe reads ${[...DESCR.values()].join(', ')} (and their big-endian forms)`);
  return { dtype, shape, fortranOrder: fortran === 'True', bigEndian: order === '>' && dtype.size > 1, dataOffset };
}

/** Parses the header of npy bytes held in memory (an npz member). */
export function parseNpy(bytes: Uint8Array, fail: (msg: string) => never): NpyHeader {
  const { start, len, utf8 } = npyPreamble(bytes.subarray(0, 12), bytes.length, fail);
  return parseNpyDict(bytes.subarray(start, start + len), utf8, start + len, fail);
}

/** The header bytes numpy would write for an array of this dtype and shape. */
export function npyHeader(dtype: DType, shape: readonly number[], fail: (msg: string) => never): Uint8Array {
  const descr = DESCR.get(dtype);
  if (!descr) fail(`npy has no ${dtype.name}; convert first (astype float32) or use safetensors, which keeps it`);
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  const major = dict.length + 11 > 65535 ? 2 : 1;
  const pre = major === 1 ? 10 : 12;
  dict += ' '.repeat((64 - ((pre + dict.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(pre + dict.length);
  out.set(MAGIC);
  out[6] = major;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, dict.length, true); else view.setUint32(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[pre + i] = dict.charCodeAt(i);
  return out;
}

/**
 * An array from an npy header: `fill` writes the data's first bytes into the storage it is
 * given, and `available` says how many data bytes there are.
 */
export function npyArray(h: NpyHeader, available: number, fill: (into: Uint8Array) => void, stream: StreamOrDevice | undefined, fail: (msg: string) => never, where: string): Array {
  const count = h.shape.reduce((a, b) => a * b, 1);
  const need = count * h.dtype.size;
  if (available < need) fail(`the data is ${available} bytes, but dtype ${h.dtype.name} and shape (${h.shape.join(', ')}) need ${need}: the file is truncated`);
  const { storage, bytes } = newStorage(h.dtype, count);
  fill(bytes);
  if (h.bigEndian) swapBytes(bytes, h.dtype.size);
  if (h.dtype === bool) for (let i = 0; i < bytes.length; i++) bytes[i] = bytes[i] ? 1 : 0;
  if (!h.fortranOrder) return arrayFromStorage(storage, h.shape, h.dtype, stream, where);
  // Column-major data is the row-major data of the reversed shape, transposed.
  return transpose(arrayFromStorage(storage, [...h.shape].reverse(), h.dtype, stream, where));
}

/** Loads one array from an .npy file, reading its data straight into the array's storage. */
export function loadNpy(path: string, opts: { stream?: StreamOrDevice } = {}): Array {
  const where = 'load';
  const file = new FileSource(path, where);
  const fail = (msg: string): never => ioError(where, path, msg);
  const { start, len, utf8 } = npyPreamble(file.read(0, Math.min(12, file.size), 'preamble'), file.size, fail);
  const h = parseNpyDict(file.read(start, len, 'header'), utf8, start + len, fail);
  const available = file.size - h.dataOffset;
  return npyArray(h, available, (into) => file.read(h.dataOffset, into.length, 'data', into), opts.stream, fail, where);
}

/** Writes one array as an .npy file (like `mx.save`, `.npy` is appended when missing). */
export function saveNpy(path: string, a: Array): string {
  const where = 'save';
  if (!path.endsWith('.npy')) path += '.npy';
  if (!(a instanceof Array)) ioError(where, path, 'expected a lathe Array');
  a._checkAlive(where);
  const header = npyHeader(a.dtype, a.shape, (msg) => ioError(where, path, msg));
  writeFile(path, where, (fd) => { writeAll(fd, header); writeAll(fd, arrayBytes(a, where)); });
  return path;
}
