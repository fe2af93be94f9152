"""Recorded connections: the flows format, and two raw byte streams.

A capture is what went over the wire both ways. `tls12 explain` reads two
kinds:

1. The *flows* text format of the golden transcripts (tests/data/golden/), which
   `tls12 demo --capture FILE` also writes. A flow is everything one side sent
   before the other answered, in order; lines starting with ``#`` are comments::

       # any comment
       >>> Flow 1 (client to server)
       16030100...        lower-case hex, any line length
       >>> Flow 2 (server to client)
       ...

2. Two binary files, each the raw bytes one way (first client to server, then
   server to client), as a TCP proxy or ``socat -r/-R`` would save them. The
   order between the two directions is not recorded; the observer
   reconstructs it from the protocol (the handshake's flights alternate).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from typing import Literal

__all__ = ["C2S", "S2C", "Capture", "Direction", "Flow", "FlowRecorder", "format_flows", "parse_flows", "read_capture"]

Direction = Literal["client to server", "server to client"]
C2S: Direction = "client to server"
S2C: Direction = "server to client"
Flow = tuple[Direction, bytes]

_HEADER = re.compile(r">>> Flow (\d+) \((client to server|server to client)\)")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_CONTENT_TYPES = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}


class Capture:
    """The bytes of one connection: flows in order, or two streams whose interleaving is unknown."""

    def __init__(self, flows: Sequence[Flow], *, ordered: bool = True) -> None:
        self.flows = list(flows)
        self.ordered = ordered

    @classmethod
    def from_streams(cls, client_to_server: bytes, server_to_client: bytes) -> Capture:
        return cls([(C2S, client_to_server), (S2C, server_to_client)], ordered=False)

    def stream(self, direction: Direction) -> bytes:
        return b"".join(data for d, data in self.flows if d == direction)


def parse_flows(text: str) -> list[Flow]:
    """Read the flows format; a malformed line raises ValueError naming it."""
    flows: list[tuple[Direction, bytearray]] = []
    for lineno, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        header = _HEADER.fullmatch(line)
        if header is not None:
            if int(header[1]) != len(flows) + 1:
                raise ValueError(f"line {lineno}: flow {header[1]} out of order")
            direction: Direction = C2S if header[2] == C2S else S2C
            flows.append((direction, bytearray()))
            continue
        if not flows:
            raise ValueError(f"line {lineno}: data before the first '>>> Flow' header")
        if not _HEX.fullmatch(line):
            raise ValueError(f"line {lineno}: not hex: {line[:40]!r}")
        flows[-1][1].extend(bytes.fromhex(line))
    if not flows:
        raise ValueError("no '>>> Flow N (client to server|server to client)' header found")
    return [(direction, bytes(data)) for direction, data in flows]


def _records(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos + 5 <= len(data):
        end = pos + 5 + int.from_bytes(data[pos + 3 : pos + 5], "big")
        out.append(data[pos:end])
        pos = end
    if pos < len(data):
        out.append(data[pos:])
    return out


def format_flows(flows: Sequence[Flow], comments: Sequence[str] = ()) -> str:
    """Write the flows format: 32 bytes a line, each record announced in a comment."""
    lines = [f"# {c}" for c in comments]
    for n, (direction, data) in enumerate(flows, 1):
        lines += ["", f">>> Flow {n} ({direction})"]
        for record in _records(data):
            if len(record) >= 5:
                kind = _CONTENT_TYPES.get(record[0], f"type {record[0]}")
                lines.append(f"# record: {kind}, version {record[1:3].hex()}, {len(record) - 5} bytes")
            lines += [record[i : i + 32].hex() for i in range(0, len(record), 32)]
    return "\n".join(lines) + "\n"


def read_capture(paths: Sequence[str | os.PathLike[str]]) -> Capture:
    """One path: the flows format. Two paths: raw client-to-server and server-to-client bytes."""
    if len(paths) == 1:
        with open(paths[0], encoding="utf-8") as f:
            return Capture(parse_flows(f.read()))
    if len(paths) == 2:
        with open(paths[0], "rb") as a, open(paths[1], "rb") as b:
            return Capture.from_streams(a.read(), b.read())
    raise ValueError("expected one flows file, or two raw files (client to server, then server to client)")


class FlowRecorder:
    """Collects bytes as they go over a connection, merging consecutive sends one way into one flow."""

    def __init__(self) -> None:
        self._flows: list[tuple[Direction, bytearray]] = []
        self._lock = threading.Lock()

    def add(self, direction: Direction, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            if self._flows and self._flows[-1][0] == direction:
                self._flows[-1][1].extend(data)
            else:
                self._flows.append((direction, bytearray(data)))

    @property
    def flows(self) -> list[Flow]:
        with self._lock:
            return [(d, bytes(b)) for d, b in self._flows]
