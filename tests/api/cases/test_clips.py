"""GET /clips/{id} and GET /clips: filters, limit rules, ordering, keyset pagination,
signed cursors."""

import base64
import urllib.parse

from twtest.framework import test, eq, status, error
from twtest.util import video_id

INVALID_CURSOR = "Invalid cursor"
BAD_FROM = "Invalid 'from' date format. Expected YYYY-MM-DD"
BAD_TO = "Invalid 'to' date format. Expected YYYY-MM-DD"


def q(**params):
    return "/clips?" + urllib.parse.urlencode(params)


def make_clips(ctx, dates, cid=None):
    """One accepted clip per date, in the given order; returns the clip ids."""
    cid = cid or ctx.contributor()
    ids = []
    for d in dates:
        ids.append(ctx.accepted(contributor_id=cid, youtube=video_id(), date=d)["clip_id"])
    return ids


def page_ids(r):
    return [c["id"] for c in r.json["items"]]


def walk(ctx, limit, **filters):
    """Follow next_cursor to the end; returns (all ids, number of pages)."""
    ids, pages, cursor = [], 0, None
    while True:
        params = dict(filters, limit=limit)
        if cursor:
            params["cursor"] = cursor
        r = ctx.api.get(q(**params))
        status(r, 200, "page %d" % (pages + 1))
        pages += 1
        ids += page_ids(r)
        cursor = r.json["next_cursor"]
        assert pages < 100, "pagination does not end"
        if cursor is None:
            return ids, pages


@test
def test_get_clip(ctx):
    cid = ctx.contributor()
    vid = video_id()
    sub = ctx.accepted(contributor_id=cid, youtube="youtu.be/" + vid, date="1977-03-04", title="T", notes=None)
    r = ctx.api.get("/clips/" + sub["clip_id"])
    status(r, 200, "GET clip")
    eq(r.json, {
        "id": sub["clip_id"], "youtube_video_id": vid, "youtube_url": "https://www.youtube.com/watch?v=" + vid,
        "performance_date": "1977-03-04", "title": "T", "notes": None, "created_at": r.json["created_at"],
        "created_by_contributor_id": cid, "added_via_submission_id": sub["id"]}, "clip body")
    assert r.json["created_at"] >= sub["submitted_at"][:19], "clip created_at %r vs submitted_at %r" % (
        r.json["created_at"], sub["submitted_at"])


@test
def test_empty_result_exact(ctx):
    y = ctx.year()
    for path in (q(**{"from": "%d-01-01" % y, "to": "%d-12-31" % y}), q(**{"from": "9000-01-01"}),
                 q(**{"from": "9999-12-31"}), q(**{"from": "%d-01-01" % y, "to": "%d-01-01" % y, "limit": "1"})):
        r = ctx.api.get(path)
        status(r, 200, path)
        eq(r.body.count(b"items"), 1, "one items key")
        eq(r.json, {"items": [], "next_cursor": None}, "empty result for " + path)


@test
def test_order_and_inclusive_bounds(ctx):
    y = ctx.year()
    dates = ["%d-03-01" % y, "%d-01-01" % y, "%d-12-31" % y, "%d-03-01" % y, "%d-01-01" % y, "%d-06-15" % y]
    ids = make_clips(ctx, dates)
    # Expected: by date, then creation (= insertion) order.
    expected = [i for _, _, i in sorted(zip(dates, range(len(ids)), ids))]
    r = ctx.api.get(q(**{"from": "%d-01-01" % y, "to": "%d-12-31" % y}))
    status(r, 200)
    eq(page_ids(r), expected, "order by performance_date then created_at")
    eq(r.json["next_cursor"], None, "single page")
    dates_seen = [c["performance_date"] for c in r.json["items"]]
    eq(dates_seen, sorted(dates_seen), "dates ascending")
    eq(page_ids(ctx.api.get(q(**{"from": "%d-03-01" % y, "to": "%d-06-15" % y}))),
       [i for d, _, i in sorted(zip(dates, range(len(ids)), ids)) if "%d-03-01" % y <= d <= "%d-06-15" % y],
       "inclusive from/to")
    eq(page_ids(ctx.api.get(q(**{"from": "%d-12-31" % y, "to": "%d-12-31" % y}))), [ids[2]], "from == to")
    only_from = page_ids(ctx.api.get(q(**{"from": "%d-12-31" % y, "limit": "200"})))
    assert only_from[:1] == [ids[2]], "from only: first item is the %d-12-31 clip, got %r" % (y, only_from[:3])
    only_to = page_ids(ctx.api.get(q(**{"to": "%d-01-01" % y, "limit": "200"})))
    assert set(only_to) >= {ids[1], ids[4]} and ids[0] not in only_to, "to only"


@test
def test_same_date_insertion_order(ctx):
    y = ctx.year()
    ids = make_clips(ctx, ["%d-02-02" % y] * 12)
    r = ctx.api.get(q(**{"from": "%d-02-02" % y, "to": "%d-02-02" % y}))
    eq(page_ids(r), ids, "same date: creation order")
    got, pages = walk(ctx, 5, **{"from": "%d-02-02" % y, "to": "%d-02-02" % y})
    eq(got, ids, "same date, paged by 5")
    eq(pages, 3, "pages")


@test
def test_pagination_walk(ctx):
    y = ctx.year()
    dates = ["%d-%02d-01" % (y, m) for m in (5, 1, 9, 3, 7, 11, 2)]
    ids = make_clips(ctx, dates)
    expected = [i for _, _, i in sorted(zip(dates, range(len(ids)), ids))]
    f = {"from": "%d-01-01" % y, "to": "%d-12-31" % y}
    for limit in (1, 2, 3, 6, 7, 8, 50):
        got, pages = walk(ctx, limit, **f)
        eq(got, expected, "walk with limit %d" % limit)
        eq(pages, max(1, -(-len(ids) // limit)), "pages with limit %d (a page exactly full at the end has next_cursor null)" % limit)


@test
def test_exactly_full_last_page(ctx):
    y = ctx.year()
    make_clips(ctx, ["%d-04-0%d" % (y, d) for d in (1, 2, 3, 4)])
    f = {"from": "%d-01-01" % y, "to": "%d-12-31" % y}
    r = ctx.api.get(q(limit=4, **f))
    eq(len(r.json["items"]), 4, "items")
    eq(r.json["next_cursor"], None, "page exactly full at the end: next_cursor null")
    r = ctx.api.get(q(limit=2, **f))
    r2 = ctx.api.get(q(limit=2, cursor=r.json["next_cursor"], **f))
    eq(len(r2.json["items"]), 2, "second page items")
    eq(r2.json["next_cursor"], None, "second page exactly full at the end: next_cursor null")


@test
def test_default_limit_and_clamp(ctx):
    y = ctx.year()
    cid = ctx.contributor()
    make_clips(ctx, ["%d-%02d-%02d" % (y, 1 + i // 28, 1 + i % 28) for i in range(205)], cid)
    f = {"from": "%d-01-01" % y, "to": "%d-12-31" % y}
    r = ctx.api.get(q(**f))
    eq(len(r.json["items"]), 50, "default limit")
    assert r.json["next_cursor"], "next_cursor after a default page of 50"
    for lim in ("200", "201", "1000", "99999999999999999999999"):
        r = ctx.api.get(q(limit=lim, **f))
        status(r, 200, "limit=" + lim)
        eq(len(r.json["items"]), 200, "limit=%s is clamped to 200" % lim)
        assert r.json["next_cursor"], "next_cursor after 200 of 205"
        r2 = ctx.api.get(q(limit=lim, cursor=r.json["next_cursor"], **f))
        eq(len(r2.json["items"]), 5, "rest after 200")
        eq(r2.json["next_cursor"], None, "last page")
    r = ctx.api.get(q(limit="007", **f))
    eq(len(r.json["items"]), 7, "limit=007 (decimal digits)")


@test
def test_limit_invalid_400(ctx):
    for lim in ("0", "00", "-1", "-0", "1.5", "1.0", "abc", "", " 5", "5 ", "+5", "1e2", "0x10", "5a",
                "\uff15", "\u0665", "5,6", "5\x00", "5\x00abc"):
        r = ctx.api.get("/clips?limit=" + urllib.parse.quote(lim))
        error(r, 400, what="limit=%r" % lim)


@test
def test_duplicate_known_param_400(ctx):
    r0 = ctx.api.get(q(limit=1, **{"from": "1000-01-01"}))
    cur = r0.json["next_cursor"] or "x"
    for qs in ("limit=5&limit=5", "limit=5&limit=6", "from=2000-01-01&from=2000-01-01", "to=2000-01-01&to=2001-01-01",
               "cursor=%s&cursor=%s" % (cur, cur), "from=2000-01-01&limit=1&from=2000-01-01"):
        r = ctx.api.get("/clips?" + qs)
        error(r, 400, what="duplicate parameter in ?" + qs)


@test
def test_unknown_params_ignored(ctx):
    y = ctx.year()
    ids = make_clips(ctx, ["%d-01-01" % y, "%d-01-02" % y])
    f = "from=%d-01-01&to=%d-12-31" % (y, y)
    for extra in ("foo=bar", "foo=1&foo=2", "page=3", "offset=1", "LIMIT=1", "From=2999-01-01", "x", "&&", "sort=desc"):
        r = ctx.api.get("/clips?%s&%s" % (f, extra))
        status(r, 200, "unknown parameter " + extra)
        eq(page_ids(r), ids, "unknown parameter %s ignored" % extra)


@test
def test_bad_from_to(ctx):
    bad = ("2024-1-01", "2024-01-1", "2024-02-30", "2023-02-29", "2024-13-01", "24-01-01", "20240101", "abc", "",
           "2024-01-01T00:00:00", "2024/01/01", " 2024-01-01", "2024-01-01 ", "+2024-01-01", "\uff12\uff10\uff12\uff14-01-01",
           "2024-01-01\x00", "2024-01-01\x00junk",
           "0000-01-01", "0000-12-31")  # no year 0: PostgreSQL answered 500 here, SQLite 200
    for v in bad:
        error(ctx.api.get("/clips?from=" + urllib.parse.quote(v)), 400, detail=BAD_FROM, what="from=%r" % v)
        error(ctx.api.get("/clips?to=" + urllib.parse.quote(v)), 400, detail=BAD_TO, what="to=%r" % v)
    for v in ("0000-01-01", "0000-12-31"):
        error(ctx.api.get("/calendar?from=%s&to=2020-01-31" % v), 400, what="/calendar from=%s" % v)
    status(ctx.api.get(q(**{"from": "0001-01-01"})), 200, "from=0001-01-01, the first day there is")
    # Future bounds are fine for filtering.
    status(ctx.api.get(q(**{"to": "9999-12-31"})), 200, "to=9999-12-31")
    status(ctx.api.get(q(**{"from": "2024-02-29", "to": "2024-02-29"})), 200, "leap day bounds")


@test
def test_from_after_to_400(ctx):
    error(ctx.api.get(q(**{"from": "2024-01-02", "to": "2024-01-01"})), 400, what="from after to")
    error(ctx.api.get(q(**{"from": "2025-01-01", "to": "2024-12-31"})), 400, what="from after to")


@test
def test_keyset_stability(ctx):
    y = ctx.year()
    cid = ctx.contributor()
    ids = make_clips(ctx, ["%d-05-0%d" % (y, d) for d in (1, 2, 3, 4, 5, 6)], cid)
    f = {"from": "%d-01-01" % y, "to": "%d-12-31" % y}
    p1 = ctx.api.get(q(limit=2, **f))
    eq(page_ids(p1), ids[:2], "page 1")
    cursor = p1.json["next_cursor"]
    # Insert clips BEFORE the cursor position: earlier dates only (a clip on the cursor's own
    # date created now would sort after the cursor's item, by created_at).
    make_clips(ctx, ["%d-01-01" % y, "%d-05-01" % y, "%d-04-30" % y], cid)
    p2 = ctx.api.get(q(limit=2, cursor=cursor, **f))
    eq(page_ids(p2), ids[2:4], "page 2 not shifted by inserts before the cursor")
    # A clip on an earlier date than the page-2 cursor (05-04) does not appear on page 3 ...
    make_clips(ctx, ["%d-05-03" % y], cid)
    p3 = ctx.api.get(q(limit=10, cursor=p2.json["next_cursor"], **f))
    eq(page_ids(p3), ids[4:], "page 3 after the page-2 cursor")
    # ... but one on the cursor's date, created later, sorts right after the cursor's item.
    same = make_clips(ctx, ["%d-05-04" % y], cid)[0]
    p3 = ctx.api.get(q(limit=10, cursor=p2.json["next_cursor"], **f))
    eq(page_ids(p3), [same] + ids[4:], "a clip on the cursor's date created later comes right after the cursor")


@test
def test_cursor_valid_with_other_filters(ctx):
    y = ctx.year()
    ids = make_clips(ctx, ["%d-0%d-01" % (y, m) for m in range(1, 8)])
    f = {"from": "%d-01-01" % y, "to": "%d-12-31" % y}
    cursor = ctx.api.get(q(limit=2, **f)).json["next_cursor"]
    r = ctx.api.get(q(limit=3, cursor=cursor, **f))
    eq(page_ids(r), ids[2:5], "cursor with another limit")
    r = ctx.api.get(q(limit=10, cursor=cursor, **{"from": "%d-01-01" % y, "to": "%d-04-01" % y}))
    eq(page_ids(r), ids[2:4], "cursor with another 'to'")
    r = ctx.api.get(q(limit=10, cursor=cursor, **{"from": "%d-05-01" % y, "to": "%d-12-31" % y}))
    eq(page_ids(r), ids[4:], "cursor with a 'from' after its position")
    r = ctx.api.get(q(limit=10, cursor=cursor, **{"to": "%d-12-31" % y}))
    eq(page_ids(r)[:5], ids[2:], "cursor without 'from'")


def _cursor(ctx):
    y = ctx.year()
    make_clips(ctx, ["%d-09-01" % y, "%d-09-02" % y, "%d-09-03" % y])
    f = {"from": "%d-01-01" % y, "to": "%d-12-31" % y}
    c = ctx.api.get(q(limit=1, **f)).json["next_cursor"]
    assert isinstance(c, str) and c, "expected a next_cursor"
    status(ctx.api.get(q(limit=1, cursor=c, **f)), 200, "the real cursor works")
    return c, f


def _bad(ctx, cursor, f, what):
    r = ctx.api.get(q(limit=1, cursor=cursor, **f))
    error(r, 400, detail=INVALID_CURSOR, what="%s (%r)" % (what, cursor[:80]))


@test
def test_cursor_tampering(ctx):
    c, f = _cursor(ctx)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=.~"
    _bad(ctx, c[:-1], f, "truncated by one")
    _bad(ctx, c[: len(c) // 2], f, "truncated by half")
    _bad(ctx, c[1:], f, "first character removed")
    _bad(ctx, c + "A", f, "character appended")
    _bad(ctx, c + "=", f, "padding appended")
    _bad(ctx, c + c, f, "doubled")
    _bad(ctx, "", f, "empty cursor")  # ASSUMPTION: an empty cursor= is not a cursor the server issued
    _bad(ctx, " " + c, f, "leading space")
    # Every single-character edit, at every position.
    for i, ch in enumerate(c):
        repl = alphabet[(alphabet.index(ch) + 1) % len(alphabet)] if ch in alphabet else "A"
        _bad(ctx, c[:i] + repl + c[i + 1:], f, "character %d changed" % i)
        if ch.isalpha():
            _bad(ctx, c[:i] + ch.swapcase() + c[i + 1:], f, "case of character %d flipped" % i)
    # Every possible replacement of the last two characters (covers unused base64 bits).
    for i in (len(c) - 1, len(c) - 2):
        for repl in alphabet:
            if repl != c[i]:
                _bad(ctx, c[:i] + repl + c[i + 1:], f, "character %d -> %r" % (i, repl))


@test
def test_cursor_home_made(ctx):
    c, f = _cursor(ctx)
    made = [
        "abc", "null", "0", "-1", "A" * len(c), base64.urlsafe_b64encode(b'{"d":"1000-01-01","id":1}').decode(),
        base64.b64encode(b"1000-01-01|1").decode(), "1000-01-01", "%d-09-01" % int(f["from"][:4]),
        base64.urlsafe_b64encode(b"\x00" * 48).decode().rstrip("="), "\U0001F3B8", "../../etc/passwd", "x" * 5000,
    ]
    for sep in (".", ":", "|", "~"):
        if sep in c:  # payload.signature: a payload with someone else's signature
            head, _, sig = c.rpartition(sep)
            made.append(base64.urlsafe_b64encode(b'{"d":"1000-01-01","i":0}').decode().rstrip("=") + sep + sig)
            made.append(head + sep)
            made.append(sep + sig)
    for m in made:
        _bad(ctx, m, f, "home-made cursor")


@test
def test_cursor_from_other_secret_key(ctx):
    y = ctx.year()
    srv = ctx.server(secret_key="another-secret-key-for-tests-0123456789xyz")
    api = ctx.client(srv)
    cid = ctx.contributor(api)
    for d in ("%d-10-01" % y, "%d-10-02" % y):
        ctx.accepted(api=api, contributor_id=cid, date=d)
    f = {"from": "%d-01-01" % y, "to": "%d-12-31" % y}
    foreign = api.get(q(limit=1, **f)).json["next_cursor"]
    assert foreign, "cursor from the other server"
    r = ctx.api.get(q(limit=1, cursor=foreign, **f))
    error(r, 400, detail=INVALID_CURSOR, what="a cursor signed with another SECRET_KEY")
