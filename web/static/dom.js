// Tiny DOM builder. User-supplied text (titles, notes) only ever becomes text nodes,
// never markup, so nothing a contributor types can inject HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const $ = (id) => document.getElementById(id);

// One polite live region for everything that changes without a focus move: counts that
// arrive, a day's list, results of previous/next. Clearing first makes screen readers
// repeat a message that happens to equal the previous one.
export function announce(message) {
  const region = $('announce');
  region.textContent = '';
  requestAnimationFrame(() => { region.textContent = message; });
}
