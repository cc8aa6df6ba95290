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

function request()
  return wrk.format("GET", "/users?id=eq." .. bench.uniform(n) .. "&select=id,username,email")
end
