#!/usr/bin/env bash
# Benchmarks the license-validation hot path on PostgreSQL: the gateway under HTTP load
# (validateLicense as configured by default, validateLicense with one statement per validation,
# and checkIn) and, as a yardstick, pgbench running validateLicense's own SQL statement for one
# key against the same database. Not a test: it always exits 0 once the figures are in, whether
# or not the targets are met.
#
# Knobs (environment): BENCH_DURATION (s, default 20), BENCH_WARMUP (s, default 5),
# BENCH_PORT (default 0: the gateway picks a free one), LOAD_TOOL (auto | wrk | oha),
# BENCH_QUIET_WAIT (s, default 300: how long each phase may wait for the machine to go idle).
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) must stop the run too

cd "$(dirname "$0")/.."

DB="bench_$(date +%Y%m%d_%H%M%S)_$$"
readonly SECRET=dev-only-license-key-secret-do-not-use-in-production
readonly KEYS=10000 # validate.pgbench draws from the same range
readonly CONNS=32
readonly DURATION=${BENCH_DURATION:-20}
readonly WARMUP=${BENCH_WARMUP:-5}
readonly QUIET_WAIT=${BENCH_QUIET_WAIT:-300}
readonly TARGET_RPS=5000 TARGET_P99_MS=20 TARGET_RATIO=0.5
WORK=$(mktemp -d)
# shellcheck source=bench/common.sh
source bench/common.sh

# Request bodies for seeded keys first..last, one per line.
graphql_bodies() { # operation first last
  local query
  # shellcheck disable=SC2016 # $k is a GraphQL variable
  case $1 in
    validate) query='query($k: String!) { validateLicense(key: $k, fingerprint: "bench-node", product: "core") { valid code } }' ;;
    checkin) query='mutation($k: String!) { checkIn(licenseKey: $k, fingerprint: "bench-node") { valid code nextHeartbeatBefore } }' ;;
  esac
  jq -cn --arg q "$query" --argjson a "$2" --argjson b "$3" \
    'range($a; $b + 1) | {query: $q, variables: {k: ("BENCH-" + ("00000" + tostring)[-6:])}}'
}

expect_valid() { # operation field
  local answer
  answer=$(curl -sS --max-time 10 -H 'Content-Type: application/json' \
    --data "$(graphql_bodies "$1" 1 1)" "$URL") || die "$1: request failed"
  [[ $(jq -r ".data.$2.code" <<<"$answer") == VALID ]] || die "$1 did not answer VALID: $answer"
}

# Prints "rps p50_ms p99_ms requests failures" for one operation at $CONNS connections.
load() { # operation seconds
  local op=$1 secs=$2
  if [[ $TOOL == wrk ]]; then
    BENCH_OP=$op BENCH_KEYS=$KEYS timeout $((secs + 30)) \
      wrk -t 2 -c "$CONNS" -d "${secs}s" -s bench/keys.lua "$URL" >"$WORK/$op.out"
    # Transport errors and non-VALID answers alike count as failures.
    awk '/^RESULT / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                      print v["rps"], v["p50_ms"], v["p99_ms"], v["requests"], v["errors"] + v["not_valid"] }' "$WORK/$op.out"
  else
    graphql_bodies "$op" 1 "$KEYS" >"$WORK/$op.bodies" # oha picks a line at random per request
    timeout $((secs + 30)) oha --no-tui --output-format json -z "${secs}s" -c "$CONNS" -m POST \
      -H 'Content-Type: application/json' -Z "$WORK/$op.bodies" "$URL" >"$WORK/$op.out"
    # Requests cut off by the end of the run are not failures.
    jq -r '[.summary.requestsPerSec, .latencyPercentiles.p50 * 1000, .latencyPercentiles.p99 * 1000,
            ([.statusCodeDistribution[]] | add // 0),
            (([.statusCodeDistribution | to_entries[] | select(.key != "200") | .value] | add // 0)
             + ([.errorDistribution // {} | to_entries[] | select(.key != "aborted due to deadline") | .value] | add // 0))]
           | map(. * 100 | round / 100) | @tsv' "$WORK/$op.out" | tr '\t' ' '
  fi
}

# Prints "rps p50_ms p99_ms requests failures idle%before/after gateway_cores statements/request"
# for one phase.
phase() { # operation
  local idle t0 t1 x0 x1 result requests
  idle=$(wait_quiet)
  load "$1" "$WARMUP" >/dev/null
  sleep 2 # PostgreSQL publishes a backend's counts once it has been idle a second
  x0=$(db_transactions)
  t0=$(gateway_ticks)
  result=$(load "$1" "$DURATION")
  [[ -n $result ]] || die "$1: the load tool reported nothing (see $WORK/$1.out)"
  t1=$(gateway_ticks)
  idle+=/$(idle_pct)
  sleep 1
  x1=$(db_transactions)
  read -r _ _ _ requests _ <<<"$result"
  echo "$result $idle $(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v d="$DURATION" 'BEGIN { printf "%.2f", t / hz / d }')" \
    "$(awk -v x=$((x1 - x0)) -v r="$requests" 'BEGIN { printf "%.3f", (r > 0 ? x / r : 0) }')"
}

start_gateway
TOOL=$(load_tool)
log "load tool: $TOOL"

log "seeding $KEYS licenses"
sql -d "$DB" -v keys=$KEYS -v secret=$SECRET -f bench/seed.sql
expect_valid validate validateLicense
expect_valid checkin checkIn

log "validateLicense: ${WARMUP}s warm-up, ${DURATION}s measured"
RESULT=$(phase validate)
read -r V_RPS V_P50 V_P99 V_REQ V_FAIL V_IDLE V_CPU V_SQL <<<"$RESULT"

log "pgbench: the same statement, ${WARMUP}s warm-up, ${DURATION}s measured"
run_pgbench() { pgbench "${PG[@]}" -n -M prepared -c "$CONNS" -j 2 -f bench/validate.pgbench "$@" "$DB"; }
PG_IDLE=$(wait_quiet)
run_pgbench -T "$WARMUP" >/dev/null 2>&1
run_pgbench -T "$DURATION" >"$WORK/pgbench.out" 2>&1 || { cat "$WORK/pgbench.out" >&2; die "pgbench failed"; }
PG_IDLE+=/$(idle_pct)
PG_TPS=$(sed -n 's/^tps = \([0-9]*\.[0-9]\).* (without initial connection time)$/\1/p' "$WORK/pgbench.out")
PG_LAT=$(sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p' "$WORK/pgbench.out")
[[ -n $PG_TPS ]] || { cat "$WORK/pgbench.out" >&2; die "no tps in pgbench's output"; }

log "validateLicense with one statement per validation, as many at once as the pool has connections"
stop_gateway
serve_gateway VALIDATION_BATCH_MAX=1 VALIDATION_LANES="${BENCH_POOL:-4}"
expect_valid validate validateLicense
RESULT=$(phase validate)
read -r U_RPS U_P50 U_P99 U_REQ U_FAIL U_IDLE U_CPU U_SQL <<<"$RESULT"

# checkIn rewrites node rows, so it runs last: validateLicense and pgbench see the same tables.
log "checkIn: ${WARMUP}s warm-up, ${DURATION}s measured"
RESULT=$(phase checkin)
read -r C_RPS C_P50 C_P99 C_REQ C_FAIL C_IDLE C_CPU C_SQL <<<"$RESULT"

RATIO=$(awk -v a="$V_RPS" -v b="$PG_TPS" 'BEGIN { printf "%.2f", a / b }')
U_RATIO=$(awk -v a="$U_RPS" -v b="$PG_TPS" 'BEGIN { printf "%.2f", a / b }')
verdict() { awk "BEGIN { exit !($1) }" && echo met || echo "NOT met"; }
keys_note=$([[ $TOOL == wrk ]] && echo "cycling $KEYS keys, every answer checked VALID" ||
  echo "random keys of $KEYS, status codes checked")

row() { printf '| %-26s | %10s | %6s | %6s | %8s | %8s | %19s | %13s | %14s |\n' "$@"; }
cat <<EOF

Benchmark $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $CONNS connections, ${DURATION}s each,
load tool $TOOL ($keys_note), gateway pool ${BENCH_POOL:-4}, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')

| operation                  | requests/s | p50 ms | p99 ms | requests | failures | idle % before/after | gateway cores | DB tx/request |
|----------------------------|-----------:|-------:|-------:|---------:|---------:|--------------------:|--------------:|--------------:|
$(row validateLicense "$V_RPS" "$V_P50" "$V_P99" "$V_REQ" "$V_FAIL" "$V_IDLE" "$V_CPU" "$V_SQL")
$(row "validateLicense, unbatched" "$U_RPS" "$U_P50" "$U_P99" "$U_REQ" "$U_FAIL" "$U_IDLE" "$U_CPU" "$U_SQL")
$(row checkIn "$C_RPS" "$C_P50" "$C_P99" "$C_REQ" "$C_FAIL" "$C_IDLE" "$C_CPU" "$C_SQL")
$(row "pgbench, same SQL, 1 key" "$PG_TPS" - - - - "$PG_IDLE" - 1)

idle %: the machine's idle CPU just before and just after each phase (below 90 means the
figures were taken on a busy machine). DB tx/request: transactions the database finished per
request (validations waiting together share one statement; unbatched: VALIDATION_BATCH_MAX=1 with
one lane per pooled connection).
pgbench latency average: $PG_LAT ms.
validateLicense / pgbench ratio: $RATIO (unbatched: $U_RATIO)

| target                              | result  |
|-------------------------------------|---------|
$(printf '| %-35s | %-7s |' "validateLicense > $TARGET_RPS req/s" "$(verdict "$V_RPS > $TARGET_RPS")")
$(printf '| %-35s | %-7s |' "validateLicense p99 < $TARGET_P99_MS ms" "$(verdict "$V_P99 < $TARGET_P99_MS")")
$(printf '| %-35s | %-7s |' "validateLicense >= $TARGET_RATIO x pgbench" "$(verdict "$RATIO >= $TARGET_RATIO")")
EOF
