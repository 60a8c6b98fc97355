// Thin wrappers over the Time Warp JSON API (docs: SPEC.md). Every call resolves to
// {status, body} so callers can tell a 409 duplicate from a 400 without try/catch;
// only a network failure or a non-JSON answer rejects, with an ApiError.

export class ApiError extends Error {}

async function call(method, path, payload) {
  const init = { method, headers: { Accept: 'application/json' } };
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
  return { status: response.status, body };
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
