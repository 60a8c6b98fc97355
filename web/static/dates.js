// Calendar dates as plain {y, m, d} values (m is 1..12) and 'YYYY-MM-DD' strings.
// Performance dates have no time zone, so all arithmetic goes through Date.UTC: local
// Date objects would shift a day for users east or west of UTC around midnight and DST.

export const MIN_YEAR = 1000;      // the API rejects earlier performance dates
export const JUMP_FROM_YEAR = 1900; // the year picker starts here (deep links may go earlier)

const pad = (n, w = 2) => String(n).padStart(w, '0');

export function iso({ y, m, d }) {
  return `${pad(y, 4)}-${pad(m)}-${pad(d)}`;
}

// Returns {y, m, d} for a real calendar date written exactly YYYY-MM-DD, else null.
export function parseIso(s) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s || '');
  if (!match) return null;
  const [y, m, d] = match.slice(1).map(Number);
  if (y < MIN_YEAR || m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) return null;
  return { y, m, d };
}

export function daysInMonth(y, m) {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

// The user's own calendar day: "today" as they see it, which is what the month view
// should open on. (The API judges "not in the future" in UTC and says so if they differ.)
export function today() {
  const now = new Date();
  return { y: now.getFullYear(), m: now.getMonth() + 1, d: now.getDate() };
}

const utc = ({ y, m, d }) => {
  const t = new Date(Date.UTC(2000, m - 1, d));
  t.setUTCFullYear(y); // Date.UTC maps years 0..99 to 1900s; setUTCFullYear does not
  return t;
};
const fromUtc = (t) => ({ y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() });

export function addDays(date, n) {
  const t = utc(date);
  t.setUTCDate(t.getUTCDate() + n);
  return fromUtc(t);
}

// Same day of month in another month, clamped (31 January + 1 month = 28/29 February).
export function addMonths({ y, m, d }, n) {
  const index = y * 12 + (m - 1) + n;
  const ny = Math.floor(index / 12), nm = (index % 12) + 1;
  return { y: ny, m: nm, d: Math.min(d, daysInMonth(ny, nm)) };
}

// Monday = 0 … Sunday = 6 (the grid starts weeks on Monday, as ISO 8601 does).
export function weekdayMon0(date) {
  return (utc(date).getUTCDay() + 6) % 7;
}

export function compareMonth(a, b) {
  return (a.y - b.y) * 12 + (a.m - b.m);
}

// English throughout, to match the rest of the page; timeZone UTC because the Date
// objects above are UTC midnights.
const fmt = (opts) => new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', ...opts });
const longDay = fmt({ weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const plainDay = fmt({ day: 'numeric', month: 'long', year: 'numeric' });
const monthYear = fmt({ month: 'long', year: 'numeric' });
const monthLong = fmt({ month: 'long' });
const monthShort = fmt({ month: 'short' });
const weekdayShort = fmt({ weekday: 'short' });
const weekdayLong = fmt({ weekday: 'long' });

export const formatLong = (date) => longDay.format(utc(date));       // Thursday 15 January 1970
export const formatDay = (date) => plainDay.format(utc(date));       // 15 January 1970
export const formatMonthYear = (y, m) => monthYear.format(utc({ y, m, d: 1 }));
export const monthName = (m) => monthLong.format(utc({ y: 2001, m, d: 1 }));
export const monthAbbr = (m) => monthShort.format(utc({ y: 2001, m, d: 1 }));
// 1 January 2001 was a Monday.
export const weekdayNames = () =>
  Array.from({ length: 7 }, (_, i) => ({
    short: weekdayShort.format(utc({ y: 2001, m: 1, d: 1 + i })),
    long: weekdayLong.format(utc({ y: 2001, m: 1, d: 1 + i })),
  }));

export const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
