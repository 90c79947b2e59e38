// npy and npz: files NumPy wrote (fixtures: big-endian, Fortran order, version 2.0, plain and
// compressed npz), round trips, NumPy reading lathe's files (live, when python3 has numpy),
// and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as mx from '../../src/index.js';
import { load, save, loadNpy, saveNpy, loadNpz, savez, savezCompressed } from '../../src/io/index.js';
import { FIXTURES, tempDir, assertMatches, Expected } from './util.js';

const dir = tempDir();
const N = join(FIXTURES, 'npy');
const expected = JSON.parse(readFileSync(join(N, 'expected.json'), 'utf8')).files as Record<string, Expected | Record<string, Expected>>;

test('reads every npy file NumPy wrote', () => {
  for (const [file, e] of Object.entries(expected)) {
    if (!file.endsWith('.npy')) continue;
    assertMatches(loadNpy(join(N, file)), e as Expected, file);
  }
  // Fortran order becomes a transposed view that reads row-major.
  assert.deepEqual(loadNpy(join(N, 'fortran.npy')).tolist(), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]);
});

test('reads plain and compressed npz files NumPy wrote, lazily', () => {
  for (const file of ['plain.npz', 'compressed.npz']) {
    const arrays = loadNpz(join(N, file));
    const e = expected[file] as Record<string, Expected>;
    assert.deepEqual(Object.keys(arrays).sort(), Object.keys(e).sort(), file);
    assert.ok(Object.getOwnPropertyDescriptor(arrays, Object.keys(e)[0])!.get, 'members are read on first access');
    for (const [k, v] of Object.entries(e)) assertMatches(arrays[k], v, `${file}:${k}`);
  }
});

const sample = (): Record<string, mx.Array> => ({
  f32: mx.reshape(mx.arange(12, null, null, mx.float32), [3, 4]),
  f16: mx.array([0.5, -1.25, NaN, Infinity], mx.float16),
  f64: mx.array([Math.PI, -1e-310], mx.float64),
  i64: mx.array([-(2n ** 63n), 2n ** 63n - 1n], mx.int64),
  u64: mx.array([2n ** 64n - 1n], mx.uint64),
  i32: mx.array([-1, 1], mx.int32), u32: mx.array([4294967295], mx.uint32),
  i16: mx.array([-32768], mx.int16), u16: mx.array([65535], mx.uint16),
  i8: mx.array([-128], mx.int8), u8: mx.array([255], mx.uint8),
  bool: mx.reshape(mx.array([true, false, true, false, false, true]), [2, 3]),
  scalar: mx.array(1.5, mx.float32),
  empty: mx.zeros([2, 0, 3], mx.int32),
});

function same(a: mx.Array, b: mx.Array, where: string): void {
  assert.equal(a.dtype, b.dtype, `${where}: dtype`);
  assert.deepEqual(a.shape, b.shape, `${where}: shape`);
  const x = a.reshape(-1).tolist() as unknown[], y = b.reshape(-1).tolist() as unknown[];
  x.forEach((v, i) => assert.ok(Object.is(v, y[i]), `${where}[${i}]: ${String(v)} vs ${String(y[i])}`));
}

test('every dtype round-trips through npy, npz and compressed npz', () => {
  const t = sample();
  for (const [k, a] of Object.entries(t)) {
    const p = saveNpy(join(dir, k), a);
    assert.equal(p, join(dir, `${k}.npy`), '.npy is appended as mx.save does');
    same(loadNpy(p), a, k);
    // Header padded so the data starts on a 64-byte boundary, as numpy writes it.
    const bytes = readFileSync(p);
    assert.equal((10 + bytes.readUInt16LE(8)) % 64, 0);
  }
  const z = loadNpz(savez(join(dir, 'all'), t));
  const zc = loadNpz(savezCompressed(join(dir, 'all-c.npz'), t));
  for (const [k, a] of Object.entries(t)) { same(z[k], a, `npz ${k}`); same(zc[k], a, `compressed ${k}`); }
  assert.ok(readFileSync(join(dir, 'all-c.npz')).length < readFileSync(join(dir, 'all.npz')).length);
  const listed = loadNpz(savez(join(dir, 'list.npz'), [t.f32, t.bool]));
  assert.deepEqual(Object.keys(listed), ['arr_0', 'arr_1']);
  same(listed.arr_1, t.bool, 'arr_1');
  // Non-contiguous and lazy arrays are written in row-major order.
  same(loadNpy(saveNpy(join(dir, 't.npy'), mx.transpose(t.f32))), mx.transpose(t.f32), 'transposed');
});

const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

// NumPy loads each file and reports what it holds, as the fixture JSON encodes it.
const READ_BACK = `
import json, math, sys, numpy as np
d, names = sys.argv[1], sys.argv[2].split(',')
def enc(x):
    if isinstance(x, bool): return x
    if isinstance(x, int): return str(x)
    if math.isnan(x): return 'NaN'
    if math.isinf(x): return 'Infinity' if x > 0 else '-Infinity'
    return x
def desc(a): return {'dtype': a.dtype.name, 'shape': list(a.shape), 'values': [enc(x) for x in a.ravel().tolist()]}
out = {'npy': {k: desc(np.load(f'{d}/live-{k}.npy')) for k in names}}
for label, f in (('npz', 'live.npz'), ('npz-c', 'live-c.npz')):
    with np.load(f'{d}/{f}') as z: out[label] = {k: desc(z[k]) for k in names}
print(json.dumps(out))
`;

test('NumPy reads the npy and npz files lathe wrote (live)', (t) => {
  if (!hasNumpy) { t.skip('python3 with numpy not found'); return; }
  const arrays = sample();
  for (const [k, a] of Object.entries(arrays)) saveNpy(join(dir, `live-${k}.npy`), a);
  savez(join(dir, 'live.npz'), arrays);
  savezCompressed(join(dir, 'live-c.npz'), arrays);
  const r = spawnSync('python3', ['-c', READ_BACK, dir, Object.keys(arrays).join(',')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as Record<string, Record<string, Expected>>;
  for (const [label, read] of Object.entries(got)) {
    for (const [k, a] of Object.entries(arrays)) assertMatches(a, read[k], `numpy ${label} ${k}`);
  }
});

test('load and save dispatch on the extension', () => {
  const a = mx.array([[1, 2], [3, 4]], mx.int32);
  assert.equal(save(join(dir, 'd'), a), join(dir, 'd.npy'));
  same(load(join(dir, 'd.npy')), a, 'npy');
  assert.equal(save(join(dir, 'd.npz'), { a }), join(dir, 'd.npz'));
  same(load(join(dir, 'd.npz')).a, a, 'npz');
  save(join(dir, 'd.safetensors'), { a }, { format: 'mlx' });
  const [st, meta] = load(join(dir, 'd.safetensors'), { returnMetadata: true });
  same(st.a, a, 'safetensors');
  assert.deepEqual(meta, { format: 'mlx' });
  save(join(dir, 'd.gguf'), { a: a.astype(mx.float32) }, { 'general.name': 'x' });
  const [g, gm] = load(join(dir, 'd.gguf'), { returnMetadata: true });
  assert.deepEqual(g.a.tolist(), [[1, 2], [3, 4]]);
  assert.equal(gm['general.name'], 'x');
  writeFileSync(join(dir, 'weights.bin'), readFileSync(join(dir, 'd.npy')));
  same(load(join(dir, 'weights.bin'), { format: 'npy' }) as mx.Array, a, 'format option');
  assert.throws(() => load(join(dir, 'weights.bin')), /^Error: \[load\] .*weights\.bin: cannot tell the format from the extension/);
  assert.throws(() => load(join(dir, 'd.npy'), { returnMetadata: true }), /npy files have no metadata/);
  assert.throws(() => save(join(dir, 'x.safetensors'), a), /this format holds named arrays: pass a record such as \{ weight: x \}/);
  assert.throws(() => save(join(dir, 'x.bin'), { a }), /a record of arrays is saved as \.npz, \.safetensors or \.gguf/);
});

// ------------------------------------------------------------------ bad input

test('bad npy files give clear errors that name the file', () => {
  const good = readFileSync(join(N, 'f32.npy'));
  const put = (name: string, bytes: Uint8Array) => { const p = join(dir, name); writeFileSync(p, bytes); return p; };
  const header = (dict: string, data = Buffer.alloc(0)) => {
    const h = Buffer.from(dict.padEnd(118) + '\n');
    return Buffer.concat([Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0]), Buffer.from([h.length & 0xff, h.length >> 8]), h, data]);
  };
  assert.throws(() => loadNpy(put('magic.npy', Buffer.from('not numpy at all'))), /^Error: \[load\] .*magic\.npy: not an npy file \(bad magic; expected \\x93NUMPY\)$/);
  assert.throws(() => loadNpy(put('short.npy', good.subarray(0, 4))), /short\.npy: not an npy file/);
  assert.throws(() => loadNpy(put('hlen.npy', good.subarray(0, 50))), /hlen\.npy: header length 118 runs past the end of the file \(50 bytes\)/);
  assert.throws(() => loadNpy(put('trunc.npy', good.subarray(0, good.length - 3))), /trunc\.npy: the data is 21 bytes, but dtype float32 and shape \(2, 3\) need 24: the file is truncated/);
  const ver = Buffer.from(good); ver[6] = 7;
  assert.throws(() => loadNpy(put('ver.npy', ver)), /ver\.npy: unsupported npy format version 7\.0/);
  assert.throws(() => loadNpy(put('complex.npy', header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", Buffer.alloc(8)))), /complex\.npy: unsupported dtype '<c8'; lathe reads \|b1, \|u1/);
  assert.throws(() => loadNpy(put('object.npy', header("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", Buffer.alloc(8)))), /unsupported dtype '\|O'/);
  assert.throws(() => loadNpy(put('dict.npy', header("{'descr': '<f4', 'shape': (1,), }", Buffer.alloc(4)))), /dict\.npy: cannot parse the header .*expected 'descr', 'fortran_order' and 'shape'/);
  assert.throws(() => loadNpy(put('shape.npy', header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", Buffer.alloc(4)))), /bad shape \(-1,\) in the header/);
  assert.throws(() => saveNpy(join(dir, 'bf.npy'), mx.array([1], mx.bfloat16)), /^Error: \[save\] .*bf\.npy: npy has no bfloat16; convert first \(astype float32\) or use safetensors/);
  assert.throws(() => savez(join(dir, 'bf.npz'), { w: mx.array([1], mx.bfloat16) }), /^Error: \[savez\] .*bf\.npz: 'w': npy has no bfloat16/);
});

test('bad npz files give clear errors that name the file and member', () => {
  const src = readFileSync(join(N, 'plain.npz'));
  const put = (name: string, bytes: Uint8Array) => { const p = join(dir, name); writeFileSync(p, bytes); return p; };
  assert.throws(() => loadNpz(put('trunc.npz', src.subarray(0, src.length - 30))), /^Error: \[load\] .*trunc\.npz: not a zip file \(no end-of-central-directory record\): truncated or not an npz file/);
  assert.throws(() => loadNpz(put('empty.npz', Buffer.alloc(0))), /empty\.npz: not a zip file/);
  // Flip a byte inside the first member's data: its CRC no longer matches.
  const bad = Buffer.from(src);
  bad[200] ^= 0xff;
  const arrays = loadNpz(put('crc.npz', bad));
  assert.throws(() => Object.values(arrays).forEach((a) => a.eval()), /crc\.npz: member 'weight\.npy': CRC mismatch: the file is corrupt/);
  const comp = readFileSync(join(N, 'compressed.npz'));
  const badc = Buffer.from(comp);
  for (let i = 200; i < 230; i++) badc[i] ^= 0x5a; // inside arr_0.npy's deflated data
  const c = loadNpz(put('inflate.npz', badc));
  assert.throws(() => c.arr_0.eval(), /inflate\.npz: member 'arr_0\.npy': (cannot inflate|CRC mismatch|expected \d+ bytes)/);
  // Every truncation of a compressed npz errors cleanly.
  for (let n = 0; n < comp.length; n += 7) {
    const p = put('cut.npz', comp.subarray(0, n));
    try {
      const a = loadNpz(p);
      for (const k of Object.keys(a)) a[k].eval();
    } catch (e) {
      assert.match((e as Error).message, /^\[load\] .*cut\.npz: /, `cut at ${n}`);
    }
  }
});
