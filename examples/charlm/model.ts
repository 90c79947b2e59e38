// A small GPT-style character model: token and position embeddings, pre-norm transformer
// blocks (causal multi-head self-attention, then an MLP with a GELU, each with a residual), a final
// RMSNorm, and the output head tied to the token embedding.
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { treeFlatten } from '../../src/utils/index.js';

export interface CharLMConfig {
  vocabSize: number;
  /** The longest sequence the position embedding covers. */
  context: number;
  dims: number;
  heads: number;
  layers: number;
  /** Hidden width of each MLP. Default 4 · dims. */
  mlpDims?: number;
}

class MLP extends nn.Module {
  fc: nn.Linear;
  proj: nn.Linear;

  constructor(dims: number, hidden: number) {
    super();
    this.fc = new nn.Linear(dims, hidden);
    this.proj = new nn.Linear(hidden, dims);
  }

  // x·σ(1.702x): the GELU curve from one sigmoid, cheaper on the CPU than erf or tanh-and-cube.
  override forward(x: mx.Array): mx.Array {
    return this.proj.forward(nn.geluFastApprox(this.fc.forward(x)));
  }
}

class Block extends nn.Module {
  attn_norm: nn.RMSNorm;
  attn: nn.MultiHeadAttention;
  mlp_norm: nn.RMSNorm;
  mlp: MLP;

  constructor(dims: number, heads: number, mlpDims: number) {
    super();
    this.attn_norm = new nn.RMSNorm(dims);
    this.attn = new nn.MultiHeadAttention(dims, heads);
    this.mlp_norm = new nn.RMSNorm(dims);
    this.mlp = new MLP(dims, mlpDims);
  }

  override forward(x: mx.Array, mask: mx.Array): mx.Array {
    const h = this.attn_norm.forward(x);
    x = mx.add(x, this.attn.forward(h, h, h, mask));
    return mx.add(x, this.mlp.forward(this.mlp_norm.forward(x)));
  }
}

export class CharLM extends nn.Module {
  readonly config: Required<CharLMConfig>;
  tok_emb: nn.Embedding;
  pos_emb: nn.Embedding;
  blocks: Block[];
  norm: nn.RMSNorm;
  /**
   * The additive causal mask for the full context, made once: a mask built per call would
   * allocate its constants every step. Names starting with '_' are not parameters.
   */
  private readonly _mask: mx.Array;

  constructor(config: CharLMConfig) {
    super();
    const { vocabSize, context, dims, heads, layers } = config;
    if (dims % heads !== 0) throw new Error(`[CharLM] dims (${dims}) must be divisible by heads (${heads})`);
    this.config = { ...config, mlpDims: config.mlpDims ?? 4 * dims };
    this.tok_emb = new nn.Embedding(vocabSize, dims);
    this.pos_emb = new nn.Embedding(context, dims);
    this.blocks = Array.from({ length: layers }, () => new Block(dims, heads, this.config.mlpDims));
    this.norm = new nn.RMSNorm(dims);
    this._mask = mx.tidy(() => nn.MultiHeadAttention.createAdditiveCausalMask(context));
    // GPT-2's scaling: residual branches' output projections shrink with depth, so the
    // residual stream's variance does not grow with the number of blocks at initialization.
    const residualScale = 1 / Math.sqrt(2 * layers);
    for (const b of this.blocks) {
      b.attn.out_proj.weight = mx.multiply(b.attn.out_proj.weight, residualScale);
      b.mlp.proj.weight = mx.multiply(b.mlp.proj.weight, residualScale);
    }
  }

  /** Logits of shape (B, L, vocabSize) for int32 ids of shape (B, L), L ≤ context. */
  override forward(ids: mx.Array): mx.Array {
    const L = ids.shape[ids.ndim - 1];
    if (L > this.config.context) throw new Error(`[CharLM] sequence length ${L} exceeds the context of ${this.config.context}`);
    let x = mx.add(this.tok_emb.forward(ids), this.pos_emb.forward(mx.arange(L)));
    // The top-left (L, L) block of the causal mask is the causal mask for length L.
    const mask = L === this.config.context ? this._mask : mx.stridedSlice(this._mask, [0, 0], [L, L]);
    for (const b of this.blocks) x = b.forward(x, mask);
    return this.tok_emb.asLinear(this.norm.forward(x));
  }

  /** The number of scalars in the parameters. */
  numParameters(): number {
    return treeFlatten<mx.Array>(this.parameters()).reduce((n, [, a]) => n + a.size, 0);
  }
}

/** Mean next-character cross entropy (nats) of the model on inputs and shifted targets. */
export function lmLoss(model: CharLM, x: mx.Array, y: mx.Array): mx.Array {
  return nn.losses.crossEntropy(model.forward(x), y, null, -1, 0, 'mean');
}
