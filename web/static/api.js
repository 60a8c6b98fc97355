// Thin wrappers over the Time Warp JSON API (docs: SPEC.md). Every call resolves to
// {status, body} so callers can tell a 409 duplicate from a 400 without try/catch;
// only a network failure or a non-JSON answer rejects, with an ApiError.

export class ApiError extends Error {}

// {status, body, retryAfter}: retryAfter is the Retry-After seconds of a 429 (else null).
export async function call(method, path, payload, headers = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers } };
  if (payload !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(payload);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError('The server cannot be reached. Check your connection and try again.');
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered ${response.status} without a readable body.`);
  }
  const retry = Number.parseInt(response.headers.get('Retry-After') || '', 10);
  return { status: response.status, body, retryAfter: Number.isFinite(retry) ? retry : null };
}

// For reads, anything but 200 is unexpected: turn it into one readable error.
async function read(path) {
  const { status, body } = await call('GET', path);
  if (status !== 200) {
    throw new ApiError(body?.error?.message || body?.detail || `The server answered ${status}.`);
  }
  return body;
}

const q = (params) => new URLSearchParams(params).toString();

// {days: [{date, count}]} for days that have clips, from..to inclusive (≤ 400 days apart).
export const calendar = (from, to) => read(`/calendar?${q({ from, to })}`);

// Every clip of one day, following the keyset cursor past the 200-per-page limit.
export async function clipsOn(date) {
  const items = [];
  let cursor = null;
  do {
    const params = { from: date, to: date, limit: 200 };
    if (cursor) params.cursor = cursor;
    const page = await read(`/clips?${q(params)}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < 2000); // a bound, in case a day ever gets that busy
  return items;
}

export const neighbors = (clipId) => read(`/clips/${encodeURIComponent(clipId)}/neighbors`);

export const createContributor = (displayName) =>
  call('POST', '/contributors', { display_name: displayName });

export const submit = (fields) => call('POST', '/submissions', fields);

export const report = (clipId, reason) =>
  call('POST', `/clips/${encodeURIComponent(clipId)}/reports`, { reason });

// "in 12 seconds", "in 3 minutes": how long a rate-limited visitor should wait.
export function waitText(seconds) {
  if (!seconds || seconds < 1) return 'in a little while';
  if (seconds < 90) return `in ${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `in ${minutes} minute${minutes === 1 ? '' : 's'}`;
}
