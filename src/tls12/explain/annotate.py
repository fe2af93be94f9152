"""Every byte of a message, named: an annotating walker over the raw handshake bytes.

The messages in `tls12.messages` parse into values and forget where each
value was. To show a message's bytes with every field marked, this module
walks the same raw bytes again, following the same presentation language
(RFC 5246 §4, §7.4; RFC 8422 §5; RFC 6066; RFC 7301; RFC 7627; RFC 5746) and
the same enums, and records for each field its offsets, its value in words
and what it is for.

Each annotation is a `Field` tree whose ``group`` nodes are tiled exactly by
their children, so the leaves cover the message byte for byte. The walker
never raises: whatever it cannot follow (a malformed or unusual message from
a peer) becomes one opaque field covering the rest.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Iterator

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ..crypto.der import children as der_children
from ..crypto.der import contents as der_contents
from ..crypto.dhe import FFDHE_GROUPS
from ..enums import ECPointFormat, HandshakeType
from .model import Field, FieldKind, RecordInfo
from .names import (
    code,
    content_type_name,
    extension_name,
    group_name,
    handshake_name,
    is_grease,
    scheme_name,
    suite_name,
    version_name,
)

__all__ = [
    "annotate_change_cipher_spec",
    "annotate_handshake",
    "annotate_record_header",
    "certificate_details",
    "describe_suite",
    "dh_group_name",
    "distinguished_name",
    "hex_value",
    "signature_how",
]

# Values longer than this many bytes are shortened in `Field.value` (the bytes stay in the message).
_LONG = 97


class _Malformed(Exception):
    pass


class _Cursor:
    """A position in the raw bytes, bounded by `end`. Offsets are absolute."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, n: int) -> tuple[int, bytes]:
        if n < 0 or n > self.remaining:
            raise _Malformed
        start = self.pos
        self.pos += n
        return start, self.data[start : start + n]

    def uint(self, n: int) -> tuple[int, int]:
        start, raw = self.take(n)
        return start, int.from_bytes(raw, "big")

    def sub(self, n: int) -> _Cursor:
        if n > self.remaining:
            raise _Malformed
        return _Cursor(self.data, self.pos, self.pos + n)

    def leaf(self, n: int, name: str, value: str | Callable[[bytes], str], meaning: str = "",
             kind: FieldKind = "field") -> Field:
        start, raw = self.take(n)
        text = value(raw) if callable(value) else value
        return Field(name, text, meaning, start, start + n, kind)

    def rest(self, name: str = "unparsed", meaning: str = "bytes tls12 does not break down further") -> Field:
        return self.leaf(self.remaining, name, hex_value, meaning)

    def rest_list(self, name: str = "unparsed",
                  meaning: str = "bytes tls12 does not break down further") -> list[Field]:
        """The rest as one field, or nothing if nothing is left."""
        return [self.rest(name, meaning)] if self.remaining else []


def hex_value(raw: bytes) -> str:
    if not raw:
        return "(empty)"
    if len(raw) <= _LONG:
        return raw.hex()
    return f"{raw[:16].hex()}… ({len(raw)} bytes)"


def _group(name: str, value: str, meaning: str, children: list[Field], *, expand: bool = False,
           kind: FieldKind = "group") -> Field:
    starts = [c.start for c in children if c.start is not None]
    ends = [c.end for c in children if c.end is not None]
    return Field(name, value, meaning, min(starts) if starts else None, max(ends) if ends else None,
                 kind, children, expand)


def _length(c: _Cursor, n: int, what: str) -> tuple[Field, int]:
    start, value = c.uint(n)
    return Field(f"{what} length", f"{value} byte{'s' if value != 1 else ''}",
                 f"a {8 * n}-bit length: how many bytes of {what} follow", start, start + n, "length"), value


def _opaque(c: _Cursor, n: int, name: str, meaning: str,
            value: Callable[[bytes], str] = hex_value, inner: Callable[[_Cursor], Iterable[Field]] | None = None
            ) -> Field:
    """A length-prefixed opaque vector: its length field, then its bytes (broken down by `inner`)."""
    length_field, size = _length(c, n, name)
    body = c.sub(size)
    raw = c.data[body.pos : body.end]
    if inner is not None and size:
        children = [length_field, *_safe(inner, body)]
    elif size:
        children = [length_field, body.leaf(size, f"{name} value" if size else name, value, meaning)]
    else:
        children = [length_field]
    c.pos = body.end
    return _group(name, value(raw), meaning, children)


def _safe(walk: Callable[[_Cursor], Iterable[Field]], c: _Cursor) -> list[Field]:
    """Run a walker on a bounded cursor. The fields it gets through are kept; whatever it cannot follow
    (from the end of the last whole field on) becomes one opaque field."""
    start = c.pos
    fields: list[Field] = []
    try:
        for f in walk(c):
            fields.append(f)
        fields += c.rest_list("trailing bytes", "bytes after the last field")
    except _Malformed:
        ends = [f.end for f in fields if f.end is not None]
        c.pos = ends[-1] if ends else start
        fields += c.rest_list()
    return fields


# -- names and meanings ------------------------------------------------------------------------

_SUITE_NAME = re.compile(r"TLS_(?:(?P<kx>[A-Z0-9]+)_(?P<auth>[A-Z0-9]+)_WITH_)?(?P<cipher>.+)_(?P<hash>SHA\d*)")


def describe_suite(value: int) -> str:
    """What a suite's name says: key exchange, authentication, record cipher, hash."""
    name = suite_name(value)
    if name == "GREASE":
        return "a reserved value (RFC 8701): checks the server ignores suites it does not know"
    if name.endswith("_SCSV"):
        if value == 0x00FF:
            return "not a suite: a signal that the client supports secure renegotiation (RFC 5746)"
        return "not a suite: a signal that this is a fallback connection (RFC 7507)"
    m = _SUITE_NAME.fullmatch(name)
    if m is None:
        return "a cipher suite tls12 does not know"
    if m["kx"] is None:
        return f"a TLS 1.3 suite ({m['cipher'].replace('_', '-')} with {m['hash']}); no use to TLS 1.2"
    kx = m["kx"]
    kx_text = f"{kx} key exchange" + (" (forward secret)" if kx.endswith("E") else " (not forward secret)")
    hash_text = m["hash"].replace("SHA", "SHA-") if m["hash"] != "SHA" else "SHA-1"
    return f"{kx_text}, {m['auth']} authentication, {m['cipher'].replace('_', '-')} records, {hash_text}"


_EXTENSION_MEANINGS: dict[int, str] = {
    0: "the host name the client wants to reach (SNI, RFC 6066 §3), so one address can serve many names, "
       "each with its own certificate",
    5: "asks the server to staple an OCSP response about its certificate (RFC 6066 §8)",
    10: "the groups (elliptic curves) the client can do ECDHE with, in order of preference (RFC 8422 §5.1.1)",
    11: "how elliptic-curve points may be encoded; uncompressed is the only one still allowed (RFC 8422 §5.1.2)",
    13: "the signature schemes the client accepts on the ServerKeyExchange (RFC 5246 §7.4.1.4.1)",
    16: "the application protocols the client speaks over TLS, such as h2 or http/1.1 (ALPN, RFC 7301)",
    18: "asks for Certificate Transparency timestamps (RFC 6962)",
    21: "zero bytes that pad the ClientHello past sizes some servers mishandle (RFC 7685)",
    22: "for CBC suites: MAC after encrypting (RFC 7366); no use to AES-GCM",
    23: "asks for the extended master secret (RFC 7627): the master secret then depends on a hash of the whole "
        "handshake, which defeats the triple-handshake attack",
    35: "asks for a session ticket when empty (RFC 5077 §3.2), to resume this session later without the server "
        "keeping it; with data, hands back a ticket the server gave earlier, to resume that session",
    43: "the versions a TLS 1.3 client speaks (RFC 8446 §4.2.1); a TLS 1.2 server looks for 0x0303 in it",
    45: "TLS 1.3 pre-shared-key modes (RFC 8446 §4.2.9); ignored by TLS 1.2",
    49: "TLS 1.3 post-handshake client authentication (RFC 8446 §4.2.6); ignored by TLS 1.2",
    50: "signature schemes accepted in certificates (RFC 8446 §4.2.3)",
    51: "TLS 1.3 key shares (RFC 8446 §4.2.8); a TLS 1.2 server ignores them",
    0xFF01: "secure renegotiation (RFC 5746): empty in a first handshake; being there says the peer has the fix",
}

_SERVER_EXTENSION_MEANINGS: dict[int, str] = {
    0: "empty: the server acknowledges it used the name the client sent",
    11: "the point formats the server can parse; uncompressed is the only one still allowed (RFC 8422 §5.1.2)",
    16: "the one application protocol the server picked from the client's list",
    23: "the server agrees: the master secret will be the extended one (RFC 7627)",
    35: "empty: the server will send a NewSessionTicket before its ChangeCipherSpec (RFC 5077 §3.2), a new ticket "
        "in a full handshake, a renewed one when it resumes",
    0xFF01: "the server has the secure-renegotiation fix (RFC 5746); empty in a first handshake",
}


def _extension_meaning(ext_type: int, from_client: bool) -> str:
    if is_grease(ext_type):
        return "a reserved value (RFC 8701) sent to check the peer ignores extensions it does not know"
    if not from_client and ext_type in _SERVER_EXTENSION_MEANINGS:
        return _SERVER_EXTENSION_MEANINGS[ext_type]
    return _EXTENSION_MEANINGS.get(ext_type, "an extension tls12 does not use; TLS 1.2 says to ignore it "
                                             "(RFC 5246 §7.4.1.4)")


def _named_u16(namer: Callable[[int], str]) -> Callable[[bytes], str]:
    def name(raw: bytes) -> str:
        value = int.from_bytes(raw, "big")
        return f"{namer(value)} ({code(value)})"

    return name


def _u16_list(name: str, item: str, namer: Callable[[int], str], meaning: str, item_meaning: Callable[[int], str],
              c: _Cursor, len_bytes: int = 2) -> Field:
    length_field, size = _length(c, len_bytes, name)
    body = c.sub(size)
    children = [length_field]
    names: list[str] = []
    try:
        while body.remaining:
            start, value = body.uint(2)
            text = f"{namer(value)} ({code(value)})"
            names.append(text)
            children.append(Field(item, text, item_meaning(value), start, start + 2))
    except _Malformed:
        children += body.rest_list()
    c.pos = body.end
    return _group(name, ", ".join(names) if names else "(empty)", meaning, children)


def _group_meaning(value: int) -> str:
    if is_grease(value):
        return "a reserved value (RFC 8701)"
    return {
        29: "Curve25519 (RFC 7748): fast, simple, the usual first choice",
        23: "NIST P-256 (secp256r1)",
        24: "NIST P-384 (secp384r1)",
        0x11EC: "hybrid post-quantum: X25519 with ML-KEM-768 (TLS 1.3 only)",
    }.get(value, "a group the client supports")


def _scheme_meaning(value: int) -> str:
    if is_grease(value):
        return "a reserved value (RFC 8701)"
    name = scheme_name(value)
    if name.startswith("rsa_pss_rsae"):
        return f"RSASSA-PSS with SHA-{name[-3:]}, made with an ordinary RSA key"
    if name.startswith("rsa_pkcs1"):
        return f"RSASSA-PKCS1-v1_5 with {name.split('_')[-1].upper()} (deterministic)"
    if name.startswith("rsa_pss_pss"):
        return f"RSASSA-PSS with SHA-{name[-3:]}, made with an RSA-PSS key (a certificate whose key is RSASSA-PSS)"
    if name.startswith("ecdsa"):
        return f"ECDSA{_ecdsa_words(name)}: needs an ECDSA certificate"
    if name == "ed25519":
        return "Ed25519 (RFC 8032), pure: needs an Ed25519 certificate (RFC 8422 §5.1.3)"
    return "a signature scheme the client accepts"


def _ecdsa_words(name: str) -> str:
    """" on secp256r1 with SHA256" for ecdsa_secp256r1_sha256; " with SHA1" for ecdsa_sha1."""
    parts = name.split("_")[1:]
    curve = f" on {parts[0]}" if len(parts) == 2 else ""
    return f"{curve} with {parts[-1].upper()}" if parts else ""


def signature_how(value: int) -> str:
    """How a signature of this scheme is made and checked, in a sentence."""
    name = scheme_name(value)
    if name.startswith("rsa_pss"):
        kind = "an RSA-PSS key" if name.startswith("rsa_pss_pss") else "an ordinary RSA key"
        return (f"RSASSA-PSS with SHA-{name[-3:]} and MGF1, salt as long as the hash, made with {kind}; "
                "verified with the certificate's RSA public key (RFC 8446 §4.2.3)")
    if name.startswith("rsa_pkcs1"):
        return (f"RSASSA-PKCS1-v1_5 with {name.split('_')[-1].upper()}: the padded hash raised to the private "
                "exponent; verified with the certificate's RSA public key")
    if name.startswith("ecdsa"):
        return (f"ECDSA{_ecdsa_words(name)}: a DER (r, s) pair; verified with the certificate's EC public key "
                "(RFC 8422 §5.4)")
    if name == "ed25519":
        return ("Ed25519 (RFC 8032) over the signed bytes themselves (no separate hash): 64 bytes R ‖ S; verified "
                "with the certificate's Ed25519 public key (RFC 8422 §5.1.3)")
    return f"{name}: verified with the certificate's public key"


def _version(raw: bytes) -> str:
    value = int.from_bytes(raw, "big")
    return f"{version_name(value)} ({code(value)})"


# -- extensions ------------------------------------------------------------------------------------


def _extension_body(ext_type: int, body: _Cursor, from_client: bool) -> tuple[str, list[Field]]:
    """(summary value, fields) for one extension's data."""
    size = body.remaining
    if ext_type == 0 and from_client and size:
        def sni(c: _Cursor) -> list[Field]:
            return [_sni_list(c)]
        fields = _safe(sni, body)
        names = [f.value for f in fields[0].walk() if f.name == "host_name"] if fields else []
        return ", ".join(names) or "(no host name)", fields
    if ext_type == 10:
        f = _list_or_rest(body, lambda c: _u16_list("named_group_list", "group", group_name, _EXTENSION_MEANINGS[10],
                                                      _group_meaning, c))
        return f[0].value, f
    if ext_type in (13, 50):
        f = _list_or_rest(body, lambda c: _u16_list("supported_signature_algorithms", "scheme", scheme_name,
                                                      _EXTENSION_MEANINGS[13], _scheme_meaning, c))
        return f[0].value, f
    if ext_type == 11:
        def formats(c: _Cursor) -> list[Field]:
            return [_opaque(c, 1, "ec_point_format_list", "point formats accepted",
                            value=lambda raw: ", ".join(ECPointFormat(b).name.lower() for b in raw))]
        f = _safe(formats, body)
        return f[0].value, f
    if ext_type == 16:
        def alpn(c: _Cursor) -> list[Field]:
            length_field, n = _length(c, 2, "protocol_name_list")
            inner = c.sub(n)
            children = [length_field]
            names = []
            while inner.remaining:
                item = _opaque(inner, 1, "protocol_name", "an application protocol name",
                               value=lambda raw: raw.decode("ascii", "replace"))
                names.append(item.value)
                children.append(item)
            c.pos = inner.end
            return [_group("protocol_name_list", ", ".join(names), "the protocols, most preferred first", children)]
        f = _safe(alpn, body)
        return f[0].value, f
    if ext_type == 0xFF01:
        f = _safe(lambda c: [_opaque(c, 1, "renegotiated_connection",
                                     "the previous handshake's Finished values; empty in a first handshake")], body)
        return "(empty: a first handshake)" if f[0].value == "(empty)" else f[0].value, f
    if ext_type == 35 and from_client and size:
        field = body.leaf(size, "ticket", hex_value,
                          "the ticket from an earlier NewSessionTicket, handed back as it came: the session sealed "
                          "under the server's ticket key, which the client cannot read")
        return f"a ticket of {size} bytes", [field]
    if ext_type == 43 and from_client:
        f = _list_or_rest(body, lambda c: _u16_list("versions", "version", version_name,
                                                      "the versions offered", lambda v: "a version the client speaks",
                                                      c, len_bytes=1))
        return f[0].value, f
    if size == 0:
        return "(empty)", []
    return hex_value(body.data[body.pos : body.end]), [body.leaf(size, "extension_data", hex_value,
                                                               "this extension's data")]


def _list_or_rest(body: _Cursor, walk: Callable[[_Cursor], Field]) -> list[Field]:
    return _safe(lambda c: [walk(c)], body)


def _sni_list(c: _Cursor) -> Field:
    length_field, size = _length(c, 2, "server_name_list")
    inner = c.sub(size)
    children = [length_field]
    while inner.remaining:
        type_field = inner.leaf(1, "name_type", lambda raw: "host_name (0)" if raw[0] == 0 else f"type {raw[0]}",
                                "0 = a DNS host name")
        name = _opaque(inner, 2, "host_name", "the name, in ASCII (an IDN in its xn-- form)",
                       value=lambda raw: raw.decode("ascii", "replace"))
        children.append(_group("server_name", name.value, "one name", [type_field, name]))
    c.pos = inner.end
    names = [f.value for f in children if f.name == "server_name"]
    return _group("server_name_list", ", ".join(names), "the names (one host name at most)", children)


def _extensions(c: _Cursor, from_client: bool) -> Field:
    length_field, size = _length(c, 2, "extensions")
    body = c.sub(size)
    children = [length_field]
    count = 0
    try:
        while body.remaining:
            start = body.pos
            _, ext_type = body.uint(2)
            name = extension_name(ext_type)
            type_field = Field("extension_type", f"{name} ({code(ext_type)})", "which extension this is",
                               start, start + 2)
            ext_length_field, ext_size = _length(body, 2, "extension_data")
            data = body.sub(ext_size)
            summary, inner = _extension_body(ext_type, data, from_client)
            body.pos = data.end
            children.append(_group(f"{name} ({code(ext_type)})", summary, _extension_meaning(ext_type, from_client),
                                   [type_field, ext_length_field, *inner]))
            count += 1
    except _Malformed:
        body.pos = children[-1].end or body.pos  # back to the end of the last whole extension
        children += body.rest_list()
    c.pos = body.end
    return _group("extensions", f"{count} extension{'s' if count != 1 else ''}, {size} bytes",
                  "optional additions to the hello (RFC 5246 §7.4.1.4): each is a type, a length and data",
                  children, expand=True)


# -- handshake messages ----------------------------------------------------------------------------


def _client_hello(c: _Cursor) -> Iterator[Field]:
    yield c.leaf(2, "client_version", _version,
                 "the highest version the client speaks; 0x0303 is TLS 1.2 (SSL 3.0 was 0x0300)")
    yield c.leaf(32, "random", hex_value,
                 "32 fresh random bytes from the client; both randoms go into every key, so each connection's "
                 "keys are new")
    yield _opaque(c, 1, "session_id", "a session the client would like to resume; empty asks for a full handshake",
                  value=lambda raw: raw.hex() if raw else "(empty: a new session)")
    yield _u16_list("cipher_suites", "cipher_suite", suite_name,
                    "the suites the client accepts, most preferred first; a suite fixes the key exchange, the "
                    "authentication, the record cipher and the PRF hash", describe_suite, c)
    yield _opaque(c, 1, "compression_methods", "compression the client accepts: only null, since compression "
                  "leaks secrets (CRIME)", value=lambda raw: ", ".join("null (0)" if b == 0 else str(b) for b in raw))
    if c.remaining:
        yield _extensions(c, from_client=True)


def _server_hello(c: _Cursor) -> Iterator[Field]:
    yield c.leaf(2, "server_version", _version, "the version the server chose")
    yield c.leaf(32, "random", hex_value,
                 "32 fresh random bytes from the server; with the client's they make this connection's keys unique")
    yield _opaque(c, 1, "session_id", "an id under which the server keeps this session, to resume it later; empty: "
                  "the server keeps it under no id (a session ticket, RFC 5077, can still resume it)",
                  value=lambda raw: raw.hex() if raw else "(empty: the server keeps no session id)")
    yield c.leaf(2, "cipher_suite", _named_u16(suite_name), "the one suite the server chose from the client's list")
    yield c.leaf(1, "compression_method", lambda raw: "null (0)" if raw[0] == 0 else str(raw[0]),
                 "null: no compression")
    if c.remaining:
        yield _extensions(c, from_client=False)


def _certificate(c: _Cursor) -> list[Field]:
    return _certificate_list(c, from_client=False)


def _client_certificate(c: _Cursor) -> list[Field]:
    return _certificate_list(c, from_client=True)


def _certificate_list(c: _Cursor, *, from_client: bool) -> list[Field]:
    length_field, size = _length(c, 3, "certificate_list")
    body = c.sub(size)
    children = [length_field]
    index = 0
    sender = "client" if from_client else "server"
    try:
        while body.remaining:
            cert_length, n = _length(body, 3, f"certificate[{index}]")
            start, der = body.take(n)
            role = f"the {sender}'s own certificate (the leaf)" if index == 0 else "a CA certificate above the leaf"
            details = certificate_details(der)
            subject = next((f.value for f in details if f.name == "subject"), f"{n} bytes")
            der_fields = _der_certificate(der, start)
            children.append(_group(f"certificate[{index}]", f"{n} bytes DER: {subject}",
                                   f"{role}: an X.509 certificate in DER", [cert_length, *der_fields, *details]))
            index += 1
    except _Malformed:
        body.pos = children[-1].end or body.pos  # back to the end of the last whole certificate
        children += body.rest_list()
    c.pos = body.end
    if not from_client:
        meaning = ("the sender's chain, leaf first, each certificate signed by the next; the receiver checks that it "
                   "leads to a root it trusts (and, for a server, that it names the server)")
    elif index:
        meaning = ("the client's chain, leaf first, each certificate signed by the next; the server checks that it "
                   "leads to a CA it trusts for clients and that the leaf is for client authentication")
    else:
        meaning = ("empty: the client sends no certificate, because none it holds fits the request (or it has "
                   "none); a server that requires one refuses with handshake_failure (RFC 5246 §7.4.6)")
    value = f"{index} certificate{'s' if index != 1 else ''}" + ("" if index or not from_client else " (empty)")
    return [_group("certificate_list", value, meaning, children, expand=True)]


def _point(c: _Cursor, name: str, meaning: str) -> Field:
    """An ECPoint: uncompressed NIST points get their 0x04 prefix and coordinates marked."""
    def inner(body: _Cursor) -> list[Field]:
        n = body.remaining
        if n in (65, 97, 133) and body.data[body.pos] == 4:
            half = (n - 1) // 2
            return [body.leaf(1, "point format", "04: uncompressed (x and y follow)", "X9.62 point encoding"),
                    body.leaf(half, "x", hex_value, "the point's x coordinate"),
                    body.leaf(half, "y", hex_value, "the point's y coordinate")]
        if n == 32:
            return [body.leaf(32, "u", hex_value, "an X25519 public key: a u-coordinate, 32 bytes (RFC 7748)")]
        return body.rest_list("point", "the encoded point")

    return _opaque(c, 1, name, meaning, inner=inner)


def _signature_fields(c: _Cursor, params_end: int, params: str) -> Iterator[Field]:
    yield c.leaf(2, "signature_algorithm", _named_u16(scheme_name),
                 "how the server signed, from the client's signature_algorithms")
    yield _opaque(c, 2, "signature", "the server's signature with its certificate key over client_random + "
                                     f"server_random + {params}: proof that this key comes from the "
                                     "certificate's owner, for this handshake")
    yield Field("signed data", f"client_random ‖ server_random ‖ bytes 4..{params_end - 1} of this message",
                "what the signature covers", kind="info")


def _server_key_exchange(c: _Cursor) -> Iterator[Field]:
    yield c.leaf(1, "curve_type", lambda raw: "named_curve (3)" if raw[0] == 3 else f"{raw[0]}",
                 "3 = named_curve: a curve from the registry (explicit curves are no longer allowed, RFC 8422)")
    yield c.leaf(2, "named_curve", _named_u16(group_name),
                 "the group the server chose for ECDHE from the client's supported_groups")
    yield _point(c, "public", "the server's ephemeral ECDHE public key, made for this handshake and then thrown "
                              "away (forward secrecy)")
    yield from _signature_fields(c, c.pos, "the three fields above")


def dh_group_name(p: bytes, g: bytes) -> str:
    """The RFC 7919 group whose prime and generator these are, or how big an unnamed one is."""
    pi, gi = int.from_bytes(p, "big"), int.from_bytes(g, "big")
    for code_point, group in FFDHE_GROUPS.items():
        if group.p == pi and group.g == gi:
            return f"{group_name(code_point)} ({code(code_point)}), RFC 7919 Appendix A"
    return f"not an RFC 7919 group: an explicit {pi.bit_length()}-bit prime"


def _dhe_server_key_exchange(c: _Cursor) -> Iterator[Field]:
    start = c.pos
    p_len = int.from_bytes(c.data[start : start + 2], "big") if c.remaining >= 2 else 0
    p = c.data[start + 2 : start + 2 + p_len]
    g_at = start + 2 + p_len
    g_len = int.from_bytes(c.data[g_at : g_at + 2], "big") if c.end >= g_at + 2 else 0
    g = c.data[g_at + 2 : g_at + 2 + g_len]
    yield _opaque(c, 2, "dh_p", f"the prime modulus p, {len(p) * 8} bits: the group the server chose from the "
                                "client's supported_groups (RFC 7919 §4) and sends in full (RFC 5246 §7.4.3)")
    yield _opaque(c, 2, "dh_g", "the generator g", value=lambda raw: str(int.from_bytes(raw, "big")))
    yield Field("group", dh_group_name(p, g), "which group p and g are; the client checks them before using them "
                "(and refuses primes under 2048 bits)", kind="info")
    yield _opaque(c, 2, "dh_Ys", "the server's ephemeral public value Ys = g^y mod p, for its secret y made for "
                                 "this handshake and then thrown away (forward secrecy); the client checks "
                                 "1 < Ys < p-1 (RFC 7919 §5.1)")
    yield from _signature_fields(c, c.pos, "p, g and Ys")


def _client_key_exchange(c: _Cursor) -> list[Field]:
    return [_point(c, "ecdh_Yc", "the client's ephemeral ECDHE public key; with the server's, each side computes "
                                 "the same premaster secret, which never goes on the wire")]


def _dhe_client_key_exchange(c: _Cursor) -> list[Field]:
    return [_opaque(c, 2, "dh_Yc", "the client's ephemeral public value Yc = g^x mod p; the server computes "
                                   "Z = Yc^y mod p, the client Z = Ys^x mod p: the same number, the premaster "
                                   "secret (leading zero bytes stripped, RFC 5246 §8.1.2), never on the wire")]


def _rsa_client_key_exchange(c: _Cursor) -> list[Field]:
    return [
        _opaque(c, 2, "EncryptedPreMasterSecret",
                "the premaster secret (client_version ‖ 46 random bytes, 48 in all) encrypted with PKCS#1 v1.5 to "
                "the public key in the server's certificate (RFC 5246 §7.4.7.1); only the holder of the private "
                "key can read it, and whoever later gets that key can read every recorded connection (no forward "
                "secrecy)"),
    ]


def _finished(c: _Cursor) -> list[Field]:
    return [c.leaf(c.remaining, "verify_data", hex_value,
                   "PRF(master_secret, finished_label, Hash(handshake messages))[0..11]: proves both sides saw the "
                   "same handshake and hold the same keys")]


#: ClientCertificateType (RFC 5246 §7.4.4, RFC 8422 §5.5): name, meaning.
_CERTIFICATE_TYPES: dict[int, tuple[str, str]] = {
    1: ("rsa_sign", "a certificate with an RSA key, which signs the CertificateVerify"),
    2: ("dss_sign", "a certificate with a DSA key (obsolete; tls12 has none)"),
    3: ("rsa_fixed_dh", "a certificate with fixed Diffie-Hellman parameters (obsolete; tls12 has none)"),
    4: ("dss_fixed_dh", "a certificate with fixed Diffie-Hellman parameters (obsolete; tls12 has none)"),
    64: ("ecdsa_sign", "a certificate with an ECDSA key, or an Ed25519 key (RFC 8422 §5.5), which signs the "
                       "CertificateVerify"),
    65: ("rsa_fixed_ecdh", "fixed ECDH (RFC 8422 §5.5 deprecates it; tls12 has none)"),
    66: ("ecdsa_fixed_ecdh", "fixed ECDH (RFC 8422 §5.5 deprecates it; tls12 has none)"),
}


def _certificate_type(raw: bytes) -> str:
    name = _CERTIFICATE_TYPES.get(raw[0], ("unknown", ""))[0]
    return f"{name} ({raw[0]})"


def _certificate_request(c: _Cursor) -> Iterator[Field]:
    def types(body: _Cursor) -> list[Field]:
        return [body.leaf(1, "certificate_type", _certificate_type,
                          _CERTIFICATE_TYPES.get(body.data[body.pos], ("", "a type tls12 does not know"))[1])
                for _ in range(body.remaining)]

    yield _opaque(c, 1, "certificate_types", "the kinds of key a client certificate may have for this server",
                  value=lambda raw: ", ".join(_certificate_type(bytes((b,))) for b in raw) or "(empty)", inner=types)
    yield _u16_list("supported_signature_algorithms", "scheme", scheme_name,
                    "the signature schemes the server accepts: the client's CertificateVerify must use one of them "
                    "(RFC 5246 §7.4.4, §7.4.8)", _scheme_meaning, c)
    yield _authorities(c)


def _authorities(c: _Cursor) -> Field:
    """certificate_authorities: DistinguishedName certificate_authorities<0..2^16-1>, each opaque<1..2^16-1>."""
    length_field, size = _length(c, 2, "certificate_authorities")
    body = c.sub(size)
    children = [length_field]
    names: list[str] = []
    try:
        while body.remaining:
            item = _opaque(body, 2, "DistinguishedName",
                           "a CA the server accepts client certificates from: the DER X.501 name of its subject, "
                           "which the client looks for among the issuers of its chains", value=distinguished_name)
            names.append(item.value)
            children.append(item)
    except _Malformed:
        children += body.rest_list()
    c.pos = body.end
    value = "; ".join(names) if names else "(empty: the server names no CA, any issuer may do)"
    return _group("certificate_authorities", value,
                  "the CAs whose client certificates the server accepts, by name (RFC 5246 §7.4.4)", children)


def distinguished_name(der: bytes) -> str:
    """A DER X.501 Name (RFC 5280 §4.1.2.4) as an RFC 4514 string, as a certificate's subject is shown: most
    specific attribute first ("CN=client CA,O=example"). What cannot be read is shown in hex."""
    try:
        rdns = [[_attribute(atv) for atv in der_children(rdn)] for rdn in der_children(der)]
    except (ValueError, UnicodeDecodeError):
        return f"(not a DER name: {hex_value(der)})"
    return ",".join("+".join(rdn) for rdn in reversed(rdns)) or "(an empty name)"


# RFC 4514 §3 short names, and the other ones cryptography shows for certificate subjects.
_DN_NAMES = {"2.5.4.3": "CN", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C",
             "2.5.4.9": "STREET", "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID"}
# DirectoryString and the other string types a name attribute may have: tag -> codec.
_DN_STRINGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1", 0x1E: "utf-16-be", 0x1C: "utf-32-be"}


def _attribute(atv: bytes) -> str:
    """AttributeTypeAndValue ::= SEQUENCE { type OBJECT IDENTIFIER, value ANY }, as type=value."""
    oid_element, value_element = der_children(atv)
    if oid_element[0] != 0x06:
        raise ValueError("not an OBJECT IDENTIFIER")
    oid = _oid(der_contents(oid_element))
    name = _DN_NAMES.get(oid, oid)
    codec = _DN_STRINGS.get(value_element[0])
    if codec is None:
        return f"{name}=#{value_element.hex()}"  # RFC 4514 §2.4: not a string: its DER in hex
    return f"{name}={_escape(der_contents(value_element).decode(codec))}"


def _oid(body: bytes) -> str:
    arcs: list[int] = []
    value = 0
    for byte in body:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs or body[-1] & 0x80:
        raise ValueError("truncated OBJECT IDENTIFIER")
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in (first, arcs[0] - 40 * first, *arcs[1:]))


def _escape(value: str) -> str:
    """RFC 4514 §2.4: special characters escaped, a leading '#' or space and a trailing space too."""
    out = "".join("\\" + ch if ch in '"+,;<>\\' else ("\\00" if ch == "\0" else ch) for ch in value)
    if out.startswith(("#", " ")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def _certificate_verify(c: _Cursor) -> Iterator[Field]:
    yield c.leaf(2, "signature_algorithm", _named_u16(scheme_name),
                 "the scheme the client signed with: one the CertificateRequest listed, that fits its certificate's "
                 "key")
    yield _opaque(c, 2, "signature", "the client's signature with the private key of its certificate over every "
                                     "handshake message before this one: proof that it holds that key, made for this "
                                     "handshake (RFC 5246 §7.4.8)")
    yield Field("signed data", "every handshake message from ClientHello up to ClientKeyExchange, as sent",
                "what the signature covers: the same bytes the Finished hashes so far", kind="info")


def _new_session_ticket(c: _Cursor) -> Iterator[Field]:
    yield c.leaf(4, "ticket_lifetime_hint", lambda raw: f"{int.from_bytes(raw, 'big')} seconds",
                 "how long the client may keep the ticket (0: unspecified)")
    yield _opaque(c, 2, "ticket", "the session (master secret, suite, names, the peer's certificates) sealed under "
                                  "the server's ticket key: opaque to the client, which keeps it and hands it back in "
                                  "the SessionTicket extension of a later ClientHello; empty: no ticket after all")


_WALKERS: dict[int, Callable[[_Cursor], Iterable[Field]]] = {
    HandshakeType.NEW_SESSION_TICKET: _new_session_ticket,
    HandshakeType.CLIENT_HELLO: _client_hello,
    HandshakeType.SERVER_HELLO: _server_hello,
    HandshakeType.CERTIFICATE: _certificate,
    HandshakeType.SERVER_KEY_EXCHANGE: _server_key_exchange,
    HandshakeType.CERTIFICATE_REQUEST: _certificate_request,
    HandshakeType.CLIENT_KEY_EXCHANGE: _client_key_exchange,
    HandshakeType.CERTIFICATE_VERIFY: _certificate_verify,
    HandshakeType.FINISHED: _finished,
}


_KEY_EXCHANGE_WALKERS: dict[tuple[str, int], Callable[[_Cursor], Iterable[Field]]] = {
    ("DHE", HandshakeType.SERVER_KEY_EXCHANGE): _dhe_server_key_exchange,
    ("DHE", HandshakeType.CLIENT_KEY_EXCHANGE): _dhe_client_key_exchange,
    ("RSA", HandshakeType.CLIENT_KEY_EXCHANGE): _rsa_client_key_exchange,
}


def annotate_handshake(raw: bytes, key_exchange: str = "ECDHE", *, from_client: bool = False) -> list[Field]:
    """The fields of one handshake message (its 4-byte header included), in wire order. `key_exchange`
    ("ECDHE", "DHE" or "RSA", the negotiated suite's) says which form the key-exchange messages take;
    `from_client`, whose a Certificate is."""
    c = _Cursor(raw)
    if len(raw) < 4:
        return c.rest_list()
    msg_type = raw[0]
    type_field = c.leaf(1, "msg_type", f"{handshake_name(msg_type)} ({msg_type})", "which handshake message this is")
    length_field, size = _length(c, 3, "the message body")
    header = _group("handshake header", f"{handshake_name(msg_type)}, {size} bytes", "RFC 5246 §7.4: every "
                    "handshake message starts with its type and the length of its body", [type_field, length_field],
                    kind="header")
    body = _Cursor(raw, 4, min(len(raw), 4 + size))
    walker = _KEY_EXCHANGE_WALKERS.get((key_exchange, msg_type)) or _WALKERS.get(msg_type)
    if from_client and msg_type == HandshakeType.CERTIFICATE:
        walker = _client_certificate
    fields = _safe(walker, body) if walker is not None and body.remaining else body.rest_list("body",
                                                                                             "the message body")
    c.pos = body.end
    fields += c.rest_list("trailing bytes", "bytes after the message")
    return [header, *fields]


def annotate_change_cipher_spec(raw: bytes) -> list[Field]:
    c = _Cursor(raw)
    if len(raw) != 1:
        return c.rest_list()
    return [c.leaf(1, "type", "change_cipher_spec (1)",
                   "from the next record on, the sender protects everything with the keys just derived")]


def annotate_record_header(record: RecordInfo) -> tuple[bytes, list[Field]]:
    """The 5-byte record header (and, for a protected record, the explicit nonce) with its fields."""
    raw = record.header + (record.explicit_nonce or b"")
    c = _Cursor(raw)
    version_meaning = ("the record version; a client's first records often say 0x0301 (TLS 1.0) for old servers, "
                       "RFC 5246 Appendix E.1")
    fields = [
        c.leaf(1, "content_type", lambda b: f"{content_type_name(b[0])} ({b[0]})", "what the record carries"),
        c.leaf(2, "version", _version, version_meaning),
        c.leaf(2, "length", lambda b: f"{int.from_bytes(b, 'big')} bytes",
               "the fragment's length" + ((": explicit nonce + ciphertext + 16-byte GCM tag"
                                           if record.explicit_nonce is not None
                                           else ": ciphertext + 16-byte Poly1305 tag (no nonce is sent)")
                                          if record.protected else ""), kind="length"),
    ]
    if record.explicit_nonce is not None:
        fields.append(c.leaf(len(record.explicit_nonce), "explicit nonce", hex_value,
                             "8 bytes sent with each protected record, chosen by the sender so that they never "
                             "repeat, usually the sequence number (RFC 5288 §3); with the 4-byte write_IV they make "
                             "the 12-byte AES-GCM nonce"))
    return raw, fields


# -- certificates ----------------------------------------------------------------------------------


def certificate_details(der: bytes) -> list[Field]:
    """What a certificate says, as ``info`` fields: subject, issuer, validity, names, key, signature.

    `cryptography` parses lazily, so a damaged certificate can fail at any attribute; each field that
    cannot be read says so instead."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except Exception:  # ValueError today; newer cryptography versions refuse more
        return [Field("parse", "not a valid DER X.509 certificate", kind="info")]
    out: list[Field] = []

    def add(name: str, meaning: str, read: Callable[[], str | None]) -> None:
        try:
            value = read()
        except Exception as exc:  # anything a damaged certificate makes cryptography raise
            value = f"(cannot be read: {type(exc).__name__})"
        if value is not None:
            out.append(Field(name, value, meaning, kind="info"))

    def names() -> str | None:
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return None
        found = [str(v) for v in san.get_values_for_type(x509.DNSName)]
        found += [str(v) for v in san.get_values_for_type(x509.IPAddress)]
        return ", ".join(found) or "(none)"

    def ca() -> str | None:
        try:
            return "yes" if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca else "no"
        except x509.ExtensionNotFound:
            return None

    def key() -> str:
        public = cert.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            return f"RSA {public.key_size} bits"
        if isinstance(public, ec.EllipticCurvePublicKey):
            return f"EC {public.curve.name}"
        return type(public).__name__.removeprefix("_")

    def signature() -> str:
        algorithm = cert.signature_hash_algorithm
        oid = cert.signature_algorithm_oid
        name = getattr(oid, "_name", oid.dotted_string)
        return f"{name}" + (f" ({algorithm.name})" if algorithm is not None else "")

    # The lambdas delay `cert.subject` itself, which is what raises for a damaged certificate.
    add("subject", "who the certificate is for", lambda: cert.subject.rfc4514_string())  # noqa: PLW0108
    add("issuer", "who signed it", lambda: cert.issuer.rfc4514_string())  # noqa: PLW0108
    add("validity", "when it may be used",
        lambda: f"{_utc(cert.not_valid_before_utc)} to {_utc(cert.not_valid_after_utc)}")
    add("subjectAltName", "the names it is valid for; the client's host name must be one of them", names)
    add("CA", "whether it may sign other certificates", ca)
    add("public key", "the key this certificate vouches for", key)
    add("signature algorithm", "how the issuer signed it", signature)
    return out


def _utc(moment: datetime.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


_TBS_NAMES = ["serialNumber", "signature", "issuer", "validity", "subject", "subjectPublicKeyInfo"]
_TBS_MEANINGS = {
    "version": "[0] the X.509 version (v3)",
    "serialNumber": "the issuer's serial number for this certificate",
    "signature": "the algorithm the issuer signed with (repeated outside)",
    "issuer": "the issuer's distinguished name",
    "validity": "notBefore and notAfter",
    "subject": "the subject's distinguished name",
    "subjectPublicKeyInfo": "the algorithm and the public key itself",
    "extensions": "[3] extensions: names (subjectAltName), key usage, CA flag, key identifiers",
}


def _der_header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, header length, content length) of the DER element at `pos`."""
    if pos + 2 > end:
        raise _Malformed
    tag, first = data[pos], data[pos + 1]
    if first < 0x80:
        return tag, 2, first
    n = first & 0x7F
    if not 1 <= n <= 3 or pos + 2 + n > end:
        raise _Malformed
    return tag, 2 + n, int.from_bytes(data[pos + 2 : pos + 2 + n], "big")


def _der_element(data: bytes, pos: int, end: int, name: str, meaning: str, base: int,
                 inner: Callable[[int, int], list[Field]] | None = None) -> tuple[Field, int]:
    tag, header_len, size = _der_header(data, pos, end)
    stop = pos + header_len + size
    if stop > end:
        raise _Malformed
    if inner is None:
        value = f"{size} bytes" if size > 16 else data[pos + header_len : stop].hex()
        return Field(name, value, meaning, base + pos, base + stop), stop
    header = Field("DER header", f"tag 0x{tag:02x}, {size} bytes", "ASN.1 DER: the element's tag and length",
                   base + pos, base + pos + header_len, "length")
    children = [header, *inner(pos + header_len, stop)]
    return _group(name, f"{size} bytes", meaning, children), stop


def _der_certificate(der: bytes, base: int) -> list[Field]:
    """Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } (RFC 5280 §4.1)."""
    def tbs_inner(pos: int, end: int) -> list[Field]:
        out: list[Field] = []
        names = iter(_TBS_NAMES)
        while pos < end:
            tag = der[pos]
            if tag == 0xA0:
                name = "version"
            elif tag == 0xA3:
                name = "extensions"
            elif tag in (0xA1, 0xA2):
                name = "uniqueID"
            else:
                name = next(names, "element")
            f, pos = _der_element(der, pos, end, name, _TBS_MEANINGS.get(name, ""), base)
            out.append(f)
        return out

    def cert_inner(pos: int, end: int) -> list[Field]:
        tbs, pos = _der_element(der, pos, end, "tbsCertificate", "the part the issuer signs: version, serial, "
                                "issuer, validity, subject, public key, extensions", base, tbs_inner)
        alg, pos = _der_element(der, pos, end, "signatureAlgorithm", "the algorithm of the issuer's signature", base)
        sig, pos = _der_element(der, pos, end, "signatureValue", "the issuer's signature over tbsCertificate", base)
        if pos != end:
            raise _Malformed
        return [tbs, alg, sig]

    try:
        cert, stop = _der_element(der, 0, len(der), "certificate (DER)", "an X.509 certificate (RFC 5280)", base,
                                  cert_inner)
        if stop != len(der):
            raise _Malformed
        return [cert]
    except _Malformed:
        return [Field("certificate (DER)", f"{len(der)} bytes", "an X.509 certificate (RFC 5280)", base,
                      base + len(der))]
