// Token masks: which tokens may come next in a recognizer state. A walk of the vocabulary
// trie advances the state byte by byte and prunes a subtree as soon as the state dies.
//
// Masks are cached per top frame (as XGrammar splits context-independent tokens from the
// rest): walking from the top frame alone, with nothing known below it, gives the tokens
// accepted whatever lies below, plus the trie nodes where the top frame ended ("exits"). At
// run time the cached set is copied, and only the exits are walked further with the real
// frames below. Inside a string the top frame's set is almost the whole vocabulary but its
// exits are only the tokens holding a closing quote, so a step costs a copy and a few
// hundred short walks instead of a walk over every token.
//
// A string with length bounds is walked once as its unbounded twin, recording how many
// characters each token adds; the room left then selects tokens at run time.
import { PASS, POP, Kind, TWIN_MAX, dedupe, type Frame, type Grammar, type Stack } from './grammar.js';
import type { StringNode } from './schema.js';
import type { TokenTrie } from './vocab.js';

/** Tokens accepted from a top frame whatever is below it, and where the frame ended. */
export interface MaskEntry {
  /** A bitset over token ids, or (when few) the ids themselves. */
  readonly bits: Uint32Array | null;
  readonly ids: Int32Array | null;
  /** Exits: 2 * node when the frame ended by consuming the node's byte, 2 * node + 1 when it ended before it. */
  readonly exits: Int32Array;
  /** Twin strings: characters each accepted token adds, and the characters before each exit's closing quote. */
  readonly chars: Uint8Array | null;
  readonly exitChars: Int32Array | null;
  /** Twin strings: the accepted tokens adding at most L characters, by L (made on demand). */
  readonly byRoom: Map<number, Uint32Array>;
  bytes: number;
}

class Walker {
  private readonly bufs: Stack[][] = [];
  constructor(
    private readonly trie: TokenTrie, private readonly grammar: Grammar, readonly bits: Uint32Array,
    private readonly exits: Map<number, number> | null, private readonly chars: Uint8Array | null = null,
  ) {}

  mark(node: number, top: Frame | null = null): void {
    const { tokenStart, tokenIds } = this.trie, bits = this.bits;
    for (let k = tokenStart[node]; k < tokenStart[node + 1]; k++) {
      const id = tokenIds[k];
      bits[id >>> 5] |= 1 << (id & 31);
    }
    // Characters started so far in a twin string (a pending UTF-8 byte or escape counts).
    if (this.chars && top) {
      const started = Math.min(255, top.n + (top.phase === 0 ? 0 : 1));
      for (let k = tokenStart[node]; k < tokenStart[node + 1]; k++) this.chars[tokenIds[k]] = started;
    }
  }

  /** Walks node's subtree from `stacks` (the state after node's bytes), marking accepted tokens. */
  walk(node: number, stacks: Stack[], depth: number): void {
    const { byte, subtreeEnd } = this.trie, grammar = this.grammar;
    const end = subtreeEnd[node];
    const buf = (this.bufs[depth] ??= []);
    const single = stacks.length === 1 ? stacks[0].frame : null;
    for (let c = node + 1; c < end; c = subtreeEnd[c]) {
      const b = byte[c];
      if (single !== null) {
        // Fast path: a byte that leaves the only frame as it is (most bytes inside a string).
        const outs = single.memo?.[b] ?? grammar.transitions(single, b);
        if (outs.length === 1) {
          const o = outs[0];
          if (o !== POP && o !== PASS && (o as readonly Frame[]).length === 1 && (o as readonly Frame[])[0] === single) {
            this.mark(c, single);
            if (subtreeEnd[c] > c + 1) this.walk(c, stacks, depth + 1);
            continue;
          }
        }
      }
      buf.length = 0;
      let flags = 0;
      for (let i = 0; i < stacks.length; i++) flags |= grammar.step(stacks[i], b, buf);
      if (flags !== 0 && this.exits) {
        const chars = single ? single.n : 0;
        if (flags & 1) this.exits.set(2 * c, chars);
        if (flags & 2) this.exits.set(2 * c + 1, chars);
      }
      if (buf.length > 0) {
        this.mark(c, buf.length === 1 ? buf[0].frame : null);
        if (subtreeEnd[c] > c + 1) this.walk(c, buf.length > 1 ? dedupe(buf) : buf, depth + 1);
      }
    }
  }
}

/** Cached mask entries of one vocabulary, shared by every grammar, bounded in bytes (least recently used go first). */
export class MaskCache {
  private readonly entries = new Map<string, MaskEntry>();
  private total = 0;
  hits = 0;
  misses = 0;

  constructor(readonly trie: TokenTrie, readonly maxBytes = 64 << 20) {}

  get size(): number { return this.entries.size; }
  get bytes(): number { return this.total; }

  entry(grammar: Grammar, frame: Frame): MaskEntry {
    let e = this.entries.get(frame.maskKey);
    if (e) {
      this.hits++;
      this.entries.delete(frame.maskKey); // refresh its place in the LRU order
      this.entries.set(frame.maskKey, e);
      return e;
    }
    this.misses++;
    e = this.compute(grammar, frame);
    this.entries.set(frame.maskKey, e);
    this.total += e.bytes;
    this.evict();
    return e;
  }

  private evict(): void {
    for (const [k, old] of this.entries) {
      if (this.total <= this.maxBytes || this.entries.size <= 1) break;
      this.entries.delete(k);
      this.total -= old.bytes;
    }
  }

  private compute(grammar: Grammar, frame: Frame): MaskEntry {
    const words = (this.trie.size + 31) >>> 5;
    const bits = new Uint32Array(words);
    const exits = new Map<number, number>();
    const twin = frame.kind === Kind.Str && (frame.node as StringNode).maxLength === TWIN_MAX;
    const chars = twin ? new Uint8Array(this.trie.size) : null;
    new Walker(this.trie, grammar, bits, exits, chars).walk(0, [{ frame, below: null }], 0);
    let count = 0;
    for (let i = 0; i < words; i++) count += popcount(bits[i]);
    const exitArray = Int32Array.from(exits.keys());
    const exitChars = twin ? Int32Array.from(exits.values()) : null;
    const extra = 8 * exitArray.length + (chars?.length ?? 0) + 64;
    if (count < words && !twin) {
      const ids = new Int32Array(count);
      let k = 0;
      for (let i = 0; i < words; i++) for (let w = bits[i]; w !== 0; w &= w - 1) ids[k++] = (i << 5) + 31 - Math.clz32(w & -w);
      return { bits: null, ids, exits: exitArray, chars, exitChars, byRoom: new Map(), bytes: 4 * count + extra };
    }
    return { bits, ids: null, exits: exitArray, chars, exitChars, byRoom: new Map(), bytes: 4 * words + extra };
  }

  /** A twin entry's tokens that add at most `room` characters. */
  withRoom(e: MaskEntry, room: number): Uint32Array {
    const r = Math.min(room, 255);
    let sel = e.byRoom.get(r);
    if (!sel) {
      const bits = e.bits!, chars = e.chars!;
      sel = new Uint32Array(bits.length);
      for (let i = 0; i < bits.length; i++) {
        let out = 0;
        for (let w = bits[i]; w !== 0; w &= w - 1) {
          const j = 31 - Math.clz32(w & -w);
          if (chars[(i << 5) + j] <= r) out |= 1 << j;
        }
        sel[i] = out;
      }
      e.byRoom.set(r, sel);
      e.bytes += sel.byteLength;
      this.total += sel.byteLength;
      this.evict();
    }
    return sel;
  }
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

const caches = new WeakMap<TokenTrie, MaskCache>();
export function maskCache(trie: TokenTrie): MaskCache {
  let c = caches.get(trie);
  if (!c) caches.set(trie, (c = new MaskCache(trie)));
  return c;
}

/** Sets in `out` (a bitset over token ids, cleared first) the tokens allowed after `stacks`. */
export function allowedTokenBits(grammar: Grammar, cache: MaskCache, stacks: readonly Stack[], out: Uint32Array): void {
  out.fill(0);
  const { trie } = cache;
  let walker: Walker | null = null;
  for (const st of stacks) {
    if (grammar.isDone(st)) continue;
    const twin = grammar.twin(st.frame);
    const e = cache.entry(grammar, twin ?? st.frame);
    // Room left under maxLength, and characters still owed to minLength.
    let room = Infinity, owed = 0;
    if (twin) {
      const s = st.frame.node as StringNode;
      room = s.maxLength - st.frame.n;
      owed = Math.max(0, s.minLength - st.frame.n);
      const sel = cache.withRoom(e, room);
      for (let i = 0; i < out.length; i++) out[i] |= sel[i];
    } else if (e.bits) for (let i = 0; i < out.length; i++) out[i] |= e.bits[i];
    else for (const id of e.ids!) out[id >>> 5] |= 1 << (id & 31);
    if (e.exits.length === 0 || st.below === null) continue;
    walker ??= new Walker(trie, grammar, out, null);
    for (let i = 0; i < e.exits.length; i++) {
      if (twin && (e.exitChars![i] < owed || e.exitChars![i] > room)) continue;
      const x = e.exits[i], node = x >>> 1;
      let next: Stack[] = [st.below];
      if (x & 1) { // the frame ended before this byte: the frames below take it
        next = [];
        grammar.step(st.below, trie.byte[node], next);
        if (next.length === 0) continue;
      }
      walker.mark(node);
      if (trie.subtreeEnd[node] > node + 1) walker.walk(node, dedupe(next), 0);
    }
  }
}
