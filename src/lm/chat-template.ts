// Chat templates: the Jinja template a model ships (chat_template.jinja, or the
// `chat_template` entry of tokenizer_config.json) rendered with @huggingface/jinja, with the
// variables transformers' apply_chat_template passes.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';

/** One chat turn. `content` is usually a string; templates may read any other field (tool_calls, name...). */
export interface ChatMessage {
  role: string;
  content?: string | readonly Record<string, unknown>[] | null;
  [field: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Tool (function) schemas, passed to the template as `tools`. */
  tools?: readonly Record<string, unknown>[] | null;
  /** Retrieval documents, passed as `documents`. */
  documents?: readonly Record<string, unknown>[] | null;
  /** End with the tokens that open an assistant turn. Default false (as transformers). */
  addGenerationPrompt?: boolean;
  /** Leave the last message open (no end-of-turn tokens after it) so the model continues it. */
  continueFinalMessage?: boolean;
  /** A template to use instead of the model's (a Jinja string). */
  chatTemplate?: string;
  /** Extra variables for the template (`enable_thinking`, a date...), as transformers' **kwargs. */
  templateArgs?: Record<string, unknown>;
}

/** Special tokens as templates see them: bos_token, eos_token, ... */
export type SpecialTokensMap = Record<string, string | string[] | null>;

/**
 * The chat template in a model folder: `chat_template.jinja` if present, else the one in
 * tokenizer_config.json (see chatTemplateFromConfig).
 */
export function readChatTemplate(dir: string, tokenizerConfig: Record<string, unknown>, name?: string): string | null {
  const file = join(dir, 'chat_template.jinja');
  if (existsSync(file)) return readFileSync(file, 'utf8');
  return chatTemplateFromConfig(tokenizerConfig, name, join(dir, 'tokenizer_config.json'));
}

/**
 * The `chat_template` of a tokenizer_config.json: a string, or a list of named templates, in
 * which case `name` picks one ('default' if not given, else the first).
 */
export function chatTemplateFromConfig(tokenizerConfig: Record<string, unknown>, name?: string, file = 'tokenizer_config.json'): string | null {
  const t = tokenizerConfig.chat_template;
  if (typeof t === 'string') return t;
  if (globalThis.Array.isArray(t)) {
    const named = new Map<string, string>();
    for (const e of t as unknown[]) {
      const entry = e as { name?: unknown; template?: unknown };
      if (typeof entry?.name === 'string' && typeof entry.template === 'string') named.set(entry.name, entry.template);
    }
    const pick = name ?? 'default';
    if (named.has(pick)) return named.get(pick)!;
    if (name !== undefined) throw new Error(`[readChatTemplate] ${file} has no chat template named '${name}' (it has: ${[...named.keys()].join(', ')})`);
    return named.values().next().value ?? null;
  }
  if (t !== undefined && t !== null) throw new Error(`[readChatTemplate] ${file}: chat_template must be a string or a list of { name, template }, got ${typeof t}`);
  return null;
}

// Parsing is the slow part and templates repeat (one per chat turn): keep the parsed ones.
const parsed = new Map<string, Template>();
function compile(source: string): Template {
  let t = parsed.get(source);
  if (!t) {
    try {
      t = new Template(source);
    } catch (e) {
      throw new Error(`[applyChatTemplate] the chat template does not parse: ${(e as Error).message}`);
    }
    parsed.set(source, t);
  }
  return t;
}

/** Renders `messages` with a chat template, as transformers' apply_chat_template(tokenize=False). */
export function renderChatTemplate(template: string, messages: readonly ChatMessage[], specialTokens: SpecialTokensMap = {}, options: ChatTemplateOptions = {}): string {
  const { tools = null, documents = null, addGenerationPrompt = false, continueFinalMessage = false, templateArgs = {} } = options;
  if (addGenerationPrompt && continueFinalMessage)
    throw new Error('[applyChatTemplate] addGenerationPrompt and continueFinalMessage cannot both be set: the first opens a new assistant turn, the second continues the last message');
  if (!globalThis.Array.isArray(messages)) throw new TypeError(`[applyChatTemplate] expected an array of { role, content } messages, got ${typeof messages}`);
  let rendered: string;
  try {
    rendered = compile(template).render({
      ...specialTokens,
      ...templateArgs,
      messages,
      tools,
      documents,
      add_generation_prompt: addGenerationPrompt,
    });
  } catch (e) {
    throw new Error(`[applyChatTemplate] rendering the chat template failed: ${(e as Error).message}`);
  }
  if (continueFinalMessage) {
    const last = messages[messages.length - 1]?.content;
    if (typeof last !== 'string') throw new Error('[applyChatTemplate] continueFinalMessage needs a last message whose content is a string');
    // As transformers: cut after the last occurrence of the content (or of its stripped form,
    // since many templates trim messages).
    const final = rendered.includes(last) ? last : last.trim();
    const at = rendered.lastIndexOf(final);
    if (at < 0) throw new Error('[applyChatTemplate] continueFinalMessage: the last message does not appear in the rendered chat (the template rewrites it)');
    rendered = rendered.slice(0, at + final.length);
  }
  return rendered;
}
