// lathe/lm: Hugging Face language models in lathe (MLX-LM in camelCase): load a model folder,
// tokenize and render chats, generate (streaming, batched, speculative), KV and prompt caches.
import '../backends.js'; // every entry point can evaluate on its own
export { load, type LoadOptions } from './load-with-tokenizer.js';
export { loadModel, loadConfig, loadGenerationConfig, type LoadModelOptions } from './load.js';
export { LanguageModel, type BaseModelArgs, type ModelConfig, type Weights } from './models/base.js';
export { supportedModelTypes, registerArchitecture, type Architecture } from './models/registry.js';
export {
  KVCache, RotatingKVCache, QuantizedKVCache, makePromptCache, savePromptCache, loadPromptCache,
  maybeQuantizeKVCache, createAttentionMask, maskArray, cacheState, type AttentionMask, type CacheOptions, type CacheableModel,
} from './cache.js';
export { Tokenizer, loadTokenizer, type TokenizerOptions } from './tokenizer.js';
export {
  ByteStreamDetokenizer, NaiveStreamingDetokenizer, detokenizerKind,
  type StreamingDetokenizer, type DetokenizerKind,
} from './detokenizer.js';
export { renderChatTemplate, readChatTemplate, chatTemplateFromConfig, type ChatMessage, type ChatTemplateOptions } from './chat-template.js';
export {
  makeSampler, makeLogitsProcessors, greedySampler, applyTopK, applyTopP, applyMinP, categoricalSampling,
  makeRepetitionPenalty, makePresencePenalty, makeFrequencyPenalty,
  type Sampler, type LogitsProcessor, type SamplerOptions, type LogitsProcessorOptions,
} from './sample.js';
export { generateStep, type GenerationModel, type GenerateOptions, type StepToken, type TokenLogprobs } from './step.js';
export { streamGenerate, generate, promptTokens, type Prompt, type GenerationResponse, type FinishReason } from './generate.js';
export { batchGenerate, type BatchResponse } from './batch.js';
export { speculativeSteps } from './speculative.js';
export { convert, type ConvertOptions } from './convert.js';
export { snapshotDownload, DEFAULT_INCLUDE, type DownloadOptions } from './hub/download.js';
export { resolveModelPath, cachedSnapshotDir, repoFolderName } from './hub/cache.js';
export { hubCacheDir, hubEndpoint } from './hub/env.js';
export { ProgressBar, type DownloadState, type ProgressBarOptions } from './hub/progress.js';
export { loadGgufModel, readGgufModel, ggufFileOf, type LoadGgufOptions } from './gguf/load.js';
export { loadGgufTokenizer } from './gguf/files.js';
export { saveGgufModel, type SaveGgufOptions, type GgufOutType } from './gguf/write.js';
export { supportedGgufArchitectures } from './gguf/names.js';
export { LRUPromptCache, type PromptCacheOptions, type CacheFetch } from './prompt-cache.js';
export {
  serve, createServer, LatheServer, Engine, EngineError, JobHandle, BatchCache, ApiError,
  type ServeOptions, type ServerOptions, type LoadedModel, type EngineOptions, type EngineStats, type GenerationJob,
  type JobEvent, type SequenceParams, type RowConstraint, type TokenInfo,
} from './server/index.js';
export {
  makeResponseFormatProcessor, responseFormatRoot, JsonRecognizer, SchemaError, PatternError, compileSchema,
  type ResponseFormat, type JsonSchemaFormat, type ConstrainedProcessor, type ConstrainedOptions, type TokenVocabulary,
} from './constrained/index.js';
export {
  parseToolCalls, detectToolFamily, toolCallStart, ToolCallStream, makeToolCallId,
  type ToolCall, type ToolCallFamily, type ParsedToolCalls, type ParseToolCallsOptions,
} from './tool-calls.js';
