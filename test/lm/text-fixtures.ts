// Small tokenizer.json files built in code, one per detokenizer kind: a byte-level BPE
// (GPT-2 / Llama 3 style), a SentencePiece BPE with byte fallback (Llama 2 style) and a
// WordPiece (BERT style, detokenized naively). And the shipped model's folder.
import { fileURLToPath } from 'node:url';

export const TINY_LLAMA = fileURLToPath(new URL('../../models/tiny-llama', import.meta.url));

const spec = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

/** GPT-2's byte -> character table. */
export function byteChars(): string[] {
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let extra = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(keep(b) ? b : 256 + extra++));
}

/** Bytes at ids 0..255, merges building " whale" and "the", then <|end|> (special, 262). */
export function byteLevelTokenizer(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  byteChars().forEach((c, i) => { vocab[c] = i; });
  const merges = ['Ġ w', 'h a', 'Ġw ha', 'l e', 'Ġwha le', 't h', 'th e'];
  merges.forEach((m, i) => { vocab[m.replace(' ', '')] = 256 + i; });
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [spec(263, '<|end|>')],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
    post_processor: { type: 'ByteLevel', ...byteLevel },
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab: { ...vocab, '<|end|>': 263 }, merges },
  };
}

/** Llama 2 style: ▁ for spaces, <0xAB> byte-fallback tokens, a <s> prepended, the first space stripped on decode. */
export function sentencePieceTokenizer(): Record<string, unknown> {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  let next = 259;
  for (const c of ['▁', 'H', 'e', 'l', 'o', 'w', 'r', 'd', 'a', 'h']) vocab[c] = next++;
  const merges = ['l l', '▁ H', 'e ll', 'ell o', '▁H ello', '▁ w', 'o r', '▁w or', 'l d', '▁wor ld', 'h a', '▁w ha', 'l e', '▁wha le'];
  for (const m of merges) vocab[m.replace(' ', '')] = next++;
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [spec(0, '<unk>'), spec(1, '<s>'), spec(2, '</s>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges },
  };
}

export const SENTENCEPIECE_CONFIG = { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', add_bos_token: true, clean_up_tokenization_spaces: false };

/** BERT style: lowercased words and ##-continuations. */
export function wordPieceTokenizer(): Record<string, unknown> {
  const vocab = { '[UNK]': 0, '[CLS]': 1, '[SEP]': 2, call: 3, me: 4, ish: 5, '##mae': 6, '##l': 7, '.': 8, whale: 9, '##s': 10 };
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [spec(0, '[UNK]'), spec(1, '[CLS]'), spec(2, '[SEP]')],
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}
