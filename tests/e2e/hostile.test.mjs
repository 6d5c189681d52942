// Hostile input, generated: seeded random queries, writes, batches, aggregates, schema edits,
// user calls and SDK envelopes, most of them malformed or at the edges of what is valid. None
// may answer 5xx or stop the server. Bad input is Parse's to answer (4xx with its code), and
// the specific answers are pinned by the other test files; this one looks for what they did
// not think of. A generator like this found the 500s fixed on 2026-11-25 ($inQuery on an array
// holding strings, a body setting "o" and "o.x", interleaved dotted keys, deleting a system
// class's schema). A failure prints the request, to be replayed by hand.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, target } from '../lib/harness.mjs';

const skip = target === 'oracle' && 'Parse Server answers 500 to some of these; the contract is Basalt\'s';
let server, r;
before(async () => { if (!skip) { server = await startServer(); r = rest(server); } });
after(async () => { if (server) await server.stop(); });

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = (xs) => xs[int(0, xs.length - 1)];
  return { next, int, pick };
}

const FIELDS = ['s', 'n', 'b', 'd', 'o', 'a', 'p', 'g', 'r', 'poly', 'objectId', 'createdAt', 'updatedAt', 'ACL',
  '_rperm', 'o.x', 'o.x.y', 'a.0', 'missing', '', '$x', 'a b', 'é', 'x'.repeat(200)];
const OPS = ['$lt', '$lte', '$gt', '$gte', '$ne', '$eq', '$in', '$nin', '$all', '$containedBy', '$exists', '$regex',
  '$options', '$select', '$dontSelect', '$inQuery', '$notInQuery', '$relatedTo', '$nearSphere', '$maxDistance',
  '$within', '$box', '$geoWithin', '$polygon', '$centerSphere', '$geoIntersects', '$point', '$text', '$bogus',
  '$or', '$and', '$nor', '$elemMatch', '$size'];
const TYPED = { s: 'str', n: 'num', b: 'bool', d: 'date', o: 'obj', a: 'arr', p: 'ptr', g: 'geo', poly: 'poly',
  objectId: 'str', createdAt: 'date', 'o.x': 'obj', 'o.x.y': 'num' };

function generators(rnd, ids) {
  const scalar = () => rnd.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 63, 9007199254740993, '', 'x', 'é\u0000',
    'a'.repeat(1000), true, false, null, '^(a+)+$', '[', '\\', '2026-01-01T00:00:00.000Z']);
  const special = () => rnd.pick([
    { __type: 'Date', iso: rnd.pick(['2026-01-01T00:00:00.000Z', 'bad', 5, '9999-99-99']) },
    { __type: 'Pointer', className: rnd.pick(['Hz', '_User', '', '1x', 5]), objectId: rnd.pick(['abc', '', 5, null]) },
    { __type: 'GeoPoint', latitude: rnd.pick([0, 91, -200, 'x', null]), longitude: rnd.pick([0, 181, 'y']) },
    { __type: 'Polygon', coordinates: rnd.pick([[], [[0, 0]], [[0, 0], [1, 1], [1, 0]], 'x', [[0, 'a'], [1, 1], [2, 2]]]) },
    { __type: 'File', name: rnd.pick(['a.txt', '', 5, '../../etc/passwd']) },
    { __type: 'Bytes', base64: rnd.pick(['AQI=', '!!', 5]) },
    { __type: 'Relation', className: 'Hz' },
    { __type: rnd.pick(['Bogus', '', null, 5]) },
    { __op: rnd.pick(['Increment', 'Add', 'Delete', 'Bogus']), amount: scalar() },
  ]);
  const value = (depth = 0) => {
    const k = rnd.next();
    if (depth > 3 || k < 0.45) return scalar();
    if (k < 0.6) return special();
    if (k < 0.8) return Array.from({ length: rnd.int(0, 4) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: rnd.int(0, 3) }, () => [rnd.pick([...FIELDS, ...OPS]), value(depth + 1)]));
  };
  const typed = (t) => ({
    str: () => rnd.pick(['s1', '', 'é', 's'.repeat(300), '%', "'", '\\', 'a\u0000b']),
    num: () => rnd.pick([0, 1, -1, 2.5, 1e300, -1e300, 9007199254740993]),
    bool: () => rnd.pick([true, false]),
    date: () => ({ __type: 'Date', iso: rnd.pick(['2026-01-01T00:00:00.000Z', '0001-01-01T00:00:00.000Z', '2026-02-30T00:00:00.000Z']) }),
    obj: () => rnd.pick([{ x: 1 }, {}, { x: { y: 2 } }]),
    arr: () => rnd.pick([[1], ['x', 2], [], [[1]], [{ __type: 'Pointer', className: 'Hz', objectId: rnd.pick(ids) }]]),
    ptr: () => ({ __type: 'Pointer', className: 'Hz', objectId: rnd.pick(ids) }),
    geo: () => ({ __type: 'GeoPoint', latitude: rnd.pick([0, 90, -90, 45.5]), longitude: rnd.pick([0, 180, -180, 10]) }),
    poly: () => ({ __type: 'Polygon', coordinates: [[0, 0], [0, 10], [10, 10], [10, 0]] }),
  })[t]();
  // Mostly well-formed: each field with an operator that suits its type, at the edges.
  const validWhere = (depth = 0) => {
    const w = {};
    for (let i = rnd.int(1, 3); i > 0; i--) {
      const f = rnd.pick(Object.keys(TYPED));
      const t = TYPED[f];
      const k = rnd.next();
      if (k < 0.1 && depth < 3) { w.$or = Array.from({ length: rnd.int(1, 3) }, () => validWhere(depth + 1)); continue; }
      if (k < 0.3) { w[f] = typed(t); continue; }
      const op = rnd.pick(['$lt', '$gte', '$ne', '$in', '$nin', '$all', '$containedBy', '$exists', '$regex', '$inQuery',
        '$notInQuery', '$select', '$nearSphere', '$within', '$geoWithin', '$geoIntersects', '$text']);
      const c = {};
      if (['$in', '$nin', '$all', '$containedBy'].includes(op)) c[op] = Array.from({ length: rnd.int(0, 3) }, () => typed(t));
      else if (op === '$exists') c[op] = rnd.pick([true, false]);
      else if (op === '$regex') { c[op] = rnd.pick(['^s', 's$', 'a{1,5}', '[a-z]+', '\\d', '.*.*.*x']); c.$options = rnd.pick(['i', 'm', 'x', 's', 'q']); }
      else if (op === '$inQuery' || op === '$notInQuery') c[op] = { className: 'Hz', where: validWhere(depth + 1) };
      else if (op === '$select') c[op] = { query: { className: 'Hz', where: validWhere(depth + 1) }, key: rnd.pick(['s', 'n', 'objectId']) };
      else if (op === '$nearSphere') { c[op] = typed('geo'); c[rnd.pick(['$maxDistance', '$maxDistanceInKilometers'])] = rnd.pick([0, 1, 1e9, -1]); }
      else if (op === '$within') c[op] = { $box: [typed('geo'), typed('geo')] };
      else if (op === '$geoWithin') c[op] = rnd.pick([{ $polygon: [typed('geo'), typed('geo'), typed('geo')] }, { $centerSphere: [[0, 0], rnd.pick([0.1, 5, -1])] }]);
      else if (op === '$geoIntersects') c[op] = { $point: typed('geo') };
      else if (op === '$text') c[op] = { $search: { $term: rnd.pick(['s1', '', 'a b', "'"]) } };
      else c[op] = typed(t);
      w[f] = c;
    }
    return w;
  };
  const where = (depth = 0) => {
    const w = {};
    for (let i = rnd.int(0, 3); i > 0; i--) {
      const k = rnd.next();
      if (k < 0.15 && depth < 4) w[rnd.pick(['$or', '$and', '$nor'])] = rnd.pick([Array.from({ length: rnd.int(0, 3) }, () => where(depth + 1)), where(depth + 1), scalar()]);
      else if (k < 0.5) w[rnd.pick(FIELDS)] = Object.fromEntries(Array.from({ length: rnd.int(1, 3) }, () => [rnd.pick(OPS), value(depth + 1)]));
      else w[rnd.pick(FIELDS)] = value(depth + 1);
    }
    return w;
  };
  const params = () => {
    const q = new URLSearchParams();
    if (rnd.next() < 0.8) q.set('where', rnd.next() < 0.95 ? JSON.stringify(rnd.next() < 0.4 ? where() : validWhere()) : rnd.pick(['{', '[]', 'null', '5']));
    const opt = {
      order: () => Array.from({ length: rnd.int(1, 3) }, () => rnd.pick(['s', '-n', 'createdAt', '-', '', 'o.x', '$x', 'n,,s'])).join(','),
      limit: () => rnd.pick(['0', '-1', '1', '1000000', 'x', '99999999999999999999']),
      skip: () => rnd.pick(['0', '-5', '3', 'x']),
      keys: () => Array.from({ length: rnd.int(1, 3) }, () => rnd.pick(FIELDS)).join(','),
      excludeKeys: () => rnd.pick(FIELDS),
      include: () => Array.from({ length: rnd.int(1, 3) }, () => rnd.pick(['p', 'p.p', 'p.p.p.p.p.p.p', 'a', '*', 's', ''])).join(','),
      count: () => rnd.pick(['1', '0', 'x']),
    };
    for (const [k, gen] of Object.entries(opt)) if (rnd.next() < 0.25) q.set(k, gen());
    return q.toString();
  };
  const body = () => {
    const b = {};
    for (let i = rnd.int(0, 5); i > 0; i--) {
      const k = rnd.pick(FIELDS);
      const x = rnd.next();
      if (x < 0.3) {
        b[k] = { __op: rnd.pick(['Increment', 'Add', 'AddUnique', 'Remove', 'Delete', 'AddRelation', 'RemoveRelation', 'Batch', 'Bogus', null]) };
        if (rnd.next() < 0.8) b[k][rnd.pick(['amount', 'objects', 'ops'])] = value(1);
      } else if (x < 0.4 && k === 'ACL') b[k] = rnd.pick([{ '*': { read: true } }, { '*': { read: 'yes' } }, [], 'x', { u: {} }]);
      else if (x < 0.7 && TYPED[k]) b[k] = typed(TYPED[k]);
      else b[k] = value();
    }
    return b;
  };
  // Well-formed keys with values of their types, and the operators that suit them.
  const validBody = () => {
    const b = {};
    for (let i = rnd.int(1, 4); i > 0; i--) {
      const k = rnd.pick(['s', 'n', 'b', 'd', 'o', 'a', 'p', 'g', 'poly', 'o.x', 'o.y', 'o.x.y', 'fresh', 'ACL']);
      const x = rnd.next();
      if (k === 'ACL') b[k] = rnd.pick([{ '*': { read: true } }, {}, { 'role:r': { write: true } }]);
      else if (x < 0.25) b[k] = rnd.pick([{ __op: 'Increment', amount: rnd.pick([1, -2.5]) }, { __op: 'Delete' }, { __op: rnd.pick(['Add', 'AddUnique', 'Remove']), objects: [typed(rnd.pick(['num', 'str', 'ptr']))] }]);
      else b[k] = TYPED[k] ? typed(TYPED[k]) : typed(rnd.pick(['num', 'str', 'obj']));
    }
    return b;
  };
  return { scalar, where, validWhere, params, body: () => (rnd.next() < 0.5 ? validBody() : body()), value };
}

async function run(seed, count) {
  const rnd = prng(seed);
  const cls = `Hz`;
  let res = await r('POST', `/schemas/${cls}`, { master: true, body: { className: cls, fields: {
    s: { type: 'String' }, n: { type: 'Number' }, b: { type: 'Boolean' }, d: { type: 'Date' }, o: { type: 'Object' },
    a: { type: 'Array' }, p: { type: 'Pointer', targetClass: cls }, g: { type: 'GeoPoint' },
    r: { type: 'Relation', targetClass: cls }, poly: { type: 'Polygon' } } } });
  assert.ok(res.status === 200 || res.body?.code === 103, JSON.stringify(res.body));
  const ids = [];
  for (let i = 0; i < 12; i++) {
    res = await r('POST', `/classes/${cls}`, { master: true, body: { s: `s${i}`, n: i, b: i % 2 === 0, o: { x: { y: i } }, a: [i, 'x'] } });
    ids.push(res.body.objectId);
  }
  const tokens = [];
  for (let i = 0; i < 2; i++) {
    res = await r('POST', '/users', { body: { username: `h${seed}-${i}`, password: 'pw' } });
    tokens.push(res.body.sessionToken);
  }
  const g = generators(rnd, ids);
  const statuses = {};
  for (let i = 0; i < count; i++) {
    const master = rnd.next() < 0.6;
    const id = rnd.pick([...ids, 'x', '', 'a'.repeat(100)]);
    const c = rnd.pick([cls, cls, cls, '_User', '_Role', '_Session', 'Nope', '1bad']);
    const kind = rnd.pick(['find', 'find', 'get', 'create', 'update', 'delete', 'aggregate', 'batch', 'schema', 'user', 'envelope', 'raw']);
    let req;
    switch (kind) {
      case 'find': req = ['GET', `/classes/${c}?${g.params()}`]; break;
      case 'get': req = ['GET', `/classes/${c}/${id}?${g.params()}`]; break;
      case 'create': req = ['POST', `/classes/${c}`, { body: g.body() }]; break;
      case 'update': req = ['PUT', `/classes/${c}/${id}`, { body: g.body() }]; break;
      case 'delete': req = ['DELETE', `/classes/${c}/${id}`]; break;
      case 'aggregate': {
        const stage = () => rnd.pick([{ $match: g.validWhere() }, { $group: { _id: rnd.pick([null, '$s', '$n', '$o.x.y', 5]), t: { [rnd.pick(['$sum', '$avg', '$min', '$max', '$bogus'])]: rnd.pick(['$n', 1, '$s', null]) } } },
          { $sort: { [rnd.pick(FIELDS)]: rnd.pick([1, -1, 0]) } }, { $limit: rnd.pick([1, -1, 'x']) }, { $project: { [rnd.pick(FIELDS)]: rnd.pick([1, 0]) } }, { $bogus: 1 }]);
        const q = new URLSearchParams(rnd.next() < 0.8 ? { pipeline: JSON.stringify(Array.from({ length: rnd.int(0, 4) }, stage)) } : { distinct: rnd.pick(['s', 'n', 'o.x.y', 'p', '']), where: JSON.stringify(g.validWhere()) });
        req = ['GET', `/aggregate/${c}?${q}`];
        break;
      }
      case 'batch': {
        const requests = Array.from({ length: rnd.int(0, 5) }, () => rnd.next() < 0.9
          ? { method: rnd.pick(['POST', 'PUT', 'DELETE', 'GET', 'PATCH']), path: rnd.pick([`/parse/classes/${c}`, `/parse/classes/${c}/${id}`, '/classes/Hz', '/parse/users', '../x', '/parse/batch']), body: g.body() }
          : g.scalar());
        req = ['POST', '/batch', { body: rnd.pick([{ requests, transaction: rnd.pick([true, false, 'x']) }, { requests: g.scalar() }, requests]) }];
        break;
      }
      case 'schema': {
        const m = rnd.pick(['POST', 'PUT', 'GET']);
        const fields = Object.fromEntries(Array.from({ length: rnd.int(0, 3) }, () => [rnd.pick([...FIELDS, 'ok1', 'ok2']),
          rnd.pick([{ type: rnd.pick(['String', 'Number', 'Pointer', 'Relation', 'Bogus', 'Date']), targetClass: rnd.pick([cls, 'Nope', 5]) }, { __op: 'Delete' }, g.scalar()])]));
        req = [m, `/schemas/${rnd.pick(['Other', c])}`, { body: m === 'GET' ? undefined : { fields, classLevelPermissions: rnd.pick([undefined, { find: { '*': true } }, { find: { '*': 'x' } }, { bogus: {} }, g.scalar()]), indexes: rnd.pick([undefined, { i: { s: 1 } }, { i: { nope: 1 } }, g.scalar()]) } }];
        break;
      }
      case 'user': {
        const username = rnd.pick(['h1', '', null, 5, 'a'.repeat(300), 'é']);
        const password = rnd.pick(['pw', '', null, 5]);
        req = rnd.pick([
          ['POST', '/users', { body: { username, password, ...(rnd.next() < 0.5 ? { email: rnd.pick(['a@b.c', 'bad', 5]) } : {}), ...(rnd.next() < 0.3 ? { authData: rnd.pick([{ anonymous: { id: rnd.pick(['x', 5, null]) } }, { bogus: {} }, 'x']) } : {}) } }],
          ['GET', `/login?${new URLSearchParams({ username: String(username), password: String(password) })}`],
          ['GET', '/users/me', { headers: { 'X-Parse-Session-Token': rnd.pick([...tokens, 'r:bad', '']) } }],
          ['PUT', `/users/${id}`, { body: g.body(), headers: { 'X-Parse-Session-Token': rnd.pick(tokens) } }],
          ['GET', `/sessions?${g.params()}`, { headers: { 'X-Parse-Session-Token': rnd.pick(tokens) } }],
          ['POST', '/roles', { body: { name: rnd.pick(['admins', '', 'bad name!', 5]), ACL: rnd.pick([{ '*': { read: true } }, null, 'x']), users: rnd.pick([undefined, { __op: 'AddRelation', objects: [{ __type: 'Pointer', className: '_User', objectId: id }] }, g.scalar()]) } }],
        ]);
        break;
      }
      case 'envelope': {
        const env = { _method: rnd.pick(['GET', 'POST', 'PUT', 'DELETE', 'get', 'BOGUS', 5]), _ApplicationId: rnd.pick([server.appId, 'bad', 5]), [rnd.pick(['_MasterKey', '_JavaScriptKey', '_SessionToken'])]: rnd.pick([server.masterKey, tokens[0], 5]) };
        if (rnd.next() < 0.5) env.where = rnd.pick([g.validWhere(), JSON.stringify(g.where()), 5]);
        req = ['POST', rnd.pick([`/classes/${c}`, `/classes/${c}/${id}`, '/users', '/batch', `/aggregate/${c}`, '/config']), { raw: JSON.stringify({ ...g.body(), ...env }), headers: { 'Content-Type': 'text/plain' } }];
        break;
      }
      default:
        req = [rnd.pick(['POST', 'PUT']), rnd.pick([`/classes/${c}`, `/classes/${c}/${id}`, '/batch', '/users', '/login', '/functions/x', '/config', `/aggregate/${c}`, `/schemas/${c}`]),
          { raw: rnd.pick(['{', '\xff\xfe', '[]', 'null', '1e999999', '{"a":'.repeat(300) + '1' + '}'.repeat(300), '{"_method":"GET","where":"{"}', JSON.stringify(g.body())]) }];
    }
    const [method, path, opts = {}] = req;
    res = await r(method, path, { master, ...opts });
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    assert.ok(res.status < 500, `seed ${seed} request ${i}: ${method} ${decodeURIComponent(path)} ${JSON.stringify(opts)} → ${res.status} ${JSON.stringify(res.body)}`);
  }
  return statuses;
}

test('generated hostile requests never answer 5xx, and the server keeps serving', { skip }, async (t) => {
  const totals = {};
  for (const seed of [1, 2, 3]) {
    for (const [s, n] of Object.entries(await run(seed, 1500))) totals[s] = (totals[s] ?? 0) + n;
  }
  // The generator must reach the valid paths too, not only the parsers' refusals.
  const ok = (totals[200] ?? 0) + (totals[201] ?? 0);
  const all = Object.values(totals).reduce((a, b) => a + b, 0);
  assert.ok(ok / all > 0.1, `only ${ok} of ${all} requests succeeded: ${JSON.stringify(totals)}`);
  t.diagnostic(`statuses: ${JSON.stringify(totals)}`);
  const health = await r('GET', '/health');
  assert.equal(health.status, 200);
});
