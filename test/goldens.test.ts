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
for (const file of readdirSync(dir).filter((f) => f.endsWith('.json') && (!only || only.includes(f.slice(0, -5)))).sort()) {
  const { family, cases } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { family: string; cases: Case[] };
  test(`goldens: ${family} (${cases.length} cases)`, () => {
    for (const [i, c] of cases.entries()) {
      const where = `${family}[${i}] ${c.name ?? c.op}`;
      const fn = ops[c.op];
      assert.equal(typeof fn, 'function', `${where}: mx.${c.op} is not a function`);
      const args = c.args.map(decodeArg);
      if (c.error !== undefined) {
        assert.throws(() => { const r = fn(...args); mx.eval(r as mx.Array); }, (e: Error) => e.message.includes(c.error!) && e.message.startsWith('['),
          `${where}: expected an error containing '${c.error}'`);
        continue;
      }
      const result = fn(...args);
      const outs = Array.isArray(c.out) ? c.out : [c.out!];
      const got = Array.isArray(result) ? result : [result];
      assert.equal(got.length, outs.length, `${where}: number of outputs`);
      outs.forEach((o, k) => assertArrayClose(got[k] as mx.Array, o, `${where} out ${k}`, { rtol: c.rtol, atol: c.atol }));
    }
  });
}
