"""The service's limited database role (issue 15, "Database security").

`timewarp migrate`, run as the database owner with TIMEWARP_DB_SERVICE_ROLE, creates the
service's role when it is missing and grants it rows only. Connected as that role over TCP
(verified TLS, password auth, as the service connects), every statement that would change the
schema fails for lack of privilege: DROP, ALTER, TRUNCATE, CREATE (temporary tables
included), GRANT, and writes to the migration history. The owner runs the same statements
fine (inside a rolled-back transaction), so the failures come from privileges, not typos.
A server connected as the role serves reads and writes; migrate refuses to "limit" the
owner itself or a superuser, and says what it needs when the role does not exist.
"""

import os
import secrets
import subprocess

from attack.framework import test
from attack.http import request

# (statement, what it would do); run against a migrated schema.
FORBIDDEN = [
    ("DROP TABLE clips CASCADE", "drop a table"),
    ("DROP TABLE schema_migrations", "drop the migration history"),
    ("ALTER TABLE clips ADD COLUMN extra int", "add a column"),
    ("ALTER TABLE contributors RENAME TO people", "rename a table"),
    ("ALTER TABLE clips DROP CONSTRAINT clips_one_per_video_and_date", "drop the duplicate guard"),
    ("ALTER TABLE clips ALTER COLUMN title DROP NOT NULL", "alter a column"),
    ("ALTER TABLE clips OWNER TO CURRENT_USER", "take a table over"),
    ("TRUNCATE clips CASCADE", "truncate"),
    ("CREATE TABLE scratch (x int)", "create a table"),
    ("CREATE TEMP TABLE scratch (x int)", "create a temporary table"),
    ("CREATE INDEX scratch_idx ON clips (title)", "create an index"),
    ("CREATE VIEW scratch_v AS SELECT 1 AS x", "create a view"),
    ("CREATE FUNCTION scratch_f() RETURNS int LANGUAGE sql AS 'SELECT 1'", "create a function"),
    ("CREATE SCHEMA scratch", "create a schema"),
    ("DROP SCHEMA public CASCADE", "drop the schema"),
    ("ALTER SEQUENCE contributors_id_seq RESTART WITH 1", "reset an id sequence"),
    ("DELETE FROM schema_migrations", "rewrite the migration history"),
    ("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'x', 'y')", "fake a migration"),
]
DENIED = ("permission denied", "must be owner")


def psql_as(pg, url, sql):
    p = subprocess.run([os.path.join(pg.bindir, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-d", url, "-c", sql], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30, env={"PATH": os.environ.get("PATH", "")})
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def migrate(srv, owner_url, env):
    full = {"DATABASE_URL": owner_url}
    full.update(env)
    p = srv.run("migrate", env_over=full)
    return p.returncode, p.stdout + p.stderr


@test(budget=90, pg=True)
def test_service_role_cannot_change_the_schema(ctx):
    pg = ctx.suite.pg
    tag = secrets.token_hex(3)
    owner, owner_pw = "tw_owner_" + tag, "owner-" + secrets.token_hex(8)
    role, role_pw = "tw_app_" + tag, "app-" + secrets.token_hex(8)
    # Like RDS's master user: owns the database, may create roles, is no superuser.
    pg.psql("CREATE ROLE %s LOGIN CREATEROLE PASSWORD '%s';" % (owner, owner_pw))
    db = pg.create_database(owner=owner)
    owner_url = pg.url(db, user=owner, password=owner_pw, verify=True)
    role_url = pg.url(db, user=role, password=role_pw, verify=True)
    srv = ctx.server(role_url, start=False, name="service-role")

    # The role does not exist and no password is given: migrate says what it needs.
    code, out = migrate(srv, owner_url, {"TIMEWARP_DB_SERVICE_ROLE": role})
    assert code != 0 and "TIMEWARP_DB_SERVICE_PASSWORD" in out, \
        "migrate without the role's password must fail naming TIMEWARP_DB_SERVICE_PASSWORD:\n" + out[-800:]
    # Created with its password (from a file, as a container secret arrives), then granted again.
    pwfile = os.path.join(ctx.suite.newdir("pw"), "service-password")
    with open(pwfile, "w") as f:
        f.write(role_pw + "\n")
    code, out = migrate(srv, owner_url, {"TIMEWARP_DB_SERVICE_ROLE": role, "TIMEWARP_DB_SERVICE_PASSWORD_FILE": pwfile})
    assert code == 0, "migrate creating the service role:\n" + out[-1500:]
    assert role_pw not in out, "migrate's output shows the service role's password"
    code, out = migrate(srv, owner_url, {"TIMEWARP_DB_SERVICE_ROLE": role})
    assert code == 0, "migrate again, the role existing (idempotent):\n" + out[-1500:]

    problems = []
    # Rows: yes.
    for sql in ("SELECT count(*) FROM clips",
                "INSERT INTO contributors (public_id, created_at) VALUES ('ctr_role_test', 'now') RETURNING public_id",
                "UPDATE contributors SET display_name = 'x' WHERE public_id = 'ctr_role_test' RETURNING public_id",
                "DELETE FROM contributors WHERE public_id = 'ctr_role_test' RETURNING public_id",
                "SELECT max(version) FROM schema_migrations"):
        code, out, err = psql_as(pg, role_url, sql)
        if code != 0 or not out:
            problems.append("as the service role, %r must work: %s" % (sql, err[-300:]))
    # The schema: no.
    for sql, what in FORBIDDEN:
        code, out, err = psql_as(pg, role_url, sql)
        if code == 0:
            problems.append("the service role could %s: %r succeeded" % (what, sql))
        elif not any(d in err for d in DENIED):
            problems.append("%r must fail for lack of privilege, failed otherwise: %s" % (sql, err[-300:]))
        # Control: the owner may do each of them (rolled back), so the statement itself is sound.
        try:
            pg.psql("BEGIN; SET LOCAL ROLE %s; %s; ROLLBACK;" % (owner, sql), db=db)
        except Exception as e:
            problems.append("control: the owner could not run %r either: %s" % (sql, str(e)[:300]))
    for sql in ("CREATE ROLE tw_intruder_%s" % tag, "ALTER ROLE %s CREATEDB" % role):
        code, out, err = psql_as(pg, role_url, sql)
        if code == 0:
            problems.append("the service role could run %r" % sql)
    # GRANT without the grant option only warns; what counts is that nothing was granted.
    psql_as(pg, role_url, "GRANT SELECT, INSERT ON clips TO PUBLIC")
    if pg.psql("SELECT has_table_privilege('public', 'clips', 'SELECT');", db=db).strip() != "f":
        problems.append("the service role could grant access to clips to PUBLIC")
    assert not problems, "\n".join(problems)
    ctx.note("%d schema-changing statements refused to the service role, each allowed to the owner" % len(FORBIDDEN))

    # The server, connected as the role, reads and writes.
    srv.start(migrate=False)
    r = request(srv.port, "POST", "/contributors", {"display_name": "limited"})
    assert r.status == 201, "POST as the service role: " + r.describe()
    r2 = request(srv.port, "POST", "/submissions", {"contributor_id": r.json["id"], "raw_youtube_input": "dQw4w9WgXcQ",
                                                    "raw_date_input": "1911-02-03"})
    assert r2.status == 201 and r2.json["status"] == "accepted", "submission as the service role: " + r2.describe()
    assert request(srv.port, "GET", "/clips/" + r2.json["clip_id"]).status == 200
    users = pg.psql("SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = '%s' "
                    "AND application_name = 'timewarp';" % db).split()
    assert users == [role], "the server must connect as %s only, connects as %r" % (role, users)

    # Refusals: the owner itself, a superuser, a malformed name.
    for bad, why in ((owner, "owner"), ("postgres", "superuser")):
        code, out = migrate(srv, owner_url, {"TIMEWARP_DB_SERVICE_ROLE": bad})
        assert code != 0 and why in out, "migrate with TIMEWARP_DB_SERVICE_ROLE=%s must refuse (%s):\n%s" % (bad, why, out[-800:])
    code, out = migrate(srv, owner_url, {"TIMEWARP_DB_SERVICE_ROLE": 'x"; DROP TABLE clips; --'})
    assert code != 0 and "TIMEWARP_DB_SERVICE_ROLE" in out, "a malformed role name must be refused:\n" + out[-800:]
    assert pg.psql("SELECT to_regclass('public.clips') IS NOT NULL;", db=db).strip() == "t"
