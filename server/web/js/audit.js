// The auditor's view (C7): the audit trail, filtered and paged as `GET /v1/audit` allows,
// and the server's verification of the whole trail (`POST /v1/audit/verify`: every entry's
// hash and link and every signed checkpoint, as `workroom audit verify` checks them).

import { api, query } from './api.js';
import { clear, fromTemplate, h, say } from './dom.js';

export function auditorView() {
  const view = fromTemplate('tpl-auditor');
  const form = view.querySelector('.audit-filter');
  const body = view.querySelector('[data-testid=audit-entries]');
  const next = view.querySelector('.audit-next');
  const verify = view.querySelector('[data-testid=verify-result]');
  const verifyButton = view.querySelector('[data-testid=verify-button]');
  let filter = {};
  let after = null;

  function params() {
    const data = Object.fromEntries(new FormData(form));
    for (const k of ['from', 'until']) {
      if (data[k]) data[k] = new Date(data[k]).toISOString();
    }
    return data;
  }

  async function verifyTrail() {
    verifyButton.disabled = true;
    verify.dataset.result = 'running';
    verify.textContent = 'Verifying the whole trail…';
    try {
      const r = await api('POST', '/v1/audit/verify');
      verify.dataset.result = r.intact ? 'intact' : 'broken';
      verify.textContent = r.intact
        ? `Intact: ${r.entries} entries and ${r.checkpoints} signed checkpoints verified at ${new Date().toLocaleTimeString()}` +
          (r.unanchored ? ` (${r.unanchored} entries after the last checkpoint).` : '.')
        : `Broken: ${r.problem}.`;
    } catch (e) {
      verify.dataset.result = 'failed';
      verify.textContent = `The verification could not run: ${e.message}`;
    } finally {
      verifyButton.disabled = false;
    }
  }

  function row(e) {
    return h('tr', { 'data-testid': 'audit-entry', 'data-seq': e.seq, 'data-action': e.action },
      h('td', { text: e.seq }),
      h('td', { text: e.at }),
      h('td', { text: `${e.actor} (${e.actor_role})` }),
      h('td', { text: e.action }),
      h('td', { text: e.target }),
      h('td', { text: e.purpose }),
      h('td', { text: e.case_id || e.request_id || '' }),
      h('td', {}, h('code', { text: JSON.stringify(e.details) })),
      h('td', {}, h('code', { title: `prev ${e.prev_hash}`, text: `${e.hash.slice(0, 12)}…` })));
  }

  async function load(more) {
    if (!more) {
      clear(body);
      after = null;
      filter = params();
    }
    try {
      const page = await api('GET', `/v1/audit${query({ ...filter, after_seq: after })}`);
      body.append(...page.entries.map(row));
      if (!page.entries.length && !more) body.append(h('tr', {}, h('td', { colspan: 9, text: 'No entries match.' })));
      after = page.next_after_seq ?? null;
      next.hidden = after === null;
    } catch (e) {
      say(`The audit trail could not be read: ${e.message}`);
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load(false);
  });
  next.addEventListener('click', () => load(true));
  verifyButton.addEventListener('click', verifyTrail);
  load(false);
  verifyTrail();
  return view;
}
