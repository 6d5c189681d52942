// LiveQuery (issue 4) with the official Parse JS SDK's LiveQueryClient: the events of a
// subscription (create, enter, update, leave, delete), keys and watch, and who hears what —
// ACLs with roles, revoked sessions, class-level permissions, pointer permissions and
// protected fields. A "silence" is checked with a sentinel: after the write the subscriber must
// not hear, a write it must hear; events reach a client in order, so once the sentinel arrives
// anything forbidden would already have.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, sdk, uniqueClass } from '../lib/harness.mjs';
import { uniqueName, signUp, createRole, ptr } from '../lib/util.mjs';
import { liveClient, subscribe, eventFor } from '../lib/live.mjs';

let server, r, Parse;
const clients = [];

before(async () => {
  server = await startServer();
  r = rest(server);
  Parse = await sdk(server);
});
after(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await server?.stop();
});

function client(opts) {
  const c = liveClient(Parse, server, opts);
  clients.push(c);
  return c;
}

async function create(cls, body, { master = true, token } = {}) {
  const headers = token ? { 'X-Parse-Session-Token': token } : {};
  const res = await r('POST', `/classes/${cls}`, { body, master, headers });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.objectId;
}

async function update(cls, id, body) {
  const res = await r('PUT', `/classes/${cls}/${id}`, { body, master: true });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

async function remove(cls, id) {
  const res = await r('DELETE', `/classes/${cls}/${id}`, { master: true });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

/** Writes a public sentinel object matching `where`-free subscriptions and waits for it. */
async function sentinel(rec, cls, extra = {}) {
  const id = await create(cls, { sentinel: true, ...extra });
  await eventFor(rec, 'create', id);
  return id;
}

test('SDK subscription: create, update with original, leave, enter, delete, as the query decides', async () => {
  const C = uniqueClass('LqBasic');
  const c = client({ master: true });
  const rec = await subscribe(c, new Parse.Query(C).greaterThan('n', 5).equalTo('room', 'a'));
  const id = await create(C, { n: 10, room: 'a', s: 'x' });
  await eventFor(rec, 'create', id);
  await update(C, id, { n: 11 });
  await eventFor(rec, 'update', id);
  await update(C, id, { n: 1 });
  await eventFor(rec, 'leave', id);
  await update(C, id, { n: { __op: 'Increment', amount: 9 } });
  await eventFor(rec, 'enter', id);
  await remove(C, id);
  await eventFor(rec, 'delete', id);
  assert.deepEqual(rec.ops(), ['create', 'update', 'leave', 'enter', 'delete']);
  const [created, updated, left, entered] = rec.events;
  assert.equal(created.object.n, 10);
  assert.equal(created.object.s, 'x');
  assert.equal(created.className, C);
  assert.equal(updated.object.n, 11);
  assert.equal(updated.original.n, 10);
  assert.equal(left.object.n, 1);
  assert.equal(left.original.n, 11);
  assert.equal(entered.object.n, 10);
  assert.equal(entered.original.n, 1);
  // A write that matches neither before nor after is not heard.
  const other = await create(C, { n: 10, room: 'b' });
  const last = await create(C, { n: 6, room: 'a' });
  await eventFor(rec, 'create', last);
  assert.ok(!rec.events.some((e) => e.id === other));
});

test('keys trims the object (keeping objectId, dates, ACL); watch limits updates to its fields', async () => {
  const C = uniqueClass('LqKeys');
  const c = client({ master: true });
  const q = new Parse.Query(C);
  q.select('a');
  const keys = await subscribe(c, q);
  const wq = new Parse.Query(C);
  wq.watch('b');
  const watched = await subscribe(c, wq);
  const id = await create(C, { a: 1, b: 2, c: 3 });
  await eventFor(keys, 'create', id);
  const o = keys.events[0].object;
  assert.equal(o.a, 1);
  assert.equal(o.b, undefined);
  assert.equal(o.c, undefined);
  assert.equal(o.objectId, id);
  assert.ok(o.createdAt && o.updatedAt);
  await eventFor(watched, 'create', id);
  await update(C, id, { a: 5 });
  await eventFor(keys, 'update', id);
  await update(C, id, { b: 7 });
  await watched.until((es) => es.filter((e) => e.op === 'update').length === 1, 'the update of b');
  assert.equal(watched.events.at(-1).object.b, 7);
  // Only b's change reached the watcher; the change of a did not.
  assert.deepEqual(watched.ops(), ['create', 'update']);
});

test('batch writes and transactional batches are heard', async () => {
  const C = uniqueClass('LqBatch');
  const c = client({ master: true });
  const rec = await subscribe(c, new Parse.Query(C));
  const res = await r('POST', '/batch', {
    master: true,
    body: { requests: [1, 2].map((n) => ({ method: 'POST', path: `/parse/classes/${C}`, body: { n } })) },
  });
  assert.equal(res.status, 200);
  const tx = await r('POST', '/batch', {
    master: true,
    body: { transaction: true, requests: [{ method: 'POST', path: `/parse/classes/${C}`, body: { n: 3 } }] },
  });
  assert.equal(tx.status, 200);
  await rec.until((es) => es.length === 3, 'three creates');
  assert.deepEqual(rec.events.map((e) => e.object.n).sort(), [1, 2, 3]);
});

test('ACL: a user hears only objects it may read; losing read access is a leave showing what it could read', async () => {
  const C = uniqueClass('LqAcl');
  const A = await signUp(r);
  const B = await signUp(r);
  const cb = client({ sessionToken: B.token });
  const rec = await subscribe(cb, new Parse.Query(C), B.token);
  const forA = await create(C, { k: 'a', ACL: { [A.id]: { read: true } } });
  await update(C, forA, { k: 'a2' });
  await remove(C, forA);
  const shared = await create(C, { k: 'shared', secret: 1, ACL: { [A.id]: { read: true }, [B.id]: { read: true } } });
  await eventFor(rec, 'create', shared);
  assert.ok(!rec.events.some((e) => e.id === forA), 'B heard an object only A may read');
  // B loses read access in the same save that changes `secret`: a leave with the old state.
  await update(C, shared, { secret: 2, ACL: { [A.id]: { read: true } } });
  await eventFor(rec, 'leave', shared);
  const leave = rec.events.at(-1);
  assert.equal(leave.object.secret, 1, 'the leave must not show the state B can no longer read');
  // Gaining access is an enter without the original B could not read.
  await update(C, shared, { secret: 3, ACL: { [B.id]: { read: true } } });
  await eventFor(rec, 'enter', shared);
  assert.equal(rec.events.at(-1).object.secret, 3);
  assert.equal(rec.events.at(-1).original, undefined);
  // Public objects reach everyone, including a client without a session.
  const anon = client({});
  const anonRec = await subscribe(anon, new Parse.Query(C));
  await create(C, { k: 'private-b', ACL: { [B.id]: { read: true } } });
  await sentinel(anonRec, C);
  assert.deepEqual(anonRec.ops(), ['create']);
});

test('roles: a role member hears role-readable objects, and stops at once when removed from the role', async () => {
  const C = uniqueClass('LqRole');
  const U = await signUp(r);
  const role = uniqueName('LqRole_');
  const roleId = await createRole(r, role, { users: [U.id] });
  const c = client({ sessionToken: U.token });
  const rec = await subscribe(c, new Parse.Query(C), U.token);
  const one = await create(C, { k: 1, ACL: { [`role:${role}`]: { read: true } } });
  await eventFor(rec, 'create', one);
  const res = await r('PUT', `/roles/${roleId}`, { master: true, body: { users: { __op: 'RemoveRelation', objects: [ptr('_User', U.id)] } } });
  assert.equal(res.status, 200);
  const two = await create(C, { k: 2, ACL: { [`role:${role}`]: { read: true } } });
  await sentinel(rec, C);
  assert.ok(!rec.events.some((e) => e.id === two), 'a removed member still heard a role-only object');
});

test('a revoked session stops private events at once', async () => {
  const C = uniqueClass('LqRevoke');
  const U = await signUp(r);
  const c = client({ sessionToken: U.token });
  const rec = await subscribe(c, new Parse.Query(C), U.token);
  const mine = await create(C, { k: 1, ACL: { [U.id]: { read: true } } });
  await eventFor(rec, 'create', mine);
  const out = await r('POST', '/logout', { headers: { 'X-Parse-Session-Token': U.token } });
  assert.equal(out.status, 200);
  const after = await create(C, { k: 2, ACL: { [U.id]: { read: true } } });
  await sentinel(rec, C);
  assert.ok(!rec.events.some((e) => e.id === after), 'a logged-out session still heard a private object');
});

test('class-level permissions: find refused is refused at subscribe; requiresAuthentication; pointer permissions per object', async () => {
  const Closed = uniqueClass('LqClp');
  await create(Closed, { seed: 1 });
  let res = await r('PUT', `/schemas/${Closed}`, { master: true, body: { classLevelPermissions: { find: {}, get: {} } } });
  assert.equal(res.status, 200);
  const U = await signUp(r);
  const c = client({ sessionToken: U.token });
  await assert.rejects(c.subscribe(new Parse.Query(Closed), U.token).subscribePromise, (e) => e.code === 119);

  const Auth = uniqueClass('LqAuth');
  await create(Auth, { seed: 1 });
  res = await r('PUT', `/schemas/${Auth}`, { master: true, body: { classLevelPermissions: { find: { requiresAuthentication: true }, get: { requiresAuthentication: true } } } });
  assert.equal(res.status, 200);
  const anon = client({});
  await assert.rejects(anon.subscribe(new Parse.Query(Auth)).subscribePromise, (e) => e.code === 101 || e.code === 119);
  const ok = await subscribe(c, new Parse.Query(Auth), U.token);
  await sentinel(ok, Auth);

  const Owned = uniqueClass('LqOwned');
  const other = await signUp(r);
  await create(Owned, { owner: ptr('_User', U.id) });
  res = await r('PUT', `/schemas/${Owned}`, { master: true, body: { classLevelPermissions: { find: {}, get: {}, readUserFields: ['owner'] } } });
  assert.equal(res.status, 200);
  const owned = await subscribe(c, new Parse.Query(Owned), U.token);
  const notMine = await create(Owned, { owner: ptr('_User', other.id), k: 'other' });
  const mine = await create(Owned, { owner: ptr('_User', U.id), k: 'mine' });
  await eventFor(owned, 'create', mine);
  assert.ok(!owned.events.some((e) => e.id === notMine), 'pointer permissions let another user\'s object through');
});

test('protectedFields: removed from object and original; a query or watch on them is refused (119)', async () => {
  const C = uniqueClass('LqProt');
  await create(C, { secret: 's', pub: 1 });
  const res = await r('PUT', `/schemas/${C}`, { master: true, body: { classLevelPermissions: {
    find: { '*': true }, get: { '*': true }, create: { '*': true }, update: { '*': true }, delete: { '*': true }, addField: { '*': true },
    protectedFields: { '*': ['secret'] },
  } } });
  assert.equal(res.status, 200);
  const U = await signUp(r);
  const c = client({ sessionToken: U.token });
  const rec = await subscribe(c, new Parse.Query(C), U.token);
  const id = await create(C, { secret: 'a', pub: 1 });
  await eventFor(rec, 'create', id);
  await update(C, id, { secret: 'b', pub: 2 });
  await eventFor(rec, 'update', id);
  for (const e of rec.events) {
    assert.equal(e.object.secret, undefined, `secret leaked in ${e.op}`);
    if (e.original) assert.equal(e.original.secret, undefined, `secret leaked in ${e.op}'s original`);
  }
  await assert.rejects(c.subscribe(new Parse.Query(C).equalTo('secret', 'a'), U.token).subscribePromise, (e) => e.code === 119);
  const wq = new Parse.Query(C);
  wq.watch('secret');
  await assert.rejects(c.subscribe(wq, U.token).subscribePromise, (e) => e.code === 119);
  // The master key sees everything.
  const m = client({ master: true });
  const mrec = await subscribe(m, new Parse.Query(C));
  const id2 = await create(C, { secret: 'm', pub: 3 });
  await eventFor(mrec, 'create', id2);
  assert.equal(mrec.events[0].object.secret, 'm');
});

test('_User events never carry a password, and authData only to its own user', async () => {
  const m = client({ master: true });
  const rec = await subscribe(m, new Parse.Query('_User').equalTo('tag', 'lq'));
  const U = await signUp(r, { tag: 'lq' });
  await eventFor(rec, 'create', U.id);
  const o = rec.events[0].object;
  assert.equal(o.password, undefined);
  assert.equal(o._hashed_password, undefined);
  assert.equal(o.username, U.username);
});

test('a query LiveQuery cannot decide in memory is refused at subscribe (102), not silently never matched', async () => {
  const c = client({ master: true });
  const q = new Parse.Query(uniqueClass('LqSub')).matchesQuery('p', new Parse.Query('Other'));
  await assert.rejects(c.subscribe(q).subscribePromise, (e) => e.code === 102);
});

test('a subscription made before its field existed matches once the field is added', async () => {
  const C = uniqueClass('LqLate');
  await create(C, { other: 1 });
  const c = client({ master: true });
  const rec = await subscribe(c, new Parse.Query(C).equalTo('late', 'x').greaterThan('when', new Date('2020-01-01')));
  const miss = await create(C, { late: 'y', when: { __type: 'Date', iso: '2021-01-01T00:00:00.000Z' } });
  const hit = await create(C, { late: 'x', when: { __type: 'Date', iso: '2021-01-01T00:00:00.000Z' } });
  await eventFor(rec, 'create', hit);
  assert.ok(!rec.events.some((e) => e.id === miss));
});
