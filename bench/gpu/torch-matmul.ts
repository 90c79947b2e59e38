// PyTorch's bf16 products for gemv.ts and quantized.ts, timed in a python3 child process by
// matmul_torch.py (the same timing as bench:gpu), for the same card and the same inputs.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TorchShape { key: string; M: number; K: number; N: number; transposeB?: boolean }
export type TorchResults = { device: string; torch: string; results: Record<string, { ms?: number; error?: string }> } | { error: string };

/** torch.matmul's median ms for each shape, or why PyTorch could not run. */
export function torchMatmuls(shapes: readonly TorchShape[], reps: number, warmup: number): TorchResults {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'matmul_torch.py');
  const p = spawnSync('python3', [script], { input: JSON.stringify({ reps, warmup, shapes }), encoding: 'utf8' });
  if (p.status !== 0) return { error: (p.stderr || p.error?.message || 'failed').trim().split('\n').slice(-1)[0] };
  return JSON.parse(p.stdout.trim().split('\n').pop()!);
}
