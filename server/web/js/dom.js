// Small DOM helpers: build elements without innerHTML (no markup from data, ever), and
// format what the server sends.

/** h('p', {class: 'x', 'data-testid': 'y', onclick: fn}, 'text', child) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'text') el.textContent = value;
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** A clone of a <template>'s content (inert markup in index.html, allowed by the CSP). */
export function fromTemplate(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function time(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

export function timeEl(ts) {
  return h('time', { datetime: ts || '', text: time(ts) });
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

export function newId() {
  return crypto.randomUUID();
}

/** The page-wide alert line (role=alert): errors and notices for the person. */
export function say(message, kind = 'error') {
  const el = document.getElementById('notice');
  el.textContent = message;
  el.dataset.kind = kind;
  el.hidden = !message;
}

/** A user id as people should read it. */
export function person(user, names) {
  if (user && user.startsWith('former~')) return 'a former member';
  return (names && names.get(user)) || user;
}
