-- S1z: point lookup with Zipf(1.1) ids (the cache-hit path).
--   GET /users?id=eq.{zipf 1..n}&select=id,username,email
-- wrk args: n=<users> (default 100000)
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local bench = require("common")

local next_id

setup = bench.setup
done = bench.done

function init(args)
  local n = tonumber(bench.parse_args(args).n) or 100000
  bench.seed(11)
  next_id = bench.zipf(n, 1.1)
end

function request()
  return wrk.format("GET", "/users?id=eq." .. next_id() .. "&select=id,username,email")
end
