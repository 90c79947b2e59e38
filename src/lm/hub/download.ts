// snapshotDownload(repoId): a model repo from the Hugging Face Hub into the shared cache (or a
// folder), as huggingface_hub's snapshot_download does: list the files at a revision
// (GET /api/models/<repo>/revision/<rev>), keep those matching the patterns, and for each,
// HEAD its resolve URL for the etag, size and CDN location, then fetch it resumably into
// blobs/<etag> and link snapshots/<commit>/<file> to it. Files already in place are skipped
// without a request.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkRepoId, cachedSnapshotDir, linkPointer, repoCachePaths, writeRef } from './cache.js';
import { hubCacheDir, hubEndpoint, hubOffline, hubTimeoutMs, hubToken } from './env.js';
import { finalError, statusError, type HubContext } from './errors.js';
import { filterFiles } from './glob.js';
import { NetworkError, openUrl, withRetries } from './http.js';
import { withLock } from './lock.js';
import type { DownloadState } from './progress.js';
import { transferFile } from './transfer.js';

/**
 * What `snapshotDownload` fetches when no `include` is given: what lathe reads from a model
 * folder. Patterns are Python fnmatch globs, as huggingface_hub's allow_patterns.
 */
export const DEFAULT_INCLUDE: readonly string[] = [
  'config.json', 'generation_config.json',
  'model*.safetensors', 'model*.safetensors.index.json',
  'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja',
];

export interface DownloadOptions {
  /** Branch, tag or commit (default 'main'). */
  revision?: string;
  /** Globs of the files to fetch (default DEFAULT_INCLUDE; ['*'] for everything). */
  include?: readonly string[];
  /** Globs of files to leave out. */
  exclude?: readonly string[];
  /** Put the files in this folder instead of the cache (huggingface_hub's local_dir layout). */
  localDir?: string;
  /** The cache folder (default HF_HUB_CACHE, or $HF_HOME/hub, or ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** The Hub (default HF_ENDPOINT, or https://huggingface.co). */
  endpoint?: string;
  /** An access token (default HF_TOKEN, or the token file); false sends none. */
  token?: string | false;
  /** Files fetched at once (default 8, as huggingface_hub). */
  maxWorkers?: number;
  /** Retries of a request that failed with no progress (default 5), and the first wait (default 500 ms, doubling). */
  retries?: number;
  retryDelayMs?: number;
  /** Called on every change (per chunk): pass a ProgressBar's update. */
  onProgress?: (state: DownloadState) => void;
  /** Messages worth showing (retries, waits for another process). */
  onMessage?: (message: string) => void;
}

interface Sibling { rfilename: string; size?: number; lfs?: { size?: number; sha256?: string; oid?: string } }
interface RepoListing { sha: string; siblings: Sibling[] }

/** A file's metadata from a HEAD of its resolve URL (huggingface_hub's get_hf_file_metadata). */
interface FileMeta { commit: string; etag: string; size?: number; location: string }

const quotePath = (file: string) => file.split('/').map(encodeURIComponent).join('/');
const normalizeEtag = (etag: string | null) => (etag === null ? null : etag.replace(/^W\//, '').replace(/^"|"$/g, ''));
const SHA256 = /^[0-9a-f]{64}$/;

class Session {
  readonly endpoint: string;
  readonly token: string | undefined;
  readonly timeoutMs = hubTimeoutMs();
  readonly headers: Record<string, string>;

  constructor(readonly repoId: string, readonly revision: string, readonly o: DownloadOptions) {
    this.endpoint = (o.endpoint ?? hubEndpoint()).replace(/\/+$/, '');
    this.token = o.token === false ? undefined : o.token ?? hubToken();
    this.headers = { 'User-Agent': `lathe/0.1; node/${process.versions.node}` };
    if (this.token) this.headers.Authorization = `Bearer ${this.token}`;
  }

  context(file?: string): HubContext {
    return { repoId: this.repoId, revision: this.revision, endpoint: this.endpoint, file, hasToken: this.token !== undefined };
  }

  retrying<T>(fn: () => Promise<T>, file?: string): Promise<T> {
    return withRetries(fn, {
      retries: this.o.retries, baseDelayMs: this.o.retryDelayMs,
      onRetry: (e, n, ms) => this.o.onMessage?.(`${this.repoId}${file ? `: ${file}` : ''}: ${e.message}; retrying in ${(ms / 1000).toFixed(1)} s (${n}/${this.o.retries ?? 5})`),
    });
  }

  /** The commit and files of the repo at the revision (sizes and LFS hashes included). */
  async listing(): Promise<RepoListing> {
    const url = `${this.endpoint}/api/models/${this.repoId}/revision/${encodeURIComponent(this.revision)}?blobs=true`;
    return this.retrying(async () => {
      const o = await openUrl(url, { headers: this.headers, timeoutMs: this.timeoutMs, followCrossHost: false });
      try {
        if (o.res.status !== 200) throw statusError(o.res, this.context());
        let body: unknown;
        try { body = await o.res.json(); } catch (e) {
          if (e instanceof SyntaxError) throw new Error(`[download] ${url} did not answer JSON: is HF_ENDPOINT (${this.endpoint}) a Hugging Face Hub?`);
          throw e;
        }
        const b = body as Partial<RepoListing>;
        if (typeof b.sha !== 'string' || !globalThis.Array.isArray(b.siblings))
          throw new Error(`[download] ${url}: expected {"sha": ..., "siblings": [...]}, got ${JSON.stringify(body).slice(0, 200)}`);
        return b as RepoListing;
      } finally { o.close(); }
    });
  }

  /** HEAD of the file at a commit: etag, size, where to GET it (not following a CDN redirect). */
  async metadata(commit: string, file: string): Promise<FileMeta> {
    const url = `${this.endpoint}/${this.repoId}/resolve/${commit}/${quotePath(file)}`;
    return this.retrying(async () => {
      const o = await openUrl(url, { method: 'HEAD', headers: { ...this.headers, 'Accept-Encoding': 'identity' }, timeoutMs: this.timeoutMs, followCrossHost: false });
      o.close();
      const { res } = o;
      const redirect = res.status >= 300 && res.status < 400;
      if (!res.ok && !redirect) throw statusError(res, this.context(file));
      const h = res.headers;
      const at = h.get('x-repo-commit');
      const etag = normalizeEtag(h.get('x-linked-etag') ?? h.get('etag'));
      if (!at || !etag) throw new Error(`[download] ${url}: the answer has no ${at ? 'ETag' : 'X-Repo-Commit'} header, so it does not come from a Hugging Face Hub: check HF_ENDPOINT (${this.endpoint}), proxies and firewalls`);
      const size = Number(h.get('x-linked-size') ?? (redirect ? NaN : h.get('content-length')));
      const location = redirect && h.get('location') ? new URL(h.get('location')!, o.url).href : o.url;
      return { commit: at, etag, size: Number.isInteger(size) ? size : undefined, location };
    }, file);
  }

  /** Headers for GETting the file at `location`: no token for another host (a CDN). */
  headersFor(location: string): Record<string, string> {
    if (new URL(location).host === new URL(this.endpoint).host) return this.headers;
    const { Authorization: _, ...rest } = this.headers;
    return rest;
  }
}

/** huggingface_hub's local_dir bookkeeping: <dir>/.cache/huggingface/download/<file>.metadata. */
function localPaths(dir: string, file: string) {
  const meta = join(dir, '.cache', 'huggingface', 'download', ...file.split('/')) + '.metadata';
  return { file: join(dir, ...file.split('/')), meta, lock: meta.replace(/\.metadata$/, '.lock'), partial: (etag: string) => meta.replace(/\.metadata$/, `.${etag}.incomplete`) };
}

function readLocalMeta(path: string, file: string): { commit: string; etag: string } | null {
  try {
    const [commit, etag, ts] = readFileSync(path, 'utf8').split('\n');
    // A file changed after its metadata was written is not trusted (1 s slack, as huggingface_hub).
    return statSync(file).mtimeMs / 1000 - 1 <= Number(ts) ? { commit, etag } : null;
  } catch { return null; }
}

function writeLocalMeta(dir: string, path: string, commit: string, etag: string): void {
  const hf = join(dir, '.cache', 'huggingface');
  mkdirSync(hf, { recursive: true });
  if (!existsSync(join(hf, '.gitignore'))) writeFileSync(join(hf, '.gitignore'), '*');
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `${commit}\n${etag}\n${Date.now() / 1000}\n`);
}

async function pool<T>(items: readonly T[], workers: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0, failed: unknown = null;
  const run = async () => {
    while (next < items.length && failed === null) {
      try { await fn(items[next++]); } catch (e) { failed ??= e; }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, items.length)) }, run));
  if (failed !== null) throw failed;
}

/**
 * Downloads a Hugging Face model repo (the files matching `include`, by default what lathe
 * loads) and returns the folder that holds them: the snapshot folder in the cache
 * (`<cache>/models--org--name/snapshots/<commit>`) or `localDir`. Files already there are
 * not fetched again; interrupted downloads resume. Honours HF_ENDPOINT, HF_TOKEN, HF_HOME,
 * HF_HUB_CACHE, HF_HUB_OFFLINE and HF_HUB_DOWNLOAD_TIMEOUT.
 *
 *     const dir = await snapshotDownload('Qwen/Qwen3-0.6B');
 *     const { model, tokenizer } = load(dir); // or load('Qwen/Qwen3-0.6B')
 */
export async function snapshotDownload(repoId: string, options: DownloadOptions = {}): Promise<string> {
  checkRepoId(repoId, 'download');
  const revision = options.revision ?? 'main';
  const cacheDir = options.cacheDir ?? hubCacheDir();
  const paths = repoCachePaths(repoId, cacheDir);
  if (hubOffline()) {
    const dir = options.localDir ?? cachedSnapshotDir(repoId, revision, cacheDir);
    if (dir && existsSync(dir)) return dir;
    throw new Error(`[download] ${repoId} (revision '${revision}'): HF_HUB_OFFLINE is set and ${options.localDir ?? `the cache ${cacheDir}`} has no copy`);
  }
  const s = new Session(repoId, revision, options);
  let listing: RepoListing;
  try { listing = await s.listing(); } catch (e) {
    const err = finalError(e, s.context());
    const cached = e instanceof NetworkError && !options.localDir ? cachedSnapshotDir(repoId, revision, cacheDir) : null;
    if (cached) err.message += `; a cached copy is in ${cached} (HF_HUB_OFFLINE=1 uses it)`;
    throw err;
  }
  const commit = listing.sha;
  const all = listing.siblings.map((f) => f.rfilename);
  const include = options.include ?? DEFAULT_INCLUDE;
  const files = filterFiles(all, include, options.exclude);
  if (files.length === 0) {
    throw new Error(`[download] ${repoId} (revision '${revision}'): no file matches ${include.map((p) => `'${p}'`).join(', ')}`
      + `${options.exclude?.length ? ` without ${options.exclude.join(', ')}` : ''}; the repo has ${all.slice(0, 20).join(', ')}${all.length > 20 ? `, ... (${all.length} files)` : ''}`);
  }
  const byName = new Map(listing.siblings.map((f) => [f.rfilename, f]));
  const sizeOf = (f: string) => byName.get(f)?.lfs?.size ?? byName.get(f)?.size;

  const state: DownloadState = { repoId, files: files.length, filesDone: 0, bytes: 0, totalBytes: 0, transferred: 0, active: [] };
  for (const f of files) state.totalBytes += sizeOf(f) ?? 0;
  const active = new Set<string>();
  const report = () => { state.active = [...active]; options.onProgress?.({ ...state }); };
  const onBytes = (n: number, transferred: boolean) => { state.bytes += n; if (transferred) state.transferred += n; report(); };
  const done = (f: string, bytes: number) => { if (bytes) state.bytes += bytes; state.filesDone++; active.delete(f); report(); };
  report();

  try {
    if (!options.localDir) writeRef(repoId, revision, commit, cacheDir);
  } catch (e) { throw finalError(e, s.context()); }

  const fetchOne = async (file: string) => {
    try {
      if (options.localDir) await toLocalDir(file);
      else await toCache(file);
    } catch (e) { throw finalError(e, s.context(file)); }
  };

  const fetchFile = async (file: string, meta: FileMeta, dest: string, partial: string) => {
    if (meta.size !== undefined && sizeOf(file) === undefined) { state.totalBytes += meta.size; report(); }
    active.add(file);
    await transferFile({
      url: meta.location, headers: s.headersFor(meta.location), dest, partial,
      size: meta.size, sha256: SHA256.test(meta.etag) ? meta.etag : undefined,
      timeoutMs: s.timeoutMs, retries: options.retries, retryDelayMs: options.retryDelayMs,
      onBytes, onRetry: options.onMessage, statusError: (res) => statusError(res, s.context(file)), label: `${repoId}: ${file}`,
    });
  };

  const toCache = async (file: string) => {
    const pointer = paths.pointer(commit, file);
    if (existsSync(pointer)) return done(file, statSync(pointer).size); // follows the link: a dangling one is refetched
    const meta = await s.metadata(commit, file);
    const blob = paths.blob(meta.etag);
    await withLock(paths.lock(meta.etag), async () => {
      const have = existsSync(blob) ? statSync(blob).size : -1;
      if (have >= 0 && (meta.size === undefined || have === meta.size)) { linkPointer(blob, pointer); return done(file, have); }
      await fetchFile(file, meta, blob, `${blob}.incomplete`);
      linkPointer(blob, pointer);
      done(file, 0);
    }, () => options.onMessage?.(`${repoId}: ${file}: waiting for another process that is downloading it`));
  };

  const toLocalDir = async (file: string) => {
    const dir = options.localDir!;
    const p = localPaths(dir, file);
    const known = readLocalMeta(p.meta, p.file);
    if (known?.commit === commit) return done(file, statSync(p.file).size);
    const meta = await s.metadata(commit, file);
    await withLock(p.lock, async () => {
      if (known?.etag === meta.etag) { writeLocalMeta(dir, p.meta, commit, meta.etag); return done(file, statSync(p.file).size); }
      mkdirSync(join(p.file, '..'), { recursive: true });
      await fetchFile(file, meta, p.file, p.partial(meta.etag));
      writeLocalMeta(dir, p.meta, commit, meta.etag);
      done(file, 0);
    });
  };

  await pool(files, options.maxWorkers ?? 8, fetchOne);
  return options.localDir ?? paths.snapshot(commit);
}
