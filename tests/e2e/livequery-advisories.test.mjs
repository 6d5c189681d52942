// The LiveQuery flaws fixed in Parse Server's 2026 security advisories, each written as the
// attack and the expected refusal or silence:
//   GHSA-j7mm-f4rv-6q6q  protected field probed through a subscription's where
//   GHSA-mmg8-87c5-jrc2  the same, hidden in an array-like (object) $or
//   GHSA-6qh5-m6g3-xhq6  subscription query depth beyond the limit
//   GHSA-m983-v2ff-wq65  protected field leaking between concurrent subscribers of one event
//   GHSA-97pr-9hgg-3p8r  object data disclosed across an ACL read-access change
//   GHSA-9jpp-xhh6-75mf  protected fields of a role entry ignored (subscriber's roles unresolved)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, sdk, uniqueClass } from '../lib/harness.mjs';
import { uniqueName, signUp, createRole, ptr } from '../lib/util.mjs';
import { liveClient, subscribe, eventFor, rawSocket } from '../lib/live.mjs';

let server, r, Parse;
const closers = [];

before(async () => {
  server = await startServer();
  r = rest(server);
  Parse = await sdk(server);
});
after(async () => {
  for (const c of closers) await c();
  await server?.stop();
});

function client(opts) {
  const c = liveClient(Parse, server, opts);
  closers.push(() => c.close().catch(() => {}));
  return c;
}

async function create(cls, body) {
  const res = await r('POST', `/classes/${cls}`, { body, master: true });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.objectId;
}

/** A class whose `secret` is hidden by `protectedFields` (plus any extra CLP entries). */
async function protectedClass(prefix, protectedFields = { '*': ['secret'] }) {
  const C = uniqueClass(prefix);
  await create(C, { secret: 's', pub: 0, owner: ptr('_User', 'nobody0000') });
  const open = { '*': true };
  const res = await r('PUT', `/schemas/${C}`, { master: true, body: { classLevelPermissions: {
    find: open, get: open, count: open, create: open, update: open, delete: open, addField: open, protectedFields,
  } } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return C;
}

async function raw(token) {
  const s = await rawSocket(server);
  closers.push(async () => s.close());
  s.send({ op: 'connect', applicationId: server.appId, javascriptKey: server.javascriptKey, sessionToken: token });
  assert.equal((await s.next()).op, 'connected');
  return s;
}

test('GHSA-j7mm-f4rv-6q6q: a where on a protected field is refused, so no guess is confirmed', async () => {
  const C = await protectedClass('AdvWhere');
  const U = await signUp(r);
  const s = await raw(U.token);
  for (const [i, where] of [{ secret: 's' }, { 'secret.x': 1 }, { $and: [{ secret: { $exists: true } }] }, { $nor: [{ secret: 'a' }] }].entries()) {
    s.send({ op: 'subscribe', requestId: i + 1, query: { className: C, where }, sessionToken: U.token });
    const f = await s.next();
    assert.equal(f.op, 'error', `where ${JSON.stringify(where)} was accepted`);
    assert.equal(f.code, 119);
  }
});

test('GHSA-mmg8-87c5-jrc2: an array-like object in $or/$and/$nor does not smuggle a protected field past the guard', async () => {
  const C = await protectedClass('AdvArrayLike');
  const U = await signUp(r);
  const s = await raw(U.token);
  for (const [i, op] of ['$or', '$and', '$nor'].entries()) {
    s.send({ op: 'subscribe', requestId: i + 1, query: { className: C, where: { [op]: { 0: { secret: 's' }, length: 1 } } }, sessionToken: U.token });
    const f = await s.next();
    assert.equal(f.op, 'error', `${op} as an object was accepted`);
    assert.ok([102, 119].includes(f.code), `code ${f.code}`);
  }
});

test('GHSA-6qh5-m6g3-xhq6: a subscription nested deeper than queries may be is refused', async () => {
  const C = uniqueClass('AdvDepth');
  let where = { n: 1 };
  for (let i = 0; i < 30; i++) where = { $or: [where, { n: i }] };
  const s = await raw();
  s.send({ op: 'subscribe', requestId: 1, query: { className: C, where } });
  const f = await s.next();
  assert.equal(f.op, 'error');
  assert.equal(f.code, 102);
  // The same query through REST is refused too: one limit for both paths.
  const res = await r('GET', `/classes/${C}?where=${encodeURIComponent(JSON.stringify(where))}`);
  assert.equal(res.body.code, 102);
});

test('GHSA-m983-v2ff-wq65: subscribers of one event each get their own view (the owner sees the field, others never)', async () => {
  const owner = await signUp(r);
  const other = await signUp(r);
  // Hidden from everyone but the user the object's `owner` points to.
  const C = await protectedClass('AdvShared', { '*': ['secret'], 'userField:owner': [] });
  const co = client({ sessionToken: owner.token });
  const cx = client({ sessionToken: other.token });
  const cm = client({ master: true });
  const ro = await subscribe(co, new Parse.Query(C), owner.token);
  const rx = await subscribe(cx, new Parse.Query(C), other.token);
  const rm = await subscribe(cm, new Parse.Query(C));
  const id = await create(C, { secret: 'for-owner', pub: 1, owner: ptr('_User', owner.id) });
  await Promise.all([eventFor(ro, 'create', id), eventFor(rx, 'create', id), eventFor(rm, 'create', id)]);
  const upd = await r('PUT', `/classes/${C}/${id}`, { master: true, body: { secret: 'again', pub: 2 } });
  assert.equal(upd.status, 200);
  await Promise.all([eventFor(ro, 'update', id), eventFor(rx, 'update', id)]);
  assert.equal(ro.events[0].object.secret, 'for-owner');
  assert.equal(ro.events[1].original.secret, 'for-owner');
  assert.equal(rm.events[0].object.secret, 'for-owner');
  for (const e of rx.events) {
    assert.equal(e.object.secret, undefined, `secret reached another user in ${e.op}`);
    assert.equal(e.original?.secret, undefined, `secret reached another user in ${e.op}'s original`);
  }
});

test('GHSA-97pr-9hgg-3p8r: a save that removes a subscriber\'s read access does not show it the new state', async () => {
  const C = uniqueClass('AdvAclChange');
  const U = await signUp(r);
  const c = client({ sessionToken: U.token });
  const rec = await subscribe(c, new Parse.Query(C), U.token);
  const id = await create(C, { note: 'visible', ACL: { [U.id]: { read: true } } });
  await eventFor(rec, 'create', id);
  const res = await r('PUT', `/classes/${C}/${id}`, { master: true, body: { note: 'classified', ACL: {} } });
  assert.equal(res.status, 200);
  await eventFor(rec, 'leave', id);
  const leave = rec.events.at(-1);
  assert.equal(leave.object.note, 'visible');
  assert.equal(leave.original.note, 'visible');
  assert.ok(!JSON.stringify(rec.events).includes('classified'));
  // Granting access back shows the new state, and no original the user could not read.
  const back = await r('PUT', `/classes/${C}/${id}`, { master: true, body: { note: 'public again', ACL: { [U.id]: { read: true } } } });
  assert.equal(back.status, 200);
  await eventFor(rec, 'enter', id);
  assert.equal(rec.events.at(-1).object.note, 'public again');
  assert.equal(rec.events.at(-1).original, undefined);
  assert.ok(!JSON.stringify(rec.events).includes('classified'));
});

test('GHSA-9jpp-xhh6-75mf: protectedFields of a role entry apply to its members (roles are resolved)', async () => {
  const role = uniqueName('AdvStaff_');
  const U = await signUp(r);
  await createRole(r, role, { users: [U.id] });
  const C = await protectedClass('AdvRoleProt', { [`role:${role}`]: ['secret'] });
  const c = client({ sessionToken: U.token });
  const rec = await subscribe(c, new Parse.Query(C), U.token);
  const id = await create(C, { secret: 'staff-only-hidden', pub: 1 });
  await eventFor(rec, 'create', id);
  assert.equal(rec.events[0].object.secret, undefined, 'a role member saw a field its role entry hides');
  const s = await raw(U.token);
  s.send({ op: 'subscribe', requestId: 1, query: { className: C, where: { secret: 'x' } }, sessionToken: U.token });
  const f = await s.next();
  assert.equal(f.op, 'error');
  assert.equal(f.code, 119);
});
