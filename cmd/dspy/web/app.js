// The godspy chat page: POST the inputs to /v1/stream, read the
// server-sent events as they arrive (fetch + ReadableStream, parsed
// incrementally), and render status lines, each streamed field as it grows,
// and the final prediction. Stop aborts the request, which cancels the run
// on the server. Standard APIs only; no build step.
'use strict';

const $ = (id) => document.getElementById(id);

let info = { inputs: ['question'], streamed: [], demo: false };
let running = null; // the AbortController of the request in flight

// The input the text box fills: "question" if the signature has one, else
// its last input; the others get small fields above the box.
function mainInput() {
  return info.inputs.includes('question') ? 'question' : info.inputs[info.inputs.length - 1];
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
    if (name === mainInput()) continue;
    const label = document.createElement('label');
    label.textContent = name + ' ';
    const input = document.createElement('input');
    input.name = name;
    input.required = true;
    label.append(input);
    extra.append(label);
  }
  $('question').placeholder = 'Ask (' + mainInput() + ')…';
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

// A Turn is one question and its streamed answer in the log.
class Turn {
  constructor(question) {
    this.root = el('section', 'turn');
    this.root.dataset.state = 'streaming';
    this.root.append(el('div', 'question', question));
    this.answer = el('div', 'answer');
    this.statuses = el('ul', 'statuses');
    this.fields = el('div', 'fields');
    this.meta = el('div', 'meta', 'Waiting for the first event…');
    this.answer.append(this.statuses, this.fields, this.meta);
    this.root.append(this.answer);
    this.open = new Map(); // "predictor/field" -> value element still growing
    this.last = new Map(); // field -> its latest value element
    this.start = performance.now();
    this.firstToken = 0;
    $('empty')?.remove();
    $('log').append(this.root);
    this.scroll();
  }

  scroll() {
    this.root.scrollIntoView({ block: 'end' });
  }

  status(message) {
    this.statuses.append(el('li', 'status', message));
    this.meta.textContent = message;
    this.scroll();
  }

  // fieldBlock returns the element a field's text goes in, creating it for
  // a new occurrence (ReAct's next_thought comes once per step).
  fieldBlock(predictor, field) {
    const key = predictor + '/' + field;
    let value = this.open.get(key);
    if (!value) {
      const block = el('div', 'field');
      block.dataset.field = field;
      block.dataset.predictor = predictor;
      block.append(el('div', 'name', field));
      value = el('div', 'value');
      block.append(value);
      this.fields.append(block);
      this.open.set(key, value);
      this.last.set(field, value);
    }
    return { key, value };
  }

  chunk(ev) {
    if (!this.firstToken) this.firstToken = performance.now();
    const { key, value } = this.fieldBlock(ev.predict_name, ev.signature_field_name);
    value.textContent += ev.chunk;
    if (ev.is_last_chunk) this.open.delete(key);
    this.meta.textContent = 'Streaming ' + ev.signature_field_name + '…';
    this.scroll();
  }

  // prediction renders the final values: streamed fields are set to their
  // parsed value, the others are added.
  prediction(pred) {
    for (const [field, v] of Object.entries(pred || {})) {
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      let value = this.last.get(field);
      if (!value) value = this.fieldBlock('final', field).value;
      value.textContent = text;
      value.parentElement.classList.add('final');
    }
    this.root.dataset.state = 'done';
    const total = (performance.now() - this.start) / 1000;
    let meta = 'Done in ' + total.toFixed(2) + ' s';
    if (this.firstToken) meta += ', first token after ' + ((this.firstToken - this.start) / 1000).toFixed(2) + ' s';
    this.meta.textContent = meta + '.';
  }

  fail(message) {
    this.root.dataset.state = 'error';
    this.answer.append(el('div', 'error', message));
    this.meta.textContent = '';
  }

  stopped() {
    this.root.dataset.state = 'stopped';
    this.meta.textContent = 'Stopped after ' + ((performance.now() - this.start) / 1000).toFixed(2) + ' s.';
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
    const data = [];
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (line === '' || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? '' : line.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length) events.push({ type, data: data.join('\n') });
  }
  return { events, rest };
}

// dispatch applies one event to the turn; it returns true at the end.
function dispatch(turn, ev) {
  if (ev.data === '[DONE]') return true;
  let payload;
  try {
    payload = JSON.parse(ev.data);
  } catch {
    turn.fail('The server sent an event that is not JSON: ' + ev.data.slice(0, 200));
    return false;
  }
  switch (ev.type) {
    case 'status': turn.status(payload.message); break;
    case 'chunk': turn.chunk(payload); break;
    case 'prediction': turn.prediction(payload.prediction); break;
    case 'error': turn.fail('Error: ' + payload.error); break;
  }
  return false;
}

async function ask(inputs, question) {
  const turn = new Turn(question);
  const controller = new AbortController();
  running = controller;
  setRunning(true);
  try {
    const res = await fetch('/v1/stream', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Accept': 'text/event-stream' },
      body: JSON.stringify(inputs),
      signal: controller.signal,
    });
    if (!res.ok) {
      const body = await res.text();
      let msg = body;
      try { msg = JSON.parse(body).error || body; } catch { /* not JSON: show as is */ }
      turn.fail('The server answered ' + res.status + ': ' + msg);
      return;
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let done = false;
    while (!done) {
      const { value, done: eof } = await reader.read();
      if (eof) break;
      buffer += value;
      const parsed = parseSSE(buffer);
      buffer = parsed.rest;
      for (const ev of parsed.events) {
        if (dispatch(turn, ev)) done = true;
      }
    }
    if (!done && turn.root.dataset.state === 'streaming') {
      turn.fail('The stream ended before the server finished.');
    } else if (turn.root.dataset.state === 'streaming') {
      turn.fail('The stream ended without a prediction.');
    }
  } catch (err) {
    if (err.name === 'AbortError') turn.stopped();
    else turn.fail('Network error: ' + err.message);
  } finally {
    if (running === controller) running = null;
    setRunning(false);
  }
}

function setRunning(on) {
  $('send').disabled = on;
  $('stop').disabled = !on;
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

$('ask').addEventListener('submit', submit);
$('stop').addEventListener('click', () => running?.abort());
$('question').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('ask').requestSubmit();
  }
});
loadInfo();
