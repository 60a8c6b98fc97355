"""Production settings on PostgreSQL: secrets never reach logs or responses, and the
behaviour behind a load balancer (Host checking, HTTPS redirect, HSTS, trusted proxy hops,
security headers, metrics)."""

import json
import re
import secrets
import time
import urllib.parse

from attack.framework import test, check_error_shape, video_id, wait_until, stdout_lines
from attack.http import exchange, request, request_bytes

HOST_OK = "api.example.com"

# With DEBUG off an error body names no SQL and no file path.
SQL_IN_BODY = re.compile(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|RETURNING|ON CONFLICT|SQLSTATE)\b"
                         r"|\brelation \"|syntax error|violates|duplicate key|(?i:postgres|sqlite|libpq)")
PATH_IN_BODY = re.compile(r"(/usr/|/tmp/|/var/|/home/|/root/|/work/|/etc/|\.c:\d+|\bsrc/\w)")
# No log line carries the text of a statement.
SQL_IN_LOG = re.compile(r"\bSELECT\b.*\bFROM\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|\bDELETE FROM\b|\bON CONFLICT\b")


def prod_env(ctx, **over):
    env = {"TIMEWARP_ENV": "production", "ALLOWED_HOSTS": HOST_OK, "TIMEWARP_DRAIN_SECONDS": "0",
           "TIMEWARP_METRICS_INTERVAL": "1"}
    env.update(ctx.suite.pg.tls_env())  # production verifies the database (sslmode=verify-full)
    env.update(over)
    return env


@test(budget=90, pg=True)
def test_secrets_never_logged(ctx):
    pg = ctx.suite.pg
    password = "pw-" + secrets.token_hex(12)
    wrong_password = "pw-" + secrets.token_hex(12)
    secret_key = "sk-" + secrets.token_hex(24)
    role = "tw_secret_" + secrets.token_hex(3)
    pg.psql("CREATE ROLE %s LOGIN PASSWORD '%s';" % (role, password))
    db = pg.create_database(owner=role)
    url = pg.url(db, user=role, password=password)
    env = prod_env(ctx, LOG_LEVEL="debug")
    srv = ctx.server(url, env=env, secret_key=secret_key, name="secrets")
    port = srv.port
    outputs = []  # (what, text)
    for args in (("check", "--deploy"), ("check",), ("migrate",)):
        p = srv.run(*args)
        outputs.append(("timewarp " + " ".join(args), p.stdout + p.stderr))
        assert p.returncode == 0, "`timewarp %s` exited %d: %s" % (" ".join(args), p.returncode, p.stderr[-500:])

    responses = []  # (what, Response)

    def call(method, path, body=None, headers=None, host=HOST_OK, want=None):
        r = request(port, method, path, body=body, headers=headers, host=host)
        responses.append(("%s %s" % (method, path), r))
        if want is not None:
            assert r.status == want, "%s %s: expected %d, got %s" % (method, path, want, r.describe())
        return r

    cid = call("POST", "/contributors", {"display_name": "Secret tester"}, want=201).json["id"]
    vid = video_id()
    sub = {"contributor_id": cid, "raw_youtube_input": vid, "raw_date_input": "1907-05-05"}
    call("POST", "/submissions", sub, want=201)
    call("POST", "/submissions", dict(sub, raw_youtube_input="https://youtu.be/" + vid), want=409)
    call("POST", "/submissions", dict(sub, raw_date_input="1907-02-30"), want=201)
    call("POST", "/submissions", dict(sub, raw_youtube_input=video_id(), raw_date_input="1907-05-06"), want=201)
    cursor = call("GET", "/clips?from=1907-01-01&to=1907-12-31&limit=1", want=200).json["next_cursor"]
    call("GET", "/clips?limit=1&cursor=" + cursor, want=200)
    call("GET", "/clips?cursor=" + cursor[:-1] + ("A" if cursor[-1] != "A" else "B"), want=400)
    call("POST", "/contributors", b'{"display_name": ', headers={"Content-Type": "application/json"}, want=400)
    call("POST", "/contributors", b'{"a":1,"a":2}', headers={"Content-Type": "application/json"}, want=400)
    call("POST", "/contributors", {"is_admin": True}, want=400)
    call("POST", "/contributors", b"{}", headers={"Content-Type": "text/plain"}, want=415)
    call("POST", "/contributors", b" " * (2 << 20), headers={"Content-Type": "application/json"}, want=413)
    call("POST", "/submissions", dict(sub, contributor_id="ctr_doesnotexist"), want=400)
    call("GET", "/nowhere", want=404)
    call("DELETE", "/clips", want=405)
    call("GET", "/clips", host="evil.example", want=400)
    call("GET", "/clips", headers={"X-Forwarded-Proto": "http"}, want=301)
    # A database error that is not an outage: 500 without internals.
    dbname = url.rsplit("/", 1)[-1]
    pg.psql("ALTER TABLE clips RENAME TO clips_moved_away;", db=dbname)
    try:
        r = call("GET", "/clips?limit=1")
        assert r.status == 500, "GET /clips with its table gone: expected 500, got " + r.describe()
        check_error_shape(r.json, "INTERNAL_ERROR", "500 body")
        r = call("POST", "/submissions", dict(sub, raw_youtube_input=video_id()))
        assert r.status == 500, "POST /submissions with the clips table gone: expected 500, got " + r.describe()
    finally:
        pg.psql("ALTER TABLE clips_moved_away RENAME TO clips;", db=dbname)
    call("GET", "/clips?limit=1", want=200)
    # The database down.
    pg.stop(mode="fast")
    try:
        call("GET", "/health/", want=503)
        call("GET", "/clips", want=503)
        call("POST", "/submissions", dict(sub, raw_youtube_input=video_id()), want=503)
        call("POST", "/contributors", {}, want=503)
        # A second instance started while the database is down, and one with a wrong password.
        down = ctx.server(url, env=env, secret_key=secret_key, name="secrets-dbdown", start=False)
        down.start(migrate=False, wait=False)
        assert wait_until(lambda: _status(down.port, "/health/") == 503, timeout=15), \
            "instance started with the database down never answered 503"
        p = down.run("migrate")
        outputs.append(("timewarp migrate (database down)", p.stdout + p.stderr))
        assert p.returncode != 0, "`migrate` with the database down exited 0"
    finally:
        pg.start()
    assert wait_until(lambda: _status(port, "/health/") == 200, timeout=20), "not healthy after PostgreSQL restarted"
    bad_url = pg.url(dbname, user=role, password=wrong_password)
    bad = ctx.server(bad_url, env=env, secret_key=secret_key, name="secrets-wrongpw", start=False)
    bad.start(migrate=False, wait=False)
    assert wait_until(lambda: _status(bad.port, "/health/") == 503, timeout=15), \
        "instance with a wrong database password never answered 503"
    call_bad = request(bad.port, "GET", "/clips", host=HOST_OK)
    responses.append(("GET /clips (wrong password)", call_bad))
    p = bad.run("migrate")
    outputs.append(("timewarp migrate (wrong password)", p.stdout + p.stderr))
    assert p.returncode != 0, "`migrate` with a wrong password exited 0"
    time.sleep(1.2)  # one more metrics flush
    for s in (srv, down, bad):
        s.stop()
        outputs.append(("%s stdout+stderr" % s.name, s.stdout_text() + s.stderr_text()))
    logs = "\n".join(t for _, t in outputs)

    # The exercise really produced error logs (else the check below proves nothing).
    assert "password authentication failed" in logs, "no authentication failure was logged:\n" + logs[-1500:]
    assert re.search(r'"level":"error"', logs), "no error was logged"
    assert re.search(r'"level":"debug"', logs), "LOG_LEVEL=debug produced no debug line"

    needles = {"SECRET_KEY": secret_key, "database password": password, "wrong database password": wrong_password,
               "URL-encoded password": urllib.parse.quote(password, safe="")}
    # Any 16-character piece of the random part of the key counts as a leak too.
    for i in range(3, len(secret_key) - 16, 8):
        needles["SECRET_KEY piece %d" % i] = secret_key[i:i + 16]
    problems = []
    for what, text in outputs:
        for label, needle in needles.items():
            if needle in text:
                i = text.find(needle)
                problems.append("%s appears in %s: …%s…" % (label, what, text[max(0, i - 150):i + 60]))
        for line in text.splitlines():
            if SQL_IN_LOG.search(line):
                problems.append("SQL text in %s: %s" % (what, line[:300]))
    for what, r in responses:
        blob = r.body.decode("utf-8", "replace") + "\n" + "\n".join("%s: %s" % h for h in r.headers)
        for label, needle in needles.items():
            if needle in blob:
                problems.append("%s appears in the response to %s" % (label, what))
        body = r.body.decode("utf-8", "replace")
        if SQL_IN_BODY.search(body):
            problems.append("SQL or database internals in the body of %s (HTTP %d): %s" % (what, r.status, body[:300]))
        if PATH_IN_BODY.search(body):
            problems.append("a file path in the body of %s (HTTP %d): %s" % (what, r.status, body[:300]))
    ctx.note("%d responses and %d log/output streams (%d bytes) checked" % (len(responses), len(outputs), len(logs)))
    assert not problems, "\n".join(problems[:20])


def _status(port, path, host=HOST_OK):
    try:
        return request(port, "GET", path, host=host, timeout=5).status
    except OSError:
        return None


SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY"}


def check_headers(r, what, problems, csp=True):
    for name, value in SECURITY_HEADERS.items():
        if (r.header(name) or "").lower() != value.lower():
            problems.append("%s: %s is %r, expected %r" % (what, name, r.header(name), value))
    if not r.header("referrer-policy"):
        problems.append("%s: no Referrer-Policy" % what)
    hsts = r.header("strict-transport-security") or ""
    m = re.search(r"max-age=(\d+)", hsts)
    if not m or int(m.group(1)) < 86400:
        problems.append("%s: Strict-Transport-Security is %r" % (what, hsts or None))
    if csp and not r.header("content-security-policy"):
        problems.append("%s (%s): no Content-Security-Policy" % (what, r.header("content-type")))
    if r.header("server"):
        problems.append("%s: a Server header is sent: %r" % (what, r.header("server")))


@test(budget=90, pg=True)
def test_production_behind_a_proxy(ctx):
    url = ctx.pg_url()
    env = prod_env(ctx, ALLOWED_HOSTS="api.example.com, .example.org", TIMEWARP_TRUSTED_PROXIES="1")
    srv = ctx.server(url, env=env, name="prod")
    port = srv.port
    problems = []

    # -- Host checking -------------------------------------------------------------------------
    for host in ("api.example.com", "API.Example.COM", "api.example.com:8443", "api.example.com.", "example.org",
                 "www.example.org", "a.b.example.org", "EXAMPLE.ORG:80"):
        st = _status(port, "/clips?limit=1", host)
        if st != 200:
            problems.append("Host %r: expected 200, got %s" % (host, st))
    for host in ("evil.example", "example.org.evil.example", "notexample.org", "api.example.com.evil.example",
                 "evilapi.example.com", "example.com", "127.0.0.1", "[::1]", "api.example.com@evil.example"):
        r = request(port, "GET", "/clips?limit=1", host=host)
        if r.status != 400:
            problems.append("Host %r: expected 400, got %s" % (host, r.describe()))
        else:
            check_error_shape(r.json, None, "bad Host")
        if _status(port, "/health/", host) != 200:
            problems.append("Host %r: /health/ must answer 200 whatever the Host" % host)
    for raw, what in ((request_bytes("GET", "/clips", host=None), "no Host header"),
                      (request_bytes("GET", "/clips", host=""), "an empty Host header")):
        rep = exchange(port, raw)
        if rep.status != 400:
            problems.append("%s: expected 400, got %s" % (what, rep.describe()))

    # -- HTTPS redirect and HSTS -----------------------------------------------------------------
    r = request(port, "GET", "/clips?limit=2&from=1908-01-01", host=HOST_OK, headers={"X-Forwarded-Proto": "http"})
    if r.status != 301 or r.header("location") != "https://api.example.com/clips?limit=2&from=1908-01-01":
        problems.append("X-Forwarded-Proto: http → expected 301 to https://api.example.com/clips?limit=2&from=1908-01-01, "
                        "got %s Location %r" % (r.describe(), r.header("location")))
    check_headers(r, "301 redirect", problems)
    r = request(port, "POST", "/contributors", {}, host=HOST_OK, headers={"X-Forwarded-Proto": "http"})
    if r.status != 301:
        problems.append("POST with X-Forwarded-Proto: http → expected 301, got %s" % r.describe())
    for proto, want in (("https", 200), ("http, https", 200), ("https, http", 301), ("HTTP", 301)):
        r = request(port, "GET", "/clips?limit=1", host=HOST_OK, headers={"X-Forwarded-Proto": proto})
        if r.status != want:
            problems.append("X-Forwarded-Proto %r (one trusted hop: the last entry counts): expected %d, got %s"
                            % (proto, want, r.describe()))
    r = request(port, "GET", "/health/", host=HOST_OK, headers={"X-Forwarded-Proto": "http"})
    if r.status != 200:
        problems.append("/health/ over plain HTTP must not redirect: got %s" % r.describe())

    # -- security headers on every kind of response -----------------------------------------------
    cases = [("200 GET /clips", "GET", "/clips?limit=1", None, {}, HOST_OK),
             ("201 POST /contributors", "POST", "/contributors", {}, {}, HOST_OK),
             ("400 bad Host", "GET", "/clips", None, {}, "evil.example"),
             ("400 bad query", "GET", "/clips?limit=0", None, {}, HOST_OK),
             ("404", "GET", "/nowhere", None, {}, HOST_OK),
             ("405", "DELETE", "/clips", None, {}, HOST_OK),
             ("413", "POST", "/contributors", b" " * (2 << 20), {"Content-Type": "application/json"}, HOST_OK),
             ("415", "POST", "/contributors", b"{}", {"Content-Type": "text/plain"}, HOST_OK),
             ("200 /health/", "GET", "/health/", None, {}, "10.0.0.1"),
             ("200 web page", "GET", "/", None, {}, HOST_OK)]
    for what, method, path, body, headers, host in cases:
        r = request(port, method, path, body=body, headers=headers, host=host)
        ctype = r.header("content-type") or ""
        check_headers(r, what, problems, csp=ctype.startswith(("application/json", "text/html")))

    # -- client ip from X-Forwarded-For with one trusted hop -----------------------------------------
    ips = {"xff-spoofed": ("6.6.6.6, 203.0.113.7", "203.0.113.7"),
           "xff-single": ("198.51.100.9", "198.51.100.9"),
           "xff-three": ("1.1.1.1, 2.2.2.2, 192.0.2.44", "192.0.2.44"),
           "xff-none": (None, "127.0.0.1")}
    for rid, (xff, _) in ips.items():
        h = {"X-Request-Id": rid + "-" + secrets.token_hex(4)}
        ips[rid] = ips[rid] + (h["X-Request-Id"],)
        if xff:
            h["X-Forwarded-For"] = xff
        request(port, "GET", "/clips?limit=1", host=HOST_OK, headers=h)
    time.sleep(0.3)
    access = {}
    for line in stdout_lines(srv):
        try:
            j = json.loads(line)
        except ValueError:
            problems.append("stdout line is not JSON: %r" % line[:200])
            continue
        if j.get("request_id"):
            access[j["request_id"]] = j
    for rid, (xff, want, sent_id) in ips.items():
        line = access.get(sent_id)
        if not line:
            problems.append("no access log line with request_id %s" % sent_id)
        elif line.get("client_ip") != want:
            problems.append("X-Forwarded-For %r: client_ip logged %r, expected %r" % (xff, line.get("client_ip"), want))

    # -- metrics: /metrics off by default; EMF on stdout -------------------------------------------
    r = request(port, "GET", "/metrics", host=HOST_OK)
    if r.status != 404:
        problems.append("/metrics without TIMEWARP_METRICS_ENDPOINT: expected 404, got %s" % r.describe())
    before = len([l for l in stdout_lines(srv) if l.startswith('{"_aws"')])
    t0 = time.monotonic()
    for _ in range(5):
        request(port, "GET", "/clips?limit=1", host=HOST_OK)
    request(port, "GET", "/nowhere", host=HOST_OK)
    def new_emf():
        return [l for l in stdout_lines(srv) if l.startswith('{"_aws"')][before:]

    def counted(lines):
        total = 0
        for l in lines:
            try:
                total += int(json.loads(l).get("Requests", 0))
            except (ValueError, TypeError, AttributeError):
                pass
        return total

    # A flush may fall between the requests: the lines after them must account for all six.
    emf = wait_until(lambda: counted(new_emf()) >= 6 and new_emf(), timeout=3.5)
    if not new_emf():
        problems.append("no EMF line on stdout within %.1f s of the requests (TIMEWARP_METRICS_INTERVAL=1)"
                        % (time.monotonic() - t0))
    else:
        emf = new_emf()
        ctx.note("EMF: %d line(s) within %.1f s, counting %d requests: %s…"
                 % (len(emf), time.monotonic() - t0, counted(emf), emf[0][:90]))
        if counted(emf) < 6:
            problems.append("EMF lines after the requests count %d requests, expected at least 6" % counted(emf))
        for line in emf:
            problems.extend(check_emf(line))

    # -- Prometheus text when enabled ------------------------------------------------------------------
    prom = ctx.server(url, env=dict(env, TIMEWARP_METRICS_ENDPOINT="true"), name="prod-metrics")
    request(prom.port, "GET", "/clips?limit=1", host=HOST_OK)
    r = request(prom.port, "GET", "/metrics", host=HOST_OK)
    if r.status != 200 or not (r.header("content-type") or "").startswith("text/plain"):
        problems.append("/metrics with TIMEWARP_METRICS_ENDPOINT=true: %s (%s)" % (r.describe(), r.header("content-type")))
    else:
        problems.extend(check_prometheus(r.body.decode("utf-8", "replace")))
        check_headers(r, "200 /metrics", problems, csp=False)
    assert not problems, "%d problem(s):\n" % len(problems) + "\n".join(problems[:30])


def check_emf(line):
    """The CloudWatch Embedded Metric Format structure."""
    out = []
    try:
        j = json.loads(line)
    except ValueError as e:
        return ["EMF line is not JSON (%s): %r" % (e, line[:300])]
    aws = j.get("_aws")
    if not isinstance(aws, dict) or not isinstance(aws.get("Timestamp"), int):
        return ["EMF: _aws.Timestamp missing or not an integer: %r" % line[:300]]
    if abs(aws["Timestamp"] / 1000 - time.time()) > 120:
        out.append("EMF: _aws.Timestamp %d is not now in milliseconds" % aws["Timestamp"])
    cwm = aws.get("CloudWatchMetrics")
    if not isinstance(cwm, list) or not cwm:
        return out + ["EMF: _aws.CloudWatchMetrics is not a non-empty list: %r" % line[:300]]
    for d in cwm:
        if not isinstance(d, dict) or not isinstance(d.get("Namespace"), str) or not d["Namespace"]:
            out.append("EMF: a directive without Namespace: %r" % d)
            continue
        dims = d.get("Dimensions")
        if not isinstance(dims, list) or not all(isinstance(ds, list) and all(isinstance(x, str) for x in ds) for ds in dims):
            out.append("EMF: Dimensions is not a list of lists of names: %r" % dims)
        else:
            for ds in dims:
                for name in ds:
                    if not isinstance(j.get(name), str):
                        out.append("EMF: dimension %r has no string value at the top level" % name)
        metrics = d.get("Metrics")
        if not isinstance(metrics, list) or not metrics:
            out.append("EMF: Metrics is not a non-empty list")
            continue
        for m in metrics:
            if not isinstance(m, dict) or not isinstance(m.get("Name"), str):
                out.append("EMF: a metric definition without Name: %r" % m)
                continue
            v = j.get(m["Name"])
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                out.append("EMF: metric %r has no numeric value at the top level" % m["Name"])
    names = {m.get("Name") for d in cwm if isinstance(d, dict) for m in d.get("Metrics", []) if isinstance(m, dict)}
    for want in ("Requests", "Errors4xx", "Errors5xx"):
        if want not in names:
            out.append("EMF: no %s metric" % want)
    return out


PROM_SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? '
                         r'([-+]?[0-9.]+([eE][-+]?[0-9]+)?|[-+]Inf|NaN)$')


def check_prometheus(text):
    out = []
    types = {}
    samples = 0
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                out.append("Prometheus: bad TYPE line %r" % line)
            else:
                types[parts[2]] = parts[3]
        elif line.startswith("#"):
            continue
        elif not PROM_SAMPLE.match(line):
            out.append("Prometheus: bad sample line %r" % line)
        else:
            samples += 1
    if "timewarp_requests_total" not in types:
        out.append("Prometheus: no timewarp_requests_total")
    if samples < 3:
        out.append("Prometheus: only %d samples" % samples)
    return out
