// The moderator's view (C6): open grants (case, reason, scope, duration), approve others'
// pending ones, read history with earlier versions, download files, watch live, post
// notices, and work the reports queue. Every read here is recorded in the audit trail.

import { api, fetchBlob, query, saveBlob } from './api.js';
import { clear, fromTemplate, h, say, time, timeEl } from './dom.js';

const enc = encodeURIComponent;

/** A message as moderators see it: latest state plus every earlier version. */
function messageEl(m, download) {
  return h(
    'article',
    { 'data-testid': 'message', 'data-seq': m.seq, 'data-sender': m.sender, class: `msg${m.deleted ? ' deleted' : ''}${m.notice ? ' notice' : ''}` },
    h('header', {}, h('strong', { text: m.sender }), ' ', timeEl(m.ts),
      m.edited_ts && h('span', { 'data-testid': 'edited', class: 'mark', text: ` (edited ${time(m.edited_ts)})` }),
      m.deleted && h('span', { 'data-testid': 'deleted', class: 'mark', text: ' (deleted by its author)' }),
      m.notice && h('span', { class: 'mark', text: ' (system notice)' })),
    h('p', { 'data-testid': 'message-body', class: 'body', text: m.unreadable ? `[${m.unreadable}]` : m.body }),
    m.versions?.length &&
      h('details', { class: 'versions' }, h('summary', { text: `Earlier versions (${m.versions.length})` }),
        h('ol', {}, m.versions.map((v) => h('li', { 'data-testid': 'version', text: v.unreadable ? `[${v.unreadable}]` : v.body })))),
    download && m.attachments?.length &&
      h('div', { class: 'files' }, m.attachments.map((f) =>
        h('button', { type: 'button', 'data-testid': 'file-download', 'data-file': f, text: `Download file ${f}`, onclick: () => download(f) }))),
  );
}

async function downloadFrom(path) {
  try {
    const { blob, name } = await fetchBlob(path);
    saveBlob(blob, name);
  } catch (e) {
    say(`Download refused: ${e.message}`);
  }
}

export function moderatorView({ user, socket }) {
  const view = fromTemplate('tpl-moderator');
  const grantsUl = view.querySelector('.grants');
  const history = view.querySelector('[data-testid=grant-history]');
  const historyNote = view.querySelector('.history-grant');
  const historyOlder = view.querySelector('.history-older');
  const live = view.querySelector('[data-testid=live-view]');
  const liveNote = view.querySelector('.live-grant');
  const noticeForm = view.querySelector('.notice-form');
  const reportsUl = view.querySelector('[data-testid=reports]');
  const reportCase = view.querySelector('.report-case');
  let grants = [];
  let watching = null; // { grant, room }
  let reading = null; // { grant, oldest }
  let noticeGrant = null;

  // Opening a grant.
  view.querySelector('.grant-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const scope = [...view.querySelector('#grant-scope').selectedOptions].map((o) => o.value);
    const body = {
      room: view.querySelector('#grant-room').value.trim(),
      case_id: view.querySelector('#grant-case').value.trim(),
      reason: view.querySelector('#grant-reason').value.trim(),
      scope,
      duration_secs: Math.round(Number(view.querySelector('#grant-duration').value) * 60),
    };
    try {
      const g = await api('POST', '/v1/moderation/grants', body);
      say(g.state === 'pending' ? 'Grant opened: it awaits a second moderator’s approval.' : 'Grant opened.', 'info');
      await loadGrants();
    } catch (err) {
      say(`Grant not opened: ${err.message}`);
    }
  });

  function grantEl(g) {
    const mine = g.moderator === user;
    const active = g.state === 'active';
    const buttons = [];
    if (g.state === 'pending' && !mine) {
      buttons.push(h('button', { type: 'button', 'data-testid': 'approve-grant', text: 'Approve', onclick: () => act(g, 'approve') }));
    }
    if (mine && active && g.scope.includes('history')) {
      buttons.push(h('button', { type: 'button', 'data-testid': 'read-history', text: 'Read history', onclick: () => readHistory(g) }));
    }
    if (mine && active && g.scope.includes('live')) {
      const on = watching?.grant === g.id;
      buttons.push(h('button', { type: 'button', 'data-testid': 'watch-button', 'aria-pressed': String(on), text: on ? 'Stop watching' : 'Watch live', onclick: () => (on ? unwatch() : watch(g)) }));
    }
    if (mine && active && g.scope.includes('notice')) {
      buttons.push(h('button', { type: 'button', text: 'Post a notice', onclick: () => noticeFor(g) }));
    }
    if (g.state === 'pending' || active) {
      buttons.push(h('button', { type: 'button', text: 'Revoke', onclick: () => act(g, 'revoke') }));
    }
    return h('li', { 'data-testid': 'grant', 'data-grant': g.id, 'data-status': g.state, class: `grant ${g.state}` },
      h('strong', { text: `Case ${g.case_id}` }), ` · ${g.state}`,
      h('span', { class: 'block', text: `Workroom ${g.room} · scope ${g.scope.join(', ')}` }),
      h('span', { class: 'block', text: `By ${g.moderator}${mine ? ' (you)' : ''}${g.approved_by ? `, approved by ${g.approved_by}` : ''} · ${g.state === 'pending' ? 'approve before' : 'until'} ${time(g.expires_at)}` }),
      h('span', { class: 'block reason', text: g.reason }),
      h('div', { class: 'actions' }, buttons));
  }

  let shown = '';
  async function loadGrants() {
    try {
      grants = (await api('GET', '/v1/moderation/grants')).grants;
    } catch (e) {
      say(`Grants not loaded: ${e.message}`);
      return;
    }
    const now = JSON.stringify([grants, watching]);
    if (now === shown) return; // nothing changed: keep the elements (and focus) as they are
    shown = now;
    const focusedGrant = document.activeElement?.closest?.('[data-grant]')?.dataset.grant;
    const focusedText = document.activeElement?.textContent;
    clear(grantsUl).append(...grants.map(grantEl));
    if (!grants.length) grantsUl.append(h('li', { class: 'hint', text: 'No grants yet.' }));
    if (focusedGrant) {
      const again = [...grantsUl.querySelectorAll(`[data-grant="${CSS.escape(focusedGrant)}"] button`)].find((b) => b.textContent === focusedText);
      again?.focus();
    }
  }

  async function act(g, how) {
    try {
      await api('POST', `/v1/moderation/grants/${enc(g.id)}/${how}`);
    } catch (e) {
      say(`Not done: ${e.message}`);
    }
    await loadGrants();
  }

  // History under a grant, paged backwards.
  async function readHistory(g) {
    if (reading?.grant !== g.id) {
      reading = { grant: g.id, oldest: undefined, room: g.room };
      clear(history);
    }
    historyNote.textContent = `Workroom ${g.room}, case ${g.case_id}. This read is recorded.`;
    await moreHistory();
  }

  async function moreHistory() {
    const r = reading;
    try {
      const page = await api('GET', `/v1/moderation/grants/${enc(r.grant)}/messages${query({ before_seq: r.oldest, limit: 50 })}`);
      const first = history.firstChild;
      for (const m of page.messages) history.insertBefore(messageEl(m, (f) => downloadFrom(`/v1/moderation/grants/${enc(r.grant)}/files/${enc(f)}/content`)), first);
      if (page.messages.length) r.oldest = page.messages[0].seq;
      historyOlder.hidden = page.messages.length < 50 || r.oldest === 1;
      if (!history.childElementCount) history.append(h('p', { class: 'hint', text: 'No messages.' }));
    } catch (e) {
      say(`History not read: ${e.message}`);
    }
  }
  historyOlder.addEventListener('click', moreHistory);

  // The live view.
  async function watch(g) {
    if (watching) await unwatch();
    clear(live);
    try {
      const w = await socket.request({ type: 'watch', grant: g.id });
      watching = { grant: g.id, room: w.room };
      liveNote.textContent = `Watching workroom ${w.room} (case ${g.case_id}) until ${time(w.expires_at)}. Only what is posted from now on appears.`;
    } catch (e) {
      liveNote.textContent = `Not watching: ${e.message}`;
    }
    loadGrants();
  }

  async function unwatch() {
    if (!watching) return;
    try {
      await socket.request({ type: 'unwatch', grant: watching.grant });
    } catch {
      ended({ grant: watching?.grant, reason: 'unwatched' });
    }
  }

  function ended(f) {
    if (!watching || f.grant !== watching.grant) return;
    watching = null;
    live.append(h('p', { 'data-testid': 'watch-ended', class: 'ended-note', text: `The live view ended (${f.reason}).` }));
    liveNote.textContent = 'Not watching.';
    loadGrants();
  }

  function liveEvent(f) {
    if (!watching || f.room !== watching.room) return;
    if (f.type === 'message') {
      live.append(messageEl(f));
      return;
    }
    const target = live.querySelector(`[data-seq="${f.target_seq}"]`);
    if (!target) return;
    const m = { room: f.room, seq: f.target_seq, sender: target.dataset.sender, ts: target.querySelector('time')?.getAttribute('datetime') };
    target.replaceWith(messageEl(f.type === 'edited' ? { ...m, body: f.body, edited_ts: f.ts } : { ...m, body: '', deleted: true }));
  }

  socket.on('watch_ended', ended);
  socket.on('hello', () => {
    // A live view lasts no longer than its session: start it again (a new start is recorded).
    const again = watching && grants.find((g) => g.id === watching.grant);
    watching = null;
    if (again) watch(again);
  });
  for (const type of ['message', 'edited', 'deleted']) socket.on(type, liveEvent);

  // Notices.
  function noticeFor(g) {
    noticeGrant = g;
    noticeForm.hidden = false;
    noticeForm.querySelector('label').textContent = `System notice to workroom ${g.room} (case ${g.case_id})`;
    noticeForm.querySelector('textarea').focus();
  }
  noticeForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const area = noticeForm.querySelector('textarea');
    try {
      await api('POST', `/v1/moderation/grants/${enc(noticeGrant.id)}/notices`, { body: area.value.trim() });
      area.value = '';
      say('Notice posted.', 'info');
    } catch (err) {
      say(`Notice not posted: ${err.message}`);
    }
  });

  // Reports.
  async function loadReports() {
    try {
      const { reports } = await api('GET', '/v1/moderation/reports');
      clear(reportsUl).append(...reports.map((r) =>
        h('li', { 'data-testid': 'report', 'data-report': r.id, 'data-state': r.state },
          h('strong', { text: `Report ${r.id}` }), ` · ${r.state}`,
          h('span', { class: 'block', text: `Workroom ${r.room} · ${r.message_count} message(s) · by ${r.reporter} · ${time(r.created_at)}` }),
          h('button', { type: 'button', text: 'Open case (recorded)', onclick: () => openReport(r.id) }))));
      if (!reports.length) reportsUl.append(h('li', { class: 'hint', text: 'No reports.' }));
    } catch (e) {
      say(`Reports not loaded: ${e.message}`);
    }
  }

  async function openReport(id) {
    let r;
    try {
      r = await api('GET', `/v1/moderation/reports/${enc(id)}`);
    } catch (e) {
      say(`Report not read: ${e.message}`);
      return;
    }
    const outcome = h('textarea', { id: 'report-outcome', rows: 2, required: true, maxlength: 2000 });
    const form = h('form', {
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          await api('POST', `/v1/moderation/reports/${enc(id)}/close`, { outcome: outcome.value.trim() });
          say('Report closed.', 'info');
          clear(reportCase);
          loadReports();
        } catch (err) {
          say(`Not closed: ${err.message}`);
        }
      },
    }, h('label', { for: 'report-outcome', text: 'Outcome (the reporter sees it)' }), outcome,
    h('button', { type: 'submit', 'data-testid': 'close-report', text: 'Close the report' }));
    clear(reportCase).append(
      h('h3', { text: `Report ${r.id} (workroom ${r.room})` }),
      h('p', { text: `Reason given: ${r.reason}` }),
      h('div', { class: 'timeline', 'data-testid': 'report-messages' }, r.messages.map((m) =>
        messageEl(m, (f) => downloadFrom(`/v1/moderation/reports/${enc(id)}/files/${enc(f)}/content`)))),
      r.state === 'closed' ? h('p', { text: `Closed: ${r.outcome}` }) : form,
    );
    loadReports();
  }

  view.querySelector('.refresh-grants').addEventListener('click', loadGrants);
  view.querySelector('.refresh-reports').addEventListener('click', loadReports);
  loadGrants();
  loadReports();
  // Others approve and revoke: keep the list current while the page is open.
  const poll = setInterval(() => {
    if (!view.isConnected) clearInterval(poll);
    else if (document.visibilityState === 'visible') loadGrants();
  }, 5000);
  return view;
}
