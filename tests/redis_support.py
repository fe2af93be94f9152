"""A real `redis-server` for the tests: on 127.0.0.1, a free port, in a scratch directory, stopped by the test.

Debian's `redis-server` (installed by .ci/install-peers) runs with nothing saved to disk. A
test may kill it, pause it (SIGSTOP: a Redis that is up but does not answer) and start it again
on the same port, as an outage and a recovery look to a fleet.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

STARTUP = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One `redis-server` process; `url` stays the same across `kill()` and `start()`."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("not installed: redis-server (.ci/install-peers installs it)", pytrace=False)
        self.binary = binary
        self.directory = directory
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        assert self.process is None, "already running"
        self.starts += 1
        log = (self.directory / f"redis-{self.starts}.log").open("wb")
        with log:
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.directory), "--daemonize", "no"],
                cwd=self.directory, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP
        while not _ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                text = (self.directory / f"redis-{self.starts}.log").read_text(errors="replace")
                pytest.fail(f"redis-server did not start on 127.0.0.1:{self.port}:\n{text}", pytrace=False)
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: gone at once, its data with it (nothing is saved)."""
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGCONT)  # a paused server dies as well
            process.kill()
        process.wait(STARTUP)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """SIGSTOP for the block: connections are accepted by the kernel, nothing is answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            if self.process is not None:
                self.process.send_signal(signal.SIGCONT)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None and _ping(self.port)


@contextlib.contextmanager
def running_redis(directory: Path) -> Iterator[RedisServer]:
    directory.mkdir(parents=True, exist_ok=True)
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.kill()
