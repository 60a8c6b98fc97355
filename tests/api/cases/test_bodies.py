"""Request bodies: size limit (413, lingering close), media type (415), malformed JSON,
invalid UTF-8, non-object bodies, nesting depth."""

import time

from twtest.client import connect, read_response
from twtest.framework import test, eq, status, error
from twtest.util import video_id

MIB = 1024 * 1024
ENDPOINTS = ("/contributors", "/submissions")


def _valid_body(ctx, path):
    if path == "/contributors":
        return {"display_name": "x"}
    return {"contributor_id": ctx.contributor(), "raw_youtube_input": video_id(), "raw_date_input": "2001-01-01"}


def _send_all_then_read(ctx, port, head, body, path, what):
    """Send the whole request before reading anything, then read the response."""
    s = connect(port, timeout=20)
    try:
        try:
            s.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise AssertionError(
                "%s: the server reset the connection while the client was still sending its body (%s); "
                "SPEC requires reading and discarding the rest (lingering close) so the client gets the 413" % (what, e))
        try:
            r = read_response(s, "POST", path, timeout=20)
        except (ConnectionResetError, ConnectionError) as e:
            raise AssertionError("%s: no 413 received, connection reset/closed: %s" % (what, e))
    finally:
        s.close()
    ctx.api.check(r)
    return r


@test
def test_413_declared_length_whole_body_sent_first(ctx):
    for path in ENDPOINTS:
        body = b'{"display_name": "' + b"a" * (2 * MIB) + b'"}'
        head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % (path, len(body))).encode()
        r = _send_all_then_read(ctx, ctx.api.port, head, body, path, "POST %s with 2 MiB" % path)
        error(r, 413, code="PAYLOAD_TOO_LARGE", what="POST %s with a 2 MiB body" % path)
    status(ctx.api.get("/health/"), 200, "server healthy after 413s")


@test
def test_413_declared_length_without_body(ctx):
    # Expect: 100-continue with a declared length over the limit: the 413 comes without the body.
    for path in ENDPOINTS:
        s = connect(ctx.api.port, timeout=10)
        try:
            s.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (path, 50 * MIB)).encode())
            r = read_response(s, "POST", path, timeout=10)
        finally:
            s.close()
        ctx.api.check(r)
        error(r, 413, code="PAYLOAD_TOO_LARGE", what="POST %s declaring 50 MiB with Expect: 100-continue" % path)


@test
def test_413_chunked_body_over_limit(ctx):
    path = "/contributors"
    chunk = b"a" * 65536
    body = b'{"display_name": "'
    parts = [b"%x\r\n%s\r\n" % (len(body), body)]
    for _ in range(2 * MIB // len(chunk)):
        parts.append(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    parts.append(b'2\r\n"}\r\n0\r\n\r\n')
    head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n" % path).encode()
    r = _send_all_then_read(ctx, ctx.api.port, head, b"".join(parts), path, "chunked 2 MiB body")
    error(r, 413, code="PAYLOAD_TOO_LARGE", what="chunked 2 MiB body")


@test
def test_body_limit_boundary(ctx):
    # Exactly 1 MiB (JSON padded with whitespace) is accepted; one byte more is 413.
    core = b'{"display_name": "edge", "external_id": null}'
    exact = core + b" " * (MIB - len(core))
    eq(len(exact), MIB, "test body size")
    r = ctx.api.post("/contributors", body=exact, headers={"Content-Type": "application/json"})
    status(r, 201, "a body of exactly 1 MiB (the default limit)")
    r = ctx.api.post("/contributors", body=exact + b" ", headers={"Content-Type": "application/json"})
    error(r, 413, code="PAYLOAD_TOO_LARGE", what="a body of 1 MiB + 1 byte")


@test
def test_notes_up_to_body_limit(ctx):
    cid = ctx.contributor()
    notes = "n" * (MIB - 2000)
    r = ctx.submit(contributor_id=cid, date="2002-02-02", notes=notes)
    status(r, 201, "notes of ~1 MiB within the body limit")
    eq(r.json["notes"], notes, "notes round-trip")
    if r.json["clip_id"]:
        c = ctx.api.get("/clips/" + r.json["clip_id"])
        eq(c.json["notes"], notes, "clip notes")


@test
def test_body_limit_configurable(ctx):
    # (The server accepts limits from 1024 bytes up; 2048 is well inside.)
    srv = ctx.server(env={"TIMEWARP_MAX_BODY_BYTES": "2048"})
    api = ctx.client(srv)
    core = b'{"display_name": "edge"}'
    r = api.post("/contributors", body=core + b" " * (2048 - len(core)), headers={"Content-Type": "application/json"})
    status(r, 201, "2048-byte body with TIMEWARP_MAX_BODY_BYTES=2048")
    r = api.post("/contributors", body=core + b" " * (2049 - len(core)), headers={"Content-Type": "application/json"})
    error(r, 413, code="PAYLOAD_TOO_LARGE", what="2049-byte body with TIMEWARP_MAX_BODY_BYTES=2048")


@test
def test_415_media_type(ctx):
    for path in ENDPOINTS:
        body = _valid_body(ctx, path)
        import json as _j
        raw = _j.dumps(body).encode()
        for ct in ("text/plain", "application/x-www-form-urlencoded", "text/json", "application/jsonx",
                   "application/json-patch+json", "multipart/form-data; boundary=x", "application/xml"):
            r = ctx.api.post(path, body=raw, headers={"Content-Type": ct})
            error(r, 415, code="UNSUPPORTED_MEDIA_TYPE", what="POST %s with Content-Type %s" % (path, ct))
        # A JSON body without any Content-Type.
        r = ctx.api.post(path, body=raw)
        error(r, 415, code="UNSUPPORTED_MEDIA_TYPE", what="POST %s with a body and no Content-Type" % path)


@test
def test_json_content_type_variants_accepted(ctx):
    import json as _j
    # A charset parameter is fine (SPEC); media types are case-insensitive (RFC 9110 8.3.1).
    for ct in ("application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8",
               "application/json ; charset=\"utf-8\"", "Application/JSON"):
        for path in ENDPOINTS:
            raw = _j.dumps(_valid_body(ctx, path)).encode()
            r = ctx.api.post(path, body=raw, headers={"Content-Type": ct})
            status(r, 201, "POST %s with Content-Type %r" % (path, ct))


MALFORMED = [
    b"{", b"}", b"{\"display_name\": }", b"{\"display_name\": \"x\",}", b"{\"display_name\": 'x'}",
    b"{display_name: \"x\"}", b"{} x", b"{}{}", b"{\"display_name\": \"x\"} {}", b"{\"display_name\": NaN}",
    b"{\"display_name\": \"x\" /* c */}", b"{\"display_name\": \"\\x\"}", b"{\"display_name\": \"a\nb\"}",
    b"{\"display_name\": \"\\u12\"}", b"nul", b"\x00", b"  ", b"{\"display_name\": \"x\"",
]


@test
def test_malformed_json_400(ctx):
    for path in ENDPOINTS:
        for body in MALFORMED:
            r = ctx.api.post(path, body=body, headers={"Content-Type": "application/json"})
            error(r, 400, what="POST %s with malformed body %r" % (path, body))


@test
def test_duplicate_keys_400(ctx):
    r = ctx.api.post("/contributors", body=b'{"display_name": "a", "display_name": "b"}',
                     headers={"Content-Type": "application/json"})
    error(r, 400, what="duplicate key display_name")
    r = ctx.api.post("/contributors", body=b'{"display_name": "a", "display_name": "a"}',
                     headers={"Content-Type": "application/json"})
    error(r, 400, what="duplicate key with equal values")
    cid = ctx.contributor()
    v = video_id()
    body = ('{"contributor_id": "%s", "raw_youtube_input": "%s", "raw_date_input": "2003-03-03", '
            '"raw_date_input": "2003-03-04"}' % (cid, v)).encode()
    r = ctx.api.post("/submissions", body=body, headers={"Content-Type": "application/json"})
    error(r, 400, what="duplicate key raw_date_input")
    # Nothing was stored: the same video/date is still free.
    status(ctx.submit(contributor_id=cid, youtube=v, date="2003-03-03"), 201, "after a 400, no clip exists")


def _nest(depth, inner=b"1"):
    return b"[" * depth + inner + b"]" * depth


@test
def test_nesting_depth(ctx):
    # Deeper than 64 levels -> 400. At 64 the JSON parses, but a nested value is still a wrong
    # type for every field, so it is a 400 as well (no field accepts nested values).
    for depth in (63, 64, 65, 1000, 100000):
        v = _nest(depth)
        for body in (b'{"display_name": ' + v + b"}", v):
            r = ctx.api.post("/contributors", body=body, headers={"Content-Type": "application/json"})
            error(r, 400, what="nesting depth %d (%s)" % (depth, "value" if body[0:1] == b"{" else "body"))
    deep_obj = b'{"a":' * 100000 + b"1" + b"}" * 100000
    r = ctx.api.post("/submissions", body=deep_obj, headers={"Content-Type": "application/json"})
    error(r, 400, what="100000 nested objects")
    status(ctx.api.get("/health/"), 200, "server healthy after deep nesting")


INVALID_UTF8 = [
    b'{"display_name": "\xff"}',
    b'{"display_name": "\xc0\xaf"}',           # overlong '/'
    b'{"display_name": "\xe0\x80\xaf"}',       # overlong, 3 bytes
    b'{"display_name": "\xed\xa0\x80"}',       # UTF-16 surrogate encoded in UTF-8
    b'{"display_name": "\xf4\x90\x80\x80"}',   # above U+10FFFF
    b'{"display_name": "abc\xe2\x82"}',        # truncated sequence
    b'{"display_\xfename": "x"}',              # in a key
    b'{"display_name": "x"}\xff',              # after the value
    b'\xfe\xff\x00{\x00}',                     # UTF-16
]


@test
def test_invalid_utf8_400(ctx):
    for body in INVALID_UTF8:
        r = ctx.api.post("/contributors", body=body, headers={"Content-Type": "application/json"})
        error(r, 400, what="invalid UTF-8 %r" % body)
    cid = ctx.contributor()
    body = ('{"contributor_id": "%s", "raw_youtube_input": "' % cid).encode() + b"\xff" + b'", "raw_date_input": "2004-01-01"}'
    r = ctx.api.post("/submissions", body=body, headers={"Content-Type": "application/json"})
    error(r, 400, what="invalid UTF-8 in raw_youtube_input")


@test
def test_unicode_escapes(ctx):
    # A lone surrogate escape is not a Unicode string: 400 (ASSUMPTION; it cannot be stored as UTF-8).
    for esc in (b"\\ud800", b"\\udc00", b"a\\ud83dz"):
        r = ctx.api.post("/contributors", body=b'{"display_name": "' + esc + b'"}',
                         headers={"Content-Type": "application/json"})
        error(r, 400, what="lone surrogate escape %r" % esc)
    # A valid surrogate pair escape decodes to the character.
    r = ctx.api.post("/contributors", body=b'{"display_name": "\\ud83c\\udfb8 \\u00e9"}',
                     headers={"Content-Type": "application/json"})
    status(r, 201, "surrogate pair escape")
    eq(r.json["display_name"], "\U0001F3B8 \u00e9", "decoded escapes")
    # NUL: either refused with 400 or stored and echoed exactly; never a 5xx.
    r = ctx.api.post("/contributors", body=b'{"display_name": "a\\u0000b"}', headers={"Content-Type": "application/json"})
    status(r, (201, 400), "display_name with an escaped NUL")
    if r.status == 201:
        eq(r.json["display_name"], "a\x00b", "NUL round-trip")


@test
def test_non_object_bodies_400(ctx):
    for path in ENDPOINTS:
        for body in (b"[]", b"[{}]", b'"x"', b"1", b"-1.5", b"null", b"true", b"false", b'[{"display_name": "x"}]'):
            r = ctx.api.post(path, body=body, headers={"Content-Type": "application/json"})
            error(r, 400, what="POST %s with non-object body %r" % (path, body))


@test
def test_4xx_writes_nothing(ctx):
    """A battery of 4xx requests leaves every table's row count unchanged."""
    url = ctx.backend.main.database_url
    cid = ctx.contributor()
    sub = ctx.accepted(contributor_id=cid, date="%d-06-06" % ctx.year())
    time.sleep(0.1)
    before = ctx.backend.db_counts(url)
    assert before, "could not see any table in the database"
    j = {"Content-Type": "application/json"}
    bad = [
        ("/contributors", b'{"display_name": 1}', j), ("/contributors", b'{"nope": 1}', j),
        ("/contributors", b'{"display_name": "' + "\U0001F600".encode() * 201 + b'"}', j),
        ("/contributors", b'{"display_name": "x"}', {"Content-Type": "text/plain"}),
        ("/contributors", b"[]", j), ("/contributors", b"{", j),
        ("/submissions", ('{"contributor_id": "ctr_doesnotexist", "raw_youtube_input": "%s", "raw_date_input": "2001-01-01"}' % video_id()).encode(), j),
        ("/submissions", ('{"contributor_id": "%s", "raw_youtube_input": "   ", "raw_date_input": "2001-01-01"}' % cid).encode(), j),
        ("/submissions", ('{"contributor_id": "%s", "raw_youtube_input": "%s", "raw_date_input": "2001-01-01", "x": 1}' % (cid, video_id())).encode(), j),
        ("/submissions", ('{"contributor_id": "%s", "raw_youtube_input": "%s", "raw_date_input": "2001-01-01", "title": "%s"}' % (cid, video_id(), "t" * 501)).encode(), j),
        ("/submissions", ('{"contributor_id": "%s", "raw_youtube_input": "%s"}' % (cid, video_id())).encode(), j),
    ]
    for path, body, headers in bad:
        r = ctx.api.post(path, body=body, headers=headers)
        assert 400 <= r.status < 500, "expected a 4xx for %r: %s" % (body[:80], r.describe())
    for path in ("/clips?limit=0", "/clips?cursor=abc", "/submissions/" + sub["id"]):
        ctx.api.request("DELETE", path.split("?")[0])
    time.sleep(0.1)
    after = ctx.backend.db_counts(url)
    eq(after, before, "row counts after a battery of 4xx requests")
