// How each dtype lives in CUDA C: its storage type, the type values are computed in, and
// the expressions that load and store it. Halves are stored as raw 16-bit patterns and
// computed in float (converted with single PTX instructions, so no cuda_fp16.h is needed
// and kernels compile fast); bool is a byte 0/1; small integers compute in 32 bits and
// wrap on store, as C does. float64 has no place here: the GPU refuses it.
import type { DType, DTypeName } from '../../../core/dtype.js';
import { iinfo } from '../../../core/dtype.js';

type GpuDType = Exclude<DTypeName, 'float64'>;

const storage: Record<GpuDType, string> = {
  bool: 'u8', uint8: 'u8', uint16: 'u16', uint32: 'u32', uint64: 'u64',
  int8: 'i8', int16: 'i16', int32: 'i32', int64: 'i64',
  float16: 'u16', bfloat16: 'u16', float32: 'float',
};

const compute: Record<GpuDType, string> = {
  bool: 'i32', uint8: 'u32', uint16: 'u32', uint32: 'u32', uint64: 'u64',
  int8: 'i32', int16: 'i32', int32: 'i32', int64: 'i64',
  float16: 'float', bfloat16: 'float', float32: 'float',
};

function gpu(d: DType): GpuDType {
  if (d.name === 'float64') throw new Error('[cuda] float64 is not supported on the GPU');
  return d.name;
}

/** The C type that stores `d`. */
export const stype = (d: DType): string => storage[gpu(d)];
/** The C type values of `d` are computed in. */
export const ctype = (d: DType): string => compute[gpu(d)];
/** The unsigned C type of the same width as `d`'s storage: moves its bits unchanged. */
export const rawType = (size: number): string => ({ 1: 'u8', 2: 'u16', 4: 'u32', 8: 'u64' })[size]!;

/** The value stored at `ref`, as `ctype(d)`. */
export function load(ref: string, d: DType): string {
  if (d.name === 'float16') return `ld_f16(${ref})`;
  if (d.name === 'bfloat16') return `ld_bf16(${ref})`;
  return `(${ctype(d)})(${ref})`;
}

/** `v` (computed in any C type) as `stype(d)`, rounding halves once and making bools 0/1. */
export function store(v: string, d: DType): string {
  if (d.name === 'float16') return `st_f16(${v})`;
  if (d.name === 'bfloat16') return `st_bf16(${v})`;
  if (d.name === 'bool') return `(u8)((${v}) ? 1 : 0)`;
  return `(${stype(d)})(${v})`;
}

/** A C literal of `d`'s compute type. */
export function literal(v: number | bigint, d: DType): string {
  if (d.isFloat) {
    if (v === Infinity) return 'LATHE_INF';
    if (v === -Infinity) return '(-LATHE_INF)';
    return `${Number(v)}f`;
  }
  if (d.name === 'int64') return v === -(2n ** 63n) ? '(-9223372036854775807LL - 1)' : `${v}LL`;
  if (d.name === 'uint64') return `${v}ULL`;
  if (ctype(d) === 'u32') return `${v}u`;
  return v === -2147483648 ? '(-2147483647 - 1)' : `${v}`;
}

/** Lowest and highest values of `d` as literals (infinities for floats). */
export const lowest = (d: DType): string => (d.isFloat ? literal(-Infinity, d) : d.kind === 'bool' ? '0' : literal(iinfo(d).min, d));
export const highest = (d: DType): string => (d.isFloat ? literal(Infinity, d) : d.kind === 'bool' ? '1' : literal(iinfo(d).max, d));

/**
 * Declarations every kernel starts with. Guarded so that several kernel sources can be
 * concatenated into one file (the nvcc test does that).
 */
export const PRELUDE = String.raw`#ifndef LATHE_PRELUDE
#define LATHE_PRELUDE
typedef unsigned char u8; typedef signed char i8; typedef unsigned short u16; typedef short i16;
typedef unsigned int u32; typedef int i32; typedef unsigned long long u64; typedef long long i64;
#define LATHE_INF __int_as_float(0x7f800000)
#define LATHE_ALL 0xffffffffu
template <int N, class T> struct Vec { T v[N > 0 ? N : 1]; };
// N elements moved as one aligned access (16 bytes at most: a single vector load or store).
template <class T, int N> struct alignas(sizeof(T) * N) Pack { T v[N]; };

__device__ __forceinline__ float ld_f16(u16 h) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h)); return f; }
__device__ __forceinline__ u16 st_f16(float f) { u16 h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h; }
__device__ __forceinline__ float ld_bf16(u16 h) { return __uint_as_float(((u32)h) << 16); }
__device__ __forceinline__ u16 st_bf16(float f) {
  u32 u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u16)((u >> 16) | 0x40u); // NaN stays a quiet NaN
  return (u16)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);                 // round to nearest even
}

// Integer arithmetic that wraps (signed overflow is undefined in C++, so go through unsigned).
__device__ __forceinline__ i32 wadd(i32 a, i32 b) { return (i32)((u32)a + (u32)b); }
__device__ __forceinline__ i64 wadd(i64 a, i64 b) { return (i64)((u64)a + (u64)b); }
__device__ __forceinline__ u32 wadd(u32 a, u32 b) { return a + b; }
__device__ __forceinline__ u64 wadd(u64 a, u64 b) { return a + b; }
__device__ __forceinline__ float wadd(float a, float b) { return a + b; }
__device__ __forceinline__ i32 wsub(i32 a, i32 b) { return (i32)((u32)a - (u32)b); }
__device__ __forceinline__ i64 wsub(i64 a, i64 b) { return (i64)((u64)a - (u64)b); }
__device__ __forceinline__ u32 wsub(u32 a, u32 b) { return a - b; }
__device__ __forceinline__ u64 wsub(u64 a, u64 b) { return a - b; }
__device__ __forceinline__ float wsub(float a, float b) { return a - b; }
__device__ __forceinline__ i32 wmul(i32 a, i32 b) { return (i32)((u32)a * (u32)b); }
__device__ __forceinline__ i64 wmul(i64 a, i64 b) { return (i64)((u64)a * (u64)b); }
__device__ __forceinline__ u32 wmul(u32 a, u32 b) { return a * b; }
__device__ __forceinline__ u64 wmul(u64 a, u64 b) { return a * b; }
__device__ __forceinline__ float wmul(float a, float b) { return a * b; }
__device__ __forceinline__ i32 wneg(i32 a) { return (i32)(0u - (u32)a); }
__device__ __forceinline__ i64 wneg(i64 a) { return (i64)(0ull - (u64)a); }
__device__ __forceinline__ u32 wneg(u32 a) { return 0u - a; }
__device__ __forceinline__ u64 wneg(u64 a) { return 0ull - a; }
__device__ __forceinline__ float wneg(float a) { return -a; }

// NumPy's integer conventions: division by zero gives 0; floor division and remainder
// round toward negative infinity; the remainder takes the divisor's sign.
template <class T> __device__ __forceinline__ T sfloordiv(T a, T b) {
  if (b == 0) return 0;
  if (b == (T)-1) return wneg(a);
  T q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
template <class T> __device__ __forceinline__ T srem(T a, T b) {
  if (b == 0 || b == (T)-1) return 0;
  T r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
template <class T> __device__ __forceinline__ T ufloordiv(T a, T b) { return b == 0 ? 0 : a / b; }
template <class T> __device__ __forceinline__ T urem(T a, T b) { return b == 0 ? 0 : a % b; }
// Integer power by squaring, wrapping; negative exponents give 0 except for bases 1 and -1.
template <class T> __device__ __forceinline__ T spow(T a, T b) {
  if (b < 0) return a == 1 ? 1 : a == (T)-1 ? ((b & 1) ? (T)-1 : 1) : 0;
  T r = 1;
  while (b > 0) { if (b & 1) r = wmul(r, a); a = wmul(a, a); b >>= 1; }
  return r;
}
template <class T> __device__ __forceinline__ T upow(T a, T b) {
  T r = 1;
  while (b > 0) { if (b & 1) r = r * a; a = a * a; b >>= 1; }
  return r;
}

// Float floor division and remainder as NumPy's npy_divmod.
__device__ __forceinline__ float l_floordiv(float a, float b) {
  if (b == 0.0f) return a / b;
  float mod = fmodf(a, b);
  float div = (a - mod) / b;
  if (mod != 0.0f && ((b < 0.0f) != (mod < 0.0f))) div -= 1.0f;
  if (div == 0.0f) return copysignf(0.0f, a / b);
  float f = floorf(div);
  return div - f > 0.5f ? f + 1.0f : f;
}
__device__ __forceinline__ float l_rem(float a, float b) {
  float mod = fmodf(a, b);
  if (b == 0.0f) return mod;
  if (mod != 0.0f) return ((b < 0.0f) != (mod < 0.0f)) ? mod + b : mod;
  return b < 0.0f ? -0.0f : 0.0f;
}
__device__ __forceinline__ float l_logaddexp(float a, float b) {
  if (a == b) return a + 0.693147180559945309f;
  float d = a - b;
  if (d > 0.0f) return a + log1pf(expf(-d));
  if (d <= 0.0f) return b + log1pf(expf(d));
  return d;
}
__device__ __forceinline__ float l_rounddec(float x, int d) {
  if (d >= 0) { float f = powf(10.0f, (float)d); return rintf(x * f) / f; }
  float f = powf(10.0f, (float)-d);
  return rintf(x / f) * f;
}
__device__ __forceinline__ float l_h16(float x) { return ld_f16(st_f16(x)); }
__device__ __forceinline__ float l_rounddec16(float x, int d) {
  if (d >= 0) { float f = l_h16(powf(10.0f, (float)d)); return l_h16(rintf(l_h16(x * f)) / f); }
  float f = l_h16(powf(10.0f, (float)-d));
  return l_h16(rintf(l_h16(x / f)) * f);
}
// float -> 64-bit integers, truncating (NaN gives 0; out of range is unspecified, as in C).
__device__ __forceinline__ u64 f2u64(float x) { return x >= 9223372036854775808.0f ? (u64)x : (u64)(i64)x; }
#endif
`;
