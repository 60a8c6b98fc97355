// Reports and the operator page in headless Chromium against the real server (run.sh
// configures one operator token and reports=3/min). Role and label locators throughout, so
// the tests also check what assistive technology sees. Years used: 1981 (report), 1982
// (operator page), 1983 (screenshots).
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, goto, screenshot, seed, getJson, BASE } from './lib.js';

const T = { timeout: 180_000 };
const TOKEN = process.env.ADMIN_TOKEN;
// Chromium logs every non-2xx fetch; these tests ask for 401s and 429s on purpose.
const EXPECTED_ERRORS = [/Failed to load resource: the server responded with a status of (401|429)/];
let browser;
let open = [];

before(async () => { browser = await launch(); }, T);
after(async () => { await browser?.close(); });

async function newPage(options = {}) {
  const handle = await openPage(browser, { allowConsole: EXPECTED_ERRORS, ...options });
  open.push(handle);
  return handle.page;
}

afterEach(async () => {
  const problems = open.flatMap((h) => h.problems);
  await Promise.all(open.map((h) => h.context.close()));
  open = [];
  assert.deepEqual(problems, [], 'the page logged errors or tried to leave the test server');
});

let client = 0;
// A report filed from its own address (through the trusted proxy), so seeding never
// spends the browser's own allowance.
async function fileReport(clipId, reason) {
  client += 1;
  const res = await fetch(`${BASE}/clips/${clipId}/reports`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': `198.51.100.${client}` },
    body: JSON.stringify({ reason }),
  });
  assert.equal(res.status, 201, 'seeding a report');
  return (await res.json()).id;
}

async function adminGet(path) {
  const res = await fetch(BASE + path, { headers: { Authorization: `Bearer ${TOKEN}` } });
  return { status: res.status, body: await res.json() };
}

async function gotoAdmin(page, path = '/admin') {
  await page.goto(BASE + path);
  await page.waitForSelector('html[data-ready="true"]', { state: 'attached' });
}

const clipCard = (page, title) => page.getByRole('article', { name: title, exact: true });

test('Report asks for a reason, confirms, and says when to try again once rate-limited', T, async () => {
  const clips = [];
  for (let i = 1; i <= 4; i++) clips.push(await seed('1981-04-11', `Report test ${i}`));
  const page = await newPage();
  await goto(page, '/?date=1981-04-11');

  // The first report with the mouse: an empty reason is refused in place.
  const first = clipCard(page, 'Report test 1');
  const toggle = first.getByRole('button', { name: 'Report Report test 1' });
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  const reason = first.getByLabel('Why should this clip be removed?');
  assert.equal(await reason.evaluate((el) => el === document.activeElement), true, 'the reason has focus');
  await first.getByRole('button', { name: 'Send report' }).click();
  assert.match(await first.getByRole('status').innerText(), /Say why/);
  await reason.fill('Studio recording, not a live performance');
  await first.getByRole('button', { name: 'Send report' }).click();
  await first.getByText('Thank you: your report was sent.').waitFor();
  const queue = await adminGet('/admin/reports?limit=200');
  const mine = queue.body.items.filter((r) => r.clip_id === clips[0].clipId);
  assert.deepEqual(mine.map((r) => r.reason), ['Studio recording, not a live performance'], 'the report reached the queue');

  // The second with the keyboard alone: Enter opens, Escape closes and returns focus.
  const second = clipCard(page, 'Report test 2');
  await second.getByRole('button', { name: 'Report Report test 2' }).focus();
  await page.keyboard.press('Enter');
  await page.keyboard.type('Escape test');
  await page.keyboard.press('Escape');
  assert.equal(await second.getByRole('button', { name: 'Report Report test 2' })
    .evaluate((el) => el === document.activeElement), true, 'Escape returns to the Report button');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('Wrong date: this was 1982');
  await page.keyboard.press('Tab'); // to Send report
  await page.keyboard.press('Enter');
  await second.getByText('Thank you: your report was sent.').waitFor();

  await clipCard(page, 'Report test 3').getByRole('button', { name: 'Report Report test 3' }).click();
  await clipCard(page, 'Report test 3').getByLabel('Why should this clip be removed?').fill('Spam');
  await clipCard(page, 'Report test 3').getByRole('button', { name: 'Send report' }).click();
  await clipCard(page, 'Report test 3').getByText('Thank you: your report was sent.').waitFor();

  // The fourth within the minute: reports=3/min, so the page says so, and when to retry.
  const fourth = clipCard(page, 'Report test 4');
  await fourth.getByRole('button', { name: 'Report Report test 4' }).click();
  await fourth.getByLabel('Why should this clip be removed?').fill('Also spam');
  await fourth.getByRole('button', { name: 'Send report' }).click();
  const limited = fourth.getByText(/too many reports/);
  await limited.waitFor();
  assert.match(await limited.innerText(),
    /You have sent too many reports for now\. Please try again in \d+ seconds?\./);
  assert.equal(await fourth.getByLabel('Why should this clip be removed?').inputValue(), 'Also spam',
    'the reason is kept for the retry');
  const after4 = await adminGet('/admin/reports?limit=200');
  assert.equal(after4.body.items.filter((r) => r.clip_id === clips[3].clipId).length, 0, 'nothing filed by the 429');
});

test('the operator page: token once, open reports oldest first, play, Hide, Dismiss, audit', T, async () => {
  const a = await seed('1982-06-01', 'Operator test A');
  const b = await seed('1982-06-02', 'Operator test B');
  const ra = await fileReport(a.clipId, 'Not music at all');
  const rb = await fileReport(b.clipId, 'I just do not like it');

  const page = await newPage();
  await gotoAdmin(page);
  const tokenField = page.getByLabel('Operator token');
  await tokenField.fill('not-the-right-token-0123456789abcdef');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'That token was not accepted' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a refused token is not kept');

  await tokenField.fill(TOKEN);
  await tokenField.press('Enter');
  const queue = page.getByRole('list', { name: 'Open reports' });
  await queue.waitFor();
  const stored = await page.evaluate(() => ({ session: Object.values(sessionStorage), local: localStorage.length }));
  assert.deepEqual(stored, { session: [TOKEN], local: 0 }, 'the token lives in sessionStorage only');
  assert.equal(new URL(page.url()).search, '', 'the token never reaches the address bar');

  // Oldest first: A's report before B's.
  const headings = await queue.getByRole('heading', { level: 3 }).allInnerTexts();
  const ia = headings.indexOf('Operator test A'), ib = headings.indexOf('Operator test B');
  assert.ok(ia >= 0 && ib > ia, `A's report is listed before B's: ${JSON.stringify(headings)}`);

  // Typed once: a reload keeps the session.
  await page.reload();
  await page.waitForSelector('html[data-ready="true"]', { state: 'attached' });
  await queue.waitFor();
  assert.equal(await page.getByLabel('Operator token').isVisible(), false, 'no second sign-in');

  // A's clip, played on demand, then hidden.
  const cardA = clipCard(page, 'Operator test A');
  assert.equal(await cardA.locator('iframe').count(), 0, 'no player before Play');
  await cardA.getByRole('button', { name: 'Play Operator test A' }).click();
  assert.match(await cardA.locator('iframe').getAttribute('src'), new RegExp(`youtube-nocookie\\.com/embed/${a.videoId}`));
  assert.equal(await cardA.getByLabel('Reason (for the audit trail)').inputValue(), 'Not music at all');
  await cardA.getByLabel('Reason (for the audit trail)').fill('Not live music');
  await cardA.getByRole('button', { name: 'Hide clip Operator test A' }).click();
  await cardA.waitFor({ state: 'detached' });
  // The page moves focus to the queue's heading once the queue and the audit trail have
  // reloaded; wait for that, or a key pressed meanwhile lands wherever focus is taken from.
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'queue-title');
  assert.equal((await getJson(`/clips/${a.clipId}`)).status, 410, 'the hidden clip is gone');

  // B's report dismissed with the keyboard.
  const dismissB = clipCard(page, 'Operator test B').getByRole('button', { name: 'Dismiss report about Operator test B' });
  await dismissB.focus();
  await page.keyboard.press('Enter');
  await clipCard(page, 'Operator test B').waitFor({ state: 'detached' });
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'queue-title');
  assert.equal((await getJson(`/clips/${b.clipId}`)).status, 200, 'a dismissed report leaves the clip');

  // The audit trail shows both actions with the operator's name.
  const audit = page.getByRole('table', { name: 'Audit trail' });
  const rows = await audit.getByRole('row').allInnerTexts();
  const hideRow = rows.find((r) => r.includes(a.clipId));
  const dismissRow = rows.find((r) => r.includes(rb));
  assert.ok(hideRow && /hide/.test(hideRow) && /browser/.test(hideRow) && /Not live music/.test(hideRow),
    `the hide is in the audit trail: ${JSON.stringify(rows)}`);
  assert.ok(dismissRow && /dismiss/.test(dismissRow) && /browser/.test(dismissRow), 'the dismissal is in the audit trail');
  assert.ok(rows.indexOf(hideRow) < rows.indexOf(dismissRow), 'audit trail oldest first');
  const { body } = await adminGet('/admin/reports?status=resolved&limit=200');
  const resolved = Object.fromEntries(body.items.map((r) => [r.id, r.resolution]));
  assert.deepEqual([resolved[ra], resolved[rb]], ['hidden', 'dismissed']);

  // Sign out forgets the token.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Operator token').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'signing out forgets the token');
});

test('the operator page answers at /admin/ too, and keeps a refused token out of storage', T, async () => {
  const page = await newPage();
  await gotoAdmin(page, '/admin/');
  assert.equal(await page.getByRole('heading', { name: 'Sign in' }).isVisible(), true);
  await page.getByRole('button', { name: 'Sign in' }).click();
  assert.match(await page.getByRole('alert').innerText(), /Type your operator token/);
});

test('screenshots of Report and the operator page, desktop and 375 px', T, async () => {
  const c = await seed('1983-09-09', 'Screenshot clip');
  await fileReport(c.clipId, 'Screenshot report: wrong performer');
  const saved = [];
  for (const [label, width, height] of [['desktop', 1280, 900], ['375', 375, 812]]) {
    const page = await newPage({ width, height });
    await goto(page, '/?date=1983-09-09');
    const card = clipCard(page, 'Screenshot clip');
    await card.getByRole('button', { name: 'Report Screenshot clip' }).click();
    await card.getByLabel('Why should this clip be removed?').fill('Not a live performance');
    saved.push(await screenshot(page, `report-${label}.png`));
    const admin = await newPage({ width, height });
    await gotoAdmin(admin);
    await admin.getByLabel('Operator token').fill(TOKEN);
    await admin.getByRole('button', { name: 'Sign in' }).click();
    await clipCard(admin, 'Screenshot clip').waitFor();
    const overflow = await admin.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the operator page fits ${width} px (overflow ${overflow} px)`);
    saved.push(await screenshot(admin, `admin-${label}.png`));
  }
  console.log(`# screenshots: ${saved.join(' ')}`);
});
