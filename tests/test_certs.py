"""The throwaway CA: every key type it issues makes a chain that cryptography's verifier and
OpenSSL both accept, including a Let's-Encrypt-shaped one, and client certificates."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, PublicKeyAlgorithmOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from tls12.certs import CertificateAuthority, IssuedCertificate, KeyType, generate_key

from helpers import openssl, openssl_command

LEAF_TYPES = ["rsa", "ecdsa", "ecdsa-p384", "ecdsa-p521", "ed25519", "rsa-pss"]
CURVES = {"ecdsa": "secp256r1", "ecdsa-p384": "secp384r1", "ecdsa-p521": "secp521r1"}


@pytest.fixture(scope="module")
def cas() -> dict[str, CertificateAuthority]:
    return {kind: CertificateAuthority(f"{kind} root", key_type=kind)
            for kind in ["rsa", "ecdsa", "ecdsa-p384", "ecdsa-p521", "ed25519", "rsa-pss"]}


def cryptography_verify(root: x509.Certificate, issued: IssuedCertificate) -> None:
    verifier = (PolicyBuilder().store(Store([root])).time(issued.certificate.not_valid_before_utc)
                .build_server_verifier(x509.DNSName("localhost")))
    path = verifier.verify(issued.certificate, list(issued.chain[1:]))
    assert path[0] == issued.certificate and path[-1] == root


def openssl_verify(tmp_path: Path, root_pem: bytes, issued: IssuedCertificate, purpose: str = "sslserver"
                   ) -> subprocess.CompletedProcess[str]:
    (tmp_path / "root.pem").write_bytes(root_pem)
    (tmp_path / "leaf.pem").write_bytes(issued.certificate.public_bytes(serialization.Encoding.PEM))
    command = [openssl_command(), "verify", "-CAfile", str(tmp_path / "root.pem"), "-purpose", purpose]
    if len(issued.chain) > 1:
        (tmp_path / "untrusted.pem").write_bytes(
            b"".join(c.public_bytes(serialization.Encoding.PEM) for c in issued.chain[1:]))
        command += ["-untrusted", str(tmp_path / "untrusted.pem")]
    return subprocess.run([*command, str(tmp_path / "leaf.pem")], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("ca_type", ["rsa", "ecdsa", "ecdsa-p384", "ecdsa-p521"])
@pytest.mark.parametrize("leaf_type", LEAF_TYPES)
def test_every_key_type_verifies(tmp_path: Path, cas: dict[str, CertificateAuthority], ca_type: str,
                                 leaf_type: str) -> None:
    ca = cas[ca_type]
    issued = ca.issue(("localhost", "127.0.0.1"), key_type=leaf_type)
    cryptography_verify(ca.certificate, issued)
    result = openssl_verify(tmp_path, ca.cert_pem(), issued)
    assert result.returncode == 0 and result.stdout.strip().endswith(": OK"), result.stderr


@pytest.mark.parametrize("ca_type", ["ed25519", "rsa-pss"])
def test_ed25519_and_rsa_pss_roots_verify_in_openssl_but_not_under_the_web_pki_profile(
        tmp_path: Path, cas: dict[str, CertificateAuthority], ca_type: str) -> None:
    """Such a CA is valid X.509 (OpenSSL accepts it), but the Web PKI allows only RSA and
    P-256/384/521 CA keys, so cryptography's verifier (and so a tls12 client) refuses it."""
    ca = cas[ca_type]
    issued = ca.issue(key_type="ecdsa")
    result = openssl_verify(tmp_path, ca.cert_pem(), issued)
    assert result.returncode == 0, result.stderr
    with pytest.raises(VerificationError, match="Forbidden public key algorithm"):
        cryptography_verify(ca.certificate, issued)


@pytest.mark.parametrize("leaf_type", LEAF_TYPES)
def test_key_types(cas: dict[str, CertificateAuthority], leaf_type: str) -> None:
    issued = cas["rsa"].issue(key_type=leaf_type)
    public = issued.certificate.public_key()
    assert issued.key_type is KeyType(leaf_type)
    if leaf_type in CURVES:
        assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == CURVES[leaf_type]
        assert isinstance(issued.private_key, ec.EllipticCurvePrivateKey)
    elif leaf_type == "ed25519":
        assert isinstance(public, ed25519.Ed25519PublicKey)
    else:
        assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
    expected_oid = PublicKeyAlgorithmOID.RSASSA_PSS if leaf_type == "rsa-pss" else None
    if expected_oid is not None:
        assert issued.certificate.public_key_algorithm_oid == expected_oid
    usage = issued.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    # Only an rsaEncryption key may decrypt a premaster (RFC 5246 §7.4.2; RFC 5480 §3 for EC keys).
    assert usage.key_encipherment is (leaf_type == "rsa")


def test_default_is_todays_rsa_profile() -> None:
    ca = CertificateAuthority()
    issued = ca.issue()
    assert isinstance(ca.private_key, rsa.RSAPrivateKey) and ca.private_key.key_size == 2048
    assert isinstance(issued.private_key, rsa.RSAPrivateKey) and issued.private_key.key_size == 2048
    assert issued.key_type is KeyType.RSA and issued.chain == (issued.certificate,)
    assert ca.root == ca.certificate and ca.intermediates == ()
    for cert in (ca.certificate, issued.certificate):
        assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
        assert cert.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSA_WITH_SHA256
        assert cert.public_key_algorithm_oid == PublicKeyAlgorithmOID.RSAES_PKCS1_v1_5
    eku = issued.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    san = issued.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]


@pytest.mark.parametrize(("ca_type", "hash_type"), [
    ("ecdsa", hashes.SHA256), ("ecdsa-p384", hashes.SHA384), ("ecdsa-p521", hashes.SHA512)])
def test_an_ecdsa_ca_signs_with_its_curves_hash(cas: dict[str, CertificateAuthority], ca_type: str,
                                                hash_type: type[hashes.HashAlgorithm]) -> None:
    issued = cas[ca_type].issue()
    assert isinstance(issued.certificate.signature_hash_algorithm, hash_type)


def test_lets_encrypt_shaped_chain(tmp_path: Path) -> None:
    """ECDSA P-256 leaf, under an ECDSA (P-384) intermediate, under an RSA root."""
    root = CertificateAuthority("ISRG-like root", key_type="rsa", key_size=4096)
    intermediate = root.intermediate("E-like intermediate", key_type="ecdsa-p384")
    issued = intermediate.issue(("example.test", "localhost"), key_type="ecdsa")
    assert issued.chain == (issued.certificate, intermediate.certificate)
    assert intermediate.root == root.certificate and intermediate.root_pem() == root.cert_pem()
    assert isinstance(intermediate.certificate.public_key(), ec.EllipticCurvePublicKey)
    assert isinstance(intermediate.certificate.signature_hash_algorithm, hashes.SHA256)  # signed by the RSA root
    assert isinstance(issued.certificate.signature_hash_algorithm, hashes.SHA384)  # signed by the P-384 CA
    assert intermediate.certificate.issuer == root.certificate.subject
    cryptography_verify(root.certificate, issued)
    result = openssl_verify(tmp_path, root.cert_pem(), issued)
    assert result.returncode == 0, result.stderr
    # Without the intermediate the leaf does not reach the root.
    lone = IssuedCertificate(issued.certificate, issued.private_key, (issued.certificate,), issued.key_type)
    with pytest.raises(VerificationError):
        cryptography_verify(root.certificate, lone)
    assert openssl_verify(tmp_path, root.cert_pem(), lone).returncode != 0
    # cert_pem() carries the chain a server sends: leaf, then intermediate.
    assert x509.load_pem_x509_certificates(issued.cert_pem()) == list(issued.chain)


def test_two_intermediates_deep(tmp_path: Path) -> None:
    root = CertificateAuthority(key_type="ecdsa-p384")
    middle = root.intermediate("middle", key_type="rsa")
    lower = middle.intermediate("lower", key_type="ecdsa")
    issued = lower.issue(key_type="ed25519")
    assert issued.chain == (issued.certificate, lower.certificate, middle.certificate)
    cryptography_verify(root.certificate, issued)
    assert openssl_verify(tmp_path, root.cert_pem(), issued).returncode == 0


@pytest.mark.parametrize("leaf_type", ["rsa", "ecdsa", "ed25519"])
def test_client_certificate(tmp_path: Path, cas: dict[str, CertificateAuthority], leaf_type: str) -> None:
    ca = cas["rsa"]
    issued = ca.issue(("client.example",), key_type=leaf_type, client=True)
    eku = issued.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    usage = issued.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_encipherment
    verifier = (PolicyBuilder().store(Store([ca.certificate])).time(issued.certificate.not_valid_before_utc)
                .build_client_verifier())
    verified = verifier.verify(issued.certificate, [])
    assert verified.subjects == [x509.DNSName("client.example")]
    assert openssl_verify(tmp_path, ca.cert_pem(), issued, "sslclient").returncode == 0
    # It is not a server certificate, for either verifier.
    assert openssl_verify(tmp_path, ca.cert_pem(), issued, "sslserver").returncode != 0
    server_verifier = (PolicyBuilder().store(Store([ca.certificate])).time(issued.certificate.not_valid_before_utc)
                       .build_server_verifier(x509.DNSName("client.example")))
    with pytest.raises(VerificationError):
        server_verifier.verify(issued.certificate, [])


def test_rsa_pss_key_pem_is_an_rsa_pss_key_for_openssl(tmp_path: Path, cas: dict[str, CertificateAuthority]) -> None:
    issued = cas["ecdsa"].issue(key_type="rsa-pss")
    (tmp_path / "leaf.key").write_bytes(issued.key_pem())
    (tmp_path / "leaf.pem").write_bytes(issued.cert_pem())
    text = openssl("pkey", "-in", str(tmp_path / "leaf.key"), "-noout", "-text").decode()
    assert "No PSS parameter restrictions" in text  # what OpenSSL prints only for an RSA-PSS key
    cert_text = openssl("x509", "-in", str(tmp_path / "leaf.pem"), "-noout", "-text").decode()
    assert "Public Key Algorithm: rsassaPss" in cert_text
    # The key OpenSSL reads is the certificate's key.
    key_public = openssl("pkey", "-in", str(tmp_path / "leaf.key"), "-pubout")
    cert_public = openssl("x509", "-in", str(tmp_path / "leaf.pem"), "-noout", "-pubkey")
    assert key_public == cert_public
    # And cryptography reads it back as the same RSA key.
    loaded = serialization.load_pem_private_key(issued.key_pem(), None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    assert loaded.private_numbers() == issued.private_key.private_numbers()


def test_key_type_names() -> None:
    assert KeyType("ecdsa") is KeyType.ECDSA_P256
    assert KeyType("ECDSA-P384") is KeyType.ECDSA_P384
    assert KeyType("Ed25519") is KeyType.ED25519
    with pytest.raises(ValueError):
        KeyType("dsa")
    with pytest.raises(ValueError):
        CertificateAuthority().issue(key_type="ecdsa-p192")


def test_a_given_private_key_sets_or_must_match_the_key_type() -> None:
    ca = CertificateAuthority(key_type="ecdsa")
    key = generate_key("ecdsa-p384")
    issued = ca.issue(private_key=key)
    assert issued.key_type is KeyType.ECDSA_P384 and issued.private_key is key
    rsa_key = generate_key("rsa")
    assert ca.issue(private_key=rsa_key, key_type="rsa-pss").key_type is KeyType.RSA_PSS
    with pytest.raises(ValueError, match="does not match"):
        ca.issue(private_key=key, key_type="rsa")
    with pytest.raises(ValueError, match="does not match"):
        CertificateAuthority(private_key=rsa_key, key_type="ed25519")
    with pytest.raises(ValueError, match="secp224r1 are not supported"):
        ca.issue(private_key=ec.generate_private_key(ec.SECP224R1()))
