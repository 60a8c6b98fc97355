"""A rolling restart behind HAProxy (standing in for the ALB) must not fail one request.

Two instances on one PostgreSQL database behind HAProxy on loopback, health-checked the way
the ALB does it (GET /health/, expect 200, every 1 s, down after 2 failures, up after 2
successes) with no retries and no redispatch, so any request routed to an instance that
is going away would surface as an error. Under a steady load (wrk when installed, else a
Python keep-alive client), instance A is restarted (SIGTERM, wait for exit 0, start, wait
until HAProxy sees it up), then instance B. TIMEWARP_DRAIN_SECONDS=3 covers HAProxy's
detection time (1 s × 2) plus a margin, as 20 s covers the ALB's 10 s × 2 in production.
Zero failed requests: no 5xx, no connection errors, in wrk's count and in HAProxy's.
"""

import csv
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import time

from attack.framework import test, free_port, video_id, wait_until
from attack.http import KeepAlive, request

DRAIN = 3
LOAD_SECONDS = 26
HAPROXY_CFG = """\
global
    maxconn 4096
    stats socket {sock} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 2s
    # No second chances: a request sent to an instance that is going away must fail visibly.
    retries 0

frontend fe
    bind 127.0.0.1:{fport}
    default_backend be

backend be
    balance roundrobin
    option httpchk GET {check}
    http-check expect status 200
    default-server inter 1s fall 2 rise 2
    server a 127.0.0.1:{aport} check
    server b 127.0.0.1:{bport} check
"""

WRK_SCRIPT = """\
local paths = {{ {paths} }}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
-- About 100 requests per second per connection: steady, and leaves CPU for the health checks.
function delay()
  return 10
end
"""


def find_haproxy():
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")
                                            if os.access(p, os.X_OK)), None)


def stats(sock_path):
    """{(proxy, server): row} from HAProxy's `show stat`."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect(sock_path)
    s.sendall(b"show stat\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    text = data.decode("utf-8", "replace").lstrip("# ")
    return {(row["pxname"], row["svname"]): row for row in csv.DictReader(io.StringIO(text))}


def server_status(sock_path, name):
    try:
        return stats(sock_path).get(("be", name), {}).get("status")
    except OSError:
        return None


@test(budget=150, pg=True)
def test_rolling_restart_behind_haproxy(ctx):
    haproxy = find_haproxy()
    assert haproxy, ("haproxy is not installed: `apt-get install haproxy` (the attack suite needs it; "
                     "scripts/install-deps.sh test should list it)")
    url = ctx.pg_url()
    env = {"TIMEWARP_DRAIN_SECONDS": str(DRAIN), "TIMEWARP_SHUTDOWN_TIMEOUT": "10"}
    a = ctx.server(url, env=env, name="A")
    b = ctx.server(url, env=env, name="B", migrate=False)
    # Something to read: a few clips, one submission.
    cid = request(a.port, "POST", "/contributors", {}).json["id"]
    sub = None
    for d in range(1, 6):
        r = request(a.port, "POST", "/submissions", {"contributor_id": cid, "raw_youtube_input": video_id(),
                                                     "raw_date_input": "1909-01-%02d" % d})
        assert r.status == 201, r.describe()
        sub = r.json
    paths = ["/clips?limit=5", "/clips?from=1909-01-01&to=1909-12-31&limit=2", "/submissions/" + sub["id"],
             "/clips/" + sub["clip_id"], "/clips/" + sub["clip_id"] + "/neighbors"]
    for p in paths:
        assert request(a.port, "GET", p).status == 200, "GET %s" % p

    work = ctx.suite.newdir("haproxy")
    sock = os.path.join(work, "stats.sock")
    fport = free_port()
    cfg = os.path.join(work, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(HAPROXY_CFG.format(sock=sock, fport=fport, aport=a.port, bport=b.port, check="/health/"))
    hlog = open(os.path.join(work, "haproxy.log"), "wb")
    hp = ctx.popen([haproxy, "-f", cfg, "-db"], stdout=hlog, stderr=subprocess.STDOUT)
    ok = wait_until(lambda: hp.poll() is None and server_status(sock, "a") == "UP" and server_status(sock, "b") == "UP",
                    timeout=15, interval=0.2)
    hlog.flush()
    assert ok, "HAProxy did not see both instances up (exit %s):\n%s" % (
        hp.poll(), open(os.path.join(work, "haproxy.log"), errors="replace").read()[-2000:])

    # The load.
    wrk = shutil.which("wrk") if os.environ.get("ATTACK_LOAD") != "python" else None
    load_out = os.path.join(work, "load.out")
    py_counts = {"ok": 0, "failed": [], "requests": 0}
    if wrk:
        script = os.path.join(work, "load.lua")
        with open(script, "w") as f:
            f.write(WRK_SCRIPT.format(paths=", ".join('"%s"' % p for p in paths)))
        out = open(load_out, "wb")
        loadp = ctx.popen([wrk, "-t2", "-c8", "-d%ds" % LOAD_SECONDS, "--timeout", "5s", "-s", script,
                           "http://127.0.0.1:%d" % fport], stdout=out, stderr=subprocess.STDOUT)
    else:
        loadp = None
        t_stop = time.monotonic() + LOAD_SECONDS

        def loader(w):
            ka = KeepAlive(fport, timeout=5)
            n = 0
            while not ctx.stop.is_set() and time.monotonic() < t_stop:
                n += 1
                outcome, r = ka.call("GET", paths[(n + w) % len(paths)])
                py_counts["requests"] += 1
                if outcome == "ok" and r.status < 400:
                    py_counts["ok"] += 1
                else:
                    py_counts["failed"].append("%s %s" % (outcome, r.describe() if outcome == "ok" else repr(r)))
                time.sleep(0.01)
        threads = [ctx.thread(loader, w) for w in range(4)]
    t_load = time.monotonic()
    time.sleep(3)

    # The rolling restart.
    timeline = []
    for srv, name in ((a, "a"), (b, "b")):
        t0 = time.monotonic()
        srv.stop(timeout=30)  # SIGTERM; exit code 0 and no sanitizer report are checked here
        t_exit = time.monotonic() - t0
        srv.start(migrate=False, timeout=30)  # same port
        t_healthy = time.monotonic() - t0
        assert wait_until(lambda: server_status(sock, name) == "UP", timeout=15, interval=0.1), \
            "HAProxy did not see instance %s up again within 15 s" % name.upper()
        timeline.append("%s: exited %.1f s after SIGTERM, healthy at %.1f s, UP in HAProxy at %.1f s"
                        % (name.upper(), t_exit, t_healthy, time.monotonic() - t0))
    restarts_done = time.monotonic() - t_load

    problems = []
    if restarts_done > LOAD_SECONDS - 1:
        problems.append("the restarts took %.1f s, longer than the %d s load: the test proves less than it should"
                        % (restarts_done, LOAD_SECONDS))
    if wrk:
        try:
            loadp.wait(timeout=LOAD_SECONDS + 20)
        except subprocess.TimeoutExpired:
            problems.append("wrk did not finish")
        out.close()
        text = open(load_out, errors="replace").read()
        m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
        total = int(m.group(1)) if m else 0
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        sockerr = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
        failed = (int(non2xx.group(1)) if non2xx else 0) + (sum(int(x) for x in sockerr.groups()) if sockerr else 0)
        if not m:
            problems.append("could not read wrk's output:\n" + text[-1500:])
        failed_count = failed
        if failed:
            problems.append("%d of %d requests failed during the rolling restart:\n%s" % (failed, total, text[-1500:]))
        load_desc = "wrk, 8 connections"
    else:
        for th in threads:
            th.join(timeout=LOAD_SECONDS + 10)
        total = py_counts["requests"]
        failed_count = len(py_counts["failed"])
        if py_counts["failed"]:
            problems.append("%d of %d requests failed during the rolling restart:\n%s"
                            % (len(py_counts["failed"]), total, "\n".join(py_counts["failed"][:10])))
        load_desc = "Python keep-alive client, 4 connections"
    # HAProxy's own account: no 5xx answered, no connection or response errors towards the instances.
    st = stats(sock)
    fe = st.get(("fe", "FRONTEND"), {})
    if fe.get("hrsp_5xx") not in ("0", ""):
        problems.append("HAProxy answered %s 5xx responses" % fe.get("hrsp_5xx"))
    for name in ("a", "b"):
        row = st.get(("be", name), {})
        for col in ("econ", "eresp", "hrsp_5xx"):
            if row.get(col) not in ("0", "", None):
                problems.append("HAProxy counted %s %s for instance %s" % (row.get(col), col, name.upper()))
    served = [sum(1 for l in s.stdout_text().splitlines() if '"msg":"request"' in l) for s in (a, b)]
    if total < 200:
        problems.append("only %d requests made: not a steady load" % total)
    if not all(served):
        problems.append("a restarted instance served no request (A %d, B %d)" % tuple(served))
    for line in timeline:
        ctx.note(line)
    ctx.note("%d requests through HAProxy (%s), %d failed; restarted instances served A %d, B %d"
             % (total, load_desc, failed_count, served[0], served[1]))
    if hp.poll() is None:
        hp.send_signal(signal.SIGUSR1)  # soft stop
        try:
            hp.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    hlog.close()
    assert not problems, "\n".join(problems)
