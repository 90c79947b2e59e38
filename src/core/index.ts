// The public core API: `import * as mx from 'lathe'`.
export * from './dtype.js';
export { Array, array, type ArrayLike, type NestedArray } from './array.js';
export { Device, Stream, cpu, gpu, defaultDevice, setDefaultDevice, defaultStream, newStream, type OpOptions, type StreamOrDevice } from './device.js';
export { evaluate as eval, asyncEval } from './eval.js';
export * from './memory.js';
export { primitives } from './primitive.js';
export type { Tree } from './tree.js';
export * from './ops/index.js';
export * from './transforms/index.js';
import './methods.js';
