"""`tls12 serve --workers N`: N processes serving one port, and a parent that keeps them running.

Listening. On Linux each worker binds a socket of its own to the same address and port with
SO_REUSEPORT, and the kernel spreads new connections among the workers that listen; a worker
that dies takes only its own queue of not-yet-accepted connections with it. The parent binds one
more socket there first (with SO_REUSEPORT, never listening, so no connection ever waits on it):
that is how `--port 0` gives every worker the same free port, and it keeps the port while a
worker restarts. Elsewhere (SO_REUSEPORT does not spread connections on macOS or the BSDs) the
parent listens once and forks: every worker accepts from that one shared socket.

Supervising. The parent forks the workers and then only waits: for a signal, for a worker to
say it serves (a line on a pipe), or for a worker to die. A worker that dies is restarted, at
once if it had served for a while, after a growing pause (0.5 s, doubling up to 30 s) if it keeps
dying young; each death and restart is logged. SIGINT (Ctrl-C) or SIGTERM stops every worker
(SIGTERM, then SIGKILL for one still there after the grace period) and the parent exits 0. A
worker whose parent is gone (killed with SIGKILL) sees the end of a pipe the parent held and
stops too: no worker outlives its parent.

Everything a worker needs that must be the same in all of them (the certificate, a ticket secret)
is made by the parent before it forks; what must be each worker's own (a connection to Redis, the
event loop) is made in the worker.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

__all__ = ["Fleet", "Listening", "WorkerContext", "listen", "run_workers"]

#: A worker that served at least this long before it died is restarted at once.
STABLE_SECONDS = 10.0
#: The pause before restarting a worker that died young: doubled for each young death in a row.
FIRST_PAUSE = 0.5
MAX_PAUSE = 30.0
#: Before any worker has served, this many deaths in a row of one worker before it says it serves
#: end the fleet (exit status 1): a worker that cannot start (a port another process holds, a file
#: it cannot read) will not start on the next try either.
START_ATTEMPTS = 3
#: Seconds the workers get to stop (close their connections) after SIGTERM, before SIGKILL.
STOP_GRACE = 10.0

#: SO_REUSEPORT spreads connections among the listening sockets on Linux only.
REUSE_PORT = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


@dataclass
class Listening:
    """Where the workers listen: the address (port resolved), and the parent's socket there."""

    family: socket.AddressFamily
    address: tuple[str, int] | tuple[str, int, int, int]
    parent_socket: socket.socket  # reuse_port: bound, not listening; otherwise: the one listening socket
    reuse_port: bool
    backlog: int

    @property
    def host(self) -> str:
        return self.address[0]

    @property
    def port(self) -> int:
        return self.address[1]

    def worker_socket(self) -> socket.socket:
        """In a worker: the socket to accept on (its own with SO_REUSEPORT, else the shared one)."""
        if not self.reuse_port:
            return self.parent_socket
        sock = _socket(self.family, reuse_port=True)
        try:
            sock.bind(self.address)
            sock.listen(self.backlog)
        except OSError:
            sock.close()
            raise
        self.parent_socket.close()  # the worker's copy of the parent's placeholder
        return sock

    def close(self) -> None:
        self.parent_socket.close()


def _socket(family: socket.AddressFamily, *, reuse_port: bool) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if sys.platform != "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio's own servers do
    except OSError:
        sock.close()
        raise
    return sock


def listen(host: str, port: int, backlog: int = 1024, *, reuse_port: bool | None = None) -> Listening:
    """In the parent, before forking: bind host:port (the first address `host` resolves to); a socket per
    worker with SO_REUSEPORT if `reuse_port` (default: REUSE_PORT), one shared listening socket otherwise."""
    if reuse_port is None:
        reuse_port = REUSE_PORT
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    if not infos:
        raise OSError(errno.EADDRNOTAVAIL, f"{host} resolves to no address")
    family, _, _, _, address = infos[0]
    sock = _socket(family, reuse_port=reuse_port)
    try:
        sock.bind(address)
        if not reuse_port:
            sock.listen(backlog)
        bound = sock.getsockname()
    except OSError:
        sock.close()
        raise
    return Listening(family, bound, sock, reuse_port, backlog)


@dataclass
class WorkerContext:
    """What a worker is given: its socket, how to say it serves, and when its parent is gone."""

    sock: socket.socket
    lifeline: int  # read end of a pipe only the parent writes to: readable (EOF) once the parent is gone
    _ready: int

    def ready(self) -> None:
        """Tell the parent this worker accepts connections."""
        with contextlib.suppress(OSError):
            os.write(self._ready, f"{os.getpid()}\n".encode("ascii"))


@dataclass
class _Slot:
    pid: int | None = None
    started: float = 0.0
    young_deaths: int = 0
    unready_deaths: int = 0
    restart_at: float | None = None


@dataclass
class Fleet:
    """The parent's side: forks `count` workers running `serve(ctx) -> exit status` and keeps them running."""

    count: int
    listening: Listening
    serve: Callable[[WorkerContext], int]
    log: Callable[[str], None]
    on_all_ready: Callable[[], None] = lambda: None
    clock: Callable[[], float] = time.monotonic
    slots: list[_Slot] = field(default_factory=list)
    _stopping: bool = False
    _announced: bool = False
    _ready_pids: set[int] = field(default_factory=set)
    _served: bool = False  # some worker has said it serves
    _failed: bool = False

    def run(self) -> int:
        ready_r, ready_w = os.pipe()
        life_r, life_w = os.pipe()
        wake_r, wake_w = os.pipe()
        for fd in (ready_r, wake_r, wake_w):
            os.set_blocking(fd, False)
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD)}
        old_wakeup = signal.set_wakeup_fd(wake_w)
        try:
            signal.signal(signal.SIGINT, self._on_stop)
            signal.signal(signal.SIGTERM, self._on_stop)
            signal.signal(signal.SIGCHLD, lambda _sig, _frame: None)  # only to wake the loop through wake_w
            self.slots = [_Slot() for _ in range(self.count)]
            pipes = _Pipes(ready_r, ready_w, life_r, life_w, wake_r, wake_w)
            for slot in self.slots:
                self._start(slot, pipes)
            self._supervise(pipes)
            self._stop_all()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for fd in (ready_r, ready_w, life_r, life_w, wake_r, wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
        return 1 if self._failed else 0

    def _on_stop(self, _sig: int, _frame: FrameType | None) -> None:
        self._stopping = True

    def _start(self, slot: _Slot, pipes: _Pipes) -> None:
        for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        pid = os.fork()
        if pid == 0:
            self._child(pipes)  # never returns
        slot.pid, slot.started, slot.restart_at = pid, self.clock(), None

    def _child(self, pipes: _Pipes) -> None:
        status = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for fd in (pipes.ready_r, pipes.life_w, pipes.wake_r, pipes.wake_w):
                os.close(fd)
            context = WorkerContext(self.listening.worker_socket(), pipes.life_r, pipes.ready_w)
            status = self.serve(context)
        except KeyboardInterrupt:
            status = 0
        except BaseException as exc:
            with contextlib.suppress(Exception):
                self.log(f"tls12 serve: worker {os.getpid()} failed: {exc!r}")
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
            os._exit(status)

    def _supervise(self, pipes: _Pipes) -> None:
        pending = b""
        while not self._stopping:
            self._reap()
            if self._stopping:
                break
            now = self.clock()
            for slot in self.slots:
                if slot.pid is None and slot.restart_at is not None and slot.restart_at <= now:
                    self._start(slot, pipes)
            waits = [slot.restart_at - now for slot in self.slots if slot.pid is None and slot.restart_at is not None]
            timeout = max(0.0, min(waits)) if waits else None
            readable, _, _ = select.select([pipes.ready_r, pipes.wake_r], [], [], timeout)
            if pipes.wake_r in readable:
                with contextlib.suppress(BlockingIOError):
                    while os.read(pipes.wake_r, 512):
                        pass
            if pipes.ready_r in readable:
                with contextlib.suppress(BlockingIOError):
                    pending += os.read(pipes.ready_r, 4096)
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._ready(line)

    def _ready(self, line: bytes) -> None:
        try:
            pid = int(line)
        except ValueError:
            return
        self._served = True
        if not self._announced:
            serving = {slot.pid for slot in self.slots}
            self._ready_pids.add(pid)
            if serving <= self._ready_pids:
                self._announced = True
                self.on_all_ready()
        else:
            self.log(f"tls12 serve: worker {pid} serving")

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = next((s for s in self.slots if s.pid == pid), None)
            if slot is None:
                continue
            slot.pid = None
            was_ready = pid in self._ready_pids
            self._ready_pids.discard(pid)
            if self._stopping:
                continue
            slot.unready_deaths = 0 if was_ready else slot.unready_deaths + 1
            if not self._served and slot.unready_deaths >= START_ATTEMPTS:
                self.log(f"tls12 serve: worker {pid} {_how_it_ended(status)} before serving, "
                         f"{slot.unready_deaths} times in a row; no worker could start, stopping")
                self._failed = self._stopping = True
                return
            lived = self.clock() - slot.started
            slot.young_deaths = 0 if lived >= STABLE_SECONDS else slot.young_deaths + 1
            pause = 0.0 if slot.young_deaths == 0 else min(MAX_PAUSE, FIRST_PAUSE * 2 ** (slot.young_deaths - 1))
            slot.restart_at = self.clock() + pause
            self.log(f"tls12 serve: worker {pid} {_how_it_ended(status)} after {lived:.1f} s; "
                     f"restarting it{f' in {pause:g} s' if pause else ''}")

    def _stop_all(self) -> None:
        for slot in self.slots:
            if slot.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, signal.SIGTERM)
        deadline = self.clock() + STOP_GRACE
        while any(slot.pid is not None for slot in self.slots):
            if self.clock() >= deadline:
                for slot in self.slots:
                    if slot.pid is not None:
                        self.log(f"tls12 serve: worker {slot.pid} did not stop within {STOP_GRACE:g} s; killing it")
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(slot.pid, signal.SIGKILL)
                        with contextlib.suppress(ChildProcessError):
                            os.waitpid(slot.pid, 0)
                        slot.pid = None
                break
            self._reap()
            time.sleep(0.02)


@dataclass
class _Pipes:
    ready_r: int
    ready_w: int
    life_r: int
    life_w: int
    wake_r: int
    wake_w: int


def _how_it_ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"was killed by {name}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


def run_workers(count: int, listening: Listening, serve: Callable[[WorkerContext], int],
                log: Callable[[str], None], on_all_ready: Callable[[], None]) -> int:
    """Run `count` workers until SIGINT or SIGTERM (0 then), or until none can start (1)."""
    fleet = Fleet(count, listening, serve, log, on_all_ready)
    try:
        return fleet.run()
    finally:
        listening.close()
