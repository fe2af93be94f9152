"""Negotiation policy of the server and the client (RFC 5246, 8422, 9155, 5746, 7627, 7301).

Server-side tests hand the server a crafted ClientHello and read its flight back;
when a crafted hello must lead to a *complete* handshake, `finish_as_client`
plays the rest of the client's part with the library's PRF and AEAD primitives.
Client-side tests edit the server's real flight (re-encoding the message and
fixing the record length) before the client sees it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tls12 import (
    AlertDescription,
    AlertReceivedError,
    ApplicationDataReceived,
    BadCertificate,
    ClientConfig,
    ClientConnection,
    DecodeError,
    HandshakeComplete,
    HandshakeFailure,
    IllegalParameter,
    NoApplicationProtocol,
    ProtocolVersionError,
    ServerConfig,
    ServerConnection,
    TLSError,
    UnsupportedExtension,
)
from tls12.certs import IssuedCertificate
from tls12.crypto import prf, signatures
from tls12.crypto.aead import GCMRecordAEAD
from tls12.crypto.kx import EphemeralKey
from tls12.crypto.suites import SUITES
from tls12.enums import (
    CipherSuite,
    ECPointFormat,
    ExtensionType,
    HandshakeType,
    NamedGroup,
    ProtocolVersion,
    SignatureScheme,
)
from tls12.messages import (
    ALPN,
    Certificate,
    ClientHello,
    ClientKeyExchange,
    ECPointFormats,
    ExtendedMasterSecret,
    Extension,
    Finished,
    HandshakeMessage,
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
    encode_handshake,
    find_extension,
)

from helpers import pump
from record_support import (
    APPDATA,
    CCS,
    HANDSHAKE,
    P256,
    P384,
    PKCS256,
    PSS256,
    SUITE,
    TLS10,
    TLS12,
    X25519,
    edit_flight,
    handshake_frames,
    hello_record,
    make_hello,
    parse,
    plain_alert,
    record,
    split_records,
)

# -- helpers ------------------------------------------------------------------------

SCSV = CipherSuite.TLS_EMPTY_RENEGOTIATION_INFO_SCSV
DOWNGRADE_SENTINELS = (b"DOWNGRD\x01", b"DOWNGRD\x00")


# Not record_support.expect_failure: these tests ask only that a later record fail with `error`
# (not that it is the very same exception), and send no protected alerts.
def expect_failure(
    conn: ClientConnection | ServerConnection,
    data: bytes,
    error: type[TLSError],
    alert: AlertDescription,
    *,
    version: int = TLS12,
) -> TLSError:
    """Feed `data`; check the exception, `exc.alert`, the plaintext alert record and stickiness."""
    with pytest.raises(error) as info:
        conn.receive_data(data)
    exc = info.value
    assert exc.alert == alert, f"{type(exc).__name__} sends {exc.alert!r}, expected {alert!r}"
    assert conn.data_to_send() == plain_alert(alert, version)
    assert conn.failure is exc
    with pytest.raises(error):
        conn.receive_data(record(HANDSHAKE, b"\x00\x00\x00\x00"))
    assert conn.data_to_send() == b""
    return exc


class ServerFlight:
    """The server's answer to one ClientHello: the parsed messages and their raw bytes."""

    def __init__(self, config: ServerConfig, hello: ClientHello) -> None:
        self.server = ServerConnection(config)
        self.hello = hello
        self.hello_raw = encode_handshake(hello)
        assert self.server.receive_data(record(HANDSHAKE, self.hello_raw, TLS10)) == []
        self.data = self.server.data_to_send()
        self.raws = handshake_frames(self.data)
        assert [r[0] for r in self.raws] == [HandshakeType.SERVER_HELLO, HandshakeType.CERTIFICATE,
                                              HandshakeType.SERVER_KEY_EXCHANGE, HandshakeType.SERVER_HELLO_DONE]
        sh, cert, ske, shd = (parse(r) for r in self.raws)
        assert isinstance(sh, ServerHello) and isinstance(cert, Certificate)
        assert isinstance(ske, ServerKeyExchange) and isinstance(shd, ServerHelloDone)
        self.server_hello, self.certificate, self.ske = sh, cert, ske

    @property
    def extension_types(self) -> set[int]:
        return {int(e.ext_type) for e in self.server_hello.extensions}

    def check_ske_signature(self, leaf: IssuedCertificate) -> None:
        signed = self.hello.random + self.server_hello.random + self.ske.params_bytes()
        signatures.verify(leaf.certificate.public_key(), self.ske.scheme, self.ske.signature, signed)  # type: ignore[arg-type]

    def finish_as_client(self) -> None:
        """Complete the handshake as the client would, and exchange application data."""
        spec = SUITES[self.server_hello.cipher_suite]
        sha384 = spec.prf_hash  # the suite's PRF hash (SHA-384 or SHA-256)
        k, s = spec.key_len, spec.fixed_iv_len
        key = EphemeralKey.generate(self.ske.named_curve)
        pre_master = key.exchange(self.ske.public)
        cke_raw = encode_handshake(ClientKeyExchange(key.public))
        transcript = hashes.Hash(sha384)
        for raw in (self.hello_raw, *self.raws, cke_raw):
            transcript.update(raw)
        client_random, server_random = self.hello.random, self.server_hello.random
        if find_extension(self.server_hello.extensions, ExtendedMasterSecret) is not None:
            master = prf.extended_master_secret(pre_master, transcript.copy().finalize(), sha384)
        else:
            master = prf.master_secret(pre_master, client_random, server_random, sha384)
        block = prf.key_block(master, client_random, server_random, spec.key_block_len, sha384)
        client_write = GCMRecordAEAD(block[:k], block[2 * k : 2 * k + s])
        server_write = GCMRecordAEAD(block[k : 2 * k], block[2 * k + s : 2 * k + 2 * s])
        client_verify = prf.verify_data(master, b"client finished", transcript.copy().finalize(), 12, sha384)
        finished_raw = encode_handshake(Finished(client_verify))
        flight = record(HANDSHAKE, cke_raw) + record(CCS, b"\x01") + client_write.seal(HANDSHAKE, finished_raw)
        assert self.server.receive_data(flight) == [HandshakeComplete()]
        reply = split_records(self.server.data_to_send())
        transcript.update(finished_raw)
        if SessionTicket() in self.server_hello.extensions:
            # The client asked for a ticket: a NewSessionTicket, in the server's Finished hash (RFC 5077 §3.3).
            (kind, _, ticket), *reply = reply
            assert kind == HANDSHAKE and ticket[0] == HandshakeType.NEW_SESSION_TICKET
            transcript.update(ticket)
        assert reply[0] == (CCS, TLS12, b"\x01")
        expected = prf.verify_data(master, b"server finished", transcript.finalize(), 12, sha384)
        assert server_write.open(*reply[1]) == encode_handshake(Finished(expected))
        assert len(reply) == 2
        self.server.send_application_data(b"hello")
        [(t, v, body)] = split_records(self.server.data_to_send())
        assert server_write.open(t, v, body) == b"hello"
        assert self.server.receive_data(client_write.seal(APPDATA, b"world")) == [ApplicationDataReceived(b"world")]


def refuse(config: ServerConfig, hello: ClientHello, error: type[TLSError], alert: AlertDescription) -> None:
    server = ServerConnection(config)
    expect_failure(server, hello_record(hello), error, alert)
    assert not server.handshake_complete


def server_with(leaf: IssuedCertificate, **kwargs: object) -> ServerConfig:
    return ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key, **kwargs)  # type: ignore[arg-type]


def client_with(client_config: ClientConfig, **kwargs: object) -> ClientConfig:
    return dataclasses.replace(client_config, **kwargs)  # type: ignore[arg-type]


def connect(client_config: ClientConfig, server_config: ServerConfig) -> tuple[ClientConnection, ServerConnection]:
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    client_events, server_events = pump(client, server)
    assert client_events == [HandshakeComplete()]
    assert server_events == [HandshakeComplete()]
    return client, server


def server_flight_for(client: ClientConnection, server_config: ServerConfig) -> bytes:
    server = ServerConnection(server_config)
    assert server.receive_data(client.data_to_send()) == []
    return server.data_to_send()


# -- the crafted hello is sound ----------------------------------------------------------


def test_crafted_hello_completes(server_config: ServerConfig, leaf: IssuedCertificate) -> None:
    flight = ServerFlight(server_config, make_hello())
    flight.check_ske_signature(leaf)
    flight.finish_as_client()
    assert flight.server.extended_master_secret


def test_crafted_hello_without_ems_completes(server_config: ServerConfig) -> None:
    flight = ServerFlight(server_config, make_hello(drop=[ExtendedMasterSecret]))
    assert ExtensionType.EXTENDED_MASTER_SECRET not in flight.extension_types
    flight.finish_as_client()
    assert not flight.server.extended_master_secret


# -- server: groups -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server_groups", "client_groups", "expected"),
    [
        ((P384, P256, X25519), (X25519, P256, P384), P384),
        ((P384, P256, X25519), (X25519, P256), P256),
        ((X25519, P256, P384), (P384, P256, X25519), X25519),
        ((P256,), (X25519, P384, P256), P256),
    ],
)
def test_server_picks_group_by_its_preference(
    leaf: IssuedCertificate,
    client_config: ClientConfig,
    server_groups: tuple[NamedGroup, ...],
    client_groups: tuple[NamedGroup, ...],
    expected: NamedGroup,
) -> None:
    server_config = server_with(leaf, groups=server_groups)
    flight = ServerFlight(server_config, make_hello(drop=[SupportedGroups], add=[SupportedGroups(client_groups)]))
    assert flight.ske.named_curve == expected
    flight.finish_as_client()
    # And with our own client on both ends.
    client, server = connect(client_with(client_config, groups=client_groups), server_config)
    assert client.group == server.group == expected


def test_no_supported_groups_means_secp256r1(server_config: ServerConfig) -> None:
    flight = ServerFlight(server_config, make_hello(drop=[SupportedGroups]))
    assert flight.ske.named_curve == P256
    assert flight.server.group == P256
    flight.finish_as_client()


@pytest.mark.parametrize(
    ("server_groups", "client_groups"),
    [((X25519,), (P256, P384)), ((P256, P384), (X25519,)), ((X25519, P256, P384), (NamedGroup.SECP521R1, 0x0100))],
)
def test_no_common_group(
    leaf: IssuedCertificate, server_groups: tuple[NamedGroup, ...], client_groups: tuple[int, ...]
) -> None:
    hello = make_hello(drop=[SupportedGroups], add=[SupportedGroups(tuple(NamedGroup(g) for g in client_groups))])
    refuse(server_with(leaf, groups=server_groups), hello, HandshakeFailure, AlertDescription.HANDSHAKE_FAILURE)


def test_no_common_group_alert_reaches_our_client(leaf: IssuedCertificate, client_config: ClientConfig) -> None:
    client = ClientConnection(client_with(client_config, groups=(P256,)), server_name="localhost")
    server = ServerConnection(server_with(leaf, groups=(X25519,)))
    with pytest.raises(HandshakeFailure):
        server.receive_data(client.data_to_send())
    with pytest.raises(AlertReceivedError) as info:
        client.receive_data(server.data_to_send())
    assert info.value.description == AlertDescription.HANDSHAKE_FAILURE


# -- server: signature schemes ---------------------------------------------------------------


def test_no_signature_algorithms(server_config: ServerConfig) -> None:
    """RFC 9155 §3: no SHA-1 default; a client without signature_algorithms is refused."""
    refuse(server_config, make_hello(drop=[SignatureAlgorithms]), HandshakeFailure,
           AlertDescription.HANDSHAKE_FAILURE)


@pytest.mark.parametrize(
    "schemes",
    [
        (SignatureScheme.RSA_PKCS1_SHA1,),
        (SignatureScheme.ECDSA_SECP256R1_SHA256, SignatureScheme.ED25519, SignatureScheme.RSA_PSS_PSS_SHA256),
    ],
)
def test_no_usable_signature_scheme(server_config: ServerConfig, schemes: tuple[SignatureScheme, ...]) -> None:
    hello = make_hello(drop=[SignatureAlgorithms], add=[SignatureAlgorithms(schemes)])
    refuse(server_config, hello, HandshakeFailure, AlertDescription.HANDSHAKE_FAILURE)


@pytest.mark.parametrize(
    ("server_schemes", "client_schemes", "expected"),
    [
        ((SignatureScheme.RSA_PKCS1_SHA512, PSS256), (PSS256, SignatureScheme.RSA_PKCS1_SHA512),
         SignatureScheme.RSA_PKCS1_SHA512),
        ((PSS256, PKCS256), (PKCS256, PSS256), PSS256),
        ((SignatureScheme.RSA_PSS_RSAE_SHA384, PKCS256), (PKCS256,), PKCS256),
    ],
)
def test_server_picks_signature_scheme_by_its_preference(
    leaf: IssuedCertificate,
    client_config: ClientConfig,
    server_schemes: tuple[SignatureScheme, ...],
    client_schemes: tuple[SignatureScheme, ...],
    expected: SignatureScheme,
) -> None:
    server_config = server_with(leaf, signature_schemes=server_schemes)
    flight = ServerFlight(server_config,
                          make_hello(drop=[SignatureAlgorithms], add=[SignatureAlgorithms(client_schemes)]))
    assert flight.ske.scheme == expected
    flight.check_ske_signature(leaf)
    client, server = connect(client_with(client_config, signature_schemes=client_schemes), server_config)
    assert client.signature_scheme == server.signature_scheme == expected


# -- server: malformed or unacceptable hellos ---------------------------------------------------


@pytest.mark.parametrize(
    "duplicate",
    [
        [ExtendedMasterSecret()],
        [RenegotiationInfo(b"")],
        [SupportedGroups((P256,))],
        [UnknownExtension(ExtensionType.SUPPORTED_GROUPS, b"\x00\x02\x00\x17")],
        [UnknownExtension(ExtensionType(0x3377), b""), UnknownExtension(ExtensionType(0x3377), b"\x01")],
    ],
)
def test_duplicate_extension(server_config: ServerConfig, duplicate: list[Extension]) -> None:
    """RFC 5246 §7.4.1.4: at most one extension of each type (known or not)."""
    refuse(server_config, make_hello(add=duplicate), IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)


@pytest.mark.parametrize("methods", [b"\x01", b"\x01\x40", b"\x40"])
def test_client_without_null_compression(server_config: ServerConfig, methods: bytes) -> None:
    refuse(server_config, make_hello(compression=methods), IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)


def test_client_with_null_compression_among_others(server_config: ServerConfig) -> None:
    flight = ServerFlight(server_config, make_hello(compression=b"\x01\x00"))
    assert flight.server_hello.compression_method == 0


@pytest.mark.parametrize("formats", [(1,), (1, 2), (2,)])
def test_ec_point_formats_without_uncompressed(server_config: ServerConfig, formats: tuple[int, ...]) -> None:
    hello = make_hello(drop=[ECPointFormats], add=[ECPointFormats(tuple(ECPointFormat(f) for f in formats))])
    refuse(server_config, hello, IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)


def test_tls13_client_hello_gets_tls12(server_config: ServerConfig) -> None:
    """A TLS 1.3 client (supported_versions, key_share, GREASE everywhere) is served TLS 1.2."""
    grease = [0x0A0A, 0x1A1A, 0xFAFA]
    hello = make_hello(
        suites=(0x0A0A, 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, SUITE, 0x009C, SCSV),
        session_id=bytes(range(32)),
        extensions=[
            UnknownExtension(ExtensionType(grease[0]), b""),
            ServerName(("localhost",)),
            ExtendedMasterSecret(),
            RenegotiationInfo(b""),
            SupportedGroups((NamedGroup(0x1A1A), X25519, P256, P384)),
            ECPointFormats((ECPointFormat.UNCOMPRESSED,)),
            UnknownExtension(ExtensionType.SESSION_TICKET, b""),
            ALPN((b"h2", b"http/1.1")),
            UnknownExtension(ExtensionType.STATUS_REQUEST, b"\x01\x00\x00\x00\x00"),
            SignatureAlgorithms((SignatureScheme(0x0A0A), SignatureScheme.ECDSA_SECP256R1_SHA256, PSS256, PKCS256)),
            UnknownExtension(ExtensionType.SIGNED_CERTIFICATE_TIMESTAMP, b""),
            UnknownExtension(ExtensionType.KEY_SHARE,
                             b"\x00\x29" + b"\x1a\x1a\x00\x01\x00" + b"\x00\x1d\x00\x20" + bytes(range(32))),
            UnknownExtension(ExtensionType.PSK_KEY_EXCHANGE_MODES, b"\x01\x01"),
            SupportedVersions((ProtocolVersion(0x2A2A), ProtocolVersion.TLS1_3, ProtocolVersion.TLS1_2)),
            UnknownExtension(ExtensionType(grease[2]), b"\x00"),
        ],
    )
    flight = ServerFlight(server_config, hello)
    sh = flight.server_hello
    assert sh.server_version == ProtocolVersion.TLS1_2
    # The server's first preference its RSA certificate can serve (0xC02B needs an ECDSA one).
    assert sh.cipher_suite == CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    assert sh.random[-8:] not in DOWNGRADE_SENTINELS  # a TLS 1.2-only server must not claim TLS 1.3
    assert flight.extension_types <= {int(e.ext_type) for e in hello.extensions}
    assert ExtensionType.SUPPORTED_VERSIONS not in flight.extension_types
    assert ExtensionType.KEY_SHARE not in flight.extension_types
    assert not flight.extension_types & set(grease)
    assert flight.ske.named_curve == X25519
    flight.finish_as_client()
    assert flight.server.version == ProtocolVersion.TLS1_2


@pytest.mark.parametrize("version", [0x0304, 0x0305, 0x0400])
def test_higher_client_version_gets_tls12(server_config: ServerConfig, version: int) -> None:
    """RFC 5246 E.1: a server answers a higher client_version with the highest it supports."""
    flight = ServerFlight(server_config, make_hello(version=version))
    assert flight.server_hello.server_version == ProtocolVersion.TLS1_2
    flight.finish_as_client()


@pytest.mark.parametrize("versions", [(0x0304,), (0x0304, 0x7F1C), (0x0302, 0x0301)])
def test_supported_versions_without_tls12(server_config: ServerConfig, versions: tuple[int, ...]) -> None:
    hello = make_hello(add=[SupportedVersions(tuple(ProtocolVersion(v) for v in versions))])
    refuse(server_config, hello, ProtocolVersionError, AlertDescription.PROTOCOL_VERSION)


def test_unknown_suites_groups_extensions_ignored(server_config: ServerConfig) -> None:
    hello = make_hello(
        suites=(0x0033, 0xC09D, 0xFFFE, SUITE, 0x5A5A),  # DHE-RSA-AES128-SHA, AES256-CCM: not ours
        extensions=[
            UnknownExtension(ExtensionType(0x3A3A), b"\xde\xad\xbe\xef"),
            SupportedGroups((NamedGroup(0x0100), NamedGroup(0x6399), NamedGroup.X448, P384)),
            SignatureAlgorithms((SignatureScheme(0x0A0A), SignatureScheme(0x0201), PKCS256)),
            UnknownExtension(ExtensionType.HEARTBEAT, b"\x01"),
            UnknownExtension(ExtensionType.ENCRYPT_THEN_MAC, b""),
            ECPointFormats((ECPointFormat.UNCOMPRESSED, ECPointFormat(0xF0))),
            RenegotiationInfo(b""),
            UnknownExtension(ExtensionType(0xFFFF), b""),
        ],
    )
    flight = ServerFlight(server_config, hello)
    assert flight.server_hello.cipher_suite == SUITE
    assert flight.ske.named_curve == P384
    assert flight.ske.scheme == PKCS256
    # Unknown extensions are never echoed (encrypt_then_mac is meaningless for AEAD suites).
    assert flight.extension_types == {ExtensionType.RENEGOTIATION_INFO, ExtensionType.EC_POINT_FORMATS}
    flight.finish_as_client()


# -- server: RFC 5746 renegotiation_info ------------------------------------------------------


@pytest.mark.parametrize("value", [b"\x00", bytes(12), bytes(range(24))])
def test_nonempty_renegotiation_info_in_initial_hello(server_config: ServerConfig, value: bytes) -> None:
    hello = make_hello(drop=[RenegotiationInfo], add=[RenegotiationInfo(value)])
    refuse(server_config, hello, HandshakeFailure, AlertDescription.HANDSHAKE_FAILURE)


def test_scsv_alone_gets_empty_renegotiation_info(server_config: ServerConfig) -> None:
    flight = ServerFlight(server_config, make_hello(suites=(SUITE, SCSV), drop=[RenegotiationInfo]))
    reneg = find_extension(flight.server_hello.extensions, RenegotiationInfo)
    assert reneg is not None
    assert reneg.renegotiated_connection == b""
    flight.finish_as_client()


def test_scsv_and_extension_get_one_renegotiation_info(server_config: ServerConfig) -> None:
    flight = ServerFlight(server_config, make_hello(suites=(SCSV, SUITE)))
    assert [e.ext_type for e in flight.server_hello.extensions].count(ExtensionType.RENEGOTIATION_INFO) == 1


def test_no_renegotiation_signal_gets_no_renegotiation_info(server_config: ServerConfig) -> None:
    flight = ServerFlight(server_config, make_hello(drop=[RenegotiationInfo]))
    assert ExtensionType.RENEGOTIATION_INFO not in flight.extension_types


# -- server: only offered extensions come back -----------------------------------------------------


def test_server_hello_echoes_only_offered_extensions(leaf: IssuedCertificate) -> None:
    config = server_with(leaf, alpn_protocols=("h2",), extended_master_secret=True)
    hello = make_hello(extensions=[SupportedGroups((X25519,)), SignatureAlgorithms((PSS256,))])
    flight = ServerFlight(config, hello)
    assert flight.server_hello.extensions == ()
    assert flight.server.alpn_protocol is None
    assert flight.server.server_name is None
    flight.finish_as_client()
    assert not flight.server.extended_master_secret


def test_server_hello_echoes_what_was_offered(leaf: IssuedCertificate) -> None:
    config = server_with(leaf, alpn_protocols=("h2",))
    flight = ServerFlight(config, make_hello(add=[ALPN((b"h2",))]))
    assert flight.extension_types == {
        ExtensionType.SERVER_NAME,
        ExtensionType.RENEGOTIATION_INFO,
        ExtensionType.EXTENDED_MASTER_SECRET,
        ExtensionType.EC_POINT_FORMATS,
        ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION,
    }
    sni = find_extension(flight.server_hello.extensions, ServerName)
    assert sni is not None and sni.host_names == ()
    assert flight.server.server_name == "localhost"


def test_server_with_ems_disabled_does_not_echo_it(leaf: IssuedCertificate) -> None:
    flight = ServerFlight(server_with(leaf, extended_master_secret=False), make_hello())
    assert ExtensionType.EXTENDED_MASTER_SECRET not in flight.extension_types
    flight.finish_as_client()


# -- server: ALPN and EMS policy ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server_protocols", "client_protocols", "expected"),
    [
        (("h2", "http/1.1"), ("http/1.1", "h2"), "h2"),
        (("http/1.1", "h2"), ("h2", "http/1.1"), "http/1.1"),
        (("spdy/3", "h2"), ("http/1.1", "h2"), "h2"),
    ],
)
def test_alpn_server_preference(
    leaf: IssuedCertificate,
    client_config: ClientConfig,
    server_protocols: tuple[str, ...],
    client_protocols: tuple[str, ...],
    expected: str,
) -> None:
    server_config = server_with(leaf, alpn_protocols=server_protocols)
    flight = ServerFlight(server_config, make_hello(add=[ALPN(tuple(p.encode() for p in client_protocols))]))
    alpn = find_extension(flight.server_hello.extensions, ALPN)
    assert alpn is not None and alpn.protocols == (expected.encode(),)
    client, server = connect(client_with(client_config, alpn_protocols=client_protocols), server_config)
    assert client.alpn_protocol == server.alpn_protocol == expected


def test_alpn_no_overlap(leaf: IssuedCertificate) -> None:
    """RFC 7301 §3.2: no_application_protocol."""
    refuse(server_with(leaf, alpn_protocols=("h2",)), make_hello(add=[ALPN((b"http/1.1", b"spdy/3"))]),
           NoApplicationProtocol, AlertDescription.NO_APPLICATION_PROTOCOL)


def test_alpn_unconfigured_server_ignores_it(server_config: ServerConfig) -> None:
    flight = ServerFlight(server_config, make_hello(add=[ALPN((b"h2",))]))
    assert ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION not in flight.extension_types


def test_server_requires_ems(leaf: IssuedCertificate) -> None:
    """RFC 7627 §5.3: a server that requires EMS aborts with handshake_failure."""
    config = server_with(leaf, require_extended_master_secret=True)
    refuse(config, make_hello(drop=[ExtendedMasterSecret]), HandshakeFailure, AlertDescription.HANDSHAKE_FAILURE)


def test_server_requires_ems_against_our_client(leaf: IssuedCertificate, client_config: ClientConfig) -> None:
    client = ClientConnection(client_with(client_config, extended_master_secret=False), server_name="localhost")
    server = ServerConnection(server_with(leaf, require_extended_master_secret=True))
    expect_failure(server, client.data_to_send(), HandshakeFailure, AlertDescription.HANDSHAKE_FAILURE)
    # And with EMS offered it works.
    connect(client_config, server_with(leaf, require_extended_master_secret=True))


# -- server: ClientKeyExchange public values -------------------------------------------------------


def _point(curve: ec.EllipticCurve) -> bytes:
    return ec.generate_private_key(curve).public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def _bad_points(group: NamedGroup) -> list[bytes]:
    curve: ec.EllipticCurve = ec.SECP256R1() if group == P256 else ec.SECP384R1()
    other: ec.EllipticCurve = ec.SECP384R1() if group == P256 else ec.SECP256R1()
    good = _point(curve)
    size = (len(good) - 1) // 2
    compressed = ec.generate_private_key(curve).public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    x, y = good[1 : 1 + size], int.from_bytes(good[1 + size :], "big")
    return [
        compressed,  # a valid point, compressed
        b"\x04" + x + (y + 1).to_bytes(size, "big"),  # off the curve
        b"\x04" + x + (y ^ 1).to_bytes(size, "big"),  # off the curve
        b"\x04" + bytes(2 * size),  # (0, 0) is not on the curve
        b"\x04" + b"\xff" * (2 * size),  # coordinates >= p
        good[:-1],  # one byte short
        good + b"\x00",  # one byte long
        b"\x00",  # the point at infinity
        b"\x06" + good[1:],  # hybrid form
        b"\x02" + good[1:],  # right length, wrong prefix
        _point(other),  # a point on the other curve
    ]


def _kx_server(leaf: IssuedCertificate, group: NamedGroup) -> ServerConnection:
    server = ServerConnection(server_with(leaf, groups=(group,)))
    server.receive_data(hello_record(make_hello()))
    assert server.group == group
    assert server.data_to_send()
    return server


@pytest.mark.parametrize("group", [P256, P384])
def test_bad_nist_client_key_exchange(leaf: IssuedCertificate, group: NamedGroup) -> None:
    for point in _bad_points(group):
        server = _kx_server(leaf, group)
        cke = record(HANDSHAKE, encode_handshake(ClientKeyExchange(point)))
        expect_failure(server, cke, IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)


@pytest.mark.parametrize("group", [P256, P384, X25519])
def test_good_client_key_exchange_is_accepted(leaf: IssuedCertificate, group: NamedGroup) -> None:
    """The control for the bad points: a fresh valid key share is taken."""
    server = _kx_server(leaf, group)
    point = EphemeralKey.generate(group).public
    assert server.receive_data(record(HANDSHAKE, encode_handshake(ClientKeyExchange(point)))) == []
    assert server.failure is None


_P = 2**255 - 19
X25519_LOW_ORDER = [
    0,
    1,
    # the two points of order 8 (as in libsodium's blocklist), little-endian on the wire
    int.from_bytes(bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"), "little"),
    int.from_bytes(bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"), "little"),
    _P - 1,  # order 2
    _P,  # = 0
    _P + 1,  # = 1
]


def _x25519_low_order_encodings() -> list[bytes]:
    out = []
    for u in X25519_LOW_ORDER:
        le = u.to_bytes(32, "little")
        out.append(le)
        out.append(le[:31] + bytes((le[31] | 0x80,)))  # the same point with the ignored top bit set
    return out


@pytest.mark.parametrize("public", _x25519_low_order_encodings(), ids=lambda b: b.hex()[:8] + ".." + b.hex()[-2:])
def test_x25519_low_order_client_key_exchange(leaf: IssuedCertificate, public: bytes) -> None:
    server = _kx_server(leaf, X25519)
    cke = record(HANDSHAKE, encode_handshake(ClientKeyExchange(public)))
    expect_failure(server, cke, IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)


@pytest.mark.parametrize("public", [b"\x09" + bytes(30), b"\x09" + bytes(32), b"\x09", b"\x04" + bytes(64)])
def test_x25519_wrong_length_client_key_exchange(leaf: IssuedCertificate, public: bytes) -> None:
    server = _kx_server(leaf, X25519)
    cke = record(HANDSHAKE, encode_handshake(ClientKeyExchange(public)))
    expect_failure(server, cke, IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)


# -- client: the ServerHello ------------------------------------------------------------------------


def _sh(change: Callable[[ServerHello], ServerHello]) -> Callable[[HandshakeMessage], HandshakeMessage]:
    def edit(msg: HandshakeMessage) -> HandshakeMessage:
        assert isinstance(msg, ServerHello)
        return change(msg)

    return edit


def _with_extensions(sh: ServerHello, extensions: Sequence[Extension]) -> ServerHello:
    return dataclasses.replace(sh, extensions=tuple(extensions))


def client_refuses_server_hello(
    client_config: ClientConfig,
    server_config: ServerConfig,
    change: Callable[[ServerHello], ServerHello],
    error: type[TLSError],
    alert: AlertDescription,
) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    flight = edit_flight(server_flight_for(client, server_config), HandshakeType.SERVER_HELLO, _sh(change))
    # The client fails on the ServerHello, before it has settled the version: record version 0x0301.
    expect_failure(client, flight, error, alert, version=TLS10)
    assert client.version is None


def test_unedited_server_hello_is_accepted(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """The control: a re-encoded, unchanged ServerHello is byte-identical and accepted."""
    client = ClientConnection(client_config, server_name="localhost")
    original = server_flight_for(client, server_config)
    flight = edit_flight(original, HandshakeType.SERVER_HELLO, _sh(lambda sh: sh))
    assert flight == original
    assert client.receive_data(flight) == []
    assert client.data_to_send()


@pytest.mark.parametrize("suite", [0x009D, 0x009C, 0x1301, 0x00FF, 0x0000])
def test_server_picks_suite_not_offered(
    client_config: ClientConfig, server_config: ServerConfig, suite: int
) -> None:
    client_refuses_server_hello(client_config, server_config,
                                lambda sh: dataclasses.replace(sh, cipher_suite=CipherSuite(suite)),
                                IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)


@pytest.mark.parametrize("version", [0x0302, 0x0301, 0x0300, 0x0304])
def test_server_picks_other_version(
    client_config: ClientConfig, server_config: ServerConfig, version: int
) -> None:
    client_refuses_server_hello(client_config, server_config,
                                lambda sh: dataclasses.replace(sh, server_version=ProtocolVersion(version)),
                                ProtocolVersionError, AlertDescription.PROTOCOL_VERSION)


@pytest.mark.parametrize("method", [1, 0x40, 0xFF])
def test_server_picks_compression(client_config: ClientConfig, server_config: ServerConfig, method: int) -> None:
    client_refuses_server_hello(client_config, server_config,
                                lambda sh: dataclasses.replace(sh, compression_method=method),
                                IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)


@pytest.mark.parametrize(
    "extra",
    [
        ALPN((b"h2",)),
        UnknownExtension(ExtensionType(0x1234), b""),
        UnknownExtension(ExtensionType.SESSION_TICKET, b""),
        UnknownExtension(ExtensionType.ENCRYPT_THEN_MAC, b""),
    ],
    ids=["alpn", "unknown", "session_ticket", "encrypt_then_mac"],
)
def test_server_sends_unrequested_extension(
    client_config: ClientConfig, server_config: ServerConfig, extra: Extension
) -> None:
    """RFC 5246 §7.4.1.4: an extension the client did not offer is unsupported_extension."""
    client_config = client_with(client_config, session_tickets=False)  # no session_ticket offered
    client_refuses_server_hello(client_config, server_config,
                                lambda sh: _with_extensions(sh, [*sh.extensions, extra]),
                                UnsupportedExtension, AlertDescription.UNSUPPORTED_EXTENSION)


def test_server_sends_ems_not_offered(client_config: ClientConfig, server_config: ServerConfig) -> None:
    config = client_with(client_config, extended_master_secret=False)
    client_refuses_server_hello(
        config, server_config,
        lambda sh: _with_extensions(sh, [*sh.extensions, ExtendedMasterSecret()]),
        UnsupportedExtension, AlertDescription.UNSUPPORTED_EXTENSION)


def test_server_sends_sni_not_offered(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """Connecting to an IP address sends no SNI; a ServerHello acknowledging one is unrequested."""
    client = ClientConnection(client_config, server_name="127.0.0.1")
    flight = edit_flight(server_flight_for(client, server_config), HandshakeType.SERVER_HELLO,
                         _sh(lambda sh: _with_extensions(sh, [*sh.extensions, ServerName()])))
    expect_failure(client, flight, UnsupportedExtension, AlertDescription.UNSUPPORTED_EXTENSION, version=TLS10)


@pytest.mark.parametrize("protocols", [(b"spdy/3",), (b"h2", b"http/1.1"), (b"http/1.1", b"h2"), (b"H2",)])
def test_server_alpn_not_offered(
    client_config: ClientConfig, server_config: ServerConfig, protocols: tuple[bytes, ...]
) -> None:
    config = client_with(client_config, alpn_protocols=("h2", "http/1.1"))
    client_refuses_server_hello(config, server_config,
                                lambda sh: _with_extensions(sh, [*sh.extensions, ALPN(protocols)]),
                                IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)


def test_server_alpn_offered_is_accepted(client_config: ClientConfig, server_config: ServerConfig) -> None:
    config = client_with(client_config, alpn_protocols=("h2", "http/1.1"))
    client = ClientConnection(config, server_name="localhost")
    flight = edit_flight(server_flight_for(client, server_config), HandshakeType.SERVER_HELLO,
                         _sh(lambda sh: _with_extensions(sh, [*sh.extensions, ALPN((b"http/1.1",))])))
    assert client.receive_data(flight) == []
    assert client.alpn_protocol == "http/1.1"


def test_server_without_renegotiation_info(client_config: ClientConfig, server_config: ServerConfig) -> None:
    client_refuses_server_hello(
        client_config, server_config,
        lambda sh: _with_extensions(sh, [e for e in sh.extensions if not isinstance(e, RenegotiationInfo)]),
        HandshakeFailure, AlertDescription.HANDSHAKE_FAILURE)


def test_server_with_nonempty_renegotiation_info(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """RFC 5746 §3.4: a non-empty renegotiated_connection in an initial handshake aborts."""
    client_refuses_server_hello(
        client_config, server_config,
        lambda sh: _with_extensions(
            sh, [RenegotiationInfo(bytes(24)) if isinstance(e, RenegotiationInfo) else e for e in sh.extensions]),
        HandshakeFailure, AlertDescription.HANDSHAKE_FAILURE)


def test_server_point_formats_without_uncompressed(client_config: ClientConfig, server_config: ServerConfig) -> None:
    client_refuses_server_hello(
        client_config, server_config,
        lambda sh: _with_extensions(
            sh, [ECPointFormats((ECPointFormat(1),)) if isinstance(e, ECPointFormats) else e for e in sh.extensions]),
        IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)


def test_client_requires_ems(client_config: ClientConfig, leaf: IssuedCertificate) -> None:
    """RFC 7627 §5.3: a client that requires EMS aborts with handshake_failure."""
    client = ClientConnection(client_with(client_config, require_extended_master_secret=True), server_name="localhost")
    flight = server_flight_for(client, server_with(leaf, extended_master_secret=False))
    expect_failure(client, flight, HandshakeFailure, AlertDescription.HANDSHAKE_FAILURE, version=TLS10)


def test_client_requires_ems_and_gets_it(client_config: ClientConfig, server_config: ServerConfig) -> None:
    client, server = connect(client_with(client_config, require_extended_master_secret=True), server_config)
    assert client.extended_master_secret and server.extended_master_secret


# -- client: the ServerKeyExchange ------------------------------------------------------------------


def _sign(leaf: IssuedCertificate, scheme: SignatureScheme, data: bytes) -> bytes:
    if scheme == SignatureScheme.RSA_PKCS1_SHA1:  # not in the library's table, on purpose
        return leaf.private_key.sign(data, padding.PKCS1v15(), hashes.SHA1())
    return signatures.sign(leaf.private_key, scheme, data)


def resigned_ske(
    client: ClientConnection,
    flight: bytes,
    leaf: IssuedCertificate,
    group: NamedGroup,
    scheme: SignatureScheme,
) -> bytes:
    """The flight with its ServerKeyExchange replaced by a key on `group`, validly signed with `scheme`."""
    sh = parse(handshake_frames(flight)[0])
    assert isinstance(sh, ServerHello)
    public = EphemeralKey.generate(group).public if group in (X25519, P256, P384) else b"\x04" + bytes(range(132))

    def edit(msg: HandshakeMessage) -> HandshakeMessage:
        assert isinstance(msg, ServerKeyExchange)
        unsigned = ServerKeyExchange(named_curve=group, public=public, scheme=scheme, signature=b"")
        signed = client.client_random + sh.random + unsigned.params_bytes()
        return dataclasses.replace(unsigned, signature=_sign(leaf, scheme, signed))

    return edit_flight(flight, HandshakeType.SERVER_KEY_EXCHANGE, edit)


def test_resigned_ske_is_accepted(
    client_config: ClientConfig, server_config: ServerConfig, leaf: IssuedCertificate
) -> None:
    """The control: a re-signed ServerKeyExchange on an offered group and scheme is accepted."""
    client = ClientConnection(client_with(client_config, groups=(X25519, P256)), server_name="localhost")
    flight = resigned_ske(client, server_flight_for(client, server_config), leaf, P256, PKCS256)
    assert client.receive_data(flight) == []
    assert client.group == P256
    assert client.signature_scheme == PKCS256
    assert client.data_to_send()


@pytest.mark.parametrize("group", [P256, P384, NamedGroup.SECP521R1, NamedGroup(0x0A0A)])
def test_ske_group_not_offered(
    client_config: ClientConfig, server_config: ServerConfig, leaf: IssuedCertificate, group: NamedGroup
) -> None:
    client = ClientConnection(client_with(client_config, groups=(X25519,)), server_name="localhost")
    flight = resigned_ske(client, server_flight_for(client, server_config), leaf, group, PSS256)
    expect_failure(client, flight, IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)
    assert client.group is None


@pytest.mark.parametrize("scheme", [PKCS256, SignatureScheme.RSA_PKCS1_SHA512, SignatureScheme.RSA_PSS_RSAE_SHA512])
def test_ske_scheme_not_offered(
    client_config: ClientConfig, server_config: ServerConfig, leaf: IssuedCertificate, scheme: SignatureScheme
) -> None:
    client = ClientConnection(client_with(client_config, signature_schemes=(PSS256,)), server_name="localhost")
    flight = resigned_ske(client, server_flight_for(client, server_config), leaf, X25519, scheme)
    expect_failure(client, flight, IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)
    assert client.signature_scheme is None


def test_ske_sha1_scheme_refused(
    client_config: ClientConfig, server_config: ServerConfig, leaf: IssuedCertificate
) -> None:
    """RFC 9155: SHA-1 signatures are never acceptable (and the client never offers them)."""
    client = ClientConnection(client_config, server_name="localhost")
    flight = resigned_ske(client, server_flight_for(client, server_config), leaf, X25519,
                          SignatureScheme.RSA_PKCS1_SHA1)
    expect_failure(client, flight, IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)


# -- client: the server's Certificate -----------------------------------------------------------------


def _certificate(edit: Callable[[Certificate], Certificate]) -> Callable[[HandshakeMessage], HandshakeMessage]:
    def inner(msg: HandshakeMessage) -> HandshakeMessage:
        assert isinstance(msg, Certificate)
        return edit(msg)

    return inner


def test_empty_server_certificate_list(client_config: ClientConfig, server_config: ServerConfig) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    flight = edit_flight(server_flight_for(client, server_config), HandshakeType.CERTIFICATE,
                         _certificate(lambda c: Certificate(())))
    expect_failure(client, flight, DecodeError, AlertDescription.DECODE_ERROR)


@pytest.mark.parametrize("der", [b"\x30\x03\x02\x01\x00", b"not a certificate", b"\x30"])
def test_undecodable_server_certificate(client_config: ClientConfig, server_config: ServerConfig,
                                        der: bytes) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    flight = edit_flight(server_flight_for(client, server_config), HandshakeType.CERTIFICATE,
                         _certificate(lambda c: Certificate((der,))))
    expect_failure(client, flight, BadCertificate, AlertDescription.BAD_CERTIFICATE)


def test_truncated_server_certificate(client_config: ClientConfig, server_config: ServerConfig) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    flight = edit_flight(server_flight_for(client, server_config), HandshakeType.CERTIFICATE,
                         _certificate(lambda c: Certificate((c.certificate_list[0][:-10],))))
    expect_failure(client, flight, BadCertificate, AlertDescription.BAD_CERTIFICATE)


def test_undecodable_intermediate_certificate(client_config: ClientConfig, server_config: ServerConfig) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    flight = edit_flight(server_flight_for(client, server_config), HandshakeType.CERTIFICATE,
                         _certificate(lambda c: Certificate((*c.certificate_list, b"\x30\x00"))))
    expect_failure(client, flight, BadCertificate, AlertDescription.BAD_CERTIFICATE)


def test_client_without_ems_requirement_accepts_server_without_ems(
    client_config: ClientConfig, leaf: IssuedCertificate
) -> None:
    client, server = connect(client_config, server_with(leaf, extended_master_secret=False))
    assert not client.extended_master_secret and not server.extended_master_secret
