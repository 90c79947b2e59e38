// CUDA kernels for random: Threefry-2x32 bits laid out exactly as core/ops/threefry.ts
// (keyWords, fillRandomBits) lays them out, so a key gives the CPU's bits; and keys.
// Each thread hashes one counter pair of one key: pair i < half fills words i and
// half + odd + i; an odd count takes its middle word from counter (half, 0).
import type { RandomBitsParams } from '../../../core/ops/random.js';
import type { KernelSource } from '../compiler.js';
import { registerCudaKernels, CudaKernel } from '../backend.js';
import { PRELUDE } from './ctypes.js';
import { sizeOf } from './layout.js';

export const THREEFRY = String.raw`#ifndef LATHE_THREEFRY
#define LATHE_THREEFRY
__device__ __forceinline__ u32 rotl32(u32 x, int r) { return (x << r) | (x >> (32 - r)); }
__device__ __forceinline__ void threefry2x32(u32 k0, u32 k1, u32 c0, u32 c1, u32& o0, u32& o1) {
  const u32 ks[3] = { k0, k1, k0 ^ k1 ^ 0x1bd11bdau };
  const int rot[2][4] = { { 13, 15, 26, 6 }, { 17, 29, 16, 24 } };
  u32 x0 = c0 + ks[0], x1 = c1 + ks[1];
#pragma unroll
  for (int i = 0; i < 5; i++) {
#pragma unroll
    for (int j = 0; j < 4; j++) { x0 += x1; x1 = rotl32(x1, rot[i & 1][j]); x1 ^= x0; }
    x0 += ks[(i + 1) % 3];
    x1 += ks[(i + 2) % 3] + (u32)(i + 1);
  }
  o0 = x0; o1 = x1;
}
#endif
`;

/**
 * `aligned`: each key's share is whole 32-bit words (bytesPerKey % 4 == 0), stored as words;
 * otherwise the words' little-endian bytes are stored one at a time, cut at bytesPerKey.
 */
export function renderRandomBits(name: string, aligned: boolean): KernelSource {
  const put = aligned
    ? `__device__ __forceinline__ void ${name}_put(u8* out, i64 key, i64 bytesPerKey, i64 w, u32 v) { ((u32*)out)[key * (bytesPerKey >> 2) + w] = v; }`
    : `__device__ __forceinline__ void ${name}_put(u8* out, i64 key, i64 bytesPerKey, i64 w, u32 v) {
  for (int b = 0; b < 4; b++) if (w * 4 + b < bytesPerKey) out[key * bytesPerKey + w * 4 + b] = (u8)(v >> (8 * b));
}`;
  const source = `${PRELUDE}${THREEFRY}
${put}
extern "C" __global__ void __launch_bounds__(256) ${name}(u8* __restrict__ out, const u32* __restrict__ keys, i64 numKeys, i64 bytesPerKey) {
  const i64 words = (bytesPerKey + 3) >> 2, half = words >> 1, odd = words & 1, per = half + odd;
  for (i64 t = (i64)blockIdx.x * blockDim.x + threadIdx.x; t < numKeys * per; t += (i64)gridDim.x * blockDim.x) {
    const i64 key = t / per, i = t % per;
    const u32 k0 = keys[2 * key], k1 = keys[2 * key + 1];
    u32 a, b;
    if (i < half) {
      threefry2x32(k0, k1, (u32)i, (u32)(half + odd + i), a, b);
      ${name}_put(out, key, bytesPerKey, i, a);
      ${name}_put(out, key, bytesPerKey, half + odd + i, b);
    } else {
      threefry2x32(k0, k1, (u32)half, 0u, a, b);
      ${name}_put(out, key, bytesPerKey, half, a);
    }
  }
}
`;
  return { name, source };
}

const randomBits: CudaKernel = ([key], [out], _p: RandomBitsParams, ctx) => {
  const o = ctx.alloc(out);
  const numKeys = sizeOf(key.shape) / 2;
  if (o.nbytes === 0 || numKeys === 0) return [o];
  const bytesPerKey = o.nbytes / numKeys;
  const aligned = bytesPerKey % 4 === 0;
  const fn = ctx.kernels.get(`randomBits|${aligned}`, () => renderRandomBits(`random_bits${aligned ? '_words' : '_bytes'}`, aligned));
  const per = Math.ceil(Math.ceil(bytesPerKey / 4) / 2);
  ctx.rt.args.reset().ptr(o.ptr).ptr(key.buf.ptr).i64(numKeys).i64(bytesPerKey);
  ctx.rt.launch(fn, [ctx.rt.gridFor(numKeys * per), 1, 1], [256, 1, 1]);
  return [o];
};

const randomKey: CudaKernel = (_ins, [out], { key }: { key: [number, number] }, ctx) => {
  const o = ctx.alloc(out);
  ctx.upload(o.ptr, Uint32Array.from(key));
  return [o];
};

registerCudaKernels({ randomBits, randomKey });
