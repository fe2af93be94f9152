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

import struct

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

    # The reads below are the whole parser's inner loop: each does its bounds
    # check inline rather than through a helper.

    def _short(self, n: int) -> DecodeError:
        return DecodeError(f"need {n} bytes, {self._end - self._pos} left")

    def u8(self) -> int:
        start = self._pos
        if start >= self._end:
            raise self._short(1)
        self._pos = start + 1
        return self._data[start]

    def u16(self) -> int:
        start = self._pos
        end = start + 2
        if end > self._end:
            raise self._short(2)
        self._pos = end
        return int.from_bytes(self._data[start:end], "big")

    def u24(self) -> int:
        start = self._pos
        end = start + 3
        if end > self._end:
            raise self._short(3)
        self._pos = end
        return int.from_bytes(self._data[start:end], "big")

    def u32(self) -> int:
        start = self._pos
        end = start + 4
        if end > self._end:
            raise self._short(4)
        self._pos = end
        return int.from_bytes(self._data[start:end], "big")

    def u64(self) -> int:
        start = self._pos
        end = start + 8
        if end > self._end:
            raise self._short(8)
        self._pos = end
        return int.from_bytes(self._data[start:end], "big")

    def take(self, n: int) -> bytes:
        start = self._pos
        end = start + n
        if end > self._end:
            raise self._short(n)
        self._pos = end
        return self._data[start:end]

    def rest(self) -> bytes:
        return self.take(self.remaining)

    def opaque(self, len_bytes: int, *, min: int = 0, max: int, what: str = "vector") -> bytes:
        """A length-prefixed opaque vector, returned as bytes."""
        start = self._pos
        body = start + len_bytes
        if body > self._end:
            raise self._short(len_bytes)
        n = int.from_bytes(self._data[start:body], "big")
        if n < min or n > max:
            raise DecodeError(f"{what}: length {n} outside {min}..{max}")
        end = body + n
        if end > self._end:
            self._pos = body
            raise self._short(n)
        self._pos = end
        return self._data[body:end]

    def vec(self, len_bytes: int, *, min: int = 0, max: int, what: str = "vector") -> Reader:
        """A length-prefixed vector, returned as a sub-reader over its body."""
        return Reader(self.opaque(len_bytes, min=min, max=max, what=what))

    def u16_list(self, len_bytes: int, *, min: int, max: int, what: str) -> list[int]:
        """A vector of uint16 values (suites, groups, schemes)."""
        body = self.opaque(len_bytes, min=min, max=max, what=what)
        if len(body) % 2:
            raise DecodeError(f"{what}: odd length {len(body)}")
        return list(struct.unpack(f">{len(body) // 2}H", body))

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

    def u32(self, v: int) -> None:
        self.buf += v.to_bytes(4, "big")

    def u64(self, v: int) -> None:
        self.buf += v.to_bytes(8, "big")

    def raw(self, data: bytes | bytearray | memoryview) -> None:
        self.buf += data

    def opaque(self, len_bytes: int, data: bytes, *, max: int) -> None:
        if len(data) > max:
            raise ValueError(f"vector of {len(data)} bytes exceeds {max}")
        self.buf += len(data).to_bytes(len_bytes, "big")
        self.buf += data

    def u16_list(self, len_bytes: int, values: list[int] | tuple[int, ...], *, max: int) -> None:
        self.opaque(len_bytes, struct.pack(f">{len(values)}H", *values), max=max)

    def prefixed(self, len_bytes: int, *, max: int) -> _Prefixed:
        """``with w.prefixed(2, max=0xFFFF): ...`` writes a vector and back-fills its length."""
        return _Prefixed(self.buf, len_bytes, max)

    def getvalue(self) -> bytes:
        return bytes(self.buf)


class _Prefixed:
    """The context manager `Writer.prefixed()` returns (a class: cheaper than a generator)."""

    __slots__ = ("_at", "_buf", "_len_bytes", "_max")

    def __init__(self, buf: bytearray, len_bytes: int, max: int) -> None:
        self._buf = buf
        self._len_bytes = len_bytes
        self._max = max
        self._at = 0

    def __enter__(self) -> None:
        buf = self._buf
        self._at = len(buf)
        buf += bytes(self._len_bytes)

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is not None:
            return
        buf, at, len_bytes = self._buf, self._at, self._len_bytes
        n = len(buf) - at - len_bytes
        if n > self._max:
            raise ValueError(f"vector of {n} bytes exceeds {self._max}")
        buf[at : at + len_bytes] = n.to_bytes(len_bytes, "big")
