// Object ACLs seen from the REST key (no user) vs the master key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, uniqueClass } from '../lib/harness.mjs';
import { seed, find, stripMeta } from '../lib/util.mjs';

let server, r, T, C, hidden, ro, userOnly, holder, prefix;
const ptr = (className, objectId) => ({ __type: 'Pointer', className, objectId });
const NF = { code: 101, error: 'Object not found.' };

before(async () => {
  server = await startServer();
  r = rest(server);
  prefix = new URL(server.serverURL).pathname;
  T = uniqueClass('Acl');
  C = uniqueClass('Hold');
  [hidden, ro, userOnly] = await seed(r, T, [
    { k: 'hidden', ACL: {} },
    { k: 'ro', ACL: { '*': { read: true } } },
    { k: 'user', ACL: { someUserId: { read: true, write: true } } },
  ]);
  [holder] = await seed(r, C, [{
    n: 1, p: ptr(T, hidden), q: ptr(T, ro), ps: [ptr(T, hidden), ptr(T, ro)], ACL: { '*': { read: true, write: true } },
  }]);
});
after(async () => { await server.stop(); });

test('objects without public read are invisible to a non-master find and count', async () => {
  const res = await find(r, T, { order: 'k' });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.results.map(stripMeta), [{ k: 'ro', ACL: { '*': { read: true } } }]);
  const cnt = await find(r, T, { count: '1', limit: '0' });
  assert.deepEqual(cnt.body, { results: [], count: 1 });
  const filtered = await find(r, T, { where: { k: 'hidden' } });
  assert.deepEqual(filtered.body, { results: [] });
});

test('get of an unreadable object: 404 {code:101} (same as missing)', async () => {
  for (const id of [hidden, userOnly]) {
    const res = await r('GET', `/classes/${T}/${id}`);
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, NF);
  }
});

test('master sees everything, ACL {} is returned as {}', async () => {
  const res = await find(r, T, { order: 'k' }, { master: true });
  assert.deepEqual(res.body.results.map(stripMeta), [
    { k: 'hidden', ACL: {} },
    { k: 'ro', ACL: { '*': { read: true } } },
    { k: 'user', ACL: { someUserId: { read: true, write: true } } },
  ]);
  const one = await r('GET', `/classes/${T}/${hidden}`, { master: true });
  assert.equal(one.status, 200);
  assert.deepEqual(stripMeta(one.body), { k: 'hidden', ACL: {} });
  // (a master count with an empty where is a pg_class estimate on the oracle, so pass a where)
  const cnt = await find(r, T, { count: '1', limit: '0', where: { k: { $exists: true } } }, { master: true });
  assert.equal(cnt.body.count, 3);
});

test('include of a pointer to an unreadable object drops it (field removed, array element removed)', async () => {
  const res = await find(r, C, { include: 'p,q,ps' });
  assert.equal(res.status, 200);
  const o = res.body.results[0];
  assert.ok(!('p' in o), 'unreadable include target: the key is gone');
  assert.deepEqual(stripMeta(o.q), { __type: 'Object', className: T, k: 'ro', ACL: { '*': { read: true } } });
  assert.equal(o.ps.length, 1, 'unreadable element dropped from the array');
  assert.equal(o.ps[0].objectId, ro);
  assert.equal(o.ps[0].__type, 'Object');
  // GET one with include behaves the same
  const one = await r('GET', `/classes/${C}/${holder}?include=p`);
  assert.ok(!('p' in one.body));
  // without include the pointer itself is visible
  const plain = await r('GET', `/classes/${C}/${holder}`);
  assert.deepEqual(plain.body.p, ptr(T, hidden));
  // master include expands it
  const m = await find(r, C, { include: 'p' }, { master: true });
  assert.equal(m.body.results[0].p.k, 'hidden');
});

test('batch GET: unreadable sub-request answers {error:{code:101}}', async () => {
  const res = await r('POST', '/batch', {
    body: { requests: [{ method: 'GET', path: `${prefix}/classes/${T}/${hidden}` }, { method: 'GET', path: `${prefix}/classes/${T}/${ro}` }] },
  });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body[0], { error: NF });
  assert.deepEqual(stripMeta(res.body[1].success), { k: 'ro', ACL: { '*': { read: true } } });
});

test('subqueries respect ACLs: $inQuery over an unreadable target matches nothing', async () => {
  const res = await find(r, C, { where: { p: { $inQuery: { className: T, where: {} } } } });
  assert.deepEqual(res.body, { results: [] });
  const m = await find(r, C, { where: { p: { $inQuery: { className: T, where: {} } } } }, { master: true });
  assert.deepEqual(m.body.results.map((o) => o.objectId), [holder]);
});

test('public read but no public write: update and delete refused with 404 {code:101}', async () => {
  const res = await r('PUT', `/classes/${T}/${ro}`, { body: { k: 'changed' } });
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, NF);
  const del = await r('DELETE', `/classes/${T}/${ro}`);
  assert.equal(del.status, 404);
  assert.deepEqual(del.body, NF);
  const batch = await r('POST', '/batch', { body: { requests: [{ method: 'PUT', path: `${prefix}/classes/${T}/${ro}`, body: { k: 'b' } }] } });
  assert.deepEqual(batch.body, [{ error: NF }]);
  assert.equal((await r('GET', `/classes/${T}/${ro}`)).body.k, 'ro', 'unchanged');
});

test('no read and no write: update/delete refused the same way', async () => {
  for (const [m, body] of [['PUT', { k: 'x' }], ['DELETE']]) {
    const res = await r(m, `/classes/${T}/${hidden}`, { body });
    assert.equal(res.status, 404, m);
    assert.deepEqual(res.body, NF, m);
  }
});

test('master may update and delete regardless of ACL', async () => {
  const [x] = await seed(r, T, [{ k: 'zz-master', ACL: {} }]);
  const up = await r('PUT', `/classes/${T}/${x}`, { body: { k: 'zz-master2' }, master: true });
  assert.equal(up.status, 200);
  assert.equal((await r('GET', `/classes/${T}/${x}`, { master: true })).body.k, 'zz-master2');
  const del = await r('DELETE', `/classes/${T}/${x}`, { master: true });
  assert.equal(del.status, 200);
  assert.deepEqual(del.body, {});
});

test('public write without public read: update and delete allowed, get is not', async () => {
  const [w] = await seed(r, T, [{ k: 'zz-writeonly', ACL: { '*': { write: true } } }]);
  const get = await r('GET', `/classes/${T}/${w}`);
  assert.equal(get.status, 404);
  const up = await r('PUT', `/classes/${T}/${w}`, { body: { k: 'zz-w2' } });
  assert.equal(up.status, 200);
  assert.deepEqual(Object.keys(up.body), ['updatedAt']);
  assert.equal((await r('GET', `/classes/${T}/${w}`, { master: true })).body.k, 'zz-w2');
  const del = await r('DELETE', `/classes/${T}/${w}`);
  assert.equal(del.status, 200);
  assert.deepEqual(del.body, {});
});

test('an object created by the REST key without an ACL is public', async () => {
  const res = await r('POST', `/classes/${T}`, { body: { k: 'zz-public' } });
  assert.equal(res.status, 201);
  const got = await r('GET', `/classes/${T}/${res.body.objectId}`);
  assert.equal(got.status, 200);
  assert.ok(!('ACL' in got.body), 'no ACL key when none was set');
  const up = await r('PUT', `/classes/${T}/${res.body.objectId}`, { body: { k: 'zz-public2' } });
  assert.equal(up.status, 200);
});

test('ACL can be changed to hide an object', async () => {
  const [x] = await seed(r, T, [{ k: 'zz-tohide', ACL: { '*': { read: true, write: true } } }]);
  assert.equal((await r('GET', `/classes/${T}/${x}`)).status, 200);
  const up = await r('PUT', `/classes/${T}/${x}`, { body: { ACL: { '*': { write: true } } } });
  assert.equal(up.status, 200);
  const got = await r('GET', `/classes/${T}/${x}`);
  assert.equal(got.status, 404);
  assert.deepEqual(got.body, NF);
});
