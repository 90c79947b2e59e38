// Saving and loading a trained CharLM: the weights in a safetensors file, with the model's
// configuration and vocabulary in its string metadata, so one file is enough to sample.
import * as mx from '../../src/index.js';
import { loadSafetensors, saveSafetensors } from '../../src/io/index.js';
import { treeFlatten } from '../../src/utils/index.js';
import { CharLM, CharLMConfig } from './model.js';
import { Vocab } from './data.js';

export function saveCharLM(path: string, model: CharLM, vocab: Vocab): void {
  const weights = Object.fromEntries(treeFlatten<mx.Array>(model.parameters()));
  saveSafetensors(path, weights, { format: 'lathe-charlm', config: JSON.stringify(model.config), vocab: JSON.stringify(vocab.chars) });
}

/** A model built from the file's configuration, with its weights (strict: every key and shape must match). */
export function loadCharLM(path: string): { model: CharLM; vocab: Vocab } {
  const { tensors, metadata } = loadSafetensors(path);
  if (metadata.format !== 'lathe-charlm' || !metadata.config || !metadata.vocab)
    throw new Error(`[loadCharLM] '${path}' is not a CharLM checkpoint: expected metadata format 'lathe-charlm' with config and vocab, got keys ${Object.keys(metadata).join(', ') || 'none'}`);
  const config = JSON.parse(metadata.config) as CharLMConfig;
  const vocab = new Vocab(JSON.parse(metadata.vocab) as string[]);
  const model = new CharLM(config);
  model.loadWeights(Object.entries(tensors));
  mx.eval(model.parameters());
  model.eval();
  return { model, vocab };
}
