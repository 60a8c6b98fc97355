"""A TCP proxy that fails the way a network does, to put in front of PostgreSQL.

forward()   pass bytes both ways (the normal state);
blackhole() stop moving bytes in either direction but keep every socket open, and accept new
            connections without connecting them anywhere: what a failover or a dead path looks
            like from the client (writes are acknowledged by the proxy's kernel, no answer ever
            comes, no reset, no FIN);
refuse()    reset every connection and refuse new ones (the listening socket is closed).
"""

import select
import socket
import threading


class TcpProxy:
    def __init__(self, upstream_port, upstream_host="127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.mode = "forward"
        self._lock = threading.Lock()
        self._pairs = []  # [client, upstream-or-None]
        self._listener = None
        self._stop = False
        self._listen()
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _listen(self, port=0):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(128)
        s.setblocking(False)
        self._listener = s

    # -- modes ------------------------------------------------------------------------------
    def forward(self):
        with self._lock:
            if self._listener is None:
                self._listen(self.port)
            for pair in [p for p in self._pairs if p[1] is None]:
                self._drop(pair)  # accepted during a blackhole: never connected anywhere
            self.mode = "forward"

    def blackhole(self):
        with self._lock:
            self.mode = "blackhole"

    def refuse(self):
        with self._lock:
            self.mode = "refuse"
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            for pair in self._pairs:
                for s in pair:
                    if s is not None:
                        try:
                            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                        except OSError:
                            pass
                        s.close()
            self._pairs = []

    def close(self):
        self._stop = True
        self.refuse()
        self._thread.join(timeout=5)

    # -- the pump ---------------------------------------------------------------------------
    def _drop(self, pair):
        for s in pair:
            if s is not None:
                s.close()
        if pair in self._pairs:
            self._pairs.remove(pair)

    def _run(self):
        while not self._stop:
            with self._lock:
                mode = self.mode
                listener = self._listener
                socks = [] if mode == "blackhole" else [s for p in self._pairs for s in p if s is not None]
            rlist = socks + ([listener] if listener is not None else [])
            try:
                ready, _, _ = select.select(rlist, [], [], 0.05)
            except (OSError, ValueError):
                continue
            with self._lock:
                if self.mode != mode:
                    continue
                for s in ready:
                    if s is listener:
                        try:
                            c, _ = listener.accept()
                        except OSError:
                            continue
                        up = None
                        if mode == "forward":
                            try:
                                up = socket.create_connection(self.upstream, timeout=2)
                            except OSError:
                                c.close()
                                continue
                        self._pairs.append([c, up])
                        continue
                    pair = next((p for p in self._pairs if s in p), None)
                    if pair is None or pair[1] is None:
                        continue  # accepted during a blackhole: never connected anywhere
                    other = pair[1] if s is pair[0] else pair[0]
                    try:
                        data = s.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        self._drop(pair)
                        continue
                    try:
                        other.sendall(data)
                    except OSError:
                        self._drop(pair)
