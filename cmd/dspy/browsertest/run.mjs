// Browser test of the `dspy serve` page in headless Chromium, driven by
// playwright-core. cmd/dspy/browser_test.go starts four servers and runs
// this script with:
//
//   DSPY_URL           demo LM, ChainOfThought, --debug
//   DSPY_REACT_URL     demo LM, a ReAct agent with calculator and clock
//   DSPY_SCRIPTED_URL  a scripted OpenAI-compatible model: a hostile reply
//                      (HTML and script in Markdown), or a long one
//   DSPY_BROKEN_URL    a provider address that refuses connections
//   DSPY_SCREENSHOT    where to save a screenshot (optional)
//   CHROMIUM           the browser (default /usr/bin/chromium)
//
// It checks: the answer streams (a status line before the first token,
// several partial renderings), usage and timing per answer, the copy
// button, the conversation going with the next question as history and
// "New chat" clearing it, Stop cancelling the run on the server through
// the stream's stop request, a reload mid-answer resuming the stream
// (Last-Event-ID) and completing the answer once; the ReAct
// timeline in the order things happened (thought, tool call, its result,
// next thought, reasoning, answer); a hostile reply rendering as text with
// no element injected, no script run and no dialog; the last line of a
// long conversation visible above the input box; and the cause of a
// provider failure shown on loopback. Exit code 0 means pass.

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';

const base = process.env.DSPY_URL;
const reactBase = process.env.DSPY_REACT_URL;
const scriptedBase = process.env.DSPY_SCRIPTED_URL;
const brokenBase = process.env.DSPY_BROKEN_URL;
const screenshot = process.env.DSPY_SCREENSHOT;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!base || !reactBase || !scriptedBase || !brokenBase) {
  console.error('run.mjs: set DSPY_URL, DSPY_REACT_URL, DSPY_SCRIPTED_URL and DSPY_BROKEN_URL (see cmd/dspy/browser_test.go)');
  process.exit(2);
}

// Flags for a closed network: no background connections, no sandbox (root).
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function check(cond, msg) {
  if (!cond) throw new Error(msg);
  console.log('ok: ' + msg);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// waitState waits until the i-th turn is in the given state.
async function waitState(page, i, state, timeout) {
  await page.waitForFunction(([i, state]) => {
    const t = document.querySelectorAll('.turn')[i];
    return t && t.dataset.state === state;
  }, [i, state], { timeout });
}

async function stats() {
  const res = await fetch(base + '/debug/stats');
  if (!res.ok) throw new Error('GET /debug/stats: ' + res.status + ' (is the server running with --debug?)');
  return res.json();
}

// record installs a MutationObserver that snapshots the latest turn after
// every change: its state, its live status line and its answer text.
function record() {
  window.__rec = [];
  const log = document.getElementById('log');
  new MutationObserver(() => {
    const turns = log.querySelectorAll('.turn');
    const turn = turns[turns.length - 1];
    if (!turn) return;
    const answer = turn.querySelector('.item[data-kind="answer"] .value');
    window.__rec.push({
      turn: turns.length,
      state: turn.dataset.state,
      meta: turn.querySelector('.meta').textContent,
      answer: answer ? answer.textContent : '',
    });
  }).observe(log, { subtree: true, childList: true, characterData: true, attributes: true });
}

// open loads a page and waits for the program description.
async function open(context, url, problems) {
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console error: ' + m.text()); });
  page.on('dialog', (d) => { problems.push('dialog: ' + d.message()); d.dismiss(); });
  await page.goto(url + '/');
  await page.waitForFunction(() => document.getElementById('program').textContent !== '', null, { timeout: 10_000 });
  return page;
}

async function askAndWatch(page, requests) {
  check(await page.locator('#question').getAttribute('placeholder') === 'Ask a question…', 'the placeholder reads "Ask a question…"');
  check((await page.locator('#empty').textContent()).includes('Turns share context'), 'the empty page says that turns share context');
  await page.fill('#question', 'What causes ocean tides?');
  await page.click('#send');
  const turn = page.locator('.turn').nth(0);
  await waitState(page, 0, 'done', 60_000);
  const rec = (await page.evaluate(() => window.__rec)).filter((r) => r.turn === 1);
  const finalText = await turn.locator('.item[data-kind="answer"] .value').textContent();

  const first = rec.find((r) => r.answer !== '');
  check(first !== undefined, 'the answer appeared');
  check(first.meta.trim() !== '' && !first.meta.startsWith('Waiting'),
    `a status line ("${first.meta}") was shown before the first answer token`);
  const partials = [...new Set(rec.filter((r) => r.state === 'streaming' && r.answer !== '' && r.answer !== finalText)
    .map((r) => r.answer))];
  check(partials.length >= 3, `the answer grew over ${partials.length} partial renderings before the final one (want >= 3)`);
  check(partials.every((p) => finalText.startsWith(p)), 'every partial rendering is a prefix of the final answer');
  check(finalText.includes('Moon'), 'the final answer is about the Moon and tides');
  check(await turn.locator('.item[data-kind="reasoning"]').count() === 1, 'the reasoning was streamed too');
  const seqKinds = await turn.locator('.timeline > li').evaluateAll((els) => els.map((e) => e.dataset.kind));
  check(JSON.stringify(seqKinds) === '["reasoning","answer"]', `reasoning comes before the answer (${seqKinds})`);

  const meta = await turn.locator('.meta').textContent();
  check(/^Done in \d+\.\d\d s · first token after \d+\.\d\d s · [\d,]+ tokens \([\d,]+ in, [\d,]+ out\)$/.test(meta),
    `usage and timing are shown with the answer ("${meta}")`);

  await turn.locator('button.copy').click();
  await page.waitForFunction(() => document.querySelector('.turn button.copy').textContent === 'Copied', null, { timeout: 5_000 });
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  check(copied === finalText && copied.length > 100, 'the copy button put the answer on the clipboard');

  // The next question carries the conversation so far.
  await page.fill('#question', 'Why?');
  await page.click('#send');
  await waitState(page, 1, 'done', 60_000);
  const body = JSON.parse(requests.at(-1));
  check(body.question === 'Why?' && body.history && body.history.messages.length === 1 &&
    body.history.messages[0].question === 'What causes ocean tides?' && body.history.messages[0].answer === finalText,
    'the second question was sent with the first turn as history');
  await page.click('#new-chat');
  check(await page.locator('.turn').count() === 0 && await page.locator('#empty').isVisible(), '"New chat" clears the conversation');
  return finalText;
}

async function stopMidStream(page) {
  const before = (await stats()).cancelled;
  const stops = [];
  const onRequest = (r) => { if (r.method() === 'POST' && /\/v1\/stream\/[A-Z2-7]+\/stop$/.test(r.url())) stops.push(r.url()); };
  page.on('request', onRequest);
  await page.fill('#question', 'Explain ocean tides in detail');
  await page.click('#send');
  const turn = page.locator('.turn').nth(0);
  await page.waitForFunction(() => {
    const v = document.querySelector('.turn .item[data-kind="answer"] .value');
    return v && v.textContent.length > 40;
  }, null, { timeout: 60_000 });
  await page.click('#stop');
  await waitState(page, 0, 'stopped', 5_000);
  check(true, 'the turn shows it was stopped');
  const atStop = (await turn.textContent()).length;
  await sleep(600);
  check((await turn.textContent()).length === atStop, 'nothing more streamed after Stop');
  check(await page.locator('#stop').isDisabled() && await page.locator('#send').isEnabled(),
    'Stop is disabled and Ask enabled again');
  check(!(await turn.textContent()).includes('Bay of Fundy'), 'the long answer was cut short');
  let cancelled = before;
  for (let i = 0; i < 50 && cancelled <= before; i++) {
    await sleep(100);
    cancelled = (await stats()).cancelled;
  }
  check(cancelled > before, `the server counted the run as cancelled (/debug/stats cancelled ${before} -> ${cancelled})`);
  check(stops.length === 1, `Stop sent the stream's stop request (${stops.join(', ')})`);
  page.off('request', onRequest);
}

// reloadMidAnswer reloads the page while an answer streams: the page
// redraws the conversation and resumes the stream with Last-Event-ID; the
// answer continues from where it was and completes once.
async function reloadMidAnswer(context, problems, want) {
  const page = await open(context, base, problems);
  const requests = [];
  page.on('request', (r) => {
    if (r.url().includes('/v1/stream')) requests.push({ method: r.method(), url: r.url(), lastEventId: r.headers()['last-event-id'] });
  });
  await page.fill('#question', 'What causes ocean tides?');
  await page.click('#send');
  await page.waitForFunction(() => {
    const v = document.querySelector('.turn .item[data-kind="answer"] .value');
    return v && v.textContent.length > 40;
  }, null, { timeout: 60_000 });
  const before = await page.locator('.turn .item[data-kind="answer"] .value').textContent();
  check(await page.evaluate(() => document.querySelector('.turn').dataset.state) === 'streaming', 'the answer is streaming before the reload');
  await page.reload();
  await page.waitForFunction(() => document.getElementById('program').textContent !== '', null, { timeout: 10_000 });
  const restored = await page.locator('.turn .item[data-kind="answer"] .value').textContent();
  check(restored.startsWith(before), `after the reload the answer is there again, from where it was (${before.length} characters before, ${restored.length} after)`);
  await waitState(page, 0, 'done', 60_000);
  const turn = page.locator('.turn').nth(0);
  const final = await turn.locator('.item[data-kind="answer"] .value').textContent();
  check(await page.locator('.turn').count() === 1 && await turn.locator('.item[data-kind="answer"]').count() === 1 &&
    await turn.locator('.item[data-kind="reasoning"]').count() === 1, 'one turn, one reasoning and one answer: nothing drawn twice');
  check(final === want, 'the answer completed once, equal to the uninterrupted answer');
  const posts = requests.filter((r) => r.method === 'POST');
  const gets = requests.filter((r) => r.method === 'GET' && /\/v1\/stream\/[A-Z2-7]+$/.test(r.url));
  check(posts.length === 1, `the question was posted once (${posts.length})`);
  check(gets.length === 1 && Number(gets[0].lastEventId) > 1,
    `the page resumed the stream with a GET of its URL and Last-Event-ID ${gets[0] && gets[0].lastEventId}`);
  // The conversation goes on: the next question carries the resumed turn.
  check(await page.locator('#send').isEnabled(), 'Ask is enabled again');
  await page.close();
}

// timeline checks that a ReAct run is drawn in the order things happened.
async function timeline(page) {
  await page.fill('#question', 'What is 2+3*4?');
  await page.click('#send');
  await waitState(page, 0, 'done', 60_000);
  const turn = page.locator('.turn').nth(0);
  const happened = await turn.locator('[data-seq]').evaluateAll((els) => els
    .map((e) => ({ seq: Number(e.dataset.seq), kind: e.tagName === 'DETAILS' ? 'result' : e.dataset.kind }))
    .sort((a, b) => a.seq - b.seq).map((e) => e.kind));
  const want = ['thought', 'tool', 'result', 'step', 'thought', 'reasoning', 'answer'];
  check(JSON.stringify(happened) === JSON.stringify(want), `the timeline is ${happened.join(' → ')} (want ${want.join(' → ')})`);
  const domOrder = await turn.locator('.timeline > li').evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
  check(domOrder.every((s, i) => i === 0 || s > domOrder[i - 1]), 'the items are laid out in that order');
  const tool = turn.locator('.item[data-kind="tool"]');
  check(await tool.locator('.tool-name').textContent() === 'calculator', 'the tool call names the calculator');
  check((await tool.locator('.args').textContent()).includes('"expression": "2+3*4"'), 'the tool call shows its arguments');
  const result = tool.locator('details.result');
  check(!(await result.evaluate((d) => d.open)), 'the tool result is collapsed');
  check(!(await result.locator('pre').isVisible()), 'its output is hidden until asked for');
  await result.locator('summary').click();
  check(await result.locator('pre').textContent() === '14' && await result.locator('pre').isVisible(), 'opened, it shows the result 14');
  check((await turn.locator('.item[data-kind="answer"]').textContent()).includes('14'), 'the answer uses the result');
  check(await turn.locator('.item[data-kind="thought"]').first().locator('.value').textContent() ===
    'This is arithmetic, so I will let the calculator evaluate 2+3*4 rather than guess.', 'the first thought streamed whole');
}

// hostile checks that model output cannot inject HTML or script.
async function hostile(page, problems) {
  await page.fill('#question', 'Say something hostile');
  await page.click('#send');
  await waitState(page, 0, 'done', 30_000);
  const answer = page.locator('.turn .item[data-kind="answer"] .value');
  const text = await answer.textContent();
  check(text.includes('<img src=x onerror="alert(1);window.__pwned=1">') && text.includes('<script>window.__pwned=2</script>') &&
    text.includes('<b onmouseover=alert(1)>hover</b>'), 'the hostile HTML is shown as text');
  check(await answer.locator('img, script, b, iframe, [onerror], [onmouseover]').count() === 0, 'no element was injected');
  check(await page.evaluate(() => window.__pwned) === undefined, 'no injected script ran');
  check(await answer.locator('strong').textContent() === 'bold' && await answer.locator('code').textContent() === 'code',
    'the Markdown around it is rendered');
  const links = await answer.locator('a').evaluateAll((as) => as.map((a) => ({ href: a.getAttribute('href'), rel: a.rel, text: a.textContent })));
  check(links.length === 1 && links[0].href === 'https://example.com/x' && links[0].rel.includes('noopener') && links[0].text === 'safe link',
    'only the https link is a link, opened without an opener');
  check(text.includes('bad link') && !text.includes('javascript:'), 'the javascript: link is left as its text');
  await answer.hover();
  await sleep(100);
  check(!problems.some((p) => p.startsWith('dialog')), 'no dialog opened');
}

// markdownSafety renders tricky inputs with the page's own renderer and
// checks that only its own elements and attributes come out.
async function markdownSafety(page) {
  const bad = await page.evaluate(async () => {
    const { renderMarkdown } = await import('/markdown.js');
    const inputs = [
      '<img src=x onerror=alert(1)>', '<svg onload=alert(1)>', '[x](javascript:alert(1))', '[x](JaVaScRiPt:alert(1))',
      '[x]( javascript:alert(1))', '[x](data:text/html,<script>alert(1)</script>)', '![x](javascript:alert(1))',
      '[x](vbscript:msgbox(1))', '**<b>x</b>**', '`<i>x</i>`', '```html\n<script>alert(1)</script>\n```',
      '> <iframe src=x>', '- <a href=javascript:alert(1)>x</a>', 'http://example.com/<script>', '&lt;b&gt; &amp;',
      '[a](http://ok.example/"onmouseover="alert(1))', '<style>*{display:none}</style>', '__proto__ **constructor**',
    ];
    const allowed = new Set(['P', 'BR', 'STRONG', 'EM', 'CODE', 'PRE', 'A', 'UL', 'OL', 'LI', 'BLOCKQUOTE', 'HR', 'H3', 'H4', 'H5', 'H6']);
    const attrs = new Set(['href', 'rel', 'target', 'start', 'data-lang']);
    const problems = [];
    for (const text of inputs) {
      const div = document.createElement('div');
      div.append(renderMarkdown(text));
      for (const e of div.querySelectorAll('*')) {
        if (!allowed.has(e.tagName)) problems.push(text + ' -> <' + e.tagName + '>');
        for (const a of e.attributes) if (!attrs.has(a.name)) problems.push(text + ' -> @' + a.name);
        if (e.tagName === 'A' && !/^(https?|mailto):/.test(e.getAttribute('href'))) problems.push(text + ' -> href ' + e.getAttribute('href'));
      }
      const visible = div.textContent.replace(/\s+/g, '');
      if (/[<>]/.test(text.replace(/^```html\n|\n```$/g, '')) && !/[<>]/.test(visible) && !text.startsWith('[')) problems.push(text + ' lost its < >: ' + div.textContent);
    }
    return problems;
  });
  check(bad.length === 0, 'the Markdown renderer emits only its own elements and safe links' + (bad.length ? ': ' + bad.join('; ') : ''));
}

// lastLineVisible asks for long answers and checks that the last line is
// above the input box, not behind it.
async function lastLineVisible(page) {
  for (let i = 0; i < 2; i++) {
    await page.fill('#question', 'Give me a long answer');
    await page.click('#send');
    await waitState(page, i, 'done', 30_000);
  }
  const box = async (sel) => page.locator(sel).last().boundingBox();
  const last = await page.locator('.turn').last().locator('.markdown p').last();
  check(await last.textContent() === 'The last line.', 'the long answer ends with its last line');
  const line = await last.boundingBox();
  const footer = await box('.turn .footer');
  const form = await box('#ask');
  const log = await box('#log');
  check(await page.evaluate(() => {
    const log = document.getElementById('log');
    return log.scrollHeight > log.clientHeight || document.documentElement.scrollHeight > window.innerHeight;
  }), 'the conversation is longer than the window');
  check(line.y >= log.y && line.y + line.height <= form.y, `the last line (bottom ${Math.round(line.y + line.height)}) is above the input box (top ${Math.round(form.y)})`);
  check(footer.y + footer.height <= form.y && footer.y + footer.height <= log.y + log.height, 'so are the answer\'s usage line and copy button');
}

// providerError checks that on loopback the page shows why a run failed.
async function providerError(page) {
  await page.fill('#question', 'Hello?');
  await page.click('#send');
  await waitState(page, 0, 'error', 30_000);
  const err = page.locator('.turn .item[data-kind="error"]');
  check(await err.locator('.message').textContent() === 'Error: the language model provider failed; try again', 'the error says the provider failed');
  const detail = await err.locator('.detail').textContent();
  check(detail.includes('127.0.0.1:1') && detail.includes('connection refused'), `the cause is shown on loopback ("${detail.slice(0, 120)}")`);
}

const profile = mkdtempSync(join(tmpdir(), 'dspy-chromium-'));
let context;
let failed = false;
const problems = [];
try {
  // A fresh, empty profile each run: launchPersistentContext is how
  // Playwright takes --user-data-dir.
  context = await chromium.launchPersistentContext(profile, { executablePath, args, headless: true,
    viewport: { width: 1000, height: 720 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });

  const page = await open(context, base, problems);
  check((await page.locator('#lm').textContent()).includes('demo'), 'the page labels the offline demo LM');
  check(await page.locator('#banner').isVisible(), 'the demo banner says how to use a real model');
  await page.evaluate(record);
  const requests = [];
  page.on('request', (r) => { if (r.url().endsWith('/v1/stream')) requests.push(r.postData()); });
  const answer = await askAndWatch(page, requests);
  await stopMidStream(page);
  await reloadMidAnswer(context, problems, answer);

  const react = await open(context, reactBase, problems);
  await timeline(react);
  if (screenshot) {
    mkdirSync(dirname(screenshot), { recursive: true });
    await react.screenshot({ path: screenshot.replace(/\.png$/, '-react.png') });
  }

  const scripted = await open(context, scriptedBase, problems);
  await hostile(scripted, problems);
  await markdownSafety(scripted);
  await scripted.click('#new-chat');
  await lastLineVisible(scripted);
  if (screenshot) {
    await scripted.screenshot({ path: screenshot });
    console.log('screenshot: ' + screenshot);
  }

  const broken = await open(context, brokenBase, problems);
  await providerError(broken);

  // Aborting a fetch logs nothing; anything else in the console is a bug.
  check(problems.length === 0, 'no page or console errors, no dialogs' + (problems.length ? ': ' + problems.join('; ') : ''));
} catch (err) {
  failed = true;
  console.error('FAIL: ' + (err && err.stack || err));
  if (problems.length) console.error('page problems: ' + problems.join('; '));
} finally {
  if (context) await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
