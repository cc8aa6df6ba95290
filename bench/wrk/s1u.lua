-- S1u: point lookup with uniform ids (the cache-miss path).
--   GET /users?id=eq.{uniform 1..n}&select=id,username,email
-- wrk args: n=<users> (default 100000)
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local bench = require("common")

local n = 100000

setup = bench.setup
done = bench.done

-- "Cache-Control: no-cache" makes hotpath go to the database for every request (and refresh
-- its cache entry), so S1u measures the cache-miss path, as docs/workload.md means it to. wrk.format
-- ignores wrk's -H headers when given a table, so they are copied in (the probe's and the
-- ablation's Accept-Encoding).
local headers = {["Cache-Control"] = "no-cache"}

function init(args)
  n = tonumber(bench.parse_args(args).n) or n
  bench.seed(1)
  for name, value in pairs(wrk.headers) do
    if headers[name] == nil then headers[name] = value end
  end
end

function request()
  return wrk.format("GET", "/users?id=eq." .. bench.uniform(n) .. "&select=id,username,email", headers)
end
