"""The attack suite's runner: named tests, each with a time budget, run one after the other.

A test is `fn(ctx)` registered with @test(budget=seconds). The budget is enforced with
SIGALRM (the test gets a TestTimeout exception and fails); every server, process, thread
and folder it started is cleaned up by ctx.teardown(), whatever happened. Servers come from
the contract suite's harness (tests/api/twtest), so a sanitizer report in a server's
stderr or a non-zero exit after SIGTERM fails the test that owns the server.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.append(os.path.join(REPO, "tests", "api"))  # after ours: both have a `cases` package

from twtest import cleanup  # noqa: E402
from twtest.pg import PgCluster, APP_USER  # noqa: E402
from twtest.server import Server, ServerError, TEST_SECRET_KEY  # noqa: E402
from twtest.util import free_port, video_id, wait_until  # noqa: E402,F401 (re-exported to the tests)

REGISTRY = []


class TestTimeout(Exception):
    pass


def test(budget, pg=False):
    """Registers a test with a time budget in seconds; pg=True needs the PostgreSQL cluster."""
    def wrap(fn):
        mod = fn.__module__.rsplit(".", 1)[-1]
        mod = mod[5:] if mod.startswith("test_") else mod
        name = "%s.%s" % (mod, fn.__name__[5:] if fn.__name__.startswith("test_") else fn.__name__)
        REGISTRY.append((name, fn, budget, pg))
        return fn
    return wrap


class Suite:
    def __init__(self, binary):
        self.tmp = tempfile.mkdtemp(prefix="timewarp-attack-")
        cleanup.register(lambda: shutil.rmtree(self.tmp, ignore_errors=True))
        # Test a snapshot, so a rebuild during the run cannot change the binary midway.
        os.makedirs(os.path.join(self.tmp, "bin"))
        self.binary = os.path.join(self.tmp, "bin", "timewarp")
        shutil.copy2(binary, self.binary)
        self._pg = None
        self._n = 0
        self._lock = threading.Lock()

    def newdir(self, prefix):
        with self._lock:
            self._n += 1
            d = os.path.join(self.tmp, "%s-%d" % (prefix, self._n))
        os.makedirs(d)
        return d

    @property
    def pg(self):
        if self._pg is None:
            self._pg = PgCluster().setup()
        return self._pg


class Ctx:
    def __init__(self, suite, name):
        self.suite = suite
        self.name = name
        self.binary = suite.binary
        self.stop = threading.Event()  # set on teardown: every worker thread must watch it
        self._servers = []
        self._procs = []
        self._threads = []
        self.notes = []  # informational lines printed under the PASS/FAIL line

    # -- resources ------------------------------------------------------------------------
    def sqlite_url(self):
        d = self.suite.newdir("sqlite")
        return "sqlite:///" + os.path.join(d, "timewarp.sqlite3")

    def pg_url(self, user=APP_USER, password=None):
        pg = self.suite.pg
        db = pg.create_database(owner=user)
        if password is None:
            return pg.url(db)
        return pg.url(db, user=user, password=password)

    def server(self, db_url, env=None, start=True, migrate=True, secret_key=TEST_SECRET_KEY, name=None, port=None):
        s = Server(self.binary, db_url, env=env, workdir=self.suite.newdir(name or "srv"),
                   name=name or "server", secret_key=secret_key)
        if port:
            s.port = port
        self._servers.append(s)
        if start:
            s.start(migrate=migrate)
        return s

    def popen(self, argv, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(argv, **kw)
        self._procs.append(p)
        cleanup.register(lambda: _kill(p))
        return p

    def thread(self, target, *args):
        th = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(th)
        th.start()
        return th

    def note(self, text):
        self.notes.append(text)

    # -- teardown -------------------------------------------------------------------------
    def teardown(self):
        self.stop.set()
        for th in self._threads:
            th.join(timeout=5)
        for p in self._procs:
            _kill(p)
        errors = []
        for s in self._servers:
            try:
                if s.alive():
                    s.stop(timeout=30)
                else:
                    s.check_sanitizers()
            except Exception as e:
                errors.append(str(e))
        if errors:
            raise ServerError("\n".join(errors))


def _kill(p):
    if p.poll() is None:
        try:
            p.terminate()
            p.wait(timeout=5)
        except Exception:
            try:
                p.kill()
                p.wait(timeout=5)
            except Exception:
                pass


def _alarm(signum, frame):
    raise TestTimeout("time budget exceeded")


class Runner:
    def __init__(self, suite, pattern=None):
        self.suite = suite
        self.pattern = pattern
        self.passed = 0
        self.failed = 0
        self.failures = []

    def selected(self):
        return [(n, f, b, pg) for n, f, b, pg in REGISTRY
                if not self.pattern or any(p in n for p in self.pattern.split(","))]

    def run(self):
        signal.signal(signal.SIGALRM, _alarm)
        tests = self.selected()
        pg_error = None
        if any(pg for _, _, _, pg in tests):
            # The shared PostgreSQL cluster is made once, outside any test's budget.
            t0 = time.monotonic()
            signal.alarm(120)
            try:
                self.suite.pg
                print("setup: PostgreSQL cluster ready (%.1fs)" % (time.monotonic() - t0), flush=True)
            except Exception:
                pg_error = "PostgreSQL cluster setup failed:\n" + traceback.format_exc(limit=5)
            finally:
                signal.alarm(0)
        for name, fn, budget, needs_pg in tests:
            if needs_pg and pg_error:
                self.failed += 1
                self.failures.append(name)
                print("FAIL %s (0.0s)" % name)
                for line in pg_error.rstrip().splitlines():
                    print("       " + line)
                continue
            ctx = Ctx(self.suite, name)
            t0 = time.monotonic()
            err = None
            signal.alarm(budget)
            try:
                fn(ctx)
            except TestTimeout:
                err = "time budget of %d s exceeded\n%s" % (budget, traceback.format_exc(limit=3))
            except AssertionError as e:
                err = str(e) or traceback.format_exc()
            except Exception:
                err = traceback.format_exc()
            finally:
                signal.alarm(0)
            # Teardown has its own budget: it may wait for servers to exit.
            signal.alarm(60)
            try:
                ctx.teardown()
            except TestTimeout:
                err = (err + "\n" if err else "") + "teardown took over 60 s"
            except Exception as e:
                err = (err + "\n" if err else "") + "teardown: " + str(e)
            finally:
                signal.alarm(0)
            secs = time.monotonic() - t0
            if err:
                self.failed += 1
                self.failures.append(name)
                print("FAIL %s (%.1fs)" % (name, secs), flush=True)
                for line in err.rstrip().splitlines():
                    print("       " + line)
            else:
                self.passed += 1
                print("PASS %s (%.1fs)" % (name, secs), flush=True)
            for n in ctx.notes:
                print("       - " + n)
            sys.stdout.flush()


# ---- assertions shared by the tests ---------------------------------------------------------

def check_error_shape(body_json, code=None, what=""):
    pre = (what + ": ") if what else ""
    assert isinstance(body_json, dict), pre + "error body is not a JSON object: %r" % (body_json,)
    assert isinstance(body_json.get("detail"), str) and body_json["detail"], pre + "no 'detail': %r" % body_json
    e = body_json.get("error")
    assert isinstance(e, dict), pre + "no 'error' object: %r" % body_json
    assert isinstance(e.get("code"), str) and e["code"], pre + "no error.code: %r" % body_json
    assert isinstance(e.get("message"), str), pre + "no error.message: %r" % body_json
    assert isinstance(e.get("details"), dict), pre + "error.details is not an object: %r" % body_json
    if code is not None:
        assert e["code"] == code, pre + "error.code must be %s: %r" % (code, body_json)


def stdout_lines(server):
    return [l for l in server.stdout_text().splitlines() if l.strip()]


def all_output(server):
    return server.stdout_text() + "\n" + server.stderr_text()
