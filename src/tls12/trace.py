"""Structured trace events: what the core saw, sent, decided, verified and derived.

The core never prints. A connection given a tracer (any callable taking a
`TraceEvent`) calls it at each step; with no tracer attached no event is
built and no tracing work is done (every call site is guarded by
``if tracer is not None``). Secret values are always carried; whoever renders
the trace decides whether to show them.

The events, in the order a handshake produces them:

- `RecordTrace`: one TLS record in or out: header fields, whether it was
  protected, and for protected records the sequence number and the explicit
  nonce (AES-GCM, RFC 5288: they are the same 8 bytes; None for ChaCha20-Poly1305,
  whose records carry no nonce, RFC 7905).
- `MessageTrace`: one protocol message in or out (handshake message,
  ChangeCipherSpec or alert): the parsed message and its exact wire bytes.
- `Decision`: a negotiation choice (suite, group, signature scheme, EMS, SNI,
  ALPN, renegotiation; in mutual TLS the server's client authentication
  policy and the client certificate, chosen by the client and taken by the
  server) with the reason.
- `Verification`: a check and its verdict: each certificate of the chain,
  the host name, the ServerKeyExchange signature, each Finished (with the
  expected and received values); in mutual TLS each certificate of the
  client's chain ("client certificate[i]", "client certificate chain") and
  its CertificateVerify ("client CertificateVerify").
- `SecretDerived`: a secret and how it was computed.
- `Failure`: the handshake or connection failed: in which state, what was
  expected, what arrived, and the alert sent or received.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .enums import AlertDescription, ContentType

__all__ = [
    "Decision",
    "Direction",
    "Failure",
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
    """A protocol message (handshake, ChangeCipherSpec or alert) sent or received.

    `raw` is exactly what the transcript hashes for handshake messages: the
    4-byte header and the body, as they went over the wire."""

    direction: Direction
    message: object
    raw: bytes


@dataclass(frozen=True, slots=True)
class RecordTrace:
    """One record. `length` is the fragment length in the header (for a
    protected record: explicit nonce, if the cipher sends one, + ciphertext +
    tag); `plaintext_length` what it carries. `explicit_nonce` is None for a
    plain record and for a cipher that sends no nonce (ChaCha20-Poly1305)."""

    direction: Direction
    content_type: ContentType
    version: int
    length: int
    protected: bool
    seq: int | None
    explicit_nonce: bytes | None = None
    plaintext_length: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    """A negotiation choice: what was chosen, and why."""

    what: str
    value: str
    why: str


@dataclass(frozen=True, slots=True)
class Verification:
    """A check and its verdict. For Finished, `expected` and `received` carry
    the two verify_data values; for certificates `subject` names the one checked."""

    what: str
    ok: bool
    detail: str
    subject: str = ""
    expected: bytes = b""
    received: bytes = b""


@dataclass(frozen=True, slots=True)
class SecretDerived:
    label: str
    value: bytes
    inputs: str = ""


@dataclass(frozen=True, slots=True)
class Failure:
    """The connection failed. `alert_direction` is "sent" for a failure
    detected here, "received" for the peer's fatal alert, "none" when no
    alert could go either way (EOF, an API misuse)."""

    state: str
    expected: str
    received: str
    error: str
    error_type: str
    alert: AlertDescription | None
    alert_direction: Literal["sent", "received", "none"]


TraceEvent = MessageTrace | RecordTrace | Decision | Verification | SecretDerived | Failure
Tracer = Callable[[TraceEvent], None]
