// Shared helpers for the lathe/io tests: temp folders, fixture paths, and comparing arrays
// with the JSON that the fixture scripts write (64-bit integers and non-finite values as strings).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mx from '../../src/index.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'io');

/** A fresh temp folder, removed when the process exits. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lathe-io-'));
  process.on('exit', () => rmSync(d, { recursive: true, force: true }));
  return d;
}

export interface Expected { dtype: string; shape: number[]; values: (number | string | boolean)[] }

function decode(v: number | string | boolean, dtype: string): number | bigint | boolean {
  if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
  if (typeof v === 'string') return dtype === 'int64' || dtype === 'uint64' ? BigInt(v) : Number(v);
  if (typeof v === 'number' && (dtype === 'int64' || dtype === 'uint64')) return BigInt(v);
  return v;
}

/** Asserts dtype, shape and exact values (NaN equals NaN). */
export function assertMatches(a: mx.Array, e: Expected, where: string): void {
  assert.equal(a.dtype.name, e.dtype, `${where}: dtype`);
  assert.deepEqual(a.shape, e.shape, `${where}: shape`);
  const got = a.reshape(-1).tolist() as (number | bigint | boolean)[];
  const want = e.values.map((v) => decode(v, e.dtype));
  assert.equal(got.length, want.length, `${where}: size`);
  for (let i = 0; i < got.length; i++) {
    const g = got[i], w = want[i];
    if (typeof g === 'number' && typeof w === 'number' && Number.isNaN(g) && Number.isNaN(w)) continue;
    if (!Object.is(g, w) && !(g === 0 && w === 0)) assert.fail(`${where}: element ${i} is ${String(g)}, expected ${String(w)}`);
  }
}
