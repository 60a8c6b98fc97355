"""TLS towards PostgreSQL, verified as production does it (issue 15, "Database security").

The throwaway cluster serves TLS with a certificate signed by a CA the harness made
(twtest/tls.py, openssl CLI). With sslmode=verify-full against that CA the server starts in
production and every one of its database sessions is encrypted (pg_stat_ssl). Against a CA
the test made on the side, or under a host name the certificate does not name, it refuses to
start with a message that says the certificate did not verify and which sslrootcert it used.
A database that is merely unreachable at start-up does not stop a start: that is an outage,
and the server must serve again when the database returns.
"""

import os
import urllib.parse

from attack.framework import test, all_output, free_port, wait_until
from attack.http import request

from twtest import tls

HOST = "api.example.com"


def prod_env(**over):
    env = {"TIMEWARP_ENV": "production", "ALLOWED_HOSTS": HOST, "TIMEWARP_DRAIN_SECONDS": "0"}
    env.update(over)
    return env


def refused_start(ctx, url, env, name):
    """Starts `serve` expecting it to exit by itself; returns (exit code, all output)."""
    srv = ctx.server(url, env=env, start=False, name=name)
    srv.start(migrate=False, wait=False)
    try:
        code = srv.proc.wait(timeout=20)
    except Exception:
        raise AssertionError("%s: `serve` kept running with a certificate that does not verify" % name)
    srv.kill9()  # closes its log files
    return code, all_output(srv)


def check_refusal(code, out, what, sslrootcert):
    assert code == 1, "%s: `serve` must exit 1, exited %s:\n%s" % (what, code, out[-1500:])
    assert "refusing to start" in out and "certificate" in out, \
        "%s: the refusal must say the database's certificate did not verify:\n%s" % (what, out[-1500:])
    assert sslrootcert in out, "%s: the refusal must name the sslrootcert used (%s):\n%s" % (what, sslrootcert, out[-1500:])
    assert '"msg":"listening"' not in out, "%s: the server listened before refusing:\n%s" % (what, out[-1500:])


@test(budget=90, pg=True)
def test_verified_tls_and_wrong_ca(ctx):
    pg = ctx.suite.pg
    db = pg.create_database()
    good_url = pg.url(db, verify=True)

    # The right CA: check --deploy is content, migrate and serve work, and the sessions are TLS.
    srv = ctx.server(good_url, env=prod_env(), name="right-ca")
    p = srv.run("check", "--deploy")
    assert p.returncode == 0, "`check --deploy` with verify-full and the right CA: %s" % (p.stdout + p.stderr)[-800:]
    r = request(srv.port, "POST", "/contributors", {"display_name": "over TLS"}, host=HOST)
    assert r.status == 201, "POST over a verified connection: " + r.describe()
    r = request(srv.port, "GET", "/clips?limit=1", host=HOST)
    assert r.status == 200, "GET over a verified connection: " + r.describe()
    rows = pg.psql("SELECT s.ssl, s.version FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                   "WHERE a.datname = '%s' AND a.application_name = 'timewarp';" % db).split()
    assert rows, "the server holds no session on %s" % db
    assert all(r.startswith("t|TLS") for r in rows), "every session of the server must be TLS: %r" % rows
    ctx.note("right CA: %d session(s), %s" % (len(rows), ", ".join(sorted(set(r.split("|")[1] for r in rows)))))

    # Another CA, which did not sign the database's certificate: in the URL, then in PGSSLROOTCERT.
    other_ca, _ = tls.make_ca(ctx.suite.newdir("other-ca"), "Not the database's CA")
    bad_url = good_url.split("?")[0] + "?sslmode=verify-full&sslrootcert=" + urllib.parse.quote(other_ca, safe="/")
    code, out = refused_start(ctx, bad_url, prod_env(), "wrong-ca-url")
    check_refusal(code, out, "wrong CA in DATABASE_URL", other_ca)
    ctx.note("wrong CA: " + next((l for l in out.splitlines() if "refusing to start" in l), "")[:300])
    code, out = refused_start(ctx, pg.url(db), prod_env(PGSSLMODE="verify-full", PGSSLROOTCERT=other_ca),
                              "wrong-ca-env")
    check_refusal(code, out, "wrong CA in PGSSLROOTCERT", other_ca)
    p = srv.run("migrate", env_over={"DATABASE_URL": bad_url})
    assert p.returncode != 0 and "certificate" in p.stdout + p.stderr, \
        "`migrate` with the wrong CA must fail naming the certificate: %s" % (p.stdout + p.stderr)[-800:]

    # The right CA but a host name the certificate does not name: verify-full checks names too.
    parts = urllib.parse.urlsplit(good_url)
    renamed = parts._replace(netloc=parts.netloc.replace("127.0.0.1", "db.invalid"),
                             query=parts.query + "&hostaddr=127.0.0.1")
    code, out = refused_start(ctx, urllib.parse.urlunsplit(renamed), prod_env(), "wrong-name")
    check_refusal(code, out, "certificate for another host name", pg.ca_file)
    assert "db.invalid" in out, "the refusal must say which host name did not match:\n" + out[-1500:]

    # check --deploy refuses the weaker modes, naming sslmode.
    for mode in ("require", "verify-ca", "prefer"):
        weak = good_url.replace("sslmode=verify-full", "sslmode=" + mode)
        p = srv.run("check", "--deploy", env_over={"DATABASE_URL": weak})
        out = p.stdout + p.stderr
        assert p.returncode == 1 and "sslmode" in out and "verify-full" in out, \
            "`check --deploy` with sslmode=%s must refuse, naming sslmode: %s" % (mode, out[-800:])


@test(budget=60, pg=True)
def test_unreachable_database_does_not_stop_a_verified_start(ctx):
    pg = ctx.suite.pg
    url = pg.url(pg.create_database(), verify=True)
    srv = ctx.server(url, env=prod_env(), name="tls-ok")  # migrates while the database is there
    srv.stop()
    port = free_port()  # nothing listens here
    down = url.replace(":%d/" % pg.port, ":%d/" % port)
    srv2 = ctx.server(down, env=prod_env(), start=False, name="db-down")
    srv2.start(migrate=False, wait=False)
    ok = wait_until(lambda: _status(srv2) == 503 or not srv2.alive(), timeout=20, interval=0.1)
    assert srv2.alive(), "the server exited although the database was only unreachable:\n" + all_output(srv2)[-1500:]
    assert ok, "the server did not answer /health/ while the database was unreachable"
    out = all_output(srv2)
    assert "not reachable at start-up" in out, "the start-up warning is missing:\n" + out[-1500:]


def _status(srv):
    try:
        return request(srv.port, "GET", "/health/", timeout=3).status
    except OSError:
        return None
