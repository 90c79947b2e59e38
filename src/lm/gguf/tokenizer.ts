// A GGUF file's tokenizer (tokenizer.ggml.*) as the tokenizer.json and tokenizer_config.json
// that @huggingface/tokenizers and lathe's Tokenizer read, and back:
// - 'gpt2': byte-level BPE (tokens, merges), its pre-tokenizer regex chosen by
//   tokenizer.ggml.pre as llama.cpp does;
// - 'llama': SentencePiece BPE with byte fallback; merges are recovered from the scores as
//   transformers' SentencePieceExtractor does (a merge's rank is its result's score), and the
//   "▁" prefix follows llama.cpp (before the text and after each special token, unless
//   add_space_prefix is false).
import type { GgufValue } from '../../io/index.js';
import type { ModelConfig } from '../models/base.js';

type Metadata = Record<string, GgufValue>;
type Json = Record<string, unknown>;

/** llama.cpp's token types. */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const TEKKEN_REGEX = "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const byteLevel = (useRegex: boolean): Json => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
const split = (regex: string): Json => ({
  type: 'Sequence',
  pretokenizers: [{ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false }, byteLevel(false)],
});

/** tokenizer.ggml.pre -> the pre-tokenizer (llama.cpp's names; GPT-2's regex for the others). */
const PRE_TOKENIZERS: Record<string, Json> = {
  'gpt-2': byteLevel(true), default: byteLevel(true),
  'llama-bpe': split(LLAMA3_REGEX), llama3: split(LLAMA3_REGEX), 'smaug-bpe': split(LLAMA3_REGEX), dbrx: split(LLAMA3_REGEX),
  qwen2: split(QWEN2_REGEX), 'deepseek-r1-qwen': split(QWEN2_REGEX), tekken: split(TEKKEN_REGEX),
};

function strings(meta: Metadata, key: string, where: string, required = true): string[] | null {
  const v = meta[key];
  if (v === undefined && !required) return null;
  if (!globalThis.Array.isArray(v) || v.some((t) => typeof t !== 'string')) throw new Error(`[loadTokenizer] ${where}: metadata '${key}' must be a list of strings`);
  return v as string[];
}

function numbers(meta: Metadata, key: string, n: number, fallback: number): number[] {
  const v = meta[key];
  if (!globalThis.Array.isArray(v)) return new globalThis.Array<number>(n).fill(fallback);
  return v.map((x) => Number(x));
}

const id = (meta: Metadata, key: string): number | null => {
  const v = meta[`tokenizer.ggml.${key}`];
  return typeof v === 'number' || typeof v === 'bigint' ? Number(v) : null;
};
const flag = (meta: Metadata, key: string, fallback: boolean): boolean => {
  const v = meta[`tokenizer.ggml.${key}`];
  return typeof v === 'boolean' ? v : fallback;
};

/** generation_config.json's token ids from the tokenizer metadata. */
export function generationConfigFromGguf(meta: Metadata): ModelConfig {
  const out: ModelConfig = {};
  const bos = id(meta, 'bos_token_id'), eos = id(meta, 'eos_token_id'), eot = id(meta, 'eot_token_id'), eom = id(meta, 'eom_token_id');
  if (bos !== null) out.bos_token_id = bos;
  const eosIds = [...new Set([eos, eot, eom].filter((x): x is number => x !== null))];
  if (eosIds.length) out.eos_token_id = eosIds.length === 1 ? eosIds[0] : eosIds;
  const pad = id(meta, 'padding_token_id');
  if (pad !== null) out.pad_token_id = pad;
  return out;
}

/** transformers' SentencePieceExtractor: every split of a piece into two pieces, ranked by the piece's score. */
function mergesFromScores(tokens: string[], scores: number[], types: number[]): [string, string][] {
  const vocab = new Map<string, number>();
  tokens.forEach((t, i) => { if (!vocab.has(t)) vocab.set(t, i); });
  const merges: { l: string; r: string; score: number; li: number; ri: number }[] = [];
  tokens.forEach((piece, i) => {
    if (types[i] !== TokenType.NORMAL) return;
    const chars = globalThis.Array.from(piece);
    const local: typeof merges = [];
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join(''), r = chars.slice(k).join('');
      const li = vocab.get(l), ri = vocab.get(r);
      if (li !== undefined && ri !== undefined) local.push({ l, r, score: scores[i], li, ri });
    }
    local.sort((a, b) => a.li - b.li || a.ri - b.ri);
    merges.push(...local);
  });
  merges.sort((a, b) => b.score - a.score); // stable: ties keep vocabulary order
  return merges.map((m) => [m.l, m.r]);
}

function postProcessor(bos: string | null, eos: string | null, ids: Map<string, number>): Json {
  const seq = (s: string) => ({ Sequence: { id: s, type_id: 0 } });
  const special = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  const single = [...(bos ? [special(bos)] : []), seq('A'), ...(eos ? [special(eos)] : [])];
  const pair = [...single, ...(bos ? [special(bos)] : []), seq('B'), ...(eos ? [special(eos)] : [])];
  const specials: Json = {};
  for (const t of [bos, eos]) if (t) specials[t] = { id: t, ids: [ids.get(t)], tokens: [t] };
  return { type: 'TemplateProcessing', single, pair, special_tokens: specials };
}

/**
 * tokenizer.json and tokenizer_config.json for a GGUF file's tokenizer metadata, or null when
 * the file has none. `where` names the file in errors.
 */
export function tokenizerFromGguf(meta: Metadata, where: string): { tokenizerJson: Json; tokenizerConfig: Json } | null {
  const model = meta['tokenizer.ggml.model'];
  if (model === undefined || model === 'none' || model === 'no_vocab') return null;
  if (model !== 'gpt2' && model !== 'llama')
    throw new Error(`[loadTokenizer] ${where}: tokenizer model '${String(model)}' is not supported (supported: gpt2, llama)`);
  const tokens = strings(meta, 'tokenizer.ggml.tokens', where)!;
  const types = numbers(meta, 'tokenizer.ggml.token_type', tokens.length, TokenType.NORMAL);
  const tokenOf = (key: string) => { const i = id(meta, key); return i !== null && i >= 0 && i < tokens.length ? tokens[i] : null; };
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => { if (!ids.has(t)) ids.set(t, i); });
  const vocab: Record<string, number> = {};
  for (const [t, i] of ids) vocab[t] = i;

  const added = tokens.flatMap((content, i) => {
    const t = types[i];
    if (t !== TokenType.CONTROL && t !== TokenType.USER_DEFINED && t !== TokenType.UNKNOWN) return [];
    return [{ id: i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: t !== TokenType.USER_DEFINED }];
  });
  const sp = model === 'llama';
  const bos = tokenOf('bos_token_id'), eos = tokenOf('eos_token_id'), unk = tokenOf('unknown_token_id'), pad = tokenOf('padding_token_id');
  const addBos = flag(meta, 'add_bos_token', sp) && bos !== null;
  const addEos = flag(meta, 'add_eos_token', false) && eos !== null;
  let tokenizerJson: Json;
  if (!sp) {
    const pre = String(meta['tokenizer.ggml.pre'] ?? 'default');
    let preTokenizer = PRE_TOKENIZERS[pre];
    if (!preTokenizer) {
      process.emitWarning(`${where}: tokenizer.ggml.pre '${pre}' is not known to lathe; using GPT-2's pre-tokenizer (known: ${Object.keys(PRE_TOKENIZERS).join(', ')})`);
      preTokenizer = PRE_TOKENIZERS.default;
    }
    const merges = (strings(meta, 'tokenizer.ggml.merges', where, false) ?? []).map((m) => {
      const at = m.indexOf(' ', 1);
      return [m.slice(0, at), m.slice(at + 1)];
    });
    tokenizerJson = {
      version: '1.0', truncation: null, padding: null, added_tokens: added,
      normalizer: pre === 'qwen2' ? { type: 'NFC' } : null,
      pre_tokenizer: preTokenizer,
      post_processor: addBos || addEos ? postProcessor(addBos ? bos : null, addEos ? eos : null, ids) : byteLevel(false),
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: false, byte_fallback: false, ignore_merges: pre === 'llama-bpe' || pre === 'llama3', vocab, merges,
      },
    };
  } else {
    const scores = numbers(meta, 'tokenizer.ggml.scores', tokens.length, 0);
    const spacePrefix = flag(meta, 'add_space_prefix', true);
    const replace = { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' };
    tokenizerJson = {
      version: '1.0', truncation: null, padding: null, added_tokens: added,
      normalizer: spacePrefix ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' }, replace] } : replace,
      pre_tokenizer: null,
      post_processor: postProcessor(addBos ? bos : null, addEos ? eos : null, ids),
      decoder: {
        type: 'Sequence',
        decoders: [
          { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' },
          ...(spacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
        ],
      },
      model: {
        type: 'BPE', dropout: null, unk_token: unk ?? null, continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: mergesFromScores(tokens, scores, types),
      },
    };
  }
  const tokenizerConfig: Json = {
    tokenizer_class: sp ? 'LlamaTokenizerFast' : 'PreTrainedTokenizerFast',
    bos_token: bos, eos_token: eos, unk_token: unk, pad_token: pad,
    add_bos_token: addBos, add_eos_token: addEos, clean_up_tokenization_spaces: false,
  };
  const template = meta['tokenizer.chat_template'];
  if (typeof template === 'string') tokenizerConfig.chat_template = template;
  const ctx = Object.entries(meta).find(([k]) => k.endsWith('.context_length'));
  if (ctx) tokenizerConfig.model_max_length = Number(ctx[1]);
  return { tokenizerJson, tokenizerConfig };
}

// ---- and back: tokenizer.json to GGUF metadata (saveGgufModel) ----

const PRE_NAMES: [string, (p: Json) => boolean][] = [
  ['gpt-2', (p) => p.type === 'ByteLevel' && p.use_regex !== false],
  ['llama-bpe', (p) => regexOf(p) === LLAMA3_REGEX],
  ['qwen2', (p) => regexOf(p) === QWEN2_REGEX],
  ['tekken', (p) => regexOf(p) === TEKKEN_REGEX],
];

function regexOf(p: Json): string | null {
  const list = (p.type === 'Sequence' ? p.pretokenizers : [p]) as Json[];
  const s = list.find((x) => x.type === 'Split');
  return ((s?.pattern as Json | undefined)?.Regex as string | undefined) ?? null;
}

/** GGUF tokenizer metadata for a Hugging Face tokenizer (as llama.cpp's convert writes it). */
export function ggufTokenizerMetadata(tokenizerJson: Json, tokenizerConfig: Json, chatTemplate: string | null, where: string): Metadata {
  const model = tokenizerJson.model as Json | undefined;
  if (!model || model.type !== 'BPE') throw new Error(`[saveGgufModel] ${where}: only BPE tokenizers (byte-level or SentencePiece-style) can be written to GGUF, got ${String(model?.type)}`);
  const vocab = model.vocab as Record<string, number>;
  const added = (tokenizerJson.added_tokens ?? []) as { id: number; content: string; special?: boolean }[];
  const n = Math.max(...Object.values(vocab), ...added.map((t) => t.id)) + 1;
  const tokens = new globalThis.Array<string>(n).fill('');
  const types = new globalThis.Array<number>(n).fill(TokenType.UNUSED);
  for (const [t, i] of Object.entries(vocab)) { tokens[i] = t; types[i] = TokenType.NORMAL; }
  for (const t of added) { tokens[t.id] = t.content; types[t.id] = t.special ? TokenType.CONTROL : TokenType.USER_DEFINED; }
  tokens.forEach((t, i) => { if (types[i] === TokenType.UNUSED) tokens[i] = `[PAD${i}]`; });
  const byteFallback = model.byte_fallback === true;
  const str = (v: unknown) => (typeof v === 'string' ? v : (v as { content?: string } | null)?.content ?? null);
  const idOf = (key: string) => { const t = str(tokenizerConfig[key]); const i = t === null ? -1 : tokens.indexOf(t); return i >= 0 ? i : null; };
  const meta: Metadata = {};
  const merges = ((model.merges ?? []) as (string | [string, string])[]).map((m) => (typeof m === 'string' ? m : m.join(' ')));
  if (byteFallback) {
    tokens.forEach((t, i) => { if (types[i] === TokenType.NORMAL && /^<0x[0-9A-F]{2}>$/.test(t)) types[i] = TokenType.BYTE; });
    if (model.unk_token && vocab[model.unk_token as string] !== undefined) types[vocab[model.unk_token as string]] = TokenType.UNKNOWN;
    // SentencePiece's convention: a piece's score ranks the merge that makes it (earlier merges score higher).
    const rank = new Map<string, number>();
    merges.forEach((m, r) => { const p = m.replace(' ', ''); if (!rank.has(p)) rank.set(p, r); });
    meta['tokenizer.ggml.model'] = 'llama';
    meta['tokenizer.ggml.scores'] = tokens.map((t, i) => (types[i] !== TokenType.NORMAL ? -1000 : rank.has(t) ? -rank.get(t)! : -(merges.length + i)));
    const norm = tokenizerJson.normalizer as Json | null;
    const pre = tokenizerJson.pre_tokenizer as Json | null;
    const prepends = JSON.stringify(norm ?? {}).includes('"Prepend"') || (pre?.type === 'Metaspace' && pre.prepend_scheme !== 'never');
    meta['tokenizer.ggml.add_space_prefix'] = prepends;
  } else {
    const pre = tokenizerJson.pre_tokenizer as Json | null;
    const name = pre ? PRE_NAMES.find(([, test]) => test(pre))?.[0] : undefined;
    if (!name) throw new Error(`[saveGgufModel] ${where}: the tokenizer's pre-tokenizer (${JSON.stringify(pre)}) matches none llama.cpp knows (${PRE_NAMES.map(([k]) => k).join(', ')})`);
    meta['tokenizer.ggml.model'] = 'gpt2';
    meta['tokenizer.ggml.pre'] = name;
  }
  meta['tokenizer.ggml.tokens'] = tokens;
  meta['tokenizer.ggml.token_type'] = types;
  if (!byteFallback) meta['tokenizer.ggml.merges'] = merges;
  for (const [key, cfg] of [['bos_token_id', 'bos_token'], ['eos_token_id', 'eos_token'], ['unknown_token_id', 'unk_token'], ['padding_token_id', 'pad_token']] as const) {
    const i = idOf(cfg);
    if (i !== null) meta[`tokenizer.ggml.${key}`] = i;
  }
  const post = JSON.stringify(tokenizerJson.post_processor ?? {});
  const bos = str(tokenizerConfig.bos_token);
  meta['tokenizer.ggml.add_bos_token'] = typeof tokenizerConfig.add_bos_token === 'boolean' ? tokenizerConfig.add_bos_token : bos !== null && post.includes(`"${bos}"`);
  meta['tokenizer.ggml.add_eos_token'] = tokenizerConfig.add_eos_token === true;
  if (chatTemplate !== null) meta['tokenizer.chat_template'] = chatTemplate;
  return meta;
}
