-- S3: the IoT dashboard (seed 003): the latest 100 readings of a device, devices Zipf(1.1).
--   GET /readings?device_id=eq.{zipf 1..n}&select=temperature,ts&order=ts.desc&limit=100
-- wrk args: n=<devices> (default 10000)
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local bench = require("common")

local next_id

setup = bench.setup
done = bench.done

function init(args)
  local n = tonumber(bench.parse_args(args).n) or 10000
  bench.seed(3)
  next_id = bench.zipf(n, 1.1)
end

function request()
  return wrk.format("GET", "/readings?device_id=eq." .. next_id() ..
    "&select=temperature,ts&order=ts.desc&limit=100")
end
