"""Reading pcap and pcapng captures: the TCP segments in them, and the key log a pcapng may carry.

The file formats are read by two well-kept libraries, not by code of ours:
`python-pcapng` walks the blocks of a pcapng file (several interfaces, each
with its own link type, and the Decryption Secrets Block, which it learns
here through its `register_block` extension point), and `dpkt` reads classic
pcap files and decodes the link layer (Ethernet with VLAN tags, Linux cooked
SLL and SLL2, BSD loopback, raw IP), IPv4, IPv6 and TCP. They are the
optional `pcap` extra (``pip install 'tls12[pcap]'``); without it,
`PcapSupportMissing` says how to get it.

What comes out is a list of `TcpSegment` in the order of the file, each with
the payload bytes that were captured and how many more the IP header
announced but the snap length cut off; `tcpstream` turns them into streams.

Everything is bounded (`Limits`): the file is refused above a size before
anything is read, and reading stops with `CaptureError` past a number of
packets. Whatever the libraries raise on a damaged file becomes a
`CaptureError` that says where, or, once some packets were read, a note
that the file ends early.
"""

from __future__ import annotations

import io
import ipaddress
import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

__all__ = [
    "PCAP_EXTRA_HINT",
    "TLS_KEY_LOG",
    "DEFAULT_LIMITS",
    "CaptureError",
    "Endpoint",
    "Limits",
    "PacketFile",
    "PcapSupportMissing",
    "TcpSegment",
    "decryption_secrets_block",
    "dpkt_module",
    "looks_like_packet_file",
    "parse_packet_file",
    "pcapng_module",
    "read_packet_file",
]

PCAP_EXTRA_HINT = "pip install 'tls12[pcap]'"
#: The Decryption Secrets Block's type and its secrets type for a TLS key log (pcapng §4.7).
DSB_BLOCK_TYPE = 0x0000000A
TLS_KEY_LOG = 0x544C534B  # "TLSK"

_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_PCAP_MAGICS = {bytes.fromhex(m) for m in ("a1b2c3d4", "d4c3b2a1", "a1b23c4d", "4d3cb2a1")}

# Link types (https://www.tcpdump.org/linktypes.html) and what each one is called.
_LINK_TYPES = {0: "BSD loopback", 1: "Ethernet", 101: "raw IP", 108: "OpenBSD loopback", 113: "Linux cooked (SLL)",
               228: "raw IPv4", 229: "raw IPv6", 276: "Linux cooked v2 (SLL2)"}

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """How much `tls12 explain` takes on; past any of these a capture is refused with a `CaptureError`."""

    max_file_bytes: int = 256 * MiB
    max_packets: int = 1_000_000
    max_streams: int = 10_000  # TCP connections in one capture
    max_stream_bytes: int = 64 * MiB  # reassembled bytes in one direction of one connection
    max_waiting_segments: int = 10_000  # segments held behind a gap in one direction; beyond, dropped (and said)
    max_overlap_steps: int = 20_000_000  # segment overlaps compared in all; beyond, the capture is refused


DEFAULT_LIMITS = Limits()


class CaptureError(ValueError):
    """A capture that cannot be read; the message says why, for the person who gave it."""


class PcapSupportMissing(CaptureError):
    """pcap and pcapng need the optional `pcap` extra."""


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    address: str
    port: int

    def __str__(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"


@dataclass(frozen=True, slots=True)
class TcpSegment:
    """One TCP packet of the capture."""

    number: int  # 1-based, as Wireshark numbers the packets of the file
    time: float  # seconds since the epoch
    src: Endpoint
    dst: Endpoint
    seq: int
    ack: int
    flags: int  # FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10
    payload: bytes
    missing: int = 0  # payload bytes the IP header announces but the capture does not hold (snap length)

    @property
    def syn(self) -> bool:
        return bool(self.flags & 0x02)

    @property
    def fin(self) -> bool:
        return bool(self.flags & 0x01)

    @property
    def rst(self) -> bool:
        return bool(self.flags & 0x04)

    @property
    def has_ack(self) -> bool:
        return bool(self.flags & 0x10)


@dataclass
class PacketFile:
    """What a capture file holds, as far as TCP and TLS are concerned."""

    format: str  # "pcap" or "pcapng"
    segments: list[TcpSegment] = field(default_factory=list)
    keylog: str = ""  # the TLS key logs of its Decryption Secrets Blocks
    packets: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # packets not taken, by reason
    link_types: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)  # what is wrong with the file itself

    def describe_skipped(self) -> str:
        return ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items(), key=lambda kv: -kv[1]))


# -- the libraries -----------------------------------------------------------------------------------


def dpkt_module() -> Any:
    try:
        import dpkt  # noqa: PLC0415  (optional: the pcap extra)
    except ImportError:
        raise PcapSupportMissing(f"reading and writing pcap and pcapng files needs the pcap extra: "
                                 f"{PCAP_EXTRA_HINT}") from None
    return dpkt


@cache
def _pcapng_and_dsb() -> tuple[Any, Any]:
    try:
        import pcapng  # noqa: PLC0415  (optional: the pcap extra)
        from pcapng import blocks  # noqa: PLC0415
        from pcapng.structs import IntField, OptionsField, PacketBytes  # noqa: PLC0415
    except ImportError:
        raise PcapSupportMissing(f"reading and writing pcap and pcapng files needs the pcap extra: "
                                 f"{PCAP_EXTRA_HINT}") from None
    existing = blocks.KNOWN_BLOCKS.get(DSB_BLOCK_TYPE)
    if existing is not None:  # a later python-pcapng that knows the block already
        return pcapng, existing

    class DecryptionSecrets(blocks.SectionMemberBlock):  # type: ignore[misc]
        """pcapng §4.7: secrets type, secrets length, the secrets (padded to 32 bits), options."""

        magic_number = DSB_BLOCK_TYPE
        __slots__: ClassVar[list[str]] = []
        schema: ClassVar[list[tuple[str, Any, Any]]] = [
            ("secrets_type", IntField(32, False), TLS_KEY_LOG),
            ("secrets_length", IntField(32, False), 0),
            ("secrets_data", PacketBytes("secrets_length"), b""),
            ("options", OptionsField([]), None),
        ]

    blocks.register_block(DecryptionSecrets)
    return pcapng, DecryptionSecrets


def pcapng_module() -> Any:
    return _pcapng_and_dsb()[0]


def decryption_secrets_block() -> Any:
    """python-pcapng's block class for the Decryption Secrets Block (registered with it on first use)."""
    return _pcapng_and_dsb()[1]


# -- reading -----------------------------------------------------------------------------------------


def looks_like_packet_file(head: bytes) -> bool:
    return head[:4] == _PCAPNG_MAGIC or head[:4] in _PCAP_MAGICS


def read_packet_file(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> PacketFile:
    """Read a pcap or pcapng file; `CaptureError` if it is not one, is too big, or holds too many packets."""
    name = os.fspath(path)
    try:
        size = os.stat(name).st_size
    except OSError as exc:
        raise CaptureError(f"{name}: {exc.strerror or exc}") from None
    if size > limits.max_file_bytes:
        raise CaptureError(
            f"{name} is {size / MiB:.1f} MiB; tls12 explain reads captures of up to {limits.max_file_bytes / MiB:g} "
            f"MiB. Cut out the connection first, e.g. tshark -r {name} -Y 'tcp.stream == N' -w small.pcapng")
    with open(name, "rb") as f:
        data = f.read(limits.max_file_bytes + 1)
    return parse_packet_file(data, limits, name=name)


def parse_packet_file(data: bytes, limits: Limits = DEFAULT_LIMITS, *, name: str = "the capture") -> PacketFile:
    if len(data) > limits.max_file_bytes:
        raise CaptureError(f"{name} is larger than {limits.max_file_bytes / MiB:g} MiB, the most tls12 explain reads")
    if data[:4] == _PCAPNG_MAGIC:
        frames = _pcapng_frames
        out = PacketFile("pcapng")
    elif data[:4] in _PCAP_MAGICS:
        frames = _pcap_frames
        out = PacketFile("pcap")
    else:
        raise CaptureError(f"{name} is not a pcap or pcapng file (it starts with {data[:8].hex() or 'nothing'})")
    dpkt = dpkt_module()
    decoders = _decoders(dpkt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # python-pcapng warns about oddities it can live with
        frames_read = frames(data, out)
        while True:
            try:
                frame = next(frames_read)
            except StopIteration:
                break
            except CaptureError:
                raise
            except Exception as exc:  # whatever the library makes of a damaged file
                if out.packets == 0 and not out.keylog:
                    raise CaptureError(f"{name} is not a readable {out.format} file: {_reason(exc)}") from None
                out.notes.append(f"the capture file is damaged or cut short after packet {out.packets} "
                                 f"({_reason(exc)}): what follows it was not read")
                break
            if frame is None:
                continue
            out.packets += 1
            if out.packets > limits.max_packets:
                raise CaptureError(f"{name} holds more than {limits.max_packets:,} packets, the most tls12 explain "
                                   f"reads. Cut out the connection first, e.g. tshark -r {name} -Y 'tcp.stream == N' "
                                   "-w small.pcapng")
            link_type, time, buf = frame
            out.link_types.add(link_type)
            decode = decoders.get(link_type)
            if decode is None:
                out.skipped[f"of link type {link_type} (not one tls12 reads: "
                            f"{', '.join(sorted(_LINK_TYPES.values()))})"] += 1
                continue
            try:
                segment = _segment(dpkt, decode(buf), out.packets, time)
            except Exception:  # a packet the library cannot decode: damaged, or a protocol it does not know
                segment = "undecodable"
            if isinstance(segment, str):
                out.skipped[segment] += 1
            else:
                out.segments.append(segment)
    return out


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


Frame = tuple[int, float, bytes] | None  # link type, time, bytes; None for a block that is not a packet


def _pcapng_frames(data: bytes, out: PacketFile) -> Iterator[Frame]:
    pcapng = pcapng_module()
    dsb_class = decryption_secrets_block()
    enhanced, simple, obsolete = (pcapng.blocks.EnhancedPacket, pcapng.blocks.SimplePacket,
                                  pcapng.blocks.ObsoletePacket)
    last_time = 0.0
    for block in pcapng.FileScanner(io.BytesIO(data)):
        if isinstance(block, dsb_class):
            if block.secrets_type == TLS_KEY_LOG:
                out.keylog += bytes(block.secrets_data).decode("ascii", "replace") + "\n"
            else:
                out.notes.append(f"a Decryption Secrets Block of type {block.secrets_type:#010x} (not a TLS key log) "
                                 "was ignored")
            yield None
        elif isinstance(block, enhanced | obsolete):
            last_time = float(block.timestamp)
            yield int(block.interface.link_type), last_time, bytes(block.packet_data)
        elif isinstance(block, simple):
            yield int(block.interface.link_type), last_time, bytes(block.packet_data)
        else:
            yield None


def _pcap_frames(data: bytes, out: PacketFile) -> Iterator[Frame]:
    dpkt = dpkt_module()
    reader = dpkt.pcap.Reader(io.BytesIO(data))
    link_type = int(reader.datalink())
    for time, buf in reader:
        yield link_type, float(time), bytes(buf)


def _decoders(dpkt: Any) -> dict[int, Callable[[bytes], Any]]:
    def raw(buf: bytes) -> Any:
        return dpkt.ip6.IP6(buf) if buf[:1] and buf[0] >> 4 == 6 else dpkt.ip.IP(buf)

    return {
        0: dpkt.loopback.Loopback,
        1: dpkt.ethernet.Ethernet,
        101: raw,
        108: dpkt.loopback.Loopback,
        113: dpkt.sll.SLL,
        228: dpkt.ip.IP,
        229: dpkt.ip6.IP6,
        276: dpkt.sll2.SLL2,
    }


def _segment(dpkt: Any, frame: Any, number: int, time: float) -> TcpSegment | str:
    """The TCP segment in a decoded frame, or why there is none."""
    layer = frame
    for _ in range(8):  # link-layer headers (VLAN tags, ...) until IP
        if isinstance(layer, dpkt.ip.IP | dpkt.ip6.IP6):
            break
        layer = getattr(layer, "data", None)
        if not isinstance(layer, dpkt.Packet):
            return "not IP"
    else:
        return "not IP"
    ip = layer
    if isinstance(ip, dpkt.ip.IP):
        if ip.p != 6:
            return "not TCP"
        if ip.off & (dpkt.ip.IP_MF | dpkt.ip.IP_OFFMASK):
            return "IPv4 fragments (not reassembled)"
        src, dst = _ipv4(ip.src), _ipv4(ip.dst)
        ip_payload = ip.len - 4 * ip.hl if ip.len else None
    else:
        if getattr(ip, "p", None) != 6:
            return "not TCP"
        if 44 in ip.extension_hdrs:
            return "IPv6 fragments (not reassembled)"
        src, dst = _ipv6(ip.src), _ipv6(ip.dst)
        ext = sum(int(h.length) for h in ip.all_extension_headers)
        ip_payload = ip.plen - ext if ip.plen else None
    tcp = ip.data
    if not isinstance(tcp, dpkt.tcp.TCP):
        return "TCP header cut off by the snap length"
    payload = bytes(tcp.data)
    announced = ip_payload - 4 * tcp.off if ip_payload is not None else len(payload)
    return TcpSegment(number, time, Endpoint(src, int(tcp.sport)), Endpoint(dst, int(tcp.dport)), int(tcp.seq),
                      int(tcp.ack), int(tcp.flags), payload, max(0, announced - len(payload)))


def _ipv4(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


def _ipv6(raw: bytes) -> str:
    return str(ipaddress.IPv6Address(bytes(raw)))
