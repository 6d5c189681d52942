// LiveQuery's wire protocol with a raw WebSocket (frames and errors as Parse Server 9 sends
// them, checked against the oracle), --liveQuery classNames, and two nodes on one PostgreSQL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { startServer, rest, sdk, uniqueClass, dbKind } from '../lib/harness.mjs';
import { signUp, sleep } from '../lib/util.mjs';
import { rawSocket, liveClient, subscribe, eventFor } from '../lib/live.mjs';

let server, r;
const sockets = [];

before(async () => {
  server = await startServer();
  r = rest(server);
});
after(async () => {
  for (const s of sockets) s.close();
  await server?.stop();
});

async function socket(srv = server, path) {
  const s = await rawSocket(srv, path);
  sockets.push(s);
  return s;
}

const connect = (srv = server, extra = {}) => ({ op: 'connect', applicationId: srv.appId, javascriptKey: srv.javascriptKey, ...extra });

test('connect, subscribe, events, unsubscribe: the frames Parse sends', async () => {
  const C = uniqueClass('LqWire');
  const s = await socket();
  s.send(connect(server, { installationId: 'inst-1' }));
  const connected = await s.next();
  assert.equal(connected.op, 'connected');
  assert.match(connected.clientId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(connected.installationId, 'inst-1');
  s.send({ op: 'subscribe', requestId: 7, query: { className: C, where: { n: { $gte: 1 } } } });
  assert.deepEqual(await s.next(), { op: 'subscribed', clientId: connected.clientId, installationId: 'inst-1', requestId: 7 });
  const res = await r('POST', `/classes/${C}`, { body: { n: 1 }, master: true });
  assert.equal(res.status, 201);
  const ev = await s.next();
  assert.equal(ev.op, 'create');
  assert.equal(ev.requestId, 7);
  assert.equal(ev.clientId, connected.clientId);
  assert.equal(ev.installationId, 'inst-1');
  assert.equal(ev.object.objectId, res.body.objectId);
  assert.equal(ev.object.className, C);
  assert.equal(ev.object.n, 1);
  s.send({ op: 'unsubscribe', requestId: 7 });
  assert.deepEqual(await s.next(), { op: 'unsubscribed', clientId: connected.clientId, installationId: 'inst-1', requestId: 7 });
  // `update` replaces a subscription under the same request id.
  s.send({ op: 'subscribe', requestId: 8, query: { className: C, where: { n: 1 } } });
  assert.equal((await s.next()).op, 'subscribed');
  s.send({ op: 'update', requestId: 8, query: { className: C, where: { n: 2 } } });
  assert.equal((await s.next()).op, 'subscribed');
  await r('POST', `/classes/${C}`, { body: { n: 1 }, master: true });
  const two = await r('POST', `/classes/${C}`, { body: { n: 2 }, master: true });
  const ev2 = await s.next();
  assert.equal(ev2.object.objectId, two.body.objectId, 'the replaced query still matched');
});

test('bad frames get Parse\'s errors and the connection, and other clients, carry on', async () => {
  const bystander = await socket();
  bystander.send(connect());
  assert.equal((await bystander.next()).op, 'connected');
  const C = uniqueClass('LqBad');
  bystander.send({ op: 'subscribe', requestId: 1, query: { className: C, where: {} } });
  assert.equal((await bystander.next()).op, 'subscribed');

  const s = await socket();
  const err = (code, error, requestId = null, reconnect = true) => ({ op: 'error', error, code, reconnect, requestId });
  s.send({ op: 'subscribe', requestId: 1, query: { className: C, where: {} } });
  assert.deepEqual(await s.next(), err(2, 'Can not find this client, make sure you connect to server before subscribing'));
  s.send({ op: 'foo' });
  assert.deepEqual(await s.next(), err(1, 'No enum match for: "foo"'));
  s.send({ hello: 1 });
  assert.deepEqual(await s.next(), err(1, 'Missing required property: op'));
  s.send({ op: 'connect', applicationId: 'not-this-app' });
  assert.deepEqual(await s.next(), err(4, 'Key in request is not valid'));
  s.send({ op: 'connect', applicationId: server.appId, javascriptKey: 'wrong' });
  assert.deepEqual(await s.next(), err(4, 'Key in request is not valid'));
  s.send({ ...connect(), extra: 1 });
  assert.deepEqual(await s.next(), err(1, 'Additional properties not allowed'));
  s.send('this is not JSON'); // ignored, as Parse ignores it
  s.send(connect());
  const { clientId } = await s.next();
  assert.ok(clientId);
  s.send({ op: 'subscribe', requestId: 'x', query: { className: C, where: {} } });
  assert.deepEqual(await s.next(), err(1, 'Invalid type: string (expected number)'));
  s.send({ op: 'subscribe', requestId: 2, query: { className: C } });
  assert.deepEqual(await s.next(), err(1, 'Missing required property: where'));
  // A query REST refuses is refused the same way.
  const where = { a: { $foo: 1 } };
  const restAnswer = await r('GET', `/classes/${C}?where=${encodeURIComponent(JSON.stringify(where))}`);
  assert.equal(restAnswer.status, 400);
  s.send({ op: 'subscribe', requestId: 3, query: { className: C, where } });
  assert.deepEqual(await s.next(), err(restAnswer.body.code, restAnswer.body.error, 3, false));
  // As in a REST find, the ACL field cannot be queried.
  s.send({ op: 'subscribe', requestId: 4, query: { className: C, where: { ACL: { $exists: true } } } });
  assert.deepEqual(await s.next(), err(102, 'Cannot query on ACL.', 4, false));
  s.send({ op: 'unsubscribe', requestId: 5 });
  assert.deepEqual(await s.next(), err(2, `Cannot find subscription with clientId ${clientId} subscriptionId 5. Make sure you subscribe to live query server before unsubscribing.`));
  // What a client may not list through REST it may not watch: installations (device tokens),
  // the master key's classes, relation tables.
  for (const [requestId, className] of [[20, '_Installation'], [21, '_JobStatus'], [22, '_Join:users:_Role']]) {
    s.send({ op: 'subscribe', requestId, query: { className, where: {} } });
    const f = await s.next();
    assert.equal(f.op, 'error', `${className} was accepted`);
    assert.equal(f.code, 119, className);
  }
  // A subscription to a session class needs a user.
  s.send({ op: 'subscribe', requestId: 6, query: { className: '_Session', where: {} } });
  assert.deepEqual(await s.next(), err(209, 'Invalid session token', 6, false));
  // Through all that, the bystander still hears its events.
  const res = await r('POST', `/classes/${C}`, { body: { n: 1 }, master: true });
  assert.equal((await bystander.next()).object.objectId, res.body.objectId);
});

test('a connection holds at most 1,000 subscriptions', async () => {
  const C = uniqueClass('LqMany');
  const s = await socket();
  s.send(connect());
  assert.equal((await s.next()).op, 'connected');
  for (let i = 1; i <= 1000; i++) s.send({ op: 'subscribe', requestId: i, query: { className: C, where: { n: i } } });
  for (let i = 1; i <= 1000; i++) assert.equal((await s.next()).op, 'subscribed');
  s.send({ op: 'subscribe', requestId: 1001, query: { className: C, where: {} } });
  const refused = await s.next();
  assert.equal(refused.op, 'error');
  assert.equal(refused.requestId, 1001);
  assert.match(refused.error, /at most 1000 subscriptions/);
  // Replacing one of them, or making room, is still possible.
  s.send({ op: 'update', requestId: 5, query: { className: C, where: { n: 0 } } });
  assert.equal((await s.next()).op, 'subscribed');
  s.send({ op: 'unsubscribe', requestId: 6 });
  assert.equal((await s.next()).op, 'unsubscribed');
  s.send({ op: 'subscribe', requestId: 1002, query: { className: C, where: {} } });
  assert.equal((await s.next()).op, 'subscribed');
});

test('the WebSocket answers at the mount path and at /; a plain GET there is a 404', async () => {
  for (const path of ['/parse', '/']) {
    const s = await socket(server, path);
    s.send(connect());
    assert.equal((await s.next()).op, 'connected', path);
  }
  const plain = await fetch(server.serverURL);
  assert.equal(plain.status, 404);
});

test('a subscriber with the master key connects only with the right key', async () => {
  const C = uniqueClass('LqMaster');
  const res = await r('POST', `/classes/${C}`, { body: { n: 0, ACL: {} }, master: true });
  assert.equal(res.status, 201);
  const s = await socket();
  s.send(connect(server, { masterKey: server.masterKey }));
  assert.equal((await s.next()).op, 'connected');
  s.send({ op: 'subscribe', requestId: 1, query: { className: C, where: {} } });
  assert.equal((await s.next()).op, 'subscribed');
  const wrong = await socket();
  wrong.send(connect(server, { masterKey: 'not-the-master-key' }));
  assert.equal((await wrong.next()).op, 'connected');
  wrong.send({ op: 'subscribe', requestId: 1, query: { className: C, where: {} } });
  assert.equal((await wrong.next()).op, 'subscribed');
  await r('PUT', `/classes/${C}/${res.body.objectId}`, { body: { n: 1 }, master: true });
  const pub = await r('POST', `/classes/${C}`, { body: { n: 2 } });
  const seen = await s.next();
  assert.equal(seen.op, 'update', 'the master key hears an object no one else may read');
  assert.equal(seen.object.objectId, res.body.objectId);
  const heard = await wrong.next();
  assert.equal(heard.object.objectId, pub.body.objectId, 'a wrong master key heard a private object');
});

test('--liveQuery classNames limits which classes publish', async () => {
  const Yes = uniqueClass('LqYes');
  const No = uniqueClass('LqNo');
  const only = await startServer({ extraArgs: ['--liveQuery', JSON.stringify({ classNames: [Yes] })] });
  try {
    const s = await rawSocket(only);
    sockets.push(s);
    s.send(connect(only));
    assert.equal((await s.next()).op, 'connected');
    for (const [requestId, cls] of [[1, No], [2, Yes]]) {
      s.send({ op: 'subscribe', requestId, query: { className: cls, where: {} } });
      assert.equal((await s.next()).op, 'subscribed');
    }
    const ro = rest(only);
    await ro('POST', `/classes/${No}`, { body: { n: 1 }, master: true });
    const yes = await ro('POST', `/classes/${Yes}`, { body: { n: 2 }, master: true });
    const ev = await s.next();
    assert.equal(ev.object.objectId, yes.body.objectId, 'an unlisted class published an event');
    assert.equal(ev.requestId, 2);
  } finally {
    await only.stop();
  }
});

test('two nodes on one PostgreSQL are one realtime system: events and revocations cross over', { skip: dbKind !== 'postgres' && 'PostgreSQL only (SQLite is one node)' }, async () => {
  const second = await startServer({ shareDatabaseOf: server });
  let c1;
  try {
    const Parse = await sdk(server);
    const C = uniqueClass('LqNodes');
    const U = await signUp(r);
    // Subscribed on node 1, written on node 2.
    c1 = liveClient(Parse, server, { sessionToken: U.token });
    const rec = await subscribe(c1, new Parse.Query(C), U.token);
    const r2 = rest(second);
    const made = await r2('POST', `/classes/${C}`, { body: { k: 'from node 2', ACL: { [U.id]: { read: true } } }, master: true });
    assert.equal(made.status, 201);
    await eventFor(rec, 'create', made.body.objectId);
    const up = await r2('PUT', `/classes/${C}/${made.body.objectId}`, { body: { k: 'again' }, master: true });
    assert.equal(up.status, 200);
    await eventFor(rec, 'update', made.body.objectId);
    assert.equal(rec.events.at(-1).original.k, 'from node 2');
    // A burst (one /batch of 50 creates) crosses too, whatever NOTIFYs carry it.
    const burst = await r2('POST', '/batch', { master: true, body: { requests: Array.from({ length: 50 }, (_, i) => ({
      method: 'POST', path: `/parse/classes/${C}`, body: { burst: i, ACL: { '*': { read: true } } },
    })) } });
    assert.equal(burst.status, 200);
    await rec.until((es) => es.filter((e) => e.object.burst !== undefined).length === 50, 'the 50 creates of the burst');
    // A large object travels too (NOTIFY carries at most 8,000 bytes).
    const big = 'x'.repeat(20_000);
    const large = await r2('POST', `/classes/${C}`, { body: { big, ACL: { '*': { read: true } } }, master: true });
    await eventFor(rec, 'create', large.body.objectId);
    assert.equal(rec.events.at(-1).object.big.length, 20_000);
    // Class-level permissions closed on node 2 hold on node 1 at once (its schema cache learns).
    const seen = await r('GET', `/classes/${C}`);
    assert.equal(seen.status, 200);
    const closed = await r2('PUT', `/schemas/${C}`, { master: true, body: { classLevelPermissions: { find: {}, get: {}, create: {}, update: {}, delete: {}, addField: {} } } });
    assert.equal(closed.status, 200);
    let refused = seen;
    for (let i = 0; i < 100 && refused.status === 200; i++) {
      await new Promise((res) => setTimeout(res, 20));
      refused = await r('GET', `/classes/${C}`);
    }
    assert.equal(refused.body.code, 119, 'node 1 still answered a find its class-level permissions now forbid');
    // Node 1 has the session cached; logging out on node 2 revokes it on node 1 at once.
    const me1 = await r('GET', '/users/me', { headers: { 'X-Parse-Session-Token': U.token } });
    assert.equal(me1.status, 200);
    const out = await r2('POST', '/logout', { headers: { 'X-Parse-Session-Token': U.token } });
    assert.equal(out.status, 200);
    let me = me1;
    for (let i = 0; i < 100 && me.status === 200; i++) {
      await new Promise((res) => setTimeout(res, 20));
      me = await r('GET', '/users/me', { headers: { 'X-Parse-Session-Token': U.token } });
    }
    assert.equal(me.body.code, 209, 'node 1 still accepted a session revoked on node 2');
  } finally {
    // An SDK client left open reconnects forever and keeps node from exiting.
    await c1?.close().catch(() => {});
    await second.stop();
  }
});

test('events go out on the bus only for classes some node subscribes to', { skip: dbKind !== 'postgres' && 'PostgreSQL only (SQLite is one node)' }, async () => {
  const one = await startServer();
  const two = await startServer({ shareDatabaseOf: one });
  const spyName = `basalt_spy_${process.pid}_${Date.now()}`;
  let spy;
  try {
    const watched = uniqueClass('LqWatched');
    const unwatched = uniqueClass('LqUnwatched');
    const s = await socket(two);
    s.send(connect(two));
    assert.equal((await s.next()).op, 'connected');
    s.send({ op: 'subscribe', requestId: 1, query: { className: watched, where: {} } });
    assert.equal((await s.next()).op, 'subscribed');
    // Past both nodes' warm-up (6 s after joining the bus), while a node sends every event.
    await sleep(6500);
    // A LISTENer of our own on the nodes' channel: psql prints what it heard once its sleep ends.
    spy = spawn('psql', ['-X', '-q', one.dbURI, '-c', 'LISTEN basalt', '-c', 'SELECT pg_sleep(5)'],
      { env: { ...process.env, PGAPPNAME: spyName }, stdio: ['ignore', 'pipe', 'pipe'] });
    let heardOnBus = '';
    spy.stdout.on('data', (d) => { heardOnBus += d.toString(); });
    const spyDone = new Promise((res) => spy.once('exit', res));
    let listening = false;
    for (let i = 0; i < 200 && !listening; i++) {
      const n = execFileSync('psql', ['-X', '-qAt', one.dbURI, '-c',
        `select count(*) from pg_stat_activity where application_name = '${spyName}' and query like '%pg_sleep%'`]).toString().trim();
      listening = n === '1';
      if (!listening) await sleep(20);
    }
    assert.ok(listening, 'the LISTENing psql did not start');
    const r1 = rest(one);
    const quiet = await r1('POST', `/classes/${unwatched}`, { body: { k: 1 }, master: true });
    assert.equal(quiet.status, 201);
    const loud = await r1('POST', `/classes/${watched}`, { body: { k: 1 }, master: true });
    assert.equal(loud.status, 201);
    const ev = await s.next();
    assert.equal(ev.op, 'create');
    assert.equal(ev.object.objectId, loud.body.objectId, 'node two did not hear a write made on node one');
    s.send({ op: 'unsubscribe', requestId: 1 });
    assert.equal((await s.next()).op, 'unsubscribed');
    await sleep(1000);
    const late = await r1('POST', `/classes/${watched}`, { body: { k: 2 }, master: true });
    assert.equal(late.status, 201);
    await spyDone;
    assert.ok(heardOnBus.includes(loud.body.objectId), `the watched class's event did not go out on the bus:\n${heardOnBus}`);
    assert.ok(!heardOnBus.includes(quiet.body.objectId), 'an event no node subscribes to went out on the bus');
    assert.ok(!heardOnBus.includes(late.body.objectId), 'events went out after the last subscriber left');
    // A first subscription to a class is confirmed once the other node publishes the class: a
    // write made on it right after `subscribed` arrives.
    const fresh = uniqueClass('LqFresh');
    s.send({ op: 'subscribe', requestId: 2, query: { className: fresh, where: {} } });
    assert.equal((await s.next()).op, 'subscribed');
    const first = await r1('POST', `/classes/${fresh}`, { body: { k: 3 }, master: true });
    const ev2 = await s.next();
    assert.equal(ev2.object.objectId, first.body.objectId);
  } finally {
    spy?.kill();
    await two.stop();
    await one.stop();
  }
});

/** Whether Redis answers at 127.0.0.1:6379; under CI=true its absence fails the test. */
async function redisReachable() {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.connect(6379, '127.0.0.1');
    s.once('connect', () => { s.end(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

test('with --liveQuery redisURL, nodes share events through Redis pub/sub', { skip: dbKind !== 'postgres' && 'PostgreSQL only (two nodes need a shared database)' }, async (t) => {
  if (!(await redisReachable())) {
    const msg = 'REDIS NOT RUN: nothing answers at 127.0.0.1:6379';
    console.error(msg);
    if (process.env.CI === 'true') assert.fail(msg);
    t.skip(msg);
    return;
  }
  const lq = ['--liveQuery', JSON.stringify({ redisURL: 'redis://127.0.0.1:6379/0' })];
  const one = await startServer({ extraArgs: lq });
  const two = await startServer({ extraArgs: lq, shareDatabaseOf: one });
  // A raw Redis subscriber sees what the nodes publish on their channel.
  const net = await import('node:net');
  const spy = net.connect(6379, '127.0.0.1');
  let seen = '';
  spy.on('data', (d) => { seen += d.toString(); });
  await new Promise((res) => spy.once('connect', res));
  const channel = `basalt:${one.appId}`;
  spy.write(`*2\r\n$9\r\nSUBSCRIBE\r\n$${channel.length}\r\n${channel}\r\n`);
  try {
    const C = uniqueClass('LqRedis');
    const s = await rawSocket(one);
    sockets.push(s);
    s.send(connect(one));
    assert.equal((await s.next()).op, 'connected');
    s.send({ op: 'subscribe', requestId: 1, query: { className: C, where: {} } });
    assert.equal((await s.next()).op, 'subscribed');
    const made = await rest(two)('POST', `/classes/${C}`, { body: { via: 'redis', big: 'y'.repeat(20_000) }, master: true });
    assert.equal(made.status, 201);
    const ev = await s.next();
    assert.equal(ev.op, 'create');
    assert.equal(ev.object.objectId, made.body.objectId);
    assert.equal(ev.object.big.length, 20_000, 'a payload NOTIFY could not carry crossed whole');
    for (let i = 0; i < 100 && !seen.includes(made.body.objectId); i++) await new Promise((res) => setTimeout(res, 20));
    assert.ok(seen.includes(made.body.objectId), 'the event did not travel through Redis');
  } finally {
    spy.destroy();
    await two.stop();
    await one.stop();
  }
});

test('a client that stops reading is dropped; the others get every event', async () => {
  const C = uniqueClass('LqSlow');
  await r('POST', `/classes/${C}`, { body: { pad: 'x' }, master: true });
  const slow = await socket();
  slow.send(connect());
  assert.equal((await slow.next()).op, 'connected');
  slow.send({ op: 'subscribe', requestId: 1, query: { className: C, where: {} } });
  assert.equal((await slow.next()).op, 'subscribed');
  const fine = await socket();
  fine.send(connect());
  assert.equal((await fine.next()).op, 'connected');
  fine.send({ op: 'subscribe', requestId: 1, query: { className: C, where: {} } });
  assert.equal((await fine.next()).op, 'subscribed');
  let heard = 0;
  const counting = new Promise((resolve) => {
    fine.ws.on('message', () => { if (++heard === 1500) resolve(); });
  });
  // The slow client stops reading: its kernel buffers fill, then its queue of 256 frames.
  slow.ws._socket.pause();
  const pad = 'y'.repeat(10_000);
  for (let b = 0; b < 15; b++) {
    const res = await r('POST', '/batch', { master: true, body: { requests: Array.from({ length: 100 }, (_, i) => ({
      method: 'POST', path: `/parse/classes/${C}`, body: { n: b * 100 + i, pad },
    })) } });
    assert.equal(res.status, 200);
  }
  await counting;
  assert.equal(heard, 1500, 'the reading client missed events');
  // The server closes the slow client (within its 10 s write limit); reading again shows it,
  // after fewer events than were written.
  let slowHeard = 0;
  slow.ws.on('message', () => { slowHeard++; });
  const closed = new Promise((resolve) => slow.ws.once('close', resolve));
  const limit = new Promise((_, reject) => setTimeout(() => reject(new Error('the slow client was never closed')), 30_000).unref());
  slow.ws._socket.resume();
  await Promise.race([closed, limit]);
  assert.ok(slowHeard < 1500, `the slow client was not dropped: it heard ${slowHeard} events`);
});
