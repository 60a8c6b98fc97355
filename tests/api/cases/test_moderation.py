"""Reports and moderation (SPEC.md "Reports and moderation"): filing reports, the operators'
queue, hide/restore/dismiss end to end across every public read, re-submission of a removed
performance, the audit trail and its actors, keyset pagination of the admin lists, operator
authentication (401, 404 without tokens, nothing logged of a token), `check --deploy`, and
migration 0003 going down and up again with data in place."""

import os
import re
import urllib.parse

from twtest.framework import test, eq, status, error, is_id, is_timestamp
from twtest.util import video_id

ALICE = "alice-token-0123456789abcdef0123456789ab"          # 40 characters
BOB = "bob-token-fedcba9876543210fedcba9876543210-xyz"      # 46 characters
TOKENS = "alice:%s,bob:%s" % (ALICE, BOB)
REPORT_FIELDS = {"id", "clip_id", "reason", "status", "created_at"}
ID_RX = re.compile(r"^(rpt|act)_[0-9a-f]{32}$")


def admin_server(ctx, **env):
    url = ctx.backend.new_db_url()
    e = {"TIMEWARP_ADMIN_TOKENS": TOKENS}
    e.update(env)
    srv = ctx.server(env=e, db_url=url)
    return srv, ctx.client(srv), url


def auth(token):
    return {"Authorization": "Bearer " + token}


def clip(ctx, api, cid, date, vid=None):
    vid = vid or video_id()
    r = api.post("/submissions", {"contributor_id": cid, "raw_youtube_input": vid, "raw_date_input": date})
    status(r, 201, "submission for %s" % date)
    eq(r.json["status"], "accepted", "submission status")
    return r.json


def report(api, clip_id, reason="Not live music"):
    r = api.post("/clips/%s/reports" % clip_id, {"reason": reason})
    status(r, 201, "report on " + clip_id)
    eq(set(r.json), REPORT_FIELDS, "report fields")
    is_id(r.json["clip_id"], "clp", "report clip_id")
    assert re.match(r"^rpt_[0-9a-f]{32}$", r.json["id"]), "report id %r" % r.json["id"]
    eq(r.json["clip_id"], clip_id, "report clip_id")
    eq(r.json["reason"], reason, "report reason round-trips")
    eq(r.json["status"], "open", "report status")
    is_timestamp(r.json["created_at"], "report created_at")
    return r.json


def queue(api, token=ALICE, **params):
    r = api.get("/admin/reports?" + urllib.parse.urlencode(params), headers=auth(token))
    status(r, 200, "GET /admin/reports %r" % params)
    return r.json


def audit(api, token=ALICE, **params):
    r = api.get("/admin/audit?" + urllib.parse.urlencode(params), headers=auth(token))
    status(r, 200, "GET /admin/audit")
    return r.json["items"]


def listed(api, year):
    r = api.get("/clips?from=%d-01-01&to=%d-12-31" % (year, year))
    status(r, 200)
    return [c["id"] for c in r.json["items"]]


def calendar(api, year):
    r = api.get("/calendar?from=%d-01-01&to=%d-12-31" % (year, year))
    status(r, 200)
    return {d["date"]: d["count"] for d in r.json["days"]}


def neighbors(api, clip_id):
    r = api.get("/clips/%s/neighbors" % clip_id)
    status(r, 200, "neighbours of " + clip_id)
    return tuple(r.json[k]["id"] if r.json[k] else None for k in ("previous", "next"))


@test
def test_report_hide_restore_end_to_end(ctx):
    srv, api, url = admin_server(ctx)
    y = ctx.year()
    cid = ctx.contributor(api)
    a = clip(ctx, api, cid, "%d-03-01" % y)
    b = clip(ctx, api, cid, "%d-03-02" % y)
    b2 = clip(ctx, api, cid, "%d-03-02" % y)  # the same day keeps a count after B goes
    c = clip(ctx, api, cid, "%d-03-03" % y)
    ids = [a["clip_id"], b["clip_id"], b2["clip_id"], c["clip_id"]]
    eq(listed(api, y), ids, "the archive before")
    cal_before = calendar(api, y)
    eq(cal_before, {"%d-03-01" % y: 1, "%d-03-02" % y: 2, "%d-03-03" % y: 1}, "calendar before")
    clip_b = api.get("/clips/" + b["clip_id"]).json

    rep = report(api, b["clip_id"], "Studio video, not a performance \U0001F3B5")
    q = queue(api)
    eq([r["id"] for r in q["items"]], [rep["id"]], "open queue")
    item = q["items"][0]
    eq(item["status"], "open", "queued report status")
    eq(item["resolution"], None, "queued report resolution")
    eq(item["clip"]["id"], b["clip_id"], "queued report's clip")
    eq(item["clip"]["hidden"], False, "queued report's clip hidden")
    eq(item["clip"]["youtube_video_id"], clip_b["youtube_video_id"], "queued report's clip video")

    r = api.post("/admin/clips/%s/hide" % b["clip_id"], {"reason": "Not live music"}, headers=auth(ALICE))
    status(r, 200, "hide")
    eq(r.json["hidden"], True, "hide answer: hidden")
    eq({k: v for k, v in r.json.items() if k != "hidden"}, clip_b, "hide answer: the clip")

    error(api.get("/clips/" + b["clip_id"]), 410, code="GONE", what="GET the hidden clip")
    error(api.get("/clips/" + b["clip_id"] + "/"), 410, code="GONE", what="GET the hidden clip/")
    error(api.get("/submissions/" + b["id"]), 410, code="GONE", what="GET the submission that created it")
    error(api.get("/clips/%s/neighbors" % b["clip_id"]), 410, code="GONE", what="neighbours of the hidden clip")
    status(api.get("/submissions/" + a["id"]), 200, "another submission")
    eq(listed(api, y), [a["clip_id"], b2["clip_id"], c["clip_id"]], "the archive without B")
    cal = calendar(api, y)
    eq(cal, {"%d-03-01" % y: 1, "%d-03-02" % y: 1, "%d-03-03" % y: 1}, "calendar without B")
    eq(neighbors(api, a["clip_id"])[1], b2["clip_id"], "A's next skips B")
    eq(neighbors(api, b2["clip_id"])[0], a["clip_id"], "B2's previous skips B")
    error(api.post("/clips/%s/reports" % b["clip_id"], {"reason": "again"}), 410, code="GONE",
          what="reporting a removed clip")

    # The same video and date again, in another URL form: stored, rejected, saying why.
    r = api.post("/submissions", {"contributor_id": cid, "raw_youtube_input": "https://youtu.be/" + clip_b["youtube_video_id"],
                                  "raw_date_input": clip_b["performance_date"]})
    status(r, 201, "re-submission of a removed performance")
    eq(r.json["status"], "rejected", "re-submission status")
    eq(r.json["clip_id"], None, "re-submission clip_id")
    ve = r.json["validation_error"]
    assert re.search(r"moderat", ve, re.I) and re.search(r"remov", ve, re.I), \
        "validation_error must say moderators removed that performance: %r" % ve
    assert "duplicate" not in ve.lower(), "not a duplicate: %r" % ve
    eq(api.get("/submissions/" + r.json["id"]).json, r.json, "the rejected re-submission is stored")
    eq(listed(api, y), [a["clip_id"], b2["clip_id"], c["clip_id"]], "still without B")

    eq(queue(api)["items"], [], "open queue after the hide")
    res = queue(api, status="resolved")["items"]
    eq([(x["id"], x["status"], x["resolution"], x["clip"]["hidden"]) for x in res],
       [(rep["id"], "resolved", "hidden", True)], "resolved queue")

    r = api.post("/admin/clips/%s/restore" % b["clip_id"], headers=auth(BOB))
    status(r, 200, "restore")
    eq(r.json["hidden"], False, "restore answer: hidden")
    eq(api.get("/clips/" + b["clip_id"]).json, clip_b, "the clip is back, unchanged")
    eq(api.get("/submissions/" + b["id"]).json, b, "its submission is back, exactly as POSTed")
    eq(listed(api, y), ids, "the archive after restore")
    eq(calendar(api, y), cal_before, "calendar after restore")
    eq(neighbors(api, a["clip_id"])[1], b["clip_id"], "A's next is B again")
    r = api.post("/submissions", {"contributor_id": cid, "raw_youtube_input": clip_b["youtube_video_id"],
                                  "raw_date_input": clip_b["performance_date"]})
    status(r, 409, "re-submission after restore is a duplicate again")

    trail = audit(api)
    eq([(t["action"], t["target_id"], t["actor"], t["reason"]) for t in trail],
       [("hide", b["clip_id"], "alice", "Not live music"), ("restore", b["clip_id"], "bob", None)],
       "audit trail")
    for t in trail:
        assert ID_RX.match(t["id"]) and t["id"].startswith("act_"), "action id %r" % t["id"]
        is_timestamp(t["created_at"], "action created_at")
    assert trail[0]["created_at"] <= trail[1]["created_at"], "audit oldest first"


@test
def test_dismiss(ctx):
    srv, api, url = admin_server(ctx)
    y = ctx.year()
    cid = ctx.contributor(api)
    x = clip(ctx, api, cid, "%d-05-05" % y)
    r1 = report(api, x["clip_id"], "I do not like it")
    r2 = report(api, x["clip_id"], "Wrong date")
    eq([r["id"] for r in queue(api)["items"]], [r1["id"], r2["id"]], "queue oldest first")
    r = api.post("/admin/reports/%s/dismiss" % r1["id"], {"reason": "Taste is not a reason"}, headers=auth(BOB))
    status(r, 200, "dismiss")
    eq((r.json["id"], r.json["status"], r.json["resolution"]), (r1["id"], "resolved", "dismissed"), "dismissed report")
    eq(r.json["clip"]["hidden"], False, "the clip of a dismissed report stays")
    status(api.get("/clips/" + x["clip_id"]), 200, "the clip is still public")
    eq([r["id"] for r in queue(api)["items"]], [r2["id"]], "open queue after dismiss")
    eq([(r["id"], r["resolution"]) for r in queue(api, status="resolved")["items"]], [(r1["id"], "dismissed")],
       "resolved queue")
    # Dismissing again changes nothing and records nothing; an empty body is fine.
    r = api.post("/admin/reports/%s/dismiss/" % r1["id"], headers=auth(ALICE))
    status(r, 200, "dismiss again")
    eq(r.json["resolution"], "dismissed", "still dismissed")
    # Hiding resolves the remaining open report as hidden, not the dismissed one.
    status(api.post("/admin/clips/%s/hide" % x["clip_id"], {"reason": "Wrong date indeed"}, headers=auth(ALICE)), 200)
    eq(sorted((r["id"], r["resolution"]) for r in queue(api, status="resolved")["items"]),
       sorted([(r1["id"], "dismissed"), (r2["id"], "hidden")]), "resolutions after the hide")
    eq([(t["action"], t["target_id"], t["actor"], t["reason"]) for t in audit(api)],
       [("dismiss", r1["id"], "bob", "Taste is not a reason"), ("hide", x["clip_id"], "alice", "Wrong date indeed")],
       "audit trail")
    error(api.post("/admin/reports/rpt_%s/dismiss" % ("0" * 32), headers=auth(ALICE)), 404, detail="Not found")
    error(api.post("/admin/reports/nonsense/dismiss", headers=auth(ALICE)), 404, detail="Not found")


@test
def test_hide_and_restore_are_idempotent(ctx):
    srv, api, url = admin_server(ctx)
    cid = ctx.contributor(api)
    x = clip(ctx, api, cid, "%d-06-06" % ctx.year())
    path = "/admin/clips/%s/" % x["clip_id"]
    status(api.post(path + "restore", headers=auth(ALICE)), 200, "restore a visible clip")
    for _ in range(3):
        r = api.post(path + "hide", {"reason": "spam"}, headers=auth(ALICE))
        status(r, 200, "hide")
        eq(r.json["hidden"], True, "hidden")
    eq([t["action"] for t in audit(api)], ["hide"], "three hides and a no-op restore are one action")
    for bad, what in (({}, "no reason"), ({"reason": "  "}, "blank reason"), ({"reason": "x" * 501}, "501 characters"),
                      ({"reason": 5}, "a number"), ({"reason": "ok", "extra": 1}, "an unknown field")):
        before = ctx.backend.db_counts(url)
        error(api.post(path + "hide", bad, headers=auth(ALICE)), 400, what="hide with " + what)
        eq(ctx.backend.db_counts(url), before, "nothing written by a bad hide (%s)" % what)
    status(api.post(path + "hide", {"reason": "\U0001F3B8" * 500}, headers=auth(ALICE)), 200, "500 code points")
    error(api.post("/admin/clips/clp_%s/hide" % ("f" * 32), {"reason": "x"}, headers=auth(ALICE)), 404, detail="Not found")
    error(api.post("/admin/clips/clp_%s/restore" % ("f" * 32), headers=auth(ALICE)), 404, detail="Not found")
    error(api.post(path + "restore", body=b"reason=x", headers=dict(auth(ALICE), **{"Content-Type": "text/plain"})),
          415, what="restore with a form body")


@test
def test_report_validation(ctx):
    srv, api, url = admin_server(ctx)
    cid = ctx.contributor(api)
    x = clip(ctx, api, cid, "%d-07-07" % ctx.year())
    path = "/clips/%s/reports" % x["clip_id"]
    before = ctx.backend.db_counts(url)
    for bad, what in (({}, "no reason"), ({"reason": ""}, "empty"), ({"reason": " \t\n"}, "blank"),
                      ({"reason": "x" * 501}, "501 characters"), ({"reason": None}, "null"),
                      ({"reason": ["spam"]}, "an array"), ({"reason": "spam", "severity": 3}, "an unknown field")):
        error(api.post(path, bad), 400, what="report with " + what)
    error(api.post(path, body=b"[]", headers={"Content-Type": "application/json"}), 400, what="an array body")
    error(api.post(path, body=b"spam", headers={"Content-Type": "text/plain"}), 415, what="a text body")
    error(api.post("/clips/clp_%s/reports" % ("a" * 32), {"reason": "spam"}), 404, detail="Not found", what="unknown clip")
    error(api.post("/clips/not-an-id/reports", {"reason": "spam"}), 404, detail="Not found", what="malformed id")
    eq(ctx.backend.db_counts(url), before, "nothing written by a refused report")
    report(api, x["clip_id"], "\U0001F3B8" * 500)
    error(api.get(path), 405, what="GET on the reports route")
    eq(api.get(path).header("Allow"), "POST", "Allow")


@test
def test_operator_authentication(ctx):
    srv, api, url = admin_server(ctx)
    cid = ctx.contributor(api)
    x = clip(ctx, api, cid, "%d-08-08" % ctx.year())
    rep = report(api, x["clip_id"])
    routes = [("GET", "/admin/reports", None), ("GET", "/admin/audit", None),
              ("POST", "/admin/clips/%s/hide" % x["clip_id"], {"reason": "x"}),
              ("POST", "/admin/clips/%s/restore" % x["clip_id"], None),
              ("POST", "/admin/reports/%s/dismiss" % rep["id"], None)]
    wrong_same_length = ALICE[:-1] + ("a" if ALICE[-1] != "a" else "b")
    bad_headers = [
        ({}, "no Authorization header"),
        (auth(wrong_same_length), "a wrong token of the same length"),
        (auth(ALICE[:31]), "a short token (the first 31 characters of a real one)"),
        (auth(ALICE + "x"), "a real token with a character added"),
        (auth(""), "an empty Bearer token"),
        ({"Authorization": "Basic " + ALICE}, "another scheme"),
        ({"Authorization": ALICE}, "a token without a scheme"),
        (auth(ALICE[:20]), "a 20-character token"),
    ]
    before = ctx.backend.db_counts(url)
    for method, path, body in routes:
        for headers, what in bad_headers:
            r = api.request(method, path, json_body=body, headers=headers) if body is not None \
                else api.request(method, path, headers=headers)
            error(r, 401, code="UNAUTHORIZED", what="%s %s with %s" % (method, path, what))
            www = r.header("WWW-Authenticate")
            assert www and www.startswith("Bearer"), "%s %s: WWW-Authenticate must say Bearer, got %r" % (method, path, www)
    eq(ctx.backend.db_counts(url), before, "nothing written without a valid token")
    eq(queue(api, token=BOB)["items"][0]["id"], rep["id"], "bob's token works")
    r = api.get("/admin/reports", headers={"Authorization": "bearer  " + ALICE})
    status(r, 200, "the scheme is case-insensitive")
    # Failed attempts are logged with the client address, never with any token.
    log = srv.stderr_text() + srv.stdout_text()
    assert "operator authentication failed" in log, "failed authentications must be logged"
    failed = [l for l in log.splitlines() if "operator authentication failed" in l]
    assert all('"client_ip":"127.0.0.1"' in l for l in failed), "log lines must carry the client address:\n" + failed[0]
    for secret in (ALICE, BOB, ALICE[:31], ALICE[:20], wrong_same_length):
        assert secret not in log, "a token (or part of one) appears in the server's logs"


@test
def test_no_tokens_means_no_admin_routes(ctx):
    # The shared server has no TIMEWARP_ADMIN_TOKENS: every /admin/ route is 404, token or not.
    x = ctx.accepted(date="2016-06-16")
    for method, path in (("GET", "/admin/reports"), ("GET", "/admin/reports/"), ("GET", "/admin/audit"),
                         ("POST", "/admin/clips/%s/hide" % x["clip_id"]), ("POST", "/admin/clips/%s/restore" % x["clip_id"]),
                         ("POST", "/admin/reports/rpt_%s/dismiss" % ("0" * 32))):
        for headers in ({}, auth(ALICE)):
            r = ctx.api.request(method, path, json_body={"reason": "x"} if method == "POST" else None, headers=headers) \
                if method == "POST" else ctx.api.request(method, path, headers=headers)
            error(r, 404, detail="Not found", what="%s %s without configured tokens" % (method, path))
            assert r.header("WWW-Authenticate") is None, "a 404 must not ask for credentials"
    status(ctx.api.get("/clips/" + x["clip_id"]), 200, "the clip is untouched")
    # Reports are public whether or not operators are configured.
    r = ctx.api.post("/clips/%s/reports" % x["clip_id"], {"reason": "spam"})
    status(r, 201, "a report without operators")


@test
def test_admin_lists_paginate(ctx):
    srv, api, url = admin_server(ctx)
    cid = ctx.contributor(api)
    clips = [clip(ctx, api, cid, "%d-09-%02d" % (ctx.year(), i + 1)) for i in range(3)]
    reps = [report(api, c["clip_id"], "reason %d" % i) for i, c in enumerate(clips * 2)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = queue(api, **params)
        pages += 1
        assert len(page["items"]) <= 2, "page larger than limit"
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    eq(seen, [r["id"] for r in reps], "every open report once, oldest first")
    eq(pages, 3, "pages of 2 for 6 reports (the exactly full last page says null)")
    # A cursor is a position: resolving reports before it does not shift later pages.
    first = queue(api, limit=2)
    status(api.post("/admin/reports/%s/dismiss" % reps[0]["id"], headers=auth(ALICE)), 200)
    second = queue(api, limit=2, cursor=first["next_cursor"])
    eq([r["id"] for r in second["items"]], [reps[2]["id"], reps[3]["id"]], "the page after the cursor")
    # Cursors are signed and belong to their list.
    clip_cursor = api.get("/clips?limit=1&from=1000-01-01").json["next_cursor"]
    assert clip_cursor, "need a clip cursor"
    audit_items = [api.post("/admin/clips/%s/hide" % c["clip_id"], {"reason": "x"}, headers=auth(ALICE)) for c in clips]
    trail = audit(api, limit=1)
    audit_page = api.get("/admin/audit?limit=1", headers=auth(ALICE)).json
    for bad in (clip_cursor, audit_page["next_cursor"], first["next_cursor"][:-1],
                first["next_cursor"][:-1] + ("A" if first["next_cursor"][-1] != "A" else "B"), "x"):
        error(api.get("/admin/reports?cursor=" + urllib.parse.quote(bad), headers=auth(ALICE)), 400,
              detail="Invalid cursor", what="a foreign or edited cursor on /admin/reports")
    error(api.get("/admin/audit?cursor=" + urllib.parse.quote(first["next_cursor"]), headers=auth(ALICE)), 400,
          detail="Invalid cursor", what="a report cursor on /admin/audit")
    error(api.get("/clips?cursor=" + urllib.parse.quote(first["next_cursor"])), 400, detail="Invalid cursor",
          what="a report cursor on /clips")
    walked, cursor = [], None
    while True:
        page = api.get("/admin/audit?limit=1" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else ""),
                       headers=auth(ALICE)).json
        walked += [(t["action"], t["target_id"]) for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    eq(walked, [("dismiss", reps[0]["id"])] + [("hide", c["clip_id"]) for c in clips], "the audit trail page by page")
    for bad in ("status=closed", "status=open&status=open", "limit=0", "limit=-1", "limit=x"):
        error(api.get("/admin/reports?" + bad, headers=auth(ALICE)), 400, what="/admin/reports?" + bad)
    error(api.get("/admin/audit?limit=0", headers=auth(ALICE)), 400, what="/admin/audit?limit=0")
    del audit_items, trail


@test
def test_tokens_from_file_and_deploy_check(ctx):
    d = ctx.suite.newdir("tokens")
    path = os.path.join(d, "operators")
    with open(path, "w") as f:
        f.write("carol:%s\n" % BOB)
    srv, api, url = admin_server(ctx, TIMEWARP_ADMIN_TOKENS=None, TIMEWARP_ADMIN_TOKENS_FILE=path)
    status(api.get("/admin/audit", headers=auth(BOB)), 200, "a token from TIMEWARP_ADMIN_TOKENS_FILE")
    error(api.get("/admin/audit", headers=auth(ALICE)), 401, what="a token not in the file")
    # check --deploy refuses a short token and names the operator, not the token.
    short = "dave:" + "s3cr3t-but-short-0123456789abcd"  # 31 characters
    env = {"TIMEWARP_ADMIN_TOKENS": short, "SECRET_KEY": "k3Jx9QmZp2Lr8VtYw4Nc7Hb1Fd6Gs0Ae",
           "ALLOWED_HOSTS": "api.example.com", "DATABASE_URL": "postgres://u:p@db.internal/x?sslmode=verify-full&sslrootcert=/etc/ca.pem",
           "DEBUG": "false"}
    p = srv.run("check", "--deploy", env_over=env)
    out = p.stdout + p.stderr
    eq(p.returncode, 1, "`check --deploy` with a 31-character token (output %r)" % out[-400:])
    assert "TIMEWARP_ADMIN_TOKENS" in out and "dave" in out, "the problem must name the setting and the operator:\n" + out
    assert "s3cr3t" not in out, "`check` must never print a token:\n" + out
    p = srv.run("check", "--deploy", env_over=dict(env, TIMEWARP_ADMIN_TOKENS="dave:" + "s3cr3t-0123456789abcdef0123456789"))
    eq(p.returncode, 0, "`check --deploy` with a 32-character token (output %r)" % (p.stdout + p.stderr)[-400:])
    assert "s3cr3t" not in p.stdout + p.stderr, "`check` must never print a token"


@test
def test_migration_0003_down_and_up(ctx):
    b = ctx.backend
    srv, api, url = admin_server(ctx)
    cid = ctx.contributor(api)
    y = ctx.year()
    x = clip(ctx, api, cid, "%d-10-10" % y)
    z = clip(ctx, api, cid, "%d-10-11" % y)
    report(api, x["clip_id"])
    status(api.post("/admin/clips/%s/hide" % x["clip_id"], {"reason": "spam"}, headers=auth(ALICE)), 200)
    srv.stop()
    schema3 = b.db_schema(url)
    # Reverting drops reports and the audit trail: refused without --force, naming them.
    p = srv.run("migrate", "--to", "2", env_over=srv.migrate_env)
    eq(p.returncode, 1, "migrate --to 2 without --force over reports and actions")
    assert "reports" in p.stderr and "moderation_actions" in p.stderr, "the refusal names what would be lost: " + p.stderr
    eq(b.db_schema(url), schema3, "schema after the refused down")
    srv.migrate("--to", "2", "--force")
    counts = b.db_counts(url)
    assert "reports" not in counts and "moderation_actions" not in counts, "tables left after down: %r" % counts
    assert "hidden_at" not in b.db_schema(url), "clips.hidden_at left after down"
    eq(counts["clips"], 2, "clips kept by the down migration")
    srv.migrate()
    eq(b.db_schema(url), schema3, "schema after down and up again")
    srv.start(migrate=False)
    api = ctx.client(srv)
    eq(listed(api, y), [x["clip_id"], z["clip_id"]], "the down migration forgets moderation: both clips public")
    status(api.post("/admin/clips/%s/hide" % x["clip_id"], {"reason": "spam"}, headers=auth(ALICE)), 200,
           "moderation works again after up")


@test(backends=("sqlite",))
def test_operator_page_is_served(ctx):
    # The page is a static file at /admin (and /admin/), whether or not tokens are set; it
    # is HTML under the page's strict Content-Security-Policy, not an API answer.
    for path in ("/admin", "/admin/"):
        r = ctx.api.get(path, check=False)
        status(r, 200, "GET " + path)
        assert r.header("Content-Type", "").startswith("text/html"), "%s Content-Type %r" % (path, r.header("Content-Type"))
        assert b"Operator token" in r.body, "%s is the operator page" % path
        csp = r.header("Content-Security-Policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, "%s CSP %r" % (path, csp)
    error(ctx.api.post("/admin", {}), 405, what="POST /admin (a page)")
