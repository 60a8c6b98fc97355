#!/usr/bin/python3
"""The data suite: `timewarp export`, `import`, `import --django`, `backup` and the safety
of `migrate` rollbacks, against real SQLite files and a throwaway PostgreSQL cluster.

    /usr/bin/python3 tests/data/main.py [--bin build/asan/timewarp] [-k substring[,…]] [--list]

One PASS/FAIL line per test; the last line is `N passed, M failed`. Exit status 1 when
anything failed. Helpers for servers and PostgreSQL come from tests/api/twtest.
"""

import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "api"))
sys.dont_write_bytecode = True

from twtest import cleanup  # noqa: E402
from twtest.client import Client  # noqa: E402
from twtest.pg import PgCluster  # noqa: E402
from twtest.server import Server, ServerError, TEST_SECRET_KEY, base_env, sanitizer_report  # noqa: E402
from twtest.util import video_id  # noqa: E402

FIXTURES = os.path.join(HERE, "fixtures")
# Operators for the servers the suite starts (tokens of 32+ characters, as production needs).
ADMIN_TOKEN = "data-suite-token-0123456789abcdef0123456789"
ADMIN_TOKENS = "carol.ops@example:" + ADMIN_TOKEN + ",dave:data-suite-other-token-fedcba9876543210"
OPERATOR = {"Authorization": "Bearer " + ADMIN_TOKEN}
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def eq(actual, expected, what):
    assert actual == expected, "%s: expected %r, got %r" % (what, expected, actual)


class Env:
    """What the tests share: the binary (a snapshot), a temporary folder, one PostgreSQL."""

    def __init__(self, binary):
        self.tmp = tempfile.mkdtemp(prefix="timewarp-data-")
        cleanup.register(lambda: shutil.rmtree(self.tmp, ignore_errors=True))
        self.binary = os.path.join(self.tmp, "timewarp")
        shutil.copy2(binary, self.binary)
        self._pg = None
        self._n = 0
        self.servers = []

    def path(self, name):
        self._n += 1
        return os.path.join(self.tmp, "%d-%s" % (self._n, name))

    @property
    def pg(self):
        if self._pg is None:
            self._pg = PgCluster().setup()
        return self._pg

    def url(self, backend):
        if backend == "sqlite":
            return "sqlite:///" + self.path("archive.sqlite3")
        return self.pg.url(self.pg.create_database())

    def run(self, url, *args, stdin=None, timeout=120, check=None):
        """`timewarp ARGS` with DATABASE_URL=url; stdout as bytes, stderr as text."""
        env = base_env()
        env.update(DATABASE_URL=url, SECRET_KEY=TEST_SECRET_KEY)
        p = subprocess.run([self.binary] + list(args), input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, cwd=self.tmp, timeout=timeout)
        p.stderr = p.stderr.decode("utf-8", "replace")
        rep = sanitizer_report(p.stderr)
        if rep:
            raise ServerError("sanitizer report from `timewarp %s`:\n%s" % (" ".join(args), rep))
        if check is not None:
            assert p.returncode == check, "`timewarp %s` exited %d, expected %d:\n%s" % (
                " ".join(args), p.returncode, check, p.stderr[-3000:])
        return p

    def migrated(self, backend):
        url = self.url(backend)
        self.run(url, "migrate", check=0)
        return url

    def server(self, url):
        s = Server(self.binary, url, env={"TIMEWARP_ADMIN_TOKENS": ADMIN_TOKENS},
                   workdir=tempfile.mkdtemp(dir=self.tmp), name="data-server")
        s.start(migrate=True)
        self.servers.append(s)
        return s

    def stop_servers(self):
        errors = []
        for s in self.servers:
            try:
                if s.alive():
                    s.stop()
            except Exception as e:
                errors.append(str(e))
        self.servers = []
        if errors:
            raise ServerError("\n".join(errors))

    # -- looking inside (only to prove "nothing changed") --------------------------------
    def rows(self, url):
        if url.startswith("sqlite:///"):
            con = sqlite3.connect(url[len("sqlite:///"):], timeout=10)
            try:
                out = {}
                for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                        "AND name NOT LIKE 'sqlite_%' ORDER BY 1"):
                    out[t] = sorted(repr(r) for r in con.execute('SELECT * FROM "%s"' % t))
                return out
            finally:
                con.close()
        return self.pg.table_data(url.rsplit("/", 1)[-1])


# ---- filling an archive through the API --------------------------------------------------

def populate(api, year=2001):
    """Contributors, accepted, rejected and duplicate submissions, unicode, titles, notes,
    several clips on one day (so insertion order matters). Returns the submission ids."""
    def contributor(**f):
        r = api.post("/contributors", f)
        assert r.status == 201, r.describe()
        return r.json["id"]

    people = [contributor(display_name="Zoë ✨ \"quoted\"", external_id="ext-1"), contributor(),
              contributor(display_name="日本語", external_id=None)]
    subs = []
    for i in range(14):
        vid = video_id()
        body = {"contributor_id": people[i % 3], "raw_youtube_input": "https://youtu.be/" + vid,
                "raw_date_input": "%d-0%d-1%d" % (year, 1 + i % 3, i % 2),
                "title": None if i % 4 == 0 else "Title %d — “ünïcode” \\ \t tab" % i,
                "notes": None if i % 3 == 0 else "line one\nline two %d 🎸" % i}
        r = api.post("/submissions", body)
        assert r.status == 201, r.describe()
        subs.append(r.json["id"])
        if i % 5 == 0:  # a duplicate of it, in another URL form
            body["raw_youtube_input"] = "https://www.youtube.com/watch?v=%s&t=1" % vid
            r = api.post("/submissions", body)
            assert r.status == 409, r.describe()
            subs.append(r.json["id"])
    for bad in ({"raw_youtube_input": "https://evil.example/?v=dQw4w9WgXcQ", "raw_date_input": "2001-01-01"},
                {"raw_youtube_input": video_id(), "raw_date_input": "20010101"}):
        bad["contributor_id"] = people[0]
        r = api.post("/submissions", bad)
        assert r.status == 201 and r.json["status"] == "rejected", r.describe()
        subs.append(r.json["id"])
    return subs


def moderate(api, subs):
    """Reports and moderation through the operators' API: a clip hidden (its two reports
    resolved "hidden"), a report dismissed, a clip hidden and restored, an open report.
    Returns the hidden clip's id."""
    clips = [api.get("/submissions/" + sid).json["clip_id"] for sid in subs]
    clips = [c for c in clips if c]

    def report(cid, reason):
        r = api.post("/clips/%s/reports" % cid, {"reason": reason})
        assert r.status == 201, r.describe()
        return r.json["id"]

    def act(path, body):
        r = api.post(path, body, headers=OPERATOR)
        assert r.status == 200, r.describe()

    report(clips[0], "Studio video, not a performance 🎵")
    report(clips[0], "x" * 500)
    dismissed = report(clips[1], "wrong date?\nline two")
    report(clips[2], "still open")
    act("/admin/clips/%s/hide" % clips[0], {"reason": "not live — “studio”"})
    act("/admin/reports/%s/dismiss" % dismissed, {"reason": None})
    act("/admin/clips/%s/hide" % clips[3], {"reason": "by mistake"})
    act("/admin/clips/%s/restore" % clips[3], {})
    r = api.get("/clips/" + clips[0])
    assert r.status == 410, r.describe()
    return clips[0]


def walk(api, path, headers=None):
    """Every page of a keyset list (2 a page), as answered."""
    cursor, pages = None, []
    while True:
        sep = "&" if "?" in path else "?"
        r = api.get(path + sep + "limit=2" + ("&cursor=" + cursor if cursor else ""), headers=headers)
        assert r.status == 200, r.describe()
        pages.append(r.json)
        cursor = r.json["next_cursor"]
        if not cursor:
            return pages


def api_answers(api, subs, hidden=()):
    """What the API says about everything: every submission, every clip (status and body:
    a hidden one is 410), its neighbours, the whole list walked with cursors (2 a page),
    the calendar, and for an operator both report queues and the audit trail."""
    out = {}
    clips = list(hidden)
    for sid in subs:
        r = api.get("/submissions/" + sid)
        assert r.status in (200, 410), r.describe()  # 410: its clip is hidden
        out[sid] = (r.status, r.json)
        if r.status == 200 and r.json["clip_id"]:
            clips.append(r.json["clip_id"])
    for cid in clips:
        for path in ("/clips/" + cid, "/clips/%s/neighbors" % cid):
            r = api.get(path)
            assert r.status in (200, 410), r.describe()
            out[path] = (r.status, r.json)
    out["pages"] = walk(api, "/clips")
    r = api.get("/calendar?from=1000-01-01&to=2999-12-31")
    out["calendar"] = r.json if r.status == 200 else r.status
    for status in ("open", "resolved"):
        out["reports " + status] = walk(api, "/admin/reports?status=" + status, OPERATOR)
    out["audit"] = walk(api, "/admin/audit", OPERATOR)
    return out


def export(env, url, *extra):
    p = env.run(url, "export", *extra, check=0)
    return p.stdout


# ---- tests ---------------------------------------------------------------------------------

@test
def roundtrip_sqlite_postgres_sqlite(env):
    """SQLite → PostgreSQL → SQLite: the two SQLite exports are identical byte for byte (and
    equal the PostgreSQL one), and the API answers the same on all three databases."""
    a = env.url("sqlite")
    srv = env.server(a)
    subs = populate(Client(srv.port))
    hidden = moderate(Client(srv.port), subs)
    before = api_answers(Client(srv.port), subs, [hidden])
    srv.stop()
    eq(before["/clips/" + hidden][0], 410, "the hidden clip's status")
    eq([len(sum((p["items"] for p in before[k]), [])) for k in ("reports open", "reports resolved", "audit")],
       [1, 3, 4], "open reports, resolved reports, audit entries")
    first = export(env, a)
    assert first.count(b"\n") > 30 and first.startswith(b'{"type":"header"'), first[:200]
    kinds = [r["type"] for r in _lines(first)]
    eq((kinds.count("report"), kinds.count("moderation_action")), (4, 4), "moderation records exported")
    assert ('"id":"%s"' % hidden).encode() in first and b'"hidden_at":"' in first, "the hidden clip's hidden_at"
    eq(export(env, a), first, "a second export of the same archive (deterministic bytes)")

    pg = env.migrated("postgres")
    p = env.run(pg, "import", "-", stdin=first, check=0)
    assert "new" in p.stderr, p.stderr
    eq(export(env, pg), first, "the PostgreSQL export")
    b = env.migrated("sqlite")
    env.run(b, "import", "-", stdin=export(env, pg), check=0)
    eq(export(env, b), first, "the second SQLite export")
    for url in (pg, b):
        s = env.server(url)
        eq(api_answers(Client(s.port), subs, [hidden]), before, "API answers on %s" % url.split(":")[0])
        s.stop()


@test
def postgres_bulk_load_restores_the_schema(env):
    """Into an empty PostgreSQL archive the import drops the foreign keys and secondary
    indexes and re-creates them: afterwards the schema is exactly a migrated one's (and the
    foreign keys hold); a failed import into an empty archive leaves that schema too; into
    a non-empty archive the ordinary path is taken and gives the same result."""
    src, data = _archive_with_data(env, "sqlite")
    fresh = env.migrated("postgres")
    db = lambda url: url.rsplit("/", 1)[-1].split("?")[0]  # noqa: E731
    schema = env.pg.schema_dump(db(fresh))
    assert "FOREIGN KEY" in schema and "clips_visible_chronological" in schema, schema[:2000]
    recs = _lines(data)
    bad = [dict(r) for r in recs]
    bad[-2]["created_at"] = "not a time"   # the last record: everything before it was loaded
    _refused(env, fresh, _dump(bad), r"line %d: " % (len(bad) - 1))
    eq(env.pg.schema_dump(db(fresh)), schema, "schema after a failed bulk import")
    p = env.run(fresh, "import", "-", stdin=data, check=0)
    assert "an empty archive: loaded with its foreign keys" in p.stderr, p.stderr
    eq(env.pg.schema_dump(db(fresh)), schema, "schema after the bulk import")
    eq(export(env, fresh), data, "export after the bulk import")
    # The foreign keys are back and enforced.
    out = env.pg.psql("SELECT conname FROM pg_constraint WHERE contype = 'f' ORDER BY 1", db=db(fresh))
    for fk in ("clips_added_via_submission_fk", "clips_created_by_contributor_id_fkey",
               "reports_clip_id_fkey", "submissions_clip_id_fkey", "submissions_contributor_id_fkey"):
        assert fk in out, "foreign key %s missing after the import:\n%s" % (fk, out)
    # Non-empty target: one contributor first, then the same file.
    partial = env.migrated("postgres")
    env.run(partial, "import", "-", stdin=_dump(recs[:2] + [{"type": "end", "counts": {"contributor": 1}}]), check=0)
    p = env.run(partial, "import", "-", stdin=data, check=0)
    assert "empty archive" not in p.stderr, p.stderr
    eq(export(env, partial), data, "export after the ordinary path")
    eq(env.pg.schema_dump(db(partial)), schema, "schema after the ordinary path")


def _sqlite_schema(url):
    con = sqlite3.connect(url[len("sqlite:///"):], timeout=10)
    try:
        return con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY 2").fetchall()
    finally:
        con.close()


@test
def import_into_empty_file_repeats_a_record(env):
    """The bulk load into an empty archive (both databases) takes a record stored already as
    an error, and the batch is then taken the ordinary way: a line said twice, identically,
    still imports; said twice with a difference, or a second clip for the same video and
    date, is refused naming the line, as into a non-empty archive. SQLite's bulk load drops
    its secondary indexes and re-creates them: the schema after is the migrated one."""
    for backend in ("sqlite", "postgres"):
        src, data = _archive_with_data(env, "sqlite")
        recs = _lines(data)
        clip_line = next(i for i, r in enumerate(recs) if r["type"] == "clip")

        def with_second(second):
            out = [dict(r) for r in recs]
            out.insert(clip_line + 1, second)
            out[-1] = dict(out[-1], counts=dict(out[-1]["counts"], clip=out[-1]["counts"]["clip"] + 1))
            return _dump(out)

        target = env.migrated(backend)
        schema = _sqlite_schema(target) if backend == "sqlite" else None
        p = env.run(target, "import", "-", stdin=with_second(dict(recs[clip_line])), check=0)
        assert "an empty archive: loaded with its" in p.stderr, p.stderr
        eq(export(env, target), data, "%s: export after a file saying a clip twice" % backend)
        if backend == "sqlite":
            eq(_sqlite_schema(target), schema, "sqlite schema after the bulk import")
        edited = dict(recs[clip_line], title="said again, otherwise")
        target = env.migrated(backend)
        _refused(env, target, with_second(edited),
                 r"line %d: clip record is already in the archive with another title" % (clip_line + 2))
        if backend == "sqlite":
            eq(_sqlite_schema(target), schema, "sqlite schema after a refused bulk import")
        same_video = dict(recs[clip_line], id="clp_" + "cd" * 16)
        _refused(env, target, with_second(same_video),
                 r"line %d: clip record video %s on %s is already in the archive as clip %s"
                 % (clip_line + 2, recs[clip_line]["youtube_video_id"], recs[clip_line]["performance_date"],
                    recs[clip_line]["id"]))


@test
def import_twice_changes_nothing(env):
    for backend in ("sqlite", "postgres"):
        src = env.url("sqlite")
        s = env.server(src)
        moderate(Client(s.port), populate(Client(s.port)))
        s.stop()
        data = export(env, src)
        dst = env.migrated(backend)
        env.run(dst, "import", "-", stdin=data, check=0)
        rows = env.rows(dst)
        p = env.run(dst, "import", "-", stdin=data, check=0)
        assert re.search(r"0 new, \d+ already in the archive", p.stderr), p.stderr
        eq(env.rows(dst), rows, "%s rows after importing the same file again" % backend)


def _archive_with_data(env, backend):
    """A migrated database with some data, and its export."""
    url = env.url(backend)
    s = env.server(url)
    moderate(Client(s.port), populate(Client(s.port), year=1999))
    s.stop()
    return url, export(env, url)


def _lines(data):
    return [json.loads(l) for l in data.decode("utf-8").splitlines()]


def _dump(records):
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"
                   for r in records).encode("utf-8")


def _refused(env, url, data, *pattern, args=()):
    """Import must fail naming each pattern, and leave every row as it was."""
    before = env.rows(url)
    p = env.run(url, "import", *args, "-", stdin=data)
    assert p.returncode == 1, "import should have failed (exit %d):\n%s" % (p.returncode, p.stderr)
    for pat in pattern:
        assert re.search(pat, p.stderr), "stderr should match %r:\n%s" % (pat, p.stderr)
    assert "nothing was changed" in p.stderr, p.stderr
    eq(env.rows(url), before, "rows after a refused import")
    return p.stderr


@test
def import_clash_into_non_empty(env):
    """Records that conflict with what is there: a clear error naming the line, nothing
    changes (the file's new records are not kept either)."""
    for backend in ("sqlite", "postgres"):
        url, data = _archive_with_data(env, backend)
        recs = _lines(data)
        # 1. An existing clip, edited: same id, another title. Put a new contributor first
        #    so that a half-done import would be visible.
        edited = [dict(r) for r in recs]
        clip_line = next(i for i, r in enumerate(edited) if r["type"] == "clip")
        edited[clip_line]["title"] = "edited elsewhere"
        new = {"type": "contributor", "id": "ctr_" + "ab" * 16, "display_name": "new",
               "external_id": None, "created_at": "2020-01-01T00:00:00.000000Z"}
        edited.insert(1, new)
        edited[-1]["counts"]["contributor"] += 1
        _refused(env, url, _dump(edited), r"line %d: clip record is already in the archive with another title"
                 % (clip_line + 2), r"edited elsewhere")
        # The first problem is the one reported, though the reader meets a later one first.
        cut = _dump(edited)[:-1] + b"}\n"
        msg = _refused(env, url, cut, r"line %d: clip record is already in the archive" % (clip_line + 2))
        assert "is not a record" not in msg, msg
        # 2. Another archive's clip for a video and date this one has already.
        other = env.url("sqlite")
        s = env.server(other)
        api = Client(s.port)
        clip = next(r for r in recs if r["type"] == "clip")
        ctr = api.post("/contributors", {}).json["id"]
        r = api.post("/submissions", {"contributor_id": ctr, "raw_youtube_input": clip["youtube_video_id"],
                                      "raw_date_input": clip["performance_date"]})
        assert r.status == 201, r.describe()
        s.stop()
        _refused(env, url, export(env, other),
                 r"line \d+: clip record video %s on %s is already in the archive as clip %s"
                 % (clip["youtube_video_id"], clip["performance_date"], clip["id"]))
        # 3. A record naming a contributor nobody has.
        lonely = [r for r in _lines(export(env, other)) if r["type"] != "contributor"]
        lonely[-1]["counts"]["contributor"] = 0
        _refused(env, url, _dump(lonely), r"line 2: submission record names contributor ctr_\w+, "
                 r"which is neither in the archive nor earlier in the file")


@test
def truncated_and_corrupted_files(env):
    for backend in ("sqlite", "postgres"):
        url, data = _archive_with_data(env, backend)
        target = env.migrated(backend)
        env.run(target, "import", "-", stdin=_dump(_lines(data)[:1] + _lines(data)[-1:]) , check=1)
        lines = data.split(b"\n")
        n = len(lines) - 1
        cases = [
            (data[: len(data) // 2], [r"line \d+ has no newline at its end: the file is truncated"]),
            (b"\n".join(lines[: n - 1]) + b"\n", [r"the file ends after line %d without its end record" % (n - 1)]),
            (b"\n".join(lines[:5] + [b'{"type":"clip","id":'] + lines[6:]), [r"line 6 is not a record"]),
            (b"\n".join(lines[:5] + [lines[5][:-1] + b"\xff}"] + lines[6:]), [r"line 6 is not a record"]),
            (b"\n".join(lines[:n - 2] + lines[n - 1:]), [r"the end record counts \d+ \w+ records, the file has \d+"]),
            (b"", [r"the file is empty"]),
            (b'{"type":"clip"}\n', [r"line 1 is not an archive header"]),
            (data.replace(b'"format_version":2', b'"format_version":9', 1), [r"format version 9; this timewarp reads versions 1 to 2"]),
        ]
        for bad, patterns in cases:
            _refused(env, url, bad, *patterns)   # into the database with data
            _refused(env, target, bad, *patterns)  # and into an empty one


@test
def moderation_records_checked(env):
    """Reports and moderation actions are checked with the API's rules (reason length, the
    status, resolution and action enums, id prefixes, timestamps) and against what is there
    (a changed report, a target nobody has), naming the line; nothing changes."""
    for backend in ("sqlite", "postgres"):
        url, data = _archive_with_data(env, backend)
        recs = _lines(data)
        target = env.migrated(backend)
        line_of = lambda kind, pred=lambda r: True: next(  # noqa: E731
            i for i, r in enumerate(recs) if r["type"] == kind and pred(r))

        def changed(i, **fields):
            out = [dict(r) for r in recs]
            out[i].update(fields)
            return _dump(out)

        rep, act = line_of("report", lambda r: r["status"] == "open"), line_of("moderation_action")
        resolved = line_of("report", lambda r: r["status"] == "resolved")
        hide = line_of("moderation_action", lambda r: r["action"] == "hide")
        for i, fields, pattern in [
            (rep, {"reason": "x" * 501}, r"report %s: Field 'reason' must be at most 500 characters"),
            (rep, {"reason": "   "}, r"report %s: Field 'reason'"),
            (rep, {"status": "closed"}, r"'status' must be \"open\" or \"resolved\""),
            (rep, {"resolution": "hidden"}, r"an open report has a null resolution and resolved_at"),
            (resolved, {"resolution": "deleted"}, r"'resolution' must be \"hidden\" or \"dismissed\""),
            (resolved, {"resolved_at": "yesterday"}, r"'resolved_at' must be a UTC timestamp"),
            (rep, {"id": "act_" + "0" * 32}, r"'id' must be rpt_ id"),
            (rep, {"clip_id": "clp_" + "0" * 31 + "g"}, r"'clip_id' must be clp_ id"),
            (act, {"action": "delete"}, r"'action' must be \"hide\", \"restore\" or \"dismiss\""),
            (act, {"created_at": "2026-11-25T21:38:48Z"}, r"'created_at' must be a UTC timestamp"),
            (hide, {"target_id": "rpt_" + "0" * 32}, r"'target_id' must be clp_ id"),
            (hide, {"reason": None}, r"moderation_action %s: Field 'reason'"),
            (act, {"actor": "no spaces allowed"}, r"'actor' must be an operator's name"),
        ]:
            bad = changed(i, **fields)
            want = pattern % recs[i]["id"] if "%s" in pattern else pattern
            _refused(env, url, bad, r"line %d: " % (i + 1), want)
            _refused(env, target, bad, r"line %d: " % (i + 1), want)
        # Against what is stored: a report changed since, a target that is nowhere.
        _refused(env, url, changed(resolved, status="open", resolution=None, resolved_at=None),
                 r"line %d: report record is already in the archive with another status: \"resolved\" "
                 r"\(in the file: \"open\"\)" % (resolved + 1))
        nowhere = "clp_" + "7" * 32
        _refused(env, target, changed(hide, target_id=nowhere),
                 r"line %d: moderation_action record names clip %s, which is neither in the archive nor "
                 r"earlier in the file" % (hide + 1, nowhere))
        _refused(env, target, changed(rep, clip_id=nowhere),
                 r"line %d: report record names clip %s, which is neither" % (rep + 1, nowhere))
        hidden = next(r for r in recs if r["type"] == "clip" and r["hidden_at"])
        _refused(env, url, changed(recs.index(hidden), hidden_at=None),
                 r"clip record is already in the archive with another hidden_at")
        _refused(env, target, changed(recs.index(hidden), hidden_at="2026-11-25"),
                 r"'hidden_at' must be a UTC timestamp")


@test
def format_version_1_still_imports(env):
    """A file of format version 1 (before moderation: clips without hidden_at, no report or
    moderation_action records) imports as visible clips; version 1 with a report is refused."""
    src = env.url("sqlite")
    s = env.server(src)
    populate(Client(s.port), year=1998)
    s.stop()
    data = export(env, src)
    v1 = []
    for r in _lines(data):
        if r["type"] == "header":
            r.update(format_version=1, schema_version=2)
        elif r["type"] == "clip":
            assert r.pop("hidden_at") is None, r
        elif r["type"] == "end":
            r["counts"] = {k: v for k, v in r["counts"].items() if k in ("contributor", "submission", "clip")}
        v1.append(r)
    assert _dump(v1) != data
    for backend in ("sqlite", "postgres"):
        url = env.migrated(backend)
        env.run(url, "import", "-", stdin=_dump(v1), check=0)
        eq(export(env, url), data, "%s: a version 1 file re-exported as version 2" % backend)
        with_report = v1[:-1] + [{"type": "report", "id": "rpt_" + "1" * 32, "clip_id": "clp_" + "1" * 32,
                                  "reason": "r", "status": "open", "resolution": None,
                                  "created_at": "2026-01-01T00:00:00.000000Z", "resolved_at": None}, v1[-1]]
        _refused(env, env.migrated(backend), _dump(with_report),
                 r"line %d: a format version 1 file has no report records" % (len(v1)))


@test
def records_the_api_would_refuse(env):
    """Import applies the API's rules; --accept-invalid imports such records as they are,
    each listed on stderr with its id."""
    url, data = _archive_with_data(env, "sqlite")
    recs = _lines(data)
    visible = {r["id"] for r in recs if r["type"] == "clip" and not r["hidden_at"]}
    sub = next(r for r in recs if r["type"] == "submission" and r["clip_id"] in visible)
    target = env.migrated("sqlite")
    long_title = [dict(r) for r in recs]
    for r in long_title:
        if r.get("id") == sub["id"]:
            r["title"] = "x" * 501
    _refused(env, target, _dump(long_title), r"submission %s: Field 'title' must be at most 500 characters"
             % sub["id"], r"--accept-invalid")
    broken = [dict(r) for r in recs]
    for r in broken:
        if r.get("id") == sub["id"]:
            r["submitted_at"] = "2020-01-01 00:00:00"
    _refused(env, target, _dump(broken), r"'submitted_at' must be a UTC timestamp")
    _refused(env, target, _dump(broken), r"'submitted_at' must be a UTC timestamp", args=("--accept-invalid",))
    p = env.run(target, "import", "--accept-invalid", "-", stdin=_dump(long_title), check=0)
    assert re.search(r"submission %s imported as it is, although Field 'title'" % sub["id"], p.stderr), p.stderr
    s = env.server(target)
    eq(Client(s.port).get("/submissions/" + sub["id"]).json["title"], "x" * 501, "the title kept as it was")
    s.stop()


@test
def export_is_one_snapshot_while_serving(env):
    """Export while the server takes writes: the file is complete and consistent (its end
    record matches, and it imports cleanly), and holds everything acknowledged before it."""
    for backend in ("sqlite", "postgres"):
        url = env.url(backend)
        s = env.server(url)
        api = Client(s.port)
        ctr = api.post("/contributors", {}).json["id"]
        stop = threading.Event()
        acked = []

        def load():
            c = Client(s.port)
            while not stop.is_set():
                r = c.post("/submissions", {"contributor_id": ctr, "raw_youtube_input": video_id(),
                                            "raw_date_input": "2002-02-02"})
                if r.status == 201:
                    acked.append(r.json["id"])

        threads = [threading.Thread(target=load) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        before = list(acked)
        data = export(env, url)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        s.stop()
        text = data.decode("utf-8")
        for sid in before:
            assert sid in text, "submission %s acknowledged before the export is missing" % sid
        assert len(acked) > len(before), "no writes happened during the export"
        fresh = env.migrated(backend)
        env.run(fresh, "import", "-", stdin=data, check=0)
        eq(export(env, fresh), data, "%s: re-export of the snapshot" % backend)


@test
def django_fixture(env):
    """The original's database imported: our API returns for every clip what the original's
    API returned (id, video, date, title, notes, creator, submission), and for every
    submission its status, inputs and clip; refused records are listed with their ids."""
    answers = json.load(open(os.path.join(FIXTURES, "django-answers.json"), encoding="utf-8"))
    src = os.path.join(FIXTURES, "django.sqlite3")
    copy = env.path("django.sqlite3")
    shutil.copy(src, copy)
    digest = hashlib.sha256(open(copy, "rb").read()).hexdigest()
    pg_source = None
    for backend in ("sqlite", "postgres"):
        url = env.migrated(backend)
        p = env.run(url, "import", "--django", copy, check=0)
        for s in answers["submissions"].values():
            refused = s["raw_date_input"] in ("20240512", "2999-12-31") or "evil.example" in s["raw_youtube_input"]
            if s["status"] == "accepted" and refused:
                assert "submission %s imported as it is" % s["id"] in p.stderr, (s["id"], p.stderr)
        assert "clip " in p.stderr and "2999-12-31" in p.stderr, p.stderr
        srv = env.server(url)
        api = Client(srv.port)
        for cid, orig in answers["clips"].items():
            r = api.get("/clips/" + cid)
            assert r.status == 200, r.describe()
            for f in ("id", "youtube_video_id", "youtube_url", "performance_date", "title", "notes",
                      "created_by_contributor_id", "added_via_submission_id"):
                eq(r.json[f], orig[f], "clip %s field %s" % (cid, f))
        for sid, orig in answers["submissions"].items():
            r = api.get("/submissions/" + sid)
            assert r.status == 200, r.describe()
            for f in ("id", "contributor_id", "clip_id", "status", "validation_error", "raw_youtube_input",
                      "raw_date_input", "title", "notes"):
                eq(r.json[f], orig[f], "submission %s field %s" % (sid, f))
        listed = [c["id"] for c in api.get("/clips?limit=200").json["items"]]
        eq(listed, answers["list"], "the archive order")
        srv.stop()
        again = env.run(url, "import", "--django", copy, check=0)
        assert re.search(r" 0 new, \d+ already", again.stderr), again.stderr
        if backend == "postgres":
            # The original on PostgreSQL: its tables copied into a PostgreSQL database.
            pg_source = env.pg.create_database()
            con = sqlite3.connect(copy)
            stmts = ["CREATE TABLE archive_contributor (id bigint PRIMARY KEY, public_id varchar(40), "
                     "display_name varchar(200), external_id varchar(200), created_at timestamptz);",
                     "CREATE TABLE archive_clip (id bigint PRIMARY KEY, public_id varchar(40), contributor_id bigint, "
                     "youtube_video_id varchar(32), raw_youtube_input text, performance_date date, "
                     "title varchar(500), notes text, created_at timestamptz);",
                     "CREATE TABLE archive_submission (id bigint PRIMARY KEY, public_id varchar(40), status varchar(20), "
                     "contributor_id bigint, clip_id bigint, validation_error text, raw_youtube_input text, "
                     "raw_date_input varchar(50), title varchar(500), notes text, submitted_at timestamptz);"]
            for table, cols in (("archive_contributor", "id, public_id, display_name, external_id, created_at"),
                                ("archive_clip", "id, public_id, contributor_id, youtube_video_id, raw_youtube_input, "
                                                 "performance_date, title, notes, created_at"),
                                ("archive_submission", "id, public_id, status, contributor_id, clip_id, validation_error, "
                                                       "raw_youtube_input, raw_date_input, title, notes, submitted_at")):
                for row in con.execute("SELECT %s FROM %s" % (cols, table)):
                    vals = ", ".join("NULL" if v is None else ("'%s'" % str(v).replace("'", "''")) for v in row)
                    stmts.append("INSERT INTO %s (%s) VALUES (%s);" % (table, cols, vals))
            con.close()
            env.pg.psql("\n".join(stmts), db=pg_source)
            env.pg.psql("ALTER TABLE archive_contributor OWNER TO timewarp; ALTER TABLE archive_clip OWNER TO timewarp; "
                        "ALTER TABLE archive_submission OWNER TO timewarp;", db=pg_source)
            from_pg = env.migrated("sqlite")
            env.run(from_pg, "import", "--django", env.pg.url(pg_source), check=0)
            eq(export(env, from_pg), export(env, url), "import from the original on PostgreSQL")
    eq(hashlib.sha256(open(copy, "rb").read()).hexdigest(), digest, "the original's database is not modified")


@test
def backup_under_load_then_restore(env):
    """`timewarp backup` while the server takes concurrent POSTs: the copy passes its checks,
    and a server on it has every submission acknowledged before the backup began."""
    url = env.url("sqlite")
    s = env.server(url)
    ctr = Client(s.port).post("/contributors", {}).json["id"]
    stop = threading.Event()
    acked = []
    lock = threading.Lock()

    def load():
        c = Client(s.port)
        while not stop.is_set():
            r = c.post("/submissions", {"contributor_id": ctr, "raw_youtube_input": video_id(),
                                        "raw_date_input": "2003-03-03", "notes": "n" * 2000})
            if r.status == 201:
                with lock:
                    acked.append((time.monotonic(), r.json["id"]))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    began = time.monotonic()
    backup = env.path("backup.sqlite3")
    p = env.run(url, "backup", backup, check=0)
    took = time.monotonic() - began
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    s.stop()
    assert re.search(r"integrity ok", p.stderr), p.stderr
    before = [sid for at, sid in acked if at < began]
    after = [sid for at, sid in acked if at > began + took]
    assert len(before) > 20 and after, "too little load: %d before, %d after" % (len(before), len(after))
    restored = env.server("sqlite:///" + backup)
    api = Client(restored.port)
    for sid in before:
        eq(api.get("/submissions/" + sid).status, 200, "submission %s acknowledged before the backup" % sid)
    restored.stop()
    print("       backup of %d submissions under load took %.2f s" % (len(before), took))
    eq(env.run(url, "backup", backup).returncode, 1, "backup onto an existing file")


@test
def backup_refuses_postgres(env):
    p = env.run(env.migrated("postgres"), "backup", env.path("x.sqlite3"))
    eq(p.returncode, 1, "exit status")
    assert "RDS" in p.stderr and "DEPLOYMENT.md" in p.stderr, p.stderr


@test
def migrate_down_with_data(env):
    """A rollback that would delete data refuses without --force, names what would be lost
    and changes nothing; with --force, `migrate --to 0` works (SQLite: foreign keys)."""
    for backend in ("sqlite", "postgres"):
        url, data = _archive_with_data(env, backend)
        rows = env.rows(url)
        p = env.run(url, "migrate", "--to", "0")
        eq(p.returncode, 1, "%s: migrate --to 0 without --force" % backend)
        assert re.search(r"would delete .*reports \(\d+ rows\).*--force", p.stderr), p.stderr
        eq(env.rows(url), rows, "%s rows after the refused rollback" % backend)
        p = env.run(url, "migrate", "--to", "2")
        eq(p.returncode, 1, "%s: migrate --to 2 without --force (moderation records)" % backend)
        assert re.search(r"would delete moderation_actions \(4 rows\), reports \(4 rows\), clips \(1 values "
                         r"in column hidden_at\)", p.stderr), p.stderr
        env.run(url, "migrate", "--to", "2", "--force", check=0)
        eq(env.run(url, "migrate", "--to", "1").returncode, 0, "dropping an index loses no data")
        env.run(url, "migrate", "--to", "0", "--force", check=0)
        tables = set(env.rows(url)) - {"schema_migrations"}
        eq(tables, set(), "%s tables left after migrate --to 0 --force" % backend)
        env.run(url, "migrate", check=0)
        env.run(url, "import", "-", stdin=data, check=0)
        eq(export(env, url), data, "%s: the archive restored from its export" % backend)


@test
def concurrent_first_migrations(env):
    """Several `migrate` runs on a new PostgreSQL database at once: all succeed."""
    url = env.url("postgres")
    env_vars = base_env()
    env_vars.update(DATABASE_URL=url, SECRET_KEY=TEST_SECRET_KEY)
    procs = [subprocess.Popen([env.binary, "migrate"], env=env_vars, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, cwd=env.tmp) for _ in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
    eq(env.run(url, "export", check=0).stdout.count(b"\n"), 2, "an empty archive: header and end")


# The rule for migrations (migrations/README.md), checked on every PostgreSQL step after the
# first (0001 creates empty tables; nothing can be waiting on them yet).
RULES = [
    (r"\bCREATE\s+(UNIQUE\s+)?INDEX\s+(?!CONCURRENTLY)", "CREATE INDEX without CONCURRENTLY"),
    (r"\bDROP\s+INDEX\s+(?!CONCURRENTLY)", "DROP INDEX without CONCURRENTLY"),
    (r"\bALTER\s+COLUMN\s+\w+\s+(SET\s+DATA\s+)?TYPE\b", "a column type change (rewrites the table)"),
    (r"\bADD\s+(CONSTRAINT\s+\w+\s+)?(FOREIGN\s+KEY|CHECK)\b(?![^;]*NOT\s+VALID)",
     "a FOREIGN KEY or CHECK constraint without NOT VALID (scans the table under lock)"),
    (r"\bSET\s+NOT\s+NULL\b", "SET NOT NULL (scans the table under lock)"),
    (r"\bADD\s+COLUMN\b[^;]*\bDEFAULT\s+(now|clock_timestamp|random|gen_random_uuid)\s*\(",
     "ADD COLUMN with a volatile DEFAULT (rewrites the table)"),
    (r"\bVACUUM\s+FULL\b|\bCLUSTER\b", "VACUUM FULL or CLUSTER (rewrites the table)"),
]


def migration_problems(name, sql):
    body = "\n".join(l for l in sql.splitlines() if not l.lstrip().startswith("--"))
    problems = ["%s: %s" % (name, why) for pat, why in RULES if re.search(pat, body, re.I)]
    if re.search(r"\bCONCURRENTLY\b", body, re.I) and not sql.startswith("-- timewarp: no-transaction"):
        problems.append("%s: CONCURRENTLY needs the first line '-- timewarp: no-transaction'" % name)
    if re.search(r"\bCREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b", body, re.I) and \
            not re.search(r"\bDROP\s+INDEX\s+CONCURRENTLY\s+IF\s+EXISTS\b", body, re.I) and \
            not re.search(r"\bIF\s+NOT\s+EXISTS\b", body, re.I):
        problems.append("%s: a no-transaction step must be safe to rerun after a failure" % name)
    return problems


@test
def migrations_follow_the_rules(env):
    """Every PostgreSQL migration after 0001 follows migrations/README.md; the checker
    itself catches each rule on a bad example."""
    folder = os.path.join(REPO, "migrations")
    problems = []
    for backend in os.listdir(folder):
        d = os.path.join(folder, backend)
        if not os.path.isdir(d):
            continue
        ups = sorted(f for f in os.listdir(d) if f.endswith(".up.sql"))
        for up in ups:
            if not os.path.exists(os.path.join(d, up.replace(".up.sql", ".down.sql"))):
                problems.append("%s/%s has no down migration" % (backend, up))
        if backend != "postgres":
            continue
        for f in sorted(os.listdir(d)):
            if f.endswith(".sql") and not f.startswith("0001_"):
                problems += migration_problems(f, open(os.path.join(d, f), encoding="utf-8").read())
    eq(problems, [], "migration rule violations")
    bad = {"CREATE INDEX x ON clips (title);": 1,
           "ALTER TABLE clips ALTER COLUMN title TYPE varchar(10);": 1,
           "ALTER TABLE clips ADD CONSTRAINT c CHECK (title <> '');": 1,
           "ALTER TABLE clips ADD CONSTRAINT c CHECK (title <> '') NOT VALID;": 0,
           "ALTER TABLE clips ALTER COLUMN notes SET NOT NULL;": 1,
           "ALTER TABLE clips ADD COLUMN seen timestamptz DEFAULT now();": 1,
           "CREATE INDEX CONCURRENTLY x ON clips (title);": 2,
           "-- timewarp: no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS x ON clips (title);": 0}
    for sql, n in bad.items():
        eq(len(migration_problems("example", sql)), n, "rule violations found in %r" % sql)


@test
def statement_ids_in_range(env):
    """Every literal statement id in the store and data code is below DB_MAX_STMTS, and the
    data commands' ids (64..95) are unique."""
    limit = int(re.search(r"#define DB_MAX_STMTS (\d+)", open(os.path.join(REPO, "src/store/db.h")).read()).group(1))
    seen = {}
    for folder in ("src/store", "src/data"):
        for f in sorted(os.listdir(os.path.join(REPO, folder))):
            if not f.endswith(".c"):
                continue
            text = open(os.path.join(REPO, folder, f), encoding="utf-8").read()
            for m in re.finditer(r"(?:\{|BOTH\(|SAME\(|PAGE\(|GET\()\s*(\d+),\s*(?:\"|[A-Z_]+)", text):
                n = int(m.group(1))
                assert n < limit, "%s/%s: statement id %d is not below DB_MAX_STMTS (%d)" % (folder, f, n, limit)
                if folder == "src/data":
                    assert 64 <= n, "%s: data statement id %d outside 64..%d" % (f, n, limit - 1)
                    assert seen.setdefault(n, f) == f, "statement id %d used in %s and %s" % (n, seen[n], f)
    assert len(seen) >= 20, "found only %d data statement ids: is the scan broken?" % len(seen)


@test
def restore_snapshot_script(env):
    """scripts/restore-snapshot.sh against a stubbed `aws` (tests/data/stubs): it restores the
    newest available automated snapshot of the instance the service uses, with that
    instance's class, network and storage, then points serve and migrate at the new one."""
    def world(snapshots):
        td = lambda fam: {"family": fam, "containerDefinitions": [  # noqa: E731
            {"name": "timewarp", "image": "repo:abc", "environment": [
                {"name": "DB_HOST", "value": "old.example.rds.amazonaws.com"}, {"name": "DB_NAME", "value": "timewarp"}]}],
            "cpu": "256", "memory": "512", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"]}
        return {
            "outputs": {"ClusterName": "c", "ServiceName": "svc", "ServeTaskFamily": "tw-serve",
                        "MigrateTaskFamily": "tw-migrate", "ContainerName": "timewarp", "TaskSubnetIds": "s1,s2", "TaskAssignPublicIp": "DISABLED",
                        "ServiceSecurityGroupId": "sg-task", "DomainName": "api.example.com", "LogGroupName": "lg"},
            "serving": "arn:aws:ecs:us-east-1:111122223333:task-definition/tw-serve:7",
            "task_definitions": {"tw-serve": td("tw-serve"), "tw-migrate": td("tw-migrate")},
            "instances": [{"DBInstanceIdentifier": "other", "Endpoint": {"Address": "other.example"}},
                          {"DBInstanceIdentifier": "twdb", "Endpoint": {"Address": "old.example.rds.amazonaws.com"},
                           "DBInstanceClass": "db.t4g.small", "DBSubnetGroup": {"DBSubnetGroupName": "isolated"},
                           "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-db1"}, {"VpcSecurityGroupId": "sg-db2"}],
                           "StorageType": "gp3", "MultiAZ": True}],
            "snapshots": snapshots}

    def run(snapshots, *args):
        w, log = env.path("world.json"), env.path("aws.log")
        with open(w, "w") as f:
            json.dump(world(snapshots), f)
        e = dict(os.environ, AWS_STUB_WORLD=w, AWS_STUB_LOG=log,
                 PATH=os.path.join(HERE, "stubs") + os.pathsep + os.environ.get("PATH", ""))
        p = subprocess.run(["bash", os.path.join(REPO, "scripts/restore-snapshot.sh")] + list(args), env=e,
                           capture_output=True, text=True, timeout=60)
        calls = [json.loads(l) for l in open(log)] if os.path.exists(log) else []
        return p, calls

    snaps = [{"DBSnapshotIdentifier": "rds:twdb-old", "SnapshotType": "automated", "Status": "available",
              "SnapshotCreateTime": "2026-11-20T03:00:00Z"},
             {"DBSnapshotIdentifier": "rds:twdb-new", "SnapshotType": "automated", "Status": "available",
              "SnapshotCreateTime": "2026-11-25T03:00:00Z"},
             {"DBSnapshotIdentifier": "rds:twdb-running", "SnapshotType": "automated", "Status": "creating",
              "SnapshotCreateTime": "2026-11-26T03:00:00Z"},
             {"DBSnapshotIdentifier": "manual-1", "SnapshotType": "manual", "Status": "available",
              "SnapshotCreateTime": "2026-11-27T03:00:00Z"}]
    p, calls = run(snaps, "--name", "twdb-r1", "production")
    assert p.returncode == 0, p.stderr
    restore = next(c for c in calls if c[:2] == ["rds", "restore-db-instance-from-db-snapshot"])
    opt = lambda c, k: c[c.index(k) + 1]  # noqa: E731
    eq(opt(restore, "--db-snapshot-identifier"), "rds:twdb-new", "snapshot chosen")
    eq(opt(restore, "--db-instance-identifier"), "twdb-r1", "new instance name")
    eq(opt(restore, "--db-instance-class"), "db.t4g.small", "instance class")
    eq(opt(restore, "--db-subnet-group-name"), "isolated", "subnet group")
    i = restore.index("--vpc-security-group-ids")
    eq(restore[i + 1:i + 3], ["sg-db1", "sg-db2"], "security groups")
    assert "--multi-az" in restore and "--no-publicly-accessible" in restore, restore
    regs = [json.loads(opt(c, "--cli-input-json")) for c in calls if c[:2] == ["ecs", "register-task-definition"]]
    eq(sorted(r["family"] for r in regs), ["tw-migrate", "tw-serve"], "task definitions re-registered")
    for r in regs:
        envs = {e["name"]: e["value"] for e in r["containerDefinitions"][0]["environment"]}
        eq(envs, {"DB_HOST": "twdb-r1.restored.example.rds.amazonaws.com", "DB_NAME": "timewarp"},
           "%s environment" % r["family"])
    update = next(c for c in calls if c[:2] == ["ecs", "update-service"])
    eq(opt(update, "--task-definition"), "arn:aws:ecs:us-east-1:111122223333:task-definition/tw-serve:99",
       "the service rolled onto the new revision")
    assert ["ecs", "wait", "services-stable", "--cluster", "c", "--services", "svc"] in calls, calls
    p, calls = run(snaps, "--snapshot", "manual-1", "staging")
    assert p.returncode == 0, p.stderr
    eq(opt(next(c for c in calls if c[1] == "restore-db-instance-from-db-snapshot"), "--db-snapshot-identifier"),
       "manual-1", "an explicit snapshot")
    p, calls = run(snaps[2:3], "production")
    assert p.returncode != 0 and "no available automated snapshot" in p.stderr, p.stderr
    assert not any(c[1] == "restore-db-instance-from-db-snapshot" for c in calls), "restored without a snapshot"


@test
def import_archive_script(env):
    """scripts/import-archive.sh against stubbed aws and docker: a one-off image of the migrate
    image plus the file, migrate then import as one-off tasks, the second import must find
    every record, then the migrate task definition is restored and the image deleted."""
    archive = env.path("archive.jsonl")
    with open(archive, "wb") as f:
        f.write(_dump([{"type": "header", "format": "timewarp-archive", "format_version": 1, "schema_version": 2},
                       {"type": "contributor", "id": "ctr_" + "1" * 32, "display_name": None, "external_id": None,
                        "created_at": "2020-01-01T00:00:00.000000Z"},
                       {"type": "end", "counts": {"contributor": 1}}]))
    mig, imp = json.dumps(["migrate"]), json.dumps(["import", "/import/archive.jsonl"])

    def run(second_log):
        td = {"family": "tw-migrate", "containerDefinitions": [{"name": "timewarp", "image": "repo/timewarp:abc"}]}
        world = {"outputs": {"ClusterName": "c", "ServiceName": "svc", "ServeTaskFamily": "tw-serve",
                             "MigrateTaskFamily": "tw-migrate", "ContainerName": "timewarp", "TaskSubnetIds": "s1,s2", "TaskAssignPublicIp": "DISABLED",
                             "ServiceSecurityGroupId": "sg-task", "DomainName": "api.example.com", "LogGroupName": "lg"},
                 "task_definitions": {"tw-migrate": td},
                 "task_logs": {mig: [["migrate: done"]],
                               imp: [["import: 1 records read: 1 new, 0 already in the archive in 0.1 s"], [second_log]]}}
        w, log = env.path("world.json"), env.path("aws.log")
        with open(w, "w") as f:
            json.dump(world, f)
        e = dict(os.environ, AWS_STUB_WORLD=w, AWS_STUB_LOG=log,
                 PATH=os.path.join(HERE, "stubs") + os.pathsep + os.environ.get("PATH", ""))
        p = subprocess.run(["bash", os.path.join(REPO, "scripts/import-archive.sh"), "staging", archive], env=e,
                           capture_output=True, text=True, timeout=60)
        calls = [json.loads(l) for l in open(log)] if os.path.exists(log) else []
        docker = open(log + ".docker").read() if os.path.exists(log + ".docker") else ""
        return p, calls, docker

    p, calls, docker = run("import: 1 records read: 0 new, 1 already in the archive in 0.1 s")
    assert p.returncode == 0, p.stderr
    assert "FROM repo/timewarp:abc\nCOPY --chown=10001:10001 archive.jsonl /import/archive.jsonl" in docker, docker
    tasks = [json.loads(c[c.index("--overrides") + 1])["containerOverrides"][0]["command"]
             for c in calls if c[:2] == ["ecs", "run-task"]]
    eq(tasks, [["migrate"], ["import", "/import/archive.jsonl"], ["import", "/import/archive.jsonl"]], "one-off tasks")
    images = [json.loads(c[c.index("--cli-input-json") + 1])["containerDefinitions"][0]["image"]
              for c in calls if c[:2] == ["ecs", "register-task-definition"]]
    assert len(images) == 2 and re.match(r"repo/timewarp:abc-import-\d{14}$", images[0]) and \
        images[1] == "repo/timewarp:abc", images
    assert any(c[:2] == ["ecr", "batch-delete-image"] for c in calls), "the one-off image was not deleted"
    p, calls, docker = run("import: 1 records read: 1 new, 0 already in the archive in 0.1 s")
    assert p.returncode != 0 and "verification failed" in p.stderr, p.stderr


@test
def help_names_the_commands(env):
    p = subprocess.run([env.binary, "--help"], capture_output=True, text=True)
    for word in ("export", "import", "--django", "backup", "--force", "--progress"):
        assert word in p.stdout, "`timewarp --help` does not mention %s:\n%s" % (word, p.stdout)


# ---- runner -----------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("TIMEWARP_BIN") or os.path.join(REPO, "build/asan/timewarp"))
    ap.add_argument("-k", dest="pattern", default=None)
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list:
        for fn in TESTS:
            print("data." + fn.__name__)
        return 0
    cleanup.install()
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        print("FAIL data.setup: %s is not an executable (build it with `make asan`)" % binary)
        print("0 passed, 1 failed")
        return 1
    env = Env(binary)
    passed = failed = 0
    failures = []
    patterns = args.pattern.split(",") if args.pattern else None
    try:
        for fn in TESTS:
            name = "data." + fn.__name__
            if patterns and not any(p in name for p in patterns):
                continue
            start = time.monotonic()
            try:
                fn(env)
                env.stop_servers()
                passed += 1
                print("PASS %s (%.1f s)" % (name, time.monotonic() - start), flush=True)
            except Exception as e:
                try:
                    env.stop_servers()
                except Exception as e2:
                    e = AssertionError("%s\n%s" % (e, e2))
                failed += 1
                failures.append(name)
                detail = str(e) if isinstance(e, AssertionError) else traceback.format_exc()
                print("FAIL %s (%.1f s)\n       %s" % (name, time.monotonic() - start,
                                                     detail.strip().replace("\n", "\n       ")), flush=True)
    finally:
        cleanup.run_all()
    if failures:
        print("\nFailed:\n  " + "\n  ".join(failures))
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
