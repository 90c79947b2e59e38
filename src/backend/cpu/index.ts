// Registers the CPU backend and all of its kernels, one module per family.
import { registerBackend } from '../../core/backend.js';
import { cpuBackend } from './backend.js';
import './kernels/elementwise.js';
import './kernels/reduce.js';
import './kernels/scan.js';
import './kernels/sort.js';
import './kernels/shape.js';
import './kernels/indexing.js';
import './kernels/creation.js';
import './kernels/view.js';
import './kernels/linalg.js';
import './kernels/conv.js';
import './kernels/quantize.js';
import './kernels/random.js';
import './kernels/fused.js';
import './kernels/fast.js';
import './kernels/transforms.js';

registerBackend('cpu', cpuBackend);
export { cpuBackend };
