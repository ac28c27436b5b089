// The auditor's view (C7): the audit trail, filtered and paged as `GET /v1/audit` allows,
// with what this page can check of the hash chain. Full verification (every entry's hash
// and the signed checkpoints) is the `workroom audit verify` command: the API offers none.

import { api, query } from './api.js';
import { clear, fromTemplate, h, say } from './dom.js';

export function auditorView() {
  const view = fromTemplate('tpl-auditor');
  const form = view.querySelector('.audit-filter');
  const body = view.querySelector('[data-testid=audit-entries]');
  const next = view.querySelector('.audit-next');
  const verify = view.querySelector('[data-testid=verify-result]');
  let filter = {};
  let after = null;
  let lastHash = null;
  let count = 0;
  let breaks = [];

  function params() {
    const data = Object.fromEntries(new FormData(form));
    for (const k of ['from', 'until']) {
      if (data[k]) data[k] = new Date(data[k]).toISOString();
    }
    return data;
  }

  function summary() {
    const whole = !filter.room && !filter.actor && !filter.action && !filter.from && !filter.until;
    const link = !whole
      ? 'A filtered list skips entries, so the links between the entries shown are not checked.'
      : breaks.length
        ? `The chain is broken: ${breaks.map((s) => `entry ${s} does not name the hash of the entry before it`).join('; ')}.`
        : `The ${count} entries shown link to each other (each names the hash of the one before it).`;
    verify.dataset.result = whole ? (breaks.length ? 'broken' : 'linked') : 'unchecked';
    verify.textContent = `${link} This page does not recompute hashes or check signed checkpoints: the server offers no verification over HTTPS. Run “workroom audit verify” on the server for the full check, which names the first entry altered, removed or reordered.`;
  }

  function row(e) {
    const seqBreak = lastHash !== null && e.prev_hash !== lastHash;
    if (seqBreak) breaks.push(e.seq);
    lastHash = e.hash;
    count += 1;
    return h('tr', { 'data-testid': 'audit-entry', 'data-seq': e.seq, 'data-action': e.action, class: seqBreak ? 'broken' : '' },
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
      lastHash = null;
      count = 0;
      breaks = [];
      filter = params();
    }
    try {
      const page = await api('GET', `/v1/audit${query({ ...filter, after_seq: after })}`);
      body.append(...page.entries.map(row));
      if (!page.entries.length && !more) body.append(h('tr', {}, h('td', { colspan: 9, text: 'No entries match.' })));
      after = page.next_after_seq ?? null;
      next.hidden = after === null;
      summary();
    } catch (e) {
      say(`The audit trail could not be read: ${e.message}`);
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load(false);
  });
  next.addEventListener('click', () => load(true));
  load(false);
  return view;
}
