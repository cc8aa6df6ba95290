-- bench/pg/s1u.sql: S1u as raw primary-key lookups, for pgbench (bench/pg.sh runs it beside
-- hotpath's S1u, at the same concurrency, against the same cluster and data).
--   pgbench -n -f bench/pg/s1u.sql -D users=100000 -c 64 -j 2 -T 15 -M prepared URI
-- S1u asks hotpath for GET /users?id=eq.{uniform 1..users}&select=id,username,email, so this
-- selects the same three columns of one uniformly drawn row. As `pgbench -S` (its built-in
-- select-only script) does, one statement per transaction; with -M prepared it is parsed and
-- planned once per connection. :users is the users row count at the run's scale (-D).
\set id random(1, :users)
SELECT id, username, email FROM users WHERE id = :id;
