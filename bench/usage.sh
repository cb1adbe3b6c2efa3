#!/usr/bin/env bash
# Benchmarks usage ingestion on PostgreSQL: recordUsage with 100-event batches from wrk, spread
# over 16 developers on the pro plan with one instance each. Every event goes through the
# idempotency index, four roll-ups and the daily API-request quota (set high, so it binds
# without refusing). Prints events/s and latency; not a test, so it exits 0 once the figures
# are in, whether or not the target is met.
#
# Knobs (environment): BENCH_DURATION (s, default 20), BENCH_WARMUP (s, default 5),
# BENCH_BATCH (events per request, default 100), BENCH_DEVELOPERS (default 16),
# BENCH_QUIET_WAIT (s, default 300), BENCH_PORT.
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "$0")/.."

DB="bench_usage_$(date +%Y%m%d_%H%M%S)_$$"
readonly SECRET=dev-only-license-key-secret-do-not-use-in-production
readonly CONNS=32
readonly DURATION=${BENCH_DURATION:-20}
readonly WARMUP=${BENCH_WARMUP:-5}
readonly QUIET_WAIT=${BENCH_QUIET_WAIT:-300}
readonly BATCH=${BENCH_BATCH:-100}
readonly DEVELOPERS=${BENCH_DEVELOPERS:-16}
readonly TARGET_EVENTS=20000
WORK=$(mktemp -d)
# shellcheck source=bench/common.sh
source bench/common.sh

gql() { # token query variables-json
  curl -sS --max-time 30 -H 'Content-Type: application/json' ${1:+-H "Authorization: Bearer $1"} \
    --data "$(jq -cn --arg q "$2" --argjson v "$3" '{query: $q, variables: $v}')" "$URL"
}

# Answers field path $1 of a GraphQL answer, or stops with the answer.
field() { # path answer
  local value
  value=$(jq -er "$1" <<<"$2") || die "unexpected answer: $2"
  echo "$value"
}

start_gateway
LOAD_TOOL=wrk TOOL=$(load_tool)

log "seeding $DEVELOPERS developers with an instance each"
read -r ADMIN_EMAIL ADMIN_PASSWORD < <(sed -n 's/^First start: created admin \(.*\) with password \(.*\)$/\1 \2/p' "$WORK/gateway.log")
[[ -n ${ADMIN_PASSWORD:-} ]] || die "no bootstrap admin in the gateway's output"
# shellcheck disable=SC2016 # GraphQL variables
ADMIN=$(field .data.login.accessToken "$(gql '' 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }' \
  "$(jq -cn --arg e "$ADMIN_EMAIL" --arg p "$ADMIN_PASSWORD" '{e: $e, p: $p}')")")
field .data.createDatabasePool.id "$(gql "$ADMIN" 'mutation { createDatabasePool(host: "bench-db.internal", region: "eu", maxDatabases: 1000) { id } }' '{}')" >/dev/null
: >"$WORK/targets"
for n in $(seq "$DEVELOPERS"); do
  # shellcheck disable=SC2016
  answer=$(gql '' 'mutation($i: SignupInput!) { signup(input: $i) { accessToken developer { id } } }' \
    "$(jq -cn --arg e "bench$n@example.com" '{i: {email: $e, name: "Bench", password: "bench-password-123", planCode: "pro"}}')")
  token=$(field .data.signup.accessToken "$answer")
  developer=$(field .data.signup.developer.id "$answer")
  # shellcheck disable=SC2016
  instance=$(field .data.createInstance.id "$(gql "$token" 'mutation($s: String!) { createInstance(name: "Bench", subdomain: $s, region: "eu") { id } }' \
    "$(jq -cn --arg s "bench-$n" '{s: $s}')")")
  # shellcheck disable=SC2016
  field '.data.setEntitlementOverride | length' "$(gql "$ADMIN" 'mutation($d: UUID!) { setEntitlementOverride(developerId: $d, key: "daily_api_requests", value: 1000000000) { key } }' \
    "$(jq -cn --arg d "$developer" '{d: $d}')")" >/dev/null
  echo "$token $instance" >>"$WORK/targets"
done

load() { # run-tag seconds
  BENCH_TARGETS="$WORK/targets" BENCH_BATCH=$BATCH BENCH_RUN=$1 timeout $(($2 + 30)) \
    wrk -t 2 -c "$CONNS" -d "${2}s" -s bench/usage.lua "$URL" >"$WORK/$1.out"
  awk '/^RESULT / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                    print v["rps"], v["p50_ms"], v["p99_ms"], v["requests"], v["errors"] + v["not_accepted"] }' "$WORK/$1.out"
}

log "recordUsage: ${WARMUP}s warm-up, ${DURATION}s measured, $BATCH events a request"
IDLE=$(wait_quiet)
load warmup "$WARMUP" >/dev/null
T0=$(gateway_ticks)
RESULT=$(load measured "$DURATION")
T1=$(gateway_ticks)
IDLE+=/$(idle_pct)
[[ -n $RESULT ]] || die "wrk reported nothing (see $WORK/measured.out)"
read -r RPS P50 P99 REQUESTS FAILURES <<<"$RESULT"
EVENTS=$(awk -v r="$RPS" -v b="$BATCH" 'BEGIN { printf "%.0f", r * b }')
CORES=$(awk -v t=$((T1 - T0)) -v hz="$(getconf CLK_TCK)" -v d="$DURATION" 'BEGIN { printf "%.2f", t / hz / d }')

# The roll-ups must account for every stored event exactly once (each event is worth 1).
read -r STORED ROLLED < <(sql -d "$DB" -At -F ' ' -c \
  "SELECT (SELECT count(*) FROM usage_events),
          (SELECT coalesce(sum(value), 0) FROM usage_rollups WHERE scope_type = 'developer' AND granularity = 'month')")

verdict() { awk "BEGIN { exit !($1) }" && echo met || echo "NOT met"; }
cat <<REPORT

Usage benchmark $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $CONNS connections, ${DURATION}s,
$BATCH events a request over $DEVELOPERS developers, gateway pool ${BENCH_POOL:-4}, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')

| operation   | requests/s | events/s | p50 ms | p99 ms | requests | failures | idle % before/after | gateway cores |
|-------------|-----------:|---------:|-------:|-------:|---------:|---------:|--------------------:|--------------:|
| recordUsage | $RPS | $EVENTS | $P50 | $P99 | $REQUESTS | $FAILURES | $IDLE | $CORES |

Stored events: $STORED; sum of the developers' monthly roll-ups: $ROLLED (must be equal).
Target: at least $TARGET_EVENTS events/s: $(verdict "$EVENTS >= $TARGET_EVENTS").
REPORT
[[ $STORED == "$ROLLED" ]] || die "roll-ups do not match the stored events"
