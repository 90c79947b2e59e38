// array.toString(), in the style of MLX and NumPy: array([[1, 2],\n       [3, 4]], dtype=int32)
import type { Array } from './array.js';

const EDGE = 3; // items kept at each end of a summarized axis
const SUMMARIZE_ABOVE = 1000;

function formatValue(v: number | bigint, kind: string): string {
  if (kind === 'bool') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (kind !== 'float') return String(v);
  if (v !== 0 && (Math.abs(v) >= 1e16 || Math.abs(v) < 1e-4)) return v.toExponential(6).replace(/\.?0+e/, 'e');
  return String(Number(v.toPrecision(6)));
}

export function formatArray(a: Array): string {
  const suffix = `dtype=${a.dtype.name}`;
  if (a._disposed) return `array(<disposed>, ${suffix})`;
  const vals = a.dataSync();
  const summarize = a.size > SUMMARIZE_ABOVE;
  const cells = (i: number) => formatValue(vals[i], a.dtype.kind);
  const strides = a.shape.map((_, d) => a.shape.slice(d + 1).reduce((x, y) => x * y, 1));
  const build = (dim: number, off: number, indent: string): string => {
    if (dim === a.ndim) return cells(off);
    const n = a.shape[dim];
    const idx: (number | null)[] = summarize && n > 2 * EDGE
      ? [...globalThis.Array.from({ length: EDGE }, (_, i) => i), null, ...globalThis.Array.from({ length: EDGE }, (_, i) => n - EDGE + i)]
      : globalThis.Array.from({ length: n }, (_, i) => i);
    const parts = idx.map((i) => (i === null ? '...' : build(dim + 1, off + i * strides[dim], indent + ' ')));
    const sep = dim === a.ndim - 1 ? ', ' : ',' + '\n'.repeat(a.ndim - 1 - dim) + indent + ' ';
    return `[${parts.join(sep)}]`;
  };
  return `array(${build(0, 0, ' '.repeat(6))}, ${suffix})`;
}
