'use strict';
// A file uploads with visible progress and downloads byte-identical on the other side.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('../lib/harness');

describe('files', () => {
  let f;
  let tmp;

  before(async () => {
    f = await h.setup({ tag: 'files' });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'workroom-files-'));
  });

  after(async () => {
    await f?.teardown();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a file uploads with progress and downloads byte-identical', async () => {
    const name = 'project-brief v2.bin';
    const source = path.join(tmp, name);
    const bytes = crypto.randomBytes(3 * 1024 * 1024 + 123);
    fs.writeFileSync(source, bytes);
    const want = h.sha256(bytes);

    const clientPage = await h.newPage(await h.newPerson(f.browser), 'client');
    const contractorPage = await h.newPage(await h.newPerson(f.browser), 'contractor');
    await h.signIn(clientPage, f.server, f.clientToken);
    await h.signIn(contractorPage, f.server, f.contractorToken);
    await h.openRoomInPage(clientPage, f.room);
    await h.openRoomInPage(contractorPage, f.room);

    // Progress: the <progress> element appears and ends with data-done="true", full.
    await clientPage.locator('[data-testid=file-input]').setInputFiles(source);
    const progress = clientPage.locator('[data-testid=upload-progress]').last();
    await progress.waitFor({ state: 'attached' });
    assert.equal(await progress.evaluate((el) => el.tagName), 'PROGRESS');
    await clientPage
      .locator('[data-testid=upload-progress][data-done="true"]')
      .last()
      .waitFor({ state: 'attached', timeout: 30000 });
    const { value, max } = await clientPage
      .locator('[data-testid=upload-progress][data-done="true"]')
      .last()
      .evaluate((el) => ({ value: el.value, max: el.max }));
    assert.ok(max > 0 && value === max, `progress full when done (value ${value}, max ${max})`);

    // The file message reaches the other side; its download is the same bytes, same name.
    const fileMsg = contractorPage
      .locator('[data-testid=timeline] [data-testid=message]')
      .filter({ has: contractorPage.locator('[data-testid=file-download]') });
    await fileMsg.first().waitFor();
    assert.equal(await fileMsg.first().getAttribute('data-sender'), f.client);
    const [download] = await Promise.all([
      contractorPage.waitForEvent('download', { timeout: 30000 }),
      fileMsg.first().locator('[data-testid=file-download]').first().click(),
    ]);
    assert.equal(download.suggestedFilename(), name, 'downloaded under its original name');
    const saved = path.join(tmp, 'downloaded.bin');
    await download.saveAs(saved);
    const got = fs.readFileSync(saved);
    assert.equal(got.length, bytes.length, 'same size');
    assert.equal(h.sha256(got), want, 'sha256 of the download equals the source');

    // The server recorded the same SHA-256 for the file.
    const history = await f.server.api('GET', `/v1/rooms/${f.room}/messages`, { token: f.contractorToken });
    const withFile = history.json.messages.filter((m) => (m.attachments || []).length > 0);
    assert.equal(withFile.length, 1, 'one message carries the file');
    const meta = await f.server.api('GET', `/v1/rooms/${f.room}/files/${withFile[0].attachments[0]}`, {
      token: f.contractorToken,
    });
    assert.equal(meta.json.sha256, want);
    assert.equal(meta.json.name, name);
  });
});
