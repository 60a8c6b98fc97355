"""HTTP client for the contract suite.

Every response goes through the same checks before a test sees it: conventions from
SPEC.md (JSON body with Content-Type application/json except for HEAD, an X-Request-Id
header, no duplicate keys) and the OpenAPI drift check. A violation raises AssertionError,
which fails the test that made the request.
"""

import http.client
import json
import socket
import time

DEFAULT_TIMEOUT = 15.0
_MISSING = object()


class DuplicateKey(ValueError):
    pass


def strict_loads(data):
    """json.loads that refuses duplicate keys and non-standard constants (NaN, Infinity)."""

    def pairs(items):
        d = {}
        for k, v in items:
            if k in d:
                raise DuplicateKey("duplicate key %r in response" % k)
            d[k] = v
        return d

    def bad_constant(name):
        raise ValueError("non-standard JSON constant %s" % name)

    if isinstance(data, bytes):
        data = data.decode("utf-8")  # strict: invalid UTF-8 raises
    return json.loads(data, object_pairs_hook=pairs, parse_constant=bad_constant)


class Response:
    def __init__(self, method, path, status, reason, headers, body):
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        self.header_list = headers  # [(name, value)] as received
        self.body = body
        self.json = None
        self.json_error = None
        if body:
            try:
                self.json = strict_loads(body)
            except (ValueError, UnicodeDecodeError) as e:
                self.json_error = str(e)

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.header_list:
            if k.lower() == name:
                return v
        return default

    def headers_named(self, name):
        name = name.lower()
        return [v for k, v in self.header_list if k.lower() == name]

    @property
    def detail(self):
        return self.json.get("detail") if isinstance(self.json, dict) else None

    @property
    def code(self):
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), dict):
            return self.json["error"].get("code")
        return None

    def describe(self, limit=600):
        body = self.body.decode("utf-8", "replace")
        if len(body) > limit:
            body = body[:limit] + "...(%d bytes)" % len(self.body)
        hdrs = "; ".join("%s: %s" % (k, v) for k, v in self.header_list if k.lower() in (
            "content-type", "allow", "content-length", "x-request-id", "connection", "transfer-encoding"))
        return "%s %s -> %d [%s] %s" % (self.method, self.path, self.status, hdrs, body)

    def __repr__(self):
        return "<Response %s>" % self.describe(200)


class Client:
    """Talks to one server on 127.0.0.1:port."""

    def __init__(self, port, oapi=None, on_response=None):
        self.port = port
        self.oapi = oapi
        self.on_response = on_response

    def request(self, method, path, body=None, json_body=_MISSING, headers=None, timeout=DEFAULT_TIMEOUT,
                host=None, check=True):
        headers = dict(headers or {})
        if json_body is not _MISSING:
            body = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode("utf-8")
        if host is not None:
            headers["Host"] = host
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            resp = Response(method, path, r.status, r.reason, r.getheaders(), data)
        finally:
            conn.close()
        if check:
            self.check(resp)
        if self.on_response:
            self.on_response(resp)
        return resp

    def check(self, resp):
        problems = conventions(resp)
        if self.oapi is not None:
            problems += self.oapi.check(
                resp.method, resp.path, resp.status, resp.header("Content-Type"), resp.json, bool(resp.body)
            )
        if problems:
            raise AssertionError(
                "response breaks the contract:\n  - " + "\n  - ".join(problems) + "\n  response: " + resp.describe()
            )

    # Convenience wrappers.
    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def head(self, path, **kw):
        return self.request("HEAD", path, **kw)

    def post(self, path, json_body=_MISSING, **kw):
        return self.request("POST", path, json_body=json_body, **kw)


def conventions(resp):
    problems = []
    ctype = resp.header("Content-Type")
    if resp.status == 304:
        if resp.body:
            problems.append("304 response has a body of %d bytes" % len(resp.body))
    elif resp.method != "HEAD":
        if ctype is None or ctype.split(";")[0].strip().lower() != "application/json":
            problems.append("Content-Type is %r, expected application/json" % (ctype,))
        if not resp.body:
            problems.append("empty body (every response is JSON)")
        elif resp.json_error:
            problems.append("body is not valid strict JSON: %s" % resp.json_error)
    else:
        if resp.body:
            problems.append("HEAD response has a body of %d bytes" % len(resp.body))
    rid = resp.header("X-Request-Id")
    if not rid:
        problems.append("no X-Request-Id header")
    return problems


# ---------------------------------------------------------------------------
# Raw sockets, for what http.client cannot do (slow senders, bodies sent before reading,
# malformed framing).

def connect(port, timeout=DEFAULT_TIMEOUT):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(sock, method="GET", path="?", timeout=DEFAULT_TIMEOUT):
    """Read one HTTP/1.1 response from a socket; returns Response (body by length/chunked/close)."""
    sock.settimeout(timeout)
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        if time.monotonic() > deadline:
            raise TimeoutError("no complete response head within %.1fs (got %r)" % (timeout, buf[:200]))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before a full response head (got %r)" % buf[:200])
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    hd = {k.lower(): v for k, v in headers}
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        body = b""
    elif "chunked" in hd.get("transfer-encoding", "").lower():
        body = b""
        data = rest
        while True:
            while b"\r\n" not in data:
                c = sock.recv(65536)
                if not c:
                    raise ConnectionError("closed inside chunked body")
                data += c
            size_line, data = data.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(data) < size + 2:
                c = sock.recv(65536)
                if not c:
                    raise ConnectionError("closed inside chunk")
                data += c
            body += data[:size]
            data = data[size + 2:]
            if size == 0:
                break
    elif "content-length" in hd:
        n = int(hd["content-length"])
        body = rest
        while len(body) < n:
            c = sock.recv(65536)
            if not c:
                raise ConnectionError("closed after %d of %d body bytes" % (len(body), n))
            body += c
        body = body[:n]
    else:
        body = rest
        while True:
            c = sock.recv(65536)
            if not c:
                break
            body += c
    return Response(method, path, status, reason, headers, body)
