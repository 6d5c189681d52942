// Hooks that write, inside a transactional /batch. Parse Server on PostgreSQL (checked with the
// oracle and this code) runs a hook's own writes outside the batch's transaction: they succeed,
// and stay even when the batch rolls back. Basalt on PostgreSQL does the same. On SQLite the
// batch holds the only writer until it ends, so such a write would wait for the batch while the
// batch waits for the hook, and every other write on the server with them: it is refused at
// once (119) instead, and the batch changes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWithCloud, rest, target, dbKind } from '../lib/harness.mjs';

const skip = target !== 'basalt' && 'the oracle runs its own cloud code';

const code = `
Parse.Cloud.beforeSave('TxHooked', async (req) => {
  await new Parse.Object('TxLog').save({ note: 'before ' + req.object.get('n') }, { useMasterKey: true });
});
Parse.Cloud.afterSave('TxAfter', async (req) => {
  await new Parse.Object('TxLog').save({ note: 'after ' + req.object.get('n') }, { useMasterKey: true });
});
`;

let server, r;
before(async () => {
  if (skip) return;
  server = await startWithCloud(code);
  r = rest(server);
});
after(async () => { await server?.stop(); });

const batch = (requests, transaction = true) =>
  r('POST', '/batch', { body: { transaction, requests }, master: true });
const create = (className, body) => ({ method: 'POST', path: `/parse/classes/${className}`, body });
const notes = async () => (await r('GET', '/classes/TxLog', { master: true })).body.results.map((o) => o.note).sort();
const count = async (className) =>
  (await r('GET', `/classes/${className}?count=1&limit=0`, { master: true })).body.count;

test('a beforeSave that writes, inside a transactional batch', { skip }, async () => {
  const res = await batch([create('TxHooked', { n: 1 })]);
  if (dbKind === 'postgres') {
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(res.body[0].success.objectId);
    assert.deepEqual(await notes(), ['before 1']);
    // The batch rolls back; the hook's own write, made outside it, stays (as in Parse).
    const failed = await batch([create('TxHooked', { n: 2 }), create('TxHooked', { n: 'not a number' })]);
    assert.equal(failed.status, 400, JSON.stringify(failed.body));
    assert.deepEqual(await notes(), ['before 1', 'before 2', 'before not a number']);
    assert.equal(await count('TxHooked'), 1);
  } else {
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 119);
    assert.match(res.body.error, /transactional batch/);
    assert.deepEqual(await notes(), []);
    assert.equal(await count('TxHooked'), 0);
  }
  // Other writes were never held up, and the same hook writes outside a transaction.
  const plain = await batch([create('TxHooked', { n: 3 })], false);
  assert.ok(plain.body[0].success, JSON.stringify(plain.body));
  assert.ok((await notes()).includes('before 3'));
});

test('an afterSave that writes runs once a transactional batch has committed', { skip }, async () => {
  const res = await batch([create('TxAfter', { n: 1 }), create('TxAfter', { n: 2 })]);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(await count('TxAfter'), 2);
  const after = (await notes()).filter((n) => n.startsWith('after'));
  assert.deepEqual(after, ['after 1', 'after 2']);
});
