// Streaming detokenizers: turn generated token ids into text as they arrive, emitting only
// complete UTF-8 characters. A character split across byte tokens (byte-level BPE, or
// SentencePiece's <0xE2> byte fallback) is held back until its last byte arrives.
//
// Byte-level BPE and SentencePiece tokens map to bytes directly, so their detokenizer feeds
// each token's bytes to one streaming TextDecoder: O(1) per token and exact. Other tokenizers
// (WordPiece, ...) use the naive detokenizer, which re-decodes the tokens since the last
// newline with the tokenizer and emits what changed.

/** MLX-LM's streaming detokenizer interface, in camelCase. */
export interface StreamingDetokenizer {
  /** Forgets everything (a new generation). */
  reset(): void;
  addToken(token: number): void;
  /** Flushes what was held back (an incomplete character becomes U+FFFD). */
  finalize(): void;
  /** The text added since the last read of `lastSegment` (reading it consumes it). */
  readonly lastSegment: string;
  /** All text emitted so far. */
  readonly text: string;
  readonly tokens: readonly number[];
}

/** Detokenizes tokens that stand for byte strings. */
export class ByteStreamDetokenizer implements StreamingDetokenizer {
  private decoder = new TextDecoder('utf-8');
  private emitted = '';
  private read = 0;
  private ids: number[] = [];
  private sawFirst = false;

  /**
   * @param tokenBytes the bytes a token stands for
   * @param trimLeadingSpace drop one space at the very start of the text (SentencePiece's
   *   prefix space, which Llama-style decoders strip)
   */
  constructor(private readonly tokenBytes: (token: number) => Uint8Array, private readonly trimLeadingSpace = false) {}

  reset(): void {
    this.decoder = new TextDecoder('utf-8');
    this.emitted = '';
    this.read = 0;
    this.ids = [];
    this.sawFirst = false;
  }

  addToken(token: number): void {
    this.ids.push(token);
    this.append(this.decoder.decode(this.tokenBytes(token), { stream: true }));
  }

  finalize(): void {
    this.append(this.decoder.decode());
  }

  // Strip(start=1) removes one space from the start of the whole text: only the first character is checked.
  private append(s: string): void {
    if (this.trimLeadingSpace && !this.sawFirst && s.length > 0) {
      this.sawFirst = true;
      if (s.startsWith(' ')) s = s.slice(1);
    }
    this.emitted += s;
  }

  get lastSegment(): string {
    const s = this.emitted.slice(this.read);
    this.read = this.emitted.length;
    return s;
  }

  get text(): string { return this.emitted; }
  get tokens(): readonly number[] { return this.ids; }
}

/** Re-decodes the pending tokens with `decode` each time; emits text once it no longer ends in U+FFFD. */
export class NaiveStreamingDetokenizer implements StreamingDetokenizer {
  private emitted = '';
  private read = 0;
  private done: number[] = [];
  private pending: number[] = [];

  constructor(private readonly decode: (tokens: number[]) => string) {}

  reset(): void {
    this.emitted = '';
    this.read = 0;
    this.done = [];
    this.pending = [];
  }

  addToken(token: number): void {
    this.pending.push(token);
  }

  finalize(): void {
    this.flushPending(this.decode(this.pending));
  }

  private flushPending(s: string): void {
    this.emitted += s;
    this.done.push(...this.pending);
    this.pending = [];
  }

  // The stable text: the pending tokens' text unless it ends mid-character. A newline
  // closes the window, so re-decoding stays short.
  private current(): string {
    if (this.pending.length === 0) return this.emitted;
    const s = this.decode(this.pending);
    if (s.endsWith('\uFFFD')) return this.emitted + s.slice(0, -1);
    if (s.endsWith('\n')) {
      this.flushPending(s);
      return this.emitted;
    }
    return this.emitted + s;
  }

  get lastSegment(): string {
    const t = this.current();
    // The pending text can change as tokens arrive; emit only past what was read.
    const s = t.length > this.read ? t.slice(this.read) : '';
    this.read = Math.max(this.read, t.length);
    return s;
  }

  get text(): string { return this.current(); }
  get tokens(): readonly number[] { return [...this.done, ...this.pending]; }
}

/** GPT-2's byte -> printable character table, inverted: character -> byte. */
function byteLevelDecoderTable(): Map<string, number> {
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const table = new Map<string, number>();
  let extra = 0;
  for (let b = 0; b < 256; b++) table.set(String.fromCodePoint(keep(b) ? b : 256 + extra++), b);
  return table;
}

const utf8 = new TextEncoder();
const BYTE_LEVEL_TABLE = byteLevelDecoderTable();

/** The bytes of a byte-level BPE token string (Ġ for space, Ċ for newline...). */
export function byteLevelTokenBytes(token: string, table = BYTE_LEVEL_TABLE): Uint8Array {
  const out: number[] = [];
  for (const ch of token) {
    const b = table.get(ch);
    if (b !== undefined) out.push(b);
    else out.push(...utf8.encode(ch)); // not a byte-level token: keep the character
  }
  return Uint8Array.from(out);
}

/** The bytes of a SentencePiece token: ▁ is a space, <0xAB> (byte fallback) is one byte. */
export function sentencePieceTokenBytes(token: string, byteFallback: boolean): Uint8Array {
  const m = byteFallback ? /^<0x([0-9A-Fa-f]{2})>$/.exec(token) : null;
  if (m) return Uint8Array.of(parseInt(m[1], 16));
  return utf8.encode(token.replaceAll('\u2581', ' '));
}

export type DetokenizerKind = 'byte-level' | 'sentencepiece' | 'naive';

interface DecoderSpec { type?: string; decoders?: DecoderSpec[]; pattern?: { String?: string }; content?: string; start?: number; prepend_scheme?: string; add_prefix_space?: boolean }

/**
 * Which detokenizer a tokenizer.json calls for, read from its decoder: ByteLevel gives
 * byte-level; Metaspace, or a Replace of ▁ (with ByteFallback), gives SentencePiece.
 * `trimLeadingSpace` says whether the decoder strips the first token's prefix space.
 */
export function detokenizerKind(tokenizerJson: Record<string, unknown>): { kind: DetokenizerKind; trimLeadingSpace: boolean } {
  const decoder = tokenizerJson.decoder as DecoderSpec | null | undefined;
  const all: DecoderSpec[] = [];
  const walk = (d: DecoderSpec | null | undefined) => {
    if (!d) return;
    all.push(d);
    for (const c of d.decoders ?? []) walk(c);
  };
  walk(decoder);
  if (all.some((d) => d.type === 'ByteLevel')) return { kind: 'byte-level', trimLeadingSpace: false };
  const metaspace = all.find((d) => d.type === 'Metaspace');
  if (metaspace) {
    const prepends = metaspace.prepend_scheme !== undefined ? metaspace.prepend_scheme !== 'never' : metaspace.add_prefix_space !== false;
    return { kind: 'sentencepiece', trimLeadingSpace: prepends };
  }
  if (all.some((d) => d.type === 'Replace' && d.pattern?.String === '\u2581')) {
    const strip = all.find((d) => d.type === 'Strip' && d.content === ' ' && (d.start ?? 0) > 0);
    return { kind: 'sentencepiece', trimLeadingSpace: strip !== undefined };
  }
  return { kind: 'naive', trimLeadingSpace: false };
}
