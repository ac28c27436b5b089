'use strict';
// Reciprocal contact release (C8): each side puts its own details on file, both release,
// and each then sees the other's details.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../lib/harness');

const CLIENT = {
  name: 'Ada Lovelace',
  company: 'Analytical Engines Ltd',
  phone: '+44 20 7946 0958',
  address: '12 St James Square, London',
};
const CONTRACTOR = {
  name: 'Bo Builder',
  company: 'Bo Web Studio',
  phone: '+1 415 555 0134',
  address: '500 Market Street, San Francisco',
};

/**
 * Fills the own-contact form: one `[data-testid=own-contact-input]` per field (told apart
 * by name, data-field, id, placeholder or label), or a single field taking every line.
 */
async function fillOwnContact(page, details) {
  const inputs = page.locator('[data-testid=own-contact-input]');
  await h.reveal(inputs);
  const n = await inputs.count();
  if (n === 1) {
    await inputs.first().fill([details.name, details.company, details.phone, details.address].join('\n'));
  } else {
    for (let i = 0; i < n; i++) {
      const el = inputs.nth(i);
      const hint = await el.evaluate((e) =>
        [
          e.getAttribute('data-field'),
          e.getAttribute('name'),
          e.id,
          e.getAttribute('placeholder'),
          e.getAttribute('aria-label'),
          e.labels && e.labels[0] ? e.labels[0].textContent : '',
        ]
          .filter(Boolean)
          .join(' ')
          .toLowerCase(),
      );
      const field = ['company', 'phone', 'address', 'name'].find((k) => hint.includes(k));
      assert.ok(field, `own-contact-input #${i} names its field (got "${hint}")`);
      await el.fill(details[field]);
    }
  }
  await page.locator('[data-testid=own-contact-save]').click();
}

async function release(page) {
  const button = page.locator('[data-testid=contact-release-button]');
  await button.click();
  const dialog = page.locator('[data-testid=contact-release-dialog]');
  await dialog.waitFor();
  await dialog.locator('[data-testid=contact-release-confirm]').click();
  await dialog.waitFor({ state: 'hidden' });
}

describe('contact release', () => {
  let f;

  before(async () => {
    f = await h.setup({ tag: 'contacts' });
  });

  after(async () => {
    await f?.teardown();
  });

  it('a release shows both sides each other\'s details', async () => {
    const clientPage = await h.newPage(await h.newPerson(f.browser), 'client');
    const contractorPage = await h.newPage(await h.newPerson(f.browser), 'contractor');
    await h.signIn(clientPage, f.server, f.clientToken);
    await h.signIn(contractorPage, f.server, f.contractorToken);
    await h.openRoomInPage(clientPage, f.room);
    await h.openRoomInPage(contractorPage, f.room);

    await fillOwnContact(clientPage, CLIENT);
    await fillOwnContact(contractorPage, CONTRACTOR);
    // Saved on the server, as entered.
    for (const [token, details] of [
      [f.clientToken, CLIENT],
      [f.contractorToken, CONTRACTOR],
    ]) {
      const got = await h.eventually(async () => {
        const r = await f.server.request('GET', '/v1/me/contact', { token });
        return r.status === 200 && r.json;
      }, { message: 'own contact details on file' });
      assert.equal(got.name, details.name);
      assert.equal(got.phone, details.phone);
    }
    // Nothing released yet.
    assert.equal(await clientPage.locator('[data-testid=released-contact]').count(), 0);
    assert.equal(await contractorPage.locator('[data-testid=released-contact]').count(), 0);

    await release(clientPage);
    // The contractor learns of it live; releasing from its side too is idempotent.
    if (await contractorPage.locator('[data-testid=contact-release-button]').isVisible()) {
      if (await contractorPage.locator('[data-testid=contact-release-button]').isEnabled()) {
        await release(contractorPage);
      }
    }

    const seenByClient = clientPage.locator(`[data-testid=released-contact][data-user="${f.contractor}"]`);
    const seenByContractor = contractorPage.locator(`[data-testid=released-contact][data-user="${f.client}"]`);
    await seenByClient.waitFor();
    await seenByContractor.waitFor();
    for (const v of [CONTRACTOR.name, CONTRACTOR.phone, CONTRACTOR.company]) {
      await h.eventually(async () => (await seenByClient.textContent()).includes(v), {
        message: `the client sees the contractor's ${v}`,
      });
    }
    for (const v of [CLIENT.name, CLIENT.phone, CLIENT.company]) {
      await h.eventually(async () => (await seenByContractor.textContent()).includes(v), {
        message: `the contractor sees the client's ${v}`,
      });
    }
    // Each sees the other's, not its own, as released to it.
    assert.equal(await clientPage.locator(`[data-testid=released-contact][data-user="${f.client}"]`).count(), 0);
    assert.equal(
      await contractorPage.locator(`[data-testid=released-contact][data-user="${f.contractor}"]`).count(),
      0,
    );
    // The server agrees.
    const r = await f.server.api('GET', `/v1/rooms/${f.room}/contacts`, { token: f.clientToken });
    assert.deepEqual(
      r.json.contacts.map((c) => c.user),
      [f.contractor],
    );
  });
});
