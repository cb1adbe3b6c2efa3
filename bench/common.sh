# Shared by the benchmark scripts: logging, the throw-away database and gateway, the load tool,
# and waiting for a quiet machine. Expects DB, WORK, QUIET_WAIT and SECRET to be set, and the
# repository root as the working directory.

readonly PG=(-h 127.0.0.1 -p 5432 -U postgres)
# Loopback needs no encryption; the gateway and pgbench alike connect without TLS.
export PGSSLMODE=disable
GATEWAY=${CARGO_TARGET_DIR:-target}/release/gateway
GW_PID=

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
sql() { psql "${PG[@]}" -X -q -v ON_ERROR_STOP=1 "$@"; }

cleanup() {
  local pid
  for pid in $GW_PID ${OTHER_GW_PIDS:-}; do
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  sql -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
  rm -rf "$WORK"
}

# Percent of the machine's CPU time left idle over one second.
idle_pct() {
  local -a a b
  local i total=0
  read -ra a </proc/stat; sleep 1; read -ra b </proc/stat
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  echo $((100 * (b[4] + b[5] - a[4] - a[5]) / (total > 0 ? total : 1)))
}

# On 2 cores a build running beside the benchmark halves every figure, so each phase waits
# (bounded) for the machine to go quiet first, and reads how idle it is again right after: a
# low figure after means something else started during the phase.
wait_quiet() {
  local idle=0
  for _ in $(seq "$QUIET_WAIT"); do idle=$(idle_pct); ((idle >= 90)) && break; done
  ((idle >= 90)) || log "warning: machine only ${idle}% idle before this phase; figures will be low"
  echo "$idle"
}

# wrk comes first: it installs in seconds, is light on a 2-core machine and, through keys.lua,
# checks every answer is VALID. oha is the fallback: it spreads over the same keys but can only
# check status codes.
load_tool() {
  local want=${LOAD_TOOL:-auto}
  for tool in wrk oha; do
    [[ $want == auto || $want == "$tool" ]] && command -v "$tool" >/dev/null && { echo "$tool"; return; }
  done
  if [[ $want != oha ]] && command -v apt-get >/dev/null; then
    log "installing wrk"
    { apt-get update && apt-get install -y wrk; } >"$WORK/install.log" 2>&1 && { echo wrk; return; }
  fi
  if [[ $want != wrk ]]; then
    log "installing oha (cargo install, a few minutes)"
    cargo install oha --locked >"$WORK/install.log" 2>&1 && { echo oha; return; }
  fi
  tail -20 "$WORK/install.log" >&2
  die "no load tool: neither wrk nor oha could be installed"
}

# Builds the release gateway, creates $DB and serves it on loopback (it migrates and seeds
# plans); sets GW_PID and URL. The gateway is stopped and $DB dropped on exit.
start_gateway() {
  trap cleanup EXIT
  log "building the gateway (release)"
  cargo build --release -p api --bin gateway
  log "creating database $DB"
  sql -d postgres -c "CREATE DATABASE $DB"
  log "starting the gateway (migrates and seeds plans)"
  serve_gateway
}

# Starts the built gateway on $DB with the benchmark's settings, plus any NAME=value given;
# its output goes to $GW_LOG ($WORK/gateway.log unless set).
serve_gateway() { # [NAME=value ...]
  GW_LOG=${GW_LOG:-$WORK/gateway.log}
  env APP_ENV=development HOST=127.0.0.1 PORT=${BENCH_PORT:-0} RUST_LOG=warn \
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable" DATABASE_MAX_CONNECTIONS=${BENCH_POOL:-4} \
    AUTO_MIGRATE=true LICENSE_KEY_SECRET=$SECRET "$@" \
    "$GATEWAY" serve >"$GW_LOG" 2>&1 &
  GW_PID=$!
  for _ in $(seq 240); do
    grep -q '^listening on' "$GW_LOG" && break
    kill -0 "$GW_PID" 2>/dev/null || { cat "$GW_LOG" >&2; die "the gateway exited"; }
    sleep 0.5
  done
  local address
  address=$(sed -n 's|^listening on http://\([0-9.]*:[0-9]*\).*|\1|p' "$GW_LOG")
  [[ $address == 127.0.0.1:* ]] || { cat "$GW_LOG" >&2; die "no loopback address to send traffic to"; }
  URL="http://$address/graphql"
}

# Stops the gateway started by serve_gateway, leaving $DB in place.
stop_gateway() {
  kill -TERM "$GW_PID"
  for _ in $(seq 50); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$GW_PID" 2>/dev/null || true
  GW_PID=
}

# Statements $DB has finished so far (each of the gateway's validations is a transaction of its own).
db_transactions() {
  sql -d postgres -At -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$DB'"
}

# The gateway's CPU time so far, in clock ticks.
gateway_ticks() { awk '{ print $14 + $15 }' "/proc/$GW_PID/stat"; }
