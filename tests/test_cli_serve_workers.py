"""`tls12 serve --workers N`: N processes answer on one port, a worker that dies is restarted, and Ctrl-C,
SIGTERM or the parent's death leaves no process behind.

Which worker served a connection comes from the log: every line of a worker starts with "worker PID:".
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cli_support import TIMEOUT, ServeProcess, serve, tls12

# The shared-socket way, as on a system without a load-spreading SO_REUSEPORT: the same program with the
# switch off (not a mock: the real fork-after-listen path runs).
SHARED_SOCKET = ("-c", "import sys, tls12.cli.workers as w; w.REUSE_PORT = False; "
                       "from tls12.cli.main import main; sys.exit(main(sys.argv[1:]))")


def _get(port: int, ca: Path) -> int:
    """One HTTPS request to --www; the client's own port (which names the connection in the log)."""
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        local_port: int = tls.getsockname()[1]
        tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.0 200 OK"), answer[:100]
        return local_port


def _served_by(server: ServeProcess, client_ports: list[int]) -> dict[int, int]:
    """client port -> pid of the worker that logged its handshake."""
    server.wait_for(rf"127\.0\.0\.1:{client_ports[-1]} handshake ok".encode())
    found = {int(port): int(pid) for pid, port in
             re.findall(r"worker (\d+): 127\.0\.0\.1:(\d+) handshake ok", server.output())}
    return {port: found[port] for port in client_ports}


def _gone(pid: int, timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def _workers(tmp_path: Path, *args: str, launcher: tuple[str, ...] = ("-m", "tls12"),
             new_session: bool = False) -> Iterator[tuple[ServeProcess, Path]]:
    ca = tmp_path / "ca.pem"
    with serve(tmp_path, "--www", "--write-ca", str(ca), *args, launcher=launcher, new_session=new_session) as server:
        try:
            yield server, ca
        finally:
            # Whatever the test did, nothing it started may outlive it (and hold the log pipe open).
            if server.popen.poll() is None:
                server.popen.terminate()
                server.popen.wait(TIMEOUT)
            for pid in {int(p) for p in re.findall(r"worker (\d+)", server.output())}:
                if not _gone(pid, 0.5):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)


def test_two_workers_answer_on_one_port(tmp_path: Path) -> None:
    with _workers(tmp_path, "--workers", "2") as (server, ca):
        assert re.search(r"listening on 127\.0\.0\.1:\d+ \(www; .*; 2 workers, SO_REUSEPORT\)", server.output())
        served = _served_by(server, [_get(server.port, ca) for _ in range(24)])
        pids = set(served.values())
        assert len(pids) == 2, served
        assert server.popen.pid not in pids  # the parent only supervises


def test_two_workers_share_one_socket_without_reuseport(tmp_path: Path) -> None:
    with _workers(tmp_path, "--workers", "2", launcher=SHARED_SOCKET) as (server, ca):
        assert "2 workers, one shared socket)" in server.output()
        served = _served_by(server, [_get(server.port, ca) for _ in range(24)])
        assert len(set(served.values())) == 2, served


def test_a_killed_worker_is_restarted(tmp_path: Path) -> None:
    with _workers(tmp_path, "--workers", "2") as (server, ca):
        first = _served_by(server, [_get(server.port, ca) for _ in range(16)])
        victim, survivor = sorted(set(first.values()))
        os.kill(victim, signal.SIGKILL)
        server.wait_for(rf"worker {victim} was killed by SIGKILL after [\d.]+ s; restarting it in 0\.5 s".encode())
        replacement = int(server.wait_for(rb"worker (\d+) serving").group(1))
        assert replacement not in (victim, survivor)
        # One that dies young again waits twice as long.
        os.kill(replacement, signal.SIGKILL)
        server.wait_for(rf"worker {replacement} was killed by SIGKILL after [\d.]+ s; restarting it in 1 s".encode())
        third = int(server.wait_for(rb"worker (?!" + str(replacement).encode() + rb")(\d+) serving").group(1))
        assert _gone(victim) and _gone(replacement)
        later = _served_by(server, [_get(server.port, ca) for _ in range(24)])
        assert set(later.values()) == {survivor, third}, later


def test_ctrl_c_stops_every_worker(tmp_path: Path) -> None:
    # Ctrl-C in a terminal signals the whole process group: the parent and every worker.
    with _workers(tmp_path, "--workers", "2", new_session=True) as (server, ca):
        pids = set(_served_by(server, [_get(server.port, ca) for _ in range(24)]).values())
        assert len(pids) == 2
        os.killpg(server.popen.pid, signal.SIGINT)
        assert server.popen.wait(TIMEOUT) == 0
        assert server.output().rstrip().endswith("tls12 serve: stopped")
        assert "restarting" not in server.output()
        assert all(_gone(pid) for pid in pids)


def test_sigterm_to_the_parent_stops_every_worker(tmp_path: Path) -> None:
    with _workers(tmp_path, "--workers", "3") as (server, ca):
        pids = {int(p) for p in re.findall(r"worker (\d+)", server.output())}
        pids |= set(_served_by(server, [_get(server.port, ca) for _ in range(8)]).values())
        server.popen.send_signal(signal.SIGTERM)
        assert server.popen.wait(TIMEOUT) == 0
        assert all(_gone(pid) for pid in pids)
        with socket.socket() as probe:  # nobody listens there any more
            assert probe.connect_ex(("127.0.0.1", server.port)) != 0


def test_workers_stop_when_the_parent_is_killed(tmp_path: Path) -> None:
    with _workers(tmp_path, "--workers", "2") as (server, ca):
        pids = set(_served_by(server, [_get(server.port, ca) for _ in range(24)]).values())
        assert len(pids) == 2
        server.popen.kill()  # no chance to stop them: they notice the parent is gone
        server.popen.wait(TIMEOUT)
        assert all(_gone(pid, 10) for pid in pids)


def test_workers_must_be_a_positive_count() -> None:
    result = tls12("serve", "--workers", "0")
    assert result.returncode == 2
    assert "--workers: must be at least 1" in result.stderr


def test_workers_never_split_each_others_log_lines(tmp_path: Path) -> None:
    with _workers(tmp_path, "--workers", "2") as (server, ca), ThreadPoolExecutor(4) as pool:
        ports = list(pool.map(lambda _: _get(server.port, ca), range(300)))
        served = _served_by(server, ports)
        assert len(set(served.values())) == 2
        lines = server.output().splitlines()
    assert all(re.match(r"(worker \d+: |tls12 serve: )", line) for line in lines), lines
    assert sum(" handshake ok: " in line for line in lines) == 300


def test_workers_that_cannot_start_end_the_fleet() -> None:
    """A worker that dies before it serves, three times in a row, before any worker has served: the
    parent stops the others and exits 1 instead of restarting them forever."""
    script = (
        "import sys, tls12.cli.workers as w\n"
        "def serve(ctx):\n"
        "    raise OSError('cannot start')\n"
        "listening = w.listen('127.0.0.1', 0)\n"
        "sys.exit(w.run_workers(2, listening, serve, lambda line: print(line, flush=True), lambda: None))\n"
    )
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT * 2,
                            check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no worker could start, stopping" in result.stdout, result.stdout
    assert result.stdout.count("failed: OSError('cannot start')") >= 3, result.stdout
    assert time.monotonic() - started < TIMEOUT

