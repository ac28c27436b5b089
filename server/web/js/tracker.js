// Tracker (C9): the contractor's Work View switch, and a workroom's screenshots: the
// contractor shares or un-shares each; the client side sees the shared ones, updated live.

import { api, fetchBlob } from './api.js';
import { clear, h, time } from './dom.js';

export function workView(view) {
  const box = view.querySelector('[data-testid=work-view-toggle]');
  const status = view.querySelector('.work-view-status');
  const say = (on) => {
    status.textContent = on ? 'Work View is on: your Tracker may post screenshots.' : 'Work View is off.';
  };
  api('GET', '/v1/me/work-view').then(
    ({ on }) => { box.checked = on; say(on); },
    (e) => { status.textContent = `Work View is not available: ${e.message}`; },
  );
  box.addEventListener('change', async () => {
    const on = box.checked;
    box.disabled = true;
    try {
      const state = await api('PUT', '/v1/me/work-view', { on });
      box.checked = state.on;
      say(state.on);
    } catch (e) {
      box.checked = !on;
      status.textContent = `Not changed: ${e.message}`;
    } finally {
      box.disabled = false;
    }
  });
}

export function screenshots(view, ctx) {
  const ul = view.querySelector('[data-testid=screenshots]');
  const urls = new Map(); // shot id → object URL
  let room = null;

  function path(id, tail = '') {
    return `/v1/rooms/${encodeURIComponent(room)}/screenshots/${encodeURIComponent(id)}${tail}`;
  }

  function forget(id) {
    if (urls.has(id)) URL.revokeObjectURL(urls.get(id));
    urls.delete(id);
  }

  function item(shot) {
    const img = h('img', { alt: `Screenshot captured ${time(shot.captured_at)}${shot.memo ? `: ${shot.memo}` : ''}`, width: 160 });
    const forThem = room;
    if (urls.has(shot.id)) img.src = urls.get(shot.id);
    else {
      fetchBlob(path(shot.id, '/content')).then(
        ({ blob }) => {
          if (room !== forThem) return;
          urls.set(shot.id, URL.createObjectURL(blob));
          img.src = urls.get(shot.id);
        },
        () => img.replaceWith(h('span', { class: 'hint', text: 'image not available' })),
      );
    }
    const mine = shot.contractor === ctx.user;
    const toggle = mine &&
      h('button', {
        type: 'button',
        'data-testid': shot.shared ? 'unshare-button' : 'share-button',
        text: shot.shared ? 'Un-share' : 'Share',
        onclick: () => change(shot, shot.shared ? 'unshare' : 'share'),
      });
    return h(
      'li',
      { 'data-testid': 'screenshot', 'data-shot': shot.id, 'data-shared': String(shot.shared) },
      img,
      h('span', { class: 'block', text: `${time(shot.captured_at)} · activity ${shot.activity}%${mine ? (shot.shared ? ' · shared' : ' · not shared') : ''}` }),
      shot.memo && h('span', { class: 'block', text: shot.memo }),
      toggle,
    );
  }

  async function change(shot, how) {
    try {
      upsert(await api('POST', path(shot.id, `/${how}`)));
      ul.querySelector(`[data-shot="${CSS.escape(shot.id)}"] button`)?.focus();
    } catch (e) {
      ctx.status(`Not changed: ${e.message}`);
    }
  }

  function upsert(shot) {
    const old = ul.querySelector(`[data-shot="${CSS.escape(shot.id)}"]`);
    const fresh = item(shot);
    if (old) old.replaceWith(fresh);
    else ul.prepend(fresh);
    ul.querySelector('.empty')?.remove();
  }

  return {
    async load(id) {
      for (const shot of urls.keys()) forget(shot);
      room = id;
      clear(ul);
      try {
        const shots = [];
        let after;
        do {
          const q = after ? `?after=${encodeURIComponent(after)}` : '';
          const page = await api('GET', path('').replace(/\/$/, '') + q);
          shots.push(...page.screenshots);
          after = page.next;
        } while (after && shots.length < 500);
        if (room !== id) return;
        for (const shot of shots) ul.prepend(item(shot));
        if (!shots.length) ul.append(h('li', { class: 'hint empty', text: 'No screenshots.' }));
      } catch (e) {
        ul.append(h('li', { class: 'hint', text: `Screenshots not available: ${e.message}` }));
      }
    },
    frame(f) {
      if (f.room !== room) return;
      if (f.type === 'screenshot') upsert(f.screenshot);
      else {
        ul.querySelector(`[data-shot="${CSS.escape(f.id)}"]`)?.remove();
        forget(f.id);
      }
    },
  };
}
