// Small shared helpers for the e2e suite (test code only; the harness lives in harness.mjs).
import assert from 'node:assert/strict';

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
