// The vocabulary as a byte trie laid out flat in depth-first order (as llguidance's toktrie):
// node i's children follow it, each child's subtree ends at subtreeEnd[child], so a walk
// skips a dead subtree in one step. Built once per tokenizer and kept in a WeakMap.

/** What constrained decoding needs of a tokenizer (lm's Tokenizer has all of it). */
export interface TokenVocabulary {
  /** Ids run from 0 to vocabSize - 1. */
  readonly vocabSize: number;
  /** The bytes a token stands for (byte-level BPE: possibly part of a UTF-8 character). */
  tokenBytes(id: number): Uint8Array;
  /** Special tokens (chat markers, bos, eos) are never generated inside JSON. */
  isSpecial(id: number): boolean;
  /** Tokens that end generation: allowed only once the JSON is complete. */
  readonly eosTokenIds: ReadonlySet<number>;
  /** 'naive' tokenizers (WordPiece...) have no per-token bytes. */
  readonly detokenizerKind?: string;
}

export class TokenTrie {
  /** Ids 0..size-1 (the vocabulary's). */
  readonly size: number;
  /** Per node: the byte on the edge into it (0 for the root), the end of its subtree, its tokens. */
  readonly byte: Uint8Array;
  readonly subtreeEnd: Int32Array;
  readonly tokenStart: Int32Array;
  readonly tokenIds: Int32Array;
  readonly maxTokenBytes: number;
  readonly eos: readonly number[];
  /** Tokens in the trie (not special, not empty). */
  readonly tokenCount: number;

  constructor(vocab: TokenVocabulary) {
    if (vocab.detokenizerKind === 'naive')
      throw new Error('[constrained] constrained decoding needs a byte-level BPE or SentencePiece tokenizer (token bytes); this one decodes only whole sequences');
    this.size = vocab.vocabSize;
    this.eos = [...vocab.eosTokenIds].filter((t) => t >= 0 && t < this.size).sort((a, b) => a - b);
    const entries: { bytes: Uint8Array; id: number }[] = [];
    for (let id = 0; id < this.size; id++) {
      if (vocab.eosTokenIds.has(id) || vocab.isSpecial(id)) continue;
      let bytes: Uint8Array;
      try {
        bytes = vocab.tokenBytes(id);
      } catch {
        continue; // a gap in the ids
      }
      if (bytes.length > 0) entries.push({ bytes, id });
    }
    entries.sort((a, b) => compareBytes(a.bytes, b.bytes) || a.id - b.id);
    this.tokenCount = entries.length;

    // Sorted byte strings give the nodes in depth-first order: close the nodes deeper than
    // the common prefix with the previous string, open the rest.
    const byte: number[] = [0], subtreeEnd: number[] = [0], nodeOf: number[] = [];
    const path: number[] = [0];
    let prev: Uint8Array = new Uint8Array(0), maxLen = 0;
    for (const { bytes } of entries) {
      let common = 0;
      while (common < prev.length && common < bytes.length && prev[common] === bytes[common]) common++;
      while (path.length - 1 > common) subtreeEnd[path.pop()!] = byte.length;
      for (let k = common; k < bytes.length; k++) {
        path.push(byte.length);
        byte.push(bytes[k]);
        subtreeEnd.push(0);
      }
      nodeOf.push(path[path.length - 1]);
      prev = bytes;
      maxLen = Math.max(maxLen, bytes.length);
    }
    while (path.length > 0) subtreeEnd[path.pop()!] = byte.length;
    this.byte = Uint8Array.from(byte);
    this.subtreeEnd = Int32Array.from(subtreeEnd);
    this.tokenIds = Int32Array.from(entries, (e) => e.id);
    // Tokens were added in node order: tokenStart[n]..tokenStart[n+1] are node n's.
    this.tokenStart = new Int32Array(byte.length + 1);
    for (const n of nodeOf) this.tokenStart[n + 1]++;
    for (let n = 0; n < byte.length; n++) this.tokenStart[n + 1] += this.tokenStart[n];
    this.maxTokenBytes = maxLen;
  }

  get nodeCount(): number { return this.byte.length; }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const tries = new WeakMap<object, TokenTrie>();
/** The trie of a vocabulary, built on first use. */
export function tokenTrie(vocab: TokenVocabulary): TokenTrie {
  let t = tries.get(vocab);
  if (!t) tries.set(vocab, (t = new TokenTrie(vocab)));
  return t;
}
