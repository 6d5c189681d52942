// File triggers: Parse.Cloud.beforeSave/afterSave/beforeDelete/afterDelete(Parse.File, …), as
// Parse Server's files router runs them. Basalt only: Parse Server on PostgreSQL has no files
// adapter to store uploads with (its default is GridFS, on MongoDB). The oracle, given this
// code, agrees on what it can show: beforeSave's request (file with its data, fileSize, master,
// triggerName) and its refusals (a Parse.Error keeps its code, a thrown string is 130).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWithCloud, rest, target } from '../lib/harness.mjs';

const skip = target !== 'basalt' && 'Parse Server on PostgreSQL cannot store files';

const code = `
const seen = [];
Parse.Cloud.beforeSave(Parse.File, async (req) => {
  const name = req.file.name();
  seen.push({ trigger: req.triggerName, name, data: await req.file.getData(), fileSize: req.fileSize,
    master: req.master, user: req.user ? req.user.id : null, metadata: req.file.metadata(), tags: req.file.tags() });
  if (name.startsWith('reject')) throw new Parse.Error(142, 'no files like that');
  if (name.startsWith('plain')) throw 'plain refusal';
  if (name.startsWith('swap')) return new Parse.File('swapped.txt', { base64: 'c3dhcHBlZCE=' }, 'text/x-swapped');
  if (name.startsWith('saved')) return Parse.File.fromJSON({ __type: 'File', name: 'elsewhere.txt', url: 'https://cdn.example.com/elsewhere.txt' });
});
Parse.Cloud.afterSave(Parse.File, (req) => {
  seen.push({ trigger: req.triggerName, name: req.file.name(), url: req.file.url(), fileSize: req.fileSize });
  if (req.file.name().endsWith('_aftererr.txt')) throw 'after refusal';
});
Parse.Cloud.beforeDelete(Parse.File, (req) => {
  seen.push({ trigger: req.triggerName, name: req.file.name(), url: req.file.url(), fileSize: req.fileSize, master: req.master });
  if (req.file.name().endsWith('_keep.txt')) throw new Parse.Error(101, 'keep it');
});
Parse.Cloud.afterDelete(Parse.File, (req) => { seen.push({ trigger: req.triggerName, name: req.file.name() }); });
Parse.Cloud.define('seen', () => seen.splice(0));
`;

let server, r;
before(async () => {
  if (skip) return;
  server = await startWithCloud(code);
  r = rest(server);
});
after(async () => { await server?.stop(); });

const seen = async () => (await r('POST', '/functions/seen', { body: {}, master: true })).body.result;
const upload = (name, text, opts = {}) => r('POST', `/files/${name}`, {
  raw: text, headers: { 'Content-Type': 'text/plain', ...(opts.headers ?? {}) }, master: opts.master ?? true,
});
const b64 = (s) => Buffer.from(s).toString('base64');

test("beforeSave and afterSave see the upload as Parse's files router gives it", { skip }, async () => {
  // A logged-in user's upload, in the JS SDK's form (JSON body with base64 and fileData).
  const user = await r('POST', '/users', { body: { username: 'filer', password: 'pw' } });
  const res = await r('POST', '/files/notes.txt', {
    body: { base64: b64('hello file'), _ContentType: 'text/plain', fileData: { metadata: { a: '1' }, tags: { t: 'x' } } },
    headers: { 'X-Parse-Session-Token': user.body.sessionToken },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.match(res.body.name, /^[a-z0-9]{32}_notes\.txt$/);
  assert.deepEqual(await seen(), [
    { trigger: 'beforeSave', name: 'notes.txt', data: b64('hello file'), fileSize: 10, master: false,
      user: user.body.objectId, metadata: { a: '1' }, tags: { t: 'x' } },
    { trigger: 'afterSave', name: res.body.name, url: res.body.url, fileSize: 10 },
  ]);
  assert.equal(await (await fetch(res.body.url)).text(), 'hello file');
});

test('a refusal is the answer and nothing is stored: a Parse.Error keeps its code, a string is 130', { skip }, async () => {
  const a = await upload('reject.txt', 'x');
  assert.equal(a.status, 400);
  assert.deepEqual(a.body, { code: 142, error: 'no files like that' });
  const b = await upload('plain.txt', 'x');
  assert.deepEqual(b.body, { code: 130, error: 'plain refusal' });
  // Neither reached afterSave, which runs only for a stored file.
  assert.deepEqual((await seen()).map((s) => s.trigger), ['beforeSave', 'beforeSave']);
});

test('beforeSave may return another file, which is stored instead, or one already stored', { skip }, async () => {
  const swapped = await upload('swap.txt', 'original');
  assert.equal(swapped.status, 201);
  assert.match(swapped.body.name, /_swapped\.txt$/);
  const got = await fetch(swapped.body.url);
  assert.equal(got.headers.get('content-type'), 'text/x-swapped');
  assert.equal(await got.text(), 'swapped!');

  const saved = await upload('saved.txt', 'original');
  assert.equal(saved.status, 201);
  assert.deepEqual(saved.body, { url: 'https://cdn.example.com/elsewhere.txt', name: 'elsewhere.txt' });
  const after = (await seen()).filter((s) => s.trigger === 'afterSave');
  assert.deepEqual(after.map((s) => s.fileSize), [8, null]);
});

test("afterSave's failure is the answer (the file was stored, as in Parse)", { skip }, async () => {
  const res = await upload('aftererr.txt', 'x');
  assert.deepEqual(res.body, { code: 130, error: 'after refusal' });
});

test('beforeDelete may refuse a delete; afterDelete runs once the file is gone', { skip }, async () => {
  const kept = await upload('keep.txt', 'stay');
  const refused = await r('DELETE', `/files/${kept.body.name}`, { master: true });
  assert.equal(refused.body.code, 101);
  assert.equal(await (await fetch(kept.body.url)).text(), 'stay');

  const gone = await upload('gone.txt', 'bye');
  await seen();
  const del = await r('DELETE', `/files/${gone.body.name}`, { master: true });
  assert.equal(del.status, 200, JSON.stringify(del.body));
  assert.equal((await fetch(gone.body.url)).status, 404);
  assert.deepEqual(await seen(), [
    { trigger: 'beforeDelete', name: gone.body.name, url: gone.body.url, fileSize: null, master: true },
    { trigger: 'afterDelete', name: gone.body.name },
  ]);
});
