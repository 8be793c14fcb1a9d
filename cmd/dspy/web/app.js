// The godspy chat page: POST the inputs to /v1/stream, read the
// server-sent events as they arrive (fetch + ReadableStream, parsed
// incrementally; docs/sse.md is the format) and draw each answer as a
// timeline in the order things happen: the agent's thoughts, its tool calls
// (arguments as the model writes them) and their results, the reasoning,
// then the answer, rendered as Markdown without ever parsing model output
// as HTML. The conversation so far goes with each question when the
// signature has a History input. Streams are resumable (docs/sse.md): the
// page keeps each stream's id and the id of the last event it drew, so a
// broken connection is resumed with Last-Event-ID, and a reload mid-answer
// redraws the conversation from sessionStorage and reads the rest. Stop
// sends the stream's stop request (POST .../stop), which cancels the run
// on whichever server runs it. Standard APIs only; no build step.
import { renderMarkdown } from './markdown.js';

const $ = (id) => document.getElementById(id);

let info = { inputs: ['question'], outputs: ['answer'], streamed: [], demo: false };
let running = null; // {controller, turn} of the turn streaming: its AbortController and Turn
let turns = []; // the conversation: {input: value, ..., output: value} per answered turn

// The input the text box fills: "question" if the signature has one, else
// its first input that is not the history.
function mainInput() {
  const inputs = info.inputs.filter((n) => n !== info.history);
  return inputs.includes('question') ? 'question' : inputs[0];
}

// The outputs shown as the answer (Markdown): all but the reasoning.
function answerFields() {
  return info.outputs.filter((f) => f !== 'reasoning');
}

function emptyText() {
  const shared = info.history
    ? `Turns share context: each question is sent with the conversation so far (the signature's ${info.history} input). “New chat” starts over.`
    : 'Each question is answered on its own: the signature has no History input, so turns do not share context.';
  return 'Ask a question: the answer streams in as the program works, with its steps and tool calls in order. ' + shared;
}

async function loadInfo() {
  try {
    const res = await fetch('/v1/info');
    if (!res.ok) throw new Error('HTTP ' + res.status);
    info = await res.json();
  } catch (err) {
    showBanner('Could not load the program description: ' + err.message, true);
    return;
  }
  $('program').textContent = info.module + ': ' + info.signature;
  $('lm').textContent = info.demo ? 'offline demo LM' : info.lm;
  $('lm').classList.toggle('demo', info.demo);
  if (info.demo) showBanner(info.banner, false);
  const extra = $('extra-inputs');
  for (const name of info.inputs) {
    if (name === mainInput() || name === info.history) continue;
    const label = document.createElement('label');
    label.textContent = name + ' ';
    const input = document.createElement('input');
    input.name = name;
    input.required = true;
    label.append(input);
    extra.append(label);
  }
  const main = mainInput();
  $('question').placeholder = main === 'question' ? 'Ask a question…' : 'Write the ' + main.replaceAll('_', ' ') + '…';
  $('new-chat').hidden = !info.history;
  $('empty').textContent = emptyText();
}

function showBanner(text, isError) {
  const b = $('banner');
  b.textContent = text;
  b.classList.toggle('error', isError);
  b.hidden = false;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// The log follows the newest line while the reader is at the bottom, and
// stays put when they scroll up to read.
function atBottom() {
  const log = $('log');
  return log.scrollHeight - log.scrollTop - log.clientHeight < 48;
}
function toBottom() {
  const log = $('log');
  log.scrollTop = log.scrollHeight;
}

function seconds(ms) {
  return (ms / 1000).toFixed(2) + ' s';
}

function pretty(v) {
  if (typeof v === 'string') return v;
  return JSON.stringify(v, null, 2);
}

// A Turn is one question and its streamed answer: a timeline of items.
class Turn {
  constructor(question, inputs) {
    this.inputs = inputs;
    this.root = el('section', 'turn');
    this.root.$turn = this;
    this.root.dataset.state = 'streaming';
    this.root.append(el('div', 'question', question));
    this.answer = el('div', 'answer');
    this.timeline = el('ol', 'timeline');
    this.footer = el('div', 'footer');
    this.meta = el('div', 'meta', 'Waiting for the first event…');
    this.footer.append(this.meta);
    this.answer.append(this.timeline, this.footer);
    this.root.append(this.answer);
    this.seq = 0; // the order things happened, on data-seq
    this.fields = new Map(); // "call/field" -> item still streaming
    this.lastField = new Map(); // field -> its latest item
    this.tools = new Map(); // tool_call_id -> tool item
    this.start = performance.now();
    this.firstToken = 0;
    this.events = []; // every event drawn, {type, data}, to redraw after a reload
    this.stream = null; // {id, url} of a resumable stream
    this.lastEventId = '';
    $('empty')?.remove();
    $('log').append(this.root);
    toBottom();
  }

  // happened marks e as the next thing that happened, for order.
  happened(e) {
    e.dataset.seq = String(++this.seq);
    return e;
  }

  add(item) {
    const follow = atBottom();
    this.timeline.append(this.happened(item));
    if (follow) toBottom();
    return item;
  }

  update(fn) {
    const follow = atBottom();
    fn();
    if (follow) toBottom();
  }

  status(message) {
    this.update(() => { this.meta.textContent = message; });
  }

  // fieldItem returns the timeline item of a field occurrence, creating it
  // at the end of the timeline when it starts.
  fieldItem(ev) {
    const key = ev.call_id + '/' + ev.predict_name + '/' + ev.signature_field_name;
    let item = this.fields.get(key);
    if (!item) {
      const field = ev.signature_field_name;
      const kind = field === 'next_thought' ? 'thought' : field === 'reasoning' ? 'reasoning' : answerFields().includes(field) ? 'answer' : 'field';
      item = el('li', 'item item-' + kind);
      item.dataset.kind = kind;
      item.dataset.field = field;
      item.dataset.predictor = ev.predict_name;
      const label = { thought: 'Thought', reasoning: 'Reasoning', answer: answerFields().length > 1 ? field : '' }[kind] ?? field;
      if (label) item.append(el('div', 'label', label));
      item.$value = el('div', kind === 'answer' ? 'value markdown' : 'value');
      item.$text = '';
      item.append(item.$value);
      this.add(item);
      this.fields.set(key, item);
      this.lastField.set(field, item);
    }
    return { key, item };
  }

  setText(item, text) {
    item.$text = text;
    if (item.dataset.kind === 'answer') {
      item.$value.replaceChildren(renderMarkdown(text));
    } else {
      item.$value.textContent = text;
    }
  }

  chunk(ev) {
    if (!this.firstToken) this.firstToken = performance.now();
    const { key, item } = this.fieldItem(ev);
    this.update(() => {
      this.setText(item, item.$text + ev.chunk);
      if (ev.is_last_chunk) {
        this.fields.delete(key);
        item.classList.add('done');
      }
    });
  }

  // toolItem returns the timeline item of a tool call, created when the
  // model names the tool.
  toolItem(id, name) {
    let item = this.tools.get(id);
    if (!item) {
      item = el('li', 'item item-tool');
      item.dataset.kind = 'tool';
      item.dataset.toolCallId = id;
      item.dataset.state = 'input';
      const head = el('div', 'label');
      head.append('Tool ', el('span', 'tool-name', name));
      item.$args = el('pre', 'args');
      item.$argsText = '';
      item.append(head, item.$args);
      this.add(item);
      this.tools.set(id, item);
    }
    return item;
  }

  toolDelta(ev) {
    const item = this.toolItem(ev.tool_call_id, ev.tool_name);
    this.update(() => {
      item.$argsText += ev.args_delta;
      item.$args.textContent = item.$argsText;
    });
  }

  toolStart(ev) {
    const item = this.toolItem(ev.tool_call_id, ev.tool_name);
    this.update(() => {
      item.$args.textContent = pretty(ev.args);
      item.dataset.state = 'running';
    });
  }

  toolEnd(ev) {
    const item = this.toolItem(ev.tool_call_id, ev.tool_name);
    const result = el('details', 'result');
    const summary = el('summary');
    const failed = ev.error !== undefined;
    const ms = ev.duration_ms;
    summary.textContent = (failed ? 'Failed' : 'Result') + ' · ' + (ms < 10 ? ms.toFixed(2) : ms.toFixed(0)) + ' ms';
    const body = el('pre', failed ? 'output error' : 'output',
      failed ? ev.error + (ev.detail ? '\n' + ev.detail : '') : pretty(ev.output));
    result.append(summary, body);
    this.update(() => {
      item.append(this.happened(result));
      item.dataset.state = failed ? 'failed' : 'done';
    });
  }

  step(ev) {
    if (ev.index > 0) this.add(el('li', 'step-sep')).dataset.kind = 'step';
  }

  // prediction settles the final values: streamed items get their parsed
  // value, the others are added.
  prediction(pred, usage) {
    this.values = pred || {};
    this.update(() => {
      for (const [field, v] of Object.entries(this.values)) {
        const text = typeof v === 'string' ? v : JSON.stringify(v);
        let item = this.lastField.get(field);
        if (!item) item = this.fieldItem({ call_id: 'final', predict_name: 'final', signature_field_name: field }).item;
        this.setText(item, text);
        item.classList.add('final', 'done');
      }
      this.root.dataset.state = 'done';
      const parts = ['Done in ' + seconds(performance.now() - this.start)];
      if (this.firstToken) parts.push('first token after ' + seconds(this.firstToken - this.start));
      if (usage && usage.total_tokens) {
        parts.push(usage.total_tokens.toLocaleString('en') + ' tokens (' + usage.prompt_tokens.toLocaleString('en') +
          ' in, ' + usage.completion_tokens.toLocaleString('en') + ' out)');
      }
      this.meta.textContent = parts.join(' · ');
      this.meta.dataset.usage = usage ? String(usage.total_tokens) : '';
      this.footer.append(this.copyButton());
    });
  }

  copyButton() {
    const b = el('button', 'copy', 'Copy');
    b.type = 'button';
    b.title = 'Copy the answer';
    b.addEventListener('click', async () => {
      const text = answerFields().map((f) => this.values[f]).filter((v) => v !== undefined)
        .map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join('\n\n');
      try {
        await navigator.clipboard.writeText(text);
        b.textContent = 'Copied';
      } catch {
        b.textContent = 'Copy failed';
      }
      setTimeout(() => { b.textContent = 'Copy'; }, 1500);
    });
    return b;
  }

  fail(message, detail) {
    this.root.dataset.state = 'error';
    const item = el('li', 'item item-error');
    item.dataset.kind = 'error';
    item.append(el('div', 'message', message));
    if (detail) item.append(el('div', 'detail', detail));
    this.add(item);
    this.meta.textContent = '';
  }

  stopped() {
    this.root.dataset.state = 'stopped';
    this.meta.textContent = 'Stopped after ' + seconds(performance.now() - this.start) + '.';
  }

  // saved is what sessionStorage keeps of the turn.
  saved() {
    return { question: this.root.querySelector('.question').textContent, inputs: this.inputs, events: this.events,
      stream: this.stream, lastEventId: this.lastEventId, state: this.root.dataset.state, meta: this.meta.textContent };
  }
}

// parseSSE splits buffered text into complete events and returns them with
// the unparsed rest. An event is "event:" and "data:" lines ended by a
// blank line; several data lines join with newlines.
function parseSSE(buffer) {
  const events = [];
  const blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
  const rest = blocks.pop();
  for (const block of blocks) {
    let type = 'message';
    let id = null;
    const data = [];
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (line === '' || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? '' : line.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
    if (data.length) events.push({ type, data: data.join('\n'), id });
  }
  return { events, rest };
}

// dispatch applies one event to the turn; it returns true at the end.
function dispatch(turn, ev) {
  if (ev.data === '[DONE]') return true;
  if (ev.id) turn.lastEventId = ev.id;
  turn.events.push({ type: ev.type, data: ev.data });
  let p;
  try {
    p = JSON.parse(ev.data);
  } catch {
    turn.fail('The server sent an event that is not JSON: ' + ev.data.slice(0, 200));
    return false;
  }
  switch (ev.type) {
    case 'status': turn.status(p.message); break;
    case 'chunk': turn.chunk(p); break;
    case 'tool_call_delta': turn.toolDelta(p); break;
    case 'tool_call_start': turn.toolStart(p); break;
    case 'tool_call_end': turn.toolEnd(p); break;
    case 'step_start': turn.step(p); break;
    case 'prediction': turn.prediction(p.prediction, p.usage); break;
    case 'error': turn.fail('Error: ' + p.error, p.detail); break;
    case 'stream': turn.stream = { id: p.id, url: p.url }; break;
    case 'stopped': turn.stopped(); break;
    // lm_start, lm_end, step_end, custom, raw: nothing to draw.
  }
  return false;
}

// readStream draws a response's events on the turn; it returns true when
// the stream reached its end ([DONE]), false when it was cut.
async function readStream(turn, res) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done: eof } = await reader.read();
    if (eof) return false;
    buffer += value;
    const parsed = parseSSE(buffer);
    buffer = parsed.rest;
    for (const ev of parsed.events) {
      if (dispatch(turn, ev)) {
        await reader.cancel().catch(() => {});
        return true;
      }
    }
  }
}

// errorText is the message of a failed response.
async function errorText(res) {
  const text = await res.text();
  try { return JSON.parse(text).error || text; } catch { return text; } // not JSON: show as is
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// follow reads a turn's stream to its end: the response given, then, when
// the stream is resumable and the connection breaks, GETs of its URL with
// Last-Event-ID (a few tries, a second or two apart).
async function follow(turn, res, controller) {
  for (let tries = 0; ; ) {
    let done = false;
    if (res) {
      try {
        done = await readStream(turn, res);
      } catch (err) {
        if (err.name === 'AbortError') throw err;
      }
    }
    if (done) break;
    if (!turn.stream || tries >= 5) {
      turn.fail('The stream ended before the server finished.');
      return;
    }
    if (tries++ > 0) await sleep(1000 * tries); // the first reconnect at once
    try {
      res = await fetch(turn.stream.url, {
        headers: { 'Accept': 'text/event-stream', 'Last-Event-ID': turn.lastEventId || '0' },
        signal: controller.signal,
      });
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      res = null;
      continue;
    }
    if (res.status === 404) {
      turn.fail('The answer is no longer kept by the server (it ended a while ago, or the server restarted).');
      return;
    }
    if (!res.ok) res = null;
  }
  if (turn.root.dataset.state === 'streaming') turn.fail('The stream ended without a prediction.');
}

// run streams one turn: a new POST, or (resume) the rest of a stream.
async function run(turn, body) {
  const controller = new AbortController();
  running = { controller, turn };
  setRunning(true);
  try {
    let res = null;
    if (body) {
      res = await fetch('/v1/stream', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Accept': 'text/event-stream' },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      if (!res.ok) {
        turn.fail('The server answered ' + res.status + ': ' + await errorText(res));
        return;
      }
    }
    await follow(turn, res, controller);
    if (turn.root.dataset.state === 'done') turns.push({ ...turn.inputs, ...turn.values });
  } catch (err) {
    if (err.name === 'AbortError') turn.stopped();
    else turn.fail('Network error: ' + err.message);
  } finally {
    if (running && running.controller === controller) running = null;
    setRunning(false);
  }
}

async function ask(inputs, question) {
  const turn = new Turn(question, inputs);
  const body = { ...inputs };
  if (info.history) body[info.history] = { messages: turns };
  await run(turn, body);
}

// stop asks the server to stop the running turn's stream; the stream then
// ends with "stopped". A stream that is not resumable, or a server that
// does not answer, is cut here instead.
async function stop() {
  if (!running) return;
  const { controller, turn } = running;
  $('stop').disabled = true;
  if (turn.stream) {
    try {
      const res = await fetch(turn.stream.url + '/stop', { method: 'POST' });
      if (res.ok || res.status === 404) {
        setTimeout(() => { if (running && running.controller === controller) controller.abort(); }, 3000);
        return;
      }
    } catch { /* fall through: cut the stream here */ }
  }
  controller.abort();
}

// The conversation is kept in sessionStorage when the page goes away, so
// a reload redraws it and resumes a turn that was still streaming.
const storageKey = 'godspy-chat';

function save() {
  const log = [...document.querySelectorAll('.turn')].map((e) => e.$turn?.saved()).filter(Boolean);
  try {
    sessionStorage.setItem(storageKey, JSON.stringify({ turns, log }));
  } catch { /* storage full or off: a reload starts over */ }
}

function restore() {
  let saved;
  try { saved = JSON.parse(sessionStorage.getItem(storageKey) || 'null'); } catch { saved = null; }
  sessionStorage.removeItem(storageKey);
  if (!saved || !Array.isArray(saved.log) || saved.log.length === 0) return;
  turns = saved.turns || [];
  let pending = null;
  for (const t of saved.log) {
    const turn = new Turn(t.question, t.inputs);
    for (const ev of t.events) dispatch(turn, ev);
    turn.lastEventId = t.lastEventId;
    turn.stream = t.stream;
    if (t.state === 'streaming' && turn.stream) {
      pending = turn;
      turn.meta.textContent = 'Reconnecting…';
    } else {
      if (t.state === 'streaming') turn.fail('The page was reloaded before the answer finished.');
      turn.meta.textContent = t.meta;
    }
  }
  if (pending) run(pending, null);
}

function setRunning(on) {
  $('send').disabled = on;
  $('stop').disabled = !on;
  $('new-chat').disabled = on;
}

function submit(e) {
  e.preventDefault();
  if (running) return;
  const q = $('question');
  const question = q.value.trim();
  if (!question) return;
  const inputs = { [mainInput()]: question };
  for (const input of $('extra-inputs').querySelectorAll('input')) inputs[input.name] = input.value;
  q.value = '';
  ask(inputs, question);
}

function newChat() {
  if (running) return;
  turns = [];
  const empty = el('p', 'empty', emptyText());
  empty.id = 'empty';
  $('log').replaceChildren(empty);
  $('question').focus();
}

$('ask').addEventListener('submit', submit);
$('stop').addEventListener('click', stop);
window.addEventListener('pagehide', save);
$('new-chat').addEventListener('click', newChat);
$('question').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('ask').requestSubmit();
  }
});
loadInfo().then(restore);
