"""Just enough DER (X.690) to reach inside a certificate where `cryptography` offers no API.

Used for RSASSA-PSS keys (RFC 4055): `cryptography` reads an id-RSASSA-PSS
SubjectPublicKeyInfo as a plain RSA key and cannot write one, so the
throwaway CA rewrites the algorithm identifier itself, and a credential reads
the key's parameters from the certificate. Definite lengths only, as DER requires.
"""

from __future__ import annotations

__all__ = ["children", "contents", "encode", "read", "spki_index"]

SEQUENCE = 0x30


def read(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """The element at `offset`: (tag, start of its contents, end of the element)."""
    if offset + 2 > len(data):
        raise ValueError("DER element is truncated")
    tag, first = data[offset], data[offset + 1]
    if tag & 0x1F == 0x1F:
        raise ValueError("DER high tag numbers are not supported")
    start = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise ValueError("DER length is malformed")
        length = int.from_bytes(data[start:start + count], "big")
        if length < 0x80 or data[start] == 0:
            raise ValueError("DER length is not minimal")
        start += count
    end = start + length
    if end > len(data):
        raise ValueError("DER element is truncated")
    return tag, start, end


def children(element: bytes) -> list[bytes]:
    """The complete encodings of the elements inside a constructed element."""
    tag, start, end = read(element)
    if not tag & 0x20 or end != len(element):
        raise ValueError("not a single constructed DER element")
    out = []
    while start < end:
        _, _, child_end = read(element, start)
        out.append(element[start:child_end])
        start = child_end
    return out


def contents(element: bytes) -> bytes:
    """The contents of a single element (its whole encoding, nothing after it)."""
    _, start, end = read(element)
    if end != len(element):
        raise ValueError("not a single DER element")
    return element[start:end]


def spki_index(tbs_fields: list[bytes]) -> int:
    """Where subjectPublicKeyInfo stands among a TBSCertificate's `children` (RFC 5280 §4.1).

    After the optional [0] version: serial, signature, issuer, validity, subject."""
    return 6 if tbs_fields and tbs_fields[0][0] == 0xA0 else 5


def encode(tag: int, contents: bytes) -> bytes:
    n = len(contents)
    if n < 0x80:
        return bytes((tag, n)) + contents
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + contents
