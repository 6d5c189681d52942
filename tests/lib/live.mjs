// LiveQuery helpers: the official SDK's client, event recording, and a raw WebSocket client.
import WebSocket from 'ws';

export const wsURL = (server) => server.serverURL.replace(/^http/, 'ws');

/**
 * A Parse.LiveQueryClient of its own (not the SDK's shared default), opened.
 * Without `master` it connects with the JavaScript key only, as an app does.
 */
export function liveClient(Parse, server, { sessionToken, master = false, installationId } = {}) {
  const client = new Parse.LiveQueryClient({
    applicationId: server.appId,
    serverURL: wsURL(server),
    javascriptKey: server.javascriptKey,
    masterKey: master ? server.masterKey : undefined,
    sessionToken,
    installationId,
  });
  client.open();
  return client;
}

/** Subscribes and waits for `subscribed`; rejects with the server's error. */
export async function subscribe(client, query, sessionToken) {
  const sub = client.subscribe(query, sessionToken);
  await sub.subscribePromise;
  return record(sub);
}

/**
 * Records a subscription's events as { op, id, className, object, original } (plain JSON) and waits for
 * them. `until` fails the test with what did arrive if the awaited event never comes.
 */
export function record(sub) {
  const events = [];
  const waiters = [];
  for (const op of ['create', 'update', 'enter', 'leave', 'delete']) {
    sub.on(op, (obj, original) => {
      const e = { op, id: obj.id, className: obj.className, object: obj.toJSON(), original: original?.toJSON ? original.toJSON() : undefined };
      events.push(e);
      for (const w of [...waiters]) w();
    });
  }
  return {
    sub,
    events,
    ops: () => events.map((e) => e.op),
    /** Waits until `pred(events)` holds (the bound only turns a hang into a failure). */
    until(pred, what = 'the expected event', ms = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pred(events)) {
            waiters.splice(waiters.indexOf(check), 1);
            clearTimeout(timer);
            resolve(events);
          }
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(events.map((e) => [e.op, e.object]))}`));
        }, ms);
        waiters.push(check);
        check();
      });
    },
  };
}

/** Waits for an event on object `id` with op `op`. */
export const eventFor = (rec, op, id) => rec.until((es) => es.some((e) => e.op === op && e.id === id), `${op} of ${id}`);

/**
 * A raw WebSocket client: send(frame) and next() → the next frame the server sent (parsed).
 */
export async function rawSocket(server, path = '/parse') {
  const url = `ws://127.0.0.1:${new URL(server.serverURL).port}${path}`;
  const ws = new WebSocket(url);
  const inbox = [];
  const waiting = [];
  ws.on('message', (m) => {
    const frame = JSON.parse(m.toString());
    const w = waiting.shift();
    if (w) w(frame);
    else inbox.push(frame);
  });
  let closed = false;
  ws.on('close', () => { closed = true; });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  return {
    ws,
    get closed() { return closed; },
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    next(ms = 10_000) {
      if (inbox.length) return Promise.resolve(inbox.shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no frame from the server')), ms);
        waiting.push((f) => { clearTimeout(timer); resolve(f); });
      });
    },
    close: () => ws.close(),
  };
}
