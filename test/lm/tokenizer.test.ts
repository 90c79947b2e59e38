// Tokenizers and streaming detokenizers: round trips, and streamed text equal to the full
// decode with no broken characters, including characters split across byte tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer, loadTokenizer, detokenizerKind } from '../../src/lm/index.js';
import { TINY_LLAMA, byteLevelTokenizer, sentencePieceTokenizer, SENTENCEPIECE_CONFIG, wordPieceTokenizer } from './text-fixtures.js';

/** Streams `ids` through a fresh detokenizer; returns the segments read after each token and at the end. */
function stream(tok: Tokenizer, ids: number[]): string[] {
  const d = tok.detokenizer;
  const segments = ids.map((id) => { d.addToken(id); return d.lastSegment; });
  d.finalize();
  segments.push(d.lastSegment);
  return segments;
}

const TRICKY = 'Call me Ishmael. Naïve café—“quotes”, 🐳 whale 🐋, 日本語, e\u0301 (combining), 👨‍👩‍👧 family.';

test('the shipped tokenizer round-trips Moby-Dick and tricky UTF-8', () => {
  const tok = loadTokenizer(TINY_LLAMA);
  assert.equal(tok.detokenizerKind, 'byte-level');
  const text = readFileSync(join(TINY_LLAMA, '../../data/moby-dick.txt'), 'utf8').slice(0, 20000);
  assert.equal(tok.decode(tok.encode(text)), text);
  assert.equal(tok.decode(tok.encode(TRICKY)), TRICKY);
  // Special tokens are recognized in text and kept or skipped on decode.
  const ids = tok.encode('<|user|>\nhi<|end|>');
  assert.equal(ids[0], tok.tokenToId('<|user|>'));
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), '\nhi');
  assert.deepEqual([...tok.eosTokenIds].sort(), [0, 4]);
  assert.equal(tok.eosToken, '<|endoftext|>');
});

test('byte-level streaming: an emoji split over four byte tokens comes out whole, once', () => {
  const tok = new Tokenizer(byteLevelTokenizer());
  const ids = tok.encode('the whale 🐳!');
  assert.equal(tok.decode(ids), 'the whale 🐳!');
  const segments = stream(tok, ids);
  assert.equal(segments.join(''), 'the whale 🐳!');
  for (const s of segments) assert.ok(!s.includes('\uFFFD'), `segment ${JSON.stringify(s)} holds a broken character`);
  // The emoji's bytes: F0 9F 90 B3, one token each, so three tokens emit nothing.
  const fish = segments.slice(-6, -2); // then '!' and the (empty) finalize segment
  assert.deepEqual(fish, ['', '', '', '🐳']);
});

test('byte-level streaming equals decode on the shipped tokenizer, token by token', () => {
  const tok = loadTokenizer(TINY_LLAMA);
  const ids = tok.encode(TRICKY);
  const segments = stream(tok, ids);
  assert.equal(segments.join(''), TRICKY);
  // After every token, the streamed text is a prefix of the full text with no broken characters.
  let sofar = '';
  for (const s of segments) {
    sofar += s;
    assert.ok(TRICKY.startsWith(sofar));
  }
});

test('SentencePiece streaming: ▁ spaces, the leading space stripped, byte-fallback <0xF0>.. tokens', () => {
  const tok = new Tokenizer(sentencePieceTokenizer(), SENTENCEPIECE_CONFIG);
  assert.equal(tok.detokenizerKind, 'sentencepiece');
  const text = 'Hello world é🐳 whale';
  const ids = tok.encode(text);
  assert.equal(ids[0], 1, 'the post-processor adds <s>');
  const body = ids.slice(1);
  assert.ok(body.includes(tok.tokenToId('<0xF0>')!), 'the emoji falls back to bytes');
  assert.equal(tok.decode(body), text);
  const segments = stream(tok, body);
  assert.equal(segments.join(''), text);
  assert.equal(segments[0], 'Hello', 'the first token\'s ▁ is not a space');
  for (const s of segments) assert.ok(!s.includes('\uFFFD'));
  const emoji = segments.findIndex((s) => s.includes('🐳'));
  assert.deepEqual(segments.slice(emoji - 3, emoji + 1), ['', '', '', '🐳']);
});

test('an incomplete character at the end becomes U+FFFD on finalize', () => {
  const tok = new Tokenizer(sentencePieceTokenizer(), SENTENCEPIECE_CONFIG);
  const d = tok.detokenizer;
  for (const t of ['▁Hello', '<0xF0>', '<0x9F>']) d.addToken(tok.tokenToId(t)!);
  assert.equal(d.lastSegment, 'Hello');
  d.finalize();
  assert.equal(d.lastSegment, '\uFFFD');
  d.reset();
  d.addToken(tok.tokenToId('▁world')!);
  assert.equal(d.text, 'world');
});

test('WordPiece tokenizers stream through the naive detokenizer', () => {
  const tok = new Tokenizer(wordPieceTokenizer(), { clean_up_tokenization_spaces: false });
  assert.equal(tok.detokenizerKind, 'naive');
  const ids = tok.encode('Call me Ishmael. whales', { addSpecialTokens: false });
  const full = tok.decode(ids);
  assert.equal(full, 'call me ishmael. whales');
  assert.equal(stream(tok, ids).join(''), full);
});

test('detokenizerKind reads Metaspace decoders', () => {
  assert.deepEqual(detokenizerKind({ decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true } }), { kind: 'sentencepiece', trimLeadingSpace: true });
  assert.deepEqual(detokenizerKind({ decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Metaspace', prepend_scheme: 'never' }] } }), { kind: 'sentencepiece', trimLeadingSpace: false });
  assert.equal(detokenizerKind({ decoder: null }).kind, 'naive');
});

test('loadTokenizer: eos ids from the configs; missing and malformed files are named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lathe-tok-'));
  assert.throws(() => loadTokenizer(dir), (e: Error) => e.message.includes(join(dir, 'tokenizer.json')) && e.message.includes('missing'));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(byteLevelTokenizer()));
  writeFileSync(join(dir, 'tokenizer_config.json'), '{ "eos_token": "<|end|>", ');
  assert.throws(() => loadTokenizer(dir), (e: Error) => e.message.includes('tokenizer_config.json') && e.message.includes('not valid JSON'));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|end|>' }));
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [5, 6] }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ eos_token_id: 7 }));
  const tok = loadTokenizer(dir);
  assert.deepEqual([...tok.eosTokenIds].sort((a, b) => a - b), [5, 6, 7, 263]);
  tok.addEosToken('the');
  assert.ok(tok.eosTokenIds.has(tok.tokenToId('the')!));
  assert.throws(() => tok.addEosToken('not-a-token'), /not a token/);
});

// References from Hugging Face's `tokenizers` and `transformers` (scripts/fixtures/lm_text.py,
// run on the GPU machine): two tokenizers trained there, and the shipped one.
const FIXTURES = join(TINY_LLAMA, '../../test/fixtures/lm_text');
interface Encoded { ids: number[]; ids_special: number[]; decode: string; decode_special: string; decode_skip: string }
const reference = JSON.parse(readFileSync(join(FIXTURES, 'reference.json'), 'utf8')) as {
  encode: Record<string, Record<string, Encoded>>; excerpt_ids: Record<string, number[]>;
};
const referenceTokenizers: Record<string, string> = {
  bytelevel: join(FIXTURES, 'bytelevel'), sentencepiece: join(FIXTURES, 'sentencepiece'), 'tiny-llama': TINY_LLAMA,
};

for (const [name, dir] of Object.entries(referenceTokenizers)) {
  test(`${name}: ids, decodes and streamed text equal transformers'`, () => {
    const tok = loadTokenizer(dir);
    for (const [text, ref] of Object.entries(reference.encode[name])) {
      const what = `${name} ${JSON.stringify(text)}`;
      assert.deepEqual(tok.encode(text, { addSpecialTokens: false }), ref.ids, what);
      assert.deepEqual(tok.encode(text), ref.ids_special, what);
      assert.equal(tok.decode(ref.ids), ref.decode, what);
      assert.equal(tok.decode(ref.ids_special), ref.decode_special, what);
      assert.equal(tok.decode(ref.ids_special, { skipSpecialTokens: true }), ref.decode_skip, what);
      assert.equal(stream(tok, ref.ids).join(''), ref.decode, `${what}, streamed`);
    }
  });
}

test('the shipped tokenizer encodes the start of Moby-Dick as transformers does', () => {
  const text = readFileSync(join(TINY_LLAMA, '../../data/moby-dick.txt'), 'utf8').slice(0, 3000);
  assert.deepEqual(loadTokenizer(TINY_LLAMA).encode(text, { addSpecialTokens: false }), reference.excerpt_ids['tiny-llama']);
});
