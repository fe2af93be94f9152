"""Byte-level reading and writing in the RFC 5246 presentation language.

`Reader` walks a buffer front to back; every read is bounds-checked and a
short buffer raises `DecodeError`. Length-prefixed vectors take their bounds
straight from the RFC (`cipher_suites<2..2^16-2>` is
``r.vec(2, min=2, max=0xFFFE)``). Every decoder finishes with `done()`, which
rejects trailing bytes.

`Writer` appends to a bytearray; `prefixed()` back-fills a length prefix and
checks it against the vector's upper bound.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import DecodeError

__all__ = ["Reader", "Writer"]


class Reader:
    """A cursor over immutable bytes. Reads never go past the end."""

    __slots__ = ("_data", "_pos", "_end")

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._data = bytes(data)
        self._pos = 0
        self._end = len(self._data)

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def _advance(self, n: int) -> int:
        start = self._pos
        if n > self._end - start:
            raise DecodeError(f"need {n} bytes, {self._end - start} left")
        self._pos = start + n
        return start

    def u8(self) -> int:
        start = self._advance(1)
        return self._data[start]

    def u16(self) -> int:
        start = self._advance(2)
        return int.from_bytes(self._data[start : start + 2], "big")

    def u24(self) -> int:
        start = self._advance(3)
        return int.from_bytes(self._data[start : start + 3], "big")

    def take(self, n: int) -> bytes:
        start = self._advance(n)
        return self._data[start : start + n]

    def rest(self) -> bytes:
        return self.take(self.remaining)

    def _length(self, len_bytes: int, lo: int, hi: int, what: str) -> int:
        if len_bytes == 1:
            n = self.u8()
        elif len_bytes == 2:
            n = self.u16()
        elif len_bytes == 3:
            n = self.u24()
        else:  # pragma: no cover - programming error
            raise ValueError("length prefix must be 1, 2 or 3 bytes")
        if n < lo or n > hi:
            raise DecodeError(f"{what}: length {n} outside {lo}..{hi}")
        return n

    def opaque(self, len_bytes: int, *, min: int = 0, max: int, what: str = "vector") -> bytes:
        """A length-prefixed opaque vector, returned as bytes."""
        return self.take(self._length(len_bytes, min, max, what))

    def vec(self, len_bytes: int, *, min: int = 0, max: int, what: str = "vector") -> Reader:
        """A length-prefixed vector, returned as a sub-reader over its body."""
        return Reader(self.opaque(len_bytes, min=min, max=max, what=what))

    def u16_list(self, len_bytes: int, *, min: int, max: int, what: str) -> list[int]:
        """A vector of uint16 values (suites, groups, schemes)."""
        body = self.opaque(len_bytes, min=min, max=max, what=what)
        if len(body) % 2:
            raise DecodeError(f"{what}: odd length {len(body)}")
        return [int.from_bytes(body[i : i + 2], "big") for i in range(0, len(body), 2)]

    def done(self, what: str = "message") -> None:
        if self._pos != self._end:
            raise DecodeError(f"{self._end - self._pos} bytes of trailing data in {what}")


class Writer:
    """An append-only buffer with back-filled length prefixes."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()

    def u8(self, v: int) -> None:
        self.buf.append(v)

    def u16(self, v: int) -> None:
        self.buf += v.to_bytes(2, "big")

    def u24(self, v: int) -> None:
        self.buf += v.to_bytes(3, "big")

    def raw(self, data: bytes | bytearray | memoryview) -> None:
        self.buf += data

    def opaque(self, len_bytes: int, data: bytes, *, max: int) -> None:
        if len(data) > max:
            raise ValueError(f"vector of {len(data)} bytes exceeds {max}")
        self.buf += len(data).to_bytes(len_bytes, "big")
        self.buf += data

    def u16_list(self, len_bytes: int, values: list[int] | tuple[int, ...], *, max: int) -> None:
        self.opaque(len_bytes, b"".join(v.to_bytes(2, "big") for v in values), max=max)

    @contextmanager
    def prefixed(self, len_bytes: int, *, max: int) -> Iterator[None]:
        at = len(self.buf)
        self.buf += bytes(len_bytes)
        yield
        n = len(self.buf) - at - len_bytes
        if n > max:
            raise ValueError(f"vector of {n} bytes exceeds {max}")
        self.buf[at : at + len_bytes] = n.to_bytes(len_bytes, "big")

    def getvalue(self) -> bytes:
        return bytes(self.buf)
