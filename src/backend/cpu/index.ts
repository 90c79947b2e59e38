// Registers the CPU backend and all of its kernels.
import { registerBackend } from '../../core/backend.js';
import { cpuBackend } from './backend.js';
import './kernels/elementwise.js';
import './kernels/reduce.js';
import './kernels/shape.js';

registerBackend('cpu', cpuBackend);
export { cpuBackend };
