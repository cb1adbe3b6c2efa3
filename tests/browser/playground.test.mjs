// The playground at `/` in headless Chromium with no network but the gateway: it loads, runs a
// query with an `Authorization` header typed into the Headers editor, and receives a subscription
// event over WebSocket with the same header.
//
//   cargo build && (cd tests/browser && npm ci && npm test)
//
// GATEWAY_BIN (default target/debug/gateway) and CHROMIUM (default /usr/bin/chromium) override
// the binaries. On a failure the gateway's output and a screenshot are kept in a temporary folder
// whose path is printed.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startGateway as startGatewayIn } from '../realtime/gateway.mjs';

const chromiumBin = process.env.CHROMIUM || '/usr/bin/chromium';
const workDir = mkdtempSync(join(tmpdir(), 'playground-test-'));

let gateway; // { child, origin, email, password, exited }
let browser;
let page;
let token;
let failed = false;
const foreignRequests = [];
const sockets = []; // { url, sent: [], received: [] }
const pageErrors = [];
const graphqlRequests = [];

// Starts the gateway on a fresh SQLite file and a free port; resolves once it listens, with
// the first admin it created.
async function startGateway() {
  // Should this process end before `after` runs (interrupted, its output closed), so does the
  // gateway (startGateway kills it on exit).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(signal, () => process.exit(1));
  for (const stream of [process.stdout, process.stderr]) stream.once('error', () => process.exit(1));
  const started = await startGatewayIn(workDir, `sqlite://${join(workDir, 'g.db')}?mode=rwc`, 'playground');
  if (!started.email) throw new Error('the gateway printed no first admin');
  return started;
}

async function stopGateway() {
  if (!gateway || gateway.child.exitCode !== null) return;
  gateway.child.kill('SIGTERM');
  const killer = setTimeout(() => gateway.child.kill('SIGKILL'), 10_000);
  await gateway.exited;
  clearTimeout(killer);
}

// One GraphQL request over HTTP from the test itself (not the browser).
async function graphql(query, headers = {}) {
  const response = await fetch(`${gateway.origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

// Replaces the whole text of a CodeMirror editor the way a person would: click, select all, type.
async function typeInto(editor, text) {
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(text);
  await page.keyboard.press('Escape'); // closes an autocompletion popup, if any opened
  const value = await editor.evaluate((element) => element.CodeMirror.getValue());
  assert.equal(value, text, 'the editor holds what was typed');
}

const responsePane = () => page.locator('.graphiql-response .result-window');

async function waitForResponse(text, timeout = 15_000) {
  await responsePane().getByText(text).first().waitFor({ timeout });
}

// Runs a step; on its failure saves a screenshot and says where. A step that builds on the
// earlier ones fails at once after one of them failed, instead of waiting for its elements.
async function step(fn, { standalone = false } = {}) {
  if (failed && !standalone) throw new Error('not run: an earlier step failed');
  try {
    await fn();
  } catch (error) {
    failed = true;
    if (page) {
      const shot = join(workDir, `failure-${Date.now()}.png`);
      await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
      console.error(`screenshot: ${shot}`);
    }
    throw error;
  }
}

// The gateway on a fresh database, the admin's token, and Chromium with every request to another
// origin refused and every request, frame and CSP violation recorded.
async function setUp() {
  gateway = await startGateway();
  const data = await graphql(
    `mutation { login(email: ${JSON.stringify(gateway.email)}, password: ${JSON.stringify(gateway.password)}) { accessToken } }`,
  );
  token = data.login.accessToken;

  browser = await chromium.launch({
    executablePath: chromiumBin,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // No name but the gateway's address resolves: even a request that slipped past the route
      // below could go nowhere.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
  const context = await browser.newContext();
  const own = new URL(gateway.origin);
  // The "no network" proof: every request to another origin is refused and remembered.
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.origin === own.origin) return route.continue();
    foreignRequests.push(url.href);
    return route.abort('blockedbyclient');
  });
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) =>
      window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`),
    );
  });
  page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('request', (request) => {
    if (request.url().startsWith(`${gateway.origin}/graphql`) && request.method() === 'POST') {
      graphqlRequests.push({ body: request.postData() || '', headers: request.headers() });
    }
  });
  page.on('websocket', (socket) => {
    const seen = { url: socket.url(), sent: [], received: [] };
    sockets.push(seen);
    socket.on('framesent', (frame) => seen.sent.push(String(frame.payload)));
    socket.on('framereceived', (frame) => seen.received.push(String(frame.payload)));
  });
}

describe('the playground with no network but the gateway', { timeout: 180_000 }, () => {
  before(() => step(setUp, { standalone: true }));

  after(async () => {
    await browser?.close();
    await stopGateway();
    if (!failed) return rmSync(workDir, { recursive: true, force: true });
    try {
      const log = readFileSync(join(workDir, 'gateway-playground.log'), 'utf8').trimEnd();
      if (log) console.error(`the gateway's last lines:\n${log.split('\n').slice(-40).join('\n')}`);
    } catch {
      // no log: the gateway never started
    }
    console.error(`kept for inspection: ${workDir} (gateway-playground.log, screenshots)`);
  });

  it('serves the page with a policy that allows only the gateway', () =>
    step(async () => {
      const response = await page.goto(`${gateway.origin}/`);
      assert.equal(response.status(), 200);
      const headers = response.headers();
      const csp = headers['content-security-policy'] || '';
      for (const directive of ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"]) {
        assert.ok(csp.includes(directive), `${directive} in ${csp}`);
      }
      assert.match(csp, /connect-src 'self' ws:\/\/127\.0\.0\.1:\d+ wss:\/\/127\.0\.0\.1:\d+;/);
      assert.equal(headers['x-content-type-options'], 'nosniff');
      await page.locator('.graphiql-query-editor .CodeMirror').waitFor({ timeout: 30_000 });
    }));

  it('loads the schema for the documentation explorer', () =>
    step(async () => {
      await page.locator('[aria-label="Show Documentation Explorer"]').click();
      const explorer = page.locator('.graphiql-doc-explorer');
      await explorer.getByText('Root Types').waitFor({ timeout: 15_000 });
      await explorer.getByText('QueryRoot').first().waitFor();
      await page.locator('[aria-label="Hide Documentation Explorer"]').click();
    }));

  it('runs a query with the token typed into the Headers editor', () =>
    step(async () => {
      await page.locator('.graphiql-editor-tools button[data-name="headers"]').click();
      const headersEditor = page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror');
      await typeInto(headersEditor, JSON.stringify({ Authorization: `Bearer ${token}` }));
      await typeInto(page.locator('.graphiql-query-editor .CodeMirror'), '{ me { email role } }');
      await page.locator('button.graphiql-execute-button').click();
      await waitForResponse(gateway.email);
      await waitForResponse('ADMIN');
      const sent = graphqlRequests.find((request) => request.body.includes('me {'));
      assert.ok(sent, 'the query went to /graphql');
      assert.equal(sent.headers.authorization, `Bearer ${token}`);
    }));

  it('receives a subscription event over WebSocket with the same header', () =>
    step(async () => {
      await typeInto(
        page.locator('.graphiql-query-editor .CodeMirror'),
        'subscription { licenseEvents { type } }',
      );
      await page.locator('button.graphiql-execute-button').click();
      // Subscribed once the gateway acknowledged the connection and got the subscribe message.
      await waitUntil(
        () =>
          sockets.some(
            (s) => s.received.some(isType('connection_ack')) && s.sent.some(isType('subscribe')),
          ),
        15_000,
        'the subscription was not acknowledged',
      );
      const socket = sockets.find((s) => s.sent.some(isType('subscribe')));
      assert.equal(new URL(socket.url).host, new URL(gateway.origin).host);
      const init = JSON.parse(socket.sent.find(isType('connection_init')));
      assert.equal(init.payload.Authorization, `Bearer ${token}`);

      // A signup creates a license and publishes `license.created`; the subscription is live once
      // the gateway handled `subscribe`, so a few tries cover the moment in between.
      for (let attempt = 1; ; attempt++) {
        await graphql(
          `mutation { signup(input: {email: "dev${attempt}@example.com", name: "Dev ${attempt}", password: "correct horse 42", planCode: "solo"}) { licenseKey } }`,
        );
        try {
          await waitForResponse('license.created', 3_000);
          break;
        } catch (error) {
          if (attempt === 5) throw error;
        }
      }
      await page.locator('button.graphiql-execute-button').click(); // stop
    }));

  it('asked nothing of any other origin and broke no rule of its policy', () =>
    step(async () => {
      assert.deepEqual(foreignRequests, []);
      for (const socket of sockets) {
        assert.equal(new URL(socket.url).host, new URL(gateway.origin).host, socket.url);
      }
      assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
      assert.deepEqual(pageErrors, []);
    }, { standalone: true }));
});

function isType(type) {
  return (payload) => {
    try {
      return JSON.parse(payload).type === type;
    } catch {
      return false;
    }
  };
}

async function waitUntil(condition, timeout, message) {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((done) => setTimeout(done, 100));
  }
}
