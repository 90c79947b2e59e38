// `npm run example:mlp -- [flags]`: trains an MLP on three interleaved spirals and prints
// its accuracy and a map of the classes it predicts. `--help` lists the flags.
import { parseArgs } from 'node:util';
import * as mx from '../../src/index.js';
import { MLP_DEFAULTS, trainMlp } from './train.js';

const d = MLP_DEFAULTS;
const flags = {
  epochs: { type: 'string', default: String(d.epochs), help: 'passes over the training points' },
  batch: { type: 'string', default: String(d.batchSize), help: 'points per step' },
  hidden: { type: 'string', default: String(d.hidden), help: 'width of the hidden layers' },
  depth: { type: 'string', default: String(d.depth), help: 'hidden layers (0: a linear model)' },
  lr: { type: 'string', default: String(d.learningRate), help: 'initial learning rate (Adam, cosine decay)' },
  seed: { type: 'string', default: String(d.seed), help: 'seed for the data, the initialization and the order' },
  help: { type: 'boolean', default: false, help: 'show this list' },
} as const;

const { values } = parseArgs({ options: flags, strict: true });
if (values.help) {
  console.log('npm run example:mlp -- [flags]\n');
  for (const [name, f] of Object.entries(flags)) console.log(`  --${name.padEnd(8)} ${f.help}${f.type === 'string' ? ` (default ${f.default})` : ''}`);
  process.exit(0);
}
const num = (name: Exclude<keyof typeof values, 'help'>): number => {
  const v = Number(values[name]);
  if (!Number.isFinite(v)) throw new Error(`[example:mlp] --${name} must be a number, got '${values[name]}'`);
  return v;
};

console.log(`three interleaved spirals, ${d.perClass} training and ${d.perClass} test points per class; ` +
  `an MLP of ${num('depth')} hidden layers of ${num('hidden')} trained with Adam`);
const r = trainMlp({
  epochs: num('epochs'), batchSize: num('batch'), hidden: num('hidden'), depth: num('depth'), learningRate: num('lr'), seed: num('seed'),
  onEpoch: (epoch, loss, acc) => {
    if (epoch % 5 === 0 || epoch === 1) console.log(`epoch ${String(epoch).padStart(3)}  loss ${loss.toFixed(4)}  train accuracy ${(100 * acc).toFixed(1)}%`);
  },
});
console.log(`\ntrain accuracy ${(100 * r.trainAccuracy).toFixed(1)}%, test accuracy ${(100 * r.testAccuracy).toFixed(1)}% (${r.seconds.toFixed(1)} s)`);

// The predicted class over [-1.2, 1.2]², one character per cell.
const [rows, cols] = [24, 60];
const grid = mx.tidy(() => {
  const ys = mx.linspace(1.2, -1.2, rows), xs = mx.linspace(-1.2, 1.2, cols);
  const points = mx.stack([mx.broadcastTo(mx.expandDims(xs, 0), [rows, cols]), mx.broadcastTo(mx.expandDims(ys, 1), [rows, cols])], -1);
  return mx.argmax(r.model.forward(mx.reshape(points, [-1, 2])) as mx.Array, -1);
});
const classes = grid.tolist() as number[];
console.log('\npredicted classes over [-1.2, 1.2]²:');
for (let i = 0; i < rows; i++) console.log('  ' + classes.slice(i * cols, (i + 1) * cols).map((c) => '.ox'[c] ?? '?').join(''));
mx.dispose(grid, r.model.parameters());
