// hotpath through the real client, @supabase/postgrest-js: writes. Tests run in order and
// share one server and database (fresh from tests/spec/fixture.sql for this file).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PostgrestClient } from '@supabase/postgrest-js';
import { startServer } from './server.mjs';

let server;
let db;

before(async () => {
  server = await startServer();
  db = new PostgrestClient(server.url, { fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(10000) }) });
});

after(async () => {
  const code = await server?.stop();
  assert.equal(code, 0, 'server should exit 0 on SIGTERM');
});

function ok(res, status) {
  assert.equal(res.error, null, 'unexpected error: ' + JSON.stringify(res.error));
  assert.equal(res.status, status);
  return res.data;
}

async function row(table, id, columns = '*') {
  const res = await db.from(table).select(columns).eq('id', id);
  assert.equal(res.error, null);
  return res.data[0] ?? null;
}

test('insert an object without returning it', async () => {
  const res = await db.from('users').insert({ id: 10, name: 'Zed', email: 'zed@example.com' });
  assert.equal(ok(res, 201), null);
  assert.deepEqual(await row('users', 10, 'id,name,email'), { id: 10, name: 'Zed', email: 'zed@example.com' });
});

test('insert an object and select it', async () => {
  const data = ok(await db.from('users').insert({ id: 11, name: 'Rep', active: true, meta: { k: [1] } }).select(), 201);
  assert.deepEqual(data, [{ id: 11, name: 'Rep', email: null, active: true, score: null, meta: { k: [1] }, created_at: null }]);
});

test('insert an array (columns= with quoted names) and select some columns', async () => {
  const data = ok(await db.from('users').insert([{ id: 12, name: 'A' }, { id: 13, name: 'B', email: 'b13@example.com' }]).select('id,email'), 201);
  assert.deepEqual(data, [{ id: 12, email: null }, { id: 13, email: 'b13@example.com' }]);
});

test('insert one row as single()', async () => {
  const data = ok(await db.from('items').insert({ id: 10, name: 'ten', parent_id: 1 }).select('id,name').single(), 201);
  assert.deepEqual(data, { id: 10, name: 'ten' });
});

test('insert with defaultToNull false uses column defaults', async () => {
  const data = ok(await db.from('orders').insert([{ id: 20, user_id: 1, total: 3 }, { id: 21, user_id: 2, total: 4, status: 'paid' }], { defaultToNull: false }).select('id,status'), 201);
  assert.deepEqual(data, [{ id: 20, status: 'new' }, { id: 21, status: 'paid' }]);
});

test('insert with count exact', async () => {
  const res = await db.from('items').insert([{ id: 11, name: 'a' }, { id: 12, name: 'b' }], { count: 'exact' });
  assert.equal(res.error, null);
  assert.equal(res.status, 201);
  assert.equal(res.count, 2);
});

function assertError(res, status, code) {
  assert.equal(res.status, status);
  assert.ok(res.error, 'expected an error');
  assert.equal(res.error.code, code);
  for (const k of ['code', 'details', 'hint', 'message']) assert.ok(k in res.error, `error has no ${k}`);
}

test('insert errors: unique, foreign key, not null, unknown column', async () => {
  assertError(await db.from('users').insert({ id: 30, name: 'Dup', email: 'ann@example.com' }), 409, '23505');
  assertError(await db.from('orders').insert({ id: 30, user_id: 999, status: 'x' }), 409, '23503');
  assertError(await db.from('users').insert({ id: 31 }), 400, '23502');
  assertError(await db.from('users').insert({ id: 32, name: 'X', nope: 1 }), 400, 'PGRST204');
  assert.equal(await row('users', 30), null);
  assert.equal(await row('users', 32), null);
});

test('update without returning', async () => {
  const res = await db.from('users').update({ name: 'Robert' }).eq('id', 2);
  assert.equal(ok(res, 204), null);
  assert.equal((await row('users', 2, 'name')).name, 'Robert');
});

test('update and select', async () => {
  const data = ok(await db.from('orders').update({ status: 'open' }).eq('status', 'pending').select('id,status'), 200);
  assert.deepEqual(data, [{ id: 2, status: 'open' }, { id: 6, status: 'open' }]);
});

test('update with count exact', async () => {
  const res = await db.from('items').update({ name: 'kid' }, { count: 'exact' }).eq('parent_id', 1);
  assert.equal(res.error, null);
  assert.equal(res.count, 3);
});

test('update of several rows with single() is 406 and rolled back', async () => {
  const res = await db.from('orders').update({ status: 'x' }).eq('user_id', 1).select().single();
  assertError(res, 406, 'PGRST116');
  const after = await db.from('orders').select('id,status').eq('user_id', 1).order('id');
  assert.deepEqual(after.data, [{ id: 1, status: 'paid' }, { id: 2, status: 'open' }, { id: 5, status: 'paid' }, { id: 20, status: 'new' }]);
});

test('upsert merges on the primary key', async () => {
  const data = ok(await db.from('users').upsert([{ id: 1, name: 'Ann2' }, { id: 40, name: 'New' }]).select('id,name,email'), 201);
  assert.deepEqual(data, [{ id: 1, name: 'Ann2', email: 'ann@example.com' }, { id: 40, name: 'New', email: null }]);
});

test('upsert on a unique column with onConflict', async () => {
  // Only an update: PostgREST answers 200 when a merge inserts no row.
  const data = ok(await db.from('users').upsert({ email: 'eve@example.org', name: 'Evelyn' }, { onConflict: 'email' }).select('id,name'), 200);
  assert.deepEqual(data, [{ id: 5, name: 'Evelyn' }]);
});

test('upsert ignoring duplicates', async () => {
  const data = ok(await db.from('users').upsert([{ id: 3, name: 'Nope' }, { id: 41, name: 'New2' }], { ignoreDuplicates: true }).select('id,name'), 201);
  assert.deepEqual(data, [{ id: 41, name: 'New2' }]);
  assert.equal((await row('users', 3, 'name')).name, 'Cid');
});

test('delete without returning', async () => {
  const res = await db.from('orders').delete().eq('id', 6);
  assert.equal(ok(res, 204), null);
  assert.equal(await row('orders', 6), null);
});

test('delete and select', async () => {
  const data = ok(await db.from('order_lines').delete().eq('order_id', 1).select('product_id'), 200);
  assert.deepEqual(data, [{ product_id: 1 }, { product_id: 2 }]);
});

test('delete with count exact', async () => {
  const res = await db.from('items').delete({ count: 'exact' }).in('id', [11, 12]);
  assert.equal(res.error, null);
  assert.equal(res.status, 204);
  assert.equal(res.count, 2);
});

test('delete of a referenced row is a 409 error', async () => {
  assertError(await db.from('users').delete().eq('id', 2), 409, '23503');
  assert.notEqual(await row('users', 2), null);
});
