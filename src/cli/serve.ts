// `lathe serve`: the OpenAI-compatible server (docs/server.md) until Ctrl-C or SIGTERM,
// which let running requests finish (up to --shutdown-grace seconds) before exiting.
import { parseArgs } from 'node:util';
import { serve } from '../lm/server/index.js';
import { UsageError, int, modelDir } from './args.js';

export const SERVE_HELP = `lathe serve [--model DIR] [options]

Serves the model over HTTP with OpenAI's API: POST /v1/chat/completions, POST /v1/completions,
GET /v1/models, GET /health. Requests that arrive together are decoded in one batch.

  --model DIR               model folder (default: the tiny-llama that ships with lathe)
  --model-id NAME           the name clients send as 'model' (default: the folder's name)
  --adapter DIR             LoRA adapters (not supported yet)
  --host HOST               address to listen on (default 127.0.0.1; 0.0.0.0 for all)
  --port N                  port (default 8080; 0 picks a free one)
  --api-key KEY             require 'Authorization: Bearer KEY' (or set LATHE_API_KEY)
  --max-concurrency N       sequences decoded at once (default 8)
  --max-queue N             requests that may wait; more get 429 (default 64)
  --cors-origin ORIGIN      Access-Control-Allow-Origin: '*' (default), an origin, a
                            comma-separated list, or 'none'
  --max-body-bytes N        largest request body (default 4194304)
  --prefill-step-size N     prompt tokens per prefill chunk (default 512)
  --prompt-cache-size N     finished sequences' KV caches kept for reuse by later prompts
                            (default 10; 0 turns reuse off)
  --prompt-cache-bytes N    the most bytes they hold: a count, or with M, G, MB, GB
                            (decimal, as MLX-LM's; default: no limit but the count)
  --json-max-whitespace N   response_format: longest whitespace run between JSON tokens (default 16)
  --shutdown-grace S        seconds running requests get to finish on shutdown (default 30)
  --quiet                   no request log on stderr`;

const SIZE_UNITS: Record<string, number> = { '': 1, M: 1e6, MB: 1e6, G: 1e9, GB: 1e9 };

/** A byte count as MLX-LM's server parses it: digits, then optionally M, G, MB or GB (decimal units). */
function byteSize(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$/i.exec(v);
  const unit = m ? SIZE_UNITS[m[2].toUpperCase()] : undefined;
  if (!m || unit === undefined) throw new UsageError(`[lathe] --${name} must be a byte count, optionally with M, G, MB or GB (e.g. 4GB), got '${v}'`);
  return Math.floor(Number(m[1]) * unit);
}

export async function serveCommand(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      'model-id': { type: 'string' },
      adapter: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'api-key': { type: 'string' },
      'max-concurrency': { type: 'string' },
      'max-queue': { type: 'string' },
      'cors-origin': { type: 'string' },
      'max-body-bytes': { type: 'string' },
      'prefill-step-size': { type: 'string' },
      'prompt-cache-size': { type: 'string' },
      'prompt-cache-bytes': { type: 'string' },
      'json-max-whitespace': { type: 'string' },
      'shutdown-grace': { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) { process.stdout.write(SERVE_HELP + '\n'); return; }
  if (v.adapter !== undefined) throw new UsageError(`[lathe serve] LoRA adapters are not supported yet (got --adapter ${v.adapter}); serve the model without --adapter`);
  const port = int('port', v.port) ?? 8080;
  if (port > 65535) throw new UsageError(`[lathe] --port must be at most 65535, got ${port}`);
  const dir = modelDir(v.model);
  const cors = v['cors-origin'];
  const log = v.quiet ? null : (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const server = await serve({
    model: dir,
    ...(v['model-id'] ? { modelId: v['model-id'] } : {}),
    host: v.host ?? '127.0.0.1',
    port,
    apiKey: v['api-key'] ?? process.env.LATHE_API_KEY ?? null,
    maxConcurrency: int('max-concurrency', v['max-concurrency'], 1),
    maxQueue: int('max-queue', v['max-queue'], 0),
    corsOrigin: cors === undefined ? '*' : cors === 'none' ? null : cors,
    maxBodyBytes: int('max-body-bytes', v['max-body-bytes'], 1),
    prefillStepSize: int('prefill-step-size', v['prefill-step-size'], 1),
    promptCacheSize: int('prompt-cache-size', v['prompt-cache-size'], 0),
    promptCacheBytes: byteSize('prompt-cache-bytes', v['prompt-cache-bytes']),
    jsonMaxWhitespace: int('json-max-whitespace', v['json-max-whitespace']),
    shutdownGraceMs: (int('shutdown-grace', v['shutdown-grace']) ?? 30) * 1000,
    log,
  });
  process.stderr.write(`lathe serve: '${server.modelId}' (${dir}) at ${server.url}/v1 `
    + `(max concurrency ${server.engine.maxConcurrency}, queue ${server.engine.maxQueue}${v['api-key'] || process.env.LATHE_API_KEY ? ', API key required' : ''})\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`lathe serve: ${signal}, finishing running requests...\n`);
      void server.close().then(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
