export { astype } from './astype.js';
export * from './unary.js';
export {
  add, subtract, multiply, divide, floorDivide, remainder, power, maximum, minimum, equal, notEqual, less, lessEqual,
  greater, greaterEqual, logicalAnd, logicalOr, bitwiseAnd, bitwiseOr, bitwiseXor, leftShift, rightShift, arctan2,
  logaddexp, where, clip, isclose, allclose, arrayEqual,
} from './binary.js';
export { sum, all, any } from './reduce.js';
export { reshape, broadcastTo, transpose, moveaxis, swapaxes, expandDims, squeeze } from './shape.js';
export { full, zeros, ones, fullLike, zerosLike, onesLike } from './creation.js';
export { resultType, broadcastShapes } from './util.js';
