// npm packages in cloud code: `require('name')` finds them in the node_modules folders beside
// main.js and above it, as Node does (a Parse Server project keeps them in its root, above
// cloud/). What the scripts compute is compared with what the same packages compute under Node
// itself, here in the test. Basalt only: Parse Server is Node, and loads packages as Node does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, rest, target } from '../lib/harness.mjs';

const skip = target !== 'basalt' && 'Parse Server runs cloud code on Node itself';
// Inside tests/, so the packages in tests/node_modules are the ones a level above the code.
const testsDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const nodeRequire = createRequire(join(testsDir, 'package.json'));

const main = `
const _ = require('lodash');
const fp = require('lodash/fp');
const { format, addDays } = require('date-fns');
const { differenceInDays } = require('date-fns/differenceInDays');
const greet = require('greeter');

Parse.Cloud.define('lodash', (req) => ({
  version: _.VERSION,
  chunk: _.chunk(req.params.list, 2),
  grouped: _.groupBy(req.params.list, (n) => (n % 2 ? 'odd' : 'even')),
  doubled: fp.map((n) => n * 2)(req.params.list),
}));
Parse.Cloud.define('dates', (req) => {
  const at = new Date(req.params.at);
  return { later: format(addDays(at, 40), 'yyyy-MM-dd'), days: differenceInDays(addDays(at, 40), at) };
});
Parse.Cloud.define('greeter', (req) => greet(req.params.name));
Parse.Cloud.define('require', (req) => { require(req.params.name); return 'loaded'; });
`;

// A package of the app's own, beside main.js: \`main\` without an extension, and a dependency
// of its own in a nested node_modules.
const greeter = {
  'node_modules/greeter/package.json': JSON.stringify({ name: 'greeter', main: 'lib/greet' }),
  'node_modules/greeter/lib/greet.js':
    "const shout = require('shout');\nmodule.exports = (name) => shout(`hello ${name}`);\n",
  'node_modules/greeter/node_modules/shout/index.js': "module.exports = (s) => s.toUpperCase() + '!';\n",
};

let dir, server, r;
before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(testsDir, '.cloud-packages-'));
  writeFileSync(join(dir, 'main.js'), main);
  // CommonJS, whatever the package.json of tests/ says (see cloud-esm.test.mjs for modules).
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'commonjs' }));
  for (const [path, text] of Object.entries(greeter)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  server = await startServer({ extraArgs: ['--cloud', join(dir, 'main.js')] });
  r = rest(server);
});
after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const run = (name, params = {}) => r('POST', `/functions/${name}`, { body: params });

test('a package with a plain main, and a file inside it (lodash, lodash/fp), as under Node', { skip }, async () => {
  const _ = nodeRequire('lodash');
  const fp = nodeRequire('lodash/fp');
  const list = [1, 2, 3, 4, 5];
  const res = await run('lodash', { list });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body.result, {
    version: _.VERSION,
    chunk: _.chunk(list, 2),
    grouped: _.groupBy(list, (n) => (n % 2 ? 'odd' : 'even')),
    doubled: fp.map((n) => n * 2)(list),
  });
});

test('a package whose "exports" give a CommonJS file under "require" (date-fns, and a subpath of it)', { skip }, async () => {
  const { format, addDays, differenceInDays } = nodeRequire('date-fns');
  const at = '2026-01-30T12:00:00.000Z';
  const res = await run('dates', { at });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body.result, {
    later: format(addDays(new Date(at), 40), 'yyyy-MM-dd'),
    days: differenceInDays(addDays(new Date(at), 40), new Date(at)),
  });
});

test("the app's own package beside main.js, with its own nested dependency", { skip }, async () => {
  assert.deepEqual((await run('greeter', { name: 'ada' })).body, { result: 'HELLO ADA!' });
});

test("Node's own modules, absent packages and unexported subpaths fail that call with 141", { skip }, async () => {
  for (const name of ['fs', 'node:fs', 'child_process', 'no-such-package', 'lodash/no-such-file']) {
    const res = await run('require', { name });
    assert.equal(res.status, 400, name);
    assert.equal(res.body.code, 141, name);
    assert.match(res.body.error, new RegExp(`^Cannot find module '${name}'`), name);
  }
  // Node refuses the same subpath for the same reason.
  assert.throws(() => nodeRequire('date-fns/package.json/x'), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
  const res = await run('require', { name: 'date-fns/package.json/x' });
  assert.equal(res.body.code, 141);
  assert.match(res.body.error, /^Package subpath '\.\/package\.json\/x' is not defined by "exports"/);
  // A path out of the package, or to a file that is not a script, reads nothing.
  for (const name of ['lodash/../../package.json', 'greeter/../../main.js', 'lodash/README.md']) {
    const out = await run('require', { name });
    assert.equal(out.body.code, 141, name);
  }
  // The server is fine, and the packages still load.
  assert.equal((await run('greeter', { name: 'x' })).body.result, 'HELLO X!');
});

test('deployed code requires the packages beside the --cloud file', { skip }, async () => {
  const body = { entry: 'main.js', files: { 'main.js': "Parse.Cloud.define('v', () => require('lodash').VERSION + ' ' + require('greeter')('d'));" } };
  const res = await r('POST', '/cloud_code/deploy', { body, master: true });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual((await run('v')).body, { result: `${nodeRequire('lodash').VERSION} HELLO D!` });
});
