// Tool calls in generated text, as OpenAI's `tool_calls`. Two families:
//   hermes (Qwen 2.5/3, Hermes): <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>, one or more,
//     possibly after some text;
//   llama3 (Llama 3.1+): the whole reply is {"name": "f", "parameters": {...}}, optionally after
//     <|python_tag|>; several calls are separated by ';' or newlines, or form a JSON list.
// Text that is not a well-formed call stays content: a malformed call never throws.
import { randomBytes } from 'node:crypto';

export type ToolCallFamily = 'hermes' | 'llama3';

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ParsedToolCalls {
  /** The text that is not a tool call (trimmed), or null when there is none. */
  content: string | null;
  toolCalls: ToolCall[];
}

export interface ParseToolCallsOptions {
  /** Makes the ids; default `call_` and 24 random characters, like OpenAI's. */
  makeId?: () => string;
}

const TOOL_CALL_OPEN = '<tool_call>';
const TOOL_CALL_CLOSE = '</tool_call>';
const PYTHON_TAG = '<|python_tag|>';

const ID_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export function makeToolCallId(): string {
  return 'call_' + [...randomBytes(24)].map((b) => ID_CHARS[b % ID_CHARS.length]).join('');
}

/**
 * The tool-call family of a chat template (or a tokenizer's): 'hermes' when it mentions
 * `<tool_call>`, 'llama3' when it mentions `<|python_tag|>` or the `ipython` role; null when
 * the template has no tool-call syntax this parser knows.
 */
export function detectToolFamily(source: string | { readonly chatTemplate: string | null } | null | undefined): ToolCallFamily | null {
  const template = typeof source === 'string' ? source : source?.chatTemplate ?? null;
  if (!template) return null;
  if (template.includes(TOOL_CALL_OPEN)) return 'hermes';
  if (template.includes(PYTHON_TAG) || template.includes('ipython')) return 'llama3';
  return null;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A call object ({name, arguments|parameters}) as a ToolCall, or null if it is not one. */
function toToolCall(v: unknown, makeId: () => string): ToolCall | null {
  if (!isObject(v) || typeof v.name !== 'string' || v.name.length === 0) return null;
  const args = v.arguments !== undefined ? v.arguments : v.parameters;
  let text: string;
  if (args === undefined || args === null) text = '{}';
  else if (isObject(args)) text = JSON.stringify(args);
  else if (typeof args === 'string') {
    // Some models write the arguments already encoded: keep them if they are a JSON object.
    try {
      if (!isObject(JSON.parse(args))) return null;
    } catch {
      return null;
    }
    text = args;
  } else return null;
  return { id: makeId(), type: 'function', function: { name: v.name, arguments: text } };
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** The end (exclusive) of the JSON object or list starting at `start`, by bracket matching outside strings; -1 if unclosed. */
function jsonEnd(text: string, start: number): number {
  let depth = 0, inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      if (--depth === 0) return i + 1;
      if (depth < 0) return -1;
    }
  }
  return -1;
}

function parseHermes(text: string, makeId: () => string): ParsedToolCalls {
  const calls: ToolCall[] = [];
  let content = '', at = 0;
  for (;;) {
    const open = text.indexOf(TOOL_CALL_OPEN, at);
    if (open < 0) { content += text.slice(at); break; }
    content += text.slice(at, open);
    const bodyStart = open + TOOL_CALL_OPEN.length;
    const close = text.indexOf(TOOL_CALL_CLOSE, bodyStart);
    // An unclosed last block (generation ended right after the JSON) still counts if it parses.
    const body = text.slice(bodyStart, close < 0 ? text.length : close);
    const end = close < 0 ? text.length : close + TOOL_CALL_CLOSE.length;
    const parsed = parseJson(body.trim());
    const call = parsed.ok ? toToolCall(parsed.value, makeId) : null;
    if (call) calls.push(call);
    else content += text.slice(open, end); // malformed: keep it as text
    at = end;
  }
  const trimmed = content.trim();
  return { content: trimmed.length > 0 ? trimmed : null, toolCalls: calls };
}

function parseLlama3(text: string, makeId: () => string): ParsedToolCalls {
  const asContent = (): ParsedToolCalls => {
    const t = text.trim();
    return { content: t.length > 0 ? t : null, toolCalls: [] };
  };
  let body = text.trim();
  if (body.startsWith(PYTHON_TAG)) body = body.slice(PYTHON_TAG.length).trim();
  if (!body.startsWith('{') && !body.startsWith('[')) return asContent();
  // One or more JSON values separated by ';', ',' or whitespace; a list holds several calls.
  const values: unknown[] = [];
  let i = 0;
  while (i < body.length) {
    while (i < body.length && /[\s;,]/.test(body[i])) i++;
    if (i >= body.length) break;
    if (body[i] !== '{' && body[i] !== '[') return asContent();
    const end = jsonEnd(body, i);
    if (end < 0) return asContent();
    const parsed = parseJson(body.slice(i, end));
    if (!parsed.ok) return asContent();
    if (globalThis.Array.isArray(parsed.value)) values.push(...parsed.value);
    else values.push(parsed.value);
    i = end;
  }
  const calls = values.map((v) => toToolCall(v, makeId));
  if (calls.length === 0 || calls.some((c) => c === null)) return asContent();
  return { content: null, toolCalls: calls as ToolCall[] };
}

/**
 * The tool calls in a generated reply and the text around them. `family` defaults to
 * 'hermes'. Malformed calls are left in the content.
 */
export function parseToolCalls(text: string, family: ToolCallFamily = 'hermes', options: ParseToolCallsOptions = {}): ParsedToolCalls {
  if (typeof text !== 'string') throw new TypeError(`[parseToolCalls] expected the generated text as a string, got ${typeof text}`);
  const makeId = options.makeId ?? makeToolCallId;
  if (family === 'hermes') return parseHermes(text, makeId);
  if (family === 'llama3') return parseLlama3(text, makeId);
  throw new Error(`[parseToolCalls] unknown tool-call family ${JSON.stringify(family)} (expected 'hermes' or 'llama3')`);
}

/** The length of the longest suffix of `text` that is a proper prefix of `marker`. */
function partialMarkerAtEnd(text: string, marker: string): number {
  for (let n = Math.min(marker.length - 1, text.length); n > 0; n--) if (marker.startsWith(text.slice(text.length - n))) return n;
  return 0;
}

/**
 * Where a tool call may begin in `text` (the reply so far): the index from which the server
 * must hold text back instead of streaming it as content (text.length: nothing to hold).
 * hermes: at `<tool_call>`, or at a partial `<tool_call` at the very end. llama3: a call is
 * the whole reply, so from 0 while the reply is blank, a partial `<|python_tag|>`, or starts
 * with `{`, `[` or `<|python_tag|>`.
 */
export function toolCallStart(text: string, family: ToolCallFamily): number {
  if (family === 'hermes') {
    const open = text.indexOf(TOOL_CALL_OPEN);
    return open >= 0 ? open : text.length - partialMarkerAtEnd(text, TOOL_CALL_OPEN);
  }
  const t = text.trimStart();
  if (t.length === 0 || PYTHON_TAG.startsWith(t) || t.startsWith(PYTHON_TAG) || t[0] === '{' || t[0] === '[') return 0;
  return text.length;
}

/**
 * Streams a reply that may contain tool calls: `push` each text delta and send what it
 * returns as content; `finish` at the end parses what was held back. Content is never
 * streamed past the point where a tool call might start, so a call is not sent as text.
 */
export class ToolCallStream {
  private text = '';
  private sent = 0; // characters of `text` already returned as content

  constructor(readonly family: ToolCallFamily, private readonly options: ParseToolCallsOptions = {}) {}

  /** Adds a delta; returns the content now safe to stream (possibly empty). */
  push(delta: string): string {
    this.text += delta;
    const safe = toolCallStart(this.text, this.family);
    if (safe <= this.sent) return '';
    const out = this.text.slice(this.sent, safe);
    this.sent = safe;
    return out;
  }

  /** Parses the held-back rest: its content (not yet sent) and the tool calls. */
  finish(): ParsedToolCalls {
    const rest = this.text.slice(this.sent);
    const parsed = parseToolCalls(rest, this.family, this.options);
    // Content already streamed was sent untrimmed; keep the rest's own leading text as is.
    if (parsed.toolCalls.length === 0) return { content: rest.length > 0 ? rest : null, toolCalls: [] };
    return parsed;
  }

  /** Whether text is being held back (a tool call may be in progress). */
  get holding(): boolean { return this.sent < this.text.length; }
}
