// Rotary embeddings against transformers' own tables (test/fixtures/lm/rope.json: the cos and
// sin of LlamaRotaryEmbedding / Phi3RotaryEmbedding, attention scaling included) for every rope
// type, and the config formats (transformers 5's rope_parameters, the older rope_scaling).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as mx from '../../src/index.js';
import { initializeRope, ropeSettings, Positions, Rope } from '../../src/lm/rope.js';
import { rope as nnRope } from '../../src/nn/layers/positional.js';
import { LM_FIXTURES, maxDiff } from './model-fixtures.js';

interface RopeCase { config: Record<string, unknown>; positions: number; head_dim: number; attention_scaling: number; cos: number[][]; sin: number[][] }
const cases = JSON.parse(readFileSync(join(LM_FIXTURES, 'rope.json'), 'utf8')) as Record<string, RopeCase>;

/** The older layout of the same settings: rope_theta beside rope_scaling (with "type"). */
function legacy(config: Record<string, unknown>): Record<string, unknown> {
  const { rope_parameters: p, ...rest } = config as { rope_parameters: Record<string, unknown> };
  const { rope_theta, rope_type, partial_rotary_factor, ...scaling } = p;
  const out: Record<string, unknown> = { ...rest, rope_theta };
  if (partial_rotary_factor !== undefined) out.partial_rotary_factor = partial_rotary_factor;
  if (rope_type !== 'default') out.rope_scaling = { type: rope_type === 'longrope' ? 'su' : rope_type, ...scaling };
  return out;
}

for (const [name, c] of Object.entries(cases)) {
  // transformers' Llama rotary ignores partial_rotary_factor (only some architectures read it),
  // so that case's table is the full one; partial rotation is checked by the longrope (Phi-3) cases.
  if (name === 'partial') continue;
  for (const [form, config] of [['rope_parameters', c.config], ['rope_scaling', legacy(c.config)]] as const) {
    test(`rope ${name} (${form}) matches transformers' cos and sin`, () => {
      const rope = initializeRope(config, c.head_dim);
      const [cos, sin] = rope.table(new Positions(0, c.positions));
      assert.deepEqual(cos.shape, [c.positions, c.cos[0].length]);
      assert.ok(Math.abs(rope.frequencies(c.positions).scale - c.attention_scaling) < 1e-12, 'attention scaling');
      // Angles reach 40 rad; float32 rounding of the angle alone is about 4e-6 there.
      assert.ok(maxDiff(cos, mx.array(c.cos)) < 2e-5, `cos differs by ${maxDiff(cos, mx.array(c.cos))}`);
      assert.ok(maxDiff(sin, mx.array(c.sin)) < 2e-5, `sin differs by ${maxDiff(sin, mx.array(c.sin))}`);
    });
  }
}

test('rope: positions per row shift each row by its left padding', () => {
  const rope = new Rope(ropeSettings({ rope_theta: 10000 }), 8, 128);
  const x = mx.random.normal([2, 1, 5, 8], 'float32', null, null, mx.random.key(0));
  const padded = rope.forward(x, new Positions(3, 5, [0, 2]));
  // Row 1 has 2 padding columns: its first new token (column 3) sits at position 1.
  const row1 = rope.forward(mx.index(x, mx.s(1, 2)), new Positions(1, 5));
  const row0 = rope.forward(mx.index(x, mx.s(0, 1)), new Positions(3, 5));
  assert.ok(maxDiff(mx.index(padded, mx.s(1, 2)), row1) < 1e-6);
  assert.ok(maxDiff(mx.index(padded, mx.s(0, 1)), row0) < 1e-6);
});

test('rope: traditional rotates consecutive pairs, partial dims pass through (as nn.rope)', () => {
  const rope = new Rope(ropeSettings({ rope_theta: 10000, partial_rotary_factor: 0.5 }), 8, 128, true);
  assert.equal(rope.dims, 4);
  const x = mx.random.normal([1, 2, 3, 8], 'float32', null, null, mx.random.key(1));
  const y = rope.forward(x, new Positions(2, 3));
  assert.equal(maxDiff(mx.index(y, '...', mx.s(4)), mx.index(x, '...', mx.s(4))), 0);
  const want = nnRope(mx.index(x, '...', mx.s(0, 4)), 4, { traditional: true, base: 10000, offset: 2 });
  assert.ok(maxDiff(mx.index(y, '...', mx.s(0, 4)), want) < 1e-6);
});

test('rope settings: per layer type, gemma 3 local base, and errors', () => {
  const gemma3 = { rope_parameters: { full_attention: { rope_type: 'linear', factor: 8, rope_theta: 1e6 }, sliding_attention: { rope_type: 'default', rope_theta: 1e4 } } };
  assert.equal(ropeSettings(gemma3, 'sliding_attention').base, 1e4);
  assert.equal(ropeSettings(gemma3, 'full_attention').ropeType, 'linear');
  const old = { rope_theta: 1e6, rope_local_base_freq: 1e4, rope_scaling: { rope_type: 'linear', factor: 8 } };
  assert.deepEqual([ropeSettings(old, 'sliding_attention').base, ropeSettings(old, 'sliding_attention').ropeType], [1e4, 'default']);
  assert.deepEqual([ropeSettings(old, 'full_attention').base, ropeSettings(old, 'full_attention').ropeType], [1e6, 'linear']);
  assert.throws(() => ropeSettings({ rope_scaling: { type: 'mrope' } }), /rope type 'mrope' is not supported \(supported: default, linear, dynamic, llama3, yarn, longrope\)/);
  assert.throws(() => ropeSettings({ rope_theta: -1 }), /rope_theta must be a positive number/);
  assert.throws(() => initializeRope({ rope_parameters: { rope_type: 'longrope', short_factor: [1], long_factor: [1] } }, 16), /longrope needs short_factor with 8 entries/);
});
