// Writing: Enter sends (Shift+Enter is a new line), typing is announced at most every few
// seconds, a chosen file is uploaded and sent as a message. Messages not yet acknowledged
// wait in the outbox, retried by the socket with the same client_msg_id.

import { h } from './dom.js';
import { uploadFile } from './files.js';

const TYPING_EVERY_MS = 3000;

export function composer(view, ctx) {
  const form = view.querySelector('.composer');
  const input = view.querySelector('[data-testid=composer-input]');
  const send = view.querySelector('[data-testid=send-button]');
  const fileInput = view.querySelector('[data-testid=file-input]');
  const progress = view.querySelector('[data-testid=upload-progress]');
  const status = view.querySelector('.upload-status');
  const outbox = view.querySelector('.outbox');
  const pending = new Map(); // client_msg_id → { room, body, li }
  let lastTyping = 0;

  function submit() {
    const body = input.value.trim();
    const room = ctx.current;
    if (!body || !room || !ctx.canSend()) return;
    const cmid = ctx.socket.write({ type: 'send', room, body });
    add(cmid, room, body);
    lastTyping = 0; // the others stop showing us as typing when the message lands
    input.value = '';
    input.focus();
  }

  function add(cmid, room, body) {
    const li = h('li', { 'data-cmid': cmid }, h('span', { class: 'body', text: body }), ' ', h('em', { text: 'sending…' }));
    pending.set(cmid, { room, body, li });
    showOutbox();
  }

  function showOutbox() {
    outbox.replaceChildren(...[...pending.values()].filter((p) => p.room === ctx.current).map((p) => p.li));
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  input.addEventListener('input', () => {
    const now = Date.now();
    if (input.value && now - lastTyping > TYPING_EVERY_MS && ctx.current && ctx.socket.state === 'online') {
      lastTyping = now;
      ctx.socket.raw({ type: 'typing', room: ctx.current });
    }
  });

  fileInput.addEventListener('change', async () => {
    const file = fileInput.files[0];
    const room = ctx.current;
    if (!file || !room) return;
    try {
      const stored = await uploadFile(room, file, progress, status);
      const cmid = ctx.socket.write({ type: 'send', room, body: stored.name, attachments: [stored.id] });
      add(cmid, room, `📎 ${stored.name}`);
    } catch {
      // the status line says why
    } finally {
      fileInput.value = '';
    }
  });

  ctx.socket.on('acked', ({ cmid }) => {
    pending.delete(cmid);
    showOutbox();
  });
  ctx.socket.on('retrying', ({ cmid, error }) => {
    const p = pending.get(cmid);
    if (p) p.li.querySelector('em').textContent = `retrying (${error.message || error.code})…`;
  });
  ctx.socket.on('write-failed', ({ cmid, error, frame }) => {
    const p = pending.get(cmid);
    if (!p) {
      if (frame.type !== 'send') ctx.status(`That change was refused: ${error.message}`);
      return;
    }
    p.li.querySelector('em').textContent = `not sent: ${error.message}`;
    p.li.append(' ', h('button', { type: 'button', text: 'Dismiss', onclick: () => { pending.delete(cmid); showOutbox(); } }));
  });
  ctx.socket.on('state', ({ state }) => {
    for (const p of pending.values()) {
      if (state !== 'online') p.li.querySelector('em').textContent = 'waiting for the connection…';
    }
  });

  return {
    /** The selected room changed, or its state did. */
    refresh() {
      const can = ctx.canSend();
      input.disabled = !can;
      send.disabled = !can;
      fileInput.disabled = !can;
      input.placeholder = !ctx.current
        ? 'Choose a workroom'
        : can
          ? 'Write a message (Enter to send, Shift+Enter for a new line)'
          : 'This workroom is read-only';
      showOutbox();
    },
  };
}
