#!/usr/bin/python3
"""Makes tests/data/fixtures/django.sqlite3 and django-answers.json: a real database of the
Django original (github NoDancing/time-warp at commit 59fc9da), filled through ITS OWN HTTP
API, and that API's answers for every clip and submission. Only that data is committed;
the original's code is never copied into this repository.

    git -C ORIGINAL archive 59fc9da apps/server | tar -x -C /tmp/original
    /usr/bin/python3 tests/data/make_django_fixture.py /tmp/original/apps/server

Needs Debian's python3-django (3.2) and python3-djangorestframework (3.14). The original
runs from a temporary copy with `manage.py migrate` and `manage.py runserver`.
"""

import http.client
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
PY = "/usr/bin/python3"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    def __init__(self, port):
        self.port = port

    def call(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        r = c.getresponse()
        raw = r.read()
        c.close()
        return r.status, json.loads(raw) if raw else None


def populate(api):
    """Contributors; accepted, rejected and duplicate submissions; unicode, titles, notes;
    and the inputs the original accepted that our rules refuse."""
    def contributor(**fields):
        status, body = api.call("POST", "/contributors", fields)
        assert status == 201, (status, body)
        return body["id"]

    zoe = contributor(display_name="Zoë Ærøskøbing 🎸", external_id="zoe@example.org")
    sam = contributor(display_name="Sam \"the Taper\" O'Neil")
    anon = contributor()
    blank = contributor(display_name="", external_id=None)
    subs = []

    def submit(who, youtube, date, **extra):
        body = {"contributor_id": who, "raw_youtube_input": youtube, "raw_date_input": date}
        body.update(extra)
        status, answer = api.call("POST", "/submissions", body)
        assert status in (201, 409), (status, answer)
        subs.append(answer["id"])
        time.sleep(0.002)  # distinct, ordered timestamps
        return answer

    submit(zoe, "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "1987-07-27",
           title="Live at the Apollo — “encore” ♫", notes="Front row.\nSecond line: tabs\tand \\ backslash.")
    submit(zoe, "https://youtu.be/9bZkp7q19f0", "2012-07-15", title="Gangnam Style (first gig)")
    submit(sam, "https://www.youtube.com/watch?feature=share&v=kJQP7kiw5Fk&t=42", "2017-01-13",
           title=None, notes="No title given")
    submit(sam, "youtu.be/9bZkp7q19f0", "2012-07-16", title="Same video, next night", notes="")
    submit(anon, "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "1987-07-27", title="duplicate")
    submit(anon, "https://youtu.be/dQw4w9WgXcQ", "1987-07-27", notes="another duplicate, other URL form")
    submit(zoe, "not a youtube link", "2020-01-01", title="rejected: link")
    submit(zoe, "https://youtu.be/oHg5SJYRHA0", "2021-02-30", title="rejected: date")
    submit(sam, "https://youtu.be/oHg5SJYRHA0", "yesterday")
    # Accepted by the original, refused by our rules:
    submit(blank, "https://youtu.be/L_jWHffIx5E", "20240512", title="compact date")
    submit(blank, "https://youtu.be/fJ9rUzIMcZQ", "2999-12-31", title="from the future")
    submit(anon, "https://evil.example/?v=3JZ_D3ELwOQ", "2001-09-09", title="not YouTube at all")
    submit(zoe, "https://www.youtube.com/watch?v=hTWKbfoikeg", "1991-09-10",
           title="Same day, first", notes="日本語のメモ")
    submit(sam, "https://www.youtube.com/watch?v=Zi_XLOBDo_Y", "1991-09-10", title="Same day, second")
    submit(anon, "https://m.youtube.com/watch?v=fregObNcHC8", "1975-10-31", title="x" * 500,
           notes="long title")
    return subs


def answers(api, submission_ids):
    out = {"submissions": {}, "clips": {}, "list": []}
    for sid in submission_ids:
        status, body = api.call("GET", "/submissions/" + sid)
        assert status == 200, (status, body)
        out["submissions"][sid] = body
        if body["clip_id"]:
            status, clip = api.call("GET", "/clips/" + body["clip_id"])
            assert status == 200, (status, clip)
            out["clips"][clip["id"]] = clip
    status, page = api.call("GET", "/clips?limit=200")
    assert status == 200 and page["next_cursor"] is None, (status, page)
    out["list"] = [c["id"] for c in page["items"]]
    return out


def main():
    if len(sys.argv) != 2 or not os.path.isfile(os.path.join(sys.argv[1], "manage.py")):
        sys.exit(__doc__)
    work = tempfile.mkdtemp(prefix="timewarp-django-")
    try:
        app = os.path.join(work, "server")
        shutil.copytree(sys.argv[1], app)
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        subprocess.run([PY, "manage.py", "migrate", "--noinput"], cwd=app, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        port = free_port()
        server = subprocess.Popen([PY, "manage.py", "runserver", "--noreload", "127.0.0.1:%d" % port],
                                  cwd=app, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            api = Api(port)
            for _ in range(100):
                try:
                    api.call("GET", "/clips")
                    break
                except OSError:
                    time.sleep(0.1)
            subs = populate(api)
            result = answers(api, subs)
        finally:
            server.terminate()
            server.wait(10)
        os.makedirs(OUT, exist_ok=True)
        db = os.path.join(OUT, "django.sqlite3")
        if os.path.exists(db):
            os.unlink(db)
        con = sqlite3.connect(os.path.join(app, "db.sqlite3"))
        con.execute("VACUUM INTO ?", (db,))
        con.close()
        result["source"] = {"repository": "NoDancing/time-warp", "commit": "59fc9da",
                            "django": subprocess.run([PY, "-c", "import django;print(django.get_version())"],
                                                     capture_output=True, text=True).stdout.strip(),
                            "made_by": "tests/data/make_django_fixture.py"}
        with open(os.path.join(OUT, "django-answers.json"), "w", encoding="utf-8") as f:
            json.dump(result, f, ensure_ascii=False, indent=1, sort_keys=True)
            f.write("\n")
        print("wrote %s (%d clips, %d submissions)" % (OUT, len(result["clips"]), len(result["submissions"])))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
