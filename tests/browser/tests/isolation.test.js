'use strict';
// What stays inside a workroom: a member of another workroom sees nothing of it (room list,
// direct history request, presence), a page from another origin cannot open a session, and
// presence reaches the workroom's own members.
//
// The outsider is watched two ways: its real page's DOM, and every frame its page's
// WebSocket receives (Playwright's websocket events). That sees the wire without a
// WebSocket client in Node (Node 20 has none without a flag, and `ws` would be a second
// dependency), and it is the outsider's own signed-in session, not a stand-in.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const h = require('../lib/harness');

/** Opens a raw WebSocket from inside `page`, authenticates, and sends `frames` after hello. */
function rawSession(page, wsUrl, token, frames = []) {
  return page.evaluate(
    ({ wsUrl, token, frames }) =>
      new Promise((resolve) => {
        const got = { events: [], frames: [] };
        let ws;
        try {
          ws = new WebSocket(wsUrl);
        } catch (e) {
          resolve({ ...got, thrown: String(e) });
          return;
        }
        const done = () => resolve(got);
        const timer = setTimeout(() => {
          ws.close();
          done();
        }, 4000);
        ws.onopen = () => {
          got.events.push('open');
          ws.send(JSON.stringify({ type: 'auth', token }));
        };
        ws.onmessage = (e) => {
          const frame = JSON.parse(e.data);
          got.frames.push(frame);
          if (frame.type === 'hello') for (const f of frames) ws.send(JSON.stringify(f));
          const last = frames.length ? frame.id === frames[frames.length - 1].id : frame.type === 'hello';
          if (last) {
            clearTimeout(timer);
            ws.close();
            done();
          }
        };
        ws.onerror = () => got.events.push('error');
        ws.onclose = (e) => {
          got.events.push(`close ${e.code}`);
          clearTimeout(timer);
          done();
        };
      }),
    { wsUrl, token, frames },
  );
}

describe('isolation', () => {
  let f;
  let otherRoom;
  let outsider;
  let outsiderToken;
  let foreign;

  before(async () => {
    f = await h.setup({ tag: 'iso' });
    const p = h.parties('iso2', { client: 'cy', contractor: 'dee' });
    otherRoom = await f.server.openRoom(p);
    outsider = p.client.user;
    outsiderToken = await f.server.token(outsider, 'member', { account: p.client.account });
  });

  after(async () => {
    if (foreign) foreign.close();
    await f?.teardown();
  });

  it('a member of another workroom sees nothing of it', async () => {
    const page = await h.newPage(await h.newPerson(f.browser), 'outsider');
    await h.signIn(page, f.server, outsiderToken);
    await page.locator(`[data-testid=room-list] [data-testid=room-item][data-room="${otherRoom}"]`).waitFor();
    assert.equal(
      await page.locator(`[data-testid=room-item][data-room="${f.room}"]`).count(),
      0,
      "the outsider's room list lacks the room",
    );
    // A direct history request, over HTTPS and over the WebSocket, from the browser.
    const status = await page.evaluate(
      async ({ room, token }) =>
        (await fetch(`/v1/rooms/${room}/messages`, { headers: { authorization: `Bearer ${token}` } })).status,
      { room: f.room, token: outsiderToken },
    );
    assert.equal(status, 404, 'history over HTTPS: no such room');
    const ws = await rawSession(page, `wss://127.0.0.1:${f.server.port}/v1/ws`, outsiderToken, [
      { type: 'history', id: 'h1', room: f.room, limit: 50 },
      { type: 'members', id: 'h2', room: f.room },
    ]);
    const replies = ws.frames.filter((fr) => fr.id === 'h1' || fr.id === 'h2');
    assert.deepEqual(
      replies.map((fr) => [fr.id, fr.type, fr.code]),
      [
        ['h1', 'error', 'not_found'],
        ['h2', 'error', 'not_found'],
      ],
      `history and members over the WebSocket refused: ${JSON.stringify(ws.frames)}`,
    );
  });

  it('presence: seen by the other side, by nobody outside the workroom', async () => {
    const clientPage = await h.newPage(await h.newPerson(f.browser), 'client');
    await h.signIn(clientPage, f.server, f.clientToken);
    await h.openRoomInPage(clientPage, f.room);

    const outsiderPage = await h.newPage(await h.newPerson(f.browser), 'outsider');
    const outsiderWire = h.recordFrames(outsiderPage);
    await h.signIn(outsiderPage, f.server, outsiderToken);
    await h.openRoomInPage(outsiderPage, otherRoom);

    const member = (page, state) =>
      page.locator(
        `[data-testid=members] [data-testid=member][data-user="${f.contractor}"]` +
          (state ? `[data-presence=${state}]` : ''),
      );
    // The contractor is listed, offline, before it connects.
    await member(clientPage, 'offline').waitFor({ state: 'attached' });

    const contractorCtx = await h.newPerson(f.browser);
    const contractorPage = await h.newPage(contractorCtx, 'contractor');
    await h.signIn(contractorPage, f.server, f.contractorToken);
    await member(clientPage, 'online').waitFor({ state: 'attached' });
    // And the contractor sees the client online.
    await h.openRoomInPage(contractorPage, f.room);
    await contractorPage
      .locator(`[data-testid=members] [data-testid=member][data-user="${f.client}"][data-presence=online]`)
      .waitFor({ state: 'attached' });

    await contractorCtx.close();
    await member(clientPage, 'offline').waitFor({ state: 'attached' });

    // The outsider's page and wire carry nothing of it.
    await h.sleep(500);
    assert.equal(await outsiderPage.locator(`[data-user="${f.contractor}"]`).count(), 0, 'nothing in the DOM');
    assert.ok(outsiderWire.frames.some((fr) => fr.type === 'hello'), 'the outsider had a live session');
    const leaks = outsiderWire.raw.filter((t) => t.includes(f.contractor) || t.includes(f.client) || t.includes(f.room));
    assert.deepEqual(leaks, [], 'no frame to the outsider names the room or its members');
    console.log(
      `outsider received ${outsiderWire.frames.length} frames (${[...new Set(outsiderWire.frames.map((x) => x.type))].join(', ')}), none about the room`,
    );
  });

  it('a page from another origin cannot open a session', async () => {
    const wsUrl = `wss://127.0.0.1:${f.server.port}/v1/ws`;
    // Control: the same script from the server's own origin gets its hello (the page's CSP
    // is bypassed for the test's script; the page itself only runs its own).
    const own = await h.newPerson(f.browser, { bypassCSP: true });
    const ownPage = await h.newPage(own, 'own-origin');
    await ownPage.goto(`${f.server.origin}/healthz`);
    const control = await rawSession(ownPage, wsUrl, f.clientToken);
    assert.ok(control.frames.some((fr) => fr.type === 'hello'), `own origin: hello (${JSON.stringify(control)})`);

    // A tiny page on another local origin whose script opens the socket and reports.
    const html = `<!doctype html><meta charset=utf-8><title>elsewhere</title><script>
      window.result = { events: [], frames: [] };
      const ws = new WebSocket(${JSON.stringify(wsUrl)});
      ws.onopen = () => { window.result.events.push('open'); ws.send(JSON.stringify({ type: 'auth', token: ${JSON.stringify(f.clientToken)} })); };
      ws.onmessage = (e) => window.result.frames.push(e.data);
      ws.onerror = () => window.result.events.push('error');
      ws.onclose = (e) => { window.result.events.push('close ' + e.code); window.result.done = true; };
    </script>`;
    foreign = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(html);
    });
    await new Promise((r) => foreign.listen(0, '127.0.0.1', r));
    const foreignOrigin = `http://127.0.0.1:${foreign.address().port}`;
    for (const origin of [foreignOrigin, foreignOrigin.replace('127.0.0.1', 'localhost')]) {
      const page = await h.newPage(await h.newPerson(f.browser), 'foreign');
      const wire = h.recordFrames(page);
      await page.goto(`${origin}/`);
      const result = await page.waitForFunction(() => window.result.done && window.result).then((x) => x.jsonValue());
      assert.ok(!result.events.includes('open'), `${origin}: the upgrade is refused (${JSON.stringify(result)})`);
      assert.equal(result.frames.length, 0, `${origin}: no frame at all, so no hello`);
      assert.ok(!wire.raw.some((t) => t.includes('"hello"')), `${origin}: no hello on the wire`);
      console.log(`${origin}: ${result.events.join(', ')}`);
    }
  });
});
