// Sampling for one row of a batch: each request brings its own temperature, filters,
// penalties and seed, so a row is sampled by itself, with random keys from its own stream
// (a seed gives the same text whatever else the batch holds).
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { applyMinP, applyTopK, applyTopP, categoricalSampling, makeLogitsProcessors, type LogitsProcessor, type LogitsProcessorOptions } from '../sample.js';

export interface RowSamplingOptions {
  /** 0: greedy. */
  temp: number;
  /** 0 or 1: off. */
  topP: number;
  /** 0: off. */
  topK: number;
  /** 0: off. */
  minP: number;
  /** The seed of this row's random stream (null: a random one). */
  seed: number | null;
}

/** splitmix32: a small, well-mixed 32-bit generator for the per-step seeds of a row. */
export class SeedStream {
  private state: number;
  constructor(seed: number) { this.state = seed >>> 0; }
  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }
}

/** A fresh seed when the request gives none. */
export function randomSeed(): number {
  return (Math.random() * 2 ** 32) >>> 0;
}

/** The stream seed of choice `choice` of a request seeded with `seed` (choices differ, the same seed repeats). */
export function choiceSeed(seed: number, choice: number): number {
  const s = new SeedStream((seed ^ Math.imul(choice + 1, 0x27d4eb2d)) >>> 0);
  return s.next();
}

/** Draws one token from log-probabilities (1, V) with the row's filters and a key from its stream. */
export function sampleRow(logprobs: Array, o: RowSamplingOptions, seeds: SeedStream): Array {
  let x = logprobs;
  if (o.topP > 0 && o.topP < 1) x = applyTopP(x, o.topP);
  if (o.minP > 0) x = applyMinP(x, o.minP);
  if (o.topK > 0 && o.topK < x.shape[x.ndim - 1]) x = applyTopK(x, o.topK);
  return categoricalSampling(x, o.temp, mx.random.key(seeds.next()));
}

/** The logits processors of a row (bias, repetition, presence, frequency), or none. */
export function rowProcessors(o: LogitsProcessorOptions): LogitsProcessor[] {
  return makeLogitsProcessors(o);
}
