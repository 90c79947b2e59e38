// Models at the shapes of ../shared/BENCHMARKS.md with random weights (N(0, 0.02), norms 1, as
// transformers initializes them): shapes decide the cost, so the GPU benches need no download.
import * as mx from '../../src/index.js';
import { getArchitecture } from '../../src/lm/models/registry.js';
import type { LanguageModel } from '../../src/lm/models/base.js';
import { treeFlatten } from '../../src/utils/index.js';

export const LLAMA_1B = {
  model_type: 'llama', hidden_size: 2048, num_hidden_layers: 16, num_attention_heads: 32, num_key_value_heads: 8,
  head_dim: 64, intermediate_size: 8192, vocab_size: 128256, tie_word_embeddings: true, rms_norm_eps: 1e-5,
  max_position_embeddings: 131072, rope_theta: 500000,
  rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
};
export const QWEN3_4B = {
  model_type: 'qwen3', hidden_size: 2560, num_hidden_layers: 36, num_attention_heads: 32, num_key_value_heads: 8,
  head_dim: 128, intermediate_size: 9728, vocab_size: 151936, tie_word_embeddings: true, rms_norm_eps: 1e-6,
  max_position_embeddings: 40960, rope_theta: 1000000,
};
/** The 1B layout shrunk, for --smoke runs on the CPU. */
export const TINY = { ...LLAMA_1B, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, intermediate_size: 128, vocab_size: 512 };

/** A model of `config` with random weights of `dtype`, evaluated, in eval mode. */
export function randomModel(config: Record<string, unknown>, dtype: mx.DType = mx.bfloat16): LanguageModel {
  const model = getArchitecture(String(config.model_type)).fromConfig(config);
  let k = 0;
  const fresh = treeFlatten<mx.Array>(model.parameters()).map(([name, p]) => {
    const w = name.endsWith('norm.weight') ? mx.ones(p.shape, dtype)
      : mx.astype(mx.multiply(mx.random.normal(p.shape, mx.float32, null, null, mx.random.key(k++)), 0.02), dtype);
    mx.eval(w); // one tensor at a time: the float32 draws never pile up
    return [name, w] as const;
  });
  model.loadWeights(fresh, false);
  mx.eval(model.parameters());
  model.eval();
  return model;
}
