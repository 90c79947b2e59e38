// Every architecture in bfloat16 on the GPU against transformers in bfloat16 on the same kind
// of card (test/fixtures/lm/<arch>/reference_bf16.json, made by scripts/fixtures/lm_bf16.py).
// Both sides round every layer's output to bfloat16, in different orders, so logits differ
// by a percent or two of their scale; the tiny random models have flat logits, so some
// greedy steps are near-ties (top-2 margin under TIE of the scale) that either rounding may
// break its own way. Checked: the last prompt position's logits within 5% of their scale;
// teacher-forced, lathe's argmax equals transformers' token at each of the first 16 steps
// that is not a near-tie; free-running (usual loop and compiled step), the first 16 tokens
// equal transformers' up to the first near-tie, and any divergence happens at one.
// Skips without a usable GPU.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as mx from '../../src/index.js';
import { loadModel } from '../../src/lm/load.js';
import { generateStep } from '../../src/lm/step.js';
import { gpuUnavailableReason } from '../../src/backend/cuda/index.js';
import { ARCHS, fixtureDir, reference } from './model-fixtures.js';

const why = gpuUnavailableReason();
const skip = why ? `no usable GPU: ${why}` : false;
if (skip) console.log(`# skipped: bf16 models on the GPU (${skip})`);

/** A greedy step is a near-tie when its top-2 margin is under this fraction of the logits' scale (~2 bf16 rounding errors). */
const TIE = 0.03;

interface Bf16Reference { prompt?: number[]; greedy: number[]; margins: number[]; last_logits: number[] }

describe('lm models in bfloat16 on the GPU match transformers in bfloat16', { skip }, () => {
  for (const arch of ARCHS) test(arch, () => {
    const file = join(fixtureDir(arch), 'reference_bf16.json');
    assert.ok(existsSync(file), `missing ${file}: run scripts/fixtures/lm_bf16.py on the GPU machine`);
    const ref = JSON.parse(readFileSync(file, 'utf8')) as Bf16Reference;
    const prompt = ref.prompt ?? reference(arch).prompt; // the script picks a prompt without near-ties when it can
    const model = loadModel(fixtureDir(arch), { dtype: 'bfloat16' });
    const logits = model.forward(mx.array([prompt], mx.int32));
    const last = mx.astype(mx.squeeze(mx.stridedSlice(logits, [0, -1], [1, null]), [0, 1]), 'float32');
    const want = mx.array(ref.last_logits, mx.float32);
    const scale = mx.max(mx.abs(want)).item() as number;
    const diff = mx.max(mx.abs(mx.subtract(last, want))).item() as number;
    assert.ok(diff <= 0.05 * scale, `${arch}: last logits differ by ${diff} (scale ${scale})`);
    const tie = (i: number) => ref.margins[i] < TIE * scale;
    // Teacher-forced: the reference's tokens as input, lathe's argmax at every step.
    const forced = mx.argmax(model.forward(mx.array([[...prompt, ...ref.greedy.slice(0, 15)]], mx.int32)), -1).tolist() as number[][];
    const mismatched = ref.greedy.slice(0, 16).map((t, i) => [i, forced[0][prompt.length - 1 + i], t]).filter(([i, got, want]) => got !== want && !tie(i));
    assert.deepEqual(mismatched, [], `${arch}: teacher-forced steps [step, lathe, transformers] that differ with a clear margin`);
    for (const compiled of [false, true]) {
      const got = [...generateStep(prompt, model, { maxTokens: 16, compiled })].map((s) => s.token);
      const diverge = got.findIndex((t, i) => t !== ref.greedy[i]);
      if (!compiled) console.log(`# ${arch}: free-running greedy equals transformers for ${diverge < 0 ? 16 : diverge} of 16 tokens; ${ref.margins.slice(0, 16).filter((_, i) => tie(i)).length} near-ties in the first 16; last logits within ${(diff / scale * 100).toFixed(2)}% of their scale`);
      const firstTie = ref.margins.slice(0, 16).findIndex((_, i) => tie(i));
      assert.ok(diverge < 0 || (firstTie >= 0 && diverge >= firstTie),
        `${arch} (${compiled ? 'compiled step' : 'usual loop'}): greedy tokens diverge at step ${diverge} before any near-tie: ${got} vs ${ref.greedy.slice(0, 16)}`);
    }
  });
});
