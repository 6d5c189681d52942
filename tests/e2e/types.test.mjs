// Round trip of every Parse field type, schema inference, and type mismatch errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, uniqueClass, target } from '../lib/harness.mjs';
import { seed, findIds, stripMeta, fetchRetry } from '../lib/util.mjs';

let server, r;
before(async () => { server = await startServer(); r = rest(server); });
after(async () => { await server.stop(); });

const get = async (C, id, master = false) => {
  const res = await r('GET', `/classes/${C}/${id}`, { master });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
};
const DEFAULT_CLP = {
  ACL: { '*': { read: true, write: true } },
  find: { '*': true }, get: { '*': true }, count: { '*': true }, create: { '*': true },
  update: { '*': true }, delete: { '*': true }, addField: { '*': true }, protectedFields: { '*': [] },
};
const BASE_FIELDS = {
  objectId: { type: 'String' }, createdAt: { type: 'Date' }, updatedAt: { type: 'Date' }, ACL: { type: 'ACL' },
};

const scalars = {
  s: 'str', empty: '', uni: 'héllo ☃ 😀', i: 1, neg: -7, f: 1.5, big: 2 ** 40, zero: 0,
  t: true, fa: false,
  d: { __type: 'Date', iso: '2020-01-02T03:04:05.678Z' },
  o: { a: { b: 1 }, c: [1, 'x'], n: null, e: {} },
  arr: [1, 'a', { x: 1 }, [2], true],
  earr: [],
  g: { __type: 'GeoPoint', latitude: 10.5, longitude: -20.25 },
  by: { __type: 'Bytes', base64: 'aGVsbG8=' },
};

test('round trip of String, Number, Boolean, Date, Object, Array, GeoPoint, Bytes', async () => {
  const C = uniqueClass('Ty');
  const [id] = await seed(r, C, [scalars]);
  assert.deepEqual(stripMeta(await get(C, id)), scalars);
  const found = await r('GET', `/classes/${C}`);
  assert.deepEqual(stripMeta(found.body.results[0]), scalars);
});

test('round trip after PUT of every scalar type', async () => {
  const C = uniqueClass('Ty');
  const [id] = await seed(r, C, [scalars]);
  const next = {
    s: 'new', i: 2, f: -0.25, t: false, d: { __type: 'Date', iso: '1999-12-31T23:59:59.999Z' },
    o: { z: 1 }, arr: ['only'], g: { __type: 'GeoPoint', latitude: -1, longitude: 1 },
  };
  const res = await r('PUT', `/classes/${C}/${id}`, { body: next });
  assert.equal(res.status, 200);
  assert.deepEqual(stripMeta(await get(C, id)), { ...scalars, ...next });
});

test('Bytes can be changed by PUT', { skip: target === 'oracle' && 'the Postgres adapter answers 119 "Postgres doesn\'t support update" for Bytes' }, async () => {
  const C = uniqueClass('Ty');
  const [id] = await seed(r, C, [{ by: { __type: 'Bytes', base64: 'aGVsbG8=' } }]);
  const res = await r('PUT', `/classes/${C}/${id}`, { body: { by: { __type: 'Bytes', base64: 'AAE=' } } });
  assert.equal(res.status, 200);
  assert.deepEqual((await get(C, id)).by, { __type: 'Bytes', base64: 'AAE=' });
});

test('Date without milliseconds is returned with .000Z', async () => {
  const C = uniqueClass('Ty');
  const [id] = await seed(r, C, [{ d: { __type: 'Date', iso: '2020-01-02T03:04:05Z' } }]);
  assert.deepEqual((await get(C, id)).d, { __type: 'Date', iso: '2020-01-02T03:04:05.000Z' });
});

test('Pointer round trip and schema targetClass', async () => {
  const T = uniqueClass('Tgt');
  const C = uniqueClass('Ty');
  const [t] = await seed(r, T, [{ n: 1 }]);
  const p = { __type: 'Pointer', className: T, objectId: t };
  const [id] = await seed(r, C, [{ p, parr: [p] }]);
  const o = await get(C, id);
  assert.deepEqual(o.p, p);
  assert.deepEqual(o.parr, [p]);
  const schema = await r('GET', `/schemas/${C}`, { master: true });
  assert.deepEqual(schema.body.fields.p, { type: 'Pointer', targetClass: T });
  assert.deepEqual(schema.body.fields.parr, { type: 'Array' });
  // a pointer to an object that does not exist is stored as is
  const dangling = { __type: 'Pointer', className: T, objectId: 'zzzzzzzzzz' };
  const res = await r('PUT', `/classes/${C}/${id}`, { body: { p: dangling } });
  assert.equal(res.status, 200);
  assert.deepEqual((await get(C, id)).p, dangling);
});

test('Relation: GET shows {__type:"Relation", className}', async () => {
  const T = uniqueClass('Tgt');
  const C = uniqueClass('Ty');
  const [t] = await seed(r, T, [{ n: 1 }]);
  const [id] = await seed(r, C, [{ rel: { __op: 'AddRelation', objects: [{ __type: 'Pointer', className: T, objectId: t }] } }]);
  assert.deepEqual((await get(C, id)).rel, { __type: 'Relation', className: T });
  // objects that never touched the relation also show it
  const [id2] = await seed(r, C, [{ x: 1 }]);
  assert.deepEqual((await get(C, id2)).rel, { __type: 'Relation', className: T });
});

test('File reference without upload: accepted, url rewritten to <serverURL>/files/<appId>/<name>', async () => {
  const C = uniqueClass('Ty');
  const [id] = await seed(r, C, [{
    f1: { __type: 'File', name: 'abc.txt', url: 'http://example.com/elsewhere/abc.txt' },
    f2: { __type: 'File', name: 'def.txt' },
  }]);
  const o = await get(C, id);
  assert.deepEqual(o.f1, { __type: 'File', name: 'abc.txt', url: `${server.serverURL}/files/${server.appId}/abc.txt` });
  assert.deepEqual(o.f2, { __type: 'File', name: 'def.txt', url: `${server.serverURL}/files/${server.appId}/def.txt` });
  const schema = await r('GET', `/schemas/${C}`, { master: true });
  assert.deepEqual(schema.body.fields.f1, { type: 'File' });
  // the REST key may set a file reference on an existing class too
  const res = await r('POST', `/classes/${C}`, { body: { f1: { __type: 'File', name: 'x.txt' } } });
  assert.equal(res.status, 201);
});

test('file upload by the public (REST key) is refused: 130', async () => {
  const res = await fetchRetry(`${server.serverURL}/files/hello.txt`, {
    method: 'POST',
    headers: { 'X-Parse-Application-Id': server.appId, 'X-Parse-REST-API-Key': server.restKey, 'Content-Type': 'text/plain' },
    body: 'hello',
  });
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), { code: 130, error: 'File upload by public is disabled.' });
});

test('file upload with the master key: 201 {url, name}', { skip: target === 'oracle' && 'the oracle has no file adapter (GridFS needs MongoDB)' }, async () => {
  const res = await fetchRetry(`${server.serverURL}/files/hello.txt`, {
    method: 'POST',
    headers: { 'X-Parse-Application-Id': server.appId, 'X-Parse-Master-Key': server.masterKey, 'Content-Type': 'text/plain' },
    body: 'hello',
  });
  assert.equal(res.status, 201);
  const body = await res.json();
  assert.deepEqual(Object.keys(body).sort(), ['name', 'url']);
  assert.match(body.name, /_hello\.txt$/);
  assert.equal(body.url, `${server.serverURL}/files/${server.appId}/${body.name}`);
  assert.equal(res.headers.get('location'), body.url);
  const dl = await fetchRetry(body.url);
  assert.equal(dl.status, 200);
  assert.equal(await dl.text(), 'hello');
});

test('Polygon round trip: the ring is closed by the server', async () => {
  const C = uniqueClass('Ty');
  const [id] = await seed(r, C, [{ poly: { __type: 'Polygon', coordinates: [[0, 0], [0, 1], [1, 1], [1, 0]] } }]);
  assert.deepEqual((await get(C, id)).poly, { __type: 'Polygon', coordinates: [[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]] });
  const [id2] = await seed(r, C, [{ poly: { __type: 'Polygon', coordinates: [[0, 0], [0, 2], [2, 2], [0, 0]] } }]);
  assert.deepEqual((await get(C, id2)).poly, { __type: 'Polygon', coordinates: [[0, 0], [0, 2], [2, 2], [0, 0]] });
});

test('ACL round trip; visible to the REST key when public read; keys= still returns ACL', async () => {
  const C = uniqueClass('Ty');
  const ACL = { '*': { read: true }, 'role:admins': { write: true }, abcdef: { read: true, write: true } };
  const [id] = await seed(r, C, [{ s: 'x', n: 1, ACL }]);
  assert.deepEqual(stripMeta(await get(C, id)), { s: 'x', n: 1, ACL });
  const res = await r('GET', `/classes/${C}?keys=s`);
  assert.deepEqual(stripMeta(res.body.results[0]), { s: 'x', ACL });
});

test('schema inference on first write: GET /schemas/:c body', async () => {
  const T = uniqueClass('Tgt');
  const C = uniqueClass('Ty');
  const [t] = await seed(r, T, [{ n: 1 }]);
  await seed(r, C, [{
    ...scalars,
    p: { __type: 'Pointer', className: T, objectId: t },
    file: { __type: 'File', name: 'a.txt' },
    poly: { __type: 'Polygon', coordinates: [[0, 0], [0, 1], [1, 1]] },
    rel: { __op: 'AddRelation', objects: [{ __type: 'Pointer', className: T, objectId: t }] },
    ACL: { '*': { read: true } },
    nul: null,
  }]);
  const res = await r('GET', `/schemas/${C}`, { master: true });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, {
    className: C,
    fields: {
      ...BASE_FIELDS,
      s: { type: 'String' }, empty: { type: 'String' }, uni: { type: 'String' },
      i: { type: 'Number' }, neg: { type: 'Number' }, f: { type: 'Number' }, big: { type: 'Number' }, zero: { type: 'Number' },
      t: { type: 'Boolean' }, fa: { type: 'Boolean' },
      d: { type: 'Date' }, o: { type: 'Object' }, arr: { type: 'Array' }, earr: { type: 'Array' },
      g: { type: 'GeoPoint' }, by: { type: 'Bytes' },
      p: { type: 'Pointer', targetClass: T }, file: { type: 'File' }, poly: { type: 'Polygon' },
      rel: { type: 'Relation', targetClass: T },
    },
    classLevelPermissions: DEFAULT_CLP,
  });
});

test('new fields added by later writes are inferred too', async () => {
  const C = uniqueClass('Ty');
  const [id] = await seed(r, C, [{ a: 1 }]);
  const res = await r('PUT', `/classes/${C}/${id}`, { body: { b: 'x', c: { __type: 'Date', iso: '2020-01-01T00:00:00.000Z' } } });
  assert.equal(res.status, 200);
  const schema = await r('GET', `/schemas/${C}`, { master: true });
  assert.deepEqual(schema.body.fields, { ...BASE_FIELDS, a: { type: 'Number' }, b: { type: 'String' }, c: { type: 'Date' } });
});

test('type mismatch: 111 with the exact message', async () => {
  const C = uniqueClass('Ty');
  const T = uniqueClass('Tgt');
  const [id] = await seed(r, C, [{
    s: 'x', n: 1, d: { __type: 'Date', iso: '2020-01-01T00:00:00.000Z' }, b: true, arr: [], o: {},
    p: { __type: 'Pointer', className: T, objectId: 'aaaaaaaaaa' },
    g: { __type: 'GeoPoint', latitude: 1, longitude: 1 },
  }]);
  const cases = [
    [{ s: 1 }, 'expected String but got Number', 's'],
    [{ n: 'x' }, 'expected Number but got String', 'n'],
    [{ d: '2020' }, 'expected Date but got String', 'd'],
    [{ b: 1 }, 'expected Boolean but got Number', 'b'],
    [{ arr: {} }, 'expected Array but got Object', 'arr'],
    [{ o: [] }, 'expected Object but got Array', 'o'],
    [{ n: true }, 'expected Number but got Boolean', 'n'],
    [{ s: { __type: 'Date', iso: '2020-01-01T00:00:00.000Z' } }, 'expected String but got Date', 's'],
    [{ p: { __type: 'Pointer', className: 'Other', objectId: 'aaaaaaaaaa' } }, `expected Pointer<${T}> but got Pointer<Other>`, 'p'],
    [{ s: { __type: 'Pointer', className: T, objectId: 'aaaaaaaaaa' } }, `expected String but got Pointer<${T}>`, 's'],
    [{ g: 'x' }, 'expected GeoPoint but got String', 'g'],
  ];
  for (const [body, msg, field] of cases) {
    for (const [method, path] of [['PUT', `/classes/${C}/${id}`], ['POST', `/classes/${C}`]]) {
      const res = await r(method, path, { body });
      assert.equal(res.status, 400, `${method} ${JSON.stringify(body)}`);
      assert.deepEqual(res.body, { code: 111, error: `schema mismatch for ${C}.${field}; ${msg}` }, `${method} ${JSON.stringify(body)}`);
    }
  }
  // the object is unchanged
  assert.equal((await get(C, id)).s, 'x');
});

test('a class may hold two GeoPoint fields (Postgres has no single-GeoPoint limit)', async () => {
  const C = uniqueClass('Ty');
  const [id] = await seed(r, C, [{ g: { __type: 'GeoPoint', latitude: 1, longitude: 1 } }]);
  const h = { __type: 'GeoPoint', latitude: 2, longitude: 2 };
  const res = await r('PUT', `/classes/${C}/${id}`, { body: { h }, master: true });
  assert.equal(res.status, 200);
  assert.deepEqual((await get(C, id)).h, h);
});

test('query by Date and by nested Object key with dot notation', async () => {
  const C = uniqueClass('Ty');
  const [a, b] = await seed(r, C, [
    { d: { __type: 'Date', iso: '2020-01-02T00:00:00.000Z' }, o: { a: { b: 1 }, s: 'x' } },
    { d: { __type: 'Date', iso: '2021-01-02T00:00:00.000Z' }, o: { a: { b: 2 }, s: 'y' } },
  ]);
  assert.deepEqual(await findIds(r, C, { where: { 'o.a.b': 1 } }), [a]);
  assert.deepEqual(await findIds(r, C, { where: { 'o.s': 'y' } }), [b]);
  assert.deepEqual(await findIds(r, C, { where: { d: { __type: 'Date', iso: '2021-01-02T00:00:00.000Z' } } }), [b]);
  assert.deepEqual(await findIds(r, C, { where: { d: { $lt: { __type: 'Date', iso: '2020-06-01T00:00:00.000Z' } } } }), [a]);
});
