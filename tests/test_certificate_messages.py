"""Certificate failures a newcomer can act on: the message names the certificate that was not
trusted, in words OpenSSL users know, never cryptography's path-building internals.

Each case runs a real handshake between our client and our server in memory (the error is what
`receive_data` raises, with the alert it sends), and checks the message and the exception type.
"""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tls12 import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.enums import AlertDescription
from tls12.errors import CertificateError, UnknownCA

from helpers import pump

INTERNALS = ("max depth", "candidates exhausted", "basicConstraints", "interior errors", "EE certificate")


def handshake_error(trusted: list[x509.Certificate], chain: list[x509.Certificate], key: rsa.RSAPrivateKey,
                    server_name: str = "localhost") -> CertificateError:
    client = ClientConnection(ClientConfig(trust_anchors=trusted), server_name=server_name)
    server = ServerConnection(ServerConfig(certificate_chain=chain, private_key=key))
    with pytest.raises(CertificateError) as info:
        pump(client, server)
    error = info.value
    assert not any(words in str(error) for words in INTERNALS), error
    return error


@pytest.fixture(scope="module")
def private_ca() -> tuple[CertificateAuthority, IssuedCertificate]:
    ca = CertificateAuthority("Example Corp Private CA")
    return ca, ca.issue(("localhost",))


def test_untrusted_private_ca_sent_with_the_chain_is_named(
    private_ca: tuple[CertificateAuthority, IssuedCertificate], ca: CertificateAuthority
) -> None:
    private, leaf = private_ca
    error = handshake_error([ca.certificate], [leaf.certificate, private.certificate], leaf.private_key)
    assert isinstance(error, UnknownCA) and error.alert == AlertDescription.UNKNOWN_CA
    assert str(error) == (
        "certificate verify failed: self-signed certificate in certificate chain: the chain ends at "
        "'CN=Example Corp Private CA,O=tls12 throwaway', which is not a trusted root")


def test_untrusted_private_ca_not_sent_is_named_as_the_missing_issuer(
    private_ca: tuple[CertificateAuthority, IssuedCertificate], ca: CertificateAuthority
) -> None:
    _, leaf = private_ca
    error = handshake_error([ca.certificate], [leaf.certificate], leaf.private_key)
    assert isinstance(error, UnknownCA)
    assert str(error) == (
        "certificate verify failed: unable to get local issuer certificate: no trusted certificate issued "
        "'CN=localhost,O=tls12 throwaway' (its issuer is 'CN=Example Corp Private CA,O=tls12 throwaway')")


def _openssl_self_signed(directory: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    cert, key = directory / "ss.pem", directory / "ss.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-keyout", str(key),
                    "-out", str(cert), "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return x509.load_pem_x509_certificate(cert.read_bytes()), private


def _cryptography_self_signed() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """Self-signed, CA:FALSE: a server certificate signed by its own key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


@pytest.mark.parametrize("maker", ["openssl-req-x509", "cryptography-ca-false"])
def test_untrusted_self_signed_server_certificate_says_so(maker: str, tmp_path: Path, ca: CertificateAuthority) -> None:
    cert, key = _openssl_self_signed(tmp_path) if maker == "openssl-req-x509" else _cryptography_self_signed()
    error = handshake_error([ca.certificate], [cert], key)
    assert isinstance(error, UnknownCA) and error.alert == AlertDescription.UNKNOWN_CA
    assert str(error) == "certificate verify failed: self-signed certificate is not trusted (CN=localhost)"
