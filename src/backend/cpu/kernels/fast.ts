// CPU kernels for src/fast's fused primitives, registered by primitive name (the backend sits
// below src/fast and does not import it): one module per op family under fast/. Kernels
// compute in float64 (attention's block products in float32 through the BLAS GEMM) and
// round once to the output dtype.
import { registerCpuKernels, type CpuKernel } from '../backend.js';
import { rmsNorm, rmsNormVjp, layerNorm, layerNormVjp } from './fast/norm.js';
import { rope } from './fast/rope.js';
import { scaledDotProductAttention, scaledDotProductAttentionVjp } from './fast/attention.js';
import { crossEntropy, crossEntropyVjp } from './fast/cross-entropy.js';
import { glu, gluVjp } from './fast/glu.js';

// fast.cudaKernel refuses CPU streams when it is called; this entry only keeps the CPU's
// list of unimplemented primitives about work it could do (CUDA source is not such work).
const cudaKernel: CpuKernel = (_ins, _specs, p: { name: string }) => {
  throw new Error(`[cudaKernel] '${p.name}' is CUDA source and cannot run on the CPU`);
};

registerCpuKernels({
  rmsNorm, rmsNormVjp, layerNorm, layerNormVjp, rope,
  scaledDotProductAttention, scaledDotProductAttentionVjp, crossEntropy, crossEntropyVjp,
  swiglu: glu, swigluVjp: gluVjp, geglu: glu, gegluVjp: gluVjp, cudaKernel,
});
