// Interleaved spirals: `classes` arms around the origin, each a class, with Gaussian noise.
// Made from a fixed random key, so every run (and the CI test) sees the same points.
import * as mx from '../../src/index.js';

export interface Spirals {
  /** Points, float32 of shape (n, 2). */
  x: mx.Array;
  /** Class indices, int32 of shape (n,). */
  y: mx.Array;
}

/**
 * `perClass` points on each of `classes` spiral arms. A point at t ∈ [0, 1) sits at radius
 * t and angle 2π(class / classes + turns · t), plus noise of standard deviation `noise` · t,
 * so arms are cleanly apart near the middle and close together at their outer ends.
 */
export function makeSpirals(perClass: number, classes = 3, { turns = 1.25, noise = 0.04, key = mx.random.key(0) }: { turns?: number; noise?: number; key?: mx.Array } = {}): Spirals {
  return mx.tidy(() => {
    const [kt, kn] = mx.split(mx.random.split(key), 2);
    const n = perClass * classes;
    const t = mx.random.uniform(0, 1, [n], mx.float32, mx.squeeze(kt, 0));
    const y = mx.floorDivide(mx.arange(n), perClass);
    const angle = mx.multiply(2 * Math.PI, mx.add(mx.divide(mx.astype(y, mx.float32), classes), mx.multiply(turns, t)));
    const clean = mx.stack([mx.multiply(t, mx.cos(angle)), mx.multiply(t, mx.sin(angle))], 1);
    const jitter = mx.multiply(mx.random.normal([n, 2], mx.float32, null, null, mx.squeeze(kn, 0)), mx.expandDims(mx.multiply(t, noise), 1));
    return { x: mx.add(clean, jitter), y };
  });
}
