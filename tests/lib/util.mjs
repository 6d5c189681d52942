// Small shared helpers for the e2e suite (test code only; the harness lives in harness.mjs).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

/** objectId as Parse generates it: 10 alphanumeric characters. */
export const OBJECT_ID = /^[A-Za-z0-9]{10}$/;
/** ISO-8601 timestamp with milliseconds and a Z suffix, as Parse emits createdAt/updatedAt. */
export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Creates objects in cls with the master key (Parse 9 refuses client class creation, so the
 * first write to a new class must use the master key) and returns their objectIds in order.
 */
export async function seed(r, cls, objects) {
  const ids = [];
  for (const body of objects) {
    const res = await r('POST', `/classes/${cls}`, { body, master: true });
    assert.equal(res.status, 201, `seed ${cls}: ${JSON.stringify(res.body)}`);
    ids.push(res.body.objectId);
  }
  return ids;
}

/** GET /classes/cls with the given query params (objects are JSON-encoded), returns the response. */
export async function find(r, cls, params = {}, opts = {}) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) qs.set(k, typeof v === 'string' ? v : JSON.stringify(v));
  return r('GET', `/classes/${cls}?${qs}`, opts);
}

/** Like find, but asserts 200 and returns results mapped through pick (default: the objectId). */
export async function findIds(r, cls, params = {}, opts = {}, pick = (o) => o.objectId) {
  const res = await find(r, cls, params, opts);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.results.map(pick);
}

/** Removes objectId/createdAt/updatedAt after checking their format; returns the rest. */
export function stripMeta(obj) {
  const { objectId, createdAt, updatedAt, ...rest } = obj;
  if (objectId !== undefined) assert.match(objectId, OBJECT_ID);
  if (createdAt !== undefined) assert.match(createdAt, ISO);
  if (updatedAt !== undefined) assert.match(updatedAt, ISO);
  return rest;
}

/**
 * fetch() that retries (twice) when the connection was closed/reset before any response — the
 * oracle sometimes half-closes pooled sockets; such a request was never processed.
 */
export async function fetchRetry(url, init) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetch(url, init);
    } catch (e) {
      if (attempt >= 2 || !['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'].includes(e?.cause?.code)) throw e;
    }
  }
}

// ---- users, sessions, roles (issue 3) ----

/** A session token as Parse 9 issues them: "r:" + 32 lowercase hex digits. */
export const SESSION_TOKEN = /^r:[0-9a-f]{32}$/;

/** A Parse pointer. */
export const ptr = (className, objectId) => ({ __type: 'Pointer', className, objectId });

/**
 * A user name / role name / e-mail local part no earlier run against the shared oracle used:
 * prefix + 10 hex digits (only [A-Za-z0-9_], so it is also a valid role name).
 */
export function uniqueName(prefix = 'u_') {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

/**
 * Wraps a rest() requester so that every request carries X-Parse-Session-Token: token
 * (no header when token is falsy). Extra headers in opts still apply.
 */
export function withToken(r, token) {
  return (method, path, opts = {}) => r(method, path, {
    ...opts,
    headers: { ...(token ? { 'X-Parse-Session-Token': token } : {}), ...(opts.headers ?? {}) },
  });
}

/**
 * Signs a new user up through POST /users (REST key) and asserts 201.
 * fields may override username/password and add more (email, ACL…).
 * Returns { id, token, username, password, as } where `as` is a requester carrying the token.
 */
export async function signUp(r, fields = {}, headers = {}) {
  const body = { username: uniqueName('user_'), password: `pw-${randomBytes(4).toString('hex')}`, ...fields };
  const res = await r('POST', '/users', { body, headers });
  assert.equal(res.status, 201, `signUp: ${JSON.stringify(res.body)}`);
  const { objectId: id, sessionToken: token } = res.body;
  return { id, token, username: body.username, password: body.password, as: withToken(r, token) };
}

/** POST /login; asserts 200 and returns { id, token, body, as }. */
export async function logIn(r, username, password, headers = {}) {
  const res = await r('POST', '/login', { body: { username, password }, headers });
  assert.equal(res.status, 200, `logIn: ${JSON.stringify(res.body)}`);
  return { id: res.body.objectId, token: res.body.sessionToken, body: res.body, as: withToken(r, res.body.sessionToken) };
}

/**
 * Creates a role with the master key: name, ACL (default public read), users (user ids) and
 * roles (role ids) as relation members. Returns the role's objectId.
 */
export async function createRole(r, name, { users = [], roles = [], ACL = { '*': { read: true } } } = {}) {
  const body = { name, ACL };
  if (users.length) body.users = { __op: 'AddRelation', objects: users.map((id) => ptr('_User', id)) };
  if (roles.length) body.roles = { __op: 'AddRelation', objects: roles.map((id) => ptr('_Role', id)) };
  const res = await r('POST', '/roles', { body, master: true });
  assert.equal(res.status, 201, `createRole ${name}: ${JSON.stringify(res.body)}`);
  return res.body.objectId;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
