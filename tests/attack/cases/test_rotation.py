"""Password rotation without a failed request (issue 10, item 4), modelled on Secrets
Manager's alternating-users rotation for RDS PostgreSQL.

The secret names one of two users: A, the service role `timewarp migrate` created, and B, its
clone (`CREATE ROLE B LOGIN PASSWORD …; GRANT A TO B`, as the rotation function makes it).
A rotation gives the user the secret does NOT name a new password and then makes it current,
so the credentials running tasks hold stay valid while a new deployment rolls out:

  1. two instances behind HAProxy (health-checked like the ALB) connect as A, under a steady
     load of reads and writes;
  2. rotation 1: B is created with a new password and becomes current; the instances' database
     sessions are cut (as a failover would) and they reconnect with A, still valid;
  3. the deployment the rotation triggers rolls the instances one by one onto B (SIGTERM, drain,
     start with the secret's new value);
  4. rotation 2: A gets a new password and becomes current; A's old password no longer logs in;
     the instances on B have their sessions cut and reconnect, still valid.
Zero failed requests throughout: in the load's own count and in HAProxy's.
"""

import os
import secrets
import signal
import subprocess
import threading
import time

from attack.framework import test, video_id, wait_until
from attack.http import KeepAlive, request
from cases.test_haproxy import HAPROXY_CFG, find_haproxy, server_status, stats

from twtest.util import free_port

DRAIN = 3


class Secret:
    """The secret's AWSCURRENT value, as a task reads it at start."""

    def __init__(self, username, password):
        self.username, self.password = username, password


def psql_login(pg, db, user, password):
    """Can `user` log in with `password` over TCP (verified TLS)? Returns (ok, stderr)."""
    p = subprocess.run([os.path.join(pg.bindir, "psql"), "-X", "-A", "-t", "-d",
                        pg.url(db, user=user, password=password, verify=True), "-c", "SELECT current_user"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=30, env={"PATH": os.environ.get("PATH", "")})
    return p.returncode == 0 and p.stdout.strip() == user, p.stderr.strip()


def sessions(pg, db, user):
    return int(pg.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND usename = '%s' "
                       "AND application_name = 'timewarp';" % (db, user)).strip() or 0)


def cut_sessions(pg, db, user):
    """Terminates `user`'s sessions of the server on `db` (a failover or an idle timeout would);
    returns how many there were."""
    out = pg.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '%s' "
                  "AND usename = '%s' AND application_name = 'timewarp';" % (db, user))
    return int(out.strip() or 0)


@test(budget=150, pg=True)
def test_rotation_alternating_users_no_failed_request(ctx):
    haproxy = find_haproxy()
    assert haproxy, "haproxy is not installed (scripts/install-deps.sh test lists it)"
    pg = ctx.suite.pg
    tag = secrets.token_hex(3)
    owner, owner_pw = "tw_rot_owner_" + tag, "owner-" + secrets.token_hex(8)
    user_a = "tw_rot_app_" + tag
    user_b = user_a + "_clone"  # the rotation function's name for the alternate user
    pg.psql("CREATE ROLE %s LOGIN CREATEROLE PASSWORD '%s';" % (owner, owner_pw))
    db = pg.create_database(owner=owner)
    secret = Secret(user_a, "a1-" + secrets.token_hex(10))

    def instance_env(s):
        # What ECS gives a task: the DB_* pieces, the secret's username and password, verified TLS.
        env = {"DB_ENGINE": "postgres", "DB_HOST": "127.0.0.1", "DB_PORT": str(pg.port), "DB_NAME": db,
               "DB_USER": s.username, "DB_PASSWORD": s.password, "TIMEWARP_WORKERS": "2",
               "TIMEWARP_DRAIN_SECONDS": str(DRAIN), "TIMEWARP_SHUTDOWN_TIMEOUT": "10"}
        env.update(pg.tls_env())
        return env

    # The migrate task, as the owner, creates A with the secret's first password.
    mig = ctx.server(None, env={"DATABASE_URL": pg.url(db, user=owner, password=owner_pw, verify=True),
                                "TIMEWARP_DB_SERVICE_ROLE": user_a, "TIMEWARP_DB_SERVICE_PASSWORD": secret.password},
                     start=False, name="migrate")
    p = mig.run("migrate")
    assert p.returncode == 0, "migrate as the owner, creating the service role:\n" + (p.stdout + p.stderr)[-1500:]

    ports = {"a": free_port(), "b": free_port()}
    live = {name: ctx.server(None, env=instance_env(secret), name="%s-as-A" % name, port=ports[name], migrate=False)
            for name in ("a", "b")}
    cid = request(ports["a"], "POST", "/contributors", {}).json["id"]
    sub = request(ports["a"], "POST", "/submissions", {"contributor_id": cid, "raw_youtube_input": video_id(),
                                                       "raw_date_input": "1912-03-04"}).json

    work = ctx.suite.newdir("rotation")
    sock = os.path.join(work, "stats.sock")
    fport = free_port()
    cfg = os.path.join(work, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(HAPROXY_CFG.format(sock=sock, fport=fport, aport=ports["a"], bport=ports["b"], check="/health/"))
    hlog = open(os.path.join(work, "haproxy.log"), "wb")
    hp = ctx.popen([haproxy, "-f", cfg, "-db"], stdout=hlog, stderr=subprocess.STDOUT)
    assert wait_until(lambda: hp.poll() is None and server_status(sock, "a") == "UP" and server_status(sock, "b") == "UP",
                      timeout=15, interval=0.2), "HAProxy did not see both instances up"

    # The load: reads and writes through HAProxy; every answer must be a 2xx.
    counts = {"requests": 0, "failed": [], "writes": 0}
    lock = threading.Lock()

    def loader(w):
        ka = KeepAlive(fport, timeout=10)
        n = 0
        while not ctx.stop.is_set():
            n += 1
            kind = (n + w) % 4
            if kind == 0:
                outcome, r = ka.call("POST", "/contributors", {"display_name": "load %d" % w})
            elif kind == 1:
                outcome, r = ka.call("GET", "/clips/" + sub["clip_id"])
            elif kind == 2:
                outcome, r = ka.call("GET", "/clips?limit=5&from=1912-01-01&to=1912-12-31")
            else:
                outcome, r = ka.call("GET", "/submissions/" + sub["id"])
            with lock:
                counts["requests"] += 1
                counts["writes"] += kind == 0
                if outcome != "ok" or not 200 <= r.status < 300:
                    counts["failed"].append("%.1fs %s %s" % (time.monotonic() - t_load, outcome,
                                                             r.describe() if outcome == "ok" else repr(r)))
            time.sleep(0.01)

    t_load = time.monotonic()
    threads = [ctx.thread(loader, w) for w in range(4)]
    timeline = []

    def mark(text):
        timeline.append("%5.1f s  %s" % (time.monotonic() - t_load, text))

    time.sleep(2)
    # Rotation 1 (pending user B): createSecret, setSecret, testSecret, finishSecret.
    new_pw = "b1-" + secrets.token_hex(10)
    pg.psql("CREATE ROLE %s WITH LOGIN PASSWORD '%s'; GRANT %s TO %s;" % (user_b, new_pw, user_a, user_b), db=db)
    ok, err = psql_login(pg, db, user_b, new_pw)
    assert ok, "rotation 1's testSecret: %s cannot log in: %s" % (user_b, err)
    old_a = secret.password
    secret = Secret(user_b, new_pw)
    mark("rotation 1: %s created, current; instances still on A" % user_b)
    time.sleep(1)
    cut = cut_sessions(pg, db, user_a)
    assert cut > 0, "the instances held no session as A to cut"
    assert wait_until(lambda: sessions(pg, db, user_a) > 0, timeout=10, interval=0.2), \
        "the instances did not reconnect as A after rotation 1"
    mark("cut the instances' %d session(s) as A: they reconnected with A's password, still valid" % cut)
    time.sleep(2)

    # The deployment: one instance at a time, onto the secret's new value.
    for name in ("a", "b"):
        t0 = time.monotonic()
        live[name].stop(timeout=30)  # SIGTERM: drain, finish in-flight, exit 0 (checked)
        live[name] = ctx.server(None, env=instance_env(secret), name="%s-as-B" % name, port=ports[name],
                                migrate=False)
        assert wait_until(lambda: server_status(sock, name) == "UP", timeout=15, interval=0.1), \
            "HAProxy did not see instance %s up again" % name
        mark("instance %s on %s, UP in HAProxy %.1f s after SIGTERM" % (name, user_b, time.monotonic() - t0))
    time.sleep(2)

    # Rotation 2 (pending user A): a new password for A, which becomes current.
    new_pw = "a2-" + secrets.token_hex(10)
    pg.psql("ALTER ROLE %s WITH PASSWORD '%s';" % (user_a, new_pw), db=db)
    ok, err = psql_login(pg, db, user_a, new_pw)
    assert ok, "rotation 2's testSecret: %s cannot log in: %s" % (user_a, err)
    stale, _ = psql_login(pg, db, user_a, old_a)
    assert not stale, "A's old password still logs in after rotation 2: the test would prove nothing"
    secret = Secret(user_a, new_pw)
    mark("rotation 2: %s has a new password, current; its old one is refused" % user_a)
    time.sleep(1)
    cut = cut_sessions(pg, db, user_b)
    assert cut > 0, "the instances held no session as B to cut"
    assert wait_until(lambda: sessions(pg, db, user_b) > 0, timeout=10, interval=0.2), \
        "the instances did not reconnect as B after rotation 2"
    mark("cut the instances' %d session(s) as B: they reconnected with B's password, still valid" % cut)
    time.sleep(3)
    ctx.stop.set()
    for th in threads:
        th.join(timeout=15)

    problems = []
    st = stats(sock)
    fe = st.get(("fe", "FRONTEND"), {})
    if fe.get("hrsp_5xx") not in ("0", ""):
        problems.append("HAProxy answered %s 5xx responses" % fe.get("hrsp_5xx"))
    for name in ("a", "b"):
        row = st.get(("be", name), {})
        for col in ("econ", "eresp", "hrsp_5xx"):
            if row.get(col) not in ("0", "", None):
                problems.append("HAProxy counted %s %s for instance %s" % (row.get(col), col, name))
    if counts["failed"]:
        problems.append("%d of %d requests failed:\n  %s" % (len(counts["failed"]), counts["requests"],
                                                            "\n  ".join(counts["failed"][:10])))
    if counts["requests"] < 300:
        problems.append("only %d requests made: not a steady load" % counts["requests"])
    users = set(pg.psql("SELECT usename FROM pg_stat_activity WHERE datname = '%s' AND application_name = 'timewarp';"
                        % db).split())
    if users - {user_b}:
        problems.append("after the roll-out the instances must connect as %s only, not %r" % (user_b, users))
    served = [sum(1 for l in live[n].stdout_text().splitlines() if '"msg":"request"' in l) for n in ("a", "b")]
    if not all(served):
        problems.append("an instance on B served no request (a %d, b %d)" % tuple(served))
    for line in timeline:
        ctx.note(line)
    ctx.note("%d requests through HAProxy (%d writes), %d failed; instances on B served a %d, b %d"
             % (counts["requests"], counts["writes"], len(counts["failed"]), served[0], served[1]))
    if hp.poll() is None:
        hp.send_signal(signal.SIGUSR1)
        try:
            hp.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    hlog.close()
    assert not problems, "\n".join(problems)
