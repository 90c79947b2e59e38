// A minimal Llama for training the shipped model: the Hugging Face llama layout (property
// names are the checkpoint keys, so `lathe/lm`'s loader reads what this saves), full
// sequences only (no KV cache: generation uses lathe/lm's own model file).
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { scaledDotProductAttention } from '../../src/nn/layers/attention.js';

export interface TinyLlamaConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  rms_norm_eps: number;
  rope_theta: number;
  max_position_embeddings: number;
  tie_word_embeddings: boolean;
}

class Attention extends nn.Module {
  q_proj: nn.Linear; k_proj: nn.Linear; v_proj: nn.Linear; o_proj: nn.Linear;
  private readonly rope: nn.RoPE;
  constructor(private readonly c: TinyLlamaConfig) {
    super();
    const hd = c.hidden_size / c.num_attention_heads;
    this.q_proj = new nn.Linear(c.hidden_size, c.num_attention_heads * hd, false);
    this.k_proj = new nn.Linear(c.hidden_size, c.num_key_value_heads * hd, false);
    this.v_proj = new nn.Linear(c.hidden_size, c.num_key_value_heads * hd, false);
    this.o_proj = new nn.Linear(c.num_attention_heads * hd, c.hidden_size, false);
    this.rope = new nn.RoPE(hd, false, c.rope_theta);
  }
  override forward(x: mx.Array, mask: mx.Array): mx.Array {
    const [B, L] = x.shape;
    const hd = this.c.hidden_size / this.c.num_attention_heads;
    const heads = (t: mx.Array, n: number) => mx.transpose(mx.reshape(t, [B, L, n, hd]), [0, 2, 1, 3]);
    const q = this.rope.forward(heads(this.q_proj.forward(x), this.c.num_attention_heads));
    const k = this.rope.forward(heads(this.k_proj.forward(x), this.c.num_key_value_heads));
    const v = heads(this.v_proj.forward(x), this.c.num_key_value_heads);
    const o = scaledDotProductAttention(q, k, v, 1 / Math.sqrt(hd), mask);
    return this.o_proj.forward(mx.reshape(mx.transpose(o, [0, 2, 1, 3]), [B, L, -1]));
  }
}

class MLP extends nn.Module {
  gate_proj: nn.Linear; up_proj: nn.Linear; down_proj: nn.Linear;
  constructor(dims: number, hidden: number) {
    super();
    this.gate_proj = new nn.Linear(dims, hidden, false);
    this.up_proj = new nn.Linear(dims, hidden, false);
    this.down_proj = new nn.Linear(hidden, dims, false);
  }
  override forward(x: mx.Array): mx.Array {
    return this.down_proj.forward(mx.multiply(nn.silu(this.gate_proj.forward(x)), this.up_proj.forward(x)));
  }
}

class Block extends nn.Module {
  self_attn: Attention; mlp: MLP; input_layernorm: nn.RMSNorm; post_attention_layernorm: nn.RMSNorm;
  constructor(c: TinyLlamaConfig) {
    super();
    this.self_attn = new Attention(c);
    this.mlp = new MLP(c.hidden_size, c.intermediate_size);
    this.input_layernorm = new nn.RMSNorm(c.hidden_size, c.rms_norm_eps);
    this.post_attention_layernorm = new nn.RMSNorm(c.hidden_size, c.rms_norm_eps);
  }
  override forward(x: mx.Array, mask: mx.Array): mx.Array {
    const h = mx.add(x, this.self_attn.forward(this.input_layernorm.forward(x), mask));
    return mx.add(h, this.mlp.forward(this.post_attention_layernorm.forward(h)));
  }
}

class Body extends nn.Module {
  embed_tokens: nn.Embedding; layers: Block[]; norm: nn.RMSNorm;
  constructor(c: TinyLlamaConfig) {
    super();
    this.embed_tokens = new nn.Embedding(c.vocab_size, c.hidden_size);
    this.layers = Array.from({ length: c.num_hidden_layers }, () => new Block(c));
    this.norm = new nn.RMSNorm(c.hidden_size, c.rms_norm_eps);
  }
}

export class TinyLlama extends nn.Module {
  model: Body;
  lm_head?: nn.Linear;
  constructor(readonly config: TinyLlamaConfig) {
    super();
    this.model = new Body(config);
    if (!config.tie_word_embeddings) this.lm_head = new nn.Linear(config.hidden_size, config.vocab_size, false);
    // Small residual-branch outputs at the start (GPT-2's scaling), so deeper stacks start stable.
    const s = 1 / Math.sqrt(2 * config.num_hidden_layers);
    for (const b of this.model.layers) {
      b.self_attn.o_proj.weight = mx.multiply(b.self_attn.o_proj.weight, s);
      b.mlp.down_proj.weight = mx.multiply(b.mlp.down_proj.weight, s);
    }
  }
  /** Logits (B, L, V) for int32 ids (B, L); `mask` is the additive causal mask (L, L). */
  override forward(ids: mx.Array, mask: mx.Array): mx.Array {
    let x = this.model.embed_tokens.forward(ids);
    for (const b of this.model.layers) x = b.forward(x, mask);
    x = this.model.norm.forward(x);
    return this.lm_head ? this.lm_head.forward(x) : this.model.embed_tokens.asLinear(x);
  }
}
