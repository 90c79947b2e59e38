// lathe: MLX-style arrays for TypeScript. `import * as mx from 'lathe'`.
import './backends.js';
export * from './core/index.js';
