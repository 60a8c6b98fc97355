"""`make bench`: throughput and latency of build/timewarp on SQLite and PostgreSQL, against
the machine's HTTP ceiling (nginx) measured in the same run, checked against the targets of
issue 5. Run through bench/run.sh, which installs the tools and owns the temporary folder.

Writes bench/results/latest.json and latest.md; exit 1 if any request failed (non-2xx/3xx,
an unexpected status in a scripted scenario, socket errors, or a server crash), 2 if the
harness itself could not run. A missed ratio target is reported, not a failure exit.
"""

import concurrent.futures
import datetime
import json
import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import benchlib as bl  # noqa: E402

THREADS, CONNECTIONS = 2, 32
# Shorter runs while working on the harness itself: BENCH_WARMUP_S / BENCH_MEASURE_S.
WARMUP_S = int(os.environ.get("BENCH_WARMUP_S", "3"))
MEASURE_S = int(os.environ.get("BENCH_MEASURE_S", "10"))
SEED_CLIPS = 2000
SEED_WORKERS = 8
WINDOW_YEAR = 1990
LUA = os.path.join(bl.BENCH_DIR, "lua")

# (key, label, path or None for scripted, script, expected statuses for scripted)
SCENARIOS = [
    ("health", "GET /health/", "/health/", None, None),
    ("clip", "GET /clips/{id}", "/clips/{clip}", None, None),
    ("submission", "GET /submissions/{id}", "/submissions/{sub}", None, None),
    ("list", "GET /clips?limit=50", "/clips?limit=50", None, None),
    ("window", "GET /clips?from&to (1 year)", "/clips?from=%d-01-01&to=%d-12-31" % (WINDOW_YEAR, WINDOW_YEAR), None, None),
    ("post", "POST /submissions (unique)", None, "post.lua", {"201"}),
    ("mixed", "mixed 90% read / 10% write", None, "mixed.lua", {"200", "201"}),
]

# Issue 5's targets: minimum ratio to nginx (and p99 where given), peak RSS, start-up.
TARGETS = {
    "sqlite": {"health": {"ratio": 0.75, "p99_ms": 5.0}, "clip": {"ratio": 0.35}, "list": {"ratio": 0.15},
               "post": {"ratio": 0.02}, "mixed": {"ratio": 0.15}, "rss_mb": 20, "startup_ms": 50},
    "postgres": {"health": {"ratio": 0.60}, "clip": {"ratio": 0.15}, "list": {"ratio": 0.06},
                 "post": {"ratio": 0.03}, "mixed": {"ratio": 0.08}, "rss_mb": 30, "startup_ms": 100},
}

_salt_counter = [0]


def next_salt():
    """Two id characters unique to each wrk invocation, so POSTed videos never repeat."""
    _salt_counter[0] += 1
    return _b64(_salt_counter[0], 2)


def _b64(v, width):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    out = []
    for _ in range(width):
        out.append(alphabet[v % 64])
        v //= 64
    return "".join(reversed(out))


def seed(port, n=SEED_CLIPS):
    """One contributor, then n accepted submissions spread evenly over 1960-01-01..2020-12-31."""
    c = bl.Client(port)
    contributor = c.json("POST", "/contributors", {"display_name": "bench"}, expect=(201,))["id"]
    c.close()
    start = datetime.date(1960, 1, 1)
    span = (datetime.date(2020, 12, 31) - start).days
    local = threading.local()
    done = [0]
    lock = threading.Lock()

    def one(i):
        if not hasattr(local, "c"):
            local.c = bl.Client(port)
        day = start + datetime.timedelta(days=round(i * span / (n - 1)))
        body = {"contributor_id": contributor, "raw_youtube_input": "https://www.youtube.com/watch?v=sd%09d" % i,
                "raw_date_input": day.isoformat(), "title": "Seed clip %d" % i, "notes": None}
        sub = local.c.json("POST", "/submissions", body, expect=(201,))
        if sub.get("status") != "accepted":
            raise bl.HttpError("seed submission rejected: %r" % sub)
        with lock:
            done[0] += 1
            if done[0] % 100 == 0 or done[0] == n:
                bl.progress("  seeding: %d/%d clips" % (done[0], n))
        return sub["clip_id"], sub["id"]

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(SEED_WORKERS) as ex:
        pairs = list(ex.map(one, range(n)))
    bl.progress_done()
    bl.log("  seeded %d clips in %.1f s" % (n, time.monotonic() - t0))
    return contributor, pairs


def failures_of(r, expected):
    """Failed requests in one wrk run: bad statuses plus socket errors."""
    if expected is not None:
        bad = sum(v for k, v in r["statuses"].items() if k not in expected)
    else:
        bad = r["non_2xx_3xx"]
    return bad + sum(r["socket_errors"].values())


def run_scenario(procs, port, path, script, args, expected):
    url = "http://127.0.0.1:%d%s" % (port, path or "/")
    sc = os.path.join(LUA, script) if script else None

    def once(duration):
        a = list(args)
        if script:
            a[1] = next_salt()  # args[1] is always the salt
        out = bl.run_wrk(procs, url, duration, THREADS, CONNECTIONS, sc, a)
        r = bl.parse_wrk(out)
        if r["rps"] is None:
            raise RuntimeError("could not parse wrk output:\n" + out)
        r["failed"] = failures_of(r, expected)
        return r, out

    warm, _ = once(WARMUP_S)
    r, out = once(MEASURE_S)
    r["warmup_failed"] = warm["failed"]
    r["loadavg_after"] = bl.loadavg()
    r["wrk_output"] = out
    return r


def bench_database(procs, db, url, workdir, ids_file_dir):
    res = {"scenarios": {}, "problems": []}
    bl.migrate(BINARY, url, workdir)
    server = bl.Server(procs, BINARY, url, workdir, "timewarp-" + db).start()
    bl.log("[%s] server up on port %d" % (db, server.port))
    contributor, pairs = seed(server.port)
    clip, sub = pairs[len(pairs) // 2]
    ids_file = os.path.join(ids_file_dir, "ids-%s.txt" % db)
    with open(ids_file, "w") as f:
        f.writelines("%s %s\n" % p for p in pairs)
    for key, label, path, script, expected in SCENARIOS:
        if path:
            path = path.format(clip=clip, sub=sub)
        args = []
        if script == "post.lua":
            args = [contributor, "salt"]
        elif script == "mixed.lua":
            args = [contributor, "salt", ids_file, str(WINDOW_YEAR)]
        bl.progress("[%s] %s: %ds warm-up + %ds ..." % (db, label, WARMUP_S, MEASURE_S))
        r = run_scenario(procs, server.port, path, script, args, expected)
        bl.progress_done()
        res["scenarios"][key] = r
        bl.log("[%s] %-28s %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  failed %d" % (
            db, label, r["rps"], r["p50_ms"], r["p99_ms"], r["failed"] + r["warmup_failed"]))
        if not server.alive():
            res["problems"].append("server exited (rc %s) during %s" % (server.proc.returncode, label))
            break
    res["peak_rss_kb"] = server.peak_rss_kb()
    res["problems"] += server.problems()
    try:
        res["access_log_bytes"] = os.path.getsize(server.stdout_path)
    except OSError:
        res["access_log_bytes"] = None
    rc = server.stop()
    if rc != 0:
        res["problems"].append("server exit code %s after SIGTERM (expected 0)" % rc)
    bl.progress("[%s] start-up time (5 starts) ..." % db)
    times = bl.startup_ms(procs, BINARY, url, workdir)
    bl.progress_done()
    res["startup_ms_all"] = [round(t, 2) for t in times]
    res["startup_ms"] = min(times)
    bl.log("[%s] peak RSS %.1f MB, start-up best %.1f ms (of %s)" % (
        db, (res["peak_rss_kb"] or 0) / 1024.0, res["startup_ms"], ", ".join("%.1f" % t for t in times)))
    for p in res["problems"]:
        bl.log("[%s] PROBLEM: %s" % (db, p[:300]))
    return res


def nginx_ceiling(procs, tmp, when):
    p, port = bl.start_nginx(procs, tmp)
    try:
        bl.progress("[nginx] ceiling (%s): %ds warm-up + %ds ..." % (when, WARMUP_S, MEASURE_S))
        r = run_scenario(procs, port, "/health/", None, [], None)
        bl.progress_done()
    finally:
        procs.stop(p, timeout=10)
    bl.log("[nginx] (%s) %9.0f req/s  p50 %.3f ms  p99 %.3f ms  failed %d" % (
        when, r["rps"], r["p50_ms"], r["p99_ms"], r["failed"]))
    r["when"] = when
    return r


def evaluate(results):
    """Checks against issue 5, as rows (db, what, value, target, pass)."""
    ceiling = results["nginx"]["rps"]
    checks = []
    for db, dres in results["databases"].items():
        t = TARGETS[db]
        for key, label, _, _, _ in SCENARIOS:
            r = dres["scenarios"].get(key)
            if r is None:
                checks.append({"db": db, "what": label, "value": "not run", "target": "runs", "pass": False})
                continue
            r["ratio"] = r["rps"] / ceiling if ceiling else None
            tgt = t.get(key, {})
            parts, ok = [], True
            if "ratio" in tgt:
                parts.append(">= %d%% of nginx" % round(tgt["ratio"] * 100))
                ok = ok and r["ratio"] >= tgt["ratio"]
            if "p99_ms" in tgt:
                parts.append("p99 <= %g ms" % tgt["p99_ms"])
                ok = ok and r["p99_ms"] <= tgt["p99_ms"]
            parts.append("0 failed")
            ok = ok and (r["failed"] + r["warmup_failed"]) == 0
            r["target"] = ", ".join(parts)
            r["pass"] = ok
            checks.append({"db": db, "what": label, "value": "%.1f%% of nginx, p99 %.2f ms, %d failed" % (
                r["ratio"] * 100, r["p99_ms"], r["failed"] + r["warmup_failed"]), "target": r["target"], "pass": ok})
        rss_mb = (dres.get("peak_rss_kb") or 0) / 1024.0
        dres["rss_pass"] = dres.get("peak_rss_kb") is not None and rss_mb <= t["rss_mb"]
        checks.append({"db": db, "what": "peak RSS (VmHWM)", "value": "%.1f MB" % rss_mb,
                       "target": "<= %d MB" % t["rss_mb"], "pass": dres["rss_pass"]})
        dres["startup_pass"] = dres.get("startup_ms") is not None and dres["startup_ms"] <= t["startup_ms"]
        checks.append({"db": db, "what": "start to first 200 on /health/ (best of 5)",
                       "value": "%.1f ms" % dres.get("startup_ms", float("nan")),
                       "target": "<= %d ms" % t["startup_ms"], "pass": dres["startup_pass"]})
    return checks


def fmt_table(results):
    ceiling = results["nginx"]
    rows = [("db", "scenario", "req/s", "p50 ms", "p99 ms", "failed", "x nginx", "target", "verdict")]
    rows.append(("-", "nginx ceiling (%s)" % " / ".join(
        "%.0f" % r["rps"] for r in results.get("nginx_runs", [])), "%.0f" % ceiling["rps"], "%.3f" % ceiling["p50_ms"],
                 "%.3f" % ceiling["p99_ms"], str(ceiling["failed"] + ceiling["warmup_failed"]), "1.00", "", ""))
    for db, dres in results["databases"].items():
        for key, label, _, _, _ in SCENARIOS:
            r = dres["scenarios"].get(key)
            if r is None:
                rows.append((db, label, "-", "-", "-", "-", "-", "", "MISS (not run)"))
                continue
            has_target = key in TARGETS[db]
            rows.append((db, label, "%.0f" % r["rps"], "%.3f" % r["p50_ms"], "%.3f" % r["p99_ms"],
                         str(r["failed"] + r["warmup_failed"]), "%.3f" % r["ratio"],
                         r["target"] if has_target else "0 failed",
                         ("PASS" if r["pass"] else "MISS") if has_target else
                         ("PASS" if r["failed"] + r["warmup_failed"] == 0 else "FAIL")))
        rows.append((db, "peak RSS", "%.1f MB" % ((dres.get("peak_rss_kb") or 0) / 1024.0), "", "", "", "",
                     "<= %d MB" % TARGETS[db]["rss_mb"], "PASS" if dres["rss_pass"] else "MISS"))
        rows.append((db, "start -> first 200", "%.1f ms" % dres["startup_ms"], "", "", "", "",
                     "<= %d ms" % TARGETS[db]["startup_ms"], "PASS" if dres["startup_pass"] else "MISS"))
    return rows


def text_table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def md_table(rows):
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows[1:]]
    return "\n".join(out)


def failure_lines(results):
    """Where the failed requests were: bad statuses and wrk socket errors, per scenario."""
    out = []
    labels = dict((k, l) for k, l, _, _, _ in SCENARIOS)
    runs = [("nginx", "ceiling (%s)" % r["when"], r) for r in results.get("nginx_runs", [])]
    runs += [(db, labels[k], r) for db, d in results["databases"].items() for k, r in d["scenarios"].items()]
    for db, label, r in runs:
        if r["failed"] + r["warmup_failed"]:
            errs = ", ".join("%s %d" % kv for kv in r["socket_errors"].items() if kv[1])
            out.append("%s %s: %d failed (+%d in warm-up); non-2xx/3xx %d; socket errors: %s; statuses %s" % (
                db, label, r["failed"], r["warmup_failed"], r["non_2xx_3xx"], errs or "none",
                json.dumps(r["statuses"]) if r["statuses"] else "-"))
    return out


def write_results(results, rows):
    os.makedirs(bl.RESULTS, exist_ok=True)
    slim = json.loads(json.dumps(results))
    for dres in slim["databases"].values():
        for r in dres["scenarios"].values():
            r.pop("wrk_output", None)
    slim["nginx"].pop("wrk_output", None)
    for r in slim.get("nginx_runs", []):
        r.pop("wrk_output", None)
    with open(os.path.join(bl.RESULTS, "latest.json"), "w") as f:
        json.dump(slim, f, indent=2)
        f.write("\n")
    m = results["meta"]
    md = ["# Time Warp benchmark (`make bench`)", "",
          "%s, commit %s, %d CPUs (%s), PostgreSQL %s, %s." % (
              m["date"], m["commit"], m["machine"]["cpus"], m["machine"]["cpu_model"], m.get("postgres_version", "?"),
              m["wrk"]), "",
          "wrk -t%d -c%d --latency, %d s warm-up (discarded) then %d s measured; loopback only. "
          "%d clips seeded through the API. Server: defaults (TIMEWARP_WORKERS = 2 x CPUs), "
          "TIMEWARP_ENV=development, DEBUG=false, LOG_LEVEL=info with the access log (stdout) "
          "written to a file. PostgreSQL: fsync/synchronous_commit/full_page_writes on; %s." % (
              THREADS, CONNECTIONS, WARMUP_S, MEASURE_S, SEED_CLIPS,
              ", ".join("%s=%s" % kv for kv in bl.PG_SETTINGS.items())), "",
          "1-minute load average at start %s, at end %s (anything well above 0 means other work "
          "shared the CPUs). Disk: %s fdatasync/s of 8 kB (bounds PostgreSQL commits per "
          "connection)." % (m.get("loadavg_start"), m.get("loadavg_end"), m.get("disk_fdatasync_per_s")), "",
          ("**The machine was busy during this run (see load and the two nginx figures): "
           "ratios are not trustworthy.**\n\n" if m.get("noisy") else "") +
          "The nginx ceiling is the better of two runs, before and after the databases (both in "
          "its row's label).", "",
          md_table(rows), ""]
    fails = failure_lines(results)
    if fails:
        md += ["## Failed requests", ""] + ["- " + f for f in fails] + [""]
    probs = [(db, p) for db, d in results["databases"].items() for p in d.get("problems", [])]
    if probs:
        md += ["## Problems seen", ""] + ["- %s: `%s`" % (db, p[:300]) for db, p in probs] + [""]
    md += ["Failed requests in total: %d. Exit status: %s." % (
        results["failed_requests"], "1 (requests failed)" if results["failed_requests"] else "0"), ""]
    with open(os.path.join(bl.RESULTS, "latest.md"), "w") as f:
        f.write("\n".join(md))


def main():
    global BINARY
    tmp, BINARY = bl.start_run("bench.py", "bench/run.sh")
    if tmp is None:
        return BINARY
    procs = bl.Procs(tmp)
    pg = None
    wrk_version = (bl.subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0].split(" [")[0])
    results = {"meta": {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "commit": bl.git_describe(), "machine": bl.machine(), "wrk": wrk_version,
                        "wrk_settings": {"threads": THREADS, "connections": CONNECTIONS, "warmup_s": WARMUP_S,
                                         "measure_s": MEASURE_S},
                        "seed_clips": SEED_CLIPS, "postgres_settings": bl.PG_SETTINGS,
                        "server_env": {"TIMEWARP_ENV": "development", "DEBUG": "false", "LOG_LEVEL": "info",
                                       "access_log": "stdout to a file"}},
               "databases": {}}
    results["meta"]["loadavg_start"] = bl.loadavg()
    results["meta"]["disk_fdatasync_per_s"] = bl.fdatasync_per_s(tmp)
    if (results["meta"]["loadavg_start"] or 0) > 0.5:
        bl.log("bench: WARNING: 1-min load average is %.2f before starting: other work on this machine "
               "will skew the figures" % results["meta"]["loadavg_start"])
    try:
        nginx_runs = [nginx_ceiling(procs, tmp, "before")]
        sdir = os.path.join(tmp, "sqlite")
        os.makedirs(sdir)
        results["databases"]["sqlite"] = bench_database(
            procs, "sqlite", "sqlite:///" + os.path.join(sdir, "timewarp.sqlite3"), sdir, tmp)
        bl.log("[postgres] initdb + start ...")
        pg = bl.PgCluster(tmp).setup()
        results["meta"]["postgres_version"] = pg.version()
        url = pg.create_database("timewarp_bench")
        pdir = os.path.join(tmp, "postgres-server")
        os.makedirs(pdir)
        results["databases"]["postgres"] = bench_database(procs, "postgres", url, pdir, tmp)
        nginx_runs.append(nginx_ceiling(procs, tmp, "after"))
        # The ceiling is the better of the two runs: ratios are then never flattered by a
        # moment when the machine was busy with something else.
        results["nginx"] = dict(max(nginx_runs, key=lambda r: r["rps"]))
        results["nginx_runs"] = nginx_runs
    except Exception as e:  # the harness could not finish: say why, fail
        bl.progress_done()
        print("bench: ABORTED: %s" % e, file=sys.stderr)
        return 2
    finally:
        procs.close()
        if pg:
            pg.destroy()

    results["meta"]["loadavg_end"] = bl.loadavg()
    results["checks"] = evaluate(results)
    failed = sum(r["failed"] + r["warmup_failed"] for r in results["nginx_runs"])
    for dres in results["databases"].values():
        for r in dres["scenarios"].values():
            failed += r["failed"] + r["warmup_failed"]
        if any("exited" in p or "exit code" in p for p in dres["problems"]):
            failed += 1
    results["failed_requests"] = failed
    runs = [r["rps"] for r in results["nginx_runs"]]
    if min(runs) < 0.85 * max(runs) or (results["meta"]["loadavg_start"] or 0) > 1.0:
        results["meta"]["noisy"] = True
        bl.log("bench: WARNING: the machine was busy (nginx %s req/s before/after, load %.1f): "
               "ratios are not trustworthy; rerun on a quiet machine" % (
                   " / ".join("%.0f" % r for r in runs), results["meta"]["loadavg_start"] or 0))
    rows = fmt_table(results)
    write_results(results, rows)
    bl.log("")
    bl.log(text_table(rows))
    bl.log("")
    for f in failure_lines(results):
        bl.log("FAILED: " + f)
    misses = [c for c in results["checks"] if not c["pass"]]
    bl.log("targets: %d PASS, %d MISS; failed requests: %d" % (len(results["checks"]) - len(misses), len(misses), failed))
    bl.log("written: bench/results/latest.json, bench/results/latest.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
