// The hookups of structured output: response_format through constrained decoding
// (lm/constrained), and tool calls in generated text parsed into OpenAI's tool_calls.
import { makeResponseFormatProcessor, SchemaError, type ConstrainedOptions, type ConstrainedProcessor, type ResponseFormat } from '../constrained/index.js';
import type { Tokenizer } from '../tokenizer.js';
import type { RowConstraint } from './engine.js';
import { badParam } from './errors.js';
import { detectToolFamily, type ToolCallFamily } from '../tool-calls.js';

/**
 * A factory of per-choice constraints for a response_format (null for none). The format is
 * compiled once here, so a malformed or unsupported schema is a 400 before generation.
 */
export function responseFormatConstraint(tokenizer: Tokenizer | null, format: Record<string, unknown> | null, options: ConstrainedOptions = {}): (() => RowConstraint) | null {
  if (!format) return null;
  if (!tokenizer) throw badParam('response_format', "'response_format' needs a tokenizer");
  let first: ConstrainedProcessor | null;
  try {
    first = makeResponseFormatProcessor(tokenizer, format as ResponseFormat, options);
  } catch (e) {
    if (e instanceof SchemaError) throw badParam('response_format', (e as Error).message);
    throw e;
  }
  if (!first) return null;
  const base = first;
  return () => base.clone();
}

/** The tool-call syntax of the model's chat template ('hermes' `<tool_call>` when it names none lathe knows). */
export function toolFamily(tokenizer: Tokenizer | null): ToolCallFamily {
  return detectToolFamily(tokenizer) ?? 'hermes';
}
