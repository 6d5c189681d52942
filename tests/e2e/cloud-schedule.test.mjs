// Scheduled jobs: Parse Dashboard's schedule routes (/cloud_code/jobs…, checked against the
// oracle), and Basalt running what they schedule, and `--jobSchedules` cron entries, once per
// due time even with two nodes on one database. (Parse Server stores schedules but runs none.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, rest, target, dbKind } from '../lib/harness.mjs';
import { OBJECT_ID, ISO, sleep } from '../lib/util.mjs';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cloud-code', 'fixtures', 'main.js');
const basaltOnly = target !== 'basalt' && 'Parse Server does not run scheduled jobs';

let server, r;
before(async () => {
  server = await startServer({ extraArgs: ['--cloud', fixtures] });
  r = rest(server);
});
after(async () => { await server?.stop(); });

const where = (w) => encodeURIComponent(JSON.stringify(w));
async function runs(req, job, since) {
  const res = await req('GET', `/classes/_JobStatus?where=${where({ jobName: job, createdAt: { $gte: { __type: 'Date', iso: since } } })}&order=createdAt&limit=1000`, { master: true });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.results;
}
test("the Dashboard's schedule routes: master key only, deployed jobs only", async () => {
  assert.notEqual((await r('GET', '/cloud_code/jobs')).status, 200);
  const refused = await r('POST', '/cloud_code/jobs', { body: { job_schedule: { jobName: 'nope' } }, master: true });
  assert.deepEqual([refused.status, refused.body], [500, { code: 1, error: 'Cannot Schedule a job that is not deployed' }]);
  const schedule = { jobName: 'tally', description: 'later', params: '{"note":"sched"}', startAfter: '2030-01-01T00:00:00.000Z', repeatMinutes: 5 };
  const created = await r('POST', '/cloud_code/jobs', { body: { job_schedule: schedule }, master: true });
  assert.equal(created.status, 201);
  assert.match(created.body.objectId, OBJECT_ID);
  const id = created.body.objectId;
  const list = await r('GET', '/cloud_code/jobs', { master: true });
  const row = list.body.find((s) => s.objectId === id);
  const { objectId, createdAt, updatedAt, ...fields } = row;
  assert.match(createdAt, ISO);
  assert.deepEqual(fields, schedule);
  const data = await r('GET', '/cloud_code/jobs/data', { master: true });
  assert.ok(data.body.in_use.includes('tally'));
  assert.deepEqual(data.body.jobs.sort(), ['broken', 'stamp', 'tally']);
  const edited = await r('PUT', `/cloud_code/jobs/${id}`, { body: { job_schedule: { description: 'edited' } }, master: true });
  assert.equal(edited.status, 200);
  assert.match(edited.body.response.updatedAt, ISO);
  assert.deepEqual((await r('DELETE', `/cloud_code/jobs/${id}`, { master: true })).body, {});
  assert.ok(!(await r('GET', '/cloud_code/jobs', { master: true })).body.some((s) => s.objectId === id));
});

test('a schedule saved from the Dashboard runs its job once, at its time', { skip: basaltOnly }, async () => {
  const since = new Date().toISOString();
  const startAfter = new Date(Date.now() + 1500).toISOString();
  const created = await r('POST', '/cloud_code/jobs', {
    body: { job_schedule: { jobName: 'tally', params: '{"note":"from the dashboard"}', startAfter } }, master: true,
  });
  assert.equal(created.status, 201);
  let done = [];
  for (let i = 0; i < 100 && !done.some((j) => j.status === 'succeeded'); i++) {
    await sleep(100);
    done = await runs(r, 'tally', since);
  }
  assert.equal(done.length, 1, JSON.stringify(done));
  assert.equal(done[0].source, 'schedule');
  assert.match(done[0].message, /^counted \d+ \(from the dashboard\)$/);
  assert.ok(done[0].createdAt >= startAfter, `ran at ${done[0].createdAt}, due ${startAfter}`);
  await sleep(2500);
  assert.equal((await runs(r, 'tally', since)).length, 1, 'a one-time schedule runs once');
  await r('DELETE', `/cloud_code/jobs/${created.body.objectId}`, { master: true });
});

test('--jobSchedules cron entries run once per due time across two nodes', { skip: basaltOnly || (dbKind !== 'postgres' && 'two nodes need PostgreSQL') }, async () => {
  const schedules = JSON.stringify([{ job: 'stamp', cron: '*/2 * * * * *' }]);
  const a = await startServer({ extraArgs: ['--cloud', fixtures, '--jobSchedules', schedules] });
  const b = await startServer({ extraArgs: ['--cloud', fixtures, '--jobSchedules', schedules], shareDatabaseOf: a });
  try {
    const since = new Date().toISOString();
    await sleep(7000);
    const stamped = await runs(rest(a), 'stamp', since);
    // Every other second is due; each due time ran exactly once, on one node or the other.
    const buckets = new Map();
    for (const j of stamped) {
      const due = Math.floor(Date.parse(j.createdAt) / 2000);
      buckets.set(due, (buckets.get(due) ?? 0) + 1);
    }
    assert.ok(buckets.size >= 2, `ran at ${stamped.map((j) => j.createdAt)}`);
    for (const [due, n] of buckets) assert.equal(n, 1, `due time ${due * 2}s ran ${n} times`);
    assert.ok(stamped.every((j) => j.status === 'succeeded' && j.message === 'stamped'));
  } finally {
    await b.stop();
    await a.stop();
  }
});
