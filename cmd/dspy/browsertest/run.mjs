// Browser test of the `dspy serve` page in headless Chromium, driven by
// playwright-core. cmd/dspy/browser_test.go starts the server (demo LM,
// --debug) and runs this script with:
//
//   DSPY_URL         the server's root, e.g. http://127.0.0.1:41234
//   DSPY_SCREENSHOT  where to save a screenshot (optional)
//   CHROMIUM         the browser (default /usr/bin/chromium)
//
// It asks a question and checks that a status line shows before the first
// answer token and that the answer grows over at least three different
// partial renderings before the final one; then it asks a long question,
// presses Stop mid-stream, and checks that the stream ends on the page and
// that the server counted the run as cancelled. Exit code 0 means pass.

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';

const base = process.env.DSPY_URL;
const screenshot = process.env.DSPY_SCREENSHOT;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!base) {
  console.error('run.mjs: set DSPY_URL to the root of a running `dspy serve --lm demo --debug`');
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
// every change: its state, its status lines and its answer text.
function record() {
  window.__rec = [];
  const log = document.getElementById('log');
  new MutationObserver(() => {
    const turns = log.querySelectorAll('.turn');
    const turn = turns[turns.length - 1];
    if (!turn) return;
    const answer = turn.querySelector('.field[data-field="answer"] .value');
    window.__rec.push({
      turn: turns.length,
      state: turn.dataset.state,
      statuses: [...turn.querySelectorAll('.status')].map((s) => s.textContent),
      answer: answer ? answer.textContent : '',
    });
  }).observe(log, { subtree: true, childList: true, characterData: true, attributes: true });
}

async function askAndWatch(page) {
  await page.fill('#question', 'What causes ocean tides?');
  await page.click('#send');
  const turn = page.locator('.turn').nth(0);
  await waitState(page, 0, 'done', 60_000);
  const rec = (await page.evaluate(() => window.__rec)).filter((r) => r.turn === 1);
  const finalText = await turn.locator('.field[data-field="answer"] .value').textContent();

  const first = rec.find((r) => r.answer !== '');
  check(first !== undefined, 'the answer appeared');
  check(first.statuses.length > 0 && first.statuses.every((s) => s.trim() !== ''),
    `a status line ("${first.statuses[0]}") was shown before the first answer token`);
  const partials = [...new Set(rec.filter((r) => r.state === 'streaming' && r.answer !== '' && r.answer !== finalText)
    .map((r) => r.answer))];
  check(partials.length >= 3, `the answer grew over ${partials.length} partial renderings before the final one (want >= 3)`);
  check(partials.every((p) => finalText.startsWith(p)), 'every partial rendering is a prefix of the final answer');
  check(finalText.includes('Moon'), 'the final answer is about the Moon and tides');
  check(await turn.locator('.field[data-field="reasoning"]').count() === 1, 'the reasoning field was streamed too');
}

async function stopMidStream(page) {
  const before = (await stats()).cancelled;
  await page.fill('#question', 'Explain ocean tides in detail');
  await page.click('#send');
  const turn = page.locator('.turn').nth(1);
  const text = turn.locator('.field .value').first();
  await page.waitForFunction(() => {
    const t = document.querySelectorAll('.turn')[1];
    const v = t && t.querySelector('.field .value');
    return v && v.textContent.length > 40;
  }, null, { timeout: 60_000 });
  await page.click('#stop');
  await waitState(page, 1, 'stopped', 5_000);
  check(true, 'the turn shows it was stopped');
  const atStop = (await turn.textContent()).length;
  await sleep(600);
  check((await turn.textContent()).length === atStop, 'nothing more streamed after Stop');
  check(await page.locator('#stop').isDisabled() && await page.locator('#send').isEnabled(),
    'Stop is disabled and Ask enabled again');
  check(!(await text.textContent()).includes('How this answer reached you'), 'the long answer was cut short');
  let cancelled = before;
  for (let i = 0; i < 50 && cancelled <= before; i++) {
    await sleep(100);
    cancelled = (await stats()).cancelled;
  }
  check(cancelled > before, `the server counted the run as cancelled (/debug/stats cancelled ${before} -> ${cancelled})`);
}

const profile = mkdtempSync(join(tmpdir(), 'dspy-chromium-'));
let context;
let failed = false;
try {
  // A fresh, empty profile each run: launchPersistentContext is how
  // Playwright takes --user-data-dir.
  context = await chromium.launchPersistentContext(profile, { executablePath, args, headless: true,
    viewport: { width: 1000, height: 900 } });
  const page = context.pages()[0] || await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console error: ' + m.text()); });

  await page.goto(base + '/');
  await page.locator('#lm.demo').waitFor({ timeout: 10_000 });
  check((await page.locator('#lm').textContent()).includes('demo'), 'the page labels the offline demo LM');
  check(await page.locator('#banner').isVisible(), 'the demo banner says how to use a real model');
  await page.evaluate(record);

  await askAndWatch(page);
  await stopMidStream(page);
  if (screenshot) {
    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot });
    console.log('screenshot: ' + screenshot);
  }
  // Aborting a fetch logs nothing; anything else in the console is a bug.
  check(problems.length === 0, 'no page or console errors' + (problems.length ? ': ' + problems.join('; ') : ''));
} catch (err) {
  failed = true;
  console.error('FAIL: ' + (err && err.stack || err));
} finally {
  if (context) await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
