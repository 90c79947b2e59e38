// GGUF metadata (`<arch>.block_count`, `<arch>.rope.freq_base`, ...) to a Hugging Face
// config.json and back. Values llama.cpp derives from the model size instead of storing
// (Gemma's attention scale, Gemma 3's local rope base and window pattern) are derived the
// same way here; Llama 3's rope scaling, which llama.cpp stores as a `rope_freqs` tensor of
// per-frequency divisors, is fitted back to config form and checked.
import type { GgufValue } from '../../io/index.js';
import type { ModelConfig } from '../models/base.js';
import { Rope, ropeSettings } from '../rope.js';
import type { GgufArchitecture } from './names.js';

type Metadata = Record<string, GgufValue>;

/** The shortest decimal that rounds to the same float32 (llama.cpp stores 1e-5 as 9.99999974e-6). */
export function float32Decimal(v: number): number {
  const f = Math.fround(v);
  for (let p = 1; p <= 9; p++) {
    const d = Number(f.toPrecision(p));
    if (Math.fround(d) === f) return d;
  }
  return f;
}

class MetaReader {
  constructor(readonly meta: Metadata, readonly prefix: string, readonly where: string) {}

  has(key: string): boolean { return Object.hasOwn(this.meta, `${this.prefix}.${key}`); }

  num(key: string, fallback?: number): number {
    const full = `${this.prefix}.${key}`;
    let v = this.meta[full];
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      throw new Error(`[loadModel] ${this.where}: metadata '${full}' is missing (llama.cpp writes it for every ${this.prefix} model)`);
    }
    if (globalThis.Array.isArray(v)) { // per-layer values (feed_forward_length, head_count_kv): one value for all is all lathe models take
      const vals = new Set(v.map((x) => Number(x)));
      if (vals.size !== 1) throw new Error(`[loadModel] ${this.where}: metadata '${full}' differs between layers (${[...vals].join(', ')}); lathe's ${this.prefix} model takes one value`);
      v = v[0];
    }
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw new Error(`[loadModel] ${this.where}: metadata '${full}' must be a number, got ${JSON.stringify(String(v))}`);
    return Number.isInteger(n) ? n : float32Decimal(n);
  }

  str(key: string): string | null {
    const v = this.meta[`${this.prefix}.${key}`];
    return typeof v === 'string' ? v : null;
  }
}

/**
 * Llama 3's rope scaling from llama.cpp's rope_freqs (divisors r_i of each inverse frequency):
 * r = 1 at high frequencies, `factor` at low ones, 1 / ((1 - s) / factor + s) between, with s
 * linear in 1 / wavelength. Only the line matters, so low_freq_factor is taken as 1 and
 * high_freq_factor and original_max_position_embeddings follow; the result is checked against
 * the divisors.
 */
export function llama3FromRopeFreqs(divisors: Float32Array, base: number, headDim: number, maxPos: number, where: string): ModelConfig {
  const factor = Math.max(...divisors);
  const half = divisors.length;
  const inv = (i: number) => 1 / base ** ((2 * i) / (2 * half));
  const smooth: [number, number][] = [];
  divisors.forEach((r, i) => {
    if (r > 1 + 1e-6 && r < factor * (1 - 1e-6)) smooth.push([inv(i) / (2 * Math.PI), (1 / r - 1 / factor) / (1 - 1 / factor)]);
  });
  const candidates: ModelConfig[] = [];
  if (smooth.length >= 2) {
    const [x0, s0] = smooth[0], [x1, s1] = smooth[smooth.length - 1];
    const a = (s1 - s0) / (x1 - x0), b = s0 - a * x0; // s = a / wavelen + b
    const high = 1 - 1 / b, old = a * (high - 1);
    candidates.push({ factor, low_freq_factor: 1, high_freq_factor: Number(high.toPrecision(6)), original_max_position_embeddings: Math.round(old) });
  }
  if (smooth.length === 1) { // one point fixes the line only with high_freq_factor given: take Llama 3's 4
    const [x, sm] = smooth[0];
    candidates.push({ factor, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: Math.round((sm * 3 + 1) / x) });
  }
  candidates.push({ factor, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 });
  if (smooth.length === 0) { // any boundary between the last undivided and the first divided frequency
    const firstDivided = divisors.findIndex((r) => r >= factor * (1 - 1e-6));
    if (firstDivided >= 0) candidates.push({ factor, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: Math.floor((2 * Math.PI) / inv(firstDivided)) });
  }
  for (const c of candidates) {
    const scaling = { rope_type: 'llama3', ...c };
    const rope = new Rope(ropeSettings({ rope_theta: base, rope_scaling: scaling }), headDim, maxPos);
    const { invFreq } = rope.frequencies(0);
    if (invFreq.every((f, i) => Math.abs(f * divisors[i] / inv(i) - 1) < 1e-5)) return scaling;
  }
  throw new Error(`[loadModel] ${where}: the rope_freqs tensor does not follow Llama 3's rope scaling (divisors ${[...divisors.slice(0, 4)].join(', ')}, ...); lathe cannot express it in config.json`);
}

/** What the config needs from the tensors: their names and shapes, and rope_freqs' values. */
export interface TensorFacts {
  shape(name: string): number[] | undefined;
  ropeFreqs(): Float32Array | null;
}

/** A Hugging Face config.json for a GGUF file's metadata. */
export function configFromGguf(meta: Metadata, arch: GgufArchitecture, tensors: TensorFacts, where: string): ModelConfig {
  const r = new MetaReader(meta, arch.gguf, where);
  const hidden = r.num('embedding_length');
  const layers = r.num('block_count');
  const heads = r.num('attention.head_count');
  const kvHeads = r.num('attention.head_count_kv', heads);
  const headDim = r.num('attention.key_length', r.num('rope.dimension_count', hidden / heads));
  const embed = tensors.shape('token_embd.weight');
  if (!embed) throw new Error(`[loadModel] ${where}: tensor 'token_embd.weight' (model.embed_tokens.weight) is missing`);
  const vocab = embed[0];
  const maxPos = r.num('context_length', 2048);
  const base = r.num('rope.freq_base', 10000);
  const config: ModelConfig = {
    architectures: [arch.hfClass],
    model_type: arch.modelType,
    hidden_size: hidden,
    intermediate_size: r.num('feed_forward_length'),
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    vocab_size: vocab,
    max_position_embeddings: maxPos,
    rms_norm_eps: r.num('attention.layer_norm_rms_epsilon', 1e-6),
    rope_theta: base,
    tie_word_embeddings: tensors.shape('output.weight') === undefined,
  };

  // Rope scaling: metadata, or Llama 3's rope_freqs tensor.
  const type = r.str('rope.scaling.type');
  const factor = r.has('rope.scaling.factor') ? r.num('rope.scaling.factor') : r.has('rope.scale_linear') ? r.num('rope.scale_linear') : null;
  if ((type === 'linear' || (type === null && factor !== null)) && factor !== null && factor !== 1) {
    config.rope_scaling = { rope_type: 'linear', factor };
  } else if (type === 'yarn') {
    config.rope_scaling = {
      rope_type: 'yarn', factor: factor ?? 1,
      original_max_position_embeddings: r.num('rope.scaling.original_context_length', maxPos),
      ...(r.has('rope.scaling.yarn_beta_fast') ? { beta_fast: r.num('rope.scaling.yarn_beta_fast') } : {}),
      ...(r.has('rope.scaling.yarn_beta_slow') ? { beta_slow: r.num('rope.scaling.yarn_beta_slow') } : {}),
    };
  } else if (type !== null && type !== 'none' && type !== 'linear') {
    throw new Error(`[loadModel] ${where}: rope scaling type '${type}' is not supported for GGUF files (supported: none, linear, yarn, and Llama 3's rope_freqs)`);
  }
  const freqs = tensors.ropeFreqs();
  if (freqs) config.rope_scaling = llama3FromRopeFreqs(freqs, base, headDim, maxPos, where);

  const hasBias = (n: string) => tensors.shape(`blk.0.${n}.bias`) !== undefined;
  switch (arch.gguf) {
    case 'llama':
    case 'mistral':
      config.attention_bias = hasBias('attn_q');
      config.mlp_bias = hasBias('ffn_up');
      if (r.has('attention.sliding_window')) config.sliding_window = r.num('attention.sliding_window');
      break;
    case 'qwen3':
      config.attention_bias = hasBias('attn_q');
      break;
    case 'gemma2':
    case 'gemma3': {
      // llama.cpp: the attention scale is 1/sqrt(hidden / heads) for the 27B models (46 or 62 layers), else 1/sqrt(head_dim).
      const big = (arch.gguf === 'gemma2' && layers === 46) || (arch.gguf === 'gemma3' && layers === 62);
      config.query_pre_attn_scalar = big ? hidden / heads : headDim;
      config.hidden_activation = 'gelu_pytorch_tanh';
      config.sliding_window = r.num('attention.sliding_window', 4096);
      if (r.has('final_logit_softcapping')) config.final_logit_softcapping = r.num('final_logit_softcapping');
      if (arch.gguf === 'gemma2') {
        config.attn_logit_softcapping = r.num('attn_logit_softcapping', 50);
        if (!r.has('final_logit_softcapping')) config.final_logit_softcapping = 30;
      } else {
        config.rope_local_base_freq = 10000; // llama.cpp: rope_freq_base_train_swa for Gemma 3
        config.sliding_window_pattern = r.has('attention.sliding_window_pattern') ? r.num('attention.sliding_window_pattern') : 6;
      }
      break;
    }
  }
  return config;
}

/** GGUF metadata for a Hugging Face config (what convert_hf_to_gguf.py writes), for saveGgufModel. */
export function ggufMetadata(config: ModelConfig, arch: GgufArchitecture, where: string): Metadata {
  const a = arch.gguf;
  const get = (k: string, fallback?: number): number => {
    const v = config[k];
    if (typeof v === 'number') return v;
    if (fallback !== undefined) return fallback;
    throw new Error(`[saveGgufModel] ${where}: config.json has no numeric '${k}'`);
  };
  const heads = get('num_attention_heads');
  const headDim = get('head_dim', get('hidden_size') / heads);
  const settings = ropeSettings(config, arch.gguf === 'gemma3' ? 'full_attention' : null, where);
  const meta: Metadata = {
    'general.architecture': a,
    [`${a}.context_length`]: get('max_position_embeddings'),
    [`${a}.embedding_length`]: get('hidden_size'),
    [`${a}.block_count`]: get('num_hidden_layers'),
    [`${a}.feed_forward_length`]: get('intermediate_size'),
    [`${a}.attention.head_count`]: heads,
    [`${a}.attention.head_count_kv`]: get('num_key_value_heads', heads),
    [`${a}.attention.layer_norm_rms_epsilon`]: get('rms_norm_eps', 1e-6),
    [`${a}.attention.key_length`]: headDim,
    [`${a}.attention.value_length`]: headDim,
    [`${a}.rope.dimension_count`]: headDim,
    [`${a}.rope.freq_base`]: settings.base,
  };
  const unsupported = (what: string): never => { throw new Error(`[saveGgufModel] ${where}: ${what} cannot be stored in GGUF as llama.cpp reads it`); };
  const s = settings.scaling;
  if (settings.ropeType === 'linear') {
    meta[`${a}.rope.scaling.type`] = 'linear';
    meta[`${a}.rope.scaling.factor`] = Number(s.factor);
  } else if (settings.ropeType === 'yarn') {
    meta[`${a}.rope.scaling.type`] = 'yarn';
    meta[`${a}.rope.scaling.factor`] = Number(s.factor);
    meta[`${a}.rope.scaling.original_context_length`] = Number(s.original_max_position_embeddings ?? get('max_position_embeddings'));
  } else if (settings.ropeType !== 'default' && settings.ropeType !== 'llama3') {
    unsupported(`rope type '${settings.ropeType}'`);
  }
  if (settings.partialRotaryFactor !== 1) unsupported('partial_rotary_factor');
  if ((a === 'llama' || a === 'mistral') && typeof config.sliding_window === 'number') meta[`${a}.attention.sliding_window`] = config.sliding_window;
  if ((a === 'qwen2' || a === 'qwen3') && config.use_sliding_window === true) unsupported('use_sliding_window');
  if (a === 'gemma2' || a === 'gemma3') {
    const layers = get('num_hidden_layers');
    const big = (a === 'gemma2' && layers === 46) || (a === 'gemma3' && layers === 62);
    const expected = big ? get('hidden_size') / heads : headDim;
    if (get('query_pre_attn_scalar', headDim) !== expected) unsupported(`query_pre_attn_scalar ${config.query_pre_attn_scalar} (llama.cpp uses ${expected})`);
    meta[`${a}.attention.sliding_window`] = get('sliding_window');
    if (typeof config.final_logit_softcapping === 'number') meta[`${a}.final_logit_softcapping`] = config.final_logit_softcapping;
    if (a === 'gemma2') meta[`${a}.attn_logit_softcapping`] = get('attn_logit_softcapping', 50);
    if (a === 'gemma3') {
      const local = ropeSettings(config, 'sliding_attention', where);
      if (local.base !== 10000 || local.ropeType !== 'default') unsupported(`a local rope other than base 10000 (llama.cpp's fixed value)`);
      const pattern = Number(config.sliding_window_pattern ?? config._sliding_window_pattern ?? 6);
      if (pattern !== 6) meta[`${a}.attention.sliding_window_pattern`] = pattern;
    }
  }
  return meta;
}
