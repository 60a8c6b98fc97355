"""The database's bad days (issue 10, SPEC.md "Database time budget").

- PostgreSQL behind a TCP proxy that black-holes it for 30 s (sockets left open, nothing
  forwarded), under a steady concurrent load, then PostgreSQL stopped for 10 s and started:
  every request that needs the database gets 503 within the budget + 1 s; the web page, a
  404 and /health/live answer within 100 ms throughout; 200s resume within 10 s of the
  database coming back, from the same process.
- SQLite with another process holding the write lock for 10 s: writes get 503 within the
  budget; reads, the page and both health checks keep answering.
- PostgreSQL with default_transaction_isolation = 'repeatable read': 16 racing duplicates
  still give exactly one 201 and fifteen 409s (transactions state their isolation).
- Two instances behind HAProxy probing /health/live, a rolling restart with a 60 s database
  outage in the middle: no instance is marked down, none exits or is restarted.
"""

import os
import sqlite3
import threading
import time

from attack.framework import test, video_id, wait_until
from attack.http import request
from attack.tcpproxy import TcpProxy

BUDGET = 2.0
NO_DB_LIMIT = 0.100  # seconds


def proxied_url(ctx, proxy):
    url = ctx.pg_url()
    return url.replace(":%d/" % ctx.suite.pg.port, ":%d/" % proxy.port)


class Load:
    """Steady concurrent requests, each recorded as (phase, kind, started, seconds, status)."""

    DB = [("GET", "/clips?limit=5", "clips"), ("POST", "/contributors", "contributor"),
          ("GET", "/health/", "health"), ("GET", "/calendar?from=2020-01-01&to=2020-12-31", "calendar")]
    NO_DB = [("GET", "/", "page"), ("GET", "/no-such-route", "404"), ("GET", "/health/live", "live")]

    def __init__(self, ctx, port):
        self.ctx, self.port = ctx, port
        self.phase = "up"
        self.records = []
        self.lock = threading.Lock()

    def _loop(self, plan, offset):
        n = offset
        while not self.ctx.stop.is_set():
            method, path, kind = plan[n % len(plan)]
            n += 1
            phase, t0 = self.phase, time.monotonic()
            try:
                r = request(self.port, method, path, {} if method == "POST" else None, timeout=15)
                status = r.status
            except Exception as e:  # a failed connection is a result too
                status = "error: %r" % e
            with self.lock:
                self.records.append((phase, kind, t0, time.monotonic() - t0, status))
            time.sleep(0.03)

    def start(self):
        for w in range(6):
            self.ctx.thread(self._loop, self.DB, w)
        for w in range(2):
            self.ctx.thread(self._loop, self.NO_DB, w)

    def take(self):
        with self.lock:
            return list(self.records)


def check_outage(ctx, load, records, outage_phase, started_at):
    """Problems with what was answered while the database was away."""
    problems = []
    no_db_kinds = {k for _, _, k in Load.NO_DB}
    slow_no_db = [(k, s, st) for ph, k, t0, s, st in records if k in no_db_kinds and s > NO_DB_LIMIT]
    if slow_no_db:
        problems.append("%d requests that need no database took over %d ms (worst %.0f ms: %s)"
                        % (len(slow_no_db), NO_DB_LIMIT * 1000, max(s for _, s, _ in slow_no_db) * 1000,
                           slow_no_db[:5]))
    bad_no_db = [(k, st) for ph, k, t0, s, st in records if k in no_db_kinds and st not in (200, 404)]
    if bad_no_db:
        problems.append("requests that need no database failed: %s" % bad_no_db[:5])
    # Requests that began once the outage was under way (the health cache may answer a probe
    # for 250 ms after the last good ping; requests already at the database may finish).
    during = [(k, s, st) for ph, k, t0, s, st in records
              if ph == outage_phase and k not in no_db_kinds and t0 > started_at + 0.5]
    if len(during) < 20:
        problems.append("only %d database requests made during the outage" % len(during))
    late = [(k, round(s, 2), st) for k, s, st in during if s > BUDGET + 1]
    if late:
        problems.append("%d database requests took longer than the budget + 1 s: %s" % (len(late), late[:5]))
    not_503 = [(k, st) for k, s, st in during if st != 503]
    if not_503:
        problems.append("database requests during the outage answered other than 503: %s" % not_503[:5])
    fast = sorted(s for k, s, st in during)
    if fast:
        ctx.note("%s: %d database requests, 503 after median %.0f ms, max %.0f ms"
                 % (outage_phase, len(fast), fast[len(fast) // 2] * 1000, fast[-1] * 1000))
    no_db = sorted(s for ph, k, t0, s, st in records if ph == outage_phase and k in no_db_kinds)
    if no_db:
        ctx.note("%s: %d requests that need no database, max %.1f ms" % (outage_phase, len(no_db), no_db[-1] * 1000))
    return problems


def recovery(port, since):
    """Seconds from `since` until the database routes answer 200 again, or None."""
    ok = wait_until(lambda: request(port, "GET", "/clips?limit=1", timeout=5).status == 200
                    and request(port, "GET", "/health/", timeout=5).status == 200, timeout=10, interval=0.1)
    return time.monotonic() - since if ok else None


@test(budget=150, pg=True)
def test_postgres_blackholed_then_stopped(ctx):
    pg = ctx.suite.pg
    proxy = TcpProxy(pg.port)
    try:
        srv = ctx.server(proxied_url(ctx, proxy), name="stall", env={"TIMEWARP_WORKERS": "4"})
        pid = srv.proc.pid
        load = Load(ctx, srv.port)
        load.start()
        time.sleep(2)
        problems = []
        # 1. Black hole: every socket stays open, nothing moves.
        load.phase = "blackhole"
        t_bh = time.monotonic()
        proxy.blackhole()
        time.sleep(30)
        proxy.forward()
        load.phase = "released"
        back = recovery(srv.port, time.monotonic())
        problems += check_outage(ctx, load, load.take(), "blackhole", t_bh)
        if back is None:
            problems.append("no 200 within 10 s of the black hole's end")
        else:
            ctx.note("200s again %.1f s after the black hole ended" % back)
        # 2. PostgreSQL stopped (connections refused), then started.
        load.phase = "stopped"
        t_stop = time.monotonic()
        pg.stop(mode="fast")
        try:
            time.sleep(10)
        finally:
            pg.start()
        load.phase = "restarted"
        back = recovery(srv.port, time.monotonic())
        problems += check_outage(ctx, load, load.take(), "stopped", t_stop)
        if back is None:
            problems.append("no 200 within 10 s of PostgreSQL starting again")
        else:
            ctx.note("200s again %.1f s after PostgreSQL started" % back)
        ctx.stop.set()
        if not srv.alive() or srv.proc.pid != pid:
            problems.append("the server did not survive (exit %s)" % srv.proc.returncode)
        assert not problems, "\n".join(problems)
    finally:
        ctx.stop.set()
        proxy.close()
        if not pg.running:
            pg.start()


@test(budget=60)
def test_sqlite_write_lock_held_elsewhere(ctx):
    url = ctx.sqlite_url()
    srv = ctx.server(url, name="sqlite-lock")
    path = url[len("sqlite:///"):]
    cid = request(srv.port, "POST", "/contributors", {}).json["id"]
    assert request(srv.port, "POST", "/submissions", {"contributor_id": cid, "raw_youtube_input": video_id(),
                                                      "raw_date_input": "1911-01-01"}).status == 201
    holder = sqlite3.connect(path, timeout=1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, held by another process's connection
    problems = []
    t_end = time.monotonic() + 10
    writes, others = [], []
    try:
        while time.monotonic() < t_end - BUDGET - 0.5:
            r = request(srv.port, "POST", "/submissions", {"contributor_id": cid, "raw_youtube_input": video_id(),
                                                           "raw_date_input": "1911-01-02"}, timeout=15)
            writes.append((r.status, r.elapsed))
            for path_, limit in (("/clips?limit=5", 0.5), ("/", NO_DB_LIMIT), ("/health/live", NO_DB_LIMIT),
                                 ("/health/", 0.5)):
                r2 = request(srv.port, "GET", path_, timeout=15)
                others.append((path_, r2.status, r2.elapsed, limit))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    for status, secs in writes:
        if status != 503 or secs > BUDGET + 0.5:
            problems.append("a write while the lock was held: %s after %.2f s (want 503 within %.1f s)"
                            % (status, secs, BUDGET))
    for p, status, secs, limit in others:
        if status != 200 or secs > limit:
            problems.append("GET %s while a write lock was held elsewhere: %s after %.0f ms" % (p, status, secs * 1000))
    r = request(srv.port, "POST", "/submissions", {"contributor_id": cid, "raw_youtube_input": video_id(),
                                                   "raw_date_input": "1911-01-03"})
    if r.status != 201:
        problems.append("a write after the lock was released: " + r.describe())
    ctx.note("%d writes answered 503 in %.2f-%.2f s; %d reads/page/health answered"
             % (len(writes), min(s for _, s in writes), max(s for _, s in writes), len(others)))
    assert writes and not problems, "\n".join(problems[:10]) or "no write was tried"


@test(budget=60, pg=True)
def test_duplicate_race_under_repeatable_read_default(ctx):
    pg = ctx.suite.pg
    url = ctx.pg_url()
    db = url.rsplit("/", 1)[1].split("?")[0]
    pg.psql("ALTER DATABASE \"%s\" SET default_transaction_isolation TO 'repeatable read';" % db)
    srv = ctx.server(url, name="rr", env={"TIMEWARP_WORKERS": "8"})
    assert pg.psql("SHOW default_transaction_isolation;", db=db).strip() == "repeatable read"
    cid = request(srv.port, "POST", "/contributors", {}).json["id"]
    for round_ in range(3):
        vid = video_id()
        results = []
        barrier = threading.Barrier(16)

        def racer():
            barrier.wait()
            r = request(srv.port, "POST", "/submissions", {"contributor_id": cid, "raw_youtube_input": vid,
                                                           "raw_date_input": "1912-02-0%d" % (round_ + 1)}, timeout=20)
            results.append(r.status)

        threads = [threading.Thread(target=racer) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(results) == [201] + [409] * 15, "round %d: statuses %s" % (round_, sorted(results))


@test(budget=180, pg=True)
def test_rolling_restart_with_database_outage(ctx):
    from cases.test_haproxy import HAPROXY_CFG, find_haproxy, server_status
    import subprocess
    haproxy = find_haproxy()
    assert haproxy, "haproxy is not installed (scripts/install-deps.sh test lists it)"
    pg = ctx.suite.pg
    proxy = TcpProxy(pg.port)
    try:
        url = proxied_url(ctx, proxy)
        env = {"TIMEWARP_DRAIN_SECONDS": "3", "TIMEWARP_SHUTDOWN_TIMEOUT": "10"}
        a = ctx.server(url, env=env, name="A")
        b = ctx.server(url, env=env, name="B", migrate=False)
        work = ctx.suite.newdir("haproxy-outage")
        sock = os.path.join(work, "stats.sock")
        from attack.framework import free_port
        fport = free_port()
        cfg = os.path.join(work, "haproxy.cfg")
        with open(cfg, "w") as f:
            # The ALB's way, as deployed: the liveness route, not the database's.
            f.write(HAPROXY_CFG.format(sock=sock, fport=fport, aport=a.port, bport=b.port, check="/health/live"))
        hp = ctx.popen([haproxy, "-f", cfg, "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_until(lambda: server_status(sock, "a") == "UP" and server_status(sock, "b") == "UP",
                          timeout=15, interval=0.2), "HAProxy did not see both instances up"
        load = Load(ctx, fport)
        load.start()
        problems = []
        downs = []

        def watch():
            while not ctx.stop.is_set():
                for n in ("a", "b"):
                    s = server_status(sock, n)
                    if s and s != "UP" and load.phase == "outage":
                        downs.append((n, s))
                time.sleep(0.25)
        ctx.thread(watch)
        time.sleep(2)
        a.stop(timeout=30)          # the rolling restart: A first
        a.start(migrate=False, timeout=30)
        assert wait_until(lambda: server_status(sock, "a") == "UP", timeout=15, interval=0.1)
        pids = (a.proc.pid, b.proc.pid)
        load.phase = "outage"
        proxy.blackhole()
        time.sleep(60)
        proxy.forward()
        load.phase = "after"
        if recovery(fport, time.monotonic()) is None:
            problems.append("no 200 through HAProxy within 10 s of the outage's end")
        if (a.proc.pid, b.proc.pid) != pids or not a.alive() or not b.alive():
            problems.append("an instance exited or was restarted during the outage")
        if downs:
            problems.append("HAProxy marked an instance down during the outage: %s" % sorted(set(downs)))
        b.stop(timeout=30)          # then B
        b.start(migrate=False, timeout=30)
        assert wait_until(lambda: server_status(sock, "b") == "UP", timeout=15, interval=0.1)
        ctx.stop.set()
        recs = load.take()
        outage = [st for ph, k, t0, s, st in recs if ph == "outage"]
        ctx.note("%d requests during the 60 s outage (%d answered 503); no instance marked down"
                 % (len(outage), sum(1 for s in outage if s == 503)))
        hp.terminate()
        assert not problems, "\n".join(problems)
    finally:
        ctx.stop.set()
        proxy.close()
