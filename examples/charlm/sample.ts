// Sampling text from a trained CharLM, one character at a time.
import * as mx from '../../src/index.js';
import type { CharLM } from './model.js';
import type { Vocab } from './data.js';

export interface SampleOptions {
  /** Characters to generate after the prompt. */
  length?: number;
  /** Softmax temperature; 0 picks the most likely character (greedy). */
  temperature?: number;
  /** Seed for the random key the characters are drawn with. */
  seed?: number;
}

/**
 * Continues `prompt` by `length` characters. Each character comes from the logits of the
 * last position given the previous `context` characters (no KV cache: the model is small).
 */
export function sample(model: CharLM, vocab: Vocab, prompt: string, { length = 200, temperature = 0.8, seed = 0 }: SampleOptions = {}): string {
  const ids = [...vocab.encode(prompt)];
  if (ids.length === 0) throw new Error('[sample] the prompt is empty; give at least one character');
  const context = model.config.context;
  let key = mx.random.key(seed);
  for (let i = 0; i < length; i++) {
    const [next, nextKey] = mx.tidy(() => {
      const window = mx.array([ids.slice(-context)], mx.int32);
      const logits = mx.squeeze(mx.stridedSlice(model.forward(window), [0, -1], [1, null]), [0, 1]);
      if (temperature === 0) return [mx.argmax(logits), key];
      const [k, sub] = mx.split(mx.random.split(key), 2);
      return [mx.random.categorical(mx.divide(logits, temperature), -1, null, null, mx.squeeze(sub, 0)), mx.squeeze(k, 0)];
    });
    ids.push(next.item() as number);
    next.dispose();
    if (nextKey !== key) key.dispose();
    key = nextKey;
  }
  key.dispose();
  return vocab.decode(ids);
}
