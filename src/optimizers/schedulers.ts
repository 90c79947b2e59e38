// Learning-rate schedules, as mlx.optimizers' schedulers: functions of the step (an array
// or a number; 0 at the first update) to the rate. Any such function can be a learning rate.
import * as mx from '../core/index.js';
import type { Schedule } from './optimizer.js';

/** A schedule built here: takes the step as an array or a number, returns an array. */
export type BuiltSchedule = (step: mx.Array | number) => mx.Array;

/** init · decayRateˢᵗᵉᵖ. */
export function exponentialDecay(init: number, decayRate: number): BuiltSchedule {
  return (step) => mx.multiply(init, mx.power(decayRate, step));
}

/** init · decayRate^⌊step / stepSize⌋. */
export function stepDecay(init: number, decayRate: number, stepSize: number): BuiltSchedule {
  if (!(stepSize >= 1)) throw new Error(`[stepDecay] stepSize must be at least 1, got ${stepSize}`);
  return (step) => mx.multiply(init, mx.power(decayRate, mx.floorDivide(step, stepSize)));
}

/** Half a cosine from init down to end over decaySteps, then end. */
export function cosineDecay(init: number, decaySteps: number, end = 0): BuiltSchedule {
  if (!(decaySteps > 0)) throw new Error(`[cosineDecay] decaySteps must be positive, got ${decaySteps}`);
  return (step) => {
    const s = mx.minimum(step, decaySteps);
    const decay = mx.multiply(0.5, mx.add(1, mx.cos(mx.multiply(Math.PI / decaySteps, s))));
    return mx.add(end, mx.multiply(decay, init - end));
  };
}

/** A straight line from init to end over `steps`, then end (the usual warmup). */
export function linearSchedule(init: number, end: number, steps: number): BuiltSchedule {
  if (!(steps >= 1)) throw new Error(`[linearSchedule] steps must be at least 1, got ${steps}`);
  return (step) => mx.add(mx.multiply(mx.minimum(step, steps), (end - init) / steps), init);
}

/**
 * Runs schedules one after another: schedules[i + 1] starts (from its own step 0) at
 * boundaries[i]. `joinSchedules([linearSchedule(0, 1e-3, 100), cosineDecay(1e-3, 900)], [100])`
 * warms up for 100 steps, then decays.
 */
export function joinSchedules(schedules: readonly Schedule[], boundaries: readonly number[]): BuiltSchedule {
  if (schedules.length === 0) throw new Error('[joinSchedules] needs at least one schedule');
  if (schedules.length !== boundaries.length + 1)
    throw new Error(`[joinSchedules] got ${boundaries.length} boundaries for ${schedules.length} schedules; expected ${schedules.length - 1}`);
  return (step) => {
    const s = step instanceof mx.Array ? step : mx.array(step);
    let out: mx.Array | number = schedules[0](s);
    boundaries.forEach((b, i) => {
      out = mx.where(mx.less(s, b), out, schedules[i + 1](mx.subtract(s, b)));
    });
    return typeof out === 'number' ? mx.array(out, mx.float32) : out;
  };
}
