// CPU kernel for compile()'s 'fused' primitive: the program becomes one generated loop,
// with each intermediate a JS local built from the same per-op expressions as the eager
// kernels. An intermediate is rounded as storing it would round it (Math.fround for
// float32, a half round trip for float16/bfloat16, wrapping for integers), so fused
// results equal the unfused graph's.
import { DType, TypedArray, dtypes } from '../../../core/dtype.js';
import type { FusedOp, FusedParams } from '../../../core/transforms/fused.js';
import { CpuKernel, registerCpuKernels, allocUninit } from '../backend.js';
import { loadExpr, storeExpr, broadcastStrides, collapse, compileBody, kernelScope, isContiguous } from '../codegen.js';
import { threads, SharedKernel } from '../pool.js';
import { unaryExprs, binaryExprs, castExpr } from './elementwise.js';

/** JS source of one op over value names `a` with dtypes `d`. */
function opExpr(op: FusedOp, a: string[], d: DType[]): string {
  if (op.prim === 'select') return `(${a[0]} ? ${a[1]} : ${a[2]})`;
  if (op.prim === 'astype') return castExpr(a[0], d[0], dtypes[op.dtype]);
  if (op.prim in unaryExprs) return unaryExprs[op.prim](a[0], d[0], (op.params ?? {}) as Record<string, unknown>);
  if (op.prim in binaryExprs) return binaryExprs[op.prim](a[0], a[1], d[0]);
  throw new Error(`[fused] the CPU backend cannot fuse primitive '${op.prim}'`);
}

/** The value `v` has after a store to and a load from `d`'s storage. */
function roundTrip(v: string, d: DType): string {
  switch (d.name) {
    case 'float32': return `Math.fround(${v})`;
    case 'float16': return `F16[toF16(${v})]`;
    case 'bfloat16': return `BF16[toBF16(${v})]`;
    case 'bool': return `(${v} ? 1 : 0)`;
    case 'int8': return `((${v}) << 24 >> 24)`;
    case 'uint8': return `((${v}) & 255)`;
    case 'int16': return `((${v}) << 16 >> 16)`;
    case 'uint16': return `((${v}) & 65535)`;
    case 'int32': return `((${v}) | 0)`;
    case 'uint32': return `((${v}) >>> 0)`;
    case 'int64': return `BigInt.asIntN(64, ${v})`;
    case 'uint64': return `BigInt.asUintN(64, ${v})`;
    default: return v;
  }
}

/** Ops whose float result is one of their float inputs, or exactly representable beside them: no rounding needed. */
const EXACT = new Set(['negative', 'abs', 'maximum', 'minimum', 'select', 'stopGradient', 'floor', 'ceil', 'sign']);

function needsRounding(op: FusedOp, argDtypes: DType[]): boolean {
  const d = dtypes[op.dtype];
  const values = op.prim === 'select' ? argDtypes.slice(1) : argDtypes;
  return !(d.isFloat && EXACT.has(op.prim) && values.every((a) => a === d));
}

type Mode = 'full' | 'scalar' | 'strided';
/** Flat loops (no strided input) take an element range, so the pool can split them. */
type FusedFn = (outs: TypedArray[], ins: TypedArray[], shape: readonly number[], strides: number[][], start?: number, end?: number) => void;

/** Generates the loop: loads (`idx(k)` is input k's index expression), then each op, then stores. */
function build(p: FusedParams, inDtypes: DType[], modes: Mode[]): string {
  const n = p.nInputs;
  const ins = [...Array(n).keys()];
  const dt = [...inDtypes, ...p.ops.map((o) => dtypes[o.dtype])];
  // An op feeding another op is rounded where the unfused graph would store it; one that is
  // only output is rounded by its store.
  const feeds = new Set(p.ops.flatMap((o) => o.args));
  const body = (idx: (k: number) => string, at: string) => [
    ...ins.filter((k) => modes[k] !== 'scalar').map((k) => `const v${k} = ${loadExpr(`a${k}[${idx(k)}]`, dt[k])};`),
    ...p.ops.map((o, j) => {
      const k = n + j;
      const argDtypes = o.args.map((a) => dt[a]);
      const e = opExpr(o, o.args.map((a) => `v${a}`), argDtypes);
      return `const v${k} = ${feeds.has(k) && needsRounding(o, argDtypes) ? roundTrip(e, dt[k]) : e};`;
    }),
    ...p.outputs.map((v, m) => `out${m}[${at}] = ${storeExpr(`v${v}`, dt[v])};`),
  ].join(' ');
  const head = [
    ...ins.map((k) => `const a${k} = ins[${k}];`),
    ...ins.filter((k) => modes[k] === 'scalar').map((k) => `const v${k} = ${loadExpr(`a${k}[0]`, dt[k])};`),
    ...p.outputs.map((_, m) => `const out${m} = outs[${m}];`),
  ].join('\n');
  let loop: string;
  if (!modes.includes('strided')) {
    loop = `const total = end === undefined ? out0.length : end;\nfor (let i = start === undefined ? 0 : start; i < total; i++) { ${body(() => 'i', 'i')} }`;
  } else {
    // The same odometer walk as codegen.ts: the innermost axis runs flat, outer axes carry.
    const st = ins.filter((k) => modes[k] === 'strided');
    loop = `
const nd = shape.length, inner = shape[nd - 1], total = out0.length;
const idx = new Int32Array(nd);
${st.map((k) => `const s${k} = strides[${k}], t${k} = s${k}[nd - 1]; let o${k} = 0;`).join('\n')}
for (let oi = 0; oi < total;) {
  for (let j = 0; j < inner; j++, oi++) { ${body((k) => (modes[k] === 'full' ? 'oi' : `o${k} + j * t${k}`), 'oi')} }
  for (let d = nd - 2; d >= 0; d--) {
    idx[d]++; ${st.map((k) => `o${k} += s${k}[d];`).join(' ')}
    if (idx[d] < shape[d]) break;
    ${st.map((k) => `o${k} -= s${k}[d] * shape[d];`).join(' ')} idx[d] = 0;
  }
}`;
  }
  return `const { ${Object.keys(kernelScope).join(', ')} } = H;\nreturn function fused(outs, ins, shape, strides, start, end) {\n${head}\n${loop}\n};`;
}

// Generated loops per program (by identity: replays reuse the params object), then per layout.
const byProgram = new WeakMap<FusedParams, Map<string, SharedKernel>>();
const bySource = new Map<string, SharedKernel>();

function loopFor(p: FusedParams, inDtypes: DType[], modes: Mode[]): SharedKernel {
  let perLayout = byProgram.get(p);
  if (!perLayout) { perLayout = new Map(); byProgram.set(p, perLayout); }
  const layout = `${inDtypes.map((d) => d.name).join(',')}|${modes.join(',')}`;
  let fn = perLayout.get(layout);
  if (!fn) {
    const key = `${JSON.stringify(p)}|${layout}`;
    if (!(fn = bySource.get(key))) { const body = build(p, inDtypes, modes); fn = { key: `fused|${key}`, body, fn: compileBody(body) }; }
    bySource.set(key, fn);
    perLayout.set(layout, fn);
  }
  return fn;
}

const fused: CpuKernel = (ins, outs, params: FusedParams) => {
  const results = outs.map(allocUninit);
  const size = results[0].length;
  if (size === 0) return results;
  const outShape = outs[0].shape;
  const { shape, strides } = collapse(outShape, ins.map((x) => broadcastStrides(x.shape, outShape)));
  const modes = ins.map((x, k): Mode => (x.data.length === 1 ? 'scalar' : x.data.length === size && isContiguous(strides[k], shape) ? 'full' : 'strided'));
  const kernel = loopFor(params, ins.map((x) => x.dtype), modes);
  const data = ins.map((x) => x.data);
  if (!modes.includes('strided') && threads.worthIt(size)) threads.run(kernel, '', [results, data, shape, strides], results, size);
  else (kernel.fn as FusedFn)(results, data, shape, strides);
  return results;
};

const compileInput: CpuKernel = () => {
  throw new Error('[compile] cannot evaluate an array while its compiled function is being traced: the inputs are stand-ins without data. Read values (item, tolist, eval) outside the compiled function, or pass them as non-array arguments');
};

registerCpuKernels({ fused: fused as CpuKernel, compileInput });
