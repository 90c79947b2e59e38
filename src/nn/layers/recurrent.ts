// Recurrent layers with mlx.nn's parameter names and gate layouts (the same weight
// layouts as PyTorch: input weights (gates * H, D), hidden weights (gates * H, H)).
// Inputs are (N, L, D) or (L, D); the input projection of all steps is one matmul, then
// the loop runs over L.
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module } from '../module.js';

const uniformInit = (hiddenSize: number, shape: number[]) => {
  const scale = 1.0 / Math.sqrt(hiddenSize);
  return mx.random.uniform(-scale, scale, shape);
};

/** x @ W^T (+ b) for every step, then the steps as a list of (..., gates * H). */
function projectSteps(where: string, x: Array, W: Array, b: Array | undefined): Array[] {
  if (x.ndim !== 2 && x.ndim !== 3) throw new Error(`[${where}] expected an input (N, L, D) or (L, D), got shape (${x.shape.join(',')})`);
  const D = W.shape[1];
  if (x.shape[x.ndim - 1] !== D) throw new Error(`[${where}] the input's last dim ${x.shape[x.ndim - 1]} must equal the input size ${D}`);
  const proj = b ? mx.addmm(b, x, mx.transpose(W)) : mx.matmul(x, mx.transpose(W));
  const L = x.shape[x.ndim - 2];
  if (L === 0) return [];
  return mx.split(proj, L, -2).map((s) => mx.squeeze(s, -2));
}

function stackSteps(where: string, steps: Array[]): Array {
  if (steps.length === 0) throw new Error(`[${where}] the input sequence is empty`);
  return mx.stack(steps, -2);
}

/**
 * Elman RNN: h_t = nonlinearity(W_xh x_t + W_hh h_{t-1} + b). Returns the hidden states of
 * every step, (N, L, H) or (L, H).
 */
export class RNN extends Module {
  Wxh: Array;
  Whh: Array;
  bias?: Array;
  readonly hiddenSize: number;
  nonlinearity: (x: Array) => Array;

  constructor(inputSize: number, hiddenSize: number, bias = true, nonlinearity: ((x: Array) => Array) | null = null) {
    super();
    if (nonlinearity !== null && typeof nonlinearity !== 'function') throw new Error(`[RNN] nonlinearity must be a function, got ${typeof nonlinearity}`);
    this.nonlinearity = nonlinearity ?? mx.tanh;
    this.hiddenSize = hiddenSize;
    this.Wxh = uniformInit(hiddenSize, [hiddenSize, inputSize]);
    this.Whh = uniformInit(hiddenSize, [hiddenSize, hiddenSize]);
    if (bias) this.bias = uniformInit(hiddenSize, [hiddenSize]);
  }

  override forward(x: Array, hidden: Array | null = null): Array {
    const WhhT = mx.transpose(this.Whh);
    const out: Array[] = [];
    let h = hidden;
    for (const xt of projectSteps('RNN', x, this.Wxh, this.bias)) {
      h = this.nonlinearity(h === null ? xt : mx.addmm(xt, h, WhhT));
      out.push(h);
    }
    return stackSteps('RNN', out);
  }

  protected override extraRepr(): string {
    return `inputDims=${this.Wxh.shape[1]}, hiddenSize=${this.hiddenSize}, bias=${this.has('bias')}`;
  }
}

/**
 * GRU with gates (r, z, n):
 *   r = σ(W_xr x + W_hr h + b_r), z = σ(W_xz x + W_hz h + b_z),
 *   n = tanh(W_xn x + b_n + r ⊙ (W_hn h + b_hn)), h' = (1 - z) ⊙ n + z ⊙ h.
 * `b` holds (b_r, b_z, b_n) and `bhn` the hidden-side b_hn. Returns every step's hidden state.
 */
export class GRU extends Module {
  Wx: Array;
  Wh: Array;
  b?: Array;
  bhn?: Array;
  readonly hiddenSize: number;

  constructor(inputSize: number, hiddenSize: number, bias = true) {
    super();
    this.hiddenSize = hiddenSize;
    this.Wx = uniformInit(hiddenSize, [3 * hiddenSize, inputSize]);
    this.Wh = uniformInit(hiddenSize, [3 * hiddenSize, hiddenSize]);
    if (bias) {
      this.b = uniformInit(hiddenSize, [3 * hiddenSize]);
      this.bhn = uniformInit(hiddenSize, [hiddenSize]);
    }
  }

  override forward(x: Array, hidden: Array | null = null): Array {
    const WhT = mx.transpose(this.Wh);
    const out: Array[] = [];
    let h = hidden;
    for (const xt of projectSteps('GRU', x, this.Wx, this.b)) {
      const [xr, xz, xn] = mx.split(xt, 3, -1);
      let r: Array, z: Array, n: Array;
      if (h === null) {
        r = mx.sigmoid(xr); z = mx.sigmoid(xz);
        n = mx.tanh(xn);
        h = mx.multiply(mx.subtract(1, z), n);
      } else {
        const [hr, hz, hn0] = mx.split(mx.matmul(h, WhT), 3, -1);
        const hn = this.bhn ? mx.add(hn0, this.bhn) : hn0;
        r = mx.sigmoid(mx.add(xr, hr)); z = mx.sigmoid(mx.add(xz, hz));
        n = mx.tanh(mx.add(xn, mx.multiply(r, hn)));
        h = mx.add(mx.multiply(mx.subtract(1, z), n), mx.multiply(z, h));
      }
      out.push(h);
    }
    return stackSteps('GRU', out);
  }

  protected override extraRepr(): string {
    return `inputDims=${this.Wx.shape[1]}, hiddenSize=${this.hiddenSize}, bias=${this.has('b')}`;
  }
}

/**
 * LSTM with gates (i, f, g, o): c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g), h' = σ(o) ⊙ tanh(c').
 * `bias` is the sum of the input and hidden biases. Returns [hidden states, cell states]
 * of every step.
 */
export class LSTM extends Module {
  Wx: Array;
  Wh: Array;
  bias?: Array;
  readonly hiddenSize: number;

  constructor(inputSize: number, hiddenSize: number, bias = true) {
    super();
    this.hiddenSize = hiddenSize;
    this.Wx = uniformInit(hiddenSize, [4 * hiddenSize, inputSize]);
    this.Wh = uniformInit(hiddenSize, [4 * hiddenSize, hiddenSize]);
    if (bias) this.bias = uniformInit(hiddenSize, [4 * hiddenSize]);
  }

  override forward(x: Array, hidden: Array | null = null, cell: Array | null = null): [Array, Array] {
    const WhT = mx.transpose(this.Wh);
    const hs: Array[] = [], cs: Array[] = [];
    let h = hidden, c = cell;
    for (const xt of projectSteps('LSTM', x, this.Wx, this.bias)) {
      const ifgo = h === null ? xt : mx.addmm(xt, h, WhT);
      const [i, f, g, o] = mx.split(ifgo, 4, -1);
      const ig = mx.multiply(mx.sigmoid(i), mx.tanh(g));
      c = c === null ? ig : mx.add(mx.multiply(mx.sigmoid(f), c), ig);
      h = mx.multiply(mx.sigmoid(o), mx.tanh(c));
      hs.push(h); cs.push(c);
    }
    return [stackSteps('LSTM', hs), stackSteps('LSTM', cs)];
  }

  protected override extraRepr(): string {
    return `inputDims=${this.Wx.shape[1]}, hiddenSize=${this.hiddenSize}, bias=${this.has('bias')}`;
  }
}
