"""A tiny test runner: named tests, run once per database backend, PASS/FAIL per test.

A test is a function `fn(ctx)` registered with @test. It runs against each backend in
`backends` (default: sqlite and postgres). `ctx.api` talks to the backend's shared server
(one per backend, fresh database, started once); tests that need their own server call
`ctx.server(...)`, which is stopped (SIGTERM, exit code 0 expected) when the test ends.
A sanitizer report or a crash of any server during a test fails that test.
"""

import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import datetime

from . import cleanup
from .client import Client
from .pg import PgCluster
from .server import Server, ServerError, TEST_SECRET_KEY
from .util import ID_RE, TIMESTAMP_RE, video_id

REGISTRY = []
BACKENDS = ("sqlite", "postgres")


class Skip(Exception):
    pass


def test(fn=None, *, backends=BACKENDS):
    def wrap(f):
        mod = f.__module__.rsplit(".", 1)[-1]
        if mod.startswith("test_"):
            mod = mod[5:]
        name = "%s.%s" % (mod, f.__name__[5:] if f.__name__.startswith("test_") else f.__name__)
        REGISTRY.append((name, f, tuple(backends)))
        return f

    if fn is not None:
        return wrap(fn)
    return wrap


# ---------------------------------------------------------------------------

class Suite:
    """What every backend shares: the binary, the OpenAPI document, a root temp folder."""

    def __init__(self, binary, oapi):
        self.oapi = oapi
        self.tmp = tempfile.mkdtemp(prefix="timewarp-api-")
        cleanup.register(lambda: shutil.rmtree(self.tmp, ignore_errors=True))
        # Test a snapshot: a rebuild of the binary during the run must not change it midway.
        os.makedirs(os.path.join(self.tmp, "bin"))
        self.binary = os.path.join(self.tmp, "bin", os.path.basename(binary))
        shutil.copy2(binary, self.binary)
        self.source_binary = binary
        self._n = 0
        self._lock = threading.Lock()

    def newdir(self, prefix):
        with self._lock:
            self._n += 1
            n = self._n
        d = os.path.join(self.tmp, "%s-%d" % (prefix, n))
        os.makedirs(d)
        return d


SERVICE_ROLE = "tw_service"
SERVICE_PASSWORD = "tw-service-password-1"


class Backend:
    """One database backend. With service_role (PostgreSQL), every database the suite makes is
    migrated by its owner, which grants the limited role `timewarp migrate` creates
    (TIMEWARP_DB_SERVICE_ROLE), and servers connect as that role, as in production."""

    def __init__(self, name, suite, service_role=False):
        self.name = name
        self.suite = suite
        self.service_role = service_role and name == "postgres"
        self.pg = None
        self.main = None
        self._year = 1100
        self._sqlite_n = 0
        self._owner_url = {}  # service URL → the owner's URL of the same database

    def setup(self):
        if self.name == "postgres":
            self.pg = PgCluster().setup()
            if self.service_role:
                # The owner here (unlike RDS's master user) may not create roles: make it up
                # front; `migrate` then only grants (tests/attack/cases/test_roles.py has it create one).
                self.pg.psql("CREATE ROLE %s LOGIN PASSWORD '%s';" % (SERVICE_ROLE, SERVICE_PASSWORD))
        url = self.new_db_url()
        self.main = Server(self.suite.binary, url, workdir=self.suite.newdir("main-" + self.name),
                           name="main-" + self.name)
        self.main.migrate_env = self.migrate_env(url)
        self.main.start()
        if self.service_role:  # the health check has made the server connect: as whom?
            users = self.pg.psql("SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = '%s' "
                                 "AND application_name = 'timewarp';" % self._dbname(url)).split()
            if users != [SERVICE_ROLE]:
                raise AssertionError("the shared server must connect as %s only, connects as %r" % (SERVICE_ROLE, users))

    def migrate_env(self, url):
        """What `migrate` needs instead of the server's own settings (None: the same)."""
        owner = self._owner_url.get(url)
        if owner is None:
            return None
        return {"DATABASE_URL": owner, "TIMEWARP_DB_SERVICE_ROLE": SERVICE_ROLE,
                "TIMEWARP_DB_SERVICE_PASSWORD": SERVICE_PASSWORD}

    def teardown(self):
        """Stop the shared server (must exit 0, no sanitizer report) and the cluster."""
        try:
            if self.main is not None and self.main.alive():
                self.main.stop()
        finally:
            if self.pg is not None:
                self.pg.destroy()

    def new_db_url(self, scheme="postgres", verify=False):
        """A fresh database; on PostgreSQL verify=True asks for sslmode=verify-full (production)."""
        if self.name == "sqlite":
            self._sqlite_n += 1
            d = self.suite.newdir("sqlite-db")
            return "sqlite:///" + os.path.join(d, "timewarp-%d.sqlite3" % self._sqlite_n)
        db = self.pg.create_database()
        url = self.pg.url(db, scheme=scheme, verify=verify)
        if not self.service_role:
            return url
        service = self.pg.url(db, user=SERVICE_ROLE, password=SERVICE_PASSWORD, scheme=scheme, verify=verify)
        self._owner_url[service] = url
        return service

    def next_year(self):
        """A year no other test uses, so date-filtered listings are isolated."""
        self._year += 1
        return self._year

    # -- looking inside the database (only to prove 'nothing written' / 'no change') --
    def _sqlite_path(self, url):
        assert url.startswith("sqlite:///"), url
        return url[len("sqlite:///"):]

    def _dbname(self, url):
        return urllib.parse.urlsplit(url).path.lstrip("/")

    def db_counts(self, url):
        if self.name == "sqlite":
            con = sqlite3.connect(self._sqlite_path(url), timeout=10)
            try:
                names = [r[0] for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY 1")]
                return {n: con.execute('SELECT count(*) FROM "%s"' % n).fetchone()[0] for n in names}
            finally:
                con.close()
        return self.pg.table_counts(self._dbname(url))

    def db_schema(self, url):
        if self.name == "sqlite":
            con = sqlite3.connect(self._sqlite_path(url), timeout=10)
            try:
                return "\n".join(
                    "%s %s %s" % r for r in con.execute(
                        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"))
            finally:
                con.close()
        return self.pg.schema_dump(self._dbname(url))

    def db_data(self, url):
        if self.name == "sqlite":
            con = sqlite3.connect(self._sqlite_path(url), timeout=10)
            try:
                out = {}
                for (n,) in con.execute(
                        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"):
                    out[n] = sorted(repr(r) for r in con.execute('SELECT * FROM "%s"' % n))
                return out
            finally:
                con.close()
        return self.pg.table_data(self._dbname(url))


class Ctx:
    """Per-test context."""

    def __init__(self, backend):
        self.backend = backend
        self.name = backend.name
        self.suite = backend.suite
        self.oapi = backend.suite.oapi
        self.api = Client(backend.main.port, self.oapi)
        self._servers = []

    # -- servers --------------------------------------------------------------
    def server(self, env=None, db_url=None, start=True, migrate=True, secret_key=TEST_SECRET_KEY, name=None):
        url = db_url if db_url is not None else self.backend.new_db_url()
        s = Server(self.suite.binary, url, env=env, workdir=self.suite.newdir("srv"),
                   name=name or "test-server", secret_key=secret_key)
        s.migrate_env = self.backend.migrate_env(url)
        self._servers.append(s)
        if start:
            s.start(migrate=migrate)
        return s

    def client(self, server):
        return Client(server.port, self.oapi)

    def teardown(self):
        errors = []
        for s in self._servers:
            try:
                if s.alive():
                    s.stop()
                else:
                    s.check_sanitizers()
            except Exception as e:
                errors.append(str(e))
        if errors:
            raise ServerError("\n".join(errors))

    # -- API helpers ------------------------------------------------------------
    def contributor(self, api=None, **fields):
        r = (api or self.api).post("/contributors", fields)
        assert r.status == 201, "creating a contributor: " + r.describe()
        return r.json["id"]

    def submit(self, api=None, contributor_id=None, youtube=None, date=None, **extra):
        body = {
            "contributor_id": contributor_id or self.contributor(api),
            "raw_youtube_input": youtube if youtube is not None else video_id(),
            "raw_date_input": date if date is not None else "2020-01-01",
        }
        body.update(extra)
        return (api or self.api).post("/submissions", body)

    def accepted(self, api=None, **kw):
        r = self.submit(api, **kw)
        assert r.status == 201 and r.json.get("status") == "accepted", "expected an accepted submission: " + r.describe()
        return r.json

    def year(self):
        return self.backend.next_year()

    def today_utc(self):
        return datetime.datetime.now(datetime.timezone.utc).date()


# ---------------------------------------------------------------------------
# Assertions with readable messages.

def eq(actual, expected, what):
    assert actual == expected, "%s: expected %r, got %r" % (what, expected, actual)


def status(resp, expected, what=""):
    exp = expected if isinstance(expected, (tuple, list, set)) else (expected,)
    assert resp.status in exp, "%sexpected HTTP %s, got:\n    %s" % (
        (what + ": ") if what else "", "/".join(map(str, exp)), resp.describe())


def error(resp, expected_status, detail=None, code=None, what=""):
    """Check an error response: status, common shape, and optionally detail/code."""
    status(resp, expected_status, what)
    j = resp.json
    pre = (what + ": ") if what else ""
    assert isinstance(j, dict), pre + "error body is not an object: " + resp.describe()
    assert isinstance(j.get("detail"), str) and j["detail"], pre + "no 'detail' string: " + resp.describe()
    e = j.get("error")
    assert isinstance(e, dict), pre + "no 'error' object: " + resp.describe()
    assert isinstance(e.get("code"), str) and e["code"], pre + "no error.code: " + resp.describe()
    assert isinstance(e.get("message"), str), pre + "no error.message: " + resp.describe()
    assert isinstance(e.get("details"), dict), pre + "error.details is not an object: " + resp.describe()
    if detail is not None:
        assert j["detail"] == detail, "%sdetail must be exactly %r: %s" % (pre, detail, resp.describe())
    if code is not None:
        codes = code if isinstance(code, (tuple, list, set)) else (code,)
        assert e["code"] in codes, "%serror.code must be %s: %s" % (pre, "/".join(codes), resp.describe())


def is_timestamp(v, what):
    assert isinstance(v, str) and TIMESTAMP_RE.match(v), "%s must be RFC 3339 UTC with 6 fractional digits and Z, got %r" % (what, v)


def is_id(v, prefix, what):
    assert isinstance(v, str) and ID_RE[prefix].match(v), "%s must be %s_ + 32 lowercase hex, got %r" % (what, prefix, v)


# ---------------------------------------------------------------------------

class Runner:
    def __init__(self, suite, backends, pattern=None, verbose=False, service_role=False):
        self.suite = suite
        self.service_role = service_role
        self.backends = backends
        self.pattern = pattern
        self.passed = self.failed = self.skipped = 0
        self.failures = []

    def report(self, outcome, backend, name, secs, msg=None):
        line = "%-4s [%s] %s (%.2fs)" % (outcome, backend, name, secs)
        print(line, flush=True)
        if msg:
            for l in msg.rstrip().splitlines():
                print("       " + l)
            sys.stdout.flush()

    def selected(self, name):
        if not self.pattern:
            return True
        return any(p in name for p in self.pattern.split(","))

    def run(self):
        for bname in self.backends:
            tests = [(n, f) for n, f, bks in REGISTRY if bname in bks and self.selected(n)]
            if not tests:
                continue
            backend = Backend(bname, self.suite, service_role=self.service_role)
            t0 = time.monotonic()
            try:
                backend.setup()
            except Exception:
                self.failed += 1
                self.failures.append("[%s] setup" % bname)
                self.report("FAIL", bname, "setup", time.monotonic() - t0, traceback.format_exc())
                try:
                    backend.teardown()
                except Exception:
                    pass
                continue
            for name, fn in tests:
                self.run_one(backend, name, fn)
            t0 = time.monotonic()
            try:
                backend.teardown()
                self.passed += 1
                self.report("PASS", bname, "teardown.shared_server_clean_exit", time.monotonic() - t0)
            except Exception as e:
                self.failed += 1
                self.failures.append("[%s] teardown.shared_server_clean_exit" % bname)
                self.report("FAIL", bname, "teardown.shared_server_clean_exit", time.monotonic() - t0, str(e))

    def run_one(self, backend, name, fn):
        ctx = Ctx(backend)
        t0 = time.monotonic()
        outcome, msg = "PASS", None
        try:
            fn(ctx)
        except Skip as e:
            outcome, msg = "SKIP", str(e)
        except AssertionError as e:
            outcome, msg = "FAIL", (str(e) or "assertion failed") + "\n" + _where(e)
        except Exception:
            outcome, msg = "FAIL", traceback.format_exc()
        # Every server this test started must stop cleanly; the shared one must still be up and clean.
        extra = []
        try:
            ctx.teardown()
        except Exception as e:
            extra.append(str(e))
        main = backend.main
        try:
            main.check_sanitizers()
        except Exception as e:
            extra.append(str(e))
        if not main.alive():
            extra.append("the shared %s server died during this test (exit %s)\n%s" % (
                backend.name, main.proc.returncode, main.stderr_tail()))
            main.kill9()  # reap and close its log files before starting it again
            try:
                main.check_sanitizers()
            except Exception as e:
                extra.append(str(e))
            try:
                main.start(migrate=False)
            except Exception as e:
                extra.append("could not restart it: %s" % e)
        if extra:
            outcome = "FAIL"
            msg = ((msg + "\n") if msg else "") + "\n".join(extra)
        secs = time.monotonic() - t0
        if outcome == "PASS":
            self.passed += 1
        elif outcome == "SKIP":
            self.skipped += 1
        else:
            self.failed += 1
            self.failures.append("[%s] %s" % (backend.name, name))
        self.report(outcome, backend.name, name, secs, msg)


def _where(e):
    """The test-file line that failed (the last frame outside the harness)."""
    tb = traceback.extract_tb(e.__traceback__)
    frames = [f for f in tb if "/twtest/" not in f.filename]
    if not frames:
        frames = tb[-1:]
    f = frames[-1]
    return "at %s:%d" % (os.path.relpath(f.filename), f.lineno)
