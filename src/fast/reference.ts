// The reference of each fast op, built from basic ops: what a backend without the fused
// kernel runs, and the oracle the tests compare the kernels against.
export { rmsNormReference as rmsNorm, layerNormReference as layerNorm } from './norm.js';
export { ropeReference as rope } from './rope.js';
export { scaledDotProductAttentionReference as scaledDotProductAttention } from './attention.js';
export { crossEntropyReference as crossEntropy } from './cross-entropy.js';
export { swigluReference as swiglu, gegluReference as geglu } from './glu.js';
