// Files in a workroom: uploads with progress (the raw file as the body), then a message
// that carries it; downloads through a short-lived signed link, under the original name.

import { api, downloadByLink, upload } from './api.js';
import { bytes, h, say } from './dom.js';

const meta = new Map(); // file id → metadata promise

function metadata(room, file) {
  if (!meta.has(file)) {
    const p = api('GET', `/v1/rooms/${encodeURIComponent(room)}/files/${encodeURIComponent(file)}`);
    p.catch(() => meta.delete(file));
    meta.set(file, p);
  }
  return meta.get(file);
}

/** A download button for an attached file. */
export function attachment(room, file) {
  const button = h('button', { type: 'button', class: 'file', 'data-testid': 'file-download', 'data-file': file, text: 'File' });
  metadata(room, file).then(
    (m) => {
      button.textContent = m.erased ? 'File (erased)' : `${m.name} (${bytes(m.size)})`;
      button.dataset.name = m.name || '';
      button.setAttribute('aria-label', m.erased ? 'Erased file' : `Download ${m.name}, ${bytes(m.size)}`);
    },
    () => {
      button.textContent = 'File (not available)';
    },
  );
  button.addEventListener('click', async () => {
    try {
      const m = await metadata(room, file);
      await downloadByLink(`/v1/rooms/${encodeURIComponent(room)}/files/${encodeURIComponent(file)}/link`, m.name);
    } catch (e) {
      say(`The download did not start: ${e.message}`);
    }
  });
  return button;
}

/** Upload `file` into `room`; resolves with the stored file's metadata. */
export async function uploadFile(room, file, progress, status) {
  progress.hidden = false;
  progress.value = 0;
  progress.dataset.done = 'false';
  progress.textContent = '0%';
  status.textContent = `Uploading ${file.name}…`;
  try {
    const stored = await upload(
      `/v1/rooms/${encodeURIComponent(room)}/files?name=${encodeURIComponent(file.name)}`,
      file,
      (fraction) => {
        progress.value = Math.round(fraction * 100);
        progress.textContent = `${progress.value}%`;
      },
    );
    meta.set(stored.id, Promise.resolve(stored));
    progress.value = 100;
    progress.dataset.done = 'true';
    status.textContent = `Uploaded ${stored.name} (${bytes(stored.size)}).`;
    return stored;
  } catch (e) {
    progress.dataset.done = 'false';
    status.textContent = `The upload failed: ${e.message}`;
    throw e;
  }
}
