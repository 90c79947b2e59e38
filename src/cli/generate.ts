// `lathe generate`: one prompt, the output streamed to stdout.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { load, loadModel, streamGenerate, type ChatMessage, type GenerateOptions, type Prompt } from '../lm/index.js';
import { SAMPLING_HELP, UsageError, generateOptions, int, modelDir, samplingFlags } from './args.js';

export const GENERATE_HELP = `lathe generate [--model DIR] --prompt TEXT [options]

Generates text for a prompt and streams it to stdout. With a chat template (the model's),
the prompt is sent as a user message, unless --ignore-chat-template.

  --model DIR               model folder (default: the tiny-llama that ships with lathe)
  -p, --prompt TEXT         the prompt ('-' reads stdin)
  --system-prompt TEXT      a system message before the prompt
  --ignore-chat-template    use the prompt as raw text
  --chat-template-config JSON  extra template variables, e.g. '{"enable_thinking": false}'
  --draft-model DIR         a smaller model for speculative decoding
  --num-draft-tokens N      tokens the draft model proposes per step (default 3)
  --verbose                 print token counts, speeds and peak memory to stderr
${SAMPLING_HELP}`;

export async function generateCommand(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      prompt: { type: 'string', short: 'p' },
      'system-prompt': { type: 'string' },
      'ignore-chat-template': { type: 'boolean' },
      'chat-template-config': { type: 'string' },
      'draft-model': { type: 'string' },
      'num-draft-tokens': { type: 'string' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      ...samplingFlags,
    },
  });
  if (v.help) { process.stdout.write(GENERATE_HELP + '\n'); return; }
  if (v.prompt === undefined) throw new UsageError('[lathe generate] --prompt is required (or --prompt - to read it from stdin)');
  const text = v.prompt === '-' ? readFileSync(0, 'utf8') : v.prompt;
  const options: GenerateOptions = generateOptions(v, 100);
  const { model, tokenizer } = load(modelDir(v.model));
  if (v['draft-model']) {
    options.draftModel = loadModel(modelDir(v['draft-model']));
    options.numDraftTokens = int('num-draft-tokens', v['num-draft-tokens'], 1) ?? 3;
  }
  let prompt: Prompt = text;
  if (tokenizer.hasChatTemplate && !v['ignore-chat-template']) {
    const messages: ChatMessage[] = [];
    if (v['system-prompt'] !== undefined) messages.push({ role: 'system', content: v['system-prompt'] });
    messages.push({ role: 'user', content: text });
    prompt = messages;
    if (v['chat-template-config']) {
      let extra: unknown;
      try { extra = JSON.parse(v['chat-template-config']); } catch (e) { throw new UsageError(`[lathe generate] --chat-template-config is not valid JSON: ${(e as Error).message}`); }
      options.chatTemplateOptions = { templateArgs: extra as Record<string, unknown> };
    }
  } else if (v['system-prompt'] !== undefined) {
    throw new UsageError('[lathe generate] --system-prompt needs a chat template (the model has none, or --ignore-chat-template is set)');
  }
  let last = null;
  for await (const r of streamGenerate(model, tokenizer, prompt, options)) {
    process.stdout.write(r.text);
    last = r;
  }
  process.stdout.write('\n');
  if (v.verbose && last) {
    const mb = (last.peakMemory / 2 ** 20).toFixed(1);
    process.stderr.write(`Prompt: ${last.promptTokens} tokens, ${last.promptTps.toFixed(1)} tokens/s\n`
      + `Generation: ${last.generationTokens} tokens, ${last.generationTps.toFixed(1)} tokens/s (finish: ${last.finishReason})\n`
      + `Peak memory: ${mb} MB\n`);
  }
}
