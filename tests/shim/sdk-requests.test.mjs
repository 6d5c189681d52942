// The fidelity oracle for the SDK half of the shim: each operation runs once through the
// official Parse JS SDK (npm `parse`, capturing REST controller) and once through the shim, with
// the same canned answers; both must send the same requests (method, path, body, credentials)
// and come back with the same result. Operations are self-contained functions: the harness
// re-creates them inside the shim's context.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { both, answerer } from './harness.mjs';

async function same(op, makeAnswer) {
  const { official, shim } = await both(op, makeAnswer);
  assert.deepEqual(shim.calls, official.calls, 'requests differ');
  assert.deepEqual({ result: shim.result, error: shim.error }, { result: official.result, error: official.error }, 'outcomes differ');
  return official;
}

const stored = (extra = {}) => () => answerer({
  'GET classes/': { status: 200, body: { results: [{ objectId: 'a1', n: 1, tags: ['x'], createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z', ...extra }] } },
});

test('save: a new object with every value type', async () => {
  await same(async (Parse) => {
    const saved = Parse.Object.fromJSON({ className: 'Other', objectId: 'o1' });
    const acl = new Parse.ACL();
    acl.setPublicReadAccess(true);
    acl.setWriteAccess('u1', true);
    acl.setRoleReadAccess('admins', true);
    const obj = new Parse.Object('Thing', {
      s: 'text', n: 1.5, b: false, nil: null, d: new Date('2024-05-06T07:08:09.010Z'),
      arr: [1, 'two', { three: 3 }], obj: { nested: { deep: true } },
      geo: new Parse.GeoPoint(40.5, -73.25), poly: new Parse.Polygon([[0, 0], [0, 1], [1, 1]]),
      ptr: saved, bytes: { __type: 'Bytes', base64: 'aGk=' },
      file: Parse.File.fromJSON({ __type: 'File', name: 'f.txt', url: 'http://x/f.txt' }),
    });
    obj.setACL(acl);
    await obj.save();
    return { id: obj.id, createdAt: obj.createdAt, updatedAt: obj.updatedAt, existed: obj.existed(), dirty: obj.dirty(), json: obj.toJSON() };
  });
});

test('save: pending operations combine as the SDK combines them', async () => {
  await same(async (Parse) => {
    const obj = Parse.Object.fromJSON({ className: 'Thing', objectId: 't1', n: 5, tags: ['a', 'b'], gone: 1, s: 'x' });
    obj.increment('n');
    obj.increment('n', 2);
    obj.decrement('m', 4);
    obj.add('tags', 'c');
    obj.addAll('tags', ['d', 'e']);
    obj.addUnique('u', 'x');
    obj.addAllUnique('u', ['x', 'y']);
    obj.remove('r', 1);
    obj.removeAll('r', [2, 3]);
    obj.unset('gone');
    obj.increment('s2');
    obj.set('s2', 'set after increment');
    obj.set('k', 1);
    obj.increment('k');
    obj.set({ a: 1, b: 2 });
    obj.set('removeMe', 1, { unset: true });
    const before = { n: obj.get('n'), m: obj.get('m'), tags: obj.get('tags'), u: obj.get('u'), k: obj.get('k'), dirtyKeys: obj.dirtyKeys().sort(), op: obj.op('n').toJSON() };
    await obj.save(null, { useMasterKey: true });
    return { before, json: obj.toJSON(), dirty: obj.dirty() };
  });
});

test('get: one attribute as the SDK estimates it, with dot-notation and relation changes', async () => {
  await same(async (Parse) => {
    const obj = Parse.Object.fromJSON({ className: 'Thing', objectId: 't1', o: { x: 1, y: { z: 2 } }, n: 1, s: 'x' });
    const plain = { n: obj.get('n'), o: obj.get('o'), missing: obj.get('missing'), proto: typeof obj.get('__proto__'), ctor: typeof obj.get('constructor'), toStr: typeof obj.get('toString'), has: obj.has('toString') };
    obj.set('s', 'y');
    obj.increment('n');
    const flat = { s: obj.get('s'), n: obj.get('n'), o: obj.get('o') };
    obj.set('o.y.z', 3);
    obj.increment('o.x');
    const dotted = { o: obj.get('o'), n: obj.get('n'), s: obj.get('s') };
    obj.relation('items').add(Parse.Object.fromJSON({ className: 'Item', objectId: 'i1' }));
    const related = obj.get('items').toJSON();
    const fresh = new Parse.Object('Thing');
    fresh.relation('items').add(Parse.Object.fromJSON({ className: 'Item', objectId: 'i2' }));
    return { plain, flat, dotted, related, unsaved: fresh.get('items') === undefined, json: obj.toJSON() };
  });
});

test('save: relations, context, session token and attrs on save()', async () => {
  await same(async (Parse) => {
    const parent = Parse.Object.fromJSON({ className: 'Thing', objectId: 't1' });
    const a = Parse.Object.fromJSON({ className: 'Item', objectId: 'i1' });
    const b = Parse.Object.fromJSON({ className: 'Item', objectId: 'i2' });
    const rel = parent.relation('items');
    rel.add([a, b]);
    rel.remove(a);
    await parent.save({ title: 'x' }, { sessionToken: 'r:abc', context: { reason: 'test' } });
    await parent.save('single', 1, { installationId: 'inst-1' });
    return parent.toJSON();
  });
});

test('save: unsaved children are saved first, in a batch', async () => {
  await same(async (Parse) => {
    const child = new Parse.Object('Child', { name: 'c' });
    const other = new Parse.Object('Child', { name: 'd' });
    const parent = new Parse.Object('Parent', { child, list: [other] });
    await parent.save();
    return { parent: parent.toJSON(), child: child.id, other: other.existed(), childNew: child.isNew() };
  });
});

test('save: _User without id posts to users; errors become Parse.Error', async () => {
  await same(async (Parse) => {
    const user = new Parse.User({ username: 'u', password: 'p' });
    await user.save();
    const obj = Parse.Object.fromJSON({ className: 'Thing', objectId: 't1' });
    obj.set('x', 1);
    try {
      await obj.save();
    } catch (e) {
      return { user: user.toJSON(), code: e.code, message: e.message, dirty: obj.dirty('x'), isParseError: e instanceof Parse.Error };
    }
  }, () => answerer({ 'PUT classes/Thing/t1': { status: 400, body: { code: 111, error: 'schema mismatch' } } }));
});

test('destroy, fetch and fetchWithInclude', async () => {
  await same(async (Parse) => {
    const obj = Parse.Object.fromJSON({ className: 'Thing', objectId: 't1', stale: true });
    obj.set('pending', 1);
    await obj.fetch({ useMasterKey: true });
    const fetched = obj.toJSON();
    await obj.fetchWithInclude(['owner', 'owner.team'], { sessionToken: 'r:s' });
    const withOwner = { owner: obj.get('owner').toJSON(), ownerClass: obj.get('owner').className, dataAvailable: obj.get('owner').isDataAvailable() };
    await obj.destroy({ useMasterKey: true });
    await new Parse.Object('Never').destroy();
    return { fetched, withOwner, existed: obj.existed(), createdAt: obj.createdAt };
  }, () => answerer({
    'GET classes/Thing/t1': (call) => ({
      status: 200,
      body: call.body.include
        ? { objectId: 't1', owner: { __type: 'Object', className: '_User', objectId: 'u1', username: 'bob', createdAt: '2024-01-01T00:00:00.000Z' }, createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-03T00:00:00.000Z' }
        : { objectId: 't1', n: 3, when: { __type: 'Date', iso: '2024-04-04T00:00:00.000Z' }, ACL: { '*': { read: true } }, createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-02T00:00:00.000Z' },
    }),
  }));
});

test('query: every constraint', async () => {
  await same(async (Parse) => {
    const inner = new Parse.Query('Team').equalTo('city', 'Paris');
    const point = new Parse.GeoPoint(10, 20);
    const user = Parse.User.createWithoutData('u1');
    const q = new Parse.Query('Player')
      .equalTo('name', 'a').equalTo({ x: 1, y: undefined }).notEqualTo('n', 3)
      .lessThan('a', 1).lessThanOrEqualTo('b', 2).greaterThan('c', new Date('2024-01-01T00:00:00.000Z')).greaterThanOrEqualTo('d', 4)
      .containedIn('e', [1, 2]).notContainedIn('f', [3]).containsAll('g', ['x', 'y']).containedBy('h', [1, 2, 3])
      .exists('i').doesNotExist('j').matches('k', /ab+c/i).matches('k2', 'x.y', 'mi').contains('l', 'a.b')
      .startsWith('m', 'pre').endsWith('o', 'suf').fullText('p', 'words', { language: 'en', caseSensitive: true, diacriticSensitive: false })
      .matchesQuery('team', inner).doesNotMatchQuery('team2', inner)
      .matchesKeyInQuery('city', 'city', inner).doesNotMatchKeyInQuery('city2', 'city', inner)
      .near('loc', point).withinKilometers('loc2', point, 10).withinMiles('loc3', point, 5, false).withinRadians('loc4', point, 0.5)
      .withinGeoBox('loc5', new Parse.GeoPoint(0, 0), new Parse.GeoPoint(1, 1))
      .withinPolygon('loc6', [new Parse.GeoPoint(0, 0), new Parse.GeoPoint(0, 1), new Parse.GeoPoint(1, 1)])
      .polygonContains('area', point).equalTo('owner', user).containsAllStartingWith('q', ['ab', 'cd'])
      .ascending('score').addDescending('name, age').addAscending(['x', 'y']).limit(10).skip(5)
      .select('a', ['b', 'c']).exclude('secret').include('team', ['team.owner']).withCount().hint('idx').comment('why');
    return q.find({ useMasterKey: true });
  });
});

test('query: or / and / nor, includeAll, descending, relation queries', async () => {
  await same(async (Parse) => {
    const a = new Parse.Query('Player').greaterThan('score', 10);
    const b = new Parse.Query('Player').equalTo('name', 'x');
    await Parse.Query.or(a, b).includeAll().descending('score').find();
    await Parse.Query.and(a, b).find({ sessionToken: 'r:t' });
    await Parse.Query.nor(a, b).find();
    const parent = Parse.Object.fromJSON({ className: 'Team', objectId: 't1' });
    await parent.relation('members').query().find();
    const typed = Parse.Object.fromJSON({ className: 'Team', objectId: 't2', fans: { __type: 'Relation', className: '_User' } });
    await typed.relation('fans').query().equalTo('active', true).find();
    const q = new Parse.Query('Player');
    q.withJSON({ where: { a: 1 }, limit: 3, keys: 'a,b', order: '-a', custom: 'x' });
    return [q.toJSON(), Parse.Query.fromJSON('Player', q.toJSON()).toJSON()];
  });
});

test('query: find, first, get and count decode what the server answers', async () => {
  await same(async (Parse) => {
    const q = new Parse.Query('Player').equalTo('team', 'x');
    const found = await q.find();
    const first = await new Parse.Query('Player').first({ useMasterKey: true });
    const got = await new Parse.Query('Player').get('a1', { sessionToken: 'r:s' });
    const count = await new Parse.Query('Player').equalTo('x', 1).count();
    const counted = await new Parse.Query('Player').withCount().find();
    return {
      found: found.map((o) => ({ id: o.id, className: o.className, createdAt: o.createdAt, json: o.toJSON(), n: o.get('n'), ptr: o.get('ptr') && o.get('ptr').toPointer(), existed: o.existed(), dirty: o.dirty() })),
      first: first.toJSON(), got: got.get('n'), count, counted: counted.count, countedResults: counted.results.length,
    };
  }, () => answerer({
    'GET classes/Player': (call) => ({
      status: 200,
      body: {
        results: [
          { objectId: 'a1', n: 1, ptr: { __type: 'Pointer', className: 'Team', objectId: 't1' }, d: { __type: 'Date', iso: '2024-03-03T00:00:00.000Z' }, createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-02T00:00:00.000Z' },
          { objectId: 'a2', n: 2, createdAt: '2024-01-01T00:00:00.000Z' },
        ],
        ...(call.body.count ? { count: 42 } : {}),
      },
    }),
  }));
});

test('query: get of a missing object, select, json option', async () => {
  await same(async (Parse) => {
    let missing;
    try {
      await new Parse.Query('Player').get('nope');
    } catch (e) {
      missing = { code: e.code, message: e.message };
    }
    const selected = await new Parse.Query('Player').select('n').find();
    const raw = await new Parse.Query('Player').find({ json: true });
    return { missing, selected: selected.map((o) => o.toJSON()), raw };
  }, () => answerer({
    'GET classes/Player': (call) => ({ status: 200, body: { results: call.body.where.objectId === 'nope' ? [] : [{ objectId: 'a1', n: 1 }] } }),
  }));
});

test('query: aggregate and distinct use the master key as the SDK does', async () => {
  await same(async (Parse) => {
    const q = new Parse.Query('Player').equalTo('team', 'x');
    const grouped = await q.aggregate({ $group: { _id: '$team', total: { $sum: '$score' } } });
    const plainPipeline = await new Parse.Query('Player').aggregate([{ $match: { a: 1 } }], { useMasterKey: false, sessionToken: 'r:x' });
    const names = await new Parse.Query('Player').greaterThan('score', 1).distinct('name');
    return { grouped, plainPipeline, names };
  }, () => answerer({ 'GET aggregate/Player': { status: 200, body: { results: [{ objectId: 'x', total: 3 }] } } }));
});

test('query: each, eachBatch, map, filter, reduce page by objectId', async () => {
  await same(async (Parse) => {
    const seen = [];
    await new Parse.Query('Player').each((o) => { seen.push(o.id); }, { batchSize: 2 });
    const mapped = await new Parse.Query('Player').map((o, i) => `${i}:${o.id}`, { batchSize: 2 });
    const filtered = await new Parse.Query('Player').filter((o) => o.get('n') % 2 === 1, { batchSize: 2 });
    const sum = await new Parse.Query('Player').reduce((acc, o) => acc + o.get('n'), 0, { batchSize: 2 });
    let refused;
    await new Parse.Query('Player').limit(3).each(() => {}).catch((e) => { refused = e; });
    return { seen, mapped, filtered: filtered.map((o) => o.id), sum, refused };
  }, () => answerer({
    'GET classes/Player': (call) => {
      const all = [1, 2, 3, 4, 5].map((n) => ({ objectId: `p${n}`, n }));
      const after = call.body.where.objectId ? call.body.where.objectId.$gt : '';
      return { status: 200, body: { results: all.filter((o) => o.objectId > after).slice(0, call.body.limit) } };
    },
  }));
});

test('users: logIn, signUp, me, become, logOut, password reset', async () => {
  await same(async (Parse) => {
    const user = await Parse.User.logIn('alice', 'secret', { installationId: 'i1' });
    const loggedIn = { id: user.id, token: user.getSessionToken(), name: user.getUsername(), existed: user.existed(), dirty: user.dirty(), password: user.get('password'), current: Parse.User.current(), authenticated: user.authenticated() };
    const signed = await Parse.User.signUp('bob', 'pw', { email: 'b@x.io' }, { useMasterKey: true });
    const me = await Parse.User.me('r:tok');
    let become;
    try {
      Parse.User.become('r:tok');
    } catch (e) {
      become = e.message;
    }
    await Parse.User.requestPasswordReset('a@x.io');
    await Parse.User.logOut({ sessionToken: 'r:tok' });
    await Parse.User.logOut();
    let badLogin;
    await Parse.User.logIn(1, 'x').catch((e) => { badLogin = [e.code, e.message]; });
    let emptySignUp;
    await new Parse.User().signUp().catch((e) => { emptySignUp = [e.code, e.message]; });
    return { loggedIn, signed: signed.toJSON(), me: me.toJSON(), become, badLogin, emptySignUp };
  }, () => answerer({
    'POST login': { status: 200, body: { objectId: 'u1', username: 'alice', sessionToken: 'r:new', createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z' } },
    'POST users': { status: 201, body: { objectId: 'u2', sessionToken: 'r:signed', createdAt: '2024-01-01T00:00:00.000Z' } },
    'GET users/me': { status: 200, body: { objectId: 'u3', username: 'me', sessionToken: 'r:tok', createdAt: '2024-01-01T00:00:00.000Z' } },
  }));
});

test('roles, sessions and installations', async () => {
  await same(async (Parse) => {
    const acl = new Parse.ACL();
    acl.setPublicReadAccess(true);
    const role = new Parse.Role('Admins', acl);
    role.getUsers().add(Parse.User.createWithoutData('u1'));
    role.getRoles().add(Parse.Role.createWithoutData('r0'));
    await role.save(null, { useMasterKey: true });
    let badName;
    try {
      new Parse.Role().setName('bad/name');
    } catch (e) {
      badName = [e.code, e.message];
    }
    let session;
    await Parse.Session.current().catch((e) => { session = e; });
    const inst = new Parse.Installation({ deviceType: 'ios', channels: ['a'] });
    await inst.save(null, { useMasterKey: true });
    return { role: role.toJSON(), name: role.getName(), badName, session, inst: [inst.deviceType, inst.channels, inst.id] };
  });
});

test('saveAll, destroyAll and fetchAll batch as the SDK does', async () => {
  await same(async (Parse) => {
    const many = [];
    for (let i = 0; i < 23; i++) many.push(new Parse.Object('Row', { i }));
    const existing = Parse.Object.fromJSON({ className: 'Row', objectId: 'r0' });
    existing.increment('i');
    many.push(existing);
    await Parse.Object.saveAll(many, { useMasterKey: true });
    await Parse.Object.saveAll([new Parse.Object('Row'), new Parse.Object('Row')], { transaction: true });
    await Parse.Object.destroyAll(many.slice(0, 3), { sessionToken: 'r:x' });
    const fetched = await Parse.Object.fetchAllWithInclude([Parse.Object.fromJSON({ className: 'Row', objectId: 'a1' })], ['owner'], { useMasterKey: true });
    const ifNeeded = await Parse.Object.fetchAllIfNeeded([Parse.Object.fromJSON({ className: 'Row', objectId: 'a1', x: 1 })]);
    return { ids: many.map((o) => o.id), existed: many.map((o) => o.existed()), fetched: fetched.map((o) => o.toJSON()), ifNeeded: ifNeeded.map((o) => o.toJSON()) };
  }, stored());
});

test('saveAll and destroyAll report per-object errors', async () => {
  await same(async (Parse) => {
    const rows = [new Parse.Object('Row', { i: 1 }), new Parse.Object('Row', { i: 2 })];
    let saveError;
    await Parse.Object.saveAll(rows).catch((e) => { saveError = [e.code, e.message]; });
    const doomed = [Parse.Object.fromJSON({ className: 'Row', objectId: 'a' }), Parse.Object.fromJSON({ className: 'Row', objectId: 'b' })];
    let destroyError;
    await Parse.Object.destroyAll(doomed).catch((e) => { destroyError = [e.code, e.errors.map((x) => [x.code, x.message, x.object.id])]; });
    return { saveError, destroyError, ids: rows.map((r) => r.id || null), dirty: rows.map((r) => r.dirty('i')) };
  }, () => answerer({
    'POST batch': (call) => ({
      status: 200,
      body: call.body.requests.map((r, i) => (i === 1 ? { error: { code: 142, error: 'nope' } } : r.method === 'DELETE' ? { success: {} } : { success: { objectId: 'ok', createdAt: '2024-01-01T00:00:00.000Z' } })),
    }),
  }));
});

test('Cloud.run, startJob, Config.get and Config.save', async () => {
  await same(async (Parse) => {
    const result = await Parse.Cloud.run('hello', { when: new Date('2024-01-01T00:00:00.000Z'), where: new Parse.GeoPoint(1, 2), list: [1, 2] }, { sessionToken: 'r:s' });
    let objectParam;
    try {
      await Parse.Cloud.run('hello', { obj: new Parse.Object('X') });
    } catch (e) {
      objectParam = e.message;
    }
    const jobStatusId = await Parse.Cloud.startJob('nightly', { full: true });
    const config = await Parse.Config.get();
    const saved = await Parse.Config.save({ flag: true, when: new Date('2024-01-01T00:00:00.000Z') }, { flag: true });
    return {
      result: [result.obj.className, result.obj.id, result.obj.get('n'), result.at, result.list], objectParam, jobStatusId,
      config: [config.get('a'), config.get('when'), config.get('ptr').id, config.escape('html')], saved: saved.get('a'),
    };
  }, () => answerer({
    'POST functions/hello': { status: 200, body: { result: { obj: { __type: 'Object', className: 'X', objectId: 'x1', n: 2 }, at: { __type: 'Date', iso: '2024-01-01T00:00:00.000Z' }, list: [1] } } },
    'GET config': { status: 200, body: { params: { a: 1, when: { __type: 'Date', iso: '2024-01-01T00:00:00.000Z' }, ptr: { __type: 'Pointer', className: 'X', objectId: 'p' }, html: '<b>' } } },
    'PUT config': { status: 200, body: { result: true } },
    'POST jobs/nightly': { status: 200, body: {}, headers: { 'X-Parse-Job-Status-Id': 'job1' } },
  }));
});

test('files and push', async () => {
  await same(async (Parse) => {
    const file = new Parse.File('hello.txt', { base64: 'aGVsbG8=' }, 'text/plain');
    file.addMetadata('k', 'v');
    file.addTag('t', 'u');
    await file.save({ useMasterKey: true });
    const bytes = new Parse.File('b.bin', [104, 105, 33]);
    const dataUri = new Parse.File('c.png', { base64: 'data:image/png;base64,AAAA' });
    await bytes.save();
    await dataUri.save();
    await Parse.Push.send({ where: new Parse.Query('_Installation').equalTo('channels', 'news'), data: { alert: 'hi' } });
    await file.destroy();
    return [file.name(), file.url(), file.toJSON(), await bytes.getData(), await dataUri.getData()];
  }, () => answerer({ 'POST files/': (call) => ({ status: 201, body: { name: `stored_${call.path.slice(6)}`, url: `http://files/${call.path.slice(6)}` } }) }));
});

test('subclasses: extend, class syntax, registerSubclass, fromJSON', async () => {
  await same(async (Parse) => {
    const Monster = Parse.Object.extend('Monster', {
      initialize() { this.born = true; },
      hasSuperHumanStrength() { return this.get('strength') > 18; },
    }, {
      spawn(strength) { return new Monster({ strength }); },
    });
    class Hero extends Parse.Object {
      constructor() { super('Hero'); }
      get power() { return this.get('power'); }
    }
    Parse.Object.registerSubclass('Hero', Hero);
    const m = Monster.spawn(20);
    await m.save();
    const h = Parse.Object.fromJSON({ className: 'Hero', objectId: 'h1', power: 9 });
    const q = await new Parse.Query(Hero).find();
    const User = Parse.Object.extend('User');
    return {
      m: [m.className, m.born, m.hasSuperHumanStrength(), m instanceof Monster, m instanceof Parse.Object, m.id],
      h: [h instanceof Hero, h.power, Hero.className], q: q.map((x) => x instanceof Hero),
      user: [User === Parse.User, new Parse.Query('User').className],
    };
  }, () => answerer({ 'GET classes/Hero': { status: 200, body: { results: [{ objectId: 'h2', power: 1 }] } } }));
});

test('objects: ACL, GeoPoint, Polygon, clone, equals, revert, has, escape', async () => {
  await same(async (Parse) => {
    const acl = new Parse.ACL({ '*': { read: true }, u1: { read: true, write: true } });
    acl.setReadAccess('u1', false);
    acl.setRoleWriteAccess(new Parse.Role('Mods', new Parse.ACL()), true);
    const a = new Parse.GeoPoint({ latitude: 48.85, longitude: 2.35 });
    const b = new Parse.GeoPoint([51.5, -0.12]);
    let bad;
    try {
      new Parse.GeoPoint(91, 0);
    } catch (e) {
      bad = e.message;
    }
    const poly = new Parse.Polygon([[0, 0], [0, 10], [10, 10], [10, 0]]);
    const obj = Parse.Object.fromJSON({ className: 'T', objectId: 't', s: '<a href="x">', n: 0, nil: null, ACL: { '*': { read: true } } });
    obj.set('n', 5);
    obj.set('m', 1);
    obj.revert('n');
    const copy = obj.clone();
    obj.getACL().setPublicWriteAccess(true);
    return {
      acl: acl.toJSON(), read: [acl.getPublicReadAccess(), acl.getReadAccess('u1'), acl.getWriteAccess('u1'), acl.getRoleWriteAccess('Mods')],
      km: a.kilometersTo(b), miles: a.milesTo(b), rad: a.radiansTo(b), bad,
      poly: [poly.toJSON(), poly.containsPoint(new Parse.GeoPoint(5, 5)), poly.containsPoint(new Parse.GeoPoint(20, 5))],
      obj: [obj.get('n'), obj.dirtyKeys(), obj.has('nil'), obj.has('s'), obj.escape('s'), obj.dirty('ACL'), obj._getSaveJSON()],
      copy: [copy.id, copy.toJSON(), copy.equals(obj), obj.equals(Parse.Object.fromJSON({ className: 'T', objectId: 't' }))],
    };
  });
});
