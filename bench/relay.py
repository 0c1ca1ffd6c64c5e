"""A TCP relay on loopback that counts the bytes each way: what a link carries, TLS and all.

The node connects to the relay, the relay to the server; every byte of every connection
(TLS handshakes and records, HTTP headers and bodies) is counted as it passes, node to
server (``up``) and server to node (``down``). One asyncio loop in a thread of its own
carries every connection, so a fleet of nodes costs no thread per connection.

:class:`RelayProcess` runs it in a process of its own (``python -m bench.relay PORT``),
so that a benchmark's busy threads never keep the relay, and with it the link, waiting
for Python's lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from types import TracebackType

READ_BYTES = 64 * 1024


@dataclass(frozen=True)
class Counted:
    """Bytes through the relay each way, and the TCP connections that carried them."""

    up: int = 0
    """Node to server."""
    down: int = 0
    """Server to node."""
    connections: int = 0

    @property
    def total(self) -> int:
        return self.up + self.down

    def __sub__(self, other: Counted) -> Counted:
        return Counted(
            self.up - other.up, self.down - other.down, self.connections - other.connections
        )


class CountingRelay:
    """Forwards ``127.0.0.1:<port>`` to ``127.0.0.1:<target_port>``, counting every byte."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._up = 0
        self._down = 0
        self._connections = 0
        self._open = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the counting relay did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._connected, "127.0.0.1", 0, backlog=1024)
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._ready.set()
        self._loop.run_forever()

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._connections += 1
        self._open += 1
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, upward=True),
                self._pump(up_reader, writer, upward=False),
            )
        finally:
            self._open -= 1

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, upward: bool
    ) -> None:
        try:
            while data := await source.read(READ_BYTES):
                if upward:
                    self._up += len(data)
                else:
                    self._down += len(data)
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            sink.close()  # one side gone: the other's next read ends too
            with contextlib.suppress(OSError):
                await sink.wait_closed()

    def counted(self) -> Counted:
        """Everything counted so far (read between passes, once :meth:`wait_idle` is true)."""
        return Counted(self._up, self._down, self._connections)

    def still_open(self) -> int:
        """Connections open now."""
        return self._open

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until no connection is open (so every byte of the last pass is counted)."""
        deadline = time.monotonic() + timeout_s
        while self._open:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self) -> None:
        """Stop listening and stop the loop (open connections are dropped)."""

        async def stop() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> CountingRelay:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class RelayProcess:
    """A :class:`CountingRelay` in a process of its own, asked for its counts by a pipe."""

    def __init__(self, target_port: int) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.relay", str(target_port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self._process.stdin is None or self._process.stdout is None:
            raise RuntimeError("the relay's process has no pipes")
        self._ask, self._answer = self._process.stdin, self._process.stdout
        self.port = int(self._answer.readline())

    def _state(self) -> tuple[Counted, int]:
        self._ask.write("?\n")
        self._ask.flush()
        up, down, connections, still_open = map(int, self._answer.readline().split())
        return Counted(up, down, connections), still_open

    def counted(self) -> Counted:
        """Everything counted so far (read between passes, once :meth:`wait_idle` is true)."""
        return self._state()[0]

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until no connection is open (so every byte of the last pass is counted)."""
        deadline = time.monotonic() + timeout_s
        while self._state()[1]:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def pid(self) -> int:
        return self._process.pid

    def close(self) -> None:
        """Stop the relay's process (its input ends)."""
        self._ask.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._answer.close()

    def __enter__(self) -> RelayProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def serve(target_port: int) -> None:
    """The relay's process: print the port, then answer each line of input with the
    counts (up, down, connections, open) until the input ends."""
    with CountingRelay(target_port) as relay:
        print(relay.port, flush=True)
        for _ in sys.stdin:
            counted = relay.counted()
            print(counted.up, counted.down, counted.connections, relay.still_open(), flush=True)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
