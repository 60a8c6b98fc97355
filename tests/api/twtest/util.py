"""Small helpers shared by the harnesses and tests."""

import os
import re
import secrets
import socket
import time

TIMESTAMP_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$")
ID_RE = {
    "ctr": re.compile(r"^ctr_[0-9a-f]{32}$"),
    "sub": re.compile(r"^sub_[0-9a-f]{32}$"),
    "clp": re.compile(r"^clp_[0-9a-f]{32}$"),
}
VIDEO_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def video_id():
    """A random valid 11-character YouTube id (so tests never collide on duplicates)."""
    return "".join(secrets.choice(VIDEO_ALPHABET) for _ in range(11))


def wait_until(pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def tail(path, n=3000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - n))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return "(no file %s)" % path
