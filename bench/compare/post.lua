-- wrk script for bench/compare.sh: POSTs one GraphQL request body (the file BODY_FILE) over and
-- over, with TOKEN as a bearer token when set. An answer counts as bad unless its status is 200
-- and its length is EXPECT_BYTES: the documents read data nothing changes, so every answer is
-- the one compare.sh checked, byte for byte as long, and an error (which a 200 may carry)
-- would not be.

local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
local body = file:read("*a")
file:close()
local token = os.getenv("TOKEN") or ""
local expect = tonumber(os.getenv("EXPECT_BYTES") or "0")

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  if token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  prepared = wrk.format()
end

function request()
  return prepared
end

function response(status, headers, answer)
  if status ~= 200 or (expect > 0 and #answer ~= expect) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do bad_total = bad_total + t:get("bad") end
  -- Answers with another status are among the bad ones already.
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d bad=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, errors, bad_total))
end
