// The Vercel AI SDK's own client against streaming.UIMessageHandler.
// streaming/aisdk_test.go starts the server (a ReAct agent with the tools
// add and mul, whose scripted LM adds 2 and 3, multiplies by 4 and answers)
// and runs this file with node's test runner:
//
//   DSPY_CHAT_URL  the server's root; the agent is at /native/api/chat
//                  (native tool calling: arguments stream as deltas) and
//                  /text/api/chat (DSPy's text protocol)
//
// The request is the one useChat sends, by the SDK's DefaultChatTransport
// or its shape; the response is parsed by the SDK's parseJsonEventStream
// with its uiMessageChunkSchema and assembled by its readUIMessageStream,
// or by AbstractChat (the class useChat wraps), so what is asserted is
// what a useChat page would show.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AbstractChat,
  DefaultChatTransport,
  parseJsonEventStream,
  readUIMessageStream,
  uiMessageChunkSchema,
} from 'ai';

const base = process.env.DSPY_CHAT_URL;
if (!base) throw new Error('set DSPY_CHAT_URL to the root of the test server (streaming/aisdk_test.go)');

const answer = '(2+3)*4 = <b>20</b>';
const reasoning = 'The tools gave 20.';
const textCallID = /^call_\d+$/;

// view keeps the keys of a message part that a page renders.
function view(p) {
  const v = { type: p.type };
  for (const k of ['text', 'state', 'toolCallId', 'input', 'output', 'errorText']) {
    if (p[k] !== undefined) v[k] = p[k];
  }
  if (v.toolCallId && textCallID.test(v.toolCallId)) v.toolCallId = 'call_N';
  return v;
}

// wantParts is the assistant message an agent run assembles to.
function wantParts(ids) {
  return [
    { type: 'step-start' },
    { type: 'reasoning', text: 'Add first.', state: 'done' },
    { type: 'tool-add', toolCallId: ids[0], state: 'output-available', input: { a: 2, b: 3 }, output: 5 },
    { type: 'step-start' },
    { type: 'reasoning', text: 'Now multiply.', state: 'done' },
    { type: 'tool-mul', toolCallId: ids[1], state: 'output-available', input: { a: 5, b: 4 }, output: 20 },
    { type: 'step-start' },
    { type: 'reasoning', text: 'Done.', state: 'done' },
    { type: 'reasoning', text: reasoning, state: 'done' },
    { type: 'text', text: answer, state: 'done' },
  ];
}

// post sends useChat's body for one user message and returns the SDK's
// parsed chunks as a stream, and the chunk types seen.
async function post(path, text) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      id: 'chat-1',
      messages: [{ id: 'u1', role: 'user', parts: [{ type: 'text', text }] }],
      trigger: 'submit-message',
    }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-vercel-ai-ui-message-stream'), 'v1');
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const types = [];
  const chunks = parseJsonEventStream({ stream: res.body, schema: uiMessageChunkSchema }).pipeThrough(
    new TransformStream({
      transform(result, controller) {
        if (!result.success) throw result.error; // a chunk the SDK's schema rejects
        types.push(result.value.type);
        controller.enqueue(result.value);
      },
    }),
  );
  return { chunks, types };
}

for (const mode of ['native', 'text']) {
  test(`readUIMessageStream assembles the agent's message (${mode} tools)`, async () => {
    const { chunks, types } = await post(`/${mode}/api/chat`, 'What is (2+3)*4?');
    const snapshots = [];
    let last;
    for await (const m of readUIMessageStream({ stream: chunks, terminateOnError: true })) {
      last = m;
      snapshots.push(structuredClone(m));
    }
    assert.ok(last, 'a message was assembled');
    assert.equal(last.role, 'assistant');
    assert.match(last.id, /^msg-/);
    const ids = mode === 'native' ? ['call_add', 'call_mul'] : ['call_N', 'call_N'];
    assert.deepEqual(last.parts.map(view), wantParts(ids));

    // The texts are the prediction's fields, which finish carries.
    const pred = last.metadata.prediction;
    assert.deepEqual(pred, { reasoning, answer });
    assert.equal(last.parts.at(-1).text, pred.answer);
    const usage = last.metadata.usage;
    assert.ok(usage.totalTokens > 0 && usage.inputTokens > 0 && usage.outputTokens > 0, 'finish has the summed usage');
    assert.equal(usage.totalTokens, usage.inputTokens + usage.outputTokens);

    // The tool part went through the states a page shows, in order.
    const states = [];
    for (const s of snapshots) {
      const p = s.parts.find((p) => p.type === 'tool-add');
      if (p && states.at(-1) !== p.state) states.push(p.state);
    }
    assert.deepEqual(states, ['input-streaming', 'input-available', 'output-available']);
    if (mode === 'native') {
      // Arguments streamed as the LM wrote them: a partial input was shown.
      const partial = snapshots.map((s) => s.parts.find((p) => p.type === 'tool-add'))
        .filter((p) => p && p.state === 'input-streaming' && p.input !== undefined);
      assert.ok(partial.length >= 2, `partial inputs shown while the arguments streamed (${partial.length})`);
      assert.ok(types.includes('tool-input-delta'));
    } else {
      assert.ok(!types.includes('tool-input-delta'), 'the text protocol has no argument deltas');
    }
    assert.equal(types[0], 'start');
    assert.equal(types.at(-1), 'finish');
    assert.equal(types.filter((t) => t === 'start-step').length, 3);
    assert.equal(types.filter((t) => t === 'finish-step').length, 3);
  });
}

// ChatState is the state useChat keeps in React, kept in plain fields.
class ChatState {
  status = 'ready';
  error = undefined;
  messages = [];
  pushMessage = (m) => { this.messages = this.messages.concat(m); };
  popMessage = () => { this.messages = this.messages.slice(0, -1); };
  replaceMessage = (i, m) => { this.messages = [...this.messages.slice(0, i), m, ...this.messages.slice(i + 1)]; };
  snapshot = (x) => structuredClone(x);
}

class Chat extends AbstractChat {
  constructor(init) {
    super({ ...init, state: new ChatState() });
  }
}

test('a conversation through AbstractChat and DefaultChatTransport keeps its history', async () => {
  const data = [];
  const errors = [];
  const chat = new Chat({
    transport: new DefaultChatTransport({ api: base + '/text/api/chat' }),
    onData: (d) => data.push(d),
    onError: (e) => errors.push(e),
  });
  await chat.sendMessage({ text: 'What is (2+3)*4?' });
  assert.deepEqual(errors, []);
  assert.equal(chat.status, 'ready');
  assert.equal(chat.messages.length, 2);
  assert.deepEqual(chat.messages[1].parts.map(view), wantParts(['call_N', 'call_N']));

  // Status messages arrive as transient data parts: onData, not parts.
  assert.deepEqual(data.filter((d) => d.type === 'data-status').map((d) => d.data.message).slice(0, 2),
    ['Calling tool add...', 'Tool calling finished! Querying the LLM with tool calling results...']);
  assert.ok(data.every((d) => d.transient === true));

  // The second turn sends the first back; the agent sees it as history.
  await chat.sendMessage({ text: 'Why?' });
  assert.deepEqual(errors, []);
  assert.equal(chat.messages.length, 4);
  const text = chat.messages[3].parts.filter((p) => p.type === 'text').map((p) => p.text);
  assert.deepEqual(text, ['Because 2+3 is 5 and 5*4 is 20; you asked: What is (2+3)*4? (1 earlier turn)']);
});

test('a failed run reaches the chat as its error', async () => {
  const errors = [];
  const chat = new Chat({
    transport: new DefaultChatTransport({ api: base + '/fail/api/chat' }),
    onError: (e) => errors.push(e),
  });
  await chat.sendMessage({ text: 'What is (2+3)*4?' });
  assert.equal(chat.status, 'error');
  assert.deepEqual(errors.map((e) => e.message), ['the language model provider failed; try again']);
});
