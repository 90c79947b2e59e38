// Checks every case in test/goldens/*.json (made by scripts/make_goldens.py from NumPy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mx from '../src/index.js';
import { GoldenArg, Encoded, decodeArg, assertArrayClose } from './util.js';

interface Case { op: string; args: GoldenArg[]; out?: Encoded | Encoded[]; error?: string; rtol?: number; atol?: number; name?: string }

const dir = join(dirname(fileURLToPath(import.meta.url)), 'goldens');
const ops = mx as unknown as Record<string, (...a: unknown[]) => unknown>;

// GOLDEN=family[,family] runs only those files.
const only = process.env.GOLDEN?.split(',');

// With the GPU as the default device (npm run test:gpu), cases that need float64 or a
// primitive the CUDA backend does not implement yet are skipped and counted, never failed.
const onGpu = mx.defaultDevice().type === 'gpu';
function gpuSkipReason(e: unknown): string | null {
  if (!onGpu || !(e instanceof Error)) return null;
  if (/float64 is not supported on the GPU/.test(e.message)) return 'float64';
  const m = /^\[(\w+)\] the CUDA backend does not implement/.exec(e.message);
  return m ? `no CUDA kernel for ${m[1]}` : null;
}

for (const file of readdirSync(dir).filter((f) => f.endsWith('.json') && (!only || only.includes(f.slice(0, -5)))).sort()) {
  const { family, cases } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { family: string; cases: Case[] };
  test(`goldens: ${family} (${cases.length} cases)`, (t) => {
    const skipped = new Map<string, number>();
    for (const [i, c] of cases.entries()) {
      const where = `${family}[${i}] ${c.name ?? c.op}`;
      try {
        runCase(c, where);
      } catch (e) {
        const why = gpuSkipReason(e);
        if (!why) throw e;
        skipped.set(why, (skipped.get(why) ?? 0) + 1);
      }
    }
    if (skipped.size) {
      const n = [...skipped.values()].reduce((a, b) => a + b, 0);
      t.diagnostic(`${family}: ${n} of ${cases.length} cases skipped on the GPU (${[...skipped].map(([w, k]) => `${w}: ${k}`).join(', ')})`);
    }
  });
}

function runCase(c: Case, where: string): void {
  const fn = c.op.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], ops) as (...a: unknown[]) => unknown; // 'linalg.inv' names a namespaced op
  assert.equal(typeof fn, 'function', `${where}: mx.${c.op} is not a function`);
  const args = c.args.map(decodeArg);
  if (c.error !== undefined) {
    let err: Error | null = null;
    try { const r = fn(...args); mx.eval(r as mx.Array); } catch (e) { err = e as Error; }
    if (err && !err.message.includes(c.error) && gpuSkipReason(err)) throw err;
    assert.ok(err && err.message.includes(c.error) && err.message.startsWith('['),
      `${where}: expected an error containing '${c.error}'${err ? `, got '${err.message}'` : ''}`);
    return;
  }
  const result = fn(...args);
  const outs = Array.isArray(c.out) ? c.out : [c.out!];
  const got = Array.isArray(result) ? result : [result];
  assert.equal(got.length, outs.length, `${where}: number of outputs`);
  outs.forEach((o, k) => assertArrayClose(got[k] as mx.Array, o, `${where} out ${k}`, { rtol: c.rtol, atol: c.atol }));
}
