// The part of the zip format that npz files use: stored or deflated members, read through
// the central directory (ZIP64 included, as numpy writes it), and written without ZIP64.
import { inflateRawSync, deflateRawSync } from 'node:zlib';
import { FileSource, ioError, writeAll } from './file.js';

export interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  headerOffset: number;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(chunks: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const b of chunks) for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const EOCD = 0x06054b50, EOCD64 = 0x06064b50, LOCATOR64 = 0x07064b50, CENTRAL = 0x02014b50, LOCAL = 0x04034b50;
const U32_MAX = 0xffffffff;

/** The members of a zip file, from its central directory. */
export function readZipDirectory(file: FileSource): ZipEntry[] {
  const fail = (msg: string): never => ioError(file.where, file.path, msg);
  // The end record is in the last 22 + 65535 (comment) bytes.
  const tailLen = Math.min(file.size, 22 + 65535);
  const tail = file.read(file.size - tailLen, tailLen, 'end of central directory');
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let at = -1;
  for (let i = tail.length - 22; i >= 0; i--) if (tv.getUint32(i, true) === EOCD) { at = i; break; }
  if (at < 0) fail('not a zip file (no end-of-central-directory record): truncated or not an npz file');
  let count = tv.getUint16(at + 10, true);
  let dirSize = tv.getUint32(at + 12, true);
  let dirOffset = tv.getUint32(at + 16, true);
  if (count === 0xffff || dirSize === U32_MAX || dirOffset === U32_MAX) {
    const locAt = file.size - tailLen + at - 20;
    const loc = file.read(locAt, 20, 'ZIP64 locator');
    const lv = new DataView(loc.buffer);
    if (lv.getUint32(0, true) !== LOCATOR64) fail('the ZIP64 end-of-central-directory locator is missing');
    const rec = file.read(Number(lv.getBigUint64(8, true)), 56, 'ZIP64 end of central directory');
    const rv = new DataView(rec.buffer);
    if (rv.getUint32(0, true) !== EOCD64) fail('bad ZIP64 end-of-central-directory record');
    count = Number(rv.getBigUint64(32, true));
    dirSize = Number(rv.getBigUint64(40, true));
    dirOffset = Number(rv.getBigUint64(48, true));
  }
  const dir = file.read(dirOffset, dirSize, 'central directory');
  const dv = new DataView(dir.buffer);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > dir.length || dv.getUint32(p, true) !== CENTRAL) fail(`central directory entry ${i} is corrupt`);
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    const crc = dv.getUint32(p + 16, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true), extraLen = dv.getUint16(p + 30, true), commentLen = dv.getUint16(p + 32, true);
    let headerOffset = dv.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen > dir.length) fail(`central directory entry ${i} is corrupt`);
    const name = new TextDecoder().decode(dir.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extra field: the 64-bit values of the fields set to 0xffffffff, in this order.
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen;) {
      const id = dv.getUint16(e, true), len = dv.getUint16(e + 2, true);
      if (id === 1) {
        let q = e + 4;
        const next = (): number => { const v = Number(dv.getBigUint64(q, true)); q += 8; return v; };
        if (size === U32_MAX) size = next();
        if (compressedSize === U32_MAX) compressedSize = next();
        if (headerOffset === U32_MAX) headerOffset = next();
      }
      e += 4 + len;
    }
    if (flags & 1) fail(`member '${name}' is encrypted`);
    entries.push({ name, method, crc, compressedSize, size, headerOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** The uncompressed bytes of one member, checked against its size and CRC. */
export function readZipEntry(file: FileSource, e: ZipEntry): Uint8Array {
  const fail: (msg: string) => never = (msg) => ioError(file.where, file.path, `member '${e.name}': ${msg}`);
  const local = file.read(e.headerOffset, 30, `member '${e.name}' header`);
  const lv = new DataView(local.buffer);
  if (lv.getUint32(0, true) !== LOCAL) fail('bad local header signature');
  const start = e.headerOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
  const raw = file.read(start, e.compressedSize, `member '${e.name}' data`);
  let data: Uint8Array;
  if (e.method === 0) data = raw;
  else if (e.method === 8) {
    try { data = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) }); } catch (err) { fail(`cannot inflate (${(err as Error).message})`); }
  } else fail(`unsupported compression method ${e.method} (lathe reads stored and deflated members)`);
  if (data.length !== e.size) fail(`expected ${e.size} bytes, got ${data.length}`);
  if (crc32([data]) !== e.crc) fail('CRC mismatch: the file is corrupt');
  return data;
}

export interface ZipMember {
  name: string;
  /** The member's bytes, in pieces (a header and a data view, say). */
  chunks: Uint8Array[];
}

/** Writes members to an open file, deflated or stored. Each member is written before the next is made. */
export function writeZip(fd: number, members: Iterable<ZipMember>, compress: boolean, fail: (msg: string) => never): void {
  const central: Uint8Array[] = [];
  let offset = 0;
  let count = 0;
  for (const m of members) {
    const name = new TextEncoder().encode(m.name);
    const size = m.chunks.reduce((s, c) => s + c.length, 0);
    const crc = crc32(m.chunks);
    const body = compress ? [deflateRawSync(Buffer.concat(m.chunks))] : m.chunks;
    const csize = body.reduce((s, c) => s + c.length, 0);
    if (size > U32_MAX || offset + 30 + name.length + csize > U32_MAX) fail(`npz files over 4 GiB are not supported; use saveSafetensors`);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, LOCAL, true);
    lv.setUint16(4, 20, true); // version needed: 2.0
    lv.setUint16(8, compress ? 8 : 0, true);
    lv.setUint16(12, 0x21, true); // date 1980-01-01: files are reproducible
    lv.setUint32(14, crc, true);
    lv.setUint32(18, csize, true);
    lv.setUint32(22, size, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    writeAll(fd, local);
    for (const c of body) writeAll(fd, c);

    const cen = new Uint8Array(46 + name.length);
    const cv = new DataView(cen.buffer);
    cv.setUint32(0, CENTRAL, true);
    cv.setUint16(4, 20, true); // made by: 2.0
    cv.setUint16(6, 20, true);
    cv.setUint16(10, compress ? 8 : 0, true);
    cv.setUint16(14, 0x21, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, csize, true);
    cv.setUint32(24, size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    cen.set(name, 46);
    central.push(cen);
    offset += local.length + csize;
    count++;
  }
  const dirSize = central.reduce((s, c) => s + c.length, 0);
  if (count > 0xfffe || offset + dirSize > U32_MAX) fail('npz files over 4 GiB or 65534 arrays are not supported; use saveSafetensors');
  for (const c of central) writeAll(fd, c);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, EOCD, true);
  ev.setUint16(8, count, true);
  ev.setUint16(10, count, true);
  ev.setUint32(12, dirSize, true);
  ev.setUint32(16, offset, true);
  writeAll(fd, end);
}
