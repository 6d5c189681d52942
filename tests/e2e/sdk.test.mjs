// The same flows through the official Parse JS SDK (npm parse 8.6.2, parse/node).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, sdk, uniqueClass } from '../lib/harness.mjs';
import { OBJECT_ID, seed } from '../lib/util.mjs';

let server, r, Parse, C;
before(async () => {
  server = await startServer();
  r = rest(server);
  Parse = await sdk(server);
  C = uniqueClass('Sdk');
  // client class creation is off: create the class first with the master key
  await seed(r, C, [{ n: 0, s: 'seed', tags: [] }]);
  await Parse.Object.saveAll([1, 2, 3, 4, 5].map((n) => new Parse.Object(C, { n, s: `s${n}`, tags: n % 2 ? ['odd'] : ['even'] })));
});
after(async () => { await server.stop(); });

const q = () => new Parse.Query(C).greaterThan('n', 0);
const nsOf = (objs) => objs.map((o) => o.get('n'));

test('Parse.Object save / fetch / update / destroy', async () => {
  const o = new Parse.Object(C);
  o.set({ n: 100, s: 'hello', when: new Date('2020-01-02T03:04:05.678Z'), nested: { a: { b: 1 } } });
  await o.save();
  assert.match(o.id, OBJECT_ID);
  assert.ok(o.createdAt instanceof Date);
  assert.equal(o.createdAt.getTime(), o.updatedAt.getTime());
  const copy = await new Parse.Object(C, { objectId: o.id }).fetch();
  assert.equal(copy.get('s'), 'hello');
  assert.equal(copy.get('when').toISOString(), '2020-01-02T03:04:05.678Z');
  assert.deepEqual(copy.get('nested'), { a: { b: 1 } });
  copy.set('s', 'changed');
  await copy.save();
  assert.ok(copy.updatedAt >= copy.createdAt);
  await o.fetch();
  assert.equal(o.get('s'), 'changed');
  await o.destroy();
  await assert.rejects(new Parse.Query(C).get(o.id), (e) => e.code === 101 && e.message === 'Object not found.');
});

test('SDK cannot create a brand-new class with the JS key (119), can with useMasterKey', async () => {
  const fresh = uniqueClass('Sdk');
  await assert.rejects(new Parse.Object(fresh, { a: 1 }).save(), (e) => e.code === 119);
  const o = await new Parse.Object(fresh, { a: 1 }).save(null, { useMasterKey: true });
  assert.match(o.id, OBJECT_ID);
});

test('Query: equalTo, greaterThan, lessThanOrEqualTo, notEqualTo, containedIn, matches', async () => {
  assert.deepEqual(nsOf(await new Parse.Query(C).equalTo('n', 3).find()), [3]);
  assert.deepEqual(nsOf(await q().greaterThan('n', 3).ascending('n').find()), [4, 5]);
  assert.deepEqual(nsOf(await q().lessThanOrEqualTo('n', 2).ascending('n').find()), [1, 2]);
  assert.deepEqual(nsOf(await q().notEqualTo('n', 2).lessThan('n', 4).ascending('n').find()), [1, 3]);
  assert.deepEqual(nsOf(await q().containedIn('n', [1, 5, 9]).ascending('n').find()), [1, 5]);
  assert.deepEqual(nsOf(await q().notContainedIn('n', [1, 5]).ascending('n').find()), [2, 3, 4]);
  assert.deepEqual(nsOf(await q().matches('s', '^s[12]$').ascending('n').find()), [1, 2]);
  assert.deepEqual(nsOf(await q().startsWith('s', 's4').find()), [4]);
  assert.deepEqual(nsOf(await q().containedIn('tags', ['odd']).ascending('n').find()), [1, 3, 5]);
  assert.deepEqual(nsOf(await q().containsAll('tags', ['even']).ascending('n').find()), [2, 4]);
  assert.deepEqual(nsOf(await q().exists('tags').doesNotExist('nope').ascending('n').find()), [1, 2, 3, 4, 5]);
});

test('Query: ascending, descending, limit, skip, count, first', async () => {
  assert.deepEqual(nsOf(await q().descending('n').limit(2).find()), [5, 4]);
  assert.deepEqual(nsOf(await q().ascending('n').skip(3).find()), [4, 5]);
  assert.deepEqual(nsOf(await q().ascending('tags').addDescending('n').find()), [4, 2, 5, 3, 1]);
  assert.equal(await q().count(), 5);
  assert.equal(await q().greaterThan('n', 3).count(), 2);
  const first = await q().descending('n').first();
  assert.equal(first.get('n'), 5);
  assert.equal(await q().equalTo('n', 99).first(), undefined);
});

test('Query: select and exclude', async () => {
  const [o] = await q().equalTo('n', 2).select('s').find();
  assert.equal(o.get('s'), 's2');
  assert.equal(o.get('n'), undefined);
  assert.equal(o.get('tags'), undefined);
  const [e] = await q().equalTo('n', 2).exclude('s').find();
  assert.equal(e.get('s'), undefined);
  assert.equal(e.get('n'), 2);
});

test('Query: each visits every match', async () => {
  const seen = [];
  await q().each((o) => { seen.push(o.get('n')); });
  assert.deepEqual(seen.sort(), [1, 2, 3, 4, 5]);
});

test('Parse.Query.or and Parse.Query.and', async () => {
  const a = new Parse.Query(C).equalTo('n', 1);
  const b = new Parse.Query(C).greaterThan('n', 4);
  const or = Parse.Query.or(a, b).ascending('n');
  assert.deepEqual(nsOf(await or.find()), [1, 5]);
  const and = Parse.Query.and(new Parse.Query(C).greaterThan('n', 1), new Parse.Query(C).lessThan('n', 3));
  assert.deepEqual(nsOf(await and.find()), [2]);
});

test('pointers and include', async () => {
  const T = uniqueClass('SdkT');
  await seed(r, T, [{ x: 0 }]);
  const target = await new Parse.Object(T, { label: 'target' }).save();
  const holder = await new Parse.Object(C, { n: 200, ref: target }).save();
  const plain = await new Parse.Query(C).get(holder.id);
  assert.equal(plain.get('ref').id, target.id);
  assert.equal(plain.get('ref').get('label'), undefined, 'not fetched without include');
  const inc = await new Parse.Query(C).include('ref').get(holder.id);
  assert.equal(inc.get('ref').get('label'), 'target');
  assert.deepEqual(nsOf(await new Parse.Query(C).equalTo('ref', target).find()), [200]);
  const inner = new Parse.Query(T).equalTo('label', 'target');
  assert.deepEqual(nsOf(await new Parse.Query(C).matchesQuery('ref', inner).find()), [200]);
  await holder.destroy();
});

test('relations: add, query, remove', async () => {
  const T = uniqueClass('SdkR');
  await seed(r, T, [{ x: 0 }]);
  const [a, b] = await Parse.Object.saveAll([new Parse.Object(T, { x: 1 }), new Parse.Object(T, { x: 2 })]);
  const owner = await new Parse.Object(C, { n: 300 }).save();
  const rel = owner.relation('members');
  rel.add([a, b]);
  await owner.save();
  const members = await owner.relation('members').query().ascending('x').find();
  assert.deepEqual(members.map((m) => m.get('x')), [1, 2]);
  owner.relation('members').remove(a);
  await owner.save();
  const after1 = await owner.relation('members').query().find();
  assert.deepEqual(after1.map((m) => m.id), [b.id]);
  const fetched = await new Parse.Query(C).get(owner.id);
  assert.equal(fetched.get('members').targetClassName, T);
  // owners whose relation contains b
  assert.deepEqual(nsOf(await new Parse.Query(C).equalTo('members', b).find()), [300]);
  await owner.destroy();
});

test('increment / add / addUnique / remove / unset', async () => {
  const o = await new Parse.Object(C, { n: 400, list: ['a'], gone: 1 }).save();
  o.increment('n', 5);
  o.increment('counter');
  await o.save();
  assert.equal(o.get('n'), 405);
  assert.equal(o.get('counter'), 1);
  o.add('list', 'b');
  await o.save();
  o.addUnique('list', 'a');
  o.unset('gone');
  await o.save();
  o.remove('list', 'a');
  await o.save();
  const got = await new Parse.Query(C).get(o.id);
  assert.equal(got.get('n'), 405);
  assert.deepEqual(got.get('list'), ['b']);
  assert.equal(got.has('gone'), false);
  await o.destroy();
});

test('saveAll / destroyAll go through /batch', async () => {
  const objs = await Parse.Object.saveAll([600, 601, 602].map((n) => new Parse.Object(C, { n })));
  assert.ok(objs.every((o) => OBJECT_ID.test(o.id)));
  assert.equal(await new Parse.Query(C).greaterThanOrEqualTo('n', 600).count(), 3);
  objs.forEach((o) => o.set('n', o.get('n') + 10));
  await Parse.Object.saveAll(objs);
  assert.deepEqual(nsOf(await new Parse.Query(C).greaterThanOrEqualTo('n', 600).ascending('n').find()), [610, 611, 612]);
  await Parse.Object.destroyAll(objs);
  assert.equal(await new Parse.Query(C).greaterThanOrEqualTo('n', 600).count(), 0);
});

test('saveAll with a failing object rejects with that error; the good object is still saved', async () => {
  await assert.rejects(
    Parse.Object.saveAll([new Parse.Object(C, { n: 700 }), new Parse.Object(C, { n: 'not a number' })]),
    (e) => e.code === 111 && e.message === `schema mismatch for ${C}.n; expected Number but got String`,
  );
  assert.equal(await new Parse.Query(C).equalTo('n', 700).count(), 1);
});

test('Parse.Config.get', async () => {
  const key = uniqueClass('sdkCfg');
  await r('PUT', '/config', { master: true, body: { params: { [key]: { deep: [1] } } } });
  const cfg = await Parse.Config.get();
  assert.deepEqual(cfg.get(key), { deep: [1] });
});

test('GeoPoint: near sorts by distance, withinKilometers limits', async () => {
  const G = uniqueClass('SdkGeo');
  await seed(r, G, [{ name: 'seed' }]);
  await Parse.Object.saveAll([
    new Parse.Object(G, { name: 'far', loc: new Parse.GeoPoint(10, 10) }),
    new Parse.Object(G, { name: 'near', loc: new Parse.GeoPoint(0, 5) }),
    new Parse.Object(G, { name: 'mid', loc: new Parse.GeoPoint(0, 1) }),
  ]);
  const origin = new Parse.GeoPoint(0, 4);
  const near = await new Parse.Query(G).near('loc', origin).find();
  assert.deepEqual(near.map((o) => o.get('name')), ['near', 'mid', 'far']);
  const within = await new Parse.Query(G).withinKilometers('loc', origin, 400).find();
  assert.deepEqual(within.map((o) => o.get('name')), ['near', 'mid']);
  const box = await new Parse.Query(G).withinGeoBox('loc', new Parse.GeoPoint(-1, -1), new Parse.GeoPoint(1, 6)).find();
  assert.deepEqual(box.map((o) => o.get('name')).sort(), ['mid', 'near']);
  const got = await new Parse.Query(G).equalTo('name', 'far').first();
  assert.ok(got.get('loc') instanceof Parse.GeoPoint);
  assert.equal(got.get('loc').latitude, 10);
});
