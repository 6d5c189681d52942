// The JS SDK's request form (POST text/plain + JSON envelope with _method/_ApplicationId/…) and CORS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, uniqueClass } from '../lib/harness.mjs';
import { OBJECT_ID, ISO, seed, stripMeta, fetchRetry } from '../lib/util.mjs';

let server, r, C, ids;
before(async () => {
  server = await startServer();
  r = rest(server);
  C = uniqueClass('Env');
  ids = await seed(r, C, [{ n: 1, s: 'a' }, { n: 2, s: 'b' }, { n: 3, s: 'c' }]);
});
after(async () => { await server.stop(); });

/** POSTs the envelope as the SDK does: Content-Type text/plain, JSON body. */
async function env(path, payload, contentType = 'text/plain') {
  const res = await fetchRetry(`${server.serverURL}${path}`, {
    method: 'POST', headers: { 'Content-Type': contentType }, body: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
  const text = await res.text();
  let body; try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, body, headers: res.headers };
}
const JS = () => ({ _ApplicationId: server.appId, _JavaScriptKey: server.javascriptKey, _ClientVersion: 'js8.6.2', _InstallationId: 'c0ffee00-0000-4000-8000-000000000001' });
const MASTER = () => ({ _ApplicationId: server.appId, _MasterKey: server.masterKey, _ClientVersion: 'js8.6.2' });

test('create with the envelope: 201, envelope keys are not stored', async () => {
  const res = await env(`/classes/${C}`, { ...JS(), n: 10, s: 'new' });
  assert.equal(res.status, 201);
  assert.match(res.body.objectId, OBJECT_ID);
  assert.match(res.body.createdAt, ISO);
  assert.equal(res.headers.get('location'), `${server.serverURL}/classes/${C}/${res.body.objectId}`);
  const got = await r('GET', `/classes/${C}/${res.body.objectId}`);
  assert.deepEqual(stripMeta(got.body), { n: 10, s: 'new' });
  await r('DELETE', `/classes/${C}/${res.body.objectId}`);
});

test('_method GET: find with where as an object, order, limit, keys, count', async () => {
  let res = await env(`/classes/${C}`, { ...JS(), _method: 'GET', where: { n: { $gt: 1 } }, order: '-n', limit: 1 });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.results.map(stripMeta), [{ n: 3, s: 'c' }]);
  res = await env(`/classes/${C}`, { ...JS(), _method: 'GET', where: { n: { $lte: 2 } }, count: 1, limit: 0 });
  assert.deepEqual(res.body, { results: [], count: 2 });
  res = await env(`/classes/${C}`, { ...JS(), _method: 'GET', keys: 's', order: 'n', skip: 1 });
  assert.deepEqual(res.body.results.map(stripMeta), [{ s: 'b' }, { s: 'c' }]);
  // where may also be a JSON string
  res = await env(`/classes/${C}`, { ...JS(), _method: 'GET', where: JSON.stringify({ n: 2 }) });
  assert.deepEqual(res.body.results.map((o) => o.objectId), [ids[1]]);
});

test('_method GET on one object, PUT, DELETE', async () => {
  const [id] = await seed(r, C, [{ n: 100 }]);
  let res = await env(`/classes/${C}/${id}`, { ...JS(), _method: 'GET' });
  assert.equal(res.status, 200);
  assert.deepEqual(stripMeta(res.body), { n: 100 });
  res = await env(`/classes/${C}/${id}`, { ...JS(), _method: 'PUT', n: 101, t: { __op: 'Increment', amount: 1 } });
  assert.equal(res.status, 200);
  const { updatedAt, ...rest } = res.body;
  assert.match(updatedAt, ISO);
  assert.deepEqual(rest, { t: 1 });
  assert.deepEqual(stripMeta((await r('GET', `/classes/${C}/${id}`)).body), { n: 101, t: 1 });
  res = await env(`/classes/${C}/${id}`, { ...JS(), _method: 'DELETE' });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, {});
  res = await env(`/classes/${C}/${id}`, { ...JS(), _method: 'GET' });
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { code: 101, error: 'Object not found.' });
});

test('_MasterKey in the envelope grants master access', async () => {
  const res = await env(`/schemas/${C}`, { ...MASTER(), _method: 'GET' });
  assert.equal(res.status, 200);
  assert.equal(res.body.className, C);
  const denied = await env(`/schemas/${C}`, { ...JS(), _method: 'GET' });
  assert.equal(denied.status, 403);
  assert.deepEqual(denied.body, { error: 'Permission denied' });
  const fresh = uniqueClass('Env');
  const created = await env(`/classes/${fresh}`, { ...MASTER(), n: 1 });
  assert.equal(created.status, 201);
});

test('bad envelope credentials: 403 {"error":"unauthorized"}', async () => {
  const U = { error: 'unauthorized' };
  for (const payload of [
    { _ApplicationId: 'wrong', _JavaScriptKey: server.javascriptKey, _method: 'GET' },
    { _ApplicationId: server.appId, _JavaScriptKey: 'wrong', _method: 'GET' },
    { _ApplicationId: server.appId, _method: 'GET' },
    { _ApplicationId: server.appId, _MasterKey: 'wrong', _method: 'GET' },
    { _ApplicationId: server.appId, _RESTAPIKey: server.restKey, _method: 'GET' },
    { _JavaScriptKey: server.javascriptKey, _method: 'GET' },
  ]) {
    const res = await env(`/classes/${C}`, payload);
    assert.equal(res.status, 403, JSON.stringify(payload));
    assert.deepEqual(res.body, U, JSON.stringify(payload));
  }
});

test('_SessionToken that does not exist: 400 {code:209}', async () => {
  const res = await env(`/classes/${C}`, { ...JS(), _SessionToken: 'r:doesnotexist', _method: 'GET' });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 209, error: 'Invalid session token' });
});

test('_context is accepted and ignored by plain finds', async () => {
  const res = await env(`/classes/${C}`, { ...JS(), _method: 'GET', _context: { a: 1 }, where: { n: 1 } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.results.map((o) => o.objectId), [ids[0]]);
});

test('the envelope also works with Content-Type application/json', async () => {
  const res = await env(`/classes/${C}`, { ...JS(), _method: 'GET', where: { n: 3 } }, 'application/json');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.results.map((o) => o.objectId), [ids[2]]);
});

test('/batch through the envelope', async () => {
  const prefix = new URL(server.serverURL).pathname;
  const res = await env('/batch', { ...JS(), requests: [{ method: 'GET', path: `${prefix}/classes/${C}/${ids[0]}` }] });
  assert.equal(res.status, 200);
  assert.deepEqual(stripMeta(res.body[0].success), { n: 1, s: 'a' });
});

test('malformed text/plain body: 400 {"error":…}', async () => {
  const res = await env(`/classes/${C}`, '{bad');
  assert.equal(res.status, 400);
  assert.deepEqual(Object.keys(res.body), ['error']);
});

const ALLOW_HEADERS = 'X-Parse-Master-Key, X-Parse-REST-API-Key, X-Parse-Javascript-Key, X-Parse-Application-Id, X-Parse-Client-Version, X-Parse-Session-Token, X-Requested-With, X-Parse-Revocable-Session, X-Parse-Request-Id, Content-Type, Pragma, Cache-Control';
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET,PUT,POST,DELETE,OPTIONS',
  'access-control-allow-headers': ALLOW_HEADERS,
  'access-control-expose-headers': 'X-Parse-Job-Status-Id, X-Parse-Push-Status-Id',
};
const corsOf = (h) => Object.fromEntries(Object.keys(CORS).map((k) => [k, h.get(k)]));

test('CORS preflight: OPTIONS answers 200 with the fixed allow lists', async () => {
  const res = await fetchRetry(`${server.serverURL}/classes/${C}`, {
    method: 'OPTIONS',
    headers: { Origin: 'http://example.com', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'X-Parse-Application-Id, Content-Type, X-Custom' },
  });
  assert.equal(res.status, 200);
  assert.deepEqual(corsOf(res.headers), CORS);
  // no credentials needed for a preflight
  const bare = await fetchRetry(`${server.serverURL}/classes/${C}`, { method: 'OPTIONS' });
  assert.equal(bare.status, 200);
  assert.deepEqual(corsOf(bare.headers), CORS);
});

test('CORS headers on normal responses (success, error, 403, /health)', async () => {
  let res = await fetchRetry(`${server.serverURL}/classes/${C}`, { headers: { Origin: 'http://example.com', 'X-Parse-Application-Id': server.appId, 'X-Parse-REST-API-Key': server.restKey } });
  assert.equal(res.status, 200);
  assert.deepEqual(corsOf(res.headers), CORS);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  res = await fetchRetry(`${server.serverURL}/classes/${C}/aaaaaaaaaa`, { headers: { 'X-Parse-Application-Id': server.appId, 'X-Parse-REST-API-Key': server.restKey } });
  assert.equal(res.status, 404);
  assert.deepEqual(corsOf(res.headers), CORS);
  res = await fetchRetry(`${server.serverURL}/classes/${C}`, { headers: { 'X-Parse-Application-Id': 'wrong' } });
  assert.equal(res.status, 403);
  assert.deepEqual(corsOf(res.headers), CORS);
  res = await fetchRetry(`${server.serverURL}/health`, { headers: { Origin: 'http://example.com' } });
  assert.deepEqual(corsOf(res.headers), CORS);
});
