"""Hello extensions: the ones tls12 speaks, and `UnknownExtension` for the rest.

Each known extension is a frozen dataclass with `parse(body, from_client=...)`
and `body()`. `from_client` is explicit, never hidden state: a few extensions
have a different shape in the ServerHello (server_name is empty there).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from ..codec import Reader, Writer
from ..enums import ECPointFormat, ExtensionType, NamedGroup, ProtocolVersion, SignatureScheme
from ..errors import DecodeError, IllegalParameter

__all__ = [
    "ALPN",
    "ECPointFormats",
    "ExtendedMasterSecret",
    "Extension",
    "RenegotiationInfo",
    "ServerName",
    "SessionTicket",
    "SignatureAlgorithms",
    "SupportedGroups",
    "SupportedVersions",
    "UnknownExtension",
    "find_extension",
    "parse_extensions",
    "write_extensions",
]


#: RFC 6066 §3 with RFC 1123 §2.1: at most 255 bytes, labels of 1 to 63 letters, digits and
#: hyphens, separated by single dots, no trailing dot. Underscores are taken too: they are common
#: in real host names (and harmless); anything else is refused.
MAX_HOST_NAME = 255
_LABEL = re.compile(rb"[A-Za-z0-9_-]{1,63}")


def _host_name(raw: bytes) -> str:
    """A client's SNI host name, validated before anything (the application's SNI hook, a log
    line) sees it: a NUL, a control character, an escape sequence, a byte outside ASCII, an empty
    or overlong label or a trailing dot is illegal_parameter (the field decodes; its value is not
    allowed)."""
    if len(raw) > MAX_HOST_NAME:
        raise IllegalParameter(f"host_name of {len(raw)} bytes (at most {MAX_HOST_NAME})")
    if not all(_LABEL.fullmatch(label) for label in raw.split(b".")):
        raise IllegalParameter("host_name is not a DNS host name (RFC 6066 §3)")
    return raw.decode("ascii")


@dataclass(frozen=True, slots=True)
class ServerName:
    """RFC 6066 §3. The client sends host names; the server acknowledges with an empty body."""

    ext_type: ClassVar[ExtensionType] = ExtensionType.SERVER_NAME
    host_names: tuple[str, ...] = ()

    @classmethod
    def parse(cls, body: bytes, *, from_client: bool) -> ServerName:
        if not from_client:
            if body:
                raise DecodeError("server_name in ServerHello must be empty")
            return cls()
        r = Reader(body)
        entries = r.vec(2, min=1, max=0xFFFF, what="server_name_list")
        r.done("server_name")
        names: list[str] = []
        while entries.remaining:
            name_type = entries.u8()
            if name_type != 0:
                raise DecodeError(f"unknown server name type {name_type}")
            names.append(_host_name(entries.opaque(2, min=1, max=0xFFFF, what="host_name")))
        if len(names) > 1:
            # RFC 6066: no more than one name of the same name_type.
            raise IllegalParameter("more than one host_name in server_name")
        return cls(tuple(names))

    def body(self) -> bytes:
        if not self.host_names:
            return b""
        w = Writer()
        with w.prefixed(2, max=0xFFFF):
            for name in self.host_names:
                w.u8(0)
                w.opaque(2, name.encode("ascii"), max=0xFFFF)
        return w.getvalue()


@dataclass(frozen=True, slots=True)
class SupportedGroups:
    """RFC 8422 §5.1.1 / RFC 7919: NamedGroup named_group_list<2..2^16-1>."""

    ext_type: ClassVar[ExtensionType] = ExtensionType.SUPPORTED_GROUPS
    groups: tuple[NamedGroup, ...]

    @classmethod
    def parse(cls, body: bytes, *, from_client: bool) -> SupportedGroups:
        r = Reader(body)
        values = r.u16_list(2, min=2, max=0xFFFF, what="named_group_list")
        r.done("supported_groups")
        return cls(NamedGroup.members(values))

    def body(self) -> bytes:
        w = Writer()
        w.u16_list(2, self.groups, max=0xFFFF)
        return w.getvalue()


@dataclass(frozen=True, slots=True)
class ECPointFormats:
    """RFC 8422 §5.1.2: ECPointFormat ec_point_format_list<1..2^8-1>."""

    ext_type: ClassVar[ExtensionType] = ExtensionType.EC_POINT_FORMATS
    formats: tuple[ECPointFormat, ...]

    @classmethod
    def parse(cls, body: bytes, *, from_client: bool) -> ECPointFormats:
        r = Reader(body)
        values = r.opaque(1, min=1, max=0xFF, what="ec_point_format_list")
        r.done("ec_point_formats")
        return cls(ECPointFormat.members(values))

    def body(self) -> bytes:
        w = Writer()
        w.opaque(1, bytes(self.formats), max=0xFF)
        return w.getvalue()


@dataclass(frozen=True, slots=True)
class SignatureAlgorithms:
    """RFC 5246 §7.4.1.4.1 / RFC 8446 §4.2.3: SignatureScheme list<2..2^16-2>."""

    ext_type: ClassVar[ExtensionType] = ExtensionType.SIGNATURE_ALGORITHMS
    schemes: tuple[SignatureScheme, ...]

    @classmethod
    def parse(cls, body: bytes, *, from_client: bool) -> SignatureAlgorithms:
        r = Reader(body)
        values = r.u16_list(2, min=2, max=0xFFFE, what="supported_signature_algorithms")
        r.done("signature_algorithms")
        return cls(SignatureScheme.members(values))

    def body(self) -> bytes:
        w = Writer()
        w.u16_list(2, self.schemes, max=0xFFFE)
        return w.getvalue()


@dataclass(frozen=True, slots=True)
class ALPN:
    """RFC 7301 §3.1: ProtocolName protocol_name_list<2..2^16-1>, names <1..2^8-1>."""

    ext_type: ClassVar[ExtensionType] = ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION
    protocols: tuple[bytes, ...]

    @classmethod
    def parse(cls, body: bytes, *, from_client: bool) -> ALPN:
        r = Reader(body)
        names_r = r.vec(2, min=2, max=0xFFFF, what="protocol_name_list")
        r.done("application_layer_protocol_negotiation")
        names: list[bytes] = []
        while names_r.remaining:
            names.append(names_r.opaque(1, min=1, max=0xFF, what="protocol_name"))
        return cls(tuple(names))

    def body(self) -> bytes:
        w = Writer()
        with w.prefixed(2, max=0xFFFF):
            for name in self.protocols:
                w.opaque(1, name, max=0xFF)
        return w.getvalue()


@dataclass(frozen=True, slots=True)
class ExtendedMasterSecret:
    """RFC 7627 §5.1: an empty extension."""

    ext_type: ClassVar[ExtensionType] = ExtensionType.EXTENDED_MASTER_SECRET

    @classmethod
    def parse(cls, body: bytes, *, from_client: bool) -> ExtendedMasterSecret:
        if body:
            raise DecodeError("extended_master_secret must be empty")
        return cls()

    def body(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class RenegotiationInfo:
    """RFC 5746 §3.2: opaque renegotiated_connection<0..255>."""

    ext_type: ClassVar[ExtensionType] = ExtensionType.RENEGOTIATION_INFO
    renegotiated_connection: bytes = b""

    @classmethod
    def parse(cls, body: bytes, *, from_client: bool) -> RenegotiationInfo:
        r = Reader(body)
        value = r.opaque(1, max=0xFF, what="renegotiated_connection")
        r.done("renegotiation_info")
        return cls(value)

    def body(self) -> bytes:
        w = Writer()
        w.opaque(1, self.renegotiated_connection, max=0xFF)
        return w.getvalue()


@dataclass(frozen=True, slots=True)
class SessionTicket:
    """RFC 5077 §3.2. From a client: the ticket it presents (empty: it has none and would like
    one), the whole extension_data. From a server: always empty, a promise of a NewSessionTicket."""

    ext_type: ClassVar[ExtensionType] = ExtensionType.SESSION_TICKET
    ticket: bytes = b""

    @classmethod
    def parse(cls, body: bytes, *, from_client: bool) -> SessionTicket:
        if not from_client and body:
            raise DecodeError("session_ticket in ServerHello must be empty")
        return cls(body)

    def body(self) -> bytes:
        return self.ticket


@dataclass(frozen=True, slots=True)
class SupportedVersions:
    """RFC 8446 §4.2.1, as a TLS 1.3 client sends it: ProtocolVersion versions<2..254>.

    tls12 never sends it; a server reads it to see whether TLS 1.2 is on offer."""

    ext_type: ClassVar[ExtensionType] = ExtensionType.SUPPORTED_VERSIONS
    versions: tuple[ProtocolVersion, ...]

    @classmethod
    def parse(cls, body: bytes, *, from_client: bool) -> SupportedVersions:
        if not from_client:
            raise DecodeError("supported_versions is not a TLS 1.2 ServerHello extension")
        r = Reader(body)
        values = r.u16_list(1, min=2, max=254, what="versions")
        r.done("supported_versions")
        return cls(ProtocolVersion.members(values))

    def body(self) -> bytes:
        w = Writer()
        w.u16_list(1, self.versions, max=254)
        return w.getvalue()


@dataclass(frozen=True, slots=True)
class UnknownExtension:
    """Any extension tls12 does not interpret, kept byte for byte."""

    ext_type: ExtensionType
    data: bytes

    def body(self) -> bytes:
        return self.data


Extension = (
    ServerName
    | SupportedGroups
    | ECPointFormats
    | SignatureAlgorithms
    | ALPN
    | ExtendedMasterSecret
    | RenegotiationInfo
    | SessionTicket
    | SupportedVersions
    | UnknownExtension
)

_E = TypeVar("_E")

_KNOWN: dict[int, type[ServerName | SupportedGroups | ECPointFormats | SignatureAlgorithms | ALPN
                      | ExtendedMasterSecret | RenegotiationInfo | SessionTicket | SupportedVersions]] = {
    cls.ext_type: cls
    for cls in (
        ServerName,
        SupportedGroups,
        ECPointFormats,
        SignatureAlgorithms,
        ALPN,
        ExtendedMasterSecret,
        RenegotiationInfo,
        SessionTicket,
        SupportedVersions,
    )
}


def parse_extensions(r: Reader, *, from_client: bool) -> tuple[Extension, ...]:
    """The optional `Extension extensions<0..2^16-1>` block that ends a hello."""
    if not r.remaining:
        return ()
    block = r.vec(2, max=0xFFFF, what="extensions")
    seen: set[int] = set()
    out: list[Extension] = []
    while block.remaining:
        ext_type = block.u16()
        body = block.opaque(2, max=0xFFFF, what="extension_data")
        if ext_type in seen:
            raise IllegalParameter(f"duplicate extension {ExtensionType(ext_type).name}")
        seen.add(ext_type)
        known = _KNOWN.get(ext_type)
        if known is None:
            out.append(UnknownExtension(ExtensionType(ext_type), body))
        else:
            out.append(known.parse(body, from_client=from_client))
    return tuple(out)


def write_extensions(w: Writer, extensions: Sequence[Extension]) -> None:
    if not extensions:
        return
    with w.prefixed(2, max=0xFFFF):
        for ext in extensions:
            w.u16(ext.ext_type)
            w.opaque(2, ext.body(), max=0xFFFF)


def find_extension(extensions: Sequence[Extension], kind: type[_E]) -> _E | None:
    """The extension of class `kind` in a parsed block, if present."""
    for ext in extensions:
        if isinstance(ext, kind):
            return ext
    return None
