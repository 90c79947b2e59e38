// Training the character model: AdamW with a linear warmup then a cosine decay, one
// compiled (or eager) step per batch, evaluated every step so memory stays flat.
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optimizers/index.js';
import { treeFlatten } from '../../src/utils/index.js';
import { CharLM, CharLMConfig, lmLoss } from './model.js';
import { CharDataset, loadCharDataset, sampleBatch, seededRandom } from './data.js';

export interface CharLMTrainOptions {
  steps?: number;
  batchSize?: number;
  context?: number;
  dims?: number;
  heads?: number;
  layers?: number;
  /** Peak learning rate, reached after `warmup` steps; the cosine decay ends at a tenth of it. */
  learningRate?: number;
  warmup?: number;
  weightDecay?: number;
  /** Clip the gradients' global norm (0: no clipping). */
  clipNorm?: number;
  /** Trace the step once with mx.compile and replay it (fuses elementwise work). */
  compile?: boolean;
  seed?: number;
  /** Validation loss every this many steps (and at the end); 0: only at the end. */
  evalEvery?: number;
  /** Batches averaged for a validation loss. */
  evalBatches?: number;
  dataset?: CharDataset;
  /** Called with the new model before the first step. */
  onStart?: (model: CharLM) => void;
  /** Called after every step (the loss is already read, so this costs nothing extra). */
  onStep?: (info: StepInfo) => void;
  onEval?: (step: number, valLoss: number) => void;
}

export interface StepInfo {
  step: number;
  loss: number;
  learningRate: number;
  /** Tokens per second over this step (batchSize · context / step time). */
  tokensPerSec: number;
  /** mx.getActiveMemory() after the step. */
  activeMemory: number;
}

export interface CharLMTrainResult {
  model: CharLM;
  /** Its state (`optimizer.state`) can be saved with saveOptimizerState to resume training. */
  optimizer: optim.AdamW;
  dataset: CharDataset;
  losses: number[];
  activeMemory: number[];
  valLosses: { step: number; loss: number }[];
  /** Mean tokens per second over the steps after the first (which traces and warms up). */
  tokensPerSec: number;
  compiled: boolean;
  seconds: number;
}

export const CHARLM_DEFAULTS = {
  steps: 400, batchSize: 16, context: 64, dims: 96, heads: 4, layers: 3,
  learningRate: 3e-3, warmup: 50, weightDecay: 0.1, clipNorm: 1.0, compile: true, seed: 0, evalEvery: 100, evalBatches: 8,
} satisfies Required<Omit<CharLMTrainOptions, 'dataset' | 'onStart' | 'onStep' | 'onEval'>>;

/** A step function: (x, y) -> loss; parameters and optimizer state change as a side effect. */
type Step = (x: mx.Array, y: mx.Array) => mx.Array;

function makeStep(model: CharLM, optimizer: optim.Optimizer, clipNorm: number): Step {
  const lossAndGrad = nn.valueAndGrad(model, (x: mx.Array, y: mx.Array) => lmLoss(model, x, y));
  return (x, y) => {
    const [loss, grads] = lossAndGrad(x, y);
    optimizer.update(model, clipNorm > 0 ? optim.clipGradNorm(grads, clipNorm)[0] : grads);
    return loss;
  };
}

/**
 * The compiled step, as MLX's `mx.compile(step, inputs=state, outputs=state)`. The state is
 * a plain tree (the model's parameters and the optimizer's state) because compile swaps
 * arrays in place in plain objects and lists, not inside a Module; the model is pointed at
 * the new parameters after each call. Replays do not run the optimizer's code, so the
 * arrays that a step replaced are disposed here once the new ones are evaluated.
 */
function makeCompiledStep(model: CharLM, optimizer: optim.Optimizer, clipNorm: number): Step {
  optimizer.init(model.trainableParameters()); // so m and v exist before the trace and are part of the state
  const eager = makeStep(model, optimizer, clipNorm);
  const state: { model: nn.ParamTree; optimizer: optim.OptimizerState } = { model: model.parameters(), optimizer: optimizer.state };
  const compiled = mx.compile((x: mx.Array, y: mx.Array) => {
    model.update(state.model);
    const loss = eager(x, y);
    state.model = model.parameters();
    return loss;
  }, { inputs: state, outputs: state });
  return (x, y) => {
    const before = treeFlatten<mx.Array>(state).map(([, a]) => a);
    const loss = compiled(x, y);
    model.update(state.model);
    mx.eval(loss, state);
    const live = new Set(treeFlatten<mx.Array>(state).map(([, a]) => a));
    for (const a of before) if (!live.has(a)) a.dispose();
    return loss;
  };
}

/** The mean loss over `batches` random validation batches. */
export function evaluateLoss(model: CharLM, ids: Int32Array, batchSize: number, context: number, batches: number, seed: number): number {
  const random = seededRandom(seed);
  let total = 0;
  for (let i = 0; i < batches; i++) {
    total += mx.tidy(() => {
      const [x, y] = sampleBatch(ids, batchSize, context, random);
      return lmLoss(model, x, y).item() as number;
    });
  }
  return total / batches;
}

/** Trains a CharLM on the dataset (Moby-Dick by default) and returns it with its loss curve. */
export function trainCharLM(options: CharLMTrainOptions = {}): CharLMTrainResult {
  const o = { ...CHARLM_DEFAULTS, ...options };
  const dataset = options.dataset ?? loadCharDataset();
  mx.random.seed(o.seed);
  const config: CharLMConfig = { vocabSize: dataset.vocab.size, context: o.context, dims: o.dims, heads: o.heads, layers: o.layers };
  const model = new CharLM(config);
  mx.eval(model.parameters());
  o.onStart?.(model);

  const warmup = Math.min(o.warmup, Math.max(1, o.steps - 1));
  const schedule = optim.joinSchedules(
    [optim.linearSchedule(0, o.learningRate, warmup), optim.cosineDecay(o.learningRate, Math.max(1, o.steps - warmup), o.learningRate / 10)],
    [warmup]);
  const optimizer = new optim.AdamW(schedule, { weightDecay: o.weightDecay });
  const step = o.compile ? makeCompiledStep(model, optimizer, o.clipNorm) : makeStep(model, optimizer, o.clipNorm);

  const random = seededRandom(o.seed + 1);
  const losses: number[] = [], activeMemory: number[] = [], valLosses: { step: number; loss: number }[] = [];
  const tokensPerStep = o.batchSize * o.context;
  let timed = 0, timedSteps = 0;
  const start = performance.now();
  for (let i = 0; i < o.steps; i++) {
    const t0 = performance.now();
    const [x, y] = sampleBatch(dataset.train, o.batchSize, o.context, random);
    const loss = step(x, y);
    mx.eval(loss, model.parameters(), optimizer.state);
    const value = loss.item() as number;
    const lr = optimizer.learningRate.item() as number; // the rate this update used
    mx.dispose(loss, x, y);
    const dt = (performance.now() - t0) / 1000;
    if (i > 0) { timed += dt; timedSteps++; }
    losses.push(value);
    activeMemory.push(mx.getActiveMemory());
    o.onStep?.({ step: i + 1, loss: value, learningRate: lr, tokensPerSec: tokensPerStep / dt, activeMemory: activeMemory[i] });
    if (!Number.isFinite(value)) throw new Error(`[trainCharLM] the loss is ${value} at step ${i + 1}; lower the learning rate (now ${o.learningRate})`);
    if ((o.evalEvery > 0 && (i + 1) % o.evalEvery === 0) || i === o.steps - 1) {
      const v = evaluateLoss(model, dataset.val, o.batchSize, o.context, o.evalBatches, 12345);
      valLosses.push({ step: i + 1, loss: v });
      o.onEval?.(i + 1, v);
    }
  }
  return {
    model, optimizer, dataset, losses, activeMemory, valLosses, compiled: o.compile,
    tokensPerSec: timedSteps ? (timedSteps * tokensPerStep) / timed : 0,
    seconds: (performance.now() - start) / 1000,
  };
}
