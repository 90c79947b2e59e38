// CPU kernels for the transforms' pass-through primitives: their outputs are some of their
// inputs, so they hand back the inputs' storage (the backend then shares the buffers).
import { CpuKernel, registerCpuKernels } from '../backend.js';

const customFunction: CpuKernel = (ins, outs, { nIn }: { nIn: number }) => outs.map((_, i) => ins[nIn + i].data);
const depends: CpuKernel = (ins, outs) => outs.map((_, i) => ins[i].data);

registerCpuKernels({ customFunction, depends });
