// fast.scaledDotProductAttention on the GPU: the primitives `scaledDotProductAttention`
// ([q, k, v, mask?, keyLengths?] -> [out, lse]) and `scaledDotProductAttentionVjp`
// ([q, k, v, out, lse, dout, mask?, keyLengths?] -> [dq, dk, dv]) of src/fast/attention.ts,
// whose reference (sdpaRef) they match. Which kernel runs:
//   float16/bfloat16, D = Dv a multiple of 16 up to 128, 16-byte aligned: tensor cores
//     (attention-mma.ts), forward and backward;
//   otherwise (float32, other head dims): the CUDA-core kernels of attention-simt.ts;
//   heads too large for either kernel's shared memory: the CPU kernel (host fallback).
// Few rows per key/value head (decode: up to 16) take one-warp blocks, and where blocks are
// too few to fill the GPU the keys are split across blocks (flash-decoding), the partial
// results merged by their log-sum-exps.
import type { DType } from '../../../../core/dtype.js';
import type { Spec } from '../../../../core/primitive.js';
import { registerCudaKernels, type CudaArg, type CudaContext, type CudaBuffer } from '../../backend.js';
import { check, CU } from '../../ffi/libcuda.js';
import type { KernelSource } from '../../compiler.js';
import { hostKernel } from '../host.js';
import type { MaskSpec } from './attention-source.js';
import { renderMmaFwd, renderMmaBwd, mmaFwdKey, mmaBwdKey, mmaFwdSmem, mmaBwdSmem, type MmaFwdSpec, type MmaBwdSpec } from './attention-mma.js';
import {
  renderSimtFwd, renderSimtBwd, renderCombine, renderBwdPre, renderDqConvert, simtFwdKey, simtBwdKey, simtFwdTiles, simtBwdTiles,
  type SimtFwdSpec, type SimtBwdSpec,
} from './attention-simt.js';

interface SdpaParams {
  scale: number; causal: boolean; mask: 'none' | 'bool' | 'additive';
  windowSize: number | null; softcap: number | null; hasKeyLengths: boolean;
}

/** A forward tile shape, and when to split keys: below `perSm` blocks per SM, into chunks of at least `minTiles` tiles. */
export type FwdTiles = Pick<MmaFwdSpec, 'NW' | 'MT' | 'BN' | 'qreg' | 'stages'> & { perSm: number; minTiles: number };
export type BwdTiles = Pick<MmaBwdSpec, 'NW' | 'BM' | 'dbuf'>;

/**
 * Tile shapes of the tensor-core kernels, by grouped rows per key/value head (L·Hq/Hk):
 * `decode` up to 16, `small` up to 64, then `wide` (D ≤ 64) or `deep`; the backward by head
 * dim. The defaults are the fastest of bench/gpu/attention.ts's variants on an H200 (see
 * docs/fast.md). `path` forces a path and `splits` a number of key splits (tests and
 * benchmarks). Not public API.
 */
export const attentionTuning = {
  decode: { NW: 1, MT: 1, BN: 64, qreg: true, stages: 2, perSm: 4, minTiles: 2 } as FwdTiles,
  small: { NW: 4, MT: 1, BN: 64, qreg: true, stages: 2, perSm: 3, minTiles: 2 } as FwdTiles,
  wide: { NW: 4, MT: 1, BN: 128, qreg: true, stages: 2, perSm: 3, minTiles: 4 } as FwdTiles,
  deep: { NW: 4, MT: 2, BN: 64, qreg: false, stages: 2, perSm: 2, minTiles: 4 } as FwdTiles,
  bwdWide: { NW: 4, BM: 64, dbuf: false } as BwdTiles,
  bwdDeep: { NW: 8, BM: 64, dbuf: true } as BwdTiles,
  path: null as null | 'mma' | 'simt',
  splits: null as number | null,
};

const MMA_DIMS = new Set([16, 32, 48, 64, 80, 96, 112, 128]);
const INT_MAX = 2 ** 31 - 1;

/** What the masks compile to, and their runtime arguments. */
function masking(ins: CudaArg[], p: SdpaParams, from: number) {
  let i = from;
  const mask = p.mask !== 'none' ? ins[i++] : null;
  const lens = p.hasKeyLengths ? ins[i] : null;
  const spec: MaskSpec = {
    causal: p.causal, window: p.windowSize !== null, softcap: p.softcap !== null,
    mask: p.mask, maskDtype: mask ? mask.dtype : null, lens: lens ? lens.dtype : null,
  };
  const ms = mask ? mask.shape.map((d, ax) => (d === 1 ? 0 : mask.shape.slice(ax + 1).reduce((a, b) => a * b, 1))) : [0, 0, 0, 0];
  return { spec, mask, lens, ms };
}

/** Packs the arguments every attention kernel shares after its arrays. */
function pushCommon(ctx: CudaContext, m: ReturnType<typeof masking>, p: SdpaParams, L: number, S: number, Hk: number, rep: number): void {
  const a = ctx.rt.args;
  a.ptr(m.mask ? m.mask.buf.ptr : 0n).ptr(m.lens ? m.lens.buf.ptr : 0n).i32(L).i32(S).i32(Hk).i32(rep);
  for (const s of m.ms) a.i64(s);
  a.f32(p.scale).f32(p.scale * Math.LOG2E).f32(p.softcap ?? 1).i32(Math.min(p.windowSize ?? 0, INT_MAX));
}

const configured = new Set<bigint>();
/** The kernel, allowed `smem` bytes of dynamic shared memory (beyond 48 KiB needs an opt-in). */
function kernelWithSmem(ctx: CudaContext, key: string, render: () => KernelSource, smem: number): bigint {
  const fn = ctx.kernels.get(key, render);
  if (smem > 48 * 1024 && !configured.has(fn)) {
    check(ctx.rt.driver, ctx.rt.driver.cuFuncSetAttribute(fn, CU.FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem), 'cuFuncSetAttribute (attention shared memory)');
    configured.add(fn);
  }
  return fn;
}

const aligned = (...xs: CudaArg[]) => xs.every((x) => x.buf.ptr % 16n === 0n);
const halfOf = (d: DType): 'bf16' | 'f16' | null => (d.name === 'bfloat16' ? 'bf16' : d.name === 'float16' ? 'f16' : null);

/** Whether the tensor-core kernels take these inputs. */
function useMma(q: CudaArg, D: number, Dv: number, arrays: CudaArg[]): boolean {
  if (attentionTuning.path === 'simt') return false;
  return halfOf(q.dtype) !== null && D === Dv && MMA_DIMS.has(D) && aligned(...arrays);
}

/** Key splits and keys per split for `blocks` blocks over S keys in tiles of BN. */
function splitKeys(ctx: CudaContext, blocks: number, S: number, BN: number, perSm: number, minTiles: number): { splits: number; chunk: number } {
  let splits = attentionTuning.splits ?? 1;
  if (attentionTuning.splits === null) {
    const target = perSm * ctx.rt.info.sms;
    if (blocks < target) splits = Math.min(Math.ceil(target / blocks), Math.floor(S / (minTiles * BN)), 256);
  }
  splits = Math.max(1, Math.min(splits, 256));
  if (splits === 1) return { splits: 1, chunk: S };
  const chunk = Math.ceil(Math.ceil(S / splits) / BN) * BN;
  return { splits: Math.ceil(S / chunk), chunk };
}

const fwdHost = hostKernel('scaledDotProductAttention');
const bwdHost = hostKernel('scaledDotProductAttentionVjp');

function forward(ins: CudaArg[], outs: Spec[], p: SdpaParams, ctx: CudaContext): CudaBuffer[] {
  const [q, k, v] = ins;
  const [B, Hq, L, D] = q.shape, Hk = k.shape[1], S = k.shape[2], Dv = v.shape[3];
  const rep = Hq / Hk, rows = rep * L, groups = B * Hk;
  const m = masking(ins, p, 3);
  const mma = useMma(q, D, Dv, [q, k, v]);
  const tiles = mma ? null : simtFwdTiles(D, Dv, rows);
  if (!mma && !tiles) return fwdHost(ins, outs, p as never, ctx);
  const out = ctx.alloc(outs[0]), lse = ctx.alloc(outs[1]);
  if (groups * rows === 0) return [out, lse];
  /** The kernel for this call, split or not, with its block shape. */
  const plan = (split: boolean) => {
    if (mma) {
      const tn = attentionTuning, t = rows <= 16 ? tn.decode : rows <= 64 ? tn.small : D <= 64 ? tn.wide : tn.deep;
      const spec: MmaFwdSpec = { ...m.spec, half: halfOf(q.dtype)!, D, NW: t.NW, MT: t.MT, BN: t.BN, qreg: t.qreg, stages: t.stages, split };
      const smem = mmaFwdSmem(spec);
      return { BM: 16 * t.NW * t.MT, BN: t.BN, perSm: t.perSm, minTiles: t.minTiles, block: 32 * t.NW, smem, fn: () => kernelWithSmem(ctx, mmaFwdKey(spec), () => renderMmaFwd('attn_fwd_mma', spec), smem) };
    }
    const spec: SimtFwdSpec = { ...m.spec, dtype: q.dtype, D, Dv, ...tiles!, split };
    return { BM: tiles!.BM, BN: tiles!.BN, perSm: 6, minTiles: 4, block: 128, smem: 0, fn: () => ctx.kernels.get(simtFwdKey(spec), () => renderSimtFwd('attn_fwd_simt', spec)) };
  };
  const { BM, BN, perSm, minTiles } = plan(false);
  const rowTiles = Math.ceil(rows / BM);
  const { splits, chunk } = splitKeys(ctx, rowTiles * groups, S, BN, perSm, minTiles);
  const { block, smem, fn: get } = plan(splits > 1);
  const fn = get();
  const opart = splits > 1 ? ctx.temp(splits * groups * rows * Dv * 4) : null;
  const lsepart = splits > 1 ? ctx.temp(splits * groups * rows * 4) : null;
  ctx.rt.args.reset().ptr(out.ptr).ptr(lse.ptr).ptr(opart?.ptr ?? 0n).ptr(lsepart?.ptr ?? 0n).ptr(q.buf.ptr).ptr(k.buf.ptr).ptr(v.buf.ptr);
  pushCommon(ctx, m, p, L, S, Hk, rep);
  ctx.rt.args.i32(chunk);
  ctx.rt.launch(fn, [rowTiles, groups, splits], [block, 1, 1], smem);
  if (splits > 1) {
    const total = groups * rows;
    const cfn = ctx.kernels.get(`attn|combine|${q.dtype.name}`, () => renderCombine('attn_combine', q.dtype));
    ctx.rt.args.reset().ptr(out.ptr).ptr(lse.ptr).ptr(opart!.ptr).ptr(lsepart!.ptr).i64(total).i32(splits).i32(Dv);
    ctx.rt.launch(cfn, [Math.min(total, ctx.rt.info.sms * 16), 1, 1], [128, 1, 1]);
  }
  return [out, lse];
}

function backward(ins: CudaArg[], outs: Spec[], p: SdpaParams, ctx: CudaContext): CudaBuffer[] {
  const [q, k, v, o, lse, dout] = ins;
  const [B, Hq, L, D] = q.shape, Hk = k.shape[1], S = k.shape[2], Dv = v.shape[3];
  const rep = Hq / Hk, rows = rep * L, groups = B * Hk, total = groups * rows;
  const m = masking(ins, p, 6);
  const mma = useMma(q, D, Dv, [q, k, v, dout]);
  const tiles = mma ? null : simtBwdTiles(D, Dv);
  if (!mma && !tiles) return bwdHost(ins, outs, p as never, ctx);
  const dq = ctx.alloc(outs[0]), dk = ctx.alloc(outs[1]), dv = ctx.alloc(outs[2]);
  const dvec = ctx.temp(Math.max(1, total) * 4), dqacc = ctx.temp(Math.max(1, total * D) * 4);
  if (total > 0) {
    const fn = ctx.kernels.get(`attn|pre|${q.dtype.name}`, () => renderBwdPre('attn_bwd_pre', q.dtype));
    ctx.rt.args.reset().ptr(dvec.ptr).ptr(dqacc.ptr).ptr(o.buf.ptr).ptr(dout.buf.ptr).i64(total).i32(Dv).i32(D);
    ctx.rt.launch(fn, [ctx.rt.gridFor(total * 32, 256, 8), 1, 1], [256, 1, 1]);
  }
  if (groups * S > 0) {
    let fn: bigint, BN: number, block: number, smem = 0;
    if (mma) {
      const spec: MmaBwdSpec = { ...m.spec, half: halfOf(q.dtype)!, D, ...(D <= 64 ? attentionTuning.bwdWide : attentionTuning.bwdDeep), vecRed: ctx.rt.info.cc >= 90 };
      smem = mmaBwdSmem(spec); BN = 16 * spec.NW; block = 32 * spec.NW;
      fn = kernelWithSmem(ctx, mmaBwdKey(spec), () => renderMmaBwd('attn_bwd_mma', spec), smem);
    } else {
      const spec: SimtBwdSpec = { ...m.spec, dtype: q.dtype, D, Dv, ...tiles! };
      BN = spec.BN; block = 128;
      fn = ctx.kernels.get(simtBwdKey(spec), () => renderSimtBwd('attn_bwd_simt', spec));
    }
    ctx.rt.args.reset().ptr(dqacc.ptr).ptr(dk.ptr).ptr(dv.ptr).ptr(q.buf.ptr).ptr(k.buf.ptr).ptr(v.buf.ptr).ptr(dout.buf.ptr).ptr(lse.buf.ptr).ptr(dvec.ptr);
    pushCommon(ctx, m, p, L, S, Hk, rep);
    ctx.rt.launch(fn, [Math.ceil(S / BN), groups, 1], [block, 1, 1], smem);
  }
  if (total * D > 0) {
    const fn = ctx.kernels.get(`attn|dq|${q.dtype.name}`, () => renderDqConvert('attn_dq', q.dtype));
    ctx.rt.args.reset().ptr(dq.ptr).ptr(dqacc.ptr).i64(total * D);
    ctx.rt.launch(fn, [ctx.rt.gridFor(total * D, 256, 8), 1, 1], [256, 1, 1]);
  }
  return [dq, dk, dv];
}

registerCudaKernels({
  scaledDotProductAttention: (ins, outs, params, ctx) => forward(ins, outs, params as SdpaParams, ctx),
  scaledDotProductAttentionVjp: (ins, outs, params, ctx) => backward(ins, outs, params as SdpaParams, ctx),
});
