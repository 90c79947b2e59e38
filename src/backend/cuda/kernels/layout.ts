// Layout arithmetic shared by the CUDA kernels: row-major strides, broadcasting through
// zero strides, and merging axes that every operand walks contiguously (fewer index
// divisions per element in the generated loops).

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function rowStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let d = shape.length - 1, acc = 1; d >= 0; d--) { s[d] = acc; acc *= shape[d]; }
  return s;
}

/** Strides of a dense `inShape` read at each position of `outShape` (0 on broadcast axes). */
export function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): number[] {
  const nd = outShape.length;
  const strides = new Array<number>(nd).fill(0);
  for (let d = inShape.length - 1, s = 1; d >= 0; d--) {
    const od = d + nd - inShape.length;
    strides[od] = inShape[d] === 1 && outShape[od] !== 1 ? 0 : s;
    s *= inShape[d];
  }
  return strides;
}

/** Drops size-1 axes and merges neighbours that every stride list walks as one axis. */
export function collapse(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * shape[d])) {
      outShape[last] *= shape[d];
      strides.forEach((s, k) => { outStrides[k][last] = s[d]; });
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  if (!outShape.length) return { shape: [1], strides: strides.map(() => [0]) };
  return { shape: outShape, strides: outStrides };
}

/** Whether `strides` walk `shape` in row-major order with no gaps. */
export function isDense(shape: readonly number[], strides: readonly number[]): boolean {
  for (let d = shape.length - 1, s = 1; d >= 0; d--) {
    if (shape[d] !== 1 && strides[d] !== s) return false;
    s *= shape[d];
  }
  return true;
}

/** Past this many elements (or offsets) kernels index with 64-bit integers. */
export const WIDE = 2 ** 30;
