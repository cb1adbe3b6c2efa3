// The documents bench/compare.sh sends: each in the gateway's form and in PostGraphile 5's
// (Amber preset), written so that both answers have one shape once normalized (see
// normalize()). PostGraphile's forms alias its names to the gateway's: `id: rowId` (its `id`
// is a global node id), `licenses: licensesByDeveloperId`, and so on; its relation connections
// are unwrapped from `nodes`.
//
// `params` (made by compare.sh from the database): pointId, deepId (the license at half the
// table by id), lastDeveloperId (the last developer before the 20 large ones), word (a rare
// search word), and the cursors: deepCursor and largeCursor for each server.

// Nested lists and top-level lists are all in a defined order on both sides: the gateway's by
// id ("oldest first": ids are time-ordered), PostGraphile's asked for by primary key, so
// answers are compared in order.

const licenseSeatsGateway = "assignments { id status }";
// The gateway lists seats held or pending (status IN ('active','pending')); PostGraphile's
// condition is an equality, so its form asks for `active`: compare.sh checks that the data
// holds no pending seat, so the same rows answer.
const licenseSeatsPostGraphile =
  'assignments: licenseAssignmentsByLicenseId(condition: {status: "active"}, orderBy: PRIMARY_KEY_ASC) { nodes { id: rowId status } }';

const nestedGateway = (first, after) => `query Nested${after ? "($after: String)" : ""} {
  developers(first: ${first}${after ? ", after: $after" : ""}) {
    edges { node { id name email licenses { id product seatsTotal ${licenseSeatsGateway} } } }
  }
}`;

const nestedPostGraphile = (first, after) => `query Nested${after ? "($after: Cursor)" : ""} {
  developers: allUsers(first: ${first}${after ? ", after: $after" : ""}, condition: {role: "developer"}, orderBy: PRIMARY_KEY_ASC) {
    edges { node { id: rowId name email
      licenses: licensesByDeveloperId(orderBy: PRIMARY_KEY_ASC) { nodes { id: rowId product seatsTotal ${licenseSeatsPostGraphile} } } } }
  }
}`;

export function documents(params) {
  return [
    {
      name: "point",
      title: "point lookup: one license by id",
      gateway: {
        query: `query Point($id: UUID!) {
  license(id: $id) { id product state seatsTotal expiresAt plan { code } }
}`,
        variables: { id: params.pointId },
      },
      postgraphile: {
        query: `query Point($id: UUID!) {
  license: licenseByRowId(rowId: $id) { id: rowId product state seatsTotal expiresAt plan: planByPlanId { code } }
}`,
        variables: { id: params.pointId },
      },
    },
    {
      name: "flat",
      title: "flat list: 50 active licenses by expiry, then id",
      gateway: {
        query: `{
  licenses(first: 50, filter: {state: ACTIVE}, orderBy: {field: EXPIRES_AT, direction: ASC}) {
    edges { node { id product state seatsTotal expiresAt } }
    pageInfo { hasNextPage }
  }
}`,
      },
      // PostgreSQL sorts NULLs last ascending, as the gateway puts licenses that never expire.
      postgraphile: {
        query: `{
  licenses: allLicenses(first: 50, condition: {state: "active"}, orderBy: [EXPIRES_AT_ASC, PRIMARY_KEY_ASC]) {
    edges { node { id: rowId product state seatsTotal expiresAt } }
    pageInfo { hasNextPage }
  }
}`,
      },
    },
    {
      name: "nested",
      title: "nested read: 20 developers, their licenses and seats",
      gateway: { query: nestedGateway(20) },
      postgraphile: { query: nestedPostGraphile(20) },
    },
    {
      name: "wide",
      title: "wide fan-out: 50 developers, licenses, plan, seats and runtime nodes",
      gateway: {
        query: `{
  developers(first: 50) {
    edges { node { id email licenses { id state expiresAt plan { code } ${licenseSeatsGateway} runtimeNodes { id fingerprint } } } }
  }
}`,
      },
      // The gateway lists active runtime nodes: the same condition here.
      postgraphile: {
        query: `{
  developers: allUsers(first: 50, condition: {role: "developer"}, orderBy: PRIMARY_KEY_ASC) {
    edges { node { id: rowId email
      licenses: licensesByDeveloperId(orderBy: PRIMARY_KEY_ASC) { nodes { id: rowId state expiresAt plan: planByPlanId { code }
        ${licenseSeatsPostGraphile}
        runtimeNodes: runtimeNodesByLicenseId(condition: {status: "active"}, orderBy: PRIMARY_KEY_ASC) { nodes { id: rowId fingerprint } } } } } }
  }
}`,
      },
    },
    {
      name: "large",
      title: `large answer: the nested read over the 20 developers with ${params.largeLicenses} licenses each`,
      gateway: { query: nestedGateway(20, true), variables: { after: params.largeCursorGateway } },
      postgraphile: { query: nestedPostGraphile(20, true), variables: { after: params.largeCursorPostGraphile } },
    },
    {
      name: "deep",
      title: "deep page: 20 licenses after the one at half the table, by id",
      // The gateway's CREATED_AT order is by id (time-ordered ids), its cursor the id.
      gateway: {
        query: `query Deep($after: String) {
  licenses(first: 20, after: $after) {
    edges { node { id product state createdAt } }
    pageInfo { hasNextPage }
  }
}`,
        variables: { after: params.deepCursorGateway },
      },
      postgraphile: {
        query: `query Deep($after: Cursor) {
  licenses: allLicenses(first: 20, after: $after, orderBy: PRIMARY_KEY_ASC) {
    edges { node { id: rowId product state createdAt } }
    pageInfo { hasNextPage }
  }
}`,
        variables: { after: params.deepCursorPostGraphile },
      },
    },
    {
      name: "search",
      title: `search: licenses with the rare word "${params.word}"`,
      gateway: {
        query: `query Search($q: String!) {
  licenses(first: 50, filter: {search: $q}) { edges { node { id dba product } } }
}`,
        variables: { q: params.word },
      },
      // No full-text search in PostGraphile's schema without a plugin or an SQL function of
      // one's own: the gateway's answer is checked against SQL instead (params.searchIds).
      postgraphile: null,
      why: "PostGraphile has no full-text search without a plugin or a function of one's own; the gateway's answer is checked against SQL instead",
    },
  ];
}

// Fields whose values the gateway sends as GraphQL enums (upper case) and PostgreSQL stores as
// lower-case text.
const ENUM_FIELDS = new Set(["state", "status", "paymentState", "role", "term"]);
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)$/;

// One instant, whatever its offset and however many fraction digits: UTC, microseconds.
function canonicalTime(text) {
  const m = TIMESTAMP.exec(text);
  if (!m) return text;
  const [, date, time, fraction = "", zone] = m;
  let offsetMinutes = 0;
  if (zone !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || 0));
  }
  const millis = Date.parse(`${date}T${time}Z`) - offsetMinutes * 60_000;
  const micros = (fraction + "000000").slice(0, 6);
  return `${new Date(millis).toISOString().slice(0, 19)}.${micros}Z`;
}

// The answer as both servers should agree on it: `{nodes: [...]}` unwrapped to the list,
// enum values lower case, instants in one form, keys sorted.
export function normalize(value, key) {
  if (Array.isArray(value)) return value.map((item) => normalize(item, key));
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "nodes") return normalize(value.nodes, key);
    const out = {};
    for (const k of keys.sort()) out[k] = normalize(value[k], k);
    return out;
  }
  if (typeof value === "string") {
    if (ENUM_FIELDS.has(key)) return value.toLowerCase();
    return canonicalTime(value);
  }
  return value;
}

// How many rows an answer holds (objects with an id), for the report.
export function countRows(value) {
  if (Array.isArray(value)) return value.reduce((n, item) => n + countRows(item), 0);
  if (value && typeof value === "object") {
    let n = "id" in value ? 1 : 0;
    for (const v of Object.values(value)) n += countRows(v);
    return n;
  }
  return 0;
}
