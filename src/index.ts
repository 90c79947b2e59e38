// lathe: MLX-style arrays for TypeScript. `import * as mx from 'lathe'`.
import './backend/cpu/index.js';
export * from './core/index.js';
