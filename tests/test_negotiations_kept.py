"""A server configuration keeps what it chose for each client offer, and gives the same offer the same
answer: never another offer's, never a refusal's, and never more than a bounded number of them.

The offer is the ClientHello's suites, supported_groups, signature_algorithms and SNI name
(`ServerConfig.negotiations`); everything the choice depends on besides is the configuration's.
"""

from __future__ import annotations

import dataclasses

import pytest

from tls12 import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tls12.certs import CertificateAuthority
from tls12.crypto.credentials import Credential
from tls12.enums import CipherSuite, NamedGroup, SignatureScheme
from tls12.errors import HandshakeFailure, InsufficientSecurity
from tls12.handshake import server as server_states

ECDHE_ECDSA_AES128 = CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
ECDHE_RSA_AES128 = CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
DHE_RSA_AES128 = CipherSuite.TLS_DHE_RSA_WITH_AES_128_GCM_SHA256


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority()


@pytest.fixture(scope="module")
def server_config(ca: CertificateAuthority) -> ServerConfig:
    """An RSA and an ECDSA certificate for localhost, and an RSA one for other.test."""
    issued = [ca.issue(("localhost",)), ca.issue(("localhost",), key_type="ecdsa"), ca.issue(("other.test",))]
    return ServerConfig(credentials=[Credential.from_chain(i.chain, i.private_key) for i in issued])


def handshake(ca: CertificateAuthority, server_config: ServerConfig, name: str, **client: object
              ) -> tuple[ClientConnection, ServerConnection]:
    c = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], **client), name)  # type: ignore[arg-type]
    s = ServerConnection(server_config)
    while not (c.handshake_complete and s.handshake_complete):
        s.receive_data(c.data_to_send())
        c.receive_data(s.data_to_send())
    return c, s


def test_each_offer_gets_its_own_answer_every_time(ca: CertificateAuthority, server_config: ServerConfig) -> None:
    server_config.negotiations.clear()
    offers: list[tuple[str, dict[str, object], CipherSuite, str]] = [
        ("localhost", {}, ECDHE_ECDSA_AES128, "ecdsa-p256 certificate for localhost"),
        ("localhost", {"cipher_suites": [ECDHE_RSA_AES128]}, ECDHE_RSA_AES128, "rsa certificate for localhost"),
        ("localhost", {"signature_schemes": [SignatureScheme.RSA_PSS_RSAE_SHA256]}, ECDHE_RSA_AES128,
         "rsa certificate for localhost"),
        ("other.test", {}, ECDHE_RSA_AES128, "rsa certificate for other.test"),
        ("localhost", {"groups": [NamedGroup.X25519]}, ECDHE_RSA_AES128, "rsa certificate for localhost"),
    ]
    for _ in range(2):  # the second time round, every answer is a kept one
        for name, client, suite, served in offers:
            c, s = handshake(ca, server_config, name, **client)
            assert c.cipher_suite == s.cipher_suite == suite
            assert s.credential is not None and s.credential.description == served
            assert s.group == NamedGroup.X25519
    assert len(server_config.negotiations) == len(offers)


def test_a_refusal_is_not_kept(ca: CertificateAuthority) -> None:
    rsa = ca.issue(("localhost",))
    config = ServerConfig(certificate_chain=rsa.chain, private_key=rsa.private_key, cipher_suites=[DHE_RSA_AES128],
                          groups=[NamedGroup.FFDHE3072])
    for _ in range(2):
        client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], cipher_suites=[DHE_RSA_AES128],
                                               groups=[NamedGroup.FFDHE2048]), "localhost")
        with pytest.raises(InsufficientSecurity):
            ServerConnection(config).receive_data(client.data_to_send())
        client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], cipher_suites=[ECDHE_ECDSA_AES128]),
                                  "localhost")
        with pytest.raises(HandshakeFailure):
            ServerConnection(config).receive_data(client.data_to_send())
    assert not config.negotiations


def test_the_kept_answers_are_bounded(ca: CertificateAuthority, server_config: ServerConfig,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """At the bound the configuration starts again from none (a client that varies its offer on
    purpose gets no more than that much memory)."""
    monkeypatch.setattr(server_states, "_MAX_NEGOTIATIONS", 2)
    server_config.negotiations.clear()
    for groups in ([NamedGroup.X25519], [NamedGroup.SECP256R1], [NamedGroup.SECP384R1]):
        handshake(ca, server_config, "other.test", groups=groups)
    assert len(server_config.negotiations) == 1


def test_a_new_configuration_starts_with_none(server_config: ServerConfig) -> None:
    assert dataclasses.replace(server_config).negotiations == {}
