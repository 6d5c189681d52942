// _User: sign-up, login, /users/me, logout, updates and deletes by whom, what others see,
// password changes, anonymous auth. Raw HTTP against the server (REST key + session tokens).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { startServer, rest, target, dbKind } from '../lib/harness.mjs';
import { OBJECT_ID, ISO, SESSION_TOKEN, uniqueName, withToken, signUp, logIn, find } from '../lib/util.mjs';

let server, r;
before(async () => {
  server = await startServer();
  r = rest(server);
});
after(async () => { await server.stop(); });

const BAD_LOGIN = { code: 101, error: 'Invalid username/password.' };
const NF = { code: 101, error: 'Object not found.' };
const INVALID_TOKEN = { code: 209, error: 'Invalid session token' };
const DENIED_206 = { code: 206, error: 'Permission denied' };
const acl = (id) => ({ [id]: { read: true, write: true } });
const email = (name) => `${name}@example.com`;

/** Asserts nothing anywhere in a JSON value is called password / _hashed_password. */
function assertNoPassword(value, where) {
  const text = JSON.stringify(value);
  assert.ok(!/"password"|"_hashed_password"/.test(text), `${where} leaks a password: ${text}`);
}

test('POST /users: 201, Location /users/<id>, body exactly {objectId, createdAt, sessionToken}', async () => {
  const res = await r('POST', '/users', { body: { username: uniqueName(), password: 'pw', email: email(uniqueName('e')) } });
  assert.equal(res.status, 201);
  assert.deepEqual(Object.keys(res.body).sort(), ['createdAt', 'objectId', 'sessionToken']);
  assert.match(res.body.objectId, OBJECT_ID);
  assert.match(res.body.createdAt, ISO);
  assert.match(res.body.sessionToken, SESSION_TOKEN);
  assert.equal(res.headers.get('location'), `${server.serverURL}/users/${res.body.objectId}`);
});

test('POST /classes/_User signs up the same way (Location still /users/<id>)', async () => {
  const name = uniqueName();
  const res = await r('POST', '/classes/_User', { body: { username: name, password: 'pw' } });
  assert.equal(res.status, 201);
  assert.deepEqual(Object.keys(res.body).sort(), ['createdAt', 'objectId', 'sessionToken']);
  assert.match(res.body.sessionToken, SESSION_TOKEN);
  assert.equal(res.headers.get('location'), `${server.serverURL}/users/${res.body.objectId}`);
  const me = await withToken(r, res.body.sessionToken)('GET', '/users/me');
  assert.equal(me.body.username, name);
});

test('sign-up without a usable username: 400 {code:200,"bad or missing username"}', async () => {
  for (const body of [{ password: 'pw' }, { username: '', password: 'pw' }, { username: 123, password: 'pw' }]) {
    const res = await r('POST', '/users', { body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.deepEqual(res.body, { code: 200, error: 'bad or missing username' }, JSON.stringify(body));
  }
});

test('sign-up without a usable password: 400 {code:201,"password is required"}', async () => {
  for (const password of [undefined, '', 123]) {
    const res = await r('POST', '/users', { body: { username: uniqueName(), password } });
    assert.equal(res.status, 400, String(password));
    assert.deepEqual(res.body, { code: 201, error: 'password is required' }, String(password));
  }
});

test('duplicate username (also differing only in case): 400 {code:202}', async () => {
  const name = uniqueName('dup_');
  await signUp(r, { username: name });
  for (const username of [name, name.toUpperCase()]) {
    const res = await r('POST', '/users', { body: { username, password: 'pw' } });
    assert.equal(res.status, 400, username);
    assert.deepEqual(res.body, { code: 202, error: 'Account already exists for this username.' });
  }
});

test('duplicate email (also differing only in case): 400 {code:203}', async () => {
  const e = email(uniqueName('mail'));
  await signUp(r, { email: e });
  for (const other of [e, e.toUpperCase()]) {
    const res = await r('POST', '/users', { body: { username: uniqueName(), password: 'pw', email: other } });
    assert.equal(res.status, 400, other);
    assert.deepEqual(res.body, { code: 203, error: 'Account already exists for this email address.' });
  }
});

test('invalid email: 400 {code:125} on sign-up and on update', async () => {
  const res = await r('POST', '/users', { body: { username: uniqueName(), password: 'pw', email: 'not-an-email' } });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 125, error: 'Email address format is invalid.' });
  const u = await signUp(r);
  const up = await u.as('PUT', `/users/${u.id}`, { body: { email: 'nope' } });
  assert.equal(up.status, 400);
  assert.deepEqual(up.body, { code: 125, error: 'Email address format is invalid.' });
});

test('sign-up: objectId and invalid field names are refused (105)', async () => {
  const a = await r('POST', '/users', { body: { username: uniqueName(), password: 'pw', objectId: 'abcdefghij' } });
  assert.equal(a.status, 400);
  assert.deepEqual(a.body, { code: 105, error: 'objectId is an invalid field name.' });
  const b = await r('POST', '/users', { body: { username: uniqueName(), password: 'pw', _private: 1 } });
  assert.equal(b.status, 400);
  assert.deepEqual(b.body, { code: 105, error: 'Invalid field name: _private.' });
});

test('POST /login: 200 with the whole user (no password) and a fresh session token', async () => {
  const e = email(uniqueName('login'));
  const u = await signUp(r, { email: e });
  const res = await r('POST', '/login', { body: { username: u.username, password: u.password } });
  assert.equal(res.status, 200);
  const { createdAt, updatedAt, sessionToken, ...rest } = res.body;
  assert.deepEqual(rest, { objectId: u.id, username: u.username, email: e, ACL: acl(u.id) });
  assert.match(createdAt, ISO);
  assert.equal(updatedAt, createdAt, 'never updated');
  assert.match(sessionToken, SESSION_TOKEN);
  assert.notEqual(sessionToken, u.token, 'each login opens a new session');
  assert.equal(res.headers.get('location'), null);
  // both sessions stay valid
  assert.equal((await u.as('GET', '/users/me')).status, 200);
  assert.equal((await withToken(r, sessionToken)('GET', '/users/me')).status, 200);
});

test('GET /login with query parameters works like POST', async () => {
  const u = await signUp(r);
  const qs = new URLSearchParams({ username: u.username, password: u.password });
  const res = await r('GET', `/login?${qs}`);
  assert.equal(res.status, 200);
  assert.equal(res.body.objectId, u.id);
  assert.match(res.body.sessionToken, SESSION_TOKEN);
  assertNoPassword(res.body, 'GET /login');
});

test('login by email: the email field, or an email given as username; email match is case-sensitive', async () => {
  const e = email(uniqueName('bymail'));
  const u = await signUp(r, { email: e });
  const viaEmail = await r('POST', '/login', { body: { email: e, password: u.password } });
  assert.equal(viaEmail.status, 200);
  assert.equal(viaEmail.body.objectId, u.id);
  const viaGet = await r('GET', `/login?${new URLSearchParams({ email: e, password: u.password })}`);
  assert.equal(viaGet.status, 200);
  assert.equal(viaGet.body.objectId, u.id);
  const asUsername = await r('POST', '/login', { body: { username: e, password: u.password } });
  assert.equal(asUsername.status, 200);
  assert.equal(asUsername.body.objectId, u.id);
  const upper = await r('POST', '/login', { body: { email: e.toUpperCase(), password: u.password } });
  assert.equal(upper.status, 404);
  assert.deepEqual(upper.body, BAD_LOGIN);
});

test('login: username + email must both match the same user', async () => {
  const a = await signUp(r, { email: email(uniqueName('a')) });
  const bMail = email(uniqueName('b'));
  await signUp(r, { email: bMail });
  const res = await r('POST', '/login', { body: { username: a.username, email: bMail, password: a.password } });
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, BAD_LOGIN);
});

test('login username is case-sensitive (although sign-up uniqueness is not)', async () => {
  const u = await signUp(r, { username: uniqueName('case_') });
  const res = await r('POST', '/login', { body: { username: u.username.toUpperCase(), password: u.password } });
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, BAD_LOGIN);
});

test('wrong password, unknown user, non-string credentials: all 404 {code:101,"Invalid username/password."}', async () => {
  const u = await signUp(r);
  const bodies = [
    { username: u.username, password: 'wrong' },
    { username: uniqueName('nobody_'), password: u.password },
    { username: u.username, password: 123 },
    { username: 123, password: u.password },
  ];
  for (const body of bodies) {
    const res = await r('POST', '/login', { body });
    assert.equal(res.status, 404, JSON.stringify(body));
    assert.deepEqual(res.body, BAD_LOGIN, JSON.stringify(body));
  }
});

test('login without username/email or without password: 400 (messages end with a period, unlike sign-up)', async () => {
  const noUser = await r('POST', '/login', { body: { password: 'pw' } });
  assert.equal(noUser.status, 400);
  assert.deepEqual(noUser.body, { code: 200, error: 'username/email is required.' });
  const noPw = await r('POST', '/login', { body: { username: 'someone' } });
  assert.equal(noPw.status, 400);
  assert.deepEqual(noPw.body, { code: 201, error: 'password is required.' });
  const nothing = await r('GET', '/login');
  assert.equal(nothing.status, 400);
  assert.deepEqual(nothing.body, { code: 200, error: 'username/email is required.' });
});

test('GET /users/me: the user plus the caller\'s sessionToken; no token → 209 "Permission denied"; bad token → 209 "Invalid session token"', async () => {
  const e = email(uniqueName('me'));
  const u = await signUp(r, { email: e });
  const me = await u.as('GET', '/users/me');
  assert.equal(me.status, 200);
  const { createdAt, updatedAt, ...rest } = me.body;
  assert.deepEqual(rest, { objectId: u.id, username: u.username, email: e, ACL: acl(u.id), sessionToken: u.token });
  assert.match(createdAt, ISO);
  assert.match(updatedAt, ISO);
  const none = await r('GET', '/users/me');
  assert.equal(none.status, 400);
  assert.deepEqual(none.body, { code: 209, error: 'Permission denied' });
  const bad = await withToken(r, 'r:00000000000000000000000000000000')('GET', '/users/me');
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body, INVALID_TOKEN);
  const masterOnly = await r('GET', '/users/me', { master: true });
  assert.equal(masterOnly.status, 400);
  assert.deepEqual(masterOnly.body, { code: 209, error: 'Permission denied' });
});

test('any request with an unknown session token fails with 209, even a public find', async () => {
  const bad = withToken(r, 'r:doesnotexist');
  const res = await bad('GET', '/classes/_Role?limit=1');
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, INVALID_TOKEN);
});

test('POST /logout: 200 {} and the token is dead; other sessions survive; no token → 200 {}', async () => {
  const u = await signUp(r);
  const other = await logIn(r, u.username, u.password);
  const out = await u.as('POST', '/logout');
  assert.equal(out.status, 200);
  assert.deepEqual(out.body, {});
  const me = await u.as('GET', '/users/me');
  assert.equal(me.status, 400);
  assert.deepEqual(me.body, INVALID_TOKEN);
  const again = await u.as('POST', '/logout');
  assert.equal(again.status, 400);
  assert.deepEqual(again.body, INVALID_TOKEN);
  assert.equal((await other.as('GET', '/users/me')).status, 200, 'the other session is untouched');
  const anon = await r('POST', '/logout');
  assert.equal(anon.status, 200);
  assert.deepEqual(anon.body, {});
});

test('new user\'s default ACL is {<self>:{read,write}} only (no public read): others cannot get or find them', async () => {
  const a = await signUp(r, { email: email(uniqueName('priv')) });
  const b = await signUp(r);
  const m = await r('GET', `/users/${a.id}`, { master: true });
  assert.equal(m.status, 200);
  assert.deepEqual(m.body.ACL, acl(a.id));
  for (const [who, req] of [['other user', b.as], ['no user', r]]) {
    const res = await req('GET', `/users/${a.id}`);
    assert.equal(res.status, 404, who);
    assert.deepEqual(res.body, NF, who);
  }
  const res = await find(b.as, '_User', { where: { username: { $in: [a.username, b.username] } } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.results.map((u) => u.username), [b.username], 'only self is visible');
  const anon = await find(r, '_User', { where: { username: a.username } });
  assert.deepEqual(anon.body, { results: [] });
});

test('GET /users/<self>: includes email and the REQUEST\'s session token; find and master GET do not carry a token', async () => {
  const e = email(uniqueName('self'));
  const u = await signUp(r, { email: e });
  const second = await logIn(r, u.username, u.password);
  const got = await second.as('GET', `/users/${u.id}`);
  assert.equal(got.status, 200);
  const { createdAt, updatedAt, ...rest } = got.body;
  assert.deepEqual(rest, { objectId: u.id, username: u.username, email: e, ACL: acl(u.id), sessionToken: second.token });
  const viaClasses = await second.as('GET', `/classes/_User/${u.id}`);
  assert.equal(viaClasses.body.sessionToken, second.token);
  const found = await find(second.as, '_User', { where: { username: u.username } });
  assert.equal(found.body.results.length, 1);
  assert.ok(!('sessionToken' in found.body.results[0]));
  assert.equal(found.body.results[0].email, e, 'own email is visible in find');
  const master = await r('GET', `/users/${u.id}`, { master: true });
  assert.ok(!('sessionToken' in master.body));
  assert.equal(master.body.email, e);
});

test('a publicly readable user: others see username and ACL but NOT email; querying by email is refused (119)', async () => {
  const e = email(uniqueName('pub'));
  const a = await signUp(r, { email: e, ACL: { '*': { read: true } } });
  const b = await signUp(r);
  const m = await r('GET', `/users/${a.id}`, { master: true });
  assert.deepEqual(m.body.ACL, { '*': { read: true }, [a.id]: { read: true, write: true } }, 'self rw is always added');
  for (const [who, req] of [['other user', b.as], ['no user', r]]) {
    const res = await req('GET', `/users/${a.id}`);
    assert.equal(res.status, 200, who);
    const { createdAt, updatedAt, ...rest } = res.body;
    assert.deepEqual(rest, { objectId: a.id, username: a.username, ACL: { '*': { read: true }, [a.id]: { read: true, write: true } } }, who);
  }
  const byMail = await find(b.as, '_User', { where: { email: e } });
  assert.equal(byMail.status, 400);
  assert.deepEqual(byMail.body, { code: 119, error: 'Permission denied' });
  // even the owner may not query by email (the check is per class, not per object)
  const own = await find(a.as, '_User', { where: { email: e } });
  assert.equal(own.status, 400);
  assert.deepEqual(own.body, { code: 119, error: 'Permission denied' });
  const master = await find(r, '_User', { where: { email: e } }, { master: true });
  assert.deepEqual(master.body.results.map((u) => u.objectId), [a.id]);
});

test('password never appears; querying _hashed_password is refused (105)', async () => {
  const username = uniqueName();
  const signup = await r('POST', '/users', { body: { username, password: 'secret-pw', email: email(uniqueName('pw')) } });
  assert.equal(signup.status, 201);
  const u = { id: signup.body.objectId, username, password: 'secret-pw', as: withToken(r, signup.body.sessionToken) };
  const responses = [
    ['signup', signup],
    ['login', await r('POST', '/login', { body: { username: u.username, password: u.password } })],
    ['me', await u.as('GET', '/users/me')],
    ['get self', await u.as('GET', `/users/${u.id}`)],
    ['master get', await r('GET', `/users/${u.id}`, { master: true })],
    ['master find', await find(r, '_User', { where: { username: u.username } }, { master: true })],
    ['master keys=password', await find(r, '_User', { where: { username: u.username }, keys: 'password' }, { master: true })],
  ];
  for (const [where, res] of responses) assertNoPassword(res.body, where);
  const q = await find(u.as, '_User', { where: { _hashed_password: 'x' } });
  assert.equal(q.status, 400);
  assert.deepEqual(q.body, { code: 105, error: 'Invalid key name: _hashed_password' });
});

test('PUT /users/<id> by self: 200 {updatedAt}; username change allowed, to a taken name → 202', async () => {
  const u = await signUp(r);
  const other = await signUp(r);
  const up = await u.as('PUT', `/users/${u.id}`, { body: { nick: 'me' } });
  assert.equal(up.status, 200);
  assert.deepEqual(Object.keys(up.body), ['updatedAt']);
  const renamed = uniqueName('renamed_');
  assert.equal((await u.as('PUT', `/users/${u.id}`, { body: { username: renamed } })).status, 200);
  const login = await r('POST', '/login', { body: { username: renamed, password: u.password } });
  assert.equal(login.status, 200);
  assert.equal(login.body.nick, 'me');
  const taken = await u.as('PUT', `/users/${u.id}`, { body: { username: other.username } });
  assert.equal(taken.status, 400);
  assert.deepEqual(taken.body, { code: 202, error: 'Account already exists for this username.' });
});

test('PUT /users/<id> by another user or without a user: 400 {code:206,"Permission denied"}; bad token 209; master 200', async () => {
  const a = await signUp(r);
  const b = await signUp(r);
  await a.as('PUT', `/users/${a.id}`, { body: { nick: 'orig' } });
  for (const [who, req] of [['other user', b.as], ['no user', r]]) {
    const res = await req('PUT', `/users/${a.id}`, { body: { nick: 'hacked' } });
    assert.equal(res.status, 400, who);
    assert.deepEqual(res.body, DENIED_206, who);
  }
  const batch = await b.as('POST', '/batch', {
    body: { requests: [{ method: 'PUT', path: `${new URL(server.serverURL).pathname}/users/${a.id}`, body: { nick: 'x' } }] },
  });
  assert.deepEqual(batch.body, [{ error: DENIED_206 }]);
  const bad = await withToken(r, 'r:nope')('PUT', `/users/${a.id}`, { body: { nick: 'x' } });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body, INVALID_TOKEN);
  assert.equal((await r('GET', `/users/${a.id}`, { master: true })).body.nick, 'orig');
  const m = await r('PUT', `/users/${a.id}`, { body: { nick: 'by-master' }, master: true });
  assert.equal(m.status, 200);
  assert.equal((await a.as('GET', '/users/me')).body.nick, 'by-master');
});

test('PUT /users/me is not a route for updates: 206; PUT of a missing user id: 206 for a user, 101 for master', async () => {
  const u = await signUp(r);
  const me = await u.as('PUT', '/users/me', { body: { nick: 'x' } });
  assert.equal(me.status, 400);
  assert.deepEqual(me.body, DENIED_206);
  const missing = await u.as('PUT', '/users/zzzzzzzzzz', { body: { nick: 'x' } });
  assert.equal(missing.status, 400);
  assert.deepEqual(missing.body, DENIED_206);
  const m = await r('PUT', '/users/zzzzzzzzzz', { body: { nick: 'x' }, master: true });
  assert.equal(m.status, 404);
  assert.deepEqual(m.body, NF);
});

test('DELETE /users/<id>: other user 206 "Permission denied", no user 206 "Insufficient auth to delete user", self 200 {}', async () => {
  const a = await signUp(r);
  const b = await signUp(r);
  const byB = await b.as('DELETE', `/users/${a.id}`);
  assert.equal(byB.status, 400);
  assert.deepEqual(byB.body, DENIED_206);
  const byNone = await r('DELETE', `/users/${a.id}`);
  assert.equal(byNone.status, 400);
  assert.deepEqual(byNone.body, { code: 206, error: 'Insufficient auth to delete user' });
  assert.equal((await r('GET', `/users/${a.id}`, { master: true })).status, 200, 'still there');
  const self = await a.as('DELETE', `/users/${a.id}`);
  assert.equal(self.status, 200);
  assert.deepEqual(self.body, {});
  const gone = await r('GET', `/users/${a.id}`, { master: true });
  assert.equal(gone.status, 404);
  assert.deepEqual(gone.body, NF);
  const me = await a.as('GET', '/users/me');
  assert.equal(me.status, 400);
  assert.equal(me.body.code, 209);
});

test('master deletes any user; a session token of the deleted user is then invalid (209)', async () => {
  const a = await signUp(r);
  const unused = await logIn(r, a.username, a.password);
  const del = await r('DELETE', `/users/${a.id}`, { master: true });
  assert.equal(del.status, 200);
  assert.deepEqual(del.body, {});
  const me = await unused.as('GET', '/users/me');
  assert.equal(me.status, 400);
  assert.deepEqual(me.body, INVALID_TOKEN);
  const login = await r('POST', '/login', { body: { username: a.username, password: a.password } });
  assert.equal(login.status, 404);
  assert.deepEqual(login.body, BAD_LOGIN);
});

test('password change by self: 200 {updatedAt, sessionToken(new)}; ALL old sessions revoked; only the new password works', async () => {
  const u = await signUp(r);
  const other = await logIn(r, u.username, u.password);
  const res = await u.as('PUT', `/users/${u.id}`, { body: { password: 'new-password' } });
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.body).sort(), ['sessionToken', 'updatedAt']);
  assert.match(res.body.sessionToken, SESSION_TOKEN);
  assert.notEqual(res.body.sessionToken, u.token);
  for (const [which, req] of [['the changing session', u.as], ['another session', other.as]]) {
    const me = await req('GET', '/users/me');
    assert.equal(me.status, 400, which);
    assert.deepEqual(me.body, INVALID_TOKEN, which);
  }
  const fresh = await withToken(r, res.body.sessionToken)('GET', '/users/me');
  assert.equal(fresh.status, 200);
  assert.equal(fresh.body.objectId, u.id);
  const old = await r('POST', '/login', { body: { username: u.username, password: u.password } });
  assert.equal(old.status, 404);
  assert.deepEqual(old.body, BAD_LOGIN);
  const now = await r('POST', '/login', { body: { username: u.username, password: 'new-password' } });
  assert.equal(now.status, 200);
});

test('password change by master: 200 {updatedAt} only, and every session of the user is revoked', async () => {
  const u = await signUp(r);
  const res = await r('PUT', `/users/${u.id}`, { body: { password: 'set-by-master' }, master: true });
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.body), ['updatedAt']);
  const me = await u.as('GET', '/users/me');
  assert.equal(me.status, 400);
  assert.deepEqual(me.body, INVALID_TOKEN);
  assert.equal((await r('POST', '/login', { body: { username: u.username, password: 'set-by-master' } })).status, 200);
});

test('a user cannot lock themselves out: setting their own ACL (or signing up with ACL {}) keeps {<self>:rw}', async () => {
  const u = await signUp(r, { ACL: {} });
  assert.deepEqual((await r('GET', `/users/${u.id}`, { master: true })).body.ACL, acl(u.id));
  const pub = await u.as('PUT', `/users/${u.id}`, { body: { ACL: { '*': { read: true } } } });
  assert.equal(pub.status, 200);
  assert.deepEqual((await r('GET', `/users/${u.id}`, { master: true })).body.ACL, { '*': { read: true }, ...acl(u.id) });
  await u.as('PUT', `/users/${u.id}`, { body: { ACL: {} } });
  assert.deepEqual((await r('GET', `/users/${u.id}`, { master: true })).body.ACL, acl(u.id));
});

test('a user whose ACL the master set to {} cannot log in (101) and cannot read or update themselves', async () => {
  const u = await signUp(r);
  const m = await r('PUT', `/users/${u.id}`, { body: { ACL: {} }, master: true });
  assert.equal(m.status, 200);
  const login = await r('POST', '/login', { body: { username: u.username, password: u.password } });
  assert.equal(login.status, 404);
  assert.deepEqual(login.body, BAD_LOGIN);
  const me = await u.as('GET', '/users/me');
  assert.equal(me.status, 400);
  assert.deepEqual(me.body, { code: 209, error: 'Permission denied' });
  const up = await u.as('PUT', `/users/${u.id}`, { body: { nick: 'x' } });
  assert.equal(up.status, 400);
  assert.deepEqual(up.body, DENIED_206);
});

test('emailVerified cannot be set by a client (119) on sign-up or update', async () => {
  const res = await r('POST', '/users', { body: { username: uniqueName(), password: 'pw', emailVerified: true } });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 119, error: 'Permission denied' });
  const u = await signUp(r);
  const up = await u.as('PUT', `/users/${u.id}`, { body: { emailVerified: true } });
  assert.equal(up.status, 400);
  assert.deepEqual(up.body, { code: 119, error: 'Permission denied' });
});

test('GET /verifyPassword: 200 with the user (no sessionToken, no password); wrong password 101', async () => {
  const e = email(uniqueName('verify'));
  const u = await signUp(r, { email: e });
  const ok = await r('GET', `/verifyPassword?${new URLSearchParams({ username: u.username, password: u.password })}`);
  assert.equal(ok.status, 200);
  const { createdAt, updatedAt, ...rest } = ok.body;
  assert.deepEqual(rest, { objectId: u.id, username: u.username, email: e, ACL: acl(u.id) });
  const bad = await r('GET', `/verifyPassword?${new URLSearchParams({ username: u.username, password: 'nope' })}`);
  assert.equal(bad.status, 404);
  assert.deepEqual(bad.body, BAD_LOGIN);
  assert.equal((await u.as('GET', '/users/me')).status, 200, 'verifyPassword does not touch sessions');
});

test('anonymous sign-up: 201 {objectId, createdAt, username (25 random alphanumerics), sessionToken, authDataResponse:{}}', async () => {
  const id = randomUUID();
  const res = await r('POST', '/users', { body: { authData: { anonymous: { id } } } });
  assert.equal(res.status, 201);
  const { objectId, createdAt, username, sessionToken, ...rest } = res.body;
  assert.deepEqual(rest, { authDataResponse: {} });
  assert.match(objectId, OBJECT_ID);
  assert.match(createdAt, ISO);
  assert.match(username, /^[A-Za-z0-9]{25}$/);
  assert.match(sessionToken, SESSION_TOKEN);
  assert.equal(res.headers.get('location'), `${server.serverURL}/users/${objectId}`);
  const me = await withToken(r, sessionToken)('GET', '/users/me');
  assert.equal(me.status, 200);
  const { createdAt: c, updatedAt: u, ...meRest } = me.body;
  assert.deepEqual(meRest, { objectId, username, authData: { anonymous: { id } }, ACL: acl(objectId), sessionToken });
});

test('anonymous again with the same id: 200 (not 201), same user, whole user + new sessionToken + authDataResponse', async () => {
  const id = randomUUID();
  const first = await r('POST', '/users', { body: { authData: { anonymous: { id } } } });
  assert.equal(first.status, 201);
  const again = await r('POST', '/users', { body: { authData: { anonymous: { id } } } });
  assert.equal(again.status, 200);
  const { createdAt, updatedAt, sessionToken, ...rest } = again.body;
  assert.deepEqual(rest, {
    objectId: first.body.objectId, username: first.body.username, authData: { anonymous: { id } },
    ACL: acl(first.body.objectId), authDataResponse: {},
  });
  assert.equal(createdAt, first.body.createdAt);
  assert.match(sessionToken, SESSION_TOKEN);
  assert.notEqual(sessionToken, first.body.sessionToken);
  // through /classes/_User it is the same
  const viaClasses = await r('POST', '/classes/_User', { body: { authData: { anonymous: { id } } } });
  assert.equal(viaClasses.status, 200);
  assert.equal(viaClasses.body.objectId, first.body.objectId);
});

test('anonymous auth errors: empty authData → 200 "bad or missing username", non-string id → 162, unknown provider → 252', async () => {
  for (const authData of [{ anonymous: {} }, { anonymous: null }]) {
    const res = await r('POST', '/users', { body: { authData } });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { code: 200, error: 'bad or missing username' }, JSON.stringify(authData));
  }
  const num = await r('POST', '/users', { body: { authData: { anonymous: { id: 5 } } } });
  assert.equal(num.status, 400);
  assert.deepEqual(num.body, { code: 162, error: "Invalid authData id for provider 'anonymous'." });
  const unknown = await r('POST', '/users', { body: { authData: { bogus: { id: 'x' } } } });
  assert.equal(unknown.status, 400);
  assert.deepEqual(unknown.body, { code: 252, error: 'This authentication method is unsupported.' });
  // /login is username/password only
  const login = await r('POST', '/login', { body: { authData: { anonymous: { id: randomUUID() } } } });
  assert.equal(login.status, 400);
  assert.deepEqual(login.body, { code: 200, error: 'username/email is required.' });
});

test('an anonymous user can take a username and password (gets a new session token; old one revoked)', async () => {
  const res = await r('POST', '/users', { body: { authData: { anonymous: { id: randomUUID() } } } });
  const as = withToken(r, res.body.sessionToken);
  const name = uniqueName('upgraded_');
  const up = await as('PUT', `/users/${res.body.objectId}`, { body: { username: name, password: 'pw' } });
  assert.equal(up.status, 200);
  assert.deepEqual(Object.keys(up.body).sort(), ['sessionToken', 'updatedAt']);
  assert.equal((await as('GET', '/users/me')).status, 400, 'setting a password revoked the old session');
  const login = await r('POST', '/login', { body: { username: name, password: 'pw' } });
  assert.equal(login.status, 200);
  assert.equal(login.body.objectId, res.body.objectId);
});

test('POST /loginAs: master only (REST key or a user → 119); 200 user + sessionToken; unknown id 101 "user not found"; no id 162', async () => {
  const u = await signUp(r);
  for (const req of [r, u.as]) {
    const res = await req('POST', '/loginAs', { body: { userId: u.id } });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { code: 119, error: 'Permission denied' });
  }
  const ok = await r('POST', '/loginAs', { body: { userId: u.id }, master: true });
  assert.equal(ok.status, 200);
  const { createdAt, updatedAt, sessionToken, ...rest } = ok.body;
  assert.deepEqual(rest, { objectId: u.id, username: u.username, ACL: acl(u.id) });
  assert.match(sessionToken, SESSION_TOKEN);
  assert.equal((await withToken(r, sessionToken)('GET', '/users/me')).body.objectId, u.id);
  const missing = await r('POST', '/loginAs', { body: { userId: 'zzzzzzzzzz' }, master: true });
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.body, { code: 101, error: 'user not found' });
  const none = await r('POST', '/loginAs', { body: {}, master: true });
  assert.equal(none.status, 400);
  assert.deepEqual(none.body, { code: 162, error: 'userId must not be empty, null, or undefined' });
});

test('signing up while sending another user\'s session token creates an independent user and session', async () => {
  const a = await signUp(r);
  const b = await signUp(r, {}, { 'X-Parse-Session-Token': a.token });
  assert.notEqual(b.id, a.id);
  assert.notEqual(b.token, a.token);
  assert.equal((await b.as('GET', '/users/me')).body.objectId, b.id);
  assert.equal((await a.as('GET', '/users/me')).body.objectId, a.id);
});

// A bcrypt hash exactly as Parse Server 9 stored it (the oracle's _User._hashed_password for the
// password "correct horse battery"): users moved over from Parse keep their passwords, and the
// hash is replaced by argon2id at their next login. Rewriting the hash needs the database itself,
// which the tests reach on PostgreSQL (psql); SQLite has no client here.
const PARSE_BCRYPT = '$2y$10$7/jJVIRGlngrbDcHt9PLjOHQqp.bDhZmHC.dzmIlN7QBZgww/nWkm';

test('a bcrypt hash imported from Parse verifies and is rehashed to argon2id at login',
  { skip: (target !== 'basalt' || dbKind !== 'postgres') && 'needs direct access to a Basalt PostgreSQL database' },
  async () => {
    const u = await signUp(r);
    const sql = (q) => execFileSync('psql', ['-X', '-qAt', '-v', 'ON_ERROR_STOP=1', server.dbURI, '-c', q], { encoding: 'utf8' }).trim();
    sql(`UPDATE "_User" SET "_hashed_password" = '${PARSE_BCRYPT}' WHERE "objectId" = '${u.id}'`);
    const wrong = await r('POST', '/login', { body: { username: u.username, password: u.password } });
    assert.equal(wrong.status, 404, 'the old argon2id password no longer matches');
    const ok = await r('POST', '/login', { body: { username: u.username, password: 'correct horse battery' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.objectId, u.id);
    assert.match(sql(`SELECT "_hashed_password" FROM "_User" WHERE "objectId" = '${u.id}'`), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const again = await r('POST', '/login', { body: { username: u.username, password: 'correct horse battery' } });
    assert.equal(again.status, 200, 'the new hash verifies');
  });
