"""Conventions: routes, trailing slashes, 404/405, HEAD, request ids, access log, health."""

import json
import time
import uuid

from twtest.framework import test, eq, status, error
from twtest.util import wait_until

NOT_FOUND = "Not found"


def _ids(ctx):
    """A real submission id and clip id to route to."""
    sub = ctx.accepted(date="%d-01-01" % ctx.year())
    return sub["id"], sub["clip_id"]


@test
def test_trailing_slash_every_route(ctx):
    sub_id, clip_id = _ids(ctx)
    cid = ctx.contributor()
    for path in ("/clips", "/health", "/clips/" + clip_id, "/submissions/" + sub_id):
        for p in (path, path + "/"):
            r = ctx.api.get(p)
            status(r, 200, "GET " + p)
    for p in ("/contributors", "/contributors/"):
        status(ctx.api.post(p, {}), 201, "POST " + p)
    for p in ("/submissions", "/submissions/"):
        r = ctx.api.post(p, {"contributor_id": cid, "raw_youtube_input": "x", "raw_date_input": "2020-01-01"})
        status(r, 201, "POST " + p)


@test
def test_unknown_route_404(ctx):
    for method, path in (
        ("GET", "/nope"), ("GET", "/nope/"), ("GET", "/clips/x/y"), ("GET", "/api/clips"),
        ("GET", "/clipsx"), ("GET", "/healthz"), ("POST", "/nope"), ("DELETE", "/nope"),
        ("GET", "/contributors/ctr_00000000000000000000000000000000"),
        # A NUL byte in the path must not cut it short into a known route.
        ("GET", "/clips%00"), ("GET", "/clips%00/x"), ("GET", "/health%00x"), ("POST", "/contributors%00"),
        ("POST", "/submissions%00x"),
    ):
        r = ctx.api.request(method, path)
        error(r, 404, detail=NOT_FOUND, code="NOT_FOUND", what="%s %s" % (method, path))


@test
def test_unknown_ids_404(ctx):
    sub_id, clip_id = _ids(ctx)
    for path in (
        "/clips/clp_" + "0" * 32,
        "/clips/" + sub_id,                     # right shape, wrong type
        "/clips/" + clip_id.upper(),            # ids are lowercase hex
        "/clips/" + clip_id[:-1],
        "/clips/" + clip_id + "0",
        "/clips/garbage", "/clips/1", "/clips/%00", "/clips/%27%20OR%201=1--",
        "/clips/" + "a" * 2000,
        "/submissions/sub_" + "0" * 32,
        "/submissions/" + clip_id,
        "/submissions/1", "/submissions/" + sub_id.replace("sub_", "SUB_"),
    ):
        r = ctx.api.get(path)
        error(r, 404, detail=NOT_FOUND, code="NOT_FOUND", what="GET " + path[:80])
        r = ctx.api.head(path)
        status(r, 404, "HEAD " + path[:80])


def _allow(r):
    v = r.header("Allow")
    assert v is not None, "405 without an Allow header: " + r.describe()
    return {m.strip().upper() for m in v.split(",") if m.strip()}


@test
def test_method_not_allowed(ctx):
    sub_id, clip_id = _ids(ctx)
    get_routes = ["/clips", "/clips/", "/clips/" + clip_id, "/clips/clp_" + "1" * 32,
                  "/submissions/" + sub_id, "/health", "/health/"]
    post_routes = ["/contributors", "/contributors/", "/submissions", "/submissions/"]
    for path in get_routes:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            r = ctx.api.request(method, path, body=b"{}", headers={"Content-Type": "application/json"})
            error(r, 405, code="METHOD_NOT_ALLOWED", what="%s %s" % (method, path))
            eq(_allow(r), {"GET", "HEAD"}, "Allow for %s %s" % (method, path))
    for path in post_routes:
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            r = ctx.api.request(method, path)
            error(r, 405, code="METHOD_NOT_ALLOWED", what="%s %s" % (method, path))
            eq(_allow(r), {"POST"}, "Allow for %s %s" % (method, path))
        r = ctx.api.request("HEAD", path)
        status(r, 405, "HEAD " + path)
        eq(_allow(r), {"POST"}, "Allow for HEAD " + path)


@test
def test_head_on_get_routes(ctx):
    sub_id, clip_id = _ids(ctx)
    for path in ("/clips", "/clips/", "/clips?limit=1", "/clips/" + clip_id, "/submissions/" + sub_id + "/",
                 "/health", "/health/"):
        g = ctx.api.get(path)
        h = ctx.api.head(path)  # the client fails the test if HEAD has a body
        eq(h.status, g.status, "HEAD %s status equals GET status" % path)


@test
def test_error_responses_are_json(ctx):
    # Explicit, although every response is checked by the client: error paths too.
    for r in (ctx.api.get("/nope"), ctx.api.request("DELETE", "/clips"),
              ctx.api.post("/contributors", body=b"{", headers={"Content-Type": "application/json"})):
        ct = r.header("Content-Type", "")
        eq(ct.split(";")[0].strip().lower(), "application/json", "Content-Type of " + r.describe())
        assert isinstance(r.json, dict), "error body must be a JSON object: " + r.describe()


@test
def test_request_id_generated(ctx):
    seen = set()
    for _ in range(5):
        r = ctx.api.get("/clips?limit=1")
        rid = r.header("X-Request-Id")
        assert rid and rid not in seen, "X-Request-Id must be present and unique per request, got %r (seen %r)" % (rid, seen)
        seen.add(rid)


@test
def test_request_id_echoed(ctx):
    for rid in (str(uuid.uuid4()), uuid.uuid4().hex, "req-123_ABC.def"):
        r = ctx.api.get("/clips?limit=1", headers={"X-Request-Id": rid})
        eq(r.header("X-Request-Id"), rid, "valid incoming X-Request-Id must be echoed")
        r = ctx.api.get("/nope", headers={"X-Request-Id": rid})
        eq(r.header("X-Request-Id"), rid, "X-Request-Id echoed on errors too")


@test
def test_request_id_invalid_not_echoed(ctx):
    # ASSUMPTION (SPEC says only "echo a valid incoming one"): an id of 1000 characters or
    # one with quotes/backslashes is not valid and is replaced by a generated one, so clients
    # cannot inject into the JSON access log or bloat it.
    for rid in ("a" * 1000, 'x"y\\z', "{\"status\":1}"):
        r = ctx.api.get("/clips?limit=1", headers={"X-Request-Id": rid})
        got = r.header("X-Request-Id")
        assert got and got != rid, "invalid X-Request-Id %r must be replaced, got %r" % (rid[:40], got and got[:60])


def _log_lines(server):
    out = []
    for line in server.stdout_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"_unparsable": line})
    return out


def _rid_of(entry):
    for k in ("request_id", "requestId", "req_id", "rid", "id"):
        if k in entry:
            return entry[k]
    return None


def _find(server, rid, timeout=5):
    def look():
        return [e for e in _log_lines(server) if _rid_of(e) == rid or rid in json.dumps(e)]
    return wait_until(look, timeout)


@test
def test_access_log_line(ctx):
    main = ctx.backend.main
    rid = "accesslog-" + uuid.uuid4().hex
    r = ctx.api.get("/clips/?limit=3", headers={"X-Request-Id": rid})
    status(r, 200)
    found = _find(main, rid)
    assert len(found) == 1, "expected exactly one stdout JSON line for request %s, found %d:\n%s\nstdout tail:\n%s" % (
        rid, len(found), found, main.stdout_text()[-1500:])
    e = found[0]
    assert "_unparsable" not in e, "access log line is not JSON: %r" % e
    # ASSUMPTION on field names: time, method, path, status, duration*, request_id.
    eq(_rid_of(e), rid, "request id in the access log line")
    eq(e.get("method"), "GET", "method in the access log line %r" % e)
    assert isinstance(e.get("path"), str) and e["path"].startswith("/clips"), "path in the access log line %r" % e
    assert e.get("status") in (200, "200"), "status in the access log line %r" % e
    dkeys = [k for k in e if k.startswith("duration") or k in ("elapsed", "latency")]
    assert dkeys and isinstance(e[dkeys[0]], (int, float)) and e[dkeys[0]] >= 0, "numeric duration in %r" % e
    t = e.get("time") or e.get("ts") or e.get("timestamp")
    assert isinstance(t, str) and len(t) >= 20, "time in the access log line %r" % e

    # An error is logged too, with its status.
    rid2 = "accesslog-" + uuid.uuid4().hex
    status(ctx.api.get("/nope", headers={"X-Request-Id": rid2}), 404)
    found = _find(main, rid2)
    assert len(found) == 1 and found[0].get("status") in (404, "404"), "404 access line for %s: %r" % (rid2, found)


@test
def test_access_log_every_line_json(ctx):
    main = ctx.backend.main
    rids = ["every-%d-%s" % (i, uuid.uuid4().hex) for i in range(5)]
    for rid in rids:
        ctx.api.post("/contributors", {}, headers={"X-Request-Id": rid})
    for rid in rids:
        found = _find(main, rid)
        eq(len(found), 1, "stdout lines for request %s" % rid)
    bad = [e["_unparsable"] for e in _log_lines(main) if "_unparsable" in e]
    assert not bad, "stdout must hold only JSON lines; found: %r" % bad[:3]


@test
def test_health(ctx):
    for p in ("/health/", "/health"):
        r = ctx.api.get(p)
        status(r, 200, "GET " + p)
        eq(r.json, {"status": "ok", "database": "ok"}, "health body")
        h = ctx.api.head(p)
        status(h, 200, "HEAD " + p)
        eq(h.body, b"", "HEAD body")
    # Load balancers probe by IP: any Host is fine.
    r = ctx.api.get("/health/", host="10.11.12.13:8000")
    status(r, 200, "health with an IP Host header")


@test
def test_health_not_logged_at_info(ctx):
    main = ctx.backend.main
    rids = ["probe-%d-%s" % (i, uuid.uuid4().hex) for i in range(4)]
    for i, rid in enumerate(rids):
        if i % 2:
            ctx.api.head("/health/", headers={"X-Request-Id": rid})
        else:
            ctx.api.get("/health/", headers={"X-Request-Id": rid})
    marker = "after-probes-" + uuid.uuid4().hex
    ctx.api.get("/clips?limit=1", headers={"X-Request-Id": marker})
    assert _find(main, marker), "the request after the probes was not logged"
    time.sleep(0.2)
    text = main.stdout_text()
    for rid in rids:
        assert rid not in text, "health probe %s was logged on stdout at info level" % rid
    for e in _log_lines(main):
        p = e.get("path") if isinstance(e, dict) else None
        assert not (isinstance(p, str) and p.split("?")[0] in ("/health", "/health/")), "health probe logged: %r" % e
