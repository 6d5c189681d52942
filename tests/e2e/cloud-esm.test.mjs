// ES-module cloud code, as Parse Server loads it with import(): a project whose package.json
// says "type": "module" (here the project's root, above cloud/, as a Parse Server project lays
// it out), or an entry named .mjs. Imports of the code's own modules, of CommonJS files, of JSON,
// of npm packages (default and named exports), of parse/node, and top-level await. Basalt only:
// Parse Server is Node, which loads ES modules itself; expected values come from Node here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, startWithCloud, rest, target } from '../lib/harness.mjs';

const skip = target !== 'basalt' && 'Parse Server runs cloud code on Node itself';
const testsDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(testsDir, '..');
const bin = process.env.BASALT_BIN ?? join(root, 'target', 'debug', 'basalt');
const nodeRequire = createRequire(join(testsDir, 'package.json'));

function tree(dir, files) {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

const project = {
  'package.json': JSON.stringify({ name: 'app', type: 'module' }),
  'cloud/main.js': `
import _, { chunk } from 'lodash';
import { format, addDays } from 'date-fns';
import ParseNode, { Parse as Named } from 'parse/node';
import { greet } from './lib/greet.js';
import legacy from './lib/legacy.cjs';
import settings from './settings.json' with { type: 'json' };

const warmed = await Promise.resolve(settings.greeting);

Parse.Cloud.define('esm', (req) => ({
  chunks: chunk(req.params.list, 2),
  sameLodash: _.chunk === chunk,
  later: format(addDays(new Date(req.params.at), 3), 'yyyy-MM-dd'),
  greeting: greet(req.params.name),
  legacy: legacy.answer,
  warmed,
  sdk: ParseNode === Parse && Named === Parse,
  require: typeof require,
}));
Parse.Cloud.beforeSave('EsmThing', (req) => { req.object.set('tag', greet('save')); });
`,
  'cloud/lib/greet.js': "import settings from '../settings.json' with { type: 'json' };\nexport const greet = (n) => `${settings.greeting} ${n}`;\n",
  'cloud/lib/legacy.cjs': 'module.exports = { answer: 42 };\n',
  'cloud/settings.json': JSON.stringify({ greeting: 'hello' }),
};

let dir, server, r;
before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(testsDir, '.cloud-packages-esm-'));
  tree(dir, project);
  server = await startServer({ extraArgs: ['--cloud', join(dir, 'cloud', 'main.js')] });
  r = rest(server);
});
after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a "type": "module" project above cloud/ loads as ES modules, with every kind of import', { skip }, async () => {
  const { format, addDays } = nodeRequire('date-fns');
  const _ = nodeRequire('lodash');
  const at = '2026-03-30T12:00:00.000Z';
  const list = [1, 2, 3, 4, 5];
  const res = await r('POST', '/functions/esm', { body: { list, at, name: 'ada' } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body.result, {
    chunks: _.chunk(list, 2),
    sameLodash: true,
    later: format(addDays(new Date(at), 3), 'yyyy-MM-dd'),
    greeting: 'hello ada',
    legacy: 42,
    warmed: 'hello',
    sdk: true,
    // As in Node, an ES module has no require.
    require: 'undefined',
  });
  const saved = await r('POST', '/classes/EsmThing', { body: {}, master: true });
  assert.equal(saved.status, 201, JSON.stringify(saved.body));

  const got = await r('GET', `/classes/EsmThing/${saved.body.objectId}`);
  assert.equal(got.body.tag, 'hello save');
});

test('an .mjs entry is a module; the .js files beside it stay CommonJS', { skip }, async () => {
  // In the temporary folder, outside tests/, whose package.json says "type": "module" (and
  // would make helper.js one).
  const s = await startWithCloud({
    'main.mjs': "import helper from './helper.js';\nParse.Cloud.define('mjs', () => helper.twice(21));\n",
    'helper.js': 'exports.twice = (n) => n * 2;\n',
  }, { entry: 'main.mjs' });
  try {
    assert.deepEqual((await rest(s)('POST', '/functions/mjs', { body: {} })).body, { result: 42 });
  } finally {
    await s.stop();
  }
});

test('a module that does not link fails the start, naming the import', { skip }, async () => {
  const cases = [
    ["import { nope } from './lib.mjs';", "Could not find export 'nope'"],
    ["import x from './missing.mjs';", "Error loading module 'missing.mjs'"],
    ["import fs from 'node:fs';", "cannot import Node's own modules"],
    ["import fs from 'fs';", "Cannot find module 'fs'"],
    ['export const = 1;', 'SyntaxError'],
  ];
  const other = mkdtempSync(join(testsDir, '.cloud-packages-bad-'));
  try {
    writeFileSync(join(other, 'lib.mjs'), 'export const yes = 1;\n');
    for (const [code, message] of cases) {
      writeFileSync(join(other, 'main.mjs'), code);
      const p = spawnSync(bin, ['--appId', 'x', '--masterKey', 'm', '--port', '0', '--databaseURI', `sqlite://${join(other, 'db.sqlite')}`, '--data-dir', other,
        '--cloud', join(other, 'main.mjs')], { encoding: 'utf8', timeout: 20000 });
      assert.notEqual(p.status, 0, code);
      assert.ok(p.stderr.includes(message), `${code}: ${p.stderr}`);
    }
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});
