// Helpers of bench/compare.sh, run with Node 22 (any Node >= 18 will do):
//
//   tool.mjs prepare   writes each document's request bodies into $OUTDIR (the gateway's form
//                      always; PostGraphile's too when $PG_URL is set, with its cursors asked of it)
//   tool.mjs check     sends each document to both servers once, normalizes both answers and
//                      fails when they differ; records each answer's length for the load tool
//   tool.mjs capture   reads statements from a slice of PostgreSQL's log and writes them as a
//                      pgbench script (parameters inlined) and as a listing
//
// Environment: PARAMS (a JSON file of the documents' parameters), OUTDIR, GW_URL, PG_URL,
// TOKEN (the gateway's bearer token).
import { readFileSync, writeFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { countRows, documents, normalize } from "./documents.mjs";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

async function post(url, body, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${url}: ${response.status}, not JSON: ${text.slice(0, 500)}`);
  }
  if (response.status !== 200 || json.errors) {
    throw new Error(`${url}: ${response.status} ${JSON.stringify(json.errors ?? json).slice(0, 1500)}`);
  }
  return { json, bytes: Buffer.byteLength(text) };
}

// The gateway's cursors (see api/src/paging.rs and api/src/domain/licenses/keyset.rs): both
// lists are ordered by creation time then id, and their cursors hold both: a developer list's
// `made:<time>|<id>`, the license list's `c<time>|<id>`, in URL-safe base64 without padding.
const developerCursor = (at, id) => Buffer.from(`made:${at}|${id}`).toString("base64url");
const licenseCursor = (at, id) => Buffer.from(`c${at}|${id}`).toString("base64url");

// PostGraphile's cursor for one row in primary-key order: asked of it, by a condition on the id.
async function postgraphileCursor(url, list, id) {
  const query = `query($id: UUID!) { ${list}(condition: {rowId: $id}, orderBy: PRIMARY_KEY_ASC) { edges { cursor } } }`;
  const { json } = await post(url, { query, variables: { id } });
  const edges = json.data[list].edges;
  if (edges.length !== 1) throw new Error(`${list}: no row ${id} to take a cursor from`);
  return edges[0].cursor;
}

async function prepare() {
  const params = JSON.parse(readFileSync(env("PARAMS"), "utf8"));
  const outdir = env("OUTDIR");
  params.deepCursorGateway = licenseCursor(params.deepAt, params.deepId);
  params.largeCursorGateway = developerCursor(params.lastDeveloperAt, params.lastDeveloperId);
  const pg = process.env.PG_URL;
  if (pg) {
    params.deepCursorPostGraphile = await postgraphileCursor(pg, "allLicenses", params.deepId);
    params.largeCursorPostGraphile = await postgraphileCursor(pg, "allUsers", params.lastDeveloperId);
  }
  for (const doc of documents(params)) {
    writeFileSync(`${outdir}/${doc.name}.gateway.json`, JSON.stringify(doc.gateway));
    if (pg && doc.postgraphile) {
      writeFileSync(`${outdir}/${doc.name}.postgraphile.json`, JSON.stringify(doc.postgraphile));
    }
    if (!doc.postgraphile) writeFileSync(`${outdir}/${doc.name}.why`, `${doc.why}\n`);
  }
  // Document names in order, one a line, for the shell.
  writeFileSync(`${outdir}/names`, documents(params).map((d) => d.name).join("\n") + "\n");
  writeFileSync(`${outdir}/titles`, documents(params).map((d) => `${d.name}\t${d.title}`).join("\n") + "\n");
}

async function check() {
  const params = JSON.parse(readFileSync(env("PARAMS"), "utf8"));
  const outdir = env("OUTDIR");
  const gw = env("GW_URL");
  const pg = env("PG_URL");
  const token = env("TOKEN");
  let failed = false;
  for (const name of readFileSync(`${outdir}/names`, "utf8").split("\n").filter(Boolean)) {
    const body = JSON.parse(readFileSync(`${outdir}/${name}.gateway.json`, "utf8"));
    const gateway = await post(gw, body, token);
    writeFileSync(`${outdir}/${name}.gateway.bytes`, `${gateway.bytes}\n`);
    const mine = normalize(gateway.json.data);
    const rows = countRows(mine);
    if (rows === 0) {
      console.log(`DIFF ${name}: the gateway answered no rows: ${JSON.stringify(gateway.json).slice(0, 300)}`);
      failed = true;
      continue;
    }
    let other;
    try {
      other = JSON.parse(readFileSync(`${outdir}/${name}.postgraphile.json`, "utf8"));
    } catch {
      other = null;
    }
    if (!other) {
      // Checked against SQL instead: the ids of the licenses the search should find.
      const ids = mine.licenses.edges.map((e) => e.node.id);
      if (isDeepStrictEqual(ids, params.searchIds)) {
        console.log(`SQL ${name} rows=${rows} gateway_bytes=${gateway.bytes} (the same ${ids.length} licenses as SQL)`);
      } else {
        console.log(`DIFF ${name}: gateway ${JSON.stringify(ids)} but SQL ${JSON.stringify(params.searchIds)}`);
        failed = true;
      }
      continue;
    }
    const postgraphile = await post(pg, other);
    writeFileSync(`${outdir}/${name}.postgraphile.bytes`, `${postgraphile.bytes}\n`);
    const theirs = normalize(postgraphile.json.data);
    if (isDeepStrictEqual(mine, theirs)) {
      console.log(`EQUAL ${name} rows=${rows} gateway_bytes=${gateway.bytes} postgraphile_bytes=${postgraphile.bytes}`);
    } else {
      writeFileSync(`${outdir}/${name}.gateway.normalized.json`, JSON.stringify(mine, null, 1));
      writeFileSync(`${outdir}/${name}.postgraphile.normalized.json`, JSON.stringify(theirs, null, 1));
      console.log(`DIFF ${name}: answers differ (rows: gateway ${rows}, PostGraphile ${countRows(theirs)}); ` +
        `see ${outdir}/${name}.*.normalized.json`);
      failed = true;
    }
  }
  process.exit(failed ? 1 : 0);
}

// PostgreSQL's log, as Debian's default prefix '%m [%p] %q%u@%d ' writes it.
const PREFIX = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] (\S*)@(\S*) ([A-Z]+):  (.*)$/;
const EXECUTED = /^duration: ([\d.]+) ms {2}(?:execute [^:]*|statement): ([\s\S]*)$/;
const PARAMETER = /\$(\d+) = (NULL|'((?:[^']|'')*)')(?:, |$)/gy;

// The statements one database's sessions executed, in the order logged, with their parameters.
function executed(logSlice, db) {
  const entries = [];
  for (const line of readFileSync(logSlice, "utf8").split("\n")) {
    const m = PREFIX.exec(line);
    if (m) entries.push({ pid: m[1], db: m[3], level: m[4], text: m[5] });
    else if (entries.length) entries[entries.length - 1].text += `\n${line}`;
  }
  const statements = [];
  let last = null;
  for (const entry of entries.filter((e) => e.db === db)) {
    if (entry.level === "LOG") {
      const m = EXECUTED.exec(entry.text.trim());
      last = m ? { pid: entry.pid, ms: Number(m[1]), sql: m[2].trim(), parameters: {} } : null;
      if (last) statements.push(last);
    } else if (entry.level === "DETAIL" && last && last.pid === entry.pid && entry.text.startsWith("parameters: ")) {
      const text = entry.text.slice("parameters: ".length).trim();
      PARAMETER.lastIndex = 0;
      let m;
      while ((m = PARAMETER.exec(text))) last.parameters[m[1]] = m[2] === "NULL" ? "NULL" : `'${m[3]}'`;
    }
  }
  return statements;
}

function capture([logSlice, db, scriptFile, listingFile, backgroundSlice]) {
  const statements = executed(logSlice, db);
  // Statements the server also sends when no request comes are its own, not the request's.
  const background = new Set(backgroundSlice ? executed(backgroundSlice, db).map((s) => s.sql) : []);
  const transactionControl = /^(BEGIN|COMMIT|ROLLBACK|START TRANSACTION)\b/i;
  const kept = statements.filter((s) => !transactionControl.test(s.sql) && !background.has(s.sql));
  const inlined = kept.map((s) =>
    s.sql.replace(/\$(\d+)\b/g, (whole, n) => {
      if (!(n in s.parameters)) throw new Error(`no value logged for $${n} of: ${s.sql}`);
      return s.parameters[n];
    }).replace(/\s*\n\s*/g, " ").replace(/;\s*$/, ""),
  );
  // pgbench takes `:name` for one of its variables; with none in the script, prepared mode.
  const needsSimple = inlined.some((sql) => /(^|[^:]):[A-Za-z_]/.test(sql));
  writeFileSync(scriptFile, inlined.map((sql) => `${sql};`).join("\n") + "\n");
  const listing = kept.map((s, i) => {
    const values = Object.keys(s.parameters).length
      ? `\n  -- parameters: ${Object.entries(s.parameters).map(([k, v]) => `$${k} = ${v.length > 200 ? `${v.slice(0, 200)}…'` : v}`).join(", ")}`
      : "";
    return `-- ${i + 1}. ${s.ms} ms (as captured, one request)\n${s.sql};${values}`;
  });
  writeFileSync(listingFile, listing.join("\n") + "\n");
  const skipped = statements.length - kept.length;
  console.log(`statements=${kept.length} not_the_request=${skipped} mode=${needsSimple ? "simple" : "prepared"} ` +
    `captured_ms=${kept.reduce((t, s) => t + s.ms, 0).toFixed(3)}`);
}

const [command, ...args] = process.argv.slice(2);
const commands = { prepare, check, capture };
if (!commands[command]) {
  console.error(`usage: tool.mjs ${Object.keys(commands).join(" | ")}`);
  process.exit(2);
}
await commands[command](args);
