// Parse.Cloud as Parse Server 9 defines it (the hook registry: define, job, beforeSave, …, with its
// validators and rate limits) and `__basalt`, the dispatcher the host calls: `invoke` runs one
// function, job or trigger from a JSON request and answers JSON; `list` reports what the app
// registered. Mirrors Parse Server's triggers.js, FunctionsRouter and Parse.Cloud.js.
//
// Evaluated after sdk.js; takes the host object out of the global scope. Nothing here keeps
// per-invocation state: invocations may interleave while they wait on the host.
(function () {
  'use strict';

  const host = globalThis.__host;
  delete globalThis.__host;
  const Parse = globalThis.Parse;
  const hasOwn = Object.hasOwn;
  const SCRIPT_FAILED = Parse.Error.SCRIPT_FAILED;
  const VALIDATION_ERROR = Parse.Error.VALIDATION_ERROR;

  const Types = Object.freeze({
    beforeLogin: 'beforeLogin', afterLogin: 'afterLogin', afterLogout: 'afterLogout',
    beforePasswordResetRequest: 'beforePasswordResetRequest', beforeSave: 'beforeSave', afterSave: 'afterSave',
    beforeDelete: 'beforeDelete', afterDelete: 'afterDelete', beforeFind: 'beforeFind', afterFind: 'afterFind',
    beforeConnect: 'beforeConnect', beforeSubscribe: 'beforeSubscribe', afterEvent: 'afterEvent',
  });

  // ---------------------------------------------------------------- the registry

  const functions = Object.create(null);
  const jobs = Object.create(null);
  const triggers = Object.create(null); // "type.className" -> handler
  const validators = Object.create(null); // function name or "type.className" -> validator
  const rateLimits = [];
  const liveQueryHandlers = [];

  function log(level, message) {
    host.log(level, message);
  }

  // Parse keeps handlers in stores walked by dot-separated keys ("beforeSave.Post"): a name with
  // a quote or a dot (a function's, a job's, a trigger's class) lands in a throwaway store, i.e.
  // it is silently not registered.
  function store(table, key, handler, name = key) {
    if (/['"`.]/.test(name)) return;
    if (table[key]) {
      log('warn', `Warning: Duplicate cloud functions exist for ${name}. Only the last one will be used and the others will be ignored.`);
    }
    table[key] = handler;
  }

  function lookup(table, name) {
    return hasOwn(table, name) ? table[name] : undefined;
  }

  // The class a trigger is for: a name, a Parse.Object subclass (its className), or another SDK
  // class by its constructor name (Parse.File -> "@File", Parse.Config -> "@Config").
  function classNameOf(parseClass) {
    if (parseClass && parseClass.className) return parseClass.className;
    if (parseClass && parseClass.name) return parseClass.name.replace('Parse', '@');
    return parseClass;
  }

  function isParseObjectConstructor(object) {
    return typeof object === 'function' && hasOwn(object, 'className');
  }

  // Parse's registration-time rules; Parse throws these as strings.
  function validateClassNameForTriggers(className, type) {
    if (type === Types.beforeSave && className === '_PushStatus') throw 'Only afterSave is allowed on _PushStatus';
    if ((type === Types.beforeLogin || type === Types.afterLogin || type === Types.beforePasswordResetRequest) && className !== '_User') {
      throw 'Only the _User class is allowed for the beforeLogin, afterLogin, and beforePasswordResetRequest triggers';
    }
    if (type === Types.afterLogout && className !== '_Session') throw 'Only the _Session class is allowed for the afterLogout trigger.';
    if (className === '_Session' && type !== Types.afterLogout) throw 'Only the afterLogout trigger is allowed for the _Session class.';
  }

  function addTrigger(type, className, handler, validator) {
    validateClassNameForTriggers(className, type);
    store(triggers, `${type}.${className}`, handler, className);
    store(validators, `${type}.${className}`, validator, className);
  }

  const FIELD_OPTIONS = { type: ['Any'], constant: [Boolean], default: ['Any'], options: [Array, 'function', 'Any'], required: [Boolean], error: [String] };
  const VALIDATOR_KEYS = {
    requireUser: [Boolean], requireAnyUserRoles: [Array, 'function'], requireAllUserRoles: [Array, 'function'],
    requireMaster: [Boolean], validateMasterKey: [Boolean], skipWithMasterKey: [Boolean],
    requireUserKeys: [Array, Object], fields: [Array, Object], rateLimit: [Object],
  };

  // A constructor's lower-cased name (String -> "string"), as Parse reads it from its source text.
  function constructorType(fn) {
    const match = fn && fn.toString().match(/^\s*function (\w+)/);
    return (match ? match[1] : '').toLowerCase();
  }

  function declaredType(fn) {
    if (Array.isArray(fn)) return 'array';
    if (fn === 'Any' || fn === 'function') return fn;
    if (typeof fn === 'function') return constructorType(fn) || 'function';
    return typeof fn;
  }

  function checkValidatorKey(key, allowed, value) {
    const parameter = allowed[key];
    if (!parameter) throw `${key} is not a supported parameter for Cloud Function validations.`;
    const types = parameter.map(declaredType);
    const type = declaredType(value);
    if (!types.includes(type) && !types.includes('Any')) {
      throw `Invalid type for Cloud Function validation key ${key}. Expected ${types.join('|')}, actual ${type}`;
    }
  }

  function validateValidator(validator) {
    if (!validator || typeof validator === 'function') return;
    for (const key in validator) {
      checkValidatorKey(key, VALIDATOR_KEYS, validator[key]);
      if ((key === 'fields' || key === 'requireUserKeys') && !Array.isArray(validator[key])) {
        for (const field in validator[key]) {
          for (const subKey in validator[key][field]) checkValidatorKey(subKey, FIELD_OPTIONS, validator[key][field][subKey]);
        }
      }
    }
  }

  const RATE_LIMIT_OPTIONS = ['errorResponseMessage', 'includeInternalRequests', 'includeMasterKey', 'redisUrl',
    'requestCount', 'requestMethods', 'requestPath', 'requestTimeWindow', 'zone'];

  // Recorded for the host, which enforces them; Parse's route and method for each hook.
  function addRateLimit(validator, requestPath, requestMethods) {
    if (!validator || !validator.rateLimit) return;
    const route = Object.assign({ requestPath }, requestMethods && { requestMethods }, validator.rateLimit);
    for (const key in route) if (!RATE_LIMIT_OPTIONS.includes(key)) throw `Invalid rate limit option "${key}"`;
    rateLimits.push(route);
  }

  function routeOf(className) {
    if (className === '@File') return '/files{/*id}';
    if (className === '@Config') return '/config';
    const route = { _User: 'users', _Session: 'sessions' }[className] || 'classes';
    return `/${route}/${className}{/*id}`;
  }

  // The login hooks accept an optional class first (validated downstream, as Parse does).
  function loginHook(type, defaultClass, args, rateLimitPath, rateLimitMethods) {
    let [handler, validator] = args;
    let className = defaultClass;
    if (typeof handler === 'string' || isParseObjectConstructor(handler)) {
      className = classNameOf(handler);
      handler = args[1];
      validator = args.length >= 2 ? args[2] : null;
    }
    addTrigger(type, className, handler);
    if (rateLimitPath) addRateLimit(validator, rateLimitPath, rateLimitMethods);
  }

  function classHook(type, rateLimitMethods) {
    return function (parseClass, handler, validator) {
      const className = classNameOf(parseClass);
      validateValidator(validator);
      addTrigger(type, className, handler, validator);
      if (rateLimitMethods) addRateLimit(validator, routeOf(className), rateLimitMethods);
    };
  }

  Object.assign(Parse.Cloud, {
    define(name, handler, validator) {
      validateValidator(validator);
      store(functions, name, handler);
      store(validators, name, validator);
      addRateLimit(validator, `/functions/${name}`);
    },
    job(name, handler) { store(jobs, name, handler); },
    beforeSave: classHook(Types.beforeSave, ['POST', 'PUT']),
    afterSave: classHook(Types.afterSave),
    beforeDelete: classHook(Types.beforeDelete, 'DELETE'),
    afterDelete: classHook(Types.afterDelete),
    beforeFind: classHook(Types.beforeFind, 'GET'),
    afterFind: classHook(Types.afterFind),
    beforeLogin(...args) { loginHook(Types.beforeLogin, '_User', args, '/login', ['POST', 'GET']); },
    afterLogin(...args) { loginHook(Types.afterLogin, '_User', args); },
    afterLogout(...args) { loginHook(Types.afterLogout, '_Session', args); },
    beforePasswordResetRequest(...args) {
      loginHook(Types.beforePasswordResetRequest, '_User', args, '/requestPasswordReset', 'POST');
    },
    beforeConnect(handler, validator) {
      validateValidator(validator);
      store(triggers, `${Types.beforeConnect}.@Connect`, handler, '@Connect');
      store(validators, `${Types.beforeConnect}.@Connect`, validator, '@Connect');
    },
    beforeSubscribe: classHook(Types.beforeSubscribe),
    afterLiveQueryEvent: classHook(Types.afterEvent),
    onLiveQueryEvent(handler) { liveQueryHandlers.push(handler); },
    // Parse Server with no mail adapter configured: nothing is sent.
    sendEmail() {
      log('error', 'Failed to send email because no mail adapter is configured for Parse Server.');
    },
  });

  function list() {
    const hooks = Object.keys(triggers).filter((key) => typeof triggers[key] === 'function').map((key) => {
      const dot = key.indexOf('.');
      return { kind: key.slice(0, dot), className: key.slice(dot + 1) };
    });
    return JSON.stringify({
      functions: Object.keys(functions).filter((name) => typeof functions[name] === 'function'),
      jobs: Object.keys(jobs).filter((name) => typeof jobs[name] === 'function'),
      triggers: hooks,
      rateLimits: Parse._encode(rateLimits),
      liveQueryEventHandlers: liveQueryHandlers.length,
    });
  }

  // ---------------------------------------------------------------- errors

  // Parse Server's resolveError: a Parse.Error stays as it is; a string or an Error's message
  // becomes the message under the default code; nothing at all becomes the default message.
  function resolveError(thrown, defaults) {
    const code = defaults.code || SCRIPT_FAILED;
    if (!thrown) return new Parse.Error(code, defaults.message || 'Script failed.');
    if (thrown instanceof Parse.Error) return thrown;
    if (typeof thrown === 'string') return new Parse.Error(code, thrown);
    return new Parse.Error(code, thrown.message || thrown);
  }

  const TRIGGER_ERROR = { code: SCRIPT_FAILED, message: 'Script failed. Unknown error.' };
  const FUNCTION_ERROR = { code: SCRIPT_FAILED, message: 'Script failed.' };

  function errorAnswer(error) {
    return { error: { code: error.code, message: error.message } };
  }

  // ---------------------------------------------------------------- the request objects

  function formatLogArgs(args) {
    return args.map((a) => {
      if (typeof a === 'string') return a;
      try {
        return JSON.stringify(a);
      } catch (_) {
        return String(a);
      }
    }).join(' ');
  }

  // Parse's loggerController as `request.log`.
  function makeLogger() {
    const logger = {};
    for (const level of ['info', 'warn', 'error', 'debug']) logger[level] = (...args) => log(level, formatLogArgs(args));
    logger.verbose = logger.silly = logger.debug;
    logger.log = (level, ...args) => log(['info', 'warn', 'error', 'debug'].includes(level) ? level : 'info', formatLogArgs(args));
    return Object.freeze(logger);
  }
  // One logger for every request, as Parse Server's request.log is its one logger controller;
  // the host tags each line with the invocation that wrote it. Frozen: no request can swap it.
  const sharedLogger = makeLogger();

  function userFrom(json) {
    if (!json) return undefined;
    const data = Object.assign({}, json, { className: '_User' });
    delete data.password;
    return Parse.Object.fromJSON(data);
  }

  function inflate(className, restObject) {
    return Parse.Object.fromJSON(Object.assign({ className }, restObject));
  }

  // The fields every trigger request shares (Parse's getRequestObject / getRequestQueryObject).
  function baseRequest(triggerName, input) {
    const request = {
      triggerName,
      master: !!input.master,
      isReadOnly: !!input.isReadOnly,
      log: sharedLogger,
      headers: input.headers || {},
      ip: input.ip,
    };
    const user = userFrom(input.user);
    if (user) request.user = user;
    if (input.installationId) request.installationId = input.installationId;
    return request;
  }

  // A copy, so the host sees the handler's changes only through the answer.
  function contextCopy(context) {
    return Object.assign(Object.create(null), context);
  }

  // Function and job parameters as Parse Server decodes them: Dates (keeping their JSON keys),
  // Files and Pointers; everything else stays JSON.
  function parseParam(value) {
    if (Array.isArray(value)) return value.map(parseParam);
    if (value && value.__type === 'Date') return Object.assign(new Date(value.iso), value);
    if (value && value.__type === 'File') return Parse.File.fromJSON(value);
    if (value && value.__type === 'Pointer') {
      return Parse.Object.fromJSON({ __type: 'Pointer', className: value.className, objectId: value.objectId });
    }
    if (value && typeof value === 'object') return parseParams(value);
    return value;
  }

  function parseParams(params) {
    const out = {};
    for (const key of Object.keys(params || {})) out[key] = parseParam(params[key]);
    return out;
  }

  // ---------------------------------------------------------------- validators

  async function runValidator(request, name) {
    const validator = lookup(validators, name);
    if (!validator) return;
    if (typeof validator === 'object' && validator.skipWithMasterKey && request.master) request.skipWithMasterKey = true;
    try {
      if (typeof validator === 'object') await builtInValidator(validator, request);
      else await validator(request);
    } catch (e) {
      throw resolveError(e, { code: VALIDATION_ERROR, message: 'Validation failed.' });
    }
  }

  // Parse Server's builtInTriggerValidator; its failures are thrown as strings, as Parse does.
  async function builtInValidator(options, request) {
    if (request.master && !options.validateMasterKey) return;
    let reqUser = request.user;
    if (!reqUser && request.object && request.object.className === '_User' && !request.object.existed()) {
      reqUser = request.object;
    }
    if ((options.requireUser || options.requireAnyUserRoles || options.requireAllUserRoles) && !reqUser) {
      throw 'Validation failed. Please login to continue.';
    }
    if (options.requireMaster && !request.master) throw 'Validation failed. Master key is required to complete this request.';
    const params = request.object ? request.object.toJSON() : request.params || {};
    await validateFields(options.fields, params, request);
    await validateRoles(options, request.user);
    await validateUserKeys(options.requireUserKeys || [], reqUser);
  }

  function requiredParam(params, key) {
    if (params[key] == null) throw `Validation failed. Please specify data for ${key}.`;
  }

  async function validateOption(opt, key, val) {
    let opts = opt.options;
    if (typeof opts === 'function') {
      try {
        const result = await opts(val);
        if (!result && result != null) throw opt.error || `Validation failed. Invalid value for ${key}.`;
      } catch (e) {
        if (!e) throw opt.error || `Validation failed. Invalid value for ${key}.`;
        throw opt.error || e.message || e;
      }
      return;
    }
    if (!Array.isArray(opts)) opts = [opt.options];
    if (!opts.includes(val)) throw opt.error || `Validation failed. Invalid option for ${key}. Expected: ${opts.join(', ')}`;
  }

  async function validateFields(fields, params, request) {
    if (Array.isArray(fields)) {
      for (const key of fields) requiredParam(params, key);
      return;
    }
    const pending = [];
    for (const key in fields) {
      const opt = fields[key];
      let val = params[key];
      if (typeof opt === 'string') requiredParam(params, opt);
      if (typeof opt !== 'object') continue;
      if (opt.default != null && val == null) {
        val = params[key] = opt.default;
        if (request.object) request.object.set(key, val);
      }
      if (opt.constant && request.object) {
        if (request.original) request.object.revert(key);
        else if (opt.default != null) request.object.set(key, opt.default);
      }
      if (opt.required) requiredParam(params, key);
      if (!opt.required && val === undefined) continue;
      if (opt.type) {
        const type = constructorType(opt.type);
        const valType = Array.isArray(val) ? 'array' : typeof val;
        if (valType !== type) throw `Validation failed. Invalid type for ${key}. Expected: ${type}`;
      }
      if (opt.options) pending.push(validateOption(opt, key, val));
    }
    await Promise.all(pending);
  }

  async function validateRoles(options, user) {
    let anyRoles = options.requireAnyUserRoles;
    let allRoles = options.requireAllUserRoles;
    if (!anyRoles && !allRoles) return;
    const [roles, resolvedAny, resolvedAll] = await Promise.all([
      userRoles(user),
      typeof anyRoles === 'function' ? anyRoles() : undefined,
      typeof allRoles === 'function' ? allRoles() : undefined,
    ]);
    if (Array.isArray(resolvedAny)) anyRoles = resolvedAny;
    if (Array.isArray(resolvedAll)) allRoles = resolvedAll;
    if (anyRoles && !anyRoles.some((role) => roles.includes(`role:${role}`))) {
      throw 'Validation failed. User does not match the required roles.';
    }
    if (allRoles && allRoles.some((role) => !roles.includes(`role:${role}`))) {
      throw 'Validation failed. User does not match all the required roles.';
    }
  }

  // The request user's roles, inherited ones included ("role:<name>"), read with the master key
  // the way Parse Server's Auth does: the roles whose `users` hold the user, then, level by
  // level, the roles whose `roles` hold those. A request without a user has none.
  async function userRoles(user) {
    if (!user) return [];
    const names = [];
    const queried = new Set();
    let found = await rolesWhere((q) => q.equalTo('users', user));
    while (found.length) {
      for (const role of found) names.push(role.get('name'));
      const ids = found.map((role) => role.id).filter((id) => !queried.has(id));
      ids.forEach((id) => queried.add(id));
      if (!ids.length) break;
      found = await rolesWhere((q) => q.containedIn('roles', ids.map((id) => Parse.Object.createWithoutData.call(Parse.Role, id))));
    }
    return [...new Set(names)].map((name) => 'role:' + name);
  }

  async function rolesWhere(constrain) {
    const query = new Parse.Query(Parse.Role);
    constrain(query);
    const roles = [];
    await query.each((role) => roles.push(role), { useMasterKey: true });
    return roles;
  }

  async function validateUserKeys(userKeys, user) {
    if (Array.isArray(userKeys)) {
      for (const key of userKeys) {
        if (!user) throw 'Please login to make this request.';
        if (user.get(key) == null) throw `Validation failed. Please set data for ${key} on your account.`;
      }
      return;
    }
    const pending = [];
    for (const key in userKeys) {
      if (userKeys[key].options) pending.push(validateOption(userKeys[key], key, user.get(key)));
    }
    await Promise.all(pending);
  }

  // ---------------------------------------------------------------- functions and jobs

  async function runFunction(name, input) {
    const fn = lookup(functions, name);
    if (typeof fn !== 'function') throw new Parse.Error(SCRIPT_FAILED, `Invalid function: "${name}"`);
    const request = {
      params: parseParams(input.params),
      master: !!input.master,
      isReadOnly: !!input.isReadOnly,
      user: userFrom(input.user),
      installationId: input.installationId,
      log: sharedLogger,
      headers: input.headers || {},
      ip: input.ip,
      functionName: name,
      context: input.context || {},
    };
    try {
      if (lookup(validators, name)) await runValidator(request, name);
      return fn.length >= 2 ? await runExpressStyle(fn, request) : { result: Parse._encode(await fn(request)) };
    } catch (e) {
      return errorAnswer(resolveError(e, {}));
    }
  }

  // A handler declared as (req, res) answers through res.success / res.error, and may set the
  // HTTP status and headers; returning a value without answering counts as success.
  function runExpressStyle(fn, request) {
    return new Promise((resolve, reject) => {
      let status = null;
      const headers = {};
      let sent = false;
      const once = () => {
        if (sent) {
          throw new Error('Cannot call success() after response has already been sent. Make sure to call success() or error() only once per cloud function execution.');
        }
        sent = true;
      };
      const withMeta = (answer) => Object.assign(answer, status !== null && { status }, Object.keys(headers).length && { headers });
      const response = {
        success(result) { once(); resolve(withMeta({ result: Parse._encode(result) })); },
        error(message) { once(); resolve(withMeta(errorAnswer(resolveError(message, {})))); },
        status(code) { status = code; return response; },
        header(key, value) { headers[key] = value; return response; },
      };
      Promise.resolve().then(() => fn(request, response)).then((result) => {
        if (!sent && result !== undefined) response.success(result);
      }).catch(reject);
    });
  }

  async function runJob(name, input) {
    const job = lookup(jobs, name);
    if (typeof job !== 'function') return errorAnswer(new Parse.Error(SCRIPT_FAILED, 'Invalid job.'));
    const request = {
      params: parseParams(input.params),
      log: sharedLogger,
      headers: input.headers || {},
      ip: input.ip,
      jobName: name,
      jobId: input.jobId,
      message: (message) => setJobMessage(input.jobId, message),
    };
    // `message` is what Parse Server writes to the _JobStatus row: a string result, or the
    // message of a thrown string or Error.
    try {
      const result = await job(request);
      const answer = { result: safeEncode(result) };
      if (result && typeof result === 'string') answer.message = result;
      return answer;
    } catch (e) {
      const answer = errorAnswer(resolveError(e, {}));
      if (e && typeof e === 'string') answer.message = e;
      else if (e instanceof Error && typeof e.message === 'string') answer.message = e.message;
      return answer;
    }
  }

  function safeEncode(value) {
    try {
      return Parse._encode(value);
    } catch (_) {
      return null;
    }
  }

  function setJobMessage(jobId, message) {
    if (!message || typeof message !== 'string') return Promise.resolve();
    return Parse._request('PUT', 'classes/_JobStatus/' + jobId, { message }, { useMasterKey: true });
  }

  // ---------------------------------------------------------------- object triggers

  function triggerFor(type, className) {
    const handler = lookup(triggers, `${type}.${className}`);
    return typeof handler === 'function' ? handler : null;
  }

  const PLAIN_KEY = /^[A-Za-z][0-9A-Za-z_]*$/;

  // beforeSave's request.object: the stored object (none on create) with the client's changes
  // set on it as pending operations, as Parse Server's RestWrite builds it.
  function objectWithChanges(className, stored, changes) {
    const Class = Parse.Object._getClassMap()[className];
    const readOnly = Class && typeof Class.readOnlyAttributes === 'function' ? Class.readOnlyAttributes() : [];
    let object;
    if (stored || Class) {
      const extra = { className };
      if (stored && stored.objectId) extra.objectId = stored.objectId;
      if (!stored) for (const attr of readOnly) extra[attr] = changes[attr];
      object = Parse.Object.fromJSON(Object.assign(extra, stored));
    } else {
      object = new Parse.Object(className); // what fromJSON({ className }) makes
    }
    // Dot-notation changes are set as they come; the plain keys after them, in one set of
    // their decoded values (decoding drops the keys JavaScript treats specially).
    const sanitized = {};
    for (const key of Object.keys(changes)) {
      if (key.indexOf('.') > 0) {
        if (changes[key] && typeof changes[key].__op === 'string') {
          if (!readOnly.includes(key)) object.set(key, changes[key]);
        } else {
          const [parent, child] = key.split('.');
          let value = object.get(parent);
          if (typeof value !== 'object') value = {};
          value[child] = changes[key];
          object.set(parent, value);
        }
      } else if (PLAIN_KEY.test(key) && !readOnly.includes(key) && key !== 'constructor' && key !== 'prototype') {
        sanitized[key] = Parse._decode(undefined, changes[key]);
      }
    }
    object.set(sanitized);
    return object;
  }

  function objectRequest(type, input, object, original) {
    const request = baseRequest(type, input);
    request.object = object;
    if (original) request.original = original;
    request.context = contextCopy(input.context);
    return request;
  }

  // Runs the validator, then the handler unless skipWithMasterKey: `{ value }`, what the
  // handler returned, or `{ skipped }` when it did not run; a promise of that when a validator
  // ran. Callers await it either way, so callbacks the handler queued run before they go on.
  function runHandler(handler, request, name) {
    if (lookup(validators, name)) return validatedHandler(handler, request, name);
    return request.skipWithMasterKey ? { skipped: true } : { value: handler(request) };
  }

  async function validatedHandler(handler, request, name) {
    await runValidator(request, name);
    if (request.skipWithMasterKey) return { skipped: true };
    return { value: handler(request) };
  }

  async function beforeSave(handler, className, input) {
    const changes = input.changes || {};
    const isUpdate = !!(input.object && input.object.objectId);
    const object = objectWithChanges(className, isUpdate ? input.object : null, changes);
    const original = isUpdate ? inflate(className, input.object) : undefined;
    const request = objectRequest(Types.beforeSave, input, object, original);
    const ran = await runHandler(handler, request, `beforeSave.${className}`);
    // Only an asynchronous handler's answer counts, and only if it carries `object`.
    const returned = ran.value && typeof ran.value.then === 'function' ? await ran.value : null;
    let body;
    if (returned && returned.object && !object.equals(returned)) {
      body = returned.object instanceof Parse.Object ? returned.object._getSaveJSON() : Parse._encode(returned.object);
    } else {
      body = object._getSaveJSON();
      if (object.id !== undefined) body.objectId = object.id;
    }
    return { object: body, context: request.context };
  }

  // afterSave's request.object is the saved object; it existed before unless this was a create
  // (the host passes `original` exactly for updates).
  async function afterSave(handler, className, input) {
    const object = inflate(className, input.object);
    object._setExisted(!!input.original);
    const original = input.original ? inflate(className, input.original) : undefined;
    const request = objectRequest(Types.afterSave, input, object, original);
    const ran = await runHandler(handler, request, `afterSave.${className}`);
    const returned = await ran.value;
    const answer = { context: request.context };
    // A returned JSON object replaces the client's response; otherwise the host derives it from
    // the object as the handler left it (Parse's _updateResponseWithData).
    if (returned && typeof returned === 'object' && !(returned instanceof Parse.Object)) {
      answer.response = Parse._encode(returned);
    } else {
      answer.object = (returned instanceof Parse.Object ? returned : object).toJSON();
    }
    return answer;
  }

  async function deleteTrigger(type, handler, className, input) {
    const request = objectRequest(type, input, inflate(className, input.object));
    const ran = await runHandler(handler, request, `${type}.${className}`);
    await ran.value;
    return { context: request.context };
  }

  // beforeLogin / afterLogin / beforePasswordResetRequest (the user), afterLogout (the session).
  async function authTrigger(type, handler, className, input) {
    const object = inflate(className, input.object);
    const request = objectRequest(type, input, object);
    if (type === Types.afterLogin) request.user = object;
    const ran = await runHandler(handler, request, `${type}.${className}`);
    await ran.value;
    return {};
  }

  // ---------------------------------------------------------------- query triggers

  const QUERY_OPTIONS = ['limit', 'skip', 'include', 'excludeKeys', 'explain', 'keys', 'order', 'hint', 'comment'];

  function restOptionsOf(query) {
    const options = Object.assign({}, query);
    delete options.className;
    delete options.where;
    return options;
  }

  // beforeFind may change request.query or return another Parse.Query; only the options the
  // handler left truthy override the client's (as in Parse Server). Returning Parse.Objects
  // short-circuits the database: the host answers them (re-checked against ACLs unless master).
  async function beforeFind(handler, className, input) {
    const query = input.query || {};
    const restOptions = restOptionsOf(query);
    const parseQuery = new Parse.Query(className);
    parseQuery.withJSON(Object.assign({}, restOptions, { where: query.where || {} }));
    const request = baseRequest(Types.beforeFind, input);
    Object.assign(request, { query: parseQuery, count: !!restOptions.count, isGet: !!input.isGet, context: contextCopy(input.context) });
    const ran = await runHandler(handler, request, `beforeFind.${className}`);
    const result = ran.skipped ? request.query : await ran.value;
    const json = (result instanceof Parse.Query ? result : parseQuery).toJSON();
    const out = Object.assign({ className }, restOptions, { where: json.where || query.where || {} });
    for (const key of QUERY_OPTIONS) if (json[key]) out[key] = json[key];
    const answer = { query: out, context: request.context };
    if (result instanceof Parse.Object) answer.objects = [toJSONWithObjects(result)];
    else if (Array.isArray(result) && result.every((o) => o instanceof Parse.Object)) answer.objects = result.map((o) => toJSONWithObjects(o));
    return answer;
  }

  // An object as Parse Server returns it after afterFind: its JSON, with fields the handler set
  // in full (objects as full JSON) and its className.
  function toJSONWithObjects(object) {
    if (!object || !object.toJSON) return {};
    const json = object.toJSON();
    const [pending] = object._getPendingOps();
    for (const key in pending) {
      const val = object.get(key);
      json[key] = val && val._toFullJSON ? val._toFullJSON() : val;
    }
    if (object.className && !json.className) json.className = object.className;
    return json;
  }

  async function afterFind(handler, className, input) {
    const query = input.query || {};
    const request = baseRequest(Types.afterFind, input);
    request.object = null;
    if (input.isGet !== undefined) request.isGet = !!input.isGet;
    request.context = contextCopy(input.context);
    request.query = new Parse.Query(className);
    if (query.where) request.query.withJSON(Object.assign(restOptionsOf(query), { where: query.where }));
    request.objects = (input.objects || []).map((o) => Parse.Object.fromJSON(Object.assign({}, o, { className: o.className || className })));
    const ran = await runHandler(handler, request, `afterFind.${className}`);
    const result = ran.skipped ? request.objects : await ran.value;
    return { objects: (result || request.objects).map((o) => toJSONWithObjects(o)) };
  }

  // ---------------------------------------------------------------- the dispatcher

  const OBJECT_TRIGGERS = {
    beforeSave, afterSave, beforeFind, afterFind,
    beforeDelete: (handler, className, input) => deleteTrigger(Types.beforeDelete, handler, className, input),
    afterDelete: (handler, className, input) => deleteTrigger(Types.afterDelete, handler, className, input),
    beforeLogin: (handler, className, input) => authTrigger(Types.beforeLogin, handler, className, input),
    afterLogin: (handler, className, input) => authTrigger(Types.afterLogin, handler, className, input),
    afterLogout: (handler, className, input) => authTrigger(Types.afterLogout, handler, className, input),
    beforePasswordResetRequest: (handler, className, input) => authTrigger(Types.beforePasswordResetRequest, handler, className, input),
  };

  // ---------------------------------------------------------------- file triggers

  // Parse.Cloud.beforeSave(Parse.File, …) and the rest, as Parse's files router runs them:
  // request.file is a Parse.File (with its data before a save), request.fileSize its size (null
  // for a delete). A beforeSave may change the file, return another (one already saved, with a
  // url, is not stored again), or refuse; its answer is the file to store.
  const FILE_TRIGGERS = new Set([Types.beforeSave, Types.afterSave, Types.beforeDelete, Types.afterDelete]);

  async function fileTrigger(type, handler, input) {
    const request = baseRequest(type, input);
    const f = input.file || {};
    const file = typeof f.base64 === 'string'
      ? new Parse.File(f.name, { base64: f.base64 }, f.contentType, f.metadata, f.tags)
      : Parse.File.fromJSON({ __type: 'File', name: f.name, url: f.url });
    request.file = file;
    request.fileSize = typeof input.fileSize === 'number' ? input.fileSize : null;
    try {
      const ran = await runHandler(handler, request, `${type}.@File`);
      const returned = await ran.value;
      if (type !== Types.beforeSave) return {};
      const out = returned instanceof Parse.File ? returned : file;
      return {
        file: {
          name: out._name, url: out._url, base64: out._data,
          contentType: out._source ? out._source.type : undefined,
        },
      };
    } catch (e) {
      const deleting = type === Types.beforeDelete || type === Types.afterDelete;
      return errorAnswer(resolveError(e, deleting
        ? { code: Parse.Error.FILE_DELETE_ERROR, message: 'Could not delete file.' }
        : { code: Parse.Error.FILE_SAVE_ERROR, message: `Could not store file: ${f.name}.` }));
    }
  }

  async function dispatch(kind, name, input) {
    if (kind === 'function') return runFunction(name, input);
    if (kind === 'job') return runJob(name, input);
    if (name === '@File' && FILE_TRIGGERS.has(kind)) {
      const handler = triggerFor(kind, name);
      return handler ? fileTrigger(kind, handler, input) : {};
    }
    const run = hasOwn(OBJECT_TRIGGERS, kind) ? OBJECT_TRIGGERS[kind] : null;
    if (!run) return errorAnswer(new Parse.Error(SCRIPT_FAILED, `Unknown invocation kind: ${kind}`));
    const handler = triggerFor(kind, name);
    if (!handler) return {};
    try {
      return await run(handler, name, input);
    } catch (e) {
      return errorAnswer(resolveError(e, TRIGGER_ERROR));
    }
  }

  // Always resolves, to JSON: the answer, or {"error": {code, message}}.
  async function invoke(inputJson) {
    let answer;
    try {
      const { kind, name, request } = JSON.parse(inputJson);
      answer = await dispatch(kind, name, request || {});
    } catch (e) {
      answer = errorAnswer(resolveError(e, FUNCTION_ERROR));
    }
    try {
      return JSON.stringify(answer);
    } catch (e) {
      return JSON.stringify(errorAnswer(resolveError(e, FUNCTION_ERROR)));
    }
  }

  function builtinModule(name) {
    return name === 'parse' || name === 'parse/node' ? Parse : undefined;
  }

  Object.defineProperty(globalThis, '__basalt', {
    value: Object.freeze({ invoke, list, builtinModule }),
    enumerable: false,
    writable: false,
    configurable: false,
  });
})();
