// Entry point: wires the calendar, the day panel and the form together and keeps the
// address bar in step (?date=YYYY-MM-DD, plus &clip=ID for a highlighted clip).

import * as api from './api.js';
import { $, announce } from './dom.js';
import { parseIso, today, formatLong, formatMonthYear } from './dates.js';
import { createCalendar } from './calendar.js';
import { renderDay, showLoading, showError, titleOf } from './day.js';
import { createSubmitForm } from './submit.js';

const calendar = createCalendar({ onPick: (date) => openDay(date, { revealPanel: true }) });
const form = createSubmitForm({
  onAccepted: (date, clipId) => {
    calendar.invalidate(parseIso(date).y);
    openDay(date, { highlight: clipId });
  },
  onShowClip: (date, clipId) => openDay(date, { highlight: clipId, focusClip: true }),
});

// Each openDay() supersedes the previous one: answers that arrive late are dropped, so
// fast clicking through days or clips never shows an older day.
let generation = 0;

async function openDay(date, { highlight = null, focusClip = false, revealPanel = false, say = true } = {}) {
  const mine = ++generation;
  calendar.select(date);
  // replaceState, not pushState: choosing days is browsing, not navigation, and the Back
  // button should leave the page rather than step through every day looked at.
  const url = new URL(location.href);
  url.search = '';
  url.searchParams.set('date', date);
  if (highlight) url.searchParams.set('clip', highlight);
  history.replaceState(null, '', url);

  showLoading(date);
  let clips;
  try {
    clips = await api.clipsOn(date);
  } catch (err) {
    if (mine === generation) showError(date, err.message);
    return;
  }
  if (mine !== generation) return;
  const sentence = renderDay(date, clips, { highlight, onAddForDay: (d) => form.startFor(d) });

  const card = highlight && document.querySelector(`[data-clip="${CSS.escape(highlight)}"]`);
  if (card && focusClip) {
    card.focus(); // focus scrolls it into view, and screen readers read the clip
  } else if (card) {
    card.scrollIntoView({ block: 'nearest' });
  } else if (revealPanel && $('day').getBoundingClientRect().top > window.innerHeight * 0.75) {
    // On a phone the list is below the calendar: bring it up so the tap visibly did something.
    $('day').scrollIntoView({ block: 'start' });
  }
  if (say && !focusClip) announce(sentence);
}

// Previous/next: the server knows the archive order (date, then time added), so one
// request finds the neighbour even across empty days, months and years.
$('day').addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-walk]');
  if (!button || button.getAttribute('aria-disabled') === 'true') return;
  const card = button.closest('[data-clip]');
  const direction = button.dataset.walk;
  let result;
  try {
    result = await api.neighbors(card.dataset.clip);
  } catch (err) {
    announce(`Could not walk the archive: ${err.message}`);
    return;
  }
  const target = result[direction];
  if (!target) {
    // aria-disabled rather than disabled: a disabled button would drop keyboard focus.
    button.setAttribute('aria-disabled', 'true');
    announce(direction === 'next' ? 'This is the latest performance in the archive.'
      : 'This is the earliest performance in the archive.');
    return;
  }
  await openDay(target.performance_date, { highlight: target.id, focusClip: true });
  announce(`${direction === 'next' ? 'Next' : 'Previous'}: ${titleOf(target)}, ${formatLong(parseIso(target.performance_date))}`);
});

// Start-up: a deep link opens its day; otherwise today's month.
const params = new URLSearchParams(location.search);
const linked = params.get('date');
if (linked && parseIso(linked)) {
  openDay(linked, { highlight: params.get('clip'), say: false });
} else {
  const now = today();
  calendar.showMonth(now.y, now.m);
  if (linked) {
    $('day-summary').textContent = `“${linked}” is not a date this archive knows (expected YYYY-MM-DD): showing ${formatMonthYear(now.y, now.m)} instead.`;
  }
}
// Lets the browser tests wait for the modules instead of guessing a delay.
document.documentElement.dataset.ready = 'true';
