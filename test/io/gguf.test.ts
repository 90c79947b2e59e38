// GGUF: metadata of every value type, dequantization checked against llama.cpp's gguf-py
// (fixture) and hand-built blocks, writing (read back by gguf-py: fixture result), bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as mx from '../../src/index.js';
import { loadGguf, saveGguf, type GgufValue } from '../../src/io/index.js';
import { FIXTURES, tempDir, assertMatches, Expected } from './util.js';

const dir = tempDir();
const G = join(FIXTURES, 'gguf');

interface TinyJson {
  metadata: Record<string, [string, GgufValue]>;
  tensors: Record<string, { type: string; shape: number[]; values: number[]; source?: number[] }>;
}
const tiny = JSON.parse(readFileSync(join(G, 'tiny.json'), 'utf8')) as TinyJson;

test('reads metadata of every value type, with its type', () => {
  const f = loadGguf(join(G, 'tiny.gguf'));
  assert.equal(f.version, 3);
  assert.deepEqual(Object.keys(f.metadata).sort(), Object.keys(tiny.metadata).sort());
  for (const [k, [type, value]] of Object.entries(tiny.metadata)) {
    assert.equal(f.metadataTypes[k], type, `${k} type`);
    const want = type === 'uint64' || type === 'int64' ? BigInt(value as string) : type === 'float32' ? (Array.isArray(value) ? value.map((x) => Math.fround(x as number)) : Math.fround(value as number)) : value;
    assert.deepEqual(f.metadata[k], want, k);
  }
});

test('dequantizes exactly as llama.cpp (gguf-py reference values), and close to the source floats', () => {
  const f = loadGguf(join(G, 'tiny.gguf'));
  const bound: Record<string, number> = { BF16: 0.02, Q8_0: 0.02, Q4_0: 0.3, Q4_1: 0.3, Q5_0: 0.15, Q5_1: 0.15 };
  const dtypeOf: Record<string, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
  for (const [name, e] of Object.entries(tiny.tensors)) {
    const a = f.tensors[name];
    assert.equal(f.info[name].type, e.type);
    assert.deepEqual(f.info[name].dims, [...e.shape].reverse(), `${name} dims are the shape reversed`);
    assertMatches(a, { dtype: dtypeOf[e.type] ?? 'float32', shape: e.shape, values: e.values }, name);
    if (e.source) {
      const got = a.reshape(-1).tolist() as number[];
      const err = Math.max(...got.map((v, i) => Math.abs(v - e.source![i])));
      assert.ok(err < bound[e.type], `${name}: max error ${err} vs the source floats`);
    }
  }
  for (const t of ['Q4_K', 'Q5_K', 'Q6_K', 'Q8_0', 'Q4_0', 'Q4_1']) assert.ok(Object.values(tiny.tensors).some((e) => e.type === t), `fixture has ${t}`);
});

// ------------------------------------------------------------------ hand-built files

const u32 = (x: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(x); return b; };
const u64 = (x: number | bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(x)); return b; };
const str = (s: string) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);

interface Craft {
  magic?: Buffer; version?: number;
  kv?: Buffer[]; nKv?: number;
  tensors: { name: string; dims: number[]; type: number; offset?: number }[];
  nTensors?: number;
  data: Buffer; alignment?: number;
}
/** A GGUF file from parts; each tensor's offset defaults to the running, aligned one. */
function craft(name: string, c: Craft): string {
  const align = c.alignment ?? 32;
  let off = 0;
  const infos = c.tensors.map((t) => {
    const b = Buffer.concat([str(t.name), u32(t.dims.length), ...t.dims.map(u64), u32(t.type), u64(t.offset ?? off)]);
    off += align; // tests keep each tensor within one alignment unit
    return b;
  });
  const head = Buffer.concat([c.magic ?? Buffer.from('GGUF'), u32(c.version ?? 3), u64(c.nTensors ?? c.tensors.length), u64(c.nKv ?? (c.kv ?? []).length), ...(c.kv ?? []), ...infos]);
  const pad = Buffer.alloc((align - (head.length % align)) % align);
  const p = join(dir, name);
  writeFileSync(p, Buffer.concat([head, pad, c.data]));
  return p;
}
const half = (bits: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(bits); return b; };

test('hand-built Q8_0, Q4_0, Q4_1 and Q4_K blocks dequantize to the values their layout gives', () => {
  // Q8_0: d = 0.5 (f16 0x3800), qs[j] = j - 16.
  const q8 = Buffer.concat([half(0x3800), Buffer.from(Int8Array.from({ length: 32 }, (_, j) => j - 16).buffer)]);
  // Q4_0: d = 0.25, byte j holds j (low nibble, element j) and 15 - j (high nibble, element j + 16).
  const q4 = Buffer.concat([half(0x3400), Buffer.from(Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4)))]);
  // Q4_1: d = 0.5, m = -1: value = q * 0.5 - 1.
  const q41 = Buffer.concat([half(0x3800), half(0xbc00), Buffer.from(Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4)))]);
  // Q4_K: d = 1, dmin = 0.5; sub-block s has scale s + 1 and min s (6-bit, packed in 12 bytes).
  const scales = Buffer.alloc(12);
  for (let s = 0; s < 8; s++) {
    if (s < 4) { scales[s] = s + 1; scales[s + 4] = s; } else { scales[s + 4] = ((s + 1) & 0xf) | ((s & 0xf) << 4); }
  }
  const qs = Buffer.from(Array.from({ length: 128 }, (_, l) => (l % 16) | ((15 - (l % 16)) << 4)));
  const q4k = Buffer.concat([half(0x3c00), half(0x3800), scales, qs]);
  const data = Buffer.concat([q8, Buffer.alloc(64 - q8.length), q4, Buffer.alloc(32 - q4.length), q41, Buffer.alloc(32 - q41.length), q4k]);
  const p = craft('hand.gguf', {
    tensors: [{ name: 'q8', dims: [32], type: 8, offset: 0 }, { name: 'q4', dims: [32], type: 2, offset: 64 }, { name: 'q41', dims: [32], type: 3, offset: 96 }, { name: 'q4k', dims: [256], type: 12, offset: 128 }],
    data,
  });
  const f = loadGguf(p);
  assert.deepEqual(f.tensors.q8.tolist(), Array.from({ length: 32 }, (_, j) => (j - 16) * 0.5));
  assert.deepEqual(f.tensors.q4.tolist(), Array.from({ length: 32 }, (_, j) => (j < 16 ? j - 8 : 15 - (j - 16) - 8) * 0.25));
  assert.deepEqual(f.tensors.q41.tolist(), Array.from({ length: 32 }, (_, j) => (j < 16 ? j : 15 - (j - 16)) * 0.5 - 1));
  // Element i: group g = i >> 6 of 64 uses byte 32g + (i % 32); the first 32 take low nibbles (sub-block 2g), the next 32 high (2g + 1).
  const want = Array.from({ length: 256 }, (_, i) => {
    const g = i >> 6, l = i % 32, hi = (i % 64) >= 32, s = 2 * g + (hi ? 1 : 0);
    const byte = qs[32 * g + l];
    return (s + 1) * (hi ? byte >> 4 : byte & 0xf) - 0.5 * s;
  });
  assert.deepEqual(f.tensors.q4k.tolist(), want);
  assert.equal(f.tensors.q4k.dtype, mx.float32);
});

test('writes F32/F16 (and BF16, F64, integers) with metadata; reads back; types round-trip', () => {
  const p = join(dir, 'out.gguf');
  const t = {
    'w.f32': mx.reshape(mx.arange(24, null, null, mx.float32), [2, 3, 4]),
    'w.f16': mx.array([0.5, -2, 1000], mx.float16),
    'w.bf16': mx.array([1.5, 3e38], mx.bfloat16),
    'w.f64': mx.array([Math.PI], mx.float64),
    'w.i32': mx.array([-7, 7], mx.int32),
    'w.i64': mx.array([-(2n ** 60n)], mx.int64),
    scalar: mx.array(4, mx.float32),
  };
  const metadata: Record<string, GgufValue> = {
    'general.architecture': 'llama', 'a.count': 7, 'a.neg': -3, 'a.big': 2 ** 40, 'a.eps': 1e-5, 'a.flag': false,
    'a.i64': 5n, 'a.u64': 2n ** 64n - 1n, 'a.tokens': ['x', 'yz'], 'a.types': [1, -2], 'a.scores': [0.5, 1], 'a.nested': [[1, 2], ['a']], 'a.empty': [],
    'a.u8': 7, 'a.f64': 0.1,
  };
  saveGguf(p, t, metadata, { metadataTypes: { 'a.u8': 'uint8', 'a.f64': 'float64' } });
  const f = loadGguf(p);
  for (const [k, a] of Object.entries(t)) {
    const b = f.tensors[k];
    assert.equal(b.dtype, a.dtype, k);
    assert.deepEqual(b.shape, a.ndim ? a.shape : [1], k);
    assert.deepEqual(b.reshape(-1).tolist(), a.reshape(-1).tolist(), k);
  }
  assert.equal(f.info['w.f32'].type, 'F32');
  assert.equal(f.info['w.f16'].type, 'F16');
  assert.deepEqual(f.info['w.f32'].dims, [4, 3, 2]);
  for (const info of Object.values(f.info)) assert.equal((info.offset) % 32, 0, 'tensors are aligned');
  assert.deepEqual(f.metadataTypes, {
    'general.architecture': 'string', 'a.count': 'uint32', 'a.neg': 'int32', 'a.big': 'int64', 'a.eps': 'float32', 'a.flag': 'bool',
    'a.i64': 'int64', 'a.u64': 'uint64', 'a.tokens': 'string', 'a.types': 'int32', 'a.scores': 'float32', 'a.empty': 'int32',
    'a.u8': 'uint8', 'a.f64': 'float64',
  }); // a.nested (an array of arrays) has no single element type
  assert.deepEqual(f.metadata['a.nested'], [[1, 2], ['a']]);
  assert.equal(f.metadata['a.big'], 2n ** 40n);
  assert.equal(f.metadata['a.eps'], Math.fround(1e-5));
  assert.equal(f.metadata['a.f64'], 0.1);
  assert.equal(f.metadata['a.u64'], 2n ** 64n - 1n);

  // Loading and saving again with metadataTypes keeps every type.
  const p2 = join(dir, 'again.gguf');
  saveGguf(p2, f.tensors, f.metadata, { metadataTypes: f.metadataTypes });
  const g = loadGguf(p2);
  assert.deepEqual(g.metadata, f.metadata);
  assert.deepEqual(g.metadataTypes, f.metadataTypes);
  assert.deepEqual(readFileSync(p2), readFileSync(p), 'the same bytes');

  // A wider alignment.
  const p3 = join(dir, 'align.gguf');
  saveGguf(p3, { a: mx.array([1], mx.float32), b: mx.array([2, 3], mx.float16) }, { 'general.alignment': 64 });
  const h = loadGguf(p3);
  assert.deepEqual(Object.values(h.info).map((i) => i.offset % 64), [0, 0]);
  assert.deepEqual(h.tensors.b.tolist(), [2, 3]);
});

test('gguf-py read the file lathe wrote (fixture result)', () => {
  const r = JSON.parse(readFileSync(join(G, 'read-lathe.json'), 'utf8'));
  assert.deepEqual(r.problems, []);
  assert.equal(r.ok, true);
  assert.equal(r.tensors_checked, 9);
  assert.equal(r.metadata_checked, 18);
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'from-lathe', 'lathe.json'), 'utf8')).gguf;
  const f = loadGguf(join(FIXTURES, 'from-lathe', 'lathe.gguf'));
  for (const [k, e] of Object.entries(expected.tensors as Record<string, Expected>)) assertMatches(f.tensors[k], e, k);
});

test('saveGguf checks its arguments', () => {
  const p = join(dir, 'bad.gguf');
  assert.throws(() => saveGguf(p, { m: mx.array([true]) }), /^Error: \[saveGguf\] .*bad\.gguf: tensor 'm' has dtype bool; GGUF stores float32, float16, bfloat16, float64 and int8\.\.int64 \(astype first\)/);
  assert.throws(() => saveGguf(p, { m: mx.zeros([1, 1, 1, 1, 1]) }), /tensor 'm' has 5 dims; GGUF allows at most 4/);
  assert.throws(() => saveGguf(p, {}, { k: [1, 'a'] }), /metadata 'k': array elements mix number and string; GGUF arrays hold one type/);
  assert.throws(() => saveGguf(p, {}, { k: 300 }, { metadataTypes: { k: 'uint8' } }), /metadata 'k': 300 is not a valid uint8/);
  assert.throws(() => saveGguf(p, {}, { k: 'x' }, { metadataTypes: { k: 'uint32' } }), /metadata 'k': expected a number for uint32, got string/);
  assert.throws(() => saveGguf(p, {}, { 'general.alignment': 48 }), /general\.alignment must be a power of two, got 48/);
  assert.throws(() => saveGguf(p, {}, { k: 2 ** 60 }), /metadata 'k': 1152921504606847000 is not a valid int64 \(pass a bigint for large values\)/);
});

// ------------------------------------------------------------------ bad input

test('corrupt files give clear errors that name the file', () => {
  const f32 = { tensors: [{ name: 'w', dims: [2], type: 0 }], data: Buffer.from(new Float32Array([1, 2]).buffer) };
  const ok = craft('ok.gguf', f32);
  assert.deepEqual(loadGguf(ok).tensors.w.tolist(), [1, 2]);
  assert.throws(() => loadGguf(craft('magic.gguf', { ...f32, magic: Buffer.from('GGML') })), /^Error: \[loadGguf\] .*magic\.gguf: not a GGUF file \(bad magic; expected "GGUF"\)$/);
  assert.throws(() => loadGguf(craft('v1.gguf', { ...f32, version: 1 })), /v1\.gguf: unsupported GGUF version 1 \(lathe reads 2 and 3\)/);
  assert.throws(() => loadGguf(craft('v9.gguf', { ...f32, version: 9 })), /unsupported GGUF version 9/);
  assert.throws(() => loadGguf(craft('be.gguf', { ...f32, version: 0x03000000 })), /be\.gguf: big-endian GGUF files are not supported/);
  assert.throws(() => loadGguf(craft('count.gguf', { ...f32, nTensors: 2 ** 40 })), /count\.gguf: tensor count 1099511627776 is larger than the rest of the file \(\d+ bytes\) allows: corrupt/);
  assert.throws(() => loadGguf(craft('kvcount.gguf', { ...f32, nKv: 3 })), /^Error: \[loadGguf\] .*kvcount\.gguf: /);
  assert.throws(() => loadGguf(craft('vtype.gguf', { ...f32, kv: [Buffer.concat([str('k'), u32(13), u32(0)])] })), /vtype\.gguf: metadata 'k': unknown value type 13/);
  assert.throws(() => loadGguf(craft('bool.gguf', { ...f32, kv: [Buffer.concat([str('k'), u32(7), Buffer.from([2])])] })), /metadata 'k': bool value 2 is not 0 or 1/);
  assert.throws(() => loadGguf(craft('strlen.gguf', { ...f32, kv: [Buffer.concat([str('k'), u32(8), u64(2n ** 50n)])] })), /metadata 'k' length 1125899906842624 is larger than the rest of the file/);
  assert.throws(() => loadGguf(craft('arrlen.gguf', { ...f32, kv: [Buffer.concat([str('k'), u32(9), u32(4), u64(2n ** 33n)])] })), /metadata 'k' length 8589934592 is larger than the rest of the file/);
  assert.throws(() => loadGguf(craft('dupkey.gguf', { ...f32, kv: [Buffer.concat([str('k'), u32(4), u32(1)]), Buffer.concat([str('k'), u32(4), u32(2)])] })), /metadata key 'k' appears twice/);
  assert.throws(() => loadGguf(craft('align.gguf', { ...f32, kv: [Buffer.concat([str('general.alignment'), u32(4), u32(24)])] })), /general\.alignment must be a uint32 power of two, got 24/);
  assert.throws(() => loadGguf(craft('range.gguf', { tensors: [{ name: 'w', dims: [64], type: 0 }], data: Buffer.alloc(16) })), /range\.gguf: tensor 'w' \(bytes \d+\.\.\d+\) runs past the end of the file \(\d+ bytes\): truncated or corrupt/);
  assert.throws(() => loadGguf(craft('offset.gguf', { tensors: [{ name: 'w', dims: [2], type: 0, offset: 3 }], data: Buffer.alloc(64) })), /tensor 'w' offset 3 is not a multiple of the alignment 32/);
  assert.throws(() => loadGguf(craft('block.gguf', { tensors: [{ name: 'w', dims: [40], type: 8 }], data: Buffer.alloc(128) })), /tensor 'w' of type Q8_0 has dims \[40\]; dims\[0\] must be a multiple of its block size 32/);
  assert.throws(() => loadGguf(craft('ndims.gguf', { tensors: [{ name: 'w', dims: [1, 1, 1, 1, 1], type: 0 }], data: Buffer.alloc(32) })), /tensor 'w' has 5 dims; GGUF allows at most 4/);
  assert.throws(() => loadGguf(craft('dupt.gguf', { tensors: [{ name: 'w', dims: [1], type: 0 }, { name: 'w', dims: [1], type: 0 }], data: Buffer.alloc(64) })), /tensor 'w' appears twice/);

  // Types lathe cannot dequantize (or does not know) load, and error when accessed.
  const q2 = loadGguf(craft('q2k.gguf', { tensors: [{ name: 'q', dims: [256], type: 10 }, { name: 'x', dims: [4], type: 99 }, { name: 'ok', dims: [1], type: 0 }], data: Buffer.alloc(96) }));
  assert.equal(q2.info.q.type, 'Q2_K');
  assert.equal(q2.info.x.type, 'type 99');
  assert.deepEqual(q2.tensors.ok.tolist(), [0]);
  assert.throws(() => q2.tensors.q, /q2k\.gguf: tensor 'q' has ggml type Q2_K, which lathe cannot read yet \(it reads F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, I8, I16, I32, I64, F64, BF16\)/);
  assert.throws(() => q2.tensors.x, /tensor 'x' has ggml type type 99/);
});

test('every truncation and random byte corruption of a real file errors cleanly or reads correctly', () => {
  const src = readFileSync(join(G, 'tiny.gguf'));
  const full = loadGguf(join(G, 'tiny.gguf'));
  const values = Object.fromEntries(Object.keys(full.info).map((k) => [k, full.tensors[k].reshape(-1).tolist()]));
  const p = join(dir, 'fuzz.gguf');
  const clean = /^\[loadGguf\] .*fuzz\.gguf: /;
  const tryLoad = (): void => {
    try {
      const f = loadGguf(p);
      for (const k of Object.keys(f.info)) f.tensors[k].eval();
    } catch (e) {
      if (!(e instanceof Error) || !clean.test(e.message)) throw new Error(`not a clean error: ${String(e)}`);
    }
  };
  for (let n = 0; n < src.length; n += 13) {
    writeFileSync(p, src.subarray(0, n));
    try {
      const f = loadGguf(p);
      // Only a cut inside the final padding can load, and then every tensor is intact.
      for (const k of Object.keys(f.info)) assert.deepEqual(f.tensors[k].reshape(-1).tolist(), values[k]);
    } catch (e) {
      assert.match((e as Error).message, clean, `cut at ${n}`);
    }
  }
  let seed = 12345;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  const headerEnd = Math.min(...Object.values(full.info).map((i) => i.offset));
  for (let i = 0; i < 300; i++) {
    const bad = Buffer.from(src);
    for (let j = 0; j < 3; j++) bad[rand(headerEnd)] = rand(256);
    writeFileSync(p, bad);
    tryLoad();
  }
});
