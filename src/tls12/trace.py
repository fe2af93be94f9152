"""Structured trace events: what the core saw, sent, decided, verified and derived.

The core never prints. A connection given a tracer (any callable taking a
`TraceEvent`) calls it at each step; with no tracer attached nothing is built.
Secret values are always carried; whoever renders the trace decides whether
to show them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .enums import ContentType

__all__ = [
    "Decision",
    "MessageTrace",
    "RecordTrace",
    "SecretDerived",
    "TraceEvent",
    "Tracer",
    "Verification",
]

Direction = Literal["in", "out"]


@dataclass(frozen=True, slots=True)
class MessageTrace:
    """A protocol message (handshake, ChangeCipherSpec or alert) sent or received."""

    direction: Direction
    message: object
    raw: bytes


@dataclass(frozen=True, slots=True)
class RecordTrace:
    direction: Direction
    content_type: ContentType
    version: int
    length: int
    protected: bool
    seq: int | None


@dataclass(frozen=True, slots=True)
class Decision:
    """A negotiation choice: what was chosen, and why."""

    what: str
    value: str
    why: str


@dataclass(frozen=True, slots=True)
class Verification:
    what: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class SecretDerived:
    label: str
    value: bytes
    inputs: str = ""


TraceEvent = MessageTrace | RecordTrace | Decision | Verification | SecretDerived
Tracer = Callable[[TraceEvent], None]
