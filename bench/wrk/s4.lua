-- S4: a user's completed orders, newest first (seed 004), users Zipf(1.1).
--   GET /orders?user_id=eq.{zipf 1..n}&status=eq.completed&order=created_at.desc&limit=20
-- wrk args: n=<users> (default 100000)
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local bench = require("common")

local next_id

setup = bench.setup
done = bench.done

function init(args)
  local n = tonumber(bench.parse_args(args).n) or 100000
  bench.seed(4)
  next_id = bench.zipf(n, 1.1)
end

function request()
  return wrk.format("GET", "/orders?user_id=eq." .. next_id() ..
    "&status=eq.completed&order=created_at.desc&limit=20")
end
