// _Session: what a session object looks like, who can list/read/update/delete which sessions,
// revocation, installation ids, expiry. Raw HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startServer, rest, target } from '../lib/harness.mjs';
import { OBJECT_ID, ISO, SESSION_TOKEN, uniqueName, withToken, signUp, logIn, find, ptr } from '../lib/util.mjs';

let server, r;
before(async () => {
  server = await startServer();
  r = rest(server);
});
after(async () => { await server.stop(); });

const INVALID_TOKEN = { code: 209, error: 'Invalid session token' };
const NF = { code: 101, error: 'Object not found.' };
const NF_DELETE = { code: 101, error: 'Object not found for delete.' };
const YEAR_MS = 365 * 24 * 3600 * 1000;

/** The session whose token is token (as /sessions/me shows it to its holder), or undefined
 * once it is gone. Basalt keeps only a hash of each token, so the master key cannot look a
 * session up by its token there; /sessions/me works on both servers. */
async function sessionOf(token) {
  const res = await withToken(r, token)('GET', '/sessions/me');
  if (res.status === 400 && res.body.code === 209) return undefined;
  assert.equal(res.status, 200);
  return res.body;
}

/** The tokens a session list shows. Parse shows every session's token to its user and to the
 * master key; Basalt, which stores only hashes, shows a token only on the caller's current
 * session. Compare lists by objectId, and tokens only where both servers have them. */
async function idsOf(...tokens) {
  return (await Promise.all(tokens.map(sessionOf))).map((s) => s.objectId).sort();
}

/** Checks objectId/createdAt/updatedAt/expiresAt shapes and returns the remaining fields. */
function stripSession(s) {
  const { objectId, createdAt, updatedAt, expiresAt, ...rest } = s;
  assert.match(objectId, OBJECT_ID);
  assert.match(createdAt, ISO);
  assert.match(updatedAt, ISO);
  assert.equal(expiresAt.__type, 'Date');
  assert.match(expiresAt.iso, ISO);
  // sessionLength defaults to one year
  const life = Date.parse(expiresAt.iso) - Date.parse(createdAt);
  assert.ok(Math.abs(life - YEAR_MS) < 60_000, `session lifetime ${life} ms is about one year`);
  return rest;
}

test('session tokens look like "r:" + 32 hex digits, one per sign-up/login, all different', async () => {
  const u = await signUp(r);
  const tokens = [u.token, (await logIn(r, u.username, u.password)).token, (await logIn(r, u.username, u.password)).token];
  for (const t of tokens) assert.match(t, SESSION_TOKEN);
  assert.equal(new Set(tokens).size, 3);
});

test('GET /sessions/me after sign-up: exactly {objectId, createdAt, updatedAt, user, installationId, sessionToken, expiresAt, createdWith}', async () => {
  const inst = randomUUID();
  const u = await signUp(r, {}, { 'X-Parse-Installation-Id': inst });
  const res = await u.as('GET', '/sessions/me');
  assert.equal(res.status, 200);
  assert.deepEqual(stripSession(res.body), {
    user: ptr('_User', u.id),
    installationId: inst,
    sessionToken: u.token,
    createdWith: { action: 'signup', authProvider: 'password' },
  });
  assert.equal(res.body.createdAt, res.body.updatedAt);
});

test('login session: createdWith {action:"login",authProvider:"password"}; installationId only when the header was sent', async () => {
  const u = await signUp(r);
  const inst = randomUUID();
  const withInst = await logIn(r, u.username, u.password, { 'X-Parse-Installation-Id': inst });
  const a = await withInst.as('GET', '/sessions/me');
  assert.deepEqual(stripSession(a.body), {
    user: ptr('_User', u.id), installationId: inst, sessionToken: withInst.token,
    createdWith: { action: 'login', authProvider: 'password' },
  });
  const plain = await logIn(r, u.username, u.password);
  const b = await plain.as('GET', '/sessions/me');
  assert.deepEqual(stripSession(b.body), {
    user: ptr('_User', u.id), sessionToken: plain.token, createdWith: { action: 'login', authProvider: 'password' },
  });
  // the sign-up without an installation id has none either
  const c = await u.as('GET', '/sessions/me');
  assert.ok(!('installationId' in c.body));
});

test('anonymous sign-up session: createdWith {action:"login",authProvider:"anonymous"}', async () => {
  const res = await r('POST', '/users', { body: { authData: { anonymous: { id: randomUUID() } } } });
  assert.equal(res.status, 201);
  const s = await withToken(r, res.body.sessionToken)('GET', '/sessions/me');
  assert.deepEqual(stripSession(s.body), {
    user: ptr('_User', res.body.objectId), sessionToken: res.body.sessionToken,
    createdWith: { action: 'login', authProvider: 'anonymous' },
  });
});

test('the session issued by a password change has NO createdWith', async () => {
  const inst = randomUUID();
  const u = await signUp(r);
  const res = await u.as('PUT', `/users/${u.id}`, { body: { password: 'changed' }, headers: { 'X-Parse-Installation-Id': inst } });
  assert.equal(res.status, 200);
  const s = await withToken(r, res.body.sessionToken)('GET', '/sessions/me');
  assert.equal(s.status, 200);
  assert.deepEqual(stripSession(s.body), { user: ptr('_User', u.id), installationId: inst, sessionToken: res.body.sessionToken });
});

test('GET /sessions/me: no token → 209 "Session token required."; unknown token → 209 "Session token not found."', async () => {
  const none = await r('GET', '/sessions/me');
  assert.equal(none.status, 400);
  assert.deepEqual(none.body, { code: 209, error: 'Session token required.' });
  const bad = await withToken(r, 'r:00000000000000000000000000000000')('GET', '/sessions/me');
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body, { code: 209, error: 'Session token not found.' });
  const u = await signUp(r);
  await u.as('POST', '/logout');
  const after = await u.as('GET', '/sessions/me');
  assert.equal(after.status, 400);
  assert.deepEqual(after.body, { code: 209, error: 'Session token not found.' });
});

test('GET /sessions as a user lists only that user\'s sessions, each with its sessionToken', async () => {
  const a = await signUp(r);
  const a2 = await logIn(r, a.username, a.password);
  const b = await signUp(r);
  const res = await a.as('GET', '/sessions');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.results.map((s) => s.objectId).sort(), await idsOf(a.token, a2.token));
  const mine = res.body.results.find((s) => s.sessionToken === a.token);
  assert.ok(mine, 'the caller\'s own session carries its token');
  const second = res.body.results.find((s) => s !== mine);
  if (target === 'oracle') assert.equal(second.sessionToken, a2.token);
  else assert.ok(!('sessionToken' in second), 'Basalt never shows another session\'s token');
  for (const s of res.body.results) assert.deepEqual(s.user, ptr('_User', a.id));
  const cnt = await a.as('GET', '/sessions?count=1&limit=0');
  assert.deepEqual(cnt.body, { results: [], count: 2 });
  // a where naming another user's pointer finds nothing
  const other = await find(a.as, '_Session', { where: { user: ptr('_User', b.id) } });
  assert.deepEqual(other.body, { results: [] });
  // /classes/_Session is the same thing
  const viaClasses = await a.as('GET', '/classes/_Session');
  assert.deepEqual(viaClasses.body.results.map((s) => s.objectId).sort(), await idsOf(a.token, a2.token));
});

test('without a user, every /sessions and /classes/_Session read or delete is 400 {code:209,"Permission denied"}', async () => {
  const u = await signUp(r);
  const s = await sessionOf(u.token);
  for (const [m, path] of [['GET', '/sessions'], ['GET', '/classes/_Session'], ['GET', `/sessions/${s.objectId}`],
    ['DELETE', `/sessions/${s.objectId}`], ['DELETE', `/classes/_Session/${s.objectId}`]]) {
    const res = await r(m, path);
    assert.equal(res.status, 400, `${m} ${path}`);
    assert.deepEqual(res.body, { code: 209, error: 'Permission denied' }, `${m} ${path}`);
  }
  for (const [m, path] of [['POST', '/sessions'], ['PUT', `/sessions/${s.objectId}`]]) {
    const res = await r(m, path, { body: { label: 'x' } });
    assert.equal(res.status, 400, `${m} ${path}`);
    assert.deepEqual(res.body, { code: 209, error: 'Session token required.' }, `${m} ${path}`);
  }
  assert.equal((await u.as('GET', '/users/me')).status, 200, 'nothing was revoked');
});

test('another user\'s session: GET → 404 101 "Object not found.", DELETE → 404 101 "Object not found for delete.", PUT → 404 101', async () => {
  const a = await signUp(r);
  const b = await signUp(r);
  const sb = await sessionOf(b.token);
  for (const path of [`/sessions/${sb.objectId}`, `/classes/_Session/${sb.objectId}`]) {
    const get = await a.as('GET', path);
    assert.equal(get.status, 404, path);
    assert.deepEqual(get.body, NF, path);
  }
  const del = await a.as('DELETE', `/sessions/${sb.objectId}`);
  assert.equal(del.status, 404);
  assert.deepEqual(del.body, NF_DELETE);
  const put = await a.as('PUT', `/sessions/${sb.objectId}`, { body: { label: 'mine now' } });
  assert.equal(put.status, 404);
  assert.deepEqual(put.body, NF);
  assert.equal((await b.as('GET', '/users/me')).status, 200, 'b\'s session survived');
  // missing ids answer the same
  assert.deepEqual((await a.as('GET', '/sessions/zzzzzzzzzz')).body, NF);
  assert.deepEqual((await a.as('DELETE', '/sessions/zzzzzzzzzz')).body, NF_DELETE);
  assert.deepEqual((await r('DELETE', '/sessions/zzzzzzzzzz', { master: true })).body, NF_DELETE);
});

test('GET /sessions/<own id>: the same object /sessions/me shows', async () => {
  const u = await signUp(r);
  const me = await u.as('GET', '/sessions/me');
  const one = await u.as('GET', `/sessions/${me.body.objectId}`);
  assert.equal(one.status, 200);
  assert.deepEqual(one.body, me.body);
});

test('DELETE /sessions/<own other session>: 200 {} and that token is dead at once; the caller\'s survives', async () => {
  const u = await signUp(r);
  const other = await logIn(r, u.username, u.password);
  assert.equal((await other.as('GET', '/users/me')).status, 200);
  const so = await sessionOf(other.token);
  const del = await u.as('DELETE', `/sessions/${so.objectId}`);
  assert.equal(del.status, 200);
  assert.deepEqual(del.body, {});
  const dead = await other.as('GET', '/users/me');
  assert.equal(dead.status, 400);
  assert.deepEqual(dead.body, INVALID_TOKEN);
  assert.equal((await u.as('GET', '/users/me')).status, 200);
  assert.equal(await sessionOf(other.token), undefined, 'the row is gone');
});

test('DELETE of the caller\'s own current session works like logout', async () => {
  const u = await signUp(r);
  const s = await sessionOf(u.token);
  const del = await u.as('DELETE', `/sessions/${s.objectId}`);
  assert.equal(del.status, 200);
  assert.deepEqual(del.body, {});
  const me = await u.as('GET', '/users/me');
  assert.equal(me.status, 400);
  assert.deepEqual(me.body, INVALID_TOKEN);
});

test('logout removes the session row', async () => {
  const u = await signUp(r);
  assert.ok(await sessionOf(u.token));
  await u.as('POST', '/logout');
  assert.equal(await sessionOf(u.token), undefined);
});

test('master lists any user\'s sessions (where user=…) and deletes any session', async () => {
  const u = await signUp(r);
  const l = await logIn(r, u.username, u.password);
  const res = await find(r, '_Session', { where: { user: ptr('_User', u.id) }, order: 'createdAt' }, { master: true });
  assert.equal(res.status, 200);
  const [su, sl] = [await sessionOf(u.token), await sessionOf(l.token)];
  assert.deepEqual(res.body.results.map((s) => s.objectId), [su.objectId, sl.objectId]);
  if (target === 'oracle') assert.deepEqual(res.body.results.map((s) => s.sessionToken), [u.token, l.token]);
  const del = await r('DELETE', `/sessions/${res.body.results[1].objectId}`, { master: true });
  assert.equal(del.status, 200);
  assert.deepEqual(del.body, {});
  assert.deepEqual((await l.as('GET', '/users/me')).body, INVALID_TOKEN);
  assert.equal((await u.as('GET', '/users/me')).status, 200);
});

test('PUT own session: custom fields allowed (200 {updatedAt}); user/installationId/sessionToken/expiresAt/createdWith/ACL refused (105)', async () => {
  const u = await signUp(r);
  const other = await signUp(r);
  const s = await sessionOf(u.token);
  const label = `label-${uniqueName()}`;
  const ok = await u.as('PUT', `/sessions/${s.objectId}`, { body: { label } });
  assert.equal(ok.status, 200);
  assert.deepEqual(Object.keys(ok.body), ['updatedAt']);
  assert.equal((await u.as('GET', '/sessions/me')).body.label, label);
  const refused = [
    [{ user: ptr('_User', other.id) }, 'Invalid key name: user'],
    [{ installationId: 'x' }, 'Invalid key name: installationId'],
    [{ sessionToken: 'r:x' }, 'Invalid key name: sessionToken'],
    [{ expiresAt: { __type: 'Date', iso: '2030-01-01T00:00:00.000Z' } }, 'Invalid key name: expiresAt'],
    [{ createdWith: { action: 'x' } }, 'Invalid key name: createdWith'],
    [{ ACL: {} }, 'Cannot set ACL on a Session.'],
  ];
  for (const [body, error] of refused) {
    const res = await u.as('PUT', `/sessions/${s.objectId}`, { body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.deepEqual(res.body, { code: 105, error }, JSON.stringify(body));
  }
  assert.equal((await u.as('GET', '/users/me')).status, 200);
});

test('POST /sessions as a user: 201, Location /classes/_Session/<id>, body {sessionToken,user,createdWith:{action:"create"},expiresAt,objectId} (no createdAt)', async () => {
  const u = await signUp(r);
  const other = await signUp(r);
  const res = await u.as('POST', '/sessions', { body: { user: ptr('_User', other.id), sessionToken: 'r:mine', label: 'device' } });
  assert.equal(res.status, 201);
  const { sessionToken, objectId, expiresAt, ...rest } = res.body;
  assert.deepEqual(rest, { user: ptr('_User', u.id), createdWith: { action: 'create' }, label: 'device' });
  assert.match(sessionToken, SESSION_TOKEN, 'a supplied sessionToken is ignored');
  assert.match(objectId, OBJECT_ID);
  assert.equal(expiresAt.__type, 'Date');
  assert.equal(res.headers.get('location'), `${server.serverURL}/classes/_Session/${objectId}`);
  const me = await withToken(r, sessionToken)('GET', '/users/me');
  assert.equal(me.status, 200);
  assert.equal(me.body.objectId, u.id, 'the session belongs to the caller, not to the supplied user');
  const stored = await withToken(r, sessionToken)('GET', '/sessions/me');
  assert.deepEqual(stripSession(stored.body), { user: ptr('_User', u.id), sessionToken, createdWith: { action: 'create' }, label: 'device' });
});

test('POST /classes/_Session as a user is the same as POST /sessions; installationId may come from the body', async () => {
  const u = await signUp(r);
  const inst = randomUUID();
  const res = await u.as('POST', '/classes/_Session', { body: { installationId: inst } });
  assert.equal(res.status, 201);
  assert.equal(res.body.installationId, inst);
  assert.deepEqual(res.body.createdWith, { action: 'create' });
  assert.match(res.body.sessionToken, SESSION_TOKEN);
  assert.equal((await sessionOf(res.body.sessionToken)).installationId, inst);
});

test('POST /sessions with the master key stores the row as given: 201 {objectId, createdAt}, no token generated', async () => {
  const u = await signUp(r);
  const res = await r('POST', '/sessions', { body: { user: ptr('_User', u.id) }, master: true });
  assert.equal(res.status, 201);
  assert.deepEqual(Object.keys(res.body).sort(), ['createdAt', 'objectId']);
  assert.equal(res.headers.get('location'), `${server.serverURL}/classes/_Session/${res.body.objectId}`);
  const got = await r('GET', `/sessions/${res.body.objectId}`, { master: true });
  const { objectId, createdAt, updatedAt, ...rest } = got.body;
  assert.deepEqual(rest, { user: ptr('_User', u.id) });
});

test('logging in again with the same X-Parse-Installation-Id revokes the user\'s older session for that installation', async () => {
  const u = await signUp(r);
  const inst = randomUUID();
  const first = await logIn(r, u.username, u.password, { 'X-Parse-Installation-Id': inst });
  const second = await logIn(r, u.username, u.password, { 'X-Parse-Installation-Id': inst });
  const elsewhere = await logIn(r, u.username, u.password, { 'X-Parse-Installation-Id': randomUUID() });
  const dead = await first.as('GET', '/users/me');
  assert.equal(dead.status, 400);
  assert.deepEqual(dead.body, INVALID_TOKEN);
  for (const s of [second, elsewhere, u]) assert.equal((await s.as('GET', '/users/me')).status, 200);
  const mine = await u.as('GET', '/sessions');
  assert.deepEqual(mine.body.results.map((s) => s.objectId).sort(), await idsOf(u.token, second.token, elsewhere.token));
});

test('without an installation id, logins accumulate sessions (none is revoked)', async () => {
  const u = await signUp(r);
  const ls = [await logIn(r, u.username, u.password), await logIn(r, u.username, u.password)];
  for (const s of [u, ...ls]) assert.equal((await s.as('GET', '/users/me')).status, 200);
  assert.deepEqual((await u.as('GET', '/sessions?count=1&limit=0')).body, { results: [], count: 3 });
});

test('an expired session (master moved expiresAt into the past): 209 "Session token is expired."', async () => {
  const u = await signUp(r);
  const l = await logIn(r, u.username, u.password);
  const s = await sessionOf(l.token);
  const up = await r('PUT', `/sessions/${s.objectId}`, { body: { expiresAt: { __type: 'Date', iso: '2001-01-01T00:00:00.000Z' } }, master: true });
  assert.equal(up.status, 200);
  for (const path of ['/users/me', '/classes/_Role?limit=1']) {
    const res = await l.as('GET', path);
    assert.equal(res.status, 400, path);
    assert.deepEqual(res.body, { code: 209, error: 'Session token is expired.' }, path);
  }
  // quirk: /sessions/me looks the token up with the master key and still shows the expired session
  const me = await l.as('GET', '/sessions/me');
  assert.equal(me.status, 200);
  assert.deepEqual(me.body.expiresAt, { __type: 'Date', iso: '2001-01-01T00:00:00.000Z' });
  assert.equal((await u.as('GET', '/users/me')).status, 200, 'other sessions unaffected');
});

test('POST /upgradeToRevocableSession with a revocable token: 200 with a new session, createdWith {action:"upgrade"}',
  { skip: target === 'oracle' && 'Postgres adapter: the route unsets _User.sessionToken, a column a fresh _User lacks → 500 (the session is created anyway)' },
  async () => {
    const u = await signUp(r);
    const res = await u.as('POST', '/upgradeToRevocableSession');
    assert.equal(res.status, 200);
    const { sessionToken, ...rest } = res.body;
    assert.deepEqual(stripSession(rest), { user: ptr('_User', u.id), createdWith: { action: 'upgrade' } });
    assert.match(sessionToken, SESSION_TOKEN);
    assert.notEqual(sessionToken, u.token);
    assert.equal((await withToken(r, sessionToken)('GET', '/users/me')).body.objectId, u.id);
  });

test('POST /upgradeToRevocableSession without a session token: 404 {code:101,"invalid session"}', async () => {
  const res = await r('POST', '/upgradeToRevocableSession');
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { code: 101, error: 'invalid session' });
});
