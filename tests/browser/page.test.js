// End-to-end tests of the Time Warp page in headless Chromium against the real server
// (started by run.sh on a fresh SQLite database). Each test seeds its own dates, kept in
// separate years so that previous/next walking sees only what the walk test put there:
// 1901-1902 walk, 1955 keyboard, 1969 screenshots, 1970 deep links, 1972 submit,
// 1974 validation, 1975 duplicates, 1977 player.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, openPage, goto, settle, screenshot, seed, newContributor, getJson, videoId,
} from './lib.js';

// Generous per-test bound: the machine may be busy, and a whole-file --test-timeout would
// also cut the file itself short.
const T = { timeout: 180_000 };
let browser;
let open = []; // {context, problems} of the current test, checked and closed after it

before(async () => { browser = await launch(); }, T);
after(async () => { await browser?.close(); });

async function newPage(options) {
  const handle = await openPage(browser, options);
  open.push(handle);
  return handle.page;
}

// Every test doubles as a "no console errors, no outside requests" check.
afterEach(async () => {
  const problems = open.flatMap((h) => h.problems);
  await Promise.all(open.map((h) => h.context.close()));
  open = [];
  assert.deepEqual(problems, [], 'the page logged errors or tried to leave the test server');
});

const text = (page, selector) => page.locator(selector).innerText();
const card = (page, clipId) => page.locator(`article[data-clip="${clipId}"]`);
const focusedClip = (page) => page.evaluate(() => document.activeElement?.dataset?.clip || null);

test('the page loads on this month with no console errors', T, async () => {
  const page = await newPage();
  await goto(page, '/');
  const now = new Date();
  const month = now.toLocaleString('en-GB', { month: 'long', year: 'numeric', timeZone: 'UTC' });
  assert.equal(await text(page, '#month-title'), month);
  assert.equal(await page.locator('#year-select').inputValue(), String(now.getUTCFullYear()));
  // The year jump offers 1900 to this year, newest first.
  const years = await page.locator('#year-select option').allInnerTexts();
  assert.equal(years[0], String(now.getUTCFullYear()));
  assert.equal(years.at(-1), '1900');
  assert.equal(await page.locator('#next-month').isDisabled(), true, 'no months in the future');
  // Jump to a year and month, and back; all without errors.
  await page.locator('#year-select').selectOption('1971');
  await page.locator('#months button[data-month="3"]').click();
  await settle(page);
  assert.equal(await text(page, '#month-title'), 'March 1971');
  await page.locator('#prev-month').click();
  assert.equal(await text(page, '#month-title'), 'February 1971');
  await page.locator('#prev-year').click();
  assert.equal(await text(page, '#month-title'), 'February 1970');
});

test('first submission asks for a display name, then shows the clip on its day', T, async () => {
  const page = await newPage();
  await goto(page, '/');
  assert.equal(await page.locator('#f-name').isVisible(), true, 'asks for a display name');
  const id = videoId();
  await page.fill('#f-name', 'Ada 🎸');
  await page.fill('#f-link', `https://youtu.be/${id}?t=42`);
  await page.fill('#f-date', '1972-05-20');
  await page.fill('#f-title', 'Soundcheck at the Palais');
  await page.fill('#f-notes', 'Front row.');
  await page.click('#add-submit');

  await page.waitForSelector('#form-status.ok');
  assert.match(await text(page, '#form-status'), /Added “Soundcheck at the Palais” to Saturday,? 20 May 1972/);
  await settle(page);
  assert.match(await text(page, '#day-title'), /Saturday,? 20 May 1972/);
  assert.equal(await text(page, '#month-title'), 'May 1972');
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('date'), '1972-05-20');
  const clipId = url.searchParams.get('clip');
  assert.match(clipId, /^clp_[0-9a-f]{32}$/);
  const newCard = card(page, clipId);
  assert.equal(await newCard.getAttribute('class'), 'clip highlight');
  assert.match(await newCard.innerText(), /Soundcheck at the Palais[\s\S]*Front row\./);
  // The calendar cell counts it, and the month strip too.
  assert.equal(await text(page, 'button[data-date="1972-05-20"] .count'), '1');
  assert.match(await page.locator('button[data-date="1972-05-20"]').getAttribute('aria-label'), /1 performance$/);
  assert.equal(await text(page, '#months button[data-month="5"] .mcount'), '1');

  // The contributor is remembered: no name prompt after a reload, and the next clip is
  // filed under the same contributor.
  const stored = JSON.parse(await page.evaluate(() => localStorage.getItem('timewarp.contributor')));
  assert.equal(stored.name, 'Ada 🎸');
  await goto(page, '/');
  assert.equal(await page.locator('#f-name').isVisible(), false);
  assert.match(await text(page, '#who-known'), /Submitting as Ada 🎸/);
  await page.fill('#f-link', videoId());
  await page.fill('#f-date', '1972-05-21');
  await page.click('#add-submit');
  await page.waitForSelector('#form-status.ok');
  const second = new URL(page.url()).searchParams.get('clip');
  const [a, b] = await Promise.all([getJson(`/clips/${clipId}`), getJson(`/clips/${second}`)]);
  assert.equal(a.body.created_by_contributor_id, stored.id);
  assert.equal(b.body.created_by_contributor_id, stored.id);
  assert.equal(b.body.title, '', 'no title given: stored as empty');
  assert.equal(await card(page, second).locator('h3').innerText(), 'Untitled');
});

test('previous and next walk the archive across days, months and years', T, async () => {
  const first = await seed('1901-03-10', 'March opener');
  const second = await seed('1901-03-10', 'March closer');
  const april = await seed('1901-04-02', 'April show');
  const nextYear = await seed('1902-01-20', 'Winter show');
  const page = await newPage();
  await goto(page, '/?date=1901-03-10');
  assert.equal(await page.locator('#day-list article').count(), 2);

  // The first clip in the archive has nothing before it.
  await card(page, first.clipId).getByRole('button', { name: /^Previous/ }).click();
  await page.waitForSelector(`article[data-clip="${first.clipId}"] button[data-walk="previous"][aria-disabled="true"]`);
  assert.match(await page.locator('#announce').innerText(), /earliest/);

  const walk = async (from, direction, to, dayTitle, monthTitle) => {
    await card(page, from.clipId).locator(`button[data-walk="${direction}"]`).click();
    await page.waitForSelector(`article[data-clip="${to.clipId}"].highlight`);
    await settle(page);
    assert.match(await text(page, '#day-title'), dayTitle);
    assert.equal(await text(page, '#month-title'), monthTitle);
    assert.equal(await focusedClip(page), to.clipId, 'focus follows the walk');
    assert.equal(new URL(page.url()).searchParams.get('clip'), to.clipId);
  };
  await walk(first, 'next', second, /Sunday,? 10 March 1901/, 'March 1901');
  await walk(second, 'next', april, /Tuesday,? 2 April 1901/, 'April 1901');
  await walk(april, 'next', nextYear, /Monday,? 20 January 1902/, 'January 1902');
  await walk(nextYear, 'previous', april, /Tuesday,? 2 April 1901/, 'April 1901');
  await walk(april, 'previous', second, /Sunday,? 10 March 1901/, 'March 1901');
  // Keyboard: Enter on the focused clip's Next button walks too.
  await card(page, second.clipId).locator('button[data-walk="next"]').focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector(`article[data-clip="${april.clipId}"].highlight`);
});

test('a bad link or date shows the API message next to that field', T, async () => {
  const contributor = await newContributor('Validator');
  const page = await newPage({ contributor });
  await goto(page, '/');
  assert.equal(await page.locator('#f-name').isVisible(), false, 'remembered: no name prompt');

  await page.fill('#f-link', 'https://vimeo.com/123456');
  await page.fill('#f-date', '1974-03-03');
  await page.click('#add-submit');
  const linkError = page.locator('#f-link-error');
  await linkError.waitFor();
  assert.match(await linkError.innerText(), /not a YouTube link/);
  assert.equal(await page.locator('#f-link').getAttribute('aria-invalid'), 'true');
  assert.match(await page.locator('#f-link').getAttribute('aria-describedby'), /\bf-link-error\b/);
  assert.equal(await page.locator('#f-date-error').isVisible(), false);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'f-link', 'focus goes to the field');

  // A date the API refuses (the picker's max is not a hard limit) lands by the date field.
  await page.fill('#f-link', videoId());
  await page.fill('#f-date', '2999-01-01');
  await page.click('#add-submit');
  await page.locator('#f-date-error').waitFor();
  assert.match(await text(page, '#f-date-error'), /future/);
  assert.equal(await page.locator('#f-date').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('#f-link-error').isVisible(), false, 'old errors are cleared');

  // Empty fields are caught before anything is sent.
  await page.fill('#f-link', '');
  await page.fill('#f-date', '');
  await page.click('#add-submit');
  assert.match(await text(page, '#f-link-error'), /Paste a YouTube link/);
  assert.match(await text(page, '#f-date-error'), /date/);
  // Nothing was stored for 1974.
  const { body } = await getJson('/calendar?from=1974-01-01&to=1974-12-31');
  assert.deepEqual(body.days, []);
});

test('a duplicate says where the existing clip is and links to it', T, async () => {
  const existing = await seed('1975-07-04', 'Independence Day set');
  await seed('1975-07-04', 'Another song that day');
  const contributor = await newContributor('Dup');
  const page = await newPage({ contributor, allowConsole: [/status of 409 \(Conflict\)/] });
  await goto(page, '/');
  // Another URL form of the same video on the same date.
  await page.fill('#f-link', `https://www.youtube.com/watch?feature=share&v=${existing.videoId}`);
  await page.fill('#f-date', '1975-07-04');
  await page.click('#add-submit');
  const error = page.locator('#f-link-error');
  await error.locator('a').waitFor();
  assert.match(await error.innerText(), /already in the archive, on Friday,? 4 July 1975: see “Independence Day set”/);
  assert.equal(await page.locator('#f-link').getAttribute('aria-invalid'), 'true');
  const link = error.locator('a');
  assert.equal(await link.getAttribute('href'), `/?date=1975-07-04&clip=${existing.clipId}`);

  await link.click();
  await page.waitForSelector(`article[data-clip="${existing.clipId}"].highlight`);
  await settle(page);
  assert.match(await text(page, '#day-title'), /Friday,? 4 July 1975/);
  assert.equal(await page.locator('#day-list article').count(), 2);
  assert.equal(await page.locator('#day-list article.highlight').count(), 1);
  assert.equal(await focusedClip(page), existing.clipId);

  // The same link works as a plain deep link too.
  const fresh = await newPage();
  await goto(fresh, `/?date=1975-07-04&clip=${existing.clipId}`);
  assert.equal(await card(fresh, existing.clipId).getAttribute('class'), 'clip highlight');
});

test('a deep link opens its day; a bad one falls back to this month', T, async () => {
  const clip = await seed('1970-01-15', 'Mid-January');
  const page = await newPage();
  await goto(page, '/?date=1970-01-15');
  assert.match(await text(page, '#day-title'), /Thursday,? 15 January 1970/);
  assert.equal(await text(page, '#month-title'), 'January 1970');
  assert.equal(await page.locator('#year-select').inputValue(), '1970');
  assert.equal(await page.locator('td[aria-selected="true"] button').getAttribute('data-date'), '1970-01-15');
  assert.equal(await card(page, clip.clipId).locator('h3').innerText(), 'Mid-January');
  assert.match(await page.locator('#day-summary').innerText(), /^1 performance$/);

  // Picking another day updates the address with replaceState (no new history entry).
  const historyLength = await page.evaluate(() => history.length);
  await page.click('button[data-date="1970-01-16"]');
  await settle(page);
  assert.equal(new URL(page.url()).searchParams.get('date'), '1970-01-16');
  assert.equal(await page.evaluate(() => history.length), historyLength);
  assert.match(await text(page, '#day-summary'), /No performances/);
  // An empty day offers to add one, with the date filled in.
  await page.getByRole('button', { name: 'Add one from this day' }).click();
  assert.equal(await page.locator('#f-date').inputValue(), '1970-01-16');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'f-link');

  // Years before the year picker's range still open, and the picker follows.
  await goto(page, '/?date=1850-06-01');
  assert.equal(await text(page, '#month-title'), 'June 1850');
  assert.equal(await page.locator('#year-select').inputValue(), '1850');

  await goto(page, '/?date=1970-02-30');
  assert.match(await text(page, '#day-summary'), /not a date/);
  assert.equal(await page.locator('#year-select').inputValue(), String(new Date().getUTCFullYear()));
});

test('the calendar grid works with the keyboard alone', T, async () => {
  await seed('1955-02-01', 'February the first');
  const page = await newPage();
  await goto(page, '/?date=1955-01-31');
  const focusedDate = () => page.evaluate(() => document.activeElement?.dataset?.date || null);

  // One Tab stop for the whole grid: from the "next month" button Tab lands on the open day.
  await page.focus('#next-month');
  await page.keyboard.press('Tab');
  assert.equal(await focusedDate(), '1955-01-31');
  assert.equal(await page.locator('#grid-body button[tabindex="0"]').count(), 1);
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.equal(outline, 'solid', 'keyboard focus is visible');

  // Crossing into the next month re-renders the grid and keeps focus on the new day.
  await page.keyboard.press('ArrowRight');
  assert.equal(await focusedDate(), '1955-02-01');
  assert.equal(await text(page, '#month-title'), 'February 1955');
  await page.keyboard.press('Enter');
  await settle(page);
  assert.match(await text(page, '#day-title'), /Tuesday,? 1 February 1955/);
  assert.equal(await page.locator('#day-list article').count(), 1);
  assert.equal(await focusedDate(), '1955-02-01', 'opening a day leaves focus in the grid');

  const moves = [
    ['ArrowDown', '1955-02-08'], ['ArrowLeft', '1955-02-07'], ['End', '1955-02-13'],
    ['Home', '1955-02-07'], ['ArrowUp', '1955-01-31'], ['PageDown', '1955-02-28'],
    ['PageUp', '1955-01-28'], ['Shift+PageDown', '1956-01-28'], ['Shift+PageUp', '1955-01-28'],
  ];
  for (const [key, expected] of moves) {
    await page.keyboard.press(key);
    assert.equal(await focusedDate(), expected, `after ${key}`);
  }
  assert.equal(await page.locator('#grid-body button[tabindex="0"]').count(), 1);

  // Keyboard-only submission: type into the form and press Enter.
  await page.keyboard.press('Space');
  await settle(page);
  assert.equal(new URL(page.url()).searchParams.get('date'), '1955-01-28');
  await page.focus('#f-name');
  await page.keyboard.type('Keys');
  await page.keyboard.press('Tab');
  await page.keyboard.type(videoId());
  await page.focus('#f-date');
  await page.fill('#f-date', '1955-01-28');
  await page.focus('#f-title');
  await page.keyboard.type('Typed with keys');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#form-status.ok');
  await settle(page);
  assert.equal(await page.locator('#day-list article h3').innerText(), 'Typed with keys');
});

test('Play creates the privacy-enhanced player only when asked', T, async () => {
  const clip = await seed('1977-09-09', 'Late summer');
  const page = await newPage();
  await goto(page, '/?date=1977-09-09');
  assert.equal(await page.locator('iframe').count(), 0, 'nothing embedded before Play');
  await card(page, clip.clipId).getByRole('button', { name: /^Play/ }).click();
  const frame = page.locator('iframe');
  await frame.waitFor();
  assert.equal(await frame.getAttribute('src'), `https://www.youtube-nocookie.com/embed/${clip.videoId}?autoplay=1`);
  assert.equal(await frame.getAttribute('title'), 'YouTube player: Late summer');
});

test('screenshots of the month view and the day view, desktop and 375 px', T, async () => {
  // A month with quiet and busy days, to show the shading.
  const counts = { '1969-07-04': 1, '1969-07-12': 2, '1969-07-20': 4, '1969-07-26': 11 };
  for (const [date, n] of Object.entries(counts)) {
    for (let i = 0; i < n; i++) await seed(date, i === 0 ? `Night ${date.slice(8)}, song ${i + 1}` : null);
  }
  const saved = [];
  for (const [label, width, height] of [['desktop', 1280, 900], ['375', 375, 812]]) {
    const page = await newPage({ width, height });
    await goto(page, '/');
    await page.locator('#year-select').selectOption('1969');
    await page.locator('#months button[data-month="7"]').click();
    await settle(page);
    assert.equal(await text(page, 'button[data-date="1969-07-26"] .count'), '11');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling at ${width} px (overflow ${overflow})`);
    saved.push(await screenshot(page, `month-${label}.png`));
    await page.click('button[data-date="1969-07-20"]');
    await settle(page);
    assert.equal(await page.locator('#day-list article').count(), 4);
    saved.push(await screenshot(page, `day-${label}.png`));
  }
  console.log(`# screenshots: ${saved.join(' ')}`);
});
