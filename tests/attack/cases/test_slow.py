"""Slow clients (SQLite, development settings, default TIMEWARP_IDLE_TIMEOUT of 25 s).

Slowloris: 300 connections each send a request line and then one header byte every 2 s for
about 20 s, while a normal client keeps making requests on fresh connections; every one of
them must get a 200 quickly. Meanwhile three connections fall silent (one never sends a
byte, one stops in the middle of its headers, one after a complete keep-alive exchange):
each must be closed by the server within 30 s of its last byte, and not before 20 s (the
load balancer's idle timeout, which the server's must exceed, see DEPLOYMENT.md).
"""

import resource
import select
import socket
import statistics
import time

from attack.framework import test
from attack.http import HOST, request

SLOW_CONNECTIONS = 300
SLOW_SECONDS = 20
BYTE_EVERY = 2.0
ALB_IDLE = 20
MAX_IDLE_CLOSE = 30


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard) if hard != resource.RLIM_INFINITY else n, hard))


@test(budget=75)
def test_slowloris_and_idle_connections(ctx):
    raise_fd_limit(SLOW_CONNECTIONS + 200)
    srv = ctx.server(ctx.sqlite_url(), name="slowloris")
    port = srv.port
    # A few clips so the normal client's GET /clips does real work.
    c = request(port, "POST", "/contributors", {}).json["id"]
    for d in ("1902-01-01", "1902-01-02"):
        request(port, "POST", "/submissions", {"contributor_id": c, "raw_youtube_input": "dQw4w9WgXc" + d[-1],
                                                "raw_date_input": d})

    # The silent ones, with the time of their last byte.
    silent = {}
    s = socket.create_connection((HOST, port), timeout=5)
    silent["sent nothing"] = [s, time.monotonic(), None]
    s = socket.create_connection((HOST, port), timeout=5)
    s.sendall(b"GET /health/ HTTP/1.1\r\nHost: localhost\r\nX-Half: ")
    silent["stopped inside its headers"] = [s, time.monotonic(), None]
    s = socket.create_connection((HOST, port), timeout=5)
    s.sendall(b"GET /health/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
    got = b""
    s.settimeout(5)
    while b"\r\n\r\n" not in got or not got.endswith(b"}"):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    assert got.startswith(b"HTTP/1.1 200"), "keep-alive probe: %r" % got[:200]
    silent["went idle after a keep-alive exchange"] = [s, time.monotonic(), None]

    # The slowloris connections.
    slow = []
    for i in range(SLOW_CONNECTIONS):
        try:
            s = socket.create_connection((HOST, port), timeout=5)
            s.sendall(b"GET /health/ HTTP/1.1\r\nHost: localhost\r\n")
            s.setblocking(False)
            slow.append(s)
        except OSError as e:
            raise AssertionError("opening slow connection %d failed: %r" % (i, e))
    ctx.note("%d slowloris connections open" % len(slow))

    def drip():
        sent_rounds = 0
        end = time.monotonic() + SLOW_SECONDS
        while not ctx.stop.is_set() and time.monotonic() < end:
            for s in slow:
                try:
                    s.send(b"X-Slowloris-%d: a" % sent_rounds if sent_rounds == 0 else b"a")
                except OSError:
                    pass
            sent_rounds += 1
            ctx.stop.wait(BYTE_EVERY)
    dripper = ctx.thread(drip)

    # The normal client, on fresh connections, for as long as the slow ones drip.
    lat, failures = [], []
    t_end = time.monotonic() + SLOW_SECONDS
    i = 0
    while time.monotonic() < t_end:
        path = "/health/" if i % 2 == 0 else "/clips?limit=5"
        i += 1
        try:
            r = request(port, "GET", path, timeout=5)
            lat.append(r.elapsed)
            if r.status != 200:
                failures.append("%s → %s" % (path, r.describe()))
        except OSError as e:
            failures.append("%s → %r" % (path, e))
        time.sleep(0.05)
    dripper.join(timeout=BYTE_EVERY + 2)
    open_slow = 0
    for s in slow:
        try:
            r, _, _ = select.select([s], [], [], 0)
            if not r or s.recv(1, socket.MSG_PEEK):
                open_slow += 1
        except OSError:
            pass
        s.close()
    ctx.note("normal client: %d requests, median %.1f ms, max %.1f ms; slowloris connections still open at the end: %d"
             % (len(lat), 1000 * statistics.median(lat) if lat else -1, 1000 * max(lat) if lat else -1, open_slow))
    assert not failures, "%d normal request(s) failed during the slowloris attack:\n%s" % (
        len(failures), "\n".join(failures[:10]))
    assert len(lat) >= 100, "only %d normal requests completed in %d s" % (len(lat), SLOW_SECONDS)
    assert statistics.median(lat) < 0.1, "median latency %.0f ms under slowloris" % (1000 * statistics.median(lat))
    assert max(lat) < 1.0, "a normal request took %.2f s under slowloris" % max(lat)

    # Wait for the server to close the silent ones.
    deadline = time.monotonic() + MAX_IDLE_CLOSE + 3
    pending = dict(silent)
    while pending and time.monotonic() < deadline:
        socks = [v[0] for v in pending.values()]
        r, _, _ = select.select(socks, [], [], 0.5)
        for name, v in list(pending.items()):
            if v[0] in r:
                try:
                    data = v[0].recv(4096)
                except OSError:
                    data = b""
                if not data:
                    v[2] = time.monotonic() - v[1]
                    del pending[name]
    problems = []
    for name, (s, _, after) in silent.items():
        s.close()
        if after is None:
            problems.append("the connection that %s was still open after %d s" % (name, MAX_IDLE_CLOSE + 3))
        elif after > MAX_IDLE_CLOSE:
            problems.append("the connection that %s was closed only after %.1f s" % (name, after))
        elif after < ALB_IDLE:
            problems.append("the connection that %s was closed after %.1f s, before the ALB's %d s idle timeout"
                            % (name, after, ALB_IDLE))
        else:
            ctx.note("closed by the server %.1f s after its last byte: the connection that %s" % (after, name))
    assert not problems, "\n".join(problems)
    r = request(port, "GET", "/health/", timeout=5)
    assert r.status == 200, "health after the attack: " + r.describe()
