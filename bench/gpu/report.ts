// The table of bench:gpu: one row per workload with both times, lathe's speed as a share
// of torch's, the target and whether it is met; bandwidth or FLOP rates in the note.
import type { Measured } from './lathe_bench.js';
import type { Workload } from './workloads.js';

export interface Row { key: string; cells: string[]; met: boolean | null; ratio?: number }

export const HEADER = ['workload', 'lathe', 'torch', 'lathe speed vs torch', 'target', 'met?', 'note'];

/** Milliseconds as a short time: µs under 1 ms, else three significant digits. */
export function fmtTime(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return 'n/a';
  if (ms < 1) return `${(ms * 1e3).toFixed(ms < 0.01 ? 2 : 1)} µs`;
  return ms < 100 ? `${ms.toPrecision(3)} ms` : `${ms.toFixed(0)} ms`;
}

const tbs = (bytes: number, ms: number) => bytes / ms / 1e9;
const tflops = (flops: number, ms: number) => flops / ms / 1e9;
const msOf = (m: Measured | undefined) => (m && 'ms' in m ? m.ms : undefined);

/** Rows of the table; elementwise rows are also judged against lathe's copy row of their dtype (the bandwidth ceiling). */
export function buildRows(list: Workload[], lathe: Record<string, Measured>, torch: Record<string, Measured>): Row[] {
  const copyRate = (dtype: string) => {
    const w = list.find((x) => x.key === `copy_${dtype}`);
    const ms = msOf(lathe[`copy_${dtype}`]);
    return w?.bytes && ms ? tbs(w.bytes, ms) : undefined;
  };
  return list.map((w) => {
    const l = lathe[w.key], t = torch[w.key];
    const lm = msOf(l), tm = msOf(t);
    const ratio = lm !== undefined && tm !== undefined ? tm / lm : undefined;
    const notes: string[] = [];
    let share: number | undefined;
    if (w.spec.kind === 'elementwise' && w.bytes && lm) {
      const ceiling = copyRate(w.spec.dtype);
      if (ceiling) share = tbs(w.bytes, lm) / ceiling;
    }
    if (w.flops && (w.spec.kind !== 'matmul' || w.spec.M >= 512)) {
      notes.push(`TFLOP/s: lathe ${lm ? tflops(w.flops, lm).toFixed(0) : 'n/a'}, torch ${tm ? tflops(w.flops, tm).toFixed(0) : 'n/a'}`);
    } else if (w.bytes) {
      notes.push(`TB/s: lathe ${lm ? tbs(w.bytes, lm).toFixed(2) : 'n/a'}, torch ${tm ? tbs(w.bytes, tm).toFixed(2) : 'n/a'}`);
    }
    if (share !== undefined) notes.push(`${(share * 100).toFixed(0)}% of copy`);
    if (l && 'hostMs' in l && l.hostMs !== undefined && lm !== undefined && l.hostMs > lm) notes.push(`lathe's host time per call, ${fmtTime(l.hostMs)}, exceeds the kernel's`);
    for (const [who, m] of [['lathe', l], ['torch', t]] as const) {
      if (m && 'error' in m) notes.push(`${who}: ${m.error}`);
      else if (m?.note) notes.push(`${who}: ${m.note}`);
    }
    const targets: string[] = [];
    if (w.minSpeed !== null) targets.push(`≥ ${w.minSpeed}x`);
    if (w.minCopyShare !== undefined) targets.push(`≥ ${w.minCopyShare * 100}% copy`);
    let met: boolean | null = null;
    if (w.minSpeed !== null) {
      met = ratio !== undefined && ratio >= w.minSpeed && (w.minCopyShare === undefined || (share !== undefined && share >= w.minCopyShare));
      if (ratio === undefined) met = null;
    }
    const metCell = w.minSpeed === null ? '–' : met === null ? 'n/a' : met ? 'yes' : 'NO';
    const perOp = w.spec.kind === 'launch' ? '/op' : '';
    return {
      key: w.key,
      ratio,
      met,
      cells: [w.label, fmtTime(lm) + (lm !== undefined ? perOp : ''), fmtTime(tm) + (tm !== undefined ? perOp : ''),
        ratio === undefined ? 'n/a' : `${ratio.toFixed(2)}x`, targets.join(', ') || '–', metCell, notes.join('; ')],
    };
  });
}

/** The rows as aligned text for a terminal. */
export function textTable(rows: Row[]): string {
  const all = [HEADER, ...rows.map((r) => r.cells)];
  const widths = HEADER.map((_, j) => Math.max(...all.map((r) => r[j].length)));
  const line = (r: string[]) => r.map((c, j) => (j >= 1 && j <= 3 ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join('  ').trimEnd();
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(r.cells))].join('\n');
}

export function markdownTable(rows: Row[]): string {
  const md = (r: string[]) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [md(HEADER), md(HEADER.map(() => '---')), ...rows.map((r) => md(r.cells))].join('\n');
}

/** One line: how many targets were met, and which were missed. */
export function summary(rows: Row[]): string {
  const judged = rows.filter((r) => r.met !== null);
  const missed = judged.filter((r) => !r.met);
  const na = rows.filter((r) => r.met === null && r.cells[5] === 'n/a').length;
  return `targets met: ${judged.length - missed.length} of ${judged.length}${na ? ` (${na} n/a)` : ''}` +
    (missed.length ? `; missed: ${missed.map((r) => `${r.key} ${r.ratio?.toFixed(2) ?? 'n/a'}x`).join(', ')}` : '');
}
