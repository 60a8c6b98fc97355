"""Shared pieces of the benchmark harness: processes it starts (and always stops), a
throwaway PostgreSQL cluster, the server under test, nginx, wrk and a minimal keep-alive
HTTP client.

Every process started here is recorded in $BENCH_TMP/pids ("pid starttime kind") and every
PostgreSQL data directory in $BENCH_TMP/pgdirs, so the shell wrapper's EXIT trap can stop
them even if this Python process is killed; Python also stops them itself (Procs.close).
"""

import glob
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(BENCH_DIR)
RESULTS = os.path.join(BENCH_DIR, "results")
SECRET_KEY = "bench-secret-key-0123456789abcdefghijklmnop"  # fixed: 44 characters
PG_SUPERUSER = "postgres"
PG_APP_USER = "timewarp"
PG_APP_PASSWORD = "bench-password-1"


def log(msg):
    print(msg, flush=True)


def progress(msg):
    """A progress line that rewrites itself on a terminal, and is a plain line otherwise."""
    if sys.stdout.isatty():
        sys.stdout.write("\r\033[K" + msg)
        sys.stdout.flush()
    else:
        log(msg)


def progress_done():
    if sys.stdout.isatty():
        sys.stdout.write("\n")
        sys.stdout.flush()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_starttime(pid):
    """Field 22 of /proc/PID/stat: tells a recycled pid from ours."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


def proc_status(pid, field):
    """A kB figure from /proc/PID/status (VmHWM, VmRSS), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def git_describe():
    try:
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "src", "migrations", "Makefile"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except Exception:
        return "unknown"


def loadavg():
    """1-minute load average: other work on the machine skews every figure."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError):
        return None


def fdatasync_per_s(directory, seconds=1.0):
    """8 kB write + fdatasync per op, for `seconds`: what one commit costs on this disk
    (PostgreSQL with fsync on cannot commit faster per connection)."""
    path = os.path.join(directory, "fdatasync.probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        block = b"\0" * 8192
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            os.pwrite(fd, block, 0)
            os.fdatasync(fd)
            n += 1
        return round(n / (time.perf_counter() - t0), 1)
    finally:
        os.close(fd)
        os.remove(path)


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": os.uname().release}


class Procs:
    """Processes this run started; stopped in reverse order on close()."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.items = []  # (Popen, kind)

    def _record(self, p, kind):
        with open(os.path.join(self.tmp, "pids"), "a") as f:
            f.write("%d %s %s\n" % (p.pid, proc_starttime(p.pid) or "0", kind))

    def spawn(self, argv, kind, **kw):
        p = subprocess.Popen(argv, **kw)
        self._record(p, kind)
        self.items.append((p, kind))
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=15):
        """Signal one of our processes and reap it; SIGKILL if it does not go. Returns rc."""
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        self.items = [(q, k) for (q, k) in self.items if q is not p]
        return p.returncode

    def close(self):
        for p, _ in reversed(list(self.items)):
            try:
                self.stop(p, timeout=5)
            except Exception:
                pass


# ---- a minimal keep-alive HTTP/1.1 client --------------------------------------------------

class HttpError(RuntimeError):
    pass


class Client:
    """One keep-alive connection; much cheaper per request than http.client, so timings
    show the server rather than the client."""

    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.addr = (host, port)
        self.timeout = timeout
        self.sock = None
        self.buf = b""

    def _connect(self):
        self.sock = socket.create_connection(self.addr, timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None

    def _read_more(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise HttpError("connection closed by server")
        self.buf += chunk

    def request(self, method, path, body=None, retry=True):
        """Returns (status, body bytes). Reconnects once if a kept-alive socket died."""
        if self.sock is None:
            self._connect()
        head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method, path)
        if body is not None:
            if not isinstance(body, bytes):
                body = json.dumps(body).encode()
            head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        data = head.encode() + b"\r\n" + (body or b"")
        try:
            self.sock.sendall(data)
            while b"\r\n\r\n" not in self.buf:
                self._read_more()
        except (OSError, HttpError):
            self.close()
            if retry:
                return self.request(method, path, body, retry=False)
            raise
        hdr, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = hdr.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if method == "HEAD" or status in (204, 304):
            payload = b""
        elif "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n:
                self._read_more()
            payload, self.buf = self.buf[:n], self.buf[n:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            payload = b""
            while True:
                while b"\r\n" not in self.buf:
                    self._read_more()
                size_line, self.buf = self.buf.split(b"\r\n", 1)
                n = int(size_line.split(b";")[0], 16)
                while len(self.buf) < n + 2:
                    self._read_more()
                payload += self.buf[:n]
                self.buf = self.buf[n + 2:]
                if n == 0:
                    break
        else:  # body until close
            try:
                while True:
                    self._read_more()
            except HttpError:
                pass
            payload, self.buf = self.buf, b""
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        self.last_headers = headers
        return status, payload

    def json(self, method, path, body=None, expect=(200,)):
        status, payload = self.request(method, path, body)
        if status not in expect:
            raise HttpError("%s %s -> %d %s" % (method, path, status, payload[:300]))
        return json.loads(payload)


def get_status_once(port):
    """One GET /health/ on a fresh connection; the status, or None if nothing listens yet."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError:
        return None
    try:
        s.sendall(b"GET /health/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                return None
            data += chunk
        return int(data.split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return None
    finally:
        s.close()


# ---- the server under test -------------------------------------------------------------------

def server_env(port, database_url, extra=None):
    """The server's environment: nothing inherited that configures it, only what we set."""
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("DATABASE_URL", "DB_", "TIMEWARP_", "SECRET_KEY", "ALLOWED_HOSTS"))
            and k not in ("HOST", "PORT", "DEBUG", "LOG_LEVEL")}
    keep.update({
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "TIMEWARP_ENV": "development",  # production refuses SQLite; same settings for both
        "DEBUG": "false",
        "LOG_LEVEL": "info",
    })
    keep.update(extra or {})
    return keep


def migrate(binary, database_url, cwd):
    p = subprocess.run([binary, "migrate"], env=server_env(free_port(), database_url), cwd=cwd,
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError("timewarp migrate failed (%d): %s %s" % (p.returncode, p.stdout[-2000:], p.stderr[-2000:]))


class Server:
    """build/timewarp serve; stdout (the access log) and stderr go to files, as in production."""

    def __init__(self, procs, binary, database_url, workdir, name):
        self.procs, self.binary, self.database_url = procs, binary, database_url
        self.workdir, self.name = workdir, name
        self.port = None
        self.proc = None
        self.stdout_path = os.path.join(workdir, name + ".stdout.log")
        self.stderr_path = os.path.join(workdir, name + ".stderr.log")

    def start(self, timeout=30):
        self.port = free_port()
        out = open(self.stdout_path, "ab")
        err = open(self.stderr_path, "ab")
        try:
            self.proc = self.procs.spawn([self.binary, "serve"], "timewarp",
                                         env=server_env(self.port, self.database_url),
                                         cwd=self.workdir, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL)
        finally:
            out.close()
            err.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s during start-up:\n%s" % (self.name, self.proc.returncode, self.stderr_tail()))
            if get_status_once(self.port) == 200:
                return self
            time.sleep(0.02)
        raise RuntimeError("%s did not answer 200 on /health/ within %ds:\n%s" % (self.name, timeout, self.stderr_tail()))

    def stderr_tail(self, n=3000):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def peak_rss_kb(self):
        return proc_status(self.proc.pid, "VmHWM")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM (drain is 0 in development); returns the exit code."""
        if self.proc is None:
            return None
        rc = self.procs.stop(self.proc, signal.SIGTERM, timeout=30)
        return rc

    def problems(self):
        """Error lines the server wrote to stderr (JSON lines with level error/fatal)."""
        out = []
        for line in self.stderr_tail(10 ** 7).splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                if line.strip():
                    out.append(line.strip())
                continue
            if str(rec.get("level", "")).lower() in ("error", "fatal", "crit", "critical"):
                out.append(line.strip())
        return out


def startup_ms(procs, binary, database_url, workdir, starts=5):
    """Process start -> first 200 on /health/, in ms, for `starts` fresh processes."""
    times = []
    for i in range(starts):
        port = free_port()
        with open(os.path.join(workdir, "startup.stderr.log"), "ab") as err:
            t0 = time.perf_counter()
            p = procs.spawn([binary, "serve"], "timewarp-startup", env=server_env(port, database_url),
                            cwd=workdir, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
        got = None
        while time.perf_counter() - t0 < 10:
            if get_status_once(port) == 200:
                got = (time.perf_counter() - t0) * 1000.0
                break
            if p.poll() is not None:
                break
            time.sleep(0.0002)
        procs.stop(p)
        if got is None:
            raise RuntimeError("start-up measurement: no 200 on /health/ within 10 s (rc %s)" % p.returncode)
        times.append(got)
    return times


# ---- a throwaway PostgreSQL ------------------------------------------------------------------

def pg_bindir():
    found = []
    for d in glob.glob("/usr/lib/postgresql/*/bin"):
        if os.access(os.path.join(d, "initdb"), os.X_OK) and os.access(os.path.join(d, "pg_ctl"), os.X_OK):
            try:
                found.append((int(d.split("/")[-2]), d))
            except ValueError:
                pass
    if not found:
        raise RuntimeError("no PostgreSQL server under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    return sorted(found)[-1][1]


# Settings an RDS instance of the size we deploy (2 vCPU, 4 GiB, e.g. db.t4g.medium) runs
# with by default: RDS sizes shared_buffers at 1/4 of memory, effective_cache_size at 1/2,
# maintenance_work_mem at ~64 MB and max_wal_size at 2 GB. Durability stays as on RDS:
# fsync, synchronous_commit and full_page_writes keep their defaults (on).
PG_SETTINGS = {
    "shared_buffers": "1GB",
    "effective_cache_size": "2GB",
    "maintenance_work_mem": "128MB",
    "work_mem": "4MB",
    "max_wal_size": "2GB",
    "checkpoint_timeout": "5min",
    "max_connections": "200",
    "random_page_cost": "4",
}


class PgCluster:
    def __init__(self, tmp):
        self.bindir = pg_bindir()
        self.as_root = os.geteuid() == 0
        self.dir = os.path.join(tmp, "pg")
        self.datadir = os.path.join(self.dir, "data")
        self.sockdir = os.path.join(self.dir, "sock")
        self.logfile = os.path.join(self.dir, "postgres.log")
        self.port = None
        self.tmp = tmp

    def _cmd(self, argv):
        return (["runuser", "-u", PG_SUPERUSER, "--"] + argv) if self.as_root else argv

    def _run(self, argv, timeout=120, input=None):
        p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("command failed (%d): %s\n%s\n%s\n%s" % (
                p.returncode, " ".join(argv[:6]), p.stdout[-1500:], p.stderr[-1500:], self.log_tail()))
        return p.stdout

    def log_tail(self, n=2000):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def setup(self):
        os.makedirs(self.sockdir)
        with open(os.path.join(self.tmp, "pgdirs"), "a") as f:
            f.write(self.datadir + "\n")
        if self.as_root:
            pw = pwd.getpwnam(PG_SUPERUSER)
            for path in (self.dir, self.sockdir):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o700)
        pwfile = os.path.join(self.dir, "pwfile")
        with open(pwfile, "w") as f:
            f.write("bench-superuser-pw\n")
        if self.as_root:
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        # Unix-socket connections are the harness's admin path (trusted); TCP needs a
        # password, as on RDS, so the server really authenticates.
        self._run(self._cmd([os.path.join(self.bindir, "initdb"), "-D", self.datadir, "-U", PG_SUPERUSER,
                             "--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256",
                             "-E", "UTF8", "--locale=C"]), timeout=300)
        self.port = free_port()
        opts = "-p %d -k %s -c listen_addresses=127.0.0.1 " % (self.port, self.sockdir)
        opts += " ".join("-c %s=%s" % kv for kv in PG_SETTINGS.items())
        self._run(self._cmd([os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "-l", self.logfile,
                             "-o", opts, "-w", "-t", "120", "start"]), timeout=180)
        self.psql("CREATE ROLE %s LOGIN PASSWORD '%s';" % (PG_APP_USER, PG_APP_PASSWORD))
        return self

    def version(self):
        return self.psql("SHOW server_version;").strip()

    def psql_argv(self, db="postgres"):
        """psql as the superuser over the unix socket, SQL on stdin, stop at the first error."""
        return [os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", self.sockdir, "-p", str(self.port), "-U", PG_SUPERUSER, "-d", db]

    def psql(self, sql, db="postgres", timeout=600):
        return self._run(self.psql_argv(db), timeout=timeout, input=sql)

    def create_database(self, name):
        self.psql('CREATE DATABASE "%s" OWNER %s;' % (name, PG_APP_USER))
        return "postgres://%s:%s@127.0.0.1:%d/%s" % (PG_APP_USER, PG_APP_PASSWORD, self.port, name)

    def destroy(self):
        if os.path.exists(os.path.join(self.datadir, "postmaster.pid")):
            subprocess.run(self._cmd([os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "-m", "immediate",
                                      "-w", "-t", "60", "stop"]), capture_output=True, timeout=90)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- nginx: the machine's HTTP ceiling -------------------------------------------------------

NGINX_CONF = """\
worker_processes auto;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 100000;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    server {
        listen 127.0.0.1:%(port)d;
        location / { default_type application/json; return 200 '{"status":"ok"}'; }
        # The same bytes Time Warp answers (captured list page and clip), from files.
        location /same/ { root %(dir)s; default_type application/json; etag on; }
    }
}
"""


def start_nginx(procs, tmp, files=None):
    """nginx on a free port; `files` ({name: bytes}) are served as /same/<name>."""
    d = os.path.join(tmp, "nginx")
    os.makedirs(os.path.join(d, "same"), exist_ok=True)
    for name, data in (files or {}).items():
        with open(os.path.join(d, "same", name), "wb") as f:
            f.write(data)
        os.chmod(os.path.join(d, "same", name), 0o644)
    os.chmod(os.path.join(d, "same"), 0o755)
    os.chmod(d, 0o755)
    port = free_port()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF % {"dir": d, "port": port})
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    p = procs.spawn([nginx, "-p", d, "-e", os.path.join(d, "error.log"), "-c", conf, "-g", "daemon off;"],
                    "nginx", stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "stderr.log"), "ab"),
                    stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError("nginx exited: " + open(os.path.join(d, "stderr.log")).read()[-2000:])
        if get_status_once(port) == 200:
            return p, port
        time.sleep(0.02)
    raise RuntimeError("nginx did not answer within 10 s")


# ---- wrk ---------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def _ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m|h)$", text.strip())
    if not m:
        raise ValueError("bad wrk time %r" % text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out):
    r = {"rps": None, "p50_ms": None, "p99_ms": None, "requests": None, "non_2xx_3xx": 0,
         "socket_errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0}, "statuses": {}}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    if m:
        r["p50_ms"] = _ms(m.group(1))
    m = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if m:
        r["p99_ms"] = _ms(m.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+\w+)", out)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        r["non_2xx_3xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    for code, n in re.findall(r"^STATUS (\S+) (\d+)$", out, re.M):
        r["statuses"][code] = int(n)
    return r


def run_wrk(procs, url, duration, threads=2, connections=32, script=None, args=(), timeout_s=None,
            headers=()):
    argv = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration, "--latency"]
    for h in headers:
        argv += ["-H", h]
    if script:
        argv += ["-s", script]
    argv.append(url)
    if args:
        argv += ["--"] + list(args)
    p = procs.spawn(argv, "wrk", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                    stdin=subprocess.DEVNULL)
    try:
        out, _ = p.communicate(timeout=timeout_s or duration + 60)
    except subprocess.TimeoutExpired:
        procs.stop(p, signal.SIGKILL)
        raise RuntimeError("wrk did not finish: " + " ".join(argv))
    procs.stop(p)
    if p.returncode != 0:
        raise RuntimeError("wrk failed (%d): %s\n%s" % (p.returncode, " ".join(argv), out[-2000:]))
    return out


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0


def start_run(tool, runner):
    """Common start of bench.py and scale.py: SIGTERM (from the shell's trap) unwinds like
    Ctrl-C so every finally block stops what the run started; then the binary is copied into
    the run's temp dir (named neutrally, see common.sh) so a rebuild during the run cannot
    swap it. Returns (tmp, binary), or (None, exit code) when the run cannot start."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = os.environ.get("BENCH_TMP")
    if not tmp or not os.path.isdir(tmp):
        print("%s: run me through %s (BENCH_TMP unset)" % (tool, runner), file=sys.stderr)
        return None, 2
    binary = os.environ.get("TIMEWARP_BIN", os.path.join(REPO, "build", "timewarp"))
    if not os.access(binary, os.X_OK):
        print("%s: %s missing: run `make` first" % (tool, binary), file=sys.stderr)
        return None, 2
    snap = os.path.join(tmp, "twbench-server")
    shutil.copy2(binary, snap)
    return tmp, snap
