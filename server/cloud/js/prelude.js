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
        const builtin = globalThis.__basalt && globalThis.__basalt.builtinModule(spec);
        if (builtin !== undefined) return builtin;
        const exports = spec.startsWith('node:') ? undefined : loadPackage(dir, spec);
        if (exports !== undefined) return exports;
      }
      const err = new Error(
        `Cannot find module '${spec}': cloud code can require its own files, npm packages from ` +
          "node_modules (not Node's own modules) and 'parse/node'",
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
