"""What the command-line tests share: running `tls12`, a `tls12 serve` process, and small servers in threads.

Every server binds 127.0.0.1 on a port the OS picks and is stopped when its
`with` block ends; every process runs with a timeout.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

TIMEOUT = 30.0


def tls12(*args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """`python -m tls12 ARGS...` to completion; output decoded as UTF-8."""
    result = subprocess.run([sys.executable, "-m", "tls12", *args], capture_output=True, timeout=timeout,
                            check=False)
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode("utf-8", "replace"),
                                       result.stderr.decode("utf-8", "replace"))


@contextlib.contextmanager
def thread_server(handle: Callable[[socket.socket], None], backlog: int = 8) -> Iterator[int]:
    """A listener on 127.0.0.1 whose connections `handle(sock)` serves, each in a thread; yields the port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)
    listener.settimeout(0.2)
    stop = threading.Event()
    workers: list[threading.Thread] = []

    def serve_one(sock: socket.socket) -> None:
        with sock, contextlib.suppress(OSError):
            sock.settimeout(TIMEOUT)
            handle(sock)

    def accept() -> None:
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(target=serve_one, args=(sock,), daemon=True)
            worker.start()
            workers.append(worker)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        acceptor.join(TIMEOUT)
        listener.close()
        for worker in workers:
            worker.join(TIMEOUT)


class ServeProcess:
    """`tls12 serve --port 0 ARGS...` with its stdout lines collected by a thread."""

    def __init__(self, *args: str, stderr_path: Path, launcher: Sequence[str] = ("-m", "tls12"),
                 new_session: bool = False) -> None:
        self._stderr = stderr_path.open("wb")
        self.stderr_path = stderr_path
        self.popen = subprocess.Popen([sys.executable, *launcher, "serve", "--port", "0", *args],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr,
                                      start_new_session=new_session)
        self.raw = bytearray()
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = int(self.wait_for(rb"listening on 127\.0\.0\.1:(\d+) ").group(1))

    def _read(self) -> None:
        assert self.popen.stdout is not None
        while chunk := self.popen.stdout.read1(65536):
            with self._cond:
                self.raw += chunk
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def wait_for(self, pattern: bytes, timeout: float = TIMEOUT) -> re.Match[bytes]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                match = regex.search(self.raw)
                if match:
                    return match
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    raise AssertionError(f"no {pattern!r} in the output of tls12 serve:\n{self.output()}\n"
                                         f"{self.stderr_path.read_text(errors='replace')}")
                self._cond.wait(remaining)

    def output(self) -> str:
        """Everything it wrote to stdout so far, as raw as it came (bytes decoded one to one)."""
        with self._cond:
            return self.raw.decode("latin-1")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self._stderr.close()


@contextlib.contextmanager
def serve(tmp_path: Path, *args: str, launcher: Sequence[str] = ("-m", "tls12"),
          new_session: bool = False) -> Iterator[ServeProcess]:
    proc = ServeProcess(*args, stderr_path=tmp_path / f"serve-{time.monotonic_ns()}.stderr", launcher=launcher,
                        new_session=new_session)
    try:
        yield proc
    finally:
        proc.stop()
