"""Writes a synthetic `timewarp export` file: C contributors, N clips (each with its accepted
submission) and N/10 rejected submissions, in the exact format and order the exporter
writes, so `timewarp import` can load a large archive without going through HTTP.

    /usr/bin/python3 bench/archive_gen.py N FILE [--schema-version 3]

One clip in 1,000 is hidden (with its report resolved and the hide in the audit trail).
"""

import datetime
import json
import random
import sys

CONTRIBUTORS = 100


def _ts(base, n):
    t = base + datetime.timedelta(seconds=n, microseconds=(n * 7919) % 1000000)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_archive(path, clips, schema_version=3, seed=1):
    rnd = random.Random(seed)
    hexid = lambda p: p + "%032x" % rnd.getrandbits(128)  # noqa: E731
    base = datetime.datetime(2023, 11, 14, 22, 13, 20)
    day0 = datetime.date(1960, 1, 1)
    dumps = lambda o: json.dumps(o, ensure_ascii=False, separators=(",", ":"))  # noqa: E731
    ctr = [hexid("ctr_") for _ in range(CONTRIBUTORS)]
    subs = [hexid("sub_") for _ in range(clips)]
    clp = [hexid("clp_") for _ in range(clips)]
    rejected = clips // 10
    with open(path, "w", encoding="utf-8") as f:
        f.write(dumps({"type": "header", "format": "timewarp-archive", "format_version": 2,
                       "schema_version": schema_version}) + "\n")
        for i, c in enumerate(ctr):
            f.write(dumps({"type": "contributor", "id": c, "display_name": "Scale contributor %d" % i,
                           "external_id": None, "created_at": _ts(base, -100000 + i)}) + "\n")
        for n in range(clips):
            date = (day0 + datetime.timedelta(days=(n * 7919) % 22281)).isoformat()
            f.write(dumps({"type": "submission", "id": subs[n], "contributor_id": ctr[n % CONTRIBUTORS],
                           "clip_id": clp[n], "status": "accepted", "validation_error": None,
                           "raw_youtube_input": "https://youtu.be/S%010d" % n, "raw_date_input": date,
                           "title": "Scale clip %d" % n, "notes": None if n % 3 else "Notes for clip %d" % n,
                           "submitted_at": _ts(base, n)}) + "\n")
        for n in range(rejected):
            f.write(dumps({"type": "submission", "id": hexid("sub_"), "contributor_id": ctr[n % CONTRIBUTORS],
                           "clip_id": None, "status": "rejected",
                           "validation_error": "That is not a date: use YYYY-MM-DD.",
                           "raw_youtube_input": "S%010d" % n, "raw_date_input": "soon", "title": None,
                           "notes": None, "submitted_at": _ts(base, clips + n)}) + "\n")
        for n in range(clips):
            date = (day0 + datetime.timedelta(days=(n * 7919) % 22281)).isoformat()
            f.write(dumps({"type": "clip", "id": clp[n], "youtube_video_id": "S%010d" % n,
                           "performance_date": date, "title": "Scale clip %d" % n,
                           "notes": None if n % 3 else "Notes for clip %d" % n, "created_at": _ts(base, n),
                           "created_by_contributor_id": ctr[n % CONTRIBUTORS],
                           "added_via_submission_id": subs[n],
                           "hidden_at": _ts(base, clips + n) if n % 1000 == 999 else None}) + "\n")
        hidden = range(999, clips, 1000)
        for n in hidden:
            f.write(dumps({"type": "report", "id": hexid("rpt_"), "clip_id": clp[n], "reason": "Not live %d" % n,
                           "status": "resolved", "resolution": "hidden", "created_at": _ts(base, clips + n - 1),
                           "resolved_at": _ts(base, clips + n)}) + "\n")
        for n in hidden:
            f.write(dumps({"type": "moderation_action", "id": hexid("act_"), "action": "hide", "target_id": clp[n],
                           "reason": "studio recording", "actor": "scale-operator",
                           "created_at": _ts(base, clips + n)}) + "\n")
        f.write(dumps({"type": "end", "counts": {"contributor": CONTRIBUTORS, "submission": clips + rejected,
                                                 "clip": clips, "report": len(hidden),
                                                 "moderation_action": len(hidden)}}) + "\n")


if __name__ == "__main__":
    args = sys.argv[1:]
    sv = 3
    if "--schema-version" in args:
        i = args.index("--schema-version")
        sv = int(args[i + 1])
        del args[i:i + 2]
    write_archive(args[1], int(args[0]), sv)
