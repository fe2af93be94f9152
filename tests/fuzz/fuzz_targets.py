"""Fuzz targets shared by the Hypothesis tests (short runs in CI) and atheris (long runs by hand).

Each target takes one `bytes` input and raises `FuzzFailure` (or lets an unexpected exception
escape) when an invariant breaks:

* only the errors a layer documents escape it: `TLSError` subclasses, and never `InternalError`
  (tls12 turns any unexpected exception into `InternalError`, so an `InternalError` for peer
  input is a bug in disguise: a crash, and the wrong alert);
* a failed connection queued exactly its one fatal alert (when the error has one), stays failed,
  and sends nothing more;
* nothing hangs and memory stays bounded (`run_bounded` enforces the time and memory bounds per
  input; atheris also runs under libFuzzer's -timeout and -rss_limit_mb).

The connection targets use `DeterministicProvider` with the seeds and certificates of the golden
transcripts (tests/data/golden/), so the recorded flows are valid inputs that get the fuzzer past
the signature, the key exchange and the Finished checks; mutations of them reach every state.

Input layout of the connection targets: the first byte picks the golden transcript (byte % 3:
x25519, secp256r1, secp384r1) and how the rest is fed (byte // 3: 0 in one call, n in pieces of
n bytes); the rest is the byte stream from the peer. The deframer's first byte picks protection
(bit 0), a fixed record version (bit 1) and the piece size (the other bits); the parsers' first
byte picks the parser.
"""

from __future__ import annotations

import datetime
import resource
import signal
import struct
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from tls12 import (
    ClientConfig,
    ClientConnection,
    DeterministicProvider,
    NamedGroup,
    ServerConfig,
    ServerConnection,
    SignatureScheme,
)
from tls12.codec import Reader, Writer
from tls12.crypto.aead import GCMRecordAEAD
from tls12.enums import ContentType
from tls12.errors import (
    AlertReceivedError,
    BadRecordMac,
    DecodeError,
    IllegalParameter,
    InternalError,
    ProtocolVersionError,
    RecordOverflow,
    TLSError,
    TruncatedConnection,
    UnexpectedMessage,
)
from tls12.events import AlertReceived, ApplicationDataReceived, ConnectionClosed, Event, HandshakeComplete
from tls12.messages import (
    ALPN,
    Alert,
    ChangeCipherSpec,
    ECPointFormats,
    ExtendedMasterSecret,
    RenegotiationInfo,
    ServerName,
    SignatureAlgorithms,
    SupportedGroups,
    SupportedVersions,
    encode_handshake,
    parse_handshake,
)
from tls12.messages.extensions import parse_extensions, write_extensions
from tls12.record.layer import HEADER_LEN, MAX_CIPHERTEXT, HandshakeReassembler, RecordLayer

__all__ = [
    "GOLDEN_NAMES",
    "TARGETS",
    "FuzzFailure",
    "client_connection",
    "deframer",
    "golden_flows",
    "message_parsers",
    "run_bounded",
    "seeds",
    "server_connection",
]

DATA = Path(__file__).resolve().parent.parent / "data"
GOLDEN = DATA / "golden"
GOLDEN_NAMES = ("x25519", "secp256r1", "secp384r1")
_GROUPS = {"x25519": NamedGroup.X25519, "secp256r1": NamedGroup.SECP256R1, "secp384r1": NamedGroup.SECP384R1}
CLOCK = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

#: Per-input bounds. Real inputs take milliseconds (one RSA signature at most); the bounds are
#: generous so a slow CI machine does not flake, and still catch a hang or a blow-up.
TIME_LIMIT_S = 2.0
MEMORY_LIMIT_BYTES = 8 * 1024 * 1024


class FuzzFailure(AssertionError):
    """An invariant broke: the message says which, the input reproduces it."""


# -- golden transcripts -------------------------------------------------------------------


def golden_flows(name: str) -> list[tuple[str, bytes]]:
    """The recorded flows of tests/data/golden/<name>.txt as (direction, bytes)."""
    flows: list[tuple[str, bytearray]] = []
    for raw_line in (GOLDEN / f"{name}.txt").read_text().splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(">>> Flow"):
            flows.append(("client" if "(client to server)" in line else "server", bytearray()))
        else:
            flows[-1][1].extend(bytes.fromhex(line))
    return [(d, bytes(b)) for d, b in flows]


def _stream(name: str, sender: str) -> bytes:
    return b"".join(data for direction, data in golden_flows(name) if direction == sender)


_anchors: list[x509.Certificate] = []
_server_base: list[ServerConfig] = []


def client_config(name: str) -> ClientConfig:
    if not _anchors:
        _anchors.extend(x509.load_pem_x509_certificates((DATA / "ca.pem").read_bytes()))
    seed = f"tls12 golden client {name}".encode()
    return ClientConfig(trust_anchors=_anchors, provider=DeterministicProvider(seed=seed, now=CLOCK))


def server_config(name: str) -> ServerConfig:
    if not _server_base:
        _server_base.append(ServerConfig.from_pem_files(DATA / "server.pem", DATA / "server.key"))
    base = _server_base[0]
    return ServerConfig(
        certificate_chain=base.certificate_chain,
        private_key=base.private_key,
        groups=(_GROUPS[name],),
        signature_schemes=(SignatureScheme.RSA_PKCS1_SHA256,),
        provider=DeterministicProvider(seed=f"tls12 golden server {name}".encode(), now=CLOCK),
    )


# -- helpers ------------------------------------------------------------------------------


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    if size <= 0 or size >= len(data):
        yield data
        return
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _records(out: bytes) -> list[tuple[int, int, bytes]]:
    """Split what a connection sent into records; it must be whole, well-framed records."""
    records = []
    pos = 0
    while pos < len(out):
        if len(out) - pos < HEADER_LEN:
            raise FuzzFailure(f"partial record header in output: {out[pos:].hex()}")
        content_type, version, length = struct.unpack_from(">BHH", out, pos)
        if pos + HEADER_LEN + length > len(out):
            raise FuzzFailure("partial record in output")
        if content_type not in (20, 21, 22, 23) or version >> 8 != 3 or length > MAX_CIPHERTEXT:
            raise FuzzFailure(f"malformed record header in output: {out[pos : pos + 5].hex()}")
        records.append((content_type, version, out[pos + HEADER_LEN : pos + HEADER_LEN + length]))
        pos += HEADER_LEN + length
    return records


_EVENT_TYPES = (HandshakeComplete, ApplicationDataReceived, AlertReceived, ConnectionClosed)


def _drive(conn: ClientConnection | ServerConnection, stream: bytes, piece: int) -> None:
    """Feed `stream` (then EOF) and check the connection's invariants along the way."""
    failure: TLSError | None = None
    complete = 0
    for chunk in _pieces(stream, piece):
        try:
            events: list[Event] = conn.receive_data(chunk)
        except InternalError as exc:
            raise FuzzFailure(f"InternalError for peer input: {exc!r} (cause {exc.__cause__!r})") from exc
        except TLSError as exc:
            failure = exc
            break
        for event in events:
            if not isinstance(event, _EVENT_TYPES):
                raise FuzzFailure(f"unknown event {event!r}")
            if isinstance(event, HandshakeComplete):
                complete += 1
        if conn.failure is not None:  # data delivered before a failure: the next call raises
            try:
                conn.receive_data(b"")
            except TLSError as exc:
                failure = exc
            if failure is not conn.failure:
                raise FuzzFailure("a failed connection did not raise its failure on the next call")
            break
        # The connection answers and keeps working for the caller.
        _records(conn.data_to_send())
        if conn.handshake_complete and not conn.close_sent:
            conn.send_application_data(b"x")
    if complete > 1:
        raise FuzzFailure("HandshakeComplete reported twice")
    if failure is None:
        try:
            conn.receive_data(b"")
        except InternalError as exc:
            raise FuzzFailure(f"InternalError at EOF: {exc!r}") from exc
        except TruncatedConnection as exc:
            failure = exc
        except TLSError as exc:
            raise FuzzFailure(f"EOF raised {exc!r}, not TruncatedConnection") from exc
        else:
            if not conn.close_received:
                raise FuzzFailure("EOF without close_notify was not reported as truncation")
            return
    _check_failed(conn, failure)


def _check_failed(conn: ClientConnection | ServerConnection, failure: TLSError) -> None:
    if conn.failure is not failure:
        raise FuzzFailure(f"{failure!r} raised but the connection's failure is {conn.failure!r}")
    out = _records(conn.data_to_send())
    alert = failure.alert
    if alert is not None and not isinstance(failure, AlertReceivedError):
        # Exactly one alert record went out at the end (plaintext: fatal + the alert's code).
        if not out or out[-1][0] != ContentType.ALERT:
            raise FuzzFailure(f"{failure!r} queued no alert record")
        body = out[-1][2]
        if len(body) == 2 and body != bytes((2, alert)):
            raise FuzzFailure(f"{failure!r} queued alert {body.hex()}, expected 02{alert:02x}")
        if len(body) not in (2, 8 + 2 + 16):
            raise FuzzFailure(f"alert record of {len(body)} bytes")
    # Sticky: the same error again, nothing more sent.
    for again in (b"", b"\x16\x03\x03\x00\x04\x00\x00\x00\x00"):
        try:
            conn.receive_data(again)
        except TLSError as exc:
            if exc is not failure:
                raise FuzzFailure(f"after {failure!r}, a later call raised {exc!r}") from exc
        else:
            raise FuzzFailure(f"after {failure!r}, a later call did not raise")
    if conn.data_to_send():
        raise FuzzFailure("a failed connection sent more bytes")


# -- the targets -----------------------------------------------------------------------------


def server_connection(data: bytes) -> None:
    """A ServerConnection (golden configuration) fed arbitrary bytes from a client."""
    if not data:
        return
    name = GOLDEN_NAMES[data[0] % 3]
    conn = ServerConnection(server_config(name))
    _drive(conn, data[1:], data[0] // 3)


def client_connection(data: bytes) -> None:
    """A ClientConnection (golden configuration) fed arbitrary bytes after its ClientHello."""
    if not data:
        return
    name = GOLDEN_NAMES[data[0] % 3]
    conn = ClientConnection(client_config(name), server_name="localhost")
    hello = conn.data_to_send()
    if hello != golden_flows_cached(name)[0][1]:
        raise FuzzFailure("the deterministic ClientHello differs from the golden one")
    _drive(conn, data[1:], data[0] // 3)


_FLOWS: dict[str, list[tuple[str, bytes]]] = {}


def golden_flows_cached(name: str) -> list[tuple[str, bytes]]:
    if name not in _FLOWS:
        _FLOWS[name] = golden_flows(name)
    return _FLOWS[name]


#: The fixed key of the deframer's protected mode (seeds are sealed with it).
DEFRAMER_KEY, DEFRAMER_SALT = bytes(range(32)), b"salt"
_DEFRAMER_ERRORS = (UnexpectedMessage, ProtocolVersionError, RecordOverflow, BadRecordMac, IllegalParameter,
                    DecodeError)


def deframer(data: bytes) -> None:
    """RecordLayer.next_record and HandshakeReassembler over arbitrary bytes."""
    if not data:
        return
    mode, stream = data[0], data[1:]
    limit = 1024 if mode & 4 else 64 * 1024
    reassembler = HandshakeReassembler(limit)
    layer = RecordLayer(reassembler)
    layer.established = True  # the record rules of an established connection: application data may come
    if mode & 1:
        layer.read_cipher = GCMRecordAEAD(DEFRAMER_KEY, DEFRAMER_SALT)
    layer.version_fixed = bool(mode & 2)
    try:
        for chunk in _pieces(stream, mode >> 3):
            layer.feed(chunk)
            while (rec := layer.next_record()) is not None:
                # (content type, [record version,] plaintext): the middle item is optional.
                content_type, payload = rec[0], rec[-1]
                if content_type not in (20, 21, 22, 23):
                    raise FuzzFailure(f"record of type {content_type} passed the header checks")
                if len(payload) > 2**14:
                    raise FuzzFailure(f"{len(payload)}-byte plaintext passed the record layer")
                if content_type == ContentType.HANDSHAKE:
                    reassembler.add(payload)
                    while (frame := reassembler.pop()) is not None:
                        msg_type, body, raw = frame
                        if len(body) > limit or raw != bytes((msg_type,)) + \
                                len(body).to_bytes(3, "big") + body:
                            raise FuzzFailure("reassembler returned a bad frame")
            layer.compact()
            # At most one record (header and body) is ever held back.
            if layer.buffered > HEADER_LEN + MAX_CIPHERTEXT:
                raise FuzzFailure(f"{layer.buffered} bytes buffered")
    except _DEFRAMER_ERRORS:
        pass


def _extension_parser(cls: Any, from_client: bool) -> Callable[[bytes], Any]:
    def parse(body: bytes) -> Any:
        ext = cls.parse(body, from_client=from_client)
        if cls.parse(ext.body(), from_client=from_client) != ext:
            raise FuzzFailure(f"{cls.__name__} does not round-trip")
        return ext

    return parse


def _handshake_parser(msg_type: int) -> Callable[[bytes], Any]:
    def parse(body: bytes) -> Any:
        msg = parse_handshake(msg_type, body)
        again = encode_handshake(msg)
        if parse_handshake(again[0], again[4:]) != msg:
            raise FuzzFailure(f"handshake type {msg_type} does not round-trip")
        return msg

    return parse


def _extensions_block(from_client: bool) -> Callable[[bytes], Any]:
    def parse(body: bytes) -> Any:
        r = Reader(body)
        exts = parse_extensions(r, from_client=from_client)
        r.done()
        return exts

    return parse


def _write_extensions_roundtrip(body: bytes) -> Any:
    exts = parse_extensions(Reader(body), from_client=True)
    w = Writer()
    write_extensions(w, exts)
    if parse_extensions(Reader(w.getvalue()), from_client=True) != exts:
        raise FuzzFailure("extension block does not round-trip")
    return exts


_EXTENSIONS = (ServerName, SupportedGroups, ECPointFormats, SignatureAlgorithms, ALPN, ExtendedMasterSecret,
               RenegotiationInfo, SupportedVersions)
PARSERS: list[tuple[str, Callable[[bytes], Any]]] = [
    *((f"handshake type {t}", _handshake_parser(t)) for t in (0, 1, 2, 11, 12, 13, 14, 16, 20, 4, 15, 99)),
    *((f"{cls.__name__} from {'client' if fc else 'server'}", _extension_parser(cls, fc))
      for cls in _EXTENSIONS for fc in (True, False)),
    ("extensions from client", _extensions_block(True)),
    ("extensions from server", _extensions_block(False)),
    ("extensions round trip", _write_extensions_roundtrip),
    ("Alert", Alert.parse),
    ("ChangeCipherSpec", ChangeCipherSpec.parse),
]


def message_parsers(data: bytes) -> None:
    """One message or extension parser (picked by the first byte) over the rest of the input."""
    if not data:
        return
    _, parse = PARSERS[data[0] % len(PARSERS)]
    with suppress(DecodeError, IllegalParameter):
        parse(data[1:])


TARGETS: dict[str, Callable[[bytes], None]] = {
    "deframer": deframer,
    "parsers": message_parsers,
    "server": server_connection,
    "client": client_connection,
}


# -- seeds ------------------------------------------------------------------------------------


def seeds(target: str) -> list[bytes]:
    """A starting corpus per target, from the golden transcripts."""
    out: list[bytes] = []
    if target in ("server", "client"):
        sender = "client" if target == "server" else "server"
        for i, name in enumerate(GOLDEN_NAMES):
            stream = _stream(name, sender)
            out += [bytes((i,)) + stream, bytes((i + 3 * 7,)) + stream]
    elif target == "deframer":
        flows = [d for name in GOLDEN_NAMES for _, d in golden_flows(name)]
        out += [b"\x00" + flows[0], b"\x02" + flows[1], b"\x04" + flows[0], bytes((8 * 5,)) + flows[1]]
        sealer = GCMRecordAEAD(DEFRAMER_KEY, DEFRAMER_SALT)
        protected = b"".join(sealer.seal(t, p) for t, p in ((22, b"\x14\x00\x00\x0c" + bytes(12)), (23, b"data"),
                                                            (21, b"\x01\x00"), (23, b"")))
        out += [b"\x03" + protected, bytes((8 * 3 + 1,)) + protected]
    elif target == "parsers":
        flow = golden_flows(GOLDEN_NAMES[0])
        frames = _frames(flow[0][1]) + _frames(flow[1][1])
        for raw in frames:
            index = next(i for i, (label, _) in enumerate(PARSERS) if label == f"handshake type {raw[0]}")
            out.append(bytes((index,)) + raw[4:])
        hello = frames[0][4:]
        # The ClientHello's extension block, for the block parsers.
        r = Reader(hello)
        r.take(2 + 32)
        r.opaque(1, max=32)
        r.opaque(2, max=0xFFFE)
        r.opaque(1, max=0xFF)
        block = r.rest()
        for label in ("extensions from client", "extensions from server", "extensions round trip"):
            out.append(bytes((next(i for i, (lbl, _) in enumerate(PARSERS) if lbl == label),)) + block)
        out += [bytes((len(PARSERS) - 2,)) + b"\x02\x28", bytes((len(PARSERS) - 1,)) + b"\x01"]
    else:
        raise KeyError(target)
    return out


def _frames(flow: bytes) -> list[bytes]:
    payload = b"".join(body for t, _, body in _records(flow) if t == ContentType.HANDSHAKE)
    frames = []
    while payload:
        end = 4 + int.from_bytes(payload[1:4], "big")
        frames.append(payload[:end])
        payload = payload[end:]
    return frames


# -- bounds -------------------------------------------------------------------------------------


class Hang(Exception):
    """An input ran past the time limit."""


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"input ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Measured:
    seconds: float
    peak_bytes: int


def run_bounded(target: Callable[[bytes], None], data: bytes, *, trace_memory: bool = True) -> Measured:
    """Run one input under the time bound (an alarm, so a real hang is interrupted too) and,
    with `trace_memory`, the memory bound (tracemalloc's peak of Python allocations)."""
    started = time.perf_counter()
    if trace_memory:
        tracemalloc.start()
        tracemalloc.reset_peak()
    try:
        with _alarm(TIME_LIMIT_S):
            target(data)
        peak = tracemalloc.get_traced_memory()[1] if trace_memory else 0
    finally:
        if trace_memory:
            tracemalloc.stop()
    elapsed = time.perf_counter() - started
    if elapsed > TIME_LIMIT_S:
        raise FuzzFailure(f"input took {elapsed:.2f} s")
    if peak > MEMORY_LIMIT_BYTES + 4 * len(data):
        raise FuzzFailure(f"input of {len(data)} bytes peaked at {peak} bytes of Python memory")
    return Measured(elapsed, peak)


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
