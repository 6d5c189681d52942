// The basalt process itself: start-up with no arguments, Parse Server's option names and
// environment, start-up failures that name their cause, and durability across kill -9.
// Basalt-only (the oracle is a different program).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { startServer, rest, uniqueClass, target, dbKind } from '../lib/harness.mjs';

const skip = target !== 'basalt' && 'tests the basalt binary itself';
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = process.env.BASALT_BIN ?? join(root, 'target', 'debug', 'basalt');

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Runs basalt with args in cwd; resolves when /health answers (or the process exits). */
function run(args, { cwd, env = {}, port } = {}) {
  const child = spawn(bin, args, { cwd, env: { ...process.env, RUST_LOG: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));
  const ready = (async () => {
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline && child.exitCode === null) {
      try { if ((await fetch(`http://127.0.0.1:${port}/parse/health`)).ok) return true; } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 25));
    }
    return false;
  })();
  return { child, exited, ready, output: () => out };
}

test('no arguments: SQLite under ./data, a generated master key printed once and kept', { skip }, async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'basalt-default-'));
  try {
    const port = await freePort();
    const first = run(['--port', String(port)], { cwd, port });
    assert.ok(await first.ready, first.output());
    const key = readFileSync(join(cwd, 'data', 'master.key'), 'utf8').trim();
    assert.match(key, /^[A-Za-z0-9]{32}$/);
    assert.ok(first.output().includes(key), 'the generated key is printed at first start');
    assert.ok(existsSync(join(cwd, 'data', 'basalt.db')));
    // The default app id is "basalt"; the printed key is the master key.
    const res = await fetch(`http://127.0.0.1:${port}/parse/schemas`, { headers: { 'X-Parse-Application-Id': 'basalt', 'X-Parse-Master-Key': key } });
    assert.equal(res.status, 200);
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0, 'SIGTERM shuts down cleanly');
    const second = run(['--port', String(port)], { cwd, port });
    assert.ok(await second.ready, second.output());
    assert.ok(!second.output().includes(key), 'the key is printed only once');
    second.child.kill('SIGTERM');
    await second.exited;
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('a Parse Server start-up line and environment start basalt', { skip }, async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'basalt-parse-'));
  try {
    const port = await freePort();
    const p = run(['--appId', 'myApp', '--masterKey', 'mk', '--databaseURI', `sqlite://${join(cwd, 'x.db')}`,
      '--mountPath', '/parse', '--serverURL', `http://localhost:${port}/parse`, '--port', String(port),
      '--startLiveQueryServer', '--liveQuery', '{"classNames":["Msg"]}'], { cwd, port });
    assert.ok(await p.ready, p.output());
    const created = await fetch(`http://127.0.0.1:${port}/parse/classes/Msg`, {
      method: 'POST', headers: { 'X-Parse-Application-Id': 'myApp', 'X-Parse-Master-Key': 'mk', 'Content-Type': 'application/json' }, body: '{"t":"hi"}',
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location').startsWith(`http://localhost:${port}/parse/classes/Msg/`), true);
    p.child.kill('SIGTERM');
    await p.exited;

    const port2 = await freePort();
    const e = run([], { cwd, port: port2, env: {
      PARSE_SERVER_APPLICATION_ID: 'envApp', PARSE_SERVER_MASTER_KEY: 'envKey', PORT: String(port2),
      PARSE_SERVER_DATABASE_URI: `sqlite://${join(cwd, 'x.db')}`,
    } });
    assert.ok(await e.ready, e.output());
    const got = await fetch(`http://127.0.0.1:${port2}/parse/classes/Msg`, { headers: { 'X-Parse-Application-Id': 'envApp', 'X-Parse-Master-Key': 'envKey' } });
    assert.equal((await got.json()).results.length, 1, 'same database, environment names');
    e.child.kill('SIGTERM');
    await e.exited;
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('bad options and unreachable databases fail at start and say which', { skip }, async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'basalt-bad-'));
  // Cloud code that does not load stops the start too, with the script's error and line.
  writeFileSync(join(cwd, 'broken.js'), "Parse.Cloud.define('a', () => 1);\nParse.Cloud.define('b', () => {;\n");
  writeFileSync(join(cwd, 'throws.js'), "throw new Error('no database at load time');\n");
  try {
    const cases = [
      [['--no-such-option'], /--no-such-option/],
      [['--port', 'http'], /--port/],
      [['--masterKey', 'm', '--databaseURI', 'mysql://x/y'], /--databaseURI/],
      [['--masterKey', 'm', '--mountPath', 'parse'], /--mountPath/],
      [['--masterKey', 'm', '--liveQuery', '{not json'], /--liveQuery/],
      [['--masterKey', 'm', '--liveQuery', '{"redisURL":"http://cache"}'], /redisURL/],
      [['--masterKey', 'm', '--cloudLimits', '{"cpu":1}'], /--cloudLimits: unknown field `cpu`/],
      [['--masterKey', 'm', '--jobSchedules', '[{"job":"x","cron":"61 * * * *"}]'], /--jobSchedules: `61 \* \* \* \*`: `61` is outside 0-59/],
      [['--masterKey', 'm', '--cloud', join(cwd, 'missing.js')], /--cloud: .*missing\.js does not exist/],
      [['--masterKey', 'm', '--cloud', join(cwd, 'broken.js')], /--cloud .*broken\.js: SyntaxError[\s\S]*at broken\.js:\d/],
      [['--masterKey', 'm', '--cloud', join(cwd, 'throws.js')], /--cloud .*throws\.js: .*no database at load time/],
      [['--masterKey', 'm', '--port', '0', '--databaseURI', 'postgres://postgres@127.0.0.1:1/nothing'], /127\.0\.0\.1:1\/nothing/],
    ];
    for (const [args, message] of cases) {
      const p = run(args, { cwd, port: 1 });
      const code = await p.exited;
      assert.notEqual(code, 0, args.join(' '));
      assert.match(p.output(), message, args.join(' '));
    }
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('acknowledged writes survive kill -9', { skip }, async () => {
  const server = await startServer();
  try {
    const r = rest(server);
    const C = uniqueClass('Durable');
    const ids = [];
    for (let i = 0; i < 40; i++) {
      const res = await r('POST', `/classes/${C}`, { body: { i }, master: true });
      assert.equal(res.status, 201);
      ids.push(res.body.objectId);
    }
    const up = await r('PUT', `/classes/${C}/${ids[0]}`, { body: { i: { __op: 'Increment', amount: 100 } }, master: true });
    assert.equal(up.status, 200);
    await server.kill9();
    await server.restart();
    const res = await r('GET', `/classes/${C}?limit=1000&count=1`, { master: true });
    assert.equal(res.body.count, 40);
    assert.deepEqual(new Set(res.body.results.map((o) => o.objectId)), new Set(ids));
    assert.equal(res.body.results.find((o) => o.objectId === ids[0]).i, 100);
  } finally {
    await server.stop();
  }
});

// Basalt keeps its PostgreSQL connections between requests without a round trip to check them
// (src/storage/pg_conns.rs): this is what happens when the database drops them all, as a
// restart does. A read is repeated once on a fresh connection; a connection that sat idle for
// more than half a second is checked before use; after one dead connection none of the other
// idle ones is used again.
test('PostgreSQL connections the database dropped are replaced, not used', { skip: skip || (dbKind !== 'postgres' && 'PostgreSQL only') }, async () => {
  const server = await startServer();
  const dropClients = () => {
    const db = new URL(server.dbURI).pathname.slice(1);
    const out = execFileSync('psql', ['-X', '-q', '-At', server.dbURI.replace(/\/[^/]+$/, '/postgres'), '-c',
      `select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = '${db}' and application_name = 'basalt'`]);
    return Number(out.toString().trim());
  };
  try {
    const r = rest(server);
    const C = uniqueClass('Dropped');
    const made = await r('POST', `/classes/${C}`, { body: { n: 1 }, master: true });
    assert.equal(made.status, 201);
    // Several requests at once, so several connections are idle when they are dropped.
    const reads = await Promise.all([...Array(6)].map(() => r('GET', `/classes/${C}/${made.body.objectId}`, { master: true })));
    assert.deepEqual(reads.map((x) => x.status), [200, 200, 200, 200, 200, 200]);

    assert.ok(dropClients() >= 2, 'the server held connections to drop');
    const read = await r('GET', `/classes/${C}/${made.body.objectId}`, { master: true });
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.equal(read.body.n, 1);
    const write = await r('PUT', `/classes/${C}/${made.body.objectId}`, { body: { n: 2 }, master: true });
    assert.equal(write.status, 200, JSON.stringify(write.body));

    // Dropped again, then left alone for longer than a connection is trusted without a check:
    // the first request, a write (never repeated), finds a live connection.
    assert.ok(dropClients() >= 1);
    await new Promise((res) => setTimeout(res, 700));
    const late = await r('PUT', `/classes/${C}/${made.body.objectId}`, { body: { n: 3 }, master: true });
    assert.equal(late.status, 200, JSON.stringify(late.body));
    const final = await r('GET', `/classes/${C}/${made.body.objectId}`, { master: true });
    assert.equal(final.body.n, 3);
  } finally {
    await server.stop();
  }
});
