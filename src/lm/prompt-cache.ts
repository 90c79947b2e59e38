// An LRU store of KV caches keyed by the tokens they hold (MLX-LM server's LRUPromptCache):
// a new prompt fetches the cache of its longest cached prefix (or a longer cached sequence
// trimmed back to the common prefix) and prefills only the rest. Bounded by entries and
// bytes; evicted caches are disposed.
//
// Entries own their arrays. A fetch hands out a new cache whose arrays are fresh handles on
// the same buffers (no copy): generation replaces and frees those handles, never the
// entry's, and the buffers live as long as either side holds them.
import * as mx from '../core/index.js';
import type { Array } from '../core/index.js';
import { KVCache, QuantizedKVCache, RotatingKVCache } from './cache.js';

interface Node {
  children: Map<number, Node>;
  entry: Entry | null;
  parent: Node | null;
  token: number;
}

interface Entry {
  model: string;
  tokens: number[];
  cache: KVCache[];
  nbytes: number;
  /** Times the same tokens were inserted (MLX-LM's count). */
  count: number;
  node: Node;
}

export interface PromptCacheOptions {
  /** The most caches kept (default 10, as MLX-LM's server). */
  maxSize?: number;
  /** The most bytes of cache arrays kept (default: no limit). */
  maxBytes?: number;
}

/** What fetchNearestCache found: a cache to extend (or null) and the tokens it does not hold yet. */
export interface CacheFetch {
  cache: KVCache[] | null;
  /** The prompt's tokens still to process: feed these (with `cache` as promptCache). */
  rest: number[];
  /** How many prompt tokens the cache already holds. */
  cached: number;
}

/** A cache holding the same arrays under new handles (stopGradient shares the buffer). */
function shareCache(c: KVCache): KVCache {
  const pad = { leftPadding: c.leftPadding };
  const out = c instanceof RotatingKVCache ? new RotatingKVCache(c.maxSize, c.keep, pad)
    : c instanceof QuantizedKVCache ? new QuantizedKVCache(c.groupSize, c.bits, pad)
      : new KVCache(pad);
  const state = c.state.map((a) => mx.stopGradient(a));
  mx.eval(state);
  out.state = state;
  out.offset = c.offset;
  return out;
}

/** Trims a fetched cache by `n` tokens and frees the handles the trim replaced (the entry keeps its own). */
function trimShared(c: KVCache, n: number): void {
  const old = c.state;
  c.trim(n);
  const now = c.state;
  mx.eval(now);
  mx.dispose(old.filter((a) => !now.includes(a)));
}

const cacheBytes = (cache: readonly KVCache[]) => cache.reduce((n, c) => n + c.nbytes, 0);
const canTrim = (cache: readonly KVCache[]) => cache.every((c) => c.isTrimmable());

export class LRUPromptCache {
  readonly maxSize: number;
  readonly maxBytes: number;
  private readonly roots = new Map<string, Node>();
  /** Least recently used first. */
  private lru: Entry[] = [];
  private bytes = 0;

  constructor(options: PromptCacheOptions = {}) {
    this.maxSize = options.maxSize ?? 10;
    this.maxBytes = options.maxBytes ?? Infinity;
    if (!Number.isInteger(this.maxSize) || this.maxSize < 0) throw new Error(`[LRUPromptCache] maxSize must be a non-negative integer, got ${this.maxSize}`);
    if (!(this.maxBytes >= 0)) throw new Error(`[LRUPromptCache] maxBytes must be a non-negative number, got ${this.maxBytes}`);
  }

  /** Caches held. */
  get size(): number { return this.lru.length; }
  /** Bytes of the arrays held. */
  get nbytes(): number { return this.bytes; }

  private root(model: string): Node {
    let r = this.roots.get(model);
    if (!r) this.roots.set(model, (r = { children: new Map(), entry: null, parent: null, token: -1 }));
    return r;
  }

  private touch(e: Entry): void {
    this.lru = this.lru.filter((x) => x !== e);
    this.lru.push(e);
  }

  /**
   * The cache to extend for `tokens` under `model` (a name for the model: caches of different
   * models never mix): the longest cached prefix of `tokens`, or a longer cached sequence that
   * shares more of them, trimmed back (when its caches can trim). At least one token is always
   * left to process, since generation needs the last prompt token's logits.
   */
  fetchNearestCache(model: string, tokens: readonly number[]): CacheFetch {
    const miss: CacheFetch = { cache: null, rest: [...tokens], cached: 0 };
    if (tokens.length === 0) return miss;
    let node = this.root(model);
    let shorter: Entry | null = null;
    let depth = 0;
    for (const t of tokens) {
      const next = node.children.get(t);
      if (!next) break;
      node = next;
      depth++;
      if (node.entry && depth < tokens.length) shorter = node.entry;
    }
    // The nearest entry at or below where the walk stopped (the exact one, or a longer one).
    let longer: Entry | null = null;
    const queue: Node[] = [node];
    while (queue.length && !longer) {
      const n = queue.shift()!;
      if (n.entry) longer = n.entry;
      else queue.push(...n.children.values());
    }
    const shortLength = shorter ? shorter.tokens.length : 0;
    const keep = Math.min(depth, tokens.length - 1);
    if (longer && keep > shortLength && canTrim(longer.cache)) {
      this.touch(longer);
      const cache = longer.cache.map(shareCache);
      const cut = longer.tokens.length - keep;
      if (cut > 0) for (const c of cache) trimShared(c, cut);
      return { cache, rest: tokens.slice(keep), cached: keep };
    }
    if (shorter) {
      this.touch(shorter);
      return { cache: shorter.cache.map(shareCache), rest: tokens.slice(shortLength), cached: shortLength };
    }
    return miss;
  }

  /**
   * Stores `cache`, which holds exactly `tokens` (a prompt and the reply generated so far, less
   * the last sampled token), taking ownership of its arrays. Entries that are prefixes of
   * `tokens` are dropped when this cache can trim back to them. Then the least recently used
   * caches are evicted (and disposed) until the limits hold.
   */
  insertCache(model: string, tokens: readonly number[], cache: KVCache[]): void {
    if (cache.length && cache[0].offset !== tokens.length && !(cache[0] instanceof RotatingKVCache))
      throw new Error(`[LRUPromptCache.insertCache] the cache holds ${cache[0].offset} tokens but ${tokens.length} tokens were given`);
    let node = this.root(model);
    const prefixes: Entry[] = [];
    for (const t of tokens) {
      let next = node.children.get(t);
      if (!next) node.children.set(t, (next = { children: new Map(), entry: null, parent: node, token: t }));
      node = next;
      if (node.entry && node.entry.tokens.length < tokens.length) prefixes.push(node.entry);
    }
    if (node.entry) { // the same tokens again: keep the stored cache, free the new one
      node.entry.count++;
      const kept = new Set(node.entry.cache.flatMap((c) => c.state));
      mx.dispose(cache.flatMap((c) => c.state).filter((a) => !kept.has(a)));
      this.touch(node.entry);
    } else {
      const entry: Entry = { model, tokens: [...tokens], cache, nbytes: cacheBytes(cache), count: 1, node };
      node.entry = entry;
      this.lru.push(entry);
      this.bytes += entry.nbytes;
      if (canTrim(cache)) for (const p of prefixes) this.remove(p);
    }
    this.trimTo({ nSequences: this.maxSize, nBytes: this.maxBytes });
  }

  /** Evicts least recently used caches until at most nSequences and nBytes remain. */
  trimTo({ nSequences = Infinity, nBytes = Infinity }: { nSequences?: number; nBytes?: number } = {}): void {
    while (this.lru.length > nSequences || (this.lru.length > 0 && this.bytes > nBytes)) this.remove(this.lru[0]);
  }

  /** Disposes every cache. */
  clear(): void {
    this.trimTo({ nSequences: 0 });
  }

  private remove(e: Entry): void {
    this.lru = this.lru.filter((x) => x !== e);
    this.bytes -= e.nbytes;
    e.node.entry = null;
    // Prune the branch that now leads nowhere.
    let n: Node | null = e.node;
    while (n && n.parent && !n.entry && n.children.size === 0) {
      n.parent.children.delete(n.token);
      n = n.parent;
    }
    mx.dispose(e.cache.flatMap((c) => c.state) as Array[]);
  }
}
