// Loads the backends once, whichever entry point (lathe, lathe/nn, lathe/io, ...) comes first.
import './backend/cpu/index.js';
import './backend/cuda/index.js'; // registers the GPU when one is usable; never throws
import { setDefaultDevice, cpu, gpu } from './core/device.js';

// LATHE_DEFAULT_DEVICE=cpu|gpu overrides the default device (the GPU when there is one);
// asking for the GPU where there is none fails here, saying why.
const wanted = globalThis.process?.env?.LATHE_DEFAULT_DEVICE;
if (wanted === 'gpu' || wanted === 'cpu') setDefaultDevice(wanted === 'gpu' ? gpu : cpu);
else if (wanted) throw new Error(`[device] LATHE_DEFAULT_DEVICE must be 'cpu' or 'gpu', got '${wanted}'`);
