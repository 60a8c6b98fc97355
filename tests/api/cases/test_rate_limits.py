"""Rate limits (SPEC.md "Rate limits"): N POSTs of a kind per period and client address,
429 RATE_LIMITED with Retry-After over the limit, nothing written by a 429, clients told
apart through a trusted X-Forwarded-For, reads and health never limited, the production
defaults, and bad settings refused at start-up and by `check`."""

import re
import subprocess

from twtest.framework import test, eq, status, error
from twtest.server import TEST_SECRET_KEY, base_env, sanitizer_report
from twtest.util import free_port, video_id

PG = ("postgres",)


def limited_server(ctx, limits, proxies="1", **extra):
    env = {"TIMEWARP_RATE_LIMITS": limits, "TIMEWARP_TRUSTED_PROXIES": proxies}
    env.update(extra)
    url = ctx.backend.new_db_url()
    srv = ctx.server(env=env, db_url=url)
    return srv, ctx.client(srv), url


def as_client(ip):
    return {"X-Forwarded-For": ip}


def submission(cid, date="2020-02-02"):
    return {"contributor_id": cid, "raw_youtube_input": video_id(), "raw_date_input": date}


def check_429(r, period, what):
    error(r, 429, code="RATE_LIMITED", what=what)
    ra = r.header("Retry-After")
    assert ra is not None and re.fullmatch(r"[0-9]+", ra), "%s: Retry-After must be whole seconds, got %r" % (what, ra)
    assert 1 <= int(ra) <= period, "%s: Retry-After must be within 1..%d, got %s" % (what, period, ra)
    return int(ra)


@test
def test_sixth_submission_gets_429(ctx):
    srv, api, url = limited_server(ctx, "submissions=5/min")
    me = as_client("203.0.113.5")
    cid = ctx.contributor(api)  # contributors are not limited here
    subs = []
    for i in range(5):
        r = api.post("/submissions", submission(cid), headers=me)
        status(r, 201, "submission %d of 5" % (i + 1))
        eq(r.header("RateLimit-Policy"), '"submissions";q=5;w=60', "RateLimit-Policy")
        assert r.header("RateLimit", "").startswith('"submissions";r=%d;' % (4 - i)), \
            "RateLimit after %d: %r" % (i + 1, r.header("RateLimit"))
        subs.append(r.json)
    before = ctx.backend.db_counts(url)
    r = api.post("/submissions", submission(cid), headers=me)
    ra = check_429(r, 60, "the sixth submission")
    eq(ra, 12, "Retry-After (one request's worth of a 5/min limit)")
    # Nothing written by a 429, whatever the body (a valid one, a broken one, a duplicate).
    api.post("/submissions", submission(cid), headers=me)
    api.post("/submissions", body=b"{not json", headers=dict(me, **{"Content-Type": "application/json"}))
    dup = dict(submission(cid), raw_youtube_input=subs[0]["raw_youtube_input"],
               raw_date_input=subs[0]["raw_date_input"])
    check_429(api.post("/submissions", dup, headers=me), 60, "a duplicate over the limit")
    eq(ctx.backend.db_counts(url), before, "row counts after 429s")
    # The client cannot escape by adding addresses of its own to the left of the header.
    check_429(api.post("/submissions", submission(cid), headers=as_client("198.51.100.1, 203.0.113.5")),
              60, "spoofed X-Forwarded-For entries")


@test
def test_another_client_still_passes(ctx):
    srv, api, url = limited_server(ctx, "submissions=5/min")
    cid = ctx.contributor(api)
    for _ in range(5):
        status(api.post("/submissions", submission(cid), headers=as_client("203.0.113.7")), 201)
    check_429(api.post("/submissions", submission(cid), headers=as_client("203.0.113.7")), 60, "client A, sixth")
    for _ in range(5):
        status(api.post("/submissions", submission(cid), headers=as_client("203.0.113.8")), 201,
               "client B after client A was limited")
    r = api.post("/submissions", submission(cid), headers=as_client("198.51.100.9, 2001:db8::8"))
    status(r, 201, "client C (IPv6) through the trusted proxy")
    check_429(api.post("/submissions", submission(cid), headers=as_client("203.0.113.8")), 60, "client B, sixth")


@test
def test_reads_and_health_never_limited(ctx):
    srv, api, url = limited_server(ctx, "contributors=1/min,submissions=1/min,reports=1/min")
    me = as_client("203.0.113.20")
    cid = ctx.contributor(api)  # no header: the peer address, another client
    r = api.post("/submissions", submission(cid, "2019-09-09"), headers=me)
    status(r, 201)
    sub, clip = r.json["id"], r.json["clip_id"]
    check_429(api.post("/submissions", submission(cid), headers=me), 60, "second submission")
    paths = ["/clips", "/clips/" + clip, "/clips/%s/neighbors" % clip, "/submissions/" + sub,
             "/calendar?from=2019-09-01&to=2019-09-30", "/health/", "/clips?from=2019-09-09&to=2019-09-09"]
    for _ in range(15):
        for p in paths:
            r = api.get(p, headers=me)
            status(r, 200, "GET %s from a limited client" % p)
            assert r.header("Retry-After") is None, "GET %s carries Retry-After" % p
    for p in paths:
        status(api.head(p, headers=me), 200, "HEAD " + p)


@test
def test_each_kind_counted_apart(ctx):
    srv, api, url = limited_server(ctx, "contributors=2/min, reports=1/hour")
    me = as_client("203.0.113.30")
    status(api.post("/contributors", {}, headers=me), 201)
    status(api.post("/contributors", {}, headers=me), 201)
    before = ctx.backend.db_counts(url)
    check_429(api.post("/contributors", {"display_name": "third"}, headers=me), 60, "third contributor")
    eq(ctx.backend.db_counts(url), before, "row counts after the contributor 429")
    # Submissions are not limited in this configuration, reports are, on their own count.
    cid = ctx.contributor(api)
    clip = api.post("/submissions", submission(cid), headers=me).json["clip_id"]
    for _ in range(10):
        status(api.post("/submissions", submission(cid), headers=me), 201)
    status(api.post("/clips/%s/reports" % clip, {"reason": "spam"}, headers=me), 201)
    before = ctx.backend.db_counts(url)
    check_429(api.post("/clips/%s/reports" % clip, {"reason": "spam again"}, headers=me), 3600, "second report")
    eq(ctx.backend.db_counts(url), before, "row counts after the report 429")


@test
def test_without_proxy_the_peer_is_the_client(ctx):
    # Not behind a trusted proxy: X-Forwarded-For is the client's own claim and is ignored.
    srv, api, url = limited_server(ctx, "contributors=2/min", proxies="0")
    status(api.post("/contributors", {}, headers=as_client("192.0.2.1")), 201)
    status(api.post("/contributors", {}, headers=as_client("192.0.2.2")), 201)
    check_429(api.post("/contributors", {}, headers=as_client("192.0.2.3")), 60, "third from the same peer")


@test
def test_no_limits_in_development_by_default(ctx):
    for i in range(40):
        status(ctx.api.post("/contributors", {}), 201, "contributor %d on the default development server" % (i + 1))


def run_cmd(ctx, args, env, timeout=20):
    full = base_env()
    full.update({"HOST": "127.0.0.1", "PORT": str(free_port())})
    full.update({k: v for k, v in env.items() if v is not None})
    try:
        p = subprocess.run([ctx.suite.binary] + args, env=full, cwd=ctx.suite.newdir("cmd"), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("`timewarp %s` kept running with a configuration it must refuse" % " ".join(args))
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    rep = sanitizer_report(out)
    assert not rep, "sanitizer report:\n" + rep
    return p.returncode, out


@test
def test_bad_settings_refused(ctx):
    url = ctx.backend.new_db_url()
    for bad in ("submissions=30/minute", "uploads=3/min", "submissions=0/min", "submissions", "30/min"):
        env = {"DATABASE_URL": url, "SECRET_KEY": TEST_SECRET_KEY, "TIMEWARP_RATE_LIMITS": bad}
        code, out = run_cmd(ctx, ["check"], env)
        eq(code, 1, "`check` exit code with TIMEWARP_RATE_LIMITS=%s (output %r)" % (bad, out[-300:]))
        assert "TIMEWARP_RATE_LIMITS" in out, "`check` must name TIMEWARP_RATE_LIMITS for %r:\n%s" % (bad, out)
        code, out = run_cmd(ctx, ["serve"], env, timeout=10)
        assert code != 0 and "TIMEWARP_RATE_LIMITS" in out, \
            "serve must refuse TIMEWARP_RATE_LIMITS=%s by name (exit %s):\n%s" % (bad, code, out[-500:])
    env = {"DATABASE_URL": url, "SECRET_KEY": TEST_SECRET_KEY,
           "TIMEWARP_RATE_LIMITS": "contributors=10/s,submissions=30/min,reports=2/hour"}
    code, out = run_cmd(ctx, ["check"], env)
    eq(code, 0, "`check` with good limits (output %r)" % out[-300:])
    assert "contributors=10/s" in out and "reports=2/hour" in out, "`check` lists the limits in force:\n" + out


@test(backends=PG)
def test_production_defaults(ctx):
    # SPEC.md: production limits contributors to 10 a minute unless configured otherwise.
    url = ctx.backend.new_db_url(verify=True)  # production verifies the database's certificate
    env = {"TIMEWARP_ENV": "production", "ALLOWED_HOSTS": "api.example.com", "TIMEWARP_DRAIN_SECONDS": "0"}
    srv = ctx.server(env=env, db_url=url)
    api = ctx.client(srv)
    h = {"Host": "api.example.com", "X-Forwarded-For": "203.0.113.40", "X-Forwarded-Proto": "https"}
    for i in range(10):
        r = api.post("/contributors", {}, headers=h)
        status(r, 201, "contributor %d of 10 in production" % (i + 1))
    eq(r.header("RateLimit-Policy"), '"contributors";q=10;w=60', "production RateLimit-Policy")
    check_429(api.post("/contributors", {}, headers=h), 60, "the eleventh contributor in production")
    status(api.post("/contributors", {}, headers=dict(h, **{"X-Forwarded-For": "203.0.113.41"})), 201,
           "another client in production")
