"""Process-wide cleanup: every temporary folder, child process and PostgreSQL cluster the
suite creates registers a callable here. They run in reverse order at exit, also when the
suite is interrupted by SIGINT/SIGTERM/SIGHUP (turned into SystemExit so atexit runs)."""

import atexit
import signal
import sys
import threading

_lock = threading.Lock()
_actions = []
_done = False


def register(fn):
    with _lock:
        _actions.append(fn)
    return fn


def unregister(fn):
    with _lock:
        try:
            _actions.remove(fn)
        except ValueError:
            pass


def run_all():
    global _done
    with _lock:
        actions = list(reversed(_actions))
        _actions.clear()
    for fn in actions:
        try:
            fn()
        except Exception as e:  # keep cleaning up
            sys.stderr.write("cleanup action failed: %r\n" % (e,))


def _on_signal(signum, frame):
    # Ignore repeats while we clean up, then exit with the conventional code.
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    sys.stderr.write("\ninterrupted by signal %d: cleaning up\n" % signum)
    run_all()
    sys.exit(128 + signum)


def install():
    atexit.register(run_all)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
