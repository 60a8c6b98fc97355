// The operator page: sign in with a token (kept in sessionStorage only, never in the
// address bar or localStorage), work through the open reports oldest first (each with its
// clip and an on-demand player, Hide or Dismiss), and read the audit trail.

import { call, ApiError } from './api.js';
import { $, h, announce } from './dom.js';

const KEY = 'timewarp.operatorToken';
const EMBED = 'https://www.youtube-nocookie.com/embed/';
let token = sessionStorage.getItem(KEY);
let queueCursor = null;
let auditCursor = null;

const titleOf = (clip) => (clip.title && clip.title.trim()) || 'Untitled';
const when = (ts) => ts.slice(0, 19).replace('T', ' ');

// An /admin/ call with the token; 401 and 404 end the session with a reason.
async function admin(method, path, payload) {
  const answer = await call(method, path, payload, { Authorization: `Bearer ${token}` });
  if (answer.status === 401) {
    signOut('That token was not accepted. Check it and sign in again.');
    throw new ApiError('not signed in');
  }
  if (answer.status === 404 && !path.includes('/clips/') && !path.includes('/reports/')) {
    signOut('Moderation is switched off on this server: no operator tokens are configured (TIMEWARP_ADMIN_TOKENS).');
    throw new ApiError('moderation is off');
  }
  return answer;
}

function signOut(message = null) {
  token = null;
  sessionStorage.removeItem(KEY);
  $('work').hidden = true;
  $('signin').hidden = false;
  $('queue').replaceChildren();
  $('audit-body').replaceChildren();
  const error = $('token-error');
  error.hidden = !message;
  error.textContent = message || '';
  $('token').value = '';
  $('token').focus();
}

$('signin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const typed = $('token').value.trim();
  if (!typed) {
    $('token-error').hidden = false;
    $('token-error').textContent = 'Type your operator token.';
    $('token').focus();
    return;
  }
  token = typed;
  sessionStorage.setItem(KEY, token);
  await start(true);
});

$('signout').addEventListener('click', () => { signOut(); announce('Signed out.'); });

async function start(focus) {
  try {
    await loadQueue(true);
  } catch (err) {
    if (token) $('queue-summary').textContent = `Could not load the reports: ${err.message}`;
    return;
  }
  $('signin').hidden = true;
  $('work').hidden = false;
  $('token-error').hidden = true;
  if (focus) {
    $('queue-title').setAttribute('tabindex', '-1');
    $('queue-title').focus();
  }
  loadAudit(true).catch((err) => { $('audit-summary').textContent = `Could not load the audit trail: ${err.message}`; });
}

// ---- the queue ----

async function loadQueue(fresh) {
  const params = new URLSearchParams({ status: 'open', limit: '20' });
  if (!fresh && queueCursor) params.set('cursor', queueCursor);
  const { status, body } = await admin('GET', `/admin/reports?${params}`);
  if (status !== 200) throw new ApiError(body?.detail || `The server answered ${status}.`);
  if (fresh) $('queue').replaceChildren();
  $('queue').append(...body.items.map((r) => h('li', {}, reportCard(r))));
  queueCursor = body.next_cursor;
  $('queue-more').hidden = !queueCursor;
  summarise();
}

function summarise() {
  const n = $('queue').children.length;
  $('queue-summary').textContent = n === 0 ? 'No open reports. Nothing to do.'
    : `${n}${queueCursor ? '+' : ''} open report${n === 1 ? '' : 's'}, oldest first.`;
}

$('queue-more').addEventListener('click', () => loadQueue(false).catch(() => {}));

function reportCard(report) {
  const clip = report.clip;
  const title = titleOf(clip);
  const headingId = `r-${report.id}`;
  const reasonId = `hide-reason-${report.id}`;
  const status = h('p', { class: 'form-status', role: 'status' });
  const player = h('div', { class: 'player' });
  player.append(h('button', {
    type: 'button', class: 'play',
    onclick: () => {
      const frame = h('iframe', {
        src: `${EMBED}${encodeURIComponent(clip.youtube_video_id)}?autoplay=1`,
        title: `YouTube player: ${title}`,
        allow: 'autoplay; encrypted-media; picture-in-picture; fullscreen',
        allowfullscreen: true, referrerpolicy: 'strict-origin-when-cross-origin',
      });
      player.replaceChildren(frame);
      frame.focus();
    },
  }, h('span', { 'aria-hidden': 'true' }, '▶ '), 'Play', h('span', { class: 'visually-hidden' }, ` ${title}`)));
  const reason = h('input', { id: reasonId, type: 'text', maxlength: 500, value: report.reason });
  const act = async (what) => {
    const text = reason.value.trim();
    if (what === 'hide' && !text) {
      status.className = 'form-status error';
      status.textContent = 'Say why the clip is hidden: it goes into the audit trail.';
      reason.focus();
      return;
    }
    const path = what === 'hide' ? `/admin/clips/${encodeURIComponent(clip.id)}/hide`
      : `/admin/reports/${encodeURIComponent(report.id)}/dismiss`;
    let answer;
    try {
      answer = await admin('POST', path, text ? { reason: text } : {});
    } catch (err) {
      status.className = 'form-status error';
      status.textContent = err.message;
      return;
    }
    if (answer.status !== 200) {
      status.className = 'form-status error';
      status.textContent = answer.body?.detail || `The server answered ${answer.status}.`;
      return;
    }
    announce(what === 'hide' ? `Hidden: ${title}. Its open reports are resolved.` : `Dismissed the report on ${title}.`);
    // Hiding resolves every open report on that clip: reload rather than guess.
    await loadQueue(true).catch(() => {});
    await loadAudit(true).catch(() => {});
    $('queue-title').setAttribute('tabindex', '-1');
    $('queue-title').focus();
  };
  return h('article', { 'aria-labelledby': headingId, 'data-report': report.id },
    h('h3', { id: headingId, text: title }),
    h('p', { class: 'meta' },
      `Performed ${clip.performance_date} · video `, h('code', { text: clip.youtube_video_id }), ' · ',
      h('a', { href: clip.youtube_url, target: '_blank', rel: 'noopener noreferrer' },
        'Open on YouTube', h('span', { class: 'visually-hidden' }, ' (new tab)'))),
    h('p', { class: 'meta' }, `Reported ${when(report.created_at)} UTC:`),
    h('blockquote', { text: report.reason }),
    player,
    h('div', { class: 'actions', role: 'group', 'aria-label': `Decide on the report about ${title}` },
      h('div', { class: 'field' }, h('label', { for: reasonId }, 'Reason (for the audit trail)'), reason),
      h('button', { type: 'button', class: 'primary', onclick: () => act('hide') },
        'Hide clip', h('span', { class: 'visually-hidden' }, ` ${title}`)),
      h('button', { type: 'button', class: 'secondary', onclick: () => act('dismiss') },
        'Dismiss report', h('span', { class: 'visually-hidden' }, ` about ${title}`))),
    status);
}

// ---- the audit trail (oldest first, as the API gives it) ----

async function loadAudit(fresh) {
  const params = new URLSearchParams({ limit: '200' });
  if (!fresh && auditCursor) params.set('cursor', auditCursor);
  const { status, body } = await admin('GET', `/admin/audit?${params}`);
  if (status !== 200) throw new ApiError(body?.detail || `The server answered ${status}.`);
  if (fresh) $('audit-body').replaceChildren();
  $('audit-body').append(...body.items.map((a) => h('tr', {},
    h('td', {}, h('time', { datetime: a.created_at, text: when(a.created_at) })),
    h('td', { text: a.action }),
    h('td', {}, h('code', { text: a.target_id })),
    h('td', { text: a.actor }),
    h('td', { text: a.reason ?? '' }))));
  auditCursor = body.next_cursor;
  $('audit-more').hidden = !auditCursor;
  const n = $('audit-body').children.length;
  $('audit-summary').textContent = n === 0 ? 'No moderation actions yet.' : `${n}${auditCursor ? '+' : ''} action${n === 1 ? '' : 's'}, oldest first.`;
}

$('audit-more').addEventListener('click', () => loadAudit(false).catch(() => {}));

if (token) start(false).finally(() => { document.documentElement.dataset.ready = 'true'; });
else document.documentElement.dataset.ready = 'true';
