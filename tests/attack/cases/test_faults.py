"""Faults under load: kill -9 during writes (SQLite and PostgreSQL), PostgreSQL stopped and
started again under load, SIGTERM under load."""

import json
import signal
import socket
import sqlite3
import threading
import time

from attack.framework import test, check_error_shape, video_id, wait_until
from attack.http import HOST, KeepAlive, request

# ---- kill -9 during a sustained write load ------------------------------------------------

WRITERS = 6


class DB:
    """Reads the server's database directly, only to check invariants the API cannot show."""

    def __init__(self, ctx, url):
        self.url = url
        self.pg = ctx.suite.pg if url.startswith("postgres") else None

    def scalar(self, sql):
        if self.pg is not None:
            return int(self.pg.psql(sql, db=self.url.rsplit("/", 1)[-1]).strip())
        con = sqlite3.connect(self.url[len("sqlite:///"):], timeout=10)
        try:
            return int(con.execute(sql).fetchone()[0])
        finally:
            con.close()


def write_load(ctx, port, year, stop, killed):
    """Starts WRITERS threads posting submissions; returns (acks, lost, unexpected, lock).
    acks: (request body, status, raw response body) of every 201/409.
    lost: requests sent whose connection ended without a response.
    unexpected: anything else (a failure before the kill, a status other than 201/409)."""
    contributors = []
    for i in range(3):
        r = request(port, "POST", "/contributors", {"display_name": "writer \u00e9 %d" % i})
        assert r.status == 201, "contributor: " + r.describe()
        contributors.append(r.json["id"])
    dup_video = video_id()
    r = request(port, "POST", "/submissions", {"contributor_id": contributors[0], "raw_youtube_input": dup_video,
                                               "raw_date_input": "%d-06-15" % year})
    assert r.status == 201 and r.json["status"] == "accepted", "seed clip: " + r.describe()
    acks, lost, unexpected = [(None, 201, r.body)], [], []
    lock = threading.Lock()

    def writer(w):
        ka = KeepAlive(port, timeout=10)
        n = 0
        while not stop.is_set():
            n += 1
            body = {"contributor_id": contributors[n % 3], "raw_youtube_input": video_id(),
                    "raw_date_input": "%d-%02d-%02d" % (year, 1 + n % 12, 1 + (n * 7 + w) % 28),
                    "title": "take %d/%d \u2014 \"live\" \U0001F3B8" % (w, n), "notes": None if n % 2 else "n\u00f8te %d" % n}
            if n % 5 == 0:  # a duplicate of the seed clip, another URL form
                body["raw_youtube_input"] = "https://youtu.be/%s?t=%d" % (dup_video, n)
                body["raw_date_input"] = "%d-06-15" % year
            elif n % 7 == 0:  # not a real date: stored as rejected
                body["raw_date_input"] = "%d-02-30" % year
            outcome, resp = ka.call("POST", "/submissions", body)
            with lock:
                if outcome == "ok" and resp.status in (201, 409):
                    acks.append((body, resp.status, resp.body))
                elif outcome in ("closed", "broken") and killed.is_set():
                    lost.append(body)
                elif outcome == "refused" and killed.is_set():
                    pass  # never sent
                else:
                    unexpected.append("%s: %s" % (outcome, resp.describe() if outcome == "ok" else repr(resp)))
            if outcome != "ok" and killed.is_set():
                return

    for w in range(WRITERS):
        ctx.thread(writer, w)
    return acks, lost, unexpected, lock


def kill9_test(ctx, db_url, year):
    srv = ctx.server(db_url, name="kill9")
    stop, killed = threading.Event(), threading.Event()
    acks, lost, unexpected, lock = write_load(ctx, srv.port, year, stop, killed)
    t0 = time.monotonic()
    wait_until(lambda: len(acks) >= 80 and time.monotonic() - t0 >= 2.0, timeout=15)
    srv.check_sanitizers()
    killed.set()  # from here on a failed request is one the kill cut off
    srv.proc.send_signal(signal.SIGKILL)  # in the middle of the writes
    srv.proc.wait(timeout=10)
    time.sleep(0.5)
    stop.set()
    with lock:
        acked = list(acks)
        n_lost = len(lost)
        assert not unexpected, "unexpected outcomes before the kill:\n" + "\n".join(unexpected[:10])
    srv.kill9()  # closes its log files
    srv.check_sanitizers()
    assert len(acked) >= 20, "only %d submissions acknowledged before the kill" % len(acked)
    srv.start(migrate=True)  # same database, same port
    port = srv.port
    problems = []
    accepted_clips = set()
    for body, status, raw in acked:
        sent = json.loads(raw)
        r = request(port, "GET", "/submissions/" + sent["id"])
        if r.status != 200:
            problems.append("acknowledged %s (HTTP %d) is gone: %s" % (sent["id"], status, r.describe()))
            continue
        if r.body != raw:
            problems.append("submission %s differs after the restart:\n  POST gave %r\n  GET gives  %r"
                            % (sent["id"], raw[:300], r.body[:300]))
        if sent["status"] == "accepted":
            accepted_clips.add(sent["clip_id"])
            c = request(port, "GET", "/clips/" + sent["clip_id"])
            if c.status != 200 or c.json.get("added_via_submission_id") != sent["id"]:
                problems.append("clip %s of acknowledged %s: %s" % (sent["clip_id"], sent["id"], c.describe()))
    # Every clip in the archive has its submission, and points back at it.
    listed, cursor, pages = [], None, 0
    while pages < 100:
        pages += 1
        path = "/clips?from=%d-01-01&to=%d-12-31&limit=200" % (year, year) + ("&cursor=" + cursor if cursor else "")
        r = request(port, "GET", path)
        assert r.status == 200, "listing clips: " + r.describe()
        listed.extend(r.json["items"])
        cursor = r.json["next_cursor"]
        if not cursor:
            break
    for clip in listed:
        s = request(port, "GET", "/submissions/" + clip["added_via_submission_id"])
        if s.status != 200 or s.json.get("clip_id") != clip["id"] or s.json.get("status") != "accepted":
            problems.append("clip %s has no matching accepted submission: %s" % (clip["id"], s.describe()))
    missing = accepted_clips - {c["id"] for c in listed}
    if missing:
        problems.append("acknowledged clips missing from GET /clips: %s" % sorted(missing)[:5])
    # Nothing half-exists, and nothing unacknowledged beyond the requests cut off by the kill.
    db = DB(ctx, db_url)
    checks = {
        "accepted submissions without a clip": "SELECT count(*) FROM submissions WHERE status = 'accepted' AND clip_id IS NULL",
        "rejected submissions with a clip": "SELECT count(*) FROM submissions WHERE status = 'rejected' AND clip_id IS NOT NULL",
        "clips whose submission does not point back": "SELECT count(*) FROM clips c LEFT JOIN submissions s "
            "ON s.id = c.added_via_submission_id WHERE s.id IS NULL OR s.clip_id IS NULL OR s.clip_id <> c.id",
        "submissions pointing at a missing clip": "SELECT count(*) FROM submissions s LEFT JOIN clips c "
            "ON c.id = s.clip_id WHERE s.clip_id IS NOT NULL AND c.id IS NULL",
    }
    for what, sql in checks.items():
        n = db.scalar(sql)
        if n:
            problems.append("%d %s" % (n, what))
    stored = db.scalar("SELECT count(*) FROM submissions")
    extra = stored - len(acked)
    if extra < 0 or extra > n_lost:
        problems.append("%d submissions stored for %d acknowledged: %d unacknowledged extra, but only %d requests "
                        "were cut off by the kill" % (stored, len(acked), extra, n_lost))
    ctx.note("%d acknowledged (%d accepted clips) before kill -9, %d cut off, %d of those committed; %d clips listed"
             % (len(acked), len(accepted_clips), n_lost, max(extra, 0), len(listed)))
    assert not problems, "\n".join(problems[:20])


@test(budget=60)
def test_kill9_during_writes_sqlite(ctx):
    kill9_test(ctx, ctx.sqlite_url(), 1903)


@test(budget=60, pg=True)
def test_kill9_during_writes_postgres(ctx):
    kill9_test(ctx, ctx.pg_url(), 1904)


# ---- PostgreSQL stopped under load ------------------------------------------------------------

@test(budget=90, pg=True)
def test_postgres_stopped_under_load(ctx):
    pg = ctx.suite.pg
    srv = ctx.server(ctx.pg_url(), name="pg-outage")
    port, pid = srv.port, srv.proc.pid
    cid = request(port, "POST", "/contributors", {}).json["id"]
    phase = ["up"]
    records = []
    lock = threading.Lock()

    def loader(w):
        ka = KeepAlive(port, timeout=10)
        n = 0
        while not ctx.stop.is_set():
            n += 1
            kind = ("health", "clips", "submit", "contributor")[(n + w) % 4]
            if kind == "health":
                outcome, r = ka.call("GET", "/health/")
            elif kind == "clips":
                outcome, r = ka.call("GET", "/clips?limit=5")
            elif kind == "submit":
                outcome, r = ka.call("POST", "/submissions", {"contributor_id": cid, "raw_youtube_input": video_id(),
                                                              "raw_date_input": "1905-03-0%d" % (1 + n % 9)})
            else:
                outcome, r = ka.call("POST", "/contributors", {"display_name": "x"})
            with lock:
                records.append((phase[0], kind, outcome, r))
            time.sleep(0.02)

    for w in range(4):
        ctx.thread(loader, w)
    try:
        time.sleep(2.5)
        phase[0] = "stopping"
        pg.stop(mode="fast")
        phase[0] = "settling"
        time.sleep(1.0)
        phase[0] = "down"
        time.sleep(4.0)
        phase[0] = "starting"
        pg.start()
        phase[0] = "recovering"
        t0 = time.monotonic()
        ok = wait_until(lambda: request(port, "GET", "/health/").status == 200, timeout=20, interval=0.2)
        recovered_after = time.monotonic() - t0
        assert ok, "GET /health/ did not return to 200 within 20 s of PostgreSQL starting again"
        phase[0] = "up-again"
        time.sleep(2.0)
    finally:
        ctx.stop.set()
        if not pg.running:
            pg.start()  # later tests share the cluster
    time.sleep(0.5)
    with lock:
        recs = list(records)
    problems = []
    by_phase = {}
    for ph, kind, outcome, r in recs:
        by_phase.setdefault(ph, []).append((kind, outcome, r))
        if outcome != "ok":
            problems.append("[%s] %s: the connection failed (%s: %r)" % (ph, kind, outcome, r))
            continue
        if r.status not in (200, 201, 503):
            problems.append("[%s] %s: HTTP %s, expected 200/201 or 503: %s" % (ph, kind, r.status, r.describe()))
        if r.status == 503:
            try:
                check_error_shape(r.json, "SERVICE_UNAVAILABLE", "[%s] %s 503" % (ph, kind))
                if kind == "health":
                    assert r.json.get("status") == "unavailable", "health 503 without status 'unavailable': " + r.describe()
            except AssertionError as e:
                problems.append(str(e))
    down = by_phase.get("down", [])
    for kind in ("health", "clips", "submit", "contributor"):
        got = [r.status for k, o, r in down if k == kind and o == "ok"]
        if len(got) < 3:
            problems.append("only %d %s requests answered while PostgreSQL was down" % (len(got), kind))
        elif any(s != 503 for s in got):
            problems.append("%s while PostgreSQL was down: statuses %s, expected only 503" % (kind, sorted(set(got))))
    after = [r.status for k, o, r in by_phase.get("up-again", []) if o == "ok"]
    if not after or any(s not in (200, 201) for s in after):
        problems.append("after recovery: statuses %s, expected 200/201 only" % sorted(set(after)))
    if not srv.alive() or srv.proc.pid != pid:
        problems.append("the server did not survive the outage (exit %s)" % srv.proc.returncode)
    ctx.note("%d requests; phases: %s; healthy again %.1f s after PostgreSQL started"
             % (len(recs), ", ".join("%s %d" % (p, len(v)) for p, v in by_phase.items()), recovered_after))
    assert not problems, "\n".join(problems[:20])


# ---- SIGTERM under load ---------------------------------------------------------------------------

DRAIN = 2


@test(budget=60)
def test_sigterm_under_load(ctx):
    srv = ctx.server(ctx.sqlite_url(), env={"TIMEWARP_DRAIN_SECONDS": str(DRAIN)}, name="sigterm")
    port = srv.port
    cid = request(port, "POST", "/contributors", {}).json["id"]
    t = {"sigterm": None}
    events = []
    lock = threading.Lock()

    def loader(w, keepalive):
        ka = KeepAlive(port, timeout=10)
        n, refused = 0, 0
        while not ctx.stop.is_set() and refused < 3:
            n += 1
            if n % 2:
                outcome, r = ka.call("GET", "/clips?limit=5", headers={} if keepalive else {"Connection": "close"})
            else:
                outcome, r = ka.call("POST", "/submissions", {"contributor_id": cid, "raw_youtube_input": video_id(),
                                                              "raw_date_input": "1906-01-01"},
                                     headers={} if keepalive else {"Connection": "close"})
            with lock:
                events.append((time.monotonic(), keepalive, outcome, r))
            refused = refused + 1 if outcome == "refused" else 0
            if outcome == "refused":
                time.sleep(0.1)

    for w in range(4):
        ctx.thread(loader, w, w < 2)

    # Two requests that will be in flight across the whole shutdown.
    body = ('{"contributor_id":"%s","raw_youtube_input":"%s","raw_date_input":"1906-02-02"}' % (cid, video_id())).encode()
    slow_post = socket.create_connection((HOST, port), timeout=10)
    slow_post.sendall(b"POST /submissions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body[:20])
    slow_get = socket.create_connection((HOST, port), timeout=10)
    slow_get.sendall(b"GET /clips?limit=1 HTTP/1.1\r\nHost: localhost\r\n")
    time.sleep(1.0)

    t["sigterm"] = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    problems = []
    time.sleep(0.5)
    # Draining: still accepting and serving, but the health check fails.
    h = request(port, "GET", "/health/", timeout=5)
    if h.status != 503:
        problems.append("during the drain GET /health/ gave %s, expected 503" % h.describe())
    r = request(port, "GET", "/clips?limit=1", timeout=5)
    if r.status != 200:
        problems.append("during the drain GET /clips gave %s, expected 200" % r.describe())
    # After the drain: new connections refused while the in-flight requests still run.
    time.sleep(max(0, t["sigterm"] + DRAIN + 0.8 - time.monotonic()))
    if not srv.alive():
        problems.append("the server exited with requests still in flight (exit %s)" % srv.proc.returncode)
    try:
        socket.create_connection((HOST, port), timeout=2).close()
        problems.append("a new connection was accepted %.1f s after SIGTERM (drain %d s)"
                        % (time.monotonic() - t["sigterm"], DRAIN))
    except ConnectionRefusedError:
        pass
    except OSError as e:
        problems.append("a new connection after the drain failed with %r, expected ECONNREFUSED" % e)
    # Finish the in-flight requests.
    slow_post.sendall(body[20:])
    slow_get.sendall(b"\r\n")
    for name, s, want in (("POST /submissions", slow_post, 201), ("GET /clips", slow_get, 200)):
        s.settimeout(10)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if cl and len(rest) >= int(cl[0].split(b":")[1]):
                    break
        except OSError as e:
            problems.append("in-flight %s: %r after %r" % (name, e, data[:200]))
        s.close()
        if not data.startswith(b"HTTP/1.1 %d" % want):
            problems.append("in-flight %s: expected HTTP %d, got %r" % (name, want, data[:300]))
    try:
        code = srv.proc.wait(timeout=20)
    except Exception:
        code = None
        problems.append("the server did not exit within 20 s of the in-flight requests finishing")
    elapsed = time.monotonic() - t["sigterm"]
    ctx.stop.set()
    time.sleep(0.3)
    if code is not None and code != 0:
        problems.append("exit code %s after SIGTERM, expected 0" % code)
    drain_end = t["sigterm"] + DRAIN
    ok = closed_late = 0
    closed_kinds = {}
    for when, keepalive, outcome, r in events:
        label = "keep-alive" if keepalive else "one-shot"
        if outcome == "ok":
            ok += 1
            if r.status not in (200, 201):
                problems.append("%s request %.2f s after SIGTERM: %s" % (label, when - t["sigterm"], r.describe()))
        elif outcome == "refused":
            if when < drain_end:
                problems.append("%s connection refused %.2f s after SIGTERM, during the drain" % (label, when - t["sigterm"]))
        elif outcome == "closed" and when >= drain_end:
            # Closed before the first response byte once the drain is over: the server closing an
            # idle keep-alive connection (or one it never accepted) as it stops. Clients retry those.
            closed_late += 1
            key = "%s %s" % (label, type(r).__name__)
            closed_kinds[key] = closed_kinds.get(key, 0) + 1
        else:
            problems.append("%s request %.2f s after SIGTERM ended %s: %r" % (label, when - t["sigterm"], outcome, r))
    ctx.note("%d requests answered; %d connections closed before any response after the drain%s; "
             "exit after %.1f s" % (ok, closed_late, " (%s)" % ", ".join("%s: %d" % kv for kv in sorted(closed_kinds.items()))
                                   if closed_kinds else "", elapsed))
    assert not problems, "\n".join(problems[:20])
