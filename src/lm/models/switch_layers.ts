// Mixture-of-experts layers as MLX-LM's switch_layers.py: every expert's weights stacked in one
// (numExperts, out, in) array, and each token run through only the experts its router chose.
// Two ways to do that, both without touching unchosen experts:
//  - gather (few tokens, e.g. decoding): take each (token, expert) pair's weight matrix and do
//    one batched matmul; reads one matrix per pair.
//  - sort (many tokens, e.g. a prompt): read the chosen experts on the host (a sync), group the
//    pairs by expert, run each used expert once on its rows, and put the rows back in order.
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module } from '../../nn/index.js';
import { swiglu } from '../../fast/glu.js';
import type { Weights } from './base.js';

/** A Linear per expert: weight (numExperts, outputDims, inputDims), optional bias (numExperts, outputDims). */
export class SwitchLinear extends Module {
  weight: Array;
  declare bias?: Array;

  constructor(inputDims: number, outputDims: number, numExperts: number, bias = false) {
    super();
    const scale = Math.sqrt(1 / inputDims);
    this.weight = mx.random.uniform(-scale, scale, [numExperts, outputDims, inputDims]);
    if (bias) this.bias = mx.zeros([numExperts, outputDims]);
  }

  get numExperts(): number { return this.weight.shape[0]; }

  /** Rows x (N, 1, in), row n through expert idx[n]: (N, 1, out). */
  gathered(x: Array, idx: Array): Array {
    const y = mx.matmul(x, mx.swapaxes(mx.take(this.weight, idx, 0), -1, -2));
    return this.bias ? mx.add(y, mx.expandDims(mx.take(this.bias, idx, 0), 1)) : y;
  }

  /** Rows x (n, in) through expert e: (n, out). */
  expert(x: Array, e: number): Array {
    const y = mx.matmul(x, mx.transpose(mx.index(this.weight, e)));
    return this.bias ? mx.add(y, mx.index(this.bias, e)) : y;
  }

  toQuantized(groupSize = 64, bits = 4): QuantizedSwitchLinear {
    const q = new QuantizedSwitchLinear(groupSize, bits);
    [q.weight, q.scales, q.biases] = mx.quantize(this.weight, groupSize, bits);
    if (this.bias) q.bias = this.bias;
    return q.freeze({ keys: ['weight', 'scales', 'biases'] });
  }
}

/** SwitchLinear with each expert's weight quantized (MLX's layout, as QuantizedLinear). */
export class QuantizedSwitchLinear extends Module {
  weight!: Array;
  scales!: Array;
  biases!: Array;
  declare bias?: Array;

  constructor(readonly groupSize = 64, readonly bits = 4) { super(); }

  get numExperts(): number { return this.weight.shape[0]; }

  gathered(x: Array, idx: Array): Array {
    const t = (a: Array) => mx.take(a, idx, 0);
    const y = mx.quantizedMatmul(x, t(this.weight), t(this.scales), t(this.biases), true, this.groupSize, this.bits);
    return this.bias ? mx.add(y, mx.expandDims(t(this.bias), 1)) : y;
  }

  expert(x: Array, e: number): Array {
    const t = (a: Array) => mx.index(a, e);
    const y = mx.quantizedMatmul(x, t(this.weight), t(this.scales), t(this.biases), true, this.groupSize, this.bits);
    return this.bias ? mx.add(y, t(this.bias)) : y;
  }
}

type Switch = SwitchLinear | QuantizedSwitchLinear;

/** How SwitchGLU routes: 'auto' gathers when there are no more (token, expert) pairs than experts, else sorts. */
export type SwitchMode = 'auto' | 'gather' | 'sort';

/** down(silu(gate(x)) · up(x)) through each token's chosen experts (the MoE feed-forward). */
export class SwitchGLU extends Module {
  gate_proj: Switch;
  up_proj: Switch;
  down_proj: Switch;
  /** 'sort' reads the router's choice on the host, which a traced transform (grad, compile) cannot: use 'gather' there. */
  mode: SwitchMode = 'auto';

  constructor(inputDims: number, hiddenDims: number, numExperts: number, bias = false) {
    super();
    this.gate_proj = new SwitchLinear(inputDims, hiddenDims, numExperts, bias);
    this.up_proj = new SwitchLinear(inputDims, hiddenDims, numExperts, bias);
    this.down_proj = new SwitchLinear(hiddenDims, inputDims, numExperts, bias);
  }

  /** x (..., D) and the chosen experts (..., k): each token through each of its experts, (..., k, D). */
  override forward(x: Array, indices: Array): Array {
    const lead = x.shape.slice(0, -1), D = x.shape[x.ndim - 1], k = indices.shape[indices.ndim - 1];
    const T = lead.reduce((a, b) => a * b, 1), N = T * k;
    const xf = mx.reshape(x, [T, D]);
    const idx = mx.reshape(indices, [N]);
    const E = this.gate_proj.numExperts;
    let out: Array;
    if (this.mode === 'gather' || (this.mode === 'auto' && N <= E)) {
      const xr = mx.reshape(mx.broadcastTo(mx.expandDims(xf, 1), [T, k, D]), [N, 1, D]);
      const h = swiglu(this.gate_proj.gathered(xr, idx), this.up_proj.gathered(xr, idx));
      out = mx.reshape(this.down_proj.gathered(h, idx), [N, -1]);
    } else {
      const chosen = Int32Array.from(idx.dataSync() as ArrayLike<number>);
      const rowsOf: number[][] = globalThis.Array.from({ length: E }, () => []);
      chosen.forEach((e, n) => rowsOf[e].push(n));
      const parts: Array[] = [], order: number[] = [];
      rowsOf.forEach((rows, e) => {
        if (!rows.length) return;
        const xe = mx.take(xf, mx.array(Int32Array.from(rows, (n) => Math.floor(n / k))), 0);
        const h = swiglu(this.gate_proj.expert(xe, e), this.up_proj.expert(xe, e));
        parts.push(this.down_proj.expert(h, e));
        order.push(...rows);
      });
      const inverse = new Int32Array(N);
      order.forEach((n, i) => { inverse[n] = i; });
      out = mx.take(parts.length === 1 ? parts[0] : mx.concatenate(parts, 0), mx.array(inverse), 0);
    }
    return mx.reshape(out, [...lead, k, out.shape[1]]);
  }
}

/**
 * Rewrites one MoE block's expert weights to SwitchGLU's stacked layout, in place:
 * per-expert checkpoints (`<prefix>.experts.<e>.<name>.weight`, as Hugging Face saves them)
 * are stacked, and transformers 5's fused `<prefix>.experts.gate_up_proj` (E, 2I, D) and
 * `down_proj` (E, D, I) are split. Already-stacked (MLX) weights pass through.
 */
export function stackExperts(weights: Weights, prefix: string, numExperts: number, names: { gate: string; up: string; down: string }): void {
  const pairs: [string, string][] = [[names.gate, 'gate_proj'], [names.up, 'up_proj'], [names.down, 'down_proj']];
  for (const [src, dst] of pairs) {
    for (const part of ['weight', 'bias', 'scales', 'biases']) {
      const keys = globalThis.Array.from({ length: numExperts }, (_, e) => `${prefix}.experts.${e}.${src}.${part}`);
      const have = keys.filter((k) => k in weights);
      if (!have.length) continue;
      if (have.length !== numExperts) {
        const missing = keys.filter((k) => !(k in weights));
        throw new Error(`[loadModel] the experts of ${prefix} are incomplete: ${missing.length} of ${numExperts} missing (${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ', ...' : ''})`);
      }
      weights[`${prefix}.switch_mlp.${dst}.${part}`] = mx.stack(keys.map((k) => weights[k]));
      for (const k of keys) delete weights[k];
    }
  }
  const fused = `${prefix}.experts.gate_up_proj`;
  if (fused in weights) {
    const w = weights[fused];
    const [gate, up] = mx.split(w, 2, 1);
    weights[`${prefix}.switch_mlp.gate_proj.weight`] = gate;
    weights[`${prefix}.switch_mlp.up_proj.weight`] = up;
    delete weights[fused];
  }
  const down = `${prefix}.experts.down_proj`;
  if (down in weights) {
    weights[`${prefix}.switch_mlp.down_proj.weight`] = weights[down];
    delete weights[down];
  }
}
