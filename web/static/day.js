// The day panel: the clips of one day, each with an on-demand player and
// previous/next buttons that walk the whole archive (the app handles the walking).

import { $, h } from './dom.js';
import * as api from './api.js';
import { parseIso, formatLong, today, iso, plural } from './dates.js';

// Privacy-enhanced mode: no YouTube cookies until the visitor presses Play, and the
// iframe is only created then, so browsing a day loads nothing from outside.
const EMBED = 'https://www.youtube-nocookie.com/embed/';

export const titleOf = (clip) => (clip.title && clip.title.trim()) || 'Untitled';

export function showLoading(date) {
  $('day-title').textContent = formatLong(parseIso(date));
  $('day-summary').textContent = 'Loading…';
  $('day').setAttribute('aria-busy', 'true');
}

export function showError(date, message) {
  $('day-title').textContent = formatLong(parseIso(date));
  $('day-summary').textContent = `Could not load this day: ${message}`;
  $('day-list').replaceChildren();
  $('day').setAttribute('aria-busy', 'false');
}

// Renders the day and returns the sentence that summarises it.
export function renderDay(date, clips, { highlight, onAddForDay }) {
  const summary = $('day-summary');
  $('day-title').textContent = formatLong(parseIso(date));
  $('day').setAttribute('aria-busy', 'false');
  if (clips.length === 0) {
    const future = date > iso(today());
    summary.textContent = future ? 'This day has not happened yet.'
      : 'No performances from this day in the archive yet.';
    $('day-list').replaceChildren(future ? '' : h('button', {
      type: 'button', class: 'secondary', onclick: () => onAddForDay(date),
    }, 'Add one from this day'));
    return `${formatLong(parseIso(date))}: ${summary.textContent}`;
  }
  summary.textContent = plural(clips.length, 'performance', 'performances');
  $('day-list').replaceChildren(h('ol', { class: 'clips' }, clips.map((clip) =>
    h('li', {}, clipCard(clip, clip.id === highlight)))));
  return `${formatLong(parseIso(date))}: ${summary.textContent}`;
}

function clipCard(clip, highlighted) {
  const title = titleOf(clip);
  const headingId = `t-${clip.id}`;
  const player = h('div', { class: 'player' });
  const play = h('button', {
    type: 'button', class: 'play',
    onclick: () => {
      const frame = h('iframe', {
        src: `${EMBED}${encodeURIComponent(clip.youtube_video_id)}?autoplay=1`,
        title: `YouTube player: ${title}`,
        allow: 'autoplay; encrypted-media; picture-in-picture; fullscreen',
        allowfullscreen: true,
        referrerpolicy: 'strict-origin-when-cross-origin',
      });
      player.replaceChildren(frame);
      frame.focus(); // keep keyboard users where the thing they asked for appeared
    },
  }, h('span', { 'aria-hidden': 'true' }, '▶ '), 'Play', h('span', { class: 'visually-hidden' }, ` ${title}`));
  player.append(play);

  return h('article', {
    class: highlighted ? 'clip highlight' : 'clip', id: `clip-${clip.id}`,
    'data-clip': clip.id, tabindex: '-1', 'aria-labelledby': headingId,
    'aria-current': highlighted ? 'true' : null,
  },
  h('h3', { id: headingId, class: clip.title && clip.title.trim() ? null : 'untitled', text: title }),
  h('p', { class: 'meta' },
    h('time', { datetime: clip.performance_date, text: formatLong(parseIso(clip.performance_date)) }),
    ' · ',
    h('a', { href: clip.youtube_url, target: '_blank', rel: 'noopener noreferrer' },
      'Open on YouTube', h('span', { class: 'visually-hidden' }, ' (new tab)'))),
  clip.notes ? h('p', { class: 'notes', text: clip.notes }) : null,
  player,
  reportBox(clip, title),
  h('div', { class: 'walk', role: 'group', 'aria-label': 'Walk the archive' },
    h('button', { type: 'button', 'data-walk': 'previous', 'aria-label': `Previous performance before ${title}` },
      h('span', { 'aria-hidden': 'true' }, '← '), 'Previous'),
    h('button', { type: 'button', 'data-walk': 'next', 'aria-label': `Next performance after ${title}` },
      'Next', h('span', { 'aria-hidden': 'true' }, ' →'))));
}

// "Report": a disclosure with the reason, a Send that says what happened (sent, already
// removed, too many reports for now and when to try again) in a status line.
function reportBox(clip, title) {
  const formId = `report-${clip.id}`;
  const reasonId = `report-reason-${clip.id}`;
  const reason = h('textarea', {
    id: reasonId, name: 'reason', rows: 2, maxlength: 500, required: true,
    'aria-describedby': `${reasonId}-help`,
  });
  const status = h('p', { class: 'form-status', role: 'status' });
  const send = h('button', { type: 'submit', class: 'secondary' }, 'Send report');
  const toggle = h('button', {
    type: 'button', class: 'link report-toggle', 'aria-expanded': 'false', 'aria-controls': formId,
  }, 'Report', h('span', { class: 'visually-hidden' }, ` ${title}`));
  const close = () => {
    form.hidden = true;
    toggle.setAttribute('aria-expanded', 'false');
    toggle.focus();
  };
  const form = h('form', {
    id: formId, class: 'report-form', hidden: true, novalidate: true,
    'aria-label': `Report ${title}`,
    onsubmit: async (event) => {
      event.preventDefault();
      const text = reason.value.trim();
      status.className = 'form-status error';
      if (!text) {
        status.textContent = 'Say why this clip should not be in the archive.';
        reason.setAttribute('aria-invalid', 'true');
        reason.focus();
        return;
      }
      reason.removeAttribute('aria-invalid');
      send.disabled = true;
      status.className = 'form-status';
      status.textContent = 'Sending…';
      let answer;
      try {
        answer = await api.report(clip.id, reason.value);
      } catch (err) {
        status.className = 'form-status error';
        status.textContent = err.message;
        send.disabled = false;
        return;
      }
      send.disabled = false;
      if (answer.status === 201) {
        status.className = 'form-status ok';
        status.textContent = 'Thank you: your report was sent. An operator will look at this clip.';
        reason.value = '';
        send.disabled = true; // one report per visit is enough
      } else if (answer.status === 429) {
        status.className = 'form-status error';
        status.textContent = `You have sent too many reports for now. Please try again ${api.waitText(answer.retryAfter)}.`;
      } else if (answer.status === 410) {
        status.className = 'form-status ok';
        status.textContent = 'This clip has already been removed from the archive.';
      } else if (answer.status === 404) {
        status.className = 'form-status error';
        status.textContent = 'This clip is no longer in the archive.';
      } else {
        status.className = 'form-status error';
        status.textContent = answer.body?.detail || `The report could not be sent (${answer.status}).`;
      }
    },
  },
  h('label', { for: reasonId }, 'Why should this clip be removed?'),
  reason,
  h('p', { id: `${reasonId}-help`, class: 'help' }, 'For example: not a live performance, wrong date, spam. Up to 500 characters.'),
  h('div', { class: 'report-actions' }, send,
    h('button', { type: 'button', class: 'link', onclick: close }, 'Cancel')),
  status);
  toggle.addEventListener('click', () => {
    const open = form.hidden;
    form.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    if (open) reason.focus();
  });
  form.addEventListener('keydown', (event) => { if (event.key === 'Escape') close(); });
  return h('div', { class: 'report' }, toggle, form);
}
