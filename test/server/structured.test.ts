// Structured output through the openai client: response_format json_schema / json_object
// (constrained decoding: the output parses and matches the schema), and tools (definitions
// rendered by the chat template, calls in the reply returned as tool_calls, streamed or not).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { MODEL_ID, client, scripted, startServer, tiny } from './helpers.js';

const server = await startServer({ jsonMaxWhitespace: 1 });
after(() => server.close());
const openai = client(server);

const SAILOR = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 12 },
    rank: { type: 'string', enum: ['captain', 'mate', 'harpooneer'] },
    aboard: { type: 'boolean' },
    ships: { type: 'array', items: { type: 'string', enum: ['Pequod', 'Rachel'] }, maxItems: 2 },
  },
  required: ['name', 'rank', 'aboard', 'ships'],
  additionalProperties: false,
};

/** The schema above, checked by hand. */
function isSailor(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return Object.keys(o).sort().join() === 'aboard,name,rank,ships'
    && typeof o.name === 'string' && o.name.length <= 12
    && ['captain', 'mate', 'harpooneer'].includes(o.rank as string)
    && typeof o.aboard === 'boolean'
    && Array.isArray(o.ships) && o.ships.length <= 2 && o.ships.every((s) => s === 'Pequod' || s === 'Rachel');
}

test('json_schema: every choice parses and matches the schema (greedy and sampled, streamed too)', async () => {
  const response_format = { type: 'json_schema' as const, json_schema: { name: 'sailor', schema: SAILOR, strict: true } };
  const messages = [{ role: 'user' as const, content: 'Who sails the Pequod? Answer in JSON.' }];
  const r = await openai.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 120, temperature: 0.9, seed: 5, n: 2, response_format });
  for (const c of r.choices) {
    assert.equal(c.finish_reason, 'stop', c.message.content ?? '');
    assert.ok(isSailor(JSON.parse(c.message.content!)), c.message.content!);
  }
  const stream = await openai.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 120, temperature: 0, response_format, stream: true });
  let text = '';
  for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
  assert.ok(isSailor(JSON.parse(text)), text);
  // json_object: any JSON object.
  const o = await openai.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 120, temperature: 0, response_format: { type: 'json_object' } });
  if (o.choices[0].finish_reason === 'stop') {
    const v = JSON.parse(o.choices[0].message.content!);
    assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v));
  }
  // An unsupported schema is a 400 naming response_format.
  await assert.rejects(openai.chat.completions.create({
    model: MODEL_ID, messages, max_tokens: 5,
    response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { $ref: 'http://elsewhere' } } } } },
  }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'response_format');
});

test('tools render into the prompt through the chat template', async () => {
  const tools = [{ type: 'function' as const, function: { name: 'harpoon', description: 'Throw a harpoon', parameters: { type: 'object', properties: { target: { type: 'string' } } } } }];
  const messages = [{ role: 'user' as const, content: 'Thar she blows!' }];
  const plain = await openai.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 1, temperature: 0 });
  const withTools = await openai.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 1, temperature: 0, tools });
  const rendered = tiny().tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true, tools });
  assert.equal(withTools.usage!.prompt_tokens, rendered.length);
  assert.ok(withTools.usage!.prompt_tokens > plain.usage!.prompt_tokens);
  // tool_choice 'none' leaves them out.
  const none = await openai.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 1, temperature: 0, tools, tool_choice: 'none' });
  assert.equal(none.usage!.prompt_tokens, plain.usage!.prompt_tokens);
});

test('a reply with a <tool_call> becomes tool_calls (finish_reason tool_calls), streamed or not; history round-trips', async () => {
  const reply = 'Aye.<tool_call>\n{"name": "harpoon", "arguments": {"target": "whale", "force": 3}}\n</tool_call>';
  const fake = scripted(reply);
  const s = await startServer({ model: fake });
  try {
    const c = client(s);
    const tools = [{ type: 'function' as const, function: { name: 'harpoon', parameters: { type: 'object', properties: { target: { type: 'string' }, force: { type: 'integer' } } } } }];
    const messages = [{ role: 'user' as const, content: 'Thar she blows!' }];
    fake.model.promptLength = fake.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true, tools }).length;
    const r = await c.chat.completions.create({ model: MODEL_ID, messages, tools, max_tokens: 100 });
    const ch = r.choices[0];
    assert.equal(ch.finish_reason, 'tool_calls');
    assert.equal(ch.message.content, 'Aye.');
    assert.equal(ch.message.tool_calls!.length, 1);
    const call = ch.message.tool_calls![0] as { id: string; type: string; function: { name: string; arguments: string } };
    assert.equal(call.type, 'function');
    assert.match(call.id, /^call_/);
    assert.equal(call.function.name, 'harpoon');
    assert.deepEqual(JSON.parse(call.function.arguments), { target: 'whale', force: 3 });

    const stream = await c.chat.completions.create({ model: MODEL_ID, messages, tools, max_tokens: 100, stream: true });
    let content = '', finish = null;
    const streamed: { index: number; id?: string; function?: { name?: string; arguments?: string } }[] = [];
    for await (const chunk of stream) {
      const d = chunk.choices[0];
      content += d.delta.content ?? '';
      streamed.push(...(d.delta.tool_calls ?? []));
      finish = d.finish_reason ?? finish;
    }
    assert.equal(content, 'Aye.');
    assert.ok(!content.includes('<tool_call>'));
    assert.equal(finish, 'tool_calls');
    assert.equal(streamed.length, 1);
    assert.equal(streamed[0].function!.name, 'harpoon');
    assert.deepEqual(JSON.parse(streamed[0].function!.arguments!), { target: 'whale', force: 3 });

    // Without tools the same text is plain content.
    fake.model.promptLength = fake.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }).length;
    const plain = await c.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 100 });
    assert.equal(plain.choices[0].message.content, reply);
    assert.equal(plain.choices[0].finish_reason, 'stop');

    // The assistant's call and the tool's answer go back into the template.
    const history = [
      ...messages,
      { role: 'assistant' as const, content: null, tool_calls: [call as never] },
      { role: 'tool' as const, tool_call_id: call.id, content: '{"hit": true}' },
    ];
    const rendered = fake.tokenizer.applyChatTemplate(history.map((m) => ('tool_calls' in m ? { ...m, tool_calls: [{ ...call, function: { name: 'harpoon', arguments: { target: 'whale', force: 3 } } }] } : m)) as never, { addGenerationPrompt: true, tools, tokenize: false });
    assert.ok(rendered.includes('<tool_call>\n{"name": "harpoon", "arguments": {"target": "whale", "force": 3}}\n</tool_call>'));
    assert.ok(rendered.includes('<tool_response>\n{"hit": true}\n</tool_response>'));
    fake.model.promptLength = fake.tokenizer.encode(rendered, { addSpecialTokens: false }).length;
    const next = await c.chat.completions.create({ model: MODEL_ID, messages: history, tools, max_tokens: 100 });
    assert.equal(next.usage!.prompt_tokens, fake.model.promptLength);
  } finally {
    await s.close();
  }
});
