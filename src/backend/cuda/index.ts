// Registers the CUDA backend when an NVIDIA GPU is usable, and makes it the default device
// (as MLX does). Where there is none, nothing is registered and using mx.gpu says why.
// Loading this module never throws: the probe turns every failure into a reason.
import { registerBackend } from '../../core/backend.js';
import { setDeviceAvailability, setDefaultDevice, gpu } from '../../core/device.js';
import { cudaBackend } from './backend.js';
import { probe } from './runtime.js';
import './kernels/elementwise.js';
import './kernels/copy.js';
import './kernels/reduce.js';
import './kernels/matmul.js';
import './kernels/creation.js';
import './kernels/fused.js';
import './kernels/scan.js';
import './kernels/sort.js';
import './kernels/indexing.js';
import './kernels/random.js';
import './kernels/conv.js';
import './kernels/view.js';
import './kernels/quantize.js';
import './kernels/host.js';
import './graph.js';
import './kernels/fast/index.js';

/** Why the GPU cannot be used, or null when it can. */
export function gpuUnavailableReason(): string | null {
  let p;
  try { p = probe(); } catch (e) { return `probing the GPU failed: ${(e as Error).message}`; }
  return p.ok ? null : p.reason;
}

const reason = gpuUnavailableReason();
setDeviceAvailability((d) => {
  if (d.type === 'cpu') return null;
  if (reason) return reason;
  return d.index === 0 ? null : `only gpu 0 is supported for now, got gpu ${d.index}`;
});
if (!reason) {
  registerBackend('gpu', cudaBackend);
  setDefaultDevice(gpu);
}

export { cudaBackend };
export { probe } from './runtime.js';
