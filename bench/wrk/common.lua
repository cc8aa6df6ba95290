-- Shared by the scenario scripts: per-thread seeding, uniform and Zipf id generators, and the
-- machine-readable summary line that bench/run.sh parses.
--
-- wrk runs one Lua state per thread plus one for setup/done. Every thread seeds LuaJIT's
-- generator with (scenario seed * 1000 + thread number), so a run replays the same URL
-- sequence per thread. Arguments come after `--` on the wrk command line as key=value
-- (for example n=100000); see each scenario script for the keys it reads.

local M = {}

local threads = {}
local counter = 0

-- wrk's setup(thread), run in the main state: numbers the threads and hands each its number.
function M.setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
  table.insert(threads, thread)
end

-- Parses wrk's trailing arguments ("key=value") into a table.
function M.parse_args(args)
  local out = {}
  for _, a in ipairs(args or {}) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if k then out[k] = v end
  end
  return out
end

-- Seeds this thread's generator; `seed` is the scenario's (WORKLOAD.md: S2 001, S3 003, ...).
function M.seed(seed)
  local n = thread_number or 0 -- luacheck: ignore (a global wrk sets in the thread state)
  math.randomseed(seed * 1000 + n)
  -- LuaJIT's first draws after seeding are correlated with the seed; skip a few.
  for _ = 1, 10 do math.random() end
end

function M.uniform(n)
  return math.random(1, n)
end

-- A Zipf(s) sampler over ranks 1..n: a precomputed CDF and a binary search (O(log n) a draw).
-- Rank k is id k, so the hot ids are the low ones.
function M.zipf(n, s)
  local cdf, sum = {}, 0.0
  for k = 1, n do
    sum = sum + 1.0 / (k ^ s)
    cdf[k] = sum
  end
  for k = 1, n do cdf[k] = cdf[k] / sum end
  cdf[n] = 1.0
  return function()
    local u = math.random()
    local lo, hi = 1, n
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if cdf[mid] < u then lo = mid + 1 else hi = mid end
    end
    return lo
  end
end

-- wrk's done(): one line for bench/run.sh. Latencies are in microseconds in wrk; the line
-- gives milliseconds. wrk counts HTTP status >= 400 in errors.status (the table's "non-2xx";
-- these GETs never get 1xx or 3xx answers).
function M.done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "HPBENCH requests=%d rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
    "non2xx=%d socket_errors=%d bytes=%d\n",
    summary.requests, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout, summary.bytes))
end

return M
