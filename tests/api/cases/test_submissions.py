"""POST /submissions and GET /submissions/{id}: request validation, YouTube and date
parsing, duplicates, exact echo."""

import datetime
import re

from twtest.framework import Skip, test, eq, status, error, is_id, is_timestamp
from twtest.util import video_id

SUB_FIELDS = {"id", "contributor_id", "clip_id", "status", "validation_error", "raw_youtube_input",
              "raw_date_input", "title", "notes", "submitted_at"}
CLIP_FIELDS = {"id", "youtube_video_id", "youtube_url", "performance_date", "title", "notes", "created_at",
               "created_by_contributor_id", "added_via_submission_id"}
EMOJI = "\U0001F3B8"
YT_WORDS = re.compile(r"youtube|video|url|link", re.I)


def sub_shape(j, what="submission"):
    eq(set(j), SUB_FIELDS, what + " fields")
    is_id(j["id"], "sub", what + " id")
    is_id(j["contributor_id"], "ctr", what + " contributor_id")
    is_timestamp(j["submitted_at"], what + " submitted_at")
    assert j["status"] in ("accepted", "rejected"), "%s status %r" % (what, j["status"])
    if j["status"] == "accepted":
        is_id(j["clip_id"], "clp", what + " clip_id")
        eq(j["validation_error"], None, what + " validation_error when accepted")
    else:
        eq(j["clip_id"], None, what + " clip_id when rejected")
        assert isinstance(j["validation_error"], str) and len(j["validation_error"].strip()) >= 5, \
            "%s: validation_error must be a sentence, got %r" % (what, j["validation_error"])


def expect_accepted(ctx, r, vid, what):
    status(r, 201, what)
    sub_shape(r.json, what)
    eq(r.json["status"], "accepted", "%s: status (validation_error %r)" % (what, r.json.get("validation_error")))
    c = ctx.api.get("/clips/" + r.json["clip_id"])
    status(c, 200, what + ": GET the clip")
    eq(c.json["youtube_video_id"], vid, what + ": youtube_video_id")
    return r.json


def expect_rejected(r, what, words=None):
    status(r, 201, what)
    sub_shape(r.json, what)
    eq(r.json["status"], "rejected", what + ": status")
    ve = r.json["validation_error"]
    assert "duplicate" not in ve.lower(), "%s: not a duplicate, yet validation_error says %r" % (what, ve)
    if words is not None:
        assert words.search(ve), "%s: validation_error %r should say what is wrong (%s)" % (what, ve, words.pattern)
    return r.json


@test
def test_accepted_submission_and_clip(ctx):
    cid = ctx.contributor()
    vid = video_id()
    r = ctx.submit(contributor_id=cid, youtube="https://www.youtube.com/watch?v=" + vid, date="1987-07-27",
                   title="Live at the Ritz \U0001F3A4", notes="Second set.\nGreat sound.")
    j = expect_accepted(ctx, r, vid, "valid submission")
    eq(j["contributor_id"], cid, "contributor_id")
    eq(j["raw_youtube_input"], "https://www.youtube.com/watch?v=" + vid, "raw_youtube_input echo")
    eq(j["raw_date_input"], "1987-07-27", "raw_date_input echo")
    eq(j["title"], "Live at the Ritz \U0001F3A4", "title echo")
    eq(j["notes"], "Second set.\nGreat sound.", "notes echo")
    c = ctx.api.get("/clips/" + j["clip_id"]).json
    eq(set(c), CLIP_FIELDS, "clip fields")
    eq(c["id"], j["clip_id"], "clip id")
    eq(c["youtube_url"], "https://www.youtube.com/watch?v=" + vid, "youtube_url")
    eq(c["performance_date"], "1987-07-27", "performance_date")
    eq(c["title"], "Live at the Ritz \U0001F3A4", "clip title")
    eq(c["notes"], "Second set.\nGreat sound.", "clip notes")
    eq(c["created_by_contributor_id"], cid, "created_by_contributor_id")
    eq(c["added_via_submission_id"], j["id"], "added_via_submission_id")
    is_timestamp(c["created_at"], "clip created_at")
    # GET /submissions/{id} is exactly the POST body.
    g = ctx.api.get("/submissions/" + j["id"])
    status(g, 200, "GET submission")
    eq(g.json, j, "GET /submissions/{id} body equals the POST body")
    g = ctx.api.get("/submissions/" + j["id"] + "/")
    eq(g.json, j, "GET /submissions/{id}/ body equals the POST body")


@test
def test_optional_fields_default_null(ctx):
    vid = video_id()
    r = ctx.submit(youtube=vid, date="1999-09-09")
    j = expect_accepted(ctx, r, vid, "no title/notes")
    eq(j["title"], None, "title when omitted")
    eq(j["notes"], None, "notes when omitted")
    c = ctx.api.get("/clips/" + j["clip_id"]).json
    eq(c["title"], "", "clip title is \"\" when none was given")
    eq(c["notes"], None, "clip notes when none was given")
    vid = video_id()
    j = expect_accepted(ctx, ctx.submit(youtube=vid, date="1999-09-09", title=None, notes=None), vid, "null title/notes")
    eq(j["title"], None, "title null echo")
    c = ctx.api.get("/clips/" + j["clip_id"]).json
    eq(c["title"], "", "clip title for title null")
    vid = video_id()
    j = expect_accepted(ctx, ctx.submit(youtube=vid, date="1999-09-09", title="", notes=""), vid, "empty title/notes")
    eq(j["title"], "", "title \"\" echo")
    eq(j["notes"], "", "notes \"\" echo")
    c = ctx.api.get("/clips/" + j["clip_id"]).json
    eq(c["title"], "", "clip title for title \"\"")


@test
def test_rejected_submission_is_stored(ctx):
    r = ctx.submit(youtube="not a video", date="2010-10-10", title="t", notes="n")
    j = expect_rejected(r, "invalid youtube input", YT_WORDS)
    g = ctx.api.get("/submissions/" + j["id"])
    status(g, 200, "GET rejected submission")
    eq(g.json, j, "GET /submissions/{id} equals the POST body for a rejected submission")


@test
def test_contributor_not_found(ctx):
    real = ctx.contributor()
    sub = ctx.accepted(date="2011-11-11")
    vid = video_id()
    for cid in ("ctr_doesnotexist", "ctr_" + "0" * 32, "ctr_" + "f" * 32, real.upper(), real + " ", " " + real,
                real[:-1], "nope", "", " ", "' OR '1'='1", "ctr_\U0001F3B8", sub["id"], sub["clip_id"],
                "x" * 5000):
        r = ctx.api.post("/submissions", {"contributor_id": cid, "raw_youtube_input": vid, "raw_date_input": "2011-11-11"})
        error(r, 400, detail="Contributor not found", what="contributor_id %r" % cid[:60])
    # None of them stored anything: the clip slot is still free.
    expect_accepted(ctx, ctx.submit(contributor_id=real, youtube=vid, date="2011-11-11"), vid, "after 400s")


@test
def test_missing_fields_400(ctx):
    cid = ctx.contributor()
    full = {"contributor_id": cid, "raw_youtube_input": video_id(), "raw_date_input": "2012-01-01"}
    for field in full:
        body = dict(full)
        del body[field]
        r = ctx.api.post("/submissions", body)
        error(r, 400, what="missing " + field)
        assert field in str(r.json["error"]["details"]), "error.details must name %s: %s" % (field, r.describe())
    error(ctx.api.post("/submissions", {}), 400, what="{}")
    error(ctx.api.post("/submissions"), 400, what="empty body")


@test
def test_wrong_types_400(ctx):
    cid = ctx.contributor()
    full = {"contributor_id": cid, "raw_youtube_input": video_id(), "raw_date_input": "2012-01-02"}
    cases = {
        "contributor_id": [None, 1, True, [], {}, [cid]],
        "raw_youtube_input": [None, 1, 1.5, False, [], {"v": "x"}],
        "raw_date_input": [None, 20120102, True, [], {}],
        "title": [1, True, [], {}],
        "notes": [1, False, [], {}],
    }
    for field, values in cases.items():
        for v in values:
            body = dict(full)
            body[field] = v
            r = ctx.api.post("/submissions", body)
            error(r, 400, what="%s = %r" % (field, v))
            assert field in str(r.json["error"]["details"]), "error.details must name %s: %s" % (field, r.describe())
    expect_accepted(ctx, ctx.api.post("/submissions", full), full["raw_youtube_input"], "after wrong-type 400s")


@test
def test_unknown_fields_400(ctx):
    cid = ctx.contributor()
    for extra in ({"status": "accepted"}, {"clip_id": None}, {"id": "sub_" + "0" * 32}, {"foo": 1},
                  {"youtube_video_id": "x"}, {"Title": "x"}):
        body = {"contributor_id": cid, "raw_youtube_input": video_id(), "raw_date_input": "2012-01-03"}
        body.update(extra)
        error(ctx.api.post("/submissions", body), 400, what="unknown field %r" % extra)


@test
def test_blank_raw_inputs_400(ctx):
    cid = ctx.contributor()
    vid = video_id()
    for blank in ("", " ", "   ", "\t", "\n", "\r\n", " \t\r\n "):
        r = ctx.api.post("/submissions", {"contributor_id": cid, "raw_youtube_input": blank, "raw_date_input": "2012-02-02"})
        error(r, 400, what="raw_youtube_input %r" % blank)
        assert "raw_youtube_input" in str(r.json["error"]["details"]), "details must name the field: " + r.describe()
        r = ctx.api.post("/submissions", {"contributor_id": cid, "raw_youtube_input": vid, "raw_date_input": blank})
        error(r, 400, what="raw_date_input %r" % blank)
        assert "raw_date_input" in str(r.json["error"]["details"]), "details must name the field: " + r.describe()
    expect_accepted(ctx, ctx.submit(contributor_id=cid, youtube=vid, date="2012-02-02"), vid, "after blank 400s")


@test
def test_raw_inputs_echoed_exactly(ctx):
    cid = ctx.contributor()
    vid = video_id()
    raw_y = "  \thttps://youtu.be/%s?si=AbC \n" % vid
    raw_d = " 2013-03-13\t"
    r = ctx.submit(contributor_id=cid, youtube=raw_y, date=raw_d)
    j = expect_accepted(ctx, r, vid, "whitespace around inputs")
    eq(j["raw_youtube_input"], raw_y, "raw_youtube_input stored exactly, whitespace included")
    eq(j["raw_date_input"], raw_d, "raw_date_input stored exactly, whitespace included")
    eq(ctx.api.get("/clips/" + j["clip_id"]).json["performance_date"], "2013-03-13", "performance_date trimmed")
    eq(ctx.api.get("/submissions/" + j["id"]).json, j, "GET echoes exactly")
    # Rejected ones too.
    raw_y = " \U0001F3B8 not a link \u00e9 "
    j = expect_rejected(ctx.submit(contributor_id=cid, youtube=raw_y, date=" 13/03/2013 "), "rejected echo")
    eq(j["raw_youtube_input"], raw_y, "rejected raw_youtube_input echo")
    eq(j["raw_date_input"], " 13/03/2013 ", "rejected raw_date_input echo")
    eq(ctx.api.get("/submissions/" + j["id"]).json, j, "GET echoes the rejected submission exactly")


@test
def test_length_limits(ctx):
    cid = ctx.contributor()

    def post(**kw):
        body = {"contributor_id": cid, "raw_youtube_input": video_id(), "raw_date_input": "2014-04-14"}
        body.update(kw)
        return ctx.api.post("/submissions", body)

    # raw_youtube_input <= 2048 code points; at the limit it is stored (rejected as a video, not a 400).
    for ch in ("a", EMOJI):
        expect_rejected(post(raw_youtube_input=ch * 2048), "raw_youtube_input 2048 x %r" % ch)
        r = post(raw_youtube_input=ch * 2049)
        error(r, 400, what="raw_youtube_input 2049 x %r" % ch)
        assert "raw_youtube_input" in str(r.json["error"]["details"]), "details must name the field: " + r.describe()
    vid = video_id()
    padded = " " * 2037 + vid
    eq(len(padded), 2048, "test input length")
    j = expect_accepted(ctx, post(raw_youtube_input=padded), vid, "2048-char padded id")
    eq(j["raw_youtube_input"], padded, "padded echo")
    error(post(raw_youtube_input=" " + padded), 400, what="2049-char padded id (length counts before trimming)")
    # raw_date_input <= 50.
    expect_rejected(post(raw_date_input=EMOJI * 50), "raw_date_input 50 emoji")
    error(post(raw_date_input=EMOJI * 51), 400, what="raw_date_input 51 emoji")
    vid = video_id()
    j = expect_accepted(ctx, post(raw_youtube_input=vid, raw_date_input="2014-04-14" + " " * 40), vid, "50-char padded date")
    error(post(raw_date_input="2014-04-14" + " " * 41), 400, what="51-char padded date")
    # title <= 500.
    for ch in ("t", EMOJI):
        vid = video_id()
        j = expect_accepted(ctx, post(raw_youtube_input=vid, title=ch * 500), vid, "title 500 x %r" % ch)
        eq(j["title"], ch * 500, "title echo")
        r = post(title=ch * 501)
        error(r, 400, what="title 501 x %r" % ch)
        assert "title" in str(r.json["error"]["details"]), "details must name the field: " + r.describe()


def accepted_forms(v):
    """(raw input, expected id) for every accepted form in SPEC.md."""
    hosts = ("youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "www.youtube-nocookie.com")
    paths = ("/watch?v=%s", "/shorts/%s", "/embed/%s", "/live/%s", "/v/%s")
    out = [("%s", "bare id")]
    for scheme in ("", "http://", "https://"):
        for h in hosts:
            for p in paths:
                out.append((scheme + h + p, scheme + h + p))
        out.append((scheme + "youtu.be/%s", scheme + "youtu.be/ID"))
    out += [
        (" \t%s \n", "bare id with whitespace"),
        ("https://www.youtube.com/watch?feature=share&v=%s", "v not first"),
        ("https://www.youtube.com/watch?list=PL0123&index=2&v=%s&si=abc", "v in the middle"),
        ("https://www.youtube.com/watch?v=%s&t=42s", "t after v"),
        ("https://www.youtube.com/watch?v=%s#t=30", "fragment"),
        ("https://www.youtube.com/watch?v=%s&feature=youtu.be#comments", "params and fragment"),
        ("https://m.youtube.com/watch?app=desktop&v=%s", "mobile with app param"),
        ("https://www.youtube.com/shorts/%s?feature=share", "shorts with query"),
        ("https://www.youtube.com/embed/%s?start=10&autoplay=1", "embed with query"),
        ("https://www.youtube.com/live/%s?si=AbCdEf", "live with si"),
        ("https://youtu.be/%s?si=xyz&t=10", "youtu.be with si and t"),
        ("https://youtu.be/%s#t=1m", "youtu.be with fragment"),
        ("youtu.be/%s?t=5", "youtu.be no scheme with t"),
        ("  https://music.youtube.com/watch?v=%s&list=RDAMVM  ", "music with list and whitespace"),
    ]
    return out


@test
def test_youtube_accepted_forms(ctx):
    cid = ctx.contributor()
    date = "%d-05-05" % ctx.year()
    for fmt, label in accepted_forms(None):
        vid = video_id()
        if label == "bare id":
            vid = "-_" + vid[2:]  # '-' and '_' are legal id characters
        raw = fmt % vid
        r = ctx.submit(contributor_id=cid, youtube=raw, date=date)
        j = expect_accepted(ctx, r, vid, "YouTube input %r (%s)" % (raw, label))
        eq(j["raw_youtube_input"], raw, "raw echo for %r" % raw)


TOLERANT = [
    "HTTPS://WWW.YOUTUBE.COM/watch?v=%s", "https://WWW.YouTube.com/watch?v=%s", "https://youtube-nocookie.com/embed/%s",
    "https://www.youtube.com:443/watch?v=%s", "https://www.youtube.com/shorts/%s/", "//www.youtube.com/watch?v=%s",
    "www.youtu.be/%s", "https://youtu.be/%s/", "https://www.youtube.com/watch/?v=%s", "https://www.youtube.com/watch?v=%s&v=AAAAAAAAAAA",
]


@test
def test_youtube_borderline_forms_never_misparse(ctx):
    # Not spelled out by SPEC.md: either accepted with the right id, or rejected; never a 4xx/5xx.
    cid = ctx.contributor()
    date = "%d-05-06" % ctx.year()
    for fmt in TOLERANT:
        vid = video_id()
        raw = fmt % vid
        r = ctx.submit(contributor_id=cid, youtube=raw, date=date)
        status(r, 201, "borderline YouTube input %r" % raw)
        if r.json["status"] == "accepted":
            c = ctx.api.get("/clips/" + r.json["clip_id"]).json
            eq(c["youtube_video_id"], vid, "video id parsed from %r" % raw)


def rejected_forms(v):
    return [
        v[:10], v + "a", v[:10] + "!", v[:10] + "=", v[:5] + " " + v[6:], v[:10] + "\u00e9", v[:10] + "/",
        "https://www.youtube.com/watch?v=", "https://www.youtube.com/watch?v=" + v[:10],
        "https://www.youtube.com/watch?v=" + v + "a", "https://www.youtube.com/watch?v=" + v[:10] + "!",
        "https://www.youtube.com/watch", "https://www.youtube.com/watch?", "https://www.youtube.com/watch?vv=" + v,
        "https://www.youtube.com/watch?xv=" + v, "https://www.youtube.com/watch?V=" + v,
        "https://www.youtube.com/shorts/", "https://www.youtube.com/shorts/" + v + "a",
        "https://www.youtube.com/embed/" + v[:10], "https://www.youtube.com/live/", "https://www.youtube.com/v/" + v + "aa",
        "https://youtu.be/", "https://youtu.be/" + v[:10], "https://youtu.be/" + v + "a", "youtu.be",
        "https://www.youtube.com/" + v, "https://www.youtube.com/channel/UC" + v + v,
        "https://www.youtube.com/playlist?list=PL" + v, "https://www.youtube.com/results?search_query=" + v,
        "https://evil.com/watch?v=" + v, "https://evil.com/?v=" + v, "https://evil.com/path?foo=1&v=" + v,
        "https://youtube.com.evil.com/watch?v=" + v, "https://notyoutube.com/watch?v=" + v,
        "https://www.youtube.co/watch?v=" + v, "https://youtube.evil/watch?v=" + v, "https://vimeo.com/" + v,
        "https://youtube.com@evil.com/watch?v=" + v, "https://evil.com/youtube.com/watch?v=" + v,
        "https://evil.com/redirect?u=https://www.youtube.com/watch?v=" + v, "https://evil.com/embed/" + v,
        "https://evil.com/shorts/" + v, "https://youtu.be.evil.com/" + v, "https://evilyoutu.be/" + v,
        "ftp://www.youtube.com/watch?v=" + v, "javascript:alert(1)", "file:///etc/passwd",
        "https://gaming.youtube.com/watch?v=" + v, "?v=" + v, "v=" + v, "watch?v=" + v, "/watch?v=" + v,
        "https://", "www.youtube.com", "not a video at all",
    ]


@test
def test_youtube_rejected_forms(ctx):
    cid = ctx.contributor()
    date = "%d-05-07" % ctx.year()
    for raw in rejected_forms(video_id()):
        r = ctx.submit(contributor_id=cid, youtube=raw, date=date)
        expect_rejected(r, "YouTube input %r" % raw, YT_WORDS)
        eq(r.json["raw_youtube_input"], raw, "raw echo")


@test
def test_dates_accepted(ctx):
    cid = ctx.contributor()
    today = ctx.today_utc()
    for raw, norm in (("2024-02-29", "2024-02-29"), ("2000-02-29", "2000-02-29"), ("1000-01-01", "1000-01-01"),
                      ("1969-07-20", "1969-07-20"), ("1999-12-31", "1999-12-31"), ("2023-12-31", "2023-12-31"),
                      (" 2021-03-04 ", "2021-03-04"), ("\t2021-03-05\n", "2021-03-05"),
                      (today.isoformat(), today.isoformat()),
                      ((today - datetime.timedelta(days=1)).isoformat(), (today - datetime.timedelta(days=1)).isoformat())):
        vid = video_id()
        j = expect_accepted(ctx, ctx.submit(contributor_id=cid, youtube=vid, date=raw), vid, "date %r" % raw)
        eq(ctx.api.get("/clips/" + j["clip_id"]).json["performance_date"], norm, "performance_date for %r" % raw)
        eq(j["raw_date_input"], raw, "raw_date_input echo")


@test
def test_dates_rejected(ctx):
    cid = ctx.contributor()
    today = ctx.today_utc()
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    date_words = re.compile(r"date", re.I)
    for raw in ("2023-02-29", "1900-02-29", "2100-02-29", "2024-02-30", "2024-04-31", "2024-06-31", "2024-13-01",
                "2024-00-10", "2024-01-32", "2024-01-00", "0999-12-31", "0999-01-01", "999-12-31", "0000-01-01",
                "0001-01-01", tomorrow, "9999-12-31", "10000-01-01", "20240512", "2024-05-12T10:00:00",
                "2024-05-12T10:00:00Z", "2024-05-12 10:00", "2024-05-12Z", "2024/05/12", "12-05-2024",
                "05/12/2024", "2024-5-12", "2024-05-1", "2024-005-12", "+2024-05-12", "-2024-05-12", "2024-05-12x",
                "2024-05 -12", "2024 -05-12", "2024-W19", "2024-133", "May 12, 2024", "yesterday", "today",
                "\uff12\uff10\uff12\uff14-\uff10\uff15-\uff11\uff12", "\u0662\u0660\u0662\u0664-\u0660\u0665-\u0661\u0662",
                "2024\u201005\u201012", "2024-05-12\u00a0x", "1e3-01-01", "2024-0x-12", "20-24-05-12"):
        if ctx.today_utc() != today:
            raise Skip("UTC date changed during the test")
        r = ctx.submit(contributor_id=cid, youtube=video_id(), date=raw)
        expect_rejected(r, "date %r" % raw, date_words)
        eq(r.json["raw_date_input"], raw, "raw_date_input echo for %r" % raw)


@test
def test_future_date_tomorrow_rejected(ctx):
    today = ctx.today_utc()
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    vid = video_id()
    r = ctx.submit(youtube=vid, date=tomorrow)
    if ctx.today_utc() != today:
        raise Skip("UTC date changed during the test")
    expect_rejected(r, "tomorrow (UTC) %s" % tomorrow, re.compile("date", re.I))
    expect_accepted(ctx, ctx.submit(youtube=vid, date=today.isoformat()), vid, "today (UTC)")


@test
def test_duplicates_across_url_forms(ctx):
    cid = ctx.contributor()
    vid = video_id()
    date = "%d-07-07" % ctx.year()
    first = expect_accepted(ctx, ctx.submit(contributor_id=cid, youtube="https://www.youtube.com/watch?v=" + vid, date=date),
                            vid, "first submission")
    forms = [vid, " %s " % vid, "https://youtu.be/%s?si=abc" % vid, "youtube.com/shorts/" + vid,
             "https://m.youtube.com/watch?feature=x&v=%s#t=3" % vid, "http://www.youtube-nocookie.com/embed/" + vid,
             "music.youtube.com/watch?v=" + vid, "https://www.youtube.com/live/" + vid, "https://youtube.com/v/" + vid]
    dates = [date, " %s " % date, "%s\n" % date]
    for i, raw in enumerate(forms):
        d = dates[i % len(dates)]
        other = ctx.contributor()
        r = ctx.submit(contributor_id=other, youtube=raw, date=d, title="dup %d" % i)
        status(r, 409, "duplicate via %r / %r" % (raw, d))
        sub_shape(r.json, "409 body")
        eq(r.json["status"], "rejected", "409 status")
        eq(r.json["clip_id"], None, "409 clip_id")
        assert "duplicate" in r.json["validation_error"].lower(), "409 validation_error must contain 'duplicate': %r" % r.json["validation_error"]
        eq(r.json["raw_youtube_input"], raw, "409 raw_youtube_input echo")
        eq(r.json["raw_date_input"], d, "409 raw_date_input echo")
        eq(r.json["contributor_id"], other, "409 contributor_id")
        eq(r.json["title"], "dup %d" % i, "409 title")
        g = ctx.api.get("/submissions/" + r.json["id"])
        status(g, 200, "the rejected duplicate is retrievable")
        eq(g.json, r.json, "GET /submissions/{id} of a duplicate equals the 409 body")
    # The original clip is untouched.
    c = ctx.api.get("/clips/" + first["clip_id"]).json
    eq(c["added_via_submission_id"], first["id"], "original clip still points at the first submission")
    items = ctx.api.get("/clips?from=%s&to=%s" % (date, date)).json["items"]
    eq([i["id"] for i in items], [first["clip_id"]], "exactly one clip for that video and date")


@test
def test_same_video_other_date_is_new_clip(ctx):
    vid = video_id()
    y = ctx.year()
    a = expect_accepted(ctx, ctx.submit(youtube=vid, date="%d-08-08" % y), vid, "first date")
    b = expect_accepted(ctx, ctx.submit(youtube="https://youtu.be/" + vid, date="%d-08-09" % y), vid, "other date")
    assert a["clip_id"] != b["clip_id"], "different dates must give different clips"
    # Video ids are case-sensitive: a case-flipped id is another video.
    flipped = vid.swapcase()
    if flipped != vid:
        expect_accepted(ctx, ctx.submit(youtube=flipped, date="%d-08-08" % y), flipped, "case-flipped id, same date")
    # A rejected submission does not block a later valid one.
    v2 = video_id()
    expect_rejected(ctx.submit(youtube=v2 + "x", date="%d-08-10" % y), "12-char id")
    expect_accepted(ctx, ctx.submit(youtube=v2, date="%d-08-10" % y), v2, "valid after a rejected one")


@test
def test_submission_ids_unique_and_timestamps_ordered(ctx):
    cid = ctx.contributor()
    subs = [ctx.submit(contributor_id=cid, youtube=video_id(), date="2015-05-15").json for _ in range(10)]
    eq(len({s["id"] for s in subs}), 10, "distinct submission ids")
    eq(len({s["clip_id"] for s in subs}), 10, "distinct clip ids")
    times = [s["submitted_at"] for s in subs]
    eq(times, sorted(times), "submitted_at non-decreasing for sequential submissions")
