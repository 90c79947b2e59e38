// Hub answers turned into errors that say what to do. The Hub tells why in X-Error-Code
// (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo) and X-Error-Message; it answers
// 401 rather than 404 for a repo it will not show, so a missing repo and a private one look alike.
import { NetworkError, RetryableStatus } from './http.js';

export interface HubContext {
  repoId: string;
  revision: string;
  endpoint: string;
  /** The file being fetched (none for the repo listing). */
  file?: string;
  hasToken: boolean;
}

/** The error for a Hub answer that is not 2xx/3xx. */
export function statusError(res: Response, c: HubContext): Error {
  const code = res.headers.get('x-error-code') ?? '';
  const serverSays = res.headers.get('x-error-message');
  const repoPage = `${c.endpoint}/${c.repoId}`;
  const where = c.file ? `${c.repoId}: ${c.file} (revision '${c.revision}')` : `${c.repoId} (revision '${c.revision}')`;
  const tail = serverSays ? ` [the Hub: ${serverSays}]` : '';
  let msg: string;
  if (code === 'GatedRepo') {
    msg = c.hasToken
      ? `${where}: HTTP ${res.status}: ${c.repoId} is a gated repo and your token has no access to it yet: request access on ${repoPage}`
      : `${where}: HTTP ${res.status}: ${c.repoId} is a gated repo: accept its terms on ${repoPage}, then set HF_TOKEN to an access token (${c.endpoint}/settings/tokens)`;
  } else if (code === 'RevisionNotFound') {
    msg = `${where}: revision '${c.revision}' not found in ${c.repoId} (a branch, tag or commit of ${repoPage})`;
  } else if (code === 'EntryNotFound') {
    msg = `${where}: file '${c.file}' not found in ${c.repoId} at revision '${c.revision}'`;
  } else if (code === 'RepoNotFound' || res.status === 401 || (res.status === 404 && !c.file)) {
    msg = `${where}: HTTP ${res.status}: repository '${c.repoId}' not found on ${c.endpoint}`
      + (c.hasToken ? ' (or your HF_TOKEN cannot see it)' : ' (if it is private or gated, set HF_TOKEN to an access token)');
  } else if (res.status === 403) {
    msg = `${where}: HTTP 403 forbidden: ${c.hasToken ? 'your HF_TOKEN lacks the permission to read this repo' : 'set HF_TOKEN to an access token that can read it'}`;
  } else if (res.status === 404) {
    msg = `${where}: HTTP 404: not found`;
  } else {
    msg = `${where}: HTTP ${res.status} ${res.statusText}`;
  }
  return new Error(`[download] ${msg}${tail}`);
}

/** The error to report once retries are spent (or for anything else thrown while downloading). */
export function finalError(e: unknown, c: HubContext): Error {
  const where = c.file ? `${c.repoId}: ${c.file}` : c.repoId;
  if (e instanceof RetryableStatus) return statusError(e.res, c);
  if (e instanceof NetworkError) return new Error(`[download] ${where}: cannot reach the Hub at ${c.endpoint}: ${e.message}. Check the network, or set HF_ENDPOINT to a mirror (HF_HUB_OFFLINE=1 uses the cache only)`);
  const err = e as Error & { code?: string; path?: string };
  const disk: Record<string, string> = { ENOSPC: 'no space left on the device', EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'read-only file system', EDQUOT: 'disk quota exceeded', EMFILE: 'too many open files' };
  if (err.code && disk[err.code]) return new Error(`[download] ${where}: cannot write ${err.path ?? 'the cache'}: ${disk[err.code]} (${err.code})`);
  if (err.message?.startsWith('[')) return err;
  return new Error(`[download] ${where}: ${err.message ?? String(e)}`);
}
