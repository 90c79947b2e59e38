// lathe/nn: modules, layers and activations (mlx.nn in camelCase).
import '../backends.js'; // every entry point can evaluate on its own
export { Module } from './module.js';
export type { ParamTree, ParamNode, ModuleTree, ModuleNode, ModuleFilter, FreezeOptions } from './module.js';
export { valueAndGrad, checkpoint } from './value-and-grad.js';
export * from './layers/activations.js';
export { Identity, Linear, Bilinear } from './layers/linear.js';
export { Embedding } from './layers/embedding.js';
export { Sequential, type SequentialLayer } from './layers/containers.js';
export { LayerNorm, RMSNorm, GroupNorm, InstanceNorm, BatchNorm } from './layers/normalization.js';
export { Dropout, Dropout2d, Dropout3d } from './layers/dropout.js';
export { RoPE, SinusoidalPositionalEncoding, ALiBi, type RopeOptions } from './layers/positional.js';
export { MultiHeadAttention, type AttentionMask } from './layers/attention.js';
export { TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer, TransformerDecoder, Transformer, type Activation } from './layers/transformer.js';
export * from './layers/convolution.js';
export * from './layers/pooling.js';
export * from './layers/recurrent.js';
export * from './layers/upsample.js';
export * from './layers/quantized.js';
export * as losses from './losses.js';
export * as init from './init.js';
