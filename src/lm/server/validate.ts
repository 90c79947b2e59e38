// Request bodies of /v1/chat/completions and /v1/completions, checked field by field: a wrong
// type, a value out of range or an unsupported option is a 400 naming the field (`param`).
// Fields the server does not use (user, metadata, store, service_tier...) are ignored, as
// OpenAI-compatible servers do, so clients that send them keep working.
import type { ChatMessage } from '../chat-template.js';
import { ApiError, badParam } from './errors.js';

type Json = Record<string, unknown>;

export interface SamplingFields {
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
  seed: number | null;
  /** max_completion_tokens or max_tokens; null: up to the context. */
  maxTokens: number | null;
  /** Which of the two was given (errors name it). */
  maxTokensParam: string;
  stop: string[];
  n: number;
  presencePenalty: number;
  frequencyPenalty: number;
  repetitionPenalty: number;
  repetitionContextSize: number;
  logitBias: Record<number, number> | null;
  stream: boolean;
  includeUsage: boolean;
  /** The response_format object as sent (checked by the constrained-decoding module). */
  responseFormat: Json | null;
}

export interface ChatRequest extends SamplingFields {
  model: string;
  messages: ChatMessage[];
  tools: Json[] | null;
  /** 'none' | 'auto' | 'required', or the name of the function the model must call. */
  toolChoice: 'none' | 'auto' | 'required' | { name: string };
  logprobs: boolean;
  topLogprobs: number;
}

export interface CompletionRequest extends SamplingFields {
  model: string;
  /** Text prompts or token ids; one set of choices each. */
  prompts: (string | number[])[];
  echo: boolean;
  /** Top log-probabilities per token (completions' `logprobs: int`), or null. */
  logprobs: number | null;
}

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);
const MAX_TOP_LOGPROBS = 20;
const MAX_STOPS = 16;

const typeName = (v: unknown): string => (v === null ? 'null' : globalThis.Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`);
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !globalThis.Array.isArray(v);

/** Typed reads of the body's fields; absent and null both mean "not given". */
class Fields {
  constructor(readonly body: Json) {}
  has(k: string): boolean { return this.body[k] !== undefined && this.body[k] !== null; }

  number(k: string, min: number, max: number, fallback: number, exclusiveMin = false): number {
    if (!this.has(k)) return fallback;
    const v = this.body[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw badParam(k, `'${k}' must be a number, got ${typeName(v)}`, 'invalid_type');
    if (v < min || v > max || (exclusiveMin && v === min)) throw badParam(k, `'${k}' must be ${exclusiveMin ? `greater than ${min}` : `at least ${min}`} and at most ${max}, got ${v}`);
    return v;
  }

  int(k: string, min: number, max: number, fallback: number): number;
  int(k: string, min: number, max: number, fallback: null): number | null;
  int(k: string, min: number, max: number, fallback: number | null): number | null {
    if (!this.has(k)) return fallback;
    const v = this.body[k];
    if (typeof v !== 'number' || !Number.isInteger(v)) throw badParam(k, `'${k}' must be an integer, got ${typeName(v)}`, 'invalid_type');
    if (v < min || v > max) throw badParam(k, `'${k}' must be an integer from ${min} to ${max}, got ${v}`);
    return v;
  }

  bool(k: string, fallback: boolean): boolean {
    if (!this.has(k)) return fallback;
    const v = this.body[k];
    if (typeof v !== 'boolean') throw badParam(k, `'${k}' must be a boolean, got ${typeName(v)}`, 'invalid_type');
    return v;
  }

  string(k: string): string {
    const v = this.body[k];
    if (v === undefined || v === null) throw badParam(k, `'${k}' is required`, 'missing_required_parameter');
    if (typeof v !== 'string') throw badParam(k, `'${k}' must be a string, got ${typeName(v)}`, 'invalid_type');
    return v;
  }
}

/** The fields both endpoints share. */
function sampling(f: Fields, maxN: number): SamplingFields {
  const b = f.body;
  // max_completion_tokens (OpenAI's newer name) wins over max_tokens, as in vLLM.
  const mct = f.int('max_completion_tokens', 1, Number.MAX_SAFE_INTEGER, null);
  const maxTokens = mct ?? f.int('max_tokens', 1, Number.MAX_SAFE_INTEGER, null);
  const maxTokensParam = mct !== null ? 'max_completion_tokens' : 'max_tokens';
  let stop: string[] = [];
  if (f.has('stop')) {
    const s = b.stop;
    const list = typeof s === 'string' ? [s] : s;
    if (!globalThis.Array.isArray(list) || list.some((x) => typeof x !== 'string'))
      throw badParam('stop', `'stop' must be a string or a list of strings, got ${typeName(s)}`, 'invalid_type');
    if (list.length > MAX_STOPS) throw badParam('stop', `'stop' holds at most ${MAX_STOPS} strings, got ${list.length}`);
    if (list.some((x) => x === '')) throw badParam('stop', "'stop' strings must not be empty");
    stop = list as string[];
  }
  let logitBias: Record<number, number> | null = null;
  if (f.has('logit_bias')) {
    const lb = b.logit_bias;
    if (!isObject(lb)) throw badParam('logit_bias', `'logit_bias' must be an object mapping token ids to biases, got ${typeName(lb)}`, 'invalid_type');
    logitBias = {};
    for (const [k, v] of Object.entries(lb)) {
      if (!/^\d+$/.test(k)) throw badParam('logit_bias', `'logit_bias' keys must be token ids (non-negative integers), got '${k}'`);
      if (typeof v !== 'number' || !Number.isFinite(v) || v < -100 || v > 100) throw badParam('logit_bias', `'logit_bias' values must be numbers from -100 to 100, got ${typeName(v)} for token ${k}`);
      logitBias[Number(k)] = v;
    }
  }
  const stream = f.bool('stream', false);
  let includeUsage = false;
  if (f.has('stream_options')) {
    const so = b.stream_options;
    if (!isObject(so)) throw badParam('stream_options', `'stream_options' must be an object, got ${typeName(so)}`, 'invalid_type');
    if (!stream) throw badParam('stream_options', "'stream_options' is only allowed when 'stream' is true");
    if (so.include_usage !== undefined && typeof so.include_usage !== 'boolean') throw badParam('stream_options.include_usage', `'stream_options.include_usage' must be a boolean, got ${typeName(so.include_usage)}`, 'invalid_type');
    includeUsage = so.include_usage === true;
  }
  let responseFormat: Json | null = null;
  if (f.has('response_format')) {
    const rf = b.response_format;
    if (!isObject(rf)) throw badParam('response_format', `'response_format' must be an object, got ${typeName(rf)}`, 'invalid_type');
    if (rf.type !== 'text' && rf.type !== 'json_object' && rf.type !== 'json_schema')
      throw badParam('response_format.type', `'response_format.type' must be 'text', 'json_object' or 'json_schema', got ${typeName(rf.type)}`);
    responseFormat = rf.type === 'text' ? null : rf;
  }
  // top_k: -1 (as vLLM) or 0 means off.
  const topK = f.int('top_k', -1, Number.MAX_SAFE_INTEGER, 0);
  return {
    temperature: f.number('temperature', 0, 2, 1),
    topP: f.number('top_p', 0, 1, 1, true),
    topK: topK < 0 ? 0 : topK,
    minP: f.number('min_p', 0, 1, 0),
    seed: f.int('seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, null),
    maxTokens,
    maxTokensParam,
    stop,
    n: f.int('n', 1, maxN, 1),
    presencePenalty: f.number('presence_penalty', -2, 2, 0),
    frequencyPenalty: f.number('frequency_penalty', -2, 2, 0),
    repetitionPenalty: f.number('repetition_penalty', 0, 10, 1, true),
    repetitionContextSize: f.int('repetition_context_size', 1, 1 << 20, 20),
    logitBias,
    stream,
    includeUsage,
    responseFormat,
  };
}

function requireObject(body: unknown): Json {
  if (!isObject(body)) throw new ApiError(400, `The request body must be a JSON object, got ${typeName(body)}`, null, 'invalid_type');
  return body;
}

/** Text of a message's content: a string, or a list of text parts (joined). */
function contentText(content: unknown, param: string, allowNull: boolean): string | null {
  if (content === null || content === undefined) {
    if (allowNull) return null;
    throw badParam(param, `'${param}' is required`, 'missing_required_parameter');
  }
  if (typeof content === 'string') return content;
  if (!globalThis.Array.isArray(content)) throw badParam(param, `'${param}' must be a string or a list of content parts, got ${typeName(content)}`, 'invalid_type');
  return content.map((part, i) => {
    const p = `${param}[${i}]`;
    if (!isObject(part)) throw badParam(p, `'${p}' must be an object { type: 'text', text }, got ${typeName(part)}`, 'invalid_type');
    if (part.type !== 'text') throw badParam(`${p}.type`, `only text content parts are supported, got type ${typeName(part.type)}`);
    if (typeof part.text !== 'string') throw badParam(`${p}.text`, `'${p}.text' must be a string, got ${typeName(part.text)}`, 'invalid_type');
    return part.text;
  }).join('');
}

/** A tool call of an assistant message, for the template: arguments as an object when they parse. */
function toolCallForTemplate(tc: unknown, param: string): Json {
  if (!isObject(tc)) throw badParam(param, `'${param}' must be an object { id, type: 'function', function: { name, arguments } }, got ${typeName(tc)}`, 'invalid_type');
  const fn = tc.function;
  if (!isObject(fn) || typeof fn.name !== 'string') throw badParam(`${param}.function`, `'${param}.function' must be an object with a string 'name'`, 'invalid_type');
  let args: unknown = fn.arguments ?? {};
  if (typeof args === 'string') {
    try { args = JSON.parse(args); } catch { /* templates get the string as sent */ }
  }
  return { ...tc, function: { ...fn, arguments: args } };
}

function messages(v: unknown): ChatMessage[] {
  if (v === undefined || v === null) throw badParam('messages', "'messages' is required", 'missing_required_parameter');
  if (!globalThis.Array.isArray(v)) throw badParam('messages', `'messages' must be a list of messages, got ${typeName(v)}`, 'invalid_type');
  if (v.length === 0) throw badParam('messages', "'messages' must hold at least one message");
  return v.map((m, i) => {
    const p = `messages[${i}]`;
    if (!isObject(m)) throw badParam(p, `'${p}' must be an object { role, content }, got ${typeName(m)}`, 'invalid_type');
    if (typeof m.role !== 'string') throw badParam(`${p}.role`, `'${p}.role' must be a string, got ${typeName(m.role)}`, 'invalid_type');
    if (!ROLES.has(m.role)) throw badParam(`${p}.role`, `'${p}.role' must be one of ${[...ROLES].join(', ')}, got '${m.role}'`);
    const hasCalls = m.role === 'assistant' && m.tool_calls !== undefined && m.tool_calls !== null;
    const out: ChatMessage = { role: m.role === 'developer' ? 'system' : m.role, content: contentText(m.content, `${p}.content`, hasCalls || m.role === 'assistant') ?? '' };
    if (m.name !== undefined) {
      if (typeof m.name !== 'string') throw badParam(`${p}.name`, `'${p}.name' must be a string, got ${typeName(m.name)}`, 'invalid_type');
      out.name = m.name;
    }
    if (hasCalls) {
      if (!globalThis.Array.isArray(m.tool_calls)) throw badParam(`${p}.tool_calls`, `'${p}.tool_calls' must be a list, got ${typeName(m.tool_calls)}`, 'invalid_type');
      out.tool_calls = m.tool_calls.map((tc, j) => toolCallForTemplate(tc, `${p}.tool_calls[${j}]`));
    }
    if (m.role === 'tool') {
      if (typeof m.tool_call_id !== 'string') throw badParam(`${p}.tool_call_id`, `'${p}.tool_call_id' must be a string (the id of the call this answers)`, 'missing_required_parameter');
      out.tool_call_id = m.tool_call_id;
    }
    return out;
  });
}

function tools(f: Fields): { tools: Json[] | null; toolChoice: ChatRequest['toolChoice'] } {
  let list: Json[] | null = null;
  if (f.has('tools')) {
    const t = f.body.tools;
    if (!globalThis.Array.isArray(t)) throw badParam('tools', `'tools' must be a list of { type: 'function', function: { name, description?, parameters? } }, got ${typeName(t)}`, 'invalid_type');
    list = t.map((tool, i) => {
      const p = `tools[${i}]`;
      if (!isObject(tool)) throw badParam(p, `'${p}' must be an object, got ${typeName(tool)}`, 'invalid_type');
      if (tool.type !== 'function') throw badParam(`${p}.type`, `'${p}.type' must be 'function', got ${typeName(tool.type)}`);
      const fn = tool.function;
      if (!isObject(fn)) throw badParam(`${p}.function`, `'${p}.function' must be an object { name, description?, parameters? }`, 'invalid_type');
      if (typeof fn.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(fn.name)) throw badParam(`${p}.function.name`, `'${p}.function.name' must be 1 to 64 letters, digits, '_' or '-', got ${typeName(fn.name)}`);
      if (fn.parameters !== undefined && !isObject(fn.parameters)) throw badParam(`${p}.function.parameters`, `'${p}.function.parameters' must be a JSON Schema object`, 'invalid_type');
      return tool;
    });
    if (list.length === 0) list = null;
  }
  let toolChoice: ChatRequest['toolChoice'] = list ? 'auto' : 'none';
  if (f.has('tool_choice')) {
    const c = f.body.tool_choice;
    if (c === 'none' || c === 'auto' || c === 'required') toolChoice = c;
    else if (isObject(c) && c.type === 'function' && isObject(c.function) && typeof c.function.name === 'string') toolChoice = { name: c.function.name };
    else throw badParam('tool_choice', `'tool_choice' must be 'none', 'auto', 'required' or { type: 'function', function: { name } }, got ${typeName(c)}`);
    if (toolChoice !== 'none' && !list) throw badParam('tool_choice', "'tool_choice' needs 'tools'");
    if (typeof toolChoice === 'object') {
      const name = toolChoice.name;
      if (!list!.some((t) => (t.function as Json).name === name)) throw badParam('tool_choice', `'tool_choice' names the function '${name}', which is not in 'tools'`);
    }
  }
  return { tools: list, toolChoice };
}

export function parseChatRequest(body: unknown, maxN: number): ChatRequest {
  const f = new Fields(requireObject(body));
  const model = f.string('model');
  const msgs = messages(f.body.messages);
  const common = sampling(f, maxN);
  const logprobs = f.bool('logprobs', false);
  const topLogprobs = f.int('top_logprobs', 0, MAX_TOP_LOGPROBS, 0);
  if (f.has('top_logprobs') && !logprobs) throw badParam('top_logprobs', "'top_logprobs' needs 'logprobs': true");
  if (f.has('audio') || (f.has('modalities') && JSON.stringify(f.body.modalities) !== '["text"]')) throw badParam('modalities', 'only text output is supported');
  return { model, messages: msgs, ...common, ...tools(f), logprobs, topLogprobs };
}

export function parseCompletionRequest(body: unknown, maxN: number): CompletionRequest {
  const f = new Fields(requireObject(body));
  const model = f.string('model');
  const p = f.body.prompt;
  if (p === undefined || p === null) throw badParam('prompt', "'prompt' is required", 'missing_required_parameter');
  const bad = () => badParam('prompt', `'prompt' must be a string, a list of strings, a list of token ids or a list of lists of token ids, got ${typeName(p)}`, 'invalid_type');
  const isIds = (x: unknown): x is number[] => globalThis.Array.isArray(x) && x.length > 0 && x.every((t) => typeof t === 'number' && Number.isInteger(t) && t >= 0);
  let prompts: (string | number[])[];
  if (typeof p === 'string') prompts = [p];
  else if (isIds(p)) prompts = [p];
  else if (globalThis.Array.isArray(p) && p.length > 0 && p.every((x) => typeof x === 'string' || isIds(x))) prompts = p as (string | number[])[];
  else throw bad();
  if (prompts.some((x) => x === '')) throw badParam('prompt', "'prompt' must not be empty");
  const common = sampling(f, maxN);
  if (f.has('suffix')) throw badParam('suffix', "'suffix' (fill in the middle) is not supported");
  const bestOf = f.int('best_of', 1, maxN, common.n);
  if (bestOf !== common.n) throw badParam('best_of', "'best_of' other than 'n' is not supported");
  const logprobs = f.int('logprobs', 0, MAX_TOP_LOGPROBS, null);
  return { model, prompts, ...common, echo: f.bool('echo', false), logprobs };
}
