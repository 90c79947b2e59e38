// The Hugging Face cache layout, shared with Python's huggingface_hub:
//   <cache>/models--<org>--<name>/
//     blobs/<etag>                    file contents, named by git sha1 or LFS sha256
//     snapshots/<commit>/<file>       relative symlinks into ../../blobs (one folder per commit)
//     refs/<revision>                 the commit a branch or tag pointed to when last fetched
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { hubCacheDir } from './env.js';

const COMMIT = /^[0-9a-f]{40}$/;

/** A full commit hash (revisions that are one need no refs/ entry). */
export const isCommitHash = (revision: string) => COMMIT.test(revision);

/** huggingface_hub's rule for repo ids: `name` or `org/name`, of [A-Za-z0-9_.-], no '--' or '..'. */
export function checkRepoId(repoId: string, where: string): void {
  const ok = /^([\w.-]+\/)?[\w.-]+$/.test(repoId) && !repoId.includes('--') && !repoId.includes('..')
    && !/^[.-]|[.-]$/.test(repoId) && repoId.length <= 96;
  if (!ok) throw new Error(`[${where}] '${repoId}' is not a Hugging Face repo id (expected 'org/name', e.g. 'Qwen/Qwen3-0.6B')`);
}

/** models--org--name: the repo's folder in the cache. */
export const repoFolderName = (repoId: string) => ['models', ...repoId.split('/')].join('--');

/** The paths of one repo in a cache folder. */
export function repoCachePaths(repoId: string, cacheDir: string = hubCacheDir()) {
  const root = join(cacheDir, repoFolderName(repoId));
  return {
    root,
    blob: (etag: string) => join(root, 'blobs', etag),
    snapshot: (commit: string) => join(root, 'snapshots', commit),
    pointer: (commit: string, file: string) => join(root, 'snapshots', commit, ...file.split('/')),
    ref: (revision: string) => join(root, 'refs', ...revision.split('/')),
    lock: (etag: string) => join(cacheDir, '.locks', repoFolderName(repoId), `${etag}.lock`),
  };
}

/** The commit `revision` resolves to in the cache (itself if a commit hash), or null. */
export function cachedCommit(repoId: string, revision = 'main', cacheDir: string = hubCacheDir()): string | null {
  if (isCommitHash(revision)) return revision;
  const ref = repoCachePaths(repoId, cacheDir).ref(revision);
  if (!existsSync(ref)) return null;
  const commit = readFileSync(ref, 'utf8').trim();
  return isCommitHash(commit) ? commit : null;
}

/** The snapshot folder of a cached repo at a revision (default main), or null if not cached. */
export function cachedSnapshotDir(repoId: string, revision = 'main', cacheDir: string = hubCacheDir()): string | null {
  const commit = cachedCommit(repoId, revision, cacheDir);
  if (commit === null) return null;
  const dir = repoCachePaths(repoId, cacheDir).snapshot(commit);
  return existsSync(dir) ? dir : null;
}

/** Records that `revision` points at `commit` (refs/<revision>, written atomically; no newline, as huggingface_hub). */
export function writeRef(repoId: string, revision: string, commit: string, cacheDir: string = hubCacheDir()): void {
  if (revision === commit) return;
  const ref = repoCachePaths(repoId, cacheDir).ref(revision);
  if (existsSync(ref) && readFileSync(ref, 'utf8') === commit) return;
  mkdirSync(dirname(ref), { recursive: true });
  const tmp = `${ref}.${process.pid}.tmp`;
  writeFileSync(tmp, commit);
  renameSync(tmp, ref);
}

/**
 * Points snapshots/<commit>/<file> at blobs/<etag> with a relative symlink (replacing what was
 * there); where symlinks are not allowed (Windows without developer mode), a copy, as
 * huggingface_hub falls back to.
 */
export function linkPointer(blob: string, pointer: string): void {
  mkdirSync(dirname(pointer), { recursive: true });
  rmSync(pointer, { force: true });
  try { symlinkSync(relative(dirname(pointer), blob), pointer); } catch (e) {
    if (!['EPERM', 'EACCES', 'ENOTSUP', 'EINVAL'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    copyFileSync(blob, pointer);
  }
}

const looksLikeRepoId = (s: string) => /^[\w.-]+\/[\w.-]+$/.test(s) && !s.startsWith('.');

/**
 * A model folder for `load`/`loadModel`: `pathOrRepo` itself when it is a folder, else, when
 * it looks like `org/name`, the snapshot of that repo's main branch in the Hugging Face cache
 * (filled by `lathe download org/name` or Python's huggingface_hub). Never touches the network.
 */
export function resolveModelPath(pathOrRepo: string, where = 'load'): string {
  let isDir = false;
  try { isDir = statSync(pathOrRepo).isDirectory(); } catch { /* not a path */ }
  if (isDir || !looksLikeRepoId(pathOrRepo)) return pathOrRepo;
  const cacheDir = hubCacheDir();
  const snapshot = cachedSnapshotDir(pathOrRepo, 'main', cacheDir);
  if (snapshot) return snapshot;
  const other = existsSync(repoCachePaths(pathOrRepo, cacheDir).root) ? ' (the cache has the repo, but no snapshot of its main branch: pass the snapshot folder that `lathe download` printed)' : '';
  throw new Error(`[${where}] ${pathOrRepo}: not a folder, and the Hugging Face cache ${cacheDir} has no copy of the repo '${pathOrRepo}'${other}; `
    + `run \`lathe download ${pathOrRepo}\` first (HF_HUB_CACHE or HF_HOME choose the cache)`);
}
