// The [server] benchmark: `lathe serve`'s continuous batching under 1, 8 and 32 concurrent
// streaming clients (a second process on loopback), beside Hugging Face transformers' batch
// `generate` at the same batch sizes, on the same card in one run. Llama-3.2-1B shape with
// random bf16 weights (../shared/BENCHMARKS.md; shapes decide the cost) and no tokenizer:
// prompts are token ids sent to /v1/completions, every client generates exactly --tokens.
//   node --import tsx bench/gpu/server.ts [--tokens 128] [--prompt 32] [--clients 1,8,32] [--no-hf] [--smoke]
// On the GPU machine: bash .gpu/enter.sh node --import tsx bench/gpu/server.ts > $OUT/server.md
// Prints a markdown table on stdout (progress on stderr). --smoke: a tiny model on the CPU.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as mx from '../../src/index.js';
import { serve } from '../../src/lm/server/index.js';
import { LLAMA_1B, TINY, randomModel } from './random-model.js';
import { sseData } from '../../test/server/sse.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : fallback; };
const log = (s: string) => process.stderr.write(s + '\n');

interface ClientResult { firstTokenMs: number; doneMs: number; tokens: number; error: string | null }

// ---------------------------------------------------------------- the client process

/** `--client <url> <json>`: fires the requests at once, streams each, prints the timings as JSON. */
async function clientMain(url: string, spec: { prompts: number[][]; tokens: number }): Promise<void> {
  const start = performance.now();
  const one = async (prompt: number[]): Promise<ClientResult> => {
    const r: ClientResult = { firstTokenMs: NaN, doneMs: NaN, tokens: 0, error: null };
    try {
      const res = await fetch(`${url}/v1/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'bench', prompt, max_tokens: spec.tokens, temperature: 0, stream: true }),
      });
      if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
      for await (const data of sseData(res)) {
        if (data === '[DONE]') continue;
        const chunk = JSON.parse(data) as { error?: { message: string }; choices: { finish_reason: string | null }[] };
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.choices.length && chunk.choices[0].finish_reason === null) {
          r.tokens++;
          if (r.tokens === 1) r.firstTokenMs = performance.now() - start;
        }
      }
      r.doneMs = performance.now() - start;
    } catch (e) {
      r.error = (e as Error).message;
    }
    return r;
  };
  const results = await Promise.all(spec.prompts.map(one));
  process.stdout.write(JSON.stringify(results) + '\n');
}

function runClients(url: string, prompts: number[][], tokens: number): Promise<ClientResult[]> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--client', url, JSON.stringify({ prompts, tokens })], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  return new Promise((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`the client process exited with ${code}`)))));
}

// ---------------------------------------------------------------- the server side

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

async function main(): Promise<void> {
  const smoke = args.includes('--smoke');
  const tokens = Number(opt('--tokens', smoke ? '8' : '128'));
  const promptLength = Number(opt('--prompt', '32'));
  const levels = opt('--clients', smoke ? '1,2,4' : '1,8,32').split(',').map(Number);
  if (!smoke) mx.setDefaultDevice(mx.gpu);
  const config = smoke ? TINY : LLAMA_1B;
  const model = randomModel(config, smoke ? mx.float32 : mx.bfloat16);
  const server = await serve({ model: { model, tokenizer: null }, modelId: 'bench', port: 0, maxConcurrency: Math.max(...levels), maxQueue: 256, promptCacheSize: 0 }); // no prompt-cache reuse: HF's generate has none
  const prompts = (n: number, seed: number) => mx.random.randint(0, Math.min(1000, config.vocab_size), [n, promptLength], mx.int32, mx.random.key(seed)).tolist() as number[][];
  // Warm-up: every level once (kernels compile per shape: each batch size the rows pass through).
  log(`server at ${server.url}; warming up`);
  for (const c of levels) await runClients(server.url, prompts(c, 1000 + c), Math.min(tokens, 16));

  const rows: { clients: number; tps: number; ttftMedian: number; ttftP90: number; seconds: number }[] = [];
  for (const c of levels) {
    mx.resetPeakMemory();
    const results = await runClients(server.url, prompts(c, 10 + c), tokens);
    const failed = results.find((r) => r.error);
    if (failed) throw new Error(`a client failed: ${failed.error}`);
    const seconds = Math.max(...results.map((r) => r.doneMs)) / 1000;
    const generated = results.reduce((n, r) => n + r.tokens, 0);
    const ttft = results.map((r) => r.firstTokenMs);
    rows.push({ clients: c, tps: generated / seconds, ttftMedian: median(ttft), ttftP90: pct(ttft, 0.9), seconds });
    log(`${c} clients: ${(generated / seconds).toFixed(1)} tok/s aggregate, first token median ${median(ttft).toFixed(0)} ms, peak ${(mx.getPeakMemory() / 1e9).toFixed(2)} GB`);
  }
  await server.close();

  let hf: Record<string, unknown> = { error: 'skipped (--no-hf)' };
  if (!args.includes('--no-hf')) {
    const py = fileURLToPath(new URL('./server_hf.py', import.meta.url));
    const r = spawnSync('python3', [py, '--tokens', String(tokens), '--prompt', String(promptLength), '--batches', levels.join(','), ...(smoke ? ['--smoke'] : [])], { encoding: 'utf8' });
    try { hf = JSON.parse(r.stdout.trim().split('\n').pop() ?? ''); } catch { hf = { error: `server_hf.py failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}` }; }
  }
  const f = (v: unknown, d = 0) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : 'n/a');
  const device = smoke ? 'CPU (smoke: tiny random model)' : String(hf.device ?? 'GPU');
  console.log(`lathe serve, ${smoke ? 'tiny' : 'Llama-3.2-1B'} shape, random ${smoke ? 'float32' : 'bf16'} weights; ${device}; prompt ${promptLength} tokens, ${tokens} generated per client; `
    + `torch ${hf.torch ?? '?'}, transformers ${hf.transformers ?? '?'}; ${new Date().toISOString().slice(0, 10)}${hf.error ? `; HF: ${hf.error}` : ''}\n`);
  console.log('| concurrent clients | lathe serve: aggregate tok/s | HF `generate`, same batch: tok/s | ratio | lathe first token, median / p90 (ms) | HF prefill of the batch (ms) |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
  const hfTps = (hf.tps ?? {}) as Record<string, number>, hfPrefill = (hf.prefillMs ?? {}) as Record<string, number>;
  for (const r of rows) {
    const ref = hfTps[String(r.clients)];
    const ratio = r.tps / ref;
    console.log(`| ${r.clients} | ${f(r.tps, 1)} | ${f(ref, 1)} | ${Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : 'n/a'} | ${f(r.ttftMedian)} / ${f(r.ttftP90)} | ${f(hfPrefill[String(r.clients)], 1)} |`);
  }
  console.log('\nlathe: HTTP streaming through /v1/completions from a second process, all clients at once; tok/s = tokens streamed / time to the last one. '
    + 'HF: `model.generate` on the whole batch (greedy, dynamic cache, SDPA), the same prompts\' shape and length.');
}

if (args[0] === '--client') await clientMain(args[1], JSON.parse(args[2]));
else await main();
