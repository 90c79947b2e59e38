// llama.cpp's tensor names (gguf-py's TENSOR_NAMES) and Hugging Face's, per architecture, in
// both directions; and the two changes llama.cpp's convert_hf_to_gguf.py makes to values:
// Llama's q/k rows are permuted (rotate-half pairs become interleaved pairs, for ggml's
// "normal" rope), and Gemma's norm weights are stored plus one.
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';

/** One architecture as GGUF stores it. */
export interface GgufArchitecture {
  /** general.architecture. */
  gguf: string;
  /** config.json's model_type and architectures. */
  modelType: string;
  hfClass: string;
  /** llama.cpp permutes q_proj / k_proj rows (LlamaModel.permute). */
  permuteQK: boolean;
  /** Added to every `*norm.weight` by llama.cpp (Gemma's RMSNorm scales by 1 + weight). */
  normShift: number;
  /** blk.N.<name> -> model.layers.N.<name>, beyond the common ones. */
  block: Record<string, string>;
}

const COMMON_BLOCK: Record<string, string> = {
  attn_norm: 'input_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
};
const LLAMA_BLOCK = { ...COMMON_BLOCK, ffn_norm: 'post_attention_layernorm' };
const QK_NORM = { attn_q_norm: 'self_attn.q_norm', attn_k_norm: 'self_attn.k_norm' };
const GEMMA_BLOCK = {
  ...COMMON_BLOCK,
  post_attention_norm: 'post_attention_layernorm',
  ffn_norm: 'pre_feedforward_layernorm',
  post_ffw_norm: 'post_feedforward_layernorm',
};

export const GGUF_ARCHITECTURES: readonly GgufArchitecture[] = [
  { gguf: 'llama', modelType: 'llama', hfClass: 'LlamaForCausalLM', permuteQK: true, normShift: 0, block: LLAMA_BLOCK },
  { gguf: 'mistral', modelType: 'mistral', hfClass: 'MistralForCausalLM', permuteQK: true, normShift: 0, block: LLAMA_BLOCK },
  { gguf: 'qwen2', modelType: 'qwen2', hfClass: 'Qwen2ForCausalLM', permuteQK: false, normShift: 0, block: LLAMA_BLOCK },
  { gguf: 'qwen3', modelType: 'qwen3', hfClass: 'Qwen3ForCausalLM', permuteQK: false, normShift: 0, block: { ...LLAMA_BLOCK, ...QK_NORM } },
  { gguf: 'gemma2', modelType: 'gemma2', hfClass: 'Gemma2ForCausalLM', permuteQK: false, normShift: 1, block: GEMMA_BLOCK },
  { gguf: 'gemma3', modelType: 'gemma3_text', hfClass: 'Gemma3ForCausalLM', permuteQK: false, normShift: 1, block: { ...GEMMA_BLOCK, ...QK_NORM } },
];

const GLOBAL: Record<string, string> = { token_embd: 'model.embed_tokens', output_norm: 'model.norm', output: 'lm_head' };

export function supportedGgufArchitectures(): string[] {
  return GGUF_ARCHITECTURES.map((a) => a.gguf).sort();
}

export function ggufArchitecture(name: string, where: string): GgufArchitecture {
  const a = GGUF_ARCHITECTURES.find((x) => x.gguf === name);
  if (!a) throw new Error(`[loadModel] ${where}: GGUF architecture '${name}' is not supported; supported: ${supportedGgufArchitectures().join(', ')}`);
  return a;
}

/** The architecture that writes a model_type, for saveGgufModel (Mistral as llama, as llama.cpp's converter does). */
export function ggufArchitectureOf(modelType: string): GgufArchitecture | undefined {
  return GGUF_ARCHITECTURES.find((x) => x.gguf === (modelType === 'mistral' ? 'llama' : modelType)) ?? GGUF_ARCHITECTURES.find((x) => x.modelType === modelType);
}

/** The Hugging Face key of a GGUF tensor name, or null for one the architecture does not have. */
export function hfName(arch: GgufArchitecture, name: string): string | null {
  const m = /^(.*)\.(weight|bias)$/.exec(name);
  if (!m) return null;
  const [, base, kind] = m;
  if (GLOBAL[base]) return `${GLOBAL[base]}.${kind}`;
  const b = /^blk\.(\d+)\.(.+)$/.exec(base);
  if (!b || !arch.block[b[2]]) return null;
  return `model.layers.${b[1]}.${arch.block[b[2]]}.${kind}`;
}

/** The GGUF tensor name of a Hugging Face key, or null. */
export function ggufName(arch: GgufArchitecture, key: string): string | null {
  const m = /^(.*)\.(weight|bias)$/.exec(key);
  if (!m) return null;
  const [, base, kind] = m;
  for (const [g, h] of Object.entries(GLOBAL)) if (h === base) return `${g}.${kind}`;
  const b = /^model\.layers\.(\d+)\.(.+)$/.exec(base);
  if (!b) return null;
  const g = Object.entries(arch.block).find(([, h]) => h === b[2]);
  return g ? `blk.${b[1]}.${g[0]}.${kind}` : null;
}

/** Whether llama.cpp permuted this Hugging Face tensor's rows; the head count to (un)permute with. */
export function permutedHeads(arch: GgufArchitecture, key: string, heads: number, kvHeads: number): number | null {
  if (!arch.permuteQK) return null;
  if (/\.self_attn\.q_proj\.(weight|bias)$/.test(key)) return heads;
  if (/\.self_attn\.k_proj\.(weight|bias)$/.test(key)) return kvHeads;
  return null;
}

/**
 * llama.cpp's LlamaModel.permute on the rows of `x`: per head, row p*half + i moves to
 * i*2 + p. `inverse` undoes it. Rows of packed quantized weights and their scales move alike.
 */
export function permuteRows(x: Array, heads: number, inverse: boolean): Array {
  const rows = x.shape[0], rest = x.shape.slice(1);
  if (rows % (2 * heads) !== 0) throw new Error(`[gguf] cannot permute ${rows} rows over ${heads} heads (rows must be a multiple of 2 x heads)`);
  const half = rows / heads / 2;
  const from = inverse ? [heads, half, 2, ...rest] : [heads, 2, half, ...rest];
  return mx.reshape(mx.swapaxes(mx.reshape(x, from), 1, 2), x.shape);
}

/** Whether a Hugging Face key is a norm weight (Gemma's are stored plus one). */
export const isNormWeight = (key: string): boolean => key.endsWith('norm.weight');

/** Whether a Hugging Face key is the weight of a Linear or Embedding layer (the ones that may stay quantized). */
export const isMatrixWeight = (key: string): boolean =>
  /^(model\.embed_tokens|lm_head|model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj))\.weight$/.test(key);
