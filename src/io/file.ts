// Positional reads of one file, with errors that name the file. Each read opens, reads and
// closes, so lazily loaded tensors hold no file descriptor between reads.
import { openSync, readSync, writeSync, closeSync, fstatSync, statSync, unlinkSync } from 'node:fs';

/** Throws `[where] path: msg`. */
export function ioError(where: string, path: string, msg: string): never {
  throw new Error(`[${where}] ${path}: ${msg}`);
}

// readSync moves at most 2 GiB per call.
const CHUNK = 1 << 30;

/** A file read by byte ranges; `size` is taken when it is opened. */
export class FileSource {
  readonly size: number;

  constructor(readonly path: string, readonly where: string) {
    let st;
    try { st = statSync(path); } catch (e) { ioError(where, path, `cannot open: ${(e as Error).message}`); }
    if (!st.isFile()) ioError(where, path, 'is not a regular file');
    this.size = st.size;
  }

  /** Bytes [offset, offset + length), into `into` when given (its first `length` bytes). */
  read(offset: number, length: number, what: string, into?: Uint8Array): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.size)
      ioError(this.where, this.path, `${what} (bytes ${offset}..${offset + length}) runs past the end of the file (${this.size} bytes)`);
    const out = into ?? new Uint8Array(length);
    if (length === 0) return out;
    const fd = openSync(this.path, 'r');
    try {
      if (fstatSync(fd).size !== this.size) ioError(this.where, this.path, `the file changed size since it was opened (${this.size} bytes then, ${fstatSync(fd).size} now)`);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, out, done, Math.min(CHUNK, length - done), offset + done);
        if (n === 0) ioError(this.where, this.path, `unexpected end of file while reading ${what}`);
        done += n;
      }
    } finally {
      closeSync(fd);
    }
    return out;
  }
}

/** Writes all of `bytes` at the descriptor's current position. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) {
    done += writeSync(fd, bytes, done, Math.min(CHUNK, bytes.length - done));
  }
}

/** Opens `path` for writing, runs `fn`, and removes the partial file if `fn` throws. */
export function writeFile(path: string, where: string, fn: (fd: number) => void): void {
  let fd: number;
  try { fd = openSync(path, 'w'); } catch (e) { ioError(where, path, `cannot write: ${(e as Error).message}`); }
  try {
    fn(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(path); } catch { /* already gone */ }
    throw e;
  }
  closeSync(fd);
}
