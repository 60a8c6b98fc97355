// The browse calendar: a year bar, the twelve months of that year with their totals, and
// the month grid with a count per day. The grid follows the WAI-ARIA "grid" pattern used
// by date pickers: one roving tabindex (Tab enters and leaves the grid in one stop),
// arrows move by day/week, Home/End to the week's ends, Page Up/Down by month
// (with Shift by year), Enter/Space open the day (the cells are real buttons).

import * as api from './api.js';
import { $, h, announce } from './dom.js';
import {
  MIN_YEAR, JUMP_FROM_YEAR, iso, parseIso, today, daysInMonth, addDays, addMonths,
  weekdayMon0, compareMonth, formatDay, formatMonthYear, monthName, monthAbbr,
  weekdayNames, plural,
} from './dates.js';

export function createCalendar({ onPick }) {
  const els = {
    prevYear: $('prev-year'), nextYear: $('next-year'), year: $('year-select'),
    todayBtn: $('go-today'), months: $('months'), prevMonth: $('prev-month'),
    nextMonth: $('next-month'), title: $('month-title'), grid: $('grid'),
    body: $('grid-body'), head: $('grid-head'),
  };
  const now = today();
  // Per-year day counts (date string → count), filled by one GET /calendar per year:
  // a year is at most 366 days, within the endpoint's 400-day limit, and it also gives
  // the month totals for the month strip.
  const years = new Map();
  let view = { y: now.y, m: now.m };
  let selected = null; // 'YYYY-MM-DD' of the open day
  let focusDate = null; // the grid cell that holds tabindex=0

  els.head.replaceChildren(h('tr', {}, weekdayNames().map((w) =>
    h('th', { scope: 'col', abbr: w.long }, h('span', { 'aria-hidden': 'true' }, w.short),
      h('span', { class: 'visually-hidden' }, w.long)))));

  // Navigation never goes past the current month (no performance can be there) nor
  // before the API's first year.
  const clampMonth = (date) => {
    if (compareMonth(date, now) > 0) return { ...now };
    if (date.y < MIN_YEAR) return { y: MIN_YEAR, m: 1, d: 1 };
    return date;
  };

  function go(target, { focus = false, say = false } = {}) {
    const t = clampMonth({ d: 1, ...target });
    view = { y: t.y, m: t.m };
    const inView = (s) => { const p = parseIso(s); return p && p.y === view.y && p.m === view.m; };
    focusDate = inView(selected) ? selected
      : (target.d && inView(iso(t))) ? iso(t)
      : (now.y === view.y && now.m === view.m) ? iso(now)
      : iso({ ...view, d: 1 });
    render();
    if (focus) focusCell();
    if (say) {
      const counts = years.get(view.y);
      announce(counts instanceof Map
        ? `${formatMonthYear(view.y, view.m)}: ${plural(monthTotal(counts, view.m), 'performance', 'performances')}`
        : formatMonthYear(view.y, view.m));
    }
    loadYear(view.y);
  }

  function render() {
    // Rebuilding the strip and the grid would drop keyboard focus: note where it was and
    // put it back on the same month or day afterwards.
    const active = document.activeElement;
    const hadFocus = {
      date: els.body.contains(active) ? active.dataset.date : null,
      month: els.months.contains(active) ? active.dataset.month : null,
      nav: [els.prevMonth, els.nextMonth, els.prevYear, els.nextYear].includes(active) ? active : null,
    };
    const { y, m } = view;
    els.title.textContent = formatMonthYear(y, m);
    els.prevMonth.disabled = y === MIN_YEAR && m === 1;
    els.nextMonth.disabled = compareMonth(view, now) >= 0;
    els.prevYear.disabled = y <= MIN_YEAR;
    els.nextYear.disabled = y >= now.y;

    // Year options 1900..now, widened when a deep link goes further back.
    const first = Math.min(JUMP_FROM_YEAR, y);
    if (els.year.options.length !== now.y - first + 1) {
      els.year.replaceChildren(...Array.from({ length: now.y - first + 1 },
        (_, i) => h('option', { value: now.y - i, text: now.y - i })));
    }
    els.year.value = String(y);

    els.months.replaceChildren(...Array.from({ length: 12 }, (_, i) => {
      const month = i + 1;
      const future = y === now.y && month > now.m;
      return h('li', {},
        h('button', {
          type: 'button', 'data-month': month, disabled: future,
          'aria-current': month === m ? 'true' : null,
          onclick: () => go({ y, m: month }, { say: true }),
        }, h('span', { class: 'mname', text: monthAbbr(month) }), h('span', { class: 'mcount' })));
    }));

    // Leading blanks so the 1st falls under its weekday, trailing blanks to fill the week.
    const cells = [];
    const lead = weekdayMon0({ y, m, d: 1 });
    for (let i = 0; i < lead; i++) cells.push(h('td', { class: 'blank' }));
    for (let d = 1; d <= daysInMonth(y, m); d++) {
      const date = iso({ y, m, d });
      cells.push(h('td', { role: 'gridcell', 'aria-selected': date === selected ? 'true' : 'false' },
        h('button', {
          type: 'button', 'data-date': date, tabindex: date === focusDate ? 0 : -1,
          'aria-current': date === iso(now) ? 'date' : null,
          class: compareMonth(parseIso(date), now) === 0 && d > now.d ? 'future' : null,
        }, h('span', { class: 'num', text: d }), h('span', { class: 'count' }))));
    }
    while (cells.length % 7) cells.push(h('td', { class: 'blank' }));
    const rows = [];
    for (let i = 0; i < cells.length; i += 7) rows.push(h('tr', {}, cells.slice(i, i + 7)));
    els.body.replaceChildren(...rows);
    applyCounts();

    if (hadFocus.date) focusCell();
    else if (hadFocus.month) els.months.querySelector(`button[data-month="${hadFocus.month}"]`)?.focus();
    else if (hadFocus.nav?.disabled) focusCell(); // reached the first or last month
  }

  const monthTotal = (counts, m) => {
    let total = 0;
    for (const [date, n] of counts) if (Number(date.slice(5, 7)) === m) total += n;
    return total;
  };

  // Counts are applied in place, so a year's counts arriving never moves focus.
  function applyCounts() {
    const counts = years.get(view.y);
    const known = counts instanceof Map;
    els.grid.setAttribute('aria-busy', known ? 'false' : 'true');
    for (const button of els.body.querySelectorAll('button[data-date]')) {
      const date = button.dataset.date;
      const n = known ? counts.get(date) || 0 : 0;
      button.querySelector('.count').textContent = n ? String(n) : '';
      // Three shades are enough to see busy days at a glance; the number says the rest.
      button.dataset.level = n === 0 ? '0' : n < 3 ? '1' : n < 10 ? '2' : '3';
      const label = [formatDay(parseIso(date))];
      if (date === iso(now)) label.push('today');
      if (known) label.push(n ? plural(n, 'performance', 'performances') : 'no performances');
      button.setAttribute('aria-label', label.join(', '));
    }
    for (const button of els.months.querySelectorAll('button[data-month]')) {
      const month = Number(button.dataset.month);
      const n = known ? monthTotal(counts, month) : 0;
      button.querySelector('.mcount').textContent = n ? String(n) : '';
      button.classList.toggle('has-clips', n > 0);
      button.setAttribute('aria-label', `${monthName(month)} ${view.y}` +
        (known ? `, ${plural(n, 'performance', 'performances')}` : ''));
    }
  }

  async function loadYear(y) {
    if (years.has(y)) return;
    const token = {}; // an invalidate() while loading makes this answer stale
    years.set(y, token);
    try {
      const { days } = await api.calendar(`${y}-01-01`, `${y}-12-31`);
      if (years.get(y) !== token) return;
      years.set(y, new Map(days.map(({ date, count }) => [date, count])));
    } catch (err) {
      if (years.get(y) === token) years.delete(y); // try again on the next visit
      announce(`Could not load the counts for ${y}: ${err.message}`);
      return;
    }
    if (view.y === y) applyCounts();
  }

  function focusCell() {
    els.body.querySelector(`button[data-date="${focusDate}"]`)?.focus();
  }

  const keyMoves = {
    ArrowLeft: (d) => addDays(d, -1),
    ArrowRight: (d) => addDays(d, 1),
    ArrowUp: (d) => addDays(d, -7),
    ArrowDown: (d) => addDays(d, 7),
    Home: (d) => addDays(d, -weekdayMon0(d)),
    End: (d) => addDays(d, 6 - weekdayMon0(d)),
    PageUp: (d, shift) => addMonths(d, shift ? -12 : -1),
    PageDown: (d, shift) => addMonths(d, shift ? 12 : 1),
  };

  els.body.addEventListener('keydown', (event) => {
    const move = keyMoves[event.key];
    const from = parseIso(event.target.dataset?.date);
    if (!move || !from || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    let to = move(from, event.shiftKey);
    if (compareMonth(to, now) > 0 || to.y < MIN_YEAR) return; // stay put at the ends
    if (to.y !== view.y || to.m !== view.m) {
      go(to); // re-renders the month; go() puts tabindex on `to` below
    }
    focusDate = iso(to);
    for (const b of els.body.querySelectorAll('button[data-date]')) {
      b.tabIndex = b.dataset.date === focusDate ? 0 : -1;
    }
    focusCell();
  });

  els.body.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-date]');
    if (button) onPick(button.dataset.date);
  });
  els.prevMonth.addEventListener('click', () => go(addMonths({ ...view, d: 1 }, -1), { say: true }));
  els.nextMonth.addEventListener('click', () => go(addMonths({ ...view, d: 1 }, 1), { say: true }));
  els.prevYear.addEventListener('click', () => go({ y: view.y - 1, m: view.m }, { say: true }));
  els.nextYear.addEventListener('click', () => go({ y: view.y + 1, m: view.m }, { say: true }));
  els.year.addEventListener('change', () => go({ y: Number(els.year.value), m: view.m }, { say: true }));
  els.todayBtn.addEventListener('click', () => {
    go(now, { focus: true });
    onPick(iso(now));
  });

  return {
    // Show the month of `date` with that day marked as the open one.
    select(date) {
      selected = date;
      go(parseIso(date));
    },
    showMonth: (y, m) => go({ y, m }),
    // A new clip changed the counts of its year: fetch them again.
    invalidate(year) {
      years.delete(year);
      if (view.y === year) loadYear(year);
    },
  };
}
