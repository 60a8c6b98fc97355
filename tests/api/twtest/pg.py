"""Throwaway PostgreSQL cluster for the contract suite.

initdb + pg_ctl from /usr/lib/postgresql/*/bin, on a free loopback port, with the
data directory and unix sockets in a temporary folder that is always removed.
PostgreSQL refuses to run as root (and CI runs as root), so as root every server-side
command runs as the `postgres` user through `runuser`, and the folder is chowned to it.

The cluster can be stopped and started again on the same port mid-test, which is how
the suite checks that the API server reconnects without being restarted.

It accepts TLS, as RDS does, with a certificate for 127.0.0.1 signed by a CA made at setup
(`ca_file`): url(..., verify=True) and tls_env() give what production uses, sslmode=verify-full
against that CA. Clients that ask for nothing get libpq's default (TLS, unverified).
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import urllib.parse

from . import cleanup
from . import tls
from .util import free_port

SUPERUSER = "postgres"
APP_USER = "timewarp"
APP_PASSWORD = "tw-test-password-1"


def find_bindir():
    """Newest /usr/lib/postgresql/<major>/bin that has initdb and pg_ctl."""
    candidates = []
    for d in glob.glob("/usr/lib/postgresql/*/bin"):
        if os.access(os.path.join(d, "initdb"), os.X_OK) and os.access(
            os.path.join(d, "pg_ctl"), os.X_OK
        ):
            try:
                major = int(d.split("/")[-2])
            except ValueError:
                major = 0
            candidates.append((major, d))
    if not candidates:
        return None
    return sorted(candidates)[-1][1]


class PgError(RuntimeError):
    pass


class PgCluster:
    def __init__(self, bindir=None):
        self.bindir = bindir or find_bindir()
        if not self.bindir:
            raise PgError("no PostgreSQL server found under /usr/lib/postgresql/*/bin")
        self.as_root = os.geteuid() == 0
        self.tmp = None
        self.port = None
        self.running = False
        self._dbcount = 0
        self.ca_file = None
        self._server_cert = None

    # -- paths ------------------------------------------------------------
    @property
    def datadir(self):
        return os.path.join(self.tmp, "data")

    @property
    def sockdir(self):
        return os.path.join(self.tmp, "sock")

    @property
    def logfile(self):
        return os.path.join(self.tmp, "postgres.log")

    # -- helpers ----------------------------------------------------------
    def _server_cmd(self, argv):
        """Run a server-side command, as `postgres` when we are root."""
        if self.as_root:
            return ["runuser", "-u", SUPERUSER, "--"] + argv
        return argv

    def _run(self, argv, timeout=60, check=True, input=None):
        p = subprocess.run(
            argv,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            input=input,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout,
            text=True,
        )
        if check and p.returncode != 0:
            raise PgError(
                "command failed (%d): %s\nstdout: %s\nstderr: %s\n%s"
                % (p.returncode, " ".join(argv), p.stdout[-2000:], p.stderr[-2000:], self.log_tail())
            )
        return p

    def log_tail(self, n=4000):
        try:
            with open(self.logfile, "r", errors="replace") as f:
                data = f.read()
            return "postgres log tail:\n" + data[-n:]
        except OSError:
            return ""

    # -- lifecycle --------------------------------------------------------
    def setup(self):
        """initdb, start, create the application role and database."""
        self.tmp = tempfile.mkdtemp(prefix="timewarp-pg-")
        cleanup.register(self.destroy)
        os.makedirs(self.sockdir)
        if self.as_root:
            pw = pwd.getpwnam(SUPERUSER)
            for path in (self.tmp, self.sockdir):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(self.tmp, 0o700)
        pwfile = os.path.join(self.tmp, "pwfile")
        with open(pwfile, "w") as f:
            f.write("postgres-superuser-pw\n")
        if self.as_root:
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        # Local (unix socket) connections are trusted: that is the harness's admin path.
        # TCP needs a password, as on RDS, so the API server really authenticates.
        self._run(
            self._server_cmd(
                [
                    os.path.join(self.bindir, "initdb"),
                    "-D", self.datadir,
                    "-U", SUPERUSER,
                    "--pwfile", pwfile,
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E", "UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            timeout=120,
        )
        self._make_certificates()
        self.port = free_port()
        self.start()
        self.psql(
            "CREATE ROLE %s LOGIN PASSWORD '%s';" % (APP_USER, APP_PASSWORD)
        )
        return self

    def _make_certificates(self):
        d = os.path.join(self.tmp, "tls")
        ca = tls.make_ca(d, "Time Warp test database CA")
        self._server_cert = tls.make_server_cert(ca, d)
        self.ca_file = ca[0]
        if self.as_root:  # the server reads its key as `postgres`; the key must stay 0600
            pw = pwd.getpwnam(SUPERUSER)
            for path in (d,) + self._server_cert:
                os.chown(path, pw.pw_uid, pw.pw_gid)

    def tls_env(self):
        """libpq's environment for a verified connection, as the image and ECS set it."""
        return {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": self.ca_file}

    def start(self):
        opts = (
            "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "
            "-c ssl=on -c ssl_cert_file=%s -c ssl_key_file=%s"
            % (self.port, self.sockdir, self._server_cert[0], self._server_cert[1])
        )
        self._run(
            self._server_cmd(
                [
                    os.path.join(self.bindir, "pg_ctl"),
                    "-D", self.datadir,
                    "-l", self.logfile,
                    "-o", opts,
                    "-w", "-t", "60",
                    "start",
                ]
            ),
            timeout=90,
        )
        self.running = True

    def stop(self, mode="fast"):
        if not self.tmp or not os.path.isdir(self.datadir):
            return
        self._run(
            self._server_cmd(
                [os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "-m", mode, "-w", "-t", "60", "stop"]
            ),
            timeout=90,
            check=False,
        )
        self.running = False

    def destroy(self):
        """Stop the cluster (if running) and remove the temporary folder. Idempotent."""
        if self.tmp is None:
            return
        try:
            if self.running or os.path.exists(os.path.join(self.datadir, "postmaster.pid")):
                self.stop(mode="immediate")
        except Exception:  # cleanup must never raise
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp = None

    # -- administration ---------------------------------------------------
    def psql(self, sql, db="postgres", timeout=60):
        """Run SQL as the superuser over the unix socket; return stdout (unaligned, tuples only)."""
        argv = [
            os.path.join(self.bindir, "psql"),
            "-X", "-q", "-A", "-t",
            "-v", "ON_ERROR_STOP=1",
            "-h", self.sockdir,
            "-p", str(self.port),
            "-U", SUPERUSER,
            "-d", db,
            "-c", sql,
        ]
        return self._run(argv, timeout=timeout).stdout

    def create_database(self, name=None, owner=APP_USER):
        """Create a fresh database owned by the application role; return its name."""
        if name is None:
            self._dbcount += 1
            name = "timewarp_%d" % self._dbcount
        self.psql('CREATE DATABASE "%s" OWNER %s;' % (name, owner))
        return name

    def url(self, db, user=APP_USER, password=APP_PASSWORD, scheme="postgres", verify=False):
        """The database's URL; verify=True adds sslmode=verify-full against the cluster's CA."""
        url = "%s://%s:%s@127.0.0.1:%d/%s" % (
            scheme,
            urllib.parse.quote(user, safe=""),
            urllib.parse.quote(password, safe=""),
            self.port,
            db,
        )
        if verify:
            url += "?sslmode=verify-full&sslrootcert=" + urllib.parse.quote(self.ca_file, safe="/")
        return url

    def schema_dump(self, db):
        """Schema of a database as text (pg_dump --schema-only), for idempotence checks."""
        argv = [
            os.path.join(self.bindir, "pg_dump"),
            "--schema-only", "--no-owner", "--no-privileges",
            "-h", self.sockdir, "-p", str(self.port), "-U", SUPERUSER, db,
        ]
        out = self._run(argv).stdout
        # Drop comment/SET noise that does not describe the schema.
        # pg_dump >= 15.14 adds \restrict/\unrestrict lines with a random key each run.
        return "\n".join(
            l
            for l in out.splitlines()
            if l and not l.startswith("--") and not l.startswith("\\restrict") and not l.startswith("\\unrestrict")
        )

    def table_counts(self, db):
        """{table: row count} for every table in the public schema."""
        tables = [
            t
            for t in self.psql(
                "SELECT tablename FROM pg_tables WHERE schemaname='public' ORDER BY 1;", db=db
            ).split()
            if t
        ]
        counts = {}
        for t in tables:
            counts[t] = int(self.psql('SELECT count(*) FROM public."%s";' % t, db=db).strip())
        return counts

    def table_data(self, db):
        """Every row of every public table as sorted text, for 'no change' checks."""
        out = {}
        for t in self.table_counts(db):
            out[t] = sorted(self.psql('SELECT t::text FROM public."%s" t;' % t, db=db).splitlines())
        return out
