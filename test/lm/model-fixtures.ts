// Shared by the lathe/lm model tests: the Hugging Face fixtures (scripts/fixtures/lm_models.py)
// and small comparisons.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mx from '../../src/index.js';
import { load } from '../../src/io/index.js';

export const LM_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'lm');
export const ARCHS = ['llama', 'mistral', 'qwen2', 'qwen3', 'qwen3_moe', 'mixtral', 'gemma2', 'gemma3_text', 'phi3'] as const;
export type Arch = (typeof ARCHS)[number];

export interface Reference {
  model_type: string;
  prompt: number[];
  prompt_b: number[];
  greedy: number[];
  greedy_no_cache: number[];
}

export const fixtureDir = (arch: string): string => join(LM_FIXTURES, arch);

export function reference(arch: string): Reference & { logits: mx.Array; logits_b: mx.Array } {
  const ref = JSON.parse(readFileSync(join(fixtureDir(arch), 'reference.json'), 'utf8')) as Reference;
  return { ...ref, logits: load(join(fixtureDir(arch), 'logits.npy')) as mx.Array, logits_b: load(join(fixtureDir(arch), 'logits_b.npy')) as mx.Array };
}

/** A fresh temp folder, removed when the process exits. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lathe-lm-'));
  process.on('exit', () => rmSync(d, { recursive: true, force: true }));
  return d;
}

export const maxAbs = (a: mx.Array): number => mx.max(mx.abs(a)).item() as number;
export const maxDiff = (a: mx.Array, b: mx.Array): number => maxAbs(mx.subtract(mx.astype(a, 'float32'), mx.astype(b, 'float32')));

/** |a - b| within rtol of b's largest magnitude (logits: relative to their scale). */
export function closeTo(a: mx.Array, b: mx.Array, rtol: number): { ok: boolean; diff: number; scale: number } {
  const diff = maxDiff(a, b), scale = Math.max(maxAbs(b), 1e-12);
  return { ok: diff <= rtol * scale, diff, scale };
}

export const ids = (tokens: number[][]): mx.Array => mx.array(tokens, 'int32');

/** The argmax of the last position of each row. */
export function lastArgmax(logits: mx.Array): number[] {
  return [...(mx.argmax(mx.index(logits, mx.s(), -1), -1).dataSync() as ArrayLike<number>)].map(Number);
}
