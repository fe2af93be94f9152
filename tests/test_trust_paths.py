"""What a verified chain leaves behind: the DER of the peer's chain and of its verified path, taken
as received and as loaded rather than encoded again, equal to encoding them again."""

from __future__ import annotations

import datetime

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from tls12 import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tls12.certs import CertificateAuthority
from tls12.crypto.x509 import TrustStore, parse_chain, path_der, verify_server_chain

NOW = datetime.datetime(2026, 6, 1, 12, 0, 0, tzinfo=datetime.UTC)


def der(chain: object) -> tuple[bytes, ...]:
    return tuple(c.public_bytes(Encoding.DER) for c in chain)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def root() -> CertificateAuthority:
    return CertificateAuthority("paths root", now=NOW)


def test_path_der_is_the_der_of_each_certificate(root: CertificateAuthority) -> None:
    """Through an intermediate: the leaf's and the intermediate's DER as received, the root's as loaded."""
    intermediate = root.intermediate("paths intermediate")
    leaf = intermediate.issue(("example.test",))
    trust = TrustStore([root.certificate])
    received = der(leaf.chain)
    chain = parse_chain(received)
    path = verify_server_chain(trust, chain, "example.test", NOW, received)
    assert len(path) == 3
    assert path_der(path, chain, received, trust) == der(path)


def test_a_session_keeps_the_chains_in_der() -> None:
    """The client's session holds the server's chain and the verified path as DER, equal to encoding
    them again (they are taken as received and as loaded instead)."""
    root = CertificateAuthority("session root")
    intermediate = root.intermediate("session intermediate")
    leaf = intermediate.issue(("localhost",))
    client = ClientConnection(ClientConfig(trust_anchors=[root.certificate]), "localhost")
    server = ServerConnection(ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key))
    while not (client.handshake_complete and server.handshake_complete):
        server.receive_data(client.data_to_send())
        client.receive_data(server.data_to_send())
    session = client.session
    assert session is not None
    assert session.peer_chain_der == der(leaf.chain)
    assert session.verified_chain_der == der((leaf.certificate, intermediate.certificate, root.certificate))
