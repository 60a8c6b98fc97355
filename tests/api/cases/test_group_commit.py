"""Group commit on SQLite (src/store/io.c): writes that queue together share one
transaction, each in its own savepoint. What a client sees must not change: every
acknowledged write is stored, a duplicate in the same group is still a 409 of its own, and
an unknown contributor in a group writes nothing and harms no other write."""

import re
import threading

from twtest.framework import test, eq
from twtest.util import video_id


def counter(api, name):
    text = api.get("/metrics", check=False).body.decode()
    m = re.search(r"^%s (\d+)$" % name, text, re.M)
    assert m, "no %s in /metrics" % name
    return int(m.group(1))


@test(backends=("sqlite",))
def test_group_commit_keeps_each_write_its_own(ctx):
    srv = ctx.server(env={"TIMEWARP_METRICS_ENDPOINT": "true", "TIMEWARP_WORKERS": "4"})
    api = ctx.client(srv)
    cid = ctx.contributor(api)
    year = ctx.year()
    pairs = [(video_id(), "%d-02-%02d" % (year, 1 + i)) for i in range(20)]
    results, lock = [], threading.Lock()

    def client(k):
        for i in range(20):
            vid, day = pairs[(k + i) % len(pairs)]  # every pair is sent by several clients
            body = {"contributor_id": cid if i % 7 else "ctr_" + "0" * 32,
                    "raw_youtube_input": vid, "raw_date_input": day}
            r = api.post("/submissions", body)
            with lock:
                results.append((body, r.status, r.json))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    statuses = {}
    for body, st, _ in results:
        statuses[st] = statuses.get(st, 0) + 1
    assert set(statuses) <= {201, 409, 400}, "statuses %r" % statuses
    for body, st, js in results:
        if body["contributor_id"].startswith("ctr_000"):
            eq(st, 400, "an unknown contributor")
        elif st in (201, 409):
            got = api.get("/submissions/" + js["id"])
            eq((got.status, got.json), (200, js), "an acknowledged submission is stored as answered")
    accepted = [js for _, st, js in results if st == 201 and js["status"] == "accepted"]
    eq(sorted((a["raw_youtube_input"], a["raw_date_input"]) for a in accepted), sorted(pairs),
       "exactly one accepted submission per (video, date)")
    clips = api.get("/clips?from=%d-01-01&to=%d-12-31&limit=200" % (year, year)).json["items"]
    eq(len(clips), len(pairs), "one clip per pair")
    groups, writes = counter(api, "timewarp_group_commits_total"), counter(api, "timewarp_group_commit_writes_total")
    assert groups > 0 and writes > groups, (
        "no write shared a transaction (%d groups, %d writes): the test did not exercise group commit" % (groups, writes))
