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

# Rounds: every scenario (nginx's included) runs once per round, rounds one after another,
# and each ratio is taken within its round; the report gives the median of the rounds.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))

# The ceilings, each measured in every round: nginx's `return 200` (tiny body), and nginx
# serving the very bytes Time Warp answers (a captured list page and clip) from files, plus
# its 304 for that clip file.
NGINX_SCENARIOS = [
    ("return200", "nginx return 200", "/health/", []),
    ("list_file", "nginx, the same list page from a file", "/same/list.json", []),
    ("clip_file", "nginx, the same clip from a file", "/same/clip.json", []),
    ("clip_file_304", "nginx, 304 for that file", "/same/clip.json", ["If-None-Match: {nginx_etag}"]),
]

# (key, label, path or None for scripted, script, expected statuses for scripted,
#  request headers, the nginx ceiling it is compared with)
SCENARIOS = [
    ("health", "GET /health/", "/health/", None, None, [], "return200"),
    ("health_live", "GET /health/live", "/health/live", None, None, [], "return200"),
    ("clip", "GET /clips/{id}", "/clips/{clip}", None, None, [], "return200"),
    ("clip_304", "GET /clips/{id}, If-None-Match (304)", "/clips/{clip}", None, None,
     ["If-None-Match: {clip_etag}"], "clip_file_304"),
    ("submission", "GET /submissions/{id}", "/submissions/{sub}", None, None, [], "return200"),
    ("list", "GET /clips?limit=50", "/clips?limit=50", None, None, [], "list_file"),
    ("window", "GET /clips?from&to (1 year)", "/clips?from=%d-01-01&to=%d-12-31" % (WINDOW_YEAR, WINDOW_YEAR),
     None, None, [], "return200"),
    ("post", "POST /submissions (unique)", None, "post.lua", {"201"}, [], "return200"),
    ("mixed", "mixed 90% read / 10% write", None, "mixed.lua", {"200", "201"}, [], "return200"),
]
READS = ("health", "health_live", "clip", "clip_304", "submission", "list", "window")

# Issue 14's goals: minimum median ratio to the scenario's ceiling; every read's p99 at
# most 2x nginx's p99 for the same kind of answer; RSS and start-up as before.
TARGETS = {
    "sqlite": {"health": {"ratio": 0.9}, "health_live": {"ratio": 0.9}, "clip": {"ratio": 0.7},
               "list": {"ratio": 0.6}, "post": {"ratio": 0.08}, "mixed": {"ratio": 0.3},
               "rss_mb": 20, "startup_ms": 50},
    "postgres": {"health": {"ratio": 0.9}, "health_live": {"ratio": 0.9}, "clip": {"ratio": 0.7},
                 "list": {"ratio": 0.6}, "post": {"ratio": 0.05}, "mixed": {"ratio": 0.3},
                 "rss_mb": 30, "startup_ms": 100},
}
P99_FACTOR = 2.0

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


def run_scenario(procs, port, path, script, args, expected, headers=()):
    url = "http://127.0.0.1:%d%s" % (port, path or "/")
    sc = os.path.join(LUA, script) if script else None

    def once(duration):
        a = list(args)
        if script:
            a[1] = next_salt()  # args[1] is always the salt
        out = bl.run_wrk(procs, url, duration, THREADS, CONNECTIONS, sc, a, headers=headers)
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


def prepare_database(procs, db, url, workdir, ids_file_dir):
    """Migrates, starts and seeds one server; it then stays up for every round."""
    bl.migrate(BINARY, url, workdir)
    server = bl.Server(procs, BINARY, url, workdir, "timewarp-" + db).start()
    bl.log("[%s] server up on port %d" % (db, server.port))
    contributor, pairs = seed(server.port)
    clip, sub = pairs[len(pairs) // 2]
    ids_file = os.path.join(ids_file_dir, "ids-%s.txt" % db)
    with open(ids_file, "w") as f:
        f.writelines("%s %s\n" % p for p in pairs)
    c = bl.Client(server.port)
    st, clip_body = c.request("GET", "/clips/" + clip)
    clip_etag = c.last_headers.get("etag", "")
    st2, list_body = c.request("GET", "/clips?limit=50")
    c.close()
    if st != 200 or st2 != 200:
        raise RuntimeError("[%s] could not capture the clip and list answers (%d, %d)" % (db, st, st2))
    if not clip_etag:  # an older binary (TIMEWARP_BIN): its "304" row then measures 200s
        bl.log("[%s] the server sends no ETag: the If-None-Match scenario gets full answers" % db)
        clip_etag = '"0000000000000000"'
    return {"db": db, "url": url, "workdir": workdir, "server": server, "contributor": contributor,
            "clip": clip, "sub": sub, "ids_file": ids_file, "clip_etag": clip_etag,
            "clip_body": clip_body, "list_body": list_body,
            "res": {"scenarios": {k: [] for k, *_ in SCENARIOS}, "problems": []}}


def bench_round(procs, d, rnd):
    """One run of every scenario against one database's server."""
    db, server, res = d["db"], d["server"], d["res"]
    for key, label, path, script, expected, headers, _ in SCENARIOS:
        if path:
            path = path.format(clip=d["clip"], sub=d["sub"])
        hdrs = [h.format(clip_etag=d["clip_etag"]) for h in headers]
        args = []
        if script == "post.lua":
            args = [d["contributor"], "salt"]
        elif script == "mixed.lua":
            args = [d["contributor"], "salt", d["ids_file"], str(WINDOW_YEAR)]
        bl.progress("[%s] round %d/%d %s: %ds warm-up + %ds ..." % (db, rnd, ROUNDS, label, WARMUP_S, MEASURE_S))
        r = run_scenario(procs, server.port, path, script, args, expected, hdrs)
        bl.progress_done()
        r["round"] = rnd
        res["scenarios"][key].append(r)
        bl.log("[%s] round %d %-36s %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  failed %d" % (
            db, rnd, label, r["rps"], r["p50_ms"], r["p99_ms"], r["failed"] + r["warmup_failed"]))
        if not server.alive():
            res["problems"].append("server exited (rc %s) during %s" % (server.proc.returncode, label))
            return False
    return True


def finish_database(procs, d):
    db, server, res = d["db"], d["server"], d["res"]
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
    times = bl.startup_ms(procs, BINARY, d["url"], d["workdir"])
    bl.progress_done()
    res["startup_ms_all"] = [round(t, 2) for t in times]
    res["startup_ms"] = min(times)
    bl.log("[%s] peak RSS %.1f MB, start-up best %.1f ms (of %s)" % (
        db, (res["peak_rss_kb"] or 0) / 1024.0, res["startup_ms"], ", ".join("%.1f" % t for t in times)))
    for p in res["problems"]:
        bl.log("[%s] PROBLEM: %s" % (db, p[:300]))
    return res


def nginx_round(procs, tmp, files, rnd, runs):
    p, port = bl.start_nginx(procs, tmp, files)
    try:
        c = bl.Client(port)
        c.request("GET", "/same/clip.json")
        nginx_etag = c.last_headers.get("etag", "")
        c.close()
        for key, label, path, headers in NGINX_SCENARIOS:
            hdrs = [h.format(nginx_etag=nginx_etag) for h in headers]
            bl.progress("[nginx] round %d/%d %s: %ds warm-up + %ds ..." % (rnd, ROUNDS, label, WARMUP_S, MEASURE_S))
            r = run_scenario(procs, port, path, None, [], None, hdrs)
            bl.progress_done()
            r["round"] = rnd
            runs[key].append(r)
            bl.log("[nginx] round %d %-36s %9.0f req/s  p50 %.3f ms  p99 %.3f ms  failed %d" % (
                rnd, label, r["rps"], r["p50_ms"], r["p99_ms"], r["failed"]))
    finally:
        procs.stop(p, timeout=10)


def summarise(runs, ceilings=None, ceiling_key=None):
    """Medians over the rounds; the ratio is taken per round, against that round's ceiling."""
    out = {"rps": bl.median([r["rps"] for r in runs]), "p50_ms": bl.median([r["p50_ms"] for r in runs]),
           "p99_ms": bl.median([r["p99_ms"] for r in runs]), "rounds_rps": [round(r["rps"]) for r in runs],
           "failed": sum(r["failed"] + r["warmup_failed"] for r in runs)}
    if ceilings is not None:
        ratios, p99s = [], []
        for r in runs:
            c = next(x for x in ceilings[ceiling_key] if x["round"] == r["round"])
            ratios.append(r["rps"] / c["rps"])
            p99s.append(r["p99_ms"] / c["p99_ms"] if c["p99_ms"] else float("inf"))
        out["ratio"] = bl.median(ratios)
        out["rounds_ratio"] = [round(x, 3) for x in ratios]
        out["p99_vs_nginx"] = bl.median(p99s)
    return out


def evaluate(results):
    """Checks against issue 14, as rows (db, what, value, target, pass)."""
    ceilings = results["nginx"]
    checks = []
    for db, dres in results["databases"].items():
        t = TARGETS[db]
        dres["summary"] = {}
        for key, label, _, _, _, _, ckey in SCENARIOS:
            runs = dres["scenarios"].get(key) or []
            if not runs:
                checks.append({"db": db, "what": label, "value": "not run", "target": "runs", "pass": False})
                continue
            sm = summarise(runs, ceilings, ckey)
            dres["summary"][key] = sm
            tgt = t.get(key, {})
            parts, ok = [], True
            if "ratio" in tgt:
                parts.append(">= %.2f of %s" % (tgt["ratio"], ckey))
                ok = ok and sm["ratio"] >= tgt["ratio"]
            if key in READS:
                parts.append("p99 <= %gx nginx's" % P99_FACTOR)
                ok = ok and sm["p99_vs_nginx"] <= P99_FACTOR
            parts.append("0 failed")
            ok = ok and sm["failed"] == 0
            sm["target"] = ", ".join(parts)
            sm["pass"] = ok
            sm["has_target"] = bool(tgt) or key in READS
            checks.append({"db": db, "what": label, "value": "%.3f of %s, p99 %.2f ms (%.1fx nginx), %d failed" % (
                sm["ratio"], ckey, sm["p99_ms"], sm["p99_vs_nginx"], sm["failed"]), "target": sm["target"], "pass": ok})
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
    rows = [("db", "scenario", "req/s (median)", "rounds", "p50 ms", "p99 ms", "failed", "ratio (median)",
             "vs", "target", "verdict")]
    for key, label, _, _ in NGINX_SCENARIOS:
        sm = summarise(results["nginx"][key])
        rows.append(("nginx", label, "%.0f" % sm["rps"], " / ".join(str(x) for x in sm["rounds_rps"]),
                     "%.3f" % sm["p50_ms"], "%.3f" % sm["p99_ms"], str(sm["failed"]), "1.00", "", "", ""))
    for db, dres in results["databases"].items():
        for key, label, _, _, _, _, ckey in SCENARIOS:
            sm = dres["summary"].get(key)
            if sm is None:
                rows.append((db, label, "-", "-", "-", "-", "-", "-", ckey, "", "MISS (not run)"))
                continue
            rows.append((db, label, "%.0f" % sm["rps"], " / ".join(str(x) for x in sm["rounds_rps"]),
                         "%.3f" % sm["p50_ms"], "%.3f" % sm["p99_ms"], str(sm["failed"]), "%.3f" % sm["ratio"],
                         ckey, sm["target"], "PASS" if sm["pass"] else "MISS"))
        rows.append((db, "peak RSS", "%.1f MB" % ((dres.get("peak_rss_kb") or 0) / 1024.0), "", "", "", "", "", "",
                     "<= %d MB" % TARGETS[db]["rss_mb"], "PASS" if dres["rss_pass"] else "MISS"))
        rows.append((db, "start -> first 200", "%.1f ms" % dres["startup_ms"], "", "", "", "", "", "",
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
    """Where the failed requests were: bad statuses and wrk socket errors, per run."""
    out = []
    labels = dict((k, l) for k, l, *_ in SCENARIOS)
    labels.update((k, l) for k, l, *_ in NGINX_SCENARIOS)
    runs = [("nginx", k, r) for k, rs in results["nginx"].items() for r in rs]
    runs += [(db, k, r) for db, d in results["databases"].items() for k, rs in d["scenarios"].items() for r in rs]
    for db, key, r in runs:
        if r["failed"] + r["warmup_failed"]:
            errs = ", ".join("%s %d" % kv for kv in r["socket_errors"].items() if kv[1])
            out.append("%s %s (round %d): %d failed (+%d in warm-up); non-2xx/3xx %d; socket errors: %s; statuses %s" % (
                db, labels[key], r["round"], r["failed"], r["warmup_failed"], r["non_2xx_3xx"], errs or "none",
                json.dumps(r["statuses"]) if r["statuses"] else "-"))
    return out


def write_results(results, rows):
    os.makedirs(bl.RESULTS, exist_ok=True)
    slim = json.loads(json.dumps(results))
    for group in [slim["nginx"]] + [d["scenarios"] for d in slim["databases"].values()]:
        for rs in group.values():
            for r in rs:
                r.pop("wrk_output", None)
    with open(os.path.join(bl.RESULTS, "latest.json"), "w") as f:
        json.dump(slim, f, indent=2)
        f.write("\n")
    m = results["meta"]
    md = ["# Time Warp benchmark (`make bench`)", "",
          "%s, commit %s, %d CPUs (%s), PostgreSQL %s, %s." % (
              m["date"], m["commit"], m["machine"]["cpus"], m["machine"]["cpu_model"], m.get("postgres_version", "?"),
              m["wrk"]), "",
          "%d rounds; in each, every scenario below (nginx's included) ran once: wrk -t%d -c%d --latency, "
          "%d s warm-up (discarded) then %d s measured; loopback only. A ratio is taken within its "
          "round against the ceiling named in `vs`; the table gives the median of the rounds (req/s "
          "of each round in `rounds`). %d clips seeded through the API. Server: defaults "
          "(TIMEWARP_WORKERS = 2 x CPUs), TIMEWARP_ENV=development, DEBUG=false, LOG_LEVEL=info with "
          "the access log (stdout) written to a file. PostgreSQL: fsync/synchronous_commit/"
          "full_page_writes on; %s." % (
              ROUNDS, THREADS, CONNECTIONS, WARMUP_S, MEASURE_S, SEED_CLIPS,
              ", ".join("%s=%s" % kv for kv in bl.PG_SETTINGS.items())), "",
          "Ceilings: `return200` is nginx's `return 200` of a 15-byte body; `list_file` and "
          "`clip_file` are nginx serving, from files, the very bytes Time Warp answered for "
          "`GET /clips?limit=50` and `GET /clips/{id}` (captured from the SQLite server); "
          "`clip_file_304` is nginx's 304 for that file.", "",
          "1-minute load average at start %s, at end %s (anything well above 0 means other work "
          "shared the CPUs). Disk: %s fdatasync/s of 8 kB (bounds PostgreSQL commits per "
          "connection)." % (m.get("loadavg_start"), m.get("loadavg_end"), m.get("disk_fdatasync_per_s")), "",
          ("**The machine was busy during this run (see load and nginx's rounds): "
           "ratios are not trustworthy.**\n\n" if m.get("noisy") else "") +
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
                                         "measure_s": MEASURE_S, "rounds": ROUNDS},
                        "seed_clips": SEED_CLIPS, "postgres_settings": bl.PG_SETTINGS,
                        "server_env": {"TIMEWARP_ENV": "development", "DEBUG": "false", "LOG_LEVEL": "info",
                                       "access_log": "stdout to a file"}},
               "databases": {}, "nginx": {k: [] for k, *_ in NGINX_SCENARIOS}}
    results["meta"]["loadavg_start"] = bl.loadavg()
    results["meta"]["disk_fdatasync_per_s"] = bl.fdatasync_per_s(tmp)
    if (results["meta"]["loadavg_start"] or 0) > 0.5:
        bl.log("bench: WARNING: 1-min load average is %.2f before starting: other work on this machine "
               "will skew the figures" % results["meta"]["loadavg_start"])
    dbs = []
    try:
        sdir = os.path.join(tmp, "sqlite")
        os.makedirs(sdir)
        dbs.append(prepare_database(procs, "sqlite", "sqlite:///" + os.path.join(sdir, "timewarp.sqlite3"), sdir, tmp))
        bl.log("[postgres] initdb + start ...")
        pg = bl.PgCluster(tmp).setup()
        results["meta"]["postgres_version"] = pg.version()
        url = pg.create_database("timewarp_bench")
        pdir = os.path.join(tmp, "postgres-server")
        os.makedirs(pdir)
        dbs.append(prepare_database(procs, "postgres", url, pdir, tmp))
        files = {"list.json": dbs[0]["list_body"], "clip.json": dbs[0]["clip_body"]}
        for rnd in range(1, ROUNDS + 1):
            nginx_round(procs, tmp, files, rnd, results["nginx"])
            for d in dbs:
                if not d["res"]["problems"]:
                    bench_round(procs, d, rnd)
        for d in dbs:
            results["databases"][d["db"]] = finish_database(procs, d)
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
    failed = sum(r["failed"] + r["warmup_failed"] for rs in results["nginx"].values() for r in rs)
    for dres in results["databases"].values():
        for rs in dres["scenarios"].values():
            failed += sum(r["failed"] + r["warmup_failed"] for r in rs)
        if any("exited" in p or "exit code" in p for p in dres["problems"]):
            failed += 1
    results["failed_requests"] = failed
    runs = [r["rps"] for r in results["nginx"]["return200"]]
    if min(runs) < 0.85 * max(runs) or (results["meta"]["loadavg_start"] or 0) > 1.0:
        results["meta"]["noisy"] = True
        bl.log("bench: WARNING: the machine was busy (nginx %s req/s over the rounds, load %.1f): "
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
