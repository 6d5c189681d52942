// Starts the server under test and hands tests what they need to talk to it.
//
// BASALT_TARGET=basalt (default) spawns the basalt binary (BASALT_BIN, default
// target/debug/basalt) on a free port with a fresh database per call:
//   BASALT_TEST_DB=sqlite (default): a new file in a temporary directory;
//   BASALT_TEST_DB=postgres: a new database on BASALT_TEST_PG (default
//   postgres://postgres@127.0.0.1:5432), dropped again at stop().
// BASALT_TARGET=oracle talks to a Parse Server started by ../shared/oracle/parse-server.sh
// (ORACLE_URL, default http://127.0.0.1:1338/parse). The oracle's database is shared, so
// tests must use the class names from uniqueClass().
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const target = process.env.BASALT_TARGET ?? 'basalt';
export const dbKind = process.env.BASALT_TEST_DB ?? 'sqlite';
const pgBase = process.env.BASALT_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';

/** A class name no other test (or earlier run against the shared oracle) uses. */
export function uniqueClass(prefix = 'T') {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function psql(args) {
  return execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

async function waitHealthy(url, child, log) {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`basalt exited with ${child.exitCode}:\n${log.join('')}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`basalt did not become healthy:\n${log.join('')}`);
}

/**
 * Starts a server and returns { serverURL, appId, masterKey, javascriptKey, restKey, dbURI, stop, restart, kill9, log }.
 * extraArgs are passed to basalt (ignored for the oracle). shareDatabaseOf: another server whose
 * database this one uses too (a second node).
 */
export async function startServer({ extraArgs = [], env = {}, shareDatabaseOf } = {}) {
  if (target === 'oracle') {
    return {
      serverURL: process.env.ORACLE_URL ?? 'http://127.0.0.1:1338/parse',
      appId: 'oracle', masterKey: 'oraclemaster', javascriptKey: 'oraclejs', restKey: 'oraclerest',
      async stop() {}, log: [],
    };
  }
  const bin = process.env.BASALT_BIN ?? join(root, 'target', 'debug', 'basalt');
  const port = await freePort();
  let dbURI, cleanup;
  if (shareDatabaseOf) {
    // A second node on the first one's database; the first one drops it.
    dbURI = shareDatabaseOf.dbURI;
    cleanup = () => {};
  } else if (dbKind === 'postgres') {
    const name = `basalt_test_${randomBytes(6).toString('hex')}`;
    psql([`${pgBase}/postgres`, '-c', `create database ${name}`]);
    dbURI = `${pgBase}/${name}`;
    cleanup = () => { try { psql([`${pgBase}/postgres`, '-c', `drop database if exists ${name} with (force)`]); } catch { /* best effort */ } };
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'basalt-test-'));
    dbURI = `sqlite://${join(dir, 'basalt.db')}`;
    cleanup = () => rmSync(dir, { recursive: true, force: true });
  }
  const cfg = {
    serverURL: `http://127.0.0.1:${port}/parse`,
    appId: 'test', masterKey: 'testmaster', javascriptKey: 'testjs', restKey: 'testrest', dbURI, port,
  };
  const args = ['--appId', cfg.appId, '--masterKey', cfg.masterKey, '--javascriptKey', cfg.javascriptKey,
    '--restAPIKey', cfg.restKey, '--databaseURI', dbURI, '--port', String(port), '--serverURL', cfg.serverURL, ...extraArgs];
  const log = [];
  let child;
  const launch = async () => {
    child = spawn(bin, args, { env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => log.push(d.toString()));
    child.stderr.on('data', (d) => log.push(d.toString()));
    await waitHealthy(cfg.serverURL, child, log);
  };
  await launch();
  const exited = () => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
  return {
    ...cfg, log,
    /** Kills the process with SIGKILL (no clean shutdown) and waits for it to be gone. */
    async kill9() { child.kill('SIGKILL'); await exited(); },
    /** Starts the process again on the same database and port. */
    async restart() { await launch(); },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) { child.kill('SIGTERM'); await exited(); }
      cleanup();
    },
  };
}

/**
 * Starts Basalt with cloud code written to a fresh temporary folder: `files` maps paths to text
 * (a string is main.js alone), `entry` names the --cloud file. stop() removes the folder too.
 */
export async function startWithCloud(files, { entry = 'main.js', extraArgs = [], env = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'basalt-cloud-'));
  for (const [path, text] of Object.entries(typeof files === 'string' ? { [entry]: files } : files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  let server;
  try {
    server = await startServer({ extraArgs: ['--cloud', join(dir, entry), ...extraArgs], env });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    ...server,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Raw REST helper: rest(server)(method, path, { body, headers, master, session }) → { status, body, headers }.
 * Sends the header form of a request (X-Parse-Application-Id, X-Parse-REST-API-Key / X-Parse-Master-Key).
 */
export function rest(server) {
  return async (method, path, { body, headers = {}, master = false, raw } = {}) => {
    const h = { 'X-Parse-Application-Id': server.appId, ...headers };
    if (master) h['X-Parse-Master-Key'] = server.masterKey;
    else if (!('X-Parse-REST-API-Key' in h) && !('X-Parse-Javascript-Key' in h)) h['X-Parse-REST-API-Key'] = server.restKey;
    let payload;
    if (raw !== undefined) payload = raw;
    else if (body !== undefined) { payload = JSON.stringify(body); h['Content-Type'] ??= 'application/json'; }
    // A server that answers before reading the request body (Parse's 403s do) may close or reset
    // the connection while the body is still being sent, or leave a pooled socket half-closed;
    // such a request was not processed, so retry it (a couple of times) on a fresh connection.
    let res;
    for (let attempt = 0; ; attempt++) {
      try {
        res = await fetch(`${server.serverURL}${path}`, { method, headers: h, body: payload });
        break;
      } catch (e) {
        if (attempt >= 2 || !['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'].includes(e?.cause?.code)) throw e;
        if (process.env.HARNESS_DEBUG) console.error('harness retry', method, path, e?.cause?.code, e?.cause?.message);
      }
    }
    const text = await res.text();
    let json;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = text; }
    return { status: res.status, body: json, headers: res.headers };
  };
}

/** A fresh Parse JS SDK instance (parse/node) pointed at the server. */
export async function sdk(server) {
  const { default: Parse } = await import('parse/node');
  Parse.initialize(server.appId, server.javascriptKey, server.masterKey);
  Parse.serverURL = server.serverURL;
  return Parse;
}
