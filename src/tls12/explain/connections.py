"""The TLS connections of a packet capture: which they are, which tls12 explains, and picking one.

Each reassembled TCP connection (`tcpstream`) is looked at from its first
bytes: a TLS handshake record holding a ClientHello (or an SSL 2.0-format
ClientHello) makes it TLS. The ClientHello gives the server name (SNI) and
the client random, which is how the key log is matched to it; the
ServerHello gives the version and the suite, and whether it resumed a
session (it echoes the session_id the ClientHello offered). TLS 1.3 (a ServerHello whose
supported_versions extension selects 0x0304, RFC 8446 §4.2.1), SSL 3.0, TLS
1.0 and 1.1, and SSL 2.0-format hellos are named and skipped: tls12 explains
TLS 1.2, and explaining another version with TLS 1.2's rules would be wrong.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from ..codec import Reader
from ..crypto.suites import SUITES
from ..enums import CipherSuite, ContentType, ExtensionType, HandshakeType
from ..errors import TLSError
from ..messages import ClientHello, ServerName, find_extension, parse_handshake
from ..record.layer import HEADER_LEN, HandshakeReassembler
from .capture import C2S, S2C, Capture
from .model import ObserverNote, Tagged
from .pcapfile import Endpoint, PacketFile
from .replay import replay
from .tcpstream import TcpConnection

__all__ = ["TlsConnection", "find_tls", "format_listing", "listing_json", "pick", "explain_connection"]

_VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}
#: RFC 8446 §B.4, named in the listing only (tls12 has no row for them).
_TLS13_SUITES = {0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384",
                 0x1303: "TLS_CHACHA20_POLY1305_SHA256"}
#: At most this many bytes of each direction are read to find the hellos.
_PEEK = 1 << 18


@dataclass(frozen=True)
class TlsConnection:
    """A TCP connection that speaks TLS (or SSL), as far as its hellos tell."""

    tcp: TcpConnection
    version: str  # "TLS 1.2", "TLS 1.3", ...; "TLS" when no ServerHello tells
    sni: str | None
    suite: CipherSuite | None
    client_random: bytes | None
    in_key_log: bool
    skip_reason: str | None  # why tls12 does not explain it; None: it does
    #: The ServerHello resumed the session the ClientHello offered (None: no ServerHello to tell).
    resumed: bool | None = None

    @property
    def index(self) -> int:
        return self.tcp.index

    @property
    def explainable(self) -> bool:
        return self.skip_reason is None

    @property
    def suite_name(self) -> str:
        if self.suite is None:
            return "-"
        return _TLS13_SUITES.get(int(self.suite), self.suite.name)

    @property
    def suite_known(self) -> bool:
        """Whether the suite is a row of tls12's table (its keys can be derived and its records opened)."""
        return self.suite is not None and self.suite in SUITES


def _handshake_messages(data: bytes, wanted: int) -> list[tuple[int, bytes]] | None:
    """The plaintext handshake messages at the start of one direction, up to one of type `wanted`.

    None if the bytes are not TLS records."""
    reassembler = HandshakeReassembler(0xFFFFFF)
    out: list[tuple[int, bytes]] = []
    pos = 0
    data = data[:_PEEK]
    while pos + HEADER_LEN <= len(data):
        content_type, major = data[pos], data[pos + 1]
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        if major != 3 or content_type not in (20, 21, 22, 23):
            return None if pos == 0 else out
        fragment = data[pos + HEADER_LEN : pos + HEADER_LEN + length]
        pos += HEADER_LEN + length
        if content_type != ContentType.HANDSHAKE:
            break
        try:
            reassembler.add(fragment)
            while (frame := reassembler.pop()) is not None:
                out.append((frame[0], frame[1]))
                if frame[0] == wanted:
                    return out
        except TLSError:
            break
    return out


def _first_record_version(data: bytes) -> int | None:
    if len(data) >= HEADER_LEN and data[1] == 3 and data[0] in (20, 21, 22, 23):
        return int.from_bytes(data[1:3], "big")
    return None


def _server_hello_choice(body: bytes) -> tuple[int, int, bytes] | None:
    """The version, suite and session_id of a ServerHello, whatever its version (RFC 5246 §7.4.1.3, RFC 8446 §4.1.3).

    Read here rather than with `messages.ServerHello`, which takes TLS 1.2 hellos only: a TLS 1.3 one
    names its version in the supported_versions extension (RFC 8446 §4.2.1)."""
    try:
        r = Reader(body)
        version = r.u16()
        r.take(32)  # random
        session_id = r.opaque(1, max=32, what="session_id")
        suite = r.u16()
        r.u8()  # compression method
        extensions = r.vec(2, max=0xFFFF, what="extensions") if r.remaining else Reader(b"")
        while extensions.remaining:
            ext_type = extensions.u16()
            data = extensions.opaque(2, max=0xFFFF, what="extension_data")
            if ext_type == ExtensionType.SUPPORTED_VERSIONS and len(data) == 2:
                version = int.from_bytes(data, "big")
    except TLSError:
        return None
    return version, suite, bytes(session_id)


def identify(tcp: TcpConnection, keylog: dict[bytes, bytes]) -> TlsConnection | None:
    """What TLS this connection speaks; None if it is not TLS at all."""
    c2s, s2c = tcp.stream(C2S), tcp.stream(S2C)
    if len(c2s) >= 5 and c2s[0] & 0x80 and c2s[2] == HandshakeType.CLIENT_HELLO and c2s[3] in (0, 3):
        return TlsConnection(tcp, "SSL 2.0-format hello", None, None, None, False,
                             "the client sent an SSL 2.0-format ClientHello; tls12 explains TLS 1.2 only")
    client_msgs = _handshake_messages(c2s, HandshakeType.CLIENT_HELLO)
    if client_msgs is None:
        version = _first_record_version(s2c)
        if version is None:
            return None
        return TlsConnection(tcp, "TLS", None, None, None, False,
                             "its handshake is not in the capture (it starts after the ClientHello)")
    hello: ClientHello | None = None
    for msg_type, body in client_msgs:
        if msg_type == HandshakeType.CLIENT_HELLO:
            try:
                parsed = parse_handshake(msg_type, body)
            except TLSError as exc:
                return TlsConnection(tcp, "TLS", None, None, None, False,
                                     f"its ClientHello cannot be read as a TLS 1.2 ClientHello: {exc}")
            if isinstance(parsed, ClientHello):
                hello = parsed
    if hello is None:
        if _first_record_version(c2s) is None:
            return None
        return TlsConnection(tcp, "TLS", None, None, None, False,
                             "its handshake is not in the capture (it starts after the ClientHello)")
    sni_ext = find_extension(hello.extensions, ServerName)
    sni = sni_ext.host_names[0] if sni_ext is not None and sni_ext.host_names else None
    random = hello.random
    covered = random in keylog
    server = None
    for msg_type, body in _handshake_messages(s2c, HandshakeType.SERVER_HELLO) or []:
        if msg_type == HandshakeType.SERVER_HELLO:
            server = _server_hello_choice(body)
    if server is None:
        return TlsConnection(tcp, "TLS", sni, None, random, covered, None)
    version, suite_code, session_id = server
    name = _VERSIONS.get(version, f"version {version:#06x}")
    suite = CipherSuite(suite_code)
    skip = None if version == 0x0303 else f"it is {name}; tls12 explains TLS 1.2 only"
    # A TLS 1.3 ServerHello echoes the session_id whatever it does (RFC 8446 §4.1.3): only 1.2 tells.
    resumed = bool(hello.session_id) and session_id == hello.session_id if version == 0x0303 else None
    return TlsConnection(tcp, name, sni, suite, random, covered, skip, resumed)


def find_tls(connections: Sequence[TcpConnection], keylog: dict[bytes, bytes]) -> list[TlsConnection]:
    return [tls for tcp in connections if (tls := identify(tcp, keylog)) is not None]


def pick(found: Sequence[TlsConnection], *, stream: int | None = None,
         connection: str | None = None) -> tuple[TlsConnection | None, list[TlsConnection], str]:
    """The connection to explain; else the candidates to list and why none was picked."""
    if stream is not None:
        chosen = [c for c in found if c.index == stream]
        if not chosen:
            return None, list(found), f"TCP stream {stream} is not a TLS connection in this capture"
        return chosen[0], [], ""
    candidates = list(found)
    if connection is not None:
        candidates = [c for c in found if _matches(c.tcp.client, connection) or _matches(c.tcp.server, connection)]
        if not candidates:
            return None, list(found), f"no TLS connection in this capture has the endpoint {connection}"
    explainable = [c for c in candidates if c.explainable]
    if len(explainable) == 1:
        return explainable[0], [], ""
    if len(candidates) == 1:
        return candidates[0], [], ""
    if not candidates:
        return None, [], "no TLS connection in this capture"
    if not explainable:
        return None, candidates, "no connection in this capture is one tls12 explains (TLS 1.2)"
    return None, candidates, f"{len(explainable)} TLS 1.2 connections" + (
        f" with the endpoint {connection}" if connection else "") + " to choose from."


def _matches(endpoint: Endpoint, wanted: str) -> bool:
    host, _, port = wanted.rpartition(":")
    return str(endpoint) == wanted or (endpoint.address == host.strip("[]") and str(endpoint.port) == port)


def format_listing(found: Sequence[TlsConnection], other_tcp: int) -> str:
    header = ("stream", "client", "server", "SNI", "version", "cipher suite", "session", "key log")
    rows = [header]
    for c in found:
        key = "yes" if c.in_key_log else ("no" if c.client_random is not None else "-")
        session = "-" if c.resumed is None else "resumed" if c.resumed else "new"
        rows.append((str(c.index), str(c.tcp.client), str(c.tcp.server), c.sni or "-", c.version, c.suite_name,
                     session, key))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    skipped = [f"  stream {c.index}: not explained: {c.skip_reason}" for c in found if c.skip_reason]
    tail = [f"  ({other_tcp} other TCP connection{'s' if other_tcp != 1 else ''}, not TLS)"] if other_tcp else []
    return "\n".join([*lines, *skipped, *tail]) + "\n"


def listing_json(found: Sequence[TlsConnection]) -> str:
    return json.dumps({"connections": [{
        "stream": c.index, "client": str(c.tcp.client), "server": str(c.tcp.server), "sni": c.sni,
        "version": c.version, "cipher_suite": c.suite_name if c.suite is not None else None,
        "client_random": c.client_random.hex() if c.client_random is not None else None,
        "resumed": c.resumed, "in_key_log": c.in_key_log, "explained": c.explainable, "skip_reason": c.skip_reason,
    } for c in found]}, indent=2) + "\n"


def explain_connection(chosen: TlsConnection, keylog: dict[bytes, bytes], packets: PacketFile,
                       others: Sequence[TlsConnection] = (), *,
                       trust_anchors: Sequence[x509.Certificate] = ()) -> list[Tagged]:
    """The trace of one connection of a capture, with what the capture itself lacks said first."""
    notes = [*packets.notes, *chosen.tcp.notes]
    notes += [f"TCP stream {c.index} ({c.tcp.client} to {c.tcp.server}) is {c.version}: not explained"
              for c in others if c.skip_reason and c is not chosen]
    capture: Capture = chosen.tcp.capture()
    events = replay(capture, keylog, trust_anchors=trust_anchors)
    return [*(Tagged("observer", ObserverNote(n)) for n in notes), *events]
