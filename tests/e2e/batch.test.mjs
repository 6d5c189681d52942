// POST /batch: sub-request routing, per-request results, mixed outcomes, transactions, size.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, uniqueClass, target } from '../lib/harness.mjs';
import { OBJECT_ID, ISO, seed, findIds, stripMeta } from '../lib/util.mjs';

let server, r, prefix;
before(async () => {
  server = await startServer();
  r = rest(server);
  prefix = new URL(server.serverURL).pathname; // "/parse"
});
after(async () => { await server.stop(); });

const batch = (requests, extra = {}, opts = {}) => r('POST', '/batch', { body: { requests, ...extra }, ...opts });

test('batch create: 200 with [{success:{objectId, createdAt}}] in request order', async () => {
  const C = uniqueClass('B');
  await seed(r, C, [{ n: 0 }]);
  const res = await batch([1, 2, 3].map((n) => ({ method: 'POST', path: `${prefix}/classes/${C}`, body: { n } })));
  assert.equal(res.status, 200);
  assert.equal(res.body.length, 3);
  for (const item of res.body) {
    assert.deepEqual(Object.keys(item), ['success']);
    assert.deepEqual(Object.keys(item.success).sort(), ['createdAt', 'objectId']);
    assert.match(item.success.objectId, OBJECT_ID);
    assert.match(item.success.createdAt, ISO);
  }
  const byN = await findIds(r, C, { where: { n: { $gt: 0 } }, order: 'n' });
  assert.deepEqual(byN, res.body.map((x) => x.success.objectId));
});

test('sub-request paths must carry the mount path; others are refused with 107', async () => {
  const C = uniqueClass('B');
  await seed(r, C, [{ n: 0 }]);
  let res = await batch([{ method: 'POST', path: `/classes/${C}`, body: { n: 1 } }]);
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 107, error: `cannot route batch path /classes/${C}` });
  res = await batch([{ method: 'POST', path: `/other/classes/${C}`, body: { n: 1 } }]);
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 107, error: `cannot route batch path /other/classes/${C}` });
  res = await batch([{ method: 'PATCH', path: `${prefix}/classes/${C}`, body: { n: 1 } }]);
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 107, error: `cannot route PATCH /classes/${C}` });
  // nothing was created by the refused batches
  assert.deepEqual((await findIds(r, C, { where: { n: 1 } })), []);
});

test('malformed batch bodies', async () => {
  let res = await r('POST', '/batch', { body: {} });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 107, error: 'requests must be an array' });
  res = await r('POST', '/batch', { body: { requests: {} } });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 107, error: 'requests must be an array' });
  res = await r('POST', '/batch', { body: { requests: [] } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, []);
});

test('mixed success and failure: each result is {success} or {error:{code,error}}', async () => {
  const C = uniqueClass('B');
  const [a, b] = await seed(r, C, [{ n: 1 }, { n: 2 }]);
  const res = await batch([
    { method: 'PUT', path: `${prefix}/classes/${C}/${a}`, body: { n: 5 } },
    { method: 'PUT', path: `${prefix}/classes/${C}/aaaaaaaaaa`, body: { n: 1 } },
    { method: 'DELETE', path: `${prefix}/classes/${C}/${b}` },
    { method: 'POST', path: `${prefix}/classes/${C}`, body: { n: 'str' } },
    { method: 'POST', path: `${prefix}/classes/${C}`, body: { n: 7 } },
  ]);
  assert.equal(res.status, 200);
  assert.equal(res.body.length, 5);
  assert.deepEqual(Object.keys(res.body[0].success), ['updatedAt']);
  assert.match(res.body[0].success.updatedAt, ISO);
  assert.deepEqual(res.body[1], { error: { code: 101, error: 'Object not found.' } });
  assert.deepEqual(res.body[2], { success: {} });
  assert.deepEqual(res.body[3], { error: { code: 111, error: `schema mismatch for ${C}.n; expected Number but got String` } });
  assert.match(res.body[4].success.objectId, OBJECT_ID);
  assert.deepEqual(await findIds(r, C, { order: 'n' }, {}, (o) => o.n), [5, 7]);
});

test('GET sub-requests: get one and find (query params in the sub-request body)', async () => {
  const C = uniqueClass('B');
  const [a] = await seed(r, C, [{ n: 1 }, { n: 2 }]);
  const res = await batch([
    { method: 'GET', path: `${prefix}/classes/${C}/${a}` },
    { method: 'GET', path: `${prefix}/classes/${C}`, body: { where: { n: 2 } } },
    { method: 'GET', path: `${prefix}/classes/${C}/aaaaaaaaaa` },
  ]);
  assert.equal(res.status, 200);
  assert.deepEqual(stripMeta(res.body[0].success), { n: 1 });
  assert.equal(res.body[0].success.objectId, a);
  assert.deepEqual(res.body[1].success.results.map(stripMeta), [{ n: 2 }]);
  assert.deepEqual(res.body[2], { error: { code: 101, error: 'Object not found.' } });
});

test('update ops in batch echo like a PUT', async () => {
  const C = uniqueClass('B');
  const [a] = await seed(r, C, [{ n: 2 }]);
  const res = await batch([{ method: 'PUT', path: `${prefix}/classes/${C}/${a}`, body: { n: { __op: 'Increment', amount: 2 } } }]);
  assert.equal(res.status, 200);
  const { updatedAt, ...rest } = res.body[0].success;
  assert.match(updatedAt, ISO);
  assert.deepEqual(rest, { n: 4 });
});

test('batch auth: sub-requests inherit the batch keys', async () => {
  const C = uniqueClass('B');
  const fresh = uniqueClass('New');
  await seed(r, C, [{ n: 0 }]);
  let res = await batch([{ method: 'POST', path: `${prefix}/classes/${fresh}`, body: { n: 1 } }]);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, [{ error: { code: 119, error: 'Permission denied' } }]);
  res = await batch([{ method: 'GET', path: `${prefix}/schemas/${C}` }]);
  assert.deepEqual(res.body, [{ error: { error: 'Permission denied' } }], 'a 403 sub-request error has no code');
  res = await batch([{ method: 'POST', path: `${prefix}/classes/${fresh}`, body: { n: 1 } }], {}, { master: true });
  assert.match(res.body[0].success.objectId, OBJECT_ID);
});

test('transaction:true, all succeed: same shape as without', async () => {
  const C = uniqueClass('B');
  await seed(r, C, [{ n: 0 }]);
  const res = await batch([
    { method: 'POST', path: `${prefix}/classes/${C}`, body: { n: 10 } },
    { method: 'POST', path: `${prefix}/classes/${C}`, body: { n: 11 } },
  ], { transaction: true });
  assert.equal(res.status, 200);
  assert.equal(res.body.length, 2);
  assert.match(res.body[0].success.objectId, OBJECT_ID);
  assert.deepEqual(await findIds(r, C, { where: { n: { $gte: 10 } }, order: 'n' }, {}, (o) => o.n), [10, 11]);
});

test('transaction:true with a failing request rolls everything back', async () => {
  const C = uniqueClass('B');
  const [a] = await seed(r, C, [{ n: 0 }]);
  for (const failing of [
    { method: 'POST', path: `${prefix}/classes/${C}`, body: { n: 'bad' } },
    { method: 'PUT', path: `${prefix}/classes/${C}/aaaaaaaaaa`, body: { n: 3 } },
  ]) {
    const res = await batch([
      { method: 'POST', path: `${prefix}/classes/${C}`, body: { n: 20 } },
      { method: 'PUT', path: `${prefix}/classes/${C}/${a}`, body: { n: 1 } },
      failing,
    ], { transaction: true });
    if (target === 'oracle') {
      // Parse on Postgres: the aborted transaction surfaces as an internal error
      assert.equal(res.status, 500);
      assert.deepEqual(res.body, { code: 1, message: 'Internal server error.' });
    } else {
      // Basalt: the failing sub-request's error, as Parse on MongoDB answers
      assert.ok(res.status === 400 || res.status === 404, `status ${res.status}`);
      assert.ok([101, 111].includes(res.body.code), JSON.stringify(res.body));
    }
    assert.deepEqual(await findIds(r, C, { order: 'n' }, {}, (o) => o.n), [0], 'nothing was written');
  }
});

test('a batch of 100 requests is accepted (the oracle has no batch size limit)', async () => {
  const C = uniqueClass('B');
  await seed(r, C, [{ k: -1 }]);
  const reqs = Array.from({ length: 100 }, (_, k) => ({ method: 'POST', path: `${prefix}/classes/${C}`, body: { k } }));
  const res = await batch(reqs);
  assert.equal(res.status, 200);
  assert.equal(res.body.length, 100);
  assert.ok(res.body.every((x) => x.success && OBJECT_ID.test(x.success.objectId)));
  const cnt = await r('GET', `/classes/${C}?count=1&limit=0`);
  assert.equal(cnt.body.count, 101);
});
