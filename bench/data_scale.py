"""`make bench-scale`, second part: export and import of a large archive (default 1,000,000
clips, each with its accepted submission, plus 100,000 rejected submissions and 100
contributors) on SQLite and a throwaway PostgreSQL. For each database: import the generated
file into a fresh migrated database, import it again (the idempotent, verifying pass), export
it, and check the export equals the file byte for byte. Times with /usr/bin/time-style
figures (wall seconds; peak RSS of that step's process alone, measured by a helper
process per step through getrusage(RUSAGE_CHILDREN)). Targets: import ≤ 60 s, export RSS ≤ 50 MB.
Run through bench/scale.sh. Writes bench/results/data_scale.{json,md}.
BENCH_DATA_CLIPS overrides the size (e.g. 100000 for an estimate).
"""

import datetime
import glob
import json
import os
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, HERE)
import benchlib as bl  # noqa: E402
from archive_gen import write_archive  # noqa: E402

CLIPS = int(os.environ.get("BENCH_DATA_CLIPS", "1000000"))
IMPORT_LIMIT_S = 60.0
EXPORT_RSS_LIMIT_MB = 50.0


def run_step(binary, args, url, cwd, stdout=None):
    """Each measured step in its own helper process, so the RSS maximum is that step's."""
    code = ("import json,os,resource,subprocess,sys,time\n"
            "a=json.loads(sys.argv[1]);t=time.monotonic()\n"
            "out=open(a['stdout'],'wb') if a['stdout'] else subprocess.DEVNULL\n"
            "p=subprocess.run(a['argv'],env=a['env'],cwd=a['cwd'],stdout=out,stderr=subprocess.PIPE)\n"
            "print(json.dumps({'rc':p.returncode,'s':time.monotonic()-t,"
            "'rss_kb':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
            "'err':p.stderr.decode('utf-8','replace')[-3000:]}))\n")
    spec = {"argv": [binary] + args, "env": bl.server_env(bl.free_port(), url), "cwd": cwd, "stdout": stdout}
    p = subprocess.run(["/usr/bin/python3", "-c", code, json.dumps(spec)], capture_output=True, text=True,
                       timeout=7200)
    r = json.loads(p.stdout)
    if r["rc"] != 0:
        raise RuntimeError("timewarp %s exited %d: %s" % (" ".join(args), r["rc"], r["err"]))
    return {"seconds": round(r["s"], 2), "peak_rss_mb": round(r["rss_kb"] / 1024.0, 1),
            "message": r["err"].strip().splitlines()[-1] if r["err"].strip() else ""}


def backup_under_load(procs, binary, url, wd):
    """`timewarp backup` of the imported archive while 2 clients POST submissions."""
    srv = bl.Server(procs, binary, url, wd, "timewarp").start()
    stop = threading.Event()
    acked = [0]
    threads = []
    try:
        ctr = bl.Client(srv.port).json("POST", "/contributors", {}, expect=(201,))["id"]

        def load(k):
            c = bl.Client(srv.port)
            n = 0
            while not stop.is_set():
                n += 1
                status, _ = c.request("POST", "/submissions", {
                    "contributor_id": ctr, "raw_youtube_input": "L%d%09d" % (k, n),
                    "raw_date_input": "2004-04-04"})
                if status == 201:
                    acked[0] += 1

        threads = [threading.Thread(target=load, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        before = acked[0]
        r = run_step(binary, ["backup", os.path.join(wd, "backup.sqlite3")], url, wd)
        r["writes_during"] = acked[0] - before
    finally:
        stop.set()
        for t in threads:
            t.join()
        srv.stop()
    os.remove(os.path.join(wd, "backup.sqlite3"))
    return r


def main():
    tmp, binary = bl.start_run("data_scale.py", "bench/scale.sh")
    if tmp is None:
        return binary
    archive = os.path.join(tmp, "archive.jsonl")
    bl.log("[data] writing a synthetic archive of %s clips ..." % format(CLIPS, ","))
    t0 = time.monotonic()
    # The header names the schema version the export will name: the latest migration.
    latest = len(glob.glob(os.path.join(HERE, "..", "migrations", "sqlite", "*.up.sql")))
    write_archive(archive, CLIPS, schema_version=latest)
    size = os.path.getsize(archive)
    records = sum(1 for _ in open(archive, "rb")) - 2
    bl.log("[data] %d records, %.0f MB, written in %.1f s" % (records, size / 1e6, time.monotonic() - t0))
    results = {"meta": {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "commit": bl.git_describe(), "machine": bl.machine(), "clips": CLIPS, "records": records,
                        "file_bytes": size, "loadavg_start": bl.loadavg()}, "runs": {}}
    pg = None
    procs = bl.Procs(tmp)
    try:
        pg = bl.PgCluster(tmp).setup()
        results["meta"]["postgres_version"] = pg.version()
        for db in ("sqlite", "postgres"):
            wd = os.path.join(tmp, "data-" + db)
            os.makedirs(wd)
            url = "sqlite:///" + os.path.join(wd, "timewarp.sqlite3") if db == "sqlite" else \
                pg.create_database("data_scale")
            bl.migrate(binary, url, wd)
            run = {}
            bl.log("[data %s] import into an empty database ..." % db)
            run["import"] = run_step(binary, ["import", archive], url, wd)
            bl.log("[data %s] import again (everything present: the verifying pass) ..." % db)
            run["import_again"] = run_step(binary, ["import", archive], url, wd)
            bl.log("[data %s] export ..." % db)
            out = os.path.join(wd, "export.jsonl")
            run["export"] = run_step(binary, ["export", out], url, wd)
            run["export_identical"] = subprocess.run(["cmp", "-s", archive, out]).returncode == 0
            if db == "sqlite":
                bl.log("[data sqlite] backup while the server takes writes ...")
                run["backup"] = backup_under_load(procs, binary, url, wd)
                bl.log("[data sqlite] backup %.1f s, %d writes acknowledged meanwhile, peak RSS %.1f MB" % (
                    run["backup"]["seconds"], run["backup"]["writes_during"], run["backup"]["peak_rss_mb"]))
            for step in ("import", "import_again", "export"):
                r = run[step]
                r["records_per_s"] = round(records / r["seconds"]) if r["seconds"] else None
                bl.log("[data %s] %-12s %6.1f s  %8s records/s  peak RSS %6.1f MB" % (
                    db, step, r["seconds"], r["records_per_s"], r["peak_rss_mb"]))
            bl.log("[data %s] export identical to the file: %s" % (db, run["export_identical"]))
            results["runs"][db] = run
            os.remove(out)
    except Exception as e:
        print("bench-scale (data): ABORTED: %s" % e, file=sys.stderr)
        return 2
    finally:
        procs.close()
        if pg:
            pg.destroy()
    results["meta"]["loadavg_end"] = bl.loadavg()
    checks = []
    for db, run in results["runs"].items():
        checks.append({"db": db, "check": "import of %s clips" % format(CLIPS, ","), "value": run["import"]["seconds"],
                       "limit": IMPORT_LIMIT_S, "unit": "s", "pass": run["import"]["seconds"] <= IMPORT_LIMIT_S})
        checks.append({"db": db, "check": "export peak RSS", "value": run["export"]["peak_rss_mb"],
                       "limit": EXPORT_RSS_LIMIT_MB, "unit": "MB",
                       "pass": run["export"]["peak_rss_mb"] <= EXPORT_RSS_LIMIT_MB})
        checks.append({"db": db, "check": "export equals the imported file", "value": run["export_identical"],
                       "limit": True, "unit": "", "pass": run["export_identical"]})
    results["checks"] = checks
    os.makedirs(bl.RESULTS, exist_ok=True)
    with open(os.path.join(bl.RESULTS, "data_scale.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    m = results["meta"]
    md = ["# Export and import at scale (`make bench-scale`, bench/data_scale.py)", "",
          "%s, commit %s, %d CPUs, PostgreSQL %s. %s clips (%d records, %.0f MB of JSON Lines). "
          "Load average at start %s, at end %s." % (m["date"], m["commit"], m["machine"]["cpus"],
                                                   m.get("postgres_version", "?"), format(CLIPS, ","), records,
                                                   size / 1e6, m["loadavg_start"], m["loadavg_end"]), "",
          "| db | step | seconds | records/s | peak RSS MB |", "|---|---|---|---|---|"]
    for db, run in results["runs"].items():
        for step in ("import", "import_again", "export"):
            r = run[step]
            md.append("| %s | %s | %.1f | %s | %.1f |" % (db, step, r["seconds"], r["records_per_s"], r["peak_rss_mb"]))
        if "backup" in run:
            b = run["backup"]
            md.append("| %s | backup under load (%d writes meanwhile) | %.1f | | %.1f |" % (
                db, b["writes_during"], b["seconds"], b["peak_rss_mb"]))
    md += ["", "| db | check | value | limit | verdict |", "|---|---|---|---|---|"]
    for c in checks:
        md.append("| %s | %s | %s %s | %s %s | %s |" % (c["db"], c["check"], c["value"], c["unit"], c["limit"],
                                                        c["unit"], "PASS" if c["pass"] else "MISS"))
    with open(os.path.join(bl.RESULTS, "data_scale.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    for c in checks:
        bl.log("%s [%s] %s: %s %s (limit %s)" % ("PASS" if c["pass"] else "MISS", c["db"], c["check"], c["value"],
                                                  c["unit"], c["limit"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
