// GGUF (llama.cpp's format, versions 2 and 3, little-endian): "GGUF", a version, the tensor and
// metadata counts, typed key/value metadata, tensor infos (name, dims, ggml type, offset),
// then the tensor data, each tensor aligned to `general.alignment` (32 by default).
// Dims are ggml's: dims[0] varies fastest, so the array's shape is dims reversed.
import { Array } from '../core/array.js';
import { float32 } from '../core/dtype.js';
import { astype } from '../core/ops/astype.js';
import type { StreamOrDevice } from '../core/device.js';
import { FileSource, ioError, writeAll, writeFile } from './file.js';
import { lazyRecord, setOwn } from './lazy.js';
import { arrayBytes, arrayFromStorage, newStorage } from './storage.js';
import { GgmlType, ggmlTypes, ggmlTypeOf, readableTypes } from './ggml-quants.js';
import { ByteWriter, Cursor, GgufValue, GgufValueType } from './gguf-values.js';
import { ggmlQuantizers } from './ggml-quantize.js';

export type { GgufValue, GgufValueType } from './gguf-values.js';

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const MAX_DIMS = 4; // GGML_MAX_DIMS

export interface GgufTensorInfo {
  /** ggml type name: F32, F16, Q4_K, ... (`type 42` for ids lathe does not know). */
  type: string;
  /** GGUF's dims (fastest first); `shape` is them reversed. */
  dims: number[];
  shape: number[];
  /** Absolute byte offset in the file, and size (null for unknown types). */
  offset: number;
  nbytes: number | null;
}

export interface GgufFile {
  /** Lazy: each tensor is read (and dequantized to float32 if quantized) on first access. */
  tensors: Record<string, Array>;
  metadata: Record<string, GgufValue>;
  /** Each key's GGUF type (for arrays, their elements'), so `saveGguf` can write it back alike. */
  metadataTypes: Record<string, GgufValueType>;
  info: Record<string, GgufTensorInfo>;
  version: number;
}

/**
 * Reads a GGUF file's metadata and tensor infos; tensors are read on first access. F32, F16,
 * BF16, F64 and I8..I64 keep their dtype; Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K are
 * dequantized to float32.
 */
export function loadGguf(path: string, opts: { stream?: StreamOrDevice } = {}): GgufFile {
  const where = 'loadGguf';
  const file = new FileSource(path, where);
  const fail: (msg: string) => never = (msg) => ioError(where, path, msg);
  const c = new Cursor(file, fail);
  if (file.size < 4 || c.u32('magic') !== MAGIC) fail('not a GGUF file (bad magic; expected "GGUF")');
  const version = c.u32('version');
  if (version > 0xffff && (version & 0xffff) === 0) fail('big-endian GGUF files are not supported');
  if (version < 2 || version > 3) fail(`unsupported GGUF version ${version} (lathe reads 2 and 3)`);
  const nTensors = c.count('tensor count', 24);
  const nKv = c.count('metadata count', 13);

  const metadata: Record<string, GgufValue> = {};
  const metadataTypes: Record<string, GgufValueType> = {};
  for (let i = 0; i < nKv; i++) {
    const key = c.str(`metadata key ${i}`);
    if (Object.hasOwn(metadata, key)) fail(`metadata key '${key}' appears twice`);
    const { value, type } = c.entry(`metadata '${key}'`);
    setOwn(metadata, key, value);
    if (type) setOwn(metadataTypes, key, type);
  }
  let alignment = 32;
  if (Object.hasOwn(metadata, 'general.alignment')) {
    const a = metadata['general.alignment'];
    if (metadataTypes['general.alignment'] !== 'uint32' || typeof a !== 'number' || a === 0 || (a & (a - 1)) !== 0)
      fail(`general.alignment must be a uint32 power of two, got ${String(a)}`);
    alignment = a as number;
  }

  const raw: { name: string; dims: number[]; typeId: number; offset: bigint }[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = c.str(`tensor ${i} name`);
    if (names.has(name)) fail(`tensor '${name}' appears twice`);
    names.add(name);
    const nDims = c.u32(`tensor '${name}' n_dims`);
    if (nDims > MAX_DIMS) fail(`tensor '${name}' has ${nDims} dims; GGUF allows at most ${MAX_DIMS}`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const n = c.u64(`tensor '${name}' dim ${d}`);
      if (n > BigInt(Number.MAX_SAFE_INTEGER)) fail(`tensor '${name}' dim ${d} is ${n}: corrupt`);
      dims.push(Number(n));
    }
    raw.push({ name, dims, typeId: c.u32(`tensor '${name}' type`), offset: c.u64(`tensor '${name}' offset`) });
  }
  const dataStart = Math.ceil(c.pos / alignment) * alignment;

  const info: Record<string, GgufTensorInfo> = {};
  const typeOf = new Map<string, GgmlType | undefined>();
  for (const { name, dims, typeId, offset } of raw) {
    const t = ggmlTypes.get(typeId);
    const count = dims.reduce((a, b) => a * b, 1);
    let nbytes: number | null = null;
    if (t) {
      if ((dims[0] ?? 1) % t.blockSize !== 0) fail(`tensor '${name}' of type ${t.name} has dims [${dims.join(', ')}]; dims[0] must be a multiple of its block size ${t.blockSize}`);
      nbytes = (count / t.blockSize) * t.typeSize;
    }
    if (offset % BigInt(alignment) !== 0n) fail(`tensor '${name}' offset ${offset} is not a multiple of the alignment ${alignment}`);
    const end = BigInt(dataStart) + offset + BigInt(nbytes ?? 0);
    if (end > BigInt(file.size)) fail(`tensor '${name}' (bytes ${BigInt(dataStart) + offset}..${end}) runs past the end of the file (${file.size} bytes): truncated or corrupt`);
    typeOf.set(name, t);
    setOwn(info, name, { type: t?.name ?? `type ${typeId}`, dims, shape: [...dims].reverse(), offset: dataStart + Number(offset), nbytes });
  }

  const tensors = lazyRecord(Object.keys(info), (name) => {
    const ti = info[name];
    const t = typeOf.get(name);
    if (!t || (!t.dtype && !t.dequantize))
      fail(`tensor '${name}' has ggml type ${ti.type}, which lathe cannot read yet (it reads ${readableTypes.join(', ')})`);
    const count = ti.dims.reduce((a, b) => a * b, 1);
    if (t.dtype) {
      const { storage, bytes } = newStorage(t.dtype, count);
      file.read(ti.offset, ti.nbytes!, `tensor '${name}'`, bytes);
      return arrayFromStorage(storage, ti.shape, t.dtype, opts.stream, where);
    }
    const out = new Float32Array(count);
    t.dequantize!(file.read(ti.offset, ti.nbytes!, `tensor '${name}'`), out, count / t.blockSize);
    return arrayFromStorage(out, ti.shape, float32, opts.stream, where);
  });
  return { tensors, metadata, metadataTypes, info, version };
}

/**
 * Writes arrays and metadata as a GGUF v3 file. float32, float16, bfloat16, float64 and
 * int8..int64 arrays are stored as they are (F32, F16, BF16, F64, I8..I64); 0-d arrays get
 * dims [1]. Metadata types are inferred (see docs/io.md) unless `metadataTypes` names them.
 * `tensorTypes` quantizes the named floating-point tensors to Q8_0 or Q4_0 (their last
 * dimension a multiple of 32), with the bytes llama.cpp's reference quantizer writes.
 */
export function saveGguf(
  path: string,
  tensors: Record<string, Array>,
  metadata: Record<string, GgufValue> = {},
  opts: { metadataTypes?: Record<string, GgufValueType>; tensorTypes?: Record<string, 'Q8_0' | 'Q4_0'> } = {},
): void {
  const where = 'saveGguf';
  const fail: (msg: string) => never = (msg) => ioError(where, path, msg);
  const names = Object.keys(tensors);
  const types = names.map((name) => {
    const a = tensors[name];
    if (!(a instanceof Array)) fail(`'${name}' is not a lathe Array`);
    a._checkAlive(where);
    const q = opts.tensorTypes?.[name];
    if (q !== undefined) {
      const t = [...ggmlTypes.values()].find((g) => g.name === q);
      if (!t || !ggmlQuantizers[q]) fail(`tensor '${name}': cannot quantize to '${q}' (saveGguf quantizes to ${Object.keys(ggmlQuantizers).join(', ')})`);
      if (!a.dtype.isFloat) fail(`tensor '${name}' has dtype ${a.dtype.name}; only floating-point tensors can be quantized to ${q}`);
      if (a.ndim === 0 || a.shape[a.ndim - 1] % t.blockSize !== 0) fail(`tensor '${name}' of shape (${a.shape.join(', ')}) cannot be ${q}: its last dimension must be a multiple of ${t.blockSize}`);
      return t;
    }
    const t = ggmlTypeOf(a.dtype);
    if (!t) fail(`tensor '${name}' has dtype ${a.dtype.name}; GGUF stores float32, float16, bfloat16, float64 and int8..int64 (astype first)`);
    if (a.ndim > MAX_DIMS) fail(`tensor '${name}' has ${a.ndim} dims; GGUF allows at most ${MAX_DIMS}`);
    return t;
  });

  const header = new ByteWriter();
  header.u32(MAGIC);
  header.u32(3);
  header.u64(names.length);
  const keys = Object.keys(metadata);
  header.u64(keys.length);
  for (const key of keys) {
    header.str(key);
    header.entry(metadata[key], opts.metadataTypes?.[key], (msg) => fail(`metadata '${key}': ${msg}`));
  }
  let alignment = 32;
  if (Object.hasOwn(metadata, 'general.alignment')) {
    const a = metadata['general.alignment'];
    if (typeof a !== 'number' || !Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) fail(`general.alignment must be a power of two, got ${String(a)}`);
    if ((opts.metadataTypes?.['general.alignment'] ?? 'uint32') !== 'uint32') fail('general.alignment must be stored as uint32');
    alignment = a as number;
  }
  const padded = (n: number) => Math.ceil(n / alignment) * alignment;
  let offset = 0;
  names.forEach((name, i) => {
    const a = tensors[name];
    header.str(name);
    const dims = a.ndim ? [...a.shape].reverse() : [1];
    header.u32(dims.length);
    for (const d of dims) header.u64(d);
    header.u32(types[i].id);
    header.u64(offset);
    offset += padded(storedBytes(a, types[i]));
  });
  header.zeros(padded(header.length) - header.length);

  writeFile(path, where, (fd) => {
    writeAll(fd, header.bytes());
    names.forEach((name, i) => {
      const quantizer = types[i].dtype ? undefined : ggmlQuantizers[types[i].name];
      const bytes = quantizer ? quantizer(float32Values(tensors[name])) : arrayBytes(tensors[name], where);
      writeAll(fd, bytes);
      writeAll(fd, new Uint8Array(padded(bytes.length) - bytes.length));
    });
  });
}

/** Bytes a tensor takes in the file as ggml type `t`. */
function storedBytes(a: Array, t: GgmlType): number {
  return t.dtype ? a.nbytes : (a.size / t.blockSize) * t.typeSize;
}

/** An array's values as float32, row-major (what the block quantizers read). */
function float32Values(a: Array): Float32Array {
  const f = a.dtype === float32 ? a : astype(a, float32);
  const bytes = arrayBytes(f, 'saveGguf');
  const out = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  if (f !== a) f.dispose();
  return out;
}
