// Parse.Object's local state inside cloud code (get, has, attributes and the save body after
// every kind of operation) against the official SDK, parse/node, running the same script here
// in the test. Basalt's SDK answers `get` and `has` without building the whole estimate when it
// can; this is what keeps that shortcut honest. Basalt only: Parse Server's cloud code runs the
// official SDK itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Parse from 'parse/node';
import { startWithCloud, rest, target } from '../lib/harness.mjs';

const skip = target !== 'basalt' && "Parse Server's cloud code is the official SDK";

// Runs with `Parse` in scope; returns plain JSON.
const scenarios = `
const out = {};
const keys = ['a', 'b', 'n', 'arr', 'obj', 'r', 'missing', 'nil', 'toString', 'constructor', '__proto__', 'obj.x'];
// A scenario that throws reports its message: the SDK refuses some sequences (Add, then AddUnique).
const report = (name, make) => {
  try {
    const o = make();
    out[name] = {
      get: keys.map((k) => [k, JSON.stringify(o.get(k)) ?? 'undefined', o.has(k)]),
      attributes: Object.keys(o.attributes).sort(),
      save: o._getSaveJSON(),
      dirty: o.dirtyKeys().sort(),
    };
  } catch (e) {
    out[name] = { error: e.message };
  }
};
const stored = () => Parse.Object.fromJSON({
  className: 'Thing', objectId: 'abc123', a: 1, b: { c: 2 }, arr: [1, 2], obj: { x: 1, y: { z: 2 } }, nil: null,
});
const other = Parse.Object.fromJSON({ className: 'Other', objectId: 'o1' });

report('stored', stored);
report('set twice', () => { const o = stored(); o.set('a', 5); o.set('a', 6); return o; });
report('set several', () => { const o = stored(); o.set({ a: 'x', b: null, nil: 0 }); return o; });
report('increment', () => { const o = stored(); o.increment('n'); o.increment('n', 2); o.increment('a', 10); return o; });
report('unset', () => { const o = stored(); o.unset('a'); o.unset('missing'); return o; });
report('unset then set', () => { const o = stored(); o.unset('a'); o.set('a', 3); return o; });
report('dot op', () => { const o = stored(); o.set('obj.x', 5); o.set('b', 7); return o; });
report('nested dot ops', () => { const o = stored(); o.set('obj.y.z', 9); o.increment('obj.x'); return o; });
report('add', () => { const o = stored(); o.add('arr', 3); o.add('arr', [4, 5]); return o; });
report('addUnique', () => { const o = stored(); o.addUnique('arr', 1); o.addUnique('arr', 4); return o; });
report('remove', () => { const o = stored(); o.remove('arr', 2); o.remove('arr', 7); return o; });
report('add, then addUnique', () => { const o = stored(); o.add('arr', 3); o.addUnique('arr', 1); return o; });
report('set then add', () => { const o = stored(); o.set('arr', [9]); o.add('arr', 10); return o; });
report('relation on a stored object', () => { const o = stored(); o.relation('r').add(other); return o; });
report('relation on a new object', () => { const o = new Parse.Object('Thing'); o.relation('r').add(other); return o; });
report('new object', () => { const o = new Parse.Object('Thing'); o.set({ a: 1, b: 'x' }); o.unset('b'); o.increment('n'); return o; });
report('object value', () => { const o = new Parse.Object('Thing'); o.set('obj', { p: 1 }); return o; });
report('object changed in place', () => { const o = stored(); o.get('obj').x = 42; return o; });
report('revert', () => { const o = stored(); o.set('a', 2); o.revert('a'); return o; });
report('pointer and geopoint', () => { const o = stored(); o.set('a', other); o.set('b', new Parse.GeoPoint(1, 2)); return o; });
// Basalt's set stores plain values on plain fields without its general path; these pin that
// shortcut, and where it must step aside, to the official SDK's behaviour.
report('plain values on a new object', () => {
  const o = new Parse.Object('Thing'); o.set('a', 1); o.set('b', 'x'); o.set('nil', null); o.set({ n: true, arr: 'y' }); return o;
});
report('plain set, then an op', () => { const o = new Parse.Object('Thing'); o.set('n', 1); o.increment('n'); return o; });
report('an op, then a plain set', () => { const o = stored(); o.increment('n'); o.unset('b'); o.set('n', 5); o.set('b', 'back'); return o; });
report('plain and object values in one set', () => { const o = new Parse.Object('Thing'); o.set({ a: 1, obj: { p: 1 }, arr: [1] }); return o; });
report('plain values on special fields', () => {
  const o = new Parse.Object('Thing'); o.set('objectId', 'given'); o.set({ createdAt: 'then', a: 2 }); return o;
});
report('an invalid field name', () => { const o = new Parse.Object('Thing'); o.set('bad key', 1); return o; });
report('a field name starting with a digit', () => { const o = new Parse.Object('Thing'); o.set({ a: 1, '1st': 2 }); return o; });
report('a read-only field', () => { const u = new Parse.User(); u.set('username', 'u'); u.set('sessionToken', 't'); return u; });
report('a class with its own validate', () => {
  const Checked = Parse.Object.extend('Checked', { validate(attrs) { return attrs.a === 0 ? new Parse.Error(142, 'a is zero') : false; } });
  const o = new Checked(); o.set('a', 1); o.set('a', 0); return o;
});
return out;
`;

let server;
let api;

before(async () => {
  if (skip) return;
  server = await startWithCloud(`Parse.Cloud.define('objects', () => { ${scenarios} });`);
  api = rest(server);
});

after(async () => {
  await server?.stop();
});

test('get, has, attributes and the save body agree with parse/node after every operation', { skip }, async () => {
  const expected = JSON.parse(JSON.stringify(new Function('Parse', scenarios)(Parse)));
  const res = await api('POST', '/functions/objects', { body: {} });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const got = res.body.result;
  assert.deepEqual(Object.keys(got), Object.keys(expected));
  for (const name of Object.keys(expected)) assert.deepEqual(got[name], expected[name], name);
});
