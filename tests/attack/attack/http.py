"""HTTP on raw sockets, for requests no well-behaved client library would send, plus a
small keep-alive client that reports exactly how a request ended (response, refused,
closed without a response, partial response, timeout)."""

import http.client
import json
import select
import socket
import threading
import time

HOST = "127.0.0.1"


class Reply:
    """What came back on one connection: a parsed response, or how it ended without one."""

    def __init__(self):
        self.raw = b""
        self.status = None
        self.reason = ""
        self.headers = []  # [(lower-case name, value)], repeated names kept
        self.body = b""
        self.complete = False  # the whole response (by Content-Length or chunked) arrived
        self.ended = None  # "eof", "reset", "timeout" or None (still open)
        self.elapsed = 0.0
        self.send_error = None

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    @property
    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    def describe(self, limit=400):
        if self.status is None:
            return "no response (connection %s after %.2fs%s; raw %r)" % (
                self.ended or "still open", self.elapsed,
                ", send error %s" % self.send_error if self.send_error else "", self.raw[:200])
        ct = self.header("content-type") or "-"
        return "HTTP %s %s [%s] %r%s (connection %s)" % (
            self.status, self.reason, ct, self.body[:limit], "" if self.complete else " (incomplete)",
            self.ended or "open")


def _parse(reply):
    """Parses reply.raw as far as it goes; sets status/headers/body/complete."""
    raw = reply.raw
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return
    head = raw[:end].decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        return
    try:
        reply.status = int(parts[1])
    except ValueError:
        return
    reply.reason = parts[2] if len(parts) > 2 else ""
    reply.headers = []
    for line in head[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            reply.headers.append((k.strip().lower(), v.strip()))
    rest = raw[end + 4:]
    cl = reply.header("content-length")
    if reply.header("transfer-encoding") and "chunked" in reply.header("transfer-encoding").lower():
        body, pos = b"", 0
        while True:
            nl = rest.find(b"\r\n", pos)
            if nl < 0:
                break
            try:
                size = int(rest[pos:nl].split(b";")[0], 16)
            except ValueError:
                break
            if size == 0:
                reply.complete = True
                break
            if len(rest) < nl + 2 + size + 2:
                break
            body += rest[nl + 2: nl + 2 + size]
            pos = nl + 2 + size + 2
        reply.body = body
    elif cl is not None:
        try:
            n = int(cl)
        except ValueError:
            n = len(rest)
        reply.body = rest[:n]
        reply.complete = len(rest) >= n
    else:
        reply.body = rest
        reply.complete = reply.ended in ("eof",)


def exchange(port, data, timeout=5.0, pieces=None, wait_close=False, head=False):
    """Sends `data` (bytes, or a list of (delay_seconds, bytes or None = half-close) pieces) on a fresh connection
    while reading; returns a Reply once a complete response arrived (and, with wait_close,
    once the server also closed), or when the connection ended or `timeout` passed.
    Sending happens in a thread so a server that answers early (or stops reading) is seen."""
    reply = Reply()
    t0 = time.monotonic()
    s = socket.create_connection((HOST, port), timeout=timeout)
    plan = pieces if pieces is not None else [(0, data)]

    def sender():
        try:
            for delay, chunk in plan:
                if delay:
                    time.sleep(delay)
                if chunk is None:  # the client is done: half-close
                    s.shutdown(socket.SHUT_WR)
                    continue
                view = memoryview(chunk)
                while len(view):
                    n = s.send(view[:65536])
                    view = view[n:]
        except OSError as e:
            reply.send_error = e.__class__.__name__

    th = threading.Thread(target=sender, daemon=True)
    th.start()
    deadline = t0 + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                reply.ended = reply.ended or ("timeout" if not reply.complete else None)
                break
            r, _, _ = select.select([s], [], [], min(left, 0.2))
            if not r:
                continue
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                reply.ended = "reset"
                break
            except OSError:
                reply.ended = "reset"
                break
            if not chunk:
                reply.ended = "eof"
                break
            reply.raw += chunk
            _parse(reply)
            if head and reply.status is not None:
                reply.complete = True
            if reply.complete and not wait_close:
                break
    finally:
        _parse(reply)
        if head and reply.status is not None:
            reply.complete = True
        reply.elapsed = time.monotonic() - t0
        try:
            s.close()
        except OSError:
            pass
    return reply


def request_bytes(method, path, headers=None, body=None, host="localhost", close=True):
    """A well-formed HTTP/1.1 request as bytes (path used verbatim)."""
    lines = ["%s %s HTTP/1.1" % (method, path)]
    if host is not None:
        lines.append("Host: %s" % host)
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    if body is not None:
        lines.append("Content-Length: %d" % len(body))
    if close:
        lines.append("Connection: close")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return raw + (body or b"")


class Response:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers  # [(lower name, value)]
        self.body = body
        self.elapsed = elapsed

    def header(self, name):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return None

    @property
    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    def describe(self, limit=300):
        return "HTTP %s %r" % (self.status, self.body[:limit])


def request(port, method, path, body=None, headers=None, timeout=10, host=None):
    """One request on a fresh connection with http.client; returns a Response.
    `body` may be a dict (sent as JSON) or bytes. Raises OSError/HTTPException on failure."""
    h = {}
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode("utf-8")
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    t0 = time.monotonic()
    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        if host is not None:
            c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            c.putheader("Host", host)
            for k, v in h.items():
                c.putheader(k, v)
            if body is not None:
                c.putheader("Content-Length", str(len(body)))
            c.endheaders(body)
        else:
            c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        return Response(r.status, [(k.lower(), v) for k, v in r.getheaders()], data, time.monotonic() - t0)
    finally:
        c.close()


class KeepAlive:
    """One persistent connection; each call says how the request ended:
    ("ok", Response) | ("refused", err) | ("closed", err) | ("broken", err).
    "closed" means the server closed the connection before any byte of the response (what a
    keep-alive client sees when the server closes an idle connection just as it sends)."""

    def __init__(self, port, timeout=10):
        self.port = port
        self.timeout = timeout
        self.conn = None
        self.reused = False

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None

    def call(self, method, path, body=None, headers=None):
        h = {}
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        fresh = self.conn is None
        if fresh:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
            try:
                self.conn.connect()
            except (ConnectionRefusedError, ConnectionResetError) as e:
                # Reset during the handshake: the listening socket closed under it. Either way
                # the connection was not accepted and no request was sent.
                self.close()
                return "refused", e
            except OSError as e:
                self.close()
                return "broken", e
        t0 = time.monotonic()
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
            data = r.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
            # No status line at all: the connection was closed before the response began.
            self.close()
            return ("closed", e) if not isinstance(e, http.client.IncompleteRead) else ("broken", e)
        except (http.client.IncompleteRead, http.client.HTTPException, OSError) as e:
            self.close()
            return "broken", e
        resp = Response(r.status, [(k.lower(), v) for k, v in r.getheaders()], data, time.monotonic() - t0)
        if r.will_close:
            self.close()
        return "ok", resp
