// Constrained decoding for response_format: the recognizer on strings it must accept or
// reject, schema errors, token masks against a brute-force check of every token, the
// processor's API, generation with the shipped model (every output parses and matches its
// schema, checked by a validator written here), and the masking cost on a 128k vocabulary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as mx from '../../src/index.js';
import { load, generate, generateStep, makeLogitsProcessors, Tokenizer } from '../../src/lm/index.js';
import {
  JsonRecognizer, SchemaError, makeResponseFormatProcessor, tokenTrie, maskCache,
  type ResponseFormat, type TokenVocabulary,
} from '../../src/lm/constrained/index.js';
import { TINY_LLAMA, sentencePieceTokenizer, SENTENCEPIECE_CONFIG, wordPieceTokenizer } from './text-fixtures.js';

const { model, tokenizer } = load(TINY_LLAMA);
const schemaFormat = (schema: unknown, strict = false): ResponseFormat => ({ type: 'json_schema', json_schema: { name: 'test', schema: schema as Record<string, unknown>, strict } });
const JSON_OBJECT: ResponseFormat = { type: 'json_object' };

function check(format: ResponseFormat, accepted: string[], rejected: string[]): void {
  for (const t of accepted) assert.ok(JsonRecognizer.accepts(format, t), `should accept ${JSON.stringify(t)}`);
  for (const t of rejected) assert.ok(!JsonRecognizer.accepts(format, t), `should reject ${JSON.stringify(t)}`);
}

// ---- an independent validator for the schemas used here (JSON Schema semantics) ----
type S = Record<string, unknown>;
function validate(v: unknown, s: S, root: S = s): string | null {
  if (s.$ref) return validate(v, (root.$defs as S)[(s.$ref as string).split('/').pop()!] as S, root);
  if (s.anyOf) return (s.anyOf as S[]).some((o) => validate(v, o, root) === null) ? null : 'no anyOf option matches';
  if (s.enum) return (s.enum as unknown[]).some((e) => JSON.stringify(e) === JSON.stringify(v)) ? null : `not in enum: ${JSON.stringify(v)}`;
  if ('const' in s) return JSON.stringify(s.const) === JSON.stringify(v) ? null : 'not the const';
  const types = s.type === undefined ? null : ([] as string[]).concat(s.type as string);
  const typeOk = (t: string) => (t === 'null' ? v === null : t === 'array' ? Array.isArray(v) : t === 'integer' ? Number.isInteger(v) : t === 'object' ? typeof v === 'object' && v !== null && !Array.isArray(v) : typeof v === t);
  if (types && !types.some(typeOk)) return `expected ${types.join('|')}, got ${JSON.stringify(v)}`;
  if (typeof v === 'string') {
    const n = [...v].length;
    if (s.minLength !== undefined && n < (s.minLength as number)) return 'too short';
    if (s.maxLength !== undefined && n > (s.maxLength as number)) return 'too long';
    if (s.pattern !== undefined && !new RegExp(s.pattern as string, 'u').test(v)) return 'pattern fails';
  }
  if (Array.isArray(v)) {
    if (s.minItems !== undefined && v.length < (s.minItems as number)) return 'too few items';
    if (s.maxItems !== undefined && v.length > (s.maxItems as number)) return 'too many items';
    for (const x of v) { const e = s.items ? validate(x, s.items as S, root) : null; if (e) return e; }
  }
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const o = v as S, props = (s.properties ?? {}) as Record<string, S>;
    for (const r of (s.required ?? []) as string[]) if (!(r in o)) return `missing ${r}`;
    for (const [k, x] of Object.entries(o)) {
      if (k in props) { const e = validate(x, props[k], root); if (e) return `${k}: ${e}`; }
      else if (s.additionalProperties === false) return `unexpected key ${k}`;
    }
  }
  return null;
}

test('json_object: objects of any JSON, nothing else', () => {
  check(JSON_OBJECT,
    ['{}', '{"a": 1}', '{"a":[1,-2.5e3,0.5E-7,"x",null,true,false,{"b":{}}],"c":""}', '{"esc": "q\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9"}', '{"utf8": "é漢😀"}', ' {"leading space": 0}', '{"a": -0}'],
    ['', '[]', '"x"', '1', '{', '{"a":}', '{"a": 01}', '{"a": 1.}', '{"a": .5}', '{"a": +1}', '{"a", 1}', '{"a": 1,}', '{a: 1}', "{'a': 1}", '{"a": 1} ', '{"a": 1}{}',
      '{"lone": "\\ud800"}', '{"bad escape": "\\x41"}', '{"raw newline": "a\nb"}', '{"a": tru}', '{"a": NaN}', '{"a": 1}}']);
  // Invalid UTF-8 inside strings: overlong, surrogate, stray continuation.
  for (const bytes of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x80], [0xf5, 0x80, 0x80, 0x80]]) {
    const r = JsonRecognizer.fromResponseFormat(JSON_OBJECT);
    assert.ok(r.feed('{"a": "'));
    assert.equal(r.feed(Uint8Array.from(bytes)), false, `bytes ${bytes}`);
  }
});

test('whitespace runs are bounded; numbers have bounded digits', () => {
  check(JSON_OBJECT, ['{' + ' '.repeat(16) + '"a":1}', '{\n  "a": {\n    "b": [\n      1\n    ]\n  }\n}'], ['{' + ' '.repeat(17) + '"a":1}']);
  assert.ok(JsonRecognizer.accepts(JSON_OBJECT, '{"a":1}'.replace(':', ' : '), { maxWhitespace: 1 }));
  assert.ok(!JsonRecognizer.accepts(JSON_OBJECT, '{"a":  1}', { maxWhitespace: 1 }));
  check(JSON_OBJECT, [`{"a": ${'9'.repeat(15)}}`, `{"a": 1.${'5'.repeat(15)}e-99}`], [`{"a": ${'9'.repeat(16)}}`, '{"a": 1e100}']);
});

test('objects: properties in order, required ones present, optional ones skippable, no others', () => {
  const f = schemaFormat({ type: 'object', properties: { a: { type: 'integer' }, b: { type: 'string' }, c: { type: 'boolean' } }, required: ['a', 'c'], additionalProperties: false });
  check(f, ['{"a": 1, "b": "x", "c": true}', '{"a": 1, "c": false}'],
    ['{"a": 1}', '{"c": true, "a": 1}', '{"a": 1, "b": "x"}', '{"a": 1, "c": true, "d": 0}', '{"a": 1, "c": true, "b": "x"}', '{"a": "1", "c": true}', '{"a": 1, "b": "x", "c": true,}']);
  // Strict mode: an object without properties is {}; otherwise free keys with additionalProperties' schema.
  check(schemaFormat({ type: 'object' }, true), ['{}'], ['{"a": 1}']);
  check(schemaFormat({ type: 'object', additionalProperties: { type: 'integer' } }), ['{}', '{"x": 1, "y": 2}'], ['{"x": "1"}']);
  check(schemaFormat({ type: 'object', additionalProperties: false }), ['{}'], ['{"x": 1}']);
  check(schemaFormat({ type: 'object', properties: { 'ü "q"': { const: 1 } }, required: ['ü "q"'] }), ['{"ü \\"q\\"": 1}'], ['{"ü \\"q\\"": 2}']);
});

test('arrays, enum, const, anyOf/oneOf, type lists, nullable, $ref, allOf of one', () => {
  check(schemaFormat({ type: 'array', items: { enum: ['red', 'green', 7, null] }, minItems: 1, maxItems: 3 }),
    ['["red"]', '[7, null, "green"]', '[ "red" , 7 ]'], ['[]', '["blue"]', '[1, 2, 3, 4]', '["red", "red", "red", "red"]', '[7.0]']);
  check(schemaFormat({ enum: [1, 12, 123] }), ['1', '12', '123'], ['2', '1234', '13']);
  check(schemaFormat({ const: { k: [1, 'x'] } }), ['{"k":[1,"x"]}'], ['{"k": [1, "x"]}', '{"k":[1]}']);
  check(schemaFormat({ anyOf: [{ type: 'integer' }, { type: 'string', maxLength: 2 }, { type: 'object', properties: { x: { type: 'null' } }, required: ['x'] }] }),
    ['5', '"ab"', '{"x": null}'], ['5.5', '"abc"', '{}', 'null']);
  check(schemaFormat({ oneOf: [{ type: 'boolean' }, { type: 'null' }] }), ['true', 'null'], ['0']);
  check(schemaFormat({ type: ['number', 'null'] }), ['1.5', 'null'], ['"1"']);
  check(schemaFormat({ type: 'string', nullable: true }), ['"x"', 'null'], ['1']);
  check(schemaFormat({ type: 'string', enum: ['a', 1] }), ['"a"'], ['1']);
  const tree = { $defs: { node: { type: 'object', properties: { v: { type: 'integer' }, kids: { type: 'array', items: { $ref: '#/$defs/node' } } }, required: ['v'], additionalProperties: false } }, $ref: '#/$defs/node' };
  check(schemaFormat(tree), ['{"v": 1}', '{"v": 1, "kids": [{"v": 2, "kids": []}, {"v": 3}]}'], ['{"v": 1, "kids": [{}]}']);
  check(schemaFormat({ definitions: { n: { type: 'integer' } }, allOf: [{ $ref: '#/definitions/n' }] }), ['3'], ['"3"']);
  check(schemaFormat({ type: 'string', format: 'date-time', description: 'ignored' }), ['"anything"'], []);
  check(schemaFormat(true), ['1', '"x"', '[{}]'], []);
});

test('strings: lengths count characters, patterns run on characters', () => {
  check(schemaFormat({ type: 'string', minLength: 2, maxLength: 3 }), ['"ab"', '"漢字😀"', '"a\\n"', '"\\u00e9\\u00e9"'], ['"a"', '"abcd"', '"😀"', '"漢字😀x"']);
  const p = schemaFormat({ type: 'string', pattern: '^[A-Z][a-z]+-\\d{2,3}$' });
  check(p, ['"Ab-12"', '"Whale-123"', '"Wh\\u0061le-12"'], ['"ab-12"', '"Ab-1"', '"Ab-1234"', '"Ab_12"']);
  check(schemaFormat({ type: 'string', pattern: 'é+' }), ['"xéy"', '"é"'], ['"e"', '""']); // unanchored: anywhere
  check(schemaFormat({ type: 'string', pattern: '^(?:a|bc)*$' }), ['""', '"abca"'], ['"b"']);
  check(schemaFormat({ type: 'string', pattern: '^[^0-9\\s]{2}$' }), ['"ab"', '"é!"'], ['"a1"', '"a "']);
});

test('unsupported or malformed schemas throw SchemaError naming the keyword', () => {
  const cases: [unknown, string][] = [
    [{ type: 'integer', minimum: 0 }, 'minimum'], [{ type: 'number', multipleOf: 2 }, 'multipleOf'],
    [{ type: 'object', patternProperties: {} }, 'patternProperties'], [{ type: 'array', prefixItems: [] }, 'prefixItems'],
    [{ type: 'array', uniqueItems: true }, 'uniqueItems'], [{ not: {} }, 'not'], [{ if: {}, then: {} }, 'if'],
    [{ allOf: [{ type: 'string' }, { maxLength: 2 }] }, 'allOf'], [{ $ref: 'http://example.com/s.json' }, '$ref'],
    [{ $ref: '#/$defs/missing' }, '$ref'], [{ type: 'date' }, 'type'], [{ type: 'string', pattern: '(?=a)b' }, 'pattern'],
    [{ type: 'string', pattern: '(a)\\1' }, 'pattern'], [{ type: 'string', pattern: 'a^b' }, 'pattern'], [{ type: 'string', pattern: '\\p{L}' }, 'pattern'],
    [{ type: 'object', properties: { a: {} }, required: ['b'] }, 'required'], [{ type: 'string', minLength: 3, maxLength: 2 }, 'minLength'],
    [{ type: 'array', items: [{}, {}] }, 'items'], [{ enum: [] }, 'enum'], [{ type: 'string', enum: [1, 2] }, 'enum'],
  ];
  for (const [schema, keyword] of cases) {
    assert.throws(() => makeResponseFormatProcessor(tokenizer, schemaFormat(schema)), (e: unknown) => {
      assert.ok(e instanceof SchemaError, `${JSON.stringify(schema)}: ${e}`);
      assert.equal(e.keyword, keyword, `${JSON.stringify(schema)}: ${e.message}`);
      assert.match(e.message, /^\[responseFormat\]/);
      assert.ok(e.message.includes(keyword === 'type' ? 'date' : keyword), e.message);
      return true;
    });
  }
  assert.throws(() => makeResponseFormatProcessor(tokenizer, { type: 'json_schema' } as unknown as ResponseFormat), /json_schema must be an object/);
  assert.throws(() => makeResponseFormatProcessor(tokenizer, { type: 'json_schema', json_schema: { schema: {} } } as unknown as ResponseFormat), /name must be a non-empty string/);
  assert.throws(() => makeResponseFormatProcessor(tokenizer, { type: 'yaml' } as unknown as ResponseFormat), SchemaError);
  assert.equal(makeResponseFormatProcessor(tokenizer, { type: 'text' }), null);
  const nested = (levels: number) => { let d: Record<string, unknown> = { type: 'integer' }; for (let i = 0; i < levels; i++) d = { type: 'array', items: d }; return d; };
  assert.throws(() => makeResponseFormatProcessor(tokenizer, schemaFormat(nested(100))), /nests deeper than 64 levels/);
  assert.throws(() => makeResponseFormatProcessor(tokenizer, schemaFormat(nested(20000))), SchemaError); // no stack overflow escapes
  const wordPiece = new Tokenizer(wordPieceTokenizer(), { eos_token: '[SEP]' });
  assert.throws(() => makeResponseFormatProcessor(wordPiece, JSON_OBJECT), /byte-level BPE or SentencePiece/);
});

/** Every non-special token whose bytes keep `rec` alive: the mask a brute-force search finds. */
function bruteForce(vocab: Tokenizer, rec: JsonRecognizer): number[] {
  const out: number[] = [];
  for (let id = 0, n = vocab.vocabSize; id < n; id++) {
    if (vocab.isSpecial(id) || vocab.eosTokenIds.has(id)) continue;
    if (rec.grammar.advance(rec.state, vocab.tokenBytes(id)).length > 0) out.push(id);
  }
  return out;
}

test('masks equal a brute-force check of every token along random walks, with no dead ends', () => {
  let seed = 11;
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const formats = [
    JSON_OBJECT,
    schemaFormat({ type: 'object', properties: { a: { type: 'string', minLength: 3, maxLength: 5 }, b: { type: 'string', pattern: '^(é|ab)+\\d$' }, c: { type: 'array', items: { type: 'integer' }, minItems: 1, maxItems: 3 } }, required: ['a', 'b', 'c'] }),
    schemaFormat({ type: 'object', properties: { u: { anyOf: [{ type: 'string', maxLength: 2 }, { type: 'number' }, { type: 'object', properties: { x: { const: 'y' } }, required: ['x'] }] }, v: { enum: ['red', 'reddish', 1, 12, null] } }, required: ['u', 'v'] }),
  ];
  let finished = 0;
  for (const format of formats) {
    for (let walk = 0; walk < 4; walk++) {
      const cp = makeResponseFormatProcessor(tokenizer, format as ResponseFormat & { type: 'json_schema' }, { maxWhitespace: 2 });
      const rec = JsonRecognizer.fromResponseFormat(format, { maxWhitespace: 2 });
      const ids: number[] = [];
      for (let step = 0; step < 60; step++) {
        const allowed = [...cp.allowedTokens()];
        const nonEos = allowed.filter((t) => !tokenizer.eosTokenIds.has(t));
        assert.deepEqual(nonEos, bruteForce(tokenizer, rec), `after ${JSON.stringify(tokenizer.decode(ids))}`);
        assert.equal(allowed.some((t) => tokenizer.eosTokenIds.has(t)), rec.isComplete());
        assert.ok(nonEos.length > 0 || cp.isComplete(), `dead end after ${JSON.stringify(tokenizer.decode(ids))}`);
        if (cp.isComplete() && (nonEos.length === 0 || rand() < 0.3)) {
          const value = JSON.parse(tokenizer.decode(ids));
          if (format !== JSON_OBJECT) assert.equal(validate(value, (format as { json_schema: { schema: S } }).json_schema.schema), null);
          finished++;
          break;
        }
        const t = nonEos[Math.floor(rand() * nonEos.length)];
        cp.accept(t);
        assert.ok(rec.feed(tokenizer.tokenBytes(t)));
        ids.push(t);
      }
    }
  }
  assert.ok(finished >= 6, `only ${finished} of 12 walks finished`);
});

test('SentencePiece vocabularies (byte fallback) mask the same way', () => {
  const sp = new Tokenizer(sentencePieceTokenizer(), SENTENCEPIECE_CONFIG);
  const format = schemaFormat({ type: 'object', properties: { w: { enum: ['Hello', 'whale'] } }, required: ['w'] });
  const cp = makeResponseFormatProcessor(sp, format);
  const rec = JsonRecognizer.fromResponseFormat(format);
  for (const piece of ['{', '"', 'w', '"', ':', '"', 'w', 'ha', 'le', '"', '}']) {
    assert.deepEqual([...cp.allowedTokens()], bruteForce(sp, rec));
    const id = [...cp.allowedTokens()].find((t) => new TextDecoder().decode(sp.tokenBytes(t)) === piece)!;
    assert.ok(id !== undefined, `no allowed token for ${piece}`);
    cp.accept(id);
    rec.feed(sp.tokenBytes(id));
  }
  assert.deepEqual([...cp.allowedTokens()], [...sp.eosTokenIds]);
});

test('the processor masks logits rows; accept, isComplete, clone and the end of sequence', () => {
  const cp = makeResponseFormatProcessor(tokenizer, schemaFormat({ type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] }));
  const V = 1024;
  const logits = mx.reshape(mx.astype(mx.arange(2 * V), mx.float32), [2, V]);
  const masked = cp.processor(mx.array([1, 2], mx.int32), logits).tolist() as number[][];
  const allowed = new Set(cp.allowedTokens());
  assert.ok(allowed.has(tokenizer.tokenToId('{')!) && !allowed.has(tokenizer.tokenToId('[')!));
  for (let r = 0; r < 2; r++) for (let i = 0; i < V; i++) assert.equal(masked[r][i], allowed.has(i) ? r * V + i : -Infinity);
  assert.throws(() => cp.accept(tokenizer.tokenToId('[')!), /cannot continue the JSON/);
  assert.throws(() => cp.accept(0), /before the JSON is complete/);
  for (const t of tokenizer.encode('{"ok": tr', { addSpecialTokens: false })) cp.accept(t);
  const fork = cp.clone();
  for (const t of tokenizer.encode('ue}', { addSpecialTokens: false })) cp.accept(t);
  assert.ok(cp.isComplete() && !fork.isComplete());
  assert.deepEqual([...cp.allowedTokens()], [...tokenizer.eosTokenIds].sort((a, b) => a - b)); // forced
  cp.accept(4);
  assert.ok(cp.finished && !fork.finished);
  assert.deepEqual([...cp.allowedTokens()], [...tokenizer.eosTokenIds].sort((a, b) => a - b)); // a finished row stays samplable
  assert.throws(() => cp.accept(4), /already ended/);
  for (const t of tokenizer.encode('ue }', { addSpecialTokens: false })) fork.accept(t);
  assert.ok(fork.isComplete());
});

// ---- generation with the shipped model ----
const PROMPT = tokenizer.applyChatTemplate([{ role: 'user', content: 'Describe the whale as JSON.' }], { addGenerationPrompt: true });
const GEN_SCHEMAS: Record<string, S> = {
  nested: { type: 'object', properties: { name: { type: 'string', maxLength: 12 }, address: { type: 'object', properties: { city: { type: 'string', maxLength: 10 }, zip: { type: 'integer' } }, required: ['city', 'zip'], additionalProperties: false }, active: { type: 'boolean' } }, required: ['name', 'address', 'active'], additionalProperties: false },
  arrays: { type: 'object', properties: { tags: { type: 'array', items: { enum: ['whale', 'ship', 'sea', 'harpoon'] }, minItems: 1, maxItems: 3 }, scores: { type: 'array', items: { type: 'number' }, maxItems: 2 } }, required: ['tags', 'scores'] },
  anyOf: { type: 'object', properties: { value: { anyOf: [{ type: 'integer' }, { type: 'string', maxLength: 6 }, { type: 'null' }] }, kind: { enum: ['a', 'b'] }, extra: { anyOf: [{ type: 'object', properties: { x: { type: 'boolean' } }, required: ['x'], additionalProperties: false }, { type: 'array', items: { type: 'null' }, maxItems: 2 }] } }, required: ['value', 'kind', 'extra'] },
  scalars: { type: 'object', properties: { i: { type: 'integer' }, n: { type: 'number' }, b: { type: 'boolean' }, z: { type: 'null' } }, required: ['i', 'n', 'b', 'z'], additionalProperties: false },
};

/** Samples at temperature 1 under the constraint, accepting each token as the server does. */
function constrainedSample(format: ResponseFormat, seed: number, extra: ReturnType<typeof makeLogitsProcessors> = []): { text: string; stopped: boolean } {
  const cp = makeResponseFormatProcessor(tokenizer, format, { maxWhitespace: 1 })!;
  mx.random.seed(seed);
  const ids: number[] = [];
  for (const s of generateStep(PROMPT, model, { temp: 1, maxTokens: 160, logitsProcessors: [...extra, cp.processor] })) {
    if (tokenizer.eosTokenIds.has(s.token)) return { text: tokenizer.decode(ids), stopped: true };
    cp.accept(s.token);
    ids.push(s.token);
  }
  return { text: tokenizer.decode(ids), stopped: false };
}

test('tiny-llama at temperature 1 under json_schema: every output parses and matches its schema', () => {
  for (const [name, schema] of Object.entries(GEN_SCHEMAS)) {
    for (const seed of [1, 2]) {
      const { text, stopped } = constrainedSample(schemaFormat(schema), seed);
      assert.ok(stopped, `${name}/${seed} did not finish: ${JSON.stringify(text)}`);
      const value = JSON.parse(text);
      assert.equal(validate(value, schema), null, `${name}/${seed}: ${text}`);
    }
  }
});

test('tiny-llama under json_object: every output is a JSON object', () => {
  // Free strings and keys never end unless the model likes quotes: nudge it (the mask still decides what is allowed).
  const nudge = Object.fromEntries(['"', 'Ġ"', '."', ',"', '?"', '!"'].map((t) => [tokenizer.tokenToId(t)!, 4]));
  const bias = makeLogitsProcessors({ logitBias: { ...nudge, [tokenizer.tokenToId('}')!]: 8, [tokenizer.tokenToId(']')!]: 8 } });
  for (const seed of [1, 2, 4]) {
    const { text, stopped } = constrainedSample(JSON_OBJECT, seed, bias);
    assert.ok(stopped, `seed ${seed} did not finish: ${JSON.stringify(text)}`);
    const value = JSON.parse(text);
    assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), text);
  }
});

test('trackingProcessor follows the history inside generate()', async () => {
  const schema = GEN_SCHEMAS.scalars;
  const cp = makeResponseFormatProcessor(tokenizer, schemaFormat(schema), { maxWhitespace: 1 });
  const text = await generate(model, tokenizer, PROMPT, { temp: 1, seed: 3, maxTokens: 160, logitsProcessors: [cp.trackingProcessor()] });
  assert.equal(validate(JSON.parse(text), schema), null, text);
  assert.ok(cp.isComplete());
});

// ---- cost on a large vocabulary ----
/** A 128k-token byte vocabulary shaped like a large BPE's: words with and without a leading space, word pieces, digits, whitespace runs, some quote and JSON tokens, CJK and split UTF-8. */
function syntheticVocabulary(size = 128_000): TokenVocabulary & { strings: Uint8Array[] } {
  let s = 1;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const enc = new TextEncoder(), seen = new Set<string>(), out: Uint8Array[] = [];
  const add = (b: Uint8Array) => { const k = Buffer.from(b).toString('latin1'); if (!seen.has(k) && out.length < size) { seen.add(k); out.push(b); } };
  add(enc.encode('<|eos|>'));
  for (let b = 0; b < 256; b++) add(Uint8Array.of(b));
  const words = [...new Set(readFileSync(new URL('../../data/moby-dick.txt', import.meta.url), 'utf8').split(/[^A-Za-z']+/).filter((w) => w.length > 1))];
  for (const p of ['":', '",', '"}', '{"', '["', '"]', ' "', '":"', '"},', '}}', '},', '],', '":[', '":{', '",\n', '"\n', ' {', ' [', '.', ',', '...', '--', ' (', ')', '\\n', '\\"', '""']) add(enc.encode(p));
  for (let n = 1; n <= 64; n++) { add(enc.encode(' '.repeat(n))); add(enc.encode('\n' + ' '.repeat(n - 1))); }
  for (let n = 0; n < 1000; n++) { add(enc.encode(String(n))); add(enc.encode(' ' + n)); }
  words.slice(0, 300).forEach((w) => { add(enc.encode('"' + w)); add(enc.encode(w + '"')); add(enc.encode(w + '",')); });
  for (const w of words) for (const v of [w, ' ' + w, w.toLowerCase(), ' ' + w.toLowerCase(), ' ' + w[0].toUpperCase() + w.slice(1)]) add(enc.encode(v));
  for (const w of words) for (let a = 0; a < w.length && out.length < size * 0.85; a++) for (let b = a + 2; b <= Math.min(w.length, a + 6); b++) add(enc.encode(w.slice(a, b)));
  for (let i = 0; i < 6000; i++) {
    const c = enc.encode(String.fromCodePoint(0x4e00 + Math.floor(rand() * 0x5000)));
    add(c); add(c.slice(0, 2)); add(c.slice(1));
  }
  const alnum = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';
  while (out.length < size) {
    let t = rand() < 0.5 ? ' ' : '';
    for (let k = 2 + Math.floor(rand() * 8); k > 0; k--) t += alnum[Math.floor(rand() * alnum.length)];
    add(enc.encode(t));
  }
  return { strings: out, vocabSize: out.length, tokenBytes: (id) => out[id], isSpecial: () => false, eosTokenIds: new Set([0]) };
}

test('masking cost on a synthetic 128k-token vocabulary', (t) => {
  let t0 = performance.now();
  const vocab = syntheticVocabulary();
  const trie = tokenTrie(vocab);
  const build = performance.now() - t0;
  // Greedy longest-match tokens of a pretty-printed document.
  const byText = new Map(vocab.strings.map((b, i) => [Buffer.from(b).toString('latin1'), i]));
  const doc = Buffer.from(JSON.stringify({ captain: 'Ahab of the Pequod, 漢字 whale hunter', crew: [{ name: 'Starbuck', role: 'first mate', age: 34 }, { name: 'Stubb', role: 'second mate', age: 41 }], voyage: { year: 1851, ship: 'Pequod', done: false, notes: null } }, null, 2), 'utf8').toString('latin1');
  const ids: number[] = [];
  for (let i = 0; i < doc.length;) for (let n = Math.min(16, doc.length - i); n > 0; n--) { const id = byText.get(doc.slice(i, i + n)); if (id !== undefined) { ids.push(id); i += n; break; } }
  const schema = { type: 'object', properties: { captain: { type: 'string' }, crew: { type: 'array', items: { type: 'object', properties: { name: { type: 'string', maxLength: 40 }, role: { enum: ['first mate', 'second mate', 'harpooneer'] }, age: { type: 'integer' } }, required: ['name', 'role', 'age'], additionalProperties: false } }, voyage: { type: 'object', properties: { year: { type: 'integer' }, ship: { type: 'string' }, done: { type: 'boolean' }, notes: { type: ['string', 'null'] } }, required: ['year', 'ship', 'done', 'notes'] } }, required: ['captain', 'crew', 'voyage'], additionalProperties: false };
  const stats: string[] = [];
  let warmMean = 0;
  const logits = mx.zeros([1, vocab.vocabSize]);
  const none = mx.array([], mx.int32);
  const summary = (ms: number[]) => {
    const sorted = [...ms].sort((a, b) => a - b);
    return `mean ${(ms.reduce((a, b) => a + b, 0) / ms.length).toFixed(2)} ms, median ${sorted[sorted.length >> 1].toFixed(2)}, max ${sorted[sorted.length - 1].toFixed(1)}`;
  };
  for (const [name, format] of [['json_object', JSON_OBJECT], ['json_schema', schemaFormat(schema, true)]] as const) {
    for (const pass of ['cold', 'warm']) {
      const cp = makeResponseFormatProcessor(vocab, format);
      const wall: number[] = [], cpu: number[] = [], apply: number[] = [];
      for (const id of ids) {
        t0 = performance.now();
        const c0 = process.cpuUsage();
        const allowed = cp.allowedTokens();
        const c = process.cpuUsage(c0);
        wall.push(performance.now() - t0);
        cpu.push((c.user + c.system) / 1000);
        assert.ok(allowed.includes(id));
        if (pass === 'warm') { // the whole processor: the mask applied to (1, V) logits on the default device
          t0 = performance.now();
          mx.eval(cp.processor(none, logits));
          apply.push(performance.now() - t0);
        }
        cp.accept(id);
      }
      assert.ok(cp.isComplete());
      const mean = wall.reduce((a, b) => a + b, 0) / wall.length;
      if (pass === 'warm') warmMean = Math.max(warmMean, mean);
      stats.push(`${name} ${pass}: allowed set: wall ${summary(wall)}; cpu ${summary(cpu)}`);
      if (apply.length) stats.push(`${name} ${pass}: processor applied to (1, ${vocab.vocabSize}) logits on ${mx.defaultDevice()}: ${summary(apply)}`);
    }
  }
  t.diagnostic(`vocabulary ${vocab.vocabSize} tokens, trie ${trie.nodeCount} nodes built in ${build.toFixed(0)} ms; ${ids.length} tokens per document`);
  for (const s of stats) t.diagnostic(s);
  const cache = maskCache(trie);
  t.diagnostic(`mask cache: ${cache.size} entries, ${(cache.bytes / 2 ** 20).toFixed(1)} MiB`);
  // Loose: this machine may be busy. The mask lookups themselves take well under a millisecond.
  assert.ok(warmMean < 25, `warm mean ${warmMean.toFixed(2)} ms per token`);
});
