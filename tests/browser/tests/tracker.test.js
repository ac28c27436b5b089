'use strict';
// Tracker screenshots (C9): the contractor turns Work View on, the Tracker (a bot token
// acting for the contractor) posts a screenshot, the client sees it, the contractor
// un-shares it and it leaves the client's page at once; re-sharing brings it back.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../lib/harness');

describe('tracker screenshots', () => {
  let f;

  before(async () => {
    f = await h.setup({ tag: 'tracker' });
  });

  after(async () => {
    await f?.teardown();
  });

  async function post(botToken, seed, memo, activity) {
    const captured = new Date(Date.now() - 60000).toISOString();
    const r = await f.server.api(
      'POST',
      `/v1/tracker/screenshots?room=${f.room}&captured_at=${encodeURIComponent(captured)}&activity=${activity}`,
      { token: botToken, body: h.makePng(160, 100, seed), contentType: 'image/png', headers: { 'workroom-memo': encodeURIComponent(memo) } },
      [201],
    );
    return r.json.id;
  }

  it('Work View on, a screenshot posted, seen by the client, un-shared and gone at once', async () => {
    await h.rawSend(f.browser, f.server, f.clientToken, f.room, ['Could you turn on Work View for the hourly part?']);
    await h.rawSend(f.browser, f.server, f.contractorToken, f.room, ['Sure, the Tracker is running now.']);
    const contractorPage = await h.newPage(await h.newPerson(f.browser), 'contractor');
    const clientPage = await h.newPage(await h.newPerson(f.browser), 'client');
    await h.signIn(contractorPage, f.server, f.contractorToken);
    await h.signIn(clientPage, f.server, f.clientToken);
    await h.openRoomInPage(contractorPage, f.room);
    await h.openRoomInPage(clientPage, f.room);

    const bot = await f.server.token(`tracker-${f.contractor}`, 'bot', { actsFor: f.contractor });
    // Work View is off: the Tracker is refused.
    const refused = await f.server.request(
      'POST',
      `/v1/tracker/screenshots?room=${f.room}&captured_at=${encodeURIComponent(new Date().toISOString())}&activity=50`,
      { token: bot, body: h.makePng(), contentType: 'image/png' },
    );
    assert.equal(refused.status, 409, 'no screenshot while Work View is off');

    const toggle = contractorPage.locator('[data-testid=work-view-toggle]');
    await h.reveal(toggle);
    assert.equal(await toggle.isChecked(), false, 'Work View starts off');
    await toggle.check();
    await h.eventually(async () => {
      const r = await f.server.request('GET', '/v1/me/work-view', { token: f.contractorToken });
      return r.status === 200 && r.json.on === true;
    }, { message: 'Work View on at the server' });

    const shot1 = await post(bot, 1, 'Homepage layout', 72);
    const shot2 = await post(bot, 2, 'Checkout form', 64);

    const onClient = (id) => clientPage.locator(`[data-testid=screenshots] [data-testid=screenshot][data-shot="${id}"]`);
    const onContractor = (id) =>
      contractorPage.locator(`[data-testid=screenshots] [data-testid=screenshot][data-shot="${id}"]`);
    for (const id of [shot1, shot2]) {
      await onClient(id).waitFor();
      await onContractor(id).waitFor();
    }
    // Where the page shows the image, it loaded (fetched with the client's rights).
    for (const id of [shot1, shot2]) {
      if ((await onClient(id).locator('img').count()) > 0) {
        await h.eventually(
          () => onClient(id).locator('img').first().evaluate((img) => img.complete && img.naturalWidth > 0),
          { message: `screenshot ${id} image loaded on the client's page` },
        );
      }
    }
    assert.equal(await onClient(shot1).locator('[data-testid=unshare-button]').count(), 0, 'the client cannot un-share');
    await h.saveScreenshot(contractorPage, 'contractor-screenshots');

    // Un-share: gone from the client's page at once, still the contractor's.
    const t0 = Date.now();
    await onContractor(shot1).locator('[data-testid=unshare-button]').click();
    await onClient(shot1).waitFor({ state: 'detached', timeout: 3000 });
    console.log(`un-shared screenshot left the client's page ${Date.now() - t0} ms after the click`);
    await onContractor(shot1).locator('[data-testid=share-button]').waitFor();
    assert.ok(await onClient(shot2).isVisible(), 'the other screenshot stays');
    const gone = await f.server.request('GET', `/v1/rooms/${f.room}/screenshots/${shot1}/content`, {
      token: f.clientToken,
    });
    assert.equal(gone.status, 404, 'the client can no longer download it');
    // A reload does not bring it back on the client's side.
    await h.signIn(clientPage, f.server, f.clientToken);
    await h.openRoomInPage(clientPage, f.room);
    await onClient(shot2).waitFor();
    assert.equal(await onClient(shot1).count(), 0, 'not listed after a reload');

    // Re-share: back on the client's page.
    await onContractor(shot1).locator('[data-testid=share-button]').click();
    await onClient(shot1).waitFor();
  });
});
