// The Node and web globals cloud code leans on: timers, process.env (only what --cloudEnv
// names), Buffer, TextEncoder/TextDecoder. Expected values come from Node itself, here in the
// test. Basalt only: Parse Server is Node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWithCloud, rest, target } from '../lib/harness.mjs';

const skip = target !== 'basalt' && 'Parse Server is Node';

const code = `
const runtime = Math.random();
let late = 'not fired';

Parse.Cloud.define('timers', async () => {
  const t0 = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const waited = Date.now() - t0;
  let ticks = 0;
  await new Promise((resolve) => {
    const h = setInterval(() => { if (++ticks === 3) { clearInterval(h); resolve(); } }, 5);
  });
  let cleared = 'not fired';
  clearTimeout(setTimeout(() => { cleared = 'fired'; }, 5));
  const args = await new Promise((resolve) => setTimeout((a, b) => resolve([a, b]), 1, 'x', 2));
  await new Promise((resolve) => setTimeout(resolve, 20));
  return { waited, ticks, cleared, args, unref: typeof setTimeout(() => {}, 1).unref };
});
// A timer still pending when its invocation ends never fires, not even in a later one.
Parse.Cloud.define('leaveTimer', () => { late = 'not fired'; setTimeout(() => { late = 'fired'; }, 10); return runtime; });
Parse.Cloud.define('awaitTimer', async () => {
  late = 'not fired';
  setTimeout(() => { late = 'fired'; }, 10);
  await new Promise((resolve) => setTimeout(resolve, 30));
  return late;
});
Parse.Cloud.define('late', async () => { await new Promise((resolve) => setTimeout(resolve, 50)); return { runtime, late }; });

Parse.Cloud.define('env', () => ({ env: process.env, keys: Object.keys(process.env), node: typeof process.versions }));
Parse.Cloud.define('bytes', (req) => {
  const b = Buffer.from(req.params.text);
  return {
    utf8Length: b.length,
    byteLength: Buffer.byteLength(req.params.text),
    base64: b.toString('base64'),
    base64url: b.toString('base64url'),
    hex: b.toString('hex'),
    roundTrip: Buffer.from(b.toString('base64'), 'base64').toString('utf8'),
    fromHex: Buffer.from('68c3a96c6c6f', 'hex').toString(),
    lenient: Buffer.from(req.params.sloppy, 'base64').toString(),
    json: JSON.stringify(Buffer.from([1, 2, 255])),
    concat: Buffer.concat([Buffer.from('ab'), Buffer.from('cd')]).toString('latin1'),
    slice: Buffer.isBuffer(b.slice(1)) && b.slice(0, 1).toString(),
    equals: Buffer.from('x').equals(Buffer.from('x')),
    encoded: Array.from(new TextEncoder().encode(req.params.text)),
    decoded: new TextDecoder().decode(new Uint8Array(req.params.broken)),
  };
});
Parse.Cloud.define('crypto', (req) => {
  const crypto = require('crypto');
  const { text, key } = req.params;
  const hashes = {};
  for (const alg of ['md5', 'sha1', 'sha256', 'sha384', 'sha512']) {
    hashes[alg] = [crypto.createHash(alg).update(text).digest('hex'), crypto.createHmac(alg, key).update(text).digest('base64')];
  }
  const parts = crypto.createHash('sha256').update('a').update(Buffer.from('b')).update('63', 'hex');
  const copy = parts.copy().update('more').digest('hex');
  const bytes = crypto.randomBytes(32);
  const values = crypto.getRandomValues(new Uint32Array(4));
  let refused = null;
  try { crypto.createHash('whirlpool'); } catch (e) { refused = e.message; }
  return {
    hashes, parts: parts.digest('hex'), copy, same: require('node:crypto') === crypto,
    bytes: [bytes.length, Buffer.isBuffer(bytes), bytes.equals(crypto.randomBytes(32))],
    uuid: crypto.randomUUID(), webUuid: typeof globalThis.crypto.randomUUID(),
    values: values.length, ints: Array.from({ length: 50 }, () => crypto.randomInt(3, 7)),
    safe: [crypto.timingSafeEqual(Buffer.from('ab'), Buffer.from('ab')), crypto.timingSafeEqual(Buffer.from('ab'), Buffer.from('ac'))],
    refused,
  };
});
Parse.Cloud.define('tamper', () => {
  try { Buffer.prototype.toString = () => 'hijacked'; } catch (e) { /* frozen */ }
  try { process.env.INJECTED = 'yes'; } catch (e) { /* frozen */ }
  return Buffer.from('ok').toString() + ' ' + String(process.env.INJECTED);
});
`;

let server, r;
before(async () => {
  if (skip) return;
  server = await startWithCloud(code, {
    extraArgs: ['--cloudEnv', 'BASALT_TEST_SHOWN, BASALT_TEST_UNSET', '--cloudLimits', '{"workers":1}'],
    env: { BASALT_TEST_SHOWN: 'shown', BASALT_TEST_HIDDEN: 'hidden' },
  });
  r = rest(server);
});
after(async () => { await server?.stop(); });

const run = async (name, params = {}) => {
  const res = await r('POST', `/functions/${name}`, { body: params });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.result;
};

test('setTimeout, setInterval and clearTimeout work within an invocation', { skip }, async () => {
  const t = await run('timers');
  assert.ok(t.waited >= 45, `waited ${t.waited} ms`);
  assert.deepEqual({ ...t, waited: 0 }, { waited: 0, ticks: 3, cleared: 'not fired', args: ['x', 2], unref: 'function' });
});

test('a timer left pending when its invocation ends never fires later', { skip }, async () => {
  // The mechanism works while the invocation lasts...
  assert.equal(await run('awaitTimer'), 'fired');
  // ...and a timer it leaves behind does not fire in the next invocation of the same runtime.
  let checked = false;
  for (let i = 0; i < 5 && !checked; i++) {
    const runtime = await run('leaveTimer');
    const seen = await run('late');
    if (seen.runtime !== runtime) continue;
    assert.equal(seen.late, 'not fired');
    checked = true;
  }
  assert.ok(checked, 'never ran twice in the same runtime');
});

test('process.env holds only the variables --cloudEnv names, and is not Node', { skip }, async () => {
  assert.deepEqual(await run('env'), { env: { BASALT_TEST_SHOWN: 'shown' }, keys: ['BASALT_TEST_SHOWN'], node: 'undefined' });
});

test('Buffer, TextEncoder and TextDecoder answer as Node does', { skip }, async () => {
  const text = 'héllo wörld ✓ 😀';
  const sloppy = ' aGV sbG8-_w ';
  const broken = [0xe2, 0x9c, 0x93, 0xff, 0x41, 0xc3];
  const b = Buffer.from(text);
  assert.deepEqual(await run('bytes', { text, sloppy, broken }), {
    utf8Length: b.length,
    byteLength: Buffer.byteLength(text),
    base64: b.toString('base64'),
    base64url: b.toString('base64url'),
    hex: b.toString('hex'),
    roundTrip: text,
    fromHex: Buffer.from('68c3a96c6c6f', 'hex').toString(),
    lenient: Buffer.from(sloppy, 'base64').toString(),
    json: JSON.stringify(Buffer.from([1, 2, 255])),
    concat: 'abcd',
    slice: 'h',
    equals: true,
    encoded: Array.from(new TextEncoder().encode(text)),
    decoded: new TextDecoder().decode(new Uint8Array(broken)),
  });
});

test("require('crypto') hashes and HMACs as Node does, with random bytes, UUIDs and a constant-time compare", { skip }, async () => {
  const crypto = await import('node:crypto');
  const text = 'héllo ✓';
  const key = 'secret key';
  const c = await run('crypto', { text, key });
  const hashes = {};
  for (const alg of ['md5', 'sha1', 'sha256', 'sha384', 'sha512']) {
    hashes[alg] = [crypto.createHash(alg).update(text).digest('hex'), crypto.createHmac(alg, key).update(text).digest('base64')];
  }
  const parts = crypto.createHash('sha256').update('a').update(Buffer.from('b')).update('63', 'hex');
  assert.deepEqual(c.hashes, hashes);
  assert.equal(c.copy, parts.copy().update('more').digest('hex'));
  assert.equal(c.parts, parts.digest('hex'));
  assert.equal(c.same, true);
  assert.deepEqual(c.bytes, [32, true, false]);
  assert.match(c.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(c.webUuid, 'string');
  assert.equal(c.values, 4);
  assert.ok(c.ints.every((n) => Number.isInteger(n) && n >= 3 && n < 7), JSON.stringify(c.ints));
  assert.deepEqual(c.safe, [true, false]);
  // Both refuse an unknown algorithm (Node's message is OpenSSL's and varies by version).
  assert.throws(() => crypto.createHash('whirlpool'));
  assert.equal(typeof c.refused, 'string');
});

test('one invocation cannot change Buffer or process.env for the next', { skip }, async () => {
  assert.equal(await run('tamper'), 'ok undefined');
  assert.equal(await run('tamper'), 'ok undefined');
});
