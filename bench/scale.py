"""`make bench-scale`: does the cost of a request stay flat as the archive grows?

For each database (SQLite, a throwaway PostgreSQL) and each size (2,000 and 1,000,000
clips, bulk-loaded with SQL, not HTTP), starts build/timewarp and times, with one keep-alive
connection, the median of sequential requests to: the first page, a page deep in the
archive (reached by walking cursors), a one-month window, GET /clips/{id} and GET
/submissions/{id}. Checks: deep page within 1.5x of the first page; every endpoint at
1,000,000 within 2x of 2,000. Run through bench/scale.sh. Writes bench/results/scale.{json,md}.
Exit 1 if the server failed (bad status, crash, error logged), 2 if the harness could not
run; a missed check is reported (MISS), not a failure exit.
"""

import datetime
import json
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import benchlib as bl  # noqa: E402

SIZES = [int(s) for s in os.environ.get("BENCH_SCALE_SIZES", "2000,1000000").split(",")]
CHUNK = 100000          # rows per transaction while bulk loading (progress between chunks)
CONTRIBUTORS = 100
SAMPLES = int(os.environ.get("BENCH_SCALE_SAMPLES", "200"))
WARMUP = 20
DEEP_ITEMS = 10000      # how deep the deep page is (less when the archive is smaller)
WALK_LIMIT = 200
MONTH = ("1990-06-01", "1990-06-30")
DAYS = 22281            # 1960-01-01 .. 2020-12-31 inclusive
DATE_STEP = 7919        # prime, coprime to DAYS: n -> date scatters clips over every day

# The generated rows, shared by both dialects:
#   clip n: video 'S' + n zero-padded to 10 digits (unique, so unique (video, date) holds),
#   performance_date 1960-01-01 + (n * 7919 mod 22281) days (every day of 1960-2020,
#   in no particular order), created_at = submitted_at = 2023-11-14T22:13:20Z + n seconds
#   with (n * 7919 mod 10^6) microseconds, contributor 1 + n mod 100, and an accepted
#   submission n whose clip is n. Public ids are prefix + 32 random lowercase hex digits.

SQLITE_TS = ("strftime('%Y-%m-%dT%H:%M:%S', 1700000000 + n, 'unixepoch') || "
             "printf('.%06dZ', (n * 7919) % 1000000)")
SQLITE_DATE = "date('1960-01-01', '+' || ((n * %d) %% %d) || ' days')" % (DATE_STEP, DAYS)


def sqlite_seed_sql(total):
    out = ["PRAGMA foreign_keys=OFF;", "PRAGMA synchronous=OFF;", "PRAGMA cache_size=-262144;",
           "BEGIN;",
           "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %d) "
           "INSERT INTO contributors (id, public_id, display_name, external_id, created_at) "
           "SELECT n, 'ctr_' || lower(hex(randomblob(16))), 'Scale contributor ' || n, NULL, "
           "strftime('%%Y-%%m-%%dT%%H:%%M:%%S', 1690000000 + n, 'unixepoch') || '.000000Z' FROM s;" % CONTRIBUTORS,
           "COMMIT;"]
    for a in range(1, total + 1, CHUNK):
        b = min(total, a + CHUNK - 1)
        cte = "WITH RECURSIVE s(n) AS (SELECT %d UNION ALL SELECT n + 1 FROM s WHERE n < %d) " % (a, b)
        out += [
            "BEGIN;",
            cte + "INSERT INTO submissions (id, public_id, contributor_id, clip_id, status, validation_error, "
                  "raw_youtube_input, raw_date_input, title, notes, submitted_at) "
                  "SELECT n, 'sub_' || lower(hex(randomblob(16))), 1 + n %% %d, n, 'accepted', NULL, "
                  "'https://www.youtube.com/watch?v=' || printf('S%%010d', n), %s, 'Scale clip ' || n, NULL, %s "
                  "FROM s;" % (CONTRIBUTORS, SQLITE_DATE, SQLITE_TS),
            cte + "INSERT INTO clips (id, public_id, youtube_video_id, performance_date, title, notes, created_at, "
                  "created_by_contributor_id, added_via_submission_id) "
                  "SELECT n, 'clp_' || lower(hex(randomblob(16))), printf('S%%010d', n), %s, 'Scale clip ' || n, "
                  "NULL, %s, 1 + n %% %d, n FROM s;" % (SQLITE_DATE, SQLITE_TS, CONTRIBUTORS),
            "COMMIT;",
            ".print LOADED %d" % b,
        ]
    out += ["PRAGMA wal_checkpoint(TRUNCATE);", ".print DONE"]
    return "\n".join(out) + "\n"


PG_TS = ("to_char(timestamp '2023-11-14 22:13:20' + n * interval '1 second' + "
         "((n * 7919) % 1000000) * interval '1 microsecond', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
PG_DATE = "(date '1960-01-01' + ((n * %d) %% %d)::int)" % (DATE_STEP, DAYS)


def pg_seed_sql(total):
    # Identity columns are filled with explicit ids (OVERRIDING SYSTEM VALUE) and the
    # sequences moved past them afterwards. The clips <-> submissions foreign keys form a
    # cycle and are not deferrable, so their triggers are skipped for the load
    # (session_replication_role); the rows are consistent by construction.
    out = ["SET session_replication_role = replica;",
           "INSERT INTO contributors (id, public_id, display_name, external_id, created_at) OVERRIDING SYSTEM VALUE "
           "SELECT n, 'ctr_' || md5(random()::text || n), 'Scale contributor ' || n, NULL, "
           "to_char(timestamp '2023-07-22 04:26:40' + n * interval '1 second', 'YYYY-MM-DD\"T\"HH24:MI:SS') || '.000000Z' "
           "FROM generate_series(1, %d) AS n;" % CONTRIBUTORS]
    for a in range(1, total + 1, CHUNK):
        b = min(total, a + CHUNK - 1)
        gs = "FROM generate_series(%d::bigint, %d::bigint) AS n;" % (a, b)
        out += [
            "BEGIN;",
            "INSERT INTO submissions (id, public_id, contributor_id, clip_id, status, validation_error, "
            "raw_youtube_input, raw_date_input, title, notes, submitted_at) OVERRIDING SYSTEM VALUE "
            "SELECT n, 'sub_' || md5(random()::text || n), 1 + n %% %d, n, 'accepted', NULL, "
            "'https://www.youtube.com/watch?v=S' || lpad(n::text, 10, '0'), to_char(%s, 'YYYY-MM-DD'), "
            "'Scale clip ' || n, NULL, %s %s" % (CONTRIBUTORS, PG_DATE, PG_TS, gs),
            "INSERT INTO clips (id, public_id, youtube_video_id, performance_date, title, notes, created_at, "
            "created_by_contributor_id, added_via_submission_id) OVERRIDING SYSTEM VALUE "
            "SELECT n, 'clp_' || md5(random()::text || n), 'S' || lpad(n::text, 10, '0'), %s, 'Scale clip ' || n, "
            "NULL, %s, 1 + n %% %d, n %s" % (PG_DATE, PG_TS, CONTRIBUTORS, gs),
            "COMMIT;",
            "\\echo LOADED %d" % b,
        ]
    out += ["RESET session_replication_role;"]
    for t in ("contributors", "submissions", "clips"):
        out.append("SELECT setval(pg_get_serial_sequence('%s', 'id'), (SELECT max(id) FROM %s));" % (t, t))
    # What autovacuum does shortly after a bulk load in production: statistics and the
    # visibility map (index-only scans).
    out += ["VACUUM ANALYZE;", "\\echo DONE"]
    return "\n".join(out) + "\n"


def load(argv, sql, label, total, procs):
    """Feed the SQL to a CLI, showing its LOADED lines as progress."""
    t0 = time.monotonic()
    sql_path = os.path.join(os.environ["BENCH_TMP"], "seed.sql")
    with open(sql_path, "w") as f:
        f.write(sql)
    os.chmod(sql_path, 0o644)
    with open(sql_path) as stdin:
        p = procs.spawn(argv, "loader", stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tail = []
        for line in p.stdout:
            line = line.rstrip("\n")
            if line.startswith("LOADED "):
                n = int(line.split()[1])
                bl.progress("  %s: %s/%s clips loaded (%.0f s)" % (label, format(n, ","), format(total, ","),
                                                                 time.monotonic() - t0))
            elif line == "DONE":
                pass
            elif line.strip():
                tail.append(line)
        p.wait()
        procs.stop(p)
    bl.progress_done()
    if p.returncode != 0 or any("rror" in t for t in tail):
        raise RuntimeError("%s: bulk load failed (rc %s):\n%s" % (label, p.returncode, "\n".join(tail[-20:])))
    secs = time.monotonic() - t0
    bl.log("  %s: %s clips in %.1f s" % (label, format(total, ","), secs))
    return secs


ENDPOINTS = [("first_page", "GET /clips?limit=50 (first page)"),
             ("deep_page", "deep page (limit=50 at a walked cursor)"),
             ("month_window", "one-month window"),
             ("clip_by_id", "GET /clips/{id}"),
             ("submission_by_id", "GET /submissions/{id}")]


def walk(client, depth):
    """Follow next_cursor with big pages until `depth` items are behind us; the cursor there."""
    cursor, walked = None, 0
    t0 = time.monotonic()
    while walked < depth:
        page = client.json("GET", "/clips?limit=%d" % WALK_LIMIT + ("&cursor=" + cursor if cursor else ""))
        walked += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            raise RuntimeError("archive ended after %d items, before %d" % (walked, depth))
    return cursor, walked, time.monotonic() - t0


def plan(client, size, ids, month_limit):
    """Per endpoint, the list of SAMPLES paths to time (ids vary; list pages repeat)."""
    depth = min(DEEP_ITEMS, size // 2)  # 10,000 deep; half-way into an archive too small for that
    cursor, walked, walk_s = walk(client, depth)
    month = "/clips?from=%s&to=%s" % MONTH
    info = {"deep_page": {"depth": walked, "walk_seconds": round(walk_s, 2)},
            "month_window": {"items": len(client.json("GET", month)["items"])}}
    paths = {"first_page": ["/clips?limit=50"] * SAMPLES,
             "deep_page": ["/clips?limit=50&cursor=" + cursor] * SAMPLES,
             "month_window": [month] * SAMPLES,
             "clip_by_id": ["/clips/" + c for c, _ in ids][:SAMPLES],
             "submission_by_id": ["/submissions/" + s for _, s in ids][:SAMPLES]}
    if month_limit:
        # The same window cut to the item count the small archive returns, so the size
        # check compares equal amounts of JSON.
        paths["month_window_same_items"] = [month + "&limit=%d" % month_limit] * SAMPLES
        info["month_window_same_items"] = {"items": month_limit}
    return paths, info


def time_interleaved(targets):
    """targets: {label: (client, {endpoint: [paths]})}. Requests go round-robin over every
    server and endpoint, so a burst of other work on the machine hits all of them alike and
    the ratios stay fair. Returns {label: {endpoint: {median_ms, p90_ms, n}}}."""
    order = [(label, ep) for label, (_, paths) in targets.items() for ep in paths]
    times = {label: {ep: [] for ep in paths} for label, (_, paths) in targets.items()}
    rounds = max(len(p) for _, (_, paths) in targets.items() for p in paths.values())
    for i in range(-WARMUP, rounds):
        for label, ep in order:
            client, paths = targets[label]
            lst = paths[ep]
            path = lst[i % len(lst)]
            t0 = time.perf_counter_ns()
            status, _ = client.request("GET", path)
            dt = (time.perf_counter_ns() - t0) / 1e6
            if status != 200:
                raise bl.HttpError("%s: GET %s -> %d" % (label, path, status))
            if i >= 0:
                times[label][ep].append(dt)
    out = {}
    for label, eps in times.items():
        out[label] = {}
        for ep, ts in eps.items():
            s = sorted(ts)
            out[label][ep] = {"median_ms": round(bl.median(ts), 4), "p90_ms": round(s[int(len(s) * 0.9)], 4),
                              "n": len(ts)}
    return out


def sample_ids_sqlite(path, total, n):
    rows = subprocess.run(["sqlite3", path, "SELECT c.public_id, s.public_id FROM clips c JOIN submissions s "
                           "ON s.id = c.added_via_submission_id ORDER BY random() LIMIT %d;" % n],
                          capture_output=True, text=True, timeout=600, check=True)
    return [tuple(line.split("|")) for line in rows.stdout.split()]


def sample_ids_pg(pg, db, n):
    out = pg.psql("SELECT c.public_id || '|' || s.public_id FROM clips c JOIN submissions s "
                  "ON s.id = c.added_via_submission_id ORDER BY random() LIMIT %d;" % n, db=db)
    return [tuple(line.split("|")) for line in out.split()]


def prepare(procs, pg, db, size, tmp):
    """A fresh, migrated, bulk-loaded database: (url, sample ids, facts, cleanup)."""
    label = "%s %s" % (db, format(size, ","))
    bl.log("[%s] fresh database, migrate, bulk load" % label)
    wd = os.path.join(tmp, "%s-%d" % (db, size))
    os.makedirs(wd)
    if db == "sqlite":
        path = os.path.join(wd, "timewarp.sqlite3")
        url = "sqlite:///" + path
        bl.migrate(BINARY, url, wd)
        load_s = load(["sqlite3", path], sqlite_seed_sql(size), label, size, procs)
        ids = sample_ids_sqlite(path, size, SAMPLES)
        db_bytes = sum(os.path.getsize(os.path.join(wd, f)) for f in os.listdir(wd) if f.startswith("timewarp.sqlite3"))

        def drop():
            for f in os.listdir(wd):
                if f.startswith("timewarp.sqlite3"):
                    os.remove(os.path.join(wd, f))
    else:
        name = "scale_%d" % size
        url = pg.create_database(name)
        bl.migrate(BINARY, url, wd)
        load_s = load(pg.psql_argv(name), pg_seed_sql(size), label, size, procs)
        ids = sample_ids_pg(pg, name, SAMPLES)
        db_bytes = int(pg.psql("SELECT pg_database_size('%s');" % name).strip())

        def drop():
            pg.psql('DROP DATABASE "%s";' % name)
    if len(ids) < SAMPLES:
        raise RuntimeError("%s: could not sample %d clip ids (got %d)" % (label, SAMPLES, len(ids)))
    return url, ids, {"load_seconds": round(load_s, 1), "database_bytes": db_bytes}, drop, wd


def run_database(procs, pg, db, tmp):
    """Load every size, then time all of them together (servers side by side)."""
    prepared = {size: prepare(procs, pg, db, size, tmp) for size in sorted(SIZES)}
    servers, targets, infos = {}, {}, {}
    results = {}
    try:
        month_limit = None
        for size in sorted(SIZES):
            url, ids, facts, _, wd = prepared[size]
            servers[size] = bl.Server(procs, BINARY, url, wd, "timewarp").start()
            client = bl.Client(servers[size].port)
            paths, info = plan(client, size, ids, month_limit)
            if month_limit is None:
                month_limit = max(1, info["month_window"]["items"])
            targets[size] = (client, paths)
            infos[size] = info
        bl.progress("[%s] timing: %d rounds over %d servers x %d endpoints, interleaved ..." % (
            db, SAMPLES, len(targets), len(next(iter(targets.values()))[1])))
        timings = time_interleaved(targets)
        bl.progress_done()
    finally:
        for size, srv in servers.items():
            rc = srv.stop()
            results[size] = {"server_exit": rc, "server_problems": srv.problems()}
        for size in prepared:
            prepared[size][3]()
    for size in sorted(SIZES):
        r = results[size]
        r.update(prepared[size][2])
        for ep, t in timings[size].items():
            r[ep] = dict(t, **infos[size].get(ep, {}))
        label = "%s %s" % (db, format(size, ","))
        for ep in [e for e, _ in ENDPOINTS] + ["month_window_same_items"]:
            if ep in r:
                extra = ""
                if "depth" in r[ep]:
                    extra = " (at item %d)" % r[ep]["depth"]
                if "items" in r[ep]:
                    extra = " (%d items)" % r[ep]["items"]
                bl.log("[%s] %-24s median %7.3f ms  p90 %7.3f ms%s" % (label, ep, r[ep]["median_ms"],
                                                                     r[ep]["p90_ms"], extra))
    return {str(k): v for k, v in results.items()}


def evaluate(results):
    checks = []
    small, big = min(SIZES), max(SIZES)
    for db, by_size in results["runs"].items():
        for size, r in sorted(by_size.items(), key=lambda kv: int(kv[0])):
            ratio = r["deep_page"]["median_ms"] / r["first_page"]["median_ms"]
            checks.append({"db": db, "check": "deep page (item %d) vs first page at %s clips" % (
                r["deep_page"]["depth"], format(int(size), ",")), "ratio": round(ratio, 3), "limit": 1.5,
                "pass": ratio <= 1.5})
        if str(small) in by_size and str(big) in by_size and small != big:
            s, b = by_size[str(small)], by_size[str(big)]
            for key, label in ENDPOINTS:
                bkey = key
                note = ""
                if key == "month_window" and "month_window_same_items" in b:
                    # Compare equal amounts of output: the big archive's window cut to the
                    # small archive's item count.
                    bkey = "month_window_same_items"
                    note = " (%d items each)" % b[bkey]["items"]
                ratio = b[bkey]["median_ms"] / s[key]["median_ms"]
                checks.append({"db": db, "check": "%s: %s vs %s clips%s" % (label, format(big, ","), format(small, ","),
                                                                          note),
                               "ratio": round(ratio, 3), "limit": 2.0, "pass": ratio <= 2.0})
    return checks


def write_results(results):
    os.makedirs(bl.RESULTS, exist_ok=True)
    with open(os.path.join(bl.RESULTS, "scale.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    m = results["meta"]
    md = ["# Time Warp scale benchmark (`make bench-scale`)", "",
          "%s, commit %s, %d CPUs, PostgreSQL %s. Median (and p90) of %d sequential GETs per "
          "endpoint over one keep-alive connection per server, after %d warm-up rounds; requests "
          "interleaved round-robin over both archive sizes (two servers side by side) and every "
          "endpoint, so load from elsewhere hits all alike; rows bulk-loaded with SQL. Deep page: "
          "cursors walked with limit=%d to the depth shown, then limit=50 timed there. One-month "
          "window: %s..%s (default limit 50). 1-minute load average at start %s, at end %s." % (
              m["date"], m["commit"], m["machine"]["cpus"], m.get("postgres_version", "?"), SAMPLES, WARMUP,
              WALK_LIMIT, MONTH[0], MONTH[1], m.get("loadavg_start"), m.get("loadavg_end")), "",
          "| db | clips | load s | first page | deep page | month window | clip by id | submission by id |",
          "|---|---|---|---|---|---|---|---|"]
    for db, by_size in results["runs"].items():
        for size, r in sorted(by_size.items(), key=lambda kv: int(kv[0])):
            def cell(k):
                v = r[k]
                extra = ""
                if k == "deep_page":
                    extra = " @%d" % v["depth"]
                if k == "month_window":
                    extra = " (%d items)" % v["items"]
                return "%.3f / %.3f ms%s" % (v["median_ms"], v["p90_ms"], extra)
            md.append("| %s | %s | %s | %s |" % (db, format(int(size), ","), r["load_seconds"],
                                                 " | ".join(cell(k) for k, _ in ENDPOINTS)))
    md += ["", "Cells: median / p90.", "", "| db | check | ratio | limit | verdict |", "|---|---|---|---|---|"]
    for c in results["checks"]:
        md.append("| %s | %s | %.2f | %.1f | %s |" % (c["db"], c["check"], c["ratio"], c["limit"],
                                                     "PASS" if c["pass"] else "MISS"))
    with open(os.path.join(bl.RESULTS, "scale.md"), "w") as f:
        f.write("\n".join(md) + "\n")


def main():
    global BINARY
    tmp, BINARY = bl.start_run("scale.py", "bench/scale.sh")
    if tmp is None:
        return BINARY
    procs = bl.Procs(tmp)
    pg = None
    results = {"meta": {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "commit": bl.git_describe(), "machine": bl.machine(), "sizes": SIZES, "samples": SAMPLES,
                        "postgres_settings": bl.PG_SETTINGS, "loadavg_start": bl.loadavg()},
               "runs": {}}
    t_start = time.monotonic()
    try:
        bl.log("[postgres] initdb + start ...")
        pg = bl.PgCluster(tmp).setup()
        results["meta"]["postgres_version"] = pg.version()
        for db in ("sqlite", "postgres"):
            results["runs"][db] = run_database(procs, pg, db, tmp)
    except Exception as e:
        bl.progress_done()
        print("bench-scale: ABORTED: %s" % e, file=sys.stderr)
        return 2
    finally:
        procs.close()
        if pg:
            pg.destroy()
    results["meta"]["loadavg_end"] = bl.loadavg()
    results["meta"]["seconds"] = round(time.monotonic() - t_start, 1)
    results["checks"] = evaluate(results)
    write_results(results)
    bl.log("")
    width = max(len(c["check"]) for c in results["checks"])
    for c in results["checks"]:
        bl.log("%-8s  %-*s  %5.2fx (limit %.1fx)  %s" % (c["db"], width, c["check"], c["ratio"], c["limit"],
                                                      "PASS" if c["pass"] else "MISS"))
    problems = [(db, s, p) for db, by in results["runs"].items() for s, r in by.items()
                for p in r["server_problems"] + ([] if r["server_exit"] == 0 else ["exit code %s" % r["server_exit"]])]
    for db, s, p in problems:
        bl.log("PROBLEM %s %s: %s" % (db, s, p[:300]))
    misses = sum(1 for c in results["checks"] if not c["pass"])
    bl.log("")
    bl.log("scale: %d PASS, %d MISS in %.0f s; written bench/results/scale.json, bench/results/scale.md" % (
        len(results["checks"]) - misses, misses, results["meta"]["seconds"]))
    # Like `make bench`: a missed check is reported; only failures (a request that failed,
    # a server that crashed or logged errors) make the exit status non-zero.
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
