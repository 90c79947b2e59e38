// Kernel variants side by side on the GPU, to choose the defaults of the tuning knobs in
// kernels/{elementwise,reduce,matmul}.ts (ewTuning, softmaxTuning, matmulTuning): each
// setting timed as bench:gpu times (CUDA events, L2 flushed before each run), its result
// checked against the first setting's. Not part of bench:gpu; run by hand:
//   bash .gpu/enter.sh node --import tsx bench/gpu/variants.ts [ew|softmax|matmul|host ...]
import * as mx from '../../src/index.js';
import { cudaBackend, gpuUnavailableReason } from '../../src/backend/cuda/index.js';
import { ewTuning } from '../../src/backend/cuda/kernels/elementwise.js';
import { softmaxTuning } from '../../src/backend/cuda/kernels/reduce.js';
import { matmulTuning } from '../../src/backend/cuda/kernels/matmul.js';
import { deviceTimer, median } from './timer.js';

const why = gpuUnavailableReason();
if (why) { console.error(`variants: no GPU (${why})`); process.exit(1); }
mx.setDefaultDevice(mx.gpu);
const only = process.argv.slice(2);
const want = (s: string) => only.length === 0 || only.includes(s);
const timer = deviceTimer(Number(process.env.BENCH_REPS ?? 15), 3);
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

function filled(shape: number[], dtype: mx.DType): mx.Array {
  const x = mx.sin(mx.multiply(mx.remainder(mx.arange(prod(shape)), 1_000_003), 0.7311));
  const y = mx.reshape(dtype === mx.float32 ? x : mx.astype(x, dtype), shape);
  mx.eval(y);
  return y;
}

const time = (build: () => mx.Array): number => timer.median(build, (r) => mx.eval(r), (r) => r.dispose()).ms * 1000;

/** Largest |a - b| over the elements (as float32). */
function maxDiff(a: mx.Array, b: mx.Array): number {
  return mx.max(mx.abs(mx.subtract(mx.astype(a, mx.float32), mx.astype(b, mx.float32)))).item() as number;
}

/** Times `build` under each setting (applied by `set`), checking each result against the first's. */
function compare<S>(label: string, settings: S[], set: (s: S) => void, name: (s: S) => string, build: () => mx.Array): void {
  let ref: mx.Array | null = null;
  const cells: string[] = [];
  for (const s of settings) {
    set(s);
    const us = time(build);
    const r = build();
    mx.eval(r);
    const diff = ref ? maxDiff(r, ref) : 0;
    if (!ref) ref = r; else r.dispose();
    cells.push(`${name(s)} ${us.toFixed(1)} µs${diff ? ` (diff ${diff.toExponential(1)})` : ''}`);
  }
  ref?.dispose();
  set(settings[0]);
  console.log(`${label}: ${cells.join(' | ')}`);
  mx.clearCache();
}

if (want('ew')) {
  const n = 2 ** 26;
  const settings = [[1, 8], [2, 8], [4, 8], [2, 16], [1, 0], [2, 0], [4, 0], [8, 0]] as const;
  const saved = { ...ewTuning };
  for (const dt of [mx.float32, mx.bfloat16]) {
    const a = filled([n], dt), b = filled([n], dt);
    for (const [op, f] of [['add', () => mx.add(a, b)], ['multiply', () => mx.multiply(a, b)], ['exp', () => mx.exp(a)]] as const)
      compare(`${op} ${dt.name} 2^26`, [...settings], ([u, p]) => { ewTuning.unroll = u; ewTuning.perSm = p; }, ([u, p]) => `u${u}/${p || 'all'}`, f);
    mx.dispose([a, b]);
  }
  Object.assign(ewTuning, saved);
}

if (want('softmax')) {
  for (const [shape, dt] of [[[4096, 32768], mx.float32], [[8192, 16384], mx.float32], [[16384, 8192], mx.float32], [[4096, 32768], mx.bfloat16], [[2048, 65536], mx.bfloat16]] as const) {
    const x = filled([...shape], dt);
    compare(`softmax ${shape.join('x')} ${dt.name}`, [false, true], (s) => { softmaxTuning.staged = s; }, (s) => (s ? 'staged' : 'stream'), () => mx.softmax(x, -1));
    x.dispose();
  }
  softmaxTuning.staged = true;
}

if (want('matmul')) {
  const shapes: [string, number, number][] = [['1B q/o', 2048, 2048], ['1B k/v', 2048, 512], ['1B gate/up', 2048, 8192], ['1B down', 8192, 2048], ['1B lm_head', 2048, 128256],
    ['8B q/o', 4096, 4096], ['8B k/v', 4096, 1024], ['8B gate/up', 4096, 14336], ['8B down', 14336, 4096], ['8B lm_head', 4096, 128256]];
  type S = { gemmEx: boolean; workspace: number };
  const saved = { ...matmulTuning };
  const settings: S[] = [{ gemmEx: true, workspace: 32 << 20 }, { gemmEx: false, workspace: 0 }, { gemmEx: true, workspace: 0 }];
  const nm = (s: S) => `${s.gemmEx ? 'ex' : 'sb'}${s.workspace ? '+ws' : ''}`;
  for (const [label, K, N] of shapes) {
    const w = filled([K, N], mx.bfloat16);
    for (const M of [1, 16, 512]) {
      const x = filled([M, K], mx.bfloat16);
      compare(`matmul ${label} M=${M}`, settings, (s) => Object.assign(matmulTuning, s), nm, () => mx.matmul(x, w));
      x.dispose();
    }
    w.dispose();
  }
  Object.assign(matmulTuning, saved);
}

if (want('host')) {
  // host time per op as bench:gpu measures it, and per matmul call (eval only)
  const x = mx.full([16], 1.5, mx.float32);
  mx.eval(x);
  for (const evalEach of [false, true]) {
    const once = () => {
      let y = x;
      for (let i = 0; i < 1000; i++) { const z = mx.add(y, 1); if (evalEach) { mx.eval(z); if (y !== x) y.dispose(); } y = z; }
      mx.eval(y); timer.sync(); y.dispose();
    };
    once();
    const t: number[] = [];
    for (let r = 0; r < 15; r++) { const s = performance.now(); once(); t.push((performance.now() - s) / 1000); }
    console.log(`host per op, 1000 tiny adds, ${evalEach ? 'eval after each' : 'one eval'}: ${(median(t) * 1000).toFixed(2)} µs (min ${(Math.min(...t) * 1000).toFixed(2)})`);
  }
  const a = filled([1, 2048], mx.bfloat16), w = filled([2048, 2048], mx.bfloat16), a512 = filled([512, 2048], mx.bfloat16);
  for (const [label, xx] of [['M=1', a], ['M=512', a512]] as const) {
    const t: number[] = [];
    for (let r = 0; r < 2000; r++) { const c = mx.matmul(xx, w); const s = performance.now(); mx.eval(c); t.push(performance.now() - s); c.dispose(); if (r % 100 === 99) timer.sync(); }
    console.log(`host per matmul eval ${label}: ${(median(t) * 1000).toFixed(2)} µs`);
  }
  mx.dispose([x, a, w, a512]);
}

timer.close();
console.log(`kernels compiled: ${cudaBackend.kernelCache.stats.compiled}`);
