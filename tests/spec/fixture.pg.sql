-- The spec fixture for PostgreSQL: the tables, rows, keys, defaults and constraints of
-- fixture.sql (read it for what each table is for), in PostgreSQL's types, chosen so that every
-- value reads back as the same JSON as from SQLite:
--   INTEGER PRIMARY KEY   serial: SQLite assigns max(id) + 1 to a row inserted without an id,
--                         so each sequence is moved past the fixture's ids at the end
--   INTEGER               integer (bigint for notes.n, which holds 2^53 + 1)
--   REAL                  double precision: 9.5, 7.25, 30 and 99.99 print the same as SQLite's
--   BOOLEAN               boolean (1/0 become true/false)
--   JSON                  json, not jsonb: the text is kept as written (key order, spacing)
--   TEXT                  text, timestamps included (stored as the same ISO text)
-- Foreign keys get PostgreSQL's default names, which are the names the SQLite loader gives
-- them (messages_sender_id_fkey...). The spec runner (run.py, with HP_SPEC_PG) loads this with
-- psql -v ON_ERROR_STOP=1 into a fresh database created with the C collation, so text sorts
-- bytewise as in SQLite. Plain SQL only (no psql commands): it can also be sent as one
-- simple query. Changing a row here means changing it in fixture.sql too.

CREATE TABLE users (
    id serial PRIMARY KEY,
    name text NOT NULL,
    email text UNIQUE,
    active boolean,
    score double precision,
    meta json,
    created_at text
);
INSERT INTO users (id, name, email, active, score, meta, created_at) VALUES
    (1, 'Ann', 'ann@example.com', true, 9.5, '{"tags":["a","b"],"level":3}', '2024-01-01T10:00:00Z'),
    (2, 'Bob', 'bob@example.com', false, 7.25, '{"tags":[],"level":1}', '2024-01-02T11:00:00Z'),
    (3, 'Cid', NULL, true, NULL, NULL, '2024-01-03T12:00:00Z'),
    (4, 'Dee', 'dee@example.org', NULL, 5, '[1,2,3]', '2024-01-04T13:00:00Z'),
    (5, 'Eve', 'eve@example.org', false, 8, '"plain"', '2024-01-05T14:00:00Z');

CREATE TABLE orders (
    id serial PRIMARY KEY,
    user_id integer REFERENCES users(id),
    status text NOT NULL DEFAULT 'new',
    total double precision,
    created_at text DEFAULT '2024-01-01'
);
INSERT INTO orders (id, user_id, status, total, created_at) VALUES
    (1, 1, 'paid', 30.0, '2024-02-01'),
    (2, 1, 'pending', 12.5, '2024-02-02'),
    (3, 2, 'paid', 99.99, '2024-02-03'),
    (4, 3, 'cancelled', 5.0, '2024-02-04'),
    (5, 1, 'paid', 7.0, '2024-02-05'),
    (6, NULL, 'pending', 1.0, '2024-02-06');

CREATE TABLE products (
    id serial PRIMARY KEY,
    name text NOT NULL,
    price double precision,
    sku text
);
INSERT INTO products (id, name, price, sku) VALUES
    (1, 'Widget', 2.5, 'W-1'),
    (2, 'Gadget', 10, 'G-2'),
    (3, 'Gizmo', NULL, NULL);

-- The primary key is the foreign key (one-to-one): no sequence, as a product_details row
-- always names its product.
CREATE TABLE product_details (
    product_id integer PRIMARY KEY REFERENCES products(id),
    description text,
    weight double precision
);
INSERT INTO product_details (product_id, description, weight) VALUES
    (1, 'A small widget', 0.1),
    (2, 'A handy gadget', 1.5);

CREATE TABLE order_lines (
    order_id integer NOT NULL REFERENCES orders(id),
    product_id integer NOT NULL REFERENCES products(id),
    qty integer NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
INSERT INTO order_lines (order_id, product_id, qty) VALUES
    (1, 1, 2),
    (1, 2, 1),
    (2, 3, 5),
    (3, 2, 10),
    (5, 1, 1);

CREATE TABLE items (
    id serial PRIMARY KEY,
    name text NOT NULL,
    parent_id integer REFERENCES items(id)
);
INSERT INTO items (id, name, parent_id) VALUES
    (1, 'root', NULL),
    (2, 'child a', 1),
    (3, 'child b', 1),
    (4, 'grandchild', 2);

CREATE TABLE messages (
    id serial PRIMARY KEY,
    sender_id integer NOT NULL REFERENCES users(id),
    receiver_id integer NOT NULL REFERENCES users(id),
    body text
);
INSERT INTO messages (id, sender_id, receiver_id, body) VALUES
    (1, 1, 2, 'hi bob'),
    (2, 2, 1, 'hi ann'),
    (3, 1, 3, 'hey cid');

CREATE VIEW active_users AS SELECT id, name, email FROM users WHERE active;

-- PostgreSQL cannot store invalid UTF-8, so note 6 holds what SQLite's bytes 41 FF 42 C3 read
-- back as: each invalid byte replaced by U+FFFD.
CREATE TABLE notes (
    id serial PRIMARY KEY,
    title text,
    body text,
    "display name" text,
    n bigint
);
INSERT INTO notes (id, title, body, "display name", n) VALUES
    (1, 'plain', 'hello', 'Plain Note', 1),
    (2, 'a,b', 'comma, inside', 'Comma', 2),
    (3, 'quote', 'he said "hi" and it''s a \ backslash', 'Quote', 3),
    (4, 'unicode', 'héllo wörld ✓ 日本 😀', 'Unicode', 4),
    (5, 'control', E'tab\tnl\ncr\rbell\x07soh\x01del\x7f', 'Control', 5),
    (6, 'invalid utf8', E'A\uFFFDB\uFFFD', 'Bad', 6),
    (7, 'big', NULL, NULL, 9007199254740993),
    (8, 'empty', '', NULL, NULL);

-- A row inserted without an id gets max(id) + 1, as in SQLite.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'orders', 'products', 'items', 'messages', 'notes'] LOOP
        EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, ''id''), max(id)) FROM %I', t, t);
    END LOOP;
END
$$;

-- PostgreSQL only (pg-types.case): types SQLite does not have, rendered as PostgREST renders
-- them (to_json): numeric as a number with its scale, timestamps in ISO 8601 with the offset,
-- dates, arrays as arrays, jsonb inline, uuid as a string.
CREATE TABLE pg_types (
    id integer PRIMARY KEY,
    amount numeric(10, 2),
    at timestamptz,
    day date,
    ints integer[],
    tags text[],
    doc jsonb,
    flag boolean,
    uid uuid
);
INSERT INTO pg_types VALUES
    (1, 12.50, '2024-01-01 10:00:00+00', '2024-01-01', '{1,2,3}', '{a,"b c"}',
     '{"k": [1, true, null]}', true, '8d3c2f52-2d6e-4b8e-9c67-0e5f3a8f2b11'),
    (2, NULL, NULL, NULL, '{}', NULL, 'null', false, NULL);
