// Who is in the selected workroom: names and emails of the contract parties, team members,
// presence (from the `members` answer, then `presence` frames), and who is typing.

import { api } from './api.js';
import { clear, h, person } from './dom.js';

const TYPING_SHOWN_MS = 5000;

export function membersPanel(view, ctx) {
  const ul = view.querySelector('[data-testid=members]');
  const typingEl = view.querySelector('[data-testid=typing]');
  let members = [];
  const typing = new Map(); // user → timer

  function render() {
    clear(ul);
    for (const m of members) {
      const presence = m.online ? 'online' : 'offline';
      const name = m.erased ? (m.former ? 'a former member' : 'erased member') : m.name || m.user;
      ul.append(
        h(
          'li',
          { 'data-testid': 'member', 'data-user': m.user, 'data-presence': presence, class: presence },
          h('span', { class: 'dot', 'aria-hidden': 'true' }),
          h('strong', { text: name }),
          m.user === ctx.user && ' (you)',
          h('span', { class: 'presence', text: ` ${presence}` }),
          h('br'),
          h('small', { text: [m.side, m.party ? 'party' : m.role, m.email].filter(Boolean).join(' · ') }),
        ),
      );
    }
  }

  function showTyping() {
    const names = [...typing.keys()].map((u) => person(u, ctx.names));
    typingEl.textContent = names.length === 0 ? '' : `${names.join(' and ')} ${names.length > 1 ? 'are' : 'is'} typing…`;
  }

  return {
    async load(room) {
      members = [];
      typing.clear();
      showTyping();
      render();
      try {
        const body = await api('GET', `/v1/rooms/${encodeURIComponent(room)}/members`);
        if (room !== ctx.current) return;
        this.set(body.members);
      } catch (e) {
        ul.append(h('li', { class: 'hint', text: `Members not available: ${e.message}` }));
      }
    },
    set(list) {
      members = list;
      ctx.names.clear();
      for (const m of members) if (m.name) ctx.names.set(m.user, m.name);
      ctx.me = members.find((m) => m.user === ctx.user) || null;
      render();
      ctx.membersChanged(members);
    },
    presence({ user, online }) {
      let changed = false;
      for (const m of members) if (m.user === user) { m.online = online; changed = true; }
      if (changed) render();
    },
    typing({ room, user }) {
      if (room !== ctx.current || user === ctx.user) return;
      clearTimeout(typing.get(user));
      typing.set(user, setTimeout(() => { typing.delete(user); showTyping(); }, TYPING_SHOWN_MS));
      showTyping();
    },
    stoppedTyping(user) {
      if (!typing.has(user)) return;
      clearTimeout(typing.get(user));
      typing.delete(user);
      showTyping();
    },
    list: () => members,
  };
}
