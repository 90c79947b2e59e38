// Decoding through one compiled step: (tokens (B, L), position, keys, values[, padding]) ->
// (logits of the last position (B, V), position + L, keys, values) over StaticKVCache buffers,
// so every token has the same shapes. Left-padded batches (batchGenerate) pass each row's
// padding as a (B,) int32 input, so batches with other paddings replay the same trace.
// mx.compile traces it once per model and signature; on the GPU its second call records a
// CUDA graph, and later tokens launch the graph: a few host calls per token instead of ~400
// kernel launches. The cache buffers are donated, so the graph writes the new keys and
// values into them in place.
import * as mx from '../core/index.js';
import type { Array } from '../core/index.js';
import { compile, compileStats, type CompiledFunction, type CompileStats } from '../core/transforms/compile.js';
import { prefetchHost } from '../core/eval.js';
import { graphNote } from '../core/transforms/device-graph.js';
import { Module } from '../nn/index.js';
import { Rope } from './rope.js';
import { greedySampler } from './sample.js';
import { SwitchGLU } from './models/switch_layers.js';
import { StaticKVCache, makeStaticCache } from './static-cache.js';
import {
  prefill, readStep, sampleLast, stepConfig, tidyStep,
  type GenerateOptions, type GenerationModel, type StepToken,
} from './step.js';

/** `padding` (B,) int32: each row's left padding; left out (not null) for unpadded batches, so their trace keys stay the same. */
export type StepFn = (tokens: Array, position: Array, keys: Array[], values: Array[], padding?: Array) => [Array | Array[], Array, Array[], Array[]];

/**
 * What a step returns besides the cache: the last logits (B, V), or what `fn` makes of them
 * inside the compiled step (greedy sampling and logprobs: one graph per token, nothing eager
 * after it). `key` names `fn`'s computation: steps with the same key share traces and graphs.
 */
export interface StepHead { key: string; fn: (logits: Array) => Array[] }

const stepFns = new WeakMap<GenerationModel, Map<string, CompiledFunction<Parameters<StepFn>, ReturnType<StepFn>>>>();

/** Why `model` cannot decode `batch` rows per step through a compiled step over a static cache, or null. */
export function compiledStepUnsupported(model: GenerationModel, batch = 1): string | null {
  for (const layer of model.layers) {
    const rope = (layer as { self_attn?: { rope?: unknown } }).self_attn?.rope;
    if (rope instanceof Rope && (rope.settings.ropeType === 'dynamic' || rope.settings.ropeType === 'longrope'))
      return `its '${rope.settings.ropeType}' rotary schedule depends on the sequence length, which a compiled step does not know`;
    const why = layer instanceof Module ? moeUnsupported(layer, batch) : null;
    if (why) return why;
  }
  return null;
}

/**
 * Mixture-of-experts layers route by reading the router's choices on the host (SwitchGLU's
 * 'sort', and 'auto' past numExperts (token, expert) pairs), which a trace cannot.
 */
function moeUnsupported(layer: Module, batch: number): string | null {
  for (const m of layer.modules()) {
    for (const [, v] of m.items()) {
      if (!(v instanceof SwitchGLU) || v.mode === 'gather') continue;
      const k = (m as { topK?: unknown }).topK, E = v.gate_proj.numExperts;
      if (v.mode === 'sort') return 'its mixture-of-experts layers route on the host (SwitchGLU mode \'sort\'); mode \'gather\' can be compiled';
      if (typeof k !== 'number' ? batch > 1 : batch * k > E)
        return `its mixture-of-experts layers route ${batch} rows × ${typeof k === 'number' ? k : '?'} experts on the host (SwitchGLU mode 'auto' past ${E} pairs); mode 'gather' can be compiled`;
    }
  }
  return null;
}

/**
 * The step as a plain function: `(tokens, position, keys, values[, padding])` to
 * `(head(logits of the last position), position + L, keys, values)`; `head` defaults to the
 * logits themselves (bench/gpu/graph.ts puts the greedy argmax there too).
 */
export function stepBody(model: GenerationModel, head: (logits: Array) => Array | Array[] = (x) => x): StepFn {
  return (tokens, position, keys, values, padding) => {
    const caches = keys.map((k, i) => StaticKVCache.over(k, values[i], position, 0, padding ?? null));
    const logits = model.forward(tokens, caches);
    const L = logits.shape[1];
    const last = mx.reshape(mx.stridedSlice(logits, [null, L - 1], [null, L]), [logits.shape[0], logits.shape[2]]);
    return [head(last), mx.add(position, tokens.shape[1]), caches.map((c) => c.keys!), caches.map((c) => c.values!)];
  };
}

/** The step function of a model (with a head), compiled once (its traces and graphs are shared by every generation). */
function stepFunction(model: GenerationModel, head: StepHead | null): CompiledFunction<Parameters<StepFn>, ReturnType<StepFn>> {
  let fns = stepFns.get(model);
  if (!fns) stepFns.set(model, (fns = new Map()));
  const key = head?.key ?? 'logits';
  let f = fns.get(key);
  if (!f) {
    f = compile(stepBody(model, head?.fn), { donateArgnums: [2, 3] });
    fns.set(key, f);
  }
  return f;
}

/**
 * compile()'s counters for a model's step function (traces, fusion, graphs) once it has run:
 * the step with head `head` (a StepHead key; 'logits': none), or without it every step of the
 * model, with their traces, graphs and launches added up.
 */
export function compiledStepStats(model: GenerationModel, head?: string): CompileStats | undefined {
  const fns = stepFns.get(model);
  const all = [...(head === undefined ? fns?.values() ?? [] : [fns?.get(head)])].flatMap((f) => (f ? [compileStats(f)!] : []));
  if (!all.length) return undefined;
  return { ...all[0], traces: sum(all, 'traces'), graphs: sum(all, 'graphs'), graphLaunches: sum(all, 'graphLaunches') };
}
const sum = (all: CompileStats[], k: 'traces' | 'graphs' | 'graphLaunches') => all.reduce((n, st) => n + st[k], 0);

/**
 * Runs a model's decoding steps over `cache` (StaticKVCache per layer, already holding the
 * prompt: its buffers are allocated) with the compiled step. `run` advances the cache. The
 * caches' leftPadding (the same in every layer) goes into the step as a device array, made
 * again when it changes (batchGenerate drops rows from the cache between steps).
 */
export class CompiledStep {
  /** The next token's position on the device (made from the caches' offset on first use). */
  private position: Array | null = null;
  /** leftPadding on the device, and the padding it was made from. */
  private padding: Array | null = null;
  private paddingOf: string | null = null;
  private readonly fn: CompiledFunction<Parameters<StepFn>, ReturnType<StepFn>>;

  constructor(readonly model: GenerationModel, readonly cache: StaticKVCache[], readonly head: StepHead | null = null) {
    if (!cache.length || cache.length !== model.layers.length) throw new Error(`[CompiledStep] expected a StaticKVCache per layer (${model.layers.length}), got ${cache.length}`);
    const offsets = new Set(cache.map((c) => c.offset));
    if (offsets.size !== 1) throw new Error(`[CompiledStep] every layer's cache must hold the same number of tokens, got ${[...offsets].join(', ')}`);
    this.fn = stepFunction(model, head);
  }

  /** The caches' leftPadding as a kept device array (null without padding). */
  private paddingArray(): Array | null {
    const pads = new Set(this.cache.map((c) => c.leftPadding?.join(',') ?? null));
    if (pads.size !== 1) throw new Error(`[CompiledStep] every layer's cache must have the same leftPadding, got ${[...pads].map((p) => `[${p ?? ''}]`).join(', ')}`);
    const pad = this.cache[0].leftPadding;
    const key = pad?.join(',') ?? null;
    if (key !== this.paddingOf) {
      this.padding?.dispose();
      this.padding = pad ? mx.keep(mx.array(Int32Array.from(pad))) : null;
      this.paddingOf = key;
    }
    return this.padding;
  }

  /** Logits (B, V) of the last of `tokens` (int32 (B, L)), with their keys and values written into the cache. */
  run(tokens: Array): Array {
    if (this.head) throw new Error(`[CompiledStep] this step has a head ('${this.head.key}'): call runHead`);
    return this.step(tokens) as Array;
  }

  /** The head's arrays for the last of `tokens`, with their keys and values written into the cache. */
  runHead(tokens: Array): Array[] {
    if (!this.head) throw new Error('[CompiledStep] this step has no head: call run');
    return this.step(tokens) as Array[];
  }

  private step(tokens: Array): Array | Array[] {
    const L = tokens.shape[1];
    const offset = this.cache[0].offset;
    if (L > this.cache[0].maxSize - offset) throw new Error(`[CompiledStep] ${L} tokens do not fit: the static cache has ${this.cache[0].maxSize - offset} positions left`);
    const rows = this.cache[0].keys?.shape[0] ?? this.cache[0].leftPadding?.length ?? tokens.shape[0];
    if (tokens.ndim !== 2 || tokens.shape[0] !== rows) throw new Error(`[CompiledStep] expected tokens (B=${rows}, L), got (${tokens.shape.join(',')})`);
    if (!this.cache[0].keys) {
      // Buffers are made by the first update, whose shapes only the model knows: run it once as is.
      const logits = this.model.forward(tokens, this.cache);
      const last = mx.reshape(mx.stridedSlice(logits, [null, L - 1], [null, L]), [logits.shape[0], logits.shape[2]]);
      const out = this.head ? this.head.fn(last) : last;
      mx.eval(out, this.cache.map((c) => c.state));
      return out;
    }
    this.position ??= mx.keep(mx.array(offset, mx.int32));
    const keys = this.cache.map((c) => c.keys!), values = this.cache.map((c) => c.values!);
    const padding = this.paddingArray();
    const [out, position, k2, v2] = padding
      ? this.fn(tokens, this.position, keys, values, padding)
      : this.fn(tokens, this.position, keys, values);
    mx.eval(out, position, k2, v2);
    // A graph call consumed the old buffers; a plain call (first calls, the CPU) left them to us.
    const kept = new Set([...k2, ...v2]);
    for (const a of [...keys, ...values]) if (!kept.has(a)) a.dispose();
    this.position.dispose();
    this.position = mx.keep(position);
    this.cache.forEach((c, i) => { c.keys = k2[i]; c.values = v2[i]; c.position = null; c.offset = offset + L; });
    return out;
  }

  dispose(): void {
    this.position?.dispose();
    this.padding?.dispose();
    this.position = this.padding = null;
    this.paddingOf = null;
  }
}

/**
 * The static cache size for a prompt and a token budget: rounded up to 256, so generations
 * share traces and graphs; null when it does not fit the context or the budget is unbounded.
 */
export function staticCacheSize(promptLength: number, maxTokens: number, context: number | null): number | null {
  if (maxTokens < 0) return null;
  const need = promptLength + maxTokens;
  const size = Math.ceil(need / 256) * 256;
  if (context === null) return size;
  return need > context ? null : Math.min(size, context);
}

/**
 * Past this many positions a step reads more cache than it is worth by default (attention
 * reads every position of the static buffer: at 4096 a 1B model's step reads 6% more than
 * its weights). `compiled: true` lifts the limit.
 */
export const AUTO_MAX_POSITIONS = 4096;

/** Why generateStep's options rule out a compiled step (null: they do not). */
export function compiledStepOptionsUnsupported(options: GenerateOptions): string | null {
  if (options.promptCache) return 'a promptCache was given (its cache classes are the caller\'s)';
  if (options.maxKvSize !== undefined) return 'maxKvSize asks for a rotating cache';
  if (options.kvBits !== undefined) return 'kvBits asks for a quantized cache';
  return null;
}

const contextOf = (model: GenerationModel): number | null => {
  const n = (model.args as Record<string, unknown> | undefined)?.max_position_embeddings;
  return typeof n === 'number' && n > 0 ? n : null;
};

/**
 * The static cache size for decoding `maxTokens` after prompts of `promptLength` columns
 * through the compiled step, or null for the usual loop: `compiled: false`; `compiled` unset
 * off the GPU or past AUTO_MAX_POSITIONS; and models or options a static cache cannot serve
 * at `batch` rows (LATHE_DEBUG=1 says why, naming `where`).
 */
export function compiledCacheSize(promptLength: number, model: GenerationModel, options: GenerateOptions, where: string, batch = 1): number | null {
  if (options.compiled === false) return null;
  const auto = options.compiled === undefined;
  if (auto && mx.defaultDevice().type !== 'gpu') return null;
  const size = staticCacheSize(promptLength, options.maxTokens ?? 256, contextOf(model));
  const why = compiledStepOptionsUnsupported(options) ?? compiledStepUnsupported(model, batch)
    ?? (size === null ? 'the prompt and maxTokens do not fit the model\'s context, or maxTokens is unbounded' : null)
    ?? (auto && size! > AUTO_MAX_POSITIONS ? `its static cache would hold ${size} positions (more than ${AUTO_MAX_POSITIONS}; pass compiled: true to use it anyway)` : null);
  if (why) { graphNote(`${where}: no compiled step: ${why}`); return null; }
  return size;
}

/** generateStep over a static cache with the compiled step, or null for the usual loop (see compiledCacheSize). */
export function compiledSteps(prompt: readonly number[], model: GenerationModel, options: GenerateOptions): Generator<StepToken> | null {
  const size = compiledCacheSize(prompt.length, model, options, 'generate');
  return size === null ? null : run(prompt, model, options, size, options.maxTokens ?? 256);
}

function* run(prompt: readonly number[], model: GenerationModel, options: GenerateOptions, size: number, maxTokens: number): Generator<StepToken> {
  const cfg = stepConfig(options);
  const cache = makeStaticCache(model, size);
  const history = [...prompt];
  const rest = prefill(model, cache, [...prompt], options.prefillStepSize ?? 2048, cfg, options.promptProgress);
  // Greedy decoding's sampling is part of the step (the argmax and any logprobs in the same
  // graph); a random sampler draws from the global random state, so it runs after the step.
  const greedy = cfg.sampler === greedySampler && cfg.processors.length === 0;
  const head: StepHead | null = greedy ? { key: `greedy:${cfg.wantLogprobs}:${cfg.topLogprobs}`, fn: (logits) => sampleLast(logits, [], cfg) } : null;
  const step = new CompiledStep(model, cache, head);
  // Logits processors read the history on the host, so with them each step waits for the
  // token before it. Without them the next step is queued before this one's token is read
  // (MLX-LM's async_eval): its input is the sampled token, still on the device, and the token's
  // copy to the host is queued before it (prefetchHost), so the host reads and yields token n
  // while the device computes token n + 1.
  const ahead = cfg.processors.length === 0;
  /** Queues a step on `input()` (made inside the step's tidy scope): sampleLast's arrays, the token first. */
  const queue = (input: () => Array): Array[] => tidyStep([cache], () => {
    const out = head ? step.runHead(input()) : sampleLast(step.run(input()), history, cfg); // logits (1, V)
    if (ahead) { mx.eval(out); prefetchHost(out); }
    return out;
  });
  let pending = maxTokens !== 0 ? queue(() => mx.array([rest], mx.int32)) : null;
  try {
    for (let n = 0; pending; n++) {
      const cur = pending;
      const more = n + 1 !== maxTokens;
      pending = ahead && more ? queue(() => mx.reshape(mx.astype(cur[0], mx.int32), [1, 1])) : null;
      const s = readStep(cur, cfg);
      history.push(s.token);
      if (!ahead && more) pending = queue(() => mx.array([[s.token]], mx.int32));
      yield s;
    }
  } finally {
    if (pending) mx.dispose(pending);
    step.dispose();
    mx.dispose(cache.map((c) => c.state));
  }
}
