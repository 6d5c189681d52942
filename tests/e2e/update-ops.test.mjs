// Update operators (__op) over REST and the SDK, including what the PUT response echoes back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, sdk, uniqueClass } from '../lib/harness.mjs';
import { ISO, seed, findIds } from '../lib/util.mjs';

let server, r;
before(async () => { server = await startServer(); r = rest(server); });
after(async () => { await server.stop(); });

const sorted = (a) => [...a].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
/** PUT and check the response is {...echo, updatedAt}. */
async function put(C, id, body, echo) {
  const res = await r('PUT', `/classes/${C}/${id}`, { body });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const { updatedAt, ...rest } = res.body;
  assert.match(updatedAt, ISO);
  if (echo !== undefined) assert.deepEqual(rest, echo);
  return rest;
}
const get = async (C, id) => (await r('GET', `/classes/${C}/${id}`)).body;

test('Increment: response echoes the new value; positive, negative, float', async () => {
  const C = uniqueClass('Ops');
  const [id] = await seed(r, C, [{ n: 1 }]);
  await put(C, id, { n: { __op: 'Increment', amount: 2 } }, { n: 3 });
  await put(C, id, { n: { __op: 'Increment', amount: -1.5 } }, { n: 1.5 });
  await put(C, id, { n: { __op: 'Increment', amount: 0 } }, { n: 1.5 });
  assert.equal((await get(C, id)).n, 1.5);
});

test('Increment on a missing field starts from 0', async () => {
  const C = uniqueClass('Ops');
  const [id] = await seed(r, C, [{ n: 1 }]);
  await put(C, id, { m: { __op: 'Increment', amount: 5 } }, { m: 5 });
  assert.equal((await get(C, id)).m, 5);
});

test('Increment is atomic under concurrent updates', async () => {
  const C = uniqueClass('Ops');
  const [id] = await seed(r, C, [{ n: 0 }]);
  await Promise.all(Array.from({ length: 10 }, () => put(C, id, { n: { __op: 'Increment', amount: 1 } })));
  assert.equal((await get(C, id)).n, 10);
});

test('Add appends (duplicates kept); response echoes the whole array', async () => {
  const C = uniqueClass('Ops');
  const [id] = await seed(r, C, [{ arr: [1, 2] }]);
  const echo = await put(C, id, { arr: { __op: 'Add', objects: [2, 3] } });
  assert.deepEqual(Object.keys(echo), ['arr']);
  // the oracle (Postgres) may reorder existing elements, so compare as multisets
  assert.deepEqual(sorted(echo.arr), [1, 2, 2, 3]);
  assert.deepEqual(sorted((await get(C, id)).arr), [1, 2, 2, 3]);
  await put(C, id, { fresh: { __op: 'Add', objects: ['a', { k: 1 }] } }, { fresh: ['a', { k: 1 }] });
});

test('AddUnique adds only missing elements; echoes the array', async () => {
  const C = uniqueClass('Ops');
  const [id] = await seed(r, C, [{ arr: [1, 2] }]);
  const echo = await put(C, id, { arr: { __op: 'AddUnique', objects: [2, 3, 4] } });
  assert.deepEqual(Object.keys(echo), ['arr']);
  assert.deepEqual(sorted(echo.arr), [1, 2, 3, 4]);
  assert.deepEqual(sorted((await get(C, id)).arr), [1, 2, 3, 4]);
  await put(C, id, { s: { __op: 'AddUnique', objects: ['a', 'a'] } }, { s: ['a'] });
});

test('Remove removes every occurrence; echoes the array; on a missing field gives []', async () => {
  const C = uniqueClass('Ops');
  const [id] = await seed(r, C, [{ arr: [1, 2, 1, 3, 'x'] }]);
  await put(C, id, { arr: { __op: 'Remove', objects: [1, 'x', 99] } }, { arr: [2, 3] });
  assert.deepEqual((await get(C, id)).arr, [2, 3]);
  await put(C, id, { none: { __op: 'Remove', objects: [1] } }, { none: [] });
  assert.deepEqual((await get(C, id)).none, []);
});

test('Delete unsets a field; response is {updatedAt} only; deleting it again is fine', async () => {
  const C = uniqueClass('Ops');
  const [id] = await seed(r, C, [{ s: 'x', n: 1 }]);
  await put(C, id, { s: { __op: 'Delete' } }, {});
  const o = await get(C, id);
  assert.ok(!('s' in o));
  assert.equal(o.n, 1);
  await put(C, id, { s: { __op: 'Delete' } }, {});
  // the schema keeps the field
  const schema = await r('GET', `/schemas/${C}`, { master: true });
  assert.deepEqual(schema.body.fields.s, { type: 'String' });
});

test('plain sets are not echoed; ops in the same PUT are', async () => {
  const C = uniqueClass('Ops');
  const [id] = await seed(r, C, [{ n: 1, arr: [] }]);
  await put(C, id, { x: 1, n: { __op: 'Increment', amount: 1 }, arr: { __op: 'Add', objects: [9] } }, { n: 2, arr: [9] });
  const o = await get(C, id);
  assert.equal(o.x, 1);
  assert.equal(o.n, 2);
  assert.deepEqual(o.arr, [9]);
});

test('ops on create: POST response echoes op results next to objectId/createdAt', async () => {
  const C = uniqueClass('Ops');
  await seed(r, C, [{ n: 0, arr: [] }]);
  const res = await r('POST', `/classes/${C}`, {
    body: { n: { __op: 'Increment', amount: 3 }, arr: { __op: 'Add', objects: [1] }, plain: 'p' },
  });
  assert.equal(res.status, 201);
  const { objectId, createdAt, ...rest } = res.body;
  assert.deepEqual(rest, { n: 3, arr: [1] });
  const o = await get(C, objectId);
  assert.equal(o.n, 3);
  assert.deepEqual(o.arr, [1]);
  assert.equal(o.plain, 'p');
});

test('op on a field of another type: 111 schema mismatch', async () => {
  const C = uniqueClass('Ops');
  const [id] = await seed(r, C, [{ n: 1, arr: [1] }]);
  let res = await r('PUT', `/classes/${C}/${id}`, { body: { n: { __op: 'Add', objects: [1] } } });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 111, error: `schema mismatch for ${C}.n; expected Number but got Array` });
  res = await r('PUT', `/classes/${C}/${id}`, { body: { arr: { __op: 'Increment', amount: 1 } } });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 111, error: `schema mismatch for ${C}.arr; expected Array but got Number` });
});

const ptr = (className, objectId) => ({ __type: 'Pointer', className, objectId });

test('AddRelation / RemoveRelation; GET shows {__type:"Relation", className}', async () => {
  const C = uniqueClass('Ops');
  const T = uniqueClass('Tgt');
  const [a, b, c] = await seed(r, T, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  const [id] = await seed(r, C, [{ name: 'owner' }]);
  await put(C, id, { rel: { __op: 'AddRelation', objects: [ptr(T, a), ptr(T, b)] } }, {});
  assert.deepEqual((await get(C, id)).rel, { __type: 'Relation', className: T });
  const related = { $relatedTo: { object: ptr(C, id), key: 'rel' } };
  assert.deepEqual(await findIds(r, T, { where: related, order: 'n' }), [a, b]);
  await put(C, id, { rel: { __op: 'AddRelation', objects: [ptr(T, a), ptr(T, c)] } }, {});
  assert.deepEqual(await findIds(r, T, { where: related, order: 'n' }), [a, b, c], 'adding twice keeps one link');
  await put(C, id, { rel: { __op: 'RemoveRelation', objects: [ptr(T, a)] } }, {});
  assert.deepEqual(await findIds(r, T, { where: related, order: 'n' }), [b, c]);
  const schema = await r('GET', `/schemas/${C}`, { master: true });
  assert.deepEqual(schema.body.fields.rel, { type: 'Relation', targetClass: T });
});

test('Batch op groups AddRelation and RemoveRelation on one key', async () => {
  const C = uniqueClass('Ops');
  const T = uniqueClass('Tgt');
  const [a, b] = await seed(r, T, [{ n: 1 }, { n: 2 }]);
  const [id] = await seed(r, C, [{ name: 'owner' }]);
  await put(C, id, { rel: { __op: 'AddRelation', objects: [ptr(T, b)] } }, {});
  await put(C, id, {
    rel: {
      __op: 'Batch',
      ops: [
        { __op: 'AddRelation', objects: [ptr(T, a)] },
        { __op: 'RemoveRelation', objects: [ptr(T, b)] },
      ],
    },
  }, {});
  const related = { $relatedTo: { object: ptr(C, id), key: 'rel' } };
  assert.deepEqual(await findIds(r, T, { where: related, order: 'n' }), [a]);
  await put(C, id, {
    rel: { __op: 'Batch', ops: [{ __op: 'AddRelation', objects: [ptr(T, b)] }, { __op: 'AddRelation', objects: [ptr(T, a)] }] },
  }, {});
  assert.deepEqual(await findIds(r, T, { where: related, order: 'n' }), [a, b]);
});

test('AddRelation on create, and RemoveRelation on a new key creates the relation field', async () => {
  const C = uniqueClass('Ops');
  const T = uniqueClass('Tgt');
  const [a] = await seed(r, T, [{ n: 1 }]);
  const res = await r('POST', `/classes/${C}`, { body: { rel: { __op: 'AddRelation', objects: [ptr(T, a)] } }, master: true });
  assert.equal(res.status, 201);
  const { objectId: id } = res.body;
  assert.deepEqual(await findIds(r, T, { where: { $relatedTo: { object: ptr(C, id), key: 'rel' } } }), [a]);
  await put(C, id, { rel2: { __op: 'RemoveRelation', objects: [ptr(T, a)] } }, {});
  const o = await get(C, id);
  assert.deepEqual(o.rel2, { __type: 'Relation', className: T });
});

test('AddRelation with a pointer to another class: 111', async () => {
  const C = uniqueClass('Ops');
  const T = uniqueClass('Tgt');
  const U = uniqueClass('Oth');
  const [a] = await seed(r, T, [{ n: 1 }]);
  const [u] = await seed(r, U, [{ n: 1 }]);
  const [id] = await seed(r, C, [{ rel: { __op: 'AddRelation', objects: [ptr(T, a)] } }]);
  const res = await r('PUT', `/classes/${C}/${id}`, { body: { rel: { __op: 'AddRelation', objects: [ptr(U, u)] } } });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 111, error: `schema mismatch for ${C}.rel; expected Relation<${T}> but got Relation<${U}>` });
});

test('SDK: increment (also on a missing field), add, addUnique, remove, unset', async () => {
  const Parse = await sdk(server);
  const C = uniqueClass('Ops');
  await seed(r, C, [{ n: 0 }]);
  const o = new Parse.Object(C);
  o.set('n', 1);
  o.set('arr', ['a']);
  o.set('gone', 'x');
  await o.save();
  o.increment('n');
  o.increment('fresh', 10);
  await o.save();
  assert.equal(o.get('n'), 2);
  assert.equal(o.get('fresh'), 10);
  o.add('arr', 'b');
  await o.save();
  o.addUnique('arr', 'a');
  o.unset('gone');
  await o.save();
  o.remove('arr', 'a');
  await o.save();
  const got = await new Parse.Query(C).get(o.id);
  assert.equal(got.get('n'), 2);
  assert.equal(got.get('fresh'), 10);
  assert.deepEqual(got.get('arr'), ['b']);
  assert.equal(got.get('gone'), undefined);
  assert.equal(got.has('gone'), false);
});

test('keys inside an Object field: Increment one level deep, merged with the field set in the same body', async () => {
  const C = uniqueClass('Ops');
  // On create, the field's own value is the base whatever the key order; the keys apply on top.
  let res = await r('POST', `/classes/${C}`, { master: true, body: { o: { y: 1 }, 'o.x': 5 } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual((await get(C, res.body.objectId)).o, { x: 5, y: 1 });
  res = await r('POST', `/classes/${C}`, { master: true, body: { 'o.x': 5, o: { y: 1, x: 0 } } });
  assert.deepEqual((await get(C, res.body.objectId)).o, { x: 5, y: 1 });
  res = await r('POST', `/classes/${C}`, { master: true, body: { 'o.x': { __op: 'Increment', amount: 2 }, o: { y: 1 } } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual(res.body.o, { x: 2 }, 'the answer echoes the incremented keys');
  assert.deepEqual((await get(C, res.body.objectId)).o, { x: 2, y: 1 });

  const [id] = await seed(r, C, [{ o: { a: 1, x: 10 }, p: { b: 1 } }]);
  await put(C, id, { 'o.x': { __op: 'Increment', amount: 1 } }, { o: { x: 11 } });
  await put(C, id, { 'o.x': { __op: 'Increment', amount: 1.5 }, 'o.n': { __op: 'Increment', amount: 1 }, 'o.z': 3 },
    { o: { x: 12.5, n: 1 } });
  assert.deepEqual((await get(C, id)).o, { a: 1, x: 12.5, n: 1, z: 3 });
  // Keys of two fields, interleaved (PostgreSQL once refused the UPDATE: 500).
  await put(C, id, { 'o.z': 4, 'p.y': 2, 'o.q': 5 }, {});
  let got = await get(C, id);
  assert.deepEqual([got.o, got.p], [{ a: 1, x: 12.5, n: 1, z: 4, q: 5 }, { b: 1, y: 2 }]);
  // The field set with keys inside it: its keys are merged into the stored object.
  await put(C, id, { p: { c: 3 }, 'p.y': 9 }, {});
  assert.deepEqual((await get(C, id)).p, { b: 1, c: 3, y: 9 });
  // Deeper than one level Parse stores the operation as it is given (and echoes it, which
  // Basalt does not).
  await put(C, id, { 'p.q.r': { __op: 'Increment', amount: 2 } });
  assert.deepEqual((await get(C, id)).p.q, { r: { __op: 'Increment', amount: 2 } });

  res = await r('PUT', `/classes/${C}/${id}`, { body: { 'o.x': { __op: 'Increment', amount: 'a' } } });
  assert.deepEqual([res.status, res.body], [400, { code: 107, error: 'incrementing must provide a number' }]);
  res = await r('POST', `/classes/${C}`, { master: true, body: { 'o.x': { __op: 'Increment', amount: 'a' } } });
  assert.deepEqual([res.status, res.body.code], [400, 107]);
  got = await get(C, id);
  assert.equal(got.o.x, 12.5, 'a refused increment changes nothing');
});

test('SDK: increment of a key inside an Object field', async () => {
  const Parse = await sdk(server);
  const C = uniqueClass('Ops');
  await seed(r, C, [{ stats: {} }]);
  const o = new Parse.Object(C);
  o.set('stats', { views: 1, likes: 0 });
  await o.save();
  o.increment('stats.views', 2);
  await o.save();
  assert.deepEqual(o.get('stats'), { views: 3, likes: 0 });
  const got = await new Parse.Query(C).get(o.id);
  assert.deepEqual(got.get('stats'), { views: 3, likes: 0 });
});
