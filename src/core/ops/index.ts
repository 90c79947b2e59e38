// Every public op, one module per family.
export { astype } from './astype.js';
export * from './view.js';
export * from './unary.js';
export * from './binary.js';
export * from './reduce.js';
export * from './scan.js';
export * from './sort.js';
export * from './shape.js';
export * from './indexing.js';
export * from './creation.js';
export * from './linalg.js';
export * from './conv.js';
export * from './quantize.js';
export * as random from './random.js';
export { resultType, broadcastShapes } from './util.js';
