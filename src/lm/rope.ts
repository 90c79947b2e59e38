// Rotary position embeddings as Hugging Face computes them: the default, linear, dynamic
// (NTK), llama3, yarn and longrope (Phi-3's "su") frequency schedules, partial rotary dims,
// and positions per batch row (left-padded prompts). Frequencies are computed on the host in
// float64 (they depend on the configuration and, for dynamic and longrope, on the sequence
// length); the rotation itself is the reference computation from basic ops.
import * as mx from '../core/index.js';
import type { Array } from '../core/index.js';
import { rotate } from '../fast/rotate.js';
import { rope } from '../fast/rope.js';

export type RopeType = 'default' | 'linear' | 'dynamic' | 'llama3' | 'yarn' | 'longrope';
const ROPE_TYPES: readonly RopeType[] = ['default', 'linear', 'dynamic', 'llama3', 'yarn', 'longrope'];

/** One rope schedule, normalized from config.json (either transformers 5's `rope_parameters` or the older `rope_theta` + `rope_scaling`). */
export interface RopeSettings {
  ropeType: RopeType;
  /** The base θ of the frequencies θ^(-2i/dims). */
  base: number;
  /** The scaling entries as written (factor, low_freq_factor, original_max_position_embeddings, ...). */
  scaling: Record<string, unknown>;
  /** Fraction of each head's dims that rotate (Phi-3, some others); the rest pass through. */
  partialRotaryFactor: number;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !globalThis.Array.isArray(v);

/**
 * The rope settings of a config (for `layerType` 'sliding_attention' / 'full_attention' where
 * the model keeps one schedule per attention kind, as Gemma 3). `where` names the file in errors.
 */
export function ropeSettings(config: Json, layerType: string | null = null, where = 'config.json'): RopeSettings {
  let params: Json | null = null;
  let base: unknown;
  if (isObject(config.rope_parameters)) {
    params = config.rope_parameters;
    const perLayer = Object.values(params).some(isObject);
    if (perLayer) {
      const key = layerType ?? 'full_attention';
      const sub = params[key];
      if (!isObject(sub)) throw new Error(`[loadModel] ${where}: rope_parameters has entries per layer type (${Object.keys(params).join(', ')}) but none for '${key}'`);
      params = sub;
    }
    base = params.rope_theta ?? config.rope_theta;
  } else {
    params = isObject(config.rope_scaling) ? config.rope_scaling : null;
    base = config.rope_theta;
    // Gemma 3's older configs: local (sliding) layers use rope_local_base_freq without scaling.
    if (layerType === 'sliding_attention' && config.rope_local_base_freq !== undefined) {
      base = config.rope_local_base_freq;
      params = null;
    }
  }
  const rawType = String(params?.rope_type ?? params?.type ?? 'default');
  const ropeType = (rawType === 'su' ? 'longrope' : rawType) as RopeType;
  if (!ROPE_TYPES.includes(ropeType))
    throw new Error(`[loadModel] ${where}: rope type '${rawType}' is not supported (supported: ${ROPE_TYPES.join(', ')})`);
  const theta = base === undefined || base === null ? 10000 : Number(base);
  if (!Number.isFinite(theta) || theta <= 0) throw new Error(`[loadModel] ${where}: rope_theta must be a positive number, got ${JSON.stringify(base)}`);
  const prf = Number(params?.partial_rotary_factor ?? config.partial_rotary_factor ?? 1);
  if (!(prf > 0 && prf <= 1)) throw new Error(`[loadModel] ${where}: partial_rotary_factor must be in (0, 1], got ${JSON.stringify(config.partial_rotary_factor)}`);
  const scaling: Json = { ...(params ?? {}) };
  if (scaling.original_max_position_embeddings === undefined && config.original_max_position_embeddings !== undefined)
    scaling.original_max_position_embeddings = config.original_max_position_embeddings;
  return { ropeType, base: theta, scaling, partialRotaryFactor: prf };
}

/**
 * Where the tokens of one forward call sit: `offset` (the tokens already in the cache, padding
 * included), `length` new tokens, and per-row left padding (row b's token at column j has
 * position j - leftPadding[b]). Layers share one Positions per call, so rotary tables are made once.
 */
export class Positions {
  /** Rotary (cos, sin) tables made for this call, keyed by schedule. */
  readonly tables = new Map<string, [Array, Array]>();
  /** fast.rope's frequencies made for this call, keyed by schedule. */
  readonly periods = new Map<string, Array>();

  constructor(readonly offset: number, readonly length: number, readonly leftPadding: readonly number[] | null = null) {}

  /** The largest position plus one: the sequence length dynamic and longrope scaling look at. */
  get seqLen(): number {
    return this.offset + this.length - (this.leftPadding ? Math.min(...this.leftPadding) : 0);
  }

  /** The first token's position: a number, or per batch row (B,) int32 with left padding. */
  starts(): number | Array {
    if (!this.leftPadding) return this.offset;
    return this.startsArray ??= mx.array(Int32Array.from(this.leftPadding, (p) => this.offset - p));
  }
  private startsArray: Array | undefined;

  /** Positions as float32: (L,) without padding, (B, 1, L) with it. */
  values(): Array {
    const pos = mx.arange(this.offset, this.offset + this.length, 1, 'float32');
    if (!this.leftPadding) return pos;
    const pad = mx.reshape(mx.array(Float32Array.from(this.leftPadding)), [-1, 1, 1]);
    return mx.subtract(pos, pad);
  }
}

const num = (v: unknown, fallback: number): number => (v === undefined || v === null ? fallback : Number(v));

/** A rotary embedding with one frequency schedule. `dims` rotate; features past them pass through. */
export class Rope {
  readonly dims: number;
  private readonly fixed: { invFreq: Float64Array; scale: number } | null;

  constructor(readonly settings: RopeSettings, headDim: number, readonly maxPositionEmbeddings: number, readonly traditional = false) {
    this.dims = Math.floor(headDim * settings.partialRotaryFactor);
    if (this.dims % 2 !== 0 || this.dims <= 0) throw new Error(`[Rope] the rotary dims (head_dim ${headDim} x partial_rotary_factor ${settings.partialRotaryFactor}) must be a positive even number, got ${this.dims}`);
    const t = settings.ropeType;
    this.fixed = t === 'dynamic' || t === 'longrope' ? null : this.compute(0);
    if (t === 'longrope') {
      for (const key of ['short_factor', 'long_factor']) {
        const f = settings.scaling[key];
        if (!globalThis.Array.isArray(f) || f.length !== this.dims / 2)
          throw new Error(`[Rope] longrope needs ${key} with ${this.dims / 2} entries (rotary dims / 2), got ${JSON.stringify(f)}`);
      }
    }
  }

  /** The inverse frequencies (dims/2 of them) and the factor cos and sin are scaled by, for a sequence of `seqLen`. */
  frequencies(seqLen: number): { invFreq: Float64Array; scale: number } {
    return this.fixed ?? this.compute(seqLen);
  }

  private compute(seqLen: number): { invFreq: Float64Array; scale: number } {
    const { ropeType, base, scaling } = this.settings;
    const d = this.dims, half = d / 2;
    const inv = (b: number) => Float64Array.from({ length: half }, (_, i) => 1 / b ** ((2 * i) / d));
    const factor = num(scaling.factor, 1);
    switch (ropeType) {
      case 'default': return { invFreq: inv(base), scale: 1 };
      case 'linear': return { invFreq: inv(base).map((f) => f / factor), scale: 1 };
      case 'dynamic': {
        const maxPos = num(scaling.original_max_position_embeddings, this.maxPositionEmbeddings);
        if (seqLen <= maxPos) return { invFreq: inv(base), scale: 1 };
        return { invFreq: inv(base * ((factor * seqLen) / maxPos - (factor - 1)) ** (d / (d - 2))), scale: 1 };
      }
      case 'llama3': {
        const low = num(scaling.low_freq_factor, 1), high = num(scaling.high_freq_factor, 4);
        const old = num(scaling.original_max_position_embeddings, 8192);
        const lowWavelen = old / low, highWavelen = old / high;
        return {
          scale: 1,
          invFreq: inv(base).map((f) => {
            const wavelen = (2 * Math.PI) / f;
            if (wavelen < highWavelen) return f;
            if (wavelen > lowWavelen) return f / factor;
            const smooth = (old / wavelen - low) / (high - low);
            return (1 - smooth) * (f / factor) + smooth * f;
          }),
        };
      }
      case 'yarn': return this.yarn();
      case 'longrope': {
        const original = num(scaling.original_max_position_embeddings, this.maxPositionEmbeddings);
        const ratio = scaling.original_max_position_embeddings !== undefined ? this.maxPositionEmbeddings / original : factor;
        const scale = scaling.attention_factor != null ? Number(scaling.attention_factor)
          : ratio <= 1 ? 1 : Math.sqrt(1 + Math.log(ratio) / Math.log(original));
        const ext = (seqLen > original ? scaling.long_factor : scaling.short_factor) as number[];
        return { invFreq: Float64Array.from({ length: half }, (_, i) => 1 / (ext[i] * base ** ((2 * i) / d))), scale };
      }
    }
  }

  /** YaRN (arXiv:2309.00071) as transformers: blend interpolated and extrapolated frequencies by a ramp over the dims. */
  private yarn(): { invFreq: Float64Array; scale: number } {
    const { base, scaling } = this.settings;
    const d = this.dims, half = d / 2;
    const original = num(scaling.original_max_position_embeddings, this.maxPositionEmbeddings);
    const factor = scaling.factor != null ? Number(scaling.factor) : this.maxPositionEmbeddings / original;
    const mscale = (s: number, m = 1) => (s <= 1 ? 1 : 0.1 * m * Math.log(s) + 1);
    const m = scaling.mscale != null ? Number(scaling.mscale) : 0, mAll = scaling.mscale_all_dim != null ? Number(scaling.mscale_all_dim) : 0;
    const scale = scaling.attention_factor != null ? Number(scaling.attention_factor) : m && mAll ? mscale(factor, m) / mscale(factor, mAll) : mscale(factor);
    const betaFast = num(scaling.beta_fast, 32) || 32, betaSlow = num(scaling.beta_slow, 1) || 1;
    const truncate = scaling.truncate === undefined ? true : Boolean(scaling.truncate);
    const correctionDim = (rot: number) => (d * Math.log(original / (rot * 2 * Math.PI))) / (2 * Math.log(base));
    let low = correctionDim(betaFast), high = correctionDim(betaSlow);
    if (truncate) { low = Math.floor(low); high = Math.ceil(high); }
    low = Math.max(low, 0); high = Math.min(high, d - 1);
    if (low === high) high += 0.001; // avoids a division by zero, as transformers
    const invFreq = Float64Array.from({ length: half }, (_, i) => {
      const posFreq = base ** ((2 * i) / d);
      const extrapolation = 1 - Math.min(Math.max((i - low) / (high - low), 0), 1);
      return (1 / (factor * posFreq)) * (1 - extrapolation) + (1 / posFreq) * extrapolation;
    });
    return { invFreq, scale };
  }

  /** (cos, sin) of shape (L, dims/2) or (B, 1, L, dims/2), scaled; made once per Positions. */
  table(positions: Positions): [Array, Array] {
    const { invFreq, scale } = this.frequencies(positions.seqLen);
    const key = `${this.dims}:${scale}:${invFreq.join(',')}`;
    let t = positions.tables.get(key);
    if (!t) {
      const theta = mx.multiply(mx.expandDims(positions.values(), -1), mx.array(Float32Array.from(invFreq)));
      t = [mx.cos(theta), mx.sin(theta)];
      if (scale !== 1) t = [mx.multiply(t[0], scale), mx.multiply(t[1], scale)];
      positions.tables.set(key, t);
    }
    return t;
  }

  /**
   * Rotates x (B, heads, L, headDim) by its positions: fast.rope with this schedule's
   * frequencies (per-row starts for left-padded batches). Schedules that also scale cos and
   * sin (yarn, longrope) rotate through the reference tables. Computed in float32 (float64
   * stays float64).
   */
  forward(x: Array, positions: Positions): Array {
    if (x.ndim !== 4 || x.shape[2] !== positions.length)
      throw new Error(`[Rope] expected (B, heads, L=${positions.length}, headDim), got shape (${x.shape.join(',')})`);
    const { invFreq, scale } = this.frequencies(positions.seqLen);
    if (scale === 1) return rope(x, this.dims, { traditional: this.traditional, freqs: this.periods(positions, invFreq), offset: positions.starts() });
    let [cos, sin] = this.table(positions);
    if (cos.ndim === 2) { cos = mx.reshape(cos, [1, 1, ...cos.shape]); sin = mx.reshape(sin, [1, 1, ...sin.shape]); }
    return rotate(x, cos, sin, this.dims, this.traditional, x.dtype.name === 'float64' ? 'float64' : 'float32');
  }

  /** 1 / invFreq as float32 (fast.rope's `freqs`), made once per Positions. */
  private periods(positions: Positions, invFreq: Float64Array): Array {
    const key = invFreq.join(',');
    let p = positions.periods.get(key);
    if (!p) positions.periods.set(key, (p = mx.array(Float32Array.from(invFreq, (f) => 1 / f))));
    return p;
  }
}

/** The rotary embedding a model's config asks for (MLX-LM's initialize_rope, from the HF config). */
export function initializeRope(config: Json, headDim: number, layerType: string | null = null, where = 'config.json'): Rope {
  const settings = ropeSettings(config, layerType, where);
  return new Rope(settings, headDim, num(config.max_position_embeddings, 2048));
}
