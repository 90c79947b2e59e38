// Constrained decoding for structured output: OpenAI's response_format (json_object,
// json_schema) as a logits processor that keeps generated text valid JSON for a schema.
export {
  makeResponseFormatProcessor, responseFormatRoot, JsonRecognizer,
  type ResponseFormat, type JsonSchemaFormat, type ConstrainedProcessor, type ConstrainedOptions,
} from './processor.js';
export { compileSchema, SchemaError, type SchemaNode, type CompileOptions } from './schema.js';
export { PatternError } from './regex.js';
export { TokenTrie, tokenTrie, type TokenVocabulary } from './vocab.js';
export { MaskCache, maskCache } from './mask.js';
