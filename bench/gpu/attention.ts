// fast.scaledDotProductAttention on the GPU beside torch's scaled_dot_product_attention:
// `bash bench/gpu/attention.sh` (on the GPU machine: bash .gpu/enter.sh bash bench/gpu/attention.sh).
// Forward and backward at (B, H, L, D) = (1, 32, 2048, 64) and (4, 32, 4096, 128), causal,
// bfloat16; decode (one query over 4 K and 32 K cached keys, 32 query heads, 8 key/value
// heads, D 128). Prints one markdown table: median ms (CUDA events, L2 flushed before each
// run), TFLOP/s (FlashAttention's count: 4·B·H·L·S·D forward, halved when causal; the
// backward 2.5 times that), and torch's time over lathe's. ATTN_VARIANTS=1 adds rows for
// other tile shapes of the tensor-core kernels. BENCH_REPS sets the runs (default 15).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mx from '../../src/index.js';
import * as fast from '../../src/fast/index.js';
import { gpuUnavailableReason, probe } from '../../src/backend/cuda/index.js';
import { getPrimitive, bind } from '../../src/core/primitive.js';
import { attentionTuning } from '../../src/backend/cuda/kernels/fast/attention.js';
import { deviceTimer } from './timer.js';

const here = dirname(fileURLToPath(import.meta.url));
const REPS = Number(process.env.BENCH_REPS ?? 15), WARMUP = 3;
const why = gpuUnavailableReason();
if (why) { console.error(`bench/gpu/attention.ts needs an NVIDIA GPU: ${why}`); process.exit(1); }
mx.setDefaultDevice(mx.gpu);

interface Case { key: string; kind: 'fwd' | 'bwd' | 'decode'; B: number; Hq: number; Hk: number; L: number; S: number; D: number; causal: boolean }
const big = (kind: 'fwd' | 'bwd', B: number, L: number, D: number): Case => ({ key: `${kind} (${B},32,${L},${D})`, kind, B, Hq: 32, Hk: 32, L, S: L, D, causal: true });
const cases: Case[] = [
  big('fwd', 1, 2048, 64), big('fwd', 4, 4096, 128), big('bwd', 1, 2048, 64), big('bwd', 4, 4096, 128),
  { key: 'decode 4K keys', kind: 'decode', B: 1, Hq: 32, Hk: 8, L: 1, S: 4096, D: 128, causal: false },
  { key: 'decode 32K keys', kind: 'decode', B: 1, Hq: 32, Hk: 8, L: 1, S: 32768, D: 128, causal: false },
];
const flops = (c: Case) => 4 * c.B * c.Hq * c.L * c.S * c.D * (c.causal ? 0.5 : 1) * (c.kind === 'bwd' ? 2.5 : 1);

type Tuning = Partial<typeof attentionTuning>;
const fwdT = (NW: number, MT: number, BN: number, qreg: boolean, stages: 1 | 2) => {
  const t = { NW, MT, BN, qreg, stages, perSm: 2, minTiles: 4 };
  return { wide: t, deep: t };
};
const dec = (BN: number, stages: 1 | 2, perSm: number, minTiles: number): Tuning => ({ decode: { NW: 1, MT: 1, BN, qreg: true, stages, perSm, minTiles } });
const variants: Record<string, [string, Tuning][]> = process.env.ATTN_VARIANTS === '1' ? {
  fwd: [['default', {}], ['4 warps x 16 rows, 2 stages', fwdT(4, 1, 64, true, 2)], ['4 warps x 32 rows, Q in regs', fwdT(4, 2, 64, true, 2)],
    ['4 warps x 32 rows, Q in smem', fwdT(4, 2, 64, false, 2)], ['4 x 32 rows, Q smem, 1 stage', fwdT(4, 2, 64, false, 1)],
    ['4 x 32 rows, Q smem, 32 keys', fwdT(4, 2, 32, false, 2)], ['4 x 16 rows, 128 keys', fwdT(4, 1, 128, true, 2)],
    ['8 x 16 rows, 2 stages', fwdT(8, 1, 64, true, 2)], ['4 x 16 rows, 1 stage (run 1)', fwdT(4, 1, 64, true, 1)]],
  bwd: [['default', {}], ['4 warps, 64 keys, 1 buffer', { bwdWide: { NW: 4, BM: 64, dbuf: false }, bwdDeep: { NW: 4, BM: 64, dbuf: false } }], ['4 warps, 64 keys, 2 buffers', { bwdWide: { NW: 4, BM: 64, dbuf: true }, bwdDeep: { NW: 4, BM: 64, dbuf: true } }],
    ['8 warps, 128 keys, 2 buffers', { bwdWide: { NW: 8, BM: 64, dbuf: true }, bwdDeep: { NW: 8, BM: 64, dbuf: true } }], ['4 warps, 32 queries, 2 buffers', { bwdWide: { NW: 4, BM: 32, dbuf: true }, bwdDeep: { NW: 4, BM: 32, dbuf: true } }]],
  decode: [['default', {}], ['64 keys, 2 stages, 8/SM', dec(64, 2, 8, 2)], ['64 keys, 1 stage, 8/SM', dec(64, 1, 8, 2)], ['32 keys, 2 stages, 8/SM', dec(32, 2, 8, 2)],
    ['64 keys, 2 stages, 16/SM, 1 tile', dec(64, 2, 16, 1)], ['64 keys, 2 stages, 4/SM, 4 tiles', dec(64, 2, 4, 4)], ['CUDA cores (run 1)', { path: 'simt' }]],
} : { fwd: [['', {}]], bwd: [['', {}]], decode: [['', {}]] };

const timer = deviceTimer(REPS, WARMUP);
const saved = { ...attentionTuning };
const lathe: { key: string; variant: string; ms: number | string }[] = [];
const bwdPrim = getPrimitive('scaledDotProductAttentionVjp')!, fwdPrim = getPrimitive('scaledDotProductAttention')!;
for (const c of cases) {
  const key = (i: number) => mx.random.key(i);
  const q = mx.random.normal([c.B, c.Hq, c.L, c.D], 'bfloat16', null, null, key(1));
  const k = mx.random.normal([c.B, c.Hk, c.S, c.D], 'bfloat16', null, null, key(2));
  const v = mx.random.normal([c.B, c.Hk, c.S, c.D], 'bfloat16', null, null, key(3));
  mx.eval(q, k, v);
  const opts = { mask: c.causal ? ('causal' as const) : null };
  for (const [variant, tuning] of variants[c.kind]) {
    Object.assign(attentionTuning, saved, tuning);
    try {
      let ms: number;
      if (c.kind === 'bwd') {
        const params = { scale: 1 / Math.sqrt(c.D), causal: c.causal, mask: 'none', windowSize: null, softcap: null, hasKeyLengths: false };
        const [o, lse] = bind(fwdPrim, [q, k, v], params, [{ shape: q.shape, dtype: q.dtype }, { shape: q.shape.slice(0, 3), dtype: mx.float32 }], q.stream);
        const g = mx.random.normal(q.shape, 'bfloat16', null, null, key(4));
        mx.eval(o, lse, g);
        const specs = [q, k, v].map((a) => ({ shape: a.shape, dtype: a.dtype }));
        ms = timer.median(() => bind(bwdPrim, [q, k, v, o, lse, g], params, specs, q.stream), (outs) => mx.eval(...outs), (outs) => outs.forEach((x) => x.dispose())).ms;
        [o, lse, g].forEach((x) => x.dispose());
      } else {
        ms = timer.median(() => fast.scaledDotProductAttention(q, k, v, opts), (y) => mx.eval(y), (y) => y.dispose()).ms;
      }
      lathe.push({ key: c.key, variant, ms });
    } catch (e) {
      lathe.push({ key: c.key, variant, ms: `error: ${(e as Error).message.split('\n')[0].slice(0, 160)}` });
    }
    console.error(`lathe ${c.key} ${variant}: ${JSON.stringify(lathe[lathe.length - 1].ms)}`);
  }
  [q, k, v].forEach((x) => x.dispose());
}
Object.assign(attentionTuning, saved);
timer.close();
mx.clearCache();

interface TorchOut { torch?: string; device?: string; cudnn?: number; results?: Record<string, Record<string, number | string>>; error?: string }
const py = spawnSync('python3', [join(here, 'attention.py')], {
  input: JSON.stringify({ reps: REPS, warmup: WARMUP, cases }), encoding: 'utf8', stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 16 << 20,
});
let torch: TorchOut;
try { torch = JSON.parse(py.stdout.trim().split('\n').pop()!) as TorchOut; } catch { torch = { error: `attention.py failed (exit ${py.status})` }; }

const info = (probe() as Extract<ReturnType<typeof probe>, { ok: true }>).info;
const f2 = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const timeCell = (ms: number | string | undefined, c: Case) => {
  if (typeof ms !== 'number') return [ms === undefined ? 'n/a' : String(ms).slice(0, 60), ''];
  const rate = c.kind === 'decode' ? `${f2((2 * c.B * c.Hk * c.S * c.D * 2) / ms / 1e6)} GB/s` : `${f2(flops(c) / ms / 1e9)} TFLOP/s`;
  return [ms.toFixed(3), rate];
};
const lines = [
  `GPU: ${info.name} (sm_${info.cc}); torch ${torch.torch ?? 'n/a'}, cuDNN ${torch.cudnn ?? 'n/a'}${torch.error ? ` (${torch.error})` : ''}; bfloat16; median of ${REPS}`,
  '',
  '| case | lathe variant | lathe ms | lathe rate | torch default ms | rate | torch flash ms | torch cudnn ms | speed (torch default / lathe) |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
];
for (const r of lathe) {
  const c = cases.find((x) => x.key === r.key)!;
  const t = torch.results?.[r.key] ?? {};
  const [lm, lr] = timeCell(r.ms, c), [tm, tr] = timeCell(t.default, c);
  const fmt = (x: number | string | undefined) => (typeof x === 'number' ? x.toFixed(3) : x === undefined ? 'n/a' : String(x).slice(0, 40));
  const speed = typeof r.ms === 'number' && typeof t.default === 'number' ? `${(t.default / r.ms).toFixed(2)}x` : 'n/a';
  lines.push(`| ${r.key} | ${r.variant || 'default'} | ${lm} | ${lr} | ${tm} | ${tr} | ${fmt(t.flash)} | ${fmt(t.cudnn)} | ${speed} |`);
}
console.log(lines.join('\n'));
