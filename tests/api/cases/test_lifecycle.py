"""Process lifecycle: duplicate races (one and two processes), persistence across restarts,
kill -9, migrations, SIGTERM with requests in flight, drain, PostgreSQL restarts."""

import json
import signal
import threading
import time

from twtest.client import Client, connect, read_response
from twtest.framework import test, eq, status, error
from twtest.util import video_id, wait_until


def race(clients, body, n=16):
    """n identical POST /submissions at once, spread over the clients; returns responses."""
    barrier = threading.Barrier(n)
    results = [None] * n
    errors = []

    def go(i):
        try:
            barrier.wait(timeout=20)
            results[i] = clients[i % len(clients)].post("/submissions", body, timeout=30)
        except BaseException as e:  # noqa: B902 - reported below
            errors.append("request %d: %r" % (i, e))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, "race requests failed:\n" + "\n".join(errors)
    return results


def check_race(ctx, api, results, body, what):
    codes = sorted(r.status for r in results)
    eq(codes, [201] + [409] * (len(results) - 1), what + ": status codes (exactly one 201, the rest 409)")
    winner = [r for r in results if r.status == 201][0]
    eq(winner.json["status"], "accepted", "winner status")
    for r in results:
        if r.status == 409:
            eq(r.json["status"], "rejected", "loser status")
            assert "duplicate" in r.json["validation_error"].lower(), "loser validation_error: %r" % r.json["validation_error"]
        g = api.get("/submissions/" + r.json["id"])
        status(g, 200, "every racing submission is stored")
        eq(g.json, r.json, "stored submission equals the response")
    eq(len({r.json["id"] for r in results}), len(results), "distinct submission ids")
    d = body["raw_date_input"].strip()
    items = api.get("/clips?from=%s&to=%s" % (d, d)).json["items"]
    eq([i["id"] for i in items], [winner.json["clip_id"]], "exactly one clip")


@test
def test_concurrent_duplicate_race(ctx):
    for round_ in range(3):
        body = {"contributor_id": ctx.contributor(), "raw_youtube_input": video_id(),
                "raw_date_input": "%d-11-11" % ctx.year()}
        clients = [Client(ctx.api.port, ctx.oapi)]
        check_race(ctx, ctx.api, race(clients, body), body, "16 racing submissions, round %d" % (round_ + 1))


@test
def test_concurrent_duplicate_race_two_processes(ctx):
    url = ctx.backend.new_db_url()
    a = ctx.server(db_url=url, name="race-a")
    b = ctx.server(db_url=url, name="race-b")
    ca, cb = ctx.client(a), ctx.client(b)
    cid = ctx.contributor(ca)
    for round_ in range(3):
        vid = video_id()
        # Different URL forms of the same video and date, through two processes.
        body = {"contributor_id": cid, "raw_youtube_input": vid, "raw_date_input": "2016-06-%02d" % (round_ + 1)}
        results = race([ca, cb], body)
        check_race(ctx, ca, results, body, "16 racing submissions over two processes, round %d" % (round_ + 1))
        for r in results:
            eq(cb.get("/submissions/" + r.json["id"]).json, r.json, "both processes see every submission")


@test
def test_persistence_across_restart(ctx):
    srv = ctx.server()
    api = ctx.client(srv)
    y = ctx.year()
    cid = ctx.contributor(api)
    subs = [ctx.accepted(api=api, contributor_id=cid, date="%d-0%d-01" % (y, m)) for m in (1, 2, 3)]
    rej = ctx.submit(api=api, contributor_id=cid, youtube="nope", date="%d-01-01" % y).json
    f = "from=%d-01-01&to=%d-12-31" % (y, y)
    page1 = api.get("/clips?%s&limit=1" % f).json
    srv.stop()
    srv.start(migrate=False)
    api = ctx.client(srv)
    for s in subs + [rej]:
        eq(api.get("/submissions/" + s["id"]).json, s, "submission after restart")
    for s in subs:
        status(api.get("/clips/" + s["clip_id"]), 200, "clip after restart")
    eq([c["id"] for c in api.get("/clips?" + f).json["items"]], [s["clip_id"] for s in subs], "listing after restart")
    r = api.get("/clips?%s&limit=5&cursor=%s" % (f, page1["next_cursor"]))
    status(r, 200, "a cursor issued before the restart (same SECRET_KEY)")
    eq([c["id"] for c in r.json["items"]], [s["clip_id"] for s in subs[1:]], "cursor page after restart")
    # A duplicate is still a duplicate after the restart.
    status(ctx.submit(api=api, contributor_id=cid, youtube=api.get("/clips/" + subs[0]["clip_id"]).json["youtube_video_id"],
                      date="%d-01-01" % y), 409, "duplicate after restart")


@test
def test_dev_generated_secret_persists(ctx):
    # Development without SECRET_KEY: a generated key persists, so cursors survive restarts.
    srv = ctx.server(secret_key=None)
    api = ctx.client(srv)
    y = ctx.year()
    cid = ctx.contributor(api)
    for d in ("%d-01-01" % y, "%d-01-02" % y):
        ctx.accepted(api=api, contributor_id=cid, date=d)
    f = "from=%d-01-01&to=%d-12-31" % (y, y)
    cur = api.get("/clips?%s&limit=1" % f).json["next_cursor"]
    srv.stop()
    srv.start(migrate=False)
    api = ctx.client(srv)
    r = api.get("/clips?%s&limit=1&cursor=%s" % (f, cur))
    status(r, 200, "cursor after a restart with a generated development key")
    eq(len(r.json["items"]), 1, "items")


@test
def test_kill9_during_writes(ctx):
    srv = ctx.server()
    api = ctx.client(srv)
    cid = ctx.contributor(api)
    acked = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(k):
        i = 0
        while not stop.is_set() and i < 2000:
            i += 1
            vid = video_id()
            try:
                r = api.post("/submissions", {"contributor_id": cid, "raw_youtube_input": vid,
                                              "raw_date_input": "2017-07-%02d" % (1 + i % 28)}, timeout=10, check=False)
            except OSError:
                return  # the server is gone
            if r.status in (201, 409) and r.json:
                with lock:
                    acked.append(r.json)
            # Some duplicates on purpose, acknowledged as 409.
            if i % 5 == 0:
                try:
                    r = api.post("/submissions", {"contributor_id": cid, "raw_youtube_input": vid,
                                                  "raw_date_input": "2017-07-%02d" % (1 + i % 28)}, timeout=10, check=False)
                except OSError:
                    return
                if r.status in (201, 409) and r.json:
                    with lock:
                        acked.append(r.json)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acked) >= 60, 20)
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) >= 20, "too few acknowledged writes before kill -9: %d" % len(acked)
    srv.start(migrate=True)
    api = ctx.client(srv)
    missing = []
    for s in acked:
        g = api.get("/submissions/" + s["id"])
        if g.status != 200 or g.json != s:
            missing.append((s["id"], g.status))
        elif s["status"] == "accepted":
            status(api.get("/clips/" + s["clip_id"]), 200, "clip of an acknowledged submission after kill -9")
    assert not missing, "%d of %d acknowledged submissions lost/changed after kill -9: %r" % (len(missing), len(acked), missing[:5])


@test
def test_migrate_idempotent(ctx):
    b = ctx.backend
    url = b.new_db_url()
    srv = ctx.server(db_url=url, start=False)
    p = srv.migrate()
    schema1, data1 = b.db_schema(url), b.db_data(url)
    assert schema1.strip(), "migrate created no schema"
    p = srv.migrate()
    eq(p.returncode, 0, "second migrate exit code")
    eq(b.db_schema(url), schema1, "schema after a second migrate")
    eq(b.db_data(url), data1, "data after a second migrate")
    # With data in it.
    srv.start(migrate=False)
    api = ctx.client(srv)
    ctx.accepted(api=api, date="2018-08-08")
    srv.stop()
    data2 = b.db_data(url)
    srv.migrate()
    eq(b.db_schema(url), schema1, "schema after migrate on a populated database")
    eq(b.db_data(url), data2, "data after migrate on a populated database")


@test
def test_migrate_rollback_and_reapply(ctx):
    b = ctx.backend
    url = b.new_db_url()
    srv = ctx.server(db_url=url, start=False)
    srv.migrate()
    schema1 = b.db_schema(url)
    srv.migrate("--to", "0")
    counts = b.db_counts(url)
    assert len(counts) <= 1, "after `migrate --to 0` at most a migrations bookkeeping table may remain, found %r" % counts
    srv.migrate("--to", "0")  # idempotent too
    srv.migrate()
    eq(b.db_schema(url), schema1, "schema after rollback and re-apply")
    srv.start(migrate=False)
    api = ctx.client(srv)
    ctx.accepted(api=api, date="2018-09-09")
    srv.stop()
    srv.migrate()


@test
def test_serve_without_migrate_is_not_a_crash(ctx):
    # Migrations are not run by `serve`. On an empty database a request may fail (5xx) but the
    # server must not crash, and must still stop cleanly on SIGTERM.
    srv = ctx.server(start=False)
    srv.start(migrate=False, wait=False)
    ok = wait_until(lambda: _port_open(srv.port), 20)
    assert ok, "serve did not listen\n" + srv.stderr_tail()
    api = Client(srv.port, None)
    r = api.post("/contributors", {}, check=False)
    assert r.status in (500, 503), "POST on an unmigrated database: %s" % r.describe()
    assert srv.alive(), "server crashed on an unmigrated database\n" + srv.stderr_tail()


def _port_open(port):
    try:
        connect(port, timeout=1).close()
        return True
    except OSError:
        return False


def _partial_request(port, body, first):
    s = connect(port, timeout=30)
    head = ("POST /contributors HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % len(body)).encode()
    s.sendall(head + body[:first])
    return s


@test
def test_sigterm_with_request_in_flight(ctx):
    srv = ctx.server()
    body = json.dumps({"display_name": "in flight \U0001F3B8"}, ensure_ascii=False).encode()
    socks = [_partial_request(srv.port, body, 10) for _ in range(4)]
    time.sleep(0.3)
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.7)
    assert srv.alive(), "server exited with requests in flight\n" + srv.stderr_tail()
    results = []
    for s in socks:
        s.sendall(body[10:])
        try:
            r = read_response(s, "POST", "/contributors", timeout=15)
        finally:
            s.close()
        ctx.api.check(r)
        results.append(r)
    for r in results:
        status(r, 201, "request in flight during SIGTERM")
        eq(r.json["display_name"], "in flight \U0001F3B8", "display_name")
    srv.stop(timeout=30)  # exit code 0 expected


@test
def test_sigterm_with_concurrent_requests(ctx):
    srv = ctx.server()
    api = ctx.client(srv)
    cid = ctx.contributor(api)
    results, errors = [], []
    start = threading.Barrier(9)

    def worker(i):
        try:
            start.wait(10)
            for _ in range(10):
                r = api.post("/submissions", {"contributor_id": cid, "raw_youtube_input": video_id(),
                                              "raw_date_input": "2019-01-01"}, timeout=20, check=False)
                results.append(r)
        except OSError:
            pass  # new connections after shutdown may be refused
        except BaseException as e:  # noqa: B902
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    start.wait(10)
    time.sleep(0.05)
    srv.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(60)
    code = srv.proc.wait(30)
    eq(code, 0, "exit code after SIGTERM under load\n" + srv.stderr_tail())
    srv.stop()
    assert not errors, errors
    bad = [r.describe() for r in results if r.status not in (201,)]
    assert not bad, "requests that got an answer during shutdown must be served normally: %s" % bad[:3]


@test
def test_sigterm_serves_a_request_begun_and_closes_idle_connections(ctx):
    """A request whose first bytes arrived before SIGTERM is served like one whose head was
    complete; an idle keep-alive connection is closed without an answer (it carried no
    request), and the server does not wait for it. Before the fix only whole heads counted:
    the server exited under the half-sent request, or (the flaky race) a request read after
    the workers stopped got 503."""
    srv = ctx.server()
    idle = connect(srv.port, timeout=10)
    idle.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    status(read_response(idle, "GET", "/health/live", timeout=10), 200, "keep-alive probe before SIGTERM")
    body = json.dumps({"display_name": "begun before SIGTERM"}).encode()
    head = ("POST /contributors HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % len(body)).encode()
    begun = connect(srv.port, timeout=10)
    begun.sendall(head[:20])  # part of the request line only
    time.sleep(0.3)
    srv.proc.send_signal(signal.SIGTERM)
    idle.settimeout(5)
    t0 = time.monotonic()
    try:
        leftover = idle.recv(4096)
    except ConnectionResetError:
        leftover = b""
    eq(leftover, b"", "the idle keep-alive connection is closed with nothing sent on it")
    assert time.monotonic() - t0 < 3, "idle connection closed %.1f s after SIGTERM" % (time.monotonic() - t0)
    idle.close()
    time.sleep(0.3)
    assert srv.alive(), "server exited under a request that had begun\n" + srv.stderr_tail()
    begun.sendall(head[20:] + body)
    r = read_response(begun, "POST", "/contributors", timeout=15)
    begun.close()
    ctx.api.check(r)
    status(r, 201, "the request begun before SIGTERM")
    eq((r.header("Connection") or "").lower(), "close", "Connection header during shutdown")
    code = srv.proc.wait(5)
    eq(code, 0, "exit code once the begun request was answered\n" + srv.stderr_tail())
    srv.stop()


@test
def test_sigint_exits_zero(ctx):
    srv = ctx.server()
    status(ctx.client(srv).get("/health/"), 200)
    srv.stop(sig=signal.SIGINT)


@test
def test_drain_health_503_then_exit(ctx):
    # interface.md: on SIGTERM, /health/ answers 503 for TIMEWARP_DRAIN_SECONDS while other
    # requests are served normally, then the server stops.
    srv = ctx.server(env={"TIMEWARP_DRAIN_SECONDS": "2"})
    api = ctx.client(srv)
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    r = api.get("/health/")
    status(r, 503, "health while draining")
    eq(r.json.get("status"), "unavailable", "health status while draining")
    r = api.get("/health/live")
    status(r, 503, "liveness while draining")
    eq(r.json, {"status": "draining"}, "liveness body while draining")
    status(api.get("/clips?limit=1"), 200, "normal requests while draining")
    status(api.post("/contributors", {}), 201, "writes while draining")
    code = srv.proc.wait(30)
    took = time.monotonic() - t0
    eq(code, 0, "exit code after drain")
    assert took >= 1.8, "server exited after %.2fs, before the 2 s drain ended" % took
    srv.stop()


@test
def test_health_live(ctx):
    # SPEC.md: /health/live answers without the database, any Host, HEAD without a body.
    r = ctx.api.get("/health/live")
    status(r, 200, "GET /health/live")
    eq(r.json, {"status": "ok"}, "liveness body")
    r = ctx.api.request("HEAD", "/health/live")
    status(r, 200, "HEAD /health/live")
    eq(r.body, b"", "HEAD /health/live body")
    srv = ctx.server(env={"TIMEWARP_ENV": "production", "SECRET_KEY": "k3Jx9QmZp2Lr8VtYw4Nc7Hb1Fd6Gs0Ae",
                          "ALLOWED_HOSTS": "api.example.com", "DEBUG": "false", "TIMEWARP_DRAIN_SECONDS": "0"},
                     db_url=ctx.backend.new_db_url(verify=True)) if ctx.backend.name == "postgres" else None
    if srv:
        r = ctx.client(srv).get("/health/live", headers={"Host": "10.0.3.17:8000"})
        status(r, 200, "/health/live with the task's IP as Host in production")


@test
def test_subcommands(ctx):
    srv = ctx.server()
    p = srv.run("healthcheck")
    eq(p.returncode, 0, "`timewarp healthcheck` against a healthy server (stderr %r)" % p.stderr[-300:])
    from twtest.util import free_port
    p = srv.run("healthcheck", env_over={"PORT": str(free_port())})
    assert p.returncode != 0, "`timewarp healthcheck` with nothing listening must fail"
    p = srv.run("version")
    eq(p.returncode, 0, "`timewarp version`")
    assert (p.stdout + p.stderr).strip(), "`timewarp version` prints something"
    p = srv.run("check")
    eq(p.returncode, 0, "`timewarp check` in development (output %r)" % (p.stdout + p.stderr)[-500:])
    p = srv.run("no-such-command")
    assert p.returncode != 0, "an unknown subcommand must fail"


@test(backends=("postgres",))
def test_postgres_restart_reconnects(ctx):
    pg = ctx.backend.pg
    srv = ctx.server(env={"DEBUG": "false", "TIMEWARP_WORKERS": "2"})
    api = ctx.client(srv)
    status(api.get("/health/"), 200, "before")
    cid = ctx.contributor(api)
    pg.stop()
    try:
        r = wait_until(lambda: (lambda x: x if x.status == 503 else None)(api.get("/health/")), 15)
        assert r, "health did not turn 503 while PostgreSQL is down"
        eq(r.json.get("status"), "unavailable", "health status while down")
        for path, method in (("/clips", "GET"), ("/contributors", "POST")):
            r = api.post(path, {}) if method == "POST" else api.get(path)
            error(r, 503, code="SERVICE_UNAVAILABLE", what="%s %s while PostgreSQL is down" % (method, path))
            low = r.body.decode("utf-8", "replace").lower()
            for leak in ("select", "insert", "postgres", "127.0.0.1", "pq", "sql", "/src/", ".c:", "socket", "errno"):
                assert leak not in low, "503 leaks internals (%r) with DEBUG off: %s" % (leak, r.describe())
        ctx.backend.main.check_sanitizers()
        assert srv.alive(), "server died while PostgreSQL was down\n" + srv.stderr_tail()
    finally:
        pg.start()
    ok = wait_until(lambda: api.get("/health/").status == 200, 20, interval=0.2)
    assert ok, "health did not come back to 200 after PostgreSQL restarted (no server restart)"
    # Once health is back, every worker's connection must be usable (several probes first).
    for _ in range(5):
        status(api.get("/health/"), 200, "health after reconnect")
    for i in range(10):
        r = api.post("/submissions", {"contributor_id": cid, "raw_youtube_input": video_id(), "raw_date_input": "2020-02-02"})
        status(r, 201, "write %d after PostgreSQL came back" % i)
    # The shared server must recover as well.
    main_api = ctx.api
    assert wait_until(lambda: main_api.get("/health/").status == 200, 20, interval=0.2), "shared server did not recover"
    for _ in range(6):
        status(main_api.post("/contributors", {}), 201, "shared server write after PostgreSQL restart")


@test
def test_keep_alive(ctx):
    # Several requests on one connection (the load balancer reuses connections).
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", ctx.api.port, timeout=10)
    try:
        for i in range(5):
            conn.request("GET", "/clips?limit=1")
            r = conn.getresponse()
            r.read()
            eq(r.status, 200, "request %d on a kept-alive connection" % (i + 1))
            assert (r.getheader("Connection") or "").lower() != "close", \
                "server closed a keep-alive connection after request %d (Connection: close)" % (i + 1)
        conn.request("POST", "/contributors", body=b"{}", headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        eq(r.status, 201, "POST on a kept-alive connection")
    finally:
        conn.close()


@test
def test_slow_clients_do_not_pin_workers(ctx):
    # One worker, a short idle timeout: clients that send half a request and go silent must not
    # block others, and are disconnected after the idle timeout.
    srv = ctx.server(env={"TIMEWARP_WORKERS": "1", "TIMEWARP_IDLE_TIMEOUT": "2"})
    api = ctx.client(srv)
    slow = []
    for i in range(5):
        s = connect(srv.port, timeout=10)
        s.sendall(b"POST /contributors HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Len")
        slow.append(s)
    t0 = time.monotonic()
    status(api.get("/clips?limit=1", timeout=5), 200, "a normal request while 5 clients stall")
    assert time.monotonic() - t0 < 2, "a normal request waited %.2fs behind stalled clients" % (time.monotonic() - t0)
    time.sleep(3.5)
    closed = 0
    for s in slow:
        s.settimeout(3)
        try:
            s.recv(4096)
            closed += 1  # b'' (closed) or an error response (e.g. 408) both end the stall
        except (ConnectionResetError, BrokenPipeError):
            closed += 1
        except TimeoutError:
            pass
        finally:
            s.close()
    eq(closed, 5, "stalled connections closed by the server after TIMEWARP_IDLE_TIMEOUT=2")
    status(api.get("/health/"), 200, "healthy after the stalled clients")
