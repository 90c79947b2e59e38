#!/usr/bin/env node
// The `lathe` command: generate, chat and convert with lathe/lm.
import { generateCommand, GENERATE_HELP } from './generate.js';
import { chatCommand, CHAT_HELP } from './chat.js';
import { convertCommand, CONVERT_HELP } from './convert.js';
import { downloadCommand, DOWNLOAD_HELP } from './download.js';
import { serveCommand, SERVE_HELP } from './serve.js';
import { benchCommand, BENCH_HELP } from './bench.js';
import { UsageError } from './args.js';

const HELP = `lathe: language models with lathe (MLX-LM's commands)

  lathe generate [--model DIR] --prompt TEXT [options]   stream a completion
  lathe chat [--model DIR] [options]                     chat in the terminal (or over a pipe)
  lathe convert --model DIR --out DIR [-q] [--dtype D]   quantize / cast a model
  lathe serve [--model DIR] [--port N] [options]         an OpenAI-compatible HTTP server
  lathe download <org/name> [--revision R]               fetch a model from the Hugging Face Hub
  lathe bench [--model DIR] [-p 512] [-g 128] [-b 1]     prompt/generation tokens per second, peak memory

Without --model, generate and chat use the small model that ships with lathe
(models/tiny-llama, trained by lathe on Moby-Dick). 'lathe <command> --help' for options.`;

const commands: Record<string, [(argv: string[]) => Promise<void>, string]> = {
  generate: [generateCommand, GENERATE_HELP],
  chat: [chatCommand, CHAT_HELP],
  convert: [convertCommand, CONVERT_HELP],
  serve: [serveCommand, SERVE_HELP],
  download: [downloadCommand, DOWNLOAD_HELP],
  bench: [benchCommand, BENCH_HELP],
};

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write((rest[0] && commands[rest[0]] ? commands[rest[0]][1] : HELP) + '\n');
    return;
  }
  const command = commands[name];
  if (!command) throw new UsageError(`[lathe] unknown command '${name}' (commands: ${Object.keys(commands).join(', ')}; lathe --help)`);
  await command[0](rest);
}

// A closed pipe (lathe generate ... | head) ends the program quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });

main(process.argv.slice(2)).catch((e: unknown) => {
  const err = e as Error & { code?: string };
  // parseArgs' errors (unknown flags, missing values) and ours are the user's to fix.
  const usage = e instanceof UsageError || (typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS'));
  // lathe's errors name what went wrong ('[loadModel] ...'); a stack only helps with others.
  const plain = usage || (err.message?.startsWith('[') && !process.env.LATHE_DEBUG);
  process.stderr.write(plain ? `${err.message}\n` : `${err.stack ?? err.message}\n`);
  process.exit(usage ? 2 : 1);
});
