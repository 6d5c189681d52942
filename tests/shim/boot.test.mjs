// The shim as the runtime boots it: prelude.js (require, lockdown), sdk.js, cloud.js, then the
// app's main.js through `require`, then the lockdown that deep-freezes the built-ins and Parse.
// The SDK must keep working on frozen prototypes (no assignment may shadow a frozen property).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { shim, answerer, PRELUDE_PATH } from './harness.mjs';

const MAIN = `
const Parse = require('parse/node');
const { slugify } = require('./lib/util');
class Post extends Parse.Object {
  constructor(attrs) { super('Post', attrs); }
  get title() { return this.get('title'); }
}
Parse.Object.registerSubclass('Post', Post);
const Comment = Parse.Object.extend('Comment', { shout() { return this.get('text').toUpperCase(); } });

Parse.Cloud.define('publish', async (req) => {
  const post = new Post({ title: req.params.title, slug: slugify(req.params.title) });
  const acl = new Parse.ACL(req.user);
  acl.setPublicReadAccess(true);
  post.setACL(acl);
  post.increment('views');
  post.add('tags', 'new');
  post.relation('likes').add(req.user);
  await post.save(null, { sessionToken: req.user.getSessionToken() });
  const comment = new Comment({ text: 'first', post });
  await comment.save(null, { useMasterKey: true });
  const Inline = Parse.Object.extend('Inline');
  const found = await new Parse.Query(Post).equalTo('slug', post.get('slug')).include('author').find({ useMasterKey: true });
  const geo = new Parse.GeoPoint(1, 2);
  return { post, comment: comment.shout(), found: found.length, inline: new Inline().className, km: geo.kilometersTo(new Parse.GeoPoint(1, 3)) > 0, isPost: found[0] instanceof Post };
});

Parse.Cloud.beforeSave(Post, (req) => {
  if (!req.object.get('title')) throw new Parse.Error(142, 'title required');
  req.object.set('title', req.object.title.trim());
});

Parse.Cloud.afterFind('Post', (req) => req.objects.map((o) => { o.set('seen', true); return o; }));
`;

test('main.js loads through require, and every hook works after the lockdown', async (t) => {
  if (!fs.existsSync(PRELUDE_PATH)) return t.skip('no prelude.js yet');
  const s = shim({
    prelude: true,
    files: { 'main.js': MAIN, 'lib/util.js': 'exports.slugify = (s) => s.toLowerCase().replace(/\\s+/g, "-");' },
    answer: answerer({
      'GET classes/Post': { status: 200, body: { results: [{ objectId: 'p9', slug: 'hello-world', author: { __type: 'Object', className: '_User', objectId: 'u1', username: 'alice' } }] } },
    }),
  });
  s.eval('__boot.main("main.js")');
  s.eval('__boot.lockdown()');
  assert.ok(s.eval('Object.isFrozen(Parse.Object.prototype) && Object.isFrozen(Parse)'));

  const user = { objectId: 'u1', username: 'alice', sessionToken: 'r:alice' };
  const published = await s.invoke('function', 'publish', { user, params: { title: 'Hello World' } });
  assert.deepEqual(published, {
    result: {
      post: {
        title: 'Hello World', slug: 'hello-world', ACL: { u1: { read: true, write: true }, '*': { read: true } }, views: 1, tags: ['new'],
        likes: { __type: 'Relation', className: '_User' }, createdAt: '2024-01-02T03:04:05.006Z', updatedAt: '2024-01-02T03:04:05.006Z',
        objectId: 'new1', __type: 'Object', className: 'Post',
      },
      comment: 'FIRST', found: 1, inline: 'Inline', km: true, isPost: true,
    },
  });
  assert.deepEqual(s.calls.map((c) => [c.method, c.path, c.options]), [
    ['POST', 'classes/Post', { sessionToken: 'r:alice' }],
    ['POST', 'classes/Comment', { useMasterKey: true }],
    ['GET', 'classes/Post', { useMasterKey: true }],
  ]);

  const saved = await s.invoke('beforeSave', 'Post', { object: { className: 'Post' }, changes: { title: '  padded  ' } });
  assert.deepEqual(saved, { object: { title: 'padded' }, context: {} });
  assert.deepEqual(await s.invoke('beforeSave', 'Post', { object: { className: 'Post' }, changes: {} }), { error: { code: 142, message: 'title required' } });
  const found = await s.invoke('afterFind', 'Post', { objects: [{ objectId: 'p1', title: 't' }], query: { className: 'Post', where: {} } });
  assert.deepEqual(found, { objects: [{ title: 't', seen: true, objectId: 'p1', className: 'Post' }] });
});

test('a require of something else fails as Node would', async (t) => {
  if (!fs.existsSync(PRELUDE_PATH)) return t.skip('no prelude.js yet');
  const s = shim({ prelude: true, files: { 'main.js': "require('express');" } });
  assert.throws(() => s.eval('__boot.main("main.js")'), /Cannot find module 'express'/);
});
