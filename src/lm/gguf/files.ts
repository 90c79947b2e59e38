// The non-weight files a GGUF model carries in its metadata: the tokenizer (as a lathe
// Tokenizer, or written out as tokenizer.json / tokenizer_config.json) and
// generation_config.json, for load(ggufPath) and `lathe convert --model x.gguf`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadGguf } from '../../io/index.js';
import { Tokenizer, type TokenizerOptions } from '../tokenizer.js';
import { generationConfigFromGguf, tokenizerFromGguf } from './tokenizer.js';

/** The tokenizer stored in a GGUF file (tokenizer.ggml.*, tokenizer.chat_template). */
export function loadGgufTokenizer(path: string, options: TokenizerOptions = {}): Tokenizer {
  const meta = loadGguf(path).metadata;
  const t = tokenizerFromGguf(meta, path);
  if (!t) throw new Error(`[loadTokenizer] ${path}: the GGUF file has no tokenizer (no tokenizer.ggml.model); load the model alone with loadModel`);
  const gen = generationConfigFromGguf(meta);
  const eos = [...(options.eosTokenIds ?? []), ...[gen.eos_token_id ?? []].flat() as number[]];
  try {
    return new Tokenizer(t.tokenizerJson, t.tokenizerConfig, { ...options, eosTokenIds: eos });
  } catch (e) {
    throw new Error(`[loadTokenizer] ${path}: ${(e as Error).message}`);
  }
}

/** Writes tokenizer.json, tokenizer_config.json and generation_config.json from a GGUF file's metadata into `outDir`; returns the names written. */
export function writeGgufSideFiles(path: string, outDir: string): string[] {
  const meta = loadGguf(path).metadata;
  const written: string[] = [];
  const write = (name: string, value: unknown) => {
    writeFileSync(join(outDir, name), JSON.stringify(value, null, 2) + '\n');
    written.push(name);
  };
  const t = tokenizerFromGguf(meta, path);
  if (t) {
    write('tokenizer.json', t.tokenizerJson);
    write('tokenizer_config.json', t.tokenizerConfig);
  }
  const gen = generationConfigFromGguf(meta);
  if (Object.keys(gen).length) write('generation_config.json', gen);
  return written;
}
