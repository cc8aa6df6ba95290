-- The short probe runs bench/run.sh makes after each measured run: the scenario script named
-- by the environment variable HPBENCH_SCRIPT (for example s1z.lua, with its usual wrk args),
-- plus a response() that counts Cache-Status values (common.lua). The summary line then also
-- carries cache_hit, cache_fwd and cache_none. Run with and without
-- -H 'Accept-Encoding: gzip, br', its bytes / requests is the size of a response on the wire.
--
--   HPBENCH_SCRIPT=s1z.lua wrk -t2 -c64 -d3s -s bench/wrk/probe.lua http://127.0.0.1:3000 -- n=100000
--
-- Never use it for throughput: wrk then parses every response's headers in Lua.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local script = os.getenv("HPBENCH_SCRIPT")
if not script or not script:match("^[%w_]+%.lua$") then
  error("probe.lua: set HPBENCH_SCRIPT to a scenario script's name, e.g. s1z.lua")
end
dofile(dir .. script)

response = require("common").count_cache_status
