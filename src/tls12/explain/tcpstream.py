"""TCP reassembly: the segments of a capture turned back into the bytes each end sent.

The segments come in the order of the capture (`pcapfile.TcpSegment`); for
each connection and each direction this module rebuilds the byte stream the
receiver's application read, and records *when* each byte became readable,
so that the two directions can be interleaved the way they happened
(`TcpConnection.capture()` gives the flows `replay` takes).

The rules, and what is said when they apply:

- **Connections** are told apart by their two endpoints; a SYN with a new
  initial sequence number on the same endpoints starts a new connection (port
  reuse). They are numbered from 0 in the order of their first packet, as
  Wireshark numbers ``tcp.stream``.
- **Who is the client**: the sender of the SYN; without one (the capture
  started mid-connection), the side whose first bytes are a TLS ClientHello;
  failing that, the side with the higher port.
- **Where the stream starts**: one past the SYN's sequence number. Without a
  SYN, at the lowest sequence number seen from that side, and a note says the
  capture starts mid-connection (what was sent before it is not there).
- **Out of order, duplicated, overlapping**: bytes are placed by sequence
  number (modulo 2^32) and become readable once everything before them is
  there. Where two segments carry the same bytes, the **first seen** wins, as
  a receiver that already acknowledged bytes and handed them to the
  application cannot take them back. A later copy that *differs* is flagged
  (byte offset and both packet numbers): the capture, or a middlebox, is not
  telling one story.
- **Gaps**: bytes never captured (a lost packet, or the snap length cutting a
  packet short) end what can be read in that direction; the note names the
  byte offset and, for the snap length, the packet. The other direction goes
  on as far as it can.

Time and memory are bounded by `pcapfile.Limits`: past a number of
connections or of bytes in one direction, `CaptureError`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .capture import C2S, S2C, Capture, Direction
from .pcapfile import DEFAULT_LIMITS, CaptureError, Endpoint, Limits, TcpSegment

__all__ = ["TcpConnection", "reassemble"]

_MOD = 1 << 32
_HALF = 1 << 31
#: Inconsistent overlaps flagged one by one per direction, before they are only counted.
_MAX_OVERLAP_NOTES = 3


def _looks_like_client_hello(data: bytes) -> bool:
    if len(data) >= 6 and data[0] == 0x16 and data[1] == 3 and data[5] == 1:
        return True  # a handshake record holding a ClientHello
    # An SSL 2.0-format ClientHello: a 2-byte record header, msg_type 1, version 0x0002 or 0x03xx.
    return len(data) >= 5 and data[0] & 0x80 != 0 and data[2] == 1 and data[3] in (0, 3)


@dataclass
class _Way:
    """One direction of one connection, as the receiver's TCP would rebuild it."""

    sender: Endpoint
    isn: int | None = None  # the sequence number of its SYN
    anchor: int | None = None  # an absolute sequence number; offsets are relative to it
    started: bool = False
    early: int = 0  # bytes seen from before byte 0
    delivered: bytearray = field(default_factory=bytearray)  # stream bytes 0.. up to the first gap
    runs: list[tuple[int, int]] = field(default_factory=list)  # (stream offset, packet number) of delivered runs
    held: list[tuple[int, bytes, int]] = field(default_factory=list)  # out of order: (offset, bytes, packet)
    held_bytes: int = 0
    dropped: int = 0  # segments not held: too many were waiting behind a gap already
    cut: tuple[int, int, int] | None = None  # snap length: (stream offset, missing bytes, packet) of the first cut
    retransmitted: int = 0  # segments whose bytes were all there already
    inconsistent: int = 0
    first_payload: bytes = b""
    fin: bool = False

    def offset(self, seq: int) -> int:
        """`seq` as a signed distance from the anchor (sequence numbers wrap at 2^32)."""
        assert self.anchor is not None
        d = (seq - self.anchor) % _MOD
        return d - _MOD if d >= _HALF else d


@dataclass
class TcpConnection:
    """One TCP connection of a capture, both directions reassembled."""

    index: int
    client: Endpoint
    server: Endpoint
    first_packet: int
    first_time: float
    saw_syn: bool = False
    closed: str = ""  # "FIN", "RST" or "" (still open when the capture ends)
    packets: int = 0
    #: What each side sent, in the order it became readable: (direction, bytes).
    pieces: list[tuple[Direction, bytes]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def stream(self, direction: Direction) -> bytes:
        return b"".join(data for d, data in self.pieces if d == direction)

    def capture(self) -> Capture:
        """The flows for `replay`: consecutive pieces one way merged, in the order they became readable."""
        flows: list[tuple[Direction, bytearray]] = []
        for direction, data in self.pieces:
            if flows and flows[-1][0] == direction:
                flows[-1][1].extend(data)
            else:
                flows.append((direction, bytearray(data)))
        return Capture([(d, bytes(b)) for d, b in flows])

    def describe(self) -> str:
        return f"{self.client} -> {self.server}"


class _Builder:
    def __init__(self, index: int, first: TcpSegment, limits: Limits) -> None:
        self.limits = limits
        self.index = index
        self.first = first
        self.ways: dict[Endpoint, _Way] = {first.src: _Way(first.src), first.dst: _Way(first.dst)}
        self.client: Endpoint | None = None
        self.events: list[tuple[Endpoint, bytes]] = []
        self.packets = 0
        self.closed = ""
        self.saw_syn = False
        self.notes: list[str] = []
        self.steps = 0

    def add(self, seg: TcpSegment) -> None:
        self.packets += 1
        way = self.ways[seg.src]
        if seg.rst:
            self.closed = "RST"
        if seg.syn:
            self.saw_syn = True
            if not seg.has_ack and self.client is None:
                self.client = seg.src
            if way.isn is None and not way.started:
                way.isn = seg.seq
                way.anchor = (seg.seq + 1) % _MOD
        if seg.fin:
            way.fin = True
            if not self.closed:
                self.closed = "FIN"
        start_seq = (seg.seq + 1) % _MOD if seg.syn else seg.seq
        if seg.payload or seg.missing:
            self._place(way, seg, start_seq)

    def _place(self, way: _Way, seg: TcpSegment, start_seq: int) -> None:
        if way.anchor is None:  # no SYN from this side: byte 0 is the first byte seen from it
            way.anchor = start_seq
        if not way.started:
            way.started = True
            way.first_payload = seg.payload[:8]
        start, payload = way.offset(start_seq), seg.payload
        if start < 0:  # bytes from before byte 0 (before the SYN, or before the capture began): not readable
            way.early += min(-start, len(payload))
            payload, start = payload[-start:], 0
        if seg.missing and way.cut is None:
            way.cut = (start + len(payload), seg.missing, seg.number)
        self._insert(way, start, payload, seg.number)

    def _insert(self, way: _Way, start: int, payload: bytes, number: int) -> None:
        end = start + len(payload)
        if not payload:
            return
        done = len(way.delivered)
        # Bytes already readable: first seen wins; a different copy is flagged.
        if start < done:
            overlap = min(end, done)
            old = bytes(way.delivered[start:overlap])
            if old != payload[: overlap - start]:
                self._inconsistent(way, start, old, payload[: overlap - start], number)
            if end <= done:
                way.retransmitted += 1
                return
            payload, start = payload[overlap - start :], overlap
        # Bytes held out of order: keep the first copy of each byte, insert only the new parts.
        pieces: list[tuple[int, bytes]] = []
        cursor = start
        i = bisect.bisect_left(way.held, (start, b"", -1))
        if i > 0 and way.held[i - 1][0] + len(way.held[i - 1][1]) > start:
            i -= 1
        while i < len(way.held) and way.held[i][0] < end:
            self.steps += 1
            if self.steps > self.limits.max_overlap_steps:
                raise CaptureError(
                    f"the segments of TCP connection {self.index} ({self.first.src} and {self.first.dst}) overlap "
                    "too much to reassemble in bounded time; this capture looks damaged or made to be hostile")
            h_off, h_data, _ = way.held[i]
            h_end = h_off + len(h_data)
            if cursor < h_off:
                pieces.append((cursor, payload[cursor - start : h_off - start]))
            lo, hi = max(cursor, h_off), min(end, h_end)
            if lo < hi and h_data[lo - h_off : hi - h_off] != payload[lo - start : hi - start]:
                self._inconsistent(way, lo, h_data[lo - h_off : hi - h_off], payload[lo - start : hi - start],
                                   number)
            cursor = max(cursor, h_end)
            i += 1
        if cursor < end:
            pieces.append((cursor, payload[cursor - start :]))
        if not pieces:
            way.retransmitted += 1
            return
        if start > len(way.delivered) and len(way.held) >= self.limits.max_waiting_segments:
            way.dropped += 1  # stuck behind a gap long since: what follows it is not kept
            return
        for off, data in pieces:
            way.held_bytes += len(data)
            if len(way.delivered) + way.held_bytes > self.limits.max_stream_bytes:
                raise CaptureError(
                    f"TCP connection {self.index} ({self.first.src} and {self.first.dst}) carries more than "
                    f"{self.limits.max_stream_bytes // (1024 * 1024)} MiB one way, the most tls12 explain "
                    f"reassembles; cut the capture to the handshake and the first records, e.g. "
                    f"editcap -c 200")
            bisect.insort(way.held, (off, data, number))
        # Whatever is now contiguous with the readable bytes becomes readable, now.
        ready = bytearray()
        while way.held and way.held[0][0] == len(way.delivered):
            off, data, n = way.held.pop(0)
            way.held_bytes -= len(data)
            way.runs.append((off, n))
            way.delivered += data
            ready += data
        if ready:
            self.events.append((way.sender, bytes(ready)))

    def _inconsistent(self, way: _Way, offset: int, first: bytes, later: bytes, number: int) -> None:
        way.inconsistent += 1
        if way.inconsistent > _MAX_OVERLAP_NOTES:
            return
        first_packet = next((n for off, n in reversed(way.runs) if off <= offset), None)
        was = f" (first seen in packet {first_packet})" if first_packet is not None else ""
        self.notes.append(
            f"packet {number} carries {len(later)} bytes at offset {offset} of what {way.sender} sent, "
            f"different from the copy seen first{was}: the first-seen bytes are kept (the receiver had them "
            "already); this capture, or a middlebox, does not tell one story")

    def build(self) -> TcpConnection:
        client = self.client
        if client is None:
            # No SYN: the side whose first bytes are a ClientHello, else the higher (ephemeral) port.
            a, b = self.ways.values()
            if _looks_like_client_hello(a.first_payload) != _looks_like_client_hello(b.first_payload):
                client = a.sender if _looks_like_client_hello(a.first_payload) else b.sender
            elif a.sender.port != b.sender.port:
                client = a.sender if a.sender.port > b.sender.port else b.sender
            else:
                client = self.first.src
        server = next(e for e in self.ways if e != client)
        role = {client: "client", server: "server"}
        conn = TcpConnection(self.index, client, server, self.first.number, self.first.time, saw_syn=self.saw_syn,
                             closed=self.closed, packets=self.packets)
        conn.pieces = [(C2S if sender == client else S2C, data) for sender, data in self.events]
        for endpoint in (client, server):
            way = self.ways[endpoint]
            who = f"{role[endpoint]} ({endpoint})"
            if way.started and way.isn is None:
                conn.notes.append(f"the capture starts after the connection was opened (no SYN from the {who}): "
                                  "it begins with the first bytes seen from it; anything sent before is not in it")
            if way.held:
                gap_start = len(way.delivered)
                gap_end = way.held[0][0]
                held = sum(len(d) for _, d, _ in way.held)
                why = "lost, or not captured"
                if way.cut is not None and way.cut[0] <= gap_start:
                    why = (f"packet {way.cut[2]} was cut short by the capture's snap length, {way.cut[1]} bytes "
                           "missing")
                dropped = (f", and {way.dropped} segments after those were not kept" if way.dropped else "")
                conn.notes.append(
                    f"bytes {gap_start} to {gap_end - 1} of what the {who} sent are not in the capture ({why}): "
                    f"nothing it sent from byte {gap_start} on can be read ({held} more bytes were captured "
                    f"after the gap{dropped})")
            elif way.cut is not None:
                conn.notes.append(
                    f"packet {way.cut[2]} from the {who} was cut short by the capture's snap length ({way.cut[1]} "
                    f"bytes missing at byte {way.cut[0]}): nothing it sent from byte {way.cut[0]} on can be read")
            if way.inconsistent > _MAX_OVERLAP_NOTES:
                conn.notes.append(f"{way.inconsistent} segments from the {who} in all overlap earlier ones with "
                                  "different bytes; the first-seen bytes are kept")
            if way.early:
                conn.notes.append(f"{way.early} bytes from the {who} from before the start of its stream in the "
                                  "capture were left out")
        conn.notes += self.notes
        return conn


def reassemble(segments: Iterable[TcpSegment], limits: Limits = DEFAULT_LIMITS) -> list[TcpConnection]:
    """Every TCP connection in `segments` (taken in time order, the file's order among equal times)."""
    ordered: Sequence[TcpSegment] = sorted(segments, key=lambda s: (s.time, s.number))
    builders: list[_Builder] = []
    current: dict[frozenset[Endpoint], _Builder] = {}
    for seg in ordered:
        key = frozenset((seg.src, seg.dst))
        builder = current.get(key)
        if builder is not None and seg.syn and not seg.has_ack:
            way = builder.ways[seg.src]
            if (way.isn is not None and way.isn != seg.seq) or (way.isn is None and way.started):
                builder = None  # the same endpoints again: a new connection
        if builder is None:
            if len(builders) >= limits.max_streams:
                raise CaptureError(f"the capture holds more than {limits.max_streams:,} TCP connections, the most "
                                   "tls12 explain takes; cut out the connection first, e.g. "
                                   "tshark -r FILE -Y 'tcp.stream == N' -w small.pcapng")
            builder = _Builder(len(builders), seg, limits)
            builders.append(builder)
            current[key] = builder
        builder.add(seg)
    return [b.build() for b in builders]
