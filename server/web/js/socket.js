// The WebSocket session: authenticates with its first frame, reconnects with backoff,
// resumes every room from the last seq it saw, drops duplicates by seq, fills gaps from
// history, and retries writes with the same client_msg_id until they are acknowledged.
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
    this.rooms = new Map(); // room id → { lastSeq, seen: Set }
    this.waiting = new Map(); // request id → { resolve, reject, timer }
    this.outbox = new Map(); // client_msg_id → { frame, inflight, tries, timer }
    this.nextId = 1;
    this.backoff = 500;
    this.resuming = false;
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
    for (const item of this.outbox.values()) item.inflight = false;
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

  room(id) {
    if (!this.rooms.has(id)) this.rooms.set(id, { lastSeq: null, seen: new Set() });
    return this.rooms.get(id);
  }

  receive(frame) {
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
      case 'room_opened': {
        const r = this.room(frame.room.id);
        if (r.lastSeq === null) r.lastSeq = frame.room.last_seq;
        break;
      }
      case 'error':
        if (!frame.id) this.emit('session-error', frame);
        break;
    }
    this.emit(frame.type, frame);
  }

  hello(frame) {
    this.backoff = 500;
    this.user = frame.user;
    const resume = {};
    for (const summary of frame.rooms) {
      const r = this.room(summary.id);
      if (r.lastSeq === null) r.lastSeq = summary.last_seq;
      else if (summary.last_seq > r.lastSeq) resume[summary.id] = r.lastSeq;
    }
    this.setState('online');
    this.emit('hello', frame);
    clearInterval(this.pinger);
    this.pinger = setInterval(() => this.probe(), PING_EVERY_MS);
    if (Object.keys(resume).length === 0) {
      this.flush();
      return;
    }
    this.resuming = true;
    this.request({ type: 'resume', rooms: resume }, 60000)
      .then((done) => this.resumed(done, resume))
      .catch(() => {})
      .finally(() => {
        this.resuming = false;
        this.flush();
      });
  }

  /** The replay of a room was capped: page what it left out with history. */
  async resumed(done, asked) {
    for (const [room, from] of Object.entries(done.truncated || {})) {
      await this.fill(room, asked[room], from);
    }
  }

  /** Load the messages with seqs in (after, before) through history and emit them. */
  async fill(room, after, before) {
    let cursor = before;
    while (cursor - after > 1) {
      const limit = Math.min(200, cursor - after - 1);
      let page;
      try {
        page = await this.request({ type: 'history', room, before_seq: cursor, limit });
      } catch {
        return;
      }
      const items = page.messages.filter((m) => m.seq > after);
      if (items.length) this.emit('filled', { room, messages: items });
      if (items.length === 0 || page.messages.length < limit) return;
      cursor = page.messages[0].seq;
    }
  }

  /** Returns false for a duplicate (already delivered) event. */
  timelineEvent(frame) {
    const r = this.room(frame.room);
    if (r.seen.has(frame.seq)) return false;
    r.seen.add(frame.seq);
    if (r.lastSeq !== null && !this.resuming && frame.seq > r.lastSeq + 1) {
      this.fill(frame.room, r.lastSeq, frame.seq);
    }
    r.lastSeq = Math.max(r.lastSeq ?? 0, frame.seq);
    return true;
  }

  /** Remember events the page loaded another way (history) so live copies are dropped. */
  saw(room, seq) {
    this.room(room).seen.add(seq);
  }

  probe(timeoutMs = 10000) {
    this.request({ type: 'ping' }, timeoutMs).catch((e) => {
      if (e.code === 'timeout') this.drop('no pong');
    });
  }

  /** Queue a write (send, edit, delete); retried with the same client_msg_id until acked. */
  write(frame) {
    const cmid = frame.client_msg_id || newId();
    const item = { frame: { ...frame, client_msg_id: cmid }, inflight: false, tries: 0 };
    this.outbox.set(cmid, item);
    this.emit('outbox', { cmid, item });
    this.attempt(cmid);
    return cmid;
  }

  flush() {
    for (const cmid of this.outbox.keys()) this.attempt(cmid);
  }

  attempt(cmid) {
    const item = this.outbox.get(cmid);
    if (!item || item.inflight || this.state !== 'online' || this.resuming) return;
    clearTimeout(item.timer);
    item.inflight = true;
    item.tries += 1;
    this.request(item.frame).then(
      (ack) => {
        this.outbox.delete(cmid);
        this.emit('acked', { cmid, ack, frame: item.frame });
      },
      (error) => {
        item.inflight = false;
        if (error.code === 'disconnected') return; // flushed again after the next hello
        if (RETRYABLE.has(error.code) || error.code === 'timeout') {
          const wait = error.retry_after_ms || Math.min(100 * 2 ** item.tries, 5000);
          item.timer = setTimeout(() => this.attempt(cmid), wait);
          this.emit('retrying', { cmid, error });
          return;
        }
        this.outbox.delete(cmid);
        this.emit('write-failed', { cmid, error, frame: item.frame });
      },
    );
  }
}
