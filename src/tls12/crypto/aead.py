"""AES-GCM record protection for TLS 1.2 (RFC 5288, RFC 5246 §6.2.3.3).

Each direction owns one `AESGCM` object, its 4-byte implicit salt and its
64-bit sequence number. The 8-byte explicit nonce sent in each record is the
sequence number itself, so a nonce can never repeat under one key: the
sequence number only ever grows, and the connection refuses to go past
2^64 - 1 instead of wrapping.

    nonce = salt(4) ‖ explicit(8)
    additional_data = seq_num(8) ‖ type(1) ‖ version(2) ‖ length(2)   (length of the plaintext)
    record = type ‖ version ‖ length ‖ explicit ‖ ciphertext ‖ tag
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import BadRecordMac, RecordOverflow, SequenceExhausted

__all__ = ["MAX_SEQUENCE", "RecordAEAD"]

MAX_SEQUENCE = 2**64 - 1
_EXPLICIT_LEN = 8
_TAG_LEN = 16
_MAX_PLAINTEXT = 2**14
_OVERHEAD = _EXPLICIT_LEN + _TAG_LEN  # fragment[:8] below is the explicit nonce

_AAD = struct.Struct(">QBHH")
_HEADER_AND_NONCE = struct.Struct(">BHHQ")  # the record header, then the explicit nonce
_NONCE = struct.Struct(">4sQ")


class RecordAEAD:
    """One direction of AES-GCM protection with its sequence number."""

    __slots__ = ("_aead", "_salt", "seq", "version")

    def __init__(self, key: bytes, salt: bytes, version: int = 0x0303) -> None:
        self._aead = AESGCM(key)
        self._salt = salt
        self.seq = 0
        self.version = version

    def seal(self, content_type: int, plaintext: bytes | bytearray | memoryview) -> bytes:
        """Protect one fragment (at most 2^14 bytes) and return the whole record."""
        seq = self.seq
        if seq > MAX_SEQUENCE:
            raise SequenceExhausted("record sequence number exhausted")
        self.seq = seq + 1
        n = len(plaintext)
        version = self.version
        ciphertext = self._aead.encrypt(_NONCE.pack(self._salt, seq), plaintext,
                                        _AAD.pack(seq, content_type, version, n))
        return _HEADER_AND_NONCE.pack(content_type, version, n + _EXPLICIT_LEN + _TAG_LEN, seq) + ciphertext

    def open(self, content_type: int, version: int, fragment: bytes | bytearray | memoryview) -> bytes:
        """Authenticate and decrypt one record body (explicit nonce, ciphertext, tag); any failure
        is bad_record_mac. `fragment` may be a view into the caller's buffer: nothing is copied
        but the plaintext."""
        seq = self.seq
        if seq > MAX_SEQUENCE:
            raise SequenceExhausted("record sequence number exhausted")
        self.seq = seq + 1
        plain_len = len(fragment) - _OVERHEAD
        if not 0 <= plain_len <= _MAX_PLAINTEXT:
            if plain_len < 0:
                raise BadRecordMac("protected record shorter than nonce and tag")
            raise RecordOverflow(f"protected record carries {plain_len} bytes of plaintext")
        # The explicit nonce is taken as sent; authentication fails if it was tampered with.
        try:
            return self._aead.decrypt(self._salt + fragment[:8], fragment[8:],
                                      _AAD.pack(seq, content_type, version, plain_len))
        except InvalidTag:
            raise BadRecordMac("record authentication failed") from None
