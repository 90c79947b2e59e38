// The load test's client process: `node --import tsx test/server/load-client.ts <url> <json>`
// where json is { requests: [{ kind: 'chat' | 'completion', prompt, delayMs }], maxTokens }.
// Fires every request as a streaming request at its delay (all concurrent), and prints one
// JSON line: per request its text, finish_reason, whether the stream ended with [DONE], and
// the time to its first token.
import { sseData } from './sse.js';

interface Spec { kind: 'chat' | 'completion'; prompt: string; delayMs: number }
interface Result { text: string; finish: string | null; done: boolean; chunks: number; firstTokenMs: number | null; error: string | null }

const [url, arg] = process.argv.slice(2);
const { requests, maxTokens, model } = JSON.parse(arg) as { requests: Spec[]; maxTokens: number; model: string };

/** One streaming request read as server-sent events, event by event as they arrive. */
async function one(spec: Spec): Promise<Result> {
  await new Promise((r) => setTimeout(r, spec.delayMs));
  const start = performance.now();
  const r: Result = { text: '', finish: null, done: false, chunks: 0, firstTokenMs: null, error: null };
  const body = spec.kind === 'chat'
    ? { model, messages: [{ role: 'user', content: spec.prompt }], max_tokens: maxTokens, temperature: 0, stream: true }
    : { model, prompt: spec.prompt, max_tokens: maxTokens, temperature: 0, stream: true };
  try {
    const res = await fetch(`${url}/v1/${spec.kind === 'chat' ? 'chat/completions' : 'completions'}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
    for await (const data of sseData(res)) {
      if (data === '[DONE]') { r.done = true; continue; }
      if (r.done) throw new Error('an event after [DONE]');
      const chunk = JSON.parse(data) as { error?: { message: string }; choices: { delta?: { content?: string }; text?: string; finish_reason: string | null }[] };
      if (chunk.error) throw new Error(chunk.error.message);
      r.chunks++;
      for (const ch of chunk.choices) {
        const piece = ch.delta?.content ?? ch.text ?? '';
        if (piece) { r.text += piece; r.firstTokenMs ??= performance.now() - start; }
        if (ch.finish_reason) r.finish = ch.finish_reason;
      }
    }
  } catch (e) {
    r.error = (e as Error).message;
  }
  return r;
}

const results = await Promise.all(requests.map(one));
process.stdout.write(JSON.stringify(results) + '\n');
