'use strict';
// Compliance monitoring (C6, C7) in the browser: with four-eyes on, a moderator opens a
// grant (history + live), a second moderator approves it, the first reads the history and
// watches live, and the view ends when the grant is revoked. The members then see the
// ended grant; an auditor sees every act in the trail.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../lib/harness');

const SEEDED = [
  'Kick-off: the milestones are in the contract.',
  'First milestone delivered, please review.',
  'Reviewed. Two changes requested.',
];

/** Selects history + live in #grant-scope, whatever shape the select has. */
async function chooseScope(page) {
  const select = page.locator('#grant-scope');
  const { multiple, options } = await select.evaluate((s) => ({
    multiple: s.multiple,
    options: [...s.options].map((o) => ({ value: o.value, label: o.textContent.trim() })),
  }));
  if (multiple) {
    await select.selectOption(['history', 'live']);
    return;
  }
  const both = options.find((o) => /history/i.test(o.value + o.label) && /live/i.test(o.value + o.label));
  assert.ok(both, `#grant-scope offers history + live (options: ${JSON.stringify(options)})`);
  await select.selectOption(both.value);
}

describe('moderation', () => {
  let f;
  let mod1;
  let mod2;
  let mod1Page;
  let clientPage;
  let grantId;
  const caseId = 'case-4411';

  before(async () => {
    f = await h.setup({ tag: 'mod', env: { WORKROOM_MODERATION__REQUIRE_APPROVAL: 'true' } });
    mod1 = await f.server.token('mod-alice', 'moderator');
    mod2 = await f.server.token('mod-bob', 'moderator');
  });

  after(async () => {
    await f?.teardown();
  });

  it('a moderator opens a grant, a second approves, history is read, live is watched, revocation ends the view', async () => {
    clientPage = await h.newPage(await h.newPerson(f.browser), 'client');
    await h.signIn(clientPage, f.server, f.clientToken);
    await h.openRoomInPage(clientPage, f.room);
    await h.seedMessages(clientPage, SEEDED);

    mod1Page = await h.newPage(await h.newPerson(f.browser), 'mod1');
    await h.signIn(mod1Page, f.server, mod1);
    await mod1Page.locator('[data-testid=view][data-view=moderator]').waitFor();
    await mod1Page.locator('[data-testid=audit-banner]').waitFor();
    // Without a grant a moderator sees no workroom.
    assert.equal(await mod1Page.locator(`[data-testid=room-item][data-room="${f.room}"]`).count(), 0);

    await mod1Page.locator('#grant-room').fill(f.room);
    await mod1Page.locator('#grant-case').fill(caseId);
    await mod1Page
      .locator('#grant-reason')
      .fill('The client reported abusive messages in this workroom on ticket 4411.');
    await chooseScope(mod1Page);
    await mod1Page.locator('#grant-duration').fill('30');
    await mod1Page.locator('[data-testid=open-grant]').click();

    const pending = mod1Page.locator('[data-testid=grant][data-status=pending]');
    await pending.first().waitFor();
    grantId = await pending.first().getAttribute('data-grant');
    assert.match(grantId, /^g_[0-9a-f]{32}$/);
    const stored = await f.server.api('GET', `/v1/moderation/grants/${grantId}`, { token: mod1 });
    assert.deepEqual(stored.json.scope, ['history', 'live']);
    assert.equal(stored.json.case_id, caseId);
    assert.equal(stored.json.duration_secs, 1800);
    assert.equal(stored.json.state, 'pending');
    // Pending: nothing can be read yet.
    const early = await f.server.request('GET', `/v1/moderation/grants/${grantId}/messages`, { token: mod1 });
    assert.equal(early.status, 403);

    // The second moderator approves it from their console.
    const mod2Page = await h.newPage(await h.newPerson(f.browser), 'mod2');
    await h.signIn(mod2Page, f.server, mod2);
    const toApprove = mod2Page.locator(`[data-testid=grant][data-grant="${grantId}"]`);
    await toApprove.waitFor();
    await toApprove.locator('[data-testid=approve-grant]').click();
    await mod2Page.locator(`[data-testid=grant][data-grant="${grantId}"][data-status=active]`).waitFor();

    const mine = () => mod1Page.locator(`[data-testid=grant][data-grant="${grantId}"]`);
    const active = mod1Page.locator(`[data-testid=grant][data-grant="${grantId}"][data-status=active]`);
    try {
      await active.waitFor({ timeout: 5000 });
    } catch {
      // The approval is another person's act: the opener's list may need a fresh load.
      console.log("note: the opener's grant list did not show the approval by itself; reloading");
      await h.signIn(mod1Page, f.server, mod1);
      await active.waitFor();
    }

    // History under the grant.
    await mine().locator('[data-testid=read-history]').click();
    const history = mod1Page.locator('[data-testid=grant-history] [data-testid=message]');
    await h.eventually(async () => (await history.count()) === SEEDED.length, {
      message: `${SEEDED.length} messages in the grant history`,
    });
    const bodies = await h.messagesIn(mod1Page, '[data-testid=grant-history]');
    assert.deepEqual(
      bodies.map((m) => m.body),
      SEEDED,
    );

    // Live view: a member sends, it appears.
    await mine().locator('[data-testid=watch-button]').click();
    const live = mod1Page.locator('[data-testid=live-view]');
    await live.waitFor();
    await h.eventually(
      async () => {
        const r = await f.server.request('GET', `/v1/audit?action=moderation.live_view_started`, {
          token: await auditorToken(),
        });
        return r.status === 200 && r.json.entries.length === 1;
      },
      { message: 'the live view start recorded' },
    );
    await h.sendMessage(clientPage, 'Live: are we still on track for Friday?');
    await live
      .locator('[data-testid=message]', { hasText: 'Live: are we still on track for Friday?' })
      .waitFor();
    assert.equal(
      await live.locator('[data-testid=message]').count(),
      1,
      'only what was sent after the watch started',
    );
    // The grant, its history and the live view in one frame.
    await live.evaluate((el) => el.closest('section').scrollIntoView({ block: 'end' }));
    await h.saveScreenshot(mod1Page, 'moderator-console');

    // Revocation (by the second moderator, through the API) ends the view at once.
    await f.server.api('POST', `/v1/moderation/grants/${grantId}/revoke`, { token: mod2 });
    await live.locator('[data-testid=watch-ended]').waitFor();
    await h.sendMessage(clientPage, 'This one must not reach the moderator.');
    await clientPage
      .locator('[data-testid=timeline] [data-testid=message]', { hasText: 'This one must not reach' })
      .waitFor();
    await h.sleep(500);
    assert.equal(
      await live.locator('[data-testid=message]', { hasText: 'This one must not reach' }).count(),
      0,
      'nothing after the revocation',
    );
    await mod1Page.locator(`[data-testid=grant][data-grant="${grantId}"][data-status=revoked]`).waitFor();
  });

  it('the members see the ended grant', async () => {
    // Transparency: members list a grant once it ended (case, scope, times).
    let ended = clientPage.locator('[data-testid=ended-grants]');
    try {
      await ended.filter({ hasText: caseId }).waitFor({ timeout: 5000 });
    } catch {
      console.log('note: ended-grants did not update live; checking after a reload');
      await h.signIn(clientPage, f.server, f.clientToken);
      await h.openRoomInPage(clientPage, f.room);
      ended = clientPage.locator('[data-testid=ended-grants]');
      await ended.filter({ hasText: caseId }).waitFor();
    }
  });

  let auditor;
  async function auditorToken() {
    if (!auditor) auditor = await f.server.token('auditor-1', 'auditor');
    return auditor;
  }

  it('an auditor sees every act in the trail and its verification', async () => {
    const page = await h.newPage(await h.newPerson(f.browser), 'auditor');
    await h.signIn(page, f.server, await auditorToken(), { waitOnline: false });
    await page.locator('[data-testid=view][data-view=auditor]').waitFor();
    const entries = page.locator('[data-testid=audit-entries] [data-testid=audit-entry]');
    await entries.first().waitFor();
    const want = [
      'room.opened',
      'grant.opened',
      'grant.approved',
      'moderation.history_read',
      'moderation.live_view_started',
      'grant.revoked',
      'moderation.live_view_ended',
    ];
    await h.eventually(
      async () => {
        const text = (await entries.allTextContents()).join('\n');
        return want.every((a) => text.includes(a));
      },
      { message: `audit entries ${want.join(', ')}` },
    );
    const verify = page.locator('[data-testid=verify-result]');
    await verify.waitFor();
    await h.eventually(async () => (await verify.getAttribute('data-result')) === 'intact', { message: 'the server verified the trail intact' });
    assert.match(await verify.textContent(), /^Intact: \d+ entries/);
    console.log(`auditor verify-result: ${(await verify.textContent()).trim()}`);
    await h.saveScreenshot(page, 'auditor-view');
    // The page shows the same number of entries as the API (no filter).
    const api = await f.server.api('GET', '/v1/audit?limit=1000', { token: await auditorToken() });
    assert.ok((await entries.count()) >= Math.min(api.json.entries.length, 50), 'the page lists the entries');
  });
});
