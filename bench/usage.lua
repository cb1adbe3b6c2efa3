-- wrk script: recordUsage with BENCH_BATCH events per request, spread over the developers and
-- instances listed in BENCH_TARGETS ("token instance-id" per line). Transaction ids are unique
-- per run (BENCH_RUN), thread, request and event, so every event should be accepted; answers
-- that accept fewer count as failures.

local batch = tonumber(os.getenv("BENCH_BATCH") or "100")
local run = os.getenv("BENCH_RUN") or "run"
local query = 'mutation($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted duplicates } }'

local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  targets = {}
  for line in io.lines(os.getenv("BENCH_TARGETS")) do
    local token, instance = line:match("^(%S+)%s+(%S+)$")
    if token then table.insert(targets, { token = token, instance = instance }) end
  end
  counter = 0
  bad = 0
  expected = '"accepted":' .. batch .. ','
end

function request()
  counter = counter + 1
  local target = targets[(counter + id) % #targets + 1]
  local events = {}
  for i = 1, batch do
    events[i] = string.format(
      '{"transactionId":"%s-%d-%d-%d","instanceId":"%s","metric":"api_requests","value":1}',
      run, id, counter, i, target.instance)
  end
  local body = '{"query":"' .. query .. '","variables":{"e":[' .. table.concat(events, ",") .. ']}}'
  return wrk.format("POST", "/graphql",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. target.token }, body)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, expected, 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do bad_total = bad_total + t:get("bad") end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d not_accepted=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, errors, bad_total))
end
