// The "add a performance" form. The API is the only judge of links and dates (its
// parsers define what is valid); the page only catches empty fields before sending and
// puts every answer next to the field it concerns.

import * as api from './api.js';
import { $, h } from './dom.js';
import { iso, today, parseIso, formatLong } from './dates.js';
import { titleOf } from './day.js';

const STORE_KEY = 'timewarp.contributor';
const FIELDS = {
  name: 'f-name', link: 'f-link', date: 'f-date', title: 'f-title', notes: 'f-notes',
};
// API field names → form fields, for 400 answers that name a field.
const API_FIELD = {
  display_name: 'name', raw_youtube_input: 'link', raw_date_input: 'date',
  title: 'title', notes: 'notes',
};
const LABEL = {
  name: 'Your display name', link: 'The YouTube link', date: 'The date',
  title: 'The title', notes: 'The notes',
};

// localStorage can be unavailable (privacy modes, storage disabled): then the
// contributor lives for this page only.
let contributor = null;
function loadContributor() {
  try {
    const value = JSON.parse(localStorage.getItem(STORE_KEY));
    return value && typeof value.id === 'string' ? value : null;
  } catch { return null; }
}
function saveContributor(value) {
  contributor = value;
  try {
    if (value) localStorage.setItem(STORE_KEY, JSON.stringify(value));
    else localStorage.removeItem(STORE_KEY);
  } catch { /* keep it in memory */ }
}

// A rejected submission carries one sentence; it says which input it is about.
export function fieldOfRejection(message) {
  if (/youtu|link|video id/i.test(message)) return 'link';
  if (/date/i.test(message)) return 'date';
  return 'link';
}

// "This is a duplicate: video <id> on <YYYY-MM-DD> is already in the archive."
const DUPLICATE = /video ([A-Za-z0-9_-]{11}) on (\d{4}-\d{2}-\d{2})/;

export function createSubmitForm({ onAccepted, onShowClip }) {
  const form = $('add-form');
  const input = (field) => $(FIELDS[field]);
  const status = $('form-status');
  const submitButton = $('add-submit');
  let busy = false;

  contributor = loadContributor();
  input('date').max = iso(today());

  function renderWho() {
    $('who-known').hidden = !contributor;
    $('who-new').hidden = !!contributor;
    $('who-name').textContent = contributor?.name || 'anonymous';
  }
  renderWho();
  $('who-forget').addEventListener('click', () => {
    saveContributor(null);
    renderWho();
    input('name').focus();
  });

  function setError(field, ...content) {
    const el = $(`${FIELDS[field]}-error`);
    el.replaceChildren(...content);
    el.hidden = false;
    input(field).setAttribute('aria-invalid', 'true');
  }
  function clearErrors() {
    for (const field of Object.keys(FIELDS)) {
      const el = $(`${FIELDS[field]}-error`);
      el.replaceChildren();
      el.hidden = true;
      input(field).removeAttribute('aria-invalid');
    }
    setStatus('');
  }
  function setStatus(kind, ...content) {
    status.className = `form-status ${kind}`;
    status.replaceChildren(...content);
  }
  // A link that works without JavaScript (a deep link) and, with it, opens the day in place.
  const dayLink = (date, clipId, text) => h('a', {
    href: `/?date=${date}${clipId ? `&clip=${encodeURIComponent(clipId)}` : ''}`,
    onclick: (event) => { event.preventDefault(); onShowClip(date, clipId); },
  }, text);

  // Turns "Field 'title' must be at most 500 characters." into words a visitor knows.
  const friendly = (field, message) =>
    message.replace(/^Field '[^']*'/, LABEL[field] || 'This field');

  async function ensureContributor(name) {
    const res = await api.createContributor(name || null);
    if (res.status === 201) {
      saveContributor({ id: res.body.id, name: res.body.display_name });
      renderWho();
      return true;
    }
    const message = res.body?.error?.message || res.body?.detail || `Error ${res.status}`;
    setError('name', friendly('name', message));
    return false;
  }

  async function showDuplicate(message) {
    const match = DUPLICATE.exec(message);
    if (!match) { setError('link', message); return; }
    const [, videoId, date] = match;
    const when = formatLong(parseIso(date));
    // The 409 names the video and date but not the clip; that day's list has it.
    let clip = null;
    try {
      clip = (await api.clipsOn(date)).find((c) => c.youtube_video_id === videoId) || null;
    } catch { /* still link to the day */ }
    setError('link', `This performance is already in the archive, on ${when}: `,
      dayLink(date, clip?.id, clip ? `see “${titleOf(clip)}”` : 'see that day'), '.');
  }

  async function handle(res, values) {
    const body = res.body || {};
    if (res.status === 201 && body.status === 'accepted') {
      for (const field of ['link', 'title', 'notes']) input(field).value = '';
      // The date stays: people often add several songs from the same show.
      const date = parseIso(values.date) ? values.date : body.raw_date_input.trim();
      const name = values.title.trim() || 'Untitled';
      setStatus('ok', `Added “${name}” to ${formatLong(parseIso(date))}. `,
        dayLink(date, body.clip_id, 'Show it in the calendar'), '.');
      onAccepted(date, body.clip_id);
      return;
    }
    if (res.status === 201 && body.status === 'rejected') {
      const field = fieldOfRejection(body.validation_error || '');
      setError(field, body.validation_error || 'The archive did not accept this.');
      input(field).focus();
      return;
    }
    if (res.status === 409) {
      await showDuplicate(body.validation_error || '');
      setStatus('error', 'Not added: that clip is already in the archive.');
      input('link').focus();
      return;
    }
    const message = body.error?.message || body.detail || `The server answered ${res.status}.`;
    const field = API_FIELD[body.error?.details?.field];
    if (field) {
      setError(field, friendly(field, message));
      input(field).focus();
    } else if (res.status === 413) {
      setError('notes', 'This is too long to send: shorten the notes.');
      input('notes').focus();
    } else {
      setStatus('error', `Not added: ${message}`);
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (busy) return;
    clearErrors();
    const values = Object.fromEntries(Object.keys(FIELDS).map((f) => [f, input(f).value]));

    const problems = [];
    if (!contributor && !values.name.trim()) {
      problems.push(['name', 'Choose a display name: it is saved with what you add.']);
    }
    if (!values.link.trim()) problems.push(['link', 'Paste a YouTube link or video id.']);
    if (!values.date) {
      // An <input type=date> reports "" for a half-typed date; badInput tells them apart.
      problems.push(['date', input('date').validity.badInput
        ? 'That date is incomplete: give the day, month and year.'
        : 'Choose the date of the performance.']);
    }
    if (problems.length) {
      for (const [field, message] of problems) setError(field, message);
      input(problems[0][0]).focus();
      return;
    }

    busy = true;
    submitButton.disabled = true;
    form.setAttribute('aria-busy', 'true');
    setStatus('', 'Sending…');
    try {
      if (!contributor && !(await ensureContributor(values.name.trim()))) {
        setStatus('');
        input('name').focus();
        return;
      }
      const payload = () => ({
        contributor_id: contributor.id,
        raw_youtube_input: values.link,
        raw_date_input: values.date,
        title: values.title.trim() || null,
        notes: values.notes.trim() || null,
      });
      let res = await api.submit(payload());
      if (res.status === 400 && res.body?.error?.code === 'CONTRIBUTOR_NOT_FOUND') {
        // The archive no longer knows the remembered contributor (say, a fresh
        // database): register again under the same name and send once more.
        const name = contributor.name;
        saveContributor(null);
        if (!(await ensureContributor(name))) { setStatus(''); return; }
        res = await api.submit(payload());
      }
      if (status.textContent === 'Sending…') setStatus('');
      await handle(res, values);
    } catch (err) {
      setStatus('error', `Not added: ${err.message}`);
    } finally {
      busy = false;
      submitButton.disabled = false;
      form.setAttribute('aria-busy', 'false');
    }
  });

  return {
    // "Add one from this day": fill in the date and put the visitor on the link field.
    startFor(date) {
      input('date').value = date;
      input('link').focus();
    },
  };
}
