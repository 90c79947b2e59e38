// The tokenizer of a Hugging Face model folder: tokenizer.json run by @huggingface/tokenizers,
// the special tokens and chat template of tokenizer_config.json, the end-of-sequence ids the
// model's configs name, and a streaming detokenizer (MLX-LM's TokenizerWrapper).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HFTokenizer } from '@huggingface/tokenizers';
import { chatTemplateFromConfig, readChatTemplate, renderChatTemplate, type ChatMessage, type ChatTemplateOptions, type SpecialTokensMap } from './chat-template.js';
import {
  ByteStreamDetokenizer, NaiveStreamingDetokenizer, byteLevelTokenBytes, detokenizerKind, sentencePieceTokenBytes,
  type DetokenizerKind, type StreamingDetokenizer,
} from './detokenizer.js';

type Json = Record<string, unknown>;

export interface TokenizerOptions {
  /** Extra end-of-sequence ids (config.json / generation_config.json's eos_token_id). */
  eosTokenIds?: readonly number[];
  /** A chat template (Jinja) to use instead of tokenizer_config.json's. */
  chatTemplate?: string | null;
}

/** A special token in tokenizer_config.json: a string, or an AddedToken object { content }. */
function tokenString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

export function readJson(path: string, where: string): Json {
  if (!existsSync(path)) throw new Error(`[${where}] ${path} is missing`);
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`[${where}] ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`[${where}] ${path} must hold a JSON object, got ${Array.isArray(v) ? 'an array' : typeof v}`);
  return v as Json;
}

export class Tokenizer {
  /** The @huggingface/tokenizers object, for anything this wrapper does not expose. */
  readonly hf: HFTokenizer;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  /** Ids that end generation: the eos token's and the model configs'. */
  readonly eosTokenIds: Set<number>;
  chatTemplate: string | null;
  readonly detokenizerKind: DetokenizerKind;
  private readonly specialTokens: SpecialTokensMap;
  private readonly specialIds: Set<number>;
  private readonly addedIds: Set<number>;
  private readonly trimLeadingSpace: boolean;
  private readonly byteFallback: boolean;
  private readonly tokenBytesCache = new Map<number, Uint8Array>();

  /** From the parsed tokenizer.json and tokenizer_config.json. */
  constructor(readonly tokenizerJson: Json, readonly tokenizerConfig: Json = {}, options: TokenizerOptions = {}) {
    try {
      this.hf = new HFTokenizer(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new Error(`[Tokenizer] tokenizer.json could not be read by @huggingface/tokenizers: ${(e as Error).message}`);
    }
    this.bosToken = tokenString(tokenizerConfig.bos_token);
    this.eosToken = tokenString(tokenizerConfig.eos_token);
    this.specialTokens = {};
    for (const key of ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'])
      if (key in tokenizerConfig) this.specialTokens[key] = tokenString(tokenizerConfig[key]);
    const extra = tokenizerConfig.additional_special_tokens;
    if (Array.isArray(extra)) this.specialTokens.additional_special_tokens = extra.map(tokenString).filter((t): t is string => t !== null);

    const added = (Array.isArray(tokenizerJson.added_tokens) ? tokenizerJson.added_tokens : []) as { id: number; special?: boolean }[];
    this.addedIds = new Set(added.map((t) => t.id));
    this.specialIds = new Set(added.filter((t) => t.special).map((t) => t.id));

    this.eosTokenIds = new Set(options.eosTokenIds ?? []);
    if (this.eosToken !== null) {
      const id = this.hf.token_to_id(this.eosToken);
      if (id !== undefined) this.eosTokenIds.add(id);
    }
    this.chatTemplate = options.chatTemplate !== undefined ? options.chatTemplate : chatTemplateFromConfig(tokenizerConfig);
    const { kind, trimLeadingSpace } = detokenizerKind(tokenizerJson);
    this.detokenizerKind = kind;
    this.trimLeadingSpace = trimLeadingSpace;
    this.byteFallback = (tokenizerJson.model as Json | undefined)?.byte_fallback === true;
  }

  /** Token ids of `text`; `addSpecialTokens` adds what the post-processor adds (a BOS, say). */
  encode(text: string, { addSpecialTokens = true }: { addSpecialTokens?: boolean } = {}): number[] {
    if (typeof text !== 'string') throw new TypeError(`[Tokenizer.encode] expected a string, got ${typeof text}`);
    return this.hf.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  decode(ids: readonly number[], { skipSpecialTokens = false }: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return ''; // the library rejects an empty list
    return this.hf.decode([...ids], { skip_special_tokens: skipSpecialTokens });
  }

  idToToken(id: number): string | undefined { return this.hf.id_to_token(id); }
  tokenToId(token: string): number | undefined { return this.hf.token_to_id(token); }

  /** The number of ids, added tokens included. */
  get vocabSize(): number { return this.hf.get_vocab(true).size; }

  get bosTokenId(): number | null { return this.bosToken === null ? null : this.hf.token_to_id(this.bosToken) ?? null; }
  get eosTokenId(): number | null { return this.eosToken === null ? null : this.hf.token_to_id(this.eosToken) ?? null; }

  isSpecial(id: number): boolean { return this.specialIds.has(id); }

  /** Adds a token (its string or id) to the ones that end generation. */
  addEosToken(token: string | number): void {
    const id = typeof token === 'number' ? token : this.hf.token_to_id(token);
    if (id === undefined) throw new Error(`[Tokenizer.addEosToken] '${token}' is not a token of this tokenizer`);
    this.eosTokenIds.add(id);
  }

  get hasChatTemplate(): boolean { return this.chatTemplate !== null; }

  /**
   * Renders a chat with the model's template; token ids unless `tokenize` is false (as
   * transformers). The rendered text already holds its special tokens, so it is encoded
   * without adding more.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions & { tokenize: false }): string;
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions & { tokenize?: true }): number[];
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions & { tokenize?: boolean } = {}): string | number[] {
    const template = options.chatTemplate ?? this.chatTemplate;
    if (template === null)
      throw new Error('[Tokenizer.applyChatTemplate] this tokenizer has no chat template (no chat_template.jinja, no chat_template in tokenizer_config.json); pass one as options.chatTemplate');
    const text = renderChatTemplate(template, messages, this.specialTokens, options);
    return options.tokenize === false ? text : this.encode(text, { addSpecialTokens: false });
  }

  /** The bytes a token stands for (byte-level and SentencePiece tokenizers). */
  tokenBytes(id: number): Uint8Array {
    let b = this.tokenBytesCache.get(id);
    if (b) return b;
    const token = this.hf.id_to_token(id);
    if (token === undefined) throw new Error(`[Tokenizer] token id ${id} is not in the vocabulary (${this.vocabSize} tokens)`);
    if (this.addedIds.has(id)) b = new TextEncoder().encode(token);
    else if (this.detokenizerKind === 'byte-level') b = byteLevelTokenBytes(token);
    else b = sentencePieceTokenBytes(token, this.byteFallback);
    this.tokenBytesCache.set(id, b);
    return b;
  }

  /** A fresh streaming detokenizer (each access makes a new one, so generations don't share state). */
  get detokenizer(): StreamingDetokenizer {
    if (this.detokenizerKind === 'naive') return new NaiveStreamingDetokenizer((ids) => this.decode(ids));
    return new ByteStreamDetokenizer((id) => this.tokenBytes(id), this.trimLeadingSpace);
  }
}

/**
 * The tokenizer of a model folder: tokenizer.json, tokenizer_config.json (optional), the
 * chat template (chat_template.jinja or tokenizer_config.json), and the eos ids of
 * config.json and generation_config.json.
 */
export function loadTokenizer(dir: string, options: TokenizerOptions = {}): Tokenizer {
  const tokenizerJson = readJson(join(dir, 'tokenizer.json'), 'loadTokenizer');
  const configPath = join(dir, 'tokenizer_config.json');
  const tokenizerConfig = existsSync(configPath) ? readJson(configPath, 'loadTokenizer') : {};
  const eos = new Set(options.eosTokenIds ?? []);
  for (const name of ['config.json', 'generation_config.json']) {
    const p = join(dir, name);
    if (!existsSync(p)) continue;
    const v = readJson(p, 'loadTokenizer').eos_token_id;
    for (const id of Array.isArray(v) ? v : [v]) if (typeof id === 'number') eos.add(id);
  }
  let chatTemplate = options.chatTemplate;
  if (chatTemplate === undefined) chatTemplate = readChatTemplate(dir, tokenizerConfig);
  try {
    return new Tokenizer(tokenizerJson, tokenizerConfig, { eosTokenIds: [...eos], chatTemplate });
  } catch (e) {
    throw new Error(`[loadTokenizer] ${join(dir, 'tokenizer.json')}: ${(e as Error).message}`);
  }
}
