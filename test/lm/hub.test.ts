// `lathe download` and snapshotDownload against a local imitation of the Hub (fake-hub.ts),
// serving the shipped tiny-llama as 'lathe/tiny-llama': the cache layout Python's
// huggingface_hub reads, resuming, the token kept from the CDN, no transfers the second
// time, errors that name the repo and file, the CLI, and load('org/name').
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_INCLUDE, snapshotDownload, type DownloadOptions } from '../../src/lm/hub/download.js';
import { filterFiles } from '../../src/lm/hub/glob.js';
import { ProgressBar, type DownloadState } from '../../src/lm/hub/progress.js';
import { load, generate } from '../../src/lm/index.js';
import { FakeHub, commitOf, gitSha1, sha256 } from './fake-hub.js';
import { TINY_LLAMA } from './text-fixtures.js';
import { lathe as run, ROOT } from './run-cli.js';

const REPO = 'lathe/tiny-llama';
const COMMIT = commitOf(REPO);
const tiny = Object.fromEntries(readdirSync(TINY_LLAMA).map((f) => [f, readFileSync(join(TINY_LLAMA, f))]));
const WEIGHTS = tiny['model.safetensors'];
const hub = new FakeHub({
  [REPO]: { files: tiny },
  'lathe/gated': { files: { 'config.json': tiny['config.json'] }, gated: true },
});
const tmp = mkdtempSync(join(tmpdir(), 'lathe-hub-'));
let home = 0;
/** A fresh HF_HOME (so a fresh cache) in the environment; returns the cache folder. */
function freshHome(): string {
  process.env.HF_HOME = join(tmp, `home${home++}`);
  return join(process.env.HF_HOME, 'hub');
}
const fast: DownloadOptions = { retryDelayMs: 20 };

before(async () => {
  await hub.start();
  process.env.HF_ENDPOINT = hub.endpoint;
  delete process.env.HF_HUB_CACHE; delete process.env.HF_HUB_OFFLINE; delete process.env.HF_TOKEN_PATH;
  process.env.HF_TOKEN = 'hf_secret';
});
after(async () => { await hub.stop(); rmSync(tmp, { recursive: true, force: true }); });

test('download fills the cache as huggingface_hub does, resumes a dropped connection, keeps the token from the CDN', async () => {
  const cache = freshHome();
  hub.log.length = 0;
  hub.dropOnce.add('model.safetensors');
  const states: DownloadState[] = [];
  const dir = await snapshotDownload(REPO, { ...fast, onProgress: (s) => states.push(s) });

  const root = join(cache, 'models--lathe--tiny-llama');
  assert.equal(dir, join(root, 'snapshots', COMMIT));
  assert.equal(readFileSync(join(root, 'refs', 'main'), 'utf8'), COMMIT); // no newline, as huggingface_hub writes it
  const expected = Object.keys(tiny).filter((f) => f !== 'README.md').sort(); // README.md is not in the default patterns
  assert.deepEqual(readdirSync(dir).sort(), expected);
  for (const f of expected) {
    const etag = f.endsWith('.safetensors') ? sha256(tiny[f]) : gitSha1(tiny[f]);
    assert.ok(lstatSync(join(dir, f)).isSymbolicLink(), `${f} is a symlink`);
    assert.equal(readlinkSync(join(dir, f)), `../../blobs/${etag}`, `${f} links relatively to its blob`);
    assert.ok(readFileSync(join(dir, f)).equals(tiny[f]), `${f} is byte-identical`);
  }
  assert.deepEqual(readdirSync(join(root, 'blobs')).filter((b) => b.endsWith('.incomplete')), []);

  // The connection dropped halfway once: the second GET asked for the rest only.
  const gets = hub.requests('cdn').filter((r) => r.method === 'GET');
  assert.equal(gets.length, 2);
  assert.equal(gets[0].range, undefined);
  assert.equal(gets[1].range, `bytes=${gets[0].sent}-`);
  assert.equal(gets[0].sent + gets[1].sent, WEIGHTS.length);

  // The token goes to the Hub (listing, HEADs, small files), never to the CDN.
  assert.ok(hub.requests('hub').length >= 6);
  for (const r of hub.requests('hub')) assert.equal(r.authorization, 'Bearer hf_secret', `${r.method} ${r.path}`);
  for (const r of hub.requests('cdn')) assert.equal(r.authorization, undefined, `${r.method} ${r.path}`);

  const last = states[states.length - 1];
  assert.equal(last.files, expected.length);
  assert.equal(last.filesDone, expected.length);
  assert.equal(last.bytes, last.totalBytes);
  assert.equal(last.totalBytes, expected.reduce((n, f) => n + tiny[f].length, 0));

  // A second download only asks for the listing (the commit), and transfers nothing.
  hub.log.length = 0;
  const again: DownloadState[] = [];
  assert.equal(await snapshotDownload(REPO, { onProgress: (s) => again.push(s) }), dir);
  assert.deepEqual(hub.log.map((r) => `${r.server} ${r.method} ${r.path}`), [`hub GET /api/models/${REPO}/revision/main?blobs=true`]);
  assert.equal(again[again.length - 1].transferred, 0);

  // HF_HUB_OFFLINE=1: the cache only, no request at all.
  process.env.HF_HUB_OFFLINE = '1';
  hub.log.length = 0;
  try {
    assert.equal(await snapshotDownload(REPO), dir);
    await assert.rejects(snapshotDownload('nobody/nothing'), /\[download\] nobody\/nothing \(revision 'main'\): HF_HUB_OFFLINE is set and the cache .* has no copy/);
    assert.equal(hub.log.length, 0);
  } finally { delete process.env.HF_HUB_OFFLINE; }
});

test('a partial file left by an interrupted run is continued with a Range request', async () => {
  const cache = freshHome();
  const blobs = join(cache, 'models--lathe--tiny-llama', 'blobs');
  mkdirSync(blobs, { recursive: true });
  const had = 1_000_003;
  writeFileSync(join(blobs, `${sha256(WEIGHTS)}.incomplete`), WEIGHTS.subarray(0, had));
  hub.log.length = 0;
  let last: DownloadState | undefined;
  const dir = await snapshotDownload(REPO, { include: ['*.safetensors'], onProgress: (s) => { last = s; } });
  const gets = hub.requests('cdn').filter((r) => r.method === 'GET');
  assert.deepEqual(gets.map((r) => r.range), [`bytes=${had}-`]);
  assert.equal(gets[0].sent, WEIGHTS.length - had);
  assert.equal(last!.transferred, WEIGHTS.length - had);
  assert.ok(readFileSync(join(dir, 'model.safetensors')).equals(WEIGHTS));
  assert.deepEqual(readdirSync(dir), ['model.safetensors']);
});

test('a server that ignores Range (200) makes the download start over, not append', async () => {
  const cache = freshHome();
  const blobs = join(cache, 'models--lathe--tiny-llama', 'blobs');
  mkdirSync(blobs, { recursive: true });
  writeFileSync(join(blobs, `${sha256(WEIGHTS)}.incomplete`), Buffer.alloc(5000, 7)); // not even a prefix of the file
  hub.ignoreRange = true;
  try {
    const dir = await snapshotDownload(REPO, { include: ['model.safetensors'] });
    assert.ok(readFileSync(join(dir, 'model.safetensors')).equals(WEIGHTS));
  } finally { hub.ignoreRange = false; }
});

test('corrupt bytes fail the sha256 check, naming the file, and leave nothing behind', async () => {
  const cache = freshHome();
  hub.corrupt.add('model.safetensors');
  try {
    await assert.rejects(snapshotDownload(REPO, { include: ['model.safetensors'] }),
      /\[download\] lathe\/tiny-llama: model\.safetensors: sha256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}/);
  } finally { hub.corrupt.clear(); }
  const blobs = join(cache, 'models--lathe--tiny-llama', 'blobs');
  assert.ok(!existsSync(join(blobs, sha256(WEIGHTS))));
});

test('errors name the repo, revision or file and say what to do', async () => {
  freshHome();
  delete process.env.HF_TOKEN;
  try {
    await assert.rejects(snapshotDownload('lathe/gated'), (e: Error) => {
      assert.match(e.message, /^\[download\] lathe\/gated: config\.json \(revision 'main'\): HTTP 401: lathe\/gated is a gated repo: accept its terms on http:\/\/127\.0\.0\.1:\d+\/lathe\/gated, then set HF_TOKEN/);
      return true;
    });
    await assert.rejects(snapshotDownload('lathe/gated', { token: 'hf_other' }), /HTTP 403: lathe\/gated is a gated repo and your token has no access to it yet: request access/);
    const dir = await snapshotDownload('lathe/gated', { token: hub.goodToken });
    assert.ok(readFileSync(join(dir, 'config.json')).equals(tiny['config.json']));
  } finally { process.env.HF_TOKEN = 'hf_secret'; }

  await assert.rejects(snapshotDownload('nobody/nothing'), /\[download\] nobody\/nothing \(revision 'main'\): HTTP 401: repository 'nobody\/nothing' not found on http:\/\/127\.0\.0\.1:\d+ \(or your HF_TOKEN cannot see it\)/);
  await assert.rejects(snapshotDownload(REPO, { revision: 'v9' }), /revision 'v9' not found in lathe\/tiny-llama/);
  await assert.rejects(snapshotDownload(REPO, { include: ['*.gguf'] }), /no file matches '\*\.gguf'; the repo has .*model\.safetensors/);
  await assert.rejects(snapshotDownload('not a repo'), /'not a repo' is not a Hugging Face repo id/);

  // Nothing listens on the endpoint: the error names it (after the retries).
  const closed = new FakeHub({});
  await closed.start();
  const endpoint = closed.endpoint;
  await closed.stop();
  const messages: string[] = [];
  await assert.rejects(snapshotDownload(REPO, { endpoint, retries: 2, retryDelayMs: 10, onMessage: (m) => messages.push(m) }),
    new RegExp(`cannot reach the Hub at ${endpoint.replace(/\./g, '\\.')}: connection refused \\(ECONNREFUSED\\)`));
  assert.equal(messages.length, 2);
});

test('--local-dir puts plain files in a folder with huggingface_hub\'s metadata, and skips them next time', async () => {
  freshHome();
  const dir = join(tmp, 'local');
  hub.log.length = 0;
  assert.equal(await snapshotDownload(REPO, { localDir: dir }), dir);
  for (const f of DEFAULT_INCLUDE.filter((f) => tiny[f])) {
    assert.ok(lstatSync(join(dir, f)).isFile() && readFileSync(join(dir, f)).equals(tiny[f]), f);
    const [commit, etag] = readFileSync(join(dir, '.cache', 'huggingface', 'download', `${f}.metadata`), 'utf8').split('\n');
    assert.equal(commit, COMMIT);
    assert.equal(etag, f.endsWith('.safetensors') ? sha256(tiny[f]) : gitSha1(tiny[f]));
  }
  assert.ok(!existsSync(join(process.env.HF_HOME!, 'hub')), 'the cache is not used');
  hub.log.length = 0;
  await snapshotDownload(REPO, { localDir: dir });
  assert.equal(hub.log.length, 1, 'only the listing');
});

test('load(\'org/name\') loads the cached snapshot and generates; an uncached repo says to download it', async () => {
  freshHome();
  await snapshotDownload(REPO);
  const { model, tokenizer } = load(REPO);
  const local = load(TINY_LLAMA);
  const options = { maxTokens: 8 };
  assert.equal(await generate(model, tokenizer, 'Call me', options), await generate(local.model, local.tokenizer, 'Call me', options));
  assert.throws(() => load('nobody/nothing'), /\[load\] nobody\/nothing: not a folder, and the Hugging Face cache .* has no copy of the repo 'nobody\/nothing'.*run `lathe download nobody\/nothing`/);
});

test('glob patterns follow Python fnmatch', () => {
  const files = ['config.json', 'model-00001-of-00002.safetensors', 'onnx/model.onnx', 'onnx/config.json', 'a?b', 'README.md'];
  assert.deepEqual(filterFiles(files, ['*.json']), ['config.json', 'onnx/config.json']); // '*' crosses '/'
  assert.deepEqual(filterFiles(files, ['onnx/']), ['onnx/model.onnx', 'onnx/config.json']);
  assert.deepEqual(filterFiles(files, ['model-0000[!2]-*']), ['model-00001-of-00002.safetensors']);
  assert.deepEqual(filterFiles(files, ['*'], ['onnx/*', '*.md']), ['config.json', 'model-00001-of-00002.safetensors', 'a?b']);
  assert.deepEqual(filterFiles(files, ['a?b', 'readme.md']), ['a?b']); // case-sensitive
});

test('the progress bar draws one line with \\r on a terminal, plain lines otherwise', () => {
  const s: DownloadState = { repoId: REPO, files: 3, filesDone: 1, bytes: 2_500_000, totalBytes: 10_000_000, transferred: 2_500_000, active: ['model.safetensors'] };
  const out: string[] = [];
  const tty = new ProgressBar({ isTTY: true, columns: 200, write: (x: string) => out.push(x) }, { ttyIntervalMs: 0 });
  tty.update({ ...s, transferred: 0 });
  tty.update(s);
  assert.match(out[1], /^\rFetching 3 files \[1\/3\] 2\.50 MB \/ 10\.0 MB 25% .*model\.safetensors\x1b\[K$/);
  tty.finish({ ...s, filesDone: 3, bytes: 10_000_000 });
  assert.match(out.join(''), /\r\x1b\[Klathe\/tiny-llama: 3 files, 10\.0 MB \(2\.50 MB downloaded in [\d.]+ s/);
  const plain: string[] = [];
  const log = new ProgressBar({ write: (x: string) => plain.push(x) }, { plainIntervalMs: 0 });
  log.update(s);
  log.update(s);
  assert.deepEqual(plain.slice(0, 1), ['lathe/tiny-llama: fetching 3 files, 10.0 MB\n']);
  assert.match(plain[1], /^Fetching 3 files \[1\/3\] 2\.50 MB \/ 10\.0 MB 25%.*\n$/);
  assert.ok(!plain.join('').includes('\r'));
});

const lathe = (args: string[], env: Record<string, string | undefined>) => run(args, { env });

test('lathe download (a child process) prints the snapshot folder; generate --model org/name uses the cache', async () => {
  const env = { HF_HOME: join(tmp, 'cli-home'), HF_ENDPOINT: hub.endpoint, HF_TOKEN: undefined };
  // generate gets a cache filled here, so that the runs start together.
  const filled = freshHome();
  await snapshotDownload(REPO);
  const [r, bad, gen] = await Promise.all([
    lathe(['download', REPO, '--revision', 'main'], env),
    lathe(['download', REPO, '--revision', 'nope', '--quiet'], env),
    lathe(['generate', '--model', REPO, '--prompt', 'Call me', '-m', '6', '--ignore-chat-template'], { ...env, HF_HOME: join(filled, '..') }),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, join(env.HF_HOME, 'hub', 'models--lathe--tiny-llama', 'snapshots', COMMIT) + '\n');
  assert.match(r.stderr, /^lathe\/tiny-llama: fetching 5 files, 3\.70 MB\n/);
  assert.match(r.stderr, /lathe\/tiny-llama: 5 files, 3\.70 MB \([\d.]+ MB downloaded in/);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^\[download\] lathe\/tiny-llama \(revision 'nope'\): revision 'nope' not found/);
  assert.equal(gen.code, 0, gen.stderr);
  const local = load(TINY_LLAMA);
  assert.equal(gen.stdout, (await generate(local.model, local.tokenizer, 'Call me', { maxTokens: 6 })) + '\n');
});
