// lathe/fast: fused ops with their references (mlx.core.fast in camelCase).
import '../backends.js'; // every entry point can evaluate on its own
export { rmsNorm, layerNorm } from './norm.js';
export { rope, ropeFrequencies, ropeAttentionFactor, type RopeOptions, type RopeScaling } from './rope.js';
export { scaledDotProductAttention, type AttentionOptions } from './attention.js';
export { crossEntropy, type CrossEntropyOptions } from './cross-entropy.js';
export { swiglu, geglu, type GeluApproximation } from './glu.js';
export { cudaKernel, type CudaKernel, type CudaKernelDefinition, type CudaKernelCall, type CudaKernelParams, type TemplateValue } from './cuda-kernel.js';
export * as reference from './reference.js';
