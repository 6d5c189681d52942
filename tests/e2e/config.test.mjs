// /config (global config params), /health, /serverInfo.
// The oracle's config is global and shared across runs: tests only look at their own param names.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, sdk, uniqueClass } from '../lib/harness.mjs';
import { fetchRetry } from '../lib/util.mjs';

let server, r;
before(async () => { server = await startServer(); r = rest(server); });
after(async () => { await server.stop(); });

const name = (p) => uniqueClass(p); // unique param names, same generator as classes

test('GET /config answers {params:{…}} to the REST key', async () => {
  const res = await r('GET', '/config');
  assert.equal(res.status, 200);
  assert.equal(typeof res.body.params, 'object');
  assert.ok(!Array.isArray(res.body.params));
  for (const k of Object.keys(res.body)) assert.ok(['params', 'masterKeyOnly'].includes(k), k);
});

test('PUT /config (master) answers {result:true}; values of every JSON type round-trip', async () => {
  const a = name('cfgNum');
  const b = name('cfgObj');
  const c = name('cfgDate');
  const d = name('cfgStr');
  const params = {
    [a]: 1.5, [b]: { x: [1, 'two', { three: true }] },
    [c]: { __type: 'Date', iso: '2020-01-01T00:00:00.000Z' }, [d]: 'hello',
  };
  const res = await r('PUT', '/config', { master: true, body: { params } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { result: true });
  const got = await r('GET', '/config');
  for (const [k, v] of Object.entries(params)) assert.deepEqual(got.body.params[k], v, k);
  // a later PUT merges: other params stay
  const e = name('cfgLater');
  await r('PUT', '/config', { master: true, body: { params: { [e]: false, [a]: 2 } } });
  const again = await r('GET', '/config');
  assert.equal(again.body.params[a], 2);
  assert.equal(again.body.params[e], false);
  assert.deepEqual(again.body.params[b], params[b]);
});

test('PUT /config without the master key: 403 {"error":"Permission denied"}', async () => {
  const k = name('cfgNope');
  const res = await r('PUT', '/config', { body: { params: { [k]: 1 } } });
  assert.equal(res.status, 403);
  assert.deepEqual(res.body, { error: 'Permission denied' });
  const got = await r('GET', '/config', { master: true });
  assert.ok(!(k in got.body.params));
});

test('masterKeyOnly params are hidden from the REST key and shown to the master key', async () => {
  const pub = name('cfgPub');
  const secret = name('cfgSecret');
  const res = await r('PUT', '/config', {
    master: true, body: { params: { [pub]: 'p', [secret]: 's' }, masterKeyOnly: { [secret]: true } },
  });
  assert.deepEqual(res.body, { result: true });
  const asRest = await r('GET', '/config');
  assert.equal(asRest.body.params[pub], 'p');
  assert.ok(!(secret in asRest.body.params));
  assert.ok(!(secret in (asRest.body.masterKeyOnly ?? {})), 'secret flag not revealed');
  const asMaster = await r('GET', '/config', { master: true });
  assert.equal(asMaster.body.params[secret], 's');
  assert.equal(asMaster.body.params[pub], 'p');
  assert.equal(asMaster.body.masterKeyOnly[secret], true);
  assert.equal(asMaster.body.masterKeyOnly[pub], false, 'params set alongside get an explicit false');
});

test('Delete op removes a param', async () => {
  const k = name('cfgDel');
  await r('PUT', '/config', { master: true, body: { params: { [k]: 1 } } });
  const res = await r('PUT', '/config', { master: true, body: { params: { [k]: { __op: 'Delete' } } } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { result: true });
  const got = await r('GET', '/config', { master: true });
  assert.ok(!(k in got.body.params));
});

test('GET /config without an application id: 403 {"error":"unauthorized"}', async () => {
  const res = await fetchRetry(`${server.serverURL}/config`);
  assert.equal(res.status, 403);
  assert.deepEqual(await res.json(), { error: 'unauthorized' });
});

test('SDK Parse.Config.get sees the params', async () => {
  const Parse = await sdk(server);
  const k = name('cfgSdk');
  await r('PUT', '/config', { master: true, body: { params: { [k]: [1, 2] } } });
  const cfg = await Parse.Config.get();
  assert.deepEqual(cfg.get(k), [1, 2]);
});

test('GET /health: 200 {"status":"ok"} without any keys', async () => {
  const res = await fetchRetry(`${server.serverURL}/health`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok' });
  const withKeys = await r('GET', '/health');
  assert.deepEqual(withKeys.body, { status: 'ok' });
});

test('GET /serverInfo: master only; features + parseServerVersion', async () => {
  const denied = await r('GET', '/serverInfo');
  assert.equal(denied.status, 403);
  assert.deepEqual(denied.body, { error: 'Permission denied' });
  const res = await r('GET', '/serverInfo', { master: true });
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.body).sort(), ['features', 'parseServerVersion']);
  assert.equal(typeof res.body.parseServerVersion, 'string');
  assert.deepEqual(Object.keys(res.body.features).sort(), ['cloudCode', 'globalConfig', 'hooks', 'logs', 'push', 'schemas', 'settings']);
  assert.deepEqual(res.body.features.globalConfig, { create: true, read: true, update: true, delete: true });
  assert.deepEqual(Object.keys(res.body.features.schemas).sort(), [
    'addClass', 'addField', 'clearAllDataFromClass', 'editClassLevelPermissions', 'editPointerPermissions',
    'exportClass', 'removeClass', 'removeField',
  ]);
});
