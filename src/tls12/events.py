"""What `receive_data()` reports: small frozen dataclasses, named for what happened."""

from __future__ import annotations

from dataclasses import dataclass

from .enums import AlertDescription, AlertLevel

__all__ = ["AlertReceived", "ApplicationDataReceived", "ConnectionClosed", "Event", "HandshakeComplete"]


@dataclass(frozen=True, slots=True)
class HandshakeComplete:
    """Both Finished messages verified; application data may flow."""


@dataclass(frozen=True, slots=True)
class ApplicationDataReceived:
    data: bytes


@dataclass(frozen=True, slots=True)
class AlertReceived:
    """A warning alert other than close_notify (fatal alerts raise `AlertReceivedError`)."""

    level: AlertLevel
    description: AlertDescription


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer sent close_notify: nothing more will arrive."""


Event = HandshakeComplete | ApplicationDataReceived | AlertReceived | ConnectionClosed
