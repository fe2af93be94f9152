"""Record protection for TLS 1.2: the AEAD of the suite row, one direction at a time.

Two nonce rules, one interface (`RecordAEAD`: `seal`, `open`, `seq`, `overhead`; `open_at` is
`open` on a record body that lies inside a larger buffer):

AES-GCM (RFC 5288 §3), `GCMRecordAEAD`: a 4-byte implicit salt from the key block and an
8-byte explicit nonce sent in each record. The explicit nonce is the sequence number.

    nonce = salt(4) ‖ explicit(8)
    record = type ‖ version ‖ length ‖ explicit ‖ ciphertext ‖ tag

ChaCha20-Poly1305 (RFC 7905 §2), `ChaChaRecordAEAD`: a 12-byte implicit IV from the key
block, XORed with the sequence number; nothing of the nonce is sent.

    nonce = iv(12) XOR (0(4) ‖ seq_num(8))
    record = type ‖ version ‖ length ‖ ciphertext ‖ tag

Both authenticate the same additional data (RFC 5246 §6.2.3.3):

    additional_data = seq_num(8) ‖ type(1) ‖ version(2) ‖ length(2)   (length of the plaintext)

A nonce can never repeat under one key: each direction owns its sequence number, which only
ever grows, and refuses to go past 2^64 - 1 instead of wrapping. Whatever goes wrong opening a
record is bad_record_mac; a plaintext over 2^14 bytes is record_overflow.

The nonce rule is chosen once, by the class `record_aead()` picks from the suite row: sealing
and opening a record never branch on it.
"""

from __future__ import annotations

import struct
from typing import ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from ..errors import BadRecordMac, RecordOverflow, SequenceExhausted
from .suites import AEADKind, SuiteSpec

__all__ = ["MAX_SEQUENCE", "ChaChaRecordAEAD", "GCMRecordAEAD", "RecordAEAD", "record_aead"]

MAX_SEQUENCE = 2**64 - 1
_TAG_LEN = 16
_MAX_PLAINTEXT = 2**14

_AAD = struct.Struct(">QBHH")
_HEADER = struct.Struct(">BHH")
_HEADER_AND_NONCE = struct.Struct(">BHHQ")  # the record header, then the explicit nonce
_GCM_NONCE = struct.Struct(">4sQ")


class RecordAEAD:
    """One direction of record protection with its sequence number.

    `explicit_nonce_len`: the bytes of nonce each record carries before its ciphertext;
    `overhead`: all a protected record carries beyond its plaintext (explicit nonce and tag)."""

    __slots__ = ("seq", "version")

    explicit_nonce_len: ClassVar[int]
    overhead: ClassVar[int]
    iv_len: ClassVar[int]

    def __init__(self, version: int) -> None:
        self.seq = 0
        self.version = version

    def seal(self, content_type: int, plaintext: bytes | bytearray | memoryview) -> bytes:  # pragma: no cover
        """Protect one fragment (at most 2^14 bytes) and return the whole record."""
        raise NotImplementedError

    def open(self, content_type: int, version: int, fragment: bytes | bytearray | memoryview) -> bytes:
        """Authenticate and decrypt one record body (explicit nonce if any, ciphertext, tag); any
        failure is bad_record_mac. `fragment` may be a view into the caller's buffer: nothing is
        copied but the plaintext."""
        return self.open_at(content_type, version, fragment, 0, len(fragment))

    def open_at(self, content_type: int, version: int, data: bytes | bytearray | memoryview,
                start: int, end: int) -> bytes:  # pragma: no cover
        """`open()` of the record body `data[start:end]`, sliced here, once: the record path hands
        over the caller's bytes rather than a view or a copy of the body."""
        raise NotImplementedError


class GCMRecordAEAD(RecordAEAD):
    """AES-GCM (128 or 256 by the key's length): salt(4) ‖ explicit(8), the explicit part sent."""

    __slots__ = ("_aead", "_salt")

    explicit_nonce_len = 8
    overhead = 8 + _TAG_LEN
    iv_len = 4

    def __init__(self, key: bytes, salt: bytes, version: int = 0x0303) -> None:
        if len(salt) != 4:
            raise ValueError(f"AES-GCM records take a 4-byte salt, not {len(salt)} bytes")
        super().__init__(version)
        self._aead = AESGCM(key)
        self._salt = salt

    def seal(self, content_type: int, plaintext: bytes | bytearray | memoryview) -> bytes:
        seq = self.seq
        if seq > MAX_SEQUENCE:
            raise SequenceExhausted("record sequence number exhausted")
        self.seq = seq + 1
        n = len(plaintext)
        version = self.version
        ciphertext = self._aead.encrypt(_GCM_NONCE.pack(self._salt, seq), plaintext,
                                        _AAD.pack(seq, content_type, version, n))
        return _HEADER_AND_NONCE.pack(content_type, version, n + 8 + _TAG_LEN, seq) + ciphertext

    def open_at(self, content_type: int, version: int, data: bytes | bytearray | memoryview,
                start: int, end: int) -> bytes:
        seq = self.seq
        if seq > MAX_SEQUENCE:
            raise SequenceExhausted("record sequence number exhausted")
        self.seq = seq + 1
        plain_len = end - start - 8 - _TAG_LEN
        if not 0 <= plain_len <= _MAX_PLAINTEXT:
            if plain_len < 0:
                raise BadRecordMac("protected record shorter than nonce and tag")
            raise RecordOverflow(f"protected record carries {plain_len} bytes of plaintext")
        # The explicit nonce is taken as sent; authentication fails if it was tampered with.
        nonce_end = start + 8
        try:
            return self._aead.decrypt(self._salt + data[start:nonce_end], data[nonce_end:end],
                                      _AAD.pack(seq, content_type, version, plain_len))
        except InvalidTag:
            raise BadRecordMac("record authentication failed") from None


class ChaChaRecordAEAD(RecordAEAD):
    """ChaCha20-Poly1305: iv(12) XOR the sequence number, nothing of the nonce sent."""

    __slots__ = ("_aead", "_iv")

    explicit_nonce_len = 0
    overhead = _TAG_LEN
    iv_len = 12

    def __init__(self, key: bytes, iv: bytes, version: int = 0x0303) -> None:
        if len(iv) != 12:
            raise ValueError(f"ChaCha20-Poly1305 records take a 12-byte IV, not {len(iv)} bytes")
        super().__init__(version)
        self._aead = ChaCha20Poly1305(key)
        # Kept as an integer: the 64-bit sequence number, left-padded to 12 bytes, XORs its low bits.
        self._iv = int.from_bytes(iv, "big")

    def nonce(self, seq: int) -> bytes:
        """The per-record nonce of RFC 7905 §2 for sequence number `seq` (for tracing and tests)."""
        return (self._iv ^ seq).to_bytes(12, "big")

    def seal(self, content_type: int, plaintext: bytes | bytearray | memoryview) -> bytes:
        seq = self.seq
        if seq > MAX_SEQUENCE:  # beyond it the XOR would reach the IV's upper 4 bytes: refuse, never wrap
            raise SequenceExhausted("record sequence number exhausted")
        self.seq = seq + 1
        n = len(plaintext)
        version = self.version
        ciphertext = self._aead.encrypt((self._iv ^ seq).to_bytes(12, "big"), plaintext,
                                        _AAD.pack(seq, content_type, version, n))
        return _HEADER.pack(content_type, version, n + _TAG_LEN) + ciphertext

    def open_at(self, content_type: int, version: int, data: bytes | bytearray | memoryview,
                start: int, end: int) -> bytes:
        seq = self.seq
        if seq > MAX_SEQUENCE:
            raise SequenceExhausted("record sequence number exhausted")
        self.seq = seq + 1
        plain_len = end - start - _TAG_LEN
        if not 0 <= plain_len <= _MAX_PLAINTEXT:
            if plain_len < 0:
                raise BadRecordMac("protected record shorter than its tag")
            raise RecordOverflow(f"protected record carries {plain_len} bytes of plaintext")
        try:
            return self._aead.decrypt((self._iv ^ seq).to_bytes(12, "big"), data[start:end],
                                      _AAD.pack(seq, content_type, version, plain_len))
        except InvalidTag:
            raise BadRecordMac("record authentication failed") from None


_CLASSES: dict[AEADKind, type[GCMRecordAEAD] | type[ChaChaRecordAEAD]] = {
    AEADKind.AES_GCM: GCMRecordAEAD,
    AEADKind.CHACHA20_POLY1305: ChaChaRecordAEAD,
}


def record_aead(spec: SuiteSpec, key: bytes, iv: bytes, version: int = 0x0303) -> RecordAEAD:
    """One direction's record protection for the suite row `spec`, from its write key and IV."""
    cls = _CLASSES[spec.aead]
    if (cls.explicit_nonce_len, cls.overhead, cls.iv_len) != (spec.record_iv_len, spec.record_overhead,
                                                               spec.fixed_iv_len):
        raise ValueError(f"{spec.suite.name}: the row's nonce sizes do not match {spec.aead.value}")
    if len(key) != spec.key_len:
        raise ValueError(f"{spec.suite.name} takes a {spec.key_len}-byte key, not {len(key)} bytes")
    return cls(key, iv, version)
