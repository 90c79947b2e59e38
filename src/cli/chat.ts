// `lathe chat`: a REPL over the model's chat template. Reads lines from stdin (a terminal or
// a pipe), streams each reply, keeps the conversation, and reuses the KV cache across turns:
// only the tokens after the longest prefix the cache already holds are processed.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { load, makePromptCache, type ChatMessage, type KVCache, type GenerationModel, type Tokenizer, streamGenerate, type GenerateOptions } from '../lm/index.js';
import { SAMPLING_HELP, UsageError, generateOptions, modelDir, samplingFlags } from './args.js';
import { dispose } from '../index.js';

export const CHAT_HELP = `lathe chat [--model DIR] [options]

A chat in the terminal, or over piped input (one user message per line). Commands:
/reset forgets the conversation, /exit (or end of input) quits.

  --model DIR               model folder (default: the tiny-llama that ships with lathe)
  --system-prompt TEXT      a system message that starts the conversation
${SAMPLING_HELP}`;

/** The conversation and the cache that holds its tokens. */
class ChatSession {
  messages: ChatMessage[] = [];
  private cache: KVCache[];
  private cached: number[] = []; // the tokens the cache holds

  constructor(private readonly model: GenerationModel, private readonly tokenizer: Tokenizer, private readonly options: GenerateOptions, private readonly system: string | undefined) {
    this.cache = this.freshCache();
    this.reset();
  }

  private freshCache(): KVCache[] { return makePromptCache(this.model, this.options.maxKvSize ?? null); }

  reset(): void {
    this.messages = this.system !== undefined ? [{ role: 'system', content: this.system }] : [];
    dispose(this.cache.flatMap((c) => c.state));
    this.cache = this.freshCache();
    this.cached = [];
  }

  /** Streams the reply to `user`, writing it with `write`. */
  async reply(user: string, write: (s: string) => void): Promise<void> {
    this.messages.push({ role: 'user', content: user });
    const tokens = this.tokenizer.applyChatTemplate(this.messages, { addGenerationPrompt: true });
    // Reuse the cached prefix; at least one token must be fed to get logits.
    let common = 0;
    while (common < this.cached.length && common < tokens.length - 1 && this.cached[common] === tokens[common]) common++;
    const extra = this.cache[0].offset - common;
    if (extra > 0) {
      if (this.cache.every((c) => c.isTrimmable())) for (const c of this.cache) c.trim(extra);
      else { dispose(this.cache.flatMap((c) => c.state)); this.cache = this.freshCache(); common = 0; }
    }
    let text = '';
    const sampled: number[] = [];
    for await (const r of streamGenerate(this.model, this.tokenizer, tokens.slice(common), { ...this.options, promptCache: this.cache })) {
      write(r.text);
      text += r.text;
      if (r.token >= 0) sampled.push(r.token);
    }
    this.cached = [...tokens, ...sampled].slice(0, this.cache[0].offset);
    this.messages.push({ role: 'assistant', content: text });
  }
}

export async function chatCommand(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: { model: { type: 'string' }, 'system-prompt': { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...samplingFlags },
  });
  if (v.help) { process.stdout.write(CHAT_HELP + '\n'); return; }
  const options = generateOptions(v, 256);
  const dir = modelDir(v.model);
  const { model, tokenizer } = load(dir);
  if (!tokenizer.hasChatTemplate) throw new UsageError(`[lathe chat] ${dir} has no chat template (chat_template.jinja or tokenizer_config.json's chat_template)`);
  const session = new ChatSession(model, tokenizer, options, v['system-prompt']);
  const tty = process.stdin.isTTY === true;
  const rl = createInterface({ input: process.stdin, output: tty ? process.stdout : undefined, terminal: tty });
  if (tty) process.stderr.write(`[lathe chat] ${dir}. /reset clears the conversation, /exit or Ctrl-D quits.\n`);
  const prompt = () => { if (tty) rl.prompt(); };
  rl.setPrompt('> ');
  prompt();
  for await (const raw of rl) {
    const line = raw.trim();
    if (line === '/exit' || line === '/quit') break;
    if (line === '/reset') { session.reset(); if (tty) process.stderr.write('[conversation cleared]\n'); prompt(); continue; }
    if (line === '') { prompt(); continue; }
    try {
      await session.reply(line, (s) => process.stdout.write(s));
    } catch (e) {
      process.stderr.write(`${(e as Error).message}\n(type /reset to start over)\n`);
    }
    process.stdout.write('\n');
    prompt();
  }
  rl.close();
}
