// HTTPS calls to the server. The token lives in this module's memory only: never in a URL,
// localStorage or a cookie. Every call carries it as `Authorization: Bearer`.

let token = null;

export function setToken(value) {
  token = value;
}

export function hasToken() {
  return token !== null;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `request failed (${status})`);
    this.status = status;
    this.code = code;
  }
}

async function failure(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON (a 405 from the framework): keep the status
  }
  return new ApiError(response.status, body.code, body.message);
}

function headers(extra) {
  const h = new Headers(extra || {});
  if (token) h.set('Authorization', `Bearer ${token}`);
  return h;
}

/** JSON in, JSON out; `null` for 204. Throws ApiError. */
export async function api(method, path, body) {
  const init = { method, headers: headers(), cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    init.headers.set('Content-Type', 'application/json');
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

/** A query string from the set fields of an object. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Upload a file as the raw request body, reporting progress (0..1). */
export function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.responseType = 'json';
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      const body = xhr.response || {};
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body.code, body.message));
    };
    xhr.onerror = () => reject(new ApiError(0, 'unavailable', 'the upload was cut off; try again'));
    xhr.send(file);
  });
}

/** Save bytes under a name (an <a download> on an object URL). */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement('a'), { href: url, download: name || 'download' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
}

/** Download through a short-lived signed link: ask for the link, then navigate to it. */
export async function downloadByLink(linkPath, name) {
  const { url } = await api('POST', linkPath);
  const a = Object.assign(document.createElement('a'), { href: url, download: name || '' });
  document.body.append(a);
  a.click();
  a.remove();
}

/** Fetch bytes with the token (screenshots, moderators' downloads); the server's name. */
export async function fetchBlob(path) {
  const response = await fetch(path, { headers: headers(), cache: 'no-store', credentials: 'omit' });
  if (!response.ok) throw await failure(response);
  const disposition = response.headers.get('Content-Disposition') || '';
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  const plain = /filename="([^"]*)"/i.exec(disposition);
  const name = star ? decodeURIComponent(star[1]) : plain ? plain[1] : '';
  return { blob: await response.blob(), name };
}

/** The token's claims, for display and to pick the view: not verified here (the server does). */
export function claims(jwt) {
  const part = jwt.split('.')[1];
  if (!part) throw new Error('this is not a token (expected three dot-separated parts)');
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}
