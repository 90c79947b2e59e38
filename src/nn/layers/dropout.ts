// Dropout layers: active only in training mode; kept values are scaled by 1/(1-p).
import * as mx from '../../core/index.js';
import type { Array } from '../../core/index.js';
import { Module } from '../module.js';

function checkP(where: string, p: number): number {
  if (!(p >= 0 && p < 1)) throw new Error(`[${where}] the dropout probability must be in [0, 1), got ${p}`);
  return 1 - p;
}

/** Zeroes each element with probability `p` during training. */
export class Dropout extends Module {
  private readonly _p1: number;
  constructor(p = 0.5) { super(); this._p1 = checkP('Dropout', p); }
  protected override extraRepr(): string { return `p=${1 - this._p1}`; }

  override forward(x: Array): Array {
    if (this._p1 === 1 || !this.training) return x;
    const mask = mx.random.bernoulli(this._p1, x.shape);
    return mx.multiply(mx.multiply(mask, x), 1 / this._p1);
  }
}

/**
 * Zeroes whole channels (the last axis) with probability `p` during training, for inputs
 * of shape (N, H, W, C) or (H, W, C).
 */
export class Dropout2d extends Module {
  private readonly _p1: number;
  constructor(p = 0.5) { super(); this._p1 = checkP('Dropout2d', p); }
  protected override extraRepr(): string { return `p=${1 - this._p1}`; }

  override forward(x: Array): Array {
    if (x.ndim !== 3 && x.ndim !== 4) throw new Error(`[Dropout2d] expected an input with 3 or 4 dimensions ((N,) H, W, C), got shape (${x.shape.join(',')})`);
    if (this._p1 === 1 || !this.training) return x;
    const maskShape = [...x.shape];
    maskShape[maskShape.length - 2] = maskShape[maskShape.length - 3] = 1;
    const mask = mx.random.bernoulli(this._p1, maskShape);
    return mx.multiply(mx.multiply(mask, x), 1 / this._p1);
  }
}

/**
 * Zeroes whole channels (the last axis) with probability `p` during training, for inputs
 * of shape (N, D, H, W, C) or (D, H, W, C).
 */
export class Dropout3d extends Module {
  private readonly _p1: number;
  constructor(p = 0.5) { super(); this._p1 = checkP('Dropout3d', p); }
  protected override extraRepr(): string { return `p=${1 - this._p1}`; }

  override forward(x: Array): Array {
    if (x.ndim !== 4 && x.ndim !== 5) throw new Error(`[Dropout3d] expected an input with 4 or 5 dimensions ((N,) D, H, W, C), got shape (${x.shape.join(',')})`);
    if (this._p1 === 1 || !this.training) return x;
    const maskShape = [...x.shape];
    for (let i = 2; i <= 4; i++) maskShape[maskShape.length - i] = 1;
    const mask = mx.random.bernoulli(this._p1, maskShape);
    return mx.multiply(mx.multiply(mask, x), 1 / this._p1);
  }
}
