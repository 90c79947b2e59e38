// One writer per partial file. Within a process, a map of work in flight; between processes,
// a lock file holding the owner's pid (created with O_EXCL), taken over when that process is
// gone (a crash leaves it behind; Python's huggingface_hub leaves empty ones). Best effort on
// one machine, like huggingface_hub's own lock: the blob is still renamed into place whole.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { sleep } from './http.js';

const inFlight = new Map<string, Promise<unknown>>();

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

async function acquire(path: string, onWait?: () => void): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  let told = false;
  for (;;) {
    try { writeFileSync(path, String(process.pid), { flag: 'wx' }); return; } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let pid = NaN;
    try { pid = Number(readFileSync(path, 'utf8').trim()); } catch { /* gone meanwhile */ }
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !alive(pid)) { rmSync(path, { force: true }); continue; }
    if (!told) { onWait?.(); told = true; }
    await sleep(500);
  }
}

function release(path: string): void {
  try { if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true }); } catch { /* already gone */ }
}

/**
 * Runs `fn` holding the lock at `path`; a second caller in this process waits for the first
 * and then runs its own `fn` (which should find the work done and return at once).
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, onWait?: () => void): Promise<T> {
  while (inFlight.has(path)) await inFlight.get(path)!.catch(() => undefined);
  const run = (async () => {
    await acquire(path, onWait);
    try { return await fn(); } finally { release(path); }
  })();
  inFlight.set(path, run);
  try { return await run; } finally { if (inFlight.get(path) === run) inFlight.delete(path); }
}
