// _Role: creating roles, their validation, membership through the users/roles relations, and
// ACLs that grant role:Name (direct, inherited, cyclic, revoked). Raw HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, uniqueClass, target } from '../lib/harness.mjs';
import { OBJECT_ID, ISO, uniqueName, signUp, seed, find, ptr, createRole } from '../lib/util.mjs';

let server, r, T;
before(async () => {
  server = await startServer();
  r = rest(server);
  T = uniqueClass('RoleObj');
  await seed(r, T, [{ k: 'seed' }]);
});
after(async () => { await server.stop(); });

const NF = { code: 101, error: 'Object not found.' };
const PUBLIC_READ = { '*': { read: true } };
const addUsers = (...ids) => ({ users: { __op: 'AddRelation', objects: ids.map((id) => ptr('_User', id)) } });
const removeUsers = (...ids) => ({ users: { __op: 'RemoveRelation', objects: ids.map((id) => ptr('_User', id)) } });
const addRoles = (...ids) => ({ roles: { __op: 'AddRelation', objects: ids.map((id) => ptr('_Role', id)) } });

/** An object in T readable (and optionally writable) only through role:name. */
async function objectFor(name, { write = false } = {}) {
  const [id] = await seed(r, T, [{ k: name, ACL: { [`role:${name}`]: write ? { read: true, write: true } : { read: true } } }]);
  return id;
}

test('POST /roles with name + ACL (REST key, no user): 201 {objectId, createdAt}, Location /classes/_Role/<id>', async () => {
  const res = await r('POST', '/roles', { body: { name: uniqueName('R_'), ACL: PUBLIC_READ } });
  assert.equal(res.status, 201);
  assert.deepEqual(Object.keys(res.body).sort(), ['createdAt', 'objectId']);
  assert.match(res.body.objectId, OBJECT_ID);
  assert.equal(res.headers.get('location'), `${server.serverURL}/classes/_Role/${res.body.objectId}`);
});

test('POST /classes/_Role and POST /roles by a logged-in user work the same', async () => {
  const u = await signUp(r);
  for (const [path, req] of [['/classes/_Role', r], ['/roles', u.as]]) {
    const res = await req('POST', path, { body: { name: uniqueName('R_'), ACL: PUBLIC_READ } });
    assert.equal(res.status, 201, path);
    assert.equal(res.headers.get('location'), `${server.serverURL}/classes/_Role/${res.body.objectId}`);
  }
});

test('a role reads back as {name, users:Relation<_User>, roles:Relation<_Role>, ACL} even with no members', async () => {
  const name = uniqueName('R_');
  const id = await createRole(r, name);
  for (const path of [`/roles/${id}`, `/classes/_Role/${id}`]) {
    const res = await r('GET', path);
    assert.equal(res.status, 200, path);
    const { createdAt, updatedAt, ...rest } = res.body;
    assert.match(createdAt, ISO);
    assert.deepEqual(rest, {
      objectId: id, name,
      users: { __type: 'Relation', className: '_User' },
      roles: { __type: 'Relation', className: '_Role' },
      ACL: PUBLIC_READ,
    });
  }
  const byName = await find(r, '_Role', { where: { name } });
  assert.deepEqual(byName.body.results.map((x) => x.objectId), [id]);
});

test('role name is required: missing or "" → 400 {code:111,"name is required."}; a number → 111 schema mismatch', async () => {
  for (const body of [{ ACL: PUBLIC_READ }, { name: '', ACL: PUBLIC_READ }]) {
    const res = await r('POST', '/roles', { body, master: true });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { code: 111, error: 'name is required.' });
  }
  const num = await r('POST', '/roles', { body: { name: 123, ACL: PUBLIC_READ }, master: true });
  assert.equal(num.status, 400);
  assert.deepEqual(num.body, { code: 111, error: 'schema mismatch for _Role.name; expected String but got Number' });
});

test('an ACL is required, even for the master key: 400 {code:111,"ACL is required."}; ACL {} is accepted', async () => {
  for (const master of [false, true]) {
    const res = await r('POST', '/roles', { body: { name: uniqueName('R_') }, master });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { code: 111, error: 'ACL is required.' });
  }
  const empty = await r('POST', '/roles', { body: { name: uniqueName('R_'), ACL: {} }, master: true });
  assert.equal(empty.status, 201);
});

test('duplicate role name: 400 {code:137}; a name differing only in case is a different role', async () => {
  const name = uniqueName('Dup_');
  await createRole(r, name);
  const dup = await r('POST', '/roles', { body: { name, ACL: PUBLIC_READ }, master: true });
  assert.equal(dup.status, 400);
  assert.deepEqual(dup.body, { code: 137, error: 'A duplicate value for a field with unique values was provided' });
  const other = await r('POST', '/roles', { body: { name: name.toUpperCase(), ACL: PUBLIC_READ }, master: true });
  assert.equal(other.status, 201);
});

// Parse Server leaves role-name rules to the SDKs (code -1, client-side): its REST API accepts
// any name and renames. A role's name is its identity in every ACL (`role:<name>`), so Basalt
// enforces the SDKs' rules on the server: letters, digits, _, - and spaces (139), and no
// renaming once saved (139). See ORACLE-NOTES.md.
const INVALID_NAME = { code: 139, error: "A role's name can only contain alphanumeric characters, _, -, and spaces." };
const NO_RENAME = { code: 139, error: "A role's name can only be set before it has been saved." };

test('role-name characters: Parse accepts any name; Basalt refuses what the SDKs refuse (139)', async () => {
  const ok = await r('POST', '/roles', { body: { name: `a-b_c d ${uniqueName('')}`, ACL: PUBLIC_READ }, master: true });
  assert.equal(ok.status, 201, 'letters, digits, -, _ and spaces are fine everywhere');
  for (const name of [`has space! ${uniqueName('')}`, `role:${uniqueName('')}`]) {
    const res = await r('POST', '/roles', { body: { name, ACL: PUBLIC_READ }, master: true });
    if (target === 'oracle') assert.equal(res.status, 201, name);
    else assert.deepEqual([res.status, res.body], [400, INVALID_NAME], name);
  }
});

test('renaming a saved role: Parse allows it; Basalt refuses (139), the master key included', async () => {
  const name = uniqueName('Old_');
  const id = await createRole(r, name, { ACL: { '*': { read: true, write: true } } });
  const renamed = uniqueName('New_');
  for (const master of [false, true]) {
    const res = await r('PUT', `/roles/${id}`, { body: { name: renamed }, master });
    if (target === 'oracle') {
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(res.body), ['updatedAt']);
    } else {
      assert.deepEqual([res.status, res.body], [400, NO_RENAME]);
    }
  }
  assert.equal((await r('GET', `/roles/${id}`)).body.name, target === 'oracle' ? renamed : name);
});

test('users relation: AddRelation of users; find roles by member; $relatedTo lists members; wrong class → 111', async () => {
  const a = await signUp(r);
  const b = await signUp(r);
  const name = uniqueName('Members_');
  const id = await createRole(r, name);
  const add = await r('PUT', `/roles/${id}`, { body: addUsers(a.id, b.id), master: true });
  assert.equal(add.status, 200);
  assert.deepEqual(Object.keys(add.body), ['updatedAt']);
  const roles = await find(r, '_Role', { where: { users: ptr('_User', a.id) } });
  assert.deepEqual(roles.body.results.map((x) => x.name), [name]);
  const members = await find(r, '_User', { where: { $relatedTo: { object: ptr('_Role', id), key: 'users' } }, order: 'username' }, { master: true });
  assert.deepEqual(members.body.results.map((u) => u.objectId), [a, b].sort((x, y) => (x.username < y.username ? -1 : 1)).map((u) => u.id));
  const wrong = await r('PUT', `/roles/${id}`, { body: { users: { __op: 'AddRelation', objects: [ptr('_Role', id)] } }, master: true });
  assert.equal(wrong.status, 400);
  assert.deepEqual(wrong.body, { code: 111, error: 'schema mismatch for _Role.users; expected Relation<_User> but got Relation<_Role>' });
});

test('a role created with users in its POST body grants at once', async () => {
  const u = await signUp(r);
  const name = uniqueName('Born_');
  const res = await r('POST', '/roles', { body: { name, ACL: PUBLIC_READ, ...addUsers(u.id) }, master: true });
  assert.equal(res.status, 201);
  const obj = await objectFor(name);
  assert.equal((await u.as('GET', `/classes/${T}/${obj}`)).status, 200);
});

test('ACL role:Name read: members can get/find/count; non-members and the public cannot; members cannot write', async () => {
  const member = await signUp(r);
  const outsider = await signUp(r);
  const name = uniqueName('Readers_');
  await createRole(r, name, { users: [member.id] });
  const obj = await objectFor(name);
  const got = await member.as('GET', `/classes/${T}/${obj}`);
  assert.equal(got.status, 200);
  assert.deepEqual(got.body.ACL, { [`role:${name}`]: { read: true } });
  assert.deepEqual((await find(member.as, T, { where: { k: name } })).body.results.map((o) => o.objectId), [obj]);
  assert.deepEqual((await find(member.as, T, { where: { k: name }, count: '1', limit: '0' })).body, { results: [], count: 1 });
  for (const [who, req] of [['outsider', outsider.as], ['public', r]]) {
    const res = await req('GET', `/classes/${T}/${obj}`);
    assert.equal(res.status, 404, who);
    assert.deepEqual(res.body, NF, who);
    assert.deepEqual((await find(req, T, { where: { k: name } })).body, { results: [] }, who);
  }
  const put = await member.as('PUT', `/classes/${T}/${obj}`, { body: { k: 'changed' } });
  assert.equal(put.status, 404);
  assert.deepEqual(put.body, NF);
  const del = await member.as('DELETE', `/classes/${T}/${obj}`);
  assert.equal(del.status, 404);
  assert.deepEqual(del.body, NF);
});

test('ACL role:Name read+write: members can update and delete', async () => {
  const member = await signUp(r);
  const name = uniqueName('Writers_');
  await createRole(r, name, { users: [member.id] });
  const obj = await objectFor(name, { write: true });
  const put = await member.as('PUT', `/classes/${T}/${obj}`, { body: { extra: 1 } });
  assert.equal(put.status, 200);
  const del = await member.as('DELETE', `/classes/${T}/${obj}`);
  assert.equal(del.status, 200);
  assert.deepEqual(del.body, {});
});

test('inheritance: user in A, B.roles ∋ A → role:B grants the user; C.roles ∋ B → role:C grants too (three levels)', async () => {
  const u = await signUp(r);
  const outsider = await signUp(r);
  const [A, B, C] = [uniqueName('A_'), uniqueName('B_'), uniqueName('C_')];
  const a = await createRole(r, A, { users: [u.id] });
  const b = await createRole(r, B, { roles: [a] });
  await createRole(r, C, { roles: [b] });
  for (const name of [A, B, C]) {
    const obj = await objectFor(name);
    assert.equal((await u.as('GET', `/classes/${T}/${obj}`)).status, 200, `role:${name}`);
    assert.equal((await outsider.as('GET', `/classes/${T}/${obj}`)).status, 404, `role:${name} outsider`);
  }
  // the child role's members do not inherit "upwards": a member of C only is not in A
  const cOnly = await signUp(r);
  await r('PUT', `/roles/${(await find(r, '_Role', { where: { name: C } })).body.results[0].objectId}`, { body: addUsers(cOnly.id), master: true });
  const objA = await objectFor(A);
  assert.equal((await cOnly.as('GET', `/classes/${T}/${objA}`)).status, 404);
});

test('a cycle (A.roles ∋ B, B.roles ∋ A) does not hang, and both roles grant', async () => {
  const ua = await signUp(r);
  const ub = await signUp(r);
  const [A, B] = [uniqueName('CycA_'), uniqueName('CycB_')];
  const a = await createRole(r, A, { users: [ua.id] });
  const b = await createRole(r, B, { users: [ub.id], roles: [a] });
  const up = await r('PUT', `/roles/${a}`, { body: addRoles(b), master: true });
  assert.equal(up.status, 200);
  const [oa, ob] = [await objectFor(A), await objectFor(B)];
  for (const u of [ua, ub]) {
    const res = await find(u.as, T, { where: { objectId: { $in: [oa, ob] } }, order: 'k' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.results.map((o) => o.objectId).sort(), [oa, ob].sort());
  }
});

test('removing the user from the role revokes access on the very next request', async () => {
  const u = await signUp(r);
  const name = uniqueName('Revoke_');
  const id = await createRole(r, name, { users: [u.id] });
  const obj = await objectFor(name);
  assert.equal((await u.as('GET', `/classes/${T}/${obj}`)).status, 200);
  const rm = await r('PUT', `/roles/${id}`, { body: removeUsers(u.id), master: true });
  assert.equal(rm.status, 200);
  const res = await u.as('GET', `/classes/${T}/${obj}`);
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, NF);
  // and adding back grants again at once
  await r('PUT', `/roles/${id}`, { body: addUsers(u.id), master: true });
  assert.equal((await u.as('GET', `/classes/${T}/${obj}`)).status, 200);
});

test('cutting an inheritance link revokes at once', async () => {
  const u = await signUp(r);
  const [A, B] = [uniqueName('LinkA_'), uniqueName('LinkB_')];
  const a = await createRole(r, A, { users: [u.id] });
  const b = await createRole(r, B, { roles: [a] });
  const obj = await objectFor(B);
  assert.equal((await u.as('GET', `/classes/${T}/${obj}`)).status, 200);
  const cut = await r('PUT', `/roles/${b}`, { body: { roles: { __op: 'RemoveRelation', objects: [ptr('_Role', a)] } }, master: true });
  assert.equal(cut.status, 200);
  assert.equal((await u.as('GET', `/classes/${T}/${obj}`)).status, 404);
  const objA = await objectFor(A);
  assert.equal((await u.as('GET', `/classes/${T}/${objA}`)).status, 200, 'direct membership of A is untouched');
});

test('deleting a role revokes what it granted at once',
  { skip: target === 'oracle' && 'Parse clears its role cache on _Role writes but not on DELETE: the deleted role keeps granting for the cache TTL (5 s)' },
  async () => {
    const u = await signUp(r);
    const name = uniqueName('Doomed_');
    const id = await createRole(r, name, { users: [u.id] });
    const obj = await objectFor(name);
    assert.equal((await u.as('GET', `/classes/${T}/${obj}`)).status, 200);
    const del = await r('DELETE', `/roles/${id}`, { master: true });
    assert.equal(del.status, 200);
    assert.deepEqual(del.body, {});
    const res = await u.as('GET', `/classes/${T}/${obj}`);
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, NF);
  });

test('master DELETE /roles/<id>: 200 {} and the role is gone', async () => {
  const id = await createRole(r, uniqueName('Gone_'));
  const del = await r('DELETE', `/roles/${id}`, { master: true });
  assert.equal(del.status, 200);
  assert.deepEqual(del.body, {});
  const got = await r('GET', `/roles/${id}`, { master: true });
  assert.equal(got.status, 404);
  assert.deepEqual(got.body, NF);
});

test('adding yourself to a role whose ACL does not let you write: 404 {code:101} (public-read role or hidden role)', async () => {
  const u = await signUp(r);
  const readOnly = uniqueName('RO_');
  const ro = await createRole(r, readOnly);
  const hidden = uniqueName('Hidden_');
  const h = await createRole(r, hidden, { ACL: {} });
  for (const id of [ro, h]) {
    const res = await u.as('PUT', `/roles/${id}`, { body: addUsers(u.id) });
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, NF);
  }
  const obj = await objectFor(readOnly);
  assert.equal((await u.as('GET', `/classes/${T}/${obj}`)).status, 404, 'still not a member');
  assert.deepEqual((await u.as('GET', `/roles/${h}`)).body, NF, 'a role without read is invisible');
  const del = await u.as('DELETE', `/roles/${ro}`);
  assert.equal(del.status, 404);
  assert.deepEqual(del.body, NF);
});

test('a role whose ACL lets its own members write: members can add others, outsiders cannot', async () => {
  const admin = await signUp(r);
  const newcomer = await signUp(r);
  const name = uniqueName('Self_');
  const id = await createRole(r, name, { users: [admin.id], ACL: { '*': { read: true }, [`role:${name}`]: { write: true } } });
  const denied = await newcomer.as('PUT', `/roles/${id}`, { body: addUsers(newcomer.id) });
  assert.equal(denied.status, 404);
  const ok = await admin.as('PUT', `/roles/${id}`, { body: addUsers(newcomer.id) });
  assert.equal(ok.status, 200);
  const obj = await objectFor(name);
  assert.equal((await newcomer.as('GET', `/classes/${T}/${obj}`)).status, 200);
});

test('a publicly writable role: anyone logged in can join it', async () => {
  const u = await signUp(r);
  const name = uniqueName('Open_');
  const id = await createRole(r, name, { ACL: { '*': { read: true, write: true } } });
  const res = await u.as('PUT', `/roles/${id}`, { body: addUsers(u.id) });
  assert.equal(res.status, 200);
  const obj = await objectFor(name);
  assert.equal((await u.as('GET', `/classes/${T}/${obj}`)).status, 200);
});

test('roles without public read are invisible to non-master finds', async () => {
  const name = uniqueName('Invisible_');
  const id = await createRole(r, name, { ACL: {} });
  assert.deepEqual((await find(r, '_Role', { where: { name } })).body, { results: [] });
  assert.deepEqual((await find(r, '_Role', { where: { name } }, { master: true })).body.results.map((x) => x.objectId), [id]);
});

test('the _Join:users:_Role table is not reachable with the REST key: 400 {code:119,"Permission denied"}', async () => {
  for (const [m, body] of [['GET'], ['POST', { relatedId: 'x', owningId: 'y' }]]) {
    const res = await r(m, '/classes/_Join:users:_Role', { body });
    assert.equal(res.status, 400, m);
    assert.deepEqual(res.body, { code: 119, error: 'Permission denied' }, m);
  }
});
