#!/usr/bin/env bash
# Listing latency at scale: for each scale, a fresh PostgreSQL database is loaded with
# `gateway seed --scale N` (N developers, 10 licenses each) and a release gateway answers each
# listing document (orders, pages at half depth, filters, searches, counts) from one client on
# loopback: 3 warm-up requests, then LISTINGS_RUNS timed ones; p50 and p90 in milliseconds.
# Every answer is checked for errors. Prints one markdown table with a column per scale.
#
# Knobs (environment): LISTINGS_SCALES (default "1000 100000": 10,000 and 1,000,000 licenses),
# LISTINGS_RUNS (default 30), BENCH_QUIET_WAIT (s, default 120).
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "$0")/.."

readonly SECRET=dev-only-license-key-secret-do-not-use-in-production
readonly RUNS=${LISTINGS_RUNS:-30}
readonly QUIET_WAIT=${BENCH_QUIET_WAIT:-120}
read -ra SCALES <<<"${LISTINGS_SCALES:-1000 100000}"
WORK=$(mktemp -d)
DB=
# shellcheck source=bench/common.sh
source bench/common.sh
trap cleanup EXIT

log "building the gateway (release)"
cargo build --release -p api --bin gateway

# A cursor as the gateway writes it: URL-safe base64 without padding of "<key>|<id>".
cursor() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }

# One SQL value from $DB.
value() { sql -d "$DB" -At -c "$1"; }

# The time of a row as the cursor holds it (RFC 3339, microseconds, UTC).
readonly RFC3339="'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'"

post() { # token body
  curl -s -o "$WORK/answer.json" -w '%{time_total}\n' -H 'content-type: application/json' \
    -H "authorization: Bearer $1" --data "$2" "$URL"
}

# p50 and p90 of RUNS timed requests, after checking the answer has no errors.
measure() { # token query
  local body i
  body=$(jq -cn --arg q "$2" '{query: $q}')
  for i in 1 2 3; do post "$1" "$body" >/dev/null; done
  if jq -e '.errors' "$WORK/answer.json" >/dev/null; then
    cat "$WORK/answer.json" >&2
    die "the document answered errors: $2"
  fi
  for ((i = 0; i < RUNS; i++)); do post "$1" "$body"; done |
    sort -n | awk '{ t[NR] = $1 * 1000 } END { printf "%.1f / %.1f", t[int(NR * 0.5 + 0.5)], t[int(NR * 0.9 + 0.5)] }'
}

login() { # email password
  curl -s -H 'content-type: application/json' --data "$(jq -cn --arg e "$1" --arg p "$2" \
    '{query: "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }", variables: {e: $e, p: $p}}')" \
    "$URL" | jq -er '.data.login.accessToken'
}

declare -A RESULT
NAMES=()

record() { # name token query
  local name=$1
  [[ " ${NAMES[*]} " == *" $name "* ]] || NAMES+=("$name")
  RESULT["$name|$SCALE"]=$(measure "$2" "$3")
  log "$SCALE: $name: ${RESULT["$name|$SCALE"]}"
}

for SCALE in "${SCALES[@]}"; do
  DB="bench_listings_$(date +%Y%m%d_%H%M%S)_$$"
  log "scale $SCALE: creating $DB"
  sql -d postgres -c "CREATE DATABASE $DB"
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable" LICENSE_KEY_SECRET=$SECRET \
    "$GATEWAY" seed --scale "$SCALE" >&2
  sql -d "$DB" -c "VACUUM ANALYZE" >/dev/null
  serve_gateway
  admin=$(sed -n 's/.*created admin \([^ ]*\) with password \([^ ]*\).*/\1 \2/p' "$GW_LOG")
  # shellcheck disable=SC2086 # two words: email and password
  ADMIN=$(login $admin)
  DEV_EMAIL=$(value "SELECT email FROM users WHERE role = 'developer' AND email LIKE 'scale-%' ORDER BY id OFFSET ($SCALE / 2) LIMIT 1")
  DEV=$(login "$DEV_EMAIL" "scale password 1")
  total=$(value "SELECT count(*) FROM licenses")
  half=$((total / 2))
  by_created=$(cursor "c$(value "SELECT to_char(created_at AT TIME ZONE 'UTC', $RFC3339) || '|' || id FROM licenses ORDER BY created_at, id OFFSET $half LIMIT 1")")
  by_expiry=$(cursor "e$(value "SELECT to_char(expires_at AT TIME ZONE 'UTC', $RFC3339) || '|' || id FROM licenses WHERE expires_at IS NOT NULL ORDER BY expires_at, id OFFSET $half LIMIT 1")")
  by_use=$(cursor "u$(value "SELECT seats_used || '/' || seats_total || '|' || id FROM licenses ORDER BY (CASE WHEN seats_total > 0 THEN seats_used * 1.0 / seats_total ELSE 0 END) DESC, id DESC OFFSET $half LIMIT 1")")
  key_group=$(value "SELECT key_prefix FROM licenses ORDER BY id OFFSET $half LIMIT 1")
  recent=$(value "SELECT to_char(created_at AT TIME ZONE 'UTC', $RFC3339) FROM licenses ORDER BY created_at DESC OFFSET 100 LIMIT 1")
  wait_quiet >/dev/null
  edges='edges { node { id keyPrefix state expiresAt } } pageInfo { endCursor hasNextPage }'
  record "first page, by creation" "$ADMIN" "{ licenses(first: 20) { $edges } }"
  record "page at half, by creation" "$ADMIN" "{ licenses(first: 20, after: \"$by_created\") { $edges } }"
  record "expiry ascending, first page" "$ADMIN" "{ licenses(first: 20, orderBy: { field: EXPIRES_AT }) { $edges } }"
  record "expiry ascending, page at half" "$ADMIN" "{ licenses(first: 20, after: \"$by_expiry\", orderBy: { field: EXPIRES_AT }) { $edges } }"
  record "expiry descending, first page" "$ADMIN" "{ licenses(first: 20, orderBy: { field: EXPIRES_AT, direction: DESC }) { $edges } }"
  record "utilization descending, first page" "$ADMIN" "{ licenses(first: 20, orderBy: { field: UTILIZATION, direction: DESC }) { $edges } }"
  record "utilization descending, page at half" "$ADMIN" "{ licenses(first: 20, after: \"$by_use\", orderBy: { field: UTILIZATION, direction: DESC }) { $edges } }"
  record "state SUSPENDED" "$ADMIN" "{ licenses(first: 20, filter: { state: SUSPENDED }) { $edges } }"
  record "state SUSPENDED by expiry" "$ADMIN" "{ licenses(first: 20, filter: { state: SUSPENDED }, orderBy: { field: EXPIRES_AT }) { $edges } }"
  record "term YEARLY" "$ADMIN" "{ licenses(first: 20, filter: { term: YEARLY }) { $edges } }"
  record "created in the last 100" "$ADMIN" "{ licenses(first: 20, filter: { createdAfter: \"$recent\" }) { $edges } }"
  record "search, a rare word" "$ADMIN" "{ licenses(first: 20, filter: { search: \"w7919\" }) { $edges } }"
  # The rare word names one license in 10,000 and 20 in 1,000,000: asking for its first match
  # only answers one license at both scales, so the two compare the search and not the answer.
  record "search, a rare word, first match" "$ADMIN" "{ licenses(first: 1, filter: { search: \"w7919\" }) { $edges } }"
  record "search, a rare word, by relevance" "$ADMIN" "{ licenses(first: 20, filter: { search: \"w7919\" }, orderBy: { field: RELEVANCE, direction: DESC }) { $edges } }"
  record "search, a common word" "$ADMIN" "{ licenses(first: 20, filter: { search: \"bakery\" }) { $edges } }"
  record "search, a key's first group" "$ADMIN" "{ licenses(first: 20, filter: { search: \"$key_group\" }) { $edges } }"
  record "one developer's own, by utilization" "$DEV" "{ licenses(first: 20, orderBy: { field: UTILIZATION, direction: DESC }) { $edges } }"
  record "developers, first page" "$ADMIN" "{ developers(first: 20) { edges { node { id email } } } }"
  record "developers, email contains" "$ADMIN" "{ developers(first: 20, filter: { emailContains: \"scale-0004\" }) { edges { node { id email } } } }"
  record "audit events, type prefix" "$ADMIN" "{ auditEvents(first: 20, filter: { typePrefix: \"license.\" }) { edges { node { id type } } } }"
  record "totalCount of all licenses" "$ADMIN" "{ licenses(first: 1) { totalCount totalCountIsEstimate } }"
  record "totalCount, state SUSPENDED" "$ADMIN" "{ licenses(first: 1, filter: { state: SUSPENDED }) { totalCount totalCountIsEstimate } }"
  stop_gateway
  sql -d postgres -c "DROP DATABASE $DB WITH (FORCE)" >/dev/null
done

header="| document (first: 20) |"
rule="|---|"
for SCALE in "${SCALES[@]}"; do
  header+=" $((SCALE * 10)) licenses p50 / p90 ms |"
  rule+="---:|"
done
echo "$header"
echo "$rule"
for name in "${NAMES[@]}"; do
  row="| $name |"
  for SCALE in "${SCALES[@]}"; do row+=" ${RESULT["$name|$SCALE"]:-} |"; done
  echo "$row"
done
