// The WebSocket session: authenticates with its first frame, reconnects with backoff,
// resumes every room from its contiguous cursor (retrying a resume that failed), drops
// duplicates by seq, fills gaps from history, and retries writes with the same
// client_msg_id until they are acknowledged, in order per room.
// Every server frame is re-emitted as a DOM event named after its type.

import { newId } from './dom.js';

const RETRYABLE = new Set(['unavailable', 'rate_limited', 'internal']);
const ACK_TIMEOUT_MS = 15000;
const PING_EVERY_MS = 25000;

export class Socket extends EventTarget {
  constructor(token) {
    super();
    this.token = token;
    this.state = 'offline';
    this.ws = null;
    this.user = null;
    this.rooms = new Map(); // room id → { through, high, seen: Set, … } (see room())
    this.waiting = new Map(); // request id → { resolve, reject, timer }
    this.outbox = new Map(); // client_msg_id → { frame, inflight, waiting, tries, timer }
    this.nextId = 1;
    this.backoff = 500;
    this.resuming = false; // a resume is out: writes wait for it
    this.resumeJob = null; // { id, rooms, unavailable, timer }
    this.resumeTries = 0;
    this.toResume = new Set(); // rooms waiting for resumeTimer
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    // The browser says the network went: check the connection now rather than at the next
    // ping (a socket that still answers is kept; one that does not is dropped in 3 s).
    this.onOffline = () => this.probe(3000);
    this.onOnline = () => {
      if (this.stopped || this.ws) return;
      clearTimeout(this.retry);
      this.backoff = 500;
      this.connect();
    };
    window.addEventListener('offline', this.onOffline);
    window.addEventListener('online', this.onOnline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.pinger);
    clearTimeout(this.retry);
    window.removeEventListener('offline', this.onOffline);
    window.removeEventListener('online', this.onOnline);
    this.ws?.close(1000, 'signed out');
    this.setState('offline');
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  on(type, handler) {
    this.addEventListener(type, (e) => handler(e.detail));
    return this;
  }

  setState(state, why = '') {
    this.state = state;
    this.emit('state', { state, why });
  }

  connect() {
    if (this.stopped) return;
    this.setState('reconnecting', this.user ? '' : 'connecting');
    const ws = new WebSocket(`wss://${location.host}/v1/ws`);
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: this.token }));
    ws.onmessage = (e) => {
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return;
      }
      this.receive(frame);
    };
    ws.onclose = (e) => this.closed(ws, e);
  }

  /** Give up on the current connection now (without waiting for its closing handshake). */
  drop(reason) {
    const ws = this.ws;
    if (!ws) return;
    ws.onclose = null;
    ws.onmessage = null;
    ws.close(4000, reason);
    this.closed(ws, { code: 4000, reason });
  }

  closed(ws, e) {
    if (this.ws !== ws) return;
    this.ws = null;
    clearInterval(this.pinger);
    for (const [id, w] of this.waiting) {
      clearTimeout(w.timer);
      w.reject({ code: 'disconnected', message: 'the connection was lost' });
      this.waiting.delete(id);
    }
    for (const item of this.outbox.values()) {
      clearTimeout(item.timer);
      item.inflight = false;
      item.waiting = false;
    }
    if (this.resumeJob) clearTimeout(this.resumeJob.timer);
    this.resumeJob = null;
    this.resuming = false;
    clearTimeout(this.resumeTimer);
    this.toResume.clear();
    for (const r of this.rooms.values()) {
      r.resuming = false;
      clearTimeout(r.healTimer);
    }
    if (this.stopped) return;
    if (e.code === 1008) {
      // Authentication: expired, revoked or refused. A new token is needed.
      this.stopped = true;
      this.setState('offline', e.reason || 'unauthorized');
      this.emit('ended', { reason: e.reason || 'unauthorized' });
      return;
    }
    this.setState('reconnecting');
    const delay = this.backoff * (0.5 + Math.random() / 2);
    this.backoff = Math.min(this.backoff * 2, 15000);
    this.retry = setTimeout(() => this.connect(), delay);
  }

  raw(frame) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  /** Send a frame with an id; resolves with the reply, rejects with the error frame. */
  request(frame, timeoutMs = ACK_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      if (this.state !== 'online') {
        reject({ code: 'disconnected', message: 'not connected' });
        return;
      }
      const id = `r${this.nextId++}`;
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject({ code: 'timeout', message: 'no answer from the server' });
      }, timeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
      this.raw({ ...frame, id });
    });
  }

  /**
   * Per room: `through`, the contiguous cursor (every seq up to it was received or filled
   * from history; resumes start there), `high`, the highest seq known to exist, and `seen`,
   * the seqs above `through` received out of order. `through` is null for a room this
   * session does not follow (a moderator's watched room): its events are only deduplicated.
   */
  room(id) {
    if (!this.rooms.has(id)) {
      this.rooms.set(id, { through: null, high: 0, seen: new Set(), resuming: false, filling: false, tries: 0 });
    }
    return this.rooms.get(id);
  }

  /** A room this session follows, last committed seq `last` (from hello or room_opened). */
  follow(id, last) {
    const r = this.room(id);
    r.high = Math.max(r.high, last);
    if (r.through !== null) return r;
    r.through = last;
    for (const seq of r.seen) if (seq <= last) r.seen.delete(seq);
    this.advance(r);
    return r;
  }

  advance(r) {
    while (r.seen.delete(r.through + 1)) r.through += 1;
  }

  /** Every seq in (after, before) is now accounted for (a history fill completed). */
  cover(r, before) {
    r.through = Math.max(r.through, before - 1);
    for (const seq of r.seen) if (seq <= r.through) r.seen.delete(seq);
    this.advance(r);
  }

  receive(frame) {
    const job = this.resumeJob;
    if (job && frame.id === job.id) {
      // A resume is answered by `resumed`; an error with its id is for one room (the
      // others are still replayed), except `rate_limited`, which replayed nothing.
      if (frame.type === 'resumed') this.resumeDone(job, frame);
      else if (frame.type === 'error' && frame.code === 'rate_limited') this.resumeFailed(job, frame);
      return;
    }
    if (frame.id && this.waiting.has(frame.id)) {
      const w = this.waiting.get(frame.id);
      this.waiting.delete(frame.id);
      clearTimeout(w.timer);
      if (frame.type === 'error') w.reject(frame);
      else w.resolve(frame);
    }
    switch (frame.type) {
      case 'hello':
        return this.hello(frame);
      case 'message':
      case 'edited':
      case 'deleted':
        if (!this.timelineEvent(frame)) return;
        break;
      case 'room_opened':
        this.follow(frame.room.id, frame.room.last_seq);
        break;
      case 'error':
        if (!frame.id) {
          // A replay (of a resume or of a live gap) failed part of the way: resume again.
          if (frame.code === 'unavailable') {
            if (job) job.unavailable = true;
            else this.resumeLater(this.followed(), 1000);
          }
          this.emit('session-error', frame);
        }
        break;
    }
    this.emit(frame.type, frame);
  }

  followed() {
    return [...this.rooms].filter(([, r]) => r.through !== null).map(([id]) => id);
  }

  hello(frame) {
    this.backoff = 500;
    this.user = frame.user;
    this.resumeTries = 0;
    const behind = [];
    for (const summary of frame.rooms) {
      const known = this.rooms.get(summary.id)?.through ?? null;
      const r = this.follow(summary.id, summary.last_seq);
      r.tries = 0;
      if (known !== null && r.through < r.high) behind.push(summary.id);
    }
    this.setState('online');
    this.emit('hello', frame);
    clearInterval(this.pinger);
    this.pinger = setInterval(() => this.probe(), PING_EVERY_MS);
    if (behind.length) this.resume(behind);
    else this.flush();
  }

  /** Replay the rooms from their contiguous cursors. */
  resume(ids) {
    clearTimeout(this.resumeTimer);
    if (this.state !== 'online') return;
    if (this.resumeJob) {
      this.resumeLater(ids, 1000); // one at a time
      return;
    }
    const rooms = {};
    for (const id of ids) {
      const r = this.rooms.get(id);
      if (!r || r.through === null) continue;
      rooms[id] = r.through;
      r.resuming = true;
    }
    if (!Object.keys(rooms).length) return;
    const id = `r${this.nextId++}`;
    const job = { id, rooms, unavailable: false };
    job.timer = setTimeout(() => this.resumeFailed(job, { code: 'timeout' }), 60000);
    this.resumeJob = job;
    this.resuming = true;
    this.raw({ type: 'resume', id, rooms });
  }

  resumeLater(ids, wait) {
    for (const id of ids) {
      const r = this.rooms.get(id);
      if (r) r.resuming = true;
      this.toResume.add(id);
    }
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => {
      const all = [...this.toResume];
      this.toResume.clear();
      this.resume(all);
    }, wait);
  }

  endJob(job) {
    clearTimeout(job.timer);
    if (this.resumeJob === job) this.resumeJob = null;
    this.resuming = false;
    this.flush();
  }

  /** `resumed`: rooms still behind are resumed again (a replay failed) or filled. */
  resumeDone(job, frame) {
    this.endJob(job);
    const again = [];
    for (const id of Object.keys(job.rooms)) {
      const r = this.rooms.get(id);
      r.resuming = false;
      if (r.through >= r.high) {
        r.tries = 0;
        continue;
      }
      // Truncated (the older part is for history), a room refused, or the replay failed.
      if (job.unavailable && !frame.truncated?.[id] && r.tries++ < 3) again.push(id);
      else this.heal(id);
    }
    if (again.length) this.resumeLater(again, Math.min(1000 * 2 ** this.resumeTries++, 15000));
    else this.resumeTries = 0;
  }

  /** The resume replayed nothing (rate limited, or no answer): try again later. */
  resumeFailed(job, error) {
    this.endJob(job);
    const ids = Object.keys(job.rooms);
    if (this.state !== 'online') return;
    if (this.resumeTries > 8) {
      for (const id of ids) {
        this.rooms.get(id).resuming = false;
        this.heal(id);
      }
      return;
    }
    const wait = error.retry_after_ms || Math.min(1000 * 2 ** this.resumeTries, 15000);
    this.resumeTries += 1;
    this.resumeLater(ids, wait);
  }

  /** Fill the room's first hole from history; the cursor moves only once it is complete. */
  heal(id) {
    const r = this.rooms.get(id);
    if (!r || r.through === null || r.resuming || r.filling || this.state !== 'online') return;
    clearTimeout(r.healTimer);
    if (r.through >= r.high) return;
    let before = r.high + 1;
    for (const seq of r.seen) before = Math.min(before, seq);
    r.filling = true;
    this.fill(id, r.through, before).then((result) => {
      r.filling = false;
      if (result === true) {
        r.tries = 0;
        this.cover(r, before);
        // History has no edit or delete events: the shown messages are read again.
        this.emit('reread', { room: id });
        this.heal(id);
      } else if (RETRYABLE.has(result) || result === 'timeout') {
        r.healTimer = setTimeout(() => this.heal(id), Math.min(1000 * 2 ** r.tries++, 30000));
      }
      // disconnected: the next hello resumes from the cursor; others: nothing to fill.
    });
  }

  /** Load the messages with seqs in (after, before) through history and emit them: true
   * once all were read, else the error's code. */
  async fill(room, after, before) {
    let cursor = before;
    while (cursor - after > 1) {
      const limit = Math.min(200, cursor - after - 1);
      let page;
      try {
        page = await this.request({ type: 'history', room, before_seq: cursor, limit });
      } catch (e) {
        return e.code || 'failed';
      }
      const items = page.messages.filter((m) => m.seq > after);
      if (items.length) this.emit('filled', { room, messages: items, asOf: before - 1 });
      if (items.length === 0 || page.messages.length < limit) return true;
      cursor = page.messages[0].seq;
    }
    return true;
  }

  /** Returns false for a duplicate (already delivered) event. */
  timelineEvent(frame) {
    const r = this.room(frame.room);
    if ((r.through !== null && frame.seq <= r.through) || r.seen.has(frame.seq)) return false;
    r.seen.add(frame.seq);
    if (r.through === null) return true;
    r.high = Math.max(r.high, frame.seq);
    this.advance(r);
    this.heal(frame.room);
    return true;
  }

  probe(timeoutMs = 10000) {
    this.request({ type: 'ping' }, timeoutMs).catch((e) => {
      if (e.code === 'timeout') this.drop('no pong');
    });
  }

  /** Queue a write (send, edit, delete); retried with the same client_msg_id until acked.
   * Each room's writes go one at a time, in the order written (a retry never reorders). */
  write(frame) {
    const cmid = frame.client_msg_id || newId();
    const item = { frame: { ...frame, client_msg_id: cmid }, inflight: false, waiting: false, tries: 0 };
    this.outbox.set(cmid, item);
    this.emit('outbox', { cmid, item });
    this.pump(frame.room);
    return cmid;
  }

  flush() {
    for (const room of new Set([...this.outbox.values()].map((item) => item.frame.room))) this.pump(room);
  }

  /** Send the head of the room's queue, unless it is already out or waiting to retry. */
  pump(room) {
    if (this.state !== 'online' || this.resuming) return;
    for (const [cmid, item] of this.outbox) {
      if (item.frame.room !== room) continue;
      if (!item.inflight && !item.waiting) this.attempt(cmid, item);
      return;
    }
  }

  attempt(cmid, item) {
    const room = item.frame.room;
    item.inflight = true;
    item.tries += 1;
    this.request(item.frame).then(
      (ack) => {
        this.outbox.delete(cmid);
        this.emit('acked', { cmid, ack, frame: item.frame });
        this.pump(room);
      },
      (error) => {
        item.inflight = false;
        if (error.code === 'disconnected') return; // flushed again after the next hello
        if (RETRYABLE.has(error.code) || error.code === 'timeout') {
          const wait = error.retry_after_ms || Math.min(100 * 2 ** item.tries, 5000);
          item.waiting = true;
          item.timer = setTimeout(() => {
            item.waiting = false;
            this.pump(room);
          }, wait);
          this.emit('retrying', { cmid, error });
          return;
        }
        this.outbox.delete(cmid);
        this.emit('write-failed', { cmid, error, frame: item.frame });
        this.pump(room);
      },
    );
  }
}
