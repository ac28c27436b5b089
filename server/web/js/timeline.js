// The selected workroom's timeline: messages in seq order, each seq once (history, resume
// and live copies of the same seq land on one entry), edits and deletes applied, earlier
// history paged in when scrolling back, and the read marker moved when the newest message
// is on screen. Own messages can be edited and deleted; others' can be reported.

import { api, query } from './api.js';
import { clear, h, person, timeEl } from './dom.js';
import { attachment } from './files.js';

const PAGE = 50;

export class Timeline {
  constructor(view, ctx) {
    this.ctx = ctx;
    this.el = view.querySelector('[data-testid=timeline]');
    this.older = view.querySelector('.older');
    this.rooms = new Map(); // room → { msgs: Map(seq → message), start, loading, newest }
    this.nodes = new Map(); // seq → element, for the shown room
    this.readSent = new Map();
    this.el.addEventListener('scroll', () => {
      if (this.el.scrollTop < 40) this.loadOlder();
      this.markRead();
    });
    this.older.addEventListener('click', () => this.loadOlder());
    document.addEventListener('visibilitychange', () => this.markRead());
  }

  store(room) {
    if (!this.rooms.has(room)) {
      this.rooms.set(room, { msgs: new Map(), start: false, loading: false, loaded: false, newest: 0 });
    }
    return this.rooms.get(room);
  }

  async show(room) {
    this.room = room;
    this.redraw();
    if (!room) return;
    const s = this.store(room);
    if (!s.loaded) {
      s.loaded = true;
      await this.page(room);
      this.scrollToEnd();
    }
    this.markRead();
  }

  /** One page of history before the oldest loaded message. */
  async page(room) {
    const s = this.store(room);
    if (s.loading || s.start) return 0;
    s.loading = true;
    const oldest = Math.min(...s.msgs.keys());
    const before = Number.isFinite(oldest) ? oldest : undefined;
    const asOf = this.known(room);
    try {
      const { messages } = await api('GET', `/v1/rooms/${encodeURIComponent(room)}/messages${query({ before_seq: before, limit: PAGE })}`);
      if (messages.length < PAGE || messages[0]?.seq === 1) s.start = true;
      this.merge(room, messages, asOf);
      return messages.length;
    } catch (e) {
      this.ctx.status(`Could not load the history: ${e.message}`);
      return 0;
    } finally {
      s.loading = false;
      if (room === this.room) this.older.hidden = s.start;
    }
  }

  async loadOlder() {
    if (!this.room) return;
    const before = this.el.scrollHeight - this.el.scrollTop;
    if (await this.page(this.room)) this.el.scrollTop = this.el.scrollHeight - before;
  }

  /** The highest seq known committed in the room: a history read now includes it. */
  known(room) {
    return Math.max(this.store(room).newest, this.ctx.lastSeq(room));
  }

  /** Messages in their latest state (history, a gap fill, a replay) into the store; read
   * when every event up to `asOf` was committed. Returns whether anything changed. */
  merge(room, messages, asOf = 0) {
    const s = this.store(room);
    let changed = false;
    for (const m of messages) {
      s.newest = Math.max(s.newest, m.seq);
      if (!this.absorb(s, m, asOf)) continue;
      changed = true;
      if (room === this.room) this.place(m.seq);
    }
    return changed;
  }

  /** One message's latest state: a delete is never undone, an older edit never wins. */
  absorb(s, incoming, asOf) {
    const old = s.msgs.get(incoming.seq);
    if (!old) {
      s.msgs.set(incoming.seq, { ...incoming, editSeq: asOf });
      return true;
    }
    const m = { ...old, ...incoming, editSeq: Math.max(old.editSeq || 0, asOf) };
    if (old.deleted) Object.assign(m, { deleted: true, body: '' });
    else if (!incoming.deleted && !later(incoming.edited_ts, old.edited_ts)) {
      Object.assign(m, { body: old.body, edited_ts: old.edited_ts });
    }
    if (m.body === old.body && m.deleted === old.deleted && m.edited_ts === old.edited_ts &&
      m.unreadable === old.unreadable && String(m.attachments) === String(old.attachments)) {
      old.editSeq = m.editSeq;
      return false;
    }
    s.msgs.set(incoming.seq, m);
    return true;
  }

  /** After a gap fill: history has no edit/delete events, so an edit or delete in the gap
   * of a message shown before it was missed. Read the loaded window again (latest state). */
  async reread(room) {
    const s = this.store(room);
    if (!s.loaded || !s.msgs.size) return;
    if (s.rereading) {
      s.again = true;
      return;
    }
    s.rereading = true;
    try {
      do {
        s.again = false;
        const oldest = Math.min(...s.msgs.keys());
        const asOf = this.known(room);
        const got = [];
        let before;
        for (;;) {
          const { messages } = await api('GET', `/v1/rooms/${encodeURIComponent(room)}/messages${query({ before_seq: before, limit: 200 })}`);
          got.push(...messages);
          if (messages.length < 200 || messages[0].seq <= oldest) break;
          before = messages[0].seq;
        }
        this.merge(room, got.filter((m) => m.seq >= oldest), asOf);
      } while (s.again);
    } catch {
      // the next gap fill or reload reads it again
    } finally {
      s.rereading = false;
    }
  }

  /** A live or replayed timeline event. */
  apply(frame) {
    const s = this.store(frame.room);
    s.newest = Math.max(s.newest, frame.seq);
    let seq = frame.seq;
    if (frame.type === 'message') {
      const { type, ...m } = frame;
      if (!this.absorb(s, m, 0)) return;
    } else {
      // Applied only when newer than what the message shows (a replayed older edit can come
      // after a live newer one), and never to a deleted message.
      seq = frame.target_seq;
      const m = s.msgs.get(seq);
      if (!m || m.deleted || frame.seq <= (m.editSeq || 0)) return;
      if (frame.type === 'edited') {
        if (later(m.edited_ts, frame.ts)) return;
        s.msgs.set(seq, { ...m, body: frame.body, edited_ts: frame.ts, editSeq: frame.seq });
      } else {
        s.msgs.set(seq, { ...m, body: '', deleted: true, editSeq: frame.seq });
      }
    }
    if (frame.room === this.room) {
      const atEnd = this.atEnd();
      this.place(seq);
      if (atEnd) this.scrollToEnd();
      this.markRead();
    }
  }

  /** Our own send was acknowledged: show it at its seq even before its frame arrives. */
  acked(frame, ack) {
    const s = this.store(ack.room);
    if (s.msgs.has(ack.seq) || frame.type !== 'send') return;
    this.apply({
      type: 'message', room: ack.room, seq: ack.seq, msg_id: ack.msg_id, ts: ack.ts,
      sender: this.ctx.user, body: frame.body, client_msg_id: frame.client_msg_id,
      attachments: frame.attachments,
    });
  }

  /** Draw the shown room again; the live region is marked busy meanwhile, so screen
   * readers do not read every message out again. */
  redraw() {
    const atEnd = this.atEnd();
    this.el.setAttribute('aria-busy', 'true');
    clearTimeout(this.busy);
    this.busy = setTimeout(() => this.el.setAttribute('aria-busy', 'false'), 100);
    clear(this.el);
    this.nodes.clear();
    const s = this.room && this.store(this.room);
    this.older.hidden = !s || s.start || !s.loaded;
    if (!s) return;
    for (const seq of [...s.msgs.keys()].sort((a, b) => a - b)) this.place(seq);
    if (atEnd) this.scrollToEnd();
  }

  /** Put the entry for `seq` at its place (replacing an older rendering of it). */
  place(seq, force = false) {
    const m = this.store(this.room).msgs.get(seq);
    const node = this.render(m);
    const old = this.nodes.get(seq);
    if (old) {
      if (!force && old.querySelector('.editing')) return; // being edited: keep the draft
      const focused = old.contains(document.activeElement) && document.activeElement.textContent;
      old.replaceWith(node);
      const again = [...node.querySelectorAll('button')].find((b) => b.textContent === focused || force);
      if (focused || force) (again || node).focus?.();
    } else {
      const after = [...this.nodes.keys()].filter((k) => k > seq).sort((a, b) => a - b)[0];
      if (after === undefined) this.el.append(node);
      else this.nodes.get(after).before(node);
    }
    this.nodes.set(seq, node);
  }

  render(m) {
    const own = m.sender === this.ctx.user;
    const open = this.ctx.canSend();
    const body = m.deleted
      ? ''
      : m.unreadable
        ? `This message can no longer be shown (${m.unreadable}).`
        : m.body;
    const node = h(
      'article',
      {
        'data-testid': 'message',
        'data-seq': m.seq,
        'data-sender': m.sender,
        class: ['msg', own && 'own', m.notice && 'notice', m.deleted && 'deleted'].filter(Boolean).join(' '),
      },
      h(
        'header',
        {},
        h('strong', { text: m.notice ? `Notice from moderation (${m.sender})` : person(m.sender, this.ctx.names) }),
        ' ',
        timeEl(m.ts),
        m.edited_ts && !m.deleted && h('span', { 'data-testid': 'edited', class: 'mark', text: ' (edited)' }),
        m.deleted && h('span', { 'data-testid': 'deleted', class: 'mark', text: ' Message deleted' }),
      ),
      h('p', { 'data-testid': 'message-body', class: 'body', text: body }),
      !m.deleted && m.attachments?.length &&
        h('div', { class: 'files' }, m.attachments.map((f) => attachment(m.room, f))),
    );
    if (m.deleted || m.notice) return node;
    const actions = h('div', { class: 'actions' });
    if (own && open) {
      actions.append(
        h('button', { type: 'button', text: 'Edit', onclick: () => this.edit(node, m) }),
        h('button', { type: 'button', text: 'Delete', onclick: (e) => this.remove(e.currentTarget, m) }),
      );
    } else if (!own) {
      actions.append(h('button', { type: 'button', text: 'Report', onclick: () => this.ctx.report(m) }));
    }
    if (actions.childElementCount) node.append(actions);
    return node;
  }

  edit(node, m) {
    const area = h('textarea', { rows: 2, 'aria-label': 'Edit your message' });
    area.value = m.body; // a textarea's text is its value, not an attribute
    const save = () => {
      const body = area.value.trim();
      const now = this.store(m.room).msgs.get(m.seq) || m;
      if (body && body !== now.body && !now.deleted) {
        this.ctx.socket.write({ type: 'edit', room: m.room, seq: m.seq, body });
      }
      this.place(m.seq, true);
    };
    const form = h(
      'form',
      { class: 'editing', onsubmit: (e) => { e.preventDefault(); save(); } },
      area,
      h('button', { type: 'submit', text: 'Save' }),
      h('button', { type: 'button', text: 'Cancel', onclick: () => this.place(m.seq, true) }),
    );
    area.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); save(); }
      if (e.key === 'Escape') { e.preventDefault(); this.place(m.seq, true); }
    });
    node.querySelector('.body').replaceWith(form);
    area.focus();
  }

  remove(button, m) {
    if (button.dataset.armed) {
      this.ctx.socket.write({ type: 'delete', room: m.room, seq: m.seq });
      return;
    }
    button.dataset.armed = 'true';
    button.textContent = 'Confirm delete';
    setTimeout(() => {
      if (button.isConnected) {
        delete button.dataset.armed;
        button.textContent = 'Delete';
      }
    }, 5000);
  }

  atEnd() {
    return this.el.scrollTop + this.el.clientHeight >= this.el.scrollHeight - 40;
  }

  scrollToEnd() {
    this.el.scrollTop = this.el.scrollHeight;
  }

  /** Send `read` once the newest event of the shown room is on screen: the highest seq the
   * timeline has, not the room's last seq (which may not be loaded yet). */
  markRead() {
    const room = this.room;
    if (!room || document.visibilityState !== 'visible' || !this.atEnd()) return;
    const s = this.store(room);
    if (!s.loaded || s.loading) return;
    const seq = s.newest;
    if (!seq || seq <= (this.readSent.get(room) || 0) || seq <= this.ctx.readSeq(room)) return;
    if (this.ctx.socket.state !== 'online') return;
    this.readSent.set(room, seq);
    this.ctx.socket
      .request({ type: 'read', room, seq })
      .then((f) => this.ctx.readMoved(f))
      .catch(() => this.readSent.delete(room));
  }
}

/** Whether timestamp `a` is later than `b` (an absent one is the earliest). */
function later(a, b) {
  return Boolean(a) && (!b || Date.parse(a) > Date.parse(b));
}
