// safetensors: an 8-byte little-endian header length, a JSON header
// ({name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}),
// then the tensors' bytes, row-major and little-endian, back to back.
// Loading reads the header only; each tensor is read from the file when first accessed.
import { Array } from '../core/array.js';
import { DType, bool, uint8, uint16, uint32, uint64, int8, int16, int32, int64, float16, bfloat16, float32, float64 } from '../core/dtype.js';
import type { StreamOrDevice } from '../core/device.js';
import { FileSource, ioError, writeAll, writeFile } from './file.js';
import { lazyRecord, setOwn } from './lazy.js';
import { arrayBytes, arrayFromStorage, newStorage } from './storage.js';

const DTYPES: Record<string, DType> = {
  BOOL: bool, U8: uint8, I8: int8, U16: uint16, I16: int16, U32: uint32, I32: int32, U64: uint64, I64: int64,
  F16: float16, BF16: bfloat16, F32: float32, F64: float64,
};
// Valid in the format but with no lathe dtype: such tensors load as errors on access.
const UNSUPPORTED = new Set(['F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64']);
const CODES = new Map(Object.entries(DTYPES).map(([code, dt]) => [dt, code]));

// The reference implementation refuses larger headers; so do we, before allocating one.
const MAX_HEADER = 100_000_000;

/** Where one tensor lives, known without reading it. */
export interface TensorInfo {
  /** The file's dtype code (`F32`, `BF16`, ...). */
  dtype: string;
  shape: number[];
  /** Byte range in the file (absolute). */
  offset: number;
  nbytes: number;
  /** The file holding it (differs per shard for `loadSafetensorsDir`). */
  path: string;
}

export interface SafetensorsFile {
  /** Lazy: each array is read from the file on first access, then kept. */
  tensors: Record<string, Array>;
  metadata: Record<string, string>;
  info: Record<string, TensorInfo>;
}

export interface LoadOptions {
  /** Where the arrays are placed (default: the default device's stream). */
  stream?: StreamOrDevice;
}

/** Reads the header of a safetensors file and returns its tensors lazily, with its metadata. */
export function loadSafetensors(path: string, opts: LoadOptions = {}): SafetensorsFile {
  const where = 'loadSafetensors';
  const file = new FileSource(path, where);
  const { info, metadata } = readHeader(file, where);
  const tensors = lazyRecord(Object.keys(info), (name) => readTensor(file, name, info[name], opts.stream, where));
  return { tensors, metadata, info };
}

function readHeader(file: FileSource, where: string): { info: Record<string, TensorInfo>; metadata: Record<string, string> } {
  const fail: (msg: string) => never = (msg) => ioError(where, file.path, msg);
  if (file.size < 8) fail(`the file is ${file.size} bytes, too short for the 8-byte header length`);
  const len = new DataView(file.read(0, 8, 'header length').buffer).getBigUint64(0, true);
  if (len > BigInt(file.size - 8)) fail(`header length ${len} runs past the end of the file (${file.size} bytes): truncated or not a safetensors file`);
  if (len > BigInt(MAX_HEADER)) fail(`header length ${len} is over the limit of ${MAX_HEADER} bytes`);
  const n = Number(len);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(file.read(8, n, 'header'));
  let header: unknown;
  try { header = JSON.parse(text); } catch (e) { fail(`the header is not valid JSON (${(e as Error).message})`); }
  if (header === null || typeof header !== 'object' || globalThis.Array.isArray(header)) fail('the header is not a JSON object');

  const dataStart = 8 + n;
  const dataSize = file.size - dataStart;
  const info: Record<string, TensorInfo> = {};
  let metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') { metadata = checkMetadata(entry, fail); continue; }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== 'object') fail(`tensor '${name}': expected an object with dtype, shape and data_offsets`);
    const { dtype, shape, data_offsets: offs } = e;
    if (typeof dtype !== 'string' || !(dtype in DTYPES || UNSUPPORTED.has(dtype)))
      fail(`tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}; expected one of ${[...Object.keys(DTYPES), ...UNSUPPORTED].join(', ')}`);
    if (!globalThis.Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail(`tensor '${name}' has shape ${JSON.stringify(shape)}; expected a list of non-negative integers`);
    if (!globalThis.Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1])
      fail(`tensor '${name}' has data_offsets ${JSON.stringify(offs)}; expected [begin, end] with 0 <= begin <= end`);
    const [begin, end] = offs as [number, number];
    if (end > dataSize) fail(`tensor '${name}' data_offsets [${begin}, ${end}] run past the end of the data (${dataSize} bytes after the header): the file is truncated or corrupt`);
    const dt = DTYPES[dtype];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (dt && end - begin !== count * dt.size)
      fail(`tensor '${name}' of dtype ${dtype} and shape [${shape.join(', ')}] needs ${count * dt.size} bytes, but its data_offsets [${begin}, ${end}] hold ${end - begin}`);
    setOwn(info, name, { dtype, shape: shape as number[], offset: dataStart + begin, nbytes: end - begin, path: file.path });
    spans.push([begin, end, name]);
  }
  // As the reference implementation: tensors tile the data exactly, no overlaps or gaps.
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let at = 0;
  for (const [begin, end, name] of spans) {
    if (begin !== at) fail(`tensor '${name}' starts at data byte ${begin}, expected ${at}: tensors overlap or leave a gap`);
    at = end;
  }
  if (at !== dataSize) fail(`the header describes ${at} bytes of tensor data, but the file holds ${dataSize} after the header`);
  return { info, metadata };
}

function checkMetadata(m: unknown, fail: (msg: string) => never): Record<string, string> {
  if (m === null || typeof m !== 'object' || globalThis.Array.isArray(m)) fail('__metadata__ is not an object');
  for (const [k, v] of Object.entries(m as object)) if (typeof v !== 'string') fail(`__metadata__ '${k}' is ${JSON.stringify(v)}; values must be strings`);
  return { ...(m as Record<string, string>) };
}

function readTensor(file: FileSource, name: string, t: TensorInfo, stream: StreamOrDevice | undefined, where: string): Array {
  const dt = DTYPES[t.dtype];
  if (!dt) ioError(where, file.path, `tensor '${name}' has dtype ${t.dtype}, which lathe has no dtype for`);
  const { storage, bytes } = newStorage(dt, t.nbytes / dt.size);
  file.read(t.offset, t.nbytes, `tensor '${name}'`, bytes);
  return arrayFromStorage(storage, t.shape, dt, stream, where);
}

/**
 * Writes arrays (and optional string metadata) as a safetensors file. Arrays are evaluated
 * one at a time and their bytes written as they are, so memory stays at one tensor.
 */
export function saveSafetensors(path: string, tensors: Record<string, Array>, metadata?: Record<string, string> | null): void {
  const where = 'saveSafetensors';
  for (const [name, a] of Object.entries(tensors)) {
    if (!(a instanceof Array)) ioError(where, path, `'${name}' is not a lathe Array`);
    a._checkAlive(where);
  }
  if (metadata) for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') ioError(where, path, `metadata '${k}' must be a string, got ${typeof v}`);
  // The reference writer's order: larger elements first (so each tensor stays aligned), then by name.
  const names = Object.keys(tensors).sort((a, b) => tensors[b].dtype.size - tensors[a].dtype.size || (a < b ? -1 : a > b ? 1 : 0));
  if ('__metadata__' in tensors) ioError(where, path, "'__metadata__' is reserved and cannot name a tensor");
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let at = 0;
  for (const name of names) {
    const a = tensors[name];
    setOwn(header, name, { dtype: CODES.get(a.dtype), shape: [...a.shape], data_offsets: [at, at + a.nbytes] });
    at += a.nbytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  writeFile(path, where, (fd) => {
    writeAll(fd, len);
    writeAll(fd, headerBytes);
    for (const name of names) writeAll(fd, arrayBytes(tensors[name], where));
  });
}
