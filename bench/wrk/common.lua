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

-- Seeds this thread's generator; `seed` is the scenario's (docs/workload.md: S2 001, S3 003, ...).
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

-- wrk's response(status, headers, body), for the short probe runs only (probe.lua): counts
-- the server's Cache-Status values in globals of the thread's state, which done() sums.
-- "hotpath; hit; ttl=299" is a hit, "hotpath; fwd=miss; stored" (any fwd=) went to the
-- database, and a response without the header counts as "none". Defining response() makes
-- wrk buffer and parse every response's headers, which costs client CPU: the measured runs
-- never load it.
function M.count_cache_status(status, headers, body)
  local v = headers["cache-status"] or headers["Cache-Status"]
  if v == nil then
    cache_none = (cache_none or 0) + 1 -- luacheck: ignore (thread-state globals)
  elseif v:find(";%s*hit") then
    cache_hit = (cache_hit or 0) + 1 -- luacheck: ignore
  elseif v:find(";%s*fwd=") then
    cache_fwd = (cache_fwd or 0) + 1 -- luacheck: ignore
  else
    cache_none = (cache_none or 0) + 1 -- luacheck: ignore
  end
end

-- Sums one counter of count_cache_status over the threads; nil when no thread counted.
local function thread_sum(name)
  local total
  for _, t in ipairs(threads) do
    local v = t:get(name)
    if v then total = (total or 0) + v end
  end
  return total
end

-- wrk's done(): one line for bench/run.sh. Latencies are in microseconds in wrk; the line
-- gives milliseconds. wrk counts HTTP status >= 400 in errors.status (the table's "non-2xx";
-- these GETs never get 1xx or 3xx answers). bytes is everything read, headers included. A
-- probe run (count_cache_status as response()) adds cache_hit, cache_fwd and cache_none.
function M.done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  local counts = ""
  local hit, fwd, none = thread_sum("cache_hit"), thread_sum("cache_fwd"), thread_sum("cache_none")
  if hit or fwd or none then
    counts = string.format(" cache_hit=%d cache_fwd=%d cache_none=%d", hit or 0, fwd or 0, none or 0)
  end
  io.write(string.format(
    "HPBENCH requests=%d rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
    "non2xx=%d socket_errors=%d bytes=%d%s\n",
    summary.requests, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout, summary.bytes, counts))
end

return M
