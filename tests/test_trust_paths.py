"""A trust store gives a chain it verified this second its path again; nothing else changes.

`TrustStore.path` keeps the path a verifier built for a chain (by its DER) while the verifier is
kept: a verifier is bound to a name, a second and the store, so the same chain verified again with
it gives the same answer. These tests hold it to that: a path is given again only for the same
chain, name and second; another name, an expiry or a failed chain is judged afresh every time.
"""

from __future__ import annotations

import datetime

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from tls12 import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tls12.certs import CertificateAuthority
from tls12.crypto.x509 import TrustStore, parse_chain, path_der, verify_server_chain
from tls12.errors import CertificateExpired, HostnameMismatch, UnknownCA

NOW = datetime.datetime(2026, 6, 1, 12, 0, 0, tzinfo=datetime.UTC)


def der(chain: object) -> tuple[bytes, ...]:
    return tuple(c.public_bytes(Encoding.DER) for c in chain)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def root() -> CertificateAuthority:
    return CertificateAuthority("paths root", now=NOW)


def test_the_same_chain_gets_the_same_path_without_a_second_verification(root: CertificateAuthority) -> None:
    leaf = root.issue(("example.test",))
    trust = TrustStore([root.certificate])
    received = der(leaf.chain)
    first = verify_server_chain(trust, parse_chain(received), "example.test", NOW, received)
    again = verify_server_chain(trust, parse_chain(received), "example.test", NOW + datetime.timedelta(0.3 / 86400),
                                received)
    assert first == again == [leaf.certificate, root.certificate]
    assert len(trust._paths) == 1  # one verifier, one chain: one path kept, given twice


def test_another_name_or_second_is_verified_again(root: CertificateAuthority) -> None:
    """The kept path belongs to one verifier: a name the certificate does not have, or a time it is
    no longer valid at, is refused just after the chain verified."""
    expiring = root.issue(("example.test",), not_after=NOW + datetime.timedelta(seconds=1))
    trust = TrustStore([root.certificate])
    received = der(expiring.chain)
    chain = parse_chain(received)
    assert verify_server_chain(trust, chain, "example.test", NOW, received)
    with pytest.raises(HostnameMismatch):
        verify_server_chain(trust, chain, "other.test", NOW, received)
    with pytest.raises(CertificateExpired):
        verify_server_chain(trust, chain, "example.test", NOW + datetime.timedelta(seconds=2), received)
    assert verify_server_chain(trust, chain, "example.test", NOW, received)
    assert len(trust._paths) == 1


def test_a_failed_chain_is_refused_every_time(root: CertificateAuthority) -> None:
    stranger = CertificateAuthority("not trusted", now=NOW).issue(("example.test",))
    trust = TrustStore([root.certificate])
    received = der(stranger.chain)
    for _ in range(3):
        with pytest.raises(UnknownCA):
            verify_server_chain(trust, parse_chain(received), "example.test", NOW, received)
    assert not trust._paths


def test_each_store_keeps_its_own_paths(root: CertificateAuthority) -> None:
    leaf = root.issue(("example.test",))
    received = der(leaf.chain)
    assert verify_server_chain(TrustStore([root.certificate]), parse_chain(received), "example.test", NOW, received)
    with pytest.raises(UnknownCA):
        verify_server_chain(TrustStore([CertificateAuthority("other root", now=NOW).certificate]),
                            parse_chain(received), "example.test", NOW, received)


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
