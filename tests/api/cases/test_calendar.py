"""GET /calendar (clip counts per day) and GET /clips/{id}/neighbors (walking the archive),
the two read endpoints the web page uses."""

from twtest.framework import test, eq, status, error
from twtest.util import video_id

BAD_FROM = "Invalid 'from' date format. Expected YYYY-MM-DD"
BAD_TO = "Invalid 'to' date format. Expected YYYY-MM-DD"


@test
def test_calendar_counts_per_day(ctx):
    y = ctx.year()
    cid = ctx.contributor()
    for d in ["%d-02-03" % y, "%d-02-03" % y, "%d-02-28" % y, "%d-03-01" % y]:
        ctx.accepted(contributor_id=cid, youtube=video_id(), date=d)
    r = ctx.api.get("/calendar?from=%d-02-01&to=%d-02-28" % (y, y))
    status(r, 200, "calendar for February")
    eq(r.json, {"days": [{"date": "%d-02-03" % y, "count": 2}, {"date": "%d-02-28" % y, "count": 1}]},
       "February counts (bounds inclusive, March left out)")
    r = ctx.api.get("/calendar/?from=%d-01-01&to=%d-01-31" % (y, y))
    status(r, 200, "empty month, trailing slash")
    eq(r.json, {"days": []}, "a month without clips")


@test
def test_calendar_rejected_and_duplicate_not_counted(ctx):
    y = ctx.year()
    cid = ctx.contributor()
    vid = video_id()
    ctx.accepted(contributor_id=cid, youtube=vid, date="%d-06-01" % y)
    r = ctx.submit(contributor_id=cid, youtube=vid, date="%d-06-01" % y)
    status(r, 409, "duplicate")
    r = ctx.submit(contributor_id=cid, youtube="not a link", date="%d-06-01" % y)
    status(r, 201, "rejected submission")
    r = ctx.api.get("/calendar?from=%d-06-01&to=%d-06-01" % (y, y))
    status(r, 200)
    eq(r.json, {"days": [{"date": "%d-06-01" % y, "count": 1}]}, "only the clip counts")


@test
def test_calendar_bad_parameters(ctx):
    error(ctx.api.get("/calendar?to=2020-01-31"), 400, code="BAD_REQUEST", what="missing from")
    error(ctx.api.get("/calendar?from=2020-01-01"), 400, code="BAD_REQUEST", what="missing to")
    error(ctx.api.get("/calendar?from=2020-1-1&to=2020-01-31"), 400, detail=BAD_FROM, what="bad from")
    error(ctx.api.get("/calendar?from=2020-01-01&to=2020-02-30"), 400, detail=BAD_TO, what="impossible to")
    error(ctx.api.get("/calendar?from=2020-02-01&to=2020-01-01"), 400, what="from after to")
    error(ctx.api.get("/calendar?from=2020-01-01&to=2021-12-31"), 400, what="range over 400 days")
    error(ctx.api.get("/calendar?from=2020-01-01&from=2020-01-02&to=2020-01-31"), 400, what="repeated from")
    status(ctx.api.get("/calendar?from=2020-01-01&to=2021-02-03"), 200, "exactly 400 days is allowed")
    error(ctx.api.post("/calendar", {}), 405, what="POST /calendar")


@test
def test_neighbors_walk_across_days_and_months(ctx):
    y = ctx.year()
    cid = ctx.contributor()
    first = ctx.accepted(contributor_id=cid, youtube=video_id(), date="%d-01-05" % y)["clip_id"]
    second = ctx.accepted(contributor_id=cid, youtube=video_id(), date="%d-03-01" % y)["clip_id"]
    third = ctx.accepted(contributor_id=cid, youtube=video_id(), date="%d-03-01" % y)["clip_id"]
    r = ctx.api.get("/clips/%s/neighbors" % second)
    status(r, 200, "neighbors of the middle clip")
    eq(r.json["previous"]["id"], first, "previous (another month)")
    eq(r.json["next"]["id"], third, "next (same day, created later)")
    eq(ctx.api.get("/clips/" + first).json, r.json["previous"], "previous is the full clip")
    r = ctx.api.get("/clips/%s/neighbors/" % third)
    status(r, 200, "neighbors of the last clip of the year, trailing slash")
    eq(r.json["previous"]["id"], second, "previous of the third")
    nxt = r.json["next"]
    assert nxt is None or nxt["performance_date"] > "%d-03-01" % y, "next must be later: %r" % (nxt,)
    prev = ctx.api.get("/clips/%s/neighbors" % first).json["previous"]
    assert prev is None or prev["performance_date"] < "%d-01-05" % y, "previous must be earlier: %r" % (prev,)


@test
def test_neighbors_unknown_clip(ctx):
    error(ctx.api.get("/clips/clp_%s/neighbors" % ("0" * 32)), 404, detail="Not found")
    error(ctx.api.get("/clips/nonsense/neighbors"), 404, detail="Not found")
    error(ctx.api.post("/clips/clp_%s/neighbors" % ("0" * 32), {}), 405, what="POST neighbors")
