#!/usr/bin/env python3
"""Basalt's benchmarks (not tests): throughput and latency against Parse Server on the same
PostgreSQL, then the same workloads on Basalt with SQLite, start-up time and memory.

Each server is measured alone (the other one idle), pinned to core 0 with `taskset`; wrk (the
load generator) is pinned to core 1; PostgreSQL is shared and unpinned. Workloads at concurrency
32: create, get by id, query (where on two fields + order + limit=20 over 50,000 objects), update
(Increment). The ceiling is pgbench running the same statements Basalt sends, at the same
concurrency. Both servers are started and seeded first, then each workload runs on Basalt, on
Parse Server and as pgbench back to back (this machine's speed drifts by 15-40% within minutes:
run minutes apart, the figures that are divided were not measured on the same machine).
--rounds N repeats each workload's runs N times, in reverse order every other round, and reports
medians.

Then, as logged-in users (issue 3): login, and get/query/create (in that order: the creates add
objects the query would read) on a second class of 50,000 objects spread over 200 owners, each
readable and writable by its owner alone (per-user ACLs), with every request carrying one
owner's session token. "ACL cost" compares these with the
public workloads of the same server. A private query finds the caller's few objects among many,
which is more work than the public query whatever the ACL check costs; "user-query-shared" runs
the same query on a copy whose objects are also publicly readable ({owner: rw, *: read}), and
"query-shared" runs it there with the REST key alone: same rows, same answers, so the difference
between those two is the cost of the ACL check.

Then LiveQuery (issue 4), "live": 1,000 WebSocket clients subscribed to {match: true}; objects
created at a fixed rate, half matching; delivery latency (write sent -> event received) p50/p99
and delivered/expected, by bench/driver (lqdrive, Rust, pinned to core 1, so the driver is not
the bottleneck); the highest write rate at which everything arrives with p99 < 250 ms; Basalt at
Parse's highest rate; and the memory of 10,000 idle connections, each with one subscription.

Then cloud code (issue 5), "cloud": both servers load bench/cloud/main.js; POST /functions/empty
and /functions/hello, GET /serverInfo (a plain route that runs no script and reads no database:
the difference is what invoking a function costs), and a create whose beforeSave sets a field,
at concurrency 32; each workload on both servers back to back, as above.

Each workload first runs WARMUP seconds unmeasured (see WARMUP). Every wrk run also reads the server's CPU time (its whole process group, from /proc): "cpu" is the
share of its one core the server used, and "per core" divides requests/s by it.

--pg-core 1 confines PostgreSQL's processes to the load generator's core for the run (and pgbench's
ceiling with it), so the server's core is its own; without it the scheduler wakes PostgreSQL's
backends next to the server that sent them a statement, and the two share core 0.

    bench/run [--seconds 10] [--only basalt-pg,parse,basalt-sqlite,pgbench,startup,live,cloud] [--no-users] [--pg-core 1]
              [--rounds 1]
"""
import argparse, contextlib, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
PG = os.environ.get("BASALT_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
ORACLE = os.path.join(ROOT, "..", "shared", "oracle", "parse-server.sh")
CLASS = "BenchItem"
PRIVATE = "BenchPrivate"
SHARED = "BenchShared"
OBJECTS = 50_000
OWNERS = 200
CONCURRENCY = 32
APP, MASTER, REST = "bench", "benchmaster", "benchrest"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(db, sql):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", f"{PG}/{db}", "-c", sql], check=True, capture_output=True)


def http(method, url, body=None, master=True, timeout=60, token=None):
    headers = {"X-Parse-Application-Id": APP, "Content-Type": "application/json"}
    headers["X-Parse-Master-Key" if master else "X-Parse-REST-API-Key"] = MASTER if master else REST
    if token:
        headers["X-Parse-Session-Token"] = token
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def wait_health(base, proc, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.005)
    raise RuntimeError("server did not become healthy")


def rss_kb(pid, field="VmRSS"):
    """Resident memory of a process and its children (Parse runs under a shell/node)."""
    total = 0
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]
    for p in pids:
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def cpu_seconds(pgid):
    """CPU time (user + system) used so far by every process of the process group `pgid`."""
    ticks = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class Server:
    def __init__(self, name, cmd, base, env=None, cwd=None):
        self.name, self.base = name, base
        self.proc = subprocess.Popen(["taskset", "-c", "0"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, **(env or {})}, start_new_session=True, cwd=cwd)
        wait_health(base, self.proc)

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except Exception:
            os.killpg(self.proc.pid, signal.SIGKILL)


def basalt_cmd(port, db_uri, data_dir):
    # BASALT_BENCH_BIN: another build to measure (to compare two builds on the same machine).
    binary = os.environ.get("BASALT_BENCH_BIN") or os.path.join(ROOT, "target", "release", "basalt")
    return [binary, "--appId", APP, "--masterKey", MASTER, "--restAPIKey", REST, "--port", str(port),
            "--databaseURI", db_uri, "--data-dir", data_dir, "--max-batch-size", "1000"]


def seed(server, ids_file):
    """Creates the class with an index on (category, score), then 50,000 objects by /batch."""
    base = server.base
    http("POST", f"{base}/schemas/{CLASS}", {"className": CLASS, "fields": {
        "score": {"type": "Number"}, "category": {"type": "String"}, "name": {"type": "String"}, "n": {"type": "Number"}}})
    http("PUT", f"{base}/schemas/{CLASS}", {"indexes": {"category_score": {"category": 1, "score": -1}}})
    mount = "/" + base.split("/", 3)[3]
    ids = []
    for start in range(0, OBJECTS, 500):
        reqs = [{"method": "POST", "path": f"{mount}/classes/{CLASS}",
                 "body": {"score": (i * 7919) % 1000, "category": f"c{i % 10}", "name": f"item{i}", "n": 0}}
                for i in range(start, min(start + 500, OBJECTS))]
        for r in http("POST", f"{base}/batch", {"requests": reqs}):
            ids.append(r["success"]["objectId"])
    with open(ids_file, "w") as f:
        f.write("\n".join(ids[:5000]) + "\n")


def seed_users(server, pairs_file):
    """OWNERS users (password "pw-<n>"), then 50,000 objects of PRIVATE, object i owned by user
    i % OWNERS with an ACL naming that user alone. Writes "token objectId username userId" lines:
    the first 5,000 objects with their owner's session token."""
    base = server.base
    mount = "/" + base.split("/", 3)[3]
    http("POST", f"{base}/schemas/{PRIVATE}", {"className": PRIVATE, "fields": {
        "score": {"type": "Number"}, "category": {"type": "String"}, "name": {"type": "String"}, "n": {"type": "Number"}}})
    http("PUT", f"{base}/schemas/{PRIVATE}", {"indexes": {"category_score": {"category": 1, "score": -1}}})
    http("POST", f"{base}/schemas/{SHARED}", {"className": SHARED, "fields": {
        "score": {"type": "Number"}, "category": {"type": "String"}, "name": {"type": "String"}, "n": {"type": "Number"}}})
    http("PUT", f"{base}/schemas/{SHARED}", {"indexes": {"category_score": {"category": 1, "score": -1}}})
    users = []
    for u in range(OWNERS):
        r = http("POST", f"{base}/users", {"username": f"owner{u}", "password": f"pw-{u}"}, master=False)
        users.append((r["objectId"], r["sessionToken"], f"owner{u}"))
    lines = []
    for start in range(0, OBJECTS, 500):
        reqs = []
        for i in range(start, min(start + 500, OBJECTS)):
            uid = users[i % OWNERS][0]
            reqs.append({"method": "POST", "path": f"{mount}/classes/{PRIVATE}",
                         "body": {"score": (i * 7919) % 1000, "category": f"c{i % 10}", "name": f"item{i}", "n": 0,
                                  "ACL": {uid: {"read": True, "write": True}}}})
        for i, r in zip(range(start, start + 500), http("POST", f"{base}/batch", {"requests": reqs})):
            if len(lines) < 5000:
                uid, token, name = users[i % OWNERS]
                lines.append(f"{token} {r['success']['objectId']} {name} {uid}")
        for q in reqs:
            q["path"] = f"{mount}/classes/{SHARED}"
            q["body"]["ACL"]["*"] = {"read": True}
        http("POST", f"{base}/batch", {"requests": reqs})
    with open(pairs_file, "w") as f:
        f.write("\n".join(lines) + "\n")


def wrk(server, mode, seconds, ids_file, cls=CLASS):
    env = {**os.environ, "BENCH_MODE": mode, "BENCH_APP": APP, "BENCH_REST_KEY": REST, "BENCH_MASTER": MASTER, "BENCH_IDS": ids_file,
           "BENCH_PATH": "/" + server.base.split("/", 3)[3] + f"/classes/{cls}",
           "BENCH_MOUNT": "/" + server.base.split("/", 3)[3]}
    cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{CONCURRENCY}", f"-d{seconds}s", "--latency",
                          "-s", os.path.join(BENCH, "workload.lua"), server.base.rsplit("/", 1)[0]],
                         capture_output=True, text=True, env=env, check=True).stdout
    # The share of its one core the server used: requests/s divided by it is requests/s per core.
    cpu = (cpu_seconds(server.proc.pid) - cpu0) / (time.monotonic() - t0)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    errors = int(re.search(r"NON2XX (\d+)", out).group(1))
    return {"rps": rps, "p50_ms": pct(50), "p99_ms": pct(99), "errors": errors, "cpu": round(cpu, 2),
            "rps_per_core": round(rps / cpu) if cpu > 0 else None}


PG_DATABASES = {"basalt-pg": "basalt_bench", "parse": "parse_bench"}


@contextlib.contextmanager
def started(starters, prefix):
    """Starts each server of `starters` ([(name, start)]) in a directory of its own and yields
    them as (name, server, directory); stops them all and removes the directories after."""
    live = []
    try:
        for name, start in starters:
            tmp = tempfile.mkdtemp(prefix=f"{prefix}-{name}-")
            try:
                live.append((name, start(tmp), tmp))
            except Exception:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        yield live
    finally:
        for _, server, tmp in live:
            server.stop()
            shutil.rmtree(tmp, ignore_errors=True)


def run_servers(starters, seconds, results, users=True, ceiling=False, rounds=1):
    """Runs each workload on every server of `starters` ([(name, start)]) back to back, and
    with `ceiling` pgbench's ceiling for it too, before the next workload: this machine's speed
    drifts by 15-40% within minutes, so figures to be divided are taken within the same minute.
    With `rounds` > 1 each workload's runs repeat, in reverse order every other round, and each
    figure of a result is the median of its rounds (the rounds' requests/s are kept)."""
    with started(starters, "bench") as live:
        rows = {}
        for name, server, tmp in live:
            rows[name] = {"idle_rss_mb": round(rss_kb(server.proc.pid) / 1024, 1)}
            print(f"  {name}: seeding {OBJECTS} objects…", flush=True)
            seed(server, os.path.join(tmp, "ids.txt"))
            if name in PG_DATABASES:
                # Fresh tables have no statistics yet; autovacuum would gather them in any real
                # deployment, so do it now, for both servers alike.
                psql(PG_DATABASES[name], "ANALYZE")
        ceiling_uri = ceiling_db() if ceiling else None
        if ceiling:
            results["pgbench"] = {}

        def measure(modes, ids, cls, with_ceiling):
            for mode, key in modes:
                def one(who):
                    name, server, tmp = who
                    if server is None:
                        pg_quiet()
                        return ceiling_run(ceiling_uri, mode, seconds)
                    wrk(server, mode, WARMUP, os.path.join(tmp, ids), cls=cls)  # unmeasured: Parse Server's JIT warms up
                    quiet(name)
                    return wrk(server, mode, seconds, os.path.join(tmp, ids), cls=cls)
                runs = alternating([*live, ("pgbench", None, None)] if with_ceiling else live, rounds, one)
                for name, got in runs.items():
                    if name == "pgbench":
                        results["pgbench"][key] = median(got)
                        print(f"  {'pgbench ' + key:31} {results['pgbench'][key]:>9.0f} statements/s"
                              + (f"  (rounds {', '.join(f'{x:.0f}' for x in got)})" if rounds > 1 else ""), flush=True)
                    else:
                        rows[name][key] = merged(got)
                        report(f"{name} {key}", rows[name][key])

        measure([(m, m) for m in ["create", "get", "query", "update"]], "ids.txt", CLASS, ceiling)
        if users:
            for name, server, tmp in live:
                print(f"  {name}: seeding {OWNERS} users and {OBJECTS} objects with per-user ACLs…", flush=True)
                seed_users(server, os.path.join(tmp, "pairs.txt"))
                if name in PG_DATABASES:
                    psql(PG_DATABASES[name], "ANALYZE")
            # The query before the creates: each server's creates add objects to the categories
            # it queries, so after them the faster server's query would read more rows.
            measure([(m, m) for m in ["login", "user-get", "user-query", "user-create"]], "pairs.txt", PRIVATE, False)
            measure([("user-query", "user-query-shared")], "pairs.txt", SHARED, False)
            # The same query on the same objects with the REST key alone: the baseline for the
            # cost of the ACL check (the objects' ACLs make bigger answers than BenchItem's).
            measure([("query", "query-shared")], "pairs.txt", SHARED, False)
        for name, server, _ in live:
            rows[name]["peak_rss_mb"] = round(rss_kb(server.proc.pid, "VmHWM") / 1024, 1)
            results[name] = rows[name]
        if ceiling:
            psql("postgres", "DROP DATABASE IF EXISTS basalt_ceiling WITH (FORCE)")


def alternating(who, rounds, run):
    """`run(w)` for each `w` of `who` ((name, ...) tuples), `rounds` times, in reverse order
    every other round: the results by name, in round order."""
    out = {}
    for r in range(rounds):
        for w in (who if r % 2 == 0 else who[::-1]):
            out.setdefault(w[0], []).append(run(w))
    return out


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def merged(runs):
    """One result from several rounds of a workload: the median of each figure."""
    if len(runs) == 1:
        return runs[0]
    out = {k: median([r[k] for r in runs]) for k in ["rps", "p50_ms", "p99_ms", "errors", "cpu"]}
    per_core = [r["rps_per_core"] for r in runs if r["rps_per_core"]]
    out["rps_per_core"] = round(median(per_core)) if per_core else None
    out["rounds_rps"] = [r["rps"] for r in runs]
    return out


def per_core_ratio(b, p):
    """Requests per second of one core's CPU time, Basalt's over Parse's ("-" if unmeasured)."""
    if b.get("rps_per_core") and p.get("rps_per_core"):
        return f"{b['rps_per_core'] / p['rps_per_core']:.1f}x"
    return "-"


def report(label, r):
    print(f"  {label:31} {r['rps']:>9.0f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms"
          f"  cpu {r['cpu']:.2f} core ({r['rps_per_core']} req/s per core)"
          + (f"  ({r['errors']} errors)" if r["errors"] else "")
          + (f"  (rounds {', '.join(f'{x:.0f}' for x in r['rounds_rps'])})" if "rounds_rps" in r else ""), flush=True)


def pg_quiet():
    """Flushes PostgreSQL's dirty buffers so each run starts from the same state."""
    psql("postgres", "CHECKPOINT")
    time.sleep(2)


def quiet(name):
    """Before each workload on PostgreSQL: the previous one's (or the seeding's) dirty buffers
    flushed, so no run pays for another's checkpoint. Runs swung by 30% without it."""
    if name in PG_DATABASES:
        pg_quiet()


def fresh_pg_db(name):
    psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {name}")
    return f"{PG}/{name}"


def start_basalt_pg(tmp):
    port = free_port()
    uri = fresh_pg_db("basalt_bench")
    # In its own directory: started in the repository, Basalt would load ./cloud-code/main.js.
    return Server("basalt-pg", basalt_cmd(port, uri, tmp), f"http://127.0.0.1:{port}/parse", cwd=tmp)


def start_basalt_sqlite(tmp):
    port = free_port()
    return Server("basalt-sqlite", basalt_cmd(port, f"sqlite://{tmp}/bench.db", tmp), f"http://127.0.0.1:{port}/parse",
                  cwd=tmp)


def start_parse(tmp, livequery=None, cloud=None):
    port = free_port()
    fresh_pg_db("parse_bench")
    # The oracle script starts Parse Server 9 (installing it on first use) on PostgreSQL.
    lq = ["--livequery", json.dumps(livequery)] if livequery else []
    cl = ["--cloud", cloud] if cloud else []
    cmd = ["bash", ORACLE, "--port", str(port), "--db", "parse_bench", *lq, *cl, "--",
           "--appId", APP, "--masterKey", MASTER, "--restAPIKey", REST, "--javascriptKey", "benchjs",
           "--maxUploadSize", "50mb"]
    return Server("parse", cmd, f"http://127.0.0.1:{port}/parse", env={"BASALT_ORACLE_HOME": os.environ.get("BASALT_ORACLE_HOME", os.path.expanduser("~/.cache/basalt-oracle"))})


CLOUD_CODE = os.path.join(BENCH, "cloud", "main.js")
# Seconds of each workload run unmeasured before the measured run, for every server: Parse
# Server's JIT compiles each path on its first calls (with the warm-up, its cloud-code figures
# rose by 28-45% on 2026-11-24; Basalt's did not change).
WARMUP = 3
CLOUD_MODES = ["plain", "fn-empty", "fn-hello", "cloud-create"]


def run_cloud(starters, seconds, results, rounds=1):
    """The cloud-code workloads on every server of `starters` ([(name, start)]), each workload
    on each server back to back (and repeated as `run_servers` repeats them)."""
    with started(starters, "bench-cloud") as live:
        rows = {}
        for name, server, _ in live:
            http("POST", f"{server.base}/schemas/CloudBench", {"className": "CloudBench", "fields": {
                "name": {"type": "String"}, "slug": {"type": "String"}}})
            rows[name] = {"idle_rss_mb": round(rss_kb(server.proc.pid) / 1024, 1)}
            check = http("POST", f"{server.base}/classes/CloudBench", {"name": " Check "})
            got = http("GET", f"{server.base}/classes/CloudBench/{check['objectId']}")
            assert got.get("slug") == "check", f"{name}: the beforeSave did not run: {got}"
        for mode in CLOUD_MODES:
            def one(who):
                wrk(who[1], mode, WARMUP, os.devnull, cls="CloudBench")
                return wrk(who[1], mode, seconds, os.devnull, cls="CloudBench")
            for name, got in alternating(live, rounds, one).items():
                rows[name][mode] = merged(got)
                report(f"{name} {mode}", rows[name][mode])
        for name, server, _ in live:
            rows[name]["peak_rss_mb"] = round(rss_kb(server.proc.pid, "VmHWM") / 1024, 1)
            results["cloud-" + name] = rows[name]


LIVE_CLIENTS = 1000
LIVE_RATES = [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120]
LIVE_IDLE = 10_000
LIVE_P99_LIMIT_MS = 250


def lqdrive(*args, timeout=600):
    """Runs the LiveQuery load driver (bench/driver) pinned to core 1; returns its JSON line."""
    binary = os.path.join(ROOT, "target", "release", "lqdrive")
    out = subprocess.run(["taskset", "-c", "1", binary, *map(str, args)], capture_output=True, text=True,
                         timeout=timeout, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def live_fanout(server, rate, seconds):
    # Create the class first (and its fields), so the first writes do not race schema creation.
    http("POST", f"{server.base}/classes/LiveBench", {"seq": -1, "match": False, "pad": "x"})
    return lqdrive("fanout", server.base, APP, REST, MASTER, "LiveBench", LIVE_CLIENTS, rate, seconds)


def live_search(server, seconds):
    """The highest write rate at which the server takes every write on time and every event
    arrives with p99 under 250 ms: doubling from 10/s until a rate fails, then two bisection
    steps between the last rate that passed and the first that failed."""
    best, runs = None, []

    def attempt(rate):
        r = live_fanout(server, rate, seconds)
        runs.append(r)
        ok = r["delivered"] == r["expected"] and r["failed"] == 0 and r["p99_ms"] is not None \
            and r["p99_ms"] < LIVE_P99_LIMIT_MS and r["achieved_write_rate"] >= 0.95 * rate
        print(f"    {rate:>5}/s  delivered {r['delivered']}/{r['expected']}  p50 {r['p50_ms']:.1f} ms  "
              f"p99 {r['p99_ms']:.1f} ms  writes {r['achieved_write_rate']:.0f}/s  {'ok' if ok else 'over the limit'}",
              flush=True)
        time.sleep(2)
        return ok

    failed = None
    for rate in LIVE_RATES:
        if not attempt(rate):
            failed = rate
            break
        best = rate
    if best and failed:
        lo, hi = best, failed
        for _ in range(2):
            mid = (lo + hi) // 2
            if attempt(mid):
                lo = best = mid
            else:
                hi = mid
    return best, runs


def live_idle(server):
    """Memory of LIVE_IDLE idle connections (each connected with one subscription)."""
    http("POST", f"{server.base}/classes/IdleBench", {"never": False})
    before = rss_kb(server.proc.pid)
    binary = os.path.join(ROOT, "target", "release", "lqdrive")
    hold = subprocess.Popen(["taskset", "-c", "1", binary, "idle", server.base, APP, REST, str(LIVE_IDLE), "30", "IdleBench"],
                            stdout=subprocess.PIPE, text=True)
    line = hold.stdout.readline()
    held = json.loads(line)["held"] if line else 0
    time.sleep(2)
    during = rss_kb(server.proc.pid)
    hold.kill()
    hold.wait()
    return {"connections": held, "rss_before_mb": round(before / 1024, 1), "rss_held_mb": round(during / 1024, 1),
            "kb_per_connection": round((during - before) / max(held, 1), 2)}


def run_live(name, start, seconds, results):
    """LiveQuery: fan-out at a fixed rate, the highest sustainable rate, then idle connections
    (each on a fresh server, so one's memory does not flatter the other)."""
    tmp = tempfile.mkdtemp(prefix=f"bench-live-{name}-")
    row = {}
    try:
        server = start(tmp)
        try:
            row["fixed"] = live_fanout(server, 50, seconds)
            f = row["fixed"]
            print(f"  fan-out 50 writes/s to {LIVE_CLIENTS} clients (half match): delivered {f['delivered']}/{f['expected']}  "
                  f"p50 {f['p50_ms']:.1f} ms  p99 {f['p99_ms']:.1f} ms", flush=True)
            print("  highest write rate with p99 < 250 ms:", flush=True)
            row["best_rate"], row["search"] = live_search(server, seconds)
        finally:
            server.stop()
        server = start(tmp)
        try:
            row["idle"] = live_idle(server)
            print(f"  {row['idle']['connections']} idle connections: {row['idle']['kb_per_connection']} KB each "
                  f"({row['idle']['rss_before_mb']} -> {row['idle']['rss_held_mb']} MB)", flush=True)
        finally:
            server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results[f"live-{name}"] = row


# The function behind the ACL key column Basalt adds for the declared (category, score) index.
with open(os.path.join(ROOT, "migrations", "postgres", "0009_acl_keys.sql")) as f:
    ACL_KEYS_FUNCTION = f.read()


def ceiling_db():
    """The ceiling's database: a table laid out as Basalt lays out the bench's class (indexes
    and the ACL key column), with 50,000 rows. Returns its URI."""
    uri = fresh_pg_db("basalt_ceiling")
    psql("basalt_ceiling", f'''CREATE TABLE "{CLASS}" ("objectId" text PRIMARY KEY, "createdAt" timestamptz NOT NULL,
        "updatedAt" timestamptz NOT NULL, "_rperm" text[], "_wperm" text[], score double precision, category text,
        name text, n double precision);
        CREATE INDEX ON "{CLASS}" ("createdAt"); CREATE INDEX ON "{CLASS}" ("updatedAt");
        CREATE INDEX ON "{CLASS}" USING GIN ((COALESCE("_rperm", '{{*}}'::text[]))) WITH (fastupdate = off); CREATE INDEX ON "{CLASS}" (category, score DESC);
        {ACL_KEYS_FUNCTION}
        ALTER TABLE "{CLASS}" ADD COLUMN "_acl_category" text[] GENERATED ALWAYS AS (basalt_acl_keys(COALESCE("_rperm", '{{*}}'::text[]), category)) STORED;
        CREATE INDEX ON "{CLASS}" USING GIN ("_acl_category") WITH (fastupdate = off);
        INSERT INTO "{CLASS}" SELECT 'o' || lpad(i::text, 9, '0'), now(), now(), NULL, NULL, (i * 7919) % 1000,
          'c' || (i % 10), 'item' || i, 0 FROM generate_series(0, {OBJECTS - 1}) i; ANALYZE "{CLASS}";''')
    return uri


# pgbench with Basalt's own statements, as its PostgreSQL log shows them.
CEILING_COLS = 't0."objectId", t0."createdAt", t0."updatedAt", t0."_rperm", t0."_wperm", t0."score", t0."category", t0."name", t0."n"'
CEILING_ACL = "(COALESCE(t0.\"_rperm\", '{*}'::text[]) && ARRAY['*'])"
CEILING_SCRIPTS = {
    "create": f"""\\set s random(0, 999)
INSERT INTO "{CLASS}" ("objectId", "createdAt", "updatedAt", "score", "category", "name", "n") VALUES (md5(random()::text), now(), now(), :s, 'c3', 'bench', 0);""",
    "get": f"""\\set i random(0, {OBJECTS - 1})
SELECT {CEILING_COLS} FROM "{CLASS}" t0 WHERE ((t0."objectId" = 'o' || lpad(:i::text, 9, '0'))) AND {CEILING_ACL} LIMIT 1;""",
    "query": f"""\\set c random(0, 9)
\\set s random(0, 900)
SELECT {CEILING_COLS} FROM "{CLASS}" t0 WHERE ((t0."category" = 'c' || :c AND t0."score" >= :s)) AND {CEILING_ACL} ORDER BY t0."score" DESC NULLS FIRST LIMIT 20;""",
    "update": f"""\\set i random(0, {OBJECTS - 1})
UPDATE "{CLASS}" AS t0 SET "updatedAt" = now(), "n" = COALESCE(t0."n", 0) + 1 WHERE t0."objectId" = 'o' || lpad(:i::text, 9, '0') AND (COALESCE(t0."_wperm", '{{*}}'::text[]) && ARRAY['*']) RETURNING "objectId", "n";""",
}


def ceiling_run(uri, mode, seconds):
    """pgbench running `mode`'s statement with 32 clients for `seconds`: statements/s."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(CEILING_SCRIPTS[mode] + "\n")
    try:
        res = subprocess.run(["taskset", "-c", "1", "pgbench", "-n", "-M", "prepared", "-c", str(CONCURRENCY), "-j", "1",
                              "-T", str(seconds), "-f", f.name, uri], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    return float(re.search(r"tps = ([\d.]+)", res).group(1))


def startup(runs=20, cloud=None):
    """Process start to the first successful /health, and idle memory, on SQLite; in an empty
    directory (so no ./cloud-code/main.js is picked up), or with `--cloud cloud`."""
    times, rss = [], []
    for _ in range(runs):
        tmp = tempfile.mkdtemp(prefix="bench-start-")
        port = free_port()
        extra = ["--cloud", cloud] if cloud else []
        t0 = time.perf_counter()
        proc = subprocess.Popen(basalt_cmd(port, f"sqlite://{tmp}/s.db", tmp) + extra, cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_health(f"http://127.0.0.1:{port}/parse", proc)
        times.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.2)
        rss.append(rss_kb(proc.pid) / 1024)
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    times.sort()
    return {"startup_ms_median": round(times[len(times) // 2], 1), "startup_ms_max": round(times[-1], 1),
            "idle_rss_mb": round(sorted(rss)[len(rss) // 2], 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--only", default="startup,basalt-pg,parse,pgbench,basalt-sqlite,live,cloud")
    ap.add_argument("--no-users", action="store_true", help="skip the logged-in (per-user ACL) workloads")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run each workload this many times on every server (and pgbench), alternating their order; "
                         "report the medians")
    ap.add_argument("--pg-core", type=int, default=None,
                    help="confine PostgreSQL's processes to this core for the run (the load generator's, 1), so the "
                         "server's core is its own; restored afterwards (needs the right to change their affinity)")
    args = ap.parse_args()
    if args.pg_core is not None:
        confine_postgres(str(args.pg_core))
        try:
            return run(args)
        finally:
            confine_postgres(None)
    return run(args)


def postgres_pids():
    return [int(p) for p in subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout.split()]


def confine_postgres(core):
    """Sets the CPU affinity of every PostgreSQL process (new backends inherit the postmaster's):
    `core`, or every core again when None."""
    cores = core if core is not None else f"0-{os.cpu_count() - 1}"
    for pid in postgres_pids():
        subprocess.run(["taskset", "-a", "-p", "-c", cores, str(pid)], capture_output=True)
    print(f"PostgreSQL's processes on core(s) {cores}", flush=True)


def run(args):
    users = not args.no_users
    todo = args.only.split(",")
    results = {"seconds": args.seconds, "concurrency": CONCURRENCY, "objects": OBJECTS}
    if "startup" in todo:
        print("startup (SQLite, 20 runs)", flush=True)
        results["startup"] = startup()
        print(f"  {results['startup']}", flush=True)
        print("startup with cloud-code/main.js loaded (SQLite, 20 runs)", flush=True)
        results["startup-cloud"] = startup(cloud=os.path.join(ROOT, "cloud-code", "main.js"))
        print(f"  {results['startup-cloud']}", flush=True)
    # SQLite first: PostgreSQL's checkpointer and autovacuum work off the PostgreSQL runs'
    # writes for minutes afterwards, on the same two cores.
    if "basalt-sqlite" in todo:
        print("basalt on SQLite", flush=True)
        run_servers([("basalt-sqlite", start_basalt_sqlite)], args.seconds, results, users, rounds=args.rounds)
    # Basalt and Parse Server on PostgreSQL, and pgbench's ceiling, workload by workload.
    on_pg = [("basalt-pg", start_basalt_pg)] if "basalt-pg" in todo else []
    if "parse" in todo:
        if os.path.exists(ORACLE):
            on_pg.append(("parse", start_parse))
        else:
            print(f"  Parse Server not benchmarked: {ORACLE} is missing", flush=True)
    if on_pg or "pgbench" in todo:
        names = [n for n, _ in on_pg] + (["pgbench ceiling (Basalt's statements)"] if "pgbench" in todo else [])
        print("on PostgreSQL: " + ", ".join(names), flush=True)
        pg_quiet()
        run_servers(on_pg, args.seconds, results, users, ceiling="pgbench" in todo, rounds=args.rounds)
    if "live" in todo:
        print("LiveQuery: basalt on PostgreSQL", flush=True)
        pg_quiet()
        run_live("basalt-pg", start_basalt_pg, args.seconds, results)
        if os.path.exists(ORACLE):
            print("LiveQuery: parse-server 9 on PostgreSQL", flush=True)
            pg_quiet()
            run_live("parse", lambda tmp: start_parse(tmp, ["LiveBench", "IdleBench"]), args.seconds, results)
            b, p = results["live-basalt-pg"], results["live-parse"]
            if p.get("best_rate"):
                print(f"  basalt at parse's highest rate ({p['best_rate']}/s):", flush=True)
                server = start_basalt_pg(tempfile.mkdtemp(prefix="bench-live-at-"))
                try:
                    b["at_parse_best"] = live_fanout(server, p["best_rate"], args.seconds)
                finally:
                    server.stop()
                a = b["at_parse_best"]
                print(f"    delivered {a['delivered']}/{a['expected']}  p50 {a['p50_ms']:.1f} ms  p99 {a['p99_ms']:.1f} ms", flush=True)
            print(f"\nLiveQuery ({LIVE_CLIENTS} clients)   basalt-pg   parse    ratio")
            ratio = (b["best_rate"] or 0) / p["best_rate"] if p.get("best_rate") else float("nan")
            print(f"highest writes/s (p99<250ms) {b['best_rate'] or 0:>9} {p['best_rate'] or 0:>7} {ratio:>7.1f}x")
            print(f"idle KB per connection       {b['idle']['kb_per_connection']:>9} {p['idle']['kb_per_connection']:>7}")
    if "cloud" in todo:
        def start_cloud_basalt(tmp):
            port = free_port()
            uri = fresh_pg_db("basalt_bench")
            return Server("basalt-pg", basalt_cmd(port, uri, tmp) + ["--cloud", CLOUD_CODE],
                          f"http://127.0.0.1:{port}/parse", cwd=tmp)
        cloud = [("basalt-pg", start_cloud_basalt)]
        if os.path.exists(ORACLE):
            cloud.append(("parse", lambda tmp: start_parse(tmp, cloud=CLOUD_CODE)))
        print("cloud code on PostgreSQL: " + ", ".join(n for n, _ in cloud), flush=True)
        pg_quiet()
        run_cloud(cloud, args.seconds, results, rounds=args.rounds)
        if "cloud-parse" in results:
            b, p = results["cloud-basalt-pg"], results["cloud-parse"]
            print("\ncloud code    basalt-pg req/s  parse req/s   ratio   basalt p50/p99 ms   parse p50/p99 ms"
                  "   cpu basalt/parse   per-core ratio")
            for mode in CLOUD_MODES:
                print(f"{mode:12} {b[mode]['rps']:>16.0f} {p[mode]['rps']:>12.0f} {b[mode]['rps'] / p[mode]['rps']:>7.1f}x   "
                      f"{b[mode]['p50_ms']:>6.2f}/{b[mode]['p99_ms']:<8.2f}   {p[mode]['p50_ms']:>6.2f}/{p[mode]['p99_ms']:<8.2f}"
                      f"   {b[mode]['cpu']:>5.2f}/{p[mode]['cpu']:<5.2f}        {per_core_ratio(b[mode], p[mode])}")
            per_call = 1e6 / b["fn-empty"]["rps"] - 1e6 / b["plain"]["rps"]
            print(f"basalt: an empty function costs {per_call:.0f} µs of the core more than GET /serverInfo"
                  f" ({b['fn-empty']['rps']:.0f} vs {b['plain']['rps']:.0f} req/s; p50 {b['fn-empty']['p50_ms']:.2f}"
                  f" vs {b['plain']['p50_ms']:.2f} ms)")
    if "basalt-pg" in results and "parse" in results:
        print("\nworkload   basalt-pg req/s  parse req/s   ratio   basalt p50/p99 ms   parse p50/p99 ms   pgbench   basalt/pgbench"
              "   cpu basalt/parse   per-core ratio")
        for mode in ["create", "get", "query", "update"]:
            b, p = results["basalt-pg"][mode], results["parse"][mode]
            ceil = results.get("pgbench", {}).get(mode)
            print(f"{mode:8} {b['rps']:>15.0f} {p['rps']:>12.0f} {b['rps'] / p['rps']:>7.1f}x   {b['p50_ms']:>6.2f}/{b['p99_ms']:<8.2f}   "
                  f"{p['p50_ms']:>6.2f}/{p['p99_ms']:<8.2f}  {ceil or 0:>8.0f}   {(b['rps'] / ceil * 100) if ceil else 0:>5.0f}%"
                  f"            {b['cpu']:>5.2f}/{p['cpu']:<5.2f}        {per_core_ratio(b, p)}")
        print(f"memory MB  basalt idle {results['basalt-pg']['idle_rss_mb']} peak {results['basalt-pg']['peak_rss_mb']};"
              f"  parse idle {results['parse']['idle_rss_mb']} peak {results['parse']['peak_rss_mb']}")
        if "login" in results["basalt-pg"] and "login" in results["parse"]:
            print("\nlogged in           basalt-pg req/s  parse req/s   ratio   basalt p50/p99 ms   parse p50/p99 ms   ACL cost (basalt, vs public)")
            for mode, public in [("login", None), ("user-create", "create"), ("user-get", "get"), ("user-query", "query"),
                                 ("user-query-shared", "query-shared")]:
                b, p = results["basalt-pg"][mode], results["parse"][mode]
                cost = f"{(1 - b['rps'] / results['basalt-pg'][public]['rps']) * 100:>5.0f}%" if public else "    -"
                print(f"{mode:18} {b['rps']:>15.0f} {p['rps']:>12.0f} {b['rps'] / p['rps']:>7.1f}x   {b['p50_ms']:>6.2f}/{b['p99_ms']:<8.2f}   "
                      f"{p['p50_ms']:>6.2f}/{p['p99_ms']:<8.2f}  {cost}")
            print("password hashing: basalt argon2id (m=19456 KiB, t=2, p=1); parse-server bcrypt (cost 10)")
    os.makedirs(os.path.join(BENCH, "results"), exist_ok=True)
    path = os.path.join(BENCH, "results", time.strftime("%Y%m%d-%H%M%S") + ".json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nresults written to {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
