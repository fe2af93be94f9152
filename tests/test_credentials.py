"""Credentials: what a chain and its key can do, and the per-handshake choice among several."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa

from tls12.certs import CertificateAuthority, generate_key
from tls12.crypto.credentials import (
    SUITE_AUTHENTICATION,
    Authentication,
    Credential,
    KeyType,
    PrivateKey,
    choose_credential,
    key_type_of_key,
)
from tls12.enums import AlertDescription, CipherSuite, NamedGroup, SignatureScheme
from tls12.errors import HandshakeFailure

from helpers import openssl

S = SignatureScheme
ECDHE_ECDSA_AES128 = CipherSuite(0xC02B)
ECDHE_ECDSA_AES256 = CipherSuite(0xC02C)
ECDHE_ECDSA_CHACHA = CipherSuite(0xCCA9)
ECDHE_RSA_AES128 = CipherSuite(0xC02F)
ECDHE_RSA_AES256 = CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
DHE_RSA_AES128 = CipherSuite(0x009E)
RSA_AES128 = CipherSuite(0x009C)
MOZILLA_ORDER = [ECDHE_ECDSA_AES128, ECDHE_RSA_AES128, ECDHE_ECDSA_AES256, ECDHE_RSA_AES256,
                 ECDHE_ECDSA_CHACHA, CipherSuite(0xCCA8), DHE_RSA_AES128, CipherSuite(0x009F)]
ALL_SCHEMES = [S.ECDSA_SECP256R1_SHA256, S.ECDSA_SECP384R1_SHA384, S.ECDSA_SECP521R1_SHA512, S.ED25519,
               S.RSA_PSS_RSAE_SHA256, S.RSA_PSS_PSS_SHA256, S.RSA_PKCS1_SHA256]
RSA_ONLY_SCHEMES = [S.RSA_PSS_RSAE_SHA256, S.RSA_PKCS1_SHA256]


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority(key_type="ecdsa")


@pytest.fixture(scope="module")
def creds(ca: CertificateAuthority) -> dict[str, Credential]:
    out = {}
    for kind in ["rsa", "ecdsa", "ecdsa-p384", "ecdsa-p521", "ed25519", "rsa-pss"]:
        issued = ca.issue(("localhost", "127.0.0.1"), key_type=kind)
        out[kind] = Credential.from_chain(issued.chain, issued.private_key)
    return out


def custom_leaf(ca: CertificateAuthority, key: PrivateKey | ed448.Ed448PrivateKey, *,
                names: Sequence[str] = ("localhost",), key_usage: x509.KeyUsage | None = None) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ca.now - datetime.timedelta(days=1))
        .not_valid_after(ca.now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    return builder.sign(ca.private_key, hashes.SHA256())


def usage(*, sign: bool = False, encipher: bool = False, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=encipher,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=False,
                         encipher_only=False, decipher_only=False)


# -- what a credential is -------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "key_type", "schemes"), [
    ("rsa", KeyType.RSA, (S.RSA_PSS_RSAE_SHA256, S.RSA_PSS_RSAE_SHA384, S.RSA_PSS_RSAE_SHA512,
                          S.RSA_PKCS1_SHA256, S.RSA_PKCS1_SHA384, S.RSA_PKCS1_SHA512)),
    ("rsa-pss", KeyType.RSA_PSS, (S.RSA_PSS_PSS_SHA256, S.RSA_PSS_PSS_SHA384, S.RSA_PSS_PSS_SHA512)),
    ("ecdsa", KeyType.ECDSA_P256, (S.ECDSA_SECP256R1_SHA256, S.ECDSA_SECP384R1_SHA384, S.ECDSA_SECP521R1_SHA512)),
    ("ecdsa-p384", KeyType.ECDSA_P384,
     (S.ECDSA_SECP384R1_SHA384, S.ECDSA_SECP256R1_SHA256, S.ECDSA_SECP521R1_SHA512)),
    ("ecdsa-p521", KeyType.ECDSA_P521,
     (S.ECDSA_SECP521R1_SHA512, S.ECDSA_SECP256R1_SHA256, S.ECDSA_SECP384R1_SHA384)),
    ("ed25519", KeyType.ED25519, (S.ED25519,)),
])
def test_key_type_and_schemes(creds: dict[str, Credential], kind: str, key_type: KeyType,
                              schemes: tuple[SignatureScheme, ...]) -> None:
    credential = creds[kind]
    assert credential.key_type is key_type
    assert credential.schemes == schemes
    assert credential.digital_signature
    assert credential.key_encipherment is (kind == "rsa")
    assert credential.names == ("localhost", "127.0.0.1")
    assert credential.chain_der == tuple(c.public_bytes(serialization.Encoding.DER)
                                         for c in credential.chain)
    assert credential.leaf is credential.chain[0]


def test_chain_is_kept_leaf_first_with_intermediates(ca: CertificateAuthority) -> None:
    root = CertificateAuthority(key_type="rsa")
    issued = root.intermediate(key_type="ecdsa").issue(key_type="ecdsa")
    credential = Credential.from_chain(list(issued.chain), issued.private_key)
    assert credential.chain == issued.chain and len(credential.chain_der) == 2


def test_issued_certificate_credential(ca: CertificateAuthority) -> None:
    issued = ca.intermediate(key_type="ecdsa").issue(key_type="ed25519")
    credential = issued.credential()
    assert credential.chain == issued.chain and credential.private_key is issued.private_key
    assert credential.key_type is KeyType.ED25519


def test_from_pem(ca: CertificateAuthority) -> None:
    issued = ca.issue(key_type="rsa-pss")
    credential = Credential.from_pem(issued.cert_pem(), issued.key_pem())
    assert credential.key_type is KeyType.RSA_PSS and credential.chain == issued.chain


def test_the_key_must_be_the_leafs(ca: CertificateAuthority) -> None:
    one, other = ca.issue(key_type="ecdsa"), ca.issue(key_type="ecdsa")
    with pytest.raises(ValueError, match="does not match the leaf"):
        Credential.from_chain(one.chain, other.private_key)
    rsa_leaf = ca.issue()
    with pytest.raises(ValueError, match="does not match the leaf"):
        Credential.from_chain(rsa_leaf.chain, one.private_key)
    # An RSA-PSS certificate's key is the same RSA key: it matches (the OID differs, not the key).
    pss = ca.issue(key_type="rsa-pss", private_key=rsa_leaf.private_key)
    assert Credential.from_chain(pss.chain, rsa_leaf.private_key).key_type is KeyType.RSA_PSS


def test_small_rsa_keys_are_refused_by_the_x509_rule(ca: CertificateAuthority) -> None:
    small = ca.issue(key_size=1024)
    with pytest.raises(ValueError, match=r"RSA 1024 bits.*at least 2048"):
        Credential.from_chain(small.chain, small.private_key)
    # Anywhere in the chain: a 1024-bit intermediate too.
    weak_intermediate = ca.intermediate(key_type="rsa", key_size=1024)
    issued = weak_intermediate.issue(key_type="ecdsa")
    with pytest.raises(ValueError, match="RSA 1024 bits"):
        Credential.from_chain(issued.chain, issued.private_key)


def test_key_type_of_a_bare_key() -> None:
    for kind in KeyType:
        key = generate_key(kind)
        expected = KeyType.RSA if kind is KeyType.RSA_PSS else kind  # only a certificate says RSASSA-PSS
        assert key_type_of_key(key) is key_type_of_key(key.public_key()) is expected
    with pytest.raises(ValueError, match="secp224r1 are not supported"):
        key_type_of_key(ec.generate_private_key(ec.SECP224R1()))
    with pytest.raises(ValueError, match="Ed448PrivateKey keys are not supported"):
        key_type_of_key(ed448.Ed448PrivateKey.generate())


def test_unsupported_keys(ca: CertificateAuthority) -> None:
    p224 = ec.generate_private_key(ec.SECP224R1())
    with pytest.raises(ValueError, match="secp224r1 are not supported"):
        Credential.from_chain([custom_leaf(ca, p224)], p224)
    ed = ed448.Ed448PrivateKey.generate()
    with pytest.raises(TypeError, match="RSA, ECDSA or Ed25519"):
        Credential.from_chain([custom_leaf(ca, ed)], ed)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least the leaf"):
        Credential.from_chain([], p224)


def test_key_usage_flags(ca: CertificateAuthority) -> None:
    key = generate_key("rsa")
    assert isinstance(key, rsa.RSAPrivateKey)
    no_usage = Credential.from_chain([custom_leaf(ca, key)], key)
    assert no_usage.digital_signature and no_usage.key_encipherment  # absent: any use (RFC 5280 §4.2.1.3)
    decrypt_only = Credential.from_chain([custom_leaf(ca, key, key_usage=usage(encipher=True))], key)
    assert not decrypt_only.digital_signature and decrypt_only.key_encipherment
    sign_only = Credential.from_chain([custom_leaf(ca, key, key_usage=usage(sign=True))], key)
    assert sign_only.digital_signature and not sign_only.key_encipherment
    with pytest.raises(ValueError, match="neither digitalSignature nor keyEncipherment"):
        Credential.from_chain([custom_leaf(ca, key, key_usage=usage(cert_sign=True))], key)
    # keyEncipherment means nothing for an EC key: it cannot decrypt, so it must be able to sign.
    ec_key = generate_key("ecdsa")
    with pytest.raises(ValueError, match="neither"):
        Credential.from_chain([custom_leaf(ca, ec_key, key_usage=usage(encipher=True))], ec_key)


def test_schemes_are_data_the_caller_may_give(ca: CertificateAuthority) -> None:
    issued = ca.issue()
    credential = Credential.from_chain(issued.chain, issued.private_key, schemes=(S.RSA_PKCS1_SHA384,))
    assert credential.schemes == (S.RSA_PKCS1_SHA384,)
    choice = choose_credential([credential], suites=[ECDHE_RSA_AES256],
                               client_schemes=[*ALL_SCHEMES, S.RSA_PKCS1_SHA384], server_name=None)
    assert choice.scheme is S.RSA_PKCS1_SHA384
    assert Credential.from_chain(issued.chain, issued.private_key).schemes[0] is S.RSA_PSS_RSAE_SHA256  # the default
    with pytest.raises(ValueError, match="rsa keys cannot sign with ecdsa_secp256r1_sha256, rsa_pss_pss_sha256"):
        Credential.from_chain(issued.chain, issued.private_key,
                              schemes=(S.RSA_PKCS1_SHA256, S.ECDSA_SECP256R1_SHA256, S.RSA_PSS_PSS_SHA256))


def openssl_pss_credential(tmp_path: Path, *pkeyopts: str) -> Credential:
    """A self-signed certificate for an RSA-PSS key with parameter restrictions, made by OpenSSL."""
    key, cert = tmp_path / "pss.key", tmp_path / "pss.pem"
    options = [arg for opt in ("rsa_keygen_bits:2048", *pkeyopts) for arg in ("-pkeyopt", opt)]
    openssl("genpkey", "-algorithm", "RSA-PSS", *options, "-out", str(key))
    openssl("req", "-x509", "-new", "-key", str(key), "-subj", "/CN=localhost", "-days", "2",
            "-addext", "subjectAltName=DNS:localhost", "-out", str(cert))
    return Credential.from_pem(cert.read_bytes(), key.read_bytes())


def test_rsa_pss_key_parameters_restrict_the_schemes(tmp_path: Path) -> None:
    unrestricted = openssl_pss_credential(tmp_path)
    assert unrestricted.schemes == (S.RSA_PSS_PSS_SHA256, S.RSA_PSS_PSS_SHA384, S.RSA_PSS_PSS_SHA512)
    sha384 = openssl_pss_credential(tmp_path, "rsa_pss_keygen_md:sha384", "rsa_pss_keygen_mgf1_md:sha384",
                                    "rsa_pss_keygen_saltlen:48")
    assert sha384.schemes == (S.RSA_PSS_PSS_SHA384,)
    with pytest.raises(ValueError, match="salt of 64 bytes"):
        openssl_pss_credential(tmp_path, "rsa_pss_keygen_md:sha256", "rsa_pss_keygen_mgf1_md:sha256",
                               "rsa_pss_keygen_saltlen:64")
    with pytest.raises(ValueError, match="allow no TLS signature scheme"):
        openssl_pss_credential(tmp_path, "rsa_pss_keygen_md:sha256", "rsa_pss_keygen_mgf1_md:sha512",
                               "rsa_pss_keygen_saltlen:32")


# -- choosing one per handshake -------------------------------------------------------------------


def test_ecdsa_first_when_the_client_takes_both(creds: dict[str, Credential]) -> None:
    choice = choose_credential([creds["rsa"], creds["ecdsa"]], suites=MOZILLA_ORDER, client_schemes=ALL_SCHEMES,
                               server_name="localhost")
    assert (choice.credential, choice.suite, choice.scheme) == (creds["ecdsa"], ECDHE_ECDSA_AES128,
                                                                S.ECDSA_SECP256R1_SHA256)
    assert choice.reason.startswith("ecdsa-p256 certificate for localhost: it names 'localhost'")
    assert f"it serves {ECDHE_ECDSA_AES128.name}, the first suite in order it can serve" in choice.reason
    assert "ecdsa_secp256r1_sha256" in choice.reason


def test_rsa_for_a_client_without_ecdsa_schemes(creds: dict[str, Credential]) -> None:
    choice = choose_credential([creds["ecdsa"], creds["rsa"]], suites=MOZILLA_ORDER,
                               client_schemes=RSA_ONLY_SCHEMES, server_name=None)
    assert (choice.credential, choice.suite, choice.scheme) == (creds["rsa"], ECDHE_RSA_AES128,
                                                                S.RSA_PSS_RSAE_SHA256)
    assert "the client sent no server_name" in choice.reason
    assert f"passed over {ECDHE_ECDSA_AES128.name} (no certificate fits)" in choice.reason


def test_suite_order_decides_between_fitting_credentials(creds: dict[str, Credential]) -> None:
    rsa_first = [ECDHE_RSA_AES256, ECDHE_ECDSA_AES256]
    choice = choose_credential([creds["ecdsa"], creds["rsa"]], suites=rsa_first, client_schemes=ALL_SCHEMES,
                               server_name=None)
    assert (choice.credential, choice.suite) == (creds["rsa"], ECDHE_RSA_AES256)
    assert "passed over" not in choice.reason


def test_the_credentials_scheme_order_wins(creds: dict[str, Credential]) -> None:
    client = [S.RSA_PKCS1_SHA512, S.RSA_PKCS1_SHA256, S.RSA_PSS_RSAE_SHA384]
    choice = choose_credential([creds["rsa"]], suites=[ECDHE_RSA_AES256], client_schemes=client, server_name=None)
    assert choice.scheme is S.RSA_PSS_RSAE_SHA384


def test_an_ecdsa_key_signs_with_any_hash_in_tls12(creds: dict[str, Credential]) -> None:
    """TLS 1.2's ecdsa code points pair ECDSA with a hash, whatever the curve (as OpenSSL and Go sign)."""
    choice = choose_credential([creds["ecdsa"]], suites=[ECDHE_ECDSA_AES128],
                               client_schemes=[S.ECDSA_SECP384R1_SHA384], server_name=None)
    assert choice.scheme is S.ECDSA_SECP384R1_SHA384
    choice = choose_credential([creds["ecdsa-p384"]], suites=[ECDHE_ECDSA_AES128],
                               client_schemes=[S.ECDSA_SECP256R1_SHA256, S.ECDSA_SECP384R1_SHA384], server_name=None)
    assert choice.scheme is S.ECDSA_SECP384R1_SHA384


def test_ed25519_serves_ecdhe_ecdsa_suites(creds: dict[str, Credential]) -> None:
    choice = choose_credential([creds["ed25519"], creds["rsa"]], suites=MOZILLA_ORDER,
                               client_schemes=[S.ED25519, S.RSA_PSS_RSAE_SHA256], server_name="localhost")
    assert (choice.credential, choice.suite, choice.scheme) == (creds["ed25519"], ECDHE_ECDSA_AES128, S.ED25519)
    # A client that does not list ed25519 gets the RSA certificate.
    choice = choose_credential([creds["ed25519"], creds["rsa"]], suites=MOZILLA_ORDER,
                               client_schemes=[S.ECDSA_SECP256R1_SHA256, S.RSA_PSS_RSAE_SHA256],
                               server_name="localhost")
    assert choice.credential == creds["rsa"]


def test_rsa_pss_certificates_need_rsa_pss_pss_schemes(creds: dict[str, Credential]) -> None:
    choice = choose_credential([creds["rsa-pss"], creds["rsa"]], suites=[ECDHE_RSA_AES128],
                               client_schemes=[S.RSA_PSS_PSS_SHA256, S.RSA_PSS_RSAE_SHA256], server_name=None)
    assert (choice.credential, choice.scheme) == (creds["rsa-pss"], S.RSA_PSS_PSS_SHA256)
    # rsa_pss_rsae_* needs an rsaEncryption key (RFC 8446 §4.2.3): the plain RSA credential serves.
    choice = choose_credential([creds["rsa-pss"], creds["rsa"]], suites=[ECDHE_RSA_AES128],
                               client_schemes=[S.RSA_PSS_RSAE_SHA256], server_name=None)
    assert (choice.credential, choice.scheme) == (creds["rsa"], S.RSA_PSS_RSAE_SHA256)


def test_static_rsa_needs_an_rsa_encryption_key_and_signs_nothing(ca: CertificateAuthority,
                                                                  creds: dict[str, Credential]) -> None:
    choice = choose_credential([creds["ecdsa"], creds["rsa-pss"], creds["rsa"]], suites=[RSA_AES128],
                               client_schemes=ALL_SCHEMES, server_name=None)
    assert (choice.credential, choice.suite, choice.scheme) == (creds["rsa"], RSA_AES128, None)
    assert "which signs nothing" in choice.reason
    key = generate_key("rsa")
    assert isinstance(key, rsa.RSAPrivateKey)
    sign_only = Credential.from_chain([custom_leaf(ca, key, key_usage=usage(sign=True))], key)
    with pytest.raises(HandshakeFailure, match="does not allow keyEncipherment"):
        choose_credential([sign_only], suites=[RSA_AES128], client_schemes=ALL_SCHEMES, server_name=None)
    decrypt_only = Credential.from_chain([custom_leaf(ca, key, key_usage=usage(encipher=True))], key)
    with pytest.raises(HandshakeFailure, match="does not allow digitalSignature"):
        choose_credential([decrypt_only], suites=[ECDHE_RSA_AES128, DHE_RSA_AES128], client_schemes=ALL_SCHEMES,
                          server_name=None)
    choice = choose_credential([decrypt_only], suites=[ECDHE_RSA_AES128, RSA_AES128], client_schemes=ALL_SCHEMES,
                               server_name=None)
    assert choice.suite is RSA_AES128


def test_no_signature_algorithms_means_sha1_which_is_refused(creds: dict[str, Credential]) -> None:
    with pytest.raises(HandshakeFailure, match=r"no signature_algorithms.*RFC 9155") as caught:
        choose_credential([creds["rsa"], creds["ecdsa"]], suites=MOZILLA_ORDER, client_schemes=None,
                          server_name=None)
    assert caught.value.alert is AlertDescription.HANDSHAKE_FAILURE
    # Static RSA signs nothing, so it still serves such a client when enabled.
    choice = choose_credential([creds["ecdsa"], creds["rsa"]], suites=[*MOZILLA_ORDER, RSA_AES128],
                               client_schemes=None, server_name=None)
    assert (choice.credential, choice.suite) == (creds["rsa"], RSA_AES128)


def test_the_ecdsa_curve_must_be_in_supported_groups(creds: dict[str, Credential]) -> None:
    both = [creds["ecdsa-p384"], creds["rsa"]]
    choice = choose_credential(both, suites=MOZILLA_ORDER, client_schemes=ALL_SCHEMES, server_name=None,
                               client_groups=[NamedGroup.X25519, NamedGroup.SECP256R1])
    assert choice.credential == creds["rsa"]
    with pytest.raises(HandshakeFailure, match=r"curve secp384r1 is not in the client's supported_groups"):
        choose_credential([creds["ecdsa-p384"]], suites=MOZILLA_ORDER, client_schemes=ALL_SCHEMES, server_name=None,
                          client_groups=[NamedGroup.X25519, NamedGroup.SECP256R1])
    # No supported_groups: any curve (RFC 8422 §4); Ed25519 is not a supported_groups curve at all.
    assert choose_credential(both, suites=MOZILLA_ORDER, client_schemes=ALL_SCHEMES, server_name=None,
                             client_groups=None).credential == creds["ecdsa-p384"]
    assert choose_credential([creds["ed25519"]], suites=MOZILLA_ORDER, client_schemes=ALL_SCHEMES, server_name=None,
                             client_groups=[NamedGroup.X25519]).scheme is S.ED25519


def named(ca: CertificateAuthority, kind: str, *names: str) -> Credential:
    issued = ca.issue(names, key_type=kind)
    return Credential.from_chain(issued.chain, issued.private_key)


def test_sni_picks_the_certificate_that_names_it(ca: CertificateAuthority) -> None:
    a, b = named(ca, "ecdsa", "a.example"), named(ca, "ecdsa", "b.example", "www.b.example")
    wild = named(ca, "ecdsa", "*.wild.example")
    credentials = [a, b, wild]
    for server_name, expected in [("b.example", b), ("WWW.B.Example.", b), ("a.example", a),
                                  ("x.wild.example", wild)]:
        choice = choose_credential(credentials, suites=MOZILLA_ORDER, client_schemes=ALL_SCHEMES,
                                   server_name=server_name)
        assert choice.credential == expected, server_name
        assert "it names" in choice.reason
    # A wildcard stands for one label only; with no match, the first that fits serves.
    choice = choose_credential(credentials, suites=MOZILLA_ORDER, client_schemes=ALL_SCHEMES,
                               server_name="deep.x.wild.example")
    assert choice.credential == a
    assert "no certificate names 'deep.x.wild.example'" in choice.reason


def test_a_matching_name_comes_before_suite_preference(ca: CertificateAuthority) -> None:
    ecdsa_default = named(ca, "ecdsa", "default.example")
    rsa_named = named(ca, "rsa", "named.example")
    choice = choose_credential([ecdsa_default, rsa_named], suites=MOZILLA_ORDER, client_schemes=ALL_SCHEMES,
                               server_name="named.example")
    assert (choice.credential, choice.suite) == (rsa_named, ECDHE_RSA_AES128)


def test_best_name_match_and_kind_together(ca: CertificateAuthority) -> None:
    """nginx-style: an RSA and an ECDSA certificate for each of two names."""
    a_rsa, a_ec = named(ca, "rsa", "a.example"), named(ca, "ecdsa", "a.example")
    b_rsa, b_ec = named(ca, "rsa", "b.example"), named(ca, "ecdsa", "b.example")
    credentials = [a_rsa, a_ec, b_rsa, b_ec]
    assert choose_credential(credentials, suites=MOZILLA_ORDER, client_schemes=ALL_SCHEMES,
                             server_name="b.example").credential == b_ec
    assert choose_credential(credentials, suites=MOZILLA_ORDER, client_schemes=RSA_ONLY_SCHEMES,
                             server_name="b.example").credential == b_rsa


def test_a_named_certificate_that_cannot_serve_falls_back_to_the_others(ca: CertificateAuthority) -> None:
    named_ecdsa = named(ca, "ecdsa", "named.example")
    default_rsa = named(ca, "rsa", "default.example")
    choice = choose_credential([named_ecdsa, default_rsa], suites=MOZILLA_ORDER, client_schemes=RSA_ONLY_SCHEMES,
                               server_name="named.example")
    assert choice.credential == default_rsa
    assert "none of the certificates that name 'named.example' can serve this client" in choice.reason


def test_nothing_fits_says_why_for_each_certificate(creds: dict[str, Credential]) -> None:
    with pytest.raises(HandshakeFailure) as caught:
        choose_credential([creds["rsa"], creds["ecdsa"], creds["ed25519"]], suites=[ECDHE_ECDSA_AES128],
                          client_schemes=[S.RSA_PKCS1_SHA256], server_name="localhost")
    message = str(caught.value)
    assert message.startswith("no certificate can serve this client: ")
    assert "rsa certificate for localhost: no suite both sides enable uses this kind of key" in message
    assert ("ecdsa-p256 certificate for localhost: it signs with ecdsa_secp256r1_sha256, ecdsa_secp384r1_sha384, "
            "ecdsa_secp521r1_sha512, none of which the client's signature_algorithms lists") in message
    assert "ed25519 certificate for localhost: it signs with ed25519, none of which" in message
    assert caught.value.alert is AlertDescription.HANDSHAKE_FAILURE


def test_unknown_suites_are_passed_over(creds: dict[str, Credential]) -> None:
    tls13_suite = CipherSuite(0x1301)
    choice = choose_credential([creds["rsa"]], suites=[tls13_suite, ECDHE_RSA_AES256], client_schemes=ALL_SCHEMES,
                               server_name=None)
    assert choice.suite is ECDHE_RSA_AES256
    assert "UNKNOWN_0x1301 (unknown authentication)" in choice.reason


def test_no_credentials() -> None:
    with pytest.raises(HandshakeFailure, match="no certificate"):
        choose_credential([], suites=MOZILLA_ORDER, client_schemes=ALL_SCHEMES, server_name=None)


def test_suite_authentication_table(creds: dict[str, Credential]) -> None:
    """RFC 5289 / 7905 / 5288: the kind of key each suite needs, by code point."""
    by_auth: dict[Authentication, set[int]] = {}
    for suite, authentication in SUITE_AUTHENTICATION.items():
        by_auth.setdefault(authentication, set()).add(int(suite))
    assert by_auth == {
        Authentication.ECDSA_SIGNATURE: {0xC02B, 0xC02C, 0xCCA9},
        Authentication.RSA_SIGNATURE: {0xC02F, 0xC030, 0xCCA8, 0x009E, 0x009F, 0xCCAA},
        Authentication.RSA_DECRYPTION: {0x009C, 0x009D},
    }
    # The table can be handed in: here every suite is treated as needing an ECDSA key.
    only_ecdsa = dict.fromkeys(SUITE_AUTHENTICATION, Authentication.ECDSA_SIGNATURE)
    with pytest.raises(HandshakeFailure):
        choose_credential([creds["rsa"]], suites=[ECDHE_RSA_AES256], client_schemes=ALL_SCHEMES,
                          server_name=None, suite_authentication=only_ecdsa)
