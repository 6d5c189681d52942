// Loads Basalt's cloud-code SDK shim (server/cloud/js/sdk.js + cloud.js) into a fresh node:vm
// context with a fake `__host`, and runs the same operation through the official Parse JS SDK
// with a capturing REST controller, so tests can compare what both send and what both decode.
import vm from 'node:vm';
import fs from 'node:fs';
import Parse from 'parse/node';

const read = (name) => fs.readFileSync(new URL(`../../server/cloud/js/${name}`, import.meta.url), 'utf8');
const SDK = read('sdk.js');
const CLOUD = read('cloud.js');
export const PRELUDE_PATH = new URL('../../server/cloud/js/prelude.js', import.meta.url);

export const APP = { applicationId: 'app', serverURL: 'http://127.0.0.1:1337/parse', javaScriptKey: 'jskey' };

// Plain data of this realm (vm values have other prototypes; deepStrictEqual would see them).
export const plain = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

// A REST answerer that keeps both SDKs going: creates get ids, updates a date, finds what the
// test gives, batches succeed item by item.
export function answerer(overrides = {}) {
  let n = 0;
  const answer = (call) => {
    for (const [prefix, reply] of Object.entries(overrides)) {
      if (`${call.method} ${call.path}`.startsWith(prefix)) return typeof reply === 'function' ? reply(call) : reply;
    }
    const { method, path, body } = call;
    if (path === 'batch') {
      return { status: 200, body: body.requests.map((r) => subAnswer(r.method)) };
    }
    if (method === 'GET' && /^classes\/[^/]+$/.test(path)) return { status: 200, body: { results: [] } };
    return subAnswer(method, path);
  };
  const subAnswer = (method, path) => {
    if (method === 'POST' && (!path || /^classes\/|^users$/.test(path))) {
      n += 1;
      return path === undefined
        ? { success: { objectId: `new${n}`, createdAt: '2024-01-02T03:04:05.006Z' } }
        : { status: 201, body: { objectId: `new${n}`, createdAt: '2024-01-02T03:04:05.006Z' } };
    }
    if (method === 'PUT') {
      return path === undefined ? { success: { updatedAt: '2024-02-03T04:05:06.007Z' } } : { status: 200, body: { updatedAt: '2024-02-03T04:05:06.007Z' } };
    }
    return path === undefined ? { success: {} } : { status: 200, body: {} };
  };
  return answer;
}

function normaliseOptions(options = {}) {
  const out = {};
  if (options.useMasterKey) out.useMasterKey = true;
  if (typeof options.sessionToken === 'string' && options.sessionToken) out.sessionToken = options.sessionToken;
  if (typeof options.installationId === 'string' && options.installationId) out.installationId = options.installationId;
  if (options.context !== undefined) out.context = plain(options.context);
  return out;
}

// The shim in a fresh context. `answer(call)` gives {status, body} for each REST call.
export function shim({ answer = answerer(), http, prelude = false, files = {} } = {}) {
  const calls = [];
  const logs = [];
  const host = {
    appInfo: APP,
    rest(method, path, body, options) {
      const call = { method, path, body: body === '' ? {} : JSON.parse(body), options: JSON.parse(options) };
      calls.push(call);
      return Promise.resolve().then(() => answer(call)).then((reply) => JSON.stringify(reply));
    },
    log(level, message) { logs.push([level, message]); },
    http(request) {
      calls.push({ http: JSON.parse(request) });
      return Promise.resolve(JSON.stringify(http ? http(JSON.parse(request)) : { status: 200, headers: {}, text: '' }));
    },
    load(path) {
      if (!(path in files)) return undefined;
      return vm.runInContext(`(function (exports, require, module, __filename, __dirname) {${files[path]}\n})`, context, { filename: path });
    },
  };
  const context = vm.createContext({ __host: host });
  if (prelude) {
    // QuickJS has queueMicrotask as a language global; a node:vm context does not.
    vm.runInContext("Object.defineProperty(globalThis, 'queueMicrotask', { value: (f) => { Promise.resolve().then(f); }, writable: true, configurable: true })", context);
    vm.runInContext(fs.readFileSync(PRELUDE_PATH, 'utf8'), context, { filename: 'prelude.js' });
  }
  vm.runInContext(SDK, context, { filename: 'sdk.js' });
  vm.runInContext(CLOUD, context, { filename: 'cloud.js' });
  return {
    context,
    calls,
    logs,
    Parse: context.Parse,
    basalt: context.__basalt,
    // Evaluates source in the context, so literals are of the context's realm.
    eval(source) { return vm.runInContext(source, context); },
    // Re-creates a test function inside the context (it must not close over outer variables).
    adopt(fn) { return vm.runInContext(`(${fn.toString()})`, context); },
    async invoke(kind, name, request) {
      return JSON.parse(await context.__basalt.invoke(JSON.stringify({ kind, name, request })));
    },
  };
}

Parse.initialize(APP.applicationId, APP.javaScriptKey);
Parse.serverURL = APP.serverURL;
Parse.masterKey = 'master'; // as in Parse Server, where cloud code's SDK holds the master key

let officialAnswer = null;
let officialCalls = null;

Parse.CoreManager.setRESTController({
  request(method, path, data, options = {}) {
    const call = { method, path, body: plain(data ?? {}), options: normaliseOptions(options) };
    officialCalls.push(call);
    return Promise.resolve().then(() => {
      const reply = officialAnswer(plain(call));
      if (reply.status >= 200 && reply.status < 300) {
        const body = plain(reply.body);
        // Parse Server's direct access (cloud code's REST controller) reports 201 per created
        // batch item, and answers a batch as a bare array.
        if (path === 'batch') {
          return body.map((item, i) => (item.success && data.requests[i].method === 'POST' ? { ...item, _status: 201 } : item));
        }
        return options.returnStatus ? { ...body, _status: reply.status, _headers: reply.headers || {} } : body;
      }
      throw new Parse.Error(reply.body.code, reply.body.error);
    });
  },
  // Parse.File#destroy skips request() and calls ajax with headers instead of an envelope.
  ajax(method, url, data, headers = {}) {
    const options = normaliseOptions({ useMasterKey: !!headers['X-Parse-Master-Key'], sessionToken: headers['X-Parse-Session-Token'] });
    const call = { method, path: url.slice(APP.serverURL.length + 1), body: data ? JSON.parse(data) : {}, options };
    officialCalls.push(call);
    const reply = officialAnswer(plain(call));
    return Promise.resolve({ status: reply.status, response: plain(reply.body) });
  },
});

export { Parse as OfficialParse };

// Outcome of an operation: what it returned (as plain JSON) or what it threw.
async function outcome(run) {
  try {
    return { result: plain(await run()) };
  } catch (e) {
    return { error: { code: e && e.code, message: e && (e.message ?? String(e)) } };
  }
}

// Runs `op(Parse)` through the official SDK and through the shim, with the same answers.
export async function both(op, makeAnswer = answerer) {
  officialCalls = [];
  officialAnswer = makeAnswer();
  const official = await outcome(() => op(Parse));
  official.calls = officialCalls;
  const s = shim({ answer: makeAnswer() });
  const mine = await outcome(() => s.adopt(op)(s.Parse));
  mine.calls = plain(s.calls);
  return { official, shim: mine };
}
