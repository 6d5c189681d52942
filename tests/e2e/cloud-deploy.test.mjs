// Replacing cloud code without a restart (Basalt only; Parse Server needs a restart): the file
// changing under --cloudWatch, `basalt deploy`, and POST /cloud_code/deploy. New invocations run
// the new code, running ones finish on the old, and code that does not load is refused while
// the running code stays.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, rest, target, dbKind } from '../lib/harness.mjs';

const skip = target !== 'basalt' && 'Parse Server cannot replace cloud code without a restart';
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = process.env.BASALT_BIN ?? join(root, 'target', 'debug', 'basalt');

// `slow` waits (querying, so it yields to the server) until a Gate object exists.
const code = (version) => `
Parse.Cloud.define('version', () => '${version}');
Parse.Cloud.define('slow', async () => {
  const start = Date.now();
  while (Date.now() - start < 15000) {
    if (await new Parse.Query('Gate').count({ useMasterKey: true })) return '${version} (slow)';
  }
  return 'gate never opened';
});
`;

let dir, server, r;
before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'basalt-deploy-'));
  writeFileSync(join(dir, 'main.js'), code('v1'));
  server = await startServer({ extraArgs: ['--cloud', join(dir, 'main.js'), '--cloudWatch'] });
  r = rest(server);
});
after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const version = async () => (await r('POST', '/functions/version', { body: {} })).body.result;

async function eventually(what, check) {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.fail(`never saw ${what}`);
}

test('a changed file is loaded without a restart; running calls finish on the old code', { skip }, async () => {
  assert.equal(await version(), 'v1');
  const slow = r('POST', '/functions/slow', { body: {} });
  await new Promise((res) => setTimeout(res, 100));
  writeFileSync(join(dir, 'main.js'), code('v2'));
  await eventually('v2', async () => (await version()) === 'v2');
  await r('POST', '/classes/Gate', { body: {}, master: true });
  assert.deepEqual((await slow).body, { result: 'v1 (slow)' });
  assert.deepEqual((await r('POST', '/functions/slow', { body: {} })).body, { result: 'v2 (slow)' });
});

test('code that does not load is refused and the running code stays', { skip }, async () => {
  writeFileSync(join(dir, 'main.js'), "Parse.Cloud.define('version', () => {");
  await eventually('the refusal in the log', () => server.log.join('').includes('not reloaded'));
  assert.equal(await version(), 'v2');
  writeFileSync(join(dir, 'main.js'), code('v2b'));
  await eventually('v2b', async () => (await version()) === 'v2b');
});

test('basalt deploy sends the code to a running server', { skip }, async () => {
  const other = mkdtempSync(join(tmpdir(), 'basalt-deploy-src-'));
  try {
    writeFileSync(join(other, 'main.js'), code('v3'));
    const p = spawn(bin, ['--cloud', join(other, 'main.js'), '--serverURL', server.serverURL,
      '--appId', server.appId, '--masterKey', server.masterKey, 'deploy'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const exit = await new Promise((res) => p.on('exit', res));
    assert.equal(exit, 0, out);
    const answer = JSON.parse(out);
    assert.deepEqual(answer.functions.sort(), ['slow', 'version']);
    assert.match(answer.version, /^[0-9a-f]{16}$/);
    assert.equal(await version(), 'v3');
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('POST /cloud_code/deploy: master key only, refuses bad bundles, starts code on a server without any', { skip }, async () => {
  const bundle = { entry: 'main.js', files: { 'main.js': "Parse.Cloud.define('hi', () => require('./lib/x').x);", 'lib/x.js': 'exports.x = 42;' } };
  assert.equal((await r('POST', '/cloud_code/deploy', { body: bundle })).status, 403);
  const bad = await r('POST', '/cloud_code/deploy', { body: { entry: 'main.js', files: { 'main.js': 'syntax error(' } }, master: true });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 141);
  assert.match(bad.body.error, /^cloud code not deployed: SyntaxError/);
  const escape = await r('POST', '/cloud_code/deploy', { body: { entry: 'main.js', files: { 'main.js': '', '../x.js': '' } }, master: true });
  assert.deepEqual([escape.status, escape.body.code], [400, 107]);

  const bare = await startServer();
  try {
    const b = rest(bare);
    assert.deepEqual((await b('POST', '/functions/hi', { body: {} })).body, { code: 141, error: 'Invalid function: "hi"' });
    const ok = await b('POST', '/cloud_code/deploy', { body: bundle, master: true });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.functions, ['hi']);
    assert.deepEqual((await b('POST', '/functions/hi', { body: {} })).body, { result: 42 });
  } finally {
    await bare.stop();
  }
});

// A deploy is kept in the database: every node on it runs the new code, a node started later
// runs it too (unless its own files changed after the deploy), and it survives a restart.
test('a deploy reaches every node; a node started later runs it unless its files are newer', { skip: skip || (dbKind !== 'postgres' && 'several nodes need PostgreSQL') }, async () => {
  const src = mkdtempSync(join(tmpdir(), 'basalt-nodes-'));
  const nodes = [];
  const node = async (opts) => { const n = await startServer(opts); nodes.push(n); return n; };
  const versionOf = async (n) => (await rest(n)('POST', '/functions/version', { body: {} })).body.result;
  try {
    writeFileSync(join(src, 'main.js'), code('n1'));
    const cloud = ['--cloud', join(src, 'main.js')];
    const a = await node({ extraArgs: cloud });
    const b = await node({ extraArgs: cloud, shareDatabaseOf: a });
    assert.deepEqual([await versionOf(a), await versionOf(b)], ['n1', 'n1']);

    const deployed = await rest(a)('POST', '/cloud_code/deploy', { body: { entry: 'main.js', files: { 'main.js': code('n2') } }, master: true });
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    assert.equal(await versionOf(a), 'n2');
    let seen;
    for (let i = 0; i < 100 && (seen = await versionOf(b)) !== 'n2'; i++) await new Promise((res) => setTimeout(res, 100));
    assert.equal(seen, 'n2', 'the other node runs the deployed code');

    // Its files are older than the deploy: the deploy wins.
    const c = await node({ extraArgs: cloud, shareDatabaseOf: a });
    assert.equal(await versionOf(c), 'n2');
    // With no --cloud at all, the deploy is what it runs.
    const bare = await node({ shareDatabaseOf: a });
    assert.equal(await versionOf(bare), 'n2');
    // Files changed after the deploy: they win.
    await new Promise((res) => setTimeout(res, 20));
    writeFileSync(join(src, 'main.js'), code('n3'));
    const d = await node({ extraArgs: cloud, shareDatabaseOf: a });
    assert.equal(await versionOf(d), 'n3');
  } finally {
    for (const n of nodes.reverse()) await n.stop();
    rmSync(src, { recursive: true, force: true });
  }
});

test('a deploy survives a restart', { skip }, async () => {
  const src = mkdtempSync(join(tmpdir(), 'basalt-kept-'));
  writeFileSync(join(src, 'main.js'), code('k1'));
  const s = await startServer({ extraArgs: ['--cloud', join(src, 'main.js')] });
  try {
    const deployed = await rest(s)('POST', '/cloud_code/deploy', { body: { entry: 'main.js', files: { 'main.js': code('k2') } }, master: true });
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    await s.kill9();
    await s.restart();
    assert.equal((await rest(s)('POST', '/functions/version', { body: {} })).body.result, 'k2');
  } finally {
    await s.stop();
    rmSync(src, { recursive: true, force: true });
  }
});
