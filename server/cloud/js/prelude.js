// Basalt's boot script, evaluated first in every cloud-code runtime: CommonJS `require` over the
// app's own files and npm packages, and the lockdown that runs once the app's top level has finished.
// It defines only `__boot`, which the host calls (`main`, then `lockdown`) and then deletes.
(function () {
  'use strict';
  const load = globalThis.__host.load;
  const log = globalThis.__host.log;
  const modules = new Map();

  // `console`, as cloud code uses it everywhere: each call is one line in the server's log,
  // tagged with the function or trigger that wrote it.
  const show = (v) => {
    if (typeof v === 'string') return v;
    if (v instanceof Error) return v.stack ? `${v}\n${v.stack}` : String(v);
    try {
      return JSON.stringify(v) ?? String(v);
    } catch {
      return String(v);
    }
  };
  const line = (level) => (...args) => log(level, args.map(show).join(' '));
  Object.defineProperty(globalThis, 'console', {
    configurable: true,
    writable: true,
    value: {
      log: line('info'), info: line('info'), warn: line('warn'), error: line('error'),
      debug: line('debug'), trace: line('debug'),
    },
  });

  // The everyday globals of Node and the web that cloud code uses, built on what the host
  // gives: timers, `process.env` (only the variables `--cloudEnv` names), `Buffer`,
  // `TextEncoder` and `TextDecoder`. A timer fires only within the invocation that set it: one
  // still pending when that invocation ends never runs (a later one must not run it with
  // another request's state).
  const sleep = globalThis.__host.sleep;
  const epoch = globalThis.__host.epoch;
  const timers = new Map();
  let nextTimer = 1;
  class Timeout {
    constructor(id) { this._id = id; }
    ref() { return this; }
    unref() { return this; }
    hasRef() { return true; }
    refresh() { return this; }
    [Symbol.toPrimitive]() { return this._id; }
  }
  function startTimer(fn, ms, args, repeat) {
    if (typeof fn !== 'function') throw new TypeError('The "callback" argument must be of type function');
    const id = nextTimer++;
    const at = epoch();
    const delay = Math.max(repeat ? 1 : 0, Number(ms) || 0);
    timers.set(id, at);
    const tick = () => sleep(delay).then(() => {
      if (timers.get(id) !== at || epoch() !== at) {
        timers.delete(id);
        return;
      }
      if (!repeat) timers.delete(id);
      try {
        fn(...args);
      } finally {
        if (repeat && timers.has(id)) tick();
      }
    });
    tick();
    return new Timeout(id);
  }
  const stopTimer = (t) => { timers.delete(t instanceof Timeout ? t._id : Number(t)); };
  const defineGlobal = (name, value) =>
    Object.defineProperty(globalThis, name, { configurable: true, writable: true, value });
  defineGlobal('setTimeout', (fn, ms, ...args) => startTimer(fn, ms, args, false));
  defineGlobal('setInterval', (fn, ms, ...args) => startTimer(fn, ms, args, true));
  defineGlobal('setImmediate', (fn, ...args) => startTimer(fn, 0, args, false));
  defineGlobal('clearTimeout', stopTimer);
  defineGlobal('clearInterval', stopTimer);
  defineGlobal('clearImmediate', stopTimer);

  // No `versions.node`: packages that see it reach for Node's own modules.
  const appEnv = (globalThis.__host.appInfo && globalThis.__host.appInfo.env) || {};
  defineGlobal('process', {
    env: Object.assign({}, appEnv),
    argv: [],
    nextTick(fn, ...args) { queueMicrotask(() => fn(...args)); },
  });

  function utf8Encode(text) {
    const s = String(text);
    const out = [];
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return out;
  }

  // Invalid sequences become U+FFFD, as Node and TextDecoder do.
  function utf8Decode(bytes) {
    let out = '';
    for (let i = 0; i < bytes.length;) {
      const b = bytes[i];
      let c = 0xfffd;
      let n = 1;
      const cont = (k) => i + k < bytes.length && (bytes[i + k] & 0xc0) === 0x80;
      if (b < 0x80) c = b;
      else if (b >= 0xc2 && b < 0xe0 && cont(1)) { c = ((b & 31) << 6) | (bytes[i + 1] & 63); n = 2; }
      else if (b >= 0xe0 && b < 0xf0 && cont(1) && cont(2)) {
        const v = ((b & 15) << 12) | ((bytes[i + 1] & 63) << 6) | (bytes[i + 2] & 63);
        if (v >= 0x800 && (v < 0xd800 || v > 0xdfff)) { c = v; n = 3; }
      } else if (b >= 0xf0 && b < 0xf5 && cont(1) && cont(2) && cont(3)) {
        const v = ((b & 7) << 18) | ((bytes[i + 1] & 63) << 12) | ((bytes[i + 2] & 63) << 6) | (bytes[i + 3] & 63);
        if (v >= 0x10000 && v <= 0x10ffff) { c = v; n = 4; }
      }
      out += String.fromCodePoint(c);
      i += n;
    }
    return out;
  }

  const binaryString = (bytes) => {
    let s = '';
    for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
    return s;
  };
  const HEX = '0123456789abcdef';

  function encodeText(text, encoding) {
    const s = String(text);
    switch (normalizeEncoding(encoding)) {
      case 'utf8': return utf8Encode(s);
      case 'base64': {
        // As leniently as Node: url-safe letters, no padding, stray characters ignored.
        let clean = s.replace(/-/g, '+').replace(/_/g, '/').replace(/[^A-Za-z0-9+/]/g, '');
        if (clean.length % 4 === 1) clean = clean.slice(0, -1);
        const bin = atob(clean + '='.repeat((4 - (clean.length % 4)) % 4));
        return Array.from(bin, (ch) => ch.charCodeAt(0));
      }
      case 'hex': {
        const out = [];
        for (let i = 0; i + 1 < s.length; i += 2) {
          const v = parseInt(s.slice(i, i + 2), 16);
          if (Number.isNaN(v)) break;
          out.push(v);
        }
        return out;
      }
      case 'latin1': return Array.from(s, (ch) => ch.charCodeAt(0) & 255);
    }
    throw new TypeError(`Unknown encoding: ${encoding}`);
  }

  function normalizeEncoding(encoding) {
    const e = String(encoding === undefined ? 'utf8' : encoding).toLowerCase();
    if (e === 'utf8' || e === 'utf-8') return 'utf8';
    if (e === 'base64' || e === 'base64url') return 'base64';
    if (e === 'hex') return 'hex';
    if (e === 'latin1' || e === 'binary' || e === 'ascii') return 'latin1';
    return undefined;
  }

  class Buffer extends Uint8Array {
    static from(value, encoding, length) {
      if (typeof value === 'string') return Buffer._of(encodeText(value, encoding));
      if (value instanceof ArrayBuffer) return new Buffer(value, encoding || 0, length);
      if (ArrayBuffer.isView(value)) return Buffer._of(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      if (value && value.type === 'Buffer' && Array.isArray(value.data)) return Buffer._of(value.data);
      if (Array.isArray(value) || (value && typeof value.length === 'number')) return Buffer._of(Array.from(value));
      throw new TypeError('The first argument must be a string, Buffer, ArrayBuffer, Array, or array-like object.');
    }
    static _of(bytes) {
      const b = new Buffer(bytes.length);
      b.set(bytes);
      return b;
    }
    static alloc(size, fill) {
      const b = new Buffer(size);
      if (fill !== undefined) b.fill(typeof fill === 'string' ? fill.charCodeAt(0) : fill);
      return b;
    }
    static allocUnsafe(size) { return new Buffer(size); }
    static isBuffer(value) { return value instanceof Buffer; }
    static isEncoding(encoding) { return normalizeEncoding(encoding) !== undefined; }
    static byteLength(value, encoding) {
      return typeof value === 'string' ? encodeText(value, encoding).length : value.byteLength;
    }
    static concat(list, total) {
      const length = total === undefined ? list.reduce((n, b) => n + b.length, 0) : total;
      const out = Buffer.alloc(length);
      let at = 0;
      for (const b of list) {
        if (at >= length) break;
        out.set(b.subarray(0, length - at), at);
        at += b.length;
      }
      return out;
    }
    static compare(a, b) { return a.compare(b); }
    toString(encoding, start = 0, end = this.length) {
      const bytes = this.subarray(start, end);
      switch (normalizeEncoding(encoding)) {
        case 'utf8': return utf8Decode(bytes);
        case 'base64': {
          const b64 = btoa(binaryString(bytes));
          return String(encoding).toLowerCase() === 'base64url'
            ? b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') : b64;
        }
        case 'hex': return Array.from(bytes, (v) => HEX[v >> 4] + HEX[v & 15]).join('');
        case 'latin1': return binaryString(bytes);
      }
      throw new TypeError(`Unknown encoding: ${encoding}`);
    }
    toJSON() { return { type: 'Buffer', data: Array.from(this) }; }
    equals(other) { return this.compare(other) === 0; }
    compare(other) {
      const n = Math.min(this.length, other.length);
      for (let i = 0; i < n; i++) if (this[i] !== other[i]) return this[i] < other[i] ? -1 : 1;
      return this.length === other.length ? 0 : this.length < other.length ? -1 : 1;
    }
    slice(start, end) { return this.subarray(start, end); }
    copy(target, targetStart = 0, sourceStart = 0, sourceEnd = this.length) {
      const part = this.subarray(sourceStart, Math.min(sourceEnd, sourceStart + target.length - targetStart));
      target.set(part, targetStart);
      return part.length;
    }
    write(text, offset = 0, encoding = 'utf8') {
      const bytes = encodeText(text, encoding).slice(0, this.length - offset);
      this.set(bytes, offset);
      return bytes.length;
    }
  }
  defineGlobal('Buffer', Buffer);

  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(text = '') { return Uint8Array.from(utf8Encode(text)); }
  }
  class TextDecoder {
    constructor(label = 'utf-8') {
      if (normalizeEncoding(label) !== 'utf8') throw new RangeError(`The "${label}" encoding is not supported`);
    }
    get encoding() { return 'utf-8'; }
    decode(bytes) {
      if (bytes === undefined) return '';
      const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return utf8Decode(view);
    }
  }
  defineGlobal('TextEncoder', TextEncoder);
  defineGlobal('TextDecoder', TextDecoder);

  // `require('crypto')` (and `node:crypto`): Node's hashes and HMACs, random bytes, UUIDs and
  // constant-time comparison, computed by the host; `crypto` is the web's getRandomValues and
  // randomUUID.
  const digestOf = globalThis.__host.digest;
  const randomOf = globalThis.__host.random;
  const bytesOf = (data, encoding) => {
    if (typeof data === 'string') return encodeText(data, encoding);
    if (data instanceof ArrayBuffer) return Array.from(new Uint8Array(data));
    if (ArrayBuffer.isView(data)) return Array.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    throw new TypeError('The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView.');
  };
  class Hash {
    constructor(algorithm, key) {
      if (digestOf(String(algorithm), [], key) === undefined) {
        throw new Error(key ? `Invalid digest: ${algorithm}` : 'Digest method not supported');
      }
      this._algorithm = String(algorithm);
      this._key = key;
      this._data = [];
      this._done = false;
    }
    update(data, encoding) {
      if (this._done) throw new Error('Digest already called');
      for (const b of bytesOf(data, encoding)) this._data.push(b);
      return this;
    }
    digest(encoding) {
      if (this._done) throw new Error('Digest already called');
      this._done = true;
      const out = Buffer.from(digestOf(this._algorithm, this._data, this._key));
      return encoding === undefined || encoding === 'buffer' ? out : out.toString(encoding);
    }
    copy() {
      const h = new Hash(this._algorithm, this._key);
      h._data = this._data.slice();
      return h;
    }
  }
  function randomBytes(size, callback) {
    const n = Number(size);
    if (!Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1) {
      throw new RangeError(`The value of "size" is out of range. Received ${size}`);
    }
    const out = Buffer.alloc(n);
    for (let at = 0; at < n; at += 65536) out.set(randomOf(Math.min(65536, n - at)), at);
    if (typeof callback === 'function') {
      queueMicrotask(() => callback(null, out));
      return undefined;
    }
    return out;
  }
  function randomUUID() {
    const b = randomBytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = b.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  function randomInt(min, max) {
    if (max === undefined || typeof max === 'function') [min, max] = [0, min];
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max <= min || max - min > 2 ** 48) {
      throw new RangeError('The "min" and "max" arguments must be safe integers with max > min');
    }
    const range = max - min;
    const limit = 2 ** 48 - (2 ** 48 % range);
    for (;;) {
      const v = randomBytes(6).reduce((acc, byte) => acc * 256 + byte, 0);
      if (v < limit) return min + (v % range);
    }
  }
  function getRandomValues(array) {
    if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array) {
      throw new TypeError('The data argument must be an integer-type TypedArray');
    }
    if (array.byteLength > 65536) throw new RangeError('The ArrayBufferView\'s byte length exceeds 65536');
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(randomOf(array.byteLength));
    return array;
  }
  function timingSafeEqual(a, b) {
    const x = bytesOf(a);
    const y = bytesOf(b);
    if (x.length !== y.length) throw new RangeError('Input buffers must have the same byte length');
    let diff = 0;
    for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
    return diff === 0;
  }
  const webcrypto = { getRandomValues, randomUUID };
  const cryptoModule = {
    createHash: (algorithm) => new Hash(algorithm),
    createHmac: (algorithm, key) => new Hash(algorithm, bytesOf(key)),
    hash: (algorithm, data, encoding = 'hex') => new Hash(algorithm).update(data).digest(encoding),
    getHashes: () => ['md5', 'sha1', 'sha256', 'sha384', 'sha512'],
    randomBytes, randomUUID, randomInt, getRandomValues, timingSafeEqual, webcrypto,
  };
  defineGlobal('crypto', webcrypto);

  // Joins a relative specifier to a directory; '' is the code's root. Nothing resolves above it.
  function join(dir, spec) {
    const out = [];
    for (const part of `${dir}/${spec}`.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') out.pop();
      else out.push(part);
    }
    return out.join('/');
  }

  function dirname(path) {
    const i = path.lastIndexOf('/');
    return i < 0 ? '' : path.slice(0, i);
  }

  // Loads one file as a module (Node's resolution order for a relative path: the file, with
  // each extension, then the folder's package.json `main` and its index).
  function loadModule(base) {
    for (const path of [base, `${base}.js`, `${base}.cjs`, `${base}.json`]) {
      const exports = loadFile(path);
      if (exports !== undefined) return exports;
    }
    const pkg = packageJson(base);
    if (pkg && typeof pkg.main === 'string' && pkg.main !== '') {
      const main = join(base, pkg.main);
      for (const path of [main, `${main}.js`, `${main}.cjs`, `${main}.json`, `${main}/index.js`]) {
        const exports = loadFile(path);
        if (exports !== undefined) return exports;
      }
    }
    return loadFile(`${base}/index.js`);
  }

  function loadFile(path) {
    const cached = modules.get(path);
    if (cached) return cached.exports;
    const loaded = load(path);
    if (loaded === undefined) return undefined;
    const module = { exports: {}, id: path, filename: path, loaded: false };
    modules.set(path, module);
    if (typeof loaded === 'function') {
      loaded.call(module.exports, module.exports, makeRequire(dirname(path)), module, path, dirname(path));
    } else {
      module.exports = loaded;
    }
    module.loaded = true;
    return module.exports;
  }

  // A folder's package.json, read once (null when it has none).
  const packages = new Map();
  function packageJson(dir) {
    if (!packages.has(dir)) {
      const pkg = load(`${dir}/package.json`);
      packages.set(dir, pkg && typeof pkg === 'object' ? pkg : null);
    }
    return packages.get(dir);
  }

  // The conditions Basalt matches in a package's `exports`, as Node's `require` does, but not
  // `node`: a package's Node build reaches for Node's own modules, which scripts do not have.
  const CONDITIONS = new Set(['require', 'default']);

  // One `exports` target: a path, an array of fallbacks, or conditions (the first key, in the
  // package's order, that Basalt matches). null: not exported; undefined: no condition matched.
  function exportTarget(target, star) {
    if (typeof target === 'string') {
      return target.startsWith('./') ? target.split('*').join(star ?? '*') : null;
    }
    if (Array.isArray(target)) {
      for (const t of target) {
        const found = exportTarget(t, star);
        if (found) return found;
      }
      return null;
    }
    if (target && typeof target === 'object') {
      for (const key of Object.keys(target)) {
        if (!CONDITIONS.has(key)) continue;
        const found = exportTarget(target[key], star);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    return null;
  }

  // The file `exports` gives for `subpath` ('.' or './x'): an exact key, or the pattern with a
  // `*` and the longest prefix. null or undefined: the package does not export it.
  function resolveExports(exports, subpath) {
    const isMap = exports && typeof exports === 'object' && !Array.isArray(exports) &&
      Object.keys(exports).some((k) => k.startsWith('.'));
    if (!isMap) return subpath === '.' ? exportTarget(exports) : null;
    if (Object.prototype.hasOwnProperty.call(exports, subpath) && !subpath.includes('*')) {
      return exportTarget(exports[subpath]);
    }
    let best;
    for (const key of Object.keys(exports)) {
      const star = key.indexOf('*');
      if (star < 0 || key.indexOf('*', star + 1) >= 0) continue;
      const prefix = key.slice(0, star);
      const suffix = key.slice(star + 1);
      if (subpath !== prefix && subpath.length >= key.length && subpath.startsWith(prefix) &&
          subpath.endsWith(suffix) &&
          (!best || prefix.length > best.prefix.length)) {
        best = { key, prefix, star: subpath.slice(prefix.length, subpath.length - suffix.length) };
      }
    }
    return best ? exportTarget(exports[best.key], best.star) : null;
  }

  // `require('name')` or `require('name/sub')`: Node's lookup in the `node_modules` folders
  // from the requiring file's folder up to the code's root, and (the host's part) above it.
  function loadPackage(dir, spec) {
    const parts = spec.split('/');
    const nameLength = spec.startsWith('@') ? 2 : 1;
    if (parts.length < nameLength || parts.some((p) => p === '' || p === '.' || p === '..')) {
      return undefined;
    }
    const name = parts.slice(0, nameLength).join('/');
    const sub = parts.slice(nameLength).join('/');
    for (let d = dir; ; d = dirname(d)) {
      if (!(d === 'node_modules' || d.endsWith('/node_modules'))) {
        const root = join(d, `node_modules/${name}`);
        const pkg = packageJson(root);
        if (pkg && pkg.exports !== undefined && pkg.exports !== null) {
          const subpath = sub ? `./${sub}` : '.';
          const target = resolveExports(pkg.exports, subpath);
          if (!target) {
            const err = new Error(`Package subpath '${subpath}' is not defined by "exports" in ${root}/package.json`);
            err.code = 'ERR_PACKAGE_PATH_NOT_EXPORTED';
            throw err;
          }
          const exports = loadFile(join(root, target));
          if (exports !== undefined) return exports;
        } else {
          const exports = loadModule(sub ? join(root, sub) : root);
          if (exports !== undefined) return exports;
        }
      }
      if (d === '') return undefined;
    }
  }

  function makeRequire(dir) {
    return function require(spec) {
      if (typeof spec !== 'string' || spec === '') {
        throw new TypeError('The "id" argument must be a non-empty string');
      }
      if (spec.startsWith('./') || spec.startsWith('../') || spec.startsWith('/') || spec === '.' || spec === '..') {
        const exports = loadModule(join(spec.startsWith('/') ? '' : dir, spec));
        if (exports !== undefined) return exports;
      } else {
        if (spec === 'crypto' || spec === 'node:crypto') return cryptoModule;
        const builtin = globalThis.__basalt && globalThis.__basalt.builtinModule(spec);
        if (builtin !== undefined) return builtin;
        const exports = spec.startsWith('node:') ? undefined : loadPackage(dir, spec);
        if (exports !== undefined) return exports;
      }
      const err = new Error(
        `Cannot find module '${spec}': cloud code can require its own files, npm packages from ` +
          "node_modules, 'crypto' and 'parse/node' (not Node's other modules)",
      );
      err.code = 'MODULE_NOT_FOUND';
      throw err;
    };
  }

  // Freezes the language's built-ins and the Parse SDK, so no invocation can change what the
  // next one runs on (prototype tampering). Assigning an inherited name such as `toString` or
  // `name` on an ordinary object must still work once its prototype is frozen (the "override
  // mistake"), so those properties become accessors that define an own property instead.
  function lockdown() {
    const overridable = [
      [Object.prototype, ['constructor', 'toString', 'toLocaleString', 'valueOf', 'hasOwnProperty',
        'isPrototypeOf', 'propertyIsEnumerable']],
      [Function.prototype, ['constructor', 'toString', 'name', 'apply', 'call', 'bind']],
      [Error.prototype, ['constructor', 'name', 'message', 'toString']],
      [Array.prototype, ['constructor', 'toString', 'push', 'concat', 'join', 'slice']],
      [Promise.prototype, ['constructor', 'then', 'catch', 'finally']],
      [Date.prototype, ['constructor', 'toString', 'toJSON']],
      [RegExp.prototype, ['constructor', 'toString', 'exec']],
    ];
    for (const Err of [TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]) {
      overridable.push([Err.prototype, ['constructor', 'name', 'message']]);
    }
    for (const [proto, names] of overridable) {
      for (const name of names) {
        const desc = Object.getOwnPropertyDescriptor(proto, name);
        if (!desc || !('value' in desc) || !desc.configurable) continue;
        const value = desc.value;
        Object.defineProperty(proto, name, {
          configurable: false,
          enumerable: desc.enumerable,
          get() { return value; },
          set(v) {
            if (this === proto) throw new TypeError(`Cannot assign to read only property '${name}'`);
            Object.defineProperty(this, name, { value: v, writable: true, enumerable: true, configurable: true });
          },
        });
      }
    }
    const seen = new Set();
    const harden = (root) => {
      const stack = [root];
      while (stack.length > 0) {
        const v = stack.pop();
        if ((typeof v !== 'object' && typeof v !== 'function') || v === null || seen.has(v)) continue;
        seen.add(v);
        Object.freeze(v);
        stack.push(Object.getPrototypeOf(v));
        for (const key of Reflect.ownKeys(v)) {
          const d = Object.getOwnPropertyDescriptor(v, key);
          if ('value' in d) stack.push(d.value);
          else stack.push(d.get, d.set);
        }
      }
    };
    const generator = function* () {};
    const asyncFn = async function () {};
    const asyncGenerator = async function* () {};
    const intrinsics = [
      Object, Function, Array, String, Number, Boolean, Symbol, BigInt, Promise, RegExp, Date,
      Map, Set, WeakMap, WeakSet, WeakRef, FinalizationRegistry, JSON, Math, Reflect, Proxy,
      Error, AggregateError, ArrayBuffer, DataView, Object.getPrototypeOf(Int8Array),
      Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
      Float32Array, Float64Array, BigInt64Array, BigUint64Array,
      encodeURIComponent, decodeURIComponent, encodeURI, decodeURI, escape, unescape,
      parseInt, parseFloat, isNaN, isFinite, queueMicrotask, globalThis.console,
      generator, asyncFn, asyncGenerator,
      Object.getPrototypeOf([][Symbol.iterator]()),
      Object.getPrototypeOf(new Map()[Symbol.iterator]()),
      Object.getPrototypeOf(new Set()[Symbol.iterator]()),
      Object.getPrototypeOf(''[Symbol.iterator]()),
      Object.getPrototypeOf(/x/[Symbol.matchAll](''))
    ];
    intrinsics.push(Timeout, Hash, cryptoModule, globalThis.crypto, globalThis.Buffer, globalThis.TextEncoder, globalThis.TextDecoder, globalThis.process,
      globalThis.setTimeout, globalThis.setInterval, globalThis.setImmediate, globalThis.clearTimeout,
      globalThis.clearInterval, globalThis.clearImmediate);
    for (const name of ['Iterator', 'SharedArrayBuffer', 'Atomics', 'Float16Array']) {
      if (name in globalThis) intrinsics.push(globalThis[name]);
    }
    intrinsics.push(globalThis.Parse);
    for (const v of intrinsics) harden(v);
  }

  // A CommonJS module imported from an ES module (see modules.rs): the source of a module whose
  // default export is its `module.exports` and whose named exports are its own keys that can be
  // names, as Node offers them.
  const imported = [];
  const NAME = /^[A-Za-z_$][\w$]*$/;
  const RESERVED = new Set(('break case catch class const continue debugger default delete do else ' +
    'enum export extends false finally for function if import in instanceof new null return super ' +
    'switch this throw true try typeof var void while with yield let static await implements ' +
    'interface package private protected public arguments eval').split(' '));
  function commonjsModule(dir, spec) {
    const exports = makeRequire(dir)(spec);
    const id = imported.push(exports) - 1;
    const names = exports !== null && (typeof exports === 'object' || typeof exports === 'function')
      ? Object.keys(exports).filter((k) => NAME.test(k) && !RESERVED.has(k))
      : [];
    return `const m = globalThis.__boot.imported(${id});\nexport default m;\n` +
      names.map((k) => `export const ${k} = m.${k};\n`).join('');
  }

  Object.defineProperty(globalThis, '__boot', {
    configurable: true,
    value: Object.freeze({
      // An ES module entry is imported (the promise settles once its top level has run).
      main(entry, isModule) { return isModule ? import(`/${entry}`).then(() => undefined) : loadModule(entry); },
      lockdown,
      commonjsModule,
      imported: (id) => imported[id],
    }),
  });
})();
