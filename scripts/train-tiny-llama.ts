// Trains the model that ships in models/tiny-llama: a byte-level BPE tokenizer and a small
// Llama, both learned by lathe from data/moby-dick.txt, written as a Hugging Face model
// folder (config.json, model.safetensors, tokenizer.json, tokenizer_config.json with a chat
// template, generation_config.json) that `lathe generate` and `lathe chat` load.
//
//   npx tsx scripts/train-tiny-llama.ts [--out models/tiny-llama] [--steps 500] [--seed 0]
//
// Paragraphs end with <|endoftext|>, so the model learns to stop; a share of the windows
// are chats (a sentence from the book as the user's turn, the next one as the reply), so
// `lathe chat` answers in the template's format and ends its turn with <|end|>.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Tokenizer } from '@huggingface/tokenizers';
import * as mx from '../src/index.js';
import * as nn from '../src/nn/index.js';
import * as optim from '../src/optimizers/index.js';
import * as io from '../src/io/index.js';
import { treeFlatten } from '../src/utils/index.js';
import { renderChatTemplate } from '../src/lm/chat-template.js';
import { load, generate } from '../src/lm/index.js';
import { trainByteLevelBpe, byteLevelTokenizerJson } from './tiny-llama/bpe.js';
import { TinyLlama, type TinyLlamaConfig } from './tiny-llama/model.js';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'models/tiny-llama' },
    data: { type: 'string', default: 'data/moby-dick.txt' },
    steps: { type: 'string', default: '500' },
    'batch-size': { type: 'string', default: '16' },
    context: { type: 'string', default: '128' },
    lr: { type: 'string', default: '3e-3' },
    seed: { type: 'string', default: '0' },
  },
});
const steps = Number(args.steps), batchSize = Number(args['batch-size']), context = Number(args.context);
const seed = Number(args.seed), peakLr = Number(args.lr);

const SPECIALS = ['<|endoftext|>', '<|user|>', '<|assistant|>', '<|system|>', '<|end|>'];
const VOCAB_SIZE = 1024;
const CHAT_TEMPLATE = [
  "{%- if tools -%}<|system|>\nYou can call these tools:\n{% for tool in tools %}{{ tool | tojson }}\n{% endfor %}<|end|>\n{% endif -%}",
  // Tool calls and tool responses, Hermes-style (what lathe serve parses); plain turns render as before.
  "{% for message in messages %}{% if message['role'] == 'tool' %}<|user|>\n<tool_response>\n{{ message['content'] }}\n</tool_response><|end|>\n",
  "{% else %}<|{{ message['role'] }}|>\n{% if message['content'] is string %}{{ message['content'] }}{% endif %}",
  "{% if message['tool_calls'] %}{% for tc in message['tool_calls'] %}<tool_call>\n{{ {'name': tc['function']['name'], 'arguments': tc['function']['arguments']} | tojson }}\n</tool_call>{% endfor %}{% endif %}",
  "<|end|>\n{% endif %}{% endfor %}",
  '{%- if add_generation_prompt -%}<|assistant|>\n{% endif -%}',
].join('');
const CONFIG: TinyLlamaConfig = {
  vocab_size: VOCAB_SIZE, hidden_size: 128, intermediate_size: 384, num_hidden_layers: 4,
  num_attention_heads: 4, num_key_value_heads: 2, rms_norm_eps: 1e-5, rope_theta: 10000,
  max_position_embeddings: 512, tie_word_embeddings: true,
};

/** mulberry32: seeded floats in [0, 1) for picking windows on the host. */
function seededRandom(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const log = (...a: unknown[]) => console.log(`[${(performance.now() / 1000).toFixed(0)}s]`, ...a);

// 1. The tokenizer.
const text = readFileSync(args.data!, 'utf8');
const bpe = trainByteLevelBpe(text, VOCAB_SIZE - SPECIALS.length, SPECIALS.length);
const tokenizerJson = byteLevelTokenizerJson(bpe, SPECIALS.map((content, id) => ({ id, content })));
const tokenizerConfig = {
  tokenizer_class: 'PreTrainedTokenizerFast',
  bos_token: null, eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: null,
  add_bos_token: false, add_eos_token: false, clean_up_tokenization_spaces: false,
  model_max_length: CONFIG.max_position_embeddings,
  added_tokens_decoder: Object.fromEntries(SPECIALS.map((content, id) => [String(id), { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true }])),
  chat_template: CHAT_TEMPLATE,
};
const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
const encode = (s: string) => tokenizer.encode(s, { add_special_tokens: false }).ids;
log(`tokenizer: ${VOCAB_SIZE} tokens, ${bpe.merges.length} merges`);

// 2. The data: paragraphs ending in <|endoftext|>, and chats made of consecutive sentences.
const paragraphs = text.split(/\n\s*\n/).map((p) => p.trim()).filter((p) => p.length > 0);
const prose: number[] = [];
for (const p of paragraphs) prose.push(...encode(p), 0);
const chats: number[] = [];
for (const p of paragraphs) {
  const sentences = p.split(/(?<=[.!?])\s+/).filter((s) => s.length > 2 && s.length < 300);
  for (let i = 0; i + 1 < sentences.length; i++) {
    chats.push(...encode(renderChatTemplate(CHAT_TEMPLATE, [{ role: 'user', content: sentences[i] }, { role: 'assistant', content: sentences[i + 1] }])));
  }
}
log(`data: ${prose.length} prose tokens (${(text.length / prose.length).toFixed(2)} characters each), ${chats.length} chat tokens`);
const proseIds = Int32Array.from(prose), chatIds = Int32Array.from(chats);

const random = seededRandom(seed + 1);
function batch(): [mx.Array, mx.Array] {
  const x = new Int32Array(batchSize * context), y = new Int32Array(batchSize * context);
  for (let b = 0; b < batchSize; b++) {
    const ids = random() < 0.3 ? chatIds : proseIds;
    const at = Math.floor(random() * (ids.length - context - 1));
    x.set(ids.subarray(at, at + context), b * context);
    y.set(ids.subarray(at + 1, at + context + 1), b * context);
  }
  return [mx.array(x).reshape([batchSize, context]), mx.array(y).reshape([batchSize, context])];
}

// 3. The model and a compiled AdamW step (the pattern of examples/charlm/train.ts).
mx.random.seed(seed);
const model = new TinyLlama(CONFIG);
mx.eval(model.parameters());
const nParams = treeFlatten<mx.Array>(model.parameters()).reduce((n, [, a]) => n + a.size, 0);
log(`model: ${nParams} parameters`);
const mask = nn.MultiHeadAttention.createAdditiveCausalMask(context);
mx.eval(mask);
const warmup = Math.min(50, Math.max(1, steps - 1));
const schedule = optim.joinSchedules([optim.linearSchedule(0, peakLr, warmup), optim.cosineDecay(peakLr, Math.max(1, steps - warmup), peakLr / 10)], [warmup]);
const optimizer = new optim.AdamW(schedule, { betas: [0.9, 0.95], weightDecay: 0.1 });
optimizer.init(model.trainableParameters());
const lossAndGrad = nn.valueAndGrad(model, (x: mx.Array, y: mx.Array) => nn.losses.crossEntropy(model.forward(x, mask), y, null, -1, 0, 'mean'));
const state: { model: nn.ParamTree; optimizer: optim.OptimizerState } = { model: model.parameters(), optimizer: optimizer.state };
const compiled = mx.compile((x: mx.Array, y: mx.Array) => {
  model.update(state.model);
  const [loss, grads] = lossAndGrad(x, y);
  optimizer.update(model, optim.clipGradNorm(grads, 1.0)[0]);
  state.model = model.parameters();
  return loss;
}, { inputs: state, outputs: state });

let recent = 0;
for (let i = 0; i < steps; i++) {
  const [x, y] = batch();
  const before = treeFlatten<mx.Array>(state).map(([, a]) => a);
  const loss = compiled(x, y);
  model.update(state.model);
  mx.eval(loss, state);
  const live = new Set(treeFlatten<mx.Array>(state).map(([, a]) => a));
  for (const a of before) if (!live.has(a)) a.dispose();
  const value = loss.item() as number;
  mx.dispose(loss, x, y);
  if (!Number.isFinite(value)) throw new Error(`[train-tiny-llama] the loss is ${value} at step ${i + 1}; lower --lr (now ${peakLr})`);
  recent += value;
  if ((i + 1) % 10 === 0 || i === steps - 1) {
    log(`step ${i + 1}/${steps}: loss ${(recent / ((i % 10) + 1)).toFixed(3)}`);
    recent = 0;
  }
}

// 4. The model folder.
const out = args.out!;
mkdirSync(out, { recursive: true });
const weights = Object.fromEntries(treeFlatten<mx.Array>(model.parameters()));
io.saveSafetensors(join(out, 'model.safetensors'), weights, { format: 'pt' });
const json = (name: string, value: unknown) => writeFileSync(join(out, name), JSON.stringify(value, null, 2) + '\n');
json('config.json', {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', ...CONFIG, head_dim: CONFIG.hidden_size / CONFIG.num_attention_heads,
  hidden_act: 'silu', attention_bias: false, mlp_bias: false, rope_scaling: null, torch_dtype: 'float32',
  bos_token_id: null, eos_token_id: [0, 4], pad_token_id: 0,
});
json('generation_config.json', { bos_token_id: null, eos_token_id: [0, 4], pad_token_id: 0 });
json('tokenizer_config.json', tokenizerConfig);
writeFileSync(join(out, 'tokenizer.json'), JSON.stringify(tokenizerJson));
log(`wrote ${out}`);

// The folder must load with lathe/lm and give the same logits as the model trained here.
const { model: loaded, tokenizer: lmTokenizer } = load(out);
const probe = mx.array([encode('Call me Ishmael. Some years ago')], mx.int32);
const gap = mx.tidy(() => mx.max(mx.abs(mx.subtract(loaded.forward(probe), model.forward(probe, nn.MultiHeadAttention.createAdditiveCausalMask(probe.shape[1]))))).item() as number);
if (!(gap < 1e-4)) throw new Error(`[train-tiny-llama] loadModel(${out}) gives logits ${gap} away from the trained model's`);
log(`reloaded with lathe/lm: logits within ${gap.toExponential(1)}`);
log('sample:', JSON.stringify(await generate(loaded, lmTokenizer, 'Call me', { maxTokens: 40 })));
