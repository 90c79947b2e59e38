// Tool calls in generated text: Qwen/Hermes <tool_call> blocks and Llama 3.1 JSON calls, the
// family picked from the chat template, malformed calls kept as content, and the streaming
// helper that holds back text that may be a call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectToolFamily, parseToolCalls, toolCallStart, ToolCallStream, type ToolCallFamily } from '../../src/lm/tool-calls.js';
import { loadTokenizer } from '../../src/lm/tokenizer.js';
import { TINY_LLAMA } from './text-fixtures.js';

// The tool parts of the real templates, written out by hand.
const QWEN25_TEMPLATE = `{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}{{- "\\n" }}{{- tool | tojson }}{%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- endif %}
{%- for message in messages %}
    {%- if message.role == "assistant" and message.tool_calls %}
        {%- for tool_call in message.tool_calls %}
            {{- '\\n<tool_call>\\n{"name": "' }}{{- tool_call.function.name }}{{- '", "arguments": ' }}{{- tool_call.function.arguments | tojson }}{{- '}\\n</tool_call>' }}
        {%- endfor %}
    {%- elif message.role == "tool" %}
        {{- '<|im_start|>user\\n<tool_response>\\n' }}{{- message.content }}{{- '\\n</tool_response><|im_end|>\\n' }}
    {%- endif %}
{%- endfor %}`;

const LLAMA31_TEMPLATE = `{%- if custom_tools is defined %}{%- set tools = custom_tools %}{%- endif %}
{%- if builtin_tools is defined or tools is not none %}{{- "Environment: ipython\\n" }}{%- endif %}
{%- if tools is not none and not tools_in_user_message %}
    {{- "Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\\n\\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
{%- endif %}
{%- for message in messages %}
    {%- if 'tool_calls' in message %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}{{- "<|python_tag|>" + tool_call.name + ".call(" }}
        {%- else %}
            {{- '{"name": "' + tool_call.name + '", ' }}{{- '"parameters": ' }}{{- tool_call.arguments | tojson }}{{- "}" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
    {%- endif %}
{%- endfor %}`;

const ids = () => { let n = 0; return () => `call_${n++}`; };

test('detectToolFamily reads the chat template', () => {
  assert.equal(detectToolFamily(QWEN25_TEMPLATE), 'hermes');
  assert.equal(detectToolFamily(LLAMA31_TEMPLATE), 'llama3');
  assert.equal(detectToolFamily({ chatTemplate: 'Environment: ipython' }), 'llama3');
  assert.equal(detectToolFamily({ chatTemplate: "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}" }), null);
  const tiny = loadTokenizer(TINY_LLAMA); // a Tokenizer works too
  assert.equal(detectToolFamily(tiny), detectToolFamily(tiny.chatTemplate));
  assert.equal(detectToolFamily(null), null);
  assert.equal(detectToolFamily({ chatTemplate: null }), null);
});

test('hermes: one call, several calls, text around them', () => {
  const one = parseToolCalls('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Nantucket", "unit": "celsius"}}\n</tool_call>', 'hermes', { makeId: ids() });
  assert.deepEqual(one, { content: null, toolCalls: [{ id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Nantucket","unit":"celsius"}' } }] });
  assert.deepEqual(JSON.parse(one.toolCalls[0].function.arguments), { city: 'Nantucket', unit: 'celsius' });

  const text = 'Let me check both ports.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Nantucket"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>';
  const many = parseToolCalls(text, 'hermes', { makeId: ids() });
  assert.equal(many.content, 'Let me check both ports.');
  assert.deepEqual(many.toolCalls.map((c) => [c.id, c.function.name, c.function.arguments]), [['call_0', 'get_weather', '{"city":"Nantucket"}'], ['call_1', 'get_time', '{}']]);

  // Default ids look like OpenAI's.
  assert.match(parseToolCalls(text).toolCalls[0].id, /^call_[A-Za-z0-9]{24}$/);
  // Arguments already encoded as a string; missing arguments; the closing tag cut off by the end of generation.
  assert.equal(parseToolCalls('<tool_call>\n{"name": "f", "arguments": "{\\"a\\": 1}"}\n</tool_call>').toolCalls[0].function.arguments, '{"a": 1}');
  assert.equal(parseToolCalls('<tool_call>{"name": "f"}</tool_call>').toolCalls[0].function.arguments, '{}');
  assert.equal(parseToolCalls('<tool_call>\n{"name": "f", "arguments": {"x": [1, 2]}}\n').toolCalls[0].function.arguments, '{"x":[1,2]}');
  // No call: all content; blank: null.
  assert.deepEqual(parseToolCalls('Call me Ishmael.', 'hermes'), { content: 'Call me Ishmael.', toolCalls: [] });
  assert.deepEqual(parseToolCalls('  \n', 'hermes'), { content: null, toolCalls: [] });
});

test('hermes: malformed calls stay content, never throw', () => {
  const bad = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Nant\n</tool_call>';
  assert.deepEqual(parseToolCalls(bad, 'hermes'), { content: bad, toolCalls: [] });
  for (const body of ['{"arguments": {}}', '{"name": 3}', '["get_weather"]', '{"name": "f", "arguments": [1]}', '{"name": "f", "arguments": "not json"}', 'get_weather(city="x")']) {
    const text = `<tool_call>\n${body}\n</tool_call>`;
    assert.deepEqual(parseToolCalls(text, 'hermes'), { content: text, toolCalls: [] }, body);
  }
  // A good call next to a bad one: the good one is a call, the bad one stays text.
  const mixed = parseToolCalls('<tool_call>\n{"name": "a", "arguments": {}}\n</tool_call>\n<tool_call>\n{oops}\n</tool_call>', 'hermes');
  assert.equal(mixed.toolCalls.length, 1);
  assert.equal(mixed.content, '<tool_call>\n{oops}\n</tool_call>');
});

test('llama3: JSON calls with parameters, after <|python_tag|>, several at once', () => {
  const one = parseToolCalls('{"name": "get_weather", "parameters": {"city": "Nantucket"}}', 'llama3', { makeId: ids() });
  assert.deepEqual(one, { content: null, toolCalls: [{ id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Nantucket"}' } }] });
  assert.equal(parseToolCalls('<|python_tag|>{"name": "get_time", "parameters": {}}', 'llama3').toolCalls[0].function.name, 'get_time');
  assert.equal(parseToolCalls('\n\n{"name": "f", "arguments": {"a": 1}}  ', 'llama3').toolCalls[0].function.arguments, '{"a":1}');
  const several = parseToolCalls('{"name": "a", "parameters": {"x": 1}}; {"name": "b", "parameters": {}}\n{"name": "c", "parameters": {"s": "};{"}}', 'llama3');
  assert.deepEqual(several.toolCalls.map((c) => c.function.name), ['a', 'b', 'c']);
  assert.equal(several.toolCalls[2].function.arguments, '{"s":"};{"}');
  const list = parseToolCalls('[{"name": "a", "parameters": {}}, {"name": "b", "parameters": {"y": true}}]', 'llama3');
  assert.deepEqual(list.toolCalls.map((c) => c.function.name), ['a', 'b']);
});

test('llama3: plain replies and malformed calls are content', () => {
  for (const text of ['The whale is white.', 'Here: {"name": "f", "parameters": {}}', '{"name": "f", "parameters": {"a": 1}', '{"answer": 42}', '{"name": "f", "parameters": 3}', '<|python_tag|>brave_search.call(query="whales")', '{"name": "a", "parameters": {}} and then some text']) {
    assert.deepEqual(parseToolCalls(text, 'llama3'), { content: text.trim(), toolCalls: [] }, text);
  }
  assert.throws(() => parseToolCalls('x', 'mistral' as ToolCallFamily), /unknown tool-call family/);
});

test('toolCallStart: where the server must start holding text back', () => {
  assert.equal(toolCallStart('Let me check.', 'hermes'), 13);
  assert.equal(toolCallStart('Let me check.\n<tool', 'hermes'), 14); // maybe the start of <tool_call>
  assert.equal(toolCallStart('Let me check.\n<tool_call>\n{"na', 'hermes'), 14);
  assert.equal(toolCallStart('a < b', 'hermes'), 5); // '<' followed by ' ' cannot be a call
  assert.equal(toolCallStart('a <', 'hermes'), 2);
  assert.equal(toolCallStart('', 'llama3'), 0);
  assert.equal(toolCallStart('\n <|pyth', 'llama3'), 0);
  assert.equal(toolCallStart('{"na', 'llama3'), 0);
  assert.equal(toolCallStart('The whale', 'llama3'), 9);
  assert.equal(toolCallStart('<b>bold</b>', 'llama3'), 11);
});

/** Streams `text` in `size`-character deltas; returns what was sent as content and the final parse. */
function stream(text: string, family: ToolCallFamily, size: number): { streamed: string; final: ReturnType<ToolCallStream['finish']> } {
  const s = new ToolCallStream(family, { makeId: ids() });
  let streamed = '';
  for (let i = 0; i < text.length; i += size) streamed += s.push(text.slice(i, i + size));
  return { streamed, final: s.finish() };
}

test('ToolCallStream never streams a call as content, and loses no text', () => {
  const hermes = 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Nantucket"}}\n</tool_call>';
  for (const size of [1, 3, 7, 1000]) {
    const { streamed, final } = stream(hermes, 'hermes', size);
    assert.equal(streamed, 'Let me check.\n');
    assert.deepEqual(final.toolCalls.map((c) => c.function.name), ['get_weather']);
    assert.equal(final.content, null);
    // Without a call every character is streamed or returned at the end.
    const plain = 'No calls here, only a < sign and <b>tags</b>.';
    const p = stream(plain, 'hermes', size);
    assert.equal(p.streamed + (p.final.content ?? ''), plain);
    assert.equal(p.final.toolCalls.length, 0);

    const llama = '<|python_tag|>{"name": "get_time", "parameters": {"tz": "EST"}}';
    const l = stream(llama, 'llama3', size);
    assert.equal(l.streamed, '');
    assert.equal(l.final.toolCalls[0].function.arguments, '{"tz":"EST"}');
    const reply = stream('The white whale.', 'llama3', size);
    assert.equal(reply.streamed + (reply.final.content ?? ''), 'The white whale.');
    assert.ok(reply.streamed.length > 0 || size >= 16);
    // A JSON-looking reply that is no call comes out whole at the end.
    const j = stream('{"answer": 42}', 'llama3', size);
    assert.equal(j.streamed, '');
    assert.deepEqual(j.final, { content: '{"answer": 42}', toolCalls: [] });
  }
});
