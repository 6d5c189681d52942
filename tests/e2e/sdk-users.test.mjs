// Users, sessions, roles and ACLs driven through the official Parse JS SDK (parse/node):
// Parse.User.signUp/logIn/logOut/current/become/me, Parse.Session, Parse.Role, Parse.ACL and
// queries run with a user's sessionToken option.
//
// Note: one SDK process has ONE installation id (sent as _InstallationId on every request), and
// Parse revokes a user's older sessions for the same installation whenever it opens a new one —
// so a second SDK login of the same user kills the first SDK token (pinned below).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, sdk, uniqueClass } from '../lib/harness.mjs';
import { OBJECT_ID, SESSION_TOKEN, seed, uniqueName, signUp as restSignUp, createRole } from '../lib/util.mjs';

let server, r, Parse, T;
before(async () => {
  server = await startServer();
  r = rest(server);
  Parse = await sdk(server);
  Parse.User.enableUnsafeCurrentUser();
  T = uniqueClass('SdkAcl');
  await seed(r, T, [{ k: 'seed' }]);
});
after(async () => {
  // A failed `before` leaves Parse unset: stop the server whatever happened, or node waits on it.
  await Parse?.User.logOut().catch(() => {});
  await server?.stop();
});

/** Leaves the SDK without a current user (without revoking anything on the server). */
async function forgetCurrentUser() {
  await Parse.CoreManager.getUserController().removeUserFromDisk();
}

const rejectsWith = (promise, code, message) => assert.rejects(promise, (e) => {
  assert.equal(e.code, code, `code (${e.message})`);
  if (message !== undefined) assert.equal(e.message, message);
  return true;
});

test('Parse.User.signUp: id, "r:…" token, becomes current; the password is not kept on the object', async () => {
  const name = uniqueName('sdk_');
  const u = await Parse.User.signUp(name, 'pw', { email: `${name}@example.com` });
  assert.match(u.id, OBJECT_ID);
  assert.match(u.getSessionToken(), SESSION_TOKEN);
  assert.ok(u.isCurrent());
  assert.equal(Parse.User.current().id, u.id);
  assert.equal(u.get('username'), name);
  assert.equal(u.get('password'), undefined);
  assert.ok(u.createdAt instanceof Date);
  await forgetCurrentUser();
  assert.equal(Parse.User.current(), null);
});

test('Parse.User.signUp of a taken username rejects with 202', async () => {
  const name = uniqueName('sdkdup_');
  await restSignUp(r, { username: name });
  await rejectsWith(Parse.User.signUp(name, 'pw'), 202, 'Account already exists for this username.');
  await rejectsWith(Parse.User.signUp(name.toUpperCase(), 'pw'), 202, 'Account already exists for this username.');
});

test('Parse.User.logIn: wrong password → 101; right one → current user with email and a self-only ACL', async () => {
  const name = uniqueName('sdklogin_');
  const email = `${name}@example.com`;
  const created = await restSignUp(r, { username: name, email });
  await rejectsWith(Parse.User.logIn(name, 'wrong'), 101, 'Invalid username/password.');
  await rejectsWith(Parse.User.logIn(uniqueName('nobody_'), 'x'), 101, 'Invalid username/password.');
  const u = await Parse.User.logIn(name, created.password);
  assert.equal(u.id, created.id);
  assert.equal(Parse.User.current().id, created.id);
  assert.equal(u.get('email'), email);
  assert.match(u.getSessionToken(), SESSION_TOKEN);
  const acl = u.getACL();
  assert.ok(acl.getReadAccess(u.id) && acl.getWriteAccess(u.id));
  assert.equal(acl.getPublicReadAccess(), false);
  assert.deepEqual(acl.toJSON(), { [u.id]: { read: true, write: true } });
  await forgetCurrentUser();
});

test('a second SDK login of the same user (same installation id) revokes the first SDK session', async () => {
  const name = uniqueName('sdkinst_');
  const first = await Parse.User.signUp(name, 'pw');
  const firstToken = first.getSessionToken();
  const second = await Parse.User.logIn(name, 'pw');
  assert.notEqual(second.getSessionToken(), firstToken);
  await rejectsWith(Parse.User.me(firstToken), 209);
  assert.equal((await Parse.User.me(second.getSessionToken())).id, first.id);
  await forgetCurrentUser();
});

test('Parse.User.logOut: current() becomes null and the token is dead (209)', async () => {
  const name = uniqueName('sdkout_');
  const u = await Parse.User.signUp(name, 'pw');
  const token = u.getSessionToken();
  await Parse.User.logOut();
  assert.equal(Parse.User.current(), null);
  await rejectsWith(Parse.User.me(token), 209, 'Invalid session token');
  const res = await r('GET', '/users/me', { headers: { 'X-Parse-Session-Token': token } });
  assert.deepEqual(res.body, { code: 209, error: 'Invalid session token' });
});

test('Parse.User.become(token) makes that user current; a bogus token rejects with 209 "Invalid session token"', async () => {
  const created = await restSignUp(r);
  const u = await Parse.User.become(created.token);
  assert.equal(u.id, created.id);
  assert.equal(u.get('username'), created.username);
  assert.equal(u.getSessionToken(), created.token);
  assert.equal(Parse.User.current().id, created.id);
  await rejectsWith(Parse.User.become('r:bogus'), 209, 'Invalid session token');
  await forgetCurrentUser();
});

test('Parse.User.me(token) fetches the user without making it current', async () => {
  const created = await restSignUp(r);
  const u = await Parse.User.me(created.token);
  assert.equal(u.id, created.id);
  assert.equal(u.getSessionToken(), created.token);
  assert.equal(Parse.User.current(), null);
});

test('Parse.Session.current(): the current session with createdWith, installationId and the token', async () => {
  const name = uniqueName('sdksess_');
  const u = await Parse.User.signUp(name, 'pw');
  const installationId = await Parse.CoreManager.getInstallationController().currentInstallationId();
  const s = await Parse.Session.current();
  assert.match(s.id, OBJECT_ID);
  assert.equal(s.getSessionToken(), u.getSessionToken());
  assert.deepEqual(s.get('createdWith'), { action: 'signup', authProvider: 'password' });
  assert.equal(s.get('installationId'), installationId);
  assert.equal(s.get('user').id, u.id);
  assert.ok(s.get('expiresAt') instanceof Date);
  assert.equal(Parse.Session.isCurrentSessionRevocable(), true);
  // a Session query lists only this user's sessions
  const other = await restSignUp(r);
  const mine = await new Parse.Query(Parse.Session).find({ sessionToken: u.getSessionToken() });
  assert.deepEqual(mine.map((x) => x.get('user').id), [u.id]);
  const theirs = await new Parse.Query(Parse.Session).find({ sessionToken: other.token });
  assert.deepEqual(theirs.map((x) => x.getSessionToken()), [other.token]);
  await Parse.User.logOut();
});

test('Parse.Query with a sessionToken option honours per-user ACLs (find, get, count)', async () => {
  const a = await restSignUp(r);
  const b = await restSignUp(r);
  const acl = new Parse.ACL();
  acl.setReadAccess(a.id, true);
  acl.setWriteAccess(a.id, true);
  const tag = uniqueName('tag_');
  const obj = await new Parse.Object(T, { k: tag }).setACL(acl).save(null, { useMasterKey: true });
  const q = () => new Parse.Query(T).equalTo('k', tag);
  assert.deepEqual((await q().find({ sessionToken: a.token })).map((o) => o.id), [obj.id]);
  assert.deepEqual(await q().find({ sessionToken: b.token }), []);
  assert.deepEqual(await q().find(), [], 'no user');
  assert.equal(await q().count({ sessionToken: a.token }), 1);
  assert.equal(await q().count({ sessionToken: b.token }), 0);
  await rejectsWith(new Parse.Query(T).get(obj.id, { sessionToken: b.token }), 101, 'Object not found.');
  const got = await new Parse.Query(T).get(obj.id, { sessionToken: a.token });
  assert.deepEqual(got.getACL().toJSON(), { [a.id]: { read: true, write: true } });
});

test('save/destroy with a sessionToken option: the owner may, another user gets 101', async () => {
  const a = await restSignUp(r);
  const b = await restSignUp(r);
  const acl = new Parse.ACL();
  acl.setPublicReadAccess(true);
  acl.setWriteAccess(a.id, true);
  const obj = await new Parse.Object(T, { k: uniqueName('w_') }).setACL(acl).save(null, { useMasterKey: true });
  const asB = await new Parse.Query(T).get(obj.id, { sessionToken: b.token });
  asB.set('k', 'by-b');
  await rejectsWith(asB.save(null, { sessionToken: b.token }), 101, 'Object not found.');
  await rejectsWith(asB.destroy({ sessionToken: b.token }), 101, 'Object not found.');
  const asA = await new Parse.Query(T).get(obj.id, { sessionToken: a.token });
  asA.set('k', 'by-a');
  await asA.save(null, { sessionToken: a.token });
  assert.equal((await new Parse.Query(T).get(obj.id)).get('k'), 'by-a');
  await asA.destroy({ sessionToken: a.token });
  await rejectsWith(new Parse.Query(T).get(obj.id, { useMasterKey: true }), 101);
});

test('an object saved by a logged-in user with Parse.ACL(user) is private to that user', async () => {
  const a = await restSignUp(r);
  const b = await restSignUp(r);
  const me = await Parse.User.me(a.token);
  const obj = new Parse.Object(T, { k: uniqueName('mine_') });
  obj.setACL(new Parse.ACL(me));
  await obj.save(null, { sessionToken: a.token });
  assert.deepEqual(obj.getACL().toJSON(), { [a.id]: { read: true, write: true } });
  assert.equal((await new Parse.Query(T).get(obj.id, { sessionToken: a.token })).id, obj.id);
  await rejectsWith(new Parse.Query(T).get(obj.id, { sessionToken: b.token }), 101);
});

test('Parse.Role: members (getUsers().add) read role-ACL objects; child roles (getRoles().add) inherit', async () => {
  const a = await restSignUp(r);
  const c = await restSignUp(r);
  const outsider = await restSignUp(r);
  const roleAcl = new Parse.ACL();
  roleAcl.setPublicReadAccess(true);
  const child = new Parse.Role(uniqueName('SdkChild_'), roleAcl);
  child.getUsers().add(Parse.User.createWithoutData(c.id));
  await child.save(null, { useMasterKey: true });
  const parent = new Parse.Role(uniqueName('SdkParent_'), roleAcl);
  parent.getUsers().add(Parse.User.createWithoutData(a.id));
  parent.getRoles().add(child);
  await parent.save(null, { useMasterKey: true });
  assert.match(parent.id, OBJECT_ID);

  const acl = new Parse.ACL();
  acl.setRoleReadAccess(parent, true);
  const obj = await new Parse.Object(T, { k: uniqueName('role_') }).setACL(acl).save(null, { useMasterKey: true });
  assert.deepEqual(obj.getACL().toJSON(), { [`role:${parent.getName()}`]: { read: true } });
  for (const u of [a, c]) assert.equal((await new Parse.Query(T).get(obj.id, { sessionToken: u.token })).id, obj.id);
  await rejectsWith(new Parse.Query(T).get(obj.id, { sessionToken: outsider.token }), 101);
  // role queries
  const roles = await new Parse.Query(Parse.Role).equalTo('users', Parse.User.createWithoutData(a.id)).find();
  assert.deepEqual(roles.map((x) => x.getName()), [parent.getName()]);
  const members = await parent.getUsers().query().find({ useMasterKey: true });
  assert.deepEqual(members.map((x) => x.id), [a.id]);
  const children = await parent.getRoles().query().find();
  assert.deepEqual(children.map((x) => x.getName()), [child.getName()]);
  // removing the member revokes
  parent.getUsers().remove(Parse.User.createWithoutData(a.id));
  await parent.save(null, { useMasterKey: true });
  await rejectsWith(new Parse.Query(T).get(obj.id, { sessionToken: a.token }), 101);
});

test('Parse.Role validates names client-side (code -1): bad characters, and renaming after save', async () => {
  assert.throws(() => new Parse.Role('bad name!', new Parse.ACL()), (e) => {
    assert.equal(e.code, -1);
    assert.equal(e.message, "A role's name can be only contain alphanumeric characters, _, -, and spaces.");
    return true;
  });
  const acl = new Parse.ACL();
  acl.setPublicReadAccess(true);
  const role = await new Parse.Role(uniqueName('SdkNamed_'), acl).save(null, { useMasterKey: true });
  assert.throws(() => role.setName('renamed'), (e) => e.code === -1 && e.message === "A role's name can only be set before it has been saved.");
});

test('a user can save their own fields but not another user\'s (206)', async () => {
  const a = await restSignUp(r);
  const b = await restSignUp(r);
  const me = await Parse.User.me(a.token);
  me.set('nick', 'sdk-nick');
  await me.save(null, { sessionToken: a.token });
  assert.equal((await Parse.User.me(a.token)).get('nick'), 'sdk-nick');
  const other = Parse.User.createWithoutData(a.id);
  other.set('nick', 'hijack');
  await rejectsWith(other.save(null, { sessionToken: b.token }), 206, 'Permission denied');
  await rejectsWith(Parse.User.createWithoutData(a.id).destroy({ sessionToken: b.token }), 206, 'Permission denied');
});

test('password change through the SDK: the user object picks up the new session token; the old one is dead', async () => {
  const created = await restSignUp(r);
  const u = await Parse.User.become(created.token);
  u.setPassword('brand-new');
  await u.save();
  const newToken = u.getSessionToken();
  assert.match(newToken, SESSION_TOKEN);
  assert.notEqual(newToken, created.token);
  await rejectsWith(Parse.User.me(created.token), 209, 'Invalid session token');
  assert.equal((await Parse.User.me(newToken)).id, created.id);
  await forgetCurrentUser();
  await rejectsWith(Parse.User.logIn(created.username, created.password), 101);
  const again = await Parse.User.logIn(created.username, 'brand-new');
  assert.equal(again.id, created.id);
  await forgetCurrentUser();
});

test('Parse.Query(Parse.User) as a user returns only readable users (self, and public ones without email)', async () => {
  const tag = uniqueName('ulist_');
  const a = await restSignUp(r, { username: `${tag}_a` });
  await restSignUp(r, { username: `${tag}_b` });
  const pub = await restSignUp(r, { username: `${tag}_c`, email: `${tag}@example.com`, ACL: { '*': { read: true } } });
  const found = await new Parse.Query(Parse.User).startsWith('username', tag).ascending('username').find({ sessionToken: a.token });
  assert.deepEqual(found.map((u) => u.get('username')), [`${tag}_a`, `${tag}_c`]);
  assert.equal(found[1].id, pub.id);
  assert.equal(found[1].get('email'), undefined, 'email of another user is hidden');
});

test('Parse.User.loginAs(userId) (master key): a session for that user, createdWith authProvider "masterkey"', async () => {
  const created = await restSignUp(r);
  const u = await Parse.User.loginAs(created.id);
  assert.equal(u.id, created.id);
  assert.match(u.getSessionToken(), SESSION_TOKEN);
  const s = await new Parse.Query(Parse.Session).equalTo('sessionToken', u.getSessionToken()).first({ useMasterKey: true });
  assert.deepEqual(s.get('createdWith'), { action: 'login', authProvider: 'masterkey' });
  await forgetCurrentUser();
});

test('Parse.AnonymousUtils.logIn(): an anonymous user with a random 25-character username', async () => {
  const u = await Parse.AnonymousUtils.logIn();
  assert.match(u.id, OBJECT_ID);
  assert.match(u.get('username'), /^[A-Za-z0-9]{25}$/);
  assert.ok(Parse.AnonymousUtils.isLinked(u));
  assert.equal(Parse.User.current().id, u.id);
  const fetched = await Parse.User.me(u.getSessionToken());
  assert.deepEqual(Object.keys(fetched.get('authData')), ['anonymous']);
  await Parse.User.logOut();
  assert.equal(Parse.User.current(), null);
});

test('a user can destroy themselves through the SDK; afterwards logIn fails with 101', async () => {
  const created = await restSignUp(r);
  const u = await Parse.User.me(created.token);
  await u.destroy({ sessionToken: created.token });
  await rejectsWith(new Parse.Query(Parse.User).get(created.id, { useMasterKey: true }), 101);
  await rejectsWith(Parse.User.logIn(created.username, created.password), 101, 'Invalid username/password.');
});
