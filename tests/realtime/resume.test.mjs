// Subscriptions with a real client, the npm `graphql-ws` one: a subscriber is disconnected by a
// gateway restart (closed with 1001), resumes from its last cursor on the restarted gateway, and
// receives every event once, in order: those committed while it was away, then the live ones.
//
//   cargo build && (cd tests/realtime && npm ci && npm test)
//
// GATEWAY_BIN (default target/debug/gateway) overrides the binary. On a failure the gateway's
// output is kept in a temporary folder whose path is printed.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startGateway as startGatewayIn } from './gateway.mjs';

const workDir = mkdtempSync(join(tmpdir(), 'realtime-test-'));
const database = `sqlite://${join(workDir, 'g.db')}?mode=rwc`;
let gateway; // { child, origin, exited, email?, password? }
let failed = false;

// Starts the gateway on this test's database; resolves once it listens.
function startGateway(run) {
  return startGatewayIn(workDir, database, run);
}

async function graphql(query, variables = {}, token) {
  const response = await fetch(`${gateway.origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

// A graphql-ws subscriber to licenseEvents on the current gateway, from `after` if given: keeps
// what it receives and how its socket closed.
function subscribe(token, after) {
  const received = [];
  const closes = [];
  const client = createClient({
    url: `${gateway.origin.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: false,
    on: { closed: (event) => closes.push(event.code) },
  });
  const query = after
    ? `subscription { licenseEvents(after: "${after}") { cursor type data } }`
    : 'subscription { licenseEvents { cursor type data } }';
  const errors = [];
  client.subscribe(
    { query },
    { next: (message) => received.push(message.data.licenseEvents), error: (e) => errors.push(e), complete: () => {} },
  );
  return { client, received, closes, errors };
}

async function until(check, what, timeout = 5_000) {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 25));
  }
}

async function move(token, mutation, license) {
  await graphql(`mutation($id: UUID!) { ${mutation}(id: $id) { state } }`, { id: license }, token);
}

async function step(fn) {
  if (failed) throw new Error('not run: an earlier step failed');
  try {
    await fn();
  } catch (error) {
    failed = true;
    console.error(`gateway logs kept in ${workDir}`);
    throw error;
  }
}

after(async () => {
  if (gateway && gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
  if (!failed) rmSync(workDir, { recursive: true, force: true });
});

describe('a graphql-ws subscriber across a gateway restart', () => {
  let token;
  let license;
  let first;
  let lastCursor;

  it('receives live events with their cursors', () => step(async () => {
    gateway = await startGateway(1);
    const admin = { email: gateway.email, password: gateway.password };
    assert.ok(admin.email, 'the first start printed its admin');
    const login = await graphql(
      'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }',
      { e: admin.email, p: admin.password },
    );
    token = login.login.accessToken;
    first = subscribe(token);
    await new Promise((done) => setTimeout(done, 300));
    const signup = await graphql(
      'mutation($input: SignupInput!) { signup(input: $input) { license { id } } }',
      { input: { email: 'node@example.com', name: 'Node', password: 'correct-horse-battery-9', planCode: 'solo' } },
    );
    license = signup.signup.license.id;
    await move(token, 'suspendLicense', license);
    await until(() => first.received.length === 2, 'two live events');
    assert.deepEqual(first.received.map((e) => e.type), ['license.created', 'license.state_changed']);
    lastCursor = first.received[1].cursor;
  }));

  it('is closed with 1001 when the gateway shuts down', () => step(async () => {
    gateway.child.kill('SIGTERM');
    await until(() => first.closes.length > 0, 'the socket to close', 15_000);
    assert.equal(first.closes[0], 1001);
    await gateway.exited;
    await first.client.dispose();
  }));

  it('resumes from its cursor on the restarted gateway and sees every event once', () => step(async () => {
    gateway = await startGateway(2);
    // Committed while the subscriber is away.
    await move(token, 'reinstateLicense', license);
    await move(token, 'suspendLicense', license);
    await move(token, 'reinstateLicense', license);
    const resumed = subscribe(token, lastCursor);
    await until(() => resumed.received.length === 3, 'the three missed events');
    assert.deepEqual(resumed.received.map((e) => e.data.state), ['active', 'suspended', 'active']);
    // Then live.
    await move(token, 'suspendLicense', license);
    await until(() => resumed.received.length === 4, 'the live event');
    await new Promise((done) => setTimeout(done, 500));
    assert.equal(resumed.received.length, 4, 'nothing twice');
    const cursors = resumed.received.map((e) => Number(e.cursor));
    assert.ok(cursors[0] > Number(lastCursor), 'nothing from before the cursor');
    assert.deepEqual([...cursors].sort((a, b) => a - b), cursors, 'in order');
    assert.deepEqual(resumed.errors, []);
    await resumed.client.dispose();
    gateway.child.kill('SIGTERM');
    await gateway.exited;
  }));
});
