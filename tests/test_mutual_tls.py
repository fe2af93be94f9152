"""Mutual TLS in the sans-I/O core (RFC 5246 §7.4.4, §7.4.6, §7.4.8): a server that asks for a
client certificate and verifies it and its CertificateVerify, and a client that answers.

Our client against our server for each client key type, both directions against the stdlib ssl
module (OpenSSL), and a client flight rewritten in flight for each way CertificateVerify or the
client's chain can be wrong: each failure asserts the exact alert the server sends."""

from __future__ import annotations

import datetime
import ssl
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tls12 import (
    AlertDescription,
    ApplicationDataReceived,
    ClientConfig,
    ClientConnection,
    HandshakeComplete,
    ServerConfig,
    ServerConnection,
    SignatureScheme,
    TLSError,
)
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.crypto import signatures
from tls12.crypto.credentials import Credential
from tls12.errors import UnsuitablePurpose
from tls12.messages import CertificateVerify, encode_handshake, parse_handshake
from tls12.trace import Decision, TraceEvent, Tracer, Verification

from helpers import StdlibPeer, pump, pump_stdlib, stdlib_client_context, stdlib_server_context

HANDSHAKE, CCS = 22, 20


@pytest.fixture(scope="module")
def client_ca() -> CertificateAuthority:
    return CertificateAuthority("tls12 client CA")


@pytest.fixture(scope="module")
def client_leaf(client_ca: CertificateAuthority) -> IssuedCertificate[ec.EllipticCurvePrivateKey]:
    issued = client_ca.issue(("client.example",), key_type="ecdsa-p256", client=True)
    assert isinstance(issued.private_key, ec.EllipticCurvePrivateKey)
    return issued  # type: ignore[return-value]


def server_cfg(leaf: IssuedCertificate, client_ca: CertificateAuthority, policy: str = "required",
               **kwargs: object) -> ServerConfig:
    return ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key, client_auth=policy,  # type: ignore[arg-type]
                        client_trust_anchors=[client_ca.certificate], **kwargs)  # type: ignore[arg-type]


def connect(client_config: ClientConfig, server_config: ServerConfig) -> tuple[ClientConnection, ServerConnection]:
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    c_events, s_events = pump(client, server)
    assert HandshakeComplete() in c_events and HandshakeComplete() in s_events
    return client, server


@pytest.mark.parametrize("key_type", ["rsa", "ecdsa-p256", "ed25519"])
def test_client_certificate_each_key_type(key_type: str, leaf: IssuedCertificate,
                                          ca: CertificateAuthority, client_ca: CertificateAuthority) -> None:
    issued = client_ca.issue(("client.example",), key_type=key_type, client=True)
    client_config = ClientConfig(trust_anchors=[ca.certificate], client_credentials=[issued.credential()])
    client, server = connect(client_config, server_cfg(leaf, client_ca))
    assert server.peer_certificate_chain == issued.chain
    assert server.verified_certificate_chain == (issued.certificate, client_ca.certificate)
    client.send_application_data(b"who am I")
    _, s_events = pump(client, server)
    assert ApplicationDataReceived(b"who am I") in s_events


def test_certificate_request_contents(leaf: IssuedCertificate, ca: CertificateAuthority,
                                      client_ca: CertificateAuthority, client_leaf: IssuedCertificate) -> None:
    seen: list[tuple[tuple[bytes, ...], tuple[SignatureScheme, ...], bytes]] = []

    def callback(cas: tuple[bytes, ...], schemes: tuple[SignatureScheme, ...], types: bytes) -> Credential | None:
        seen.append((cas, schemes, types))
        return client_leaf.credential()

    config = server_cfg(leaf, client_ca)
    _, server = connect(ClientConfig(trust_anchors=[ca.certificate], client_credential_callback=callback),
                             config)
    assert seen == [((client_ca.certificate.subject.public_bytes(),), tuple(config.signature_schemes), b"\x01\x40")]
    assert server.peer_certificate_chain == client_leaf.chain
    # client_ca_names=False: the list of authorities is empty.
    seen.clear()
    connect(ClientConfig(trust_anchors=[ca.certificate], client_credential_callback=callback),
            server_cfg(leaf, client_ca, client_ca_names=False))
    assert seen[0][0] == ()


def test_client_ca_names_that_overflow_a_certificate_request_are_refused_at_configuration(
        leaf: IssuedCertificate) -> None:
    """certificate_authorities holds at most 2^16-1 bytes (RFC 5246 §7.4.4): a store whose names do not
    fit is a ValueError when the configuration is made, not a failure in every handshake; without
    the names it is a valid configuration."""
    anchors = [CertificateAuthority(f"{i:04d} " + "x" * 59, key_type="ed25519").certificate for i in range(700)]
    assert sum(2 + len(a.subject.public_bytes()) for a in anchors) > 0xFFFF
    with pytest.raises(ValueError, match="client_ca_names=False"):
        ServerConfig(credentials=[leaf.credential()], client_auth="required", client_trust_anchors=anchors)
    config = ServerConfig(credentials=[leaf.credential()], client_auth="required", client_trust_anchors=anchors,
                          client_ca_names=False)
    assert config.client_ca_dns == ()
    fits = anchors[:100]
    assert len(ServerConfig(credentials=[leaf.credential()], client_auth="required",
                            client_trust_anchors=fits).client_ca_dns) == 100


def test_prefers_the_credential_the_server_names(leaf: IssuedCertificate, ca: CertificateAuthority,
                                                 client_ca: CertificateAuthority,
                                                 client_leaf: IssuedCertificate) -> None:
    other = CertificateAuthority("another client CA").issue(("client.example",), key_type="ecdsa-p256", client=True)
    config = ClientConfig(trust_anchors=[ca.certificate],
                          client_credentials=[other.credential(), client_leaf.credential()])
    _, server = connect(config, server_cfg(leaf, client_ca))
    assert server.peer_certificate_chain == client_leaf.chain


def test_optional_policy_empty_certificate_is_anonymous(leaf: IssuedCertificate, ca: CertificateAuthority,
                                                        client_ca: CertificateAuthority) -> None:
    _, server = connect(ClientConfig(trust_anchors=[ca.certificate]), server_cfg(leaf, client_ca, "optional"))
    assert server.peer_certificate_chain == ()
    assert server.verified_certificate_chain == ()


# -- against the stdlib ssl module (OpenSSL) -------------------------------------------------------------


def test_stdlib_server_requires_our_client_certificate(pem_dir: Path, ca: CertificateAuthority,
                                                       client_ca: CertificateAuthority,
                                                       client_leaf: IssuedCertificate, tmp_path: Path) -> None:
    (tmp_path / "client-ca.pem").write_bytes(client_ca.cert_pem())
    # OpenSSL takes an ECDSA client key only on a curve among its groups.
    ctx = stdlib_server_context(pem_dir, curve="prime256v1")
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(tmp_path / "client-ca.pem")
    peer = StdlibPeer(ctx, server_side=True)
    ours = ClientConnection(ClientConfig(trust_anchors=[ca.certificate],
                                         client_credentials=[client_leaf.credential()]), server_name="localhost")
    events = pump_stdlib(ours, peer)
    assert HandshakeComplete() in events
    cert = peer.obj.getpeercert()
    assert cert is not None and ("commonName", "client.example") in [n[0] for n in cert["subject"]]


def test_stdlib_client_sends_its_certificate(pem_dir: Path, leaf: IssuedCertificate,
                                             client_ca: CertificateAuthority, client_leaf: IssuedCertificate,
                                             tmp_path: Path) -> None:
    (tmp_path / "client.pem").write_bytes(client_leaf.cert_pem())
    (tmp_path / "client.key").write_bytes(client_leaf.key_pem())
    ctx = stdlib_client_context(pem_dir)
    ctx.load_cert_chain(tmp_path / "client.pem", tmp_path / "client.key")
    peer = StdlibPeer(ctx, server_side=False, server_hostname="localhost")
    ours = ServerConnection(server_cfg(leaf, client_ca))
    events = pump_stdlib(ours, peer)
    assert HandshakeComplete() in events
    assert ours.peer_certificate_chain == client_leaf.chain


# -- adversarial: the client's flight rewritten ------------------------------------------------------------


def records(wire: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(wire):
        ctype, _, length = struct.unpack(">BHH", wire[pos:pos + 5])
        out.append((ctype, wire[pos + 5:pos + 5 + length]))
        pos += 5 + length
    return out


def messages(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        length = int.from_bytes(data[pos + 1:pos + 4], "big")
        out.append(data[pos:pos + 4 + length])
        pos += 4 + length
    return out


Rewrite = Callable[[list[bytes], bytes], list[bytes]]


def run_rewritten(client_config: ClientConfig, server_config: ServerConfig, rewrite: Rewrite,
                  server_tracer: Tracer | None = None) -> TLSError:
    """Run the handshake up to the client's second flight, rewrite its handshake messages
    (`rewrite(messages, transcript_before_them)`) and deliver it: the server's error."""
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config, tracer=server_tracer)
    hello = client.data_to_send()
    server.receive_data(hello)
    first = server.data_to_send()
    client.receive_data(first)
    flight = records(client.data_to_send())
    plain = [r for r in flight if r[0] == HANDSHAKE][:-1]  # the last one is the encrypted Finished
    rest = flight[len(plain):]
    earlier = b"".join(p for _, p in records(hello) + records(first) if _ == HANDSHAKE)
    new = rewrite(messages(b"".join(p for _, p in plain)), earlier)
    wire = b"".join(struct.pack(">BHH", HANDSHAKE, 0x0303, len(m)) + m for m in new)
    wire += b"".join(struct.pack(">BHH", t, 0x0303, len(p)) + p for t, p in rest)
    with pytest.raises(TLSError) as failure:
        server.receive_data(wire)
    return failure.value


def replace_verify(make: Callable[[bytes], CertificateVerify]) -> Rewrite:
    def rewrite(msgs: list[bytes], earlier: bytes) -> list[bytes]:
        certificate, kx, verify = msgs
        assert verify[0] == 15
        return [certificate, kx, encode_handshake(make(earlier + certificate + kx))]
    return rewrite


@pytest.fixture
def mutual(leaf: IssuedCertificate, ca: CertificateAuthority, client_ca: CertificateAuthority,
           client_leaf: IssuedCertificate) -> tuple[ClientConfig, ServerConfig]:
    return (ClientConfig(trust_anchors=[ca.certificate], client_credentials=[client_leaf.credential()]),
            server_cfg(leaf, client_ca))


P256 = SignatureScheme.ECDSA_SECP256R1_SHA256


def test_certificate_verify_with_a_scheme_not_offered(leaf: IssuedCertificate, ca: CertificateAuthority,
                                                      client_ca: CertificateAuthority,
                                                      client_leaf: IssuedCertificate) -> None:
    server_config = server_cfg(leaf, client_ca, signature_schemes=[P256, SignatureScheme.RSA_PSS_RSAE_SHA256])
    key = client_leaf.private_key
    error = run_rewritten(
        ClientConfig(trust_anchors=[ca.certificate], client_credentials=[client_leaf.credential()]), server_config,
        replace_verify(lambda t: CertificateVerify(SignatureScheme.ECDSA_SECP384R1_SHA384,
                                                   signatures.sign(key, SignatureScheme.ECDSA_SECP384R1_SHA384, t))))
    assert error.alert is AlertDescription.ILLEGAL_PARAMETER


def test_certificate_verify_over_the_wrong_transcript(mutual: tuple[ClientConfig, ServerConfig],
                                                      client_leaf: IssuedCertificate) -> None:
    key = client_leaf.private_key
    error = run_rewritten(*mutual, replace_verify(
        lambda t: CertificateVerify(P256, signatures.sign(key, P256, t[:-1]))))
    assert error.alert is AlertDescription.DECRYPT_ERROR


def test_certificate_verify_by_another_key(mutual: tuple[ClientConfig, ServerConfig]) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    error = run_rewritten(*mutual, replace_verify(lambda t: CertificateVerify(P256, signatures.sign(other, P256, t))))
    assert error.alert is AlertDescription.DECRYPT_ERROR


def test_certificate_verify_scheme_of_another_key_type(mutual: tuple[ClientConfig, ServerConfig]) -> None:
    error = run_rewritten(*mutual, replace_verify(lambda t: CertificateVerify(SignatureScheme.ED25519, b"\0" * 64)))
    assert error.alert is AlertDescription.ILLEGAL_PARAMETER


def test_certificate_verify_missing(mutual: tuple[ClientConfig, ServerConfig]) -> None:
    error = run_rewritten(*mutual, lambda msgs, _: msgs[:2])
    assert error.alert is AlertDescription.UNEXPECTED_MESSAGE


def test_certificate_verify_without_a_certificate(leaf: IssuedCertificate, ca: CertificateAuthority,
                                                  client_ca: CertificateAuthority,
                                                  client_leaf: IssuedCertificate) -> None:
    key = client_leaf.private_key
    error = run_rewritten(
        ClientConfig(trust_anchors=[ca.certificate]), server_cfg(leaf, client_ca, "optional"),
        lambda msgs, t: [*msgs, encode_handshake(CertificateVerify(P256, signatures.sign(key, P256, t)))])
    assert error.alert is AlertDescription.UNEXPECTED_MESSAGE


def test_required_policy_empty_certificate(leaf: IssuedCertificate, ca: CertificateAuthority,
                                           client_ca: CertificateAuthority) -> None:
    error = run_rewritten(ClientConfig(trust_anchors=[ca.certificate]), server_cfg(leaf, client_ca),
                          lambda msgs, _: msgs)
    assert error.alert is AlertDescription.HANDSHAKE_FAILURE


def test_client_certificate_without_client_auth_purpose(leaf: IssuedCertificate, ca: CertificateAuthority,
                                                        client_ca: CertificateAuthority) -> None:
    server_purpose = client_ca.issue(("client.example",), key_type="ecdsa-p256")  # serverAuth only
    error = run_rewritten(ClientConfig(trust_anchors=[ca.certificate],
                                       client_credentials=[server_purpose.credential()]),
                          server_cfg(leaf, client_ca), lambda msgs, _: msgs)
    assert error.alert is AlertDescription.UNSUPPORTED_CERTIFICATE
    assert isinstance(error, UnsuitablePurpose)  # the drop-in layer reports it as OpenSSL does


@pytest.mark.parametrize("policy", ["optional", "required"])
def test_no_client_trust_anchors_refuses_every_client_certificate(
        policy: str, leaf: IssuedCertificate, ca: CertificateAuthority, client_ca: CertificateAuthority,
        client_leaf: IssuedCertificate) -> None:
    """As in OpenSSL: asking for a client certificate with nothing to verify it against is a valid
    configuration; any certificate sent is an unknown CA, and "optional" still takes a client without one."""
    config = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                          client_auth=policy)  # type: ignore[arg-type]
    error = run_rewritten(ClientConfig(trust_anchors=[ca.certificate], client_credentials=[client_leaf.credential()]),
                          config, lambda msgs, _: msgs)
    assert error.alert is AlertDescription.UNKNOWN_CA
    if policy == "optional":
        _, server = connect(ClientConfig(trust_anchors=[ca.certificate]), config)
        assert server.peer_certificate_chain == ()


def test_client_chain_to_another_ca(leaf: IssuedCertificate, ca: CertificateAuthority,
                                    client_ca: CertificateAuthority) -> None:
    stranger = CertificateAuthority("another client CA").issue(("client.example",), key_type="ecdsa-p256",
                                                               client=True)
    error = run_rewritten(ClientConfig(trust_anchors=[ca.certificate], client_credentials=[stranger.credential()]),
                          server_cfg(leaf, client_ca), lambda msgs, _: msgs)
    assert error.alert is AlertDescription.UNKNOWN_CA


def test_certificate_verify_round_trips() -> None:
    verify = CertificateVerify(P256, b"\x30\x06" + bytes(6))
    frame = encode_handshake(verify)
    assert frame == bytes.fromhex("0f 00000c 0403 0008 3006") + bytes(6)
    assert parse_handshake(frame[0], frame[4:]) == verify


# -- the new states accept only their own message ----------------------------------------------------------

OTHER_TYPES = [0, 1, 2, 11, 12, 13, 14, 15, 16, 20]  # HelloRequest .. Finished


@pytest.mark.parametrize("msg_type", [t for t in OTHER_TYPES if t != 11])
def test_expect_client_certificate_accepts_only_certificate(msg_type: int,
                                                            mutual: tuple[ClientConfig, ServerConfig]) -> None:
    """After CertificateRequest the server takes only a Certificate: any other type, whatever its
    body, is unexpected_message on its header."""
    error = run_rewritten(*mutual, lambda msgs, _: [bytes((msg_type,)) + b"\x00\x00\x00"])
    assert error.alert is AlertDescription.UNEXPECTED_MESSAGE


@pytest.mark.parametrize("msg_type", [t for t in OTHER_TYPES if t != 15])
def test_expect_certificate_verify_accepts_only_certificate_verify(
        msg_type: int, mutual: tuple[ClientConfig, ServerConfig]) -> None:
    error = run_rewritten(*mutual, lambda msgs, _: [*msgs[:2], bytes((msg_type,)) + b"\x00\x00\x00"])
    assert error.alert is AlertDescription.UNEXPECTED_MESSAGE


def test_expired_client_certificate(leaf: IssuedCertificate, ca: CertificateAuthority,
                                    client_ca: CertificateAuthority) -> None:
    past = client_ca.now - datetime.timedelta(days=30)
    expired = client_ca.issue(("client.example",), key_type="ecdsa-p256", client=True,
                              not_before=past - datetime.timedelta(days=1), not_after=past)
    error = run_rewritten(ClientConfig(trust_anchors=[ca.certificate], client_credentials=[expired.credential()]),
                          server_cfg(leaf, client_ca), lambda msgs, _: msgs)
    assert error.alert is AlertDescription.CERTIFICATE_EXPIRED


def test_traced_mutual_handshake_decides_the_client_certificate(
        mutual: tuple[ClientConfig, ServerConfig], client_leaf: IssuedCertificate) -> None:
    """The glass box sees both sides' decisions about the client certificate."""
    seen: dict[str, list[TraceEvent]] = {"client": [], "server": []}
    client = ClientConnection(mutual[0], server_name="localhost", tracer=seen["client"].append)
    server = ServerConnection(mutual[1], tracer=seen["server"].append)
    c_events, s_events = pump(client, server)
    assert HandshakeComplete() in c_events and HandshakeComplete() in s_events
    subject = client_leaf.certificate.subject.rfc4514_string()
    for side, value in (("client", client_leaf.credential().description), ("server", subject)):
        assert any(isinstance(e, Decision) and e.what == "client certificate" and e.value == value
                   for e in seen[side]), side


def test_traced_server_checks_the_client_chain_and_certificate_verify(
        mutual: tuple[ClientConfig, ServerConfig], client_leaf: IssuedCertificate) -> None:
    """The server traces each certificate of the client's verified path, the chain, and CertificateVerify."""
    seen: list[TraceEvent] = []
    client = ClientConnection(mutual[0], server_name="localhost")
    server = ServerConnection(mutual[1], tracer=seen.append)
    pump(client, server)
    checks = {e.what: e for e in seen if isinstance(e, Verification)}
    assert checks["client certificate[0]"].subject == client_leaf.certificate.subject.rfc4514_string()
    assert checks["client certificate[1]"].ok and checks["client certificate chain"].ok
    assert checks["client CertificateVerify"].ok
    assert checks["client CertificateVerify"].detail.startswith("ecdsa_secp256r1_sha256 over the ")
    policy = next(e for e in seen if isinstance(e, Decision) and e.what == "client authentication")
    assert policy.value == "required" and "names the 1 CA" in policy.why


@pytest.mark.parametrize(("case", "alert"), [("stranger", AlertDescription.UNKNOWN_CA),
                                             ("none", AlertDescription.HANDSHAKE_FAILURE),
                                             ("bad signature", AlertDescription.DECRYPT_ERROR),
                                             ("scheme not offered", AlertDescription.ILLEGAL_PARAMETER)])
def test_traced_server_says_why_it_refused(case: str, alert: AlertDescription, leaf: IssuedCertificate,
                                           ca: CertificateAuthority, client_ca: CertificateAuthority,
                                           client_leaf: IssuedCertificate) -> None:
    """Each refusal of the client's authentication is a failed check in the server's trace, before its alert."""
    seen: list[TraceEvent] = []
    credentials = {"stranger": [CertificateAuthority("x").issue(("c",), key_type="ecdsa-p256", client=True)
                                .credential()], "none": []}.get(case, [client_leaf.credential()])
    server_config = server_cfg(leaf, client_ca, signature_schemes=[P256, SignatureScheme.RSA_PSS_RSAE_SHA256])
    client_config = ClientConfig(trust_anchors=[ca.certificate], client_credentials=credentials)
    key = client_leaf.private_key
    rewrites: dict[str, Rewrite] = {
        "bad signature": replace_verify(lambda t: CertificateVerify(P256, signatures.sign(key, P256, t + b"x"))),
        "scheme not offered": replace_verify(lambda t: CertificateVerify(
            SignatureScheme.ECDSA_SECP384R1_SHA384, signatures.sign(key, SignatureScheme.ECDSA_SECP384R1_SHA384, t))),
    }
    error = run_rewritten(client_config, server_config, rewrites.get(case, lambda msgs, _: msgs), seen.append)
    assert error.alert is alert
    failed = [e for e in seen if isinstance(e, Verification) and not e.ok]
    assert len(failed) == 1
    assert failed[0].what == ("client CertificateVerify" if case in rewrites else
                              "client certificate chain" if case == "stranger" else "client certificate")
