"""The two non-handshake protocol messages: Alert (§7.2) and ChangeCipherSpec (§7.1)."""

from __future__ import annotations

from dataclasses import dataclass

from ..codec import Reader
from ..enums import AlertDescription, AlertLevel
from ..errors import DecodeError

__all__ = ["Alert", "ChangeCipherSpec"]


@dataclass(frozen=True, slots=True)
class Alert:
    level: AlertLevel
    description: AlertDescription

    @classmethod
    def parse(cls, data: bytes) -> Alert:
        # One alert per record: fragmented or coalesced alerts are refused, as
        # every mainstream stack does.
        if len(data) != 2:
            raise DecodeError(f"alert record of {len(data)} bytes, expected 2")
        r = Reader(data)
        return cls(AlertLevel(r.u8()), AlertDescription(r.u8()))

    def to_bytes(self) -> bytes:
        return bytes((self.level, self.description))


@dataclass(frozen=True, slots=True)
class ChangeCipherSpec:
    @classmethod
    def parse(cls, data: bytes) -> ChangeCipherSpec:
        if data != b"\x01":
            raise DecodeError("ChangeCipherSpec must be the single byte 1")
        return cls()

    def to_bytes(self) -> bytes:
        return b"\x01"
