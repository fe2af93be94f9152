"""Property tests for the codec and every wire message.

For each message (handshake messages, hello extensions, Alert, ChangeCipherSpec) a Hypothesis
strategy generates valid instances within the RFC bounds, and the tests check that

* decoding an encoding gives the message back (and re-encoding gives the same bytes);
* every strict prefix of an encoding is a `DecodeError`, bar the few prefixes that are
  themselves valid encodings (listed, with reasons, next to `_valid_handshake_prefix` and
  `EMPTY_BODY_EXTENSIONS`);
* arbitrary and mutated bytes make every parser raise nothing but a `TLSError` (in practice
  `DecodeError` or `IllegalParameter`), and whatever does parse re-encodes to something that
  parses to the same value;
* `codec.Reader` behaves like a plain slicing model of itself, and `Writer` back-fills
  and bounds its length prefixes;
* open enums keep unknown code points.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tls12.codec import Reader, Writer
from tls12.enums import (
    AlertDescription,
    AlertLevel,
    CipherSuite,
    ECPointFormat,
    ExtensionType,
    HandshakeType,
    NamedGroup,
    ProtocolVersion,
    SignatureScheme,
)
from tls12.errors import DecodeError, IllegalParameter, TLSError
from tls12.messages import (
    ALPN,
    Alert,
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ChangeCipherSpec,
    ClientHello,
    ClientKeyExchange,
    ECPointFormats,
    ExtendedMasterSecret,
    Extension,
    Finished,
    HelloRequest,
    NewSessionTicket,
    RenegotiationInfo,
    ServerHello,
    ServerHelloDone,
    ServerKeyExchange,
    ServerName,
    SessionTicket,
    SignatureAlgorithms,
    SupportedGroups,
    SupportedVersions,
    UnknownExtension,
    UnknownHandshake,
    encode_handshake,
    parse_handshake,
)
from tls12.messages.extensions import parse_extensions, write_extensions

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------

#: Extension types with a dedicated parser; every other type is kept as UnknownExtension.
PARSED_EXTENSION_TYPES = frozenset({0, 10, 11, 13, 16, 23, 35, 43, 0xFF01})
#: Handshake types with a dedicated parser; every other type is kept as UnknownHandshake.
PARSED_HANDSHAKE_TYPES = frozenset({0, 1, 2, 4, 11, 12, 13, 14, 15, 16, 20})


def open_enum(enum: Any, bits: int = 16) -> st.SearchStrategy[Any]:
    """Known members and arbitrary code points (which become UNKNOWN_0x.... pseudo-members)."""
    return st.one_of(st.sampled_from(list(enum)), st.integers(0, (1 << bits) - 1).map(enum))


def tuples_of(elements: st.SearchStrategy[Any], min_size: int, max_size: int) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(elements, min_size=min_size, max_size=max_size).map(tuple)


# RFC 6066 HostName: an ASCII DNS host name, labels of letters, digits, hyphens (and underscores)
# of 1 to 63 bytes, at most 255 bytes in all; the parser refuses anything else (test_adversarial_client_hello.py).
_labels = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=63)
host_names = st.one_of(
    st.lists(_labels, min_size=1, max_size=4).map(".".join).filter(lambda name: len(name) <= 255),
    st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}\Z"),
)

server_name_client = host_names.map(lambda name: ServerName((name,)))  # exactly one name
server_name_server = st.just(ServerName())  # empty in a ServerHello
supported_groups = tuples_of(open_enum(NamedGroup), 1, 16).map(SupportedGroups)  # <2..2^16-1>
ec_point_formats = tuples_of(open_enum(ECPointFormat, bits=8), 1, 16).map(ECPointFormats)  # <1..2^8-1>
signature_algorithms = tuples_of(open_enum(SignatureScheme), 1, 16).map(SignatureAlgorithms)  # <2..2^16-2>
alpn = tuples_of(st.binary(min_size=1, max_size=255), 1, 4).map(ALPN)  # names <1..2^8-1>, list <2..2^16-1>
extended_master_secret = st.just(ExtendedMasterSecret())
renegotiation_info = st.binary(max_size=255).map(RenegotiationInfo)  # <0..255>
supported_versions = tuples_of(open_enum(ProtocolVersion), 1, 127).map(SupportedVersions)  # <2..254>
session_ticket_client = st.binary(max_size=300).map(SessionTicket)  # RFC 5077 §3.2: the whole extension_data
session_ticket_server = st.just(SessionTicket())  # always empty from a server
unknown_extension = st.builds(
    UnknownExtension,
    st.integers(0, 0xFFFF).filter(lambda t: t not in PARSED_EXTENSION_TYPES).map(ExtensionType),
    st.binary(max_size=64),
)

client_extension = st.one_of(
    server_name_client, supported_groups, ec_point_formats, signature_algorithms, alpn,
    extended_master_secret, renegotiation_info, supported_versions, session_ticket_client, unknown_extension,
)
server_extension = st.one_of(
    server_name_server, supported_groups, ec_point_formats, signature_algorithms, alpn,
    extended_master_secret, renegotiation_info, session_ticket_server, unknown_extension,
)


def extension_lists(ext: st.SearchStrategy[Extension]) -> st.SearchStrategy[tuple[Extension, ...]]:
    """A hello's extensions: distinct types."""
    return st.lists(ext, max_size=9, unique_by=lambda e: int(e.ext_type)).map(tuple)


randoms = st.binary(min_size=32, max_size=32)
session_ids = st.binary(max_size=32)

client_hellos = st.builds(
    ClientHello,
    client_version=open_enum(ProtocolVersion),
    random=randoms,
    session_id=session_ids,
    cipher_suites=tuples_of(open_enum(CipherSuite), 1, 32),  # <2..2^16-2>
    compression_methods=st.binary(min_size=1, max_size=255),  # <1..2^8-1>
    extensions=extension_lists(client_extension),
)
server_hellos = st.builds(
    ServerHello,
    server_version=open_enum(ProtocolVersion),
    random=randoms,
    session_id=session_ids,
    cipher_suite=open_enum(CipherSuite),
    compression_method=st.integers(0, 255),
    extensions=extension_lists(server_extension),
)
certificates = tuples_of(st.binary(min_size=1, max_size=64), 0, 5).map(Certificate)
server_key_exchanges = st.builds(
    ServerKeyExchange,
    named_curve=open_enum(NamedGroup),
    public=st.binary(min_size=1, max_size=255),
    scheme=open_enum(SignatureScheme),
    signature=st.binary(max_size=300),
)
certificate_requests = st.builds(
    CertificateRequest,
    certificate_types=st.binary(min_size=1, max_size=255),
    supported_signature_algorithms=tuples_of(open_enum(SignatureScheme), 1, 16),
    certificate_authorities=tuples_of(st.binary(min_size=1, max_size=64), 0, 4),
)
client_key_exchanges = st.binary(min_size=1, max_size=255).map(ClientKeyExchange)
finisheds = st.one_of(st.binary(min_size=12, max_size=12), st.binary(max_size=48)).map(Finished)
certificate_verifies = st.builds(CertificateVerify, scheme=open_enum(SignatureScheme),
                                 signature=st.binary(max_size=300))
# RFC 5077 §3.3: uint32 ticket_lifetime_hint, opaque ticket<0..2^16-1>.
new_session_tickets = st.builds(NewSessionTicket, ticket_lifetime_hint=st.integers(0, 2**32 - 1),
                                ticket=st.binary(max_size=300))
unknown_handshakes = st.builds(
    UnknownHandshake,
    st.integers(0, 255).filter(lambda t: t not in PARSED_HANDSHAKE_TYPES).map(HandshakeType),
    st.binary(max_size=64),
)

HANDSHAKE_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "HelloRequest": st.just(HelloRequest()),
    "ClientHello": client_hellos,
    "ServerHello": server_hellos,
    "Certificate": certificates,
    "ServerKeyExchange": server_key_exchanges,
    "CertificateRequest": certificate_requests,
    "ServerHelloDone": st.just(ServerHelloDone()),
    "ClientKeyExchange": client_key_exchanges,
    "Finished": finisheds,
    "CertificateVerify": certificate_verifies,
    "NewSessionTicket": new_session_tickets,
    "UnknownHandshake": unknown_handshakes,
}

HANDSHAKE_STRATEGY_BY_TYPE: dict[int, st.SearchStrategy[Any]] = {
    int(cls.msg_type): HANDSHAKE_STRATEGIES[cls.__name__]
    for cls in (HelloRequest, ClientHello, ServerHello, Certificate, ServerKeyExchange, CertificateRequest,
                ServerHelloDone, ClientKeyExchange, Finished, CertificateVerify, NewSessionTicket)
}
assert set(HANDSHAKE_STRATEGY_BY_TYPE) == PARSED_HANDSHAKE_TYPES

#: (id, class, strategy, from_client) for every extension parser and context it is valid in.
EXTENSION_CASES: list[tuple[str, Any, st.SearchStrategy[Any], bool]] = [
    ("server_name-client", ServerName, server_name_client, True),
    ("server_name-server", ServerName, server_name_server, False),
    ("supported_groups-client", SupportedGroups, supported_groups, True),
    ("supported_groups-server", SupportedGroups, supported_groups, False),
    ("ec_point_formats-client", ECPointFormats, ec_point_formats, True),
    ("ec_point_formats-server", ECPointFormats, ec_point_formats, False),
    ("signature_algorithms-client", SignatureAlgorithms, signature_algorithms, True),
    ("signature_algorithms-server", SignatureAlgorithms, signature_algorithms, False),
    ("alpn-client", ALPN, alpn, True),
    ("alpn-server", ALPN, alpn, False),
    ("extended_master_secret-client", ExtendedMasterSecret, extended_master_secret, True),
    ("extended_master_secret-server", ExtendedMasterSecret, extended_master_secret, False),
    ("renegotiation_info-client", RenegotiationInfo, renegotiation_info, True),
    ("renegotiation_info-server", RenegotiationInfo, renegotiation_info, False),
    ("supported_versions-client", SupportedVersions, supported_versions, True),
    # The client's SessionTicket is opaque (every prefix is a shorter ticket): test_session_ticket_shapes.
    ("session_ticket-server", SessionTicket, session_ticket_server, False),
]
EXTENSION_IDS = [case[0] for case in EXTENSION_CASES]

# Extensions whose body is empty, so they have no strict prefix to check:
EMPTY_BODY_EXTENSIONS = {
    "extended_master_secret-client",  # RFC 7627: the extension_data is always empty
    "extended_master_secret-server",  # same
    "server_name-server",  # RFC 6066 §3: the server's acknowledgement is empty
    "session_ticket-server",  # RFC 5077 §3.2: the server's promise of a ticket is empty
}

KNOWN_EXTENSION_CLASSES = [
    ServerName, SupportedGroups, ECPointFormats, SignatureAlgorithms, ALPN,
    ExtendedMasterSecret, RenegotiationInfo, SupportedVersions, SessionTicket,
]


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """`base` after a few random edits: byte changes, truncation, insertion, deletion."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "truncate", "insert", "delete", "extend"]))
        if op == "set" and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[draw(st.integers(0, len(data))):]
        elif op == "insert":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            at = draw(st.integers(0, len(data) - 1))
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "extend":
            data += draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def _extension_block(exts: tuple[Extension, ...] | list[Extension]) -> bytes:
    w = Writer()
    write_extensions(w, exts)
    return w.getvalue()


def _handshake_body(msg: Any) -> bytes:
    return encode_handshake(msg)[4:]


# --------------------------------------------------------------------------------------------
# Handshake messages: round trip
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(HANDSHAKE_STRATEGIES))
@FAST
@given(data=st.data())
def test_handshake_round_trip(name: str, data: st.DataObject) -> None:
    msg = data.draw(HANDSHAKE_STRATEGIES[name])
    frame = encode_handshake(msg)
    assert frame[0] == msg.msg_type
    assert int.from_bytes(frame[1:4], "big") == len(frame) - 4
    decoded = parse_handshake(frame[0], frame[4:])
    assert type(decoded) is type(msg)
    assert decoded == msg
    assert encode_handshake(decoded) == frame


@FAST
@given(hello=client_hellos)
def test_client_hello_extension_types_survive(hello: ClientHello) -> None:
    decoded = parse_handshake(HandshakeType.CLIENT_HELLO, _handshake_body(hello))
    assert isinstance(decoded, ClientHello)
    assert [int(e.ext_type) for e in decoded.extensions] == [int(e.ext_type) for e in hello.extensions]
    for ext in decoded.extensions:
        assert isinstance(ext, UnknownExtension) == (int(ext.ext_type) not in PARSED_EXTENSION_TYPES)


# --------------------------------------------------------------------------------------------
# Handshake messages: strict prefixes
# --------------------------------------------------------------------------------------------


def _valid_handshake_prefix(msg: Any, prefix: bytes) -> Any | None:
    """What a strict prefix of `msg`'s body must decode to, or None if it must be a DecodeError.

    The only strict prefixes that are valid encodings:
    - ClientHello / ServerHello cut right before the extensions block: RFC 5246 §7.4.1.2 makes
      the block optional, so this is exactly the same hello without extensions.
    - Finished: verify_data is read as the whole (opaque) body, so any prefix is a shorter
      Finished (its length is checked later, against the suite, by the state machine).
    - UnknownHandshake: the body is kept opaque, so any prefix is a shorter unknown message.
    - HelloRequest / ServerHelloDone: the body is empty, so there is no strict prefix at all.
    """
    if isinstance(msg, ClientHello | ServerHello) and msg.extensions:
        bare = dataclasses.replace(msg, extensions=())
        if prefix == _handshake_body(bare):
            return bare
    if isinstance(msg, Finished):
        return Finished(prefix)
    if isinstance(msg, UnknownHandshake):
        return UnknownHandshake(msg.msg_type, prefix)
    return None


@pytest.mark.parametrize("name", list(HANDSHAKE_STRATEGIES))
@FAST
@given(data=st.data())
def test_handshake_strict_prefixes_fail(name: str, data: st.DataObject) -> None:
    msg = data.draw(HANDSHAKE_STRATEGIES[name])
    body = _handshake_body(msg)
    if isinstance(msg, HelloRequest | ServerHelloDone):
        assert body == b""  # no strict prefixes to check
    for cut in range(len(body)):
        prefix = body[:cut]
        expected = _valid_handshake_prefix(msg, prefix)
        if expected is None:
            with pytest.raises(DecodeError):
                parse_handshake(msg.msg_type, prefix)
        else:
            decoded = parse_handshake(msg.msg_type, prefix)
            assert decoded == expected
            # Either exactly the extensions-less hello, or something different from the original.
            assert decoded != msg


@FAST
@given(hello=st.one_of(client_hellos, server_hellos), trailing=st.binary(min_size=1, max_size=8))
def test_hello_trailing_bytes_fail(hello: ClientHello | ServerHello, trailing: bytes) -> None:
    body = _handshake_body(hello)
    with pytest.raises(DecodeError):
        parse_handshake(hello.msg_type, body + trailing)


@pytest.mark.parametrize("name", ["Certificate", "ServerKeyExchange", "CertificateRequest", "ClientKeyExchange",
                                  "CertificateVerify", "NewSessionTicket"])
@FAST
@given(data=st.data(), trailing=st.binary(min_size=1, max_size=8))
def test_handshake_trailing_bytes_fail(name: str, data: st.DataObject, trailing: bytes) -> None:
    msg = data.draw(HANDSHAKE_STRATEGIES[name])
    with pytest.raises(DecodeError):
        parse_handshake(msg.msg_type, _handshake_body(msg) + trailing)


@pytest.mark.parametrize("msg", [HelloRequest(), ServerHelloDone()])
def test_empty_messages_reject_any_body(msg: HelloRequest | ServerHelloDone) -> None:
    assert parse_handshake(msg.msg_type, b"") == msg
    with pytest.raises(DecodeError):
        parse_handshake(msg.msg_type, b"\x00")


# --------------------------------------------------------------------------------------------
# Extensions: round trip and prefixes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("case_id", "cls", "strategy", "from_client"), EXTENSION_CASES, ids=EXTENSION_IDS)
@FAST
@given(data=st.data())
def test_extension_round_trip(
    case_id: str, cls: Any, strategy: st.SearchStrategy[Any], from_client: bool, data: st.DataObject
) -> None:
    ext = data.draw(strategy)
    body = ext.body()
    decoded = cls.parse(body, from_client=from_client)
    assert type(decoded) is cls
    assert decoded == ext
    assert decoded.body() == body
    # And framed as a one-extension block, as in a hello.
    w = Writer()
    write_extensions(w, [ext])
    block = w.getvalue()
    assert int.from_bytes(block[:2], "big") == len(block) - 2
    assert int.from_bytes(block[2:4], "big") == int(cls.ext_type)
    r = Reader(block)
    assert parse_extensions(r, from_client=from_client) == (ext,)
    r.done()


@FAST
@given(ext=unknown_extension, from_client=st.booleans())
def test_unknown_extension_round_trip(ext: UnknownExtension, from_client: bool) -> None:
    w = Writer()
    write_extensions(w, [ext])
    r = Reader(w.getvalue())
    decoded = parse_extensions(r, from_client=from_client)
    r.done()
    assert decoded == (ext,)
    assert isinstance(decoded[0], UnknownExtension)
    assert decoded[0].body() == ext.data


@pytest.mark.parametrize(("case_id", "cls", "strategy", "from_client"), EXTENSION_CASES, ids=EXTENSION_IDS)
@FAST
@given(data=st.data())
def test_extension_strict_prefixes_fail(
    case_id: str, cls: Any, strategy: st.SearchStrategy[Any], from_client: bool, data: st.DataObject
) -> None:
    # UnknownExtension is not here: its body is opaque, so every prefix is another valid
    # UnknownExtension (and it has no parser of its own).
    ext = data.draw(strategy)
    body = ext.body()
    if case_id in EMPTY_BODY_EXTENSIONS:
        assert body == b""
    else:
        assert body != b""
    for cut in range(len(body)):
        with pytest.raises(DecodeError):
            cls.parse(body[:cut], from_client=from_client)


@pytest.mark.parametrize(("case_id", "cls", "strategy", "from_client"), EXTENSION_CASES, ids=EXTENSION_IDS)
@FAST
@given(data=st.data(), trailing=st.binary(min_size=1, max_size=8))
def test_extension_trailing_bytes_fail(
    case_id: str, cls: Any, strategy: st.SearchStrategy[Any], from_client: bool, data: st.DataObject,
    trailing: bytes,
) -> None:
    ext = data.draw(strategy)
    with pytest.raises(DecodeError):
        cls.parse(ext.body() + trailing, from_client=from_client)


def test_server_name_shapes() -> None:
    one = ServerName(("example.com",))
    assert ServerName.parse(one.body(), from_client=True) == one
    # In a ServerHello the extension is empty, and anything else is a decode error.
    assert ServerName.parse(b"", from_client=False) == ServerName()
    with pytest.raises(DecodeError):
        ServerName.parse(one.body(), from_client=False)
    # In a ClientHello it cannot be empty.
    with pytest.raises(DecodeError):
        ServerName.parse(b"", from_client=True)
    # Two host names: RFC 6066 allows one per name type.
    with pytest.raises(IllegalParameter):
        ServerName.parse(ServerName(("a.example", "b.example")).body(), from_client=True)
    # Not ASCII: well-formed, but not a host name (RFC 6066 §3), so illegal_parameter.
    with pytest.raises(IllegalParameter):
        ServerName.parse(b"\x00\x05\x00\x00\x02\xc3\xa9", from_client=True)
    # An unknown name type.
    with pytest.raises(DecodeError):
        ServerName.parse(b"\x00\x04\x01\x00\x01a", from_client=True)
    # An empty host name.
    with pytest.raises(DecodeError):
        ServerName.parse(b"\x00\x03\x00\x00\x00", from_client=True)


@FAST
@given(ext=session_ticket_client)
def test_session_ticket_shapes(ext: SessionTicket) -> None:
    """From a client, the whole extension_data is the ticket (RFC 5077 §3.2), empty or not; from a
    server, only an empty one is allowed."""
    assert SessionTicket.parse(ext.body(), from_client=True) == ext
    assert ext.body() == ext.ticket
    if ext.ticket:
        with pytest.raises(DecodeError):
            SessionTicket.parse(ext.ticket, from_client=False)
    assert SessionTicket.parse(b"", from_client=False) == SessionTicket()


def test_new_session_ticket_bounds() -> None:
    """ticket<0..2^16-1>: the largest parses, the header bounds the message to it."""
    largest = NewSessionTicket(2**32 - 1, b"\x5a" * 0xFFFF)
    frame = encode_handshake(largest)
    assert parse_handshake(frame[0], frame[4:]) == largest
    assert NewSessionTicket.max_length == len(frame) - 4
    with pytest.raises(ValueError):
        encode_handshake(NewSessionTicket(0, b"\x5a" * 0x10000))
    # An empty ticket: the server keeps none after all (RFC 5077 §3.3).
    assert parse_handshake(HandshakeType.NEW_SESSION_TICKET, bytes(6)) == NewSessionTicket(0, b"")
    with pytest.raises(DecodeError):
        parse_handshake(HandshakeType.NEW_SESSION_TICKET, bytes(5))


@FAST
@given(versions=supported_versions)
def test_supported_versions_only_from_client(versions: SupportedVersions) -> None:
    with pytest.raises(DecodeError):
        SupportedVersions.parse(versions.body(), from_client=False)


def test_vector_bounds_in_extensions() -> None:
    # ALPN: a 255-byte name is the maximum; a zero-length name is refused.
    longest = ALPN((b"x" * 255,))
    assert ALPN.parse(longest.body(), from_client=True) == longest
    with pytest.raises(DecodeError):
        ALPN.parse(b"\x00\x01\x00", from_client=True)
    with pytest.raises(DecodeError):  # an empty protocol_name_list
        ALPN.parse(b"\x00\x00", from_client=True)
    with pytest.raises(ValueError, match="exceeds"):
        ALPN((b"x" * 256,)).body()
    # supported_groups / signature_algorithms: empty lists and odd lengths.
    for cls in (SupportedGroups, SignatureAlgorithms):
        with pytest.raises(DecodeError):
            cls.parse(b"\x00\x00", from_client=True)
        with pytest.raises(DecodeError):
            cls.parse(b"\x00\x03\x00\x17\x00", from_client=True)
    # supported_versions<2..254>: 127 versions fit; a 255-byte vector is over the bound.
    most = SupportedVersions((ProtocolVersion.TLS1_2,) * 127)
    assert SupportedVersions.parse(most.body(), from_client=True) == most
    with pytest.raises(DecodeError, match="outside"):
        SupportedVersions.parse(b"\xff" + b"\x03" * 255, from_client=True)
    with pytest.raises(ValueError, match="exceeds"):
        SupportedVersions((ProtocolVersion.TLS1_2,) * 128).body()
    # ec_point_formats<1..2^8-1>: never empty.
    with pytest.raises(DecodeError):
        ECPointFormats.parse(b"\x00", from_client=True)
    # renegotiation_info<0..255>: empty is the initial-handshake value.
    assert RenegotiationInfo.parse(b"\x00", from_client=False) == RenegotiationInfo(b"")
    with pytest.raises(DecodeError):
        ExtendedMasterSecret.parse(b"\x00", from_client=True)


# --------------------------------------------------------------------------------------------
# Hello-level rules: duplicates, bounds
# --------------------------------------------------------------------------------------------


@FAST
@given(
    hello=st.one_of(client_hellos, server_hellos),
    index=st.integers(0, 8),
    position=st.integers(0, 9),
)
def test_duplicate_extension_is_illegal_parameter(
    hello: ClientHello | ServerHello, index: int, position: int
) -> None:
    if not hello.extensions:
        hello = dataclasses.replace(hello, extensions=(RenegotiationInfo(b""),))
    exts = list(hello.extensions)
    dup = exts[index % len(exts)]
    exts.insert(min(position, len(exts)), dup)
    body = _handshake_body(dataclasses.replace(hello, extensions=tuple(exts)))
    with pytest.raises(IllegalParameter):
        parse_handshake(hello.msg_type, body)


@FAST
@given(first=unknown_extension, data=st.binary(max_size=16), from_client=st.booleans())
def test_duplicate_unknown_extension_with_other_data_is_illegal(
    first: UnknownExtension, data: bytes, from_client: bool
) -> None:
    w = Writer()
    write_extensions(w, [first, UnknownExtension(first.ext_type, data)])
    with pytest.raises(IllegalParameter):
        parse_extensions(Reader(w.getvalue()), from_client=from_client)


def _client_hello_body(
    session_id: bytes = b"", suites: bytes = b"\xc0\x30", compression: bytes = b"\x00", tail: bytes = b""
) -> bytes:
    return (
        b"\x03\x03" + bytes(32)
        + bytes([len(session_id)]) + session_id
        + len(suites).to_bytes(2, "big") + suites
        + bytes([len(compression)]) + compression
        + tail
    )


def test_client_hello_bounds() -> None:
    ok = parse_handshake(HandshakeType.CLIENT_HELLO, _client_hello_body(session_id=bytes(32)))
    assert isinstance(ok, ClientHello)
    assert ok.session_id == bytes(32)
    bad_bodies = [
        _client_hello_body(session_id=bytes(33)),  # session_id<0..32>
        _client_hello_body(suites=b""),  # cipher_suites<2..2^16-2>
        _client_hello_body(suites=b"\xc0\x30\x00"),  # odd length
        _client_hello_body(compression=b""),  # compression_methods<1..2^8-1>
        _client_hello_body(tail=b"\x00"),  # a one-byte extensions block
        _client_hello_body(tail=b"\x00\x05\x00\x17\x00\x00"),  # block longer than its content
        _client_hello_body(tail=b"\x00\x04\x00\x17\x00\x01"),  # extension longer than the block
        _client_hello_body()[:-1],  # no compression_methods at all
        b"\x03\x03" + bytes(31),  # random is exactly 32 bytes
    ]
    for body in bad_bodies:
        with pytest.raises(DecodeError):
            parse_handshake(HandshakeType.CLIENT_HELLO, body)
    # An empty but present extensions block is valid and means no extensions.
    empty_block = parse_handshake(HandshakeType.CLIENT_HELLO, _client_hello_body(tail=b"\x00\x00"))
    assert isinstance(empty_block, ClientHello)
    assert empty_block.extensions == ()


def test_server_key_exchange_needs_named_curve() -> None:
    ske = ServerKeyExchange(NamedGroup.X25519, b"\x01" * 32, SignatureScheme.RSA_PKCS1_SHA256, b"sig")
    body = _handshake_body(ske)
    assert body[0] == 3
    for curve_type in (1, 2, 0, 255):
        with pytest.raises(IllegalParameter):
            parse_handshake(HandshakeType.SERVER_KEY_EXCHANGE, bytes([curve_type]) + body[1:])


def test_certificate_entries_not_empty() -> None:
    # certificate_list of one zero-length ASN.1Cert: ASN.1Cert<1..2^24-1>.
    with pytest.raises(DecodeError):
        parse_handshake(HandshakeType.CERTIFICATE, b"\x00\x00\x03\x00\x00\x00")
    assert parse_handshake(HandshakeType.CERTIFICATE, b"\x00\x00\x00") == Certificate(())


# --------------------------------------------------------------------------------------------
# Alert and ChangeCipherSpec
# --------------------------------------------------------------------------------------------


@FAST
@given(level=open_enum(AlertLevel, bits=8), description=open_enum(AlertDescription, bits=8))
def test_alert_round_trip(level: AlertLevel, description: AlertDescription) -> None:
    alert = Alert(level, description)
    raw = alert.to_bytes()
    assert raw == bytes((int(level), int(description)))
    assert Alert.parse(raw) == alert
    for cut in range(len(raw)):
        with pytest.raises(DecodeError):
            Alert.parse(raw[:cut])
    with pytest.raises(DecodeError):
        Alert.parse(raw + raw)  # coalesced alerts are refused


def test_change_cipher_spec_round_trip() -> None:
    ccs = ChangeCipherSpec()
    assert ccs.to_bytes() == b"\x01"
    assert ChangeCipherSpec.parse(ccs.to_bytes()) == ccs
    with pytest.raises(DecodeError):  # the only strict prefix
        ChangeCipherSpec.parse(b"")


# --------------------------------------------------------------------------------------------
# Arbitrary bytes: nothing but TLSError
# --------------------------------------------------------------------------------------------


def _only_parse_errors(parse: Callable[[], Any]) -> Any | None:
    """Run a parser; a TLSError (DecodeError/IllegalParameter) is fine, anything else fails."""
    try:
        return parse()
    except TLSError as exc:
        assert isinstance(exc, DecodeError | IllegalParameter), repr(exc)
        return None


def _mutated_bodies(messages: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return messages.map(_handshake_body).flatmap(mutated)


ANY_VALID_HANDSHAKE = st.one_of(*HANDSHAKE_STRATEGIES.values())
#: Every HandshakeType member and some code points with no member at all.
ALL_HANDSHAKE_TYPES = sorted({*(int(t) for t in HandshakeType), 3, 6, 7, 9, 17, 21, 99, 254, 255})


@pytest.mark.parametrize("msg_type", sorted(PARSED_HANDSHAKE_TYPES), ids=lambda t: HandshakeType(t).name)
@FUZZ
@given(data=st.data())
def test_parse_handshake_arbitrary_bytes(msg_type: int, data: st.DataObject) -> None:
    own = HANDSHAKE_STRATEGY_BY_TYPE[msg_type]
    body = data.draw(st.one_of(st.binary(max_size=200), _mutated_bodies(own), _mutated_bodies(own)))
    msg = _only_parse_errors(lambda: parse_handshake(msg_type, body))
    if msg is None:
        return
    assert msg.msg_type == msg_type
    # Whatever parses re-encodes to something that parses to the same message.
    again = encode_handshake(msg)
    assert parse_handshake(again[0], again[4:]) == msg


@FUZZ
@given(
    msg_type=st.one_of(st.sampled_from(ALL_HANDSHAKE_TYPES), st.integers(0, 255)),
    body=st.one_of(st.binary(max_size=100), _mutated_bodies(ANY_VALID_HANDSHAKE)),
)
def test_parse_handshake_any_type(msg_type: int, body: bytes) -> None:
    msg = _only_parse_errors(lambda: parse_handshake(msg_type, body))
    if msg is None:
        return
    assert msg.msg_type == msg_type
    if msg_type not in PARSED_HANDSHAKE_TYPES:
        assert msg == UnknownHandshake(HandshakeType(msg_type), body)
    again = encode_handshake(msg)
    assert parse_handshake(again[0], again[4:]) == msg


@pytest.mark.parametrize("cls", KNOWN_EXTENSION_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("from_client", [True, False], ids=["client", "server"])
@FAST
@given(data=st.data())
def test_extension_parsers_arbitrary_bytes(cls: Any, from_client: bool, data: st.DataObject) -> None:
    own = [s for _, c, s, _ in EXTENSION_CASES if c is cls]
    valid = st.one_of(*own).map(lambda e: e.body())
    body = data.draw(st.one_of(st.binary(max_size=64), valid.flatmap(mutated)))
    ext = _only_parse_errors(lambda: cls.parse(body, from_client=from_client))
    if ext is not None:
        assert type(ext) is cls
        assert cls.parse(ext.body(), from_client=from_client) == ext


@FUZZ
@given(
    block=st.one_of(
        st.binary(max_size=100),
        extension_lists(st.one_of(client_extension, server_extension)).map(_extension_block).flatmap(mutated),
    ),
    from_client=st.booleans(),
)
def test_parse_extensions_arbitrary_bytes(block: bytes, from_client: bool) -> None:
    r = Reader(block)
    exts = _only_parse_errors(lambda: parse_extensions(r, from_client=from_client))
    if exts is not None:
        assert len({int(e.ext_type) for e in exts}) == len(exts)
        again = Reader(_extension_block(exts))
        assert parse_extensions(again, from_client=from_client) == exts


@FUZZ
@given(data=st.binary(max_size=8))
def test_alert_and_ccs_arbitrary_bytes(data: bytes) -> None:
    alert = _only_parse_errors(lambda: Alert.parse(data))
    assert (alert is not None) == (len(data) == 2)
    if alert is not None:
        assert alert.to_bytes() == data
    ccs = _only_parse_errors(lambda: ChangeCipherSpec.parse(data))
    assert (ccs is not None) == (data == b"\x01")


# --------------------------------------------------------------------------------------------
# codec.Reader against a model
# --------------------------------------------------------------------------------------------


@st.composite
def reader_ops(draw: st.DrawFn) -> tuple[Any, ...]:
    kind = draw(st.sampled_from(["u8", "u16", "u24", "take", "rest", "opaque", "vec", "u16_list", "done"]))
    if kind == "take":
        return (kind, draw(st.integers(0, 12)))
    if kind in ("opaque", "vec", "u16_list"):
        len_bytes = draw(st.integers(1, 3))
        top = (1 << (8 * len_bytes)) - 1
        lo = draw(st.one_of(st.integers(0, 4), st.integers(0, top)))
        hi = draw(st.one_of(st.integers(lo, min(top, lo + 8)), st.integers(lo, top)))
        return (kind, len_bytes, lo, hi)
    return (kind,)


def _model_step(data: bytes, pos: int, op: tuple[Any, ...]) -> tuple[Any, int] | None:
    """(result, new position) of one read in a plain slicing model, or None for a DecodeError."""
    n = len(data)
    kind = op[0]
    widths = {"u8": 1, "u16": 2, "u24": 3}
    if kind in widths:
        w = widths[kind]
        return None if pos + w > n else (int.from_bytes(data[pos : pos + w], "big"), pos + w)
    if kind == "take":
        k = op[1]
        return None if pos + k > n else (data[pos : pos + k], pos + k)
    if kind == "rest":
        return data[pos:], n
    if kind == "done":
        return None if pos != n else (None, pos)
    _, len_bytes, lo, hi = op
    if pos + len_bytes > n:
        return None
    length = int.from_bytes(data[pos : pos + len_bytes], "big")
    start = pos + len_bytes
    if not lo <= length <= hi or start + length > n:
        return None
    body = data[start : start + length]
    if kind == "u16_list":
        if length % 2:
            return None
        return [int.from_bytes(body[i : i + 2], "big") for i in range(0, length, 2)], start + length
    return body, start + length


def _run_reader_op(r: Reader, op: tuple[Any, ...]) -> Any:
    kind = op[0]
    if kind in ("u8", "u16", "u24", "rest"):
        return getattr(r, kind)()
    if kind == "take":
        return r.take(op[1])
    if kind == "done":
        return r.done()
    _, len_bytes, lo, hi = op
    if kind == "vec":
        sub = r.vec(len_bytes, min=lo, max=hi)
        return sub.rest()
    return getattr(r, kind)(len_bytes, min=lo, max=hi, what="v")


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=40), ops=st.lists(reader_ops(), max_size=12))
def test_reader_matches_model(data: bytes, ops: list[tuple[Any, ...]]) -> None:
    r = Reader(data)
    pos = 0
    for op in ops:
        expected = _model_step(data, pos, op)
        if expected is None:
            with pytest.raises(DecodeError):
                _run_reader_op(r, op)
            return  # a reader is not used after it fails
        result, pos = expected
        assert _run_reader_op(r, op) == result
        assert r.remaining == len(data) - pos


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.tuples(st.sampled_from(["u8", "u16", "u24", "opaque1", "opaque2", "opaque3", "u16s"]),
                                 st.data()), max_size=10))
def test_writer_reader_round_trip(values: list[tuple[str, st.DataObject]]) -> None:
    w = Writer()
    expected: list[tuple[str, Any]] = []
    for kind, data in values:
        v: Any
        if kind in ("u8", "u16", "u24"):
            v = data.draw(st.integers(0, (1 << (8 * ("u8", "u16", "u24").index(kind) + 8)) - 1))
            getattr(w, kind)(v)
        elif kind.startswith("opaque"):
            v = data.draw(st.binary(max_size=20))
            w.opaque(int(kind[-1]), v, max=20)
        else:
            v = data.draw(st.lists(st.integers(0, 0xFFFF), max_size=8))
            w.u16_list(2, v, max=16)
        expected.append((kind, v))
    r = Reader(w.getvalue())
    for kind, v in expected:
        if kind in ("u8", "u16", "u24"):
            assert getattr(r, kind)() == v
        elif kind.startswith("opaque"):
            assert r.opaque(int(kind[-1]), max=20) == v
        else:
            assert r.u16_list(2, min=0, max=16, what="list") == v
    r.done()


# --------------------------------------------------------------------------------------------
# codec unit tests
# --------------------------------------------------------------------------------------------


def test_reader_integers_are_big_endian_and_bounded() -> None:
    r = Reader(b"\x01\x02\x03\x04\x05\x06")
    assert r.u8() == 0x01
    assert r.u16() == 0x0203
    assert r.u24() == 0x040506
    assert r.remaining == 0
    for method in (r.u8, r.u16, r.u24):
        with pytest.raises(DecodeError):
            method()
    with pytest.raises(DecodeError):
        Reader(b"\x01").u16()
    with pytest.raises(DecodeError):
        Reader(b"\x01\x02").u24()
    with pytest.raises(DecodeError):
        Reader(b"ab").take(3)


def test_reader_length_bounds() -> None:
    # min and max are inclusive.
    assert Reader(b"\x02ab").opaque(1, min=2, max=2) == b"ab"
    with pytest.raises(DecodeError, match="outside"):
        Reader(b"\x01a").opaque(1, min=2, max=4)
    with pytest.raises(DecodeError, match="outside"):
        Reader(b"\x05abcde").opaque(1, min=0, max=4)
    with pytest.raises(DecodeError, match="outside"):
        Reader(b"\x00\x00").vec(2, min=1, max=10)
    # The bound is checked before the body is awaited.
    with pytest.raises(DecodeError, match="outside"):
        Reader(b"\xff\xff\xff").opaque(3, max=100)
    # A length within bounds but beyond the buffer.
    with pytest.raises(DecodeError, match="need"):
        Reader(b"\x03ab").opaque(1, max=10)
    with pytest.raises(DecodeError):
        Reader(b"\x00\x04\x00\x01\x00").u16_list(2, min=2, max=10, what="list")
    with pytest.raises(DecodeError):
        Reader(b"\x00\x00").u16_list(2, min=2, max=10, what="list")
    with pytest.raises(DecodeError):
        Reader(b"\x00\x0c" + bytes(12)).u16_list(2, min=2, max=10, what="list")


def test_reader_u16_list_odd_length() -> None:
    with pytest.raises(DecodeError, match="odd"):
        Reader(b"\x03\x00\x17\x00").u16_list(1, min=0, max=10, what="list")
    assert Reader(b"\x04\x00\x17\x00\x1d").u16_list(1, min=0, max=10, what="list") == [0x17, 0x1D]


def test_reader_done_rejects_trailing_data() -> None:
    r = Reader(b"\x01\x02")
    r.u8()
    with pytest.raises(DecodeError, match="trailing"):
        r.done()
    r.u8()
    r.done()
    Reader(b"").done()


def test_reader_vec_is_bounded_to_its_body() -> None:
    r = Reader(b"\x02abcd")
    sub = r.vec(1, max=10)
    assert sub.remaining == 2
    assert sub.take(2) == b"ab"
    with pytest.raises(DecodeError):
        sub.u8()  # the parent still has "cd", but the vector ended
    assert r.rest() == b"cd"


def test_reader_copies_its_input() -> None:
    buf = bytearray(b"\x01\x02")
    r = Reader(buf)
    buf[0] = 0xFF
    assert r.u8() == 0x01
    assert Reader(memoryview(b"\x07")).u8() == 7


def test_writer_encodings() -> None:
    w = Writer()
    w.u8(1)
    w.u16(0x0203)
    w.u24(0x040506)
    w.raw(b"xy")
    w.opaque(1, b"abc", max=3)
    w.u16_list(2, [0x17, 0x1D], max=4)
    assert w.getvalue() == b"\x01\x02\x03\x04\x05\x06xy\x03abc\x00\x04\x00\x17\x00\x1d"


def test_writer_opaque_rejects_overflow() -> None:
    w = Writer()
    with pytest.raises(ValueError, match="exceeds"):
        w.opaque(1, b"abcd", max=3)
    with pytest.raises(ValueError, match="exceeds"):
        w.u16_list(1, [1, 2], max=3)


def test_writer_prefixed_back_fills() -> None:
    w = Writer()
    w.u8(0xAA)
    with w.prefixed(3, max=0xFFFFFF):
        w.raw(b"head")
        with w.prefixed(2, max=0xFFFF):
            w.raw(b"abc")
        with w.prefixed(1, max=0xFF):
            pass
    w.u8(0xBB)
    assert w.getvalue() == b"\xaa\x00\x00\x0ahead\x00\x03abc\x00\xbb"
    # Exactly at the bound is fine.
    w2 = Writer()
    with w2.prefixed(1, max=2):
        w2.raw(b"ab")
    assert w2.getvalue() == b"\x02ab"


def test_writer_prefixed_rejects_overflow() -> None:
    w = Writer()
    with pytest.raises(ValueError, match="exceeds"), w.prefixed(1, max=2):
        w.raw(b"abc")
    w = Writer()
    with pytest.raises(ValueError, match="exceeds"), w.prefixed(2, max=0xFFFF):
        w.raw(bytes(0x10000))


def test_handshake_frame_too_large_for_uint24() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        encode_handshake(Finished(bytes(0x1000000)))


# --------------------------------------------------------------------------------------------
# Open enums
# --------------------------------------------------------------------------------------------


def test_open_enum_pseudo_members() -> None:
    unknown = CipherSuite(0x1301)
    assert not unknown.known
    assert unknown == 0x1301
    assert unknown.name == "UNKNOWN_0x1301"
    assert unknown != CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    assert CipherSuite(0xC030) is CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    assert CipherSuite(0xC030).known
    assert not ExtensionType(0xFAFA).known
    assert not NamedGroup(0x0A0A).known
    assert not HandshakeType(99).known


@FAST
@given(
    suites=tuples_of(st.integers(0, 0xFFFF).filter(lambda v: v not in set(CipherSuite)), 1, 8),
    groups=tuples_of(st.integers(0, 0xFFFF).filter(lambda v: v not in set(NamedGroup)), 1, 8),
    schemes=tuples_of(st.integers(0, 0xFFFF).filter(lambda v: v not in set(SignatureScheme)), 1, 8),
    formats=tuples_of(st.integers(0, 255).filter(lambda v: v not in set(ECPointFormat)), 1, 8),
    ext_types=st.lists(
        st.integers(0, 0xFFFF).filter(lambda v: v not in set(ExtensionType)), min_size=1, max_size=4, unique=True
    ),
    version=st.integers(0, 0xFFFF).filter(lambda v: v not in set(ProtocolVersion)),
)
def test_unknown_code_points_survive_a_client_hello(
    suites: tuple[int, ...],
    groups: tuple[int, ...],
    schemes: tuple[int, ...],
    formats: tuple[int, ...],
    ext_types: list[int],
    version: int,
) -> None:
    # Built from the wire up, so no enum conversion happens before parsing.
    exts = (
        b"\x00\x0a" + (2 + 2 * len(groups)).to_bytes(2, "big") + (2 * len(groups)).to_bytes(2, "big")
        + b"".join(g.to_bytes(2, "big") for g in groups)
        + b"\x00\x0b" + (1 + len(formats)).to_bytes(2, "big") + bytes([len(formats), *formats])
        + b"\x00\x0d" + (2 + 2 * len(schemes)).to_bytes(2, "big") + (2 * len(schemes)).to_bytes(2, "big")
        + b"".join(s.to_bytes(2, "big") for s in schemes)
        + b"".join(t.to_bytes(2, "big") + b"\x00\x01\x2a" for t in ext_types)
    )
    body = (
        version.to_bytes(2, "big") + bytes(range(32)) + b"\x00"
        + (2 * len(suites)).to_bytes(2, "big") + b"".join(s.to_bytes(2, "big") for s in suites)
        + b"\x01\x00"
        + len(exts).to_bytes(2, "big") + exts
    )
    hello = parse_handshake(HandshakeType.CLIENT_HELLO, body)
    assert isinstance(hello, ClientHello)
    assert encode_handshake(hello)[4:] == body
    assert hello.client_version == version and not hello.client_version.known
    assert hello.cipher_suites == suites
    assert all(not s.known and isinstance(s, CipherSuite) for s in hello.cipher_suites)
    parsed_groups, parsed_formats, parsed_schemes, *unknown = hello.extensions
    assert isinstance(parsed_groups, SupportedGroups)
    assert parsed_groups.groups == groups
    assert all(not g.known for g in parsed_groups.groups)
    assert isinstance(parsed_formats, ECPointFormats)
    assert parsed_formats.formats == formats
    assert all(not f.known for f in parsed_formats.formats)
    assert isinstance(parsed_schemes, SignatureAlgorithms)
    assert parsed_schemes.schemes == schemes
    assert all(not s.known for s in parsed_schemes.schemes)
    assert [(int(e.ext_type), e.body()) for e in unknown] == [(t, b"\x2a") for t in ext_types]
    assert all(isinstance(e, UnknownExtension) and not e.ext_type.known for e in unknown)


@FAST
@given(description=st.integers(0, 255).filter(lambda v: v not in set(AlertDescription)),
       level=st.integers(3, 255))
def test_unknown_alert_values_survive(description: int, level: int) -> None:
    alert = Alert.parse(bytes([level, description]))
    assert alert.level == level and not alert.level.known
    assert alert.description == description and not alert.description.known
    assert alert.to_bytes() == bytes([level, description])


def test_unknown_handshake_type_is_kept() -> None:
    msg = parse_handshake(99, b"opaque")
    assert msg == UnknownHandshake(HandshakeType(99), b"opaque")
    assert not msg.msg_type.known
    assert encode_handshake(msg) == b"\x63\x00\x00\x06opaque"


@given(values=st.lists(st.integers(min_value=0, max_value=0xFFFF), max_size=20))
def test_open_enum_members_are_what_the_constructor_gives(values: list[int]) -> None:
    """`members()` (a lookup per value seen before) answers as calling the enum on each value does,
    for known values, unknown ones (pseudo-members, kept for next time) and the falsy 0."""
    for enum in (CipherSuite, SignatureScheme, NamedGroup, ECPointFormat):
        found = enum.members(values)
        assert found == tuple(enum(v) for v in values)
        assert all(a is b for a, b in zip(found, enum.members(values), strict=True))
        assert all(type(m) is enum for m in found)
