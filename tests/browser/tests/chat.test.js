'use strict';
// A client and a contractor chat live; one drops off the network while the other sends,
// and on coming back sees every message exactly once, in order. A cold load is timed to
// the first message, and the page's JS and CSS are weighed.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../lib/harness');

describe('chat', () => {
  let f;
  let clientCtx;
  let contractorCtx;
  let clientPage;
  let contractorPage;

  before(async () => {
    f = await h.setup({ tag: 'chat' });
    clientCtx = await h.newPerson(f.browser);
    contractorCtx = await h.newPerson(f.browser);
    // Lets the offline test close the contractor's socket, as a network cut would
    // (Chromium's offline emulation blocks new connections but leaves open WebSockets up).
    await contractorCtx.addInitScript(h.SOCKET_SPY);
    clientPage = await h.newPage(clientCtx, 'client');
    contractorPage = await h.newPage(contractorCtx, 'contractor');
  });

  after(async () => {
    await f?.teardown();
  });

  it('a client and a contractor chat live', async () => {
    await h.signIn(clientPage, f.server, f.clientToken);
    await h.signIn(contractorPage, f.server, f.contractorToken);
    for (const page of [clientPage, contractorPage]) {
      await page.locator('[data-testid=view][data-view=member]').waitFor();
      await h.openRoomInPage(page, f.room);
    }

    await h.sendMessage(clientPage, 'Hello Bo, the brief is in the shared folder.');
    const first = contractorPage.locator(
      `[data-testid=timeline] [data-testid=message][data-sender="${f.client}"]`,
    );
    await first.first().waitFor();
    assert.equal(await first.first().getAttribute('data-seq'), '1');
    assert.equal(
      (await first.first().locator('[data-testid=message-body]').textContent()).trim(),
      'Hello Bo, the brief is in the shared folder.',
    );

    await h.sendMessage(contractorPage, 'Thanks Ada, reading it now.', { button: true });
    const reply = clientPage.locator(
      `[data-testid=timeline] [data-testid=message][data-sender="${f.contractor}"]`,
    );
    await reply.first().waitFor();
    assert.equal(await reply.first().getAttribute('data-seq'), '2');
    assert.equal(
      (await reply.first().locator('[data-testid=message-body]').textContent()).trim(),
      'Thanks Ada, reading it now.',
    );
    // The sender sees its own message once, under its committed seq.
    const own = await h.messagesIn(clientPage);
    assert.deepEqual(
      own.map((m) => [m.seq, m.sender]),
      [
        [1, f.client],
        [2, f.contractor],
      ],
    );
  });

  it('one goes offline, the other sends, and back online every message arrives exactly once and in order', async () => {
    const before = await h.messagesIn(contractorPage);
    await contractorCtx.setOffline(true);
    const closed = await contractorPage.evaluate(() => {
      let n = 0;
      for (const s of window.__wrSockets || []) {
        if (s.readyState <= 1) {
          s.close();
          n++;
        }
      }
      return n;
    });
    assert.ok(closed >= 1, 'the contractor page had an open WebSocket to cut');
    await contractorPage
      .locator('[data-testid=connection-state]:is([data-state=reconnecting],[data-state=offline])')
      .waitFor({ state: 'attached' });

    // The contractor writes while cut off: the page keeps it until it can send it.
    const drafted = 'Drafted while offline, sent on reconnect.';
    await h.sendMessage(contractorPage, drafted);

    const missed = [];
    for (let i = 1; i <= 6; i++) missed.push(`While you were away, note ${i} of 6.`);
    for (const text of missed) {
      const n = await clientPage.locator('[data-testid=timeline] [data-testid=message]').count();
      await h.sendMessage(clientPage, text);
      await clientPage.locator('[data-testid=timeline] [data-testid=message]').nth(n).waitFor();
    }
    // Nothing reached the contractor while it was cut off.
    assert.equal((await h.messagesIn(contractorPage)).length, before.length);

    await contractorCtx.setOffline(false);
    await contractorPage
      .locator('[data-testid=connection-state][data-state=online]')
      .waitFor({ state: 'attached', timeout: 30000 });
    const expected = before.length + missed.length + 1;
    for (const page of [contractorPage, clientPage]) {
      await h.eventually(async () => (await h.messagesIn(page)).length >= expected, {
        message: `${expected} messages on the page`,
      });
    }
    // Give a late duplicate the chance to show up before judging.
    await h.sleep(1000);
    const history = await f.server.api('GET', `/v1/rooms/${f.room}/messages?limit=200`, {
      token: f.contractorToken,
    });
    const stored = history.json.messages;
    assert.equal(stored.length, expected, 'the server stored each message once (the offline one too)');
    for (const [who, page] of [
      ['contractor', contractorPage],
      ['client', clientPage],
    ]) {
      const shown = await h.messagesIn(page);
      const seqs = shown.map((m) => m.seq);
      for (let i = 1; i < seqs.length; i++) {
        assert.ok(seqs[i] > seqs[i - 1], `${who}: data-seq strictly increasing: ${seqs.join(',')}`);
      }
      assert.equal(new Set(seqs).size, seqs.length, `${who}: no duplicate seq: ${seqs.join(',')}`);
      assert.equal(shown.length, expected, `${who}: exactly ${expected} messages: ${seqs.join(',')}`);
      // The page shows exactly what the server stored, in its order.
      assert.deepEqual(
        shown.map((m) => [m.seq, m.sender, m.body]),
        stored.map((m) => [m.seq, m.sender, m.body]),
        `${who}: the page matches the server's history`,
      );
    }
    const afterCut = (await h.messagesIn(contractorPage)).slice(before.length);
    assert.deepEqual(
      afterCut.filter((m) => m.sender === f.client).map((m) => m.body),
      missed,
      'the missed messages, each once, in the order sent',
    );
    assert.equal(afterCut.filter((m) => m.body === drafted).length, 1, 'the offline draft, once');

    // And the connection works again both ways.
    await h.sendMessage(contractorPage, 'Back online, caught up.');
    await clientPage
      .locator('[data-testid=timeline] [data-testid=message]', { hasText: 'Back online, caught up.' })
      .waitFor();
  });

  it('the other side sees the typing indicator', async () => {
    // Clear of the page's typing throttle (one announcement per 3 s): the contractor's
    // last keystrokes were in the previous test.
    await h.sleep(3200);
    const typing = clientPage.locator('[data-testid=typing]').filter({ hasText: /\S/ });
    await contractorPage.locator('[data-testid=composer-input]').pressSequentially('Typing a reply', { delay: 20 });
    await typing.first().waitFor();
    // Sending the message clears it.
    await contractorPage.locator('[data-testid=composer-input]').press('Enter');
    await clientPage.locator('[data-testid=timeline] [data-testid=message]', { hasText: 'Typing a reply' }).waitFor();
    await typing.first().waitFor({ state: 'detached' }).catch(() => {});
    assert.equal(await typing.count(), 0, 'no typing indicator once the message arrived');
  });

  it('typing right after sending is announced again', async () => {
    // A person sends a message and starts the next one at once: the other side, whose
    // indicator the message cleared, should see them typing again.
    await h.sleep(3200);
    await h.sendMessage(contractorPage, 'One more thing.');
    await clientPage.locator('[data-testid=timeline] [data-testid=message]', { hasText: 'One more thing.' }).waitFor();
    await contractorPage.locator('[data-testid=composer-input]').pressSequentially('And another', { delay: 20 });
    try {
      await clientPage.locator('[data-testid=typing]').filter({ hasText: /\S/ }).first().waitFor({ timeout: 2500 });
    } finally {
      await contractorPage.locator('[data-testid=composer-input]').fill('');
    }
  });

  it('a cold load shows the first message quickly (timed), and the page weight is printed', async () => {
    // A second workroom between the same two people, with a conversation already in it.
    const room = await f.server.openRoom({ ...f.parties, bid: 'bid-chat-2', project: 'project-chat-2' });
    const conversation = [
      [f.clientToken, 'Welcome aboard! The brief and the brand guide are attached to the contract.'],
      [f.contractorToken, 'Thanks Ada. I will send a first homepage draft by Thursday.'],
      [f.clientToken, 'Great. Please keep the checkout flow to three steps.'],
      [f.contractorToken, 'Noted: cart, details, payment. Wireframes tomorrow.'],
      [f.clientToken, 'Perfect, talk then.'],
    ];
    for (const [token, text] of conversation) await h.rawSend(f.browser, f.server, token, room, [text]);
    const ctx = await h.newPerson(f.browser);
    // Timestamps the first frame in which a message is laid out, relative to navigation
    // start (performance.now()), from inside the page.
    await ctx.addInitScript(() => {
      const marks = (window.__marks = {});
      document.addEventListener(
        'click',
        (e) => {
          if (!marks.signInClick && e.target.closest && e.target.closest('#sign-in-button')) {
            marks.signInClick = performance.now();
          }
        },
        true,
      );
      const probes = {
        online: '[data-testid=connection-state][data-state=online]',
        roomListed: '[data-testid=room-item]',
        firstMessage: '[data-testid=timeline] [data-testid=message]',
      };
      const check = () => {
        for (const [name, sel] of Object.entries(probes)) {
          if (marks[name]) continue;
          const el = document.querySelector(sel);
          if (el && (name === 'online' || el.getBoundingClientRect().height > 0)) marks[name] = performance.now();
        }
        if (!marks.firstMessage) requestAnimationFrame(check);
        else window.__firstMessageAt = marks.firstMessage;
      };
      requestAnimationFrame(check);
    });
    const page = await h.newPage(ctx, 'cold');
    const assets = [];
    page.on('response', async (res) => {
      const type = res.request().resourceType();
      if (type === 'script' || type === 'stylesheet' || type === 'document') {
        try {
          assets.push({ type, url: res.url(), bytes: (await res.body()).length });
        } catch {
          // a redirect has no body
        }
      }
    });
    const started = Date.now();
    await page.goto(`${f.server.origin}/`);
    await page.locator('#token-input').fill(f.clientToken);
    await page.locator('#sign-in-button').click();
    const item = page.locator(`[data-testid=room-item][data-room="${room}"]`);
    await item.waitFor();
    // The page may open a room by itself; pick this one.
    await item.click();
    await page.locator('[data-testid=timeline] [data-testid=message]').first().waitFor();
    const wall = Date.now() - started;
    const firstAt = await page.waitForFunction(() => window.__firstMessageAt).then((x) => x.jsonValue());
    const nav = await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0];
      return { dcl: Math.round(n.domContentLoadedEventEnd), load: Math.round(n.loadEventEnd) };
    });
    const marks = await page.evaluate(() => window.__marks);
    const ms = (x) => (x === undefined ? '?' : `${Math.round(x)} ms`);
    console.log(
      `time to first message: ${Math.round(firstAt)} ms (navigation start to the first message laid out, ` +
        `sign-in by the test included; wall clock from page.goto ${wall} ms)`,
    );
    console.log(
      `  breakdown from navigation start: DOMContentLoaded ${nav.dcl} ms, load ${nav.load} ms, ` +
        `sign-in clicked ${ms(marks.signInClick)}, socket online ${ms(marks.online)}, ` +
        `room listed ${ms(marks.roomListed)}, first message ${ms(marks.firstMessage)}`,
    );
    await h.sleep(300); // let the last response bodies be read
    const js = assets.filter((a) => a.type === 'script');
    const css = assets.filter((a) => a.type === 'stylesheet');
    const sum = (l) => l.reduce((n, a) => n + a.bytes, 0);
    const html = assets.filter((a) => a.type === 'document');
    console.log(
      `page JS+CSS: ${sum(js) + sum(css)} bytes (JS ${sum(js)} bytes in ${js.length} files, CSS ${sum(css)} bytes ` +
        `in ${css.length} files; HTML ${sum(html)} bytes; uncompressed, as served)`,
    );
    assert.ok(js.length >= 1, 'the page loads its script');
    assert.ok(firstAt < 10000, `first message within 10 s of a cold load (took ${Math.round(firstAt)} ms)`);

    // The member view, with a conversation, for the docs.
    await h.eventually(async () => (await h.messagesIn(page)).length === conversation.length, {
      message: 'the whole conversation shown',
    });
    await page.locator('[data-testid=members] [data-testid=member]').first().waitFor();
    await h.saveScreenshot(page, 'member-view');
    await ctx.close();
  });

  it('a message in another room counts as unread there, and a closed room says so live', async () => {
    const bid = 'bid-chat-3';
    const room = await f.server.openRoom({ ...f.parties, bid, project: 'project-chat-3' });
    const page = await h.newPage(await h.newPerson(f.browser), 'client-2');
    await h.signIn(page, f.server, f.clientToken);
    await h.openRoomInPage(page, f.room);
    const item = page.locator(`[data-testid=room-list] [data-testid=room-item][data-room="${room}"]`);
    await item.waitFor();
    await h.rawSend(f.browser, f.server, f.contractorToken, room, ['Quick question on the invoice.', 'And one on the logo.']);
    await h.eventually(async () => ((await item.locator('[data-testid=unread]').textContent()) || '').trim() === '2', {
      message: 'unread 2 on the other room',
    });
    // The contract ends: the room is marked closed without a reload.
    await f.server.api('POST', `/v1/marketplace/bids/${bid}/end`, { token: await f.server.token('marketplace', 'service') });
    await item.locator('[data-testid=room-closed]').waitFor();
    // Opening it reads it, and it is read-only.
    await item.click();
    await h.eventually(async () => (await h.messagesIn(page)).length === 2, { message: 'the closed room readable' });
    await h.eventually(
      async () => {
        const t = ((await item.locator('[data-testid=unread]').textContent().catch(() => '')) || '').trim();
        return t === '' || t === '0' || !(await item.locator('[data-testid=unread]').isVisible());
      },
      { message: 'no unread left once opened' },
    );
    assert.ok(await page.locator('[data-testid=composer-input]').isDisabled(), 'no writing into a closed room');
  });
  it('an edit and a delete made in the page reach the other side', async () => {
    // The client's first message (seq 1), in the room both pages show.
    const mine = clientPage.locator('[data-testid=timeline] [data-testid=message][data-seq="1"]');
    const theirs = contractorPage.locator('[data-testid=timeline] [data-testid=message][data-seq="1"]');
    const original = (await mine.locator('[data-testid=message-body]').textContent()).trim();
    await mine.getByRole('button', { name: 'Edit' }).click();
    const area = mine.getByRole('textbox', { name: 'Edit your message' });
    await area.waitFor();
    // The edit box starts with the message's text.
    assert.equal(await area.inputValue(), original, 'the edit box holds the current text');
    const edited = 'Hello Bo, the brief (v2) is in the shared folder.';
    await area.fill(edited);
    await area.press('Enter');
    for (const [who, entry] of [['contractor', theirs], ['client', mine]]) {
      await h.eventually(
        async () => ((await entry.locator('[data-testid=message-body]').textContent()) || '').trim() === edited,
        { message: `${who}: the edited text` },
      );
      await entry.locator('[data-testid=edited]').waitFor();
    }
    assert.equal(await theirs.count(), 1, 'still one entry for seq 1');

    // Delete asks for a confirmation, then the other side shows it deleted.
    await mine.getByRole('button', { name: 'Delete' }).click();
    await mine.getByRole('button', { name: 'Confirm delete' }).click();
    for (const entry of [theirs, mine]) {
      await entry.locator('[data-testid=deleted]').waitFor();
      assert.equal(((await entry.locator('[data-testid=message-body]').textContent()) || '').trim(), '');
      assert.equal(await entry.locator('[data-testid=edited]').count(), 0, 'no edited mark on a deleted message');
    }
    const stored = await f.server.api('GET', `/v1/rooms/${f.room}/messages?limit=200`, { token: f.contractorToken });
    const first = stored.json.messages.find((m) => m.seq === 1);
    assert.equal(first.deleted, true, 'the server stored the delete');
  });
});
