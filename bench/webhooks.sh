#!/usr/bin/env bash
# Benchmarks payment webhooks on PostgreSQL: wrk posts pre-signed `invoice.payment_succeeded`
# events (about one in ten a repeat of an earlier one) for 16 developers' subscriptions to a
# release gateway. Each new event is stored once with its effects (an invoice, a transaction,
# the license's expiry moved), each repeat answered `duplicate` with none. Prints events/s and
# latency, then checks there was no loss and no double effect: stored events and transactions
# both equal the events answered `processed`. Not a test: it exits 0 once the figures are in,
# whether or not the target is met, and non-zero only when a check fails.
#
# Knobs (environment): BENCH_DURATION (s, default 20), BENCH_CONNECTIONS (default 16),
# BENCH_DEVELOPERS (default 16), BENCH_QUIET_WAIT (s, default 300), BENCH_PORT.
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "$0")/.."

DB="bench_webhooks_$(date +%Y%m%d_%H%M%S)_$$"
readonly SECRET=dev-only-license-key-secret-do-not-use-in-production
readonly WEBHOOK_SECRET=whsec_bench_0123456789
readonly CONNS=${BENCH_CONNECTIONS:-16}
readonly DURATION=${BENCH_DURATION:-20}
readonly QUIET_WAIT=${BENCH_QUIET_WAIT:-300}
readonly DEVELOPERS=${BENCH_DEVELOPERS:-16}
readonly TARGET_EVENTS=1000
WORK=$(mktemp -d)
# shellcheck source=bench/common.sh
source bench/common.sh

gql() { # token query variables-json
  curl -sS --max-time 30 -H 'Content-Type: application/json' ${1:+-H "Authorization: Bearer $1"} \
    --data "$(jq -cn --arg q "$2" --argjson v "$3" '{query: $q, variables: $v}')" "$URL"
}

field() { # path answer
  local value
  value=$(jq -er "$1" <<<"$2") || die "unexpected answer: $2"
  echo "$value"
}

# Signs and writes events: one "signature<TAB>body" line each. Arguments: what to make
# (subscriptions FILE-OF-LICENSE-IDS | invoices COUNT), the output file.
sign_events() {
  python3 - "$WEBHOOK_SECRET" "$@" <<'PY'
import hashlib, hmac, json, random, sys, time
secret, kind, source, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
now = int(time.time())
def line(event):
    body = json.dumps(event, separators=(",", ":"))
    mac = hmac.new(secret.encode(), f"{now}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={now},v1={mac}\t{body}\n"
with open(out, "w") as f:
    if kind == "subscriptions":
        for n, license_id in enumerate(open(source).read().split()):
            f.write(line({"id": f"evt_sub_{n}", "type": "customer.subscription.created", "created": now - 3600,
                "data": {"object": {"id": f"sub_{n}", "customer": f"cus_{n}", "status": "active",
                    "current_period_start": now - 3600, "current_period_end": now + 86400,
                    "metadata": {"license_id": license_id}}}}))
    else:
        subscriptions = int(open(source).read().split()[0])
        sent = []
        for n in range(int(sys.argv[5])):
            if sent and random.random() < 0.1:
                f.write(random.choice(sent))
                continue
            created = now + n
            made = line({"id": f"evt_inv_{n}", "type": "invoice.payment_succeeded", "created": created,
                "data": {"object": {"id": f"in_{n}", "subscription": f"sub_{n % subscriptions}",
                    "currency": "usd", "total": 4900, "amount_paid": 4900, "charge": f"ch_{n}",
                    "period_start": created, "period_end": created + 30 * 86400}}})
            sent.append(made)
            f.write(made)
PY
}

trap cleanup EXIT
log "building the gateway (release)"
cargo build --release -p api --bin gateway
log "creating database $DB"
sql -d postgres -c "CREATE DATABASE $DB"
# Sixteen signups from one address would be refused by the account doors' limit.
serve_gateway STRIPE_WEBHOOK_SECRETS=$WEBHOOK_SECRET SCHEDULER_TICK_SECONDS=0 MAIL_POLL_SECONDS=0 \
  AUTH_ATTEMPTS_PER_MINUTE=1000
LOAD_TOOL=wrk TOOL=$(load_tool)
WEBHOOK_URL=${URL%/graphql}/webhooks/stripe

log "signing up $DEVELOPERS developers and subscribing their licenses"
: >"$WORK/licenses"
for n in $(seq "$DEVELOPERS"); do
  # shellcheck disable=SC2016
  answer=$(gql '' 'mutation($i: SignupInput!) { signup(input: $i) { license { id } } }' \
    "$(jq -cn --arg e "bench$n@example.com" '{i: {email: $e, name: "Bench", password: "bench-password-123", planCode: "pro"}}')")
  field .data.signup.license.id "$answer" >>"$WORK/licenses"
done
sign_events subscriptions "$WORK/licenses" "$WORK/subscriptions"
while IFS=$'\t' read -r signature body; do
  outcome=$(curl -sS --max-time 30 -H "Stripe-Signature: $signature" --data "$body" "$WEBHOOK_URL" | jq -r .outcome)
  [[ $outcome == processed ]] || die "a subscription event was answered $outcome"
done <"$WORK/subscriptions"

# Enough signed events for the run at well over the target rate; they are signed now, so the
# run must start within the gateway's 300 s tolerance.
echo "$DEVELOPERS" >"$WORK/count"
sign_events invoices "$WORK/count" "$WORK/events" $((DURATION * 6000))
log "webhooks: ${DURATION}s, $CONNS connections"
IDLE=$(wait_quiet)
BEFORE=$(sql -d "$DB" -At -c "SELECT count(*) FROM webhook_events")
T0=$(gateway_ticks)
BENCH_EVENTS="$WORK/events" BENCH_THREADS=2 timeout $((DURATION + 30)) \
  wrk -t 2 -c "$CONNS" -d "${DURATION}s" -s bench/webhooks.lua "$WEBHOOK_URL" >"$WORK/run.out"
T1=$(gateway_ticks)
IDLE+=/$(idle_pct)
RESULT=$(awk '/^RESULT / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
  print v["rps"], v["p50_ms"], v["p99_ms"], v["requests"], v["errors"], v["processed"], v["duplicate"], v["failed"], v["other"], v["exhausted"] }' "$WORK/run.out")
[[ -n $RESULT ]] || die "wrk reported nothing (see $WORK/run.out)"
read -r RPS P50 P99 REQUESTS ERRORS PROCESSED DUPLICATE FAILED OTHER EXHAUSTED <<<"$RESULT"
CORES=$(awk -v t=$((T1 - T0)) -v hz="$(getconf CLK_TCK)" -v d="$DURATION" 'BEGIN { printf "%.2f", t / hz / d }')
read -r STORED PAID < <(sql -d "$DB" -At -F ' ' -c \
  "SELECT (SELECT count(*) FROM webhook_events) - $BEFORE,
          (SELECT count(*) FROM transactions WHERE status = 'succeeded')")

verdict() { awk "BEGIN { exit !($1) }" && echo met || echo "NOT met"; }
cat <<REPORT

Webhook benchmark $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $CONNS connections, ${DURATION}s,
$DEVELOPERS subscriptions, about 10% repeats, gateway pool ${BENCH_POOL:-4}, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')

| events/s | p50 ms | p99 ms | requests | processed | duplicate | failed | other | errors | idle % before/after | gateway cores |
|---------:|-------:|-------:|---------:|----------:|----------:|-------:|------:|-------:|--------------------:|--------------:|
| $RPS | $P50 | $P99 | $REQUESTS | $PROCESSED | $DUPLICATE | $FAILED | $OTHER | $ERRORS | $IDLE | $CORES |

Stored events: $STORED, succeeded transactions: $PAID (must be equal); answered processed: $PROCESSED
(wrk stops counting with up to $CONNS requests in flight, which the gateway still completes).
Requests past the signed events (sent again, so duplicates): $EXHAUSTED.
Target: at least $TARGET_EVENTS events/s: $(verdict "$RPS >= $TARGET_EVENTS").
REPORT
[[ $STORED == "$PAID" ]] || die "double or missing effect: stored $STORED events, $PAID transactions"
((PROCESSED <= STORED && STORED <= PROCESSED + CONNS)) || die "loss: stored $STORED, answered processed $PROCESSED"
[[ $FAILED == 0 && $OTHER == 0 && $ERRORS == 0 ]] || die "failed $FAILED, other $OTHER, errors $ERRORS"
