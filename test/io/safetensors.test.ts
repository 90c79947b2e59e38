// safetensors: round trips of every dtype, lazy reads, sharded folders, files written by
// Python's `safetensors` (and lathe's files read there: the fixture records it), bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync, truncateSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import * as mx from '../../src/index.js';
import { load, loadSafetensors, saveSafetensors, loadSafetensorsDir } from '../../src/io/index.js';
import { FIXTURES, tempDir, assertMatches, Expected } from './util.js';

const dir = tempDir();

const sample = (): Record<string, mx.Array> => ({
  f32: mx.reshape(mx.arange(6, null, null, mx.float32), [2, 3]),
  f16: mx.array([0.5, -1.25, 65504, NaN], mx.float16),
  bf16: mx.array([1.5, -2.25, 3e38, -Infinity], mx.bfloat16),
  f64: mx.array([Math.PI, 5e-324], mx.float64),
  i64: mx.array([-(2n ** 63n), 2n ** 63n - 1n], mx.int64),
  u64: mx.array([2n ** 64n - 1n], mx.uint64),
  i32: mx.array([-5, 7], mx.int32),
  u32: mx.array([4294967295], mx.uint32),
  i16: mx.array([-32768], mx.int16),
  u16: mx.array([65535], mx.uint16),
  i8: mx.array([-128, 127], mx.int8),
  u8: mx.array([0, 255], mx.uint8),
  bool: mx.reshape(mx.array([true, false, true, true]), [2, 2]),
  scalar: mx.array(2.5, mx.float32),
  empty: mx.zeros([0, 4], mx.float16),
});

function sameArray(a: mx.Array, b: mx.Array, where: string): void {
  assert.equal(a.dtype, b.dtype, `${where}: dtype`);
  assert.deepEqual(a.shape, b.shape, `${where}: shape`);
  const x = a.reshape(-1).tolist() as unknown[], y = b.reshape(-1).tolist() as unknown[];
  x.forEach((v, i) => assert.ok(Object.is(v, y[i]) || (v === 0 && y[i] === 0), `${where}[${i}]: ${String(v)} vs ${String(y[i])}`));
}

test('every dtype round-trips with metadata, in the reference layout', () => {
  const p = join(dir, 'all.safetensors');
  const t = sample();
  saveSafetensors(p, t, { format: 'pt', note: 'ü' });
  const f = loadSafetensors(p);
  assert.deepEqual(f.metadata, { format: 'pt', note: 'ü' });
  assert.deepEqual(Object.keys(f.tensors).sort(), Object.keys(t).sort());
  for (const k of Object.keys(t)) sameArray(f.tensors[k], t[k], k);
  // The header is padded to 8 bytes and tensors go largest element first, so each is aligned.
  const bytes = readFileSync(p);
  const n = Number(bytes.readBigUInt64LE(0));
  assert.equal((8 + n) % 8, 0);
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString());
  for (const [k, v] of Object.entries(header)) {
    if (k === '__metadata__') continue;
    const { dtype, data_offsets: [begin] } = v as { dtype: string; data_offsets: number[] };
    const size = { F64: 8, I64: 8, U64: 8, F32: 4, I32: 4, U32: 4, F16: 2, BF16: 2, I16: 2, U16: 2 }[dtype] ?? 1;
    assert.equal(begin % size, 0, `${k} aligned`);
  }
  assert.equal(f.info.bf16.dtype, 'BF16');
  assert.deepEqual(f.info.f32.shape, [2, 3]);
});

test('tensors are read from the file on first access, not at load', () => {
  const p = join(dir, 'lazy.safetensors');
  saveSafetensors(p, { big: mx.zeros([256, 1024], mx.float32), small: mx.array([1, 2, 3], mx.float32) });
  const before = mx.getActiveMemory();
  const f = loadSafetensors(p);
  assert.equal(mx.getActiveMemory(), before, 'loading the header allocates no array memory');
  assert.ok(Object.getOwnPropertyDescriptor(f.tensors, 'big')!.get, 'big is still a getter');
  // Overwrite small's bytes in the file: the first access sees the new values.
  const { offset } = f.info.small;
  const fd = openSync(p, 'r+');
  writeSync(fd, new Uint8Array(new Float32Array([7, 8, 9]).buffer), 0, 12, offset);
  closeSync(fd);
  assert.deepEqual(f.tensors.small.tolist(), [7, 8, 9]);
  assert.equal(f.tensors.small, f.tensors.small, 'one array per key once read');
  assert.equal(mx.getActiveMemory(), before + 12, 'only the accessed tensor was read');
  assert.ok(Object.getOwnPropertyDescriptor(f.tensors, 'big')!.get, 'big was never read');
  f.tensors.big = mx.ones([1]);
  assert.deepEqual(f.tensors.big.tolist(), [1], 'entries can be replaced');
});

test('a 5 GB file (sparse) loads at once and reads a tensor past 4 GiB', () => {
  const big = 5_000_000_000;
  const header = Buffer.from(JSON.stringify({ big: { dtype: 'U8', shape: [big], data_offsets: [0, big] }, tail: { dtype: 'F32', shape: [2], data_offsets: [big, big + 8] } }));
  const p = join(dir, 'sparse.safetensors');
  const fd = openSync(p, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeSync(fd, len, 0, 8, 0);
  writeSync(fd, header, 0, header.length, 8);
  writeSync(fd, new Uint8Array(new Float32Array([1.5, -2]).buffer), 0, 8, 8 + header.length + big);
  closeSync(fd);
  const f = loadSafetensors(p);
  assert.equal(f.info.tail.offset, 8 + header.length + big);
  assert.deepEqual(f.tensors.tail.tolist(), [1.5, -2]);
  assert.deepEqual(f.info.big.shape, [big]);
});

test('reads the file written by Python safetensors (torch), bf16 included', () => {
  const d = join(FIXTURES, 'safetensors');
  const expected = JSON.parse(readFileSync(join(d, 'python.json'), 'utf8')) as { metadata: Record<string, string>; tensors: Record<string, Expected> };
  const f = loadSafetensors(join(d, 'python.safetensors'));
  assert.deepEqual(f.metadata, expected.metadata);
  assert.deepEqual(Object.keys(f.tensors).sort(), Object.keys(expected.tensors).sort());
  for (const [k, e] of Object.entries(expected.tensors)) assertMatches(f.tensors[k], e, k);
  assert.equal(f.tensors['model.embed.weight'].dtype, mx.bfloat16);
});

test('Python safetensors read the file lathe wrote (fixture result)', () => {
  const r = JSON.parse(readFileSync(join(FIXTURES, 'safetensors', 'read-lathe.json'), 'utf8'));
  assert.deepEqual(r.problems, []);
  assert.equal(r.ok, true);
  assert.equal(r.tensors_checked, 15);
  // And the file it checked is what lathe still writes.
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'from-lathe', 'lathe.json'), 'utf8')).safetensors;
  const f = loadSafetensors(join(FIXTURES, 'from-lathe', 'lathe.safetensors'));
  for (const [k, e] of Object.entries(expected.tensors as Record<string, Expected>)) assertMatches(f.tensors[k], e, k);
});

test('sharded folders: with model.safetensors.index.json, without, and through the index path', () => {
  const d = join(dir, 'sharded');
  mkdirSync(d);
  saveSafetensors(join(d, 'model-00001-of-00002.safetensors'), { 'a.weight': mx.array([1, 2], mx.float32), 'b.weight': mx.array([3], mx.int32) }, { format: 'pt' });
  saveSafetensors(join(d, 'model-00002-of-00002.safetensors'), { 'c.weight': mx.array([true]) }, { format: 'pt', shard: '2' });
  const check = (f: ReturnType<typeof loadSafetensorsDir>) => {
    assert.deepEqual(Object.keys(f.tensors).sort(), ['a.weight', 'b.weight', 'c.weight']);
    assert.deepEqual(f.tensors['a.weight'].tolist(), [1, 2]);
    assert.deepEqual(f.tensors['c.weight'].tolist(), [true]);
    assert.deepEqual(f.metadata, { format: 'pt', shard: '2' });
    assert.match(f.info['c.weight'].path, /model-00002-of-00002/);
  };
  check(loadSafetensorsDir(d));
  const index = { metadata: { total_size: 13 }, weight_map: { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00001-of-00002.safetensors', 'c.weight': 'model-00002-of-00002.safetensors' } };
  writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify(index));
  check(loadSafetensorsDir(d));
  check(loadSafetensorsDir(join(d, 'model.safetensors.index.json')));
  assert.deepEqual((load(d) as Record<string, mx.Array>)['b.weight'].tolist(), [3], 'load() takes a folder of shards');
  assert.deepEqual((load(join(d, 'model.safetensors.index.json')) as Record<string, mx.Array>)['a.weight'].tolist(), [1, 2]);

  index.weight_map['c.weight'] = 'model-00001-of-00002.safetensors';
  (index.weight_map as Record<string, string>)['d.weight'] = 'model-00002-of-00002.safetensors';
  writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify(index));
  assert.throws(() => loadSafetensorsDir(d), /^Error: \[loadSafetensorsDir\] .*model\.safetensors\.index\.json: 2 tensor\(s\) are not in the shard the index names: 'c\.weight' \(model-00001-of-00002\.safetensors\), 'd\.weight' \(model-00002-of-00002\.safetensors\)/);

  const dup = join(dir, 'dup');
  mkdirSync(dup);
  saveSafetensors(join(dup, 'a.safetensors'), { w: mx.array([1]) });
  saveSafetensors(join(dup, 'b.safetensors'), { w: mx.array([2]) });
  assert.throws(() => loadSafetensorsDir(dup), /\[loadSafetensorsDir\] .*dup: tensor 'w' is in two shards: a\.safetensors and b\.safetensors/);
  const none = join(dir, 'none');
  mkdirSync(none);
  assert.throws(() => loadSafetensorsDir(none), /no \*\.safetensors files/);
});

test('save checks its arguments', () => {
  const p = join(dir, 'bad.safetensors');
  assert.throws(() => saveSafetensors(p, { w: mx.array([1]) }, { n: 3 as unknown as string }), /^Error: \[saveSafetensors\] .*bad\.safetensors: metadata 'n' must be a string, got number/);
  assert.throws(() => saveSafetensors(p, { w: [1, 2] as unknown as mx.Array }), /'w' is not a lathe Array/);
  assert.throws(() => saveSafetensors(p, { __metadata__: mx.array([1]) }), /'__metadata__' is reserved/);
  const gone = mx.array([1]);
  gone.dispose();
  assert.throws(() => saveSafetensors(p, { gone }), /disposed/);
});

// ------------------------------------------------------------------ bad input

/** A safetensors file from a header (object or raw text) and data bytes; `len` overrides the length field. */
function craft(name: string, header: unknown, data: Uint8Array = new Uint8Array(0), len?: bigint): string {
  const h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const out = Buffer.alloc(8 + h.length + data.length);
  out.writeBigUInt64LE(len ?? BigInt(h.length), 0);
  h.copy(out, 8);
  out.set(data, 8 + h.length);
  const p = join(dir, name);
  writeFileSync(p, out);
  return p;
}

test('truncated and corrupt files give clear errors that name the file', () => {
  const good = join(dir, 'good.safetensors');
  saveSafetensors(good, { a: mx.arange(16, null, null, mx.float32), b: mx.arange(4, null, null, mx.int64) });
  const size = readFileSync(good).length;
  const cut = (n: number) => { const p = join(dir, `cut${n}.safetensors`); writeFileSync(p, readFileSync(good).subarray(0, n)); return p; };
  assert.throws(() => loadSafetensors(cut(5)), /^Error: \[loadSafetensors\] .*cut5\.safetensors: the file is 5 bytes, too short for the 8-byte header length$/);
  assert.throws(() => loadSafetensors(cut(40)), /cut40\.safetensors: header length \d+ runs past the end of the file \(40 bytes\): truncated or not a safetensors file/);
  assert.throws(() => loadSafetensors(cut(size - 1)), /tensor '(a|b)' data_offsets \[\d+, \d+\] run past the end of the data \(\d+ bytes after the header\): the file is truncated or corrupt/);
  assert.throws(() => loadSafetensors(join(dir, 'missing.safetensors')), /^Error: \[loadSafetensors\] .*missing\.safetensors: cannot open: ENOENT/);

  // A file that shrinks after its header was read.
  const shrink = join(dir, 'shrink.safetensors');
  writeFileSync(shrink, readFileSync(good));
  const f = loadSafetensors(shrink);
  truncateSync(shrink, size - 8);
  assert.throws(() => f.tensors.a, /shrink\.safetensors: the file changed size since it was opened/);

  const f32 = (n: number) => new Uint8Array(n * 4);
  assert.throws(() => loadSafetensors(craft('huge.safetensors', {}, new Uint8Array(0), 2n ** 62n)), /header length 4611686018427387904 runs past the end of the file/);
  assert.throws(() => loadSafetensors(craft('json.safetensors', '{"a": {')), /json\.safetensors: the header is not valid JSON/);
  assert.throws(() => loadSafetensors(craft('arr.safetensors', '[1,2]')), /the header is not a JSON object/);
  assert.throws(() => loadSafetensors(craft('dtype.safetensors', { a: { dtype: 'Q4', shape: [1], data_offsets: [0, 4] } }, f32(1))), /tensor 'a' has unknown dtype "Q4"; expected one of BOOL, U8/);
  assert.throws(() => loadSafetensors(craft('shape.safetensors', { a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32(1))), /tensor 'a' has shape \[-1\]; expected a list of non-negative integers/);
  assert.throws(() => loadSafetensors(craft('offs.safetensors', { a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, f32(1))), /tensor 'a' has data_offsets \[4,0\]; expected \[begin, end\]/);
  assert.throws(() => loadSafetensors(craft('range.safetensors', { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(2))), /range\.safetensors: tensor 'a' data_offsets \[0, 16\] run past the end of the data \(8 bytes after the header\)/);
  assert.throws(() => loadSafetensors(craft('size.safetensors', { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(2))), /tensor 'a' of dtype F32 and shape \[3\] needs 12 bytes, but its data_offsets \[0, 8\] hold 8/);
  assert.throws(() => loadSafetensors(craft('overlap.safetensors', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(3))), /tensor 'b' starts at data byte 4, expected 8: tensors overlap or leave a gap/);
  assert.throws(() => loadSafetensors(craft('extra.safetensors', { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(2))), /the header describes 4 bytes of tensor data, but the file holds 8 after the header/);
  assert.throws(() => loadSafetensors(craft('meta.safetensors', { __metadata__: { n: 1 } })), /__metadata__ 'n' is 1; values must be strings/);
  assert.throws(() => loadSafetensors(craft('entry.safetensors', { a: 3 })), /tensor 'a': expected an object with dtype, shape and data_offsets/);

  // A dtype the format has and lathe lacks: the file loads, that tensor errors on access.
  const p = craft('fp8.safetensors', { a: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] }, b: { dtype: 'U8', shape: [2], data_offsets: [2, 4] } }, new Uint8Array([1, 2, 3, 4]));
  const f8 = loadSafetensors(p);
  assert.deepEqual(f8.tensors.b.tolist(), [3, 4]);
  assert.throws(() => f8.tensors.a, /fp8\.safetensors: tensor 'a' has dtype F8_E4M3, which lathe has no dtype for/);

  // A tensor named __proto__ is an ordinary key.
  const proto = loadSafetensors(craft('proto.safetensors', '{"__proto__": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}', new Uint8Array([9])));
  assert.deepEqual(Object.keys(proto.tensors), ['__proto__']);
  assert.deepEqual(proto.tensors['__proto__'].tolist(), [9]);
});
