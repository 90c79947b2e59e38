// Where the Hugging Face Hub is and where its files go, read from the environment the way
// Python's huggingface_hub reads it, so both share one cache and one login. Read at each
// call (not at import), so a program or test may set the variables first.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

const env = (name: string): string | undefined => {
  const v = process.env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
};

const expandHome = (p: string) => (p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p);

/** The Hub's address: HF_ENDPOINT, else https://huggingface.co (no trailing slash). */
export function hubEndpoint(): string {
  return (env('HF_ENDPOINT') ?? 'https://huggingface.co').replace(/\/+$/, '');
}

/** HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
export function hfHome(): string {
  return resolve(expandHome(env('HF_HOME') ?? join(env('XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'huggingface')));
}

/** The model cache: HF_HUB_CACHE (or the older HUGGINGFACE_HUB_CACHE), else $HF_HOME/hub. */
export function hubCacheDir(): string {
  const dir = env('HF_HUB_CACHE') ?? env('HUGGINGFACE_HUB_CACHE');
  return dir ? resolve(expandHome(dir)) : join(hfHome(), 'hub');
}

/**
 * The access token: HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN), else the file that
 * `hf auth login` writes (HF_TOKEN_PATH, default $HF_HOME/token); undefined if none.
 */
export function hubToken(): string | undefined {
  const fromEnv = env('HF_TOKEN') ?? env('HUGGING_FACE_HUB_TOKEN');
  if (fromEnv) return fromEnv;
  const file = expandHome(env('HF_TOKEN_PATH') ?? join(hfHome(), 'token'));
  if (!existsSync(file)) return undefined;
  try { return readFileSync(file, 'utf8').trim() || undefined; } catch { return undefined; }
}

/** HF_HUB_OFFLINE=1: use the cache only, never the network. */
export function hubOffline(): boolean {
  return ['1', 'true', 'yes', 'on'].includes((env('HF_HUB_OFFLINE') ?? '').toLowerCase());
}

/** Seconds without data before a request is given up (HF_HUB_DOWNLOAD_TIMEOUT, default 10). */
export function hubTimeoutMs(): number {
  const s = Number(env('HF_HUB_DOWNLOAD_TIMEOUT') ?? 10);
  return (Number.isFinite(s) && s > 0 ? s : 10) * 1000;
}
