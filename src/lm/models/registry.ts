// model_type (config.json) -> architecture file. A new architecture is one file and one line here.
import type { LanguageModel, ModelConfig } from './base.js';
import * as llama from './llama.js';
import * as qwen2 from './qwen2.js';
import * as qwen3 from './qwen3.js';
import * as qwen3Moe from './qwen3_moe.js';
import * as mixtral from './mixtral.js';
import * as gemma2 from './gemma2.js';
import * as gemma3Text from './gemma3_text.js';
import * as phi3 from './phi3.js';

/** What an architecture file provides: a model built from its config.json. */
export interface Architecture {
  fromConfig(config: ModelConfig, where?: string): LanguageModel;
}

const ARCHITECTURES = new Map<string, Architecture>([
  ['llama', llama],
  ['mistral', llama], // Llama's layout with a sliding window
  ['qwen2', qwen2],
  ['qwen3', qwen3],
  ['qwen3_moe', qwen3Moe],
  ['mixtral', mixtral],
  ['gemma2', gemma2],
  ['gemma3_text', gemma3Text],
  ['phi3', phi3],
]);

/** The model_type values lathe can load, sorted. */
export function supportedModelTypes(): string[] {
  return [...ARCHITECTURES.keys()].sort();
}

/** The architecture of a model_type; an unknown one is an error that lists the supported ones. */
export function getArchitecture(modelType: string, where = 'config.json'): Architecture {
  const arch = ARCHITECTURES.get(modelType);
  if (!arch) throw new Error(`[loadModel] ${where}: model_type '${modelType}' is not supported; supported: ${supportedModelTypes().join(', ')}`);
  return arch;
}

/** Adds (or replaces) the architecture used for `modelType`. */
export function registerArchitecture(modelType: string, arch: Architecture): void {
  ARCHITECTURES.set(modelType, arch);
}
