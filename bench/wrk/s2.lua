-- S2: a list with a join (seed 001).
--   GET /products?category_id=eq.{1..200}&select=id,name,price,product_details(description)
--       &order=id&limit=50
-- Categories are 1..200 at every scale. No wrk args.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local bench = require("common")

setup = bench.setup
done = bench.done

function init(args)
  bench.seed(1)
end

function request()
  return wrk.format("GET", "/products?category_id=eq." .. bench.uniform(200) ..
    "&select=id,name,price,product_details(description)&order=id&limit=50")
end
