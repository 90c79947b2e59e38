// Quantized layers and nn.quantize, as mlx.nn: QuantizedLinear and QuantizedEmbedding keep
// `weight` (packed uint32), `scales` and `biases` from mx.quantize, frozen, so
// checkpoints quantized by MLX (same keys, same layout) load as they are.
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { treeMapWithPath } from '../../utils/index.js';
import { Module, type FreezeOptions } from '../module.js';
import { Linear } from './linear.js';
import { Embedding } from './embedding.js';

/** What a classPredicate may return: false to skip, true to use the defaults, or overrides. */
export type QuantizeChoice = boolean | { groupSize?: number; bits?: number };
export type ClassPredicate = (path: string, module: Module) => QuantizeChoice;

/** x @ dequantize(weight)^T + bias, with the weight quantized (MLX's QuantizedLinear). */
export class QuantizedLinear extends Module {
  weight: Array;
  scales: Array;
  biases: Array;
  declare bias?: Array;
  readonly groupSize: number;
  readonly bits: number;

  constructor(inputDims: number, outputDims: number, bias = true, groupSize = 64, bits = 4) {
    super();
    this.groupSize = groupSize;
    this.bits = bits;
    const scale = Math.sqrt(1 / inputDims);
    [this.weight, this.scales, this.biases] = mx.quantize(mx.random.uniform(-scale, scale, [outputDims, inputDims]), groupSize, bits);
    if (bias) this.bias = mx.zeros([outputDims]);
    this.freeze();
  }

  /** Unfreezes submodules as asked, but this layer's own parameters stay frozen (as MLX). */
  override unfreeze(options: FreezeOptions = {}): this {
    super.unfreeze(options);
    return this.freeze({ recurse: false });
  }

  override forward(x: Array): Array {
    const y = mx.quantizedMatmul(x, this.weight, this.scales, this.biases, true, this.groupSize, this.bits);
    return this.bias !== undefined ? mx.add(y, this.bias) : y;
  }

  protected override extraRepr(): string {
    const [out, packed] = this.weight.shape;
    return `inputDims=${(packed * 32) / this.bits}, outputDims=${out}, bias=${this.has('bias')}, groupSize=${this.groupSize}, bits=${this.bits}`;
  }

  /** The quantized twin of a Linear layer (its bias, if any, is shared and stays trainable, as MLX). */
  static fromLinear(linear: Linear, groupSize = 64, bits = 4): QuantizedLinear {
    const [outputDims, inputDims] = linear.weight.shape;
    const ql = new QuantizedLinear(inputDims, outputDims, false, groupSize, bits);
    [ql.weight, ql.scales, ql.biases] = mx.quantize(linear.weight, groupSize, bits);
    if (linear.bias !== undefined) ql.bias = linear.bias;
    return ql;
  }
}

/** An Embedding with a quantized table: rows are dequantized as they are looked up. */
export class QuantizedEmbedding extends Module {
  weight: Array;
  scales: Array;
  biases: Array;
  readonly numEmbeddings: number;
  readonly dims: number;
  readonly groupSize: number;
  readonly bits: number;

  constructor(numEmbeddings: number, dims: number, groupSize = 64, bits = 4) {
    super();
    this.groupSize = groupSize;
    this.bits = bits;
    this.numEmbeddings = numEmbeddings;
    this.dims = dims;
    [this.weight, this.scales, this.biases] = mx.quantize(mx.random.normal([numEmbeddings, dims], 'float32', null, Math.sqrt(1 / dims)), groupSize, bits);
    this.freeze();
  }

  override forward(x: Array): Array {
    if (x.dtype.isFloat) throw new TypeError(`[QuantizedEmbedding] expected integer indices, got an array of dtype ${x.dtype.name}`);
    const rows = (a: Array) => mx.take(a, x, 0);
    return mx.dequantize(rows(this.weight), rows(this.scales), rows(this.biases), this.groupSize, this.bits);
  }

  /** x @ dequantize(weight)^T: the table as an output projection (tied embeddings). */
  asLinear(x: Array): Array {
    return mx.quantizedMatmul(x, this.weight, this.scales, this.biases, true, this.groupSize, this.bits);
  }

  protected override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.dims}, groupSize=${this.groupSize}, bits=${this.bits}`;
  }

  static fromEmbedding(embedding: Embedding, groupSize = 64, bits = 4): QuantizedEmbedding {
    const [n, dims] = embedding.weight.shape;
    const qe = new QuantizedEmbedding(n, dims, groupSize, bits);
    [qe.weight, qe.scales, qe.biases] = mx.quantize(embedding.weight, groupSize, bits);
    return qe;
  }
}

/**
 * The quantized version of a module: its own `toQuantized(groupSize, bits)` if it has one,
 * else QuantizedLinear / QuantizedEmbedding for Linear / Embedding; null if it has none.
 */
export function toQuantized(m: Module, groupSize: number, bits: number): Module | null {
  const own = (m as { toQuantized?: unknown }).toQuantized;
  if (typeof own === 'function') return own.call(m, groupSize, bits) as Module;
  if (m instanceof Linear) return QuantizedLinear.fromLinear(m, groupSize, bits);
  if (m instanceof Embedding) return QuantizedEmbedding.fromEmbedding(m, groupSize, bits);
  return null;
}

const quantizable = (m: Module) => typeof (m as { toQuantized?: unknown }).toQuantized === 'function' || m instanceof Linear || m instanceof Embedding;

/**
 * Replaces, in place, the leaf modules of `model` that `classPredicate(path, module)`
 * selects (by default every Linear and Embedding, and every module with a
 * `toQuantized(groupSize, bits)` method) by their quantized versions. The predicate may
 * return { groupSize, bits } to override the defaults for one layer.
 */
export function quantize(model: Module, groupSize = 64, bits = 4, classPredicate: ClassPredicate | null = null): Module {
  const pick = classPredicate ?? ((_p: string, m: Module) => quantizable(m));
  const maybe = (path: string, m: Module): Module => {
    const choice = pick(path, m);
    if (choice === false) return m;
    if (choice !== true && (typeof choice !== 'object' || choice === null))
      throw new Error(`[nn.quantize] classPredicate must return a boolean or { groupSize, bits }, got ${String(choice)} for '${path}'`);
    const gs = choice === true ? groupSize : choice.groupSize ?? groupSize;
    const b = choice === true ? bits : choice.bits ?? bits;
    const q = toQuantized(m, gs, b);
    if (q === null) throw new Error(`[nn.quantize] cannot quantize '${path}' of type ${m.constructor.name}: it is not a Linear or Embedding and has no toQuantized method`);
    return q;
  };
  const leaves = treeMapWithPath((path: string, m: Module) => maybe(path, m), model.leafModules(), [], { isLeaf: Module.isModule });
  // Not strict: the tree came from the model itself, and it marks non-module entries (a
  // plain function in a Sequential) with {} placeholders that a strict update rejects.
  model.updateModules(leaves as object, false);
  return model;
}
