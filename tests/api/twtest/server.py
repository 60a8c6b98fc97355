"""Starts and stops the real timewarp binary for the contract suite.

Each Server gets its own working directory (so a default ./data never lands in the repo),
captures stdout/stderr to files there, runs `migrate` first when asked, and waits for
/health/ to answer 200. Stopping sends SIGTERM and expects exit code 0. Any sanitizer
report (ASan, UBSan, LeakSanitizer) in its stderr fails the test that owns it.
"""

import http.client
import os
import shutil
import signal
import subprocess
import tempfile
import time

from . import cleanup
from .util import free_port, tail

TEST_SECRET_KEY = "tw-test-secret-key-0123456789abcdefghijk"  # 40 characters
assert len(TEST_SECRET_KEY) == 40

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer", "ERROR: UndefinedBehaviorSanitizer")

# Variables that configure the server: never inherited from the caller's environment.
# PG*: libpq reads PGSSLMODE, PGPASSWORD and the like from the environment too.
_SERVER_VARS_PREFIXES = ("DATABASE_URL", "DB_", "TIMEWARP_", "SECRET_KEY", "ALLOWED_HOSTS", "PG")
_SERVER_VARS = ("HOST", "PORT", "DEBUG", "LOG_LEVEL")


def base_env():
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_SERVER_VARS_PREFIXES) and k not in _SERVER_VARS
    }
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


def sanitizer_report(text):
    for marker in SANITIZER_MARKERS:
        i = text.find(marker)
        if i >= 0:
            return text[max(0, i - 200): i + 3000]
    return None


class ServerError(AssertionError):
    pass


class Server:
    _count = 0

    def __init__(self, binary, database_url, env=None, workdir=None, name=None, secret_key=TEST_SECRET_KEY):
        Server._count += 1
        self.name = name or "server%d" % Server._count
        self.binary = binary
        self.database_url = database_url
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix="timewarp-srv-")
            cleanup.register(lambda: shutil.rmtree(workdir, ignore_errors=True))
        self.workdir = workdir
        self.port = None
        self.proc = None
        self.extra_env = dict(env or {})
        self.secret_key = secret_key
        self._starts = 0
        self.stdout_path = None
        self.stderr_path = None
        self._stdout_f = None
        self._stderr_f = None
        self.sanitizer_seen = {}
        # When the server connects as a limited role, `migrate` runs as the owner instead:
        # {variable: value} put over the environment for `migrate` only.
        self.migrate_env = None
        cleanup.register(self._emergency_kill)

    def env(self, port=None, **over):
        env = base_env()
        env["HOST"] = "127.0.0.1"
        if port or self.port:
            env["PORT"] = str(port or self.port)
        if self.database_url is not None:
            env["DATABASE_URL"] = self.database_url
        if self.secret_key is not None:
            env["SECRET_KEY"] = self.secret_key
        env.update(self.extra_env)
        env.update(over)
        return {k: v for k, v in env.items() if v is not None}

    # -- one-shot subcommands ---------------------------------------------
    def run(self, *args, timeout=60, env_over=None):
        """Run `timewarp <args>` to completion; returns CompletedProcess (text)."""
        p = subprocess.run(
            [self.binary] + list(args),
            cwd=self.workdir,
            env=self.env(**(env_over or {})),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )
        p.stdout = p.stdout.decode("utf-8", "replace")
        p.stderr = p.stderr.decode("utf-8", "replace")
        rep = sanitizer_report(p.stderr)
        if rep:
            raise ServerError("sanitizer report from `timewarp %s`:\n%s" % (" ".join(args), rep))
        return p

    def migrate(self, *args, timeout=60):
        p = self.run("migrate", *args, timeout=timeout, env_over=self.migrate_env)
        if p.returncode != 0:
            raise ServerError(
                "`timewarp migrate %s` exited %d\nstdout: %s\nstderr: %s"
                % (" ".join(args), p.returncode, p.stdout[-2000:], p.stderr[-2000:])
            )
        return p

    # -- serve --------------------------------------------------------------
    def start(self, migrate=True, wait=True, timeout=30, port=None):
        if migrate:
            self.migrate()
        self._starts += 1
        self.port = port or self.port or free_port()
        self.stdout_path = os.path.join(self.workdir, "%s.%d.stdout" % (self.name, self._starts))
        self.stderr_path = os.path.join(self.workdir, "%s.%d.stderr" % (self.name, self._starts))
        self._stdout_f = open(self.stdout_path, "wb")
        self._stderr_f = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [self.binary, "serve"],
            cwd=self.workdir,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=self._stdout_f,
            stderr=self._stderr_f,
        )
        if wait:
            self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout=30):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(
                    "%s exited with %d during start-up\n%s" % (self.name, self.proc.returncode, self.stderr_tail())
                )
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/health/")
                r = c.getresponse()
                r.read()
                c.close()
                last = r.status
                if r.status == 200:
                    return
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise ServerError(
            "%s not healthy within %ss (last: %r)\n%s" % (self.name, timeout, last, self.stderr_tail())
        )

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=40, expect_code=0):
        """Signal the server, wait for it, close logs; check exit code and sanitizer output."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self._close()
            raise ServerError("%s did not exit within %ss of signal %d\n%s" % (self.name, timeout, sig, self.stderr_tail()))
        self._close()
        self.check_sanitizers()
        if expect_code is not None and code != expect_code:
            raise ServerError(
                "%s exited with %d after signal %d (expected %d)\n%s"
                % (self.name, code, sig, expect_code, self.stderr_tail())
            )
        return code

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._close()

    def _close(self):
        for f in (self._stdout_f, self._stderr_f):
            if f:
                f.close()
        self._stdout_f = self._stderr_f = None
        self.proc_done = True

    def _emergency_kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except Exception:
                pass

    # -- logs ---------------------------------------------------------------
    def stderr_text(self):
        if not self.stderr_path:
            return ""
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout_text(self):
        if not self.stdout_path:
            return ""
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr_tail(self, n=3000):
        return "--- %s stderr tail (%s) ---\n%s" % (self.name, self.stderr_path, tail(self.stderr_path, n) if self.stderr_path else "")

    def check_sanitizers(self):
        """Raise if this server's stderr has a sanitizer report since the last check."""
        if not self.stderr_path:
            return
        text = self.stderr_text()
        start = self.sanitizer_seen.get(self.stderr_path, 0)
        self.sanitizer_seen[self.stderr_path] = len(text)
        rep = sanitizer_report(text[start:])
        if rep:
            raise ServerError("sanitizer report in %s stderr:\n%s" % (self.name, rep))
