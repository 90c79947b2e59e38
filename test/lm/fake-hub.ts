// A local imitation of the Hugging Face Hub for the download tests: the repo listing
// (/api/models/<repo>/revision/<rev>?blobs=true, and /tree/<rev> as Python asks), resolve URLs answering HEAD and GET with
// X-Repo-Commit / ETag / X-Linked-Etag / X-Linked-Size, LFS files (*.safetensors) redirected
// to a second server on another port (the "CDN") that honours Range, gated repos (401/403
// with X-Error-Code: GatedRepo), missing repos, revisions and files, and switches to drop a
// connection halfway, ignore Range, or serve corrupt bytes. Every request is logged.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface FakeRepo {
  files: Record<string, Buffer>;
  /** Needs a token that the hub accepts. */
  gated?: boolean;
}

export interface LoggedRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  authorization?: string;
  range?: string;
  /** Body bytes sent. */
  sent: number;
}

const isLfs = (name: string) => name.endsWith('.safetensors');
const memo = (f: (b: Buffer) => string) => { const m = new WeakMap<Buffer, string>(); return (b: Buffer) => m.get(b) ?? (m.set(b, f(b)), m.get(b)!); };
export const gitSha1 = memo((b) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex'));
export const sha256 = memo((b) => createHash('sha256').update(b).digest('hex'));
export const commitOf = (repoId: string) => createHash('sha1').update(`commit ${repoId}`).digest('hex');

export class FakeHub {
  readonly log: LoggedRequest[] = [];
  /** LFS files whose next CDN GET is cut off after half of its bytes. */
  readonly dropOnce = new Set<string>();
  /** Files whose CDN bytes are flipped (to fail the sha256 check). */
  readonly corrupt = new Set<string>();
  /** The CDN answers every GET with the whole file (200), ignoring Range. */
  ignoreRange = false;
  /** The token the hub accepts for gated repos. */
  readonly goodToken = 'hf_good_token';
  private hub!: Server;
  private cdn!: Server;
  private readonly blobs = new Map<string, { name: string; data: Buffer }>();

  constructor(readonly repos: Record<string, FakeRepo>) {
    for (const repo of Object.values(repos)) for (const [name, data] of Object.entries(repo.files)) if (isLfs(name)) this.blobs.set(sha256(data), { name, data });
  }

  get endpoint(): string { return `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`; }
  // Another host name, as a real CDN has (Python's huggingface_hub keeps the token for the same host name).
  private get cdnBase(): string { return `http://localhost:${(this.cdn.address() as AddressInfo).port}`; }

  async start(): Promise<this> {
    this.hub = createServer((req, res) => this.onHub(req, res));
    this.cdn = createServer((req, res) => this.onCdn(req, res));
    await new Promise<void>((r) => this.hub.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => this.cdn.listen(0, 'localhost', r));
    return this;
  }

  async stop(): Promise<void> {
    for (const s of [this.hub, this.cdn]) s.closeAllConnections();
    await Promise.all([this.hub, this.cdn].map((s) => new Promise((r) => s.close(r))));
  }

  /** The requests to a server, optionally only those whose path contains `part`. */
  requests(server: 'hub' | 'cdn', part = ''): LoggedRequest[] {
    return this.log.filter((r) => r.server === server && r.path.includes(part));
  }

  private record(server: 'hub' | 'cdn', req: IncomingMessage): LoggedRequest {
    const entry: LoggedRequest = { server, method: req.method ?? 'GET', path: decodeURIComponent(req.url ?? ''), authorization: req.headers.authorization, range: req.headers.range, sent: 0 };
    this.log.push(entry);
    return entry;
  }

  private fail(res: ServerResponse, status: number, code: string, message: string, commit?: string): void {
    res.writeHead(status, { 'X-Error-Code': code, 'X-Error-Message': message, 'Content-Type': 'application/json', ...(commit ? { 'X-Repo-Commit': commit } : {}) });
    res.end(JSON.stringify({ error: message }));
  }

  private onHub(req: IncomingMessage, res: ServerResponse): void {
    this.record('hub', req);
    const url = new URL(req.url ?? '/', 'http://x');
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const m = api ?? resolve;
    if (!m) return this.fail(res, 404, 'NotFound', 'no such route');
    const repoId = decodeURIComponent(m[1]), revision = decodeURIComponent(api ? m[3] : m[2]);
    const repo = this.repos[repoId];
    // The Hub answers 401 for a repo it does not show (missing or private).
    if (!repo) return this.fail(res, 401, 'RepoNotFound', 'Repository not found');
    const commit = commitOf(repoId);
    if (revision !== 'main' && revision !== commit) return this.fail(res, 404, 'RevisionNotFound', 'Invalid rev id: ' + revision);
    if (api?.[2] === 'tree') { // the listing Python's huggingface_hub 1.x+ asks for
      const tree = Object.entries(repo.files).map(([path, data]) => ({
        type: 'file', path, oid: gitSha1(data), size: data.length, ...(isLfs(path) ? { lfs: { oid: sha256(data), size: data.length, pointerSize: 134 } } : {}),
      }));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return void res.end(JSON.stringify(tree));
    }
    if (api) {
      const siblings = Object.entries(repo.files).map(([rfilename, data]) => ({
        rfilename, blobId: gitSha1(data), size: data.length, ...(isLfs(rfilename) ? { lfs: { sha256: sha256(data), size: data.length, pointerSize: 134 } } : {}),
      }));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return void res.end(JSON.stringify({ id: repoId, sha: commit, siblings }));
    }
    const file = decodeURIComponent(resolve![3]);
    if (repo.gated && req.headers.authorization !== `Bearer ${this.goodToken}`) {
      const msg = `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.`;
      return this.fail(res, req.headers.authorization ? 403 : 401, 'GatedRepo', msg);
    }
    const data = repo.files[file];
    if (!data) return this.fail(res, 404, 'EntryNotFound', 'Entry not found', commit);
    if (isLfs(file)) {
      const hash = sha256(data);
      res.writeHead(302, {
        Location: `${this.cdnBase}/cdn/${hash}?signature=abc`, 'X-Repo-Commit': commit, ETag: `"${gitSha1(data)}"`,
        'X-Linked-Etag': `"${hash}"`, 'X-Linked-Size': String(data.length),
      });
      return void res.end();
    }
    res.writeHead(200, { 'Content-Length': data.length, ETag: `"${gitSha1(data)}"`, 'X-Repo-Commit': commit, 'Content-Type': 'application/octet-stream' });
    res.end(req.method === 'HEAD' ? undefined : data);
  }

  private onCdn(req: IncomingMessage, res: ServerResponse): void {
    const entry = this.record('cdn', req);
    const m = /^\/cdn\/([0-9a-f]{64})$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
    const blob = m ? this.blobs.get(m[1]) : undefined;
    if (!blob) { res.writeHead(404); return void res.end('no such blob'); }
    let data = blob.data;
    if (this.corrupt.has(blob.name)) { data = Buffer.from(data); data[data.length >> 1] ^= 0xff; }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range && !this.ignoreRange ? Number(range[1]) : 0;
    if (start >= data.length && data.length > 0) {
      res.writeHead(416, { 'Content-Range': `bytes */${data.length}` });
      return void res.end();
    }
    const body = data.subarray(start);
    res.writeHead(range && !this.ignoreRange ? 206 : 200, {
      'Content-Length': body.length, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream',
      ...(range && !this.ignoreRange ? { 'Content-Range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    if (this.dropOnce.delete(blob.name)) {
      const half = body.subarray(0, body.length >> 1);
      entry.sent = half.length;
      res.write(half, () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    entry.sent = body.length;
    res.end(body);
  }
}
