// Character-level data: a vocabulary of the text's characters, the text as token ids, and
// random (input, target) windows drawn from it with a seeded generator, so runs repeat.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as mx from '../../src/index.js';

/** The text that ships with the repo (data/README.md says where it comes from). */
export const MOBY_DICK = fileURLToPath(new URL('../../data/moby-dick.txt', import.meta.url));

/** Maps characters to ids and back. Ids follow the characters' code point order. */
export class Vocab {
  readonly chars: string[];
  private readonly ids: Map<string, number>;

  constructor(chars: Iterable<string>) {
    this.chars = [...new Set(chars)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    this.ids = new Map(this.chars.map((c, i) => [c, i]));
  }

  static fromText(text: string): Vocab { return new Vocab(text); }

  get size(): number { return this.chars.length; }

  encode(text: string): Int32Array {
    const chars = [...text];
    const out = new Int32Array(chars.length);
    chars.forEach((c, i) => {
      const id = this.ids.get(c);
      if (id === undefined) throw new Error(`[Vocab.encode] character ${JSON.stringify(c)} at index ${i} is not in the vocabulary of ${this.size} characters`);
      out[i] = id;
    });
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const c = this.chars[ids[i]];
      if (c === undefined) throw new Error(`[Vocab.decode] id ${ids[i]} is out of range for a vocabulary of ${this.size}`);
      s += c;
    }
    return s;
  }
}

/** mulberry32: a tiny seeded generator of floats in [0, 1) for picking batch offsets on the host. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CharDataset {
  vocab: Vocab;
  train: Int32Array;
  val: Int32Array;
}

/** Reads a text file and splits its ids: the first `trainFraction` to train on, the rest to validate. */
export function loadCharDataset(path = MOBY_DICK, trainFraction = 0.9): CharDataset {
  const text = readFileSync(path, 'utf8');
  const vocab = Vocab.fromText(text);
  const ids = vocab.encode(text);
  const cut = Math.floor(ids.length * trainFraction);
  return { vocab, train: ids.subarray(0, cut), val: ids.subarray(cut) };
}

/**
 * `batchSize` windows of `context + 1` ids at random offsets: inputs are the first
 * `context` ids of each, targets the same shifted by one. Both int32 of shape (batchSize, context).
 */
export function sampleBatch(ids: Int32Array, batchSize: number, context: number, random: () => number): [mx.Array, mx.Array] {
  if (ids.length < context + 1) throw new Error(`[sampleBatch] the data has ${ids.length} ids, fewer than context + 1 = ${context + 1}`);
  const x = new Int32Array(batchSize * context);
  const y = new Int32Array(batchSize * context);
  for (let b = 0; b < batchSize; b++) {
    const start = Math.floor(random() * (ids.length - context));
    x.set(ids.subarray(start, start + context), b * context);
    y.set(ids.subarray(start + 1, start + 1 + context), b * context);
  }
  // tidy frees the flat arrays the reshapes were made from, so a long loop does not wait for the GC.
  return mx.tidy(() => [mx.reshape(mx.array(x), [batchSize, context]), mx.reshape(mx.array(y), [batchSize, context])]);
}
