"""A fault-injecting TCP proxy for the node's link: latency, a bandwidth cap, stalls, cuts."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time


class LossyProxy:
    """Forwards 127.0.0.1:<port> to a target, badly, like a rural link on a wet Tuesday.

    ``latency_s`` delays every chunk; ``rate_bytes_s`` caps throughput each way;
    ``cut_every_s`` closes every connection (mid-packet, without warning) at random
    intervals around that period. ``healthy()`` turns every fault off.
    """

    def __init__(
        self,
        target_port: int,
        *,
        latency_s: float = 0.05,
        rate_bytes_s: int = 32_000,
        cut_every_s: float | None = 1.5,
        seed: int = 7,
    ) -> None:
        self.target_port = target_port
        self.latency_s = latency_s
        self.rate_bytes_s = rate_bytes_s
        self.cut_every_s = cut_every_s
        self.rng = random.Random(seed)
        self.cuts = 0
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._cutter, daemon=True).start()

    def healthy(self) -> None:
        self.latency_s = 0.0
        self.rate_bytes_s = 0
        self.cut_every_s = None

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                chunk = source.recv(1024)
                if not chunk:
                    break
                if self.latency_s:
                    time.sleep(self.latency_s)
                if self.rate_bytes_s:
                    time.sleep(len(chunk) / self.rate_bytes_s)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def _cutter(self) -> None:
        while not self._stop.is_set():
            period = self.cut_every_s
            if period is None:
                time.sleep(0.1)
                continue
            time.sleep(self.rng.uniform(0.5 * period, 1.5 * period))
            if self.cut_every_s is None:
                continue
            with self._lock:
                victims, self._sockets = self._sockets, []
            if victims:
                self.cuts += 1
            for s in victims:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                s.close()
