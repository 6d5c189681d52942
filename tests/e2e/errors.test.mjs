// Error paths: auth, malformed bodies, invalid names, bad queries; plus Basalt's extra limits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, uniqueClass, target } from '../lib/harness.mjs';
import { seed, find, stripMeta, fetchRetry } from '../lib/util.mjs';

let server, r, C, id;
before(async () => {
  server = await startServer();
  r = rest(server);
  C = uniqueClass('Err');
  [id] = await seed(r, C, [{ n: 1, s: 'x' }]);
});
after(async () => { await server.stop(); });

const raw = async (path, headers, init = {}) => {
  const res = await fetchRetry(`${server.serverURL}${path}`, { headers, ...init });
  const text = await res.text();
  let body; try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, body };
};
const where = (w) => `?where=${encodeURIComponent(JSON.stringify(w))}`;
const expectErr = (res, status, body, msg) => {
  assert.equal(res.status, status, `${msg ?? ''} ${JSON.stringify(res.body)}`);
  assert.deepEqual(res.body, body, msg);
};

test('missing or wrong application id / keys: 403 {"error":"unauthorized"}', async () => {
  const U = { error: 'unauthorized' };
  expectErr(await raw(`/classes/${C}`, {}), 403, U, 'no headers at all');
  expectErr(await raw(`/classes/${C}`, { 'X-Parse-REST-API-Key': server.restKey }), 403, U, 'no app id');
  expectErr(await raw(`/classes/${C}`, { 'X-Parse-Application-Id': 'wrong', 'X-Parse-REST-API-Key': server.restKey }), 403, U, 'wrong app id');
  expectErr(await raw(`/classes/${C}`, { 'X-Parse-Application-Id': server.appId }), 403, U, 'app id but no key');
  expectErr(await raw(`/classes/${C}`, { 'X-Parse-Application-Id': server.appId, 'X-Parse-REST-API-Key': 'wrong' }), 403, U, 'wrong REST key');
  expectErr(await raw(`/classes/${C}`, { 'X-Parse-Application-Id': server.appId, 'X-Parse-Javascript-Key': 'wrong' }), 403, U, 'wrong JS key');
  expectErr(await raw(`/classes/${C}`, { 'X-Parse-Application-Id': server.appId, 'X-Parse-Master-Key': 'wrong' }), 403, U, 'wrong master key');
  expectErr(await raw(`/classes/${C}`, { 'X-Parse-Application-Id': server.appId, 'X-Parse-Client-Key': 'whatever' }), 403, U, 'unknown client key');
  // a POST with a body gets the same answer
  const post = await raw(`/classes/${C}`, { 'X-Parse-Application-Id': 'wrong', 'Content-Type': 'application/json' }, { method: 'POST', body: '{"n":2}' });
  expectErr(post, 403, U, 'POST wrong app id');
});

test('any one valid client key is enough (JS key alone; REST key next to a wrong JS key)', async () => {
  let res = await raw(`/classes/${C}`, { 'X-Parse-Application-Id': server.appId, 'X-Parse-Javascript-Key': server.javascriptKey });
  assert.equal(res.status, 200);
  res = await raw(`/classes/${C}`, { 'X-Parse-Application-Id': server.appId, 'X-Parse-REST-API-Key': server.restKey, 'X-Parse-Javascript-Key': 'wrong' });
  assert.equal(res.status, 200);
  assert.equal(res.body.results.length, 1);
});

test('malformed JSON body: 400 {"error": <parser message>} (no code)', async () => {
  for (const [m, path] of [['POST', `/classes/${C}`], ['PUT', `/classes/${C}/${id}`]]) {
    const res = await r(m, path, { raw: '{bad json', headers: { 'Content-Type': 'application/json' } });
    assert.equal(res.status, 400, m);
    assert.deepEqual(Object.keys(res.body), ['error'], m);
    assert.equal(typeof res.body.error, 'string');
    if (target === 'oracle') assert.equal(res.body.error, "Expected property name or '}' in JSON at position 1");
  }
  assert.equal((await r('GET', `/classes/${C}/${id}`)).body.n, 1, 'nothing changed');
});

test('JSON body that is not an object', async () => {
  const arr = await r('POST', `/classes/${C}`, { body: [1, 2] });
  expectErr(arr, 400, { code: 105, error: 'Invalid field name: 0.' });
  const str = await r('POST', `/classes/${C}`, { body: 'x' });
  assert.equal(str.status, 400);
  assert.deepEqual(Object.keys(str.body), ['error'], 'a bare JSON string is refused by the body parser');
});

test('invalid class names', async () => {
  for (const bad of ['1abc', 'a-b', '_Foo']) {
    const res = await r('POST', `/classes/${bad}`, { body: { n: 1 }, master: true });
    expectErr(res, 400, { code: 107, error: 'schema class name does not revalidate' }, bad);
  }
  expectErr(await r('POST', '/classes/1abc', { body: { n: 1 } }), 400, { code: 119, error: 'Permission denied' }, 'REST key');
  // reads of an invalid class name are just empty / not found
  const f = await r('GET', '/classes/1abc', { master: true });
  assert.equal(f.status, 200);
  assert.deepEqual(f.body, { results: [] });
  expectErr(await r('GET', '/classes/1abc/abcdefghij', { master: true }), 404, { code: 101, error: 'Object not found.' });
});

test('invalid field names on create and update: 105 "Invalid field name: <f>."', async () => {
  for (const bad of ['1x', 'a-b', '$x', '_x']) {
    expectErr(await r('POST', `/classes/${C}`, { body: { [bad]: 1 }, master: true }), 400, { code: 105, error: `Invalid field name: ${bad}.` }, `POST ${bad}`);
    expectErr(await r('PUT', `/classes/${C}/${id}`, { body: { [bad]: 1 } }), 400, { code: 105, error: `Invalid field name: ${bad}.` }, `PUT ${bad}`);
  }
});

test('dotted keys in a write address nested Object keys', async () => {
  const D = uniqueClass('Err');
  const [x] = await seed(r, D, [{ 'a.b': 1 }]);
  assert.deepEqual(stripMeta((await r('GET', `/classes/${D}/${x}`)).body), { a: { b: 1 } });
  const up = await r('PUT', `/classes/${D}/${x}`, { body: { 'a.c': 2 } });
  assert.equal(up.status, 200);
  assert.deepEqual(stripMeta((await r('GET', `/classes/${D}/${x}`)).body), { a: { b: 1, c: 2 } });
  // a dotted key into a non-Object field is a type mismatch
  const bad = await r('PUT', `/classes/${C}/${id}`, { body: { 'n.x': 1 } });
  expectErr(bad, 400, { code: 111, error: `schema mismatch for ${C}.n; expected Number but got Object` });
});

test('invalid __type values: 111', async () => {
  expectErr(await r('PUT', `/classes/${C}/${id}`, { body: { w: { __type: 'Weird' } } }), 400, { code: 111, error: 'This is not a valid Weird' });
  expectErr(await r('PUT', `/classes/${C}/${id}`, { body: { dd: { __type: 'Date' } } }), 400, { code: 111, error: 'This is not a valid Date' });
});

test('unknown query operator $foo', async () => {
  const res = await r('GET', `/classes/${C}${where({ n: { $foo: 1 } })}`);
  assert.equal(res.status, 400);
  if (target === 'oracle') assert.deepEqual(res.body, { code: 119, error: 'Postgres doesn\'t support this query type yet {"$foo":1}' });
  else assert.deepEqual(res.body, { code: 107, error: 'bad constraint: $foo' }); // Parse on MongoDB
});

test('invalid where: not JSON, not an object, bad key names', async () => {
  expectErr(await r('GET', `/classes/${C}?where=notjson`), 400, { code: 107, error: 'where parameter is not valid JSON' });
  expectErr(await r('GET', `/classes/${C}?where=[1]`), 400, { code: 105, error: 'Invalid key name: 0' });
  expectErr(await r('GET', `/classes/${C}${where({ $foo: [] })}`), 400, { code: 105, error: 'Invalid key name: $foo' });
  expectErr(await r('GET', `/classes/${C}${where({ '1x': 1 })}`), 400, { code: 105, error: 'Invalid key name: 1x' });
});

test('bad operator values', async () => {
  const q = (w) => r('GET', `/classes/${C}${where(w)}`);
  expectErr(await q({ n: { $in: 1 } }), 400, { code: 107, error: 'bad $in value' });
  expectErr(await q({ n: { $nin: 1 } }), 400, { code: 107, error: 'bad $nin value' });
  expectErr(await q({ s: { $regex: 1 } }), 400, { code: 102, error: '$regex value must be a string' });
  expectErr(await q({ s: { $regex: 'x', $options: 'q' } }), 400, { code: 102, error: 'Bad $options value for query: q' });
  expectErr(await q({ p: { $inQuery: { where: {} } } }), 400, { code: 102, error: 'improper usage of $inQuery' });
  expectErr(await q({ s: { $select: { query: { className: C } } } }), 400, { code: 102, error: 'improper usage of $select' });
  // $or/$and/$nor with a non-array: 102 with a sanitized message
  for (const op of ['$or', '$and', '$nor']) {
    const res = await q({ [op]: { n: 1 } });
    assert.equal(res.status, 400, op);
    assert.equal(res.body.code, 102, op);
    if (target === 'oracle') assert.equal(res.body.error, 'Permission denied');
  }
});

test('invalid order keys: 105; an unknown but valid field name is fine', async () => {
  expectErr(await r('GET', `/classes/${C}?order=$x`), 400, { code: 105, error: 'Invalid field name: $x.' });
  expectErr(await r('GET', `/classes/${C}?order=a-b`), 400, { code: 105, error: 'Invalid field name: a-b.' });
  const ok = await r('GET', `/classes/${C}?order=nope,-alsoNope`);
  assert.equal(ok.status, 200);
  assert.equal(ok.body.results.length, 1);
});

test('bad objectIds in the path are just "not found"', async () => {
  for (const bad of ['!!bad!!', 'a'.repeat(100), 'short']) {
    expectErr(await r('GET', `/classes/${C}/${encodeURIComponent(bad)}`), 404, { code: 101, error: 'Object not found.' }, bad);
  }
});

test('update and delete of a missing object: 404 {code:101}', async () => {
  expectErr(await r('PUT', `/classes/${C}/aaaaaaaaaa`, { body: { n: 2 } }), 404, { code: 101, error: 'Object not found.' });
  expectErr(await r('DELETE', `/classes/${C}/aaaaaaaaaa`), 404, { code: 101, error: 'Object not found.' });
  expectErr(await r('PUT', `/classes/${C}/aaaaaaaaaa`, { body: { n: 2 }, master: true }), 404, { code: 101, error: 'Object not found.' });
});

test('unknown route: 404', async () => {
  const res = await r('GET', '/nope');
  assert.equal(res.status, 404);
});

test('nested $or 8 levels deep is accepted', async () => {
  let w = { n: 1 };
  for (let i = 0; i < 8; i++) w = { $or: [w, { n: 1000 + i }] };
  const res = await find(r, C, { where: w });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.results.map((o) => o.objectId), [id]);
});

test('body larger than the limit: 413', async () => {
  const big = JSON.stringify({ s: 'x'.repeat(21 * 1024 * 1024) });
  const res = await r('POST', `/classes/${C}`, { raw: big, headers: { 'Content-Type': 'application/json' } });
  assert.equal(res.status, 413);
  assert.equal(typeof res.body.error, 'string');
  if (target === 'oracle') assert.deepEqual(res.body, { error: 'request entity too large' });
});

// ---- Basalt-only limits (Parse Server has none of these by default) ----

test('basalt: nested $or deeper than 10 levels is refused with 102', { skip: target !== 'basalt' }, async () => {
  let w = { n: 1 };
  for (let i = 0; i < 30; i++) w = { $or: [w, { n: 1000 + i }] };
  const res = await find(r, C, { where: w });
  assert.equal(res.status, 400);
  assert.equal(res.body.code, 102);
  assert.equal(typeof res.body.error, 'string');
});

test('basalt: a query with more than 1000 conditions is refused with 102', { skip: target !== 'basalt' }, async () => {
  const res = await find(r, C, { where: { $or: Array.from({ length: 1500 }, (_, i) => ({ n: i })) } });
  assert.equal(res.status, 400);
  assert.equal(res.body.code, 102);
});

test('basalt: costly regexes are refused with 102 (back-references, look-around, huge repeats, long patterns)', { skip: target !== 'basalt' }, async () => {
  for (const pattern of ['(a)\\1', '(?=a)', 'a{5000}', 'a'.repeat(2000)]) {
    const res = await find(r, C, { where: { s: { $regex: pattern } } });
    assert.equal(res.status, 400, pattern.slice(0, 20));
    assert.equal(res.body.code, 102, pattern.slice(0, 20));
    assert.equal(typeof res.body.error, 'string');
  }
  // ordinary patterns, including the SDK's \Q…\E quoting, still work
  const ok = await find(r, C, { where: { s: { $regex: '^\\Qx\\E' } } });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.results.length, 1);
});

test('basalt: limit above 1000 is clamped to 1000 (as hosted Parse did), not an error', { skip: target !== 'basalt' }, async () => {
  const D = uniqueClass('Many');
  await seed(r, D, [{ k: -1 }]);
  const prefix = new URL(server.serverURL).pathname;
  for (let b = 0; b < 11; b++) {
    const requests = Array.from({ length: 100 }, (_, k) => ({ method: 'POST', path: `${prefix}/classes/${D}`, body: { k: b * 100 + k } }));
    const res = await r('POST', '/batch', { body: { requests }, master: true });
    assert.equal(res.status, 200);
  }
  const res = await find(r, D, { limit: '5000', keys: 'k' });
  assert.equal(res.status, 200);
  assert.equal(res.body.results.length, 1000);
  const cnt = await find(r, D, { count: '1', limit: '0' });
  assert.equal(cnt.body.count, 1101);
});

test('basalt: NUL characters are refused alike on both databases, and never answer 500', { skip: target !== 'basalt' }, async () => {
  const D = uniqueClass('Nul');
  await seed(r, D, [{ s: 'ok', o: { k: 'v' } }]);
  for (const body of [{ s: 'a\u0000b' }, { o: { k: 'a\u0000' } }, { arr: ['\u0000'] }]) {
    const res = await r('POST', `/classes/${D}`, { body, master: true });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.code, 107);
  }
  // In a query a NUL simply matches nothing (or is a Parse error), never a 500.
  const q = await find(r, D, { where: { s: 'a\u0000b' } });
  assert.ok(q.status === 200 || q.status === 400, `status ${q.status}`);
  if (q.status === 200) assert.deepEqual(q.body.results, []);
  // A pattern Rust accepts but PostgreSQL's engine may not (\p{L}) is a result or a 102.
  const re = await find(r, D, { where: { s: { $regex: '\\p{L}+' } } });
  assert.ok(re.status === 200 || (re.status === 400 && re.body.code === 102), `status ${re.status} ${JSON.stringify(re.body)}`);
});
