// The member's view: workrooms, the selected one's timeline and composer, and beside it
// its members, contact exchange, Tracker screenshots and the moderator access that ended.
// Wires the socket's frames to the parts that show them.

import { api } from './api.js';
import { clear, fromTemplate, h, say, time } from './dom.js';
import { roomList } from './rooms.js';
import { Timeline } from './timeline.js';
import { composer } from './composer.js';
import { membersPanel } from './members.js';
import { contactsPanel, ownContact } from './contacts.js';
import { screenshots, workView } from './tracker.js';

export function memberView({ user, socket }) {
  const view = fromTemplate('tpl-member');
  const title = view.querySelector('#room-title');
  const roomState = view.querySelector('.room-state');
  const rooms = new Map();
  let drawnNames = '[]';
  const ctx = {
    user,
    socket,
    current: null,
    names: new Map(),
    me: null,
    canSend: () => Boolean(ctx.current && rooms.get(ctx.current)?.can_send && !rooms.get(ctx.current)?.closed),
    lastSeq: (room) => rooms.get(room)?.last_seq || 0,
    readSeq: (room) => rooms.get(room)?.read_seq || 0,
    readMoved: (f) => moved(f),
    status: (text) => { roomState.textContent = text; },
    report: (m) => report(m),
    members: () => people.list(),
    membersChanged: () => {
      contacts.load(ctx.current);
      const others = people.list().filter((m) => m.party && m.user !== user).map((m) => m.name || m.user);
      if (others.length) {
        list.label(ctx.current, `With ${others.join(', ')}`);
        list.update(rooms.get(ctx.current));
        title.textContent = `Workroom with ${others.join(', ')}`;
      }
      // Senders are shown by name: draw again only when a name changed (a redraw makes the
      // live region's content new).
      const names = JSON.stringify([...ctx.names]);
      if (names !== drawnNames) {
        drawnNames = names;
        timeline.redraw();
      }
    },
  };

  const list = roomList(view.querySelector('[data-testid=room-list]'), select);
  const timeline = new Timeline(view, ctx);
  const writer = composer(view, ctx);
  const people = membersPanel(view, ctx);
  const contacts = contactsPanel(view, ctx);
  const shots = screenshots(view, ctx);
  const ended = view.querySelector('[data-testid=ended-grants]');
  ownContact(view);
  workView(view);

  function describe(room) {
    if (!room) return '';
    if (room.closed) {
      return `The contract ended: this workroom is read-only.${room.purge_at ? ` It will be purged ${time(room.purge_at)}.` : ''}`;
    }
    return room.can_send ? '' : 'You can read this workroom but not write in it.';
  }

  // Label each listed room by the other side's contract parties, a few requests at a time,
  // so the list shows people rather than room ids before a room is opened.
  const named = new Set();
  async function nameRooms(ids) {
    const queue = ids.filter((id) => !named.has(id));
    for (const id of queue) named.add(id);
    async function worker() {
      for (let id = queue.shift(); id; id = queue.shift()) {
        try {
          const { members } = await api('GET', `/v1/rooms/${encodeURIComponent(id)}/members`);
          const others = members.filter((m) => m.party && m.user !== user).map((m) => m.name || m.user);
          if (others.length && rooms.has(id)) {
            list.label(id, `With ${others.join(', ')}`);
            list.update(rooms.get(id));
          }
        } catch {
          named.delete(id); // retried on the next hello
        }
      }
    }
    await Promise.all([worker(), worker(), worker()]);
  }

  function select(id) {
    const room = rooms.get(id);
    if (!room) return;
    ctx.current = id;
    ctx.me = null;
    ctx.names.clear();
    drawnNames = '[]';
    list.select(id);
    list.render(rooms);
    title.textContent = `Workroom ${id}`;
    roomState.textContent = describe(room);
    writer.refresh();
    timeline.show(id);
    people.load(id);
    shots.load(id);
    loadEnded(id);
  }

  async function loadEnded(id) {
    clear(ended);
    try {
      const { grants } = await api('GET', `/v1/rooms/${encodeURIComponent(id)}/grants`);
      if (id !== ctx.current) return;
      if (!grants.length) ended.append(h('li', { class: 'hint', text: 'None: no moderator has had access to this workroom, or their access has not ended yet.' }));
      for (const g of grants) {
        ended.append(h('li', { 'data-case': g.case_id },
          h('strong', { text: `Case ${g.case_id}` }),
          h('span', { class: 'block', text: `Scope: ${g.scope.join(', ')} · ${g.state}` }),
          h('small', { class: 'block', text: `${time(g.opened_at)} – ${time(g.ended_at)}` })));
      }
    } catch (e) {
      ended.append(h('li', { class: 'hint', text: e.message }));
    }
  }

  function moved(f) {
    const room = rooms.get(f.room);
    if (!room || f.user !== user) return;
    room.read_seq = Math.max(room.read_seq || 0, f.seq);
    list.update(room);
  }

  function summary(s) {
    rooms.set(s.id, { ...rooms.get(s.id), ...s });
  }

  async function refreshRooms() {
    try {
      const body = await api('GET', '/v1/rooms');
      for (const s of body.rooms) summary(s);
      list.render(rooms);
      if (ctx.current) roomState.textContent = describe(rooms.get(ctx.current));
    } catch {
      // the socket's summaries stay
    }
  }

  function report(m) {
    const reason = h('textarea', { id: 'report-reason', rows: 3, required: true, maxlength: 2000 });
    const dialog = h('dialog', { 'aria-labelledby': 'report-title' },
      h('form', { method: 'dialog' },
        h('h3', { id: 'report-title', text: 'Report this message to moderation' }),
        h('blockquote', { text: m.body }),
        h('p', { class: 'hint', text: 'Moderators will see exactly this message (with its earlier versions and files) and your reason, nothing else of the workroom.' }),
        h('label', { for: 'report-reason', text: 'Reason' }),
        reason,
        h('div', { class: 'actions' },
          h('button', { value: 'cancel', formnovalidate: true, text: 'Cancel' }),
          h('button', { value: 'report', text: 'Report' }))));
    dialog.addEventListener('close', async () => {
      dialog.remove();
      if (dialog.returnValue !== 'report' || !reason.value.trim()) return;
      try {
        await api('POST', `/v1/rooms/${encodeURIComponent(m.room)}/reports`, { messages: [m.msg_id], reason: reason.value.trim() });
        say('Reported. Moderation will look at it.', 'info');
      } catch (e) {
        say(`Not reported: ${e.message}`);
      }
    });
    view.append(dialog);
    dialog.showModal();
  }

  socket
    .on('hello', (f) => {
      const seen = new Set(f.rooms.map((r) => r.id));
      for (const id of rooms.keys()) if (!seen.has(id)) rooms.delete(id);
      for (const s of f.rooms) summary(s);
      list.render(rooms);
      nameRooms([...seen]);
      if (ctx.current && !rooms.has(ctx.current)) {
        ctx.current = null;
        title.textContent = 'Choose a workroom';
        timeline.show(null);
      } else if (ctx.current) {
        // Presence (and membership) may have changed while disconnected.
        people.load(ctx.current);
      }
      writer.refresh();
    })
    .on('room_opened', (f) => {
      summary(f.room);
      list.render(rooms);
      nameRooms([f.room.id]);
    })
    .on('room_closed', (f) => {
      const room = rooms.get(f.room);
      if (!room) return;
      Object.assign(room, { closed: true, can_send: false });
      list.update(room);
      if (f.room === ctx.current) {
        roomState.textContent = describe(room);
        writer.refresh();
        timeline.redraw();
      }
      refreshRooms();
    })
    .on('room_removed', (f) => {
      rooms.delete(f.room);
      list.render(rooms);
      if (f.room === ctx.current) {
        ctx.current = null;
        title.textContent = 'You no longer have access to that workroom';
        writer.refresh();
        timeline.show(null);
      }
    })
    .on('read', moved);
  for (const type of ['message', 'edited', 'deleted']) {
    socket.on(type, (f) => {
      const room = rooms.get(f.room);
      if (room) {
        room.last_seq = Math.max(room.last_seq || 0, f.seq);
        list.update(room);
      }
      if (type === 'message') people.stoppedTyping(f.sender);
      timeline.apply(f);
    });
  }
  socket
    .on('filled', ({ room, messages, asOf }) => timeline.merge(room, messages, asOf))
    .on('reread', ({ room }) => timeline.reread(room))
    .on('acked', ({ frame, ack }) => timeline.acked(frame, ack))
    .on('members', (f) => f.room === ctx.current && people.set(f.members))
    .on('presence', (f) => f.room === ctx.current && people.presence(f))
    .on('typing', (f) => people.typing(f))
    .on('screenshot', (f) => shots.frame(f))
    .on('screenshot_removed', (f) => shots.frame(f))
    .on('contact_released', (f) => f.room === ctx.current && contacts.load(f.room))
    .on('session-error', (f) => say(f.message));
  return view;
}
