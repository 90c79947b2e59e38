// An MLP classifier on generated spirals: minibatch Adam on cross entropy, then the
// accuracy on a separately generated test set.
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optimizers/index.js';
import { makeSpirals, Spirals } from './data.js';

export interface MlpTrainOptions {
  classes?: number;
  /** Training points per class (the test set has as many, from another key). */
  perClass?: number;
  hidden?: number;
  /** Hidden layers. */
  depth?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  onEpoch?: (epoch: number, loss: number, trainAccuracy: number) => void;
}

export interface MlpTrainResult {
  model: nn.Sequential;
  losses: number[];
  trainAccuracy: number;
  testAccuracy: number;
  seconds: number;
}

export const MLP_DEFAULTS = {
  classes: 3, perClass: 500, hidden: 64, depth: 2, epochs: 40, batchSize: 150, learningRate: 2e-2, seed: 0,
} satisfies Required<Omit<MlpTrainOptions, 'onEpoch'>>;

/** Linear → ReLU, `depth` times, then a Linear to the class logits. */
export function makeMlp(inputs: number, hidden: number, depth: number, classes: number): nn.Sequential {
  const layers: nn.SequentialLayer[] = [];
  for (let i = 0; i < depth; i++) layers.push(new nn.Linear(i === 0 ? inputs : hidden, hidden), new nn.ReLU());
  layers.push(new nn.Linear(depth === 0 ? inputs : hidden, classes));
  return new nn.Sequential(...layers);
}

/** The fraction of points whose largest logit is their class. */
export function accuracy(model: nn.Sequential, data: Spirals): number {
  return mx.tidy(() => mx.mean(mx.equal(mx.argmax(model.forward(data.x) as mx.Array, -1), data.y)).item() as number);
}

export function trainMlp(options: MlpTrainOptions = {}): MlpTrainResult {
  const o = { ...MLP_DEFAULTS, ...options };
  const start = performance.now();
  const [trainKey, testKey, permKey] = [1, 2, 3].map((k) => mx.random.key(o.seed * 10 + k));
  const train = makeSpirals(o.perClass, o.classes, { key: trainKey });
  const test = makeSpirals(o.perClass, o.classes, { key: testKey });
  mx.random.seed(o.seed);
  const model = makeMlp(2, o.hidden, o.depth, o.classes);
  mx.eval(model.parameters());

  const n = train.x.shape[0];
  const batches = Math.floor(n / o.batchSize);
  // Cosine decay over the whole run: the late, small steps settle the boundary between close arms.
  const optimizer = new optim.Adam(optim.cosineDecay(o.learningRate, o.epochs * batches));
  const lossAndGrad = nn.valueAndGrad(model, (x: mx.Array, y: mx.Array) =>
    nn.losses.crossEntropy(model.forward(x) as mx.Array, y, null, -1, 0, 'mean'));
  const losses: number[] = [];
  let key = permKey;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    // A new order of the points each epoch, from a key split off the last one.
    const [order, nextKey] = mx.tidy(() => {
      const [k, sub] = mx.split(mx.random.split(key), 2);
      return [mx.random.permutation(n, 0, mx.squeeze(sub, 0)), mx.squeeze(k, 0)];
    });
    key.dispose();
    key = nextKey;
    let total = 0;
    for (let b = 0; b < batches; b++) {
      total += mx.tidy(() => {
        const idx = mx.stridedSlice(order, [b * o.batchSize], [(b + 1) * o.batchSize]);
        const [loss, grads] = lossAndGrad(mx.take(train.x, idx, 0), mx.take(train.y, idx, 0));
        optimizer.update(model, grads);
        mx.eval(loss, model.parameters(), optimizer.state);
        return loss.item() as number;
      });
    }
    order.dispose();
    losses.push(total / batches);
    o.onEpoch?.(epoch + 1, total / batches, accuracy(model, train));
  }
  key.dispose();
  const result = { model, losses, trainAccuracy: accuracy(model, train), testAccuracy: accuracy(model, test), seconds: (performance.now() - start) / 1000 };
  mx.dispose(train, test);
  return result;
}
