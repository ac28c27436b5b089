// The list of the person's workrooms: unread counts (latest seq past the read marker),
// closed ones marked with their purge date. Selecting one is a click or Enter/Space.

import { clear, h, time } from './dom.js';

export function unread(room) {
  return Math.max(0, (room.last_seq || 0) - (room.read_seq || 0));
}

export function roomList(ul, onSelect) {
  let current = null;
  let labels = new Map();

  function item(room) {
    const count = unread(room);
    const label = labels.get(room.id) || room.id;
    return h(
      'li',
      {
        'data-testid': 'room-item',
        'data-room': room.id,
        class: room.id === current ? 'selected' : '',
        'aria-current': room.id === current ? 'true' : null,
      },
      h(
        'button',
        { type: 'button', onclick: () => onSelect(room.id) },
        h('span', { class: 'room-name', text: label }),
        h('span', { class: 'visually-hidden', text: ', unread: ' }),
        h('span', { 'data-testid': 'unread', class: count ? 'unread' : 'unread zero', text: String(count) }),
        room.closed && h('span', { 'data-testid': 'room-closed', class: 'closed', text: 'closed' }),
        room.closed && room.purge_at &&
          h('span', { class: 'purge', text: `purged ${time(room.purge_at)}` }),
        !room.closed && room.can_send === false && h('span', { class: 'closed', text: 'read-only' }),
      ),
    );
  }

  return {
    render(rooms) {
      clear(ul);
      if (rooms.size === 0) {
        ul.append(h('li', { class: 'hint', text: 'No workrooms yet: one opens when a bid is accepted.' }));
      }
      for (const room of rooms.values()) ul.append(item(room));
    },
    update(room) {
      const old = ul.querySelector(`[data-testid=room-item][data-room="${CSS.escape(room.id)}"]`);
      const focused = old?.contains(document.activeElement);
      const fresh = item(room);
      if (old) old.replaceWith(fresh);
      else ul.append(fresh);
      if (focused) fresh.querySelector('button').focus();
    },
    select(id) {
      current = id;
    },
    label(id, text) {
      labels.set(id, text);
    },
  };
}
