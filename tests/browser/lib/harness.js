'use strict';
// Harness of the browser tests: the real `workroom` binary on an ephemeral port with a
// fresh data directory, tokens minted by `workroom token` against that directory's dev
// key, the marketplace and member APIs over HTTPS (trusting the generated dev
// certificate), and Debian's Chromium driven by playwright-core.
//
// Nothing here skips: a missing binary or a missing Chromium is an error, so CI fails.

const { spawn, execFile } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');
const { chromium } = require('playwright-core');

const execFileP = promisify(execFile);

const REPO = path.resolve(__dirname, '..', '..', '..');
const BIN = process.env.WORKROOM_BIN || path.join(REPO, 'target', 'debug', 'workroom');
const CHROMIUM = process.env.WORKROOM_CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT_DIR =
  process.env.WORKROOM_SCREENSHOT_DIR || path.join(REPO, 'docs', 'screenshots');
// Every wait in the tests is bounded by this (ms).
const WAIT = Number(process.env.WORKROOM_BROWSER_WAIT_MS || 15000);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A running `workroom serve` with its own data directory. */
class Server {
  constructor() {
    this.proc = null;
    this.dataDir = null;
    this.origin = null;
    this.port = null;
    this.ca = null;
    this.logPath = null;
    this.agent = null;
  }

  /**
   * Starts the server. `env` adds configuration overrides
   * (`WORKROOM_<SECTION>__<KEY>`), e.g. `{WORKROOM_MODERATION__REQUIRE_APPROVAL: 'true'}`.
   */
  static async start(env = {}) {
    if (!fs.existsSync(BIN)) {
      throw new Error(
        `server binary ${BIN} is missing: run \`cargo build --locked -p workroom-server --bin workroom\` ` +
          'or set WORKROOM_BIN',
      );
    }
    const s = new Server();
    s.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'workroom-browser-'));
    s.logPath = path.join(s.dataDir, 'server.log');
    const log = fs.openSync(s.logPath, 'a');
    s.proc = spawn(BIN, ['serve'], {
      env: {
        ...process.env,
        WORKROOM_DATA_DIR: s.dataDir,
        // Port 0: the kernel picks a free port; the server prints the address it bound,
        // and its own origin (the one the WebSocket origin check allows) is built from it.
        WORKROOM_LISTEN: '127.0.0.1:0',
        WORKROOM_LOG__FORMAT: 'json',
        WORKROOM_SHUTDOWN__DRAIN_TIMEOUT_SECS: '2',
        NO_COLOR: '1',
        ...env,
      },
      stdio: ['ignore', 'pipe', log],
    });
    const exited = new Promise((resolve) => s.proc.once('exit', (code, sig) => resolve({ code, sig })));
    s.exited = exited;
    // The listening line names the bound address.
    let out = '';
    const listening = new Promise((resolve, reject) => {
      s.proc.stdout.on('data', (chunk) => {
        fs.appendFileSync(s.logPath, chunk);
        out += chunk.toString();
        const m = /listening on (https:\/\/127\.0\.0\.1:(\d+))/.exec(out);
        if (m) resolve(m);
      });
      exited.then(({ code, sig }) =>
        reject(new Error(`workroom serve exited early (${code ?? sig}); log: ${s.logPath}\n${tail(s.logPath)}`)),
      );
    });
    const m = await withTimeout(listening, 30000, () => `workroom serve did not start; log:\n${tail(s.logPath)}`);
    s.origin = m[1];
    s.port = Number(m[2]);
    s.ca = fs.readFileSync(path.join(s.dataDir, 'tls', 'cert.pem'));
    s.agent = new https.Agent({ ca: s.ca, keepAlive: true, maxSockets: 8 });
    // /healthz answers once the router is up.
    const deadline = Date.now() + 30000;
    for (;;) {
      try {
        const r = await s.request('GET', '/healthz');
        if (r.status === 200) break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
      }
      if (Date.now() > deadline) throw new Error('/healthz never answered 200');
      await sleep(100);
    }
    return s;
  }

  /** `workroom token --sub SUB --role ROLE [--acts-for U] [--account A]` for this data dir. */
  async token(sub, role, { actsFor, account, ttl = '1h' } = {}) {
    const args = ['token', '--data-dir', this.dataDir, '--sub', sub, '--role', role, '--ttl', ttl];
    if (actsFor) args.push('--acts-for', actsFor);
    if (account) args.push('--account', account);
    const { stdout } = await execFileP(BIN, args, { env: { ...process.env, NO_COLOR: '1' } });
    const token = stdout.trim().split('\n').pop().trim();
    if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) throw new Error(`workroom token printed ${stdout}`);
    return token;
  }

  /**
   * One HTTPS request to the server, trusting its dev certificate. Returns
   * `{status, headers, body (Buffer), json}`.
   */
  request(method, urlPath, { token, body, headers = {}, contentType } = {}) {
    return new Promise((resolve, reject) => {
      const h = { ...headers };
      if (token) h.authorization = `Bearer ${token}`;
      let payload = null;
      if (body !== undefined && body !== null) {
        if (Buffer.isBuffer(body)) {
          payload = body;
          h['content-type'] = contentType || 'application/octet-stream';
        } else {
          payload = Buffer.from(JSON.stringify(body));
          h['content-type'] = 'application/json';
        }
        h['content-length'] = payload.length;
      }
      const req = https.request(
        { host: '127.0.0.1', port: this.port, method, path: urlPath, headers: h, agent: this.agent, servername: 'localhost' },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const buf = Buffer.concat(chunks);
            let json;
            try {
              json = JSON.parse(buf.toString('utf8'));
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode, headers: res.headers, body: buf, json });
          });
        },
      );
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  /** Like request, but fails unless the status is one of `ok`. */
  async api(method, urlPath, opts = {}, ok = [200, 201, 204]) {
    const r = await this.request(method, urlPath, opts);
    if (!ok.includes(r.status)) {
      throw new Error(`${method} ${urlPath} answered ${r.status}: ${r.body.toString('utf8').slice(0, 300)}`);
    }
    return r;
  }

  /**
   * Opens a workroom the only way there is: the marketplace accepts a bid (service token).
   * `client` and `contractor` are `{user, account, name, email}`. Returns the room id.
   */
  async openRoom({ bid, project, client, contractor }) {
    if (!this.serviceToken) this.serviceToken = await this.token('marketplace', 'service');
    const r = await this.api('POST', `/v1/marketplace/bids/${bid}/accept`, {
      token: this.serviceToken,
      body: { project: project || `p-${bid}`, client, contractor },
    });
    return r.json.room;
  }

  /** Stops the server (SIGTERM, then SIGKILL after 10 s) and removes its data directory. */
  async stop({ keep = false } = {}) {
    if (this.agent) this.agent.destroy();
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
      await this.exited;
      clearTimeout(t);
    }
    if (!keep && this.dataDir && !process.env.WORKROOM_BROWSER_KEEP) {
      fs.rmSync(this.dataDir, { recursive: true, force: true });
    }
  }

  /** The last lines of the server's log (for failure messages). */
  logTail(lines = 40) {
    return tail(this.logPath, lines);
  }
}

function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function withTimeout(promise, ms, message) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(typeof message === 'function' ? message() : message)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/** Debian's Chromium, headless, with the flags this machine's closed network needs. */
async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: apt-get install chromium (.ci/browser.sh does)`);
  }
  // launch() gives every run a fresh temporary user data dir (a persistent profile is
  // only used by launchPersistentContext), and every context is a fresh incognito-like
  // profile: cold cache, no storage.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A fresh browser context (a person) with the usual viewport. */
async function newPerson(browser, opts = {}) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    acceptDownloads: true,
    ...opts,
  });
  context.setDefaultTimeout(WAIT);
  return context;
}

/**
 * Records the page's WebSocket objects (window.__wrSockets) so a test can close them, as a
 * network cut would. A transparent Proxy: the page's own code sees the real constructor.
 */
const SOCKET_SPY = () => {
  const Real = window.WebSocket;
  window.__wrSockets = [];
  window.WebSocket = new Proxy(Real, {
    construct(target, args) {
      const s = new target(...args);
      window.__wrSockets.push(s);
      return s;
    },
  });
};

/** Every frame the page's WebSockets receive, parsed, in `log.frames`. */
function recordFrames(page) {
  const log = { frames: [], sockets: [], raw: [] };
  page.on('websocket', (ws) => {
    log.sockets.push(ws.url());
    ws.on('framereceived', ({ payload }) => {
      const text = typeof payload === 'string' ? payload : payload.toString('utf8');
      log.raw.push(text);
      try {
        log.frames.push(JSON.parse(text));
      } catch {
        log.frames.push({ unparsed: text });
      }
    });
  });
  return log;
}

/** Prints the page's uncaught errors and console errors, labelled (they explain failures). */
function watchPage(page, label) {
  page.on('pageerror', (e) => console.log(`[${label}] page error: ${e.message}`));
  page.on('console', (m) => {
    // Chromium logs every 4xx/5xx fetch as "Failed to load resource"; the response
    // listener below names them with their URL instead.
    if (m.text().startsWith('Failed to load resource')) return;
    if (m.type() === 'error' || m.type() === 'warning') console.log(`[${label}] console ${m.type()}: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) {
      const u = new URL(r.url());
      console.log(`[${label}] http ${r.status()} ${r.request().method()} ${u.pathname}`);
    }
  });
  return page;
}

/** A new page of a context, watched. */
async function newPage(context, label) {
  return watchPage(await context.newPage(), label);
}

/** Opens the page and signs in with a token; waits for the socket to be online. */
async function signIn(page, server, token, { waitOnline = true } = {}) {
  await page.goto(`${server.origin}/`);
  await page.locator('#token-input').fill(token);
  await page.locator('#sign-in-button').click();
  if (waitOnline) {
    await page
      .locator('[data-testid=connection-state][data-state=online]')
      .waitFor({ state: 'attached' });
  }
}

/**
 * Makes an element reachable the way a person would: opens the closed <details> around it
 * (a disclosure such as "My details") by clicking its summary.
 */
async function reveal(locator) {
  await locator.first().waitFor({ state: 'attached' });
  const closed = await locator.first().evaluate((el) => {
    const d = el.closest('details');
    return Boolean(d && !d.open);
  });
  if (closed) {
    await locator.first().locator('xpath=ancestor::details[1]/summary').click();
  }
  await locator.first().waitFor({ state: 'visible' });
}

/** Selects a room in the room list. */
async function openRoomInPage(page, room) {
  const item = page.locator(`[data-testid=room-list] [data-testid=room-item][data-room="${room}"]`);
  await item.click();
  await page.locator('[data-testid=timeline]').waitFor();
}

/** Types a message in the composer and sends it with Enter (or the button). */
async function sendMessage(page, text, { button = false } = {}) {
  const input = page.locator('[data-testid=composer-input]');
  await input.fill(text);
  if (button) await page.locator('[data-testid=send-button]').click();
  else await input.press('Enter');
}

/** `[data-testid=message]` entries of a container as {seq, sender, body}. */
async function messagesIn(page, container = '[data-testid=timeline]') {
  return page.locator(`${container} [data-testid=message]`).evaluateAll((els) =>
    els.map((el) => ({
      seq: el.getAttribute('data-seq') === null ? null : Number(el.getAttribute('data-seq')),
      sender: el.getAttribute('data-sender'),
      body: (el.querySelector('[data-testid=message-body]') || el).textContent.trim(),
    })),
  );
}

/** Waits until `fn()` (sync or async) returns a truthy value; returns it. */
async function eventually(fn, { timeout = WAIT, interval = 100, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  let lastErr;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${message}${lastErr ? `: ${lastErr.message}` : ''}`);
    }
    await sleep(interval);
  }
}

/** A screenshot of the whole viewport into docs/screenshots/NAME.png. */
async function saveScreenshot(page, name) {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
  console.log(`screenshot: ${path.relative(REPO, file)}`);
  return file;
}

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/** Two parties of a bid, with stable names for stable screenshots. */
function parties(tag, { client = 'ada', contractor = 'bo' } = {}) {
  return {
    bid: `bid-${tag}`,
    project: `project-${tag}`,
    client: { user: `${client}-${tag}`, account: `acct-${client}-${tag}`, name: 'Ada Client', email: `ada.${tag}@client.example` },
    contractor: { user: `${contractor}-${tag}`, account: `acct-${contractor}-${tag}`, name: 'Bo Contractor', email: `bo.${tag}@agency.example` },
  };
}

/**
 * The usual fixture: a server, a browser, a room between a client and a contractor, and
 * their member tokens. `t` is the node:test context of a `describe`/suite (its `after`
 * stops everything even when a test fails).
 */
async function setup({ env, tag = 'x' } = {}) {
  const server = await Server.start(env);
  let browser;
  try {
    browser = await launchBrowser();
  } catch (e) {
    await server.stop();
    throw e;
  }
  const p = parties(tag);
  const room = await server.openRoom(p);
  const clientToken = await server.token(p.client.user, 'member', { account: p.client.account });
  const contractorToken = await server.token(p.contractor.user, 'member', { account: p.contractor.account });
  const fixture = {
    server,
    browser,
    room,
    parties: p,
    client: p.client.user,
    contractor: p.contractor.user,
    clientToken,
    contractorToken,
    async teardown() {
      await browser.close().catch(() => {});
      await server.stop();
    },
  };
  return fixture;
}

/** Sends each text from a signed-in page (sending is WebSocket-only) and waits for it. */
async function seedMessages(page, texts) {
  for (const text of texts) {
    const before = await page.locator('[data-testid=timeline] [data-testid=message]').count();
    await sendMessage(page, text);
    await page.locator('[data-testid=timeline] [data-testid=message]').nth(before).waitFor();
  }
}

/**
 * Sends messages as `token`'s user over a raw WebSocket from a browser page on the server's
 * own origin (sending is WebSocket-only, and Node 20 has no WebSocket client): seeds a
 * room without going through the page under test. Resolves with the acks, in order.
 */
async function rawSend(browser, server, token, room, texts) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, bypassCSP: true });
  try {
    const page = await ctx.newPage();
    await page.goto(`${server.origin}/healthz`);
    return await page.evaluate(
      ({ url, token, room, texts }) =>
        new Promise((resolve, reject) => {
          const acks = [];
          const ws = new WebSocket(url);
          const timer = setTimeout(() => reject(new Error(`raw send timed out: ${JSON.stringify(acks)}`)), 10000);
          const next = () => {
            const i = acks.length;
            if (i === texts.length) {
              clearTimeout(timer);
              ws.close();
              resolve(acks);
              return;
            }
            ws.send(JSON.stringify({ type: 'send', id: `s${i}`, room, client_msg_id: `seed-${Date.now()}-${i}`, body: texts[i] }));
          };
          ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }));
          ws.onmessage = (e) => {
            const f = JSON.parse(e.data);
            if (f.type === 'hello') next();
            else if (f.type === 'ack') {
              acks.push(f);
              next();
            } else if (f.type === 'error') {
              clearTimeout(timer);
              reject(new Error(`raw send refused: ${e.data}`));
            }
          };
          ws.onclose = (e) => {
            if (acks.length < texts.length) reject(new Error(`raw send: socket closed ${e.code}`));
          };
        }),
      { url: `wss://127.0.0.1:${server.port}/v1/ws`, token, room, texts },
    );
  } finally {
    await ctx.close();
  }
}

/** A small valid PNG (width x height, a diagonal gradient), made with zlib. */
function makePng(width = 96, height = 64, seed = 0) {
  const zlib = require('node:zlib');
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const o = row + 1 + x * 3;
      raw[o] = (x * 255) / width;
      raw[o + 1] = (y * 255) / height;
      raw[o + 2] = (seed * 53 + 128) & 0xff;
    }
  }
  const crcTable = [];
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crcTable[n] = c >>> 0;
  }
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

module.exports = {
  BIN,
  CHROMIUM,
  REPO,
  SCREENSHOT_DIR,
  WAIT,
  SOCKET_SPY,
  Server,
  eventually,
  launchBrowser,
  makePng,
  messagesIn,
  newPage,
  newPerson,
  openRoomInPage,
  parties,
  rawSend,
  recordFrames,
  reveal,
  saveScreenshot,
  seedMessages,
  sendMessage,
  setup,
  sha256,
  signIn,
  sleep,
  watchPage,
};
