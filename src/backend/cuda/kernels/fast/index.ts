// CUDA kernels for src/fast's fused primitives, registered by primitive name (the backend
// sits below src/fast and never imports it; src/fast's `hasKernel` finds them by name).
// One module per family; each registers its own kernels when imported. Add a line per family.
import './norm.js';
import './rope.js';
import './glu.js';
import './cross-entropy.js';
import './cuda-kernel.js';
import './attention.js';
