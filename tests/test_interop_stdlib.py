"""In-memory interop with OpenSSL through the stdlib ssl module (MemoryBIO + SSLObject).

Both directions (our client <-> OpenSSL server, OpenSSL client <-> our server), pinned
to TLS 1.2 and ECDHE-RSA-AES256-GCM-SHA384, for every group and with the extended
master secret on and off on the OpenSSL side: handshake, certificate verification on
both sides, application data (one payload of many records and a few small writes),
and close_notify in both orders. Then ALPN, SNI and an IP-address server name.
"""

from __future__ import annotations

import ssl
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from tls12 import (
    AlertDescription,
    AlertReceivedError,
    ApplicationDataReceived,
    CipherSuite,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    HandshakeComplete,
    HostnameMismatch,
    LocalProtocolError,
    NamedGroup,
    NoApplicationProtocol,
    ProtocolVersion,
    ServerConfig,
    ServerConnection,
    SignatureScheme,
    UnknownCA,
)
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.events import Event

from helpers import OPENSSL_CURVES, StdlibPeer, pump_stdlib, stdlib_client_context, stdlib_server_context

Ours = ClientConnection | ServerConnection

GROUPS = {"x25519": NamedGroup.X25519, "secp256r1": NamedGroup.SECP256R1, "secp384r1": NamedGroup.SECP384R1}
STDLIB_CIPHER = ("ECDHE-RSA-AES256-GCM-SHA384", "TLSv1.2", 256)
BIG = (bytes(range(251)) * 400)[:100_000]  # > 2^14: at least 7 records each way
SMALL_WRITES = (b"a", b"bc", b"def", b"\x00\x01\x02\x03", b"\xff" * 9)
# What the stdlib ssl module reports for the throwaway leaf's subjectAltName.
LEAF_SAN = (("DNS", "localhost"), ("IP Address", "127.0.0.1"))


# -- helpers ---------------------------------------------------------------------------


def count_records(wire: bytes) -> list[int]:
    """The content types of the records in `wire` (which must hold whole records only)."""
    types: list[int] = []
    pos = 0
    while pos < len(wire):
        content_type, version, length = struct.unpack_from(">BHH", wire, pos)
        assert version == 0x0303
        types.append(content_type)
        pos += 5 + length
    assert pos == len(wire), "trailing partial record"
    return types


def stdlib_read(peer: StdlibPeer) -> bytes:
    """Everything the stdlib side can decrypt right now (it must not see a close)."""
    out = bytearray()
    while True:
        try:
            chunk = peer.obj.read(1 << 16)
        except ssl.SSLWantReadError:
            return bytes(out)
        assert chunk, "the stdlib side saw the connection close"
        out += chunk


def stdlib_saw_close(peer: StdlibPeer) -> bool:
    """True if the stdlib side has received close_notify (read() returns b"" or raises ZeroReturn)."""
    try:
        data = peer.obj.read(1024)
    except ssl.SSLZeroReturnError:
        return True
    except ssl.SSLWantReadError:
        return False
    return data == b""


def feed_in_pieces(ours: Ours, wire: bytes, piece: int) -> list[Event]:
    events: list[Event] = []
    for start in range(0, len(wire), piece):
        events += ours.receive_data(wire[start : start + piece])
    return events


def app_data(events: list[Event]) -> bytes:
    assert all(isinstance(e, ApplicationDataReceived) for e in events), events
    return b"".join(e.data for e in events if isinstance(e, ApplicationDataReceived))


def connect(
    direction: str,
    pem_dir: Path,
    client_config: ClientConfig,
    server_config: ServerConfig,
    *,
    group: str = "x25519",
    ems: bool = True,
) -> tuple[Ours, StdlibPeer]:
    """Handshake one of ours against a stdlib peer; both sides must finish."""
    curve = OPENSSL_CURVES[group]
    ours: Ours
    if direction == "our_client":
        peer = StdlibPeer(stdlib_server_context(pem_dir, curve, ems), server_side=True)
        ours = ClientConnection(client_config, server_name="localhost")
    else:
        peer = StdlibPeer(stdlib_client_context(pem_dir, curve, ems), server_side=False, server_hostname="localhost")
        ours = ServerConnection(server_config)
    assert pump_stdlib(ours, peer) == [HandshakeComplete()]
    peer.obj.do_handshake()  # already done: must not raise or want more
    assert ours.handshake_complete
    return ours, peer


def run_until_stdlib_fails(ours: Ours, peer: StdlibPeer, rounds: int = 10) -> ssl.SSLError:
    """Pump a handshake that the stdlib side must abort; return its error."""
    for _ in range(rounds):
        data = ours.data_to_send()
        if data:
            peer.incoming.write(data)
        try:
            peer.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError as exc:
            return exc
        out = peer.outgoing.read()
        if out:
            ours.receive_data(out)
    raise AssertionError("the stdlib side never failed")


@pytest.fixture(scope="module")
def stranger_ca() -> CertificateAuthority:
    """A CA that nobody else in these tests trusts."""
    return CertificateAuthority()


@pytest.fixture(scope="module")
def stranger(stranger_ca: CertificateAuthority) -> IssuedCertificate:
    """A localhost certificate from the stranger CA."""
    return stranger_ca.issue(("localhost", "127.0.0.1"))


# -- the main matrix: direction x group x EMS x close order ----------------------------


@pytest.mark.parametrize("close_order", ["we_close_first", "they_close_first"])
@pytest.mark.parametrize("ems", [True, False], ids=["ems", "no_ems"])
@pytest.mark.parametrize("group", list(GROUPS))
@pytest.mark.parametrize("direction", ["our_client", "our_server"])
def test_handshake_data_and_close(
    *,
    direction: str,
    group: str,
    ems: bool,
    close_order: str,
    pem_dir: Path,
    leaf: IssuedCertificate,
    client_config: ClientConfig,
    server_config: ServerConfig,
) -> None:
    ours, peer = connect(direction, pem_dir, client_config, server_config, group=group, ems=ems)

    # What both sides settled on.
    assert peer.obj.cipher() == STDLIB_CIPHER
    assert peer.obj.version() == "TLSv1.2"
    assert ours.version == ProtocolVersion.TLS1_2
    assert ours.cipher_suite == CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    assert ours.group == GROUPS[group]
    assert ours.extended_master_secret is ems
    assert ours.signature_scheme == SignatureScheme.RSA_PSS_RSAE_SHA256
    assert ours.alpn_protocol is None
    assert ours.server_name == "localhost"
    # tls-unique (RFC 5929) is the first Finished of the handshake: the client's.
    assert peer.obj.get_channel_binding("tls-unique") == ours.client_finished
    assert len(ours.client_finished) == len(ours.server_finished) == 12

    # Certificates: whoever is the client verified the server's chain.
    if direction == "our_client":
        assert isinstance(ours, ClientConnection)
        assert ours.peer_certificate_chain == leaf.chain
    else:
        assert peer.obj.context.verify_mode == ssl.CERT_REQUIRED
        assert peer.obj.context.check_hostname
        cert = peer.obj.getpeercert()
        assert cert and cert["subjectAltName"] == LEAF_SAN
        assert peer.obj.getpeercert(binary_form=True) == leaf.certificate.public_bytes(Encoding.DER)

    # Ours -> stdlib: one payload spanning several records, then small writes.
    ours.send_application_data(BIG)
    wire = ours.data_to_send()
    assert count_records(wire) == [23] * 7
    peer.incoming.write(wire)
    assert stdlib_read(peer) == BIG
    for chunk in SMALL_WRITES:
        ours.send_application_data(chunk)
    wire = ours.data_to_send()
    assert count_records(wire) == [23] * len(SMALL_WRITES)
    peer.incoming.write(wire)
    assert stdlib_read(peer) == b"".join(SMALL_WRITES)

    # Stdlib -> ours: the same, fed to us in odd-sized pieces.
    assert peer.obj.write(BIG) == len(BIG)
    events = feed_in_pieces(ours, peer.outgoing.read(), 1000)
    assert len(events) >= 7
    assert app_data(events) == BIG
    for chunk in SMALL_WRITES:
        assert peer.obj.write(chunk) == len(chunk)
    events = ours.receive_data(peer.outgoing.read())
    assert app_data(events) == b"".join(SMALL_WRITES)

    # close_notify, in both orders.
    if close_order == "we_close_first":
        ours.close()
        assert ours.close_sent and not ours.closed
        peer.incoming.write(ours.data_to_send())
        assert stdlib_saw_close(peer)
        peer.obj.unwrap()  # completes: it had our close_notify and now sends its own
        assert ours.receive_data(peer.outgoing.read()) == [ConnectionClosed()]
        assert ours.data_to_send() == b""  # nothing more after our own close_notify
    else:
        with pytest.raises(ssl.SSLWantReadError):
            peer.obj.unwrap()  # sends close_notify, then waits for ours
        assert ours.receive_data(peer.outgoing.read()) == [ConnectionClosed()]
        assert ours.close_received and ours.close_sent
        reply = ours.data_to_send()
        assert count_records(reply) == [21]
        peer.incoming.write(reply)
        peer.obj.unwrap()  # now completes
    assert ours.closed
    assert ours.failure is None
    with pytest.raises(LocalProtocolError):
        ours.send_application_data(b"too late")


@pytest.mark.parametrize("direction", ["our_client", "our_server"])
def test_stdlib_may_still_send_after_our_close_notify(
    direction: str, pem_dir: Path, client_config: ClientConfig, server_config: ServerConfig
) -> None:
    """close() only ends our direction: data the peer sends before its own close_notify arrives."""
    ours, peer = connect(direction, pem_dir, client_config, server_config)
    ours.close()
    peer.incoming.write(ours.data_to_send())
    assert stdlib_saw_close(peer)
    assert peer.obj.write(b"late data") == len(b"late data")
    peer.obj.unwrap()
    events = ours.receive_data(peer.outgoing.read())
    assert events == [ApplicationDataReceived(b"late data"), ConnectionClosed()]
    assert ours.closed and ours.failure is None


# -- verification failures prove that verification happens ----------------------------


def test_stdlib_client_rejects_untrusted_server(pem_dir: Path, stranger: IssuedCertificate) -> None:
    server = ServerConnection(ServerConfig(certificate_chain=stranger.chain, private_key=stranger.private_key))
    peer = StdlibPeer(stdlib_client_context(pem_dir), server_side=False, server_hostname="localhost")
    error = run_until_stdlib_fails(server, peer)
    assert isinstance(error, ssl.SSLCertVerificationError)
    with pytest.raises(AlertReceivedError) as got:
        server.receive_data(peer.outgoing.read())
    assert got.value.description == AlertDescription.UNKNOWN_CA
    assert not server.handshake_complete


def test_our_client_rejects_untrusted_stdlib_server(pem_dir: Path, stranger_ca: CertificateAuthority) -> None:
    # The stdlib server presents the pem_dir leaf; we trust only the stranger CA.
    client = ClientConnection(ClientConfig(trust_anchors=[stranger_ca.certificate]), server_name="localhost")
    peer = StdlibPeer(stdlib_server_context(pem_dir), server_side=True)
    with pytest.raises(UnknownCA):
        pump_stdlib(client, peer)
    peer.incoming.write(client.data_to_send())
    with pytest.raises(ssl.SSLError, match="UNKNOWN_CA"):
        peer.obj.do_handshake()


@pytest.mark.parametrize("name", ["127.0.0.2", "other.example"])
def test_our_client_rejects_wrong_name(pem_dir: Path, client_config: ClientConfig, name: str) -> None:
    client = ClientConnection(client_config, server_name=name)
    peer = StdlibPeer(stdlib_server_context(pem_dir), server_side=True)
    with pytest.raises(HostnameMismatch):
        pump_stdlib(client, peer)
    peer.incoming.write(client.data_to_send())
    with pytest.raises(ssl.SSLError, match="BAD_CERTIFICATE"):
        peer.obj.do_handshake()


# -- ALPN ------------------------------------------------------------------------------


def test_alpn_our_client_stdlib_server(pem_dir: Path, ca: CertificateAuthority) -> None:
    ctx = stdlib_server_context(pem_dir)
    ctx.set_alpn_protocols(["http/1.1", "h2"])  # OpenSSL picks by the server's order
    peer = StdlibPeer(ctx, server_side=True)
    config = ClientConfig(trust_anchors=[ca.certificate], alpn_protocols=["h2", "http/1.1"])
    client = ClientConnection(config, server_name="localhost")
    assert pump_stdlib(client, peer) == [HandshakeComplete()]
    assert peer.obj.selected_alpn_protocol() == "http/1.1"
    assert client.alpn_protocol == "http/1.1"


def test_alpn_our_client_stdlib_server_no_overlap(pem_dir: Path, ca: CertificateAuthority) -> None:
    ctx = stdlib_server_context(pem_dir)
    ctx.set_alpn_protocols(["h2"])  # the ssl module's callback then simply does not answer ALPN
    peer = StdlibPeer(ctx, server_side=True)
    config = ClientConfig(trust_anchors=[ca.certificate], alpn_protocols=["http/1.1"])
    client = ClientConnection(config, server_name="localhost")
    assert pump_stdlib(client, peer) == [HandshakeComplete()]
    assert peer.obj.selected_alpn_protocol() is None
    assert client.alpn_protocol is None


def test_alpn_stdlib_client_our_server(pem_dir: Path, leaf: IssuedCertificate) -> None:
    ctx = stdlib_client_context(pem_dir)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    peer = StdlibPeer(ctx, server_side=False, server_hostname="localhost")
    config = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key, alpn_protocols=["http/1.1", "h2"])
    server = ServerConnection(config)
    assert pump_stdlib(server, peer) == [HandshakeComplete()]
    assert server.alpn_protocol == "http/1.1"  # the server's preference
    assert peer.obj.selected_alpn_protocol() == "http/1.1"


def test_alpn_stdlib_client_our_server_no_overlap(pem_dir: Path, leaf: IssuedCertificate) -> None:
    ctx = stdlib_client_context(pem_dir)
    ctx.set_alpn_protocols(["h2"])
    peer = StdlibPeer(ctx, server_side=False, server_hostname="localhost")
    config = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key, alpn_protocols=["http/1.1"])
    server = ServerConnection(config)
    with pytest.raises(NoApplicationProtocol):
        pump_stdlib(server, peer)
    peer.incoming.write(server.data_to_send())
    with pytest.raises(ssl.SSLError, match="no application protocol"):
        peer.obj.do_handshake()


# -- SNI and IP-address names ------------------------------------------------------------


@pytest.mark.parametrize("name", ["localhost", "www.example.test"])
def test_stdlib_sni_reaches_our_server(pem_dir: Path, server_config: ServerConfig, name: str) -> None:
    ctx = stdlib_client_context(pem_dir)
    ctx.check_hostname = name == "localhost"  # the chain is still verified (CERT_REQUIRED)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    peer = StdlibPeer(ctx, server_side=False, server_hostname=name)
    server = ServerConnection(server_config)
    assert pump_stdlib(server, peer) == [HandshakeComplete()]
    assert server.server_name == name


def test_stdlib_client_without_sni(pem_dir: Path, server_config: ServerConfig) -> None:
    ctx = stdlib_client_context(pem_dir)
    ctx.check_hostname = False
    peer = StdlibPeer(ctx, server_side=False, server_hostname=None)
    server = ServerConnection(server_config)
    assert pump_stdlib(server, peer) == [HandshakeComplete()]
    assert server.server_name is None


@pytest.mark.parametrize(("given", "sent"), [("localhost", "localhost"), ("LocalHost.", "localhost")])
def test_our_sni_reaches_stdlib_server(pem_dir: Path, client_config: ClientConfig, given: str, sent: str) -> None:
    seen: list[str | None] = []
    ctx = stdlib_server_context(pem_dir)
    ctx.sni_callback = lambda obj, name, context: seen.append(name)
    peer = StdlibPeer(ctx, server_side=True)
    client = ClientConnection(client_config, server_name=given)
    assert pump_stdlib(client, peer) == [HandshakeComplete()]
    assert seen == [sent]
    assert client.server_name == sent


def test_our_client_verifies_ip_san_and_sends_no_sni(pem_dir: Path, client_config: ClientConfig) -> None:
    seen: list[str | None] = []
    ctx = stdlib_server_context(pem_dir)
    ctx.sni_callback = lambda obj, name, context: seen.append(name)
    peer = StdlibPeer(ctx, server_side=True)
    assert client_config.verify_certificates and client_config.check_hostname
    client = ClientConnection(client_config, server_name="127.0.0.1")
    assert pump_stdlib(client, peer) == [HandshakeComplete()]
    assert seen == [None]  # RFC 6066 §3: no IP literals in server_name
    assert client.server_name is None
    client.send_application_data(b"over an IP")
    peer.incoming.write(client.data_to_send())
    assert stdlib_read(peer) == b"over an IP"
