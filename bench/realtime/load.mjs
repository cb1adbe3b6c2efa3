// Realtime load: SUBSCRIBERS graphql-transport-ws sockets spread over the GATEWAYS, each
// subscribed to `licenseEvents` (a share of them as an admin, seeing every license's events, the
// rest as one of the developers, seeing its own license's); then RATE changes a second for
// DURATION seconds, each an `updateLicense` by one of the developers through one of the gateways
// in turn. Every subscriber's deliveries are checked against the event log (what its scope
// holds, in order, once each), and each delivery's latency is taken from the event's
// `occurredAt` (stamped when its transaction began, so an upper bound on commit to client) and
// from the moment the change's answer reached the client making it (after its commit, so a
// lower bound; negative when the event arrived first).
// Prints one `RESULT key=value ...` line. Run by bench/realtime.sh, which says what it needs.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

const env = (name, fallback) => process.env[name] ?? fallback;
const gateways = env('GATEWAYS').split(',');
const adminToken = env('ADMIN_TOKEN');
const developers = JSON.parse(readFileSync(env('DEVELOPERS_FILE'), 'utf8'));
const subscriberCount = Number(env('SUBSCRIBERS', '1000'));
const adminShare = Number(env('ADMIN_SHARE', '0.2'));
const rate = Number(env('RATE', '50'));
const duration = Number(env('DURATION', '120'));
const pids = env('GATEWAY_PIDS').split(',');
const database = env('PSQL_DB');

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const rssMb = (pid) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+)/)[1]) / 1024;
};
const psql = (query) =>
  execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', database, '-XAt', '-F', ' ', '-c', query], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  }).trim();
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];

const QUERY_ALL = 'subscription { licenseEvents(types: ["license.updated"]) { cursor licenseId occurredAt } }';
const queryOne = (licenseId) =>
  `subscription { licenseEvents(licenseId: "${licenseId}", types: ["license.updated"]) { cursor licenseId occurredAt } }`;

// Per delivery: ms from the event's occurredAt (an upper bound on commit to client), and which
// change it was (license and its count), to measure from that change's answer (a lower bound)
// once the run is over.
const latencies = [];
const deliveries = [];
const closes = new Map();
const licenseIndex = new Map(developers.map((d, i) => [d.licenseId, i]));

// One subscriber: resolves once its subscription is sent.
function subscribe(index) {
  const gateway = gateways[index % gateways.length];
  const asAdmin = index < subscriberCount * adminShare;
  const developer = developers[index % developers.length];
  const subscriber = {
    licenseId: asAdmin ? null : developer.licenseId,
    cursors: [],
    closed: null,
    seen: new Uint32Array(developers.length),
  };
  const socket = new WebSocket(gateway.replace(/^http/, 'ws'), 'graphql-transport-ws');
  return new Promise((ready, fail) => {
    socket.on('open', () => {
      const token = asAdmin ? adminToken : developer.token;
      socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } }));
    });
    socket.on('message', (raw) => {
      const message = JSON.parse(raw);
      if (message.type === 'next') {
        const event = message.payload.data?.licenseEvents;
        if (!event) {
          subscriber.closed = `error ${JSON.stringify(message.payload)}`;
          return;
        }
        const at = now();
        subscriber.cursors.push(Number(event.cursor));
        latencies.push(at - Date.parse(event.occurredAt));
        const license = licenseIndex.get(event.licenseId);
        if (license !== undefined) deliveries.push(license, subscriber.seen[license]++, at);
      } else if (message.type === 'connection_ack') {
        const query = asAdmin ? QUERY_ALL : queryOne(developer.licenseId);
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
        ready(subscriber);
      } else if (message.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong' }));
      } else if (message.type === 'error') {
        subscriber.closed = `error ${JSON.stringify(message.payload)}`;
      }
    });
    socket.on('close', (code) => {
      subscriber.closed ??= `closed ${code}`;
      closes.set(code, (closes.get(code) ?? 0) + 1);
    });
    socket.on('error', (err) => fail(err));
    subscriber.socket = socket;
  });
}

async function graphql(gateway, token, query, variables) {
  const response = await fetch(gateway, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const UPDATE = 'mutation($id: UUID!, $n: String!) { updateLicense(id: $id, input: { notes: $n }) { id } }';

// RATE changes a second for DURATION seconds, on a fixed schedule (not waiting for answers).
async function produce() {
  const total = rate * duration;
  const mutationMs = [];
  // When each license's k-th change was answered (its commit came before).
  const answeredAt = developers.map(() => []);
  let failed = 0;
  const inFlight = [];
  const start = now();
  for (let n = 0; n < total; n++) {
    const due = start + (n * 1000) / rate;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    const license = n % developers.length;
    const developer = developers[license];
    const gateway = gateways[n % gateways.length];
    const k = Math.floor(n / developers.length);
    const sent = now();
    inFlight.push(
      graphql(gateway, developer.token, UPDATE, { id: developer.licenseId, n: `change ${n}` })
        .then(() => {
          answeredAt[license][k] = now();
          mutationMs.push(now() - sent);
        })
        .catch((err) => {
          failed += 1;
          if (failed <= 3) console.error(`a change failed: ${err.message}`);
        }),
    );
  }
  await Promise.all(inFlight);
  return { total, failed, seconds: (now() - start) / 1000, mutationMs, answeredAt };
}

const subscribers = [];
for (let from = 0; from < subscriberCount; from += 50) {
  const batch = [];
  for (let i = from; i < Math.min(subscriberCount, from + 50); i++) batch.push(subscribe(i));
  subscribers.push(...(await Promise.all(batch)));
}
// Subscriptions start at the log's end when the server registers them: give the last a moment.
await sleep(3000);
const startPosition = Number(psql('SELECT COALESCE(max(position), 0) FROM event_log'));
const rssStart = pids.map(rssMb);
const produced = await produce();
await sleep(5000);
const rssEnd = pids.map(rssMb);

// What each scope should have received: the log's license.updated rows after the start.
const expectedAll = [];
const expectedBy = new Map();
for (const line of psql(`SELECT position, entity_id FROM event_log WHERE kind = 'license.updated' AND position > ${startPosition} ORDER BY position`).split('\n')) {
  if (!line) continue;
  const [position, entity] = line.split(' ');
  expectedAll.push(Number(position));
  if (!expectedBy.has(entity)) expectedBy.set(entity, []);
  expectedBy.get(entity).push(Number(position));
}
let expectedDeliveries = 0;
let missing = 0;
let unexpected = 0;
let outOfOrder = 0;
let complete = 0;
let ended = 0;
for (const subscriber of subscribers) {
  const expected = subscriber.licenseId ? (expectedBy.get(subscriber.licenseId) ?? []) : expectedAll;
  expectedDeliveries += expected.length;
  const got = subscriber.cursors;
  for (let i = 1; i < got.length; i++) if (got[i] <= got[i - 1]) outOfOrder += 1;
  const want = new Set(expected);
  const have = new Set(got);
  for (const position of want) if (!have.has(position)) missing += 1;
  for (const position of got) if (!want.has(position)) unexpected += 1;
  if (got.length === expected.length && got.every((p, i) => p === expected[i])) complete += 1;
  if (subscriber.closed) ended += 1;
}
for (const subscriber of subscribers) subscriber.socket.close(1000);

const fromAnswer = [];
for (let i = 0; i < deliveries.length; i += 3) {
  const answered = produced.answeredAt[deliveries[i]][deliveries[i + 1]];
  if (answered !== undefined) fromAnswer.push(deliveries[i + 2] - answered);
}
fromAnswer.sort((a, b) => a - b);
latencies.sort((a, b) => a - b);
produced.mutationMs.sort((a, b) => a - b);
const fixed = (x) => (x === undefined ? 'none' : x.toFixed(1));
const fields = {
  subscribers: subscribers.length,
  gateways: gateways.length,
  changes: produced.total,
  changes_failed: produced.failed,
  logged: expectedAll.length,
  seconds: produced.seconds.toFixed(1),
  expected: expectedDeliveries,
  delivered: latencies.length,
  complete_subscribers: complete,
  missing,
  unexpected,
  out_of_order: outOfOrder,
  ended_early: ended,
  p50_ms: fixed(percentile(latencies, 50)),
  p99_ms: fixed(percentile(latencies, 99)),
  max_ms: fixed(latencies.at(-1)),
  after_answer_p50_ms: fixed(percentile(fromAnswer, 50)),
  after_answer_p99_ms: fixed(percentile(fromAnswer, 99)),
  mutation_p50_ms: fixed(percentile(produced.mutationMs, 50)),
  mutation_p99_ms: fixed(percentile(produced.mutationMs, 99)),
  rss_start_mb: rssStart.map((x) => x.toFixed(1)).join('/'),
  rss_end_mb: rssEnd.map((x) => x.toFixed(1)).join('/'),
  rss_growth_mb: rssEnd.map((x, i) => (x - rssStart[i]).toFixed(1)).join('/'),
};
console.log(`RESULT ${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ')}`);
process.exit(0);
