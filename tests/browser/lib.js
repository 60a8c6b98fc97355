// Shared helpers for the browser tests: one headless Chromium per test file, a fresh
// context (so fresh localStorage) per page, every request outside the test server
// blocked, console errors collected, and direct API calls for seeding data.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = process.env.BASE_URL || 'http://127.0.0.1:8000';
export const SHOTS = process.env.SCREENSHOT_DIR || 'test-output/browser';

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // Playwright gives every launch a fresh user-data dir in TMPDIR (run.sh points TMPDIR
    // at its own temporary folder, removed at the end).
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  });
}

// Opens a page in a new context. Returns {page, context, problems}: `problems` collects
// console errors, uncaught exceptions and any request that tried to leave the test server.
// `allowConsole` lists console errors a test expects: Chromium logs every non-2xx fetch as
// "Failed to load resource", including a 409 that the page asked for and handles.
export async function openPage(browser, {
  width = 1280, height = 900, contributor = null, allowConsole = [],
} = {}) {
  const context = await browser.newContext({ viewport: { width, height }, locale: 'en-GB', timezoneId: 'UTC' });
  const problems = [];
  await context.route((url) => !url.href.startsWith(`${BASE}/`), (route) => {
    const url = route.request().url();
    // The player is allowed to be asked for (the Play button creates it) but never loads
    // here: answer with a stub so nothing waits on the network.
    if (url.startsWith('https://www.youtube-nocookie.com/embed/')) {
      return route.fulfill({ status: 200, contentType: 'text/html', body: '<p>player stub</p>' });
    }
    problems.push(`request outside the test server: ${url}`);
    return route.abort();
  });
  if (contributor) {
    await context.addInitScript((value) => {
      if (!localStorage.getItem('timewarp.contributor')) localStorage.setItem('timewarp.contributor', value);
    }, JSON.stringify(contributor));
  }
  const page = await context.newPage();
  // For error messages in goto(): what went wrong so far and which requests never finished.
  page.problems = problems;
  page.pending = new Set();
  page.on('request', (r) => page.pending.add(r.url()));
  page.on('requestfinished', (r) => page.pending.delete(r.url()));
  page.on('requestfailed', (r) => page.pending.delete(r.url()));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !allowConsole.some((re) => re.test(msg.text()))) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  return { page, context, problems };
}

export async function goto(page, pathAndQuery) {
  await page.goto(BASE + pathAndQuery);
  try {
    await page.waitForSelector('html[data-ready="true"]', { state: 'attached' });
  } catch (err) {
    // Say why the modules did not run (a failed load, an exception) instead of only "timeout".
    err.message += `\npage problems so far: ${JSON.stringify(page.problems)}` +
      `\nrequests still pending: ${JSON.stringify([...page.pending])}`;
    throw err;
  }
  await settle(page);
}

// Waits until the day list and the calendar counts are loaded.
export async function settle(page) {
  await page.waitForSelector('#grid[aria-busy="false"]');
  await page.waitForFunction(() => document.getElementById('day').getAttribute('aria-busy') !== 'true');
}

export async function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// ---- direct API use, for seeding ----

export const videoId = () => randomBytes(9).toString('base64url').slice(0, 11);

async function post(p, body) {
  const res = await fetch(BASE + p, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

let seeder = null;
export async function seed(date, title = null, id = videoId()) {
  if (!seeder) seeder = (await post('/contributors', { display_name: 'seeder' })).body.id;
  const res = await post('/submissions', {
    contributor_id: seeder, raw_youtube_input: id, raw_date_input: date, title,
  });
  if (res.status !== 201 || res.body.status !== 'accepted') {
    throw new Error(`seeding ${id} on ${date} failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return { clipId: res.body.clip_id, videoId: id, date, title };
}

export async function newContributor(name) {
  const res = await post('/contributors', { display_name: name });
  return { id: res.body.id, name: res.body.display_name };
}

export async function getJson(p) {
  const res = await fetch(BASE + p);
  return { status: res.status, body: await res.json() };
}
