// Geo queries: $nearSphere (+ distance limits), $within $box, $geoWithin $polygon/$centerSphere,
// $geoIntersects on Polygon fields. Needs PostGIS on the oracle.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, uniqueClass, target } from '../lib/harness.mjs';
import { seed, find } from '../lib/util.mjs';

let server, r, C, P;
const G = (latitude, longitude) => ({ __type: 'GeoPoint', latitude, longitude });
const ORIGIN = G(0, 4);
// distances from ORIGIN: n3 (0,5) 111 km, n2 (0,1) 334 km, n1 (0,0) 445 km, n4 (10,10) ~1300 km, n5 has no loc
before(async () => {
  server = await startServer();
  r = rest(server);
  C = uniqueClass('Geo');
  await seed(r, C, [{ n: 1, loc: G(0, 0) }, { n: 2, loc: G(0, 1) }, { n: 3, loc: G(0, 5) }, { n: 4, loc: G(10, 10) }, { n: 5 }]);
  P = uniqueClass('Poly');
  const sq = (x0, y0, x1, y1) => ({ __type: 'Polygon', coordinates: [[x0, y0], [x0, y1], [x1, y1], [x1, y0]] });
  await seed(r, P, [
    { n: 1, poly: sq(0, 0, 2, 2) },
    { n: 2, poly: sq(5, 5, 6, 6) },
    { n: 3, poly: { __type: 'Polygon', coordinates: [[0, 0], [0, 10], [1, 10], [1, 0]] } }, // lat 0..1, lng 0..10
  ]);
});
after(async () => { await server.stop(); });

const ns = async (cls, where, extra = {}) => {
  const res = await find(r, cls, { where, ...extra });
  assert.equal(res.status, 200, `${JSON.stringify(where)} → ${JSON.stringify(res.body)}`);
  return res.body.results.map((o) => o.n);
};

test('$nearSphere sorts nearest first and skips objects without the field', async () => {
  assert.deepEqual(await ns(C, { loc: { $nearSphere: ORIGIN } }), [3, 2, 1, 4]);
  assert.deepEqual(await ns(C, { loc: { $nearSphere: G(10, 9) } }), [4, 3, 2, 1]);
});

test('$nearSphere ordering wins over order=, and limit keeps the nearest', async () => {
  assert.deepEqual(await ns(C, { loc: { $nearSphere: ORIGIN } }, { order: 'n' }), [3, 2, 1, 4]);
  assert.deepEqual(await ns(C, { loc: { $nearSphere: ORIGIN } }, { limit: '2' }), [3, 2]);
  assert.deepEqual(await ns(C, { loc: { $nearSphere: ORIGIN } }, { limit: '2', skip: '1' }), [2, 1]);
});

test('$nearSphere combined with other constraints, and count', async () => {
  assert.deepEqual(await ns(C, { loc: { $nearSphere: ORIGIN }, n: { $lt: 4 } }), [3, 2, 1]);
  const res = await find(r, C, { where: { loc: { $nearSphere: ORIGIN } }, count: '1', limit: '0' });
  assert.deepEqual(res.body, { results: [], count: 4 });
});

test('$nearSphere with $maxDistance (radians)', async () => {
  assert.deepEqual(await ns(C, { loc: { $nearSphere: ORIGIN, $maxDistance: 0.1 } }), [3, 2, 1]);
  assert.deepEqual(await ns(C, { loc: { $nearSphere: ORIGIN, $maxDistance: 0.06 } }), [3, 2]);
  assert.deepEqual(await ns(C, { loc: { $nearSphere: ORIGIN, $maxDistance: 0.001 } }), []);
});

test('$maxDistanceInKilometers / InMiles / InRadians', { skip: target === 'oracle' && 'only the Mongo adapter implements these; the Postgres oracle ignores them' }, async () => {
  assert.deepEqual(await ns(C, { loc: { $nearSphere: ORIGIN, $maxDistanceInKilometers: 400 } }), [3, 2]);
  assert.deepEqual(await ns(C, { loc: { $nearSphere: ORIGIN, $maxDistanceInMiles: 300 } }), [3, 2, 1]);
  assert.deepEqual(await ns(C, { loc: { $nearSphere: ORIGIN, $maxDistanceInRadians: 0.06 } }), [3, 2]);
});

test('$within $box (southwest, northeast)', async () => {
  assert.deepEqual(await ns(C, { loc: { $within: { $box: [G(-1, -1), G(1, 2)] } } }, { order: 'n' }), [1, 2]);
  assert.deepEqual(await ns(C, { loc: { $within: { $box: [G(-1, -1), G(11, 11)] } } }, { order: 'n' }), [1, 2, 3, 4]);
  assert.deepEqual(await ns(C, { loc: { $within: { $box: [G(20, 20), G(30, 30)] } } }, { order: 'n' }), []);
});

test('$geoWithin $polygon with GeoPoints', async () => {
  const poly = [G(-1, -1), G(-1, 6), G(1, 6), G(1, -1)];
  assert.deepEqual(await ns(C, { loc: { $geoWithin: { $polygon: poly } } }, { order: 'n' }), [1, 2, 3]);
  const tri = [G(9, 9), G(11, 9), G(10, 11)];
  assert.deepEqual(await ns(C, { loc: { $geoWithin: { $polygon: tri } } }, { order: 'n' }), [4]);
});

test('$geoWithin $polygon with a Polygon object (symmetric square)', async () => {
  const square = { __type: 'Polygon', coordinates: [[-2, -2], [-2, 2], [2, 2], [2, -2]] };
  assert.deepEqual(await ns(C, { loc: { $geoWithin: { $polygon: square } } }, { order: 'n' }), [1, 2]);
});

test('$geoWithin $centerSphere [point, radians] (GeoPoint or [lng,lat])', async () => {
  assert.deepEqual(await ns(C, { loc: { $geoWithin: { $centerSphere: [G(0, 0), 0.05] } } }, { order: 'n' }), [1, 2]);
  assert.deepEqual(await ns(C, { loc: { $geoWithin: { $centerSphere: [[0, 0], 0.05] } } }, { order: 'n' }), [1, 2]);
  assert.deepEqual(await ns(C, { loc: { $geoWithin: { $centerSphere: [G(0, 4), 0.06] } } }, { order: 'n' }), [2, 3]);
});

test('$geoIntersects $point on a Polygon field', async () => {
  const hit = async (pt) => ns(P, { poly: { $geoIntersects: { $point: pt } } }, { order: 'n' });
  assert.deepEqual(await hit(G(1, 1)), [1, 3]);
  assert.deepEqual(await hit(G(5.5, 5.5)), [2]);
  assert.deepEqual(await hit(G(0.5, 8)), [3], 'Polygon coordinates are [latitude, longitude]');
  assert.deepEqual(await hit(G(8, 0.5)), []);
  assert.deepEqual(await hit(G(50, 50)), []);
});

test('malformed geo constraints: 107', async () => {
  let res = await find(r, P, { where: { poly: { $geoIntersects: { $point: [1, 1] } } } });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 107, error: 'bad $geoIntersect value; $point should be GeoPoint' });
  res = await find(r, C, { where: { loc: { $geoWithin: { $polygon: [G(1, 2)] } } } });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 107, error: 'bad $geoWithin value; $polygon should contain at least 3 GeoPoints' });
});
