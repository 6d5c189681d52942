// Basic object CRUD and find options over REST (Parse Server 9 semantics, pinned on the oracle).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, uniqueClass, target } from '../lib/harness.mjs';
import { OBJECT_ID, ISO, seed, find, findIds } from '../lib/util.mjs';

let server, r;
before(async () => { server = await startServer(); r = rest(server); });
after(async () => { await server.stop(); });

test('POST creates: 201, Location header, body {objectId, createdAt}', async () => {
  const C = uniqueClass('Obj');
  const res = await r('POST', `/classes/${C}`, { body: { name: 'a', n: 1 }, master: true });
  assert.equal(res.status, 201);
  assert.deepEqual(Object.keys(res.body).sort(), ['createdAt', 'objectId']);
  assert.match(res.body.objectId, OBJECT_ID);
  assert.match(res.body.createdAt, ISO);
  assert.equal(res.headers.get('location'), `${server.serverURL}/classes/${C}/${res.body.objectId}`);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  const age = Date.now() - Date.parse(res.body.createdAt);
  assert.ok(Math.abs(age) < 60000, 'createdAt is about now');
});

test('GET one returns all fields with createdAt == updatedAt after create', async () => {
  const C = uniqueClass('Obj');
  const [id] = await seed(r, C, [{ name: 'a', n: 1, f: 1.5, b: true }]);
  const res = await r('GET', `/classes/${C}/${id}`);
  assert.equal(res.status, 200);
  const { createdAt, updatedAt, ...rest } = res.body;
  assert.match(createdAt, ISO);
  assert.equal(updatedAt, createdAt);
  assert.deepEqual(rest, { objectId: id, name: 'a', n: 1, f: 1.5, b: true });
});

test('empty POST body creates an object with no fields', async () => {
  const C = uniqueClass('Obj');
  const [id] = await seed(r, C, [{ x: 1 }]);
  const res = await r('POST', `/classes/${C}`, { body: {} });
  assert.equal(res.status, 201);
  const got = await r('GET', `/classes/${C}/${res.body.objectId}`);
  assert.deepEqual(Object.keys(got.body).sort(), ['createdAt', 'objectId', 'updatedAt']);
  assert.notEqual(res.body.objectId, id);
});

test('PUT answers {updatedAt} only, and the change is visible', async () => {
  const C = uniqueClass('Obj');
  const [id] = await seed(r, C, [{ name: 'a', n: 1 }]);
  const before = await r('GET', `/classes/${C}/${id}`);
  await new Promise((res) => setTimeout(res, 5));
  const res = await r('PUT', `/classes/${C}/${id}`, { body: { name: 'b' } });
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.body), ['updatedAt']);
  assert.match(res.body.updatedAt, ISO);
  assert.ok(res.body.updatedAt > before.body.updatedAt);
  const got = await r('GET', `/classes/${C}/${id}`);
  assert.equal(got.body.name, 'b');
  assert.equal(got.body.n, 1);
  assert.equal(got.body.updatedAt, res.body.updatedAt);
  assert.equal(got.body.createdAt, before.body.createdAt);
});

test('DELETE answers {} and the object is gone', async () => {
  const C = uniqueClass('Obj');
  const [id] = await seed(r, C, [{ n: 1 }]);
  const res = await r('DELETE', `/classes/${C}/${id}`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, {});
  const got = await r('GET', `/classes/${C}/${id}`);
  assert.equal(got.status, 404);
  assert.deepEqual(got.body, { code: 101, error: 'Object not found.' });
});

test('GET, PUT, DELETE of a missing object: 404 {code:101}', async () => {
  const C = uniqueClass('Obj');
  await seed(r, C, [{ n: 1 }]);
  for (const [m, body] of [['GET'], ['PUT', { n: 2 }], ['DELETE']]) {
    const res = await r(m, `/classes/${C}/aaaaaaaaaa`, { body });
    assert.equal(res.status, 404, m);
    assert.deepEqual(res.body, { code: 101, error: 'Object not found.' }, m);
  }
  const res = await r('GET', `/classes/${C}/aaaaaaaaaa`, { master: true });
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { code: 101, error: 'Object not found.' });
});

test('first write to a new class without the master key is refused (allowClientClassCreation is off)', async () => {
  const C = uniqueClass('Obj');
  const res = await r('POST', `/classes/${C}`, { body: { n: 1 } });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 119, error: 'Permission denied' });
  const f = await r('GET', `/classes/${C}`);
  assert.equal(f.status, 400);
  assert.deepEqual(f.body, { code: 119, error: 'Permission denied' });
  const fm = await r('GET', `/classes/${C}`, { master: true });
  assert.equal(fm.status, 200);
  assert.deepEqual(fm.body, { results: [] });
  // once the class exists, the REST key may write to it
  await seed(r, C, [{ n: 1 }]);
  const ok = await r('POST', `/classes/${C}`, { body: { n: 2 } });
  assert.equal(ok.status, 201);
});

test('client-supplied objectId / wrongly typed createdAt are refused', async () => {
  const C = uniqueClass('Obj');
  await seed(r, C, [{ n: 1 }]);
  let res = await r('POST', `/classes/${C}`, { body: { objectId: 'abcdefghij', n: 1 } });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 105, error: 'objectId is an invalid field name.' });
  res = await r('POST', `/classes/${C}`, { body: { createdAt: '2020-01-01T00:00:00.000Z' } });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 111, error: `schema mismatch for ${C}.createdAt; expected Date but got String` });
});

test('find returns {results:[...]} with full objects', async () => {
  const C = uniqueClass('Obj');
  const ids = await seed(r, C, [{ n: 1 }, { n: 2 }]);
  const res = await find(r, C, { order: 'n' });
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.body), ['results']);
  assert.equal(res.body.results.length, 2);
  const [a, b] = res.body.results;
  assert.equal(a.objectId, ids[0]);
  assert.equal(b.objectId, ids[1]);
  assert.match(a.createdAt, ISO);
  assert.equal(a.updatedAt, a.createdAt);
  assert.deepEqual({ ...a, createdAt: 0, updatedAt: 0 }, { objectId: ids[0], n: 1, createdAt: 0, updatedAt: 0 });
});

test('count=1 with limit=0 answers {results:[], count}', async () => {
  const C = uniqueClass('Obj');
  await seed(r, C, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  let res = await find(r, C, { count: '1', limit: '0' });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { results: [], count: 3 });
  res = await find(r, C, { count: '1', limit: '0', where: { n: { $gt: 1 } } });
  assert.deepEqual(res.body, { results: [], count: 2 });
  // count alongside results; count ignores limit/skip
  res = await find(r, C, { count: '1', limit: '1', skip: '1', order: 'n' });
  assert.equal(res.body.count, 3);
  assert.deepEqual(res.body.results.map((o) => o.n), [2]);
});

test('count with the master key and no where is exact', { skip: target === 'oracle' && 'the Postgres adapter answers a pg_class row estimate (0 for a fresh table) for a master count without where' }, async () => {
  const C = uniqueClass('Obj');
  await seed(r, C, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  const res = await find(r, C, { count: '1', limit: '0' }, { master: true });
  assert.deepEqual(res.body, { results: [], count: 3 });
});

test('keys selects fields (objectId/createdAt/updatedAt always present)', async () => {
  const C = uniqueClass('Obj');
  const [id] = await seed(r, C, [{ a: 1, b: 2, c: 3 }]);
  let res = await find(r, C, { keys: 'a,c' });
  const o = res.body.results[0];
  assert.deepEqual(Object.keys(o).sort(), ['a', 'c', 'createdAt', 'objectId', 'updatedAt']);
  assert.equal(o.objectId, id);
  res = await find(r, C, { keys: 'zz' });
  assert.deepEqual(Object.keys(res.body.results[0]).sort(), ['createdAt', 'objectId', 'updatedAt']);
  // keys also applies to GET one
  res = await r('GET', `/classes/${C}/${id}?keys=b`);
  assert.deepEqual(Object.keys(res.body).sort(), ['b', 'createdAt', 'objectId', 'updatedAt']);
});

test('excludeKeys removes fields', async () => {
  const C = uniqueClass('Obj');
  await seed(r, C, [{ a: 1, b: 2, c: 3 }]);
  const res = await find(r, C, { excludeKeys: 'a,b' });
  assert.deepEqual(Object.keys(res.body.results[0]).sort(), ['c', 'createdAt', 'objectId', 'updatedAt']);
});

test('order on one key, descending with "-", and on several keys', async () => {
  const C = uniqueClass('Obj');
  const rows = [
    { k: 'b', n: 2 }, { k: 'a', n: 3 }, { k: 'b', n: 1 }, { k: 'a', n: 1 }, { k: 'c', n: 2 },
  ];
  await seed(r, C, rows);
  const pick = (o) => `${o.k}${o.n}`;
  assert.deepEqual(await findIds(r, C, { order: 'n,k' }, {}, pick), ['a1', 'b1', 'b2', 'c2', 'a3']);
  assert.deepEqual(await findIds(r, C, { order: '-n,k' }, {}, pick), ['a3', 'b2', 'c2', 'a1', 'b1']);
  assert.deepEqual(await findIds(r, C, { order: 'k,-n' }, {}, pick), ['a3', 'a1', 'b2', 'b1', 'c2']);
  assert.deepEqual(await findIds(r, C, { order: '-k,-n' }, {}, pick), ['c2', 'b2', 'b1', 'a3', 'a1']);
});

test('order by createdAt and -createdAt', async () => {
  const C = uniqueClass('Obj');
  const ids = [];
  for (const n of [1, 2, 3]) {
    ids.push(...(await seed(r, C, [{ n }])));
    await new Promise((res) => setTimeout(res, 3));
  }
  assert.deepEqual(await findIds(r, C, { order: 'createdAt' }), ids);
  assert.deepEqual(await findIds(r, C, { order: '-createdAt' }), [...ids].reverse());
});

test('limit and skip', async () => {
  const C = uniqueClass('Obj');
  await seed(r, C, [1, 2, 3, 4, 5].map((n) => ({ n })));
  const n = (o) => o.n;
  assert.deepEqual(await findIds(r, C, { order: 'n', limit: '2' }, {}, n), [1, 2]);
  assert.deepEqual(await findIds(r, C, { order: 'n', limit: '2', skip: '2' }, {}, n), [3, 4]);
  assert.deepEqual(await findIds(r, C, { order: 'n', skip: '4' }, {}, n), [5]);
  assert.deepEqual(await findIds(r, C, { order: 'n', skip: '10' }, {}, n), []);
  assert.deepEqual(await findIds(r, C, { order: '-n', limit: '1' }, {}, n), [5]);
  assert.deepEqual(await findIds(r, C, { order: 'n', limit: '0' }, {}, n), []);
});

test('unset fields are absent, and null (on create or update) leaves the field absent', async () => {
  const C = uniqueClass('Obj');
  const [a, b] = await seed(r, C, [{ x: 1, y: null }, { z: 'q' }]);
  const ra = await r('GET', `/classes/${C}/${a}`);
  assert.ok(!('y' in ra.body), 'a null in a create is not returned');
  assert.ok(!('z' in ra.body));
  const rb = await r('GET', `/classes/${C}/${b}`);
  assert.ok(!('x' in rb.body));
  const up = await r('PUT', `/classes/${C}/${b}`, { body: { z: null } });
  assert.equal(up.status, 200);
  const rb2 = await r('GET', `/classes/${C}/${b}`);
  assert.ok(!('z' in rb2.body), 'null on update removes the field from GET');
  const q = await find(r, C, { where: { z: null }, order: 'createdAt' });
  assert.deepEqual(q.body.results.map((o) => o.objectId), [a, b], 'where {z:null} matches missing fields');
});
