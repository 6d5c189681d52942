// GET /aggregate/:class with pipeline / distinct (master key only).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, uniqueClass, target } from '../lib/harness.mjs';
import { seed, stripMeta } from '../lib/util.mjs';

let server, r, C, ids;
before(async () => {
  server = await startServer();
  r = rest(server);
  C = uniqueClass('Agg');
  ids = await seed(r, C, [
    { g: 'a', v: 1, w: 'x' }, { g: 'a', v: 3, w: 'y' }, { g: 'b', v: 5, w: 'x' }, { g: 'b', v: 7 }, { v: 10 },
  ]);
});
after(async () => { await server.stop(); });

const agg = (params, { master = true, cls = C } = {}) => {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) qs.set(k, typeof v === 'string' ? v : JSON.stringify(v));
  return r('GET', `/aggregate/${cls}?${qs}`, { master });
};
const ok = (res) => { assert.equal(res.status, 200, JSON.stringify(res.body)); return res.body.results; };
const byGroup = (rows) => [...rows].sort((x, y) => String(x.objectId).localeCompare(String(y.objectId)));

test('master key required: 403 {"error":"Permission denied"}', async () => {
  for (const params of [{ pipeline: [{ $match: { v: 1 } }] }, { distinct: 'g' }]) {
    const res = await agg(params, { master: false });
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, { error: 'Permission denied' });
  }
});

test('$group by field with $sum/$avg/$min/$max/count; group key comes back as objectId', async () => {
  const rows = ok(await agg({ pipeline: [{ $group: { _id: '$g', total: { $sum: '$v' }, avg: { $avg: '$v' }, mn: { $min: '$v' }, mx: { $max: '$v' }, c: { $sum: 1 } } }] }));
  assert.deepEqual(byGroup(rows), byGroup([
    { objectId: 'a', total: 4, avg: 2, mn: 1, mx: 3, c: 2 },
    { objectId: 'b', total: 12, avg: 6, mn: 5, mx: 7, c: 2 },
    { objectId: null, total: 10, avg: 10, mn: 10, mx: 10, c: 1 },
  ]));
});

test('$group with _id null aggregates everything', async () => {
  assert.deepEqual(ok(await agg({ pipeline: [{ $group: { _id: null, total: { $sum: '$v' }, c: { $sum: 1 } } }] })), [{ objectId: null, total: 26, c: 5 }]);
});

test('$group then $sort on an accumulator', async () => {
  const rows = ok(await agg({ pipeline: [{ $group: { _id: '$g', total: { $sum: '$v' } } }, { $sort: { total: -1 } }] }));
  assert.deepEqual(rows, [{ objectId: 'b', total: 12 }, { objectId: null, total: 10 }, { objectId: 'a', total: 4 }]);
});

test('objectId as the $group key is refused: 102', async () => {
  const res = await agg({ pipeline: [{ $group: { objectId: '$g', total: { $sum: '$v' } } }] });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 102, error: "Cannot use 'objectId' in aggregation stage $group." });
});

test('$sort and $limit return whole objects', async () => {
  const rows = ok(await agg({ pipeline: [{ $sort: { v: -1 } }, { $limit: 2 }] }));
  assert.deepEqual(rows.map(stripMeta), [{ v: 10 }, { g: 'b', v: 7 }]);
  assert.deepEqual(rows.map((o) => o.objectId), [ids[4], ids[3]]);
});

test('$match then $sort', async () => {
  const rows = ok(await agg({ pipeline: [{ $match: { v: { $gt: 2 } } }, { $sort: { v: -1 } }] }));
  assert.deepEqual(rows.map((o) => o.v), [10, 7, 5, 3]);
  const one = ok(await agg({ pipeline: [{ $match: { w: 'y' } }] }));
  assert.deepEqual(one.map(stripMeta), [{ g: 'a', v: 3, w: 'y' }]);
  assert.equal(one[0].objectId, ids[1]);
});

test('pipeline given as a single stage object', async () => {
  const rows = ok(await agg({ pipeline: { $match: { v: 1 } } }));
  assert.deepEqual(rows.map((o) => o.objectId), [ids[0]]);
});

test('$skip after $sort', { skip: target === 'oracle' && 'the Postgres adapter emits invalid SQL (syntax error at or near "ORDER")' }, async () => {
  const rows = ok(await agg({ pipeline: [{ $sort: { v: 1 } }, { $skip: 3 }] }));
  assert.deepEqual(rows.map((o) => o.v), [7, 10]);
});

test('$project keeps objectId and the listed fields', { skip: target === 'oracle' && 'the Postgres adapter returns objectId:null for a lone $project' }, async () => {
  const rows = ok(await agg({ pipeline: [{ $project: { v: 1 } }, { $sort: { v: 1 } }] }));
  assert.deepEqual(rows, [1, 3, 5, 7, 10].map((v, i) => ({ objectId: ids[i], v })));
});

test('$match then $group', { skip: target === 'oracle' && 'the Postgres adapter emits invalid SQL (objectId must appear in GROUP BY)' }, async () => {
  const rows = ok(await agg({ pipeline: [{ $match: { v: { $gt: 2 } } }, { $group: { _id: null, c: { $sum: 1 } } }] }));
  assert.deepEqual(rows, [{ objectId: null, c: 4 }]);
});

test('distinct=field, with where, on a missing field', async () => {
  assert.deepEqual([...ok(await agg({ distinct: 'g' }))].sort(), ['a', 'b']);
  assert.deepEqual(ok(await agg({ distinct: 'g', where: { v: { $gt: 4 } } })), ['b']);
  assert.deepEqual([...ok(await agg({ distinct: 'v' }))].sort((a, b) => a - b), [1, 3, 5, 7, 10]);
  assert.deepEqual(ok(await agg({ distinct: 'nope' })), []);
});

test('aggregate on a class that does not exist: empty results', async () => {
  const missing = uniqueClass('Agg');
  assert.deepEqual(ok(await agg({ distinct: 'g' }, { cls: missing })), []);
  assert.deepEqual(ok(await agg({ pipeline: [] }, { cls: missing })), []);
});
