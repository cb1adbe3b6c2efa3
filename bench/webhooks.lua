-- wrk script: posts pre-signed payment webhooks from BENCH_EVENTS ("signature<TAB>body" per
-- line, made by bench/webhooks.sh), each line once across all threads while lines last (about
-- one line in ten is a repeat of an earlier event). Counts what the gateway answered.

local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  lines = {}
  for line in io.lines(os.getenv("BENCH_EVENTS")) do
    local signature, body = line:match("^([^\t]+)\t(.+)$")
    if signature then table.insert(lines, { signature = signature, body = body }) end
  end
  stride = tonumber(os.getenv("BENCH_THREADS") or "2")
  counter = 0
  processed, duplicate, failed, other, exhausted = 0, 0, 0, 0, 0
end

function request()
  local index = counter * stride + id + 1
  counter = counter + 1
  if index > #lines then
    exhausted = exhausted + 1
    index = #lines
  end
  local event = lines[index]
  return wrk.format("POST", "/webhooks/stripe",
    { ["Content-Type"] = "application/json", ["Stripe-Signature"] = event.signature }, event.body)
end

function response(status, headers, body)
  if status == 200 and string.find(body, '"outcome":"processed"', 1, true) then
    processed = processed + 1
  elseif status == 200 and string.find(body, '"outcome":"duplicate"', 1, true) then
    duplicate = duplicate + 1
  elseif status == 200 and string.find(body, '"outcome":"failed"', 1, true) then
    failed = failed + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local totals = { processed = 0, duplicate = 0, failed = 0, other = 0, exhausted = 0 }
  for _, t in ipairs(threads) do
    for key, _ in pairs(totals) do totals[key] = totals[key] + t:get(key) end
  end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d processed=%d duplicate=%d failed=%d other=%d exhausted=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, errors, totals.processed, totals.duplicate,
    totals.failed, totals.other, totals.exhausted))
end
