"""What an explanation is made of: steps, fields, checks, decisions, derivations, flights.

`build.explain()` fills these from trace events; the renderers (text, JSON,
HTML) only read them. Everything here is plain data: bytes stay bytes (the
renderers hex them), and secret values are always present, so it is the
renderer that decides whether to show them.

Sides and roles: a trace comes from the client, the server, or an observer
(`tls12 explain` replaying a capture). An observer traces like a client
would: "out" is client to server, "in" is server to client. A *role* is
only ever "client" or "server": who sent a message.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

from ..trace import MessageTrace, TraceEvent, Tracer

__all__ = [
    "AppData",
    "Check",
    "DecisionInfo",
    "Derivation",
    "Explanation",
    "FailureInfo",
    "Field",
    "FieldKind",
    "Flight",
    "FlightItem",
    "NotReached",
    "ObserverNote",
    "Phase",
    "RecordInfo",
    "Recorder",
    "Role",
    "Side",
    "Step",
    "Tagged",
    "TrafficItem",
    "other",
    "role_of",
]

Side = Literal["client", "server", "observer"]
Role = Literal["client", "server"]
FieldKind = Literal["field", "length", "header", "group", "info"]
CheckStatus = Literal["ok", "failed", "skipped"]
Phase = Literal["handshake", "application", "close", "failure"]


def role_of(side: Side) -> Role:
    """Whose point of view a side's "out" is: an observer's "out" is the client's."""
    return "server" if side == "server" else "client"


def other(role: Role) -> Role:
    return "server" if role == "client" else "client"


@dataclass(frozen=True, slots=True)
class AppData:
    """Decrypted application data, carried as the `message` of a `MessageTrace`.

    The core does not trace application data; a replay (which decrypts it)
    and the demo (which knows what it sent) add it so it can be shown."""

    data: bytes


@dataclass(frozen=True, slots=True)
class ObserverNote:
    """Something an observer wants said that no trace event carries (e.g. "no key log line")."""

    text: str


@dataclass(frozen=True, slots=True)
class Tagged:
    side: Side
    event: TraceEvent | ObserverNote


class Recorder:
    """Collects trace events from both ends (thread-safe: the ends may run in two threads)."""

    def __init__(self) -> None:
        self.events: list[Tagged] = []
        self._lock = threading.Lock()

    def tracer(self, side: Literal["client", "server"]) -> Tracer:
        def record(event: TraceEvent) -> None:
            with self._lock:
                self.events.append(Tagged(side, event))

        return record

    def application_data(self, side: Literal["client", "server"], direction: Literal["in", "out"],
                         data: bytes) -> None:
        """Note application data `side` sent ("out") or received ("in"), to show it in the explanation."""
        with self._lock:
            self.events.append(Tagged(side, MessageTrace(direction, AppData(bytes(data)), bytes(data))))


@dataclass
class Field:
    """One field of a message: its name, value, meaning and where its bytes are.

    `start`/`end` are offsets into the message's raw bytes (None for an
    ``info`` field, which is derived, not on the wire: a certificate's subject).
    A ``group`` field's children tile its bytes exactly; ``length`` and
    ``header`` fields are framing, shown with the bytes but not in summaries.
    `expand`: summaries list the children instead of the field itself."""

    name: str
    value: str = ""
    meaning: str = ""
    start: int | None = None
    end: int | None = None
    kind: FieldKind = "field"
    children: list[Field] = field(default_factory=list)
    expand: bool = False

    @property
    def length(self) -> int:
        if self.start is None or self.end is None:
            return 0
        return self.end - self.start

    def walk(self) -> list[Field]:
        """This field and all its descendants, depth first."""
        out = [self]
        for child in self.children:
            out += child.walk()
        return out


@dataclass(frozen=True)
class RecordInfo:
    """One record that carried (part of) a message, from its RecordTrace."""

    sender: Role
    content_type: int
    version: int
    length: int
    protected: bool
    seq: int | None
    explicit_nonce: bytes | None
    plaintext_length: int

    @property
    def header(self) -> bytes:
        return bytes((self.content_type,)) + self.version.to_bytes(2, "big") + self.length.to_bytes(2, "big")


@dataclass(frozen=True)
class DecisionInfo:
    by: Side
    what: str
    value: str
    why: str

    @property
    def chooser(self) -> Role:
        """Whose choice it is: the side that traced it; for an observer, the client for its own certificate
        and the server for everything else (the side that chooses)."""
        if self.by != "observer":
            return self.by
        return "client" if self.what in ("client certificate", "session offered") else "server"


@dataclass(frozen=True)
class Check:
    """A verification and its verdict. `by` may be "client", "server", "observer" or "both"."""

    by: str
    what: str
    status: CheckStatus
    detail: str
    subject: str = ""
    expected: bytes = b""
    received: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Derivation:
    """A secret (or the session hash) in the key schedule.

    `value` is None when the tracer could not know it (an observer never
    learns the premaster secret)."""

    label: str
    value: bytes | None
    length: int
    formula: str
    meaning: str
    secret: bool
    by: Side
    source: str = ""  # where the value came from, when it was not computed here ("the key log")


@dataclass
class Step:
    """One step of the handshake: a message, who sent it, and everything done about it."""

    number: str
    id: str
    title: str
    message: str  # the message's name: "ClientHello", "ChangeCipherSpec", ...
    sender: Role
    rfc: str
    purpose: str
    expected: str  # what the receiver expects at this step (for explaining failures)
    seen: bool = False
    raw: bytes = b""
    fields: list[Field] = field(default_factory=list)
    records: list[RecordInfo] = field(default_factory=list)
    decisions: list[DecisionInfo] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    derivations: list[Derivation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    status: Literal["ok", "failed"] = "ok"

    @property
    def receiver(self) -> Role:
        return other(self.sender)

    @property
    def wire_bytes(self) -> int:
        return len(self.raw)

    @property
    def protected(self) -> bool:
        return any(r.protected for r in self.records)


@dataclass(frozen=True)
class NotReached:
    number: str
    title: str
    sent: bool  # it went over the wire, but the receiver never processed it


@dataclass(frozen=True)
class TrafficItem:
    """A record after the handshake (or an alert at any time), in the order one side saw them."""

    sender: Role
    kind: Literal["application_data", "alert", "handshake"]
    record: RecordInfo | None
    plaintext: bytes | None = None
    alert_level: int | None = None
    alert_description: int | None = None
    note: str = ""
    #: The record's 12-byte AEAD nonce, when the write_IV is known (a secret: it shows the IV).
    nonce: bytes | None = None
    #: How the nonce is made, in words ("write_IV XOR seq 3", "write_IV ‖ explicit nonce").
    nonce_rule: str = ""


@dataclass(frozen=True)
class FlightItem:
    label: str
    step: str | None  # the step number it links to, if any
    protected: bool
    status: Literal["ok", "failed", "unprocessed"] = "ok"  # unprocessed: sent, but the peer had already failed


@dataclass(frozen=True)
class Flight:
    number: int
    sender: Role
    items: tuple[FlightItem, ...]
    phase: Phase
    wire_bytes: int


@dataclass(frozen=True)
class FailureInfo:
    """Where and why the connection failed.

    `detected_by` is the side that found the problem (and sent the alert);
    `peer_view` what the other side saw, when it was traced too. `inferred`:
    an observer only saw the alert; the reason is a best guess from it."""

    step: str | None  # None: after the handshake
    step_title: str
    detected_by: Role
    state: str
    expected: str
    received: str
    error: str
    error_type: str
    alert: int | None
    alert_direction: Literal["sent", "received", "none"]
    peer_view: str = ""
    inferred: bool = False


@dataclass
class Explanation:
    """Everything the renderers show."""

    source: Literal["live", "replay"]
    traced: tuple[Side, ...]
    title: str = ""
    subtitle: str = ""
    summary: list[tuple[str, str]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    not_reached: list[NotReached] = field(default_factory=list)
    flights: list[Flight] = field(default_factory=list)
    traffic: list[TrafficItem] = field(default_factory=list)
    traffic_decisions: list[DecisionInfo] = field(default_factory=list)
    failure: FailureInfo | None = None
    notes: list[str] = field(default_factory=list)
    complete: bool = False  # both Finished messages were verified by whoever traced them
    #: How the negotiated suite protects records after ChangeCipherSpec (its AEAD and nonce rule).
    record_protection: str = ""
    #: "full", or "abbreviated": a session resumed (RFC 5246 §7.3), whose steps are numbered 1, 2, 2b, 3a, 3b, 4a, 4b.
    kind: Literal["full", "abbreviated"] = "full"

    @property
    def handshake_done(self) -> bool:
        """Both Finished messages went by and nothing failed during the handshake."""
        last = "4b" if self.kind == "abbreviated" else "8b"
        return self.step(last) is not None and (self.failure is None or self.failure.step is None)

    def step(self, number: str) -> Step | None:
        for step in self.steps:
            if step.number == number:
                return step
        return None
