// The cloud.js half: Parse.Cloud's registry and `__basalt.invoke`, the dispatcher the host calls.
// Handlers are registered inside a fresh shim context per test; answers are checked whole.
// Messages and codes are Parse Server 9.10's (triggers.js, FunctionsRouter.js, Parse.Cloud.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shim, answerer, plain, OfficialParse } from './harness.mjs';

// A shim whose main.js is `register` (run inside the context with its Parse).
function app(register, options) {
  const s = shim(options);
  s.adopt(register)(s.Parse);
  return s;
}

const USER = { objectId: 'u1', username: 'alice', email: 'a@x.io', sessionToken: 'r:alice', createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z' };
const STORED = { className: 'Post', objectId: 'p1', title: 'old', n: 1, tags: ['a'], ACL: { '*': { read: true }, u1: { read: true, write: true } }, createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-02T00:00:00.000Z' };

// ------------------------------------------------------------------ registration

test('list() reports functions, jobs, triggers and rate limits', () => {
  const s = app((Parse) => {
    class Post extends Parse.Object { constructor() { super('Post'); } }
    Parse.Object.registerSubclass('Post', Post);
    Parse.Cloud.define('hello', () => 'hi', { rateLimit: { requestTimeWindow: 1000, requestCount: 2 } });
    Parse.Cloud.define('a.b', () => 'dropped, as Parse drops a dotted name');
    Parse.Cloud.job('nightly', () => {});
    Parse.Cloud.beforeSave('Post', () => {}, { rateLimit: { requestTimeWindow: 10, requestCount: 1 } });
    Parse.Cloud.afterSave(Post, () => {});
    Parse.Cloud.beforeFind(Parse.User, () => {});
    Parse.Cloud.afterFind('_User', () => {});
    Parse.Cloud.beforeDelete(Parse.Role, () => {});
    Parse.Cloud.afterDelete(Parse.Installation, () => {});
    Parse.Cloud.beforeLogin(() => {}, { rateLimit: { requestTimeWindow: 5, requestCount: 5 } });
    Parse.Cloud.afterLogin(() => {});
    Parse.Cloud.afterLogout(() => {});
    Parse.Cloud.beforeSave(Parse.File, () => {});
    Parse.Cloud.beforeConnect(() => {});
    Parse.Cloud.beforeSubscribe('Post', () => {});
    Parse.Cloud.afterLiveQueryEvent('Post', () => {});
    Parse.Cloud.onLiveQueryEvent(() => {});
  });
  assert.deepEqual(JSON.parse(s.basalt.list()), {
    functions: ['hello'],
    jobs: ['nightly'],
    triggers: [
      { kind: 'beforeSave', className: 'Post' }, { kind: 'afterSave', className: 'Post' },
      { kind: 'beforeFind', className: '_User' }, { kind: 'afterFind', className: '_User' },
      { kind: 'beforeDelete', className: '_Role' }, { kind: 'afterDelete', className: '_Installation' },
      { kind: 'beforeLogin', className: '_User' }, { kind: 'afterLogin', className: '_User' },
      { kind: 'afterLogout', className: '_Session' }, { kind: 'beforeSave', className: '@File' },
      { kind: 'beforeConnect', className: '@Connect' }, { kind: 'beforeSubscribe', className: 'Post' },
      { kind: 'afterEvent', className: 'Post' },
    ],
    rateLimits: [
      { requestPath: '/functions/hello', requestTimeWindow: 1000, requestCount: 2 },
      { requestPath: '/classes/Post{/*id}', requestMethods: ['POST', 'PUT'], requestTimeWindow: 10, requestCount: 1 },
      { requestPath: '/login', requestMethods: ['POST', 'GET'], requestTimeWindow: 5, requestCount: 5 },
    ],
    liveQueryEventHandlers: 1,
  });
});

test('registration errors are Parse Server\'s', () => {
  const s = shim();
  const thrown = (fn) => {
    try {
      s.adopt(fn)(s.Parse);
    } catch (e) {
      return e;
    }
    return 'nothing thrown';
  };
  assert.equal(thrown((P) => P.Cloud.beforeSave('_PushStatus', () => {})), 'Only afterSave is allowed on _PushStatus');
  assert.equal(thrown((P) => P.Cloud.beforeFind('_Session', () => {})), 'Only the afterLogout trigger is allowed for the _Session class.');
  assert.equal(thrown((P) => P.Cloud.beforeLogin('Post', () => {})),
    'Only the _User class is allowed for the beforeLogin, afterLogin, and beforePasswordResetRequest triggers');
  assert.equal(thrown((P) => P.Cloud.afterLogout(P.User, () => {})), 'Only the _Session class is allowed for the afterLogout trigger.');
  assert.equal(thrown((P) => P.Cloud.define('f', () => {}, { requireUsr: true })), 'requireUsr is not a supported parameter for Cloud Function validations.');
  assert.equal(thrown((P) => P.Cloud.define('f', () => {}, { requireUser: 'yes' })),
    'Invalid type for Cloud Function validation key requireUser. Expected boolean, actual string');
  assert.equal(thrown((P) => P.Cloud.define('f', () => {}, { fields: { a: { requird: true } } })),
    'requird is not a supported parameter for Cloud Function validations.');
  assert.equal(thrown((P) => P.Cloud.define('f', () => {}, { rateLimit: { requestCount: 1, perMinute: 3 } })), 'Invalid rate limit option "perMinute"');
  assert.equal(thrown((P) => P.Cloud.beforeSaveFile), 'nothing thrown', 'Parse Server 9 has no beforeSaveFile; it is undefined');
  assert.equal(s.Parse.Cloud.beforeSaveFile, undefined);
});

test('a second define warns and replaces; useMasterKey warns and does nothing', async () => {
  const s = app((Parse) => {
    Parse.Cloud.define('f', () => 1);
    Parse.Cloud.define('f', () => 2);
    Parse.Cloud.useMasterKey();
  });
  assert.deepEqual(await s.invoke('function', 'f', {}), { result: 2 });
  assert.deepEqual(s.logs, [
    ['warn', 'Warning: Duplicate cloud functions exist for f. Only the last one will be used and the others will be ignored.'],
    ['warn', 'Parse.Cloud.useMasterKey is deprecated (and has no effect anymore) on parse-server, please refer to the cloud code migration notes: http://docs.parseplatform.org/parse-server/guide/#master-key-must-be-passed-explicitly'],
  ]);
});

test('builtinModule gives Parse for parse and parse/node only; __host is gone', () => {
  const s = shim();
  assert.equal(s.basalt.builtinModule('parse/node'), s.Parse);
  assert.equal(s.basalt.builtinModule('parse'), s.Parse);
  assert.equal(s.basalt.builtinModule('fs'), undefined);
  assert.equal(s.eval('typeof __host'), 'undefined');
  assert.deepEqual(plain(s.eval('Object.keys(globalThis)')), ['Parse']);
  assert.ok(Object.isFrozen(s.basalt) && Object.isFrozen(s.Parse.Error));
});

// ------------------------------------------------------------------ functions

test('functions: results are encoded as Parse Server encodes them', async () => {
  const s = app((Parse) => {
    const saved = () => Parse.Object.fromJSON({ className: 'Post', objectId: 'p1', title: 't', createdAt: '2024-01-01T00:00:00.000Z' });
    Parse.Cloud.define('object', () => saved());
    Parse.Cloud.define('objects', async () => [saved(), { nested: saved() }]);
    Parse.Cloud.define('dirty', () => saved().set('title', 'changed'));
    Parse.Cloud.define('date', () => ({ at: new Date('2024-05-05T05:05:05.005Z') }));
    Parse.Cloud.define('null', () => null);
    Parse.Cloud.define('undefined', () => {});
    Parse.Cloud.define('geo', () => new Parse.GeoPoint(1, 2));
  });
  const full = { title: 't', createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z', objectId: 'p1', __type: 'Object', className: 'Post' };
  assert.deepEqual(await s.invoke('function', 'object', {}), { result: full });
  assert.deepEqual(await s.invoke('function', 'objects', {}), { result: [full, { nested: full }] });
  assert.deepEqual(await s.invoke('function', 'dirty', {}), { result: { __type: 'Pointer', className: 'Post', objectId: 'p1' } });
  assert.deepEqual(await s.invoke('function', 'date', {}), { result: { at: { __type: 'Date', iso: '2024-05-05T05:05:05.005Z' } } });
  assert.deepEqual(await s.invoke('function', 'null', {}), { result: null });
  assert.deepEqual(await s.invoke('function', 'undefined', {}), {});
  assert.deepEqual(await s.invoke('function', 'geo', {}), { result: { __type: 'GeoPoint', latitude: 1, longitude: 2 } });
  // The same values through the official SDK's encoder, which Parse Server uses.
  const official = OfficialParse.Object.fromJSON({ className: 'Post', objectId: 'p1', title: 't', createdAt: '2024-01-01T00:00:00.000Z' });
  assert.deepEqual(plain(OfficialParse._encode([official, { nested: official }])), [full, { nested: full }]);
});

test('functions: thrown values become Parse Server\'s errors', async () => {
  const s = app((Parse) => {
    Parse.Cloud.define('parseError', () => { throw new Parse.Error(209, 'bad session'); });
    Parse.Cloud.define('error', () => { throw new Error('boom'); });
    Parse.Cloud.define('string', () => { throw 'plain text'; });
    Parse.Cloud.define('rejects', () => Promise.reject(new Error('async boom')));
    Parse.Cloud.define('nothing', () => { throw undefined; });
    Parse.Cloud.define('typeError', () => null.x);
    Parse.Cloud.define('unsaved', () => new Parse.Object('Post'));
  });
  assert.deepEqual(await s.invoke('function', 'parseError', {}), { error: { code: 209, message: 'bad session' } });
  assert.deepEqual(await s.invoke('function', 'error', {}), { error: { code: 141, message: 'boom' } });
  assert.deepEqual(await s.invoke('function', 'string', {}), { error: { code: 141, message: 'plain text' } });
  assert.deepEqual(await s.invoke('function', 'rejects', {}), { error: { code: 141, message: 'async boom' } });
  assert.deepEqual(await s.invoke('function', 'nothing', {}), { error: { code: 141, message: 'Script failed.' } });
  assert.equal((await s.invoke('function', 'typeError', {})).error.code, 141);
  assert.deepEqual(await s.invoke('function', 'unsaved', {}), { error: { code: 141, message: 'Cannot create a pointer to an unsaved ParseObject' } });
  assert.deepEqual(await s.invoke('function', 'missing', {}), { error: { code: 141, message: 'Invalid function: "missing"' } });
  assert.deepEqual(await s.invoke('nonsense', 'x', {}), { error: { code: 141, message: 'Unknown invocation kind: nonsense' } });
  assert.deepEqual(JSON.parse(await s.basalt.invoke('not json')).error.code, 141);
});

test('functions: the request carries params, user, master and the rest', async () => {
  const s = app((Parse) => {
    Parse.Cloud.define('echo', (req) => ({
      params: req.params, isDate: req.params.when instanceof Date, ptr: req.params.ptr instanceof Parse.Object && req.params.ptr.toPointer(),
      file: req.params.file instanceof Parse.File && req.params.file.url(),
      user: req.user && [req.user.id, req.user.getSessionToken(), req.user.getUsername(), req.user instanceof Parse.User, req.user.get('password')],
      master: req.master, installationId: req.installationId, headers: req.headers, ip: req.ip, functionName: req.functionName, context: req.context,
      current: Parse.User.current(),
    }));
  });
  const answer = await s.invoke('function', 'echo', {
    master: false, user: { ...USER, password: 'hidden' }, installationId: 'inst', ip: '10.0.0.1', headers: { 'x-a': '1' }, context: { c: 1 },
    params: { n: 1, when: { __type: 'Date', iso: '2024-01-01T00:00:00.000Z' }, ptr: { __type: 'Pointer', className: 'Post', objectId: 'p1' }, file: { __type: 'File', name: 'f', url: 'http://f' }, deep: { list: [{ __type: 'Date', iso: '2024-01-01T00:00:00.000Z' }] } },
  });
  assert.deepEqual(answer.result, {
    params: { n: 1, when: { __type: 'Date', iso: '2024-01-01T00:00:00.000Z' }, ptr: { __type: 'Pointer', className: 'Post', objectId: 'p1' }, file: { __type: 'File', name: 'f', url: 'http://f' }, deep: { list: [{ __type: 'Date', iso: '2024-01-01T00:00:00.000Z' }] } },
    isDate: true, ptr: { __type: 'Pointer', className: 'Post', objectId: 'p1' }, file: 'http://f',
    user: ['u1', 'r:alice', 'alice', true, null], master: false, installationId: 'inst', headers: { 'x-a': '1' }, ip: '10.0.0.1', functionName: 'echo', context: { c: 1 }, current: null,
  });
});

test('functions: express-style (req, res) handlers', async () => {
  const s = app((Parse) => {
    Parse.Cloud.define('ok', (req, res) => { res.status(201).header('X-Custom', 'y').success({ made: true }); });
    Parse.Cloud.define('fail', (req, res) => { res.status(418).error('teapot'); });
    Parse.Cloud.define('returns', (req, res) => 'returned');
    Parse.Cloud.define('later', (req, res) => { Promise.resolve().then(() => res.success(7)); });
  });
  assert.deepEqual(await s.invoke('function', 'ok', {}), { result: { made: true }, status: 201, headers: { 'X-Custom': 'y' } });
  assert.deepEqual(await s.invoke('function', 'fail', {}), { error: { code: 141, message: 'teapot' }, status: 418 });
  assert.deepEqual(await s.invoke('function', 'returns', {}), { result: 'returned' });
  assert.deepEqual(await s.invoke('function', 'later', {}), { result: 7 });
});

// ------------------------------------------------------------------ validators

test('validators: requireUser, requireMaster, fields, user keys, custom functions', async () => {
  const s = app((Parse) => {
    Parse.Cloud.define('user', () => 'ok', { requireUser: true });
    Parse.Cloud.define('master', () => 'ok', { requireMaster: true });
    Parse.Cloud.define('fields', (req) => req.params, {
      fields: {
        name: { type: String, required: true },
        size: { type: Number, options: [1, 2] },
        kind: { default: 'basic' },
        even: { options: (v) => v % 2 === 0, error: 'must be even' },
      },
    });
    Parse.Cloud.define('list', () => 'ok', { fields: ['a', 'b'] });
    Parse.Cloud.define('keys', () => 'ok', { requireUserKeys: ['email', 'phone'] });
    Parse.Cloud.define('custom', () => 'ok', (req) => { if (!req.params.ok) throw 'Custom refusal'; });
    Parse.Cloud.define('customError', () => 'ok', () => { throw new Parse.Error(119, 'nope'); });
    Parse.Cloud.define('customEmpty', () => 'ok', () => Promise.reject());
    Parse.Cloud.define('strict', () => 'ok', { requireUser: true, validateMasterKey: true });
  });
  const err = (message, code = 142) => ({ error: { code, message } });
  assert.deepEqual(await s.invoke('function', 'user', {}), err('Validation failed. Please login to continue.'));
  assert.deepEqual(await s.invoke('function', 'user', { user: USER }), { result: 'ok' });
  assert.deepEqual(await s.invoke('function', 'user', { master: true }), { result: 'ok' }, 'the master key skips the validator');
  assert.deepEqual(await s.invoke('function', 'strict', { master: true }), err('Validation failed. Please login to continue.'));
  assert.deepEqual(await s.invoke('function', 'master', { user: USER }), err('Validation failed. Master key is required to complete this request.'));
  assert.deepEqual(await s.invoke('function', 'fields', { params: {} }), err('Validation failed. Please specify data for name.'));
  assert.deepEqual(await s.invoke('function', 'fields', { params: { name: 1 } }), err('Validation failed. Invalid type for name. Expected: string'));
  assert.deepEqual(await s.invoke('function', 'fields', { params: { name: 'x', size: 3 } }), err('Validation failed. Invalid option for size. Expected: 1, 2'));
  assert.deepEqual(await s.invoke('function', 'fields', { params: { name: 'x', even: 3 } }), err('must be even'));
  assert.deepEqual(await s.invoke('function', 'fields', { params: { name: 'x', size: 2, even: 4 } }), { result: { name: 'x', size: 2, even: 4, kind: 'basic' } });
  assert.deepEqual(await s.invoke('function', 'list', { params: { a: 1 } }), err('Validation failed. Please specify data for b.'));
  assert.deepEqual(await s.invoke('function', 'keys', { user: USER }), err('Validation failed. Please set data for phone on your account.'));
  assert.deepEqual(await s.invoke('function', 'custom', { params: {} }), err('Custom refusal'));
  assert.deepEqual(await s.invoke('function', 'custom', { params: { ok: 1 } }), { result: 'ok' });
  assert.deepEqual(await s.invoke('function', 'customError', {}), err('nope', 119));
  assert.deepEqual(await s.invoke('function', 'customEmpty', {}), err('Validation failed.'));
});

test('validators: roles are read with the master key, inherited roles included', async () => {
  const roleAnswers = () => answerer({
    'GET classes/_Role': (call) => {
      const where = call.body.where;
      if (where.users) return { status: 200, body: { results: [{ objectId: 'r1', name: 'Editors' }] } };
      if (where.roles && where.roles.$in.some((p) => p.objectId === 'r1')) return { status: 200, body: { results: [{ objectId: 'r2', name: 'Staff' }] } };
      return { status: 200, body: { results: [] } };
    },
  });
  const s = app((Parse) => {
    Parse.Cloud.define('any', () => 'ok', { requireAnyUserRoles: ['Admins', 'Staff'] });
    Parse.Cloud.define('all', () => 'ok', { requireAllUserRoles: ['Editors', 'Admins'] });
    Parse.Cloud.define('dynamic', () => 'ok', { requireAnyUserRoles: async () => ['Editors'] });
  }, { answer: roleAnswers() });
  assert.deepEqual(await s.invoke('function', 'any', { user: USER }), { result: 'ok' });
  assert.deepEqual(await s.invoke('function', 'all', { user: USER }), { error: { code: 142, message: 'Validation failed. User does not match all the required roles.' } });
  assert.deepEqual(await s.invoke('function', 'dynamic', { user: USER }), { result: 'ok' });
  assert.deepEqual(await s.invoke('function', 'any', {}), { error: { code: 142, message: 'Validation failed. Please login to continue.' } });
  const roleCalls = s.calls.filter((c) => c.path === 'classes/_Role');
  assert.deepEqual(roleCalls.slice(0, 2), [
    { method: 'GET', path: 'classes/_Role', body: { where: { users: { __type: 'Pointer', className: '_User', objectId: 'u1' } }, limit: 100, order: 'objectId' }, options: { useMasterKey: true } },
    { method: 'GET', path: 'classes/_Role', body: { where: { roles: { $in: [{ __type: 'Pointer', className: '_Role', objectId: 'r1' }] } }, limit: 100, order: 'objectId' }, options: { useMasterKey: true } },
  ]);
});

test('validators on triggers: skipWithMasterKey, fields read from the object, defaults and constants', async () => {
  const s = app((Parse) => {
    Parse.Cloud.beforeSave('Post', (req) => { req.object.set('ran', true); }, {
      skipWithMasterKey: true,
      fields: { title: { required: true }, status: { default: 'draft', constant: true } },
    });
  });
  const skipped = await s.invoke('beforeSave', 'Post', { master: true, object: { className: 'Post' }, changes: { title: 'x' } });
  assert.deepEqual(skipped.object, { title: 'x' });
  const missing = await s.invoke('beforeSave', 'Post', { object: { className: 'Post' }, changes: { n: 1 } });
  assert.deepEqual(missing, { error: { code: 142, message: 'Validation failed. Please specify data for title.' } });
  const created = await s.invoke('beforeSave', 'Post', { object: { className: 'Post' }, changes: { title: 'x', status: 'published' } });
  assert.deepEqual(created.object, { title: 'x', status: 'draft', ran: true });
  const updated = await s.invoke('beforeSave', 'Post', { object: { ...STORED, status: 'draft' }, changes: { title: 'y', status: 'published' } });
  assert.deepEqual(updated.object, { title: 'y', ran: true, objectId: 'p1' }, 'a constant field keeps its stored value');
});

// ------------------------------------------------------------------ beforeSave / afterSave

// What Parse Server 9 answers for a beforeSave, computed with the official SDK: RestWrite's
// buildParseObjects, the handler, then getResponseObject's `_getSaveJSON() + objectId`.
async function officialBeforeSave(className, stored, changes, handler) {
  const Parse = OfficialParse;
  const object = Parse.Object.fromJSON({ className, ...stored });
  object.set(Parse._decode(undefined, changes));
  await handler(object, Parse);
  const body = object._getSaveJSON();
  if (object.id !== undefined) body.objectId = object.id;
  return plain(body);
}

// Handlers of (object, Parse), run by both.
const BEFORE_SAVE_HANDLERS = {
  sets: (object) => { object.set('title', object.get('title').toUpperCase()); object.set('extra', { a: [1] }); },
  unsets: (object) => { object.unset('n'); object.unset('tags'); },
  increments: (object) => { object.increment('n', 10); object.addUnique('tags', 'z'); },
  'changes the ACL': (object, Parse) => {
    const acl = object.getACL() || new Parse.ACL();
    acl.setPublicReadAccess(false);
    acl.setRoleReadAccess('Staff', true);
    object.setACL(acl);
  },
  'changes the ACL in place': (object) => { object.getACL().setPublicWriteAccess(true); },
  'does nothing': () => {},
  'replaces a nested object': (object) => { object.set('meta', { ...object.get('meta'), seen: true }); },
  'relates objects': (object, Parse) => { object.relation('likes').add(Parse.User.createWithoutData('u9')); },
};

for (const [name, handler] of Object.entries(BEFORE_SAVE_HANDLERS)) {
  for (const [mode, stored, changes] of [
    ['update', STORED, { title: 'new', n: { __op: 'Increment', amount: 2 }, meta: { v: 1 } }],
    ['create', null, { title: 'fresh', n: 5, tags: ['q'], meta: {}, ACL: { u1: { read: true, write: true } }, owner: { __type: 'Pointer', className: '_User', objectId: 'u1' } }],
  ]) {
    test(`beforeSave (${mode}) that ${name}: answers what Parse Server writes`, async () => {
      const s = shim();
      s.eval(`Parse.Cloud.beforeSave('Post', (req) => (${handler.toString()})(req.object, Parse))`);
      const answer = await s.invoke('beforeSave', 'Post', { object: stored || { className: 'Post' }, changes });
      const { className, ...storedFields } = stored || {};
      assert.deepEqual(answer.object, await officialBeforeSave('Post', stored ? storedFields : undefined, changes, handler));
    });
  }
}

test('beforeSave: the request Parse Server builds (dirty keys, original, context, user)', async () => {
  const s = app((Parse) => {
    Parse.Cloud.beforeSave('Post', (req) => {
      req.context.fromBefore = true;
      req.object.set('seen', {
        dirtyKeys: req.object.dirtyKeys().sort(), n: req.object.get('n'), isNew: req.object.isNew(), existed: req.object.existed(),
        original: req.original ? req.original.get('n') : null, originalDirty: req.original ? req.original.dirty() : null,
        user: req.user ? req.user.id : null, master: req.master, triggerName: req.triggerName, context: req.context.c,
        ip: req.ip, installationId: req.installationId, op: req.object.op('n') ? req.object.op('n').toJSON() : null,
      });
    });
  });
  const updated = await s.invoke('beforeSave', 'Post', { user: USER, ip: '1.2.3.4', installationId: 'i', context: { c: 'ctx' }, object: STORED, changes: { n: { __op: 'Increment', amount: 2 } } });
  assert.deepEqual(updated.object.seen, {
    dirtyKeys: ['n'], n: 3, isNew: false, existed: true, original: 1, originalDirty: false, user: 'u1', master: false,
    triggerName: 'beforeSave', context: 'ctx', ip: '1.2.3.4', installationId: 'i', op: { __op: 'Increment', amount: 2 },
  });
  assert.deepEqual(updated.context, { c: 'ctx', fromBefore: true });
  assert.deepEqual(updated.object.n, { __op: 'Increment', amount: 2 });
  const created = await s.invoke('beforeSave', 'Post', { object: { className: 'Post' }, changes: { n: 4 } });
  assert.deepEqual(created.object.seen, {
    dirtyKeys: ['n'], n: 4, isNew: true, existed: false, original: null, originalDirty: null, user: null, master: false,
    triggerName: 'beforeSave', op: 4,
  });
});

test('beforeSave: failures and a returned {object}', async () => {
  const s = app((Parse) => {
    Parse.Cloud.beforeSave('A', () => { throw new Parse.Error(137, 'duplicate'); });
    Parse.Cloud.beforeSave('B', () => { throw new Error('broken'); });
    Parse.Cloud.beforeSave('C', () => { throw 'refused'; });
    Parse.Cloud.beforeSave('D', async () => { throw undefined; });
    Parse.Cloud.beforeSave('E', async (req) => ({ object: { replaced: true } }));
    Parse.Cloud.beforeSave('F', (req) => ({ object: { ignored: true } }));
    Parse.Cloud.beforeSave('G', async (req) => req.object);
  });
  const input = { object: { className: 'X' }, changes: { a: 1 } };
  assert.deepEqual(await s.invoke('beforeSave', 'A', input), { error: { code: 137, message: 'duplicate' } });
  assert.deepEqual(await s.invoke('beforeSave', 'B', input), { error: { code: 141, message: 'broken' } });
  assert.deepEqual(await s.invoke('beforeSave', 'C', input), { error: { code: 141, message: 'refused' } });
  assert.deepEqual(await s.invoke('beforeSave', 'D', input), { error: { code: 141, message: 'Script failed. Unknown error.' } });
  assert.deepEqual((await s.invoke('beforeSave', 'E', input)).object, { replaced: true }, 'an async handler\'s {object} replaces the write');
  assert.deepEqual((await s.invoke('beforeSave', 'F', input)).object, { a: 1 }, 'a synchronous return is ignored');
  assert.deepEqual((await s.invoke('beforeSave', 'G', input)).object, { a: 1 });
  assert.deepEqual(await s.invoke('beforeSave', 'Nobody', input), {});
});

// As RestWrite does, a read-only field sent on create is server data the handler can read, and is
// not part of what gets written.
test('beforeSave on _User: the session token is read-only, the signing-up user passes requireUser', async () => {
  const s = app((Parse) => {
    Parse.Cloud.beforeSave(Parse.User, (req) => {
      req.object.set('checked', [req.object instanceof Parse.User, req.object.getUsername(), req.object.get('password'), req.object.getSessionToken() || null]);
    }, { requireUser: true });
  });
  const answer = await s.invoke('beforeSave', '_User', { object: { className: '_User' }, changes: { username: 'neo', password: 'pw', sessionToken: 'r:forged' } });
  assert.deepEqual(answer.object, { username: 'neo', password: 'pw', checked: [true, 'neo', 'pw', 'r:forged'] });
});

test('afterSave: existed() tells create from update; a returned object replaces the response', async () => {
  const s = app((Parse) => {
    Parse.Cloud.afterSave('Post', (req) => {
      req.log.info('saved', req.object.id, { existed: req.object.existed() });
      if (req.object.get('title') === 'json') return { custom: 'response' };
      req.object.set('computed', req.original ? req.original.get('title') : 'none');
    });
    Parse.Cloud.afterSave('Boom', () => { throw new Error('after failed'); });
  });
  const created = await s.invoke('afterSave', 'Post', { object: { ...STORED, title: 'new' } });
  assert.equal(created.object.computed, 'none');
  const updated = await s.invoke('afterSave', 'Post', { object: { ...STORED, title: 'new' }, original: STORED, context: { k: 1 } });
  const { className, ...fields } = STORED;
  assert.deepEqual(updated, { context: { k: 1 }, object: { ...fields, title: 'new', computed: 'old' } });
  assert.deepEqual(await s.invoke('afterSave', 'Post', { object: { ...STORED, title: 'json' } }), { context: {}, response: { custom: 'response' } });
  assert.deepEqual(s.logs.map((l) => l.join(' ')), ['info saved p1 {"existed":false}', 'info saved p1 {"existed":true}', 'info saved p1 {"existed":false}']);
  assert.deepEqual(await s.invoke('afterSave', 'Boom', { object: STORED }), { error: { code: 141, message: 'after failed' } });
});

// ------------------------------------------------------------------ delete, login

test('beforeDelete / afterDelete, login and logout triggers', async () => {
  const s = app((Parse) => {
    Parse.Cloud.beforeDelete('Post', (req) => {
      if (req.object.get('locked')) throw new Parse.Error(119, 'locked');
      req.context.checked = req.object.id;
    });
    Parse.Cloud.afterDelete('Post', async (req) => {
      await new Parse.Query('Comment').equalTo('post', req.object).find({ useMasterKey: true });
    });
    Parse.Cloud.beforeLogin((req) => { if (req.object.get('banned')) throw new Error('Access denied, you have been banned.'); });
    Parse.Cloud.afterLogin((req) => { req.log.info('login', req.object.getUsername(), req.user === req.object, req.user.getSessionToken()); });
    Parse.Cloud.afterLogout((req) => { req.log.info('logout', req.object.className, req.object.getSessionToken(), req.user ? req.user.id : null); });
  });
  assert.deepEqual(await s.invoke('beforeDelete', 'Post', { object: STORED }), { context: { checked: 'p1' } });
  assert.deepEqual(await s.invoke('beforeDelete', 'Post', { object: { ...STORED, locked: true } }), { error: { code: 119, message: 'locked' } });
  assert.deepEqual(await s.invoke('afterDelete', 'Post', { object: STORED, user: USER }), { context: {} });
  assert.deepEqual(s.calls.at(-1), { method: 'GET', path: 'classes/Comment', body: { where: { post: { __type: 'Pointer', className: 'Post', objectId: 'p1' } } }, options: { useMasterKey: true } });
  assert.deepEqual(await s.invoke('beforeLogin', '_User', { object: { ...USER, banned: true } }), { error: { code: 141, message: 'Access denied, you have been banned.' } });
  assert.deepEqual(await s.invoke('beforeLogin', '_User', { object: USER }), {});
  assert.deepEqual(await s.invoke('afterLogin', '_User', { object: USER, user: USER }), {});
  assert.deepEqual(await s.invoke('afterLogout', '_Session', { object: { objectId: 's1', sessionToken: 'r:gone' }, user: USER }), {});
  assert.deepEqual(s.logs.map((l) => l.join(' ')), ['info login alice true r:alice', 'info logout _Session r:gone u1']);
});

// ------------------------------------------------------------------ find triggers

test('beforeFind: constraints and options the handler adds reach the query', async () => {
  const s = app((Parse) => {
    Parse.Cloud.beforeFind('Post', (req) => {
      req.query.equalTo('published', true);
      req.query.limit(5);
      req.query.include('author');
      req.log.info(req.count, req.isGet, req.query.className, req.triggerName);
    });
    Parse.Cloud.beforeFind('Other', (req) => new Parse.Query('Other').greaterThan('n', 1).descending('n').skip(2));
    Parse.Cloud.beforeFind('Zero', (req) => { req.query.limit(0); });
    Parse.Cloud.beforeFind('Objects', async (req) => [Parse.Object.fromJSON({ className: 'Objects', objectId: 'o1', n: 1 })]);
    Parse.Cloud.beforeFind('Refuse', () => { throw new Parse.Error(119, 'no finds'); });
  });
  const query = { className: 'Post', where: { title: 'x' }, limit: 100, order: 'title', keys: 'title', count: true };
  assert.deepEqual(await s.invoke('beforeFind', 'Post', { query, isGet: false, count: true }), {
    query: { className: 'Post', where: { title: 'x', published: true }, limit: 5, order: 'title', keys: 'title', count: true, include: 'author' },
    context: {},
  });
  assert.deepEqual(s.logs.at(-1), ['info', 'true false Post beforeFind']);
  assert.deepEqual((await s.invoke('beforeFind', 'Other', { query: { className: 'Other', where: { a: 1 }, limit: 10 } })).query,
    { className: 'Other', where: { n: { $gt: 1 } }, limit: 10, skip: 2, order: '-n' });
  assert.deepEqual((await s.invoke('beforeFind', 'Zero', { query: { className: 'Zero', where: {}, limit: 10 } })).query,
    { className: 'Zero', where: {}, limit: 10 }, 'as in Parse Server, a limit of 0 set by the handler is not applied');
  assert.deepEqual(await s.invoke('beforeFind', 'Objects', { query: { className: 'Objects', where: {} } }), {
    query: { className: 'Objects', where: {} }, context: {}, objects: [{ n: 1, objectId: 'o1', className: 'Objects' }],
  });
  assert.deepEqual(await s.invoke('beforeFind', 'Refuse', { query: { className: 'Refuse', where: {} } }), { error: { code: 119, message: 'no finds' } });
});

test('afterFind: the handler drops, changes or replaces objects', async () => {
  const s = app((Parse) => {
    Parse.Cloud.afterFind('Post', (req) => req.objects.filter((o) => !o.get('hidden')).map((o) => {
      o.set('title', o.get('title').toUpperCase());
      o.set('author', Parse.Object.fromJSON({ className: '_User', objectId: 'u1', username: 'alice' }));
      return o;
    }));
    Parse.Cloud.afterFind('Keep', (req) => { req.log.info(req.objects.length, req.query.toJSON().where.a, req.isGet); });
    Parse.Cloud.afterFind('Fail', () => Promise.reject('nope'));
  });
  const objects = [
    { objectId: 'p1', title: 'one', createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z' },
    { objectId: 'p2', title: 'two', hidden: true },
  ];
  const answer = await s.invoke('afterFind', 'Post', { objects, query: { className: 'Post', where: {} } });
  // Parse Server's toJSONwithObjects, with the official SDK.
  const official = OfficialParse.Object.fromJSON({ ...objects[0], className: 'Post' });
  official.set('title', 'ONE');
  official.set('author', OfficialParse.Object.fromJSON({ className: '_User', objectId: 'u1', username: 'alice' }));
  const expected = official.toJSON();
  expected.title = 'ONE';
  expected.author = official.get('author')._toFullJSON();
  expected.className = 'Post';
  assert.deepEqual(answer, { objects: [plain(expected)] });
  assert.deepEqual(await s.invoke('afterFind', 'Keep', { objects, query: { className: 'Keep', where: { a: 1 } }, isGet: true }), {
    objects: [{ ...objects[0], className: 'Keep' }, { ...objects[1], className: 'Keep' }],
  });
  assert.deepEqual(s.logs.at(-1), ['info', '2 1 true']);
  assert.deepEqual(await s.invoke('afterFind', 'Fail', { objects, query: { className: 'Fail', where: {} } }), { error: { code: 141, message: 'nope' } });
});

// ------------------------------------------------------------------ jobs

test('jobs: request.message updates _JobStatus with the master key; the status message is Parse\'s', async () => {
  const s = app((Parse) => {
    Parse.Cloud.job('work', async (req) => {
      await req.message('halfway');
      await req.message({ not: 'a string' });
      return `done ${req.params.n} ${req.jobName} ${req.jobId} ${req.user} ${req.master}`;
    });
    Parse.Cloud.job('fails', () => { throw new Error('job broke'); });
    Parse.Cloud.job('object', () => ({ count: 1 }));
  });
  assert.deepEqual(await s.invoke('job', 'work', { params: { n: 3 }, jobId: 'j1' }), {
    result: 'done 3 work j1 undefined undefined', message: 'done 3 work j1 undefined undefined',
  });
  assert.deepEqual(s.calls, [{ method: 'PUT', path: 'classes/_JobStatus/j1', body: { message: 'halfway' }, options: { useMasterKey: true } }]);
  assert.deepEqual(await s.invoke('job', 'fails', { jobId: 'j2' }), { error: { code: 141, message: 'job broke' }, message: 'job broke' });
  assert.deepEqual(await s.invoke('job', 'object', { jobId: 'j3' }), { result: { count: 1 } });
  assert.deepEqual(await s.invoke('job', 'missing', {}), { error: { code: 141, message: 'Invalid job.' } });
});

// ------------------------------------------------------------------ isolation

test('concurrent invocations never see each other\'s user', async () => {
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  const s = app((Parse) => {
    Parse.Cloud.define('whoami', async (req) => {
      const before = req.user.id;
      const found = await new Parse.Query('Item').find({ sessionToken: req.user.getSessionToken() });
      return { before, after: req.user.id, token: req.user.getSessionToken(), found: found.length, current: Parse.User.current() };
    });
  }, {
    answer: (call) => gate.then(() => ({ status: 200, body: { results: [{ objectId: call.options.sessionToken }] } })),
  });
  const first = s.invoke('function', 'whoami', { user: USER });
  const second = s.invoke('function', 'whoami', { user: { ...USER, objectId: 'u2', sessionToken: 'r:bob' } });
  await new Promise((resolve) => setImmediate(resolve));
  release();
  assert.deepEqual(await first, { result: { before: 'u1', after: 'u1', token: 'r:alice', found: 1, current: null } });
  assert.deepEqual(await second, { result: { before: 'u2', after: 'u2', token: 'r:bob', found: 1, current: null } });
  assert.deepEqual(s.calls.map((c) => c.options), [{ sessionToken: 'r:alice' }, { sessionToken: 'r:bob' }]);
});

test('no credentials means a public request, never the master key', async () => {
  const s = app((Parse) => {
    Parse.Cloud.define('public', async (req) => {
      await new Parse.Query('Item').find();
      await new Parse.Object('Item').save();
      await Parse.Cloud.run('other');
      return 'ok';
    });
  }, { answer: answerer({ 'POST functions/other': { status: 200, body: { result: 1 } } }) });
  assert.deepEqual(await s.invoke('function', 'public', { master: true, user: USER }), { result: 'ok' });
  assert.deepEqual(s.calls.map((c) => c.options), [{}, {}, {}]);
});

// ------------------------------------------------------------------ httpRequest

test('Parse.Cloud.httpRequest: params, bodies, errors, redirects', async () => {
  const s = app((Parse) => {
    Parse.Cloud.define('http', async (req) => {
      const ok = await Parse.Cloud.httpRequest({ url: 'https://api.example.com/x?a=1', params: { q: 'a b', list: [1, 2] }, method: 'POST', body: { k: 'v' }, headers: { 'Content-Type': 'application/json' } });
      const form = await Parse.Cloud.httpRequest({ url: 'https://api.example.com/form', method: 'POST', body: { k: 'v w', n: 1 }, followRedirects: true });
      let failed;
      await Parse.Cloud.httpRequest({ url: 'https://api.example.com/missing' }).catch((r) => { failed = [r.status, r.text, r.data]; });
      let refused;
      await Parse.Cloud.httpRequest({ url: 'https://blocked.example.com/' }).catch((e) => { refused = e; });
      return { ok: [ok.status, ok.data, ok.text, ok.headers], form: form.status, failed, refused };
    });
  }, {
    http: (r) => {
      if (r.url.includes('blocked')) return { error: { code: 141, message: 'host not allowed' } };
      if (r.url.includes('missing')) return { status: 404, headers: {}, text: 'not here' };
      return { status: 200, headers: { 'content-type': 'application/json' }, text: '{"echo":true}' };
    },
  });
  assert.deepEqual(await s.invoke('function', 'http', {}), {
    result: { ok: [200, { echo: true }, '{"echo":true}', { 'content-type': 'application/json' }], form: 200, failed: [404, 'not here', null], refused: { code: 141, message: 'host not allowed' } },
  });
  assert.deepEqual(s.calls.map((c) => c.http), [
    { method: 'POST', url: 'https://api.example.com/x?a=1&q=a%20b&list=1&list=2', headers: { 'Content-Type': 'application/json' }, body: '{"k":"v"}', followRedirects: false },
    { method: 'POST', url: 'https://api.example.com/form', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'k=v%20w&n=1', followRedirects: true },
    { method: 'GET', url: 'https://api.example.com/missing', headers: {}, followRedirects: false },
    { method: 'GET', url: 'https://blocked.example.com/', headers: {}, followRedirects: false },
  ]);
});
