// array.toString(): NumPy's repr layout (numpy/_core/arrayprint.py with its default options:
// 75 columns, summaries past 1000 elements with 3 items at each edge, floats as the shortest
// string that round-trips in their own dtype, at most 8 fractional digits), always followed
// by the dtype as MLX prints it: array([[1, 2],\n       [3, 4]], dtype=int32).
import type { Array } from './array.js';
import type { DType } from './dtype.js';
import { F16_TABLE, BF16_TABLE, toF16, toBF16 } from './half.js';

const LINE_WIDTH = 75;
const THRESHOLD = 1000;
const EDGE = 3;
const PRECISION = 8;
const PREFIX = 'array(';

type Value = number | bigint;
type Formatter = (v: Value) => string;

export function formatArray(a: Array): string {
  const dtype = `dtype=${a.dtype.name}`;
  if (a._disposed) return `${PREFIX}<disposed>, ${dtype})`;
  const vals = a.dataSync();
  const summarize = a.size > THRESHOLD;
  const extras = [dtype];
  if ((a.size === 0 && !(a.ndim === 1)) || summarize) extras.unshift(`shape=${pyShape(a.shape)}`);
  let body: string;
  if (a.size === 0) body = '[]';
  else {
    const strides = a.shape.map((_, d) => a.shape.slice(d + 1).reduce((x, y) => x * y, 1));
    const shown = shownOffsets(a.shape, strides, summarize);
    const fmt = formatterFor(a.dtype, shown.map((o) => vals[o]), a.ndim === 0);
    body = formatNested(a.shape, strides, (o) => fmt(vals[o]), summarize);
  }
  const head = `${PREFIX}${body},`;
  const tail = `${extras.join(', ')})`;
  const lastLine = head.length - (head.lastIndexOf('\n') + 1);
  const spacer = lastLine + tail.length + 1 > LINE_WIDTH ? '\n' + ' '.repeat(PREFIX.length) : ' ';
  return head + spacer + tail;
}

const pyShape = (s: readonly number[]) => `(${s.join(', ')}${s.length === 1 ? ',' : ''})`;

/** Indices kept along an axis of length n (all, or the edges of a summarized axis). */
function kept(n: number, summarize: boolean): number[] {
  const all = [...globalThis.Array(n).keys()];
  return summarize && n > 2 * EDGE ? [...all.slice(0, EDGE), ...all.slice(n - EDGE)] : all;
}

/** Flat offsets of the elements that will be printed (the formatter sizes itself on these only). */
function shownOffsets(shape: readonly number[], strides: number[], summarize: boolean): number[] {
  let offs = [0];
  shape.forEach((n, d) => { offs = offs.flatMap((o) => kept(n, summarize).map((i) => o + i * strides[d])); });
  return offs;
}

/** NumPy's _formatArray: nested brackets, rows wrapped at the line width, '...' in summaries. */
function formatNested(shape: readonly number[], strides: number[], cell: (offset: number) => string, summarize: boolean): string {
  const nd = shape.length;
  const sep = ', ';
  const rec = (dim: number, off: number, indent: string, width: number): string => {
    if (dim === nd) return cell(off);
    const n = shape[dim];
    const showSummary = summarize && n > 2 * EDGE;
    const lead = showSummary ? EDGE : 0;
    const trail = showSummary ? EDGE : n;
    const idx = [...globalThis.Array(lead).keys(), ...(showSummary ? [-1] : []), ...globalThis.Array.from({ length: trail }, (_, k) => n - trail + k)];
    const next = (i: number) => rec(dim + 1, off + i * strides[dim], indent + ' ', width - 1);
    let s = '';
    if (dim === nd - 1) {
      const elemWidth = width - 1;
      let line = indent;
      idx.forEach((i, k) => {
        const word = i === -1 ? '...' : next(i);
        // Wrap before a word that would pass the width, unless the line holds only the indent.
        if (line.length + word.length > elemWidth && line.length > indent.length) {
          s += line.trimEnd() + '\n';
          line = indent;
        }
        line += word;
        if (k < idx.length - 1) line += sep;
      });
      s += line;
    } else {
      const lineSep = ',' + '\n'.repeat(nd - dim - 1);
      s = idx.map((i) => indent + (i === -1 ? '...' : next(i))).join(lineSep);
    }
    return '[' + s.slice(indent.length) + ']';
  };
  return rec(0, 0, ' '.repeat(PREFIX.length + 1), LINE_WIDTH - 1);
}

// ---------------------------------------------------------------- element formatters

function formatterFor(dtype: DType, shown: Value[], scalar: boolean): Formatter {
  if (dtype.kind === 'bool') return (v) => (v ? (scalar ? 'True' : ' True') : 'False');
  if (dtype.kind !== 'float') {
    const strs = shown.map(String);
    const width = Math.max(...strs.map((s) => s.length));
    return (v) => String(v).padStart(width);
  }
  return floatFormatter(shown as number[], roundTripOf(dtype));
}

/** Rounds a number to the dtype it came from (so shortest digits are chosen for that dtype). */
function roundTripOf(dtype: DType): (x: number) => number {
  switch (dtype.name) {
    case 'float16': return (x) => F16_TABLE[toF16(x)];
    case 'bfloat16': return (x) => BF16_TABLE[toBF16(x)];
    case 'float32': return Math.fround;
    default: return (x) => x;
  }
}

/**
 * Shortest decimal digits that read back as v in its dtype: [digits, exponent of the first
 * digit]. Of two equally short candidates the nearer wins, and on a tie the even one, as in
 * NumPy (float16 3.5625 prints as 3.562).
 */
function shortest(v: number, rt: (x: number) => number): [string, number] {
  const a = Math.abs(v);
  let s = a.toExponential();
  search: for (let p = 1; p <= 17; p++) {
    for (const t of [toExponentialEven(a, p - 1), a.toExponential(p - 1)]) {
      if (rt(Number(t)) === a) { s = t; break search; }
    }
  }
  const [mant, exp] = s.split('e');
  return [mant.replace('.', '').replace(/0+$/, '') || '0', Number(exp)];
}

/** a.toExponential(f) with exact ties rounded to even (toExponential rounds them up). */
function toExponentialEven(a: number, f: number): string {
  const [mant, exp] = a.toExponential(100).split('e');
  const digits = mant.replace('.', '');
  if (!/^50*$/.test(digits.slice(f + 1)) || Number(digits[f]) % 2 === 1) return a.toExponential(f);
  return `${digits[0]}${f ? `.${digits.slice(1, f + 1)}` : ''}e${exp}`;
}

const negative = (v: number) => v < 0 || Object.is(v, -0);

/** Positional form 'int.frac' (frac may be empty), at most PRECISION fractional digits, half to even. */
function positional(v: number, rt: (x: number) => number): string {
  const sign = negative(v) ? '-' : '';
  const [digits, exp] = shortest(v, rt);
  let int: string, frac: string;
  if (exp >= 0) { int = digits.slice(0, exp + 1).padEnd(exp + 1, '0'); frac = digits.slice(exp + 1); }
  else { int = '0'; frac = '0'.repeat(-exp - 1) + digits; }
  if (frac.length > PRECISION) [int, frac] = roundHalfEven(Math.abs(v).toFixed(100), PRECISION);
  if (v === 0) [int, frac] = ['0', ''];
  return `${sign}${int}.${frac.replace(/0+$/, '')}`;
}

/** Exact decimal 'int.frac' rounded to `keep` fractional digits, ties to even. */
function roundHalfEven(exact: string, keep: number): [string, string] {
  const [int, frac] = exact.split('.');
  const head = (int + frac.slice(0, keep)).split('').map(Number);
  const rest = frac.slice(keep);
  const up = rest[0] > '5' || (rest[0] === '5' && (/[1-9]/.test(rest.slice(1)) || head[head.length - 1] % 2 === 1));
  if (up) {
    let i = head.length - 1;
    while (i >= 0 && head[i] === 9) head[i--] = 0;
    if (i < 0) head.unshift(1); else head[i]++;
  }
  const all = head.join('');
  return [all.slice(0, all.length - keep), all.slice(all.length - keep)];
}

/**
 * Scientific form [sign and first digit, fraction, exponent]: the shortest digits (at most
 * PRECISION after the point), or exactly `fracDigits` digits of the value when given (as
 * NumPy pads with the value's own digits, not zeros).
 */
function scientific(v: number, rt: (x: number) => number, fracDigits?: number): [string, string, number] {
  const sign = negative(v) ? '-' : '';
  let digits: string, exp: number;
  if (fracDigits === undefined) [digits, exp] = shortest(v, rt);
  if (fracDigits !== undefined || digits!.length > PRECISION + 1) {
    const [m, e] = Math.abs(v).toExponential(fracDigits ?? PRECISION).split('e');
    digits = m.replace('.', '');
    if (fracDigits === undefined) digits = digits.replace(/0+$/, '');
    exp = Number(e);
  }
  return [sign + digits![0], digits!.slice(1), exp!];
}

/** NumPy's FloatingFormat with floatmode 'maxprec': sizes every column on the shown values. */
function floatFormatter(shown: number[], rt: (x: number) => number): Formatter {
  const finite = shown.filter(Number.isFinite);
  const nonzero = finite.filter((v) => v !== 0).map(Math.abs);
  let expFormat = false;
  if (nonzero.length) {
    const max = Math.max(...nonzero), min = Math.min(...nonzero);
    expFormat = max >= rt(1e8) || min < rt(1e-4) || rt(max / min) > 1000;
  }
  let padLeft = 0, padRight = 0, fracDigits = 0, expDigits = 0;
  if (finite.length && expFormat) {
    const parts = finite.map((v) => scientific(v, rt));
    fracDigits = Math.max(...parts.map((p) => p[1].length));
    expDigits = Math.max(2, ...parts.map((p) => String(Math.abs(p[2])).length));
    padLeft = Math.max(...parts.map((p) => p[0].length));
    padRight = expDigits + 2 + fracDigits;
  } else if (finite.length) {
    const parts = finite.map((v) => positional(v, rt).split('.'));
    padLeft = Math.max(...parts.map((p) => p[0].length));
    padRight = Math.max(...parts.map((p) => p[1].length));
  }
  if (finite.length !== shown.length) {
    const negInf = shown.some((v) => v === -Infinity) ? 1 : 0;
    padLeft = Math.max(padLeft, 3 - (padRight + 1), 3 + negInf - (padRight + 1));
  }
  return (x) => {
    const v = x as number;
    if (!Number.isFinite(v)) {
      const s = Number.isNaN(v) ? 'nan' : v < 0 ? '-inf' : 'inf';
      return s.padStart(padLeft + padRight + 1);
    }
    if (expFormat) {
      const [int, frac, exp] = scientific(v, rt, fracDigits);
      const e = (exp < 0 ? '-' : '+') + String(Math.abs(exp)).padStart(expDigits, '0');
      return `${int.padStart(padLeft)}.${frac}e${e}`;
    }
    const [int, frac] = positional(v, rt).split('.');
    return `${int.padStart(padLeft)}.${frac.padEnd(padRight)}`;
  };
}
