// One file from a URL into place, resumably: the bytes go to `<dest>.incomplete`-style
// partial file that a later run continues with `Range: bytes=N-` (starting over when the
// server ignores the range), the size and (for LFS files) the sha256 are checked, and the
// file is renamed into place only when whole.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { NetworkError, RetryableStatus, networkError, openUrl, sleep } from './http.js';

export interface Transfer {
  url: string;
  /** Headers for `url` (Authorization already dropped if it is a CDN link). */
  headers: Record<string, string>;
  dest: string;
  partial: string;
  /** Expected size in bytes, when the Hub told it. */
  size?: number;
  /** Expected sha256 (hex), for LFS files. */
  sha256?: string;
  timeoutMs: number;
  /** Retries after a failure with no progress (default 5); any progress resets the count. */
  retries?: number;
  retryDelayMs?: number;
  /** Told of bytes put in place (negative when a partial file is discarded). */
  onBytes(n: number, transferred: boolean): void;
  onRetry?(message: string): void;
  /** The error for an HTTP status that is not worth a retry. */
  statusError(res: Response): Error;
  /** '<repo>: <file>', for messages. */
  label: string;
}

async function hashFile(path: string, bytes: number, hash: Hash): Promise<void> {
  if (bytes === 0) return;
  for await (const chunk of createReadStream(path, { start: 0, end: bytes - 1 })) hash.update(chunk as Buffer);
}

const contentRangeStart = (v: string | null) => (v ? Number(/bytes (\d+)-/.exec(v)?.[1] ?? NaN) : NaN);

/** Downloads `t.url` to `t.dest` through `t.partial`; resumes what an earlier run left in `t.partial`. */
export async function transferFile(t: Transfer): Promise<void> {
  await mkdir(dirname(t.partial), { recursive: true });
  const fh = await open(t.partial, 'a+');
  try {
    let have = (await fh.stat()).size;
    if (t.size !== undefined && have > t.size) { await fh.truncate(0); have = 0; }
    let hash = t.sha256 ? createHash('sha256') : null;
    if (hash) await hashFile(t.partial, have, hash);
    if (have) t.onBytes(have, false);
    const restart = async () => {
      await fh.truncate(0);
      t.onBytes(-have, false);
      have = 0;
      if (hash) hash = createHash('sha256');
    };

    const attempt = async () => {
      if (t.size !== undefined && have === t.size) return;
      const headers: Record<string, string> = { ...t.headers, 'Accept-Encoding': 'identity' };
      if (have > 0) headers.Range = `bytes=${have}-`;
      const o = await openUrl(t.url, { headers, timeoutMs: t.timeoutMs, followCrossHost: true });
      try {
        const { res } = o;
        if (res.status === 416 && have > 0) { await restart(); throw new NetworkError(`the server refused to resume at byte ${have}; starting over`, 'ERANGE'); }
        if (res.status !== 200 && res.status !== 206) throw t.statusError(res);
        // A 200 to a range request (servers and proxies may ignore Range) is the whole file.
        if (have > 0 && res.status === 200) await restart();
        if (res.status === 206 && contentRangeStart(res.headers.get('content-range')) !== have) {
          await restart();
          throw new NetworkError(`the server answered another range (${res.headers.get('content-range')}) than bytes=${have}-; starting over`, 'ERANGE');
        }
        if (t.size === undefined) {
          const total = Number(/\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1] ?? (res.status === 200 ? res.headers.get('content-length') : NaN));
          if (Number.isInteger(total)) t.size = total;
        }
        if (!res.body) return;
        const reader = res.body.getReader();
        for (;;) {
          let chunk: Awaited<ReturnType<typeof reader.read>>;
          try { chunk = await reader.read(); } catch (e) { throw networkError(e, o.url); }
          if (chunk.done) break;
          o.touch();
          await fh.write(chunk.value);
          hash?.update(chunk.value);
          have += chunk.value.length;
          t.onBytes(chunk.value.length, true);
        }
      } finally { o.close(); }
      if (t.size !== undefined && have < t.size) throw new NetworkError(`the body ended at byte ${have} of ${t.size}`, 'ESHORT');
    };

    const retries = t.retries ?? 5;
    for (let failures = 0; ;) {
      const before = have;
      try { await attempt(); break; } catch (e) {
        if (!(e instanceof NetworkError || e instanceof RetryableStatus)) throw e;
        failures = have > before ? 1 : failures + 1;
        if (failures > retries) throw e;
        const delay = Math.min((t.retryDelayMs ?? 500) * 2 ** (failures - 1), 8000);
        t.onRetry?.(`${t.label}: ${e.message}; retrying in ${(delay / 1000).toFixed(1)} s (${failures}/${retries})${have ? `, resuming at byte ${have}` : ''}`);
        await sleep(delay);
      }
    }

    if (t.size !== undefined && have !== t.size) {
      const got = have;
      await restart();
      throw new Error(`[download] ${t.label}: expected ${t.size} bytes, got ${got} (the partial file was discarded; run again)`);
    }
    const digest = hash?.digest('hex');
    if (t.sha256 && digest !== t.sha256) {
      await restart();
      throw new Error(`[download] ${t.label}: sha256 mismatch: expected ${t.sha256}, got ${digest} (the partial file was discarded; run again)`);
    }
    await fh.sync();
  } finally { await fh.close(); }
  await rename(t.partial, t.dest);
}
