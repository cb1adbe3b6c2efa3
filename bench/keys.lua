-- wrk script: cycles through the seeded keys (BENCH-000001 ...) so requests spread over many
-- rows, and counts answers whose code is not VALID, which a 200 status alone would hide.
-- BENCH_OP selects the operation (validate | checkin); BENCH_KEYS the number of seeded keys.

local queries = {
  validate = 'query($k: String!) { validateLicense(key: $k, fingerprint: \\"bench-node\\", product: \\"core\\") { valid code } }',
  checkin = 'mutation($k: String!) { checkIn(licenseKey: $k, fingerprint: \\"bench-node\\") { valid code nextHeartbeatBefore } }',
}
local query = queries[os.getenv("BENCH_OP") or "validate"]
local keys = tonumber(os.getenv("BENCH_KEYS") or "10000")

local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  -- Threads start at different keys so two threads rarely hit the same row at once.
  counter = id * 7919
  bad = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local key = string.format("BENCH-%06d", counter % keys + 1)
  return wrk.format(nil, "/graphql", nil,
    '{"query":"' .. query .. '","variables":{"k":"' .. key .. '"}}')
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"code":"VALID"', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do bad_total = bad_total + t:get("bad") end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d not_valid=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, errors, bad_total))
end
