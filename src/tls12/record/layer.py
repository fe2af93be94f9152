"""The record layer (RFC 5246 §6.2): framing, limits, protection, reassembly.

Inbound, `RecordLayer.next_record()` takes one whole record off the input
buffer, checks its header, decrypts it once a read cipher is active, and
returns (content type, plaintext). Bytes are consumed through an offset and
the buffer is compacted once per `receive_data()` call, so a large input is
not copied once per record. At most one record (plus its header) beyond what
the caller fed is ever buffered: the header's length is checked before the
body is awaited.

`HandshakeReassembler` joins handshake fragments into messages and splits
coalesced ones, refusing any message longer than the configured bound before
buffering it.

Outbound, `seal()` cuts data into fragments of at most 2^14 bytes and frames
(and, once keys are active, protects) each one.
"""

from __future__ import annotations

import struct

from ..crypto.aead import RecordAEAD
from ..enums import ContentType, ProtocolVersion
from ..errors import IllegalParameter, ProtocolVersionError, RecordOverflow, UnexpectedMessage

__all__ = [
    "HEADER",
    "HEADER_LEN",
    "MAX_CIPHERTEXT",
    "MAX_PLAINTEXT",
    "RECORD_OVERHEAD",
    "HandshakeReassembler",
    "RecordLayer",
]

HEADER_LEN = 5
MAX_PLAINTEXT = 2**14
RECORD_OVERHEAD = 8 + 16  # explicit nonce and GCM tag of a protected record
MAX_CIPHERTEXT = 2**14 + 2048  # §6.2.3
HEADER = struct.Struct(">BHH")
_HEADER = HEADER
_VALID_TYPES = frozenset(
    (ContentType.CHANGE_CIPHER_SPEC, ContentType.ALERT, ContentType.HANDSHAKE, ContentType.APPLICATION_DATA)
)


def _unknown_type_message(content_type: int, start: bytes | bytearray) -> str:
    """Why a record's type byte is unknown; a peer that speaks plain text is named as such.

    When the first bytes are printable ASCII ("HTTP/1.1 400", "220 smtp", "GET / HTTP/1.1")
    the peer is not speaking TLS at all; they are quoted, with anything unprintable escaped."""
    if len(start) >= HEADER_LEN and all(0x20 <= b < 0x7F or b in b"\t\r\n" for b in start[:HEADER_LEN]):
        named = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x27: "\\'", 0x5C: "\\\\"}
        shown = "".join(named.get(b) or (chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}") for b in start)
        return (f"the peer sent '{shown}', plain text rather than a TLS record: "
                "is this a plain-text port (plain HTTP, say) instead of a TLS one?")
    return f"record of unknown content type {content_type}"


class RecordLayer:
    __slots__ = ("_in", "_pos", "read_cipher", "write_cipher", "version_fixed", "write_version")

    def __init__(self, write_version: int = ProtocolVersion.TLS1_2) -> None:
        self._in = bytearray()
        self._pos = 0
        self.read_cipher: RecordAEAD | None = None
        self.write_cipher: RecordAEAD | None = None
        # Until the hello exchange settles the version, any 3.x record version is
        # accepted (RFC 5246 E.1); afterwards exactly TLS 1.2.
        self.version_fixed = False
        self.write_version = write_version

    # -- inbound ---------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._in += data

    @property
    def buffered(self) -> int:
        return len(self._in) - self._pos

    def missing(self) -> int:
        """How many more bytes the first buffered record needs (its header first, if incomplete)."""
        have = len(self._in) - self._pos
        if have < HEADER_LEN:
            return HEADER_LEN - have
        length = int.from_bytes(self._in[self._pos + 3 : self._pos + 5], "big")
        return max(HEADER_LEN + length - have, 0) or 1

    def next_record(self) -> tuple[int, bytes] | None:
        """The next whole record as (content type, plaintext), or None."""
        buf, pos = self._in, self._pos
        if len(buf) - pos < HEADER_LEN:
            return None
        content_type, version, length = _HEADER.unpack_from(buf, pos)
        if content_type not in _VALID_TYPES:
            raise UnexpectedMessage(_unknown_type_message(content_type, buf[pos : pos + 16]))
        if self.version_fixed:
            if version != ProtocolVersion.TLS1_2:
                raise ProtocolVersionError(f"record version 0x{version:04x}, expected 0x0303")
        elif version >> 8 != 3:
            raise ProtocolVersionError(f"record version 0x{version:04x} is not TLS")
        cipher = self.read_cipher
        if length > (MAX_PLAINTEXT if cipher is None else MAX_CIPHERTEXT):
            raise RecordOverflow(f"record of {length} bytes")
        end = pos + HEADER_LEN + length
        if len(buf) < end:
            return None
        self._pos = end
        if cipher is None:
            return content_type, bytes(buf[pos + HEADER_LEN : end])
        with memoryview(buf) as view, view[pos + HEADER_LEN : end] as body:
            plaintext = cipher.open(content_type, version, body)
        return content_type, plaintext

    def peek(self) -> tuple[int, int, int, bytes] | None:
        """The next whole record's (type, version, length, first 8 bytes of its fragment), unconsumed.

        For tracing only: it copies, so the record path never calls it."""
        buf, pos = self._in, self._pos
        if len(buf) - pos < HEADER_LEN:
            return None
        content_type, version, length = _HEADER.unpack_from(buf, pos)
        if len(buf) < pos + HEADER_LEN + length:
            return None
        return content_type, version, length, bytes(buf[pos + HEADER_LEN : pos + HEADER_LEN + min(length, 8)])

    def compact(self) -> None:
        """Drop consumed bytes (once per receive call, not once per record).

        A new buffer rather than an in-place delete: a view of the old one may
        still be alive (in the traceback of a failed decryption), and a
        bytearray with live views cannot be resized."""
        if self._pos:
            self._in = self._in[self._pos :]
            self._pos = 0

    def take_input(self) -> bytes:
        """Whatever is buffered and not yet consumed, handed back (the buffer is emptied)."""
        data = bytes(self._in[self._pos :])
        self._in = bytearray()
        self._pos = 0
        return data

    # -- outbound --------------------------------------------------------------

    def seal_into(self, content_type: int, data: bytes | bytearray | memoryview, out: list[bytes]) -> None:
        """Append `data` to `out` as records of at most 2^14 bytes of plaintext each, one item per record."""
        cipher = self.write_cipher
        n = len(data)
        if cipher is None:
            version = self.write_version
            for start in range(0, n, MAX_PLAINTEXT):
                chunk = bytes(data[start : start + MAX_PLAINTEXT])
                out.append(_HEADER.pack(content_type, version, len(chunk)) + chunk)
            return
        if n <= MAX_PLAINTEXT:
            out.append(cipher.seal(content_type, data))
            return
        with memoryview(data) as view:
            for start in range(0, n, MAX_PLAINTEXT):
                out.append(cipher.seal(content_type, view[start : start + MAX_PLAINTEXT]))

    def seal(self, content_type: int, data: bytes | bytearray | memoryview, out: bytearray) -> None:
        """`seal_into()` for callers that collect records in one bytearray."""
        records: list[bytes] = []
        self.seal_into(content_type, data, records)
        for record in records:
            out += record


class HandshakeReassembler:
    """Joins handshake-record payloads into whole messages (§6.2.1: they may be
    fragmented across records and coalesced within one)."""

    __slots__ = ("_buf", "max_size")

    def __init__(self, max_size: int) -> None:
        self._buf = bytearray()
        self.max_size = max_size

    @property
    def empty(self) -> bool:
        return not self._buf

    def add(self, fragment: bytes) -> None:
        self._buf += fragment

    def pop(self) -> tuple[int, bytes, bytes] | None:
        """The next whole message as (type, body, raw frame), or None if incomplete."""
        buf = self._buf
        if len(buf) < 4:
            return None
        length = int.from_bytes(buf[1:4], "big")
        if length > self.max_size:
            raise IllegalParameter(f"handshake message of {length} bytes exceeds the {self.max_size}-byte limit")
        end = 4 + length
        if len(buf) < end:
            return None
        raw = bytes(buf[:end])
        del buf[:end]
        return raw[0], raw[4:], raw
