// The Parse JS SDK as Basalt's cloud code sees it: a re-implementation of the parts of npm `parse`
// 8.x that Parse Server 9 cloud code uses, running on `parse/node` semantics (one state per object
// instance, no current user, no local storage). Every network call goes through the host's
// in-process REST entry point (`__host.rest`), exactly as Parse Server's direct access does.
//
// Evaluated as a classic script before cloud.js and the app's main.js; it defines only the global
// `Parse`. The host object is captured here and removed from the global scope by cloud.js.
(function () {
  'use strict';

  const host = globalThis.__host;
  const appInfo = Object.assign({}, host && host.appInfo);
  const hasOwn = Object.hasOwn;
  const DANGEROUS_KEYS = ['__proto__', 'constructor', 'prototype'];
  const isDangerousKey = (key) =>
    key === '__proto__' || key === 'constructor' || key === 'prototype' ||
    (key.includes('.') && key.split('.').some((p) => DANGEROUS_KEYS.includes(p)));
  const KEY_NAME = /^[A-Za-z_][0-9A-Za-z_.]*$/;
  const isDate = (v) => Object.prototype.toString.call(v) === '[object Date]';
  const REQUEST_BATCH_SIZE = 20; // the SDK's default batch size for saveAll/destroyAll

  function log(level, message) {
    if (host && typeof host.log === 'function') host.log(level, String(message));
  }

  // ---------------------------------------------------------------- Parse.Error

  class ParseError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
      Object.defineProperty(this, 'message', { enumerable: true, value: message });
    }
    toString() {
      return 'ParseError: ' + this.code + ' ' + this.message;
    }
  }
  Object.assign(ParseError, {
    OTHER_CAUSE: -1, INTERNAL_SERVER_ERROR: 1, CONNECTION_FAILED: 100, OBJECT_NOT_FOUND: 101,
    INVALID_QUERY: 102, INVALID_CLASS_NAME: 103, MISSING_OBJECT_ID: 104, INVALID_KEY_NAME: 105,
    INVALID_POINTER: 106, INVALID_JSON: 107, COMMAND_UNAVAILABLE: 108, NOT_INITIALIZED: 109,
    INCORRECT_TYPE: 111, INVALID_CHANNEL_NAME: 112, PUSH_MISCONFIGURED: 115, OBJECT_TOO_LARGE: 116,
    OPERATION_FORBIDDEN: 119, CACHE_MISS: 120, INVALID_NESTED_KEY: 121, INVALID_FILE_NAME: 122,
    INVALID_ACL: 123, TIMEOUT: 124, INVALID_EMAIL_ADDRESS: 125, MISSING_CONTENT_TYPE: 126,
    MISSING_CONTENT_LENGTH: 127, INVALID_CONTENT_LENGTH: 128, FILE_TOO_LARGE: 129, FILE_SAVE_ERROR: 130,
    DUPLICATE_VALUE: 137, INVALID_ROLE_NAME: 139, EXCEEDED_QUOTA: 140, SCRIPT_FAILED: 141,
    VALIDATION_ERROR: 142, INVALID_IMAGE_DATA: 143, UNSAVED_FILE_ERROR: 151, INVALID_PUSH_TIME_ERROR: 152,
    FILE_DELETE_ERROR: 153, FILE_DELETE_UNNAMED_ERROR: 161, REQUEST_LIMIT_EXCEEDED: 155,
    DUPLICATE_REQUEST: 159, INVALID_EVENT_NAME: 160, INVALID_VALUE: 162, USERNAME_MISSING: 200,
    PASSWORD_MISSING: 201, USERNAME_TAKEN: 202, EMAIL_TAKEN: 203, EMAIL_MISSING: 204,
    EMAIL_NOT_FOUND: 205, SESSION_MISSING: 206, MUST_CREATE_USER_THROUGH_SIGNUP: 207,
    ACCOUNT_ALREADY_LINKED: 208, INVALID_SESSION_TOKEN: 209, MFA_ERROR: 210, MFA_TOKEN_REQUIRED: 211,
    LINKED_ID_MISSING: 250, INVALID_LINKED_SESSION: 251, UNSUPPORTED_SERVICE: 252,
    INVALID_SCHEMA_OPERATION: 255, AGGREGATE_ERROR: 600, FILE_READ_ERROR: 601, X_DOMAIN_REQUEST: 602,
  });
  Object.freeze(ParseError);

  // ---------------------------------------------------------------- REST transport

  // The SDK's RESTController.request, minus the HTTP envelope: the envelope's keys travel as
  // `optionsJson`. Never falls back to the master key or to a "current user".
  async function request(method, path, data, options = {}) {
    const hostOptions = {};
    if (options.useMasterKey) hostOptions.useMasterKey = true;
    if (typeof options.sessionToken === 'string' && options.sessionToken) hostOptions.sessionToken = options.sessionToken;
    if (typeof options.installationId === 'string' && options.installationId) hostOptions.installationId = options.installationId;
    if (options.context !== undefined) hostOptions.context = options.context;
    const body = data == null ? '' : JSON.stringify(data);
    let reply;
    try {
      reply = JSON.parse(await host.rest(method, path, body, JSON.stringify(hostOptions)));
    } catch (e) {
      throw new ParseError(ParseError.INTERNAL_SERVER_ERROR, String((e && e.message) || e));
    }
    if (reply.status >= 200 && reply.status < 300) {
      if (!options.returnStatus) return reply.body;
      return Object.assign({}, reply.body, { _status: reply.status, _headers: reply.headers || {} });
    }
    throw errorFromBody(reply.body);
  }

  function errorFromBody(body) {
    if (body && (body.code || body.error || body.message)) return new ParseError(body.code, body.error || body.message);
    return new ParseError(ParseError.CONNECTION_FAILED, 'XMLHttpRequest failed: ' + JSON.stringify(body));
  }

  // The request options every public method accepts (the SDK's ParseObject._getRequestOptions).
  function requestOptions(options = {}) {
    if (Object.prototype.toString.call(options) !== '[object Object]') {
      throw new Error('request options must be of type Object');
    }
    const out = {};
    if (hasOwn(options, 'useMasterKey')) out.useMasterKey = !!options.useMasterKey;
    if (hasOwn(options, 'sessionToken') && typeof options.sessionToken === 'string') out.sessionToken = options.sessionToken;
    if (hasOwn(options, 'installationId') && typeof options.installationId === 'string') out.installationId = options.installationId;
    if (hasOwn(options, 'transaction') && typeof options.transaction === 'boolean') out.transaction = options.transaction;
    if (hasOwn(options, 'batchSize') && typeof options.batchSize === 'number') out.batchSize = options.batchSize;
    if (hasOwn(options, 'context') && typeof options.context === 'object') out.context = options.context;
    if (hasOwn(options, 'include')) out.include = includeList(options.include);
    if (hasOwn(options, 'json')) out.json = options.json;
    return out;
  }

  function includeList(include) {
    if (!Array.isArray(include)) return [include];
    return include.reduce((all, key) => all.concat(key), []);
  }

  // The path prefix batch sub-requests carry ("/parse/"), taken from the server URL.
  function serverUrlPath() {
    let url = appInfo.serverURL || '/';
    if (url[url.length - 1] !== '/') url += '/';
    url = url.replace(/https?:\/\//, '');
    return url.substr(url.indexOf('/'));
  }

  // ---------------------------------------------------------------- encode / decode

  function encode(value, disallowObjects, forcePointers, seen) {
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return value;
    if (value instanceof ParseObject) {
      if (disallowObjects) throw new Error('Parse Objects not allowed here');
      const seenEntry = value.id ? value.className + ':' + value.id : value;
      if (forcePointers || !seen || seen.indexOf(seenEntry) > -1 || value.dirty() ||
          Object.keys(value._getServerData()).length < 1) {
        return value.toPointer();
      }
      return value._toFullJSON(seen.concat(seenEntry));
    }
    if (value instanceof Op || value instanceof ParseACL || value instanceof ParseGeoPoint ||
        value instanceof ParsePolygon || value instanceof ParseRelation) {
      return value.toJSON();
    }
    if (value instanceof ParseFile) {
      if (!value.url()) throw new Error('Tried to encode an unsaved file.');
      return value.toJSON();
    }
    if (isDate(value)) {
      if (isNaN(value)) throw new Error('Tried to encode an invalid date.');
      return { __type: 'Date', iso: value.toJSON() };
    }
    if (Object.prototype.toString.call(value) === '[object RegExp]' && typeof value.source === 'string') {
      return value.source;
    }
    if (Array.isArray(value)) return value.map((v) => encode(v, disallowObjects, forcePointers, seen));
    if (value && typeof value === 'object') {
      const output = {};
      for (const k in value) {
        if (hasOwn(value, k) && !isDangerousKey(k)) output[k] = encode(value[k], disallowObjects, forcePointers, seen);
      }
      return output;
    }
    return value;
  }
  const encodeValue = (value, disallowObjects, forcePointers, seen) =>
    value === null || (typeof value !== 'object' && typeof value !== 'function')
      ? value
      : encode(value, !!disallowObjects, !!forcePointers, seen || []);

  function decode(value) {
    if (value === null || typeof value !== 'object' || value instanceof Date) return value;
    if (Array.isArray(value)) return value.map(decode);
    if (typeof value.__op === 'string') return opFromJSON(value);
    if ((value.__type === 'Pointer' || value.__type === 'Object') && value.className) return ParseObject.fromJSON(value);
    if (value.__type === 'Relation') {
      const relation = new ParseRelation(null, null);
      relation.targetClassName = value.className;
      return relation;
    }
    if (value.__type === 'Date') return new Date(value.iso);
    if (value.__type === 'File') return ParseFile.fromJSON(value);
    if (value.__type === 'GeoPoint') return new ParseGeoPoint({ latitude: value.latitude, longitude: value.longitude });
    if (value.__type === 'Polygon') return new ParsePolygon(value.coordinates);
    const copy = {};
    for (const k in value) {
      if (hasOwn(value, k) && !isDangerousKey(k)) copy[k] = decode(value[k]);
    }
    return copy;
  }

  // The SDK's parseDate: ISO-8601 in UTC only, as the server writes it.
  function parseDate(iso) {
    const m = /^([0-9]{1,4})-([0-9]{1,2})-([0-9]{1,2})T([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(.([0-9]+))?Z$/.exec(iso);
    if (!m) return null;
    const n = (i) => parseInt(m[i]) || 0;
    return new Date(Date.UTC(n(1), (parseInt(m[2]) || 1) - 1, n(3), n(4), n(5), n(6), n(8)));
  }

  function arrayContainsObject(array, object) {
    if (array.indexOf(object) > -1) return true;
    return array.some((o) => o instanceof ParseObject && o.className === object.className && o._getId() === object._getId());
  }

  function unique(array) {
    const uniques = [];
    for (const v of array) {
      if (v instanceof ParseObject ? !arrayContainsObject(uniques, v) : uniques.indexOf(v) < 0) uniques.push(v);
    }
    return uniques;
  }

  function escapeHTML(str) {
    const entities = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '/': '&#x2F;', "'": '&#x27;', '"': '&quot;' };
    return str.replace(/[&<>/'"]/g, (c) => entities[c]);
  }

  // ---------------------------------------------------------------- Parse.Op

  function opFromJSON(json) {
    if (!json || !json.__op) return null;
    switch (json.__op) {
      case 'Delete': return new UnsetOp();
      case 'Increment': return new IncrementOp(json.amount);
      case 'Add': return new AddOp(decode(json.objects));
      case 'AddUnique': return new AddUniqueOp(decode(json.objects));
      case 'Remove': return new RemoveOp(decode(json.objects));
      case 'AddRelation': {
        const toAdd = decode(json.objects);
        return Array.isArray(toAdd) ? new RelationOp(toAdd, []) : new RelationOp([], []);
      }
      case 'RemoveRelation': {
        const toRemove = decode(json.objects);
        return Array.isArray(toRemove) ? new RelationOp([], toRemove) : new RelationOp([], []);
      }
      case 'Batch': {
        let toAdd = [];
        let toRemove = [];
        for (const op of json.ops) {
          if (op.__op === 'AddRelation') toAdd = toAdd.concat(decode(op.objects));
          else if (op.__op === 'RemoveRelation') toRemove = toRemove.concat(decode(op.objects));
        }
        return new RelationOp(toAdd, toRemove);
      }
    }
    return null;
  }

  class Op {
    applyTo() {}
    mergeWith() {}
    toJSON() {}
  }

  class SetOp extends Op {
    constructor(value) { super(); this._value = value; }
    applyTo() { return this._value; }
    mergeWith() { return this; } // an op is never changed once made
    toJSON() { return encodeValue(this._value, false, true); }
  }

  class UnsetOp extends Op {
    applyTo() { return undefined; }
    mergeWith() { return new UnsetOp(); }
    toJSON() { return { __op: 'Delete' }; }
  }

  class IncrementOp extends Op {
    constructor(amount) {
      super();
      if (typeof amount !== 'number') throw new TypeError('Increment Op must be initialized with a numeric amount.');
      this._amount = amount;
    }
    applyTo(value) {
      if (typeof value === 'undefined') return this._amount;
      if (typeof value !== 'number') throw new TypeError('Cannot increment a non-numeric value.');
      return this._amount + value;
    }
    mergeWith(previous) {
      if (!previous) return this;
      if (previous instanceof SetOp) return new SetOp(this.applyTo(previous._value));
      if (previous instanceof UnsetOp) return new SetOp(this._amount);
      if (previous instanceof IncrementOp) return new IncrementOp(this.applyTo(previous._amount));
      throw new Error('Cannot merge Increment Op with the previous Op');
    }
    toJSON() { return { __op: 'Increment', amount: this._amount }; }
  }

  class AddOp extends Op {
    constructor(value) { super(); this._value = Array.isArray(value) ? value : [value]; }
    applyTo(value) {
      if (value == null) return this._value;
      if (Array.isArray(value)) return value.concat(this._value);
      throw new Error('Cannot add elements to a non-array value');
    }
    mergeWith(previous) {
      if (!previous) return this;
      if (previous instanceof SetOp) return new SetOp(this.applyTo(previous._value));
      if (previous instanceof UnsetOp) return new SetOp(this._value);
      if (previous instanceof AddOp) return new AddOp(this.applyTo(previous._value));
      throw new Error('Cannot merge Add Op with the previous Op');
    }
    toJSON() { return { __op: 'Add', objects: encodeValue(this._value, false, true) }; }
  }

  class AddUniqueOp extends Op {
    constructor(value) { super(); this._value = unique(Array.isArray(value) ? value : [value]); }
    applyTo(value) {
      if (value == null) return this._value || [];
      if (!Array.isArray(value)) throw new Error('Cannot add elements to a non-array value');
      const toAdd = this._value.filter((v) =>
        v instanceof ParseObject ? !arrayContainsObject(value, v) : value.indexOf(v) < 0);
      return value.concat(toAdd);
    }
    mergeWith(previous) {
      if (!previous) return this;
      if (previous instanceof SetOp) return new SetOp(this.applyTo(previous._value));
      if (previous instanceof UnsetOp) return new SetOp(this._value);
      if (previous instanceof AddUniqueOp) return new AddUniqueOp(this.applyTo(previous._value));
      throw new Error('Cannot merge AddUnique Op with the previous Op');
    }
    toJSON() { return { __op: 'AddUnique', objects: encodeValue(this._value, false, true) }; }
  }

  class RemoveOp extends Op {
    constructor(value) { super(); this._value = unique(Array.isArray(value) ? value : [value]); }
    applyTo(value) {
      if (value == null) return [];
      if (!Array.isArray(value)) throw new Error('Cannot remove elements from a non-array value');
      return value.filter((el) => !this._value.some((r) =>
        el === r || (r instanceof ParseObject && r.id && el instanceof ParseObject && el.id === r.id)));
    }
    mergeWith(previous) {
      if (!previous) return this;
      if (previous instanceof SetOp) return new SetOp(this.applyTo(previous._value));
      if (previous instanceof UnsetOp) return new UnsetOp();
      if (previous instanceof RemoveOp) {
        const uniques = previous._value.concat([]);
        for (const v of this._value) {
          if (v instanceof ParseObject ? !arrayContainsObject(uniques, v) : uniques.indexOf(v) < 0) uniques.push(v);
        }
        return new RemoveOp(uniques);
      }
      throw new Error('Cannot merge Remove Op with the previous Op');
    }
    toJSON() { return { __op: 'Remove', objects: encodeValue(this._value, false, true) }; }
  }

  class RelationOp extends Op {
    constructor(adds, removes) {
      super();
      this._targetClassName = null;
      if (Array.isArray(adds)) this.relationsToAdd = unique(adds.map(this._extractId, this));
      if (Array.isArray(removes)) this.relationsToRemove = unique(removes.map(this._extractId, this));
    }
    _extractId(obj) {
      if (typeof obj === 'string') return obj;
      if (!obj.id) throw new Error('You cannot add or remove an unsaved Parse Object from a relation');
      if (!this._targetClassName) this._targetClassName = obj.className;
      if (this._targetClassName !== obj.className) {
        throw new Error('Tried to create a Relation with 2 different object types: ' + this._targetClassName + ' and ' + obj.className + '.');
      }
      return obj.id;
    }
    applyTo(value, parent, key) {
      if (!value) {
        if (!parent || !key) throw new Error('Cannot apply a RelationOp without either a previous value, or an object and a key');
        const relation = new ParseRelation(parent, key);
        relation.targetClassName = this._targetClassName;
        return relation;
      }
      if (!(value instanceof ParseRelation)) throw new Error('Relation cannot be applied to a non-relation field');
      if (this._targetClassName) {
        if (!value.targetClassName) value.targetClassName = this._targetClassName;
        else if (this._targetClassName !== value.targetClassName) {
          throw new Error('Related object must be a ' + value.targetClassName + ', but a ' + this._targetClassName + ' was passed in.');
        }
      }
      return value;
    }
    mergeWith(previous) {
      if (!previous) return this;
      if (previous instanceof UnsetOp) throw new Error('You cannot modify a relation after deleting it.');
      if (previous instanceof SetOp && previous._value instanceof ParseRelation) return this;
      if (!(previous instanceof RelationOp)) throw new Error('Cannot merge Relation Op with the previous Op');
      if (previous._targetClassName && previous._targetClassName !== this._targetClassName) {
        throw new Error('Related object must be of class ' + previous._targetClassName + ', but ' + (this._targetClassName || 'null') + ' was passed in.');
      }
      const newAdd = previous.relationsToAdd.filter((r) => this.relationsToRemove.indexOf(r) < 0);
      for (const r of this.relationsToAdd) if (newAdd.indexOf(r) < 0) newAdd.push(r);
      const newRemove = previous.relationsToRemove.filter((r) => this.relationsToAdd.indexOf(r) < 0);
      for (const r of this.relationsToRemove) if (newRemove.indexOf(r) < 0) newRemove.push(r);
      const merged = new RelationOp(newAdd, newRemove);
      merged._targetClassName = this._targetClassName;
      return merged;
    }
    toJSON() {
      const pointers = (ids) => ids.map((id) => ({ __type: 'Pointer', className: this._targetClassName, objectId: id }));
      const adds = this.relationsToAdd.length > 0 ? { __op: 'AddRelation', objects: pointers(this.relationsToAdd) } : null;
      const removes = this.relationsToRemove.length > 0 ? { __op: 'RemoveRelation', objects: pointers(this.relationsToRemove) } : null;
      if (adds && removes) return { __op: 'Batch', ops: [adds, removes] };
      return adds || removes || {};
    }
  }

  // ---------------------------------------------------------------- object state

  // One state per object instance (the SDK's UniqueInstanceStateController, used under Node):
  // serverData is what the server last said, pendingOps a stack of unsaved operation layers (a
  // save pushes a new layer so that sets made during the save are kept for the next one), and
  // objectCache the JSON of object-valued fields, to notice in-place mutations.
  const states = new WeakMap();

  function stateOf(obj) {
    let state = states.get(obj);
    if (!state) {
      // dotted: some op was ever set on a dot-notation key ("a.b"), see estimateAttribute.
      state = { serverData: {}, pendingOps: [{}], objectCache: {}, queue: [], existed: false, dotted: false };
      states.set(obj, state);
    }
    return state;
  }

  // Runs save tasks of one object one after another; an idle queue starts the task at once.
  function enqueueTask(obj, task) {
    const queue = stateOf(obj).queue;
    let settle;
    const done = new Promise((resolve, reject) => { settle = { resolve, reject }; });
    const run = (entry) => entry.task().then(
      () => { next(); entry.settle.resolve(); },
      (e) => { next(); entry.settle.reject(e); });
    const next = () => { queue.shift(); if (queue.length) run(queue[0]); };
    queue.push({ task, settle });
    if (queue.length === 1) run(queue[0]);
    return done;
  }

  function estimateAttributes(state, obj) {
    const data = {};
    for (const attr in state.serverData) data[attr] = state.serverData[attr];
    for (const layer of state.pendingOps) {
      for (const attr in layer) {
        if (!hasOwn(layer, attr) || isDangerousKey(attr)) continue;
        const op = layer[attr];
        if (op instanceof RelationOp) { if (obj.id) data[attr] = op.applyTo(data[attr], obj, attr); }
        else if (attr.includes('.')) applyNested(data, attr, op);
        else data[attr] = op.applyTo(data[attr]);
      }
    }
    return data;
  }

  // One attribute of the estimate, as `estimateAttributes(…)[attr]` would give it, without
  // copying the rest: `get` and `has` are what cloud code calls most. Falls back to the whole
  // estimate when a dot-notation op could change the attribute. `has`: whether the estimate
  // holds the key at all.
  function estimateAttribute(state, obj, attr) {
    if (state.dotted || attr.includes('.') || isDangerousKey(attr)) return wholeEstimate(state, obj, attr);
    let has = hasOwn(state.serverData, attr);
    let value = has ? state.serverData[attr] : undefined;
    const layers = state.pendingOps;
    for (let i = 0; i < layers.length; i++) {
      const layer = layers[i];
      if (!hasOwn(layer, attr)) continue;
      const op = layer[attr];
      if (op instanceof RelationOp) {
        if (obj.id) { value = op.applyTo(value, obj, attr); has = true; }
      } else {
        value = op.applyTo(value);
        has = true;
      }
    }
    return { has, value };
  }

  function wholeEstimate(state, obj, attr) {
    const data = estimateAttributes(state, obj);
    return hasOwn(data, attr) ? { has: true, value: data[attr] } : { has: false, value: undefined };
  }

  // Dot-notation ops ("a.b") estimate onto copies of the nested containers.
  function applyNested(data, attr, op) {
    const fields = attr.split('.');
    let target = data;
    for (let i = 0; i < fields.length - 1; i++) {
      const key = fields[i];
      if (!(key in target)) target[key] = isNaN(fields[i + 1]) ? {} : [];
      else target[key] = Array.isArray(target[key]) ? [...target[key]] : { ...target[key] };
      target = target[key];
    }
    const last = fields[fields.length - 1];
    target[last] = op.applyTo(target[last]);
  }

  function nestedSet(obj, key, value) {
    const path = key.split('.');
    for (let i = 0; i < path.length - 1; i++) {
      if (!(path[i] in obj)) obj[path[i]] = isNaN(path[i + 1]) ? {} : [];
      obj = obj[path[i]];
    }
    if (typeof value === 'undefined') delete obj[path[path.length - 1]];
    else obj[path[path.length - 1]] = value;
  }

  function commitServerChanges(state, changes) {
    for (const attr in changes) {
      if (!hasOwn(changes, attr) || isDangerousKey(attr)) continue;
      const val = changes[attr];
      nestedSet(state.serverData, attr, val);
      if (val && typeof val === 'object' && !(val instanceof ParseObject) && !(val instanceof ParseFile) &&
          !(val instanceof ParseRelation)) {
        state.objectCache[attr] = JSON.stringify(encodeValue(val, false, true));
      }
    }
  }

  // Whether any attribute of the estimate may be an object (what _getDirtyObjectAttributes
  // looks at): false when every stored value is a primitive and every pending op sets one or
  // unsets.
  function mayHoldObjects(state) {
    if (state.dotted) return true;
    for (const attr in state.serverData) {
      const v = state.serverData[attr];
      if (v !== null && typeof v === 'object') return true;
    }
    const layers = state.pendingOps;
    for (let i = 0; i < layers.length; i++) {
      for (const attr in layers[i]) {
        const op = layers[i][attr];
        if (op instanceof UnsetOp) continue;
        if (!(op instanceof SetOp) || (op._value !== null && typeof op._value === 'object')) return true;
      }
    }
    return false;
  }

  // A field `set` may store without the general path: a valid key that is not special to
  // Parse (timestamps, id, ACL) nor to JavaScript (__proto__, constructor, prototype).
  const SPECIAL_FIELDS = new Set(['createdAt', 'updatedAt', 'objectId', 'id', 'ACL', ...DANGEROUS_KEYS]);
  // Names found plain are remembered (up to a bound: clients choose them), sparing the regex.
  const plainFields = new Set();
  function isPlainField(key) {
    if (plainFields.has(key)) return true;
    if (SPECIAL_FIELDS.has(key) || key.indexOf('.') >= 0 || !KEY_NAME.test(key)) return false;
    if (plainFields.size >= 1024) plainFields.clear();
    plainFields.add(key);
    return true;
  }
  const isPlainValue = (v) => v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

  // ---------------------------------------------------------------- Parse.Object

  const classMap = Object.create(null);
  let objectCount = 0;
  let localIdCount = 0;

  class ParseObject {
    constructor(className, attributes, options) {
      if (typeof this.initialize === 'function') this.initialize.apply(this, arguments);
      let toSet = null;
      this._objCount = objectCount++;
      if (typeof className === 'string') {
        this.className = className;
        if (attributes && typeof attributes === 'object') toSet = attributes;
      } else if (className && typeof className === 'object') {
        this.className = className.className;
        toSet = {};
        for (const attr in className) if (attr !== 'className') toSet[attr] = className[attr];
        if (attributes && typeof attributes === 'object') options = attributes;
      }
      if (toSet) {
        try {
          this.set(toSet, options);
        } catch (_) {
          throw new Error("Can't create an invalid Parse Object");
        }
      }
    }

    get attributes() {
      return Object.freeze(estimateAttributes(stateOf(this), this));
    }
    get createdAt() { return this._getServerData().createdAt; }
    get updatedAt() { return this._getServerData().updatedAt; }

    _getId() {
      if (typeof this.id === 'string') return this.id;
      if (typeof this._localId === 'string') return this._localId;
      this._localId = 'local' + (++localIdCount); // unique in this runtime, which is all it needs
      return this._localId;
    }
    _getStateIdentifier() { return this; }
    _getServerData() { return stateOf(this).serverData; }
    _clearServerData() {
      const serverData = this._getServerData();
      for (const attr in serverData) delete serverData[attr];
    }
    _getPendingOps() { return stateOf(this).pendingOps; }
    _clearPendingOps(keysToClear) {
      const pending = this._getPendingOps();
      const latest = pending[pending.length - 1];
      for (const key of keysToClear || Object.keys(latest)) delete latest[key];
    }

    // Object-valued attributes whose JSON changed since the server last sent them.
    _getDirtyObjectAttributes() {
      const state = stateOf(this);
      const attributes = estimateAttributes(state, this); // read here only: not frozen
      const cache = state.objectCache;
      const dirty = {};
      for (const attr in attributes) {
        const val = attributes[attr];
        if (!val || typeof val !== 'object' || val instanceof ParseObject || val instanceof ParseFile ||
            val instanceof ParseRelation) continue;
        try {
          if (cache[attr] !== JSON.stringify(encodeValue(val, false, true))) dirty[attr] = val;
        } catch (_) {
          dirty[attr] = val;
        }
      }
      return dirty;
    }

    _toFullJSON(seen) {
      const json = this.toJSON(seen);
      json.__type = 'Object';
      json.className = this.className;
      return json;
    }

    // The REST body of a save: every pending change, ops as {__op}.
    _getSaveJSON() {
      const state = stateOf(this);
      const pending = state.pendingOps;
      const json = {};
      // Only an object-valued attribute can have changed in place.
      if (mayHoldObjects(state)) {
        const dirtyObjects = this._getDirtyObjectAttributes();
        for (const attr in dirtyObjects) {
          const changedByDotNotation = pending.some((layer) => Object.keys(layer).some((f) => f.includes('.') && f.split('.')[0] === attr));
          if (!changedByDotNotation) json[attr] = new SetOp(dirtyObjects[attr]).toJSON();
        }
      }
      for (const attr in pending[0]) json[attr] = pending[0][attr].toJSON();
      return json;
    }

    _getSaveParams() {
      const body = this._getSaveJSON();
      if (this.id) return { method: 'PUT', body, path: 'classes/' + this.className + '/' + this.id };
      return { method: 'POST', body, path: this.className === '_User' ? 'users' : 'classes/' + this.className };
    }

    _finishFetch(serverData) {
      if (!this.id && serverData.objectId) this.id = serverData.objectId;
      const decoded = {};
      for (const attr in serverData) {
        if (attr === 'ACL') decoded[attr] = new ParseACL(serverData[attr]);
        else if (attr !== 'objectId') {
          decoded[attr] = decode(serverData[attr]);
          if (decoded[attr] instanceof ParseRelation) decoded[attr]._ensureParentAndKey(this, attr);
        }
      }
      if (decoded.createdAt && typeof decoded.createdAt === 'string') decoded.createdAt = parseDate(decoded.createdAt);
      if (decoded.updatedAt && typeof decoded.updatedAt === 'string') decoded.updatedAt = parseDate(decoded.updatedAt);
      if (!decoded.updatedAt && decoded.createdAt) decoded.updatedAt = decoded.createdAt;
      commitServerChanges(stateOf(this), decoded);
    }

    _setExisted(existed) { stateOf(this).existed = existed; }

    _migrateId(serverId) {
      if (this._localId && serverId) {
        this.id = serverId;
        delete this._localId;
      }
    }

    // Applies a save's answer: the first pending layer becomes server data, then the response's
    // fields (op results the server echoes, createdAt/updatedAt) override it.
    _handleSaveResponse(response, status) {
      const state = stateOf(this);
      const pending = state.pendingOps.shift();
      if (!state.pendingOps.length) state.pendingOps[0] = {};
      const changes = {};
      for (const attr in pending) {
        if (pending[attr] instanceof RelationOp) changes[attr] = pending[attr].applyTo(undefined, this, attr);
        else if (!(attr in response)) changes[attr] = pending[attr].applyTo(undefined);
      }
      for (const attr in response) {
        if ((attr === 'createdAt' || attr === 'updatedAt') && typeof response[attr] === 'string') {
          changes[attr] = parseDate(response[attr]);
        } else if (attr === 'ACL') {
          changes[attr] = new ParseACL(response[attr]);
        } else if (attr !== 'objectId') {
          const val = decode(response[attr]);
          changes[attr] = val && Object.getPrototypeOf(val) === Object.prototype ? { ...this.attributes[attr], ...val } : val;
          if (changes[attr] instanceof UnsetOp) changes[attr] = undefined;
        }
      }
      if (changes.createdAt && !changes.updatedAt) changes.updatedAt = changes.createdAt;
      this._migrateId(response.objectId);
      if (status !== 201) this._setExisted(true);
      commitServerChanges(state, changes);
    }

    // A failed save puts its layer of operations back under the ones made meanwhile.
    _handleSaveError() {
      const pendingOps = stateOf(this).pendingOps;
      const first = pendingOps.shift();
      if (!pendingOps.length) pendingOps[0] = {};
      const next = pendingOps[0];
      for (const attr in first) {
        if (next[attr] && first[attr]) {
          const merged = next[attr].mergeWith(first[attr]);
          if (merged) next[attr] = merged;
        } else {
          next[attr] = first[attr];
        }
      }
    }

    initialize() {}

    toJSON(seen) {
      const seenEntry = this.id ? this.className + ':' + this.id : this;
      seen = seen || [seenEntry];
      const json = {};
      const attrs = this.attributes;
      for (const attr in attrs) {
        if ((attr === 'createdAt' || attr === 'updatedAt') && attrs[attr].toJSON) json[attr] = attrs[attr].toJSON();
        else json[attr] = encodeValue(attrs[attr], false, false, seen);
      }
      const pending = this._getPendingOps();
      for (const attr in pending[0]) if (attr.indexOf('.') < 0) json[attr] = pending[0][attr].toJSON();
      if (this.id) json.objectId = this.id;
      return json;
    }

    equals(other) {
      if (this === other) return true;
      return other instanceof ParseObject && this.className === other.className && this.id === other.id &&
        typeof this.id !== 'undefined';
    }

    dirty(attr) {
      if (!this.id) return true;
      const pendingOps = this._getPendingOps();
      const dirtyObjects = this._getDirtyObjectAttributes();
      if (attr) return hasOwn(dirtyObjects, attr) || pendingOps.some((layer) => hasOwn(layer, attr));
      return Object.keys(pendingOps[0]).length !== 0 || Object.keys(dirtyObjects).length !== 0;
    }

    dirtyKeys() {
      const keys = {};
      for (const layer of this._getPendingOps()) for (const attr in layer) keys[attr] = true;
      for (const attr in this._getDirtyObjectAttributes()) keys[attr] = true;
      return Object.keys(keys);
    }

    isDataAvailable() { return !!Object.keys(this._getServerData()).length; }

    toPointer() {
      if (!this.id) throw new Error('Cannot create a pointer to an unsaved ParseObject');
      return { __type: 'Pointer', className: this.className, objectId: this.id };
    }

    // Only the object's own attributes: `get('toString')` is undefined, as in the SDK.
    get(attr) {
      if (typeof attr !== 'string') {
        const attributes = this.attributes;
        return hasOwn(attributes, attr) ? attributes[attr] : undefined;
      }
      return estimateAttribute(stateOf(this), this, attr).value;
    }

    relation(attr) {
      const value = this.get(attr);
      if (!value) return new ParseRelation(this, attr);
      if (!(value instanceof ParseRelation)) throw new Error('Called relation() on non-relation field ' + attr);
      value._ensureParentAndKey(this, attr);
      return value;
    }

    escape(attr) {
      let val = this.attributes[attr];
      if (val == null) return '';
      if (typeof val !== 'string') {
        if (typeof val.toString !== 'function') return '';
        val = val.toString();
      }
      return escapeHTML(val);
    }

    has(attr) {
      if (typeof attr !== 'string') {
        const attributes = this.attributes;
        return hasOwn(attributes, attr) && attributes[attr] != null;
      }
      const { has, value } = estimateAttribute(stateOf(this), this, attr);
      return has && value != null;
    }

    set(key, value, options) {
      // Plain values on plain fields, of an object whose class adds no rules (no read-only
      // fields, the base validate): each becomes a SetOp in the latest layer, as below.
      if (options === undefined && this.validate === baseValidate &&
          typeof this.constructor.readOnlyAttributes !== 'function') {
        if (typeof key === 'string') {
          if (isPlainValue(value) && isPlainField(key)) {
            const layers = stateOf(this).pendingOps;
            layers[layers.length - 1][key] = new SetOp(value);
            return this;
          }
        } else if (key && typeof key === 'object' && value === undefined && allPlain(key)) {
          const layers = stateOf(this).pendingOps;
          const last = layers[layers.length - 1];
          for (const k in key) last[k] = new SetOp(key[k]);
          return this;
        }
      }
      let changes = {};
      if (key && typeof key === 'object') {
        changes = key;
        options = value;
      } else if (typeof key === 'string') {
        changes[key] = value;
      } else {
        return this;
      }
      options = options || {};
      const readonly = typeof this.constructor.readOnlyAttributes === 'function' ? this.constructor.readOnlyAttributes() : [];
      const newOps = {};
      for (const k in changes) {
        if (k === 'createdAt' || k === 'updatedAt') continue;
        if (readonly.indexOf(k) > -1) throw new Error('Cannot modify readonly attribute: ' + k);
        const op = this._opFor(k, changes[k], options);
        if (op) newOps[k] = op;
      }
      // The estimate is built only for an op that needs the current value (not a plain set).
      let current;
      const newValues = {};
      for (const attr in newOps) {
        const op = newOps[attr];
        if (op instanceof SetOp) newValues[attr] = op.applyTo();
        else if (op instanceof RelationOp) newValues[attr] = op.applyTo((current ||= this.attributes)[attr], this, attr);
        else if (!(op instanceof UnsetOp)) newValues[attr] = op.applyTo((current ||= this.attributes)[attr]);
      }
      if (!options.ignoreValidation) {
        const validationError = this.validate(newValues);
        if (validationError) throw validationError;
      }
      const state = stateOf(this);
      const last = state.pendingOps[state.pendingOps.length - 1];
      for (const attr in newOps) {
        if (isDangerousKey(attr)) continue;
        if (attr.includes('.')) state.dotted = true;
        const next = newOps[attr].mergeWith(last[attr]);
        if (next) last[attr] = next;
        else delete last[attr];
      }
      return this;
    }

    // The operation one `set` of key k to value v stands for; objectId/id set the id instead.
    _opFor(k, v, options) {
      if (options.unset) return new UnsetOp();
      if (v instanceof Op) return v;
      if (v && typeof v === 'object' && typeof v.__op === 'string') return opFromJSON(v);
      if (k === 'objectId' || k === 'id') {
        if (typeof v === 'string') this.id = v;
        return null;
      }
      if (k === 'ACL' && typeof v === 'object' && !(v instanceof ParseACL)) return new SetOp(new ParseACL(v));
      if (v instanceof ParseRelation) {
        const relation = new ParseRelation(this, k);
        relation.targetClassName = v.targetClassName;
        return new SetOp(relation);
      }
      return new SetOp(v);
    }

    unset(attr, options) {
      options = options || {};
      options.unset = true;
      return this.set(attr, null, options);
    }

    increment(attr, amount) {
      if (typeof amount === 'undefined') amount = 1;
      if (typeof amount !== 'number') throw new Error('Cannot increment by a non-numeric amount.');
      return this.set(attr, new IncrementOp(amount));
    }

    decrement(attr, amount) {
      if (typeof amount === 'undefined') amount = 1;
      if (typeof amount !== 'number') throw new Error('Cannot decrement by a non-numeric amount.');
      return this.set(attr, new IncrementOp(amount * -1));
    }

    add(attr, item) { return this.set(attr, new AddOp([item])); }
    addAll(attr, items) { return this.set(attr, new AddOp(items)); }
    addUnique(attr, item) { return this.set(attr, new AddUniqueOp([item])); }
    addAllUnique(attr, items) { return this.set(attr, new AddUniqueOp(items)); }
    remove(attr, item) { return this.set(attr, new RemoveOp([item])); }
    removeAll(attr, items) { return this.set(attr, new RemoveOp(items)); }

    op(attr) {
      for (const layer of this._getPendingOps()) if (layer[attr]) return layer[attr];
    }

    clone() {
      const clone = new this.constructor(this.className);
      let attributes = this.attributes;
      if (typeof this.constructor.readOnlyAttributes === 'function') {
        const readonly = this.constructor.readOnlyAttributes() || [];
        const copy = {};
        for (const a in attributes) if (readonly.indexOf(a) < 0) copy[a] = attributes[a];
        attributes = copy;
      }
      if (clone.set) clone.set(attributes);
      return clone;
    }

    newInstance() {
      const clone = new this.constructor(this.className);
      clone.id = this.id;
      const from = stateOf(this);
      const to = stateOf(clone);
      Object.assign(to.serverData, from.serverData);
      from.pendingOps.forEach((layer, i) => { to.pendingOps[i] = Object.assign({}, layer); });
      Object.assign(to.objectCache, from.objectCache);
      to.existed = from.existed;
      to.dotted = from.dotted;
      return clone;
    }

    isNew() { return !this.id; }
    existed() { return this.id ? stateOf(this).existed : false; }

    async exists(options) {
      if (!this.id) return false;
      try {
        await new ParseQuery(this.className).get(this.id, options);
        return true;
      } catch (e) {
        if (e.code === ParseError.OBJECT_NOT_FOUND) return false;
        throw e;
      }
    }

    isValid() { return !this.validate(this.attributes); }

    validate(attrs) {
      if (hasOwn(attrs, 'ACL') && !(attrs.ACL instanceof ParseACL)) {
        return new ParseError(ParseError.OTHER_CAUSE, 'ACL must be a Parse ACL.');
      }
      for (const key in attrs) {
        if (!KEY_NAME.test(key)) return new ParseError(ParseError.INVALID_KEY_NAME, `Invalid key name: ${key}`);
      }
      return false;
    }

    getACL() {
      const acl = this.get('ACL');
      return acl instanceof ParseACL ? acl : null;
    }
    setACL(acl, options) { return this.set('ACL', acl, options); }

    revert(...keys) {
      for (const key of keys) {
        if (typeof key !== 'string') throw new Error('Parse.Object#revert expects either no, or a list of string, arguments.');
      }
      this._clearPendingOps(keys.length ? keys : undefined);
    }

    clear() {
      let readonly = ['createdAt', 'updatedAt'];
      if (typeof this.constructor.readOnlyAttributes === 'function') readonly = readonly.concat(this.constructor.readOnlyAttributes());
      const erasable = {};
      for (const attr in this.attributes) if (readonly.indexOf(attr) < 0) erasable[attr] = true;
      return this.set(erasable, { unset: true });
    }

    fetch(options) {
      return fetchObject(this, requestOptions(options));
    }

    fetchWithInclude(keys, options) {
      options = options || {};
      options.include = keys;
      return this.fetch(options);
    }

    async save(arg1, arg2, arg3) {
      let attrs;
      let options;
      if (typeof arg1 === 'object' || typeof arg1 === 'undefined') {
        attrs = arg1;
        if (typeof arg2 === 'object') options = arg2;
      } else {
        attrs = { [arg1]: arg2 };
        options = arg3;
      }
      options = options || {};
      if (attrs) this.set(attrs, options);
      const saveOptions = requestOptions(options);
      const unsaved = options.cascadeSave !== false ? unsavedChildren(this) : null;
      if (unsaved && unsaved.length && options.transaction === true && unsaved.some((el) => el instanceof ParseObject)) {
        const files = unsaved.filter((el) => el instanceof ParseFile);
        const objects = unsaved.filter((el) => !(el instanceof ParseFile)).concat(this);
        if (files.length) await saveAll(files, saveOptions);
        return (await saveAll(objects, saveOptions)).pop();
      }
      if (unsaved) await saveAll(unsaved, saveOptions);
      return saveOne(this, saveOptions);
    }

    destroy(options) {
      if (!this.id) return Promise.resolve(undefined);
      return request('DELETE', 'classes/' + this.className + '/' + this._getId(), {}, requestOptions(options)).then(() => this);
    }

    static _getClassMap() { return classMap; }
    static _getRequestOptions(options) { return requestOptions(options); }

    static fetchAll(list, options) { return fetchAllObjects(list, true, requestOptions(options)); }
    static fetchAllIfNeeded(list, options) { return fetchAllObjects(list, false, requestOptions(options)); }
    static fetchAllWithInclude(list, keys, options) {
      options = options || {};
      options.include = keys;
      return ParseObject.fetchAll(list, options);
    }
    static fetchAllIfNeededWithInclude(list, keys, options) {
      options = options || {};
      options.include = keys;
      return ParseObject.fetchAllIfNeeded(list, options);
    }
    static handleIncludeOptions(options) { return includeList(options.include); }
    static saveAll(list, options) { return saveAll(list, requestOptions(options)); }
    static destroyAll(list, options) { return destroyAll(list, requestOptions(options)); }

    static createWithoutData(id) {
      const obj = new this();
      obj.id = id;
      return obj;
    }

    static fromJSON(json, override, dirty) {
      if (!json.className) throw new Error('Cannot create an object without a className');
      const constructor = classMap[json.className];
      const o = constructor ? new constructor(json.className) : new ParseObject(json.className);
      const otherAttributes = {};
      for (const attr in json) {
        if (attr === 'className' || attr === '__type') continue;
        otherAttributes[attr] = json[attr];
        if (dirty) o.set(attr, json[attr]);
      }
      if (override) {
        if (otherAttributes.objectId) o.id = otherAttributes.objectId;
        const preserved = typeof o._preserveFieldsOnFetch === 'function' ? o._preserveFieldsOnFetch() : null;
        o._clearServerData();
        if (preserved) o._finishFetch(preserved);
      }
      o._finishFetch(otherAttributes);
      if (json.objectId) o._setExisted(true);
      return o;
    }

    static registerSubclass(className, constructor) {
      if (typeof className !== 'string') throw new TypeError('The first argument must be a valid class name.');
      if (typeof constructor === 'undefined') throw new TypeError('You must supply a subclass constructor.');
      if (typeof constructor !== 'function') {
        throw new TypeError('You must register the subclass constructor. Did you attempt to register an instance of the subclass?');
      }
      classMap[className] = constructor;
      if (!constructor.className) constructor.className = className;
    }

    static unregisterSubclass(className) {
      if (typeof className !== 'string') throw new TypeError('The first argument must be a valid class name.');
      delete classMap[className];
    }

    static extend(className, protoProps, classProps) {
      if (typeof className !== 'string') {
        if (className && typeof className.className === 'string') return ParseObject.extend(className.className, className, protoProps);
        throw new Error("Parse.Object.extend's first argument should be the className.");
      }
      const name = className === 'User' ? '_User' : className; // the SDK's PERFORM_USER_REWRITE
      const parentProto = hasOwn(this, '__super__') && this.__super__ ? this.prototype : ParseObject.prototype;
      let Subclass = classMap[name];
      if (!Subclass) {
        Subclass = makeSubclass(name, parentProto);
      }
      defineAll(Subclass.prototype, protoProps, true);
      defineAll(Subclass, classProps, false);
      classMap[name] = Subclass;
      return Subclass;
    }

    // Single-instance mode is a browser concern; cloud code always has one state per instance.
    static enableSingleInstance() {}
    static disableSingleInstance() {}
  }

  const baseValidate = ParseObject.prototype.validate;

  function allPlain(changes) {
    for (const k in changes) if (!isPlainValue(changes[k]) || !isPlainField(k)) return false;
    return true;
  }

  function makeSubclass(className, parentProto) {
    const Subclass = function (attributes, options) {
      this.className = className;
      this._objCount = objectCount++;
      if (typeof this.initialize === 'function') this.initialize.apply(this, arguments);
      if (this._initializers) for (const init of this._initializers) init.apply(this, arguments);
      if (attributes && typeof attributes === 'object') {
        try {
          this.set(attributes || {}, options);
        } catch (_) {
          throw new Error("Can't create an invalid Parse Object");
        }
      }
    };
    Subclass.extend = function (name, protoProps, classProps) {
      if (typeof name === 'string') return ParseObject.extend.call(Subclass, name, protoProps, classProps);
      return ParseObject.extend.call(Subclass, className, name, protoProps);
    };
    Subclass.createWithoutData = ParseObject.createWithoutData;
    Subclass.className = className;
    Subclass.__super__ = parentProto;
    Subclass.prototype = Object.create(parentProto, {
      constructor: { value: Subclass, enumerable: false, writable: true, configurable: true },
    });
    return Subclass;
  }

  // `initialize` accumulates (each extend adds one); everything else is a plain non-enumerable
  // property, and `className` is never copied.
  function defineAll(target, props, isPrototype) {
    if (!props) return;
    for (const prop in props) {
      if (prop === 'className') continue;
      if (isPrototype && prop === 'initialize') {
        Object.defineProperty(target, '_initializers', {
          value: [...(target._initializers || []), props[prop]], enumerable: false, writable: true, configurable: true,
        });
        continue;
      }
      Object.defineProperty(target, prop, { value: props[prop], enumerable: false, writable: true, configurable: true });
    }
  }

  // Unsaved Parse.Objects and Files reachable from obj's attributes (the SDK's unsavedChildren);
  // a dirty object without an id deeper than one level is an error unless allowDeepUnsaved.
  function unsavedChildren(obj, allowDeepUnsaved) {
    const encountered = { objects: {}, files: [] };
    const identifier = obj.className + ':' + obj._getId();
    encountered.objects[identifier] = obj.dirty() ? obj : true;
    const attributes = obj.attributes;
    for (const attr in attributes) {
      if (typeof attributes[attr] === 'object') traverse(attributes[attr], encountered, false, !!allowDeepUnsaved);
    }
    const unsaved = [];
    for (const id in encountered.objects) {
      if (id !== identifier && encountered.objects[id] !== true) unsaved.push(encountered.objects[id]);
    }
    return unsaved.concat(encountered.files);
  }

  function traverse(obj, encountered, shouldThrow, allowDeepUnsaved) {
    if (obj instanceof ParseObject) {
      if (!obj.id && shouldThrow) throw new Error('Cannot create a pointer to an unsaved Object.');
      const identifier = obj.className + ':' + obj._getId();
      if (!encountered.objects[identifier]) {
        encountered.objects[identifier] = obj.dirty() ? obj : true;
        const attributes = obj.attributes;
        for (const attr in attributes) {
          if (typeof attributes[attr] === 'object') traverse(attributes[attr], encountered, !allowDeepUnsaved, allowDeepUnsaved);
        }
      }
      return;
    }
    if (obj instanceof ParseFile) {
      if (!obj.url() && encountered.files.indexOf(obj) < 0) encountered.files.push(obj);
      return;
    }
    if (obj instanceof ParseRelation) return;
    if (Array.isArray(obj)) {
      for (const el of obj) if (typeof el === 'object') traverse(el, encountered, shouldThrow, allowDeepUnsaved);
    }
    for (const k in obj) if (typeof obj[k] === 'object') traverse(obj[k], encountered, shouldThrow, allowDeepUnsaved);
  }

  function canBeSerialized(obj) {
    if (!(obj instanceof ParseObject)) return true;
    const attributes = obj.attributes;
    for (const attr in attributes) if (!serializable(attributes[attr])) return false;
    return true;
  }

  function serializable(value) {
    if (typeof value !== 'object' || value instanceof ParseRelation) return true;
    if (value instanceof ParseObject) return !!value.id;
    if (value instanceof ParseFile) return !!value.url();
    if (Array.isArray(value)) return value.every(serializable);
    for (const k in value) if (!serializable(value[k])) return false;
    return true;
  }

  // ---------------------------------------------------------------- the object controller

  async function fetchObject(target, options) {
    if (!target.id) throw new ParseError(ParseError.MISSING_OBJECT_ID, 'Object does not have an ID');
    const params = {};
    if (options.include) params.include = options.include.join();
    const response = await request('GET', 'classes/' + target.className + '/' + target._getId(), params, options);
    target._clearPendingOps();
    target._clearServerData();
    target._finishFetch(response);
    return target;
  }

  async function fetchAllObjects(list, forceFetch, options) {
    if (list.length < 1) return [];
    let className = null;
    const ids = [];
    const toFetch = [];
    for (const el of list) {
      if (!className) className = el.className;
      if (className !== el.className) throw new ParseError(ParseError.INVALID_CLASS_NAME, 'All objects should be of the same class');
      if (!el.id) throw new ParseError(ParseError.MISSING_OBJECT_ID, 'All objects must have an ID');
      if (forceFetch || !el.isDataAvailable()) {
        ids.push(el.id);
        toFetch.push(el);
      }
    }
    const query = new ParseQuery(className);
    query.containedIn('objectId', ids);
    if (options.include) query.include(options.include);
    query._limit = ids.length;
    const found = await query.find(options);
    const byId = {};
    for (const o of found) byId[o.id] = o;
    if (forceFetch && toFetch.some((o) => !byId[o.id])) {
      throw new ParseError(ParseError.OBJECT_NOT_FOUND, 'All objects must exist on the server.');
    }
    // Under Node the SDK refreshes each given instance and returns the fetched ones in its place.
    return list.map((obj) => {
      if (!obj.id || !byId[obj.id]) return obj;
      obj._finishFetch(byId[obj.id].toJSON());
      return byId[obj.id];
    });
  }

  function saveOne(target, options) {
    target._getId();
    stateOf(target).pendingOps.push({});
    return enqueueTask(target, async () => {
      const params = target._getSaveParams();
      let response;
      try {
        response = await request(params.method, params.path, params.body, Object.assign({}, options, { returnStatus: true }));
      } catch (error) {
        target._handleSaveError();
        throw error;
      }
      const status = response._status;
      delete response._status;
      delete response._headers;
      target._handleSaveResponse(response, status);
    }).then(() => target);
  }

  // saveAll: files first, then objects in batches of REQUEST_BATCH_SIZE, each batch holding only
  // objects whose pointers can already be serialized (so children are saved before parents).
  async function saveAll(target, options) {
    if (!Array.isArray(target)) return target == null ? undefined : saveOne(target, options);
    if (options.batchSize && options.transaction) {
      throw new ParseError(ParseError.OTHER_CAUSE, 'You cannot use both transaction and batchSize options simultaneously.');
    }
    if (target.length < 1) return [];
    let batchSize = options.batchSize || REQUEST_BATCH_SIZE;
    let all = target.concat();
    for (const t of target) if (t instanceof ParseObject) all = all.concat(unsavedChildren(t, true));
    all = unique(all);
    await Promise.all(all.filter((el) => el instanceof ParseFile).map((f) => f.save(options)));
    let pending = all.filter((el) => el instanceof ParseObject);
    if (options.transaction && pending.length > 1) {
      if (pending.some((el) => !canBeSerialized(el))) {
        throw new ParseError(ParseError.OTHER_CAUSE, 'Tried to save a transactional batch containing an object with unserializable attributes.');
      }
      batchSize = pending.length;
    }
    let objectError = null;
    while (pending.length > 0) {
      const batch = [];
      const nextPending = [];
      for (const el of pending) {
        if (batch.length < batchSize && canBeSerialized(el)) batch.push(el);
        else nextPending.push(el);
      }
      pending = nextPending;
      if (batch.length < 1) throw new ParseError(ParseError.OTHER_CAUSE, 'Tried to save a batch with a cycle.');
      const error = await saveBatch(batch, options);
      if (error) {
        objectError = objectError || error;
        pending = [];
      }
    }
    if (objectError) throw objectError;
    return target;
  }

  // One POST batch; answers the first per-object error, if any.
  async function saveBatch(batch, options) {
    const wasNew = batch.map((obj) => !obj.id);
    for (const obj of batch) stateOf(obj).pendingOps.push({});
    const requests = batch.map((obj) => {
      const params = obj._getSaveParams();
      params.path = serverUrlPath() + params.path;
      return params;
    });
    const body = options.transaction && requests.length > 1 ? { requests, transaction: true } : { requests };
    let responses;
    try {
      responses = await request('POST', 'batch', body, options);
    } catch (error) {
      batch.forEach((obj) => obj._handleSaveError());
      throw new ParseError(ParseError.INCORRECT_TYPE, error.message);
    }
    let firstError = null;
    batch.forEach((obj, i) => {
      const answer = responses[i] || {};
      if (hasOwn(answer, 'success')) {
        // Parse Server's direct access reports each sub-request's status; 201 marks a create.
        obj._handleSaveResponse(answer.success, answer._status || (wasNew[i] ? 201 : 200));
      } else {
        if (!firstError && hasOwn(answer, 'error')) firstError = new ParseError(answer.error.code, answer.error.error);
        obj._handleSaveError();
      }
    });
    return firstError;
  }

  async function destroyAll(target, options) {
    if (options.batchSize && options.transaction) {
      throw new ParseError(ParseError.OTHER_CAUSE, 'You cannot use both transaction and batchSize options simultaneously.');
    }
    if (!Array.isArray(target)) return target instanceof ParseObject ? target.destroy(options) : target;
    if (target.length < 1) return [];
    let batchSize = options.batchSize || REQUEST_BATCH_SIZE;
    if (options.transaction && target.length > 1) batchSize = target.length;
    const withIds = target.filter((obj) => obj.id);
    const errors = [];
    for (let i = 0; i < withIds.length; i += batchSize) {
      const batch = withIds.slice(i, i + batchSize);
      const requests = batch.map((obj) => ({
        method: 'DELETE', path: serverUrlPath() + 'classes/' + obj.className + '/' + obj._getId(), body: {},
      }));
      const body = options.transaction && requests.length > 1 ? { requests, transaction: true } : { requests };
      const results = await request('POST', 'batch', body, options);
      results.forEach((result, j) => {
        if (result && hasOwn(result, 'error')) {
          const err = new ParseError(result.error.code, result.error.error);
          err.object = batch[j];
          errors.push(err);
        }
      });
    }
    if (errors.length) {
      const aggregate = new ParseError(ParseError.AGGREGATE_ERROR);
      aggregate.errors = errors;
      throw aggregate;
    }
    return target;
  }

  // ---------------------------------------------------------------- Parse.Query

  const quote = (s) => '\\Q' + s.replace('\\E', '\\E\\\\E\\Q') + '\\E';

  function classNameOfQueries(queries) {
    let className = null;
    for (const q of queries) {
      if (!className) className = q.className;
      if (className !== q.className) throw new Error('All queries must be for the same class.');
    }
    return className;
  }

  const QUERY_JSON_KEYS = ['where', 'include', 'keys', 'count', 'limit', 'skip', 'order', 'readPreference',
    'includeReadPreference', 'subqueryReadPreference', 'hint', 'explain', 'comment'];

  class ParseQuery {
    constructor(objectClass) {
      if (typeof objectClass === 'string') {
        this.className = objectClass === 'User' ? '_User' : objectClass;
      } else if (objectClass instanceof ParseObject) {
        this.className = objectClass.className;
      } else if (typeof objectClass === 'function') {
        this.className = typeof objectClass.className === 'string' ? objectClass.className : new objectClass().className;
      } else {
        throw new TypeError('A ParseQuery must be constructed with a ParseObject or class name.');
      }
      this._where = {};
      this._watch = [];
      this._include = [];
      this._exclude = [];
      this._count = false;
      this._limit = -1; // a negative limit is not sent
      this._skip = 0;
      this._readPreference = null;
      this._includeReadPreference = null;
      this._subqueryReadPreference = null;
      this._extraOptions = {};
      this._comment = null;
    }

    _combine(operator, queries) {
      this._where[operator] = queries.map((q) => q.toJSON().where);
      return this;
    }
    _orQuery(queries) { return this._combine('$or', queries); }
    _andQuery(queries) { return this._combine('$and', queries); }
    _norQuery(queries) { return this._combine('$nor', queries); }

    _addCondition(key, condition, value) {
      if (!this._where[key] || typeof this._where[key] === 'string') this._where[key] = {};
      this._where[key][condition] = encodeValue(value, false, true);
      return this;
    }

    _regexStartWith(string) { return '^' + quote(string); }

    toJSON() {
      const params = { where: this._where };
      if (this._watch.length) params.watch = this._watch.join(',');
      if (this._include.length) params.include = this._include.join(',');
      if (this._exclude.length) params.excludeKeys = this._exclude.join(',');
      if (this._select) params.keys = this._select.join(',');
      if (this._count) params.count = 1;
      if (this._limit >= 0) params.limit = this._limit;
      if (this._skip > 0) params.skip = this._skip;
      if (this._order) params.order = this._order.join(',');
      if (this._readPreference) params.readPreference = this._readPreference;
      if (this._includeReadPreference) params.includeReadPreference = this._includeReadPreference;
      if (this._subqueryReadPreference) params.subqueryReadPreference = this._subqueryReadPreference;
      if (this._hint) params.hint = this._hint;
      if (this._explain) params.explain = true;
      if (this._comment) params.comment = this._comment;
      for (const key in this._extraOptions) params[key] = this._extraOptions[key];
      return params;
    }

    withJSON(json) {
      if (json.where) this._where = json.where;
      if (json.watch) this._watch = json.watch.split(',');
      if (json.include) this._include = json.include.split(',');
      if (json.keys) this._select = json.keys.split(',');
      if (json.excludeKeys) this._exclude = json.excludeKeys.split(',');
      if (json.count) this._count = json.count === 1;
      if (json.limit) this._limit = json.limit;
      if (json.skip) this._skip = json.skip;
      if (json.order) this._order = json.order.split(',');
      if (json.readPreference) this._readPreference = json.readPreference;
      if (json.includeReadPreference) this._includeReadPreference = json.includeReadPreference;
      if (json.subqueryReadPreference) this._subqueryReadPreference = json.subqueryReadPreference;
      if (json.hint) this._hint = json.hint;
      if (json.explain) this._explain = !!json.explain;
      if (json.comment) this._comment = json.comment;
      for (const key in json) {
        if (hasOwn(json, key) && QUERY_JSON_KEYS.indexOf(key) === -1) this._extraOptions[key] = json[key];
      }
      return this;
    }

    static fromJSON(className, json) { return new ParseQuery(className).withJSON(json); }

    get(objectId, options) {
      this.equalTo('objectId', objectId);
      return this.first(requestOptions(options)).then((response) => {
        if (response) return response;
        throw new ParseError(ParseError.OBJECT_NOT_FOUND, 'Object not found.');
      });
    }

    async find(options) {
      const findOptions = requestOptions(options);
      const response = await request('GET', 'classes/' + this.className, this.toJSON(), findOptions);
      if (this._explain) return response.results;
      const results = response.results && response.results.map((data) => this._decodeResult(data, response.className, findOptions));
      return typeof response.count === 'number' ? { results, count: response.count } : results;
    }

    _decodeResult(data, responseClassName, findOptions) {
      if (!data.className) data.className = responseClassName || this.className;
      return findOptions.json ? data : ParseObject.fromJSON(data, !this._select);
    }

    async findAll(options) {
      let result = [];
      await this.eachBatch((objects) => { result = [...result, ...objects]; }, options);
      return result;
    }

    async count(options) {
      const params = this.toJSON();
      params.limit = 0;
      params.count = 1;
      const result = await request('GET', 'classes/' + this.className, params, requestOptions(options || {}));
      return result.count;
    }

    // The SDK always sends distinct with the master key (the endpoint requires it).
    async distinct(key) {
      const params = { distinct: key, where: this._where, hint: this._hint };
      return (await request('GET', 'aggregate/' + this.className, params, { useMasterKey: true })).results;
    }

    // As the SDK: the master key unless the caller says useMasterKey: false.
    async aggregate(pipeline, options) {
      if (!Array.isArray(pipeline) && typeof pipeline !== 'object') throw new Error('Invalid pipeline must be Array or Object');
      if (Object.keys(this._where || {}).length) {
        if (!Array.isArray(pipeline)) pipeline = [pipeline];
        pipeline.unshift({ $match: this._where });
      }
      const params = { pipeline, hint: this._hint, explain: this._explain, readPreference: this._readPreference };
      if (options && options.rawValues !== undefined) params.rawValues = options.rawValues;
      if (options && options.rawFieldNames !== undefined) params.rawFieldNames = options.rawFieldNames;
      const aggregateOptions = requestOptions(options);
      if (aggregateOptions.useMasterKey === undefined) aggregateOptions.useMasterKey = true;
      return (await request('GET', 'aggregate/' + this.className, params, aggregateOptions)).results;
    }

    async first(options = {}) {
      const findOptions = requestOptions(options);
      const params = this.toJSON();
      params.limit = 1;
      const response = await request('GET', 'classes/' + this.className, params, findOptions);
      const objects = response.results;
      if (!objects[0]) return undefined;
      return this._decodeResult(objects[0], null, findOptions);
    }

    // Pages through the results ordered by objectId, calling back with each page while the
    // next page is being fetched (as the SDK does).
    eachBatch(callback, options) {
      options = options || {};
      if (this._order || this._skip || this._limit >= 0) {
        return Promise.reject('Cannot iterate on a query with sort, skip, or limit.');
      }
      const query = ParseQuery.fromJSON(this.className, this.toJSON());
      query.ascending('objectId');
      query._limit = options.batchSize || 100;
      const findOptions = requestOptions(options);
      return (async () => {
        let previous = [];
        for (;;) {
          const [results] = await Promise.all([query.find(findOptions), Promise.resolve(previous.length > 0 && callback(previous))]);
          if (results.length >= query._limit) {
            const last = results[results.length - 1];
            query.greaterThan('objectId', findOptions.json ? last.objectId : last.id);
            previous = results;
          } else {
            if (results.length > 0) await Promise.resolve(callback(results));
            return;
          }
        }
      })();
    }

    each(callback, options) {
      return this.eachBatch((results) => {
        let done = Promise.resolve();
        for (const result of results) done = done.then(() => callback(result));
        return done;
      }, options);
    }

    async map(callback, options) {
      const array = [];
      let index = 0;
      await this.each((object) => Promise.resolve(callback(object, index, this)).then((result) => {
        array.push(result);
        index += 1;
      }), options);
      return array;
    }

    async reduce(callback, initialValue, options) {
      let accumulator = initialValue;
      let index = 0;
      await this.each((object) => {
        if (index === 0 && initialValue === undefined) {
          accumulator = object;
          index += 1;
          return;
        }
        return Promise.resolve(callback(accumulator, object, index)).then((result) => {
          accumulator = result;
          index += 1;
        });
      }, options);
      if (index === 0 && initialValue === undefined) throw new TypeError('Reducing empty query result set with no initial value');
      return accumulator;
    }

    async filter(callback, options) {
      const array = [];
      let index = 0;
      await this.each((object) => Promise.resolve(callback(object, index, this)).then((flag) => {
        if (flag) array.push(object);
        index += 1;
      }), options);
      return array;
    }

    hint(value) {
      this._hint = value;
      return this;
    }

    explain(explain = true) {
      if (typeof explain !== 'boolean') throw new Error('You can only set explain to a boolean value');
      this._explain = explain;
      return this;
    }

    equalTo(key, value) {
      if (key && typeof key === 'object') {
        Object.entries(key).forEach(([k, v]) => this.equalTo(k, v));
        return this;
      }
      if (typeof value === 'undefined') return this.doesNotExist(key);
      this._where[key] = encodeValue(value, false, true);
      return this;
    }

    notEqualTo(key, value) {
      if (key && typeof key === 'object') {
        Object.entries(key).forEach(([k, v]) => this.notEqualTo(k, v));
        return this;
      }
      return this._addCondition(key, '$ne', value);
    }

    lessThan(key, value) { return this._addCondition(key, '$lt', value); }
    greaterThan(key, value) { return this._addCondition(key, '$gt', value); }
    lessThanOrEqualTo(key, value) { return this._addCondition(key, '$lte', value); }
    greaterThanOrEqualTo(key, value) { return this._addCondition(key, '$gte', value); }
    containedIn(key, values) { return this._addCondition(key, '$in', values); }
    notContainedIn(key, values) { return this._addCondition(key, '$nin', values); }
    containedBy(key, values) { return this._addCondition(key, '$containedBy', values); }
    containsAll(key, values) { return this._addCondition(key, '$all', values); }

    containsAllStartingWith(key, values) {
      if (!Array.isArray(values)) values = [values];
      return this.containsAll(key, values.map((value) => ({ $regex: this._regexStartWith(value) })));
    }

    exists(key) { return this._addCondition(key, '$exists', true); }
    doesNotExist(key) { return this._addCondition(key, '$exists', false); }

    matches(key, regex, modifiers) {
      this._addCondition(key, '$regex', regex);
      if (!modifiers) modifiers = '';
      if (typeof regex !== 'string') {
        if (regex.ignoreCase) modifiers += 'i';
        if (regex.multiline) modifiers += 'm';
      }
      if (modifiers.length) this._addCondition(key, '$options', modifiers);
      return this;
    }

    _subquery(query) {
      const json = query.toJSON();
      json.className = query.className;
      return json;
    }
    matchesQuery(key, query) { return this._addCondition(key, '$inQuery', this._subquery(query)); }
    doesNotMatchQuery(key, query) { return this._addCondition(key, '$notInQuery', this._subquery(query)); }
    matchesKeyInQuery(key, queryKey, query) {
      return this._addCondition(key, '$select', { key: queryKey, query: this._subquery(query) });
    }
    doesNotMatchKeyInQuery(key, queryKey, query) {
      return this._addCondition(key, '$dontSelect', { key: queryKey, query: this._subquery(query) });
    }

    contains(key, substring) {
      if (typeof substring !== 'string') throw new Error('The value being searched for must be a string.');
      return this._addCondition(key, '$regex', quote(substring));
    }

    fullText(key, value, options) {
      options = options || {};
      if (!key) throw new Error('A key is required.');
      if (!value) throw new Error('A search term is required');
      if (typeof value !== 'string') throw new Error('The value being searched for must be a string.');
      const search = { $term: value };
      const names = { language: '$language', caseSensitive: '$caseSensitive', diacriticSensitive: '$diacriticSensitive' };
      for (const option in options) {
        if (!names[option]) throw new Error(`Unknown option: ${option}`);
        search[names[option]] = options[option];
      }
      return this._addCondition(key, '$text', { $search: search });
    }

    sortByTextScore() {
      this.ascending('$score');
      this.select(['$score']);
      return this;
    }

    startsWith(key, prefix, modifiers) {
      if (typeof prefix !== 'string') throw new Error('The value being searched for must be a string.');
      return this.matches(key, this._regexStartWith(prefix), modifiers);
    }

    endsWith(key, suffix, modifiers) {
      if (typeof suffix !== 'string') throw new Error('The value being searched for must be a string.');
      return this.matches(key, quote(suffix) + '$', modifiers);
    }

    near(key, point) {
      if (!(point instanceof ParseGeoPoint)) point = new ParseGeoPoint(point);
      return this._addCondition(key, '$nearSphere', point);
    }

    withinRadians(key, point, maxDistance, sorted) {
      if (sorted || sorted === undefined) {
        this.near(key, point);
        return this._addCondition(key, '$maxDistance', maxDistance);
      }
      return this._addCondition(key, '$geoWithin', { $centerSphere: [[point.longitude, point.latitude], maxDistance] });
    }
    withinMiles(key, point, maxDistance, sorted) { return this.withinRadians(key, point, maxDistance / 3958.8, sorted); }
    withinKilometers(key, point, maxDistance, sorted) { return this.withinRadians(key, point, maxDistance / 6371.0, sorted); }

    withinGeoBox(key, southwest, northeast) {
      if (!(southwest instanceof ParseGeoPoint)) southwest = new ParseGeoPoint(southwest);
      if (!(northeast instanceof ParseGeoPoint)) northeast = new ParseGeoPoint(northeast);
      return this._addCondition(key, '$within', { $box: [southwest, northeast] });
    }
    withinPolygon(key, points) { return this._addCondition(key, '$geoWithin', { $polygon: points }); }
    polygonContains(key, point) { return this._addCondition(key, '$geoIntersects', { $point: point }); }

    _addOrder(keys, prefix) {
      if (!this._order) this._order = [];
      for (let key of keys) {
        if (Array.isArray(key)) key = key.join();
        this._order = this._order.concat(key.replace(/\s/g, '').split(',').map((k) => prefix + k));
      }
      return this;
    }
    ascending(...keys) { this._order = []; return this._addOrder(keys, ''); }
    addAscending(...keys) { return this._addOrder(keys, ''); }
    descending(...keys) { this._order = []; return this._addOrder(keys, '-'); }
    addDescending(...keys) { return this._addOrder(keys, '-'); }

    skip(n) {
      if (typeof n !== 'number' || n < 0) throw new Error('You can only skip by a positive number');
      this._skip = n;
      return this;
    }

    limit(n) {
      if (typeof n !== 'number') throw new Error('You can only set the limit to a numeric value');
      this._limit = n;
      return this;
    }

    withCount(includeCount = true) {
      if (typeof includeCount !== 'boolean') throw new Error('You can only set withCount to a boolean value');
      this._count = includeCount;
      return this;
    }

    _appendKeys(field, keys) {
      for (const key of keys) this[field] = Array.isArray(key) ? this[field].concat(key) : this[field].concat([key]);
      return this;
    }
    include(...keys) { return this._appendKeys('_include', keys); }
    includeAll() { return this.include('*'); }
    select(...keys) {
      if (!this._select) this._select = [];
      return this._appendKeys('_select', keys);
    }
    exclude(...keys) { return this._appendKeys('_exclude', keys); }
    watch(...keys) { return this._appendKeys('_watch', keys); }

    readPreference(readPreference, includeReadPreference, subqueryReadPreference) {
      this._readPreference = readPreference;
      this._includeReadPreference = includeReadPreference || null;
      this._subqueryReadPreference = subqueryReadPreference || null;
      return this;
    }

    comment(value) {
      if (value == null) {
        delete this._comment;
        return this;
      }
      if (typeof value !== 'string') throw new Error('The value of a comment to be sent with this query must be a string.');
      this._comment = value;
      return this;
    }

    // There is no network request to abort in-process.
    cancel() { return this; }

    static or(...queries) { return new ParseQuery(classNameOfQueries(queries))._orQuery(queries); }
    static and(...queries) { return new ParseQuery(classNameOfQueries(queries))._andQuery(queries); }
    static nor(...queries) { return new ParseQuery(classNameOfQueries(queries))._norQuery(queries); }
  }

  // ---------------------------------------------------------------- Parse.ACL

  const PUBLIC_KEY = '*';

  function roleKey(role) {
    if (role instanceof ParseRole) role = role.getName();
    if (typeof role !== 'string') throw new TypeError('role must be a ParseRole or a String');
    return 'role:' + role;
  }

  class ParseACL {
    constructor(arg1) {
      this.permissionsById = {};
      if (arg1 && typeof arg1 === 'object') {
        if (arg1 instanceof ParseUser) {
          this.setReadAccess(arg1, true);
          this.setWriteAccess(arg1, true);
          return;
        }
        for (const userId in arg1) {
          const accessList = arg1[userId];
          this.permissionsById[userId] = {};
          for (const permission in accessList) {
            const allowed = accessList[permission];
            if (permission !== 'read' && permission !== 'write') throw new TypeError('Tried to create an ACL with an invalid permission type.');
            if (typeof allowed !== 'boolean') throw new TypeError('Tried to create an ACL with an invalid permission value.');
            this.permissionsById[userId][permission] = allowed;
          }
        }
      } else if (typeof arg1 === 'function') {
        throw new TypeError('ParseACL constructed with a function. Did you forget ()?');
      }
    }

    toJSON() { return Object.assign({}, this.permissionsById); }

    equals(other) {
      if (!(other instanceof ParseACL)) return false;
      const users = Object.keys(this.permissionsById);
      if (users.length !== Object.keys(other.permissionsById).length) return false;
      return users.every((u) => other.permissionsById[u] &&
        this.permissionsById[u].read === other.permissionsById[u].read &&
        this.permissionsById[u].write === other.permissionsById[u].write);
    }

    _setAccess(accessType, userId, allowed) {
      if (userId instanceof ParseUser) {
        userId = userId.id;
      } else if (userId instanceof ParseRole) {
        const name = userId.getName();
        if (!name) throw new TypeError('Role must have a name');
        userId = 'role:' + name;
      }
      if (typeof userId !== 'string') throw new TypeError('userId must be a string.');
      if (typeof allowed !== 'boolean') throw new TypeError('allowed must be either true or false.');
      let permissions = this.permissionsById[userId];
      if (!permissions) {
        if (!allowed) return;
        permissions = this.permissionsById[userId] = {};
      }
      if (allowed) {
        permissions[accessType] = true;
      } else {
        delete permissions[accessType];
        if (Object.keys(permissions).length === 0) delete this.permissionsById[userId];
      }
    }

    _getAccess(accessType, userId) {
      if (userId instanceof ParseUser) {
        userId = userId.id;
        if (!userId) throw new Error('Cannot get access for a ParseUser without an ID');
      } else if (userId instanceof ParseRole) {
        const name = userId.getName();
        if (!name) throw new TypeError('Role must have a name');
        userId = 'role:' + name;
      }
      const permissions = this.permissionsById[userId];
      return !!(permissions && permissions[accessType]);
    }

    setReadAccess(userId, allowed) { this._setAccess('read', userId, allowed); }
    getReadAccess(userId) { return this._getAccess('read', userId); }
    setWriteAccess(userId, allowed) { this._setAccess('write', userId, allowed); }
    getWriteAccess(userId) { return this._getAccess('write', userId); }
    setPublicReadAccess(allowed) { this.setReadAccess(PUBLIC_KEY, allowed); }
    getPublicReadAccess() { return this.getReadAccess(PUBLIC_KEY); }
    setPublicWriteAccess(allowed) { this.setWriteAccess(PUBLIC_KEY, allowed); }
    getPublicWriteAccess() { return this.getWriteAccess(PUBLIC_KEY); }
    getRoleReadAccess(role) { return this.getReadAccess(roleKey(role)); }
    getRoleWriteAccess(role) { return this.getWriteAccess(roleKey(role)); }
    setRoleReadAccess(role, allowed) { this.setReadAccess(roleKey(role), allowed); }
    setRoleWriteAccess(role, allowed) { this.setWriteAccess(roleKey(role), allowed); }
  }

  // ---------------------------------------------------------------- Parse.GeoPoint / Parse.Polygon

  class ParseGeoPoint {
    constructor(arg1, arg2) {
      if (Array.isArray(arg1)) {
        ParseGeoPoint._validate(arg1[0], arg1[1]);
        this._latitude = arg1[0];
        this._longitude = arg1[1];
      } else if (typeof arg1 === 'object') {
        ParseGeoPoint._validate(arg1.latitude, arg1.longitude);
        this._latitude = arg1.latitude;
        this._longitude = arg1.longitude;
      } else if (arg1 !== undefined && arg2 !== undefined) {
        ParseGeoPoint._validate(arg1, arg2);
        this._latitude = arg1;
        this._longitude = arg2;
      } else {
        this._latitude = 0;
        this._longitude = 0;
      }
    }
    get latitude() { return this._latitude; }
    set latitude(val) { ParseGeoPoint._validate(val, this.longitude); this._latitude = val; }
    get longitude() { return this._longitude; }
    set longitude(val) { ParseGeoPoint._validate(this.latitude, val); this._longitude = val; }

    toJSON() {
      ParseGeoPoint._validate(this._latitude, this._longitude);
      return { __type: 'GeoPoint', latitude: this._latitude, longitude: this._longitude };
    }
    equals(other) {
      return other instanceof ParseGeoPoint && this.latitude === other.latitude && this.longitude === other.longitude;
    }

    // Haversine distance on the unit sphere.
    radiansTo(point) {
      const d2r = Math.PI / 180.0;
      const lat1 = this.latitude * d2r;
      const lat2 = point.latitude * d2r;
      const sinDLat = Math.sin((lat1 - lat2) / 2);
      const sinDLong = Math.sin((this.longitude * d2r - point.longitude * d2r) / 2);
      const a = Math.min(1.0, sinDLat * sinDLat + Math.cos(lat1) * Math.cos(lat2) * sinDLong * sinDLong);
      return 2 * Math.asin(Math.sqrt(a));
    }
    kilometersTo(point) { return this.radiansTo(point) * 6371.0; }
    milesTo(point) { return this.radiansTo(point) * 3958.8; }

    static _validate(latitude, longitude) {
      if (isNaN(latitude) || isNaN(longitude) || typeof latitude !== 'number' || typeof longitude !== 'number') {
        throw new TypeError('GeoPoint latitude and longitude must be valid numbers');
      }
      if (latitude < -90.0) throw new TypeError('GeoPoint latitude out of bounds: ' + latitude + ' < -90.0.');
      if (latitude > 90.0) throw new TypeError('GeoPoint latitude out of bounds: ' + latitude + ' > 90.0.');
      if (longitude < -180.0) throw new TypeError('GeoPoint longitude out of bounds: ' + longitude + ' < -180.0.');
      if (longitude > 180.0) throw new TypeError('GeoPoint longitude out of bounds: ' + longitude + ' > 180.0.');
    }
  }

  class ParsePolygon {
    constructor(coordinates) { this._coordinates = ParsePolygon._validate(coordinates); }
    get coordinates() { return this._coordinates; }
    set coordinates(coords) { this._coordinates = ParsePolygon._validate(coords); }

    toJSON() {
      ParsePolygon._validate(this._coordinates);
      return { __type: 'Polygon', coordinates: this._coordinates };
    }

    // As the SDK, the first point is not compared.
    equals(other) {
      if (!(other instanceof ParsePolygon) || this.coordinates.length !== other.coordinates.length) return false;
      for (let i = 1; i < this._coordinates.length; i += 1) {
        if (this._coordinates[i][0] != other.coordinates[i][0] || this._coordinates[i][1] != other.coordinates[i][1]) return false;
      }
      return true;
    }

    // Bounding box, then ray casting.
    containsPoint(point) {
      const xs = this._coordinates.map((p) => p[0]);
      const ys = this._coordinates.map((p) => p[1]);
      if (point.latitude < Math.min(...xs) || point.latitude > Math.max(...xs) ||
          point.longitude < Math.min(...ys) || point.longitude > Math.max(...ys)) return false;
      let inside = false;
      for (let i = 0, j = this._coordinates.length - 1; i < this._coordinates.length; j = i++) {
        const [startX, startY] = this._coordinates[i];
        const [endX, endY] = this._coordinates[j];
        const intersect = startY > point.longitude != endY > point.longitude &&
          point.latitude < ((endX - startX) * (point.longitude - startY)) / (endY - startY) + startX;
        if (intersect) inside = !inside;
      }
      return inside;
    }

    static _validate(coords) {
      if (!Array.isArray(coords)) throw new TypeError('Coordinates must be an Array');
      if (coords.length < 3) throw new TypeError('Polygon must have at least 3 GeoPoints or Points');
      return coords.map((coord) => {
        let geoPoint;
        if (coord instanceof ParseGeoPoint) geoPoint = coord;
        else if (Array.isArray(coord) && coord.length === 2) geoPoint = new ParseGeoPoint(coord[0], coord[1]);
        else throw new TypeError('Coordinates must be an Array of GeoPoints or Points');
        return [geoPoint.latitude, geoPoint.longitude];
      });
    }
  }

  // ---------------------------------------------------------------- Parse.File

  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

  // A reference to a stored file, or new content given as {base64} or bytes (an array, a
  // Uint8Array or a Buffer) and uploaded by save() (POST files/<name>). Streams, Blobs and {uri}
  // sources do not exist here.
  class ParseFile {
    constructor(name, data, type, metadata, tags) {
      const specifiedType = type || '';
      this._name = name;
      this._metadata = metadata || {};
      this._tags = tags || {};
      if (data === undefined) return;
      if (Array.isArray(data) || data instanceof Uint8Array) {
        this._data = ParseFile.encodeBase64(data);
        this._source = { format: 'base64', base64: this._data, type: specifiedType };
      } else if (data && typeof data.base64 === 'string') {
        const base64 = data.base64.split(',').slice(-1)[0];
        const dataType = specifiedType || data.base64.split(';').slice(0, 1)[0].split(':').slice(1, 2)[0] || 'text/plain';
        this._data = base64;
        this._source = { format: 'base64', base64, type: dataType };
      } else {
        throw new TypeError('Cannot create a Parse.File with that data.');
      }
    }

    async getData() {
      if (this._data) return this._data;
      if (!this._url) throw new Error('Cannot retrieve data for unsaved ParseFile.');
      throw new Error('Parse.File#getData() of a stored file is not supported in Basalt cloud code.');
    }

    name() { return this._name; }
    url(options) {
      if (!this._url) return undefined;
      return options && options.forceSecure ? this._url.replace(/^http:\/\//i, 'https://') : this._url;
    }
    metadata() { return this._metadata; }
    tags() { return this._tags; }
    directory() { return this._directory; }

    save(options) {
      options = options || {};
      if (!this._previousSave) {
        if (!this._source) return undefined;
        const body = { base64: this._source.base64, fileData: { metadata: { ...this._metadata }, tags: { ...this._tags } } };
        if (this._directory) body.fileData.directory = this._directory;
        if (this._source.type) body._ContentType = this._source.type;
        this._previousSave = request('POST', 'files/' + this._name, body, requestOptions(options)).then((res) => {
          this._name = res.name;
          this._url = res.url;
          return this;
        });
      }
      return this._previousSave;
    }

    cancel() {}

    destroy(options = {}) {
      if (!this._name) throw new ParseError(ParseError.FILE_DELETE_UNNAMED_ERROR, 'Cannot delete an unnamed file.');
      const useMasterKey = hasOwn(options, 'useMasterKey') ? !!options.useMasterKey : true;
      return request('DELETE', 'files/' + this._name, null, { useMasterKey }).then(() => {
        this._data = undefined;
        return this;
      });
    }

    toJSON() { return { __type: 'File', name: this._name, url: this._url }; }

    equals(other) {
      if (this === other) return true;
      return other instanceof ParseFile && this.name() === other.name() && this.url() === other.url() &&
        typeof this.url() !== 'undefined';
    }

    setMetadata(metadata) {
      if (metadata && typeof metadata === 'object') Object.keys(metadata).forEach((k) => this.addMetadata(k, metadata[k]));
    }
    addMetadata(key, value) { if (typeof key === 'string') this._metadata[key] = value; }
    setTags(tags) {
      if (tags && typeof tags === 'object') Object.keys(tags).forEach((k) => this.addTag(k, tags[k]));
    }
    addTag(key, value) { if (typeof key === 'string') this._tags[key] = value; }
    setDirectory(directory) { if (typeof directory === 'string' && directory.length > 0) this._directory = directory; }

    static fromJSON(obj) {
      if (obj.__type !== 'File') throw new TypeError('JSON object does not represent a ParseFile');
      const file = new ParseFile(obj.name);
      file._url = obj.url;
      return file;
    }

    static encodeBase64(bytes) {
      let out = '';
      for (let i = 0; i < bytes.length; i += 3) {
        const b1 = bytes[i];
        const b2 = bytes[i + 1] || 0;
        const b3 = bytes[i + 2] || 0;
        out += B64[(b1 >> 2) & 0x3f] + B64[((b1 << 4) & 0x30) | ((b2 >> 4) & 0x0f)] +
          (i + 1 < bytes.length ? B64[((b2 << 2) & 0x3c) | ((b3 >> 6) & 0x03)] : '=') +
          (i + 2 < bytes.length ? B64[b3 & 0x3f] : '=');
      }
      return out;
    }
  }

  // ---------------------------------------------------------------- Parse.Relation

  class ParseRelation {
    constructor(parent, key) {
      this.parent = parent;
      this.key = key;
      this.targetClassName = null;
    }

    _ensureParentAndKey(parent, key) {
      this.key = this.key || key;
      if (this.key !== key) throw new Error('Internal Error. Relation retrieved from two different keys.');
      if (!this.parent) {
        this.parent = parent;
        return;
      }
      if (this.parent.className !== parent.className) throw new Error('Internal Error. Relation retrieved from two different Objects.');
      if (this.parent.id) {
        if (this.parent.id !== parent.id) throw new Error('Internal Error. Relation retrieved from two different Objects.');
      } else if (parent.id) {
        this.parent = parent;
      }
    }

    add(objects) {
      if (!Array.isArray(objects)) objects = [objects];
      const change = new RelationOp(objects, []);
      const parent = this.parent;
      if (!parent) throw new Error('Cannot add to a Relation without a parent');
      if (objects.length === 0) return parent;
      parent.set(this.key, change);
      this.targetClassName = change._targetClassName;
      return parent;
    }

    remove(objects) {
      if (!Array.isArray(objects)) objects = [objects];
      const change = new RelationOp([], objects);
      if (!this.parent) throw new Error('Cannot remove from a Relation without a parent');
      if (objects.length === 0) return;
      this.parent.set(this.key, change);
      this.targetClassName = change._targetClassName;
    }

    toJSON() { return { __type: 'Relation', className: this.targetClassName }; }

    query() {
      const parent = this.parent;
      if (!parent) throw new Error('Cannot construct a query for a Relation without a parent');
      let query;
      if (!this.targetClassName) {
        query = new ParseQuery(parent.className);
        query._extraOptions.redirectClassNameForKey = this.key;
      } else {
        query = new ParseQuery(this.targetClassName);
      }
      query._addCondition('$relatedTo', 'object', { __type: 'Pointer', className: parent.className, objectId: parent.id });
      query._addCondition('$relatedTo', 'key', this.key);
      return query;
    }
  }

  // ---------------------------------------------------------------- Parse.User

  const NO_CURRENT_USER = 'It is not memory-safe to become a user in a server environment';

  // Cloud code serves many users at once, so there is never a current user: the session token
  // travels explicitly in each call's options (as under the SDK on Node).
  class ParseUser extends ParseObject {
    constructor(attributes) {
      super('_User');
      if (attributes && typeof attributes === 'object') {
        try {
          this.set(attributes || {});
        } catch (_) {
          throw new Error("Can't create an invalid Parse User");
        }
      }
    }

    _preserveFieldsOnFetch() { return { sessionToken: this.get('sessionToken') }; }
    isCurrent() { return false; }
    async isCurrentAsync() { return false; }

    stripAnonymity() {
      const authData = this.get('authData');
      if (authData && typeof authData === 'object' && hasOwn(authData, 'anonymous')) authData.anonymous = null;
    }

    _stringAttribute(key) {
      const value = this.get(key);
      return value == null || typeof value === 'string' ? value : '';
    }
    getUsername() { return this._stringAttribute('username'); }
    setUsername(username) {
      this.stripAnonymity();
      this.set('username', username);
    }
    setPassword(password) { this.set('password', password); }
    getEmail() { return this._stringAttribute('email'); }
    setEmail(email) { return this.set('email', email); }
    getSessionToken() { return this._stringAttribute('sessionToken'); }
    authenticated() { return false; }

    async signUp(attrs, options) {
      const username = (attrs && attrs.username) || this.get('username');
      const password = (attrs && attrs.password) || this.get('password');
      if (!username || !username.length) {
        throw new ParseError(ParseError.OTHER_CAUSE, 'Cannot sign up user with an empty username.');
      }
      if (!password || !password.length) {
        throw new ParseError(ParseError.OTHER_CAUSE, 'Cannot sign up user with an empty password.');
      }
      await this.save(attrs, requestOptions(options));
      this._finishFetch({ password: undefined });
      return this;
    }

    async logIn(options = {}) {
      const loginOptions = requestOptions(options);
      const usePost = hasOwn(options, 'usePost') ? options.usePost : true;
      const auth = { username: this.get('username'), password: this.get('password'), authData: this.get('authData') };
      const response = await request(usePost ? 'POST' : 'GET', 'login', auth, loginOptions);
      this._migrateId(response.objectId);
      this._setExisted(true);
      const latest = this._getPendingOps()[this._getPendingOps().length - 1];
      delete latest.username;
      delete latest.password;
      response.password = undefined;
      this._finishFetch(response);
      return this;
    }

    linkWith(provider, options, saveOpts = {}) {
      saveOpts.sessionToken = saveOpts.sessionToken || this.getSessionToken() || '';
      const authType = typeof provider === 'string' ? provider : provider.getAuthType();
      if (!options || !hasOwn(options, 'authData')) {
        return Promise.reject(new Error('Auth providers that authenticate on the device are not available in cloud code.'));
      }
      const authData = this.get('authData') || {};
      if (typeof authData !== 'object') throw new Error('Invalid type: authData field should be an object');
      authData[authType] = options.authData;
      const oldAnonymousData = authData.anonymous;
      this.stripAnonymity();
      return this.save({ authData }, saveOpts).catch((e) => {
        delete authData[authType];
        if (oldAnonymousData) this.get('authData').anonymous = oldAnonymousData;
        throw e;
      });
    }
    _linkWith(provider, options, saveOpts) { return this.linkWith(provider, options, saveOpts); }

    verifyPassword(password, options) { return ParseUser.verifyPassword(this.getUsername() || '', password, options); }

    static readOnlyAttributes() { return ['sessionToken']; }

    static extend(protoProps, classProps) {
      defineAll(ParseUser.prototype, protoProps, false);
      defineAll(ParseUser, classProps, false);
      return ParseUser;
    }

    static current() { return null; }
    static currentAsync() { return Promise.resolve(null); }

    static signUp(username, password, attrs, options) {
      attrs = attrs || {};
      attrs.username = username;
      attrs.password = password;
      return new this(attrs).signUp({}, options);
    }

    static logIn(username, password, options) {
      if (typeof username !== 'string') return Promise.reject(new ParseError(ParseError.OTHER_CAUSE, 'Username must be a string.'));
      if (typeof password !== 'string') return Promise.reject(new ParseError(ParseError.OTHER_CAUSE, 'Password must be a string.'));
      const user = new this();
      user._finishFetch({ username, password });
      return user.logIn(options);
    }

    static logInWithAdditionalAuth(username, password, authData, options) {
      if (typeof username !== 'string') return Promise.reject(new ParseError(ParseError.OTHER_CAUSE, 'Username must be a string.'));
      if (typeof password !== 'string') return Promise.reject(new ParseError(ParseError.OTHER_CAUSE, 'Password must be a string.'));
      if (Object.prototype.toString.call(authData) !== '[object Object]') {
        return Promise.reject(new ParseError(ParseError.OTHER_CAUSE, 'Auth must be an object.'));
      }
      const user = new this();
      user._finishFetch({ username, password, authData });
      return user.logIn(options);
    }

    static async loginAs(userId) {
      if (!userId) throw new ParseError(ParseError.USERNAME_MISSING, 'Cannot log in as user with an empty user id');
      const user = new this();
      user._finishFetch(await request('POST', 'loginAs', { userId }, { useMasterKey: true }));
      user._setExisted(true);
      return user;
    }

    static become() { throw new Error(NO_CURRENT_USER); }

    static async me(sessionToken, options) {
      const meOptions = requestOptions(options);
      meOptions.sessionToken = sessionToken;
      const user = new this();
      user._finishFetch(await request('GET', 'users/me', {}, meOptions));
      user._setExisted(true);
      return user;
    }

    static async hydrate(userJSON) {
      const user = new this();
      user._finishFetch(userJSON);
      user._setExisted(true);
      return user;
    }

    static logInWith(provider, options, saveOpts) { return new this().linkWith(provider, options, saveOpts); }

    // Without a session token there is no current user to log out (the SDK resolves quietly).
    static async logOut(options) {
      if (options && options.sessionToken) return request('POST', 'logout', {}, requestOptions(options));
      return undefined;
    }

    static requestPasswordReset(email, options) {
      return request('POST', 'requestPasswordReset', { email }, requestOptions(options));
    }
    static requestEmailVerification(email, options) {
      return request('POST', 'verificationEmailRequest', { email }, requestOptions(options));
    }

    static verifyPassword(username, password, options) {
      if (typeof username !== 'string') return Promise.reject(new ParseError(ParseError.OTHER_CAUSE, 'Username must be a string.'));
      if (typeof password !== 'string') return Promise.reject(new ParseError(ParseError.OTHER_CAUSE, 'Password must be a string.'));
      options = options || {};
      const data = { username, password };
      if (options.ignoreEmailVerification !== undefined) data.ignoreEmailVerification = options.ignoreEmailVerification;
      return request('GET', 'verifyPassword', data, options);
    }

    // A process-wide current user would leak between concurrent requests; the switch is ignored.
    static enableUnsafeCurrentUser() {
      log('warn', 'Parse.User.enableUnsafeCurrentUser() has no effect in Basalt cloud code: there is no current user.');
    }
    static disableUnsafeCurrentUser() {}
    static allowCustomUserClass() {}
    static enableRevocableSession() { return Promise.resolve(); }
  }

  // ---------------------------------------------------------------- Parse.Role / Session / Installation

  class ParseRole extends ParseObject {
    constructor(name, acl) {
      super('_Role');
      if (typeof name === 'string' && acl instanceof ParseACL) {
        this.setName(name);
        this.setACL(acl);
      }
    }
    getName() {
      const name = this.get('name');
      return name == null || typeof name === 'string' ? name : '';
    }
    setName(name, options) {
      this._validateName(name);
      return this.set('name', name, options);
    }
    getUsers() { return this.relation('users'); }
    getRoles() { return this.relation('roles'); }
    _validateName(newName) {
      if (typeof newName !== 'string') throw new ParseError(ParseError.OTHER_CAUSE, "A role's name must be a String.");
      if (!/^[0-9a-zA-Z\-_ ]+$/.test(newName)) {
        throw new ParseError(ParseError.OTHER_CAUSE, "A role's name can be only contain alphanumeric characters, _, -, and spaces.");
      }
    }
    validate(attrs, options) {
      const invalid = super.validate(attrs, options);
      if (invalid) return invalid;
      if ('name' in attrs && attrs.name !== this.getName()) {
        if (this.id && this.id !== attrs.objectId) {
          return new ParseError(ParseError.OTHER_CAUSE, "A role's name can only be set before it has been saved.");
        }
        try {
          this._validateName(attrs.name);
        } catch (e) {
          return e;
        }
      }
      return false;
    }
  }

  class ParseSession extends ParseObject {
    constructor(attributes) {
      super('_Session');
      if (attributes && typeof attributes === 'object') {
        try {
          this.set(attributes || {});
        } catch (_) {
          throw new Error("Can't create an invalid Session");
        }
      }
    }
    getSessionToken() {
      const token = this.get('sessionToken');
      return typeof token === 'string' ? token : '';
    }
    static readOnlyAttributes() {
      return ['createdWith', 'expiresAt', 'installationId', 'restricted', 'sessionToken', 'user'];
    }
    // As under Node: there is no current user, hence no current session.
    static current() { return Promise.reject('There is no current user.'); }
    static isCurrentSessionRevocable() { return false; }
  }

  const DEVICE_TYPES = Object.freeze({ IOS: 'ios', MACOS: 'macos', TVOS: 'tvos', FCM: 'fcm', ANDROID: 'android', WEB: 'web' });

  class ParseInstallation extends ParseObject {
    constructor(attributes) {
      super('_Installation');
      if (attributes && typeof attributes === 'object') {
        try {
          this.set(attributes || {});
        } catch (_) {
          throw new Error("Can't create an invalid Installation");
        }
      }
    }
    static get DEVICE_TYPES() { return DEVICE_TYPES; }

    // An installation deleted on the server is created again with all its fields (as the SDK does).
    async fetch(...args) {
      try {
        await super.fetch(...args);
      } catch (e) {
        if (e.code !== ParseError.OBJECT_NOT_FOUND) throw e;
        await this._recreate(args);
      }
      return this;
    }
    async save(...args) {
      try {
        await super.save(...args);
      } catch (e) {
        if (e.code !== ParseError.OBJECT_NOT_FOUND) throw e;
        await this._recreate(args);
      }
      return this;
    }
    async _recreate(args) {
      delete this.id;
      this._getId();
      for (const [key, value] of Object.entries(this.attributes)) this.set(key, value);
      await ParseObject.prototype.save.apply(this, args);
    }
  }
  for (const field of ['appIdentifier', 'appVersion', 'appName', 'badge', 'channels', 'deviceToken', 'deviceType',
    'GCMSenderId', 'installationId', 'localeIdentifier', 'parseVersion', 'pushType', 'timeZone']) {
    Object.defineProperty(ParseInstallation.prototype, field, {
      get() { return this.get(field); }, enumerable: false, configurable: true,
    });
  }

  ParseObject.registerSubclass('_User', ParseUser);
  ParseObject.registerSubclass('_Role', ParseRole);
  ParseObject.registerSubclass('_Session', ParseSession);
  ParseObject.registerSubclass('_Installation', ParseInstallation);

  // ---------------------------------------------------------------- Parse.Config

  let currentConfig = null;

  class ParseConfig {
    constructor() {
      this.attributes = {};
      this._escapedAttributes = {};
    }
    get(attr) { return this.attributes[attr]; }
    escape(attr) {
      if (this._escapedAttributes[attr]) return this._escapedAttributes[attr];
      const val = this.attributes[attr];
      const escaped = val != null ? escapeHTML(val.toString()) : '';
      this._escapedAttributes[attr] = escaped;
      return escaped;
    }
    static current() { return currentConfig || new ParseConfig(); }
    static async get(options) {
      const response = await request('GET', 'config', {}, requestOptions(options || {}));
      if (!response || !response.params) throw new ParseError(ParseError.INVALID_JSON, 'Config JSON response invalid.');
      const config = new ParseConfig();
      for (const attr in response.params) config.attributes[attr] = decode(response.params[attr]);
      currentConfig = config;
      return config;
    }
    static async save(attrs, masterKeyOnlyFlags) {
      const params = {};
      for (const key in attrs) params[key] = encodeValue(attrs[key]);
      const response = await request('PUT', 'config', { params, masterKeyOnly: masterKeyOnlyFlags }, { useMasterKey: true });
      if (!response || !response.result) throw new ParseError(ParseError.INTERNAL_SERVER_ERROR, 'Error occured updating Config.');
      return ParseConfig.get({ useMasterKey: true });
    }
  }

  // ---------------------------------------------------------------- Parse.Cloud (client half), Push

  const Cloud = {
    async run(name, data, options) {
      if (typeof name !== 'string' || name.length === 0) throw new TypeError('Cloud function name must be a string.');
      const res = await request('POST', 'functions/' + name, encodeValue(data, true), requestOptions(options));
      if (typeof res === 'object' && Object.keys(res).length > 0 && !hasOwn(res, 'result')) {
        throw new ParseError(ParseError.INVALID_JSON, 'The server returned an invalid response.');
      }
      const decoded = decode(res);
      return decoded && hasOwn(decoded, 'result') ? decoded.result : undefined;
    },
    getJobsData() {
      return request('GET', 'cloud_code/jobs/data', null, { useMasterKey: true });
    },
    // Resolves to the job status id, which the server sends as a header.
    async startJob(name, data) {
      if (typeof name !== 'string' || name.length === 0) throw new TypeError('Cloud job name must be a string.');
      const response = await request('POST', 'jobs/' + name, encodeValue(data, true), { useMasterKey: true, returnStatus: true });
      return response._headers && response._headers['X-Parse-Job-Status-Id'];
    },
    getJobStatus(jobStatusId) {
      return new ParseQuery('_JobStatus').get(jobStatusId, { useMasterKey: true });
    },
    // Parse Server 9 keeps this only to warn: the master key must be passed per call.
    useMasterKey() {
      log('warn', 'Parse.Cloud.useMasterKey is deprecated (and has no effect anymore) on parse-server, please refer to the cloud code migration notes: http://docs.parseplatform.org/parse-server/guide/#master-key-must-be-passed-explicitly');
    },
    httpRequest,
  };

  const Push = {
    async send(data, options = {}) {
      if (data.where && data.where instanceof ParseQuery) data.where = data.where.toJSON().where;
      if (data.push_time && typeof data.push_time === 'object') data.push_time = data.push_time.toJSON();
      if (data.expiration_time && typeof data.expiration_time === 'object') data.expiration_time = data.expiration_time.toJSON();
      if (data.expiration_time && data.expiration_interval) throw new Error('expiration_time and expiration_interval cannot both be set.');
      const useMasterKey = hasOwn(options, 'useMasterKey') ? options.useMasterKey : true;
      const response = await request('POST', 'push', data, { useMasterKey, returnStatus: true });
      return response._headers && response._headers['X-Parse-Push-Status-Id'];
    },
    getPushStatus(pushStatusId, options = {}) {
      const useMasterKey = hasOwn(options, 'useMasterKey') ? options.useMasterKey : true;
      return new ParseQuery('_PushStatus').get(pushStatusId, { useMasterKey });
    },
  };

  // ---------------------------------------------------------------- Parse.Cloud.httpRequest

  // Parse Server's former Parse.Cloud.httpRequest (removed in Parse Server 6, DEPPS4), kept for
  // apps written against it: `params` become the query string, an object `body` is sent as JSON
  // or as a form according to the content type (a form by default), and a status outside
  // 200..399 rejects with the response.
  async function httpRequest(options) {
    options = Object.assign({}, options);
    const headers = Object.assign({}, options.headers);
    for (const key of Object.keys(headers)) if (headers[key] === undefined) delete headers[key];
    const body = encodeHttpBody(options.body, headers);
    const url = withQuery(options.url, options.params);
    const reply = JSON.parse(await host.http(JSON.stringify({
      method: options.method || 'GET', url, headers, body, followRedirects: options.followRedirects === true,
    })));
    if (reply.error) throw reply.error;
    const response = httpResponse(reply);
    if (response.status < 200 || response.status >= 400) throw response;
    return response;
  }

  function encodeHttpBody(body, headers) {
    if (typeof body !== 'object' || body === null) return body;
    const contentTypes = Object.keys(headers).filter((key) => /content-type/i.test(key));
    if (contentTypes.length === 0) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      return formEncode(body);
    }
    const type = headers[contentTypes[0]];
    if (/application\/json/i.test(type)) return JSON.stringify(body);
    if (/application\/x-www-form-urlencoded/i.test(type)) return formEncode(body);
    return body;
  }

  // node's querystring.stringify: arrays repeat the key, objects and functions become "".
  function formEncode(obj) {
    const scalar = (v) => (typeof v === 'string' ? v : typeof v === 'number' && isFinite(v) ? String(v) :
      typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : '');
    const parts = [];
    for (const key of Object.keys(obj)) {
      const values = Array.isArray(obj[key]) ? obj[key] : [obj[key]];
      for (const v of values) parts.push(encodeURIComponent(key) + '=' + encodeURIComponent(scalar(v)));
    }
    return parts.join('&');
  }

  function withQuery(url, params) {
    if (params == null) return url;
    const query = typeof params === 'string' ? params : formEncode(params);
    if (!query) return url;
    return url + (url.indexOf('?') < 0 ? '?' : '&') + query;
  }

  function httpResponse(reply) {
    const response = { status: reply.status, headers: reply.headers || {}, text: reply.text };
    response.cookies = response.headers['set-cookie'];
    let data;
    try {
      data = JSON.parse(reply.text);
    } catch (_) {
      data = undefined;
    }
    response.data = data;
    return response;
  }

  // ---------------------------------------------------------------- Parse

  const Parse = {
    ACL: ParseACL,
    Cloud,
    Config: ParseConfig,
    Error: ParseError,
    File: ParseFile,
    GeoPoint: ParseGeoPoint,
    Polygon: ParsePolygon,
    Installation: ParseInstallation,
    Object: ParseObject,
    Op: Object.freeze({
      Set: SetOp, Unset: UnsetOp, Increment: IncrementOp, Add: AddOp, Remove: RemoveOp, AddUnique: AddUniqueOp, Relation: RelationOp,
    }),
    Push,
    Query: ParseQuery,
    Relation: ParseRelation,
    Role: ParseRole,
    Session: ParseSession,
    User: ParseUser,
    applicationId: appInfo.applicationId,
    javaScriptKey: appInfo.javaScriptKey,
    serverURL: appInfo.serverURL,
    // Cloud code runs in the server: it names its credentials per call, never by a global key.
    initialize() {},
    _request(method, path, data, options) { return request(method, path, data, options || {}); },
    _encode(value, _, disallowObjects) { return encodeValue(value, disallowObjects); },
    _decode(_, value) { return decode(value); },
    _getInstallationId() { return Promise.resolve(undefined); },
  };
  Parse.Parse = Parse;

  globalThis.Parse = Parse;
})();
