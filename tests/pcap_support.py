"""Packet captures for the pcap tests: made by dumpcap on loopback, or built packet by packet with the libraries.

`Dumpcap` captures one TCP port on `lo` (or `any`) for the length of a `with`
block; it is only entered once dumpcap really captures (a UDP probe to a port
of ours shows up in its packet count) and left once dumpcap has written the
file out. `frames()` and `write_capture()` build captures with dpkt and
python-pcapng directly (not through tls12), for rewritten and damaged
captures.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dpkt
import pcapng
import pytest
from pcapng import blocks

LOOPBACK = "127.0.0.1"


def require(*tools: str) -> None:
    """A missing tool is a failure, never a skip: .ci/install-peers installs them."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"not installed: {', '.join(missing)} (.ci/install-peers installs them)", pytrace=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, timeout: float = 20.0, host: str = LOOPBACK) -> None:
    deadline = time.monotonic() + timeout
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    while time.monotonic() < deadline:
        with socket.socket(family) as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {host} port {port} after {timeout} s")


class Process:
    """A background process with its output collected, stopped (its process group) by `stop()`."""

    def __init__(self, args: Sequence[str | os.PathLike[str]], *, stdin: bytes | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.args = [str(a) for a in args]
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     env={**os.environ, **(env or {})})
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if stdin is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(stdin)
            self.proc.stdin.close()  # end of input, as `cmd < file` gives

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for chunk in iter(lambda: self.proc.stdout.read1(4096), b""):  # type: ignore[union-attr]
            self.output += chunk

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def wait_for(self, pattern: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.args[0]}: no {pattern!r} within {timeout} s:\n{self.text}")
            time.sleep(0.05)

    def wait(self, timeout: float) -> int:
        rc = self.proc.wait(timeout)
        self._reader.join(5)
        return rc

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._reader.join(5)


class Dumpcap:
    """dumpcap capturing `tcp port PORT` on an interface into `path` for the duration of a `with` block."""

    def __init__(self, port: int, path: Path, *, interface: str = "lo", extra: Sequence[str] = ()) -> None:
        require("dumpcap")
        self.path = path
        self.probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.probe.bind((LOOPBACK, 0))
        probe_port = self.probe.getsockname()[1]
        self.proc = Process(["dumpcap", "-i", interface, "-f", f"tcp port {port} or udp port {probe_port}",
                             "-w", path, *extra])

    def __enter__(self) -> Dumpcap:
        try:
            self.proc.wait_for("Capturing on", 30)
            deadline = time.monotonic() + 30
            while not re.search(r"Packets: [1-9]", self.proc.text):
                if time.monotonic() > deadline:
                    raise AssertionError(f"dumpcap captured nothing within 30 s:\n{self.proc.text}")
                self.probe.sendto(b"probe", self.probe.getsockname())
                time.sleep(0.2)
        except BaseException:
            self.proc.stop()
            self.probe.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.5)  # the last packets through
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.proc.pid, signal.SIGINT)  # dumpcap alone: it writes the file out and exits
        try:
            self.proc.wait(30)
        finally:
            self.proc.stop()
            self.probe.close()


# -- captures built by hand, with the libraries ------------------------------------------------------


@dataclass
class Packet:
    time: float
    src: tuple[str, int]
    dst: tuple[str, int]
    seq: int
    ack: int
    flags: int
    payload: bytes = b""


SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


def tcp_packets(flows: Sequence[tuple[str, bytes]], client: tuple[str, int] = ("10.0.0.1", 50000),
                server: tuple[str, int] = ("10.0.0.2", 443), *, mss: int = 1000, syn: bool = True,
                fin: bool = True, isn: tuple[int, int] = (1000, 0xFFFFFF00)) -> list[Packet]:
    """A TCP connection carrying `flows` ("client"/"server", bytes): handshake, data in `mss` pieces, FINs.

    The server's initial sequence number is near 2^32, so its stream wraps around."""
    seq = {"client": isn[0], "server": isn[1]}
    ends = {"client": client, "server": server}
    other = {"client": "server", "server": "client"}
    t = 1_700_000_000.0
    out: list[Packet] = []

    def send(side: str, flags: int, payload: bytes = b"") -> None:
        nonlocal t
        t += 0.001
        ack = (seq[other[side]]) % 2**32
        out.append(Packet(t, ends[side], ends[other[side]], seq[side] % 2**32, ack, flags, payload))
        seq[side] += len(payload) + (1 if flags & (SYN | FIN) else 0)

    if syn:
        send("client", SYN)
        send("server", SYN | ACK)
        send("client", ACK)
    for side, data in flows:
        for i in range(0, len(data), mss):
            send(side, PSH | ACK, data[i : i + mss])
    if fin:
        send("client", FIN | ACK)
        send("server", FIN | ACK)
        send("client", ACK)
    return out


def frame(p: Packet, link_type: int = 1) -> bytes:
    """The packet as bytes of a link type: 1 Ethernet, 113 SLL, 276 SLL2, 0 BSD loopback, 101 raw IP."""
    tcp = dpkt.tcp.TCP(sport=p.src[1], dport=p.dst[1], seq=p.seq, ack=p.ack, flags=p.flags, win=65535,
                       data=p.payload)
    if ":" in p.src[0]:
        ip: Any = dpkt.ip6.IP6(src=socket.inet_pton(socket.AF_INET6, p.src[0]),
                               dst=socket.inet_pton(socket.AF_INET6, p.dst[0]), nxt=6, hlim=64, data=tcp,
                               plen=len(bytes(tcp)))
        ethertype, family = dpkt.ethernet.ETH_TYPE_IP6, 30
    else:
        ip = dpkt.ip.IP(src=socket.inet_aton(p.src[0]), dst=socket.inet_aton(p.dst[0]), p=6, ttl=64, data=tcp)
        ip.len = len(bytes(ip))
        ethertype, family = dpkt.ethernet.ETH_TYPE_IP, 2
    if link_type == 1:
        return bytes(dpkt.ethernet.Ethernet(src=b"\x02\0\0\0\0\1", dst=b"\x02\0\0\0\0\2", type=ethertype, data=ip))
    if link_type == 113:
        return bytes(dpkt.sll.SLL(type=0, hrd=1, hlen=6, hdr=b"\x02\0\0\0\0\1\0\0", ethtype=ethertype, data=ip))
    if link_type == 276:
        return bytes(dpkt.sll2.SLL2(ethtype=ethertype, intindex=1, hrd=1, type=0, hlen=6, hdr=b"\x02\0\0\0\0\1\0\0",
                                    data=ip))
    if link_type == 0:
        return family.to_bytes(4, "little") + bytes(ip)
    if link_type == 101:
        return bytes(ip)
    raise ValueError(link_type)


def write_capture(path: Path, items: Sequence[tuple[float, bytes]], *, link_type: int = 1, fmt: str = "pcapng",
                  snaplen: int = 262144) -> None:
    """(time, frame) items written with the libraries: pcapng (python-pcapng) or pcap (dpkt)."""
    with path.open("wb") as f:
        if fmt == "pcap":
            writer = dpkt.pcap.Writer(f, linktype=link_type, snaplen=snaplen)
            for t, data in items:
                writer.writepkt(data[:snaplen], ts=t)
            return
        shb = blocks.SectionHeader(options={"shb_userappl": "tls12 tests"})
        shb.new_member(blocks.InterfaceDescription, link_type=link_type, snaplen=snaplen)
        out = pcapng.FileWriter(f, shb)
        for t, data in items:
            micros = round(t * 1_000_000)
            out.write_block(shb.new_member(blocks.EnhancedPacket, interface_id=0, timestamp_high=micros >> 32,
                                           timestamp_low=micros & 0xFFFFFFFF, packet_data=data[:snaplen],
                                           captured_len=min(len(data), snaplen), packet_len=len(data)))


def capture_of(path: Path, packets: Sequence[Packet], **options: Any) -> Path:
    link_type = options.pop("link_type", 1)
    write_capture(path, [(p.time, frame(p, link_type)) for p in packets], link_type=link_type, **options)
    return path


@contextlib.contextmanager
def chdir(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)
