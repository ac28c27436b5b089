// Contact details (C8): keeping one's own, and the reciprocal release inside a workroom,
// confirmed in a dialog that says exactly what goes which way.

import { ApiError, api } from './api.js';
import { clear, h, person, time } from './dom.js';

const FIELDS = ['name', 'company', 'phone', 'address'];

export function ownContact(view) {
  const form = view.querySelector('.own-contact');
  const status = view.querySelector('.own-contact-status');
  const input = (field) => form.querySelector(`[data-field=${field}]`);
  api('GET', '/v1/me/contact').then(
    (details) => FIELDS.forEach((f) => { input(f).value = details[f] || ''; }),
    () => {}, // none on file yet
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {};
    for (const f of FIELDS) {
      const value = input(f).value.trim();
      if (value) body[f] = value;
    }
    status.textContent = 'Saving…';
    try {
      await api('PUT', '/v1/me/contact', body);
      status.textContent = 'Saved.';
    } catch (err) {
      status.textContent = `Not saved: ${err.message}`;
    }
  });
}

function describe(details) {
  return FIELDS.map((f) => details?.[f]).filter(Boolean).join(', ');
}

export function contactsPanel(view, ctx) {
  const button = view.querySelector('[data-testid=contact-release-button]');
  const dialog = view.querySelector('[data-testid=contact-release-dialog]');
  const text = dialog.querySelector('.release-text');
  const withBox = dialog.querySelector('.release-with');
  const withSelect = dialog.querySelector('#release-with');
  const list = view.querySelector('.released');

  function others() {
    const me = ctx.me;
    if (!me?.party) return [];
    return ctx.members().filter((m) => m.party && m.side !== me.side && !m.former);
  }

  async function explain() {
    const other = others().find((m) => m.user === withSelect.value) || others()[0];
    const name = other ? `${other.name || other.user} (${other.user})` : 'the other party';
    let mine = null;
    try {
      mine = await api('GET', '/v1/me/contact');
    } catch {
      // none on file
    }
    clear(text).append(
      h('p', { text: `This shares your full contact details with ${name}, and theirs with you, in this workroom. Both happen together, or neither does.` }),
      h('p', { text: `You share: ${mine ? describe(mine) : 'nothing yet. You have no contact details on file: add them under “My details” first.'}` }),
      h('p', { text: `You receive: ${other?.name || 'their'} name, company, phone and mailing address, as they keep them (their current details, also later changes).` }),
      h('p', { text: 'The exchange is recorded in the audit trail and cannot be taken back.' }),
    );
    dialog.querySelector('[data-testid=contact-release-confirm]').disabled = !mine;
  }

  button.addEventListener('click', async () => {
    const candidates = others();
    clear(withSelect).append(...candidates.map((m) => h('option', { value: m.user, text: m.name || m.user })));
    withBox.hidden = candidates.length < 2;
    await explain();
    dialog.returnValue = '';
    dialog.showModal();
  });
  withSelect.addEventListener('change', explain);
  dialog.addEventListener('close', async () => {
    if (dialog.returnValue !== 'confirm' || !ctx.current) return;
    const body = withBox.hidden ? {} : { with: withSelect.value };
    try {
      await api('POST', `/v1/rooms/${encodeURIComponent(ctx.current)}/contacts/release`, body);
      await load(ctx.current);
    } catch (e) {
      ctx.status(`Contact details were not exchanged: ${e.message}`);
    }
    button.focus();
  });

  async function load(room) {
    clear(list);
    button.hidden = !ctx.me?.party || others().length === 0;
    if (!ctx.me?.party) return;
    try {
      const { contacts } = await api('GET', `/v1/rooms/${encodeURIComponent(room)}/contacts`);
      if (room !== ctx.current) return;
      clear(list);
      for (const c of contacts) {
        const d = c.details;
        list.append(
          h(
            'li',
            { 'data-testid': 'released-contact', 'data-user': c.user },
            h('strong', { text: d?.name || person(c.user, ctx.names) }),
            d?.company && h('span', { text: ` · ${d.company}` }),
            d ? h('span', { class: 'block', text: `Phone: ${d.phone}` }) : h('span', { class: 'block', text: c.erased ? 'Erased.' : 'No details on file yet.' }),
            d && h('span', { class: 'block address', text: d.address }),
            h('small', { class: 'block', text: `released ${time(c.released_at)}` }),
          ),
        );
      }
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 403)) list.append(h('li', { class: 'hint', text: e.message }));
    }
  }

  return { load };
}
