"""Every suite of the table, both roles, with every key type that fits, and several certificates per server.

In memory: our client against our server for every (suite, key type) that is valid; both roles
against OpenSSL (the stdlib ssl module over MemoryBIO) pinned to each suite; a server holding an
RSA, an ECDSA and an Ed25519 certificate picks per the client's suites, signature_algorithms and
server name; the server's or the client's order, and the ChaCha20 rule; DHE group negotiation by
RFC 7919 §4; the client's checks of DHE parameters, of the ServerKeyExchange signature and of the
certificate's key type; and a mixed chain (ECDSA leaf, ECDSA intermediate, RSA root).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import ssl
import types
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tls12 import (
    ApplicationDataReceived,
    ClientConfig,
    ClientConnection,
    HandshakeComplete,
    ServerConfig,
    ServerConnection,
)
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.config import DEFAULT_CIPHER_SUITES, SPOKEN_SUITES
from tls12.crypto import signatures
from tls12.crypto.credentials import KeyType
from tls12.crypto.dhe import FFDHE_GROUPS
from tls12.crypto.suites import SUITES, Authentication, KeyExchange
from tls12.crypto.x509 import server_public_key
from tls12.enums import AlertDescription, CipherSuite, HandshakeType, NamedGroup, SignatureScheme
from tls12.errors import (
    BadCertificate,
    DecryptError,
    HandshakeFailure,
    IllegalParameter,
    InsufficientSecurity,
    UnsupportedCertificate,
)
from tls12.handshake.server import negotiation_order
from tls12.messages import (
    ClientHello,
    DHEClientKeyExchange,
    DHEServerKeyExchange,
    HandshakeMessage,
    ServerHello,
    SupportedGroups,
    find_extension,
)
from tls12.trace import Decision

from helpers import StdlibPeer, pump, pump_stdlib
from record_support import (
    edit_flight,
    expect_failure,
    handshake_frames,
    hello_record,
    make_hello,
    parse,
    record,
    split_records,
)

HANDSHAKE = 22
_S = CipherSuite
KEY_TYPES = [KeyType.RSA, KeyType.RSA_PSS, KeyType.ECDSA_P256, KeyType.ECDSA_P384, KeyType.ECDSA_P521,
             KeyType.ED25519]
STATIC_RSA = (_S.TLS_RSA_WITH_AES_128_GCM_SHA256, _S.TLS_RSA_WITH_AES_256_GCM_SHA384)


def fits(suite: CipherSuite, key_type: KeyType) -> bool:
    auth = SUITES[suite].authentication
    if auth is Authentication.RSA_DECRYPTION:
        return key_type is KeyType.RSA
    if auth is Authentication.RSA_SIGNATURE:
        return key_type in (KeyType.RSA, KeyType.RSA_PSS)
    return key_type not in (KeyType.RSA, KeyType.RSA_PSS)


COMBINATIONS = [(suite, kt) for suite in SPOKEN_SUITES for kt in KEY_TYPES if fits(suite, kt)]


@pytest.fixture(scope="module")
def leaves(ca: CertificateAuthority) -> dict[KeyType, IssuedCertificate]:
    return {kt: ca.issue(("localhost", "127.0.0.1"), key_type=kt) for kt in KEY_TYPES}


def connect(client_config: ClientConfig, server_config: ServerConfig,
            name: str = "localhost") -> tuple[ClientConnection, ServerConnection]:
    client = ClientConnection(client_config, server_name=name)
    server = ServerConnection(server_config)
    assert pump(client, server) == ([HandshakeComplete()], [HandshakeComplete()])
    client.send_application_data(b"ping")
    assert server.receive_data(client.data_to_send()) == [ApplicationDataReceived(b"ping")]
    server.send_application_data(b"pong")
    assert client.receive_data(server.data_to_send()) == [ApplicationDataReceived(b"pong")]
    return client, server


def test_spoken_suites_and_defaults() -> None:
    # Every row speaks (AES-GCM and ChaCha20-Poly1305); static RSA only when configured.
    assert tuple(SUITES) == SPOKEN_SUITES
    assert tuple(s for s in SPOKEN_SUITES if s not in STATIC_RSA) == DEFAULT_CIPHER_SUITES
    assert list(DEFAULT_CIPHER_SUITES) == [s for s in SUITES if s in DEFAULT_CIPHER_SUITES]  # the table's order
    assert ServerConfig.__dataclass_fields__["prefer_client_order"].default is False


@pytest.mark.parametrize(("suite", "key_type"), COMBINATIONS, ids=[f"{s.name}-{k}" for s, k in COMBINATIONS])
def test_every_suite_and_key_type_in_memory(ca: CertificateAuthority, leaves: dict[KeyType, IssuedCertificate],
                                            suite: CipherSuite, key_type: KeyType) -> None:
    leaf = leaves[key_type]
    credential = leaf.credential()
    server_config = ServerConfig(credentials=[credential], cipher_suites=[suite])
    client, server = connect(ClientConfig(trust_anchors=[ca.certificate], cipher_suites=[suite]), server_config)
    assert client.cipher_suite == server.cipher_suite == suite
    assert server.credential is server_config.credentials[0]
    kx = SUITES[suite].key_exchange
    if kx is KeyExchange.RSA:
        assert client.group is server.group is None
        assert client.signature_scheme is server.signature_scheme is None
    else:
        expected_group = NamedGroup.X25519 if kx is KeyExchange.ECDHE else NamedGroup.FFDHE2048
        assert client.group == server.group == expected_group
        assert client.signature_scheme == server.signature_scheme == credential.schemes[0]
    assert client.peer_certificate_chain[0] == leaf.certificate


@pytest.mark.parametrize("suite", STATIC_RSA)
def test_static_rsa_only_when_both_sides_list_it(ca: CertificateAuthority, leaves: dict[KeyType, IssuedCertificate],
                                                 suite: CipherSuite) -> None:
    rsa_leaf = leaves[KeyType.RSA]
    # Off by default in both roles: neither offers nor accepts it.
    assert suite not in ClientConfig(trust_anchors=[ca.certificate]).cipher_suites
    default_server = ServerConfig(credentials=[rsa_leaf.credential()])
    assert suite not in default_server.cipher_suites
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], cipher_suites=[suite]),
                              server_name="localhost")
    expect_failure(ServerConnection(default_server), client.data_to_send(), HandshakeFailure,
                   AlertDescription.HANDSHAKE_FAILURE)


# -- OpenSSL (the stdlib ssl module), both roles, pinned to each suite ------------------------------------

INTEROP = [(suite, kt) for suite, kt in COMBINATIONS
           if kt in (KeyType.RSA, KeyType.RSA_PSS, KeyType.ECDSA_P256, KeyType.ECDSA_P384, KeyType.ED25519)]


def _der_int(n: int) -> bytes:
    body = n.to_bytes(n.bit_length() // 8 + 1, "big")
    return b"\x02" + _der_len(len(body)) + body


def _der_len(n: int) -> bytes:
    return bytes((n,)) if n < 0x80 else bytes((0x82,)) + n.to_bytes(2, "big")


@pytest.fixture(scope="module")
def openssl_files(tmp_path_factory: pytest.TempPathFactory, ca: CertificateAuthority,
                  leaves: dict[KeyType, IssuedCertificate]) -> Path:
    d = tmp_path_factory.mktemp("suites")
    (d / "ca.pem").write_bytes(ca.cert_pem())
    for kt, leaf in leaves.items():
        (d / f"{kt}.pem").write_bytes(leaf.cert_pem())
        (d / f"{kt}.key").write_bytes(leaf.key_pem())
    # ffdhe2048 as PKCS#3 DHParameter (prime, base) for OpenSSL's DHE server.
    group = FFDHE_GROUPS[NamedGroup.FFDHE2048]
    body = _der_int(group.p) + _der_int(group.g)
    b64 = base64.b64encode(b"\x30" + _der_len(len(body)) + body).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    (d / "dh.pem").write_text("\n".join(["-----BEGIN DH PARAMETERS-----", *lines, "-----END DH PARAMETERS-----", ""]))
    return d


def _stdlib(server_side: bool, suite: CipherSuite, key_type: KeyType, files: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(SUITES[suite].openssl_name)
    if server_side:
        ctx.load_cert_chain(files / f"{key_type}.pem", files / f"{key_type}.key")
        ctx.load_dh_params(files / "dh.pem")
    else:
        ctx.load_verify_locations(files / "ca.pem")
    return ctx


@pytest.mark.parametrize(("suite", "key_type"), INTEROP, ids=[f"{s.name}-{k}" for s, k in INTEROP])
def test_our_client_against_openssl_per_suite(ca: CertificateAuthority, openssl_files: Path, suite: CipherSuite,
                                              key_type: KeyType) -> None:
    peer = StdlibPeer(_stdlib(True, suite, key_type, openssl_files), server_side=True)
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], cipher_suites=[suite]),
                              server_name="localhost")
    assert pump_stdlib(client, peer) == [HandshakeComplete()]
    assert client.cipher_suite == suite
    assert peer.obj.cipher()[0] == SUITES[suite].openssl_name
    client.send_application_data(b"ping")
    peer.incoming.write(client.data_to_send())
    assert peer.obj.read(100) == b"ping"
    peer.obj.write(b"pong")
    assert client.receive_data(peer.outgoing.read()) == [ApplicationDataReceived(b"pong")]


@pytest.mark.parametrize(("suite", "key_type"), INTEROP, ids=[f"{s.name}-{k}" for s, k in INTEROP])
def test_openssl_client_against_our_server_per_suite(leaves: dict[KeyType, IssuedCertificate], openssl_files: Path,
                                                     suite: CipherSuite, key_type: KeyType) -> None:
    peer = StdlibPeer(_stdlib(False, suite, key_type, openssl_files), server_side=False, server_hostname="localhost")
    server = ServerConnection(ServerConfig(credentials=[leaves[key_type].credential()], cipher_suites=[suite]))
    assert pump_stdlib(server, peer) == [HandshakeComplete()]
    assert server.cipher_suite == suite
    assert peer.obj.cipher()[0] == SUITES[suite].openssl_name
    peer.obj.write(b"ping")
    assert server.receive_data(peer.outgoing.read()) == [ApplicationDataReceived(b"ping")]
    server.send_application_data(b"pong")
    peer.incoming.write(server.data_to_send())
    assert peer.obj.read(100) == b"pong"


# -- several credentials --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three(leaves: dict[KeyType, IssuedCertificate]) -> ServerConfig:
    return ServerConfig(credentials=[leaves[KeyType.RSA].credential(), leaves[KeyType.ECDSA_P256].credential(),
                                     leaves[KeyType.ED25519].credential()])


ECDSA_SUITES = [s for s in DEFAULT_CIPHER_SUITES if SUITES[s].authentication is Authentication.ECDSA_SIGNATURE]
RSA_SUITES = [s for s in DEFAULT_CIPHER_SUITES  # ECDHE_RSA
              if SUITES[s].authentication is Authentication.RSA_SIGNATURE
              and SUITES[s].key_exchange is KeyExchange.ECDHE]


@pytest.mark.parametrize(
    ("client_kwargs", "expected"),
    [
        ({}, KeyType.ECDSA_P256),  # the server's order: ECDSA suites first
        ({"cipher_suites": ECDSA_SUITES}, KeyType.ECDSA_P256),
        ({"cipher_suites": RSA_SUITES}, KeyType.RSA),
        ({"signature_schemes": [SignatureScheme.ED25519]}, KeyType.ED25519),
        ({"signature_schemes": [SignatureScheme.RSA_PSS_RSAE_SHA256]}, KeyType.RSA),
        ({"cipher_suites": [_S.TLS_DHE_RSA_WITH_AES_128_GCM_SHA256]}, KeyType.RSA),
    ],
    ids=["default", "ecdsa-suites", "rsa-suites", "ed25519-only", "rsa-sigalgs", "dhe"],
)
def test_server_picks_the_credential_the_client_can_use(
    ca: CertificateAuthority, three: ServerConfig, client_kwargs: dict[str, object], expected: KeyType
) -> None:
    client, server = connect(ClientConfig(trust_anchors=[ca.certificate], **client_kwargs), three)  # type: ignore[arg-type]
    assert server.credential is not None and server.credential.key_type is expected
    assert client.peer_certificate_chain[0] == server.credential.leaf


def test_server_explains_the_credential_it_chose(ca: CertificateAuthority, three: ServerConfig) -> None:
    decisions: list[Decision] = []
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], cipher_suites=RSA_SUITES),
                              server_name="localhost")
    server = ServerConnection(three, tracer=lambda e: decisions.append(e) if isinstance(e, Decision) else None)
    pump(client, server)
    [chosen] = [d for d in decisions if d.what == "certificate"]
    assert chosen.value == "rsa certificate for localhost"
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in chosen.why


def test_no_credential_fits(ca: CertificateAuthority, leaves: dict[KeyType, IssuedCertificate]) -> None:
    server_config = ServerConfig(credentials=[leaves[KeyType.ECDSA_P256].credential()])
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], cipher_suites=RSA_SUITES),
                              server_name="localhost")
    expect_failure(ServerConnection(server_config), client.data_to_send(), HandshakeFailure,
                   AlertDescription.HANDSHAKE_FAILURE)


def test_credential_per_server_name(ca: CertificateAuthority) -> None:
    a = ca.issue(("a.example",), key_type="ecdsa")
    b = ca.issue(("b.example",), key_type="rsa")
    server_config = ServerConfig(credentials=[a.credential(), b.credential()])
    client_config = ClientConfig(trust_anchors=[ca.certificate])
    for name, leaf in (("a.example", a), ("b.example", b)):
        client, server = connect(client_config, server_config, name)
        assert server.credential is not None and server.credential.leaf == leaf.certificate
        assert client.peer_certificate_chain[0] == leaf.certificate
    # b.example's RSA certificate wins over the server's preference for ECDSA suites.
    _, server = connect(client_config, server_config, "b.example")
    assert server.cipher_suite == _S.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256


def test_config_for_name_still_chooses_the_configuration(ca: CertificateAuthority,
                                                         leaves: dict[KeyType, IssuedCertificate]) -> None:
    other = ServerConfig(credentials=[leaves[KeyType.ED25519].credential()])
    server = ServerConnection(ServerConfig(credentials=[leaves[KeyType.RSA].credential()]))
    server._config_for_name = lambda name: other if name == "localhost" else None
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate]), server_name="localhost")
    assert pump(client, server) == ([HandshakeComplete()], [HandshakeComplete()])
    assert server.credential is other.credentials[0]
    assert client.signature_scheme == SignatureScheme.ED25519


def test_certificate_chain_and_private_key_shorthand(leaves: dict[KeyType, IssuedCertificate]) -> None:
    leaf = leaves[KeyType.ECDSA_P384]
    config = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                          credentials=[leaves[KeyType.RSA].credential()])
    assert [c.key_type for c in config.credentials] == [KeyType.ECDSA_P384, KeyType.RSA]
    assert config.certificate_chain == leaf.chain and config.private_key is leaf.private_key
    with pytest.raises(ValueError, match="go together"):
        ServerConfig(certificate_chain=leaf.chain)
    with pytest.raises(ValueError, match="at least one credential"):
        ServerConfig()


def test_mixed_chain_ecdsa_leaf_under_ecdsa_intermediate_under_rsa_root() -> None:
    root = CertificateAuthority("tls12 RSA root")
    intermediate = root.intermediate("tls12 ECDSA intermediate", key_type="ecdsa")
    leaf = intermediate.issue(("localhost",), key_type="ecdsa")
    assert len(leaf.chain) == 2
    client, _ = connect(ClientConfig(trust_anchors=[root.certificate]), ServerConfig(credentials=[leaf.credential()]))
    assert [c.subject for c in client.verified_certificate_chain] == [
        leaf.certificate.subject, intermediate.certificate.subject, root.certificate.subject]
    assert client.cipher_suite == _S.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256


# -- whose order: the server's, the client's, and the ChaCha20 rule ----------------------------------------------


def test_server_order_by_default_client_order_on_request(ca: CertificateAuthority,
                                                         leaves: dict[KeyType, IssuedCertificate]) -> None:
    client_config = ClientConfig(trust_anchors=[ca.certificate],
                                 cipher_suites=[_S.TLS_DHE_RSA_WITH_AES_256_GCM_SHA384,
                                                _S.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                                                _S.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256])
    server_config = ServerConfig(credentials=[leaves[KeyType.RSA].credential()])
    _, server = connect(client_config, server_config)
    assert server.cipher_suite == _S.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    _, server = connect(client_config, dataclasses.replace(server_config, prefer_client_order=True))
    assert server.cipher_suite == _S.TLS_DHE_RSA_WITH_AES_256_GCM_SHA384


def _order_config(prefer_client_order: bool = False) -> object:
    # The order rule alone, over the whole table (ChaCha20 records arrive with the record layer).
    return types.SimpleNamespace(cipher_suites=list(SUITES), prefer_client_order=prefer_client_order)


CHACHA = [s for s, spec in SUITES.items() if spec.aead.name == "CHACHA20_POLY1305"]


def test_chacha20_first_when_the_client_lists_it_first() -> None:
    offered = (_S(0x0A0A), _S(0x1303), _S.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
               _S.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, _S.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
               _S.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256)
    order, why = negotiation_order(_order_config(), offered)  # type: ignore[arg-type]
    # GREASE and TLS 1.3 suites are not the client's first TLS 1.2 suite; ChaCha20 moves first, in server order.
    assert order == [_S.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, _S.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
                     _S.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, _S.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
    assert "ChaCha20" in why
    # Listed but not first: the server's order stands.
    order, _ = negotiation_order(_order_config(), offered[3:] + offered[2:3])  # type: ignore[arg-type]
    assert order[0] == _S.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    # The client's order on request.
    order, _ = negotiation_order(_order_config(True), offered[3:])  # type: ignore[arg-type]
    assert order == list(offered[3:])
    assert set(CHACHA) == {s for s in SUITES if "CHACHA20" in s.name}


# -- DHE: RFC 7919 §4 --------------------------------------------------------------------------------------

DHE_ONLY = [_S.TLS_DHE_RSA_WITH_AES_128_GCM_SHA256]


@pytest.fixture(scope="module")
def rsa_server(leaves: dict[KeyType, IssuedCertificate]) -> ServerConfig:
    return ServerConfig(credentials=[leaves[KeyType.RSA].credential()])


def test_dhe_shared_group(ca: CertificateAuthority, rsa_server: ServerConfig) -> None:
    client_config = ClientConfig(trust_anchors=[ca.certificate], cipher_suites=DHE_ONLY,
                                 groups=[NamedGroup.FFDHE3072, NamedGroup.FFDHE4096])
    client, server = connect(client_config, rsa_server)
    assert client.group == server.group == NamedGroup.FFDHE3072  # the server's first among the client's


def test_dhe_unshared_ffdhe_groups_only(ca: CertificateAuthority, rsa_server: ServerConfig) -> None:
    server_config = dataclasses.replace(rsa_server, groups=[NamedGroup.X25519, NamedGroup.FFDHE2048])
    client_config = ClientConfig(trust_anchors=[ca.certificate], cipher_suites=DHE_ONLY,
                                 groups=[NamedGroup.FFDHE4096])
    client = ClientConnection(client_config, server_name="localhost")
    expect_failure(ServerConnection(server_config), client.data_to_send(), InsufficientSecurity,
                   AlertDescription.INSUFFICIENT_SECURITY)
    # With another suite left, the DHE suite is passed over instead (§4: SHOULD select a non-FFDHE suite).
    client_config = dataclasses.replace(client_config, cipher_suites=[*DHE_ONLY, *RSA_SUITES],
                                        groups=[NamedGroup.FFDHE4096, NamedGroup.X25519])
    _, server = connect(client_config, dataclasses.replace(server_config, prefer_client_order=True))
    assert server.cipher_suite == RSA_SUITES[0] and server.group == NamedGroup.X25519


def test_dhe_client_without_ffdhe_groups_gets_ffdhe2048(ca: CertificateAuthority, rsa_server: ServerConfig) -> None:
    client_config = ClientConfig(trust_anchors=[ca.certificate], cipher_suites=DHE_ONLY, groups=[NamedGroup.X25519])
    client, server = connect(client_config, rsa_server)
    assert client.group == server.group == NamedGroup.FFDHE2048


def test_ffdhe_groups_offered_only_with_a_dhe_suite(ca: CertificateAuthority) -> None:
    def offered(suites: list[CipherSuite]) -> tuple[int, ...]:
        client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], cipher_suites=suites), "localhost")
        hello = parse(handshake_frames(client.data_to_send())[0])
        assert isinstance(hello, ClientHello)
        ext = find_extension(hello.extensions, SupportedGroups)
        assert ext is not None
        return tuple(ext.groups)

    assert NamedGroup.FFDHE2048 in offered([*RSA_SUITES, *DHE_ONLY])
    assert not any(256 <= g <= 511 for g in offered(RSA_SUITES))


# -- the client's checks of the server's key exchange ------------------------------------------------------


def _dhe_flight2(ca: CertificateAuthority, server_config: ServerConfig,
                 **client_kwargs: object) -> tuple[ClientConnection, ServerConnection, bytes]:
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], cipher_suites=DHE_ONLY,
                                           **client_kwargs), server_name="localhost")  # type: ignore[arg-type]
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    return client, server, server.data_to_send()


def _resign_dhe(flight: bytes, client: ClientConnection, key: object, **fields: object) -> bytes:
    sh = parse(handshake_frames(flight)[0])
    assert isinstance(sh, ServerHello)

    def edit(msg: HandshakeMessage) -> HandshakeMessage:
        assert isinstance(msg, DHEServerKeyExchange)
        unsigned = dataclasses.replace(msg, **fields)  # type: ignore[arg-type]
        signed = client.client_random + sh.random + unsigned.params_bytes()
        return dataclasses.replace(unsigned, signature=signatures.sign(key, unsigned.scheme, signed))  # type: ignore[arg-type]

    return edit_flight(flight, HandshakeType.SERVER_KEY_EXCHANGE, edit, "DHE")


P2048 = FFDHE_GROUPS[NamedGroup.FFDHE2048].p
# RFC 7919 §5.1: 1 < Y < p-1, so each of these is illegal_parameter.
BAD_Y = [0, 1, P2048 - 1, P2048, P2048 + 1, 2**2048 - 1]
BAD_Y_IDS = ["0", "1", "p-1", "p", "p+1", "max"]


@pytest.mark.parametrize("y", BAD_Y, ids=BAD_Y_IDS)
def test_client_refuses_bad_server_dh_value(ca: CertificateAuthority, leaves: dict[KeyType, IssuedCertificate],
                                            rsa_server: ServerConfig, y: int) -> None:
    client, _, flight = _dhe_flight2(ca, rsa_server)
    forged = _resign_dhe(flight, client, leaves[KeyType.RSA].private_key, dh_Ys=y.to_bytes(256, "big"))
    expect_failure(client, forged, IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)


@pytest.mark.parametrize("y", BAD_Y, ids=BAD_Y_IDS)
def test_server_refuses_bad_client_dh_value(ca: CertificateAuthority, rsa_server: ServerConfig, y: int) -> None:
    client, server, flight = _dhe_flight2(ca, rsa_server)
    assert client.receive_data(flight) == []
    cke = record(HANDSHAKE, bytes((16,)) + (2 + 256).to_bytes(3, "big") + (256).to_bytes(2, "big")
                 + y.to_bytes(256, "big"))
    assert parse(split_records(cke)[0][2], "DHE") == DHEClientKeyExchange(y.to_bytes(256, "big"))
    expect_failure(server, cke, IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)


def test_client_refuses_a_1024_bit_dhe_group(ca: CertificateAuthority, leaves: dict[KeyType, IssuedCertificate],
                                             rsa_server: ServerConfig) -> None:
    client, _, flight = _dhe_flight2(ca, rsa_server)
    p1024 = P2048 >> 1024 | 1  # 1024 bits: refused for its size, before anything else is looked at
    assert p1024.bit_length() == 1024
    forged = _resign_dhe(flight, client, leaves[KeyType.RSA].private_key, dh_p=p1024.to_bytes(128, "big"),
                         dh_Ys=(2).to_bytes(128, "big"))
    expect_failure(client, forged, InsufficientSecurity, AlertDescription.INSUFFICIENT_SECURITY)


def test_ske_scheme_not_offered_is_illegal_parameter(ca: CertificateAuthority,
                                                     leaves: dict[KeyType, IssuedCertificate],
                                                     rsa_server: ServerConfig) -> None:
    client, _, flight = _dhe_flight2(ca, rsa_server, signature_schemes=[SignatureScheme.RSA_PSS_RSAE_SHA256])
    forged = _resign_dhe(flight, client, leaves[KeyType.RSA].private_key, scheme=SignatureScheme.RSA_PKCS1_SHA256)
    expect_failure(client, forged, IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)


def test_ske_scheme_that_does_not_fit_the_key_is_illegal_parameter(
        ca: CertificateAuthority, leaves: dict[KeyType, IssuedCertificate]) -> None:
    """An ECDSA certificate's ServerKeyExchange labelled Ed25519 (signed by some Ed25519 key)."""
    server_config = ServerConfig(credentials=[leaves[KeyType.ECDSA_P256].credential()])
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate]), server_name="localhost")
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    flight = server.data_to_send()
    sh = parse(handshake_frames(flight)[0])
    assert isinstance(sh, ServerHello)

    def edit(msg: HandshakeMessage) -> HandshakeMessage:
        unsigned = dataclasses.replace(msg, scheme=SignatureScheme.ED25519)  # type: ignore[type-var]
        signed = client.client_random + sh.random + unsigned.params_bytes()  # type: ignore[attr-defined]
        key = leaves[KeyType.ED25519].private_key
        return dataclasses.replace(unsigned, signature=signatures.sign(key, SignatureScheme.ED25519, signed))  # type: ignore[arg-type]

    expect_failure(client, edit_flight(flight, HandshakeType.SERVER_KEY_EXCHANGE, edit), IllegalParameter,
                   AlertDescription.ILLEGAL_PARAMETER)


@pytest.mark.parametrize("key_type", [KeyType.RSA, KeyType.ECDSA_P384, KeyType.ED25519, KeyType.RSA_PSS])
def test_bad_ske_signature_is_decrypt_error(ca: CertificateAuthority, leaves: dict[KeyType, IssuedCertificate],
                                            key_type: KeyType) -> None:
    server_config = ServerConfig(credentials=[leaves[key_type].credential()])
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate]), server_name="localhost")
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())

    def edit(msg: HandshakeMessage) -> HandshakeMessage:
        sig = bytearray(msg.signature)  # type: ignore[union-attr]
        sig[len(sig) // 2] ^= 1
        return dataclasses.replace(msg, signature=bytes(sig))  # type: ignore[type-var]

    forged = edit_flight(server.data_to_send(), HandshakeType.SERVER_KEY_EXCHANGE, edit)
    expect_failure(client, forged, DecryptError, AlertDescription.DECRYPT_ERROR)


@pytest.mark.parametrize(
    ("key_type", "claimed"),
    [(KeyType.ECDSA_P256, _S.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
     (KeyType.RSA, _S.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
     (KeyType.RSA_PSS, _S.TLS_RSA_WITH_AES_128_GCM_SHA256),
     (KeyType.ED25519, _S.TLS_RSA_WITH_AES_128_GCM_SHA256)],
)
def test_certificate_key_that_does_not_fit_the_suite(ca: CertificateAuthority,
                                                     leaves: dict[KeyType, IssuedCertificate],
                                                     key_type: KeyType, claimed: CipherSuite) -> None:
    """The server claims a suite its certificate cannot serve: unsupported_certificate (RFC 5246 §7.2.2)."""
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], cipher_suites=[*SPOKEN_SUITES]),
                              server_name="localhost")
    server = ServerConnection(ServerConfig(credentials=[leaves[key_type].credential()]))
    server.receive_data(client.data_to_send())
    flight = edit_flight(server.data_to_send(), HandshakeType.SERVER_HELLO,
                         lambda sh: dataclasses.replace(sh, cipher_suite=claimed))  # type: ignore[type-var]
    exc = expect_failure(client, flight, UnsupportedCertificate, AlertDescription.UNSUPPORTED_CERTIFICATE)
    assert "the suite needs" in str(exc)


def test_dhe_key_is_fresh_per_handshake(ca: CertificateAuthority, rsa_server: ServerConfig) -> None:
    """Raccoon needs a reused DH key: every handshake has its own, on both sides."""
    seen: set[bytes] = set()
    for _ in range(3):
        client, _, flight = _dhe_flight2(ca, rsa_server)
        ske = next(parse(raw, "DHE") for raw in handshake_frames(flight) if raw[0] == HandshakeType.SERVER_KEY_EXCHANGE)
        assert isinstance(ske, DHEServerKeyExchange)
        seen.add(ske.dh_Ys)
        assert client.receive_data(flight) == []
        [cke_record, *_] = split_records(client.data_to_send())
        cke = parse(cke_record[2], "DHE")
        assert isinstance(cke, DHEClientKeyExchange)
        seen.add(cke.dh_Yc)
    assert len(seen) == 6


def test_dhe_group_at_least_as_strong_as_the_server_key(ca: CertificateAuthority, rsa_server: ServerConfig) -> None:
    """RFC 7919 §4: among the client's groups, one at least as strong as the server's key if there is one."""
    client_config = ClientConfig(trust_anchors=[ca.certificate], cipher_suites=DHE_ONLY,
                                 groups=[NamedGroup.FFDHE2048, NamedGroup.FFDHE3072])
    _, server = connect(client_config, rsa_server)  # an RSA-2048 key: the server's first choice
    assert server.group == NamedGroup.FFDHE2048
    strong = ca.issue(("localhost",), key_type="rsa", key_size=3072)
    _, server = connect(client_config, ServerConfig(credentials=[strong.credential()]))
    assert server.group == NamedGroup.FFDHE3072


def test_key_usage_must_allow_the_suite(ca: CertificateAuthority) -> None:
    """keyUsage (RFC 5280 §4.2.1.3): digitalSignature to sign (EC)DHE params, keyEncipherment for static RSA."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)

    def cert(sign: bool, encipher: bool) -> x509.Certificate:
        usage = x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=encipher,
                              data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                              encipher_only=False, decipher_only=False)
        return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(usage, critical=True).sign(key, hashes.SHA256()))

    signing_only, enciphering_only = cert(True, False), cert(False, True)
    assert server_public_key(signing_only, Authentication.RSA_SIGNATURE) is not None
    with pytest.raises(BadCertificate, match="keyEncipherment"):
        server_public_key(signing_only, Authentication.RSA_DECRYPTION)
    assert server_public_key(enciphering_only, Authentication.RSA_DECRYPTION) is not None
    with pytest.raises(BadCertificate, match="digitalSignature"):
        server_public_key(enciphering_only, Authentication.RSA_SIGNATURE)


@pytest.mark.parametrize("groups", [None, (NamedGroup.X25519,), (NamedGroup.FFDHE3072, NamedGroup(0x01FF))],
                         ids=["no-supported-groups", "no-ffdhe-group", "unknown-ffdhe-group-too"])
def test_dhe_group_the_server_sends(rsa_server: ServerConfig, groups: tuple[NamedGroup, ...] | None) -> None:
    """RFC 7919 §4 from the wire: without FFDHE groups (or without the extension) the server uses
    ffdhe2048; with them, one of them (an unknown FFDHE code point is ignored)."""
    suites = (_S.TLS_DHE_RSA_WITH_AES_128_GCM_SHA256,)
    hello = make_hello(suites=suites, drop=[SupportedGroups],
                       add=[] if groups is None else [SupportedGroups(groups)])
    server = ServerConnection(rsa_server)
    assert server.receive_data(hello_record(hello)) == []
    ske = next(parse(raw, "DHE") for raw in handshake_frames(server.data_to_send())
               if raw[0] == HandshakeType.SERVER_KEY_EXCHANGE)
    assert isinstance(ske, DHEServerKeyExchange)
    expected = NamedGroup.FFDHE3072 if groups and NamedGroup.FFDHE3072 in groups else NamedGroup.FFDHE2048
    assert (ske.dh_p, ske.dh_g) == (FFDHE_GROUPS[expected].p_bytes, b"\x02")
    assert server.group == expected


def test_only_unknown_ffdhe_groups_is_insufficient_security(rsa_server: ServerConfig) -> None:
    """§4: "any codepoint between 256 and 511, inclusive, even if unknown to the server" counts."""
    hello = make_hello(suites=(_S.TLS_DHE_RSA_WITH_AES_128_GCM_SHA256,), drop=[SupportedGroups],
                       add=[SupportedGroups((NamedGroup(0x01FF), NamedGroup.X25519))])
    expect_failure(ServerConnection(rsa_server), hello_record(hello), InsufficientSecurity,
                   AlertDescription.INSUFFICIENT_SECURITY)
