// The workloads of `npm run bench:gpu` and their targets (issue 5, Bench). run.ts times
// lathe on each, and hands the same list as JSON to torch_bench.py, so both sides run
// exactly the same shapes and dtypes.

export type Dt = 'float32' | 'bfloat16';

export type Spec =
  /** n tiny adds on the host clock; `evalEach` evaluates after every add instead of once. */
  | { kind: 'launch'; n: number; evalEach: boolean }
  /** A cold process's first result (sum(exp(x)) over 2^20 floats), with the kernel cache empty or filled. */
  | { kind: 'firstCall'; cache: 'cold' | 'warm' }
  /** A plain device-to-device copy of n elements: the bandwidth ceiling. */
  | { kind: 'copy'; n: number; dtype: Dt }
  | { kind: 'elementwise'; op: 'add' | 'multiply' | 'exp'; n: number; dtype: Dt }
  | { kind: 'reduce'; op: 'sum' | 'max' | 'argmax'; shape: number[]; axis: number }
  | { kind: 'softmax'; shape: number[]; axis: number }
  /** (M, K) @ (K, N). */
  | { kind: 'matmul'; M: number; K: number; N: number; dtype: Dt }
  /** A contiguous copy of the transposed array. */
  | { kind: 'transpose'; shape: number[]; axes: number[]; dtype: Dt }
  /** A contiguous copy of x[start:stop:step, ...] per axis. */
  | { kind: 'slice'; shape: number[]; start: number[]; stop: number[]; step: number[]; dtype: Dt };

export interface Workload {
  key: string;
  label: string;
  spec: Spec;
  /** Least lathe speed as a share of torch's (torch time / lathe time); null: reported only. */
  minSpeed: number | null;
  /** Least share of the device-to-device copy bandwidth (elementwise ops). */
  minCopyShare?: number;
  /** Bytes the op must move at least (read once, written once), for TB/s. */
  bytes?: number;
  /** Floating-point operations, for TFLOP/s. */
  flops?: number;
}

const elem = (d: Dt) => (d === 'float32' ? 4 : 2);
const short = (d: Dt) => (d === 'float32' ? 'f32' : 'bf16');
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
const dims = (s: number[]) => s.join('×');

/** Layer shapes (K, N) of x (M, K) @ W (K, N), from shared/BENCHMARKS.md. */
const LAYERS: { model: string; layers: [string, number, number][] }[] = [
  { model: '1B', layers: [['q/o', 2048, 2048], ['k/v', 2048, 512], ['gate/up', 2048, 8192], ['down', 8192, 2048], ['lm_head', 2048, 128256]] },
  { model: '8B', layers: [['q/o', 4096, 4096], ['k/v', 4096, 1024], ['gate/up', 4096, 14336], ['down', 14336, 4096], ['lm_head', 4096, 128256]] },
];

/** Every workload; `smoke` shrinks them to run in a second on the CPU (a check of the script, not a benchmark). */
export function workloads(smoke: boolean): Workload[] {
  const n = smoke ? 2 ** 12 : 2 ** 26;
  const nLabel = smoke ? '2^12' : '2^26';
  const mat = smoke ? [64, 512] : [4096, 32768];
  const sq = smoke ? 256 : 8192;
  const shrink = (k: number) => (smoke ? Math.max(8, Math.round(k / 64)) : k);
  const ms = smoke ? [1, 16] : [1, 16, 512, 4096];
  const w: Workload[] = [];

  for (const evalEach of [false, true])
    w.push({ key: `launch_${evalEach ? 'each' : 'once'}`, label: `host time per op: 1000 tiny adds, ${evalEach ? 'eval after each' : 'one eval'}`, spec: { kind: 'launch', n: 1000, evalEach }, minSpeed: null });
  if (!smoke)
    for (const cache of ['cold', 'warm'] as const)
      w.push({ key: `first_${cache}`, label: `first result in a fresh process, kernel cache ${cache}`, spec: { kind: 'firstCall', cache }, minSpeed: null });

  for (const dtype of ['float32', 'bfloat16'] as const) {
    const e = elem(dtype);
    w.push({ key: `copy_${dtype}`, label: `d2d copy ${short(dtype)} ${nLabel}`, spec: { kind: 'copy', n, dtype }, minSpeed: null, bytes: 2 * n * e });
    for (const op of ['add', 'multiply', 'exp'] as const) {
      const operands = op === 'exp' ? 1 : 2;
      w.push({ key: `${op}_${dtype}`, label: `${op} ${short(dtype)} ${nLabel}`, spec: { kind: 'elementwise', op, n, dtype }, minSpeed: 0.95, minCopyShare: 0.85, bytes: (operands + 1) * n * e });
    }
  }

  for (const op of ['sum', 'max', 'argmax'] as const)
    for (const axis of [-1, 0]) {
      const out = mat[axis === -1 ? 0 : 1] * 4; // float32 or uint32 results
      w.push({ key: `${op}_axis${axis}`, label: `${op} over ${axis === -1 ? 'last' : 'first'} axis, ${dims(mat)} f32`, spec: { kind: 'reduce', op, shape: mat, axis }, minSpeed: 0.9, bytes: prod(mat) * 4 + out });
    }
  w.push({ key: 'softmax', label: `softmax last axis, ${dims(mat)} f32`, spec: { kind: 'softmax', shape: mat, axis: -1 }, minSpeed: 0.9, bytes: 2 * prod(mat) * 4 });

  for (const { model, layers } of LAYERS)
    for (const [name, k, nn] of layers)
      for (const M of ms) {
        const K = shrink(k), N = shrink(nn);
        w.push({
          key: `mm_${model}_${name}_${M}`, label: `matmul ${model} ${name} M=${M}: (${M}, ${K}) @ (${K}, ${N}) bf16`,
          spec: { kind: 'matmul', M, K, N, dtype: 'bfloat16' }, minSpeed: 0.95, flops: 2 * M * K * N, bytes: 2 * (M * K + K * N + M * N),
        });
      }

  const heads = smoke ? [2, 64, 4, 16] : [8, 2048, 32, 128];
  const copies: { key: string; label: string; spec: Spec }[] = [
    { key: 'transpose_f32', label: `transpose copy ${sq}×${sq} f32`, spec: { kind: 'transpose', shape: [sq, sq], axes: [1, 0], dtype: 'float32' } },
    { key: 'transpose_bf16', label: `transpose copy ${sq}×${sq} bf16`, spec: { kind: 'transpose', shape: [sq, sq], axes: [1, 0], dtype: 'bfloat16' } },
    { key: 'transpose_heads', label: `transpose copy (0,2,1,3) of ${dims(heads)} bf16`, spec: { kind: 'transpose', shape: heads, axes: [0, 2, 1, 3], dtype: 'bfloat16' } },
    { key: 'slice_block', label: `slice copy x[${sq / 8}:${sq - sq / 8}, ${sq / 8}:${sq - sq / 8}] of ${sq}×${sq} f32`, spec: { kind: 'slice', shape: [sq, sq], start: [sq / 8, sq / 8], stop: [sq - sq / 8, sq - sq / 8], step: [1, 1], dtype: 'float32' } },
    { key: 'slice_step2', label: `slice copy x[:, ::2] of ${sq}×${sq} f32`, spec: { kind: 'slice', shape: [sq, sq], start: [0, 0], stop: [sq, sq], step: [1, 2], dtype: 'float32' } },
  ];
  for (const c of copies) {
    const s = c.spec as Extract<Spec, { kind: 'transpose' | 'slice' }>;
    const outElems = s.kind === 'slice' ? prod(s.shape.map((_, i) => Math.ceil((s.stop[i] - s.start[i]) / s.step[i]))) : prod(s.shape);
    w.push({ ...c, minSpeed: 0.8, bytes: 2 * outElems * elem(s.dtype) });
  }
  return w;
}
