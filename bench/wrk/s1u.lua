-- S1u: point lookup with uniform ids (the cache-miss path).
--   GET /users?id=eq.{uniform 1..n}&select=id,username,email
-- wrk args: n=<users> (default 100000)
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local bench = require("common")

local n = 100000

setup = bench.setup
done = bench.done

function init(args)
  n = tonumber(bench.parse_args(args).n) or n
  bench.seed(1)
end

-- "Cache-Control: no-cache" makes hotpath go to the database for every request (and refresh
-- its cache entry), so S1u measures the cache-miss path, as WORKLOAD.md means it to.
local headers = {["Cache-Control"] = "no-cache"}

function request()
  return wrk.format("GET", "/users?id=eq." .. bench.uniform(n) .. "&select=id,username,email", headers)
end
