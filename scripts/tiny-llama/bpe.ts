// A byte-level BPE trainer (GPT-2's scheme) that writes a Hugging Face tokenizer.json: the
// text is split with GPT-2's pre-tokenizer regex, each piece is mapped byte by byte to
// printable characters, and the most frequent adjacent pair is merged until the vocabulary
// is full. Small and slow-but-fine for a few hundred kilobytes of text.

/** GPT-2's byte -> printable character table (bytes that print stay themselves). */
export function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const table: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + extra++);
  return table;
}

const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export interface BpeResult {
  vocab: Record<string, number>;
  merges: string[];
}

/** Learns merges until the vocabulary (the 256 bytes, then merges) has `vocabSize` entries, ids starting at `firstId`. */
export function trainByteLevelBpe(text: string, vocabSize: number, firstId = 0): BpeResult {
  const byteChar = bytesToUnicode();
  const encoder = new TextEncoder();
  const counts = new Map<string, number>();
  for (const m of text.matchAll(GPT2_SPLIT)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
  const words = [...counts].map(([w, n]) => ({ symbols: [...encoder.encode(w)].map((b) => byteChar[b]), n }));

  const vocab: Record<string, number> = {};
  let next = firstId;
  for (let b = 0; b < 256; b++) vocab[byteChar[b]] = next++;
  const merges: string[] = [];
  while (next < firstId + vocabSize) {
    const pairs = new Map<string, number>();
    for (const { symbols, n } of words)
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = symbols[i] + ' ' + symbols[i + 1];
        pairs.set(key, (pairs.get(key) ?? 0) + n);
      }
    let best = '', bestCount = 1;
    // Ties go to the lexicographically smallest pair so the result does not depend on Map order.
    for (const [k, c] of pairs) if (c > bestCount || (c === bestCount && best !== '' && k < best)) { best = k; bestCount = c; }
    if (best === '') break; // nothing left that occurs twice
    const [a, b] = best.split(' ');
    const merged = a + b;
    for (const w of words) {
      const s = w.symbols;
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) s.splice(i, 2, merged);
    }
    merges.push(best);
    vocab[merged] = next++;
  }
  return { vocab, merges };
}

export interface SpecialToken { id: number; content: string }

/** The tokenizer.json object of a byte-level BPE (GPT-2 / Llama 3 style), special tokens first. */
export function byteLevelTokenizerJson(bpe: BpeResult, specials: SpecialToken[]): object {
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map(({ id, content }) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
    post_processor: { type: 'ByteLevel', ...byteLevel },
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab: { ...Object.fromEntries(specials.map(({ id, content }) => [content, id])), ...bpe.vocab },
      merges: bpe.merges,
    },
  };
}
