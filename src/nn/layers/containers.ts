// Sequential: calls its layers in order.
import type { Array } from '../../core/index.js';
import { Module } from '../module.js';

/** A layer of a Sequential: a module with a one-argument forward, or a plain function. */
export type SequentialLayer = { forward(x: Array): Array } | ((x: Array) => Array);

/** Calls modules or plain functions in order (parameters live in `layers.0`, `layers.1`, ...). */
export class Sequential extends Module {
  layers: SequentialLayer[];

  constructor(...modules: SequentialLayer[]) {
    super();
    this.layers = modules;
  }

  override forward(x: Array): Array {
    for (const m of this.layers) x = typeof m === 'function' ? m(x) : m.forward(x);
    return x;
  }
}
