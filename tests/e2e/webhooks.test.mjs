// Parse's webhooks: /hooks/functions and /hooks/triggers (master key), and functions and
// triggers served by an outside URL, which gets the request as JSON and answers
// {"success": …} or {"error": …}. Checked against the oracle where the oracle can reach the
// test's webhook server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startServer, rest, target, uniqueClass } from '../lib/harness.mjs';

let server, r, hook, hookURL;
const seen = [];
const answers = new Map();
before(async () => {
  server = await startServer({ extraArgs: ['--webhookKey', 'wh-secret'] });
  r = rest(server);
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const json = JSON.parse(body);
      seen.push({ path: req.url, key: req.headers['x-parse-webhook-key'], body: json });
      const answer = answers.get(req.url)?.(json) ?? { success: null };
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise((res) => hook.listen(0, '127.0.0.1', res));
  hookURL = `http://127.0.0.1:${hook.address().port}`;
});
after(async () => {
  hook?.close();
  await server.stop();
});

test('the hooks API: create, list, get, update and delete, with Parse errors', async () => {
  const name = uniqueClass('fn');
  const url = `${hookURL}/fn`;
  assert.equal((await r('POST', '/hooks/functions', { body: { functionName: name, url } })).status, 403);
  const created = await r('POST', '/hooks/functions', { body: { functionName: name, url }, master: true });
  assert.deepEqual([created.status, created.body], [200, { functionName: name, url }]);
  const again = await r('POST', '/hooks/functions', { body: { functionName: name, url }, master: true });
  assert.deepEqual([again.status, again.body], [400, { code: 143, error: `function name: ${name} already exists` }]);
  const bad = await r('POST', '/hooks/triggers', { body: { className: 'X', triggerName: 'beforeNothing', url }, master: true });
  assert.deepEqual([bad.status, bad.body], [400, { code: 143, error: 'invalid hook declaration' }]);
  assert.deepEqual((await r('GET', `/hooks/functions/${name}`, { master: true })).body, { functionName: name, url });
  assert.ok((await r('GET', '/hooks/functions', { master: true })).body.some((h) => h.functionName === name));
  const none = await r('GET', '/hooks/functions/nope_not_there', { master: true });
  assert.deepEqual([none.status, none.body], [400, { code: 143, error: 'no function named: nope_not_there is defined' }]);
  const moved = await r('PUT', `/hooks/functions/${name}`, { body: { url: `${hookURL}/moved` }, master: true });
  assert.deepEqual(moved.body, { functionName: name, url: `${hookURL}/moved` });
  assert.deepEqual((await r('PUT', `/hooks/functions/${name}`, { body: { __op: 'Delete' }, master: true })).body, {});
  assert.equal((await r('GET', `/hooks/functions/${name}`, { master: true })).status, 400);
});

test('a function webhook gets the request and answers the call', async () => {
  const name = uniqueClass('fn');
  answers.set('/hello', (b) => (b.params.name === 'fail' ? { error: 'no thanks' } : { success: `hi ${b.params.name}` }));
  await r('POST', '/hooks/functions', { body: { functionName: name, url: `${hookURL}/hello` }, master: true });
  const res = await r('POST', `/functions/${name}`, { body: { name: 'ada' }, headers: { 'X-Parse-Installation-Id': 'inst-9' } });
  assert.deepEqual([res.status, res.body], [200, { result: 'hi ada' }]);
  const call = seen.findLast((s) => s.path === '/hello');
  assert.deepEqual(call.body.params, { name: 'ada' });
  assert.equal(call.body.master, false);
  assert.equal(call.body.functionName, name);
  assert.equal(call.body.installationId, 'inst-9');
  if (target === 'basalt') assert.equal(call.key, 'wh-secret');
  const failed = await r('POST', `/functions/${name}`, { body: { name: 'fail' } });
  assert.deepEqual([failed.status, failed.body], [400, { code: 141, error: 'no thanks' }]);
  await r('PUT', `/hooks/functions/${name}`, { body: { __op: 'Delete' }, master: true });
  assert.deepEqual((await r('POST', `/functions/${name}`, { body: {} })).body, { code: 141, error: `Invalid function: "${name}"` });
});

test('a beforeSave webhook sees the object and changes what is stored', async () => {
  const cls = uniqueClass('Hooked');
  await r('POST', `/schemas/${cls}`, { body: { fields: { name: { type: 'String' } } }, master: true });
  answers.set('/before', (b) => ({ success: { ...b.object, stamped: `by hook (${b.triggerName})` } }));
  await r('POST', '/hooks/triggers', { body: { className: cls, triggerName: 'beforeSave', url: `${hookURL}/before` }, master: true });
  const created = await r('POST', `/classes/${cls}`, { body: { name: 'a' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const call = seen.findLast((s) => s.path === '/before');
  assert.equal(call.body.triggerName, 'beforeSave');
  assert.equal(call.body.object.className, cls);
  assert.equal(call.body.object.name, 'a');
  const stored = await r('GET', `/classes/${cls}/${created.body.objectId}`, { master: true });
  assert.equal(stored.body.stamped, 'by hook (beforeSave)');
  assert.deepEqual((await r('GET', `/hooks/triggers/${cls}/beforeSave`, { master: true })).body,
    { className: cls, triggerName: 'beforeSave', url: `${hookURL}/before` });
  await r('PUT', `/hooks/triggers/${cls}/beforeSave`, { body: { __op: 'Delete' }, master: true });
});
