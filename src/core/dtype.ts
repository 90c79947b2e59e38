// Data types, their storage, and MLX's type promotion.

export type DTypeName =
  | 'bool' | 'uint8' | 'uint16' | 'uint32' | 'uint64'
  | 'int8' | 'int16' | 'int32' | 'int64'
  | 'float16' | 'bfloat16' | 'float32' | 'float64';

export type DTypeKind = 'bool' | 'uint' | 'int' | 'float';

export class DType {
  constructor(
    readonly name: DTypeName,
    readonly size: number,
    readonly kind: DTypeKind,
  ) {}
  get isFloat(): boolean { return this.kind === 'float'; }
  get isInteger(): boolean { return this.kind === 'int' || this.kind === 'uint'; }
  /** 64-bit integers are stored in BigInt64Array / BigUint64Array. */
  get isBig(): boolean { return this.name === 'int64' || this.name === 'uint64'; }
  toString(): string { return `lathe.${this.name}`; }
}

export const bool = new DType('bool', 1, 'bool');
export const uint8 = new DType('uint8', 1, 'uint');
export const uint16 = new DType('uint16', 2, 'uint');
export const uint32 = new DType('uint32', 4, 'uint');
export const uint64 = new DType('uint64', 8, 'uint');
export const int8 = new DType('int8', 1, 'int');
export const int16 = new DType('int16', 2, 'int');
export const int32 = new DType('int32', 4, 'int');
export const int64 = new DType('int64', 8, 'int');
export const float16 = new DType('float16', 2, 'float');
export const bfloat16 = new DType('bfloat16', 2, 'float');
export const float32 = new DType('float32', 4, 'float');
export const float64 = new DType('float64', 8, 'float');

export const dtypes: Record<DTypeName, DType> = {
  bool, uint8, uint16, uint32, uint64, int8, int16, int32, int64, float16, bfloat16, float32, float64,
};
export const allDtypes: DType[] = Object.values(dtypes);

/** Anything that names a dtype: a DType or its name. */
export type DTypeLike = DType | DTypeName;

export function toDtype(d: DTypeLike, where = 'dtype'): DType {
  if (d instanceof DType) return d;
  const t = dtypes[d as DTypeName];
  if (!t) throw new TypeError(`[${where}] unknown dtype '${String(d)}'; expected one of ${Object.keys(dtypes).join(', ')}`);
  return t;
}

export type TypedArray =
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array
  | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Float32Array | Float64Array;

type TypedArrayCtor = { new (n: number): TypedArray; new (buf: ArrayBufferLike, off?: number, len?: number): TypedArray; BYTES_PER_ELEMENT: number };

/** The TypedArray that stores each dtype. float16 and bfloat16 keep their raw bits in a Uint16Array. */
export const storageCtor: Record<DTypeName, TypedArrayCtor> = {
  bool: Uint8Array, uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array,
  uint64: BigUint64Array as unknown as TypedArrayCtor, int8: Int8Array, int16: Int16Array, int32: Int32Array,
  int64: BigInt64Array as unknown as TypedArrayCtor, float16: Uint16Array, bfloat16: Uint16Array,
  float32: Float32Array, float64: Float64Array,
};

export function allocStorage(dtype: DType, n: number): TypedArray {
  return new storageCtor[dtype.name](n);
}

// MLX's promotion table (mlx/dtype.cpp), rows and columns in `order`.
const order: DTypeName[] = ['bool', 'uint8', 'uint16', 'uint32', 'uint64', 'int8', 'int16', 'int32', 'int64', 'float16', 'float32', 'float64', 'bfloat16'];
const B = 'bool', U8 = 'uint8', U16 = 'uint16', U32 = 'uint32', U64 = 'uint64', I8 = 'int8', I16 = 'int16', I32 = 'int32', I64 = 'int64',
  F16 = 'float16', F32 = 'float32', F64 = 'float64', BF = 'bfloat16';
const table: DTypeName[][] = [
  /* bool     */ [B, U8, U16, U32, U64, I8, I16, I32, I64, F16, F32, F64, BF],
  /* uint8    */ [U8, U8, U16, U32, U64, I16, I16, I32, I64, F16, F32, F64, BF],
  /* uint16   */ [U16, U16, U16, U32, U64, I32, I32, I32, I64, F16, F32, F64, BF],
  /* uint32   */ [U32, U32, U32, U32, U64, I64, I64, I64, I64, F16, F32, F64, BF],
  /* uint64   */ [U64, U64, U64, U64, U64, F32, F32, F32, F32, F16, F32, F64, BF],
  /* int8     */ [I8, I16, I32, I64, F32, I8, I16, I32, I64, F16, F32, F64, BF],
  /* int16    */ [I16, I16, I32, I64, F32, I16, I16, I32, I64, F16, F32, F64, BF],
  /* int32    */ [I32, I32, I32, I64, F32, I32, I32, I32, I64, F16, F32, F64, BF],
  /* int64    */ [I64, I64, I64, I64, F32, I64, I64, I64, I64, F16, F32, F64, BF],
  /* float16  */ [F16, F16, F16, F16, F16, F16, F16, F16, F16, F16, F32, F64, F32],
  /* float32  */ [F32, F32, F32, F32, F32, F32, F32, F32, F32, F32, F32, F64, F32],
  /* float64  */ [F64, F64, F64, F64, F64, F64, F64, F64, F64, F64, F64, F64, F64],
  /* bfloat16 */ [BF, BF, BF, BF, BF, BF, BF, BF, BF, F32, F32, F64, BF],
];

export function promoteTypes(a: DType, b: DType): DType {
  return dtypes[table[order.indexOf(a.name)][order.indexOf(b.name)]];
}

/** The dtype an op computes in when it needs floats (mean, sqrt, divide): float inputs keep theirs, others become float32. */
export function floatOf(d: DType): DType {
  return d.isFloat ? d : float32;
}

/** Largest and smallest finite values, as JS numbers (or BigInt for 64-bit integers). */
export function finfoMax(d: DType): number {
  switch (d.name) {
    case 'float16': return 65504;
    case 'bfloat16': return 3.3895313892515355e38;
    case 'float32': return 3.4028234663852886e38;
    default: return Number.MAX_VALUE;
  }
}

export function iinfo(d: DType): { min: number | bigint; max: number | bigint } {
  switch (d.name) {
    case 'bool': return { min: 0, max: 1 };
    case 'uint8': return { min: 0, max: 255 };
    case 'uint16': return { min: 0, max: 65535 };
    case 'uint32': return { min: 0, max: 4294967295 };
    case 'uint64': return { min: 0n, max: 18446744073709551615n };
    case 'int8': return { min: -128, max: 127 };
    case 'int16': return { min: -32768, max: 32767 };
    case 'int32': return { min: -2147483648, max: 2147483647 };
    case 'int64': return { min: -9223372036854775808n, max: 9223372036854775807n };
    default: throw new TypeError(`[iinfo] ${d.name} is not an integer dtype`);
  }
}
