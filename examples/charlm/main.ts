// `npm run example:charlm -- [flags]`: trains the character model on Moby-Dick, saves it,
// reloads it from the file and samples from it. `--help` lists the flags.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as mx from '../../src/index.js';
import { CHARLM_DEFAULTS, trainCharLM } from './train.js';
import { loadCharDataset } from './data.js';
import { saveCharLM, loadCharLM } from './checkpoint.js';
import { sample } from './sample.js';

const d = CHARLM_DEFAULTS;
const flags = {
  steps: { type: 'string', default: String(d.steps), help: 'training steps' },
  batch: { type: 'string', default: String(d.batchSize), help: 'sequences per batch' },
  context: { type: 'string', default: String(d.context), help: 'characters per sequence' },
  dims: { type: 'string', default: String(d.dims), help: 'model width' },
  heads: { type: 'string', default: String(d.heads), help: 'attention heads' },
  layers: { type: 'string', default: String(d.layers), help: 'transformer blocks' },
  lr: { type: 'string', default: String(d.learningRate), help: 'peak learning rate (AdamW)' },
  warmup: { type: 'string', default: String(d.warmup), help: 'linear warmup steps, then cosine decay' },
  seed: { type: 'string', default: String(d.seed), help: 'random seed' },
  eager: { type: 'boolean', default: false, help: 'run the step eagerly instead of mx.compile' },
  out: { type: 'string', default: fileURLToPath(new URL('./out/charlm.safetensors', import.meta.url)), help: 'where to save the weights' },
  prompt: { type: 'string', default: 'Call me Ishmael. ', help: 'text to continue' },
  length: { type: 'string', default: '300', help: 'characters to sample' },
  temperature: { type: 'string', default: '0.8', help: 'sampling temperature (0: greedy)' },
  help: { type: 'boolean', default: false, help: 'show this list' },
} as const;

const { values } = parseArgs({ options: flags, strict: true });
if (values.help) {
  console.log('npm run example:charlm -- [flags]\n');
  for (const [name, f] of Object.entries(flags)) console.log(`  --${name.padEnd(12)} ${f.help}${f.type === 'string' ? ` (default ${f.default})` : ''}`);
  process.exit(0);
}
const num = (name: keyof typeof values): number => {
  const v = Number(values[name]);
  if (!Number.isFinite(v)) throw new Error(`[example:charlm] --${name} must be a number, got '${values[name]}'`);
  return v;
};

const steps = num('steps');
const dataset = loadCharDataset();
console.log(`Moby-Dick: ${dataset.train.length + dataset.val.length} characters (90% to train, 10% to validate), a vocabulary of ${dataset.vocab.size}; ` +
  `a uniform guess scores ln ${dataset.vocab.size} = ${Math.log(dataset.vocab.size).toFixed(3)}`);
const result = trainCharLM({
  dataset, steps, batchSize: num('batch'), context: num('context'), dims: num('dims'), heads: num('heads'), layers: num('layers'),
  learningRate: num('lr'), warmup: num('warmup'), seed: num('seed'), compile: !values.eager,
  onStart: (model) => console.log(`${model.config.layers} blocks of width ${model.config.dims}, ${model.config.heads} heads, ${model.numParameters()} parameters; ` +
    `${steps} steps of ${num('batch')} x ${num('context')} characters, ${values.eager ? 'eager' : 'compiled with mx.compile'}`),
  onStep: (s) => {
    if (s.step === 1 || s.step % 25 === 0 || s.step === steps)
      console.log(`step ${String(s.step).padStart(5)}  loss ${s.loss.toFixed(3)}  lr ${s.learningRate.toExponential(2)}  ${s.tokensPerSec.toFixed(0).padStart(6)} tok/s  active memory ${(s.activeMemory / 2 ** 20).toFixed(2)} MiB`);
  },
  onEval: (step, loss) => console.log(`step ${String(step).padStart(5)}  validation loss ${loss.toFixed(3)}`),
});
console.log(`trained in ${result.seconds.toFixed(1)} s, ${result.tokensPerSec.toFixed(0)} tokens/s after the first step`);

mkdirSync(dirname(values.out), { recursive: true });
saveCharLM(values.out, result.model, dataset.vocab);
console.log(`saved the weights to ${values.out}; reloading them to sample`);
const { model, vocab } = loadCharLM(values.out);
for (let i = 0; i < 3; i++) {
  const text = sample(model, vocab, values.prompt, { length: num('length'), temperature: num('temperature'), seed: i });
  console.log(`\n--- sample ${i + 1} (temperature ${num('temperature')})\n${text}`);
}
mx.dispose(model.parameters(), result.model.parameters());
