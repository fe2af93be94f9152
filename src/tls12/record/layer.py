"""The record layer (RFC 5246 §6.2): framing, limits, protection, reassembly.

Inbound, every rule a record must meet lives here, once: `check_header()`
(content type, version, length bounds, and what the content type may be now:
no application data before the handshake completes, no application data or
ChangeCipherSpec inside a fragmented handshake message) and the count of
records that carry nothing (`count_useless()`). Both ways in call them:

* `next_record()` takes one whole record off the input buffer, decrypts it
  once a read cipher is active, and returns (content type, plaintext);
* `open_application_data()` is the short path of an established connection:
  it opens the run of whole application-data records at the start of the
  caller's bytes without copying them into the buffer first.

Bytes are consumed through an offset and the buffer is compacted once per
`receive_data()` call, so a large input is not copied once per record. At
most one record (plus its header) beyond what the caller fed is ever
buffered: the header is checked before the body is awaited.

`HandshakeReassembler` joins handshake fragments into messages and splits
coalesced ones, refusing a message longer than its type allows from its
4-byte header, before buffering the rest.

Outbound, `seal()` cuts data into fragments of at most 2^14 bytes and frames
(and, once keys are active, protects) each one.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from ..crypto.aead import RecordAEAD
from ..enums import ContentType, HandshakeType, ProtocolVersion
from ..errors import (
    BadRecordMac,
    DecodeError,
    IllegalParameter,
    ProtocolVersionError,
    RecordOverflow,
    TLSError,
    UnexpectedMessage,
)
from ..events import ApplicationDataReceived, Event

__all__ = [
    "HEADER_LEN",
    "MAX_CIPHERTEXT",
    "MAX_HANDSHAKE_WARNINGS",
    "MAX_PLAINTEXT",
    "MAX_USELESS_RECORDS",
    "HandshakeReassembler",
    "RecordLayer",
]

HEADER_LEN = 5
MAX_PLAINTEXT = 2**14
MAX_CIPHERTEXT = 2**14 + 2048  # §6.2.3
_HEADER = struct.Struct(">BHH")
_VALID_TYPES = frozenset(
    int(t)
    for t in (ContentType.CHANGE_CIPHER_SPEC, ContentType.ALERT, ContentType.HANDSHAKE, ContentType.APPLICATION_DATA)
)
_APPLICATION_DATA = int(ContentType.APPLICATION_DATA)
_CHANGE_CIPHER_SPEC = int(ContentType.CHANGE_CIPHER_SPEC)
_TLS1_2 = int(ProtocolVersion.TLS1_2)

# ApplicationDataReceived is a frozen dataclass, whose __init__ sets its field through
# object.__setattr__; the short path makes the same object and fills its slot directly:
# 0.1 µs per record (bench 256 B: 0.41x -> 0.43x).
_new_object = object.__new__
_set_data = ApplicationDataReceived.__dict__["data"].__set__

#: Consecutive records that carry nothing (empty application data, warning alerts, refused or
#: ignored handshake messages, handshake fragments after the handshake) tolerated once the
#: handshake is complete; one more ends the connection.
MAX_USELESS_RECORDS = 32
#: The same before the handshake completes, where such records are warning alerts (or ignored
#: HelloRequests): OpenSSL ends a handshake on the 5th warning alert in a row, and so does tls12.
MAX_HANDSHAKE_WARNINGS = 4


def _unknown_type_message(content_type: int, start: bytes | bytearray | memoryview) -> str:
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
    __slots__ = ("_in", "_max_length", "_min_length", "_pos", "_read_cipher", "established", "handshake",
                 "useless", "version_fixed", "write_cipher", "write_version")

    def __init__(self, handshake: HandshakeReassembler, write_version: int = ProtocolVersion.TLS1_2) -> None:
        self._in = bytearray()
        self._pos = 0
        self.handshake = handshake
        #: Set by the connection when the handshake completes: application data may flow.
        self.established = False
        self.useless = 0
        self._read_cipher: RecordAEAD | None = None
        # The bounds of a record's length under the read cipher (see `read_cipher`).
        self._min_length = 0
        self._max_length = MAX_PLAINTEXT
        self.write_cipher: RecordAEAD | None = None
        # Until the hello exchange settles the version, any 3.x record version is
        # accepted (RFC 5246 E.1); afterwards exactly TLS 1.2.
        self.version_fixed = False
        self.write_version = write_version

    @property
    def read_cipher(self) -> RecordAEAD | None:
        return self._read_cipher

    @read_cipher.setter
    def read_cipher(self, cipher: RecordAEAD | None) -> None:
        """The length bounds follow the cipher: a plain record carries at most 2^14 bytes; a
        protected one at least its explicit nonce and tag, at most 2^14 + 2048 (§6.2.3)."""
        self._read_cipher = cipher
        self._min_length = 0 if cipher is None else cipher.overhead
        self._max_length = MAX_PLAINTEXT if cipher is None else MAX_CIPHERTEXT

    # -- the rules -------------------------------------------------------------

    def check_header(self, content_type: int, version: int, length: int,
                     start: bytes | bytearray | memoryview = b"") -> None:
        """Raise the error for a record header that may not come now; every record, whichever
        path reads it, is held to this (and to nothing else) before its body is awaited.
        `start`, the record's first bytes, only serves to name a peer that speaks plain text."""
        if content_type not in _VALID_TYPES:
            raise UnexpectedMessage(_unknown_type_message(content_type, start))
        if version != _TLS1_2:
            if self.version_fixed:
                raise ProtocolVersionError(f"record version 0x{version:04x}, expected 0x0303")
            if version >> 8 != 3:
                raise ProtocolVersionError(f"record version 0x{version:04x} is not TLS")
        if not self._min_length <= length <= self._max_length:
            if length > self._max_length:
                raise RecordOverflow(f"record of {length} bytes")
            raise BadRecordMac(f"protected record of {length} bytes: shorter than its "
                               f"{self._min_length} bytes of nonce and tag")
        if content_type == _APPLICATION_DATA:
            if not self.established:
                raise UnexpectedMessage("application data before the handshake completed")
            if self.handshake.pending:
                raise UnexpectedMessage("application data inside a fragmented handshake message")
        elif content_type == _CHANGE_CIPHER_SPEC and self.handshake.pending:
            # The cipher may only change between handshake messages.
            raise UnexpectedMessage("ChangeCipherSpec inside a fragmented handshake message")

    def carried(self) -> None:
        """A record that carried something (or, during the handshake, a handshake message): the
        run of records that carry nothing is over."""
        self.useless = 0

    def count_useless(self) -> None:
        """One more record in a row that carries nothing; too many end the connection."""
        self.useless += 1
        if self.established:
            if self.useless > MAX_USELESS_RECORDS:
                raise UnexpectedMessage(f"more than {MAX_USELESS_RECORDS} consecutive records without content")
        elif self.useless > MAX_HANDSHAKE_WARNINGS:
            raise UnexpectedMessage(f"{self.useless} warning alerts (or ignored HelloRequests) in a row during "
                                    "the handshake")

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

    def read_size(self, wanted: int) -> int:
        """How much a transport may read to deliver up to `wanted` bytes of application data
        without leaving a whole record decrypted beyond them (with what is buffered, the records
        completed carry at most `wanted` bytes), yet at least what the record under way lacks.

        Every record costs its header and protection beyond the data it carries, and carries at
        most 2^14 bytes. With m the fewest records that can carry `wanted` bytes, `wanted` plus the
        cost of m records is safe: k < m records carry at most (m - 1) * 2^14 < `wanted` bytes, and
        k >= m records leave at most `wanted` bytes for data. Full-size records fill it exactly, so
        a bulk reader's reads end on record boundaries (whole records take the short path)."""
        buffered = len(self._in) - self._pos
        records = -(-wanted // MAX_PLAINTEXT)
        size = wanted + records * (HEADER_LEN + self._min_length) - buffered
        if buffered:
            size = max(size, self.missing())
        return max(size, HEADER_LEN)

    def next_record(self) -> tuple[int, bytes] | None:
        """The next whole record as (content type, plaintext), or None."""
        buf, pos = self._in, self._pos
        if len(buf) - pos < HEADER_LEN:
            return None
        content_type, version, length = _HEADER.unpack_from(buf, pos)
        self.check_header(content_type, version, length, buf[pos : pos + 16])
        end = pos + HEADER_LEN + length
        if len(buf) < end:
            return None
        self._pos = end
        cipher = self._read_cipher
        if cipher is None:
            return content_type, bytes(buf[pos + HEADER_LEN : end])
        plaintext = cipher.open_at(content_type, version, buf, pos + HEADER_LEN, end)
        if content_type == _APPLICATION_DATA:
            if plaintext:
                self.carried()
            else:
                self.count_useless()
        return content_type, plaintext

    def open_application_data(self, data: bytes | bytearray | memoryview,
                              events: list[Event]) -> bytes | bytearray | memoryview | None:
        """The short path: open the run of whole application-data records at the start of `data`
        (the caller's bytes, not buffered) into `events`, each held to `check_header()`; returns
        what is left (b"" if nothing). It stops at anything else (another content type, an empty
        or partial record), which the caller hands to `feed()` and `next_record()`. Returns None,
        having done nothing, if part of a record is buffered: that one comes first. The read
        cipher must be active."""
        if self._in:  # compacted after every call: anything left is a record in progress
            return None
        cipher = self._read_cipher
        assert cipher is not None
        overhead = cipher.overhead
        total = len(data)
        pos = 0
        try:
            # Method calls rather than bound locals: a call usually holds one record.
            while total - pos >= HEADER_LEN:
                content_type, version, length = _HEADER.unpack_from(data, pos)
                end = pos + HEADER_LEN + length
                if content_type != _APPLICATION_DATA or length <= overhead or end > total:
                    break
                self.check_header(content_type, version, length)
                event = _new_object(ApplicationDataReceived)
                # The cipher slices the caller's bytes once, rather than a memoryview of them:
                # making the view costs more than copying the body (bench 256 B: 0.43x -> 0.48x).
                _set_data(event, cipher.open_at(content_type, version, data, pos + HEADER_LEN, end))
                events.append(event)
                pos = end
        except TLSError as exc:
            # Drop the frames that still hold the caller's buffer (a view of it, if it was one).
            raise exc.with_traceback(None) from None
        if not pos:
            return data
        self.useless = 0  # carried(), without a call per receive
        return data[pos:] if pos < total else b""

    def peek(self) -> tuple[int, int, int, bytes | None] | None:
        """The next whole record's (type, version, length, explicit nonce), unconsumed; the explicit
        nonce is None unless a read cipher that sends one is active.

        For tracing only: it copies, so the record path never calls it."""
        buf, pos = self._in, self._pos
        if len(buf) - pos < HEADER_LEN:
            return None
        content_type, version, length = _HEADER.unpack_from(buf, pos)
        if len(buf) < pos + HEADER_LEN + length:
            return None
        cipher = self._read_cipher
        n = 0 if cipher is None else cipher.explicit_nonce_len
        nonce = bytes(buf[pos + HEADER_LEN : pos + HEADER_LEN + min(length, n)]) if n else None
        return content_type, version, length, nonce

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
    fragmented across records and coalesced within one).

    `limits` maps each handshake type to the longest body taken for it (a type
    missing there is taken with no body at all), or is one bound for every type;
    a header declaring more is refused at once, before the body is buffered:
    decode_error beyond the type's structural bound, illegal_parameter beyond a
    configured one (`policy` names the setting behind each type it lists)."""

    __slots__ = ("_buf", "_other", "limits", "pending", "policy")

    def __init__(self, limits: Mapping[int, int] | int, policy: Mapping[int, str] | None = None) -> None:
        self._buf = bytearray()
        #: Part of a message is buffered (kept as an attribute: the record path reads it per record).
        self.pending = False
        self.limits: Mapping[int, int] = {} if isinstance(limits, int) else limits
        self._other = limits if isinstance(limits, int) else 0
        self.policy = policy or {}

    @property
    def empty(self) -> bool:
        return not self.pending

    def add(self, fragment: bytes) -> None:
        self._buf += fragment
        self.pending = bool(self._buf)

    def next_type(self) -> int | None:
        """The type of the next message, as soon as its first byte is in."""
        return self._buf[0] if self._buf else None

    def pop(self) -> tuple[int, bytes, bytes] | None:
        """The next whole message as (type, body, raw frame), or None if incomplete."""
        buf = self._buf
        if len(buf) < 4:
            return None
        msg_type = buf[0]
        length = int.from_bytes(buf[1:4], "big")
        limit = self.limits.get(msg_type, self._other)
        if length > limit:
            name = _type_name(msg_type)
            setting = self.policy.get(msg_type)
            if setting is not None:
                raise IllegalParameter(f"{name} of {length} bytes exceeds the {limit}-byte limit ({setting})")
            raise DecodeError(f"{name} of {length} bytes: at most {limit} fit its structure")
        end = 4 + length
        if len(buf) < end:
            return None
        raw = bytes(buf[:end])
        del buf[:end]
        self.pending = bool(buf)
        return raw[0], raw[4:], raw


def _type_name(msg_type: int) -> str:
    return HandshakeType(msg_type).name
