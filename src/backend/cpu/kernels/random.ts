// CPU kernels for random: Threefry bits (shared with every backend through threefry.ts) and keys.
import { CpuKernel, registerCpuKernels, allocOut } from '../backend.js';
import { fillRandomBits } from '../../../core/ops/threefry.js';
import type { RandomBitsParams } from '../../../core/ops/random.js';

const randomBits: CpuKernel = ([key], [out], _params: RandomBitsParams) => {
  const o = allocOut(out);
  const keys = key.data as Uint32Array;
  const numKeys = keys.length / 2;
  if (o.length === 0 || numKeys === 0) return [o];
  fillRandomBits(keys, new Uint8Array(o.buffer, o.byteOffset, o.byteLength), o.byteLength / numKeys);
  return [o];
};

const randomKey: CpuKernel = (_ins, _outs, { key }: { key: [number, number] }) => [Uint32Array.from(key)];

registerCpuKernels({ randomBits, randomKey });
