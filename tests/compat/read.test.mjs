// hotpath through the real client, @supabase/postgrest-js: reads. The fixture is
// tests/spec/fixture.sql (users 1 Ann, 2 Bob, 3 Cid, 4 Dee, 5 Eve; six orders; ...).
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

const ids = (rows) => rows.map((r) => r.id);

function ok(res, status = 200) {
  assert.equal(res.error, null, 'unexpected error: ' + JSON.stringify(res.error));
  assert.equal(res.status, status);
  return res.data;
}

test('select columns', async () => {
  const data = ok(await db.from('users').select('id,name').eq('id', 1));
  assert.deepEqual(data, [{ id: 1, name: 'Ann' }]);
});

test('select with spaces, alias and cast', async () => {
  const data = ok(await db.from('users').select('uid:id, score::text').eq('id', 2));
  assert.deepEqual(data, [{ uid: 2, score: '7.25' }]);
});

test('select star renders every type', async () => {
  const data = ok(await db.from('users').select().eq('id', 1));
  assert.deepEqual(data, [{
    id: 1, name: 'Ann', email: 'ann@example.com', active: true, score: 9.5,
    meta: { tags: ['a', 'b'], level: 3 }, created_at: '2024-01-01T10:00:00Z',
  }]);
});

test('select a column whose name has a space', async () => {
  const data = ok(await db.from('notes').select('id,"display name"').eq('id', 2));
  assert.deepEqual(data, [{ id: 2, 'display name': 'Comma' }]);
});

test('eq and neq', async () => {
  assert.deepEqual(ids(ok(await db.from('users').select('id').eq('name', 'Bob'))), [2]);
  assert.deepEqual(ids(ok(await db.from('users').select('id').neq('email', 'ann@example.com').order('id'))), [2, 4, 5]);
});

test('gt gte lt lte', async () => {
  assert.deepEqual(ids(ok(await db.from('users').select('id').gt('score', 7.5).order('id'))), [1, 5]);
  assert.deepEqual(ids(ok(await db.from('users').select('id').gte('score', 8).order('id'))), [1, 5]);
  assert.deepEqual(ids(ok(await db.from('users').select('id').lt('score', 8).order('id'))), [2, 4]);
  assert.deepEqual(ids(ok(await db.from('users').select('id').lte('score', 7.25).order('id'))), [2, 4]);
});

test('in, with a value containing a comma', async () => {
  assert.deepEqual(ids(ok(await db.from('users').select('id').in('id', [1, 3, 5]).order('id'))), [1, 3, 5]);
  assert.deepEqual(ids(ok(await db.from('notes').select('id').in('title', ['a,b', 'plain']).order('id'))), [1, 2]);
});

test('or', async () => {
  assert.deepEqual(ids(ok(await db.from('users').select('id').or('id.eq.1,name.eq.Bob').order('id'))), [1, 2]);
  assert.deepEqual(ids(ok(await db.from('users').select('id').or('id.eq.1,and(active.is.false,score.gt.7.5)').order('id'))), [1, 5]);
});

test('like and ilike', async () => {
  assert.deepEqual(ids(ok(await db.from('users').select('id').like('name', 'A%'))), [1]);
  assert.deepEqual(ids(ok(await db.from('users').select('id').like('name', 'a%'))), []);
  assert.deepEqual(ids(ok(await db.from('users').select('id').ilike('name', '%E%').order('id'))), [4, 5]);
});

test('is null, is true, not is null', async () => {
  assert.deepEqual(ids(ok(await db.from('users').select('id').is('email', null))), [3]);
  assert.deepEqual(ids(ok(await db.from('users').select('id').is('active', true).order('id'))), [1, 3]);
  assert.deepEqual(ids(ok(await db.from('users').select('id').not('email', 'is', null).order('id'))), [1, 2, 4, 5]);
});

test('filter and match', async () => {
  assert.deepEqual(ids(ok(await db.from('users').select('id').filter('id', 'in', '(2,4)').order('id'))), [2, 4]);
  assert.deepEqual(ids(ok(await db.from('users').select('id').match({ name: 'Ann', id: 1 }))), [1]);
});

test('order with nulls', async () => {
  assert.deepEqual(ids(ok(await db.from('users').select('id').order('score', { ascending: false }))), [3, 1, 5, 2, 4]);
  assert.deepEqual(ids(ok(await db.from('users').select('id').order('score'))), [4, 2, 5, 1, 3]);
  assert.deepEqual(ids(ok(await db.from('users').select('id').order('score', { ascending: true, nullsFirst: true }))), [3, 4, 2, 5, 1]);
  assert.deepEqual(ids(ok(await db.from('users').select('id').order('active', { ascending: false }).order('id'))), [4, 1, 3, 2, 5]);
});

test('limit and range', async () => {
  assert.deepEqual(ids(ok(await db.from('users').select('id').order('id').limit(2))), [1, 2]);
  assert.deepEqual(ids(ok(await db.from('users').select('id').order('id').range(1, 2))), [2, 3]);
});

test('count exact', async () => {
  const all = await db.from('users').select('id', { count: 'exact' }).order('id');
  assert.equal(all.status, 200);
  assert.equal(all.count, 5);
  const part = await db.from('users').select('id', { count: 'exact' }).order('id').range(0, 1);
  assert.equal(part.error, null);
  assert.equal(part.status, 206);
  assert.equal(part.count, 5);
  assert.deepEqual(ids(part.data), [1, 2]);
  const filtered = await db.from('orders').select('id', { count: 'exact' }).eq('user_id', 1);
  assert.equal(filtered.count, 3);
});

test('count exact with head', async () => {
  const res = await db.from('orders').select('*', { count: 'exact', head: true });
  assert.equal(res.error, null);
  assert.equal(res.status, 200);
  assert.equal(res.count, 6);
  assert.equal(res.data, null);
});

test('range past the end with a count is a 416 error', async () => {
  const res = await db.from('users').select('id', { count: 'exact' }).range(10, 12);
  assert.equal(res.status, 416);
  assert.equal(res.error?.code, 'PGRST103');
});

test('single', async () => {
  const data = ok(await db.from('users').select('id,name').eq('id', 1).single());
  assert.deepEqual(data, { id: 1, name: 'Ann' });
});

test('single with no row is PGRST116', async () => {
  const res = await db.from('users').select('id').eq('id', 999).single();
  assert.equal(res.status, 406);
  assert.equal(res.data, null);
  assert.equal(res.error?.code, 'PGRST116');
});

test('single with several rows is PGRST116', async () => {
  const res = await db.from('users').select('id').single();
  assert.equal(res.status, 406);
  assert.equal(res.error?.code, 'PGRST116');
});

test('maybeSingle', async () => {
  assert.deepEqual(ok(await db.from('users').select('id').eq('id', 2).maybeSingle()), { id: 2 });
  const none = await db.from('users').select('id').eq('id', 999).maybeSingle();
  assert.equal(none.error, null);
  assert.equal(none.data, null);
});

test('csv', async () => {
  const res = await db.from('users').select('id,name').order('id').limit(3).csv();
  assert.equal(res.error, null);
  assert.equal(res.status, 200);
  assert.equal(res.data.replace(/\n$/, ''), 'id,name\n1,Ann\n2,Bob\n3,Cid');
});

test('embed one-to-many', async () => {
  const data = ok(await db.from('users').select('id, orders(id, status)').in('id', [2, 4]).order('id'));
  assert.deepEqual(data, [{ id: 2, orders: [{ id: 3, status: 'paid' }] }, { id: 4, orders: [] }]);
});

test('embed many-to-one and one-to-one', async () => {
  assert.deepEqual(ok(await db.from('orders').select('id, users(name)').in('id', [3, 6]).order('id')),
    [{ id: 3, users: { name: 'Bob' } }, { id: 6, users: null }]);
  assert.deepEqual(ok(await db.from('products').select('id, product_details(weight)').order('id')),
    [{ id: 1, product_details: { weight: 0.1 } }, { id: 2, product_details: { weight: 1.5 } }, { id: 3, product_details: null }]);
});

test('embed nested, ordered and limited through referencedTable', async () => {
  const data = ok(await db.from('users')
    .select('name, orders(id, order_lines(qty))')
    .eq('id', 1)
    .order('id', { referencedTable: 'orders', ascending: false })
    .limit(2, { referencedTable: 'orders' }));
  assert.deepEqual(data, [{ name: 'Ann', orders: [{ id: 5, order_lines: [{ qty: 1 }] }, { id: 2, order_lines: [{ qty: 5 }] }] }]);
});

test('embed with inner join and an embedded filter', async () => {
  const data = ok(await db.from('users').select('id, orders!inner(id)').eq('orders.status', 'cancelled'));
  assert.deepEqual(data, [{ id: 3, orders: [{ id: 4 }] }]);
});

test('embed with hints', async () => {
  const data = ok(await db.from('messages')
    .select('id, sender:users!sender_id(name), receiver:users!messages_receiver_id_fkey(name)')
    .eq('id', 1));
  assert.deepEqual(data, [{ id: 1, sender: { name: 'Ann' }, receiver: { name: 'Bob' } }]);
});

function assertError(res, status, code) {
  assert.equal(res.status, status);
  assert.equal(res.data, null);
  assert.ok(res.error, 'expected an error');
  assert.equal(res.error.code, code);
  for (const k of ['code', 'details', 'hint', 'message']) assert.ok(k in res.error, `error has no ${k}`);
  assert.equal(typeof res.error.message, 'string');
}

test('error: unknown table', async () => {
  assertError(await db.from('nope').select(), 404, 'PGRST205');
});

test('error: unknown column', async () => {
  assertError(await db.from('users').select('nope'), 400, '42703');
});

test('error: ambiguous embed', async () => {
  assertError(await db.from('messages').select('id, users(name)'), 300, 'PGRST201');
});

test('error: no relationship', async () => {
  assertError(await db.from('users').select('id, products(name)'), 400, 'PGRST200');
});

test('error: bad operator through filter()', async () => {
  assertError(await db.from('users').select('id').filter('id', 'nope', '1'), 400, 'PGRST100');
});

test('throwOnError throws a PostgrestError', async () => {
  await assert.rejects(async () => { await db.from('nope').select().throwOnError(); }, (e) => e.code === 'PGRST205');
});
