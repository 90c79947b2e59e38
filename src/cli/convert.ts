// `lathe convert`: a model folder to another with its weights cast and/or quantized in MLX's
// layout (lathe/lm's convert).
import { parseArgs } from 'node:util';
import { convert } from '../lm/convert.js';
import { UsageError, int, modelDir } from './args.js';
import { ggufFileOf } from '../lm/gguf/load.js';

export const CONVERT_HELP = `lathe convert --model DIR --out DIR [-q [--q-bits 4] [--q-group-size 64]] [--dtype bf16]

Writes a copy of a model folder that lathe (and MLX-LM) loads: weights cast to --dtype
(float16/fp16, bfloat16/bf16, float32/fp32) and, with -q, Linear and Embedding layers
quantized (MLX's affine layout: weight, scales, biases; a "quantization" entry in
config.json). Tokenizer and other files are copied.

--model may be a GGUF file (llama.cpp's format): it is written as a model folder, its
Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q4_K/Q5_K matrices kept quantized in MLX's layout (groups of 32),
other types dequantized to --dtype (default: float16, or float32 for an F32 file); -q
dequantizes everything first and quantizes anew; the tokenizer comes from its metadata.

  --model DIR|FILE.gguf     the model folder (or GGUF file) to read
  --out DIR                 the folder to write (must not exist, or be empty)
  -q, --quantize            quantize
  --q-bits N                bits per weight: 2, 3, 4, 6 or 8 (default 4)
  --q-group-size N          weights per scale: 32, 64 or 128 (default 64)
  --dtype D                 cast the floating-point weights first`;

export async function convertCommand(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' }, out: { type: 'string' }, quantize: { type: 'boolean', short: 'q' },
      'q-bits': { type: 'string' }, 'q-group-size': { type: 'string' }, dtype: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) { process.stdout.write(CONVERT_HELP + '\n'); return; }
  if (!v.model) throw new UsageError('[lathe convert] --model is required');
  if (!v.out) throw new UsageError('[lathe convert] --out is required');
  if (!v.quantize && (v['q-bits'] || v['q-group-size'])) throw new UsageError('[lathe convert] --q-bits and --q-group-size need -q');
  const gguf = ggufFileOf(v.model); // a GGUF file converts as it is (its quantized layers stay quantized)
  if (!gguf && !v.quantize && !v.dtype) throw new UsageError('[lathe convert] nothing to do: pass -q to quantize and/or --dtype to cast');
  convert(gguf ?? modelDir(v.model), v.out, {
    quantize: v.quantize === true,
    qBits: int('q-bits', v['q-bits'], 1),
    qGroupSize: int('q-group-size', v['q-group-size'], 1),
    dtype: v.dtype,
    log: (s) => process.stderr.write(s + '\n'),
  });
}
