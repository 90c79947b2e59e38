// Chat templates: the shipped template, a ChatML template with tools, where templates are
// read from, generation prompts, continuing a message, extra variables and errors. The
// expected strings are what Python's jinja2 renders with transformers' settings
// (trim_blocks, lstrip_blocks, tojson without ASCII escapes), checked by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer, loadTokenizer, renderChatTemplate, readChatTemplate, type ChatMessage } from '../../src/lm/index.js';
import { TINY_LLAMA, byteLevelTokenizer } from './text-fixtures.js';

const conversation: ChatMessage[] = [
  { role: 'system', content: 'You are a sailor.' },
  { role: 'user', content: 'Call me Ishmael.' },
  { role: 'assistant', content: 'Aye.' },
  { role: 'user', content: 'Where is the whale?' },
];

// Qwen 2.5's template, shortened: a system turn (with tools listed when given), ChatML turns.
const CHATML_WITH_TOOLS = `{%- if tools %}<|im_start|>system
{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}{% else %}You are a helpful assistant.{% endif %}

# Tools
<tools>
{%- for tool in tools %}
{{ tool | tojson }}
{%- endfor %}
</tools><|im_end|>
{% elif messages[0]['role'] == 'system' %}<|im_start|>system
{{ messages[0]['content'] }}<|im_end|>
{% endif %}
{%- for message in messages %}{% if message.role != 'system' %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endif %}{% endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% if enable_thinking is defined and enable_thinking is false %}<think>

</think>

{% endif %}{% endif %}`;

test('the shipped chat template renders turns, and a generation prompt when asked', () => {
  const tok = loadTokenizer(TINY_LLAMA);
  assert.ok(tok.hasChatTemplate);
  const text = tok.applyChatTemplate(conversation, { tokenize: false, addGenerationPrompt: true });
  assert.equal(text,
    '<|system|>\nYou are a sailor.<|end|>\n<|user|>\nCall me Ishmael.<|end|>\n<|assistant|>\nAye.<|end|>\n'
    + '<|user|>\nWhere is the whale?<|end|>\n<|assistant|>\n');
  assert.equal(tok.applyChatTemplate(conversation.slice(0, 2), { tokenize: false }), '<|system|>\nYou are a sailor.<|end|>\n<|user|>\nCall me Ishmael.<|end|>\n');
  // Tokenized: the special tokens are single ids, and nothing is added around the text.
  const ids = tok.applyChatTemplate([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true });
  assert.equal(ids[0], tok.tokenToId('<|user|>'));
  assert.equal(ids[ids.length - 2], tok.tokenToId('<|assistant|>'));
  assert.equal(tok.decode(ids), '<|user|>\nhi<|end|>\n<|assistant|>\n');
});

test('the shipped template lists tools in a system turn', () => {
  const tok = loadTokenizer(TINY_LLAMA);
  const tools = [{ type: 'function', function: { name: 'harpoon', parameters: { type: 'object', properties: { target: { type: 'string' } } } } }];
  const text = tok.applyChatTemplate([{ role: 'user', content: 'Thar she blows!' }], { tokenize: false, tools, addGenerationPrompt: true });
  assert.equal(text,
    '<|system|>\nYou can call these tools:\n'
    + '{"type": "function", "function": {"name": "harpoon", "parameters": {"type": "object", "properties": {"target": {"type": "string"}}}}}\n'
    + '<|end|>\n<|user|>\nThar she blows!<|end|>\n<|assistant|>\n');
});

test('a ChatML template with tools, extra template arguments and a system prompt', () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'The weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
  const messages: ChatMessage[] = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Weather in Nantucket?' }];
  const plain = renderChatTemplate(CHATML_WITH_TOOLS, messages, {}, { addGenerationPrompt: true });
  assert.equal(plain, '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWeather in Nantucket?<|im_end|>\n<|im_start|>assistant\n');
  const withTools = renderChatTemplate(CHATML_WITH_TOOLS, messages, {}, { addGenerationPrompt: true, tools, templateArgs: { enable_thinking: false } });
  assert.equal(withTools,
    '<|im_start|>system\nBe brief.\n# Tools\n<tools>'
    + '{"type": "function", "function": {"name": "get_weather", "description": "The weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}'
    + '</tools><|im_end|>\n<|im_start|>user\nWeather in Nantucket?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
  const noPrompt = renderChatTemplate(CHATML_WITH_TOOLS, messages.slice(1), {}, {});
  assert.equal(noPrompt, '<|im_start|>user\nWeather in Nantucket?<|im_end|>\n');
});

test('special tokens reach the template; continueFinalMessage leaves the last turn open', () => {
  const template = "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}";
  const tok = new Tokenizer(byteLevelTokenizer(), { bos_token: 'the', eos_token: '<|end|>', chat_template: template });
  const messages: ChatMessage[] = [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'The whale is' }];
  assert.equal(tok.applyChatTemplate(messages, { tokenize: false }), 'the[user] Hi<|end|>[assistant] The whale is<|end|>');
  assert.equal(tok.applyChatTemplate(messages, { tokenize: false, continueFinalMessage: true }), 'the[user] Hi<|end|>[assistant] The whale is');
  assert.throws(() => tok.applyChatTemplate(messages, { addGenerationPrompt: true, continueFinalMessage: true }), /cannot both be set/);
});

test('chat_template.jinja wins over tokenizer_config.json; named template lists; no template is an error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lathe-chat-'));
  const config = { chat_template: [{ name: 'default', template: 'D{{ messages[0].content }}' }, { name: 'tool_use', template: 'T' }] };
  assert.equal(readChatTemplate(dir, config), 'D{{ messages[0].content }}');
  assert.equal(readChatTemplate(dir, config, 'tool_use'), 'T');
  assert.throws(() => readChatTemplate(dir, config, 'rag'), /no chat template named 'rag' \(it has: default, tool_use\)/);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(byteLevelTokenizer()));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  writeFileSync(join(dir, 'chat_template.jinja'), 'J{{ messages[0].content }}');
  assert.equal(loadTokenizer(dir).applyChatTemplate([{ role: 'user', content: 'x' }], { tokenize: false }), 'Jx');

  const bare = new Tokenizer(byteLevelTokenizer());
  assert.equal(bare.hasChatTemplate, false);
  assert.throws(() => bare.applyChatTemplate([{ role: 'user', content: 'x' }]), /has no chat template/);
  assert.equal(bare.applyChatTemplate([{ role: 'user', content: 'x' }], { tokenize: false, chatTemplate: '<{{ messages[0].content }}>' }), '<x>');
  assert.throws(() => renderChatTemplate('{% for %}', [{ role: 'user', content: 'x' }]), /does not parse/);
  assert.throws(() => renderChatTemplate("{{ raise_exception('roles must alternate') }}", [{ role: 'user', content: 'x' }]), /roles must alternate/);
});

// apply_chat_template's renderings and ids, from transformers (scripts/fixtures/lm_text.py).
const FIXTURES = join(TINY_LLAMA, '../../test/fixtures/lm_text');
interface ChatCase { name: string; messages: ChatMessage[]; kwargs: Record<string, unknown>; text?: string; ids?: number[]; error?: string }
const chats = JSON.parse(readFileSync(join(FIXTURES, 'reference.json'), 'utf8')).chat as Record<string, ChatCase[]>;
const dirs: Record<string, string> = { bytelevel: join(FIXTURES, 'bytelevel'), sentencepiece: join(FIXTURES, 'sentencepiece'), 'tiny-llama': TINY_LLAMA };

for (const [name, cases] of Object.entries(chats)) {
  test(`${name}: chat templates render what transformers' apply_chat_template rendered`, () => {
    const tok = loadTokenizer(dirs[name]);
    for (const c of cases) {
      const { add_generation_prompt, continue_final_message, tools, ...templateArgs } = c.kwargs;
      const options = {
        addGenerationPrompt: add_generation_prompt === true, continueFinalMessage: continue_final_message === true,
        tools: (tools ?? null) as Record<string, unknown>[] | null, templateArgs,
      };
      if (c.error !== undefined) {
        assert.throws(() => tok.applyChatTemplate(c.messages, { ...options, tokenize: false }), (e: Error) => e.message.includes(c.error!), c.name);
        continue;
      }
      assert.equal(tok.applyChatTemplate(c.messages, { ...options, tokenize: false }), c.text, `${name} ${c.name}`);
      assert.deepEqual(tok.applyChatTemplate(c.messages, options), c.ids, `${name} ${c.name} ids`);
    }
  });
}
