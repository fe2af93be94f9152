"""`tls12 serve` keeps serving while some clients are hostile: load, slowloris, resets, never-readers, garbage.

Every server here is a real `tls12 serve --echo` process on 127.0.0.1 (a port
the OS picked), measured from outside through /proc: resident memory (VmRSS)
and open file descriptors, before, at the peak of and after each storm. While
each storm runs, an ordinary stdlib-ssl client keeps completing echo sessions
against the same server, and at the end the server must stop on SIGINT with
exit code 0 and an empty stderr (no traceback, nothing from asyncio's
exception handler). test_server_survival_inprocess.py runs the asyncio server
in this process, where the exception handler and every connection object can
be checked directly.

Memory. CPython does not hand freed memory back to the system eagerly (pymalloc
arenas and the C heap stay mapped, and closed connections wait for the cyclic
garbage collector), so VmRSS after a storm sits near the high-water mark of
the first storm of that shape, not at the cold-start figure. Each storm is
therefore run twice: the first run is the warm-up, and the baseline is the
larger of VmRSS after it and its peak during it (the allocator's high-water
mark); after the measured run, VmRSS must be within RSS_TOLERANCE of that
baseline, i.e. a second identical storm may not need more memory than the
first. 8 MiB is several times the drift measured between identical runs (at
most about 2 MiB against this baseline) and well below what a leak costs: a
connection's state after its handshake is about 7 KiB of Python objects plus
its AES-GCM contexts, so keeping it for each of the 2,000 connections of the
load test, or keeping a never-reader's buffered echo (hundreds of KiB each),
would exceed it. Closed connections are freed by the cyclic garbage collector,
which `tls12 serve` runs once it has been idle for a second, so every
measurement is taken after that. File descriptors must come back exactly. The
in-process tests check the same thing exactly: no connection object is left
alive.

All counts are bounded (at most 500 connections at once, 4,000 handshakes in
the largest test) and every wait has a timeout; run with `pytest -s` to see
the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import pytest

from loadclient import (
    CLOSE_NOTIFY_ALERT,
    TIMEOUT,
    BioClient,
    PeakSampler,
    ServeProcess,
    client_context,
    client_hello,
    close_tls,
    echo,
    echo_session,
    gather_bounded,
    handshake_load,
    open_tls,
    parse_alerts,
    raise_fd_limit,
    raw_connect,
    read_until_closed,
    reset,
    served_meanwhile,
)

pytestmark = pytest.mark.interop

T = TypeVar("T")

RSS_TOLERANCE_KIB = 8 * 1024
HELD_CONNECTIONS = 500
LOAD_HANDSHAKES = 2000
LOAD_CONCURRENCY = 100

FAILED = r"^127\.0\.0\.1:\d+ failed: "
HANDSHAKE_OK = r"^127\.0\.0\.1:\d+ handshake ok: "

# Alert descriptions (RFC 5246 §7.2).
CLOSE_NOTIFY, UNEXPECTED_MESSAGE, RECORD_OVERFLOW, DECODE_ERROR, PROTOCOL_VERSION = 0, 10, 22, 50, 70
FATAL = 2


@pytest.fixture(scope="module", autouse=True)
def _enough_file_descriptors() -> None:
    # 500 client sockets here plus the server's 500 (it inherits this limit, and raises its own).
    raise_fd_limit(2 * HELD_CONNECTIONS + 256)


@pytest.fixture
def ca_file(pem_dir: Path) -> Path:
    return pem_dir / "ca.pem"


@pytest.fixture
def serve(tmp_path: Path, pem_dir: Path) -> Iterator[Callable[..., ServeProcess]]:
    """`tls12 serve --echo` with the session's certificate, plus ARGS; killed at teardown if still running."""
    procs: list[ServeProcess] = []

    def start(*args: str) -> ServeProcess:
        proc = ServeProcess(["--cert", str(pem_dir / "leaf.pem"), "--key", str(pem_dir / "leaf.key"), "--echo",
                             *args], tmp_path / f"serve{len(procs)}.stderr")
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()


def quiet(server: ServeProcess) -> None:
    """Wait until the server holds no connection (its fds are those it had on starting), and let
    its last callbacks run (a closed connection's memory is freed as soon as it is lost)."""
    assert server.wait_fds(server.idle_fds) == server.idle_fds, server.describe()
    time.sleep(0.5)


@dataclass
class Storm(Generic[T]):
    """A storm run twice: the warm-up, then the measured run (memory in KiB of VmRSS, and fds)."""

    warm_up: T
    result: T
    rss_cold: int
    rss_warm_up_peak: int
    rss_before: int
    rss_peak: int
    rss_after: int
    fds_before: int
    fds_peak: int
    fds_after: int

    def figures(self) -> dict[str, object]:
        return {"rss_cold_kib": self.rss_cold, "rss_warm_up_peak_kib": self.rss_warm_up_peak,
                "rss_before_kib": self.rss_before, "rss_peak_kib": self.rss_peak, "rss_after_kib": self.rss_after,
                "fds_before": self.fds_before, "fds_peak": self.fds_peak, "fds_after": self.fds_after}


def storm_twice(server: ServeProcess, storm: Callable[[], T], what: str) -> Storm[T]:
    """Run `storm` as a warm-up, take the baseline, run it again under measurement and check that the
    server comes back: exactly the same fds, and VmRSS no more than RSS_TOLERANCE_KIB above the baseline
    (the larger of VmRSS after the warm-up and its peak during it: the allocator's high-water mark)."""
    rss_cold = server.rss_kib()
    with PeakSampler(server) as warm_peak:
        warm = storm()
    quiet(server)
    fds_before, rss_before = server.fds(), server.rss_kib()
    with PeakSampler(server) as peak:
        result = storm()
    fds_after = server.wait_fds(fds_before)
    assert fds_after == fds_before, (
        f"{what}: {fds_after} fds open after the storm, {fds_before} before\n{server.describe()}")
    quiet(server)
    rss_after = server.rss_kib()
    baseline = max(rss_before, warm_peak.peak_rss_kib)
    assert rss_after <= baseline + RSS_TOLERANCE_KIB, (
        f"{what}: VmRSS {rss_after} KiB after the storm; {rss_before} KiB before it, {warm_peak.peak_rss_kib} KiB "
        f"at the peak of the warm-up (tolerance {RSS_TOLERANCE_KIB} KiB)")
    return Storm(warm, result, rss_cold, warm_peak.peak_rss_kib, rss_before, peak.peak_rss_kib, rss_after,
                 fds_before, peak.peak_fds, fds_after)


def stop_cleanly(server: ServeProcess) -> None:
    code = server.stop()
    assert code == 0, server.describe()
    assert server.lines[-1] == "tls12 serve: stopped", server.describe()
    assert server.stderr() == "", f"tls12 serve wrote to stderr:\n{server.stderr()}"


def report(name: str, **figures: object) -> None:
    print(f"\n[{name}] " + ", ".join(f"{k}={v}" for k, v in figures.items()))


# -- 1. many connections at once ------------------------------------------------------------------


def test_500_concurrent_connections_held_open_then_closed(serve: Callable[..., ServeProcess], ca_file: Path) -> None:
    server = serve()
    ctx = client_context(ca_file)

    async def hold() -> tuple[int, float]:
        """Open 500 connections, check that all are open at once and all work, close them; (fds held, s)."""
        start = time.monotonic()
        opened = await gather_bounded([open_tls(server.port, ctx) for _ in range(HELD_CONNECTIONS)], 100)
        conns = [c for c in opened if isinstance(c, tuple)]
        held_fds = server.fds()  # every connection is open at this point
        # Each of them still works while all the others are open.
        await asyncio.gather(*(echo(r, w, f"connection {i}".encode()) for i, (r, w) in enumerate(conns)))
        await asyncio.gather(*(close_tls(w) for _, w in conns))
        return held_fds, time.monotonic() - start

    storm = storm_twice(server, lambda: asyncio.run(hold()), "500 held")
    for held_fds, _ in (storm.warm_up, storm.result):
        assert held_fds == server.idle_fds + HELD_CONNECTIONS, f"{held_fds} fds with {HELD_CONNECTIONS} open"
    assert server.wait_count(HANDSHAKE_OK, 2 * HELD_CONNECTIONS) == 2 * HELD_CONNECTIONS
    assert server.count(FAILED) == 0, server.matching(FAILED)[:5]
    report("500 concurrent", connections=HELD_CONNECTIONS, seconds=f"{storm.result[1]:.1f}",
           fds_held=storm.result[0], **storm.figures())
    stop_cleanly(server)


def test_2000_handshakes_from_100_concurrent_clients(serve: Callable[..., ServeProcess], ca_file: Path) -> None:
    server = serve()
    ctx = client_context(ca_file)
    # Both runs (the warm-up and the measured one) must be flawless.
    storm = storm_twice(server, lambda: asyncio.run(handshake_load(server.port, ctx, LOAD_HANDSHAKES,
                                                                   LOAD_CONCURRENCY)), "2,000 handshakes")
    for run in (storm.warm_up, storm.result):
        assert not run.failures, f"{len(run.failures)} failures: {run.failures[:5]}\n{server.describe()}"
        assert run.ok == LOAD_HANDSHAKES
    assert server.wait_count(HANDSHAKE_OK, 2 * LOAD_HANDSHAKES) == 2 * LOAD_HANDSHAKES
    assert server.count(FAILED) == 0, server.matching(FAILED)[:5]
    # A client's next connection may arrive before the server has processed the close of its last one.
    assert storm.fds_peak <= storm.fds_before + 3 * LOAD_CONCURRENCY, storm.fds_peak
    latencies = sorted(storm.result.latencies)
    report("2000 handshakes", clients=LOAD_CONCURRENCY, handshakes=storm.result.ok,
           failures=len(storm.result.failures),
           handshakes_per_s=f"{storm.result.rate:.0f} (warm-up run {storm.warm_up.rate:.0f})",
           p50_ms=f"{1000 * latencies[len(latencies) // 2]:.0f}",
           p99_ms=f"{1000 * latencies[int(len(latencies) * 0.99)]:.0f}", **storm.figures())
    stop_cleanly(server)


# -- 2. slow clients: the handshake timeout and the idle timeout ----------------------------------


def test_slowloris_is_cut_off_by_the_handshake_timeout_while_others_are_served(
        serve: Callable[..., ServeProcess], ca_file: Path) -> None:
    timeout, lorises = 1.5, 40
    server = serve("--handshake-timeout", str(timeout))
    ctx = client_context(ca_file)
    hello = client_hello(ctx)

    async def loris() -> tuple[float, bytes, int]:
        """A real ClientHello, one byte a second; (seconds until the server closed, what it sent, bytes sent)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        start, got, sent = time.monotonic(), bytearray(), 0
        try:
            while time.monotonic() - start < 4 * timeout:
                if sent < len(hello):
                    writer.write(hello[sent : sent + 1])
                    sent += 1
                try:
                    chunk = await asyncio.wait_for(reader.read(1024), 1.0)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError:
            pass
        finally:
            writer.close()
        return time.monotonic() - start, bytes(got), sent

    async def lorises_and_others() -> tuple[list[tuple[float, bytes, int]], list[float]]:
        tasks = [asyncio.create_task(loris()) for _ in range(lorises)]
        await asyncio.sleep(0.2)
        others = await served_meanwhile(server.port, ctx, lambda: all(t.done() for t in tasks))
        return [await t for t in tasks], others

    storm = storm_twice(server, lambda: asyncio.run(lorises_and_others()), "slowloris")
    for results, others in (storm.warm_up, storm.result):
        for seconds, got, sent in results:
            # Closed at the deadline although it never stopped sending: a total, not an inactivity, timeout.
            assert timeout - 0.25 <= seconds <= timeout + 1.5, f"closed after {seconds:.2f} s"
            assert 1 < sent < len(hello)
            assert got in (b"", CLOSE_NOTIFY_ALERT), got
        assert len(others) >= 3, others
        assert max(others) < timeout, f"a normal client took {max(others):.2f} s during the slowloris"
    expected = 2 * lorises
    assert server.wait_count(rf"{FAILED}no handshake within {timeout:g} s$", expected) == expected, server.describe()
    results, others = storm.result
    report("slowloris", connections=lorises, handshake_timeout_s=timeout,
           closed_after_s=f"{min(r[0] for r in results):.2f}..{max(r[0] for r in results):.2f}",
           normal_sessions_meanwhile=len(others), slowest_normal_ms=f"{1000 * max(others):.0f}", **storm.figures())
    stop_cleanly(server)


def test_idle_timeout_closes_quiet_connections_not_busy_ones(serve: Callable[..., ServeProcess],
                                                             ca_file: Path) -> None:
    idle = 1.0
    server = serve("--idle-timeout", str(idle))
    ctx = client_context(ca_file)

    async def quiet_client() -> float:
        reader, writer = await open_tls(server.port, ctx)
        start = time.monotonic()
        try:
            assert await asyncio.wait_for(reader.read(100), TIMEOUT) == b""  # close_notify, then EOF
        finally:
            await close_tls(writer)
        return time.monotonic() - start

    async def busy_client() -> int:
        reader, writer = await open_tls(server.port, ctx)
        rounds = 0
        deadline = time.monotonic() + 2.5 * idle
        while time.monotonic() < deadline:
            await echo(reader, writer, b"still busy")
            rounds += 1
            await asyncio.sleep(idle / 3)
        await close_tls(writer)
        return rounds

    async def both() -> tuple[float, int]:
        return await asyncio.gather(quiet_client(), busy_client())

    quiet_for, rounds = asyncio.run(both())
    assert idle - 0.25 <= quiet_for <= idle + 1.5, quiet_for
    assert rounds >= 6
    assert server.matching(FAILED) == [server.wait_for(rf"{FAILED}idle for {idle:g} s$").string]
    report("idle timeout", idle_timeout_s=idle, quiet_closed_after_s=f"{quiet_for:.2f}", busy_rounds=rounds)
    stop_cleanly(server)


# -- 3. clients that vanish or reset --------------------------------------------------------------


def test_clients_vanishing_or_resetting_mid_handshake_and_mid_record(serve: Callable[..., ServeProcess],
                                                                     ca_file: Path) -> None:
    server = serve()
    ctx = client_context(ca_file)
    hello = client_hello(ctx)

    def cut_hello(close: Callable[[socket.socket], None]) -> int:
        sock = raw_connect(server.port)
        port: int = sock.getsockname()[1]
        sock.sendall(hello[: len(hello) // 2])
        time.sleep(0.05)
        close(sock)
        return port

    def after_server_flight(close: Callable[[socket.socket], None]) -> int:
        sock = raw_connect(server.port)
        port: int = sock.getsockname()[1]
        sock.sendall(hello)
        assert sock.recv(5)[:1] == b"\x16"  # the server's flight has started
        close(sock)
        return port

    def mid_record(close: Callable[[socket.socket], None]) -> int:
        client = BioClient(server.port, ctx)
        client.handshake()
        records = client.records(b"cut short " * 100)
        client.sock.sendall(records[: len(records) // 2])
        time.sleep(0.05)
        port: int = client.sock.getsockname()[1]
        close(client.sock)
        return port

    def echo_then_reset(_: Callable[[socket.socket], None]) -> int:
        client = BioClient(server.port, ctx)
        client.handshake()
        client.sock.sendall(client.records(os.urandom(64 * 1024)))  # the echo runs into the reset
        port: int = client.sock.getsockname()[1]
        reset(client.sock)
        return port

    truncated_hs = r"closed the connection during the handshake"
    reset_by_peer = r"Connection reset by peer"
    scenarios: dict[str, tuple[Callable[[Callable[[socket.socket], None]], int], Callable[[socket.socket], None],
                               str]] = {
        "half a ClientHello, then FIN": (cut_hello, socket.socket.close, truncated_hs),
        "half a ClientHello, then RST": (cut_hello, reset, reset_by_peer),
        "after the server's first flight, FIN": (after_server_flight, socket.socket.close,
                                                 f"{truncated_hs}|{reset_by_peer}"),
        "after the server's first flight, RST": (after_server_flight, reset, reset_by_peer),
        "half an application-data record, then FIN": (mid_record, socket.socket.close, "without close_notify"),
        "half an application-data record, then RST": (mid_record, reset, reset_by_peer),
        "64 KiB to echo, then RST": (echo_then_reset, reset, f"{reset_by_peer}|Broken pipe"),
    }
    per_scenario = 20
    jobs = [(name, fn, close) for name, (fn, close, _) in scenarios.items() for _ in range(per_scenario)]

    async def vanish() -> tuple[list[tuple[str, int]], list[float]]:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=16) as pool:
            futures = [loop.run_in_executor(pool, fn, close) for _, fn, close in jobs]
            done = asyncio.gather(*futures)
            others = await served_meanwhile(server.port, client_context(ca_file), done.done)
            ports = await done
        return [(name, port) for (name, _, _), port in zip(jobs, ports, strict=True)], others

    storm = storm_twice(server, lambda: asyncio.run(vanish()), "vanish/reset")
    hostile = 2 * len(jobs)
    assert server.wait_count(FAILED, hostile) == hostile, server.describe()
    reasons = {int(m.group(1)): m.group(2) for line in server.matching(FAILED)
               if (m := re.match(r"^127\.0\.0\.1:(\d+) failed: (.*)$", line))}
    for name, port in storm.warm_up[0] + storm.result[0]:
        assert port in reasons, f"{name}: no failure line for port {port}"
        assert re.search(scenarios[name][2], reasons[port]), f"{name}: {reasons[port]!r}"
    others = storm.result[1]
    report("vanish and reset", hostile_connections=len(jobs), scenarios=len(scenarios),
           normal_sessions_meanwhile=len(others), slowest_normal_ms=f"{1000 * max(others):.0f}", **storm.figures())
    stop_cleanly(server)


# -- 4. clients that never read -------------------------------------------------------------------


def _kernel_buffer_max(name: str) -> int:
    return int(Path(f"/proc/sys/net/ipv4/{name}").read_text().split()[2])


def test_clients_that_never_read_are_not_buffered_without_bound(serve: Callable[..., ServeProcess],
                                                               ca_file: Path) -> None:
    idle, readers = 2.0, 20
    # What each would push if the server kept reading: more than the kernel can buffer for one
    # connection (the server's receive buffer autotunes up to tcp_rmem's maximum, the client's send
    # buffer up to tcp_wmem's), so a client that gets this far was being read.
    cap = _kernel_buffer_max("tcp_rmem") + _kernel_buffer_max("tcp_wmem") + 8 * 1024 * 1024
    server = serve("--idle-timeout", str(idle))
    ctx = client_context(ca_file)
    chunk = b"never read me " * 1170  # 16 KiB: one record each

    def push(client: BioClient) -> tuple[int, bool]:
        """Send echo requests, never reading, until a send blocks for half a second (or the server, having
        stopped reading, already dropped the connection); (bytes sent, stopped)."""
        client.sock.settimeout(0.5)
        sent = 0
        while sent < cap:
            try:
                client.sock.sendall(client.records(chunk))
            except (TimeoutError, ConnectionResetError, BrokenPipeError):
                return sent, True
            sent += len(chunk)
        return sent, False

    async def stuck() -> tuple[list[tuple[int, bool]], int, list[float], int]:
        """Push until stuck; (pushed, fds while stuck, normal sessions meanwhile, fds once reaped)."""
        clients = [BioClient(server.port, ctx, rcvbuf=16 * 1024) for _ in range(readers)]
        try:
            for client in clients:
                client.handshake()
            loop = asyncio.get_running_loop()
            with ThreadPoolExecutor(max_workers=readers) as pool:
                pushed = await asyncio.gather(*(loop.run_in_executor(pool, push, c) for c in clients))
            # All of them are stuck now, and the server still serves others.
            stuck_fds = server.fds()
            others = [await echo_session(server.port, ctx, b"I do read") for _ in range(3)]
            # The idle timeout reaps the stuck ones (nothing arrives, nothing drains) while their clients hold on.
            reaped_fds = await loop.run_in_executor(None, server.wait_fds, server.idle_fds, idle + TIMEOUT)
        finally:
            for client in clients:
                reset(client.sock)
        return pushed, stuck_fds, others, reaped_fds

    storm = storm_twice(server, lambda: asyncio.run(stuck()), "never-readers")
    for pushed, _, _, reaped_fds in (storm.warm_up, storm.result):
        assert all(stopped for _, stopped in pushed), f"the server read everything: {pushed}"
        # (The first ones to get stuck may already have been reaped by the time the last one is.)
        assert reaped_fds == server.idle_fds, f"{reaped_fds} fds after the idle timeout\n{server.describe()}"
    pushed, stuck_fds, others, _ = storm.result
    total = sum(n for n, _ in pushed)
    # From the cold start (both runs: the warm-up's peak counts too). What the server may hold per stuck
    # client: the write buffer up to the high-water mark (64 KiB) plus one read's echo (at most 256 KiB)
    # and one record; 1 MiB each is generous. Without backpressure it would hold most of what the clients
    # pushed (hundreds of MiB).
    growth = max(storm.rss_warm_up_peak, storm.rss_peak) - storm.rss_cold
    assert growth <= readers * 1024 + RSS_TOLERANCE_KIB, (
        f"VmRSS grew {growth} KiB while {readers} clients pushed {total // 1024} KiB without reading")
    assert server.wait_count(rf"{FAILED}idle for {idle:g} s$", 2 * readers) == 2 * readers, server.describe()
    report("never read", clients=readers, idle_timeout_s=idle, pushed_kib_total=total // 1024,
           pushed_kib_each=f"{min(n for n, _ in pushed) // 1024}..{max(n for n, _ in pushed) // 1024}",
           rss_growth_kib=growth, fds_stuck=stuck_fds, slowest_normal_ms=f"{1000 * max(others):.0f}",
           **storm.figures())
    stop_cleanly(server)


# -- 5. garbage -----------------------------------------------------------------------------------


GARBAGE: dict[str, tuple[Callable[[], bytes], int | None]] = {
    # name: (bytes to send, the alert expected (None: any fatal alert))
    "an HTTP request": (lambda: b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", UNEXPECTED_MESSAGE),
    "zeros": (lambda: bytes(4096), UNEXPECTED_MESSAGE),
    "an SSLv2 hello": (lambda: bytes.fromhex("802e0103010015000000100000390000380000350000") + bytes(25),
                       UNEXPECTED_MESSAGE),
    "a 64 KiB record": (lambda: b"\x16\x03\x01\xff\xff" + os.urandom(1000), RECORD_OVERFLOW),
    "record version 9.9": (lambda: b"\x16\x09\x09\x00\x05" + os.urandom(5), PROTOCOL_VERSION),
    "a ClientHello of 4 bytes": (lambda: b"\x16\x03\x01\x00\x08\x01\x00\x00\x04\xff\xff\xff\xff", DECODE_ERROR),
    "application data first": (lambda: b"\x17\x03\x03\x00\x10" + os.urandom(16), UNEXPECTED_MESSAGE),
    "64 KiB of random bytes": (lambda: os.urandom(64 * 1024), None),
}


def test_a_flood_of_garbage_gets_alerts_and_harms_nobody(serve: Callable[..., ServeProcess], ca_file: Path) -> None:
    server = serve()
    ctx = client_context(ca_file)
    per_kind = 100
    jobs = [name for name in GARBAGE for _ in range(per_kind)]

    def flood_one(name: str) -> tuple[str, bytes, str]:
        with raw_connect(server.port) as sock:
            # The server may give up before reading it all (a reset): its alert is already on the way.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(GARBAGE[name][0]())
            data, how = read_until_closed(sock)
        return name, data, how

    async def flood() -> tuple[list[tuple[str, bytes, str]], list[float], float]:
        start = time.monotonic()
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=32) as pool:
            done = asyncio.gather(*(loop.run_in_executor(pool, flood_one, name) for name in jobs))
            others = await served_meanwhile(server.port, ctx, done.done)
            return await done, others, time.monotonic() - start

    storm = storm_twice(server, lambda: asyncio.run(flood()), "garbage")
    for results, _, _ in (storm.warm_up, storm.result):
        for name, data, how in results:
            alerts = parse_alerts(data)
            assert len(alerts) == 1 and alerts[0][0] == FATAL, f"{name}: {data!r}"
            expected = GARBAGE[name][1]
            assert expected is None or alerts[0][1] == expected, f"{name}: alert {alerts[0][1]}, expected {expected}"
            assert how in ("eof", "reset"), f"{name}: the server did not close ({how})"
    assert server.wait_count(FAILED, 2 * len(jobs)) == 2 * len(jobs), server.describe()
    _, others, seconds = storm.result
    report("garbage", connections=len(jobs), kinds=len(GARBAGE), seconds=f"{seconds:.1f}",
           normal_sessions_meanwhile=len(others), slowest_normal_ms=f"{1000 * max(others):.0f}", **storm.figures())
    stop_cleanly(server)


# -- 6. the connection limit ----------------------------------------------------------------------


def test_connections_beyond_the_limit_are_dropped_and_slots_come_back(serve: Callable[..., ServeProcess],
                                                                    ca_file: Path) -> None:
    limit, extra = 50, 20
    server = serve("--max-connections", str(limit))
    ctx = client_context(ca_file)
    base_fds = server.fds()

    async def scenario() -> tuple[int, list[str]]:
        held = [await open_tls(server.port, ctx) for _ in range(limit)]
        held_fds = server.fds()
        outcomes = []
        for _ in range(extra):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            try:
                outcomes.append("closed" if await asyncio.wait_for(reader.read(100), TIMEOUT) == b"" else "data")
            except ConnectionResetError:
                outcomes.append("closed")
            writer.close()
        await echo(*held[0], b"the held ones still work")
        for _, writer in held[:10]:
            await close_tls(writer)
        await asyncio.sleep(0.2)
        await echo_session(server.port, ctx, b"a freed slot")  # there is room again
        for _, writer in held[10:]:
            await close_tls(writer)
        return held_fds, outcomes

    held_fds, outcomes = asyncio.run(scenario())
    assert held_fds == base_fds + limit
    assert outcomes == ["closed"] * extra
    assert server.wait_count(r"^127\.0\.0\.1:\d+ refused: ", extra) == extra
    assert server.wait_fds(base_fds) == base_fds
    assert server.count(FAILED) == 0, server.matching(FAILED)
    report("connection limit", limit=limit, refused=extra)
    stop_cleanly(server)
