-- The spec fixture: a small schema and rows that the HTTP cases in tests/spec/cases/ and the
-- postgrest-js tests in tests/compat/ read and write. Each case file (and each compat test file)
-- gets a fresh database built from this script with the sqlite3 CLI, so files are independent.
-- Changing a row here changes expected bodies in the case files: grep for it first.
PRAGMA foreign_keys = ON;

-- 5 users; NULLs in email (unique), active (boolean), score (ordered in cases), meta (JSON).
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT UNIQUE,
    active BOOLEAN,
    score REAL,
    meta JSON,
    created_at TEXT
);
INSERT INTO users (id, name, email, active, score, meta, created_at) VALUES
    (1, 'Ann', 'ann@example.com', 1, 9.5, '{"tags":["a","b"],"level":3}', '2024-01-01T10:00:00Z'),
    (2, 'Bob', 'bob@example.com', 0, 7.25, '{"tags":[],"level":1}', '2024-01-02T11:00:00Z'),
    (3, 'Cid', NULL, 1, NULL, NULL, '2024-01-03T12:00:00Z'),
    (4, 'Dee', 'dee@example.org', NULL, 5, '[1,2,3]', '2024-01-04T13:00:00Z'),
    (5, 'Eve', 'eve@example.org', 0, 8, '"plain"', '2024-01-05T14:00:00Z');

-- Many-to-one to users (order 6 has no user); status has a default.
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER REFERENCES users(id),
    status TEXT NOT NULL DEFAULT 'new',
    total REAL,
    created_at TEXT DEFAULT '2024-01-01'
);
INSERT INTO orders (id, user_id, status, total, created_at) VALUES
    (1, 1, 'paid', 30.0, '2024-02-01'),
    (2, 1, 'pending', 12.5, '2024-02-02'),
    (3, 2, 'paid', 99.99, '2024-02-03'),
    (4, 3, 'cancelled', 5.0, '2024-02-04'),
    (5, 1, 'paid', 7.0, '2024-02-05'),
    (6, NULL, 'pending', 1.0, '2024-02-06');

-- One-to-one: product_details' primary key is its foreign key (product 3 has no details).
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    price REAL,
    sku TEXT
);
INSERT INTO products (id, name, price, sku) VALUES
    (1, 'Widget', 2.5, 'W-1'),
    (2, 'Gadget', 10, 'G-2'),
    (3, 'Gizmo', NULL, NULL);

CREATE TABLE product_details (
    product_id INTEGER PRIMARY KEY REFERENCES products(id),
    description TEXT,
    weight REAL
);
INSERT INTO product_details (product_id, description, weight) VALUES
    (1, 'A small widget', 0.1),
    (2, 'A handy gadget', 1.5);

-- Composite primary key; two foreign keys (orders, products): the second level of nesting.
CREATE TABLE order_lines (
    order_id INTEGER NOT NULL REFERENCES orders(id),
    product_id INTEGER NOT NULL REFERENCES products(id),
    qty INTEGER NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
INSERT INTO order_lines (order_id, product_id, qty) VALUES
    (1, 1, 2),
    (1, 2, 1),
    (2, 3, 5),
    (3, 2, 10),
    (5, 1, 1);

-- Self-reference.
CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    parent_id INTEGER REFERENCES items(id)
);
INSERT INTO items (id, name, parent_id) VALUES
    (1, 'root', NULL),
    (2, 'child a', 1),
    (3, 'child b', 1),
    (4, 'grandchild', 2);

-- Two foreign keys to the same table: embedding users from messages is ambiguous without a hint.
-- SQLite keeps no constraint names, so the server names them messages_sender_id_fkey and
-- messages_receiver_id_fkey (PostgreSQL's default names).
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    sender_id INTEGER NOT NULL REFERENCES users(id),
    receiver_id INTEGER NOT NULL REFERENCES users(id),
    body TEXT
);
INSERT INTO messages (id, sender_id, receiver_id, body) VALUES
    (1, 1, 2, 'hi bob'),
    (2, 2, 1, 'hi ann'),
    (3, 1, 3, 'hey cid');

-- A view (users 1 and 3).
CREATE VIEW active_users AS SELECT id, name, email FROM users WHERE active = 1;

-- Awkward text: commas, quotes, backslashes, unicode, control characters, invalid UTF-8, a
-- large integer past 2^53, an empty string, and a column name that needs quoting.
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    title TEXT,
    body TEXT,
    "display name" TEXT,
    n INTEGER
);
INSERT INTO notes (id, title, body, "display name", n) VALUES
    (1, 'plain', 'hello', 'Plain Note', 1),
    (2, 'a,b', 'comma, inside', 'Comma', 2),
    (3, 'quote', 'he said "hi" and it''s a \ backslash', 'Quote', 3),
    (4, 'unicode', 'héllo wörld ✓ 日本 😀', 'Unicode', 4),
    (5, 'control', 'tab' || char(9) || 'nl' || char(10) || 'cr' || char(13) || 'bell' || char(7) || 'soh' || char(1) || 'del' || char(127), 'Control', 5),
    (6, 'invalid utf8', CAST(X'41FF42C3' AS TEXT), 'Bad', 6),
    (7, 'big', NULL, NULL, 9007199254740993),
    (8, 'empty', '', NULL, NULL);
