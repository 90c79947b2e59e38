// load(dir): a model folder's model and tokenizer together (MLX-LM's load).
import { loadModel, type LoadModelOptions } from './load.js';
import { ggufFileOf } from './gguf/load.js';
import { loadGgufTokenizer } from './gguf/files.js';
import { resolveModelPath } from './hub/cache.js';
import type { LanguageModel } from './models/base.js';
import { loadTokenizer, type Tokenizer, type TokenizerOptions } from './tokenizer.js';

export interface LoadOptions extends LoadModelOptions {
  /** Options for the tokenizer (extra eos ids, a chat template to use instead of the model's). */
  tokenizer?: TokenizerOptions;
}

/**
 * The model and tokenizer of a Hugging Face model folder, or of a repo id (`org/name`) already
 * in the Hugging Face cache (`lathe download org/name`): `const { model, tokenizer } =
 * load('models/tiny-llama')`. The tokenizer's eos ids include config.json's and
 * generation_config.json's. Synchronous, like loadModel.
 */
export function load(dir: string, options: LoadOptions = {}): { model: LanguageModel; tokenizer: Tokenizer } {
  const { tokenizer: tokenizerOptions, ...modelOptions } = options;
  const gguf = ggufFileOf(dir);
  if (gguf) return { model: loadModel(gguf, modelOptions), tokenizer: loadGgufTokenizer(gguf, tokenizerOptions) };
  dir = resolveModelPath(dir); // 'org/name' -> its snapshot in the Hugging Face cache
  const model = loadModel(dir, modelOptions);
  const tokenizer = loadTokenizer(dir, tokenizerOptions);
  return { model, tokenizer };
}
