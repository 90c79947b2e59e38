// Function transforms: grad, vjp, jvp, vmap, customFunction, checkpoint (compile lives beside them).
export { vjp } from './vjp.js';
export { jvp } from './jvp.js';
export { grad, valueAndGrad } from './grad.js';
export { vmap, type AxisSpec } from './vmap.js';
export { customFunction, type CustomFunction } from './custom.js';
export { checkpoint } from './checkpoint.js';
export { compile, disableCompile, enableCompile, type CompileOptions } from './compile.js';
