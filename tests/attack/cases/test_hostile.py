"""Hostile HTTP on raw sockets, in five groups (sizes, chunked encoding, paths and query
strings, JSON bodies, request lines), each against a server of its own (SQLite,
development settings).

Every case must get a clean 4xx: a complete response with a 4xx status (the application's
own answers also in SPEC.md's JSON error shape, as valid UTF-8). A closed connection
without a response is accepted only where HTTP gives no other choice, and the case says so:
bytes that are not an HTTP request at all (a TLS ClientHello, a request line without a
target), and a client that goes away in the middle of its body. An unsupported HTTP
version may get the 505 HTTP prescribes. After every case the server must still answer
GET /health/ with 200; at the end its stdout must be one JSON object per line (nothing a
client sent can forge a log line), and it must exit 0 on SIGTERM with no ASan/UBSan report.

SPEC.md "The HTTP edge": every response, those refused before routing included (431, 414,
a bad request line, a broken chunked body), has the JSON error shape, the security headers
and an access-log line; a request that could be read two ways (a NUL or other control byte,
Content-Length with Transfer-Encoding, differing Content-Lengths, obs-fold, bare LF) gets
400 and the connection is closed after the response (`must_close`).
"""

import json
import socket
import threading
import time

from attack.framework import test, check_error_shape, stdout_lines, video_id
from attack.http import exchange, request, request_bytes

MAX_BODY = 1048576


def post(path, body, ctype="application/json", extra=None, close=True):
    headers = {"Content-Type": ctype}
    headers.update(extra or {})
    return request_bytes("POST", path, headers, body, close=close)


def get(path, extra=None):
    return request_bytes("GET", path, extra)


def chunked(body, size=65536):
    out = b""
    for i in range(0, len(body), size):
        c = body[i:i + size]
        out += b"%x\r\n" % len(c) + c + b"\r\n"
    return out + b"0\r\n\r\n"


CHUNKED_HEAD = (b"POST /contributors HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")


def declared_head(length, extra=b""):
    return (b"POST /contributors HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\n" + extra + b"Content-Length: " + length + b"\r\n\r\n")


class Case:
    def __init__(self, name, data=None, statuses=(400,), code=None, allow_close=None, pieces=None,
                 timeout=5.0, why="", must_close=False):
        self.group = None
        self.name = name
        self.data = data
        self.statuses = statuses
        self.code = code  # expected error.code when the application answered
        self.allow_close = allow_close  # None, or the reason a bare close is acceptable
        self.pieces = pieces
        self.timeout = timeout
        self.why = why
        self.must_close = must_close  # the server must close the connection after answering


def cases(cursor):
    big = b" " * (2 * MAX_BODY)
    c = []

    def group(name):
        for case in c:
            case.group = case.group or name
    # -- sizes -------------------------------------------------------------------------------
    c.append(Case("header-70KiB", get("/health/", {"X-Big": "a" * 70000}), (431, 400)))
    c.append(Case("500-headers", get("/health/", {"X-H%d" % i: "b" * 100 for i in range(500)}), (431, 400)))
    c.append(Case("uri-80KiB", get("/clips?" + "a=b&" * 20000), (414, 431, 400)))
    c.append(Case("body-declared-2MiB-sent-whole", declared_head(b"%d" % len(big)) + big, (413,), "PAYLOAD_TOO_LARGE",
                  timeout=15))
    c.append(Case("body-declared-2MiB-expect-100-continue",
                  declared_head(b"%d" % len(big), b"Expect: 100-continue\r\n"), (413,), "PAYLOAD_TOO_LARGE"))
    c.append(Case("body-chunked-2MiB", CHUNKED_HEAD + chunked(big), (413,), "PAYLOAD_TOO_LARGE", timeout=15))
    c.append(Case("body-declared-2MiB-client-waits-for-answer",
                  pieces=[(0, declared_head(b"%d" % len(big)) + b" " * 65536)], statuses=(413,),
                  code="PAYLOAD_TOO_LARGE",
                  why="SPEC.md: a 413 is sent as soon as the declared length exceeds the limit"))
    c.append(Case("content-length-2^64", declared_head(b"18446744073709551616") + b"{}", (413, 400)))
    c.append(Case("content-length-2^64-1", declared_head(b"18446744073709551615") + b"{}", (413, 400),
                  why="a declared length no body can have: refuse it instead of waiting for it"))
    c.append(Case("content-length-negative", declared_head(b"-1") + b"{}", (400,)))
    c.append(Case("content-length-not-a-number", declared_head(b"12abc") + b"{}", (400,)))
    group("sizes")
    # -- chunked encoding ----------------------------------------------------------------------
    c.append(Case("chunked-size-not-hex", CHUNKED_HEAD + b"zz\r\n{}\r\n0\r\n\r\n", (400,)))
    c.append(Case("chunked-size-overflow", CHUNKED_HEAD + b"FFFFFFFFFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n", (400, 413)))
    c.append(Case("chunked-data-longer-than-size", CHUNKED_HEAD + b"2\r\n{}XX\r\n0\r\n\r\n", (400,)))
    c.append(Case("chunked-100KiB-chunk-extension", CHUNKED_HEAD + b"2;" + b"e" * 100000 + b"\r\n{}\r\n0\r\n\r\n",
                  (400, 431), why="SPEC.md: a 5xx is never the answer to something the client got wrong"))
    c.append(Case("client-aborts-mid-body", pieces=[(0, declared_head(b"1000") + b'{"display_name":"'), (0.2, None)],
                  statuses=(400,), allow_close="the client stopped sending; the server may only wait or close",
                  timeout=2))
    group("chunked")
    # -- paths and query strings -----------------------------------------------------------------
    c.append(Case("path-bad-utf8-percent", get("/clips/%C3%28"), (404,), "NOT_FOUND"))
    c.append(Case("path-bad-utf8-raw", b"GET /clips/\xff\xfe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                  (404, 400)))
    c.append(Case("path-nul-percent-after-route", get("/clips%00"), (404, 400),
                  why="'/clips\\0' is not the route '/clips'"))
    c.append(Case("path-nul-percent-as-id", get("/clips/%00"), (404, 400),
                  why="an id of one NUL byte is not an empty id (which would list the clips)"))
    c.append(Case("path-newline-log-injection", get("/clips%0A%7B%22injected%22%3A1%7D"), (404, 400)))
    c.append(Case("query-bad-utf8-from", get("/clips?from=%FF"), (400,), "BAD_REQUEST"))
    c.append(Case("query-bad-utf8-limit", get("/clips?limit=%C3%28"), (400,), "BAD_REQUEST"))
    c.append(Case("query-bad-utf8-cursor", get("/clips?cursor=%FF%FE"), (400,), "BAD_REQUEST"))
    c.append(Case("query-nul-in-limit", get("/clips?limit=5%00x"), (400,), "BAD_REQUEST",
                  why="SPEC.md: limit is decimal digits only"))
    c.append(Case("query-nul-in-from", get("/clips?from=2020-01-01%00x"), (400,), "BAD_REQUEST",
                  why="SPEC.md: a bad 'from' is a 400"))
    c.append(Case("query-nul-after-valid-cursor", get("/clips?limit=1&cursor=" + cursor + "%00x"), (400,), "BAD_REQUEST",
                  why="SPEC.md: a cursor is valid only character for character as issued"))
    c.append(Case("query-nul-beyond-first-KiB", get("/clips?pad=" + "x" * 1100 + "&limit=5%00x"), (400,), "BAD_REQUEST",
                  why="a NUL far into a long query string is still a NUL"))
    c.append(Case("query-nul-only-cursor", get("/clips?cursor=%00"), (400,), "BAD_REQUEST"))
    c.append(Case("request-id-header-injection", get("/clips?limit=1", {"X-Request-Id": '"},"injected":{"a'}),
                  (200,)))
    group("paths_and_queries")
    # -- JSON bodies -------------------------------------------------------------------------------
    c.append(Case("json-duplicate-keys", post("/contributors", b'{"display_name":"a","display_name":"b"}'),
                  (400,), "BAD_REQUEST"))
    c.append(Case("json-arrays-nested-10000", post("/contributors", b"[" * 10000 + b"]" * 10000), (400,), "BAD_REQUEST"))
    c.append(Case("json-objects-nested-10000",
                  post("/contributors", b'{"display_name":' + b'{"a":' * 10000 + b"1" + b"}" * 10001), (400,), "BAD_REQUEST"))
    c.append(Case("json-nul-escape", post("/contributors", b'{"display_name":"a\\u0000b"}'), (400,), "BAD_REQUEST"))
    c.append(Case("json-nul-raw-in-string", post("/contributors", b'{"display_name":"a\x00b"}'), (400,), "BAD_REQUEST"))
    c.append(Case("json-nul-raw-after-object", post("/contributors", b'{"display_name":"ab"}\x00'), (400,), "BAD_REQUEST"))
    c.append(Case("json-bad-utf8", post("/contributors", b'{"display_name":"\xc3\x28"}'), (400,), "BAD_REQUEST"))
    c.append(Case("json-invalid-escape-before-non-ascii", post("/contributors", b'{"display_name":"\\\xc3\xa9"}'),
                  (400,), "BAD_REQUEST", why="the error message must stay valid UTF-8"))
    c.append(Case("json-truncated-unicode-escape", post("/contributors", b'{"display_name":"\\u00\xc3\xa9\xc3\xa9"}'),
                  (400,), "BAD_REQUEST", why="the error message must stay valid UTF-8"))
    c.append(Case("json-submission-nul-in-youtube-input",
                  post("/submissions", b'{"contributor_id":"ctr_x","raw_youtube_input":"dQw4w9WgXcQ\\u0000x",'
                                       b'"raw_date_input":"2020-01-01"}'), (400,), "BAD_REQUEST"))
    group("json_bodies")
    # -- request lines -----------------------------------------------------------------------------
    c.append(Case("request-line-garbage-words", b"HELLO WORLD\r\n\r\n", (400,)))
    c.append(Case("request-line-method-only", b"GET\r\n\r\n", (400,),
                  allow_close="no request-target at all: not an HTTP request line"))
    c.append(Case("request-line-tls-client-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 50 + b"\r\n\r\n",
                  (400,), allow_close="TLS bytes on a plain-HTTP port are not HTTP"))
    c.append(Case("http-0.9-request", b"GET /health/\r\n", (400,)))
    c.append(Case("http-version-9.9", b"GET /health/ HTTP/9.9\r\nHost: localhost\r\n\r\n", (400, 505)))
    group("request_lines")
    # -- ambiguity at the edge (SPEC.md "The HTTP edge"): 400 and close ----------------------------
    H = b"Host: localhost\r\n"
    c.append(Case("nul-in-target", b"GET /health/\x00junk HTTP/1.1\r\n" + H + b"\r\n", (400,), "BAD_REQUEST",
                  must_close=True, why="a path cut at a raw NUL must not be served"))
    c.append(Case("control-byte-in-target", b"GET /health/\x01 HTTP/1.1\r\n" + H + b"\r\n", (400,), "BAD_REQUEST",
                  must_close=True))
    c.append(Case("nul-in-header-value", b"GET /health/ HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", (400,),
                  "BAD_REQUEST", must_close=True))
    c.append(Case("control-byte-in-header-value", b"GET /health/ HTTP/1.1\r\n" + H + b"X-A: a\x1bb\r\n\r\n", (400,),
                  "BAD_REQUEST", must_close=True))
    c.append(Case("del-in-header-value", b"GET /health/ HTTP/1.1\r\n" + H + b"X-A: a\x7fb\r\n\r\n", (400,),
                  "BAD_REQUEST", must_close=True))
    c.append(Case("nul-in-header-name", b"GET /health/ HTTP/1.1\r\n" + H + b"X-\x00A: b\r\n\r\n", (400,),
                  "BAD_REQUEST", must_close=True))
    c.append(Case("tab-in-header-value-is-fine", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\tb\r\nConnection: close\r\n\r\n",
                  (200,), why="RFC 9110 allows HTAB inside a field value"))
    c.append(Case("content-length-and-transfer-encoding",
                  b"POST /contributors HTTP/1.1\r\n" + H + b"Content-Type: application/json\r\nContent-Length: 2\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", (400,), "BAD_REQUEST", must_close=True,
                  why="the request-smuggling ambiguity: refused, never guessed at"))
    c.append(Case("content-lengths-differ", declared_head(b"2", b"Content-Length: 3\r\n") + b"{} ", (400,), "BAD_REQUEST",
                  must_close=True))
    c.append(Case("content-length-list", declared_head(b"2, 2") + b"{}", (400,), "BAD_REQUEST", must_close=True))
    c.append(Case("transfer-encoding-gzip", b"POST /contributors HTTP/1.1\r\n" + H +
                  b"Content-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", (400,),
                  "BAD_REQUEST", must_close=True))
    c.append(Case("obs-fold", b"GET /health/ HTTP/1.1\r\n" + H + b"X-A: a\r\n  folded\r\n\r\n", (400,), "BAD_REQUEST",
                  must_close=True))
    c.append(Case("bare-lf", b"GET /health/ HTTP/1.1\n" + H + b"\n", (400,), "BAD_REQUEST", must_close=True))
    c.append(Case("space-before-colon", b"GET /health/ HTTP/1.1\r\n" + H + b"X-A : b\r\n\r\n", (400,), "BAD_REQUEST",
                  must_close=True))
    c.append(Case("two-host-headers", b"GET /clips HTTP/1.1\r\n" + H + b"Host: evil.example\r\n\r\n", (400,),
                  "BAD_REQUEST", must_close=True))
    c.append(Case("http11-without-host", b"GET /clips HTTP/1.1\r\n\r\n", (400,), "BAD_REQUEST", must_close=True))
    c.append(Case("smuggled-second-request", b"POST /contributors HTTP/1.1\r\n" + H +
                  b"Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /nope HTTP/1.1\r\n" + H + b"\r\n",
                  (400,), "BAD_REQUEST", must_close=True, why="nothing after an ambiguous request may be read as a request"))
    group("edge")
    return c


def make_cursor(port):
    """A genuine cursor (three clips in a year of their own, listed one per page)."""
    r = request(port, "POST", "/contributors", {})
    assert r.status == 201, "creating a contributor: " + r.describe()
    cid = r.json["id"]
    for day in ("1901-01-01", "1901-01-02", "1901-01-03"):
        r = request(port, "POST", "/submissions", {"contributor_id": cid, "raw_youtube_input": video_id(),
                                                   "raw_date_input": day})
        assert r.status == 201, "creating a clip: " + r.describe()
    r = request(port, "GET", "/clips?from=1901-01-01&to=1901-12-31&limit=1")
    assert r.status == 200 and r.json.get("next_cursor"), "no cursor: " + r.describe()
    return r.json["next_cursor"]


def judge(case, rep):
    """Returns None when the outcome is acceptable, else a description of what is wrong."""
    if rep.status is None:
        if case.allow_close and rep.ended in ("eof", "reset"):
            return None
        return "expected HTTP %s, got %s" % ("/".join(map(str, case.statuses)), rep.describe())
    if rep.status not in case.statuses:
        return "expected HTTP %s, got %s" % ("/".join(map(str, case.statuses)), rep.describe())
    if not rep.complete:
        return "incomplete response: " + rep.describe()
    if rep.header("server"):
        return "a Server header is sent: %r" % rep.header("server")
    for h in ("x-content-type-options", "x-frame-options", "content-security-policy", "x-request-id"):
        if not rep.header(h):
            return "the %s header is missing (every response has the security headers)" % h
    ctype = (rep.header("content-type") or "").lower()
    if rep.status >= 400 and not ctype.startswith("application/json"):
        return "a %d with Content-Type %r, not the JSON error shape" % (rep.status, ctype)
    if case.must_close and rep.ended not in ("eof", "reset"):
        return "the connection was left open after a request that could be read two ways (%s)" % rep.describe()
    if ctype.startswith("application/json"):
        try:
            text = rep.body.decode("utf-8")
        except UnicodeDecodeError as e:
            return "the JSON body is not valid UTF-8 (%s): %r" % (e, rep.body[:300])
        try:
            j = json.loads(text)
        except ValueError as e:
            return "the body is not JSON (%s): %r" % (e, rep.body[:300])
        if rep.status >= 400:
            try:
                check_error_shape(j, case.code)
            except AssertionError as e:
                return str(e)
    return None


def run_group(ctx, group):
    srv = ctx.server(ctx.sqlite_url(), name="hostile-" + group)
    cursor = make_cursor(srv.port) if group == "paths_and_queries" else "unused"
    problems = []
    closes = []
    answered = 0
    for case in [c for c in cases(cursor) if c.group == group]:
        rep = exchange(srv.port, case.data, timeout=case.timeout, pieces=case.pieces, wait_close=case.must_close)
        if rep.status is not None:
            answered += 1
        bad = judge(case, rep)
        if bad:
            problems.append("%s: %s%s" % (case.name, bad, "\n    (why: %s)" % case.why if case.why else ""))
        elif rep.status is None:
            closes.append("%s (%s)" % (case.name, case.allow_close))
        if not srv.alive():
            problems.append("%s: the server died (exit %s)\n%s" % (case.name, srv.proc.returncode, srv.stderr_tail()))
            break
        try:
            h = request(srv.port, "GET", "/health/", timeout=5)
            if h.status != 200:
                problems.append("%s: GET /health/ afterwards gave %s" % (case.name, h.describe()))
        except OSError as e:
            problems.append("%s: GET /health/ afterwards failed: %r" % (case.name, e))
        try:
            srv.check_sanitizers()
        except AssertionError as e:
            problems.append("%s: %s" % (case.name, e))
            break
    for c in closes:
        ctx.note("closed without a response, accepted: " + c)
    # Whatever a client sent, stdout stays one JSON object per line with no forged field.
    time.sleep(0.3)
    logged = 0
    for line in stdout_lines(srv):
        try:
            j = json.loads(line)
        except ValueError:
            problems.append("stdout line is not JSON: %r" % line[:300])
            continue
        if "injected" in j:
            problems.append("a client forged a log field: %r" % line[:300])
        if j.get("msg") == "request" and j.get("path", "").split("?")[0] not in ("/health/",) and j.get("status"):
            logged += 1
    # Every response has an access line (the health probes between cases are logged at debug).
    expected = answered + (5 if group == "paths_and_queries" else 0)  # make_cursor's requests
    if logged < expected:
        problems.append("%d responses but only %d access-log lines" % (expected, logged))
    assert not problems, "%d hostile case(s) mishandled:\n" % len(problems) + "\n".join(problems)


@test(budget=60)
def test_hostile_sizes(ctx):
    run_group(ctx, "sizes")


@test(budget=60)
def test_hostile_chunked(ctx):
    run_group(ctx, "chunked")


@test(budget=60)
def test_hostile_paths_and_queries(ctx):
    run_group(ctx, "paths_and_queries")


@test(budget=60)
def test_hostile_json_bodies(ctx):
    run_group(ctx, "json_bodies")


@test(budget=60)
def test_hostile_edge(ctx):
    run_group(ctx, "edge")


@test(budget=60)
def test_hostile_request_lines(ctx):
    run_group(ctx, "request_lines")


@test(budget=30)
def test_forwarded_for_counted_from_the_right(ctx):
    """X-Forwarded-For is read from the right whatever its length, and escaped in the log."""
    srv = ctx.server(ctx.sqlite_url(), name="xff", env={"TIMEWARP_TRUSTED_PROXIES": "1"})
    spoof = '6.6.6.6"}{"spoof":"x'
    xff = ", ".join(["1.1.1.%d" % i for i in range(31)] + [spoof, "10.0.0.7"])
    r = request(srv.port, "GET", "/clips?limit=1", headers={"X-Forwarded-For": xff, "X-Request-Id": "xff-1"})
    assert r.status == 200, r.describe()
    srv2 = ctx.server(ctx.sqlite_url(), name="xff2", env={"TIMEWARP_TRUSTED_PROXIES": "2"})
    r = request(srv2.port, "GET", "/clips?limit=1", headers={"X-Forwarded-For": xff, "X-Request-Id": "xff-2"})
    assert r.status == 200, r.describe()
    time.sleep(0.3)
    found = {}
    for s_ in (srv, srv2):
        for line in stdout_lines(s_):
            j = json.loads(line)  # every line is one JSON object, whatever the header said
            assert "spoof" not in j, "a client forged a log field: " + line
            if j.get("request_id", "").startswith("xff-"):
                found[j["request_id"]] = j["client_ip"]
    assert found.get("xff-1") == "10.0.0.7", "one trusted hop: the last entry, got %r" % found.get("xff-1")
    assert found.get("xff-2") == spoof, "two trusted hops: the entry before it, escaped; got %r" % found.get("xff-2")


@test(budget=60)
def test_many_lingering_413s(ctx):
    """200 clients at once each send a 2 MiB body whole before reading: every one reads its
    413 (the old linger thread fell back to a plain close, a reset, past 128 sockets)."""
    srv = ctx.server(ctx.sqlite_url(), name="linger-many")
    big = b" " * (2 * MAX_BODY)
    data = declared_head(b"%d" % len(big)) + big
    results = []
    lock = threading.Lock()

    barrier = threading.Barrier(200)

    def one():
        # Writes the whole body first, slowly (so all 200 linger at once), and only then
        # reads, as a naive client does.
        status = None
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
            barrier.wait()
            for i in range(0, len(data), 1 << 18):
                s.sendall(data[i:i + (1 << 18)])
                time.sleep(0.15)
            got = b""
            while b"\r\n" not in got:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            status = int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/1.1 ") else got[:40]
            s.close()
        except OSError as e:
            status = e.__class__.__name__
        with lock:
            results.append(status)

    threads = [threading.Thread(target=one) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=40)
    got = {s: results.count(s) for s in set(results)}
    assert got == {413: 200}, "statuses of 200 lingering 413s: %r" % got
