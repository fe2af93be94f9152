"""Turn the trace of a real handshake into the textbook's steps, with the real values.

A `Recorder` collects trace events from one or both ends of a connection.
`build_steps()` arranges them in the order of RFC 5246 §7.3 whatever order
the two ends happened to run in, and `render_text()` prints them: for each
step its purpose, its fields, what the receiver checked, and for the key
exchange how each secret was derived. Secret values are shown only when asked.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from .enums import CipherSuite, ECPointFormat, HandshakeType, NamedGroup, ProtocolVersion, SignatureScheme
from .messages import (
    ALPN,
    Alert,
    Certificate,
    ChangeCipherSpec,
    ClientHello,
    ClientKeyExchange,
    ECPointFormats,
    ExtendedMasterSecret,
    Extension,
    Finished,
    RenegotiationInfo,
    ServerHello,
    ServerKeyExchange,
    ServerName,
    SignatureAlgorithms,
    SupportedGroups,
    SupportedVersions,
    UnknownExtension,
)
from .trace import Decision, MessageTrace, SecretDerived, TraceEvent, Tracer, Verification

__all__ = ["Recorder", "Step", "build_steps", "render_text"]

Side = Literal["client", "server"]


@dataclass(frozen=True, slots=True)
class Tagged:
    side: Side
    event: TraceEvent


class Recorder:
    """Collects trace events from both ends (thread-safe: the ends may run in two threads)."""

    def __init__(self) -> None:
        self.events: list[Tagged] = []
        self._lock = threading.Lock()

    def tracer(self, side: Side) -> Tracer:
        def record(event: TraceEvent) -> None:
            with self._lock:
                self.events.append(Tagged(side, event))

        return record


@dataclass
class Step:
    number: str
    title: str
    sender: Side
    rfc: str
    purpose: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    checks: list[tuple[Side, bool, str, str]] = field(default_factory=list)
    decisions: list[tuple[Side, str, str, str]] = field(default_factory=list)
    secrets: list[tuple[str, bytes, str]] = field(default_factory=list)
    wire_bytes: int = 0


# (handshake type or "ccs", sender) -> (number, title, RFC section, purpose)
_STEPS: list[tuple[HandshakeType | str, Side, str, str, str, str]] = [
    (HandshakeType.CLIENT_HELLO, "client", "1", "ClientHello", "RFC 5246 §7.4.1.2",
     "The client proposes: the highest version it speaks, a fresh random, its cipher suites and extensions."),
    (HandshakeType.SERVER_HELLO, "server", "2", "ServerHello", "RFC 5246 §7.4.1.3",
     "The server chooses: the version, one cipher suite, its own random, and answers to the extensions."),
    (HandshakeType.CERTIFICATE, "server", "3", "Certificate", "RFC 5246 §7.4.2",
     "The server proves who it is with an X.509 chain the client checks against its trust anchors."),
    (HandshakeType.SERVER_KEY_EXCHANGE, "server", "4", "ServerKeyExchange", "RFC 5246 §7.4.3, RFC 8422 §5.4",
     "The server sends a fresh ECDHE public key, signed with its certificate key so no one can swap it."),
    (HandshakeType.SERVER_HELLO_DONE, "server", "5", "ServerHelloDone", "RFC 5246 §7.4.5",
     "The server has said everything; it is the client's turn."),
    (HandshakeType.CLIENT_KEY_EXCHANGE, "client", "6", "ClientKeyExchange", "RFC 5246 §7.4.7, RFC 8422 §5.7",
     "The client sends its own ECDHE public key; both sides can now compute the same premaster secret."),
    ("ccs", "client", "7a", "ChangeCipherSpec (client)", "RFC 5246 §7.1",
     "From the next record on, everything the client sends is protected with the new keys."),
    (HandshakeType.FINISHED, "client", "7b", "Finished (client)", "RFC 5246 §7.4.9",
     "The first encrypted message: a MAC over the whole handshake, proving nothing was tampered with."),
    ("ccs", "server", "8a", "ChangeCipherSpec (server)", "RFC 5246 §7.1",
     "The server switches to protected records too."),
    (HandshakeType.FINISHED, "server", "8b", "Finished (server)", "RFC 5246 §7.4.9",
     "The server's MAC over the handshake, including the client's Finished. The handshake is complete."),
]

_VERIFICATION_STEP = {
    "certificate chain": "3",
    "ServerKeyExchange signature": "4",
    "client Finished": "7b",
    "server Finished": "8b",
}


def build_steps(events: list[Tagged]) -> list[Step]:
    """The handshake's steps in RFC order, each with what both ends did about it.

    Works with a trace of both ends or of one: a message either end saw
    (sent or received) makes its step. Decisions come from the server when
    it was traced (it is the side that chooses), key derivation from the
    client when it was traced."""
    steps: dict[str, Step] = {}
    index = {(key, side): (num, title, rfc, purpose) for key, side, num, title, rfc, purpose in _STEPS}
    traced = {tagged.side for tagged in events}
    for tagged in events:
        event = tagged.event
        if not isinstance(event, MessageTrace) or isinstance(event.message, Alert):
            continue
        message = event.message
        sender: Side = tagged.side if event.direction == "out" else _other(tagged.side)
        key: HandshakeType | str = "ccs" if isinstance(message, ChangeCipherSpec) else message.msg_type  # type: ignore[attr-defined]
        entry = index.get((key, sender))
        if entry is None or entry[0] in steps:
            continue
        num, title, rfc, purpose = entry
        step = Step(num, title, sender, rfc, purpose, wire_bytes=len(event.raw))
        step.fields = describe(message)
        steps[num] = step
    decider: Side = "server" if "server" in traced else "client"
    deriver: Side = "client" if "client" in traced else "server"
    for tagged in events:
        event = tagged.event
        if isinstance(event, Verification) and _verification_step(event.what) is not None:
            target = steps.get(_verification_step(event.what) or "")
            if target is not None:
                target.checks.append((tagged.side, event.ok, event.what, event.detail))
        elif isinstance(event, Decision) and tagged.side == decider and "2" in steps:
            steps["2"].decisions.append((tagged.side, event.what, event.value, event.why))
        elif isinstance(event, SecretDerived) and tagged.side == deriver and "6" in steps:
            steps["6"].secrets.append((event.label, event.value, event.inputs))
    order = [entry[2] for entry in _STEPS]
    return [steps[num] for num in order if num in steps]


def _verification_step(what: str) -> str | None:
    if what.startswith("certificate[") or what == "host name":
        return "3"
    return _VERIFICATION_STEP.get(what)


def _other(side: Side) -> Side:
    return "server" if side == "client" else "client"


# -- field descriptions ---------------------------------------------------------


def _hex(data: bytes, limit: int = 32) -> str:
    if len(data) <= limit:
        return data.hex()
    return f"{data[:limit].hex()}… ({len(data)} bytes)"


def _code(value: int, width: int = 4) -> str:
    return f"0x{value:0{width}X}"


def _group(g: NamedGroup) -> str:
    return f"{g.name.lower()} ({_code(g)})"


def _scheme(s: SignatureScheme) -> str:
    return f"{s.name.lower()} ({_code(s)})"


def _suite(s: CipherSuite) -> str:
    return f"{s.name} ({_code(s)})"


def _version(v: ProtocolVersion) -> str:
    names = {0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}
    return f"{_code(v)} ({names.get(int(v), v.name)})"


def _extension(ext: Extension) -> tuple[str, str]:
    name = ext.ext_type.name.lower()
    match ext:
        case ServerName(host_names=names):
            return name, ", ".join(names) if names else "(empty: the server saw the name)"
        case SupportedGroups(groups=groups):
            return name, ", ".join(_group(g) for g in groups)
        case ECPointFormats(formats=formats):
            return name, ", ".join(ECPointFormat(f).name.lower() for f in formats)
        case SignatureAlgorithms(schemes=schemes):
            return name, ", ".join(_scheme(s) for s in schemes)
        case ALPN(protocols=protocols):
            return name, ", ".join(p.decode("utf-8", "replace") for p in protocols)
        case ExtendedMasterSecret():
            return name, "(empty) RFC 7627: bind the master secret to the whole handshake"
        case RenegotiationInfo(renegotiated_connection=data):
            return name, f"{data.hex() or '(empty)'} RFC 5746: initial handshake, secure renegotiation supported"
        case SupportedVersions(versions=versions):
            return name, ", ".join(_version(v) for v in versions)
        case UnknownExtension(data=data):
            return f"{name}", _hex(data) or "(empty)"
    return name, ""  # pragma: no cover


def _certificate(der: bytes) -> list[tuple[str, str]]:
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return [("certificate", f"unparseable ({len(der)} bytes)")]
    out = [
        ("  subject", cert.subject.rfc4514_string()),
        ("  issuer", cert.issuer.rfc4514_string()),
        ("  validity", f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} to {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"),
    ]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(v) for v in san.get_values_for_type(x509.DNSName)]
        names += [str(v) for v in san.get_values_for_type(x509.IPAddress)]
        out.append(("  subjectAltName", ", ".join(names)))
    except x509.ExtensionNotFound:
        pass
    key = cert.public_key()
    key_text = f"RSA {key.key_size} bits" if isinstance(key, rsa.RSAPublicKey) else type(key).__name__
    out.append(("  public key", key_text))
    algorithm = cert.signature_hash_algorithm
    out.append(("  signature", f"{cert.signature_algorithm_oid._name}"
                 + (f" ({algorithm.name})" if algorithm is not None else "")))
    return out


def describe(message: object) -> list[tuple[str, str]]:
    """(field, value) pairs for a message, as the wire carried them."""
    match message:
        case ClientHello():
            fields = [
                ("client_version", _version(message.client_version)),
                ("random", _hex(message.random)),
                ("session_id", _hex(message.session_id) or "(empty: a new session)"),
                ("cipher_suites", ", ".join(_suite(s) for s in message.cipher_suites)),
                ("compression_methods", ", ".join("null" if m == 0 else str(m) for m in message.compression_methods)),
            ]
            return fields + [(f"ext {n}", v) for n, v in map(_extension, message.extensions)]
        case ServerHello():
            fields = [
                ("server_version", _version(message.server_version)),
                ("random", _hex(message.random)),
                ("session_id", _hex(message.session_id) or "(empty: the session will not be resumed)"),
                ("cipher_suite", _suite(message.cipher_suite)),
                ("compression_method", "null" if message.compression_method == 0 else str(message.compression_method)),
            ]
            return fields + [(f"ext {n}", v) for n, v in map(_extension, message.extensions)]
        case Certificate():
            fields = []
            for i, der in enumerate(message.certificate_list):
                fields.append((f"certificate[{i}]", f"{len(der)} bytes DER"))
                fields += _certificate(der)
            return fields
        case ServerKeyExchange():
            return [
                ("curve_type", "named_curve (3)"),
                ("named_curve", _group(message.named_curve)),
                ("public", _hex(message.public, 65)),
                ("signature_algorithm", _scheme(message.scheme)),
                ("signature", _hex(message.signature)),
                ("signed over", "client_random + server_random + the parameters above"),
            ]
        case ClientKeyExchange():
            return [("ecdh_Yc (public)", _hex(message.public, 65))]
        case Finished():
            return [("verify_data", message.verify_data.hex()),
                    ("computed as", "PRF(master_secret, finished_label, Hash(handshake_messages))[0..11]")]
        case ChangeCipherSpec():
            return [("type", "change_cipher_spec (1)")]
    return []


# -- text rendering -------------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    color: bool

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def head(self, text: str) -> str:
        return self._wrap("1;36", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def ok(self, text: str) -> str:
        return self._wrap("32", text)

    def bad(self, text: str) -> str:
        return self._wrap("1;31", text)


def render_text(steps: list[Step], *, reveal_secrets: bool = False, color: bool = False) -> str:
    s = _Style(color)
    lines: list[str] = []
    for step in steps:
        arrow = "client → server" if step.sender == "client" else "server → client"
        lines.append("")
        lines.append(s.head(f"Step {step.number}  {step.title}") + f"   {arrow}   " + s.dim(step.rfc))
        lines.append(f"  {step.purpose}")
        for name, value in step.fields:
            lines.append(f"    {name:<24} {value}")
        for side, what, value, why in step.decisions:
            lines.append(f"    {side} chose {what}: {value} — {why}")
        for side, ok, what, detail in step.checks:
            verdict = s.ok("✓ verified") if ok else s.bad("✗ failed")
            lines.append(f"    {side} checked {what}: {verdict} — {detail}")
        for label, secret, inputs in step.secrets:
            shown = secret.hex() if reveal_secrets else f"[{len(secret)} bytes hidden; --reveal-secrets shows them]"
            lines.append(f"    {label:<24} {shown}")
            if inputs:
                lines.append(s.dim(f"    {'':<24} = {inputs}"))
        lines.append(s.dim(f"    ({step.wire_bytes} bytes on the wire)"))
    return "\n".join(lines) + "\n"

