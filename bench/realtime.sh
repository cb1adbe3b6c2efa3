#!/usr/bin/env bash
# Benchmarks realtime delivery on PostgreSQL: two release gateway processes on one database,
# 1,000 WebSocket subscribers spread over them (a fifth admins subscribed to every license's
# events, the rest developers subscribed to their own license's), and 50 license changes a
# second for two minutes, made through both gateways in turn. Checks that every subscriber
# received every event of its scope, in log order, once; prints delivery latency (p50, p99)
# from each change's `occurredAt` to the client, and each gateway's RSS at the start and the end
# of the run and CPU used. Not a test: it exits 0 once the figures are in, whether or not the
# targets are met, and non-zero only when a delivery check fails.
#
# Knobs (environment): BENCH_SUBSCRIBERS (default 1000), BENCH_RATE (changes/s, default 50),
# BENCH_DURATION (s, default 120), BENCH_DEVELOPERS (default 40), BENCH_ADMIN_SHARE (default
# 0.2), BENCH_QUIET_WAIT (s, default 300), BENCH_POOL (connections per gateway, default 8).
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "$0")/.."

DB="bench_realtime_$(date +%Y%m%d_%H%M%S)_$$"
readonly SECRET=dev-only-license-key-secret-do-not-use-in-production
readonly SUBSCRIBER_COUNT=${BENCH_SUBSCRIBERS:-1000}
readonly CHANGE_RATE=${BENCH_RATE:-50}
readonly RUN_SECONDS=${BENCH_DURATION:-120}
readonly DEVELOPERS=${BENCH_DEVELOPERS:-40}
readonly ADMIN_FRACTION=${BENCH_ADMIN_SHARE:-0.2}
readonly QUIET_WAIT=${BENCH_QUIET_WAIT:-300}
export BENCH_POOL=${BENCH_POOL:-8}
WORK=$(mktemp -d)
OTHER_GW_PIDS=
# shellcheck source=bench/common.sh
source bench/common.sh

gql() { # url token query variables-json
  curl -sS --max-time 30 -H 'Content-Type: application/json' ${2:+-H "Authorization: Bearer $2"} \
    --data "$(jq -cn --arg q "$3" --argjson v "$4" '{query: $q, variables: $v}')" "$1"
}

field() { # path answer
  local value
  value=$(jq -er "$1" <<<"$2") || die "unexpected answer: $2"
  echo "$value"
}

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

trap cleanup EXIT
log "building the gateway (release)"
cargo build --release -p api --bin gateway
log "installing the load client"
(cd bench/realtime && npm ci --no-audit --no-fund --silent)
log "creating database $DB"
sql -d postgres -c "CREATE DATABASE $DB"

# The first gateway migrates, seeds and creates the admin; the second joins the same database.
# The scheduler and mail sender are off so that only the benchmark's changes are published.
SETTINGS=(SCHEDULER_TICK_SECONDS=0 MAIL_POLL_SECONDS=0 AUTH_ATTEMPTS_PER_MINUTE=100000)
GW_LOG=$WORK/gateway-a.log serve_gateway "${SETTINGS[@]}"
URL_A=$URL PID_A=$GW_PID
GW_LOG=$WORK/gateway-b.log serve_gateway "${SETTINGS[@]}"
URL_B=$URL PID_B=$GW_PID
GW_PID=$PID_A OTHER_GW_PIDS=$PID_B

read -r ADMIN_EMAIL ADMIN_PASSWORD < <(sed -n 's/^First start: created admin \(\S*\) with password \(\S*\)$/\1 \2/p' "$WORK/gateway-a.log")
# shellcheck disable=SC2016
ADMIN_TOKEN=$(field .data.login.accessToken "$(gql "$URL_A" '' \
  'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }' \
  "$(jq -cn --arg e "$ADMIN_EMAIL" --arg p "$ADMIN_PASSWORD" '{e: $e, p: $p}')")")

log "signing up $DEVELOPERS developers"
for n in $(seq "$DEVELOPERS"); do
  # shellcheck disable=SC2016
  answer=$(gql "$URL_A" '' 'mutation($i: SignupInput!) { signup(input: $i) { accessToken license { id } } }' \
    "$(jq -cn --arg e "bench$n@example.com" '{i: {email: $e, name: "Bench", password: "bench-password-123", planCode: "pro"}}')")
  jq -c '{token: .data.signup.accessToken, licenseId: .data.signup.license.id}' <<<"$answer"
done | jq -s . >"$WORK/developers.json"
[[ $(jq '[.[] | select(.token and .licenseId)] | length' "$WORK/developers.json") == "$DEVELOPERS" ]] ||
  die "signups failed: $(head -c 500 "$WORK/developers.json")"

log "realtime: $SUBSCRIBER_COUNT subscribers on 2 gateways, $CHANGE_RATE changes/s for ${RUN_SECONDS}s"
IDLE=$(wait_quiet)
T0=$(($(ticks "$PID_A") + $(ticks "$PID_B")))
GATEWAYS="$URL_A,$URL_B" ADMIN_TOKEN=$ADMIN_TOKEN DEVELOPERS_FILE="$WORK/developers.json" \
  SUBSCRIBERS=$SUBSCRIBER_COUNT ADMIN_SHARE=$ADMIN_FRACTION RATE=$CHANGE_RATE DURATION=$RUN_SECONDS \
  GATEWAY_PIDS="$PID_A,$PID_B" PSQL_DB=$DB \
  timeout $((RUN_SECONDS + 300)) node bench/realtime/load.mjs >"$WORK/run.out"
T1=$(($(ticks "$PID_A") + $(ticks "$PID_B")))
IDLE+=/$(idle_pct)
line=$(grep '^RESULT ' "$WORK/run.out") || die "the load client reported nothing: $(tail -20 "$WORK/run.out")"
declare -A R
for pair in ${line#RESULT }; do R[${pair%%=*}]=${pair#*=}; done
CORES=$(awk -v t=$((T1 - T0)) -v hz="$(getconf CLK_TCK)" -v d="${R[seconds]}" 'BEGIN { printf "%.2f", t / hz / (d + 8) }')

cat <<REPORT

Realtime benchmark $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, 2 gateways (pool $BENCH_POOL each) on one
PostgreSQL, ${R[subscribers]} subscribers ($ADMIN_FRACTION admins), $DEVELOPERS developers, $CHANGE_RATE changes/s for ${R[seconds]} s,
commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')

| changes | failed | logged | deliveries expected | delivered | complete subscribers | missing | unexpected | out of order | ended early |
|--------:|-------:|-------:|--------------------:|----------:|---------------------:|--------:|-----------:|-------------:|------------:|
| ${R[changes]} | ${R[changes_failed]} | ${R[logged]} | ${R[expected]} | ${R[delivered]} | ${R[complete_subscribers]} | ${R[missing]} | ${R[unexpected]} | ${R[out_of_order]} | ${R[ended_early]} |

Delivery latency, ms: from the event's occurredAt (its transaction's start: an upper bound on commit
to client), and from the moment the change's own answer arrived (after its commit: a lower bound,
negative when the event came first); the change itself, as its maker saw it.

| from occurredAt p50 | p99 | max | from answer p50 | p99 | change p50 | p99 |
|--------------------:|----:|----:|----------------:|----:|-----------:|----:|
| ${R[p50_ms]} | ${R[p99_ms]} | ${R[max_ms]} | ${R[after_answer_p50_ms]} | ${R[after_answer_p99_ms]} | ${R[mutation_p50_ms]} | ${R[mutation_p99_ms]} |

| RSS start MB (A/B) | RSS end MB | growth MB | gateway cores (both) | idle % before/after |
|-------------------:|-----------:|----------:|---------------------:|--------------------:|
| ${R[rss_start_mb]} | ${R[rss_end_mb]} | ${R[rss_growth_mb]} | $CORES | $IDLE |
REPORT
[[ ${R[missing]} == 0 && ${R[unexpected]} == 0 && ${R[out_of_order]} == 0 ]] ||
  die "deliveries: missing ${R[missing]}, unexpected ${R[unexpected]}, out of order ${R[out_of_order]}"
[[ ${R[complete_subscribers]} == "${R[subscribers]}" ]] || die "only ${R[complete_subscribers]} subscribers complete"
