// A tiny WebAssembly assembler: just enough to emit the SIMD GEMM micro-kernel in gemm.ts
// as bytes at run time, so lathe ships no binary blobs and needs no external tools.

export type Bytes = number[];

export function uleb(n: number): Bytes {
  const out: Bytes = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

export function sleb(n: number): Bytes {
  const out: Bytes = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) { out.push(b); return out; }
    out.push(b | 0x80);
  }
}

const str = (s: string): Bytes => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
const vec = (items: Bytes[]): Bytes => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: Bytes): Bytes => [id, ...uleb(body.length), ...body];

export const I32 = 0x7f, V128 = 0x7b;

/** Instructions used by the kernel (SIMD ones carry the 0xfd prefix). */
export const op = {
  block: [0x02, 0x40], loop: [0x03, 0x40], end: [0x0b],
  br: (d: number) => [0x0c, ...uleb(d)], brIf: (d: number) => [0x0d, ...uleb(d)],
  get: (l: number) => [0x20, ...uleb(l)], set: (l: number) => [0x21, ...uleb(l)],
  i32: (v: number) => [0x41, ...sleb(v)],
  i32Add: [0x6a], i32Sub: [0x6b], i32Mul: [0x6c], i32GeS: [0x4e],
  v128Load: (offset: number) => [0xfd, 0x00, 0x00, ...uleb(offset)],
  v128Store: (offset: number) => [0xfd, 0x0b, 0x00, ...uleb(offset)],
  load32Splat: (offset: number) => [0xfd, 0x09, 0x00, ...uleb(offset)],
  load64Splat: (offset: number) => [0xfd, 0x0a, 0x00, ...uleb(offset)],
  v128Zero: [0xfd, 0x0c, ...new Array(16).fill(0)],
  f32x4Add: [0xfd, ...uleb(0xe4)], f32x4Mul: [0xfd, ...uleb(0xe6)],
  f64x2Add: [0xfd, ...uleb(0xf0)], f64x2Mul: [0xfd, ...uleb(0xf2)],
};

/**
 * A module importing memory `env.mem` and exporting one function `name` with i32
 * parameters, the given extra locals, and `body` (without the final `end`).
 */
export function moduleBytes(name: string, nParams: number, locals: [number, number][], body: Bytes): Uint8Array {
  const type = section(1, vec([[0x60, ...vec(new Array(nParams).fill([I32])), 0x00]]));
  const imports = section(2, vec([[...str('env'), ...str('mem'), 0x02, 0x00, 0x01]]));
  const funcs = section(3, vec([[0x00]]));
  const exports = section(7, vec([[...str(name), 0x00, 0x00]]));
  const fn = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...body, ...op.end];
  const code = section(10, vec([[...uleb(fn.length), ...fn]]));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...type, ...imports, ...funcs, ...exports, ...code]);
}
