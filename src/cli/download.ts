// `lathe download <repo>`: a model from the Hugging Face Hub into the shared cache (or a folder),
// with a progress bar on stderr; prints the model folder on stdout.
import { parseArgs } from 'node:util';
import { DEFAULT_INCLUDE, snapshotDownload } from '../lm/hub/download.js';
import { ProgressBar } from '../lm/hub/progress.js';
import { UsageError, int } from './args.js';

export const DOWNLOAD_HELP = `lathe download <org/name> [--revision R] [--include GLOB] [--local-dir DIR]

Downloads a model repo from the Hugging Face Hub into the cache that Python's huggingface_hub
shares (HF_HUB_CACHE, or $HF_HOME/hub, default ~/.cache/huggingface/hub), resuming what an
interrupted run left, and prints the model folder. Then 'lathe generate --model <org/name>'
or load('<org/name>') finds it there.

  --revision R              branch, tag or commit (default main)
  --include GLOB            files to fetch, repeatable, replacing the default:
                            ${DEFAULT_INCLUDE.join(' ')}
                            ('*' fetches everything; globs are Python fnmatch: '*' crosses '/')
  --exclude GLOB            files to leave out, repeatable
  --local-dir DIR           put the files in DIR instead of the cache
  --cache-dir DIR           the cache to use
  --token TOKEN             access token (default HF_TOKEN, or $HF_HOME/token)
  --max-workers N           files fetched at once (default 8)
  --quiet                   no progress on stderr

Environment: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN, HF_HOME, HF_HUB_CACHE,
HF_HUB_OFFLINE=1 (cache only), HF_HUB_DOWNLOAD_TIMEOUT (seconds without data, default 10).`;

export async function downloadCommand(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      revision: { type: 'string' },
      include: { type: 'string', multiple: true },
      exclude: { type: 'string', multiple: true },
      'local-dir': { type: 'string' },
      'cache-dir': { type: 'string' },
      token: { type: 'string' },
      'max-workers': { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) { process.stdout.write(DOWNLOAD_HELP + '\n'); return; }
  if (positionals.length !== 1) throw new UsageError(`[lathe download] expected one repo id (org/name), got ${positionals.length ? positionals.join(' ') : 'none'}; lathe download --help`);
  const bar = v.quiet ? null : new ProgressBar(process.stderr);
  let last = null as Parameters<ProgressBar['finish']>[0] | null;
  const dir = await snapshotDownload(positionals[0], {
    revision: v.revision,
    include: v.include,
    exclude: v.exclude,
    localDir: v['local-dir'],
    cacheDir: v['cache-dir'],
    token: v.token,
    maxWorkers: int('max-workers', v['max-workers'], 1),
    onProgress: (s) => { last = s; bar?.update(s); },
    onMessage: (m) => bar?.log(m),
  });
  if (bar && last) bar.finish(last);
  process.stdout.write(dir + '\n');
}
