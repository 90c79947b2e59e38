// einsum, lowered to existing ops: diagonals for repeated labels, sums for labels that
// only one operand carries, then left-to-right pairwise contractions as batched matmuls
// (shared labels that are still needed become batch dims), and a final transpose.
import { Array, ArrayLike, asArray } from '../array.js';
import { OpOptions, toStream } from '../device.js';
import { fmtShape, resultType, promoteArgs, isArrayLike } from './util.js';
import { transpose, reshape, diagonal } from './shape.js';
import { sum } from './reduce.js';
import { matmul } from './matmul.js';

/** An operand with one label per axis (ellipsis dims get labels '0', '1', ...). */
interface Term { x: Array; labels: string[] }

function parse(subscripts: string, ndims: number[]): { inputs: string[][]; output: string[] } {
  const spec = subscripts.replace(/\s+/g, '');
  const [lhs, rhs] = spec.split('->');
  if (spec.split('->').length > 2) throw new Error(`[einsum] subscripts '${subscripts}' have more than one '->'`);
  const parts = lhs.split(',');
  if (parts.length !== ndims.length)
    throw new Error(`[einsum] subscripts '${subscripts}' name ${parts.length} operands but ${ndims.length} were given`);
  const tokenize = (s: string, where: string): string[] => {
    const out: string[] = [];
    for (let i = 0; i < s.length; i++) {
      if (s.startsWith('...', i)) { out.push('...'); i += 2; continue; }
      if (!/[a-zA-Z]/.test(s[i])) throw new Error(`[einsum] invalid character '${s[i]}' in ${where} of '${subscripts}'`);
      out.push(s[i]);
    }
    if (out.filter((t) => t === '...').length > 1) throw new Error(`[einsum] more than one ellipsis in ${where} of '${subscripts}'`);
    return out;
  };
  const tokens = parts.map((p, i) => tokenize(p, `operand ${i}`));
  const ellRank = Math.max(0, ...tokens.map((t, i) => (t.includes('...') ? ndims[i] - (t.length - 1) : 0)));
  const ellLabels = (n: number) => [...globalThis.Array(n).keys()].map((k) => String(ellRank - n + k));
  const inputs = tokens.map((t, i) => {
    const named = t.filter((x) => x !== '...').length;
    if (t.includes('...') ? named > ndims[i] : named !== ndims[i])
      throw new Error(`[einsum] operand ${i} has ${ndims[i]} dims but its subscripts '${parts[i]}' name ${named}`);
    return t.flatMap((x) => (x === '...' ? ellLabels(ndims[i] - named) : [x]));
  });
  let output: string[];
  if (rhs === undefined) {
    // Implicit output: broadcast dims, then the labels used once, alphabetically (as NumPy).
    const counts = new Map<string, number>();
    for (const l of inputs.flat()) if (/[a-zA-Z]/.test(l)) counts.set(l, (counts.get(l) ?? 0) + 1);
    output = [...ellLabels(ellRank), ...[...counts].filter(([, c]) => c === 1).map(([l]) => l).sort()];
  } else {
    const t = tokenize(rhs, 'the output');
    output = t.flatMap((x) => (x === '...' ? ellLabels(ellRank) : [x]));
    if (new Set(output).size !== output.length) throw new Error(`[einsum] output subscripts '${rhs}' repeat a label`);
    for (const l of output) if (!inputs.some((ls) => ls.includes(l))) throw new Error(`[einsum] output label '${l}' does not appear in any operand of '${subscripts}'`);
  }
  return { inputs, output };
}

/** Takes diagonals until every label of a term is distinct. */
function dedupe(t: Term): Term {
  for (;;) {
    const i = t.labels.findIndex((l, k) => t.labels.indexOf(l) !== k);
    if (i < 0) return t;
    const j = t.labels.indexOf(t.labels[i]);
    if (t.x.shape[i] !== t.x.shape[j])
      throw new Error(`[einsum] label '${t.labels[i]}' has sizes ${t.x.shape[j]} and ${t.x.shape[i]} in one operand ${fmtShape(t.x.shape)}`);
    const label = t.labels[i];
    t = { x: diagonal(t.x, 0, j, i), labels: [...t.labels.filter((_, k) => k !== i && k !== j), label] };
  }
}

/** Sums away labels in `drop`. */
function sumOut(t: Term, drop: (l: string) => boolean): Term {
  const axes = t.labels.map((l, k) => (drop(l) ? k : -1)).filter((k) => k >= 0);
  if (!axes.length) return t;
  return { x: sum(t.x, axes), labels: t.labels.filter((l) => !drop(l)) };
}

/** Contracts two terms over their shared labels, keeping those in `keep` as batch dims. */
function contract(a: Term, b: Term, keep: Set<string>): Term {
  const shared = a.labels.filter((l) => b.labels.includes(l));
  const batch = shared.filter((l) => keep.has(l));
  const summed = shared.filter((l) => !keep.has(l));
  const freeA = a.labels.filter((l) => !shared.includes(l)), freeB = b.labels.filter((l) => !shared.includes(l));
  const size = (t: Term, l: string) => t.x.shape[t.labels.indexOf(l)];
  for (const l of summed) if (size(a, l) !== size(b, l))
    throw new Error(`[einsum] label '${l}' has sizes ${size(a, l)} and ${size(b, l)} in operands ${fmtShape(a.x.shape)} and ${fmtShape(b.x.shape)}`);
  const prod = (t: Term, ls: string[]) => ls.reduce((p, l) => p * size(t, l), 1);
  const order = (t: Term, ls: string[]) => transpose(t.x, ls.map((l) => t.labels.indexOf(l)));
  const xa = reshape(order(a, [...batch, ...freeA, ...summed]), [...batch.map((l) => size(a, l)), prod(a, freeA), prod(a, summed)]);
  const xb = reshape(order(b, [...batch, ...summed, ...freeB]), [...batch.map((l) => size(b, l)), prod(b, summed), prod(b, freeB)]);
  const y = matmul(xa, xb); // batch dims broadcast (size-1 ellipsis dims)
  const outBatch = y.shape.slice(0, batch.length);
  return { x: reshape(y, [...outBatch, ...freeA.map((l) => size(a, l)), ...freeB.map((l) => size(b, l))]), labels: [...batch, ...freeA, ...freeB] };
}

/**
 * Einstein summation: `einsum('ij,jk->ik', a, b)`. Supports implicit output, repeated
 * labels within an operand (diagonals, traces) and '...' for broadcast dims. A trailing
 * `{ stream }` object may follow the operands.
 */
export function einsum(subscripts: string, ...operands: (ArrayLike | OpOptions)[]): Array {
  let opts: OpOptions | undefined;
  const lastArg = operands[operands.length - 1];
  if (operands.length && !isArrayLike(lastArg)) opts = operands.pop() as OpOptions;
  const arrays = (operands as ArrayLike[]).map((x) => asArray(x));
  if (!arrays.length) throw new Error('[einsum] needs at least one operand');
  const stream = opts?.stream ? toStream(opts.stream) : arrays[0].stream;
  const xs = promoteArgs(arrays, stream, resultType(...arrays));
  const { inputs, output } = parse(subscripts, xs.map((x) => x.ndim));
  let terms: Term[] = xs.map((x, i) => dedupe({ x, labels: inputs[i] }));
  const used = (t: Term[], l: string) => output.includes(l) || t.some((u) => u.labels.includes(l));
  terms = terms.map((t, i) => sumOut(t, (l) => !used(terms.filter((_, k) => k !== i), l)));
  let acc = terms[0];
  for (let i = 1; i < terms.length; i++) {
    const rest = terms.slice(i + 1);
    acc = contract(acc, terms[i], new Set([...acc.labels, ...terms[i].labels].filter((l) => used(rest, l))));
  }
  acc = sumOut(acc, (l) => !output.includes(l));
  return transpose(acc.x, output.map((l) => acc.labels.indexOf(l)));
}
