// A KV cache with fixed shapes, for decoding steps that are compiled once and replayed (a
// CUDA graph on the GPU). KVCache grows by concatenation, so every token changes the shapes
// of the cache and of attention; StaticKVCache holds (B, kvHeads, maxSize, headDim) from the
// first update on, writes new keys and values at their positions, and attention always reads
// all maxSize columns with a mask hiding the ones not written yet. The position of the next
// token can be a device array (`position`): the write, the mask and the rotary angles are
// then computed from it on the device, so one compiled step serves every token.
//
// A masked column adds exp(-huge) = 0 to the softmax sum and 0 · v to the output, so
// attention over the whole buffer gives what attention over the written columns gives, up
// to the order in which a backend adds the zeros.
import * as mx from '../core/index.js';
import type { Array } from '../core/index.js';
import { KVCache, type CacheOptions } from './cache.js';
import { Positions } from './rope.js';

/** Positions from a device array: the first new token's position, a 0-d int32 array. */
export class DevicePositions extends Positions {
  constructor(readonly start: Array, length: number) {
    super(0, length, null);
  }

  /** The rotary schedules that depend on the sequence length (dynamic, longrope) cannot be used with device positions. */
  override get seqLen(): number { return this.length; }
  override starts(): Array { return this.start; }
  override values(): Array {
    return mx.add(mx.arange(0, this.length, 1, 'float32'), mx.astype(this.start, mx.float32));
  }
}

export class StaticKVCache extends KVCache {
  /**
   * The position of the next token as a 0-d int32 device array, or null: then `offset` (a
   * host number) places the tokens. compiled-step.ts sets it while it traces a step.
   */
  position: Array | null = null;

  constructor(readonly maxSize: number, options: CacheOptions = {}) {
    super(options);
    if (!Number.isInteger(maxSize) || maxSize < 1) throw new Error(`[StaticKVCache] maxSize must be a positive integer, got ${maxSize}`);
    if (this.leftPadding) throw new Error('[StaticKVCache] left-padded batches are not supported yet; use KVCache');
  }

  /** A cache over given buffers (B, kvHeads, maxSize, headDim) whose next token is at `position`. */
  static over(keys: Array, values: Array, position: Array | null, offset = 0): StaticKVCache {
    const c = new StaticKVCache(keys.shape[2]);
    c.keys = keys;
    c.values = values;
    c.position = position;
    c.offset = offset;
    return c;
  }

  /** Where the next `length` tokens sit (rotary angles): device positions when `position` is set. */
  positions(length: number): Positions {
    return this.position ? new DevicePositions(this.position, length) : new Positions(this.offset, length, null);
  }

  override updateAndFetch(keys: Array, values: Array): [Array, Array] {
    this.checkUpdate(keys, values);
    const L = keys.shape[2];
    if (!this.position && this.offset + L > this.maxSize)
      throw new Error(`[StaticKVCache] ${this.offset} + ${L} tokens do not fit its ${this.maxSize} positions`);
    if (!this.keys || !this.values) {
      const [B, H, , D] = keys.shape;
      this.keys = mx.zeros([B, H, this.maxSize, D], keys.dtype);
      this.values = mx.zeros([B, H, this.maxSize, values.shape[3]], values.dtype);
    }
    this.keys = this.write(this.keys, keys);
    this.values = this.write(this.values, values);
    this.offset += L;
    return [this.keys, this.values];
  }

  /**
   * `buf` with `update` (B, H, L, D) written at the next positions: a dynamic sliceUpdate at
   * the device position (a scatter that a graph runs in place on the donated buffer, writing
   * only the L new rows), or a static one at the host offset.
   */
  private write(buf: Array, update: Array): Array {
    const u = mx.astype(update, buf.dtype);
    return mx.sliceUpdate(buf, u, this.position ? mx.reshape(this.position, [1]) : [this.offset], [2]);
  }

  /** Queries at the next `length` positions see the columns up to theirs (and within `windowSize`): (L, maxSize). */
  override makeMask(length: number, windowSize: number | null = null): Array {
    const start = this.position ?? mx.array(this.offset, mx.int32);
    const q = mx.add(mx.reshape(mx.arange(0, length, 1, 'int32'), [length, 1]), start);
    const k = mx.arange(0, this.maxSize, 1, 'int32');
    let mask = mx.lessEqual(k, q);
    if (windowSize !== null) mask = mx.logicalAnd(mask, mx.less(mx.subtract(q, k), windowSize));
    return mask;
  }

  override get state(): Array[] { return this.keys && this.values ? [this.keys, this.values] : []; }
  override set state(v: Array[]) {
    if (v.length === 0) { this.keys = this.values = null; this.offset = 0; return; }
    if (v.length !== 2) throw new Error(`[StaticKVCache.state] expected [keys, values], got ${v.length} arrays`);
    if (v[0].shape[2] !== this.maxSize) throw new Error(`[StaticKVCache.state] expected buffers with ${this.maxSize} positions, got (${v[0].shape.join(',')})`);
    [this.keys, this.values] = v;
  }

  /** Trimming moves the position back; the stale columns stay hidden by the mask until overwritten. */
  override trim(n: number): number {
    n = Math.min(this.offset, Math.max(0, n));
    this.offset -= n;
    return n;
  }

  override toQuantized(): never {
    throw new Error('[StaticKVCache.toQuantized] a static cache cannot be quantized yet; use KVCache with kvBits');
  }
}

/** One StaticKVCache of `maxSize` positions per layer of `model`. */
export function makeStaticCache(model: { readonly layers: readonly unknown[] }, maxSize: number): StaticKVCache[] {
  return model.layers.map(() => new StaticKVCache(maxSize));
}
