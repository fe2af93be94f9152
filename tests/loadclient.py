"""Load and hostile clients for the server-survival tests, and a watched `tls12 serve` process.

Everything here talks to 127.0.0.1 only. Well-behaved clients are the stdlib
`ssl` module (asyncio streams); hostile ones are raw sockets, with an
`ssl.SSLObject` over memory BIOs when they need a real handshake before
misbehaving (cutting a record in half, resetting mid-stream). The server
process is measured through /proc: its resident memory (VmRSS) and its open
file descriptors.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

TIMEOUT = 15.0  # any single wait: a line, a socket operation, a client

CLOSE_NOTIFY_ALERT = bytes([21, 3, 3, 0, 2, 1, 0])  # plaintext warning close_notify, TLS 1.2 record


# -- the server process ---------------------------------------------------------------------------


class ServeProcess:
    """`tls12 serve --port 0 ARGS...` with its stdout collected line by line and its stderr in a file."""

    def __init__(self, args: Sequence[str], stderr_path: Path) -> None:
        self.argv = [sys.executable, "-m", "tls12", "serve", "--port", "0", *args]
        self.stderr_path = stderr_path
        self._stderr: IO[bytes] = stderr_path.open("wb")
        self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=self._stderr)
        self.pid = self.popen.pid
        self.lines: list[str] = []
        self._eof = False
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        match = self.wait_for(r"^tls12 serve: listening on 127\.0\.0\.1:(\d+) \(")
        self.port = int(match.group(1))
        #: Open fds with no connection: what the count must come back to.
        self.idle_fds = self.fds()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if match := regex.search(line):
                        return match
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    break
                self._cond.wait(remaining)
        raise AssertionError(f"no line matching {pattern!r} within {timeout:g} s\n{self.describe()}")

    def count(self, pattern: str) -> int:
        regex = re.compile(pattern)
        with self._cond:
            return sum(1 for line in self.lines if regex.search(line))

    def wait_count(self, pattern: str, n: int, timeout: float = TIMEOUT) -> int:
        """Wait until at least `n` lines match; the count then (it may be more)."""
        deadline = time.monotonic() + timeout
        while (found := self.count(pattern)) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return found

    def matching(self, pattern: str) -> list[str]:
        regex = re.compile(pattern)
        with self._cond:
            return [line for line in self.lines if regex.search(line)]

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def describe(self, tail: int = 40) -> str:
        with self._cond:
            out = "\n".join(self.lines[-tail:])
        return f"{self.argv}\n--- last {tail} stdout lines ---\n{out}\n--- stderr ---\n{self.stderr()}"

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc/<pid>/status")

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def wait_fds(self, expected: int, timeout: float = TIMEOUT) -> int:
        """Wait until the server has `expected` fds open (or the timeout); the count then."""
        deadline = time.monotonic() + timeout
        while (n := self.fds()) != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        return n

    def stop(self, timeout: float = TIMEOUT) -> int:
        self.popen.send_signal(signal.SIGINT)
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"still running {timeout:g} s after SIGINT\n{self.describe()}") from None
        self._reader.join(TIMEOUT)
        return code

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self._stderr.close()


class PeakSampler:
    """Samples a process's VmRSS and fd count every few milliseconds, keeping the peaks."""

    def __init__(self, server: ServeProcess, interval: float = 0.02) -> None:
        self.server = server
        self.interval = interval
        self.peak_rss_kib = server.rss_kib()
        self.peak_fds = server.fds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, AssertionError):
                self.peak_rss_kib = max(self.peak_rss_kib, self.server.rss_kib())
                self.peak_fds = max(self.peak_fds, self.server.fds())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT)


def raise_fd_limit(needed: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE (up to the hard limit) to at least `needed`; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(hard, max(needed, 4096))
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    assert soft == resource.RLIM_INFINITY or soft >= needed, (
        f"these tests need {needed} file descriptors; the hard limit is {hard} (raise it: ulimit -Hn)")
    return int(soft)


# -- well-behaved clients (stdlib ssl over asyncio) -----------------------------------------------


def client_context(cafile: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile))


async def open_tls(port: int, ctx: ssl.SSLContext) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost",
                                ssl_handshake_timeout=TIMEOUT), TIMEOUT)


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes) -> None:
    writer.write(payload)
    await asyncio.wait_for(writer.drain(), TIMEOUT)
    got = await asyncio.wait_for(reader.readexactly(len(payload)), TIMEOUT)
    assert got == payload, f"echoed {got[:40]!r}..., sent {payload[:40]!r}..."


async def close_tls(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await asyncio.wait_for(writer.wait_closed(), TIMEOUT)


async def echo_session(port: int, ctx: ssl.SSLContext, payload: bytes) -> float:
    """Connect, handshake, echo `payload` once, close with close_notify; the seconds it took."""
    start = time.monotonic()
    reader, writer = await open_tls(port, ctx)
    try:
        await echo(reader, writer, payload)
    finally:
        await close_tls(writer)
    return time.monotonic() - start


@dataclass
class LoadResult:
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


async def handshake_load(port: int, ctx: ssl.SSLContext, total: int, concurrency: int) -> LoadResult:
    """`total` echo sessions from `concurrency` clients at a time."""
    result = LoadResult()
    next_index = iter(range(total))

    async def worker() -> None:
        for i in next_index:
            try:
                result.latencies.append(await echo_session(port, ctx, f"client {i} says hello".encode()))
                result.ok += 1
            except Exception as exc:
                result.failures.append(f"client {i}: {exc!r}")

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.monotonic() - start
    return result


async def served_meanwhile(port: int, ctx: ssl.SSLContext, until: Callable[[], bool],
                           pause: float = 0.1) -> list[float]:
    """Echo sessions one after another until `until()`; their durations (failures raise)."""
    latencies = [await echo_session(port, ctx, b"are you still there?")]
    while not until():
        await asyncio.sleep(pause)
        latencies.append(await echo_session(port, ctx, b"are you still there?"))
    return latencies


async def gather_bounded(coros: Sequence[Awaitable[object]], concurrency: int) -> list[object]:
    sem = asyncio.Semaphore(concurrency)

    async def run(coro: Awaitable[object]) -> object:
        async with sem:
            return await coro

    return list(await asyncio.gather(*(run(c) for c in coros)))


# -- hostile clients (raw sockets) ----------------------------------------------------------------


def client_hello(ctx: ssl.SSLContext) -> bytes:
    """The bytes of a real ClientHello as the stdlib ssl module sends it (one record)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def raw_connect(port: int, timeout: float = TIMEOUT) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN (SO_LINGER with a zero timeout)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class BioClient:
    """A stdlib TLS client over a raw blocking socket, so the test decides which bytes go out."""

    def __init__(self, port: int, ctx: ssl.SSLContext, *, rcvbuf: int | None = None,
                 sndbuf: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if sndbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(("127.0.0.1", port))
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")

    def handshake(self) -> None:
        while True:
            try:
                self.obj.do_handshake()
            except ssl.SSLWantReadError:
                if out := self.outgoing.read():
                    self.sock.sendall(out)
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("the server closed during the handshake") from None
                self.incoming.write(data)
            else:
                if out := self.outgoing.read():
                    self.sock.sendall(out)
                return

    def records(self, data: bytes) -> bytes:
        """`data` sealed into application-data records, not sent."""
        self.obj.write(data)
        return self.outgoing.read()


def read_until_closed(sock: socket.socket, limit: int = 1 << 20) -> tuple[bytes, str]:
    """Everything the server sends until it closes: (bytes, "eof" | "reset" | "timeout")."""
    data = bytearray()
    try:
        while len(data) < limit:
            chunk = sock.recv(65536)
            if not chunk:
                return bytes(data), "eof"
            data += chunk
    except ConnectionResetError:
        return bytes(data), "reset"
    except TimeoutError:
        return bytes(data), "timeout"
    return bytes(data), "limit"


def parse_alerts(data: bytes) -> list[tuple[int, int]]:
    """(level, description) of each plaintext alert record in `data`; AssertionError on anything else."""
    alerts = []
    pos = 0
    while pos < len(data):
        assert len(data) - pos >= 5, f"a truncated record header: {data[pos:]!r}"
        content_type, version, length = struct.unpack_from(">BHH", data, pos)
        assert content_type == 21, f"expected only alert records, got content type {content_type}: {data!r}"
        assert version >> 8 == 3, f"record version {version:#06x}"
        assert length == 2, f"an alert record of length {length}"
        alerts.append((data[pos + 5], data[pos + 6]))
        pos += 7
    return alerts
