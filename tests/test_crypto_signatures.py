"""Signatures for every scheme tls12 offers, checked against OpenSSL in both directions.

For each scheme: a signature made by our sign() verifies with `openssl dgst
-verify` (or `openssl pkeyutl -verify -rawin` for Ed25519), and a signature
made by OpenSSL verifies with our verify(). Ed25519 also meets RFC 8032 §7.1.
A bad signature is decrypt_error; a scheme that does not fit the key is
illegal_parameter.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from tls12.crypto.signatures import (
    ECDSA_SCHEMES,
    RSA_PSS_PSS_SCHEMES,
    RSA_SCHEMES,
    SCHEMES,
    PrivateKey,
    RSAPSSKey,
    is_rsa_pss_certificate,
    rsa_pss_key,
    schemes_for,
    sign,
    verify,
)
from tls12.enums import AlertDescription, SignatureScheme
from tls12.errors import DecryptError, IllegalParameter, InternalError

from helpers import openssl, openssl_command

S = SignatureScheme



@dataclass(frozen=True)
class KeyFiles:
    private: PrivateKey
    key_pem: Path
    pub_pem: Path
    rsa_pss: RSAPSSKey | None = None


def _write(
    d: Path, name: str, key: PrivateKey, rsa_pss: RSAPSSKey | None = None, key_pem: bytes | None = None
) -> KeyFiles:
    (d / f"{name}.key").write_bytes(key_pem or key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    if key_pem is None:
        pub = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    else:  # OpenSSL keeps the id-RSASSA-PSS key type that cryptography's reserialisation would drop
        pub = openssl("pkey", "-pubout", "-in", str(d / f"{name}.key"))
    (d / f"{name}.pub").write_bytes(pub)
    return KeyFiles(key, d / f"{name}.key", d / f"{name}.pub", rsa_pss)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, KeyFiles]:
    d = tmp_path_factory.mktemp("sigkeys")
    pss_pem = openssl("genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048")
    pss_key = load_pem_private_key(pss_pem, None)
    assert isinstance(pss_key, rsa.RSAPrivateKey)
    return {
        "rsa": _write(d, "rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "rsa-pss": _write(d, "rsa-pss", pss_key, rsa_pss=RSAPSSKey(), key_pem=pss_pem),
        "p256": _write(d, "p256", ec.generate_private_key(ec.SECP256R1())),
        "p384": _write(d, "p384", ec.generate_private_key(ec.SECP384R1())),
        "p521": _write(d, "p521", ec.generate_private_key(ec.SECP521R1())),
        "ed25519": _write(d, "ed25519", ed25519.Ed25519PrivateKey.generate()),
    }


# scheme -> (key, OpenSSL digest name or None for PureEdDSA, PSS?)
CASES: dict[SignatureScheme, tuple[str, str | None, bool]] = {
    S.RSA_PKCS1_SHA256: ("rsa", "sha256", False),
    S.RSA_PKCS1_SHA384: ("rsa", "sha384", False),
    S.RSA_PKCS1_SHA512: ("rsa", "sha512", False),
    S.RSA_PSS_RSAE_SHA256: ("rsa", "sha256", True),
    S.RSA_PSS_RSAE_SHA384: ("rsa", "sha384", True),
    S.RSA_PSS_RSAE_SHA512: ("rsa", "sha512", True),
    S.RSA_PSS_PSS_SHA256: ("rsa-pss", "sha256", True),
    S.RSA_PSS_PSS_SHA384: ("rsa-pss", "sha384", True),
    S.RSA_PSS_PSS_SHA512: ("rsa-pss", "sha512", True),
    S.ECDSA_SECP256R1_SHA256: ("p256", "sha256", False),
    S.ECDSA_SECP384R1_SHA384: ("p384", "sha384", False),
    S.ECDSA_SECP521R1_SHA512: ("p521", "sha512", False),
    S.ED25519: ("ed25519", None, False),
}


def test_every_scheme_has_a_case() -> None:
    assert set(CASES) == set(SCHEMES)


def _pss_opts(pss: bool) -> list[str]:
    # MGF1 over the message digest (OpenSSL's default) and a salt as long as the digest: RFC 8446 §4.2.3.
    return ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"] if pss else []


def openssl_sign(files: KeyFiles, digest: str | None, pss: bool, data: Path, tmp: Path) -> bytes:
    if digest is None:
        return openssl("pkeyutl", "-sign", "-rawin", "-inkey", str(files.key_pem), "-in", str(data))
    openssl("dgst", f"-{digest}", "-sign", str(files.key_pem), *_pss_opts(pss), "-out", str(tmp / "sig"), str(data))
    return (tmp / "sig").read_bytes()


def openssl_verifies(files: KeyFiles, digest: str | None, pss: bool, data: Path, signature: bytes, tmp: Path) -> bool:
    (tmp / "sig").write_bytes(signature)
    if digest is None:
        cmd = ["pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", str(files.pub_pem), "-in", str(data),
               "-sigfile", str(tmp / "sig")]  # fmt: skip
    else:
        cmd = ["dgst", f"-{digest}", "-verify", str(files.pub_pem), *_pss_opts(pss), "-signature", str(tmp / "sig"),
               str(data)]  # fmt: skip
    proc = subprocess.run([openssl_command(), *cmd], capture_output=True, timeout=60, check=False)
    return proc.returncode == 0


@pytest.mark.parametrize("scheme", list(CASES), ids=lambda s: s.name.lower())
def test_ours_verified_by_openssl(scheme: SignatureScheme, keys: dict[str, KeyFiles], tmp_path: Path) -> None:
    name, digest, pss = CASES[scheme]
    files = keys[name]
    data = os.urandom(200)
    (tmp_path / "data").write_bytes(data)
    signature = sign(files.private, scheme, data, rsa_pss=files.rsa_pss)
    assert openssl_verifies(files, digest, pss, tmp_path / "data", signature, tmp_path)
    assert not openssl_verifies(files, digest, pss, tmp_path / "data", _flip(signature), tmp_path)


@pytest.mark.parametrize("scheme", list(CASES), ids=lambda s: s.name.lower())
def test_openssl_verified_by_ours(scheme: SignatureScheme, keys: dict[str, KeyFiles], tmp_path: Path) -> None:
    name, digest, pss = CASES[scheme]
    files = keys[name]
    data = os.urandom(200)
    (tmp_path / "data").write_bytes(data)
    signature = openssl_sign(files, digest, pss, tmp_path / "data", tmp_path)
    public = files.private.public_key()
    verify(public, scheme, signature, data, rsa_pss=files.rsa_pss)
    for bad_signature, bad_data in ((_flip(signature), data), (signature, data + b"x"), (signature[:-1], data),
                                    (b"", data)):  # fmt: skip
        with pytest.raises(DecryptError) as info:
            verify(public, scheme, bad_signature, bad_data, rsa_pss=files.rsa_pss)
        assert info.value.alert == AlertDescription.DECRYPT_ERROR


def _flip(signature: bytes) -> bytes:
    return signature[:10] + bytes([signature[10] ^ 0x01]) + signature[11:]


def test_ed25519_rfc8032_vectors() -> None:
    """RFC 8032 §7.1 TEST 1 and TEST 2 through our sign() and verify()."""
    for secret, public, message, expected in (
        ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ):  # fmt: skip
        key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
        assert key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex() == public
        signature = sign(key, S.ED25519, bytes.fromhex(message))
        assert signature.hex() == expected
        verify(ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(public)), S.ED25519, signature,
               bytes.fromhex(message))  # fmt: skip


def test_ecdsa_hash_need_not_match_the_curve_in_tls12(keys: dict[str, KeyFiles], tmp_path: Path) -> None:
    """RFC 8446 §4.2.3: TLS 1.2's ECDSA schemes do not constrain the curve. A P-384 key signing with
    ecdsa_secp256r1_sha256 is SHA-256 ECDSA, and OpenSSL agrees."""
    files = keys["p384"]
    data = os.urandom(64)
    (tmp_path / "data").write_bytes(data)
    signature = sign(files.private, S.ECDSA_SECP256R1_SHA256, data)
    verify(files.private.public_key(), S.ECDSA_SECP256R1_SHA256, signature, data)
    assert openssl_verifies(files, "sha256", False, tmp_path / "data", signature, tmp_path)
    from_openssl = openssl_sign(keys["p256"], "sha512", False, tmp_path / "data", tmp_path)
    verify(keys["p256"].private.public_key(), S.ECDSA_SECP521R1_SHA512, from_openssl, data)


def test_schemes_for_each_key_type(keys: dict[str, KeyFiles]) -> None:
    for name, expected in (
        ("rsa", RSA_SCHEMES),
        ("p256", (S.ECDSA_SECP256R1_SHA256, S.ECDSA_SECP384R1_SHA384, S.ECDSA_SECP521R1_SHA512)),
        ("p384", (S.ECDSA_SECP384R1_SHA384, S.ECDSA_SECP256R1_SHA256, S.ECDSA_SECP521R1_SHA512)),
        ("p521", (S.ECDSA_SECP521R1_SHA512, S.ECDSA_SECP256R1_SHA256, S.ECDSA_SECP384R1_SHA384)),
        ("ed25519", (S.ED25519,)),
    ):
        private = keys[name].private
        assert schemes_for(private) == schemes_for(private.public_key()) == expected, name
    assert schemes_for(keys["rsa-pss"].private, rsa_pss=RSAPSSKey()) == RSA_PSS_PSS_SCHEMES
    # RSA_SCHEMES is the configuration's default: its value (and order) is what goes on the wire today.
    assert RSA_SCHEMES == (S.RSA_PSS_RSAE_SHA256, S.RSA_PSS_RSAE_SHA384, S.RSA_PSS_RSAE_SHA512,
                           S.RSA_PKCS1_SHA256, S.RSA_PKCS1_SHA384, S.RSA_PKCS1_SHA512)  # fmt: skip
    assert set(ECDSA_SCHEMES) <= set(SCHEMES)


def test_schemes_for_a_small_rsa_key_leaves_out_pss_sha512() -> None:
    """RSASSA-PSS with SHA-512 and a 64-byte salt needs a modulus of at least 2*64+2 bytes (RFC 8017 §9.1.1)."""
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    assert S.RSA_PSS_RSAE_SHA512 not in schemes_for(small)
    assert S.RSA_PSS_RSAE_SHA384 in schemes_for(small)
    assert S.RSA_PSS_PSS_SHA512 not in schemes_for(small, rsa_pss=RSAPSSKey())


@pytest.mark.parametrize(
    ("name", "scheme", "pss"),
    [
        ("rsa", S.ECDSA_SECP256R1_SHA256, False),  # False: an rsaEncryption key; True: an RSASSA-PSS key
        ("rsa", S.ED25519, False),
        ("rsa", S.RSA_PSS_PSS_SHA256, False),  # rsaEncryption key: rsa_pss_rsae_*, never rsa_pss_pss_*
        ("rsa-pss", S.RSA_PSS_RSAE_SHA256, True),  # RSASSA-PSS key: rsa_pss_pss_* only
        ("rsa-pss", S.RSA_PKCS1_SHA256, True),
        ("p256", S.RSA_PKCS1_SHA256, False),
        ("p256", S.RSA_PSS_RSAE_SHA256, False),
        ("p256", S.ED25519, False),
        ("ed25519", S.ECDSA_SECP256R1_SHA256, False),
        ("ed25519", S.RSA_PKCS1_SHA256, False),
        ("rsa", S.RSA_PKCS1_SHA1, False),  # not offered by tls12 (RFC 9155)
        ("p256", S.ECDSA_SHA1, False),
        ("ed25519", S.ED448, False),
        ("rsa", SignatureScheme(0x1234), False),
    ],
    ids=lambda v: v if isinstance(v, str) else getattr(v, "name", str(v)).lower(),
)
def test_scheme_that_does_not_fit_the_key_is_illegal_parameter(
    name: str, scheme: SignatureScheme, pss: bool, keys: dict[str, KeyFiles]
) -> None:
    files = keys[name]
    rsa_pss = RSAPSSKey() if pss else None
    data = b"signed data"
    # A signature the key really made, so the refusal is about the scheme, not the bytes.
    real = sign(files.private, schemes_for(files.private, rsa_pss=rsa_pss)[0], data, rsa_pss=rsa_pss)
    with pytest.raises(IllegalParameter) as info:
        verify(files.private.public_key(), scheme, real, data, rsa_pss=rsa_pss)
    assert info.value.alert == AlertDescription.ILLEGAL_PARAMETER


def test_signing_with_a_scheme_the_key_cannot_make_is_refused(keys: dict[str, KeyFiles]) -> None:
    with pytest.raises(InternalError):
        sign(keys["p256"].private, S.RSA_PKCS1_SHA256, b"data")
    with pytest.raises(InternalError):
        sign(keys["rsa"].private, S.RSA_PSS_PSS_SHA256, b"data")
    with pytest.raises(InternalError):
        sign(keys["rsa"].private, S.RSA_PSS_RSAE_SHA256, b"data", rsa_pss=RSAPSSKey())


def test_is_rsa_pss_certificate(keys: dict[str, KeyFiles], tmp_path: Path) -> None:
    certs = {}
    for name in ("rsa", "rsa-pss"):
        pem = openssl("req", "-new", "-x509", "-key", str(keys[name].key_pem), "-subj", f"/CN={name}", "-days", "2")
        certs[name] = x509.load_pem_x509_certificate(pem)
    assert is_rsa_pss_certificate(certs["rsa-pss"])
    assert not is_rsa_pss_certificate(certs["rsa"])
    # cryptography hands back a plain RSA key for both: the certificate is what tells them apart.
    assert isinstance(certs["rsa-pss"].public_key(), rsa.RSAPublicKey)


def _openssl_pss_restrictions(pem: bytes) -> tuple[str, str, int] | None:
    """OpenSSL's own reading of a certificate's PSS key restrictions: (hash, MGF1 hash, minimum salt)."""
    text = openssl("x509", "-noout", "-text", stdin=pem).decode()
    if "No PSS parameter restrictions" in text:
        return None
    names = {"SHA1": "sha1", "SHA2-256": "sha256", "SHA2-384": "sha384", "SHA2-512": "sha512"}
    hash_match = re.search(r"Hash Algorithm: (\S+)", text.split("PSS parameter restrictions")[1])
    mgf_match = re.search(r"MGF1 with (\S+)", text.split("PSS parameter restrictions")[1])
    salt_match = re.search(r"Minimum Salt Length: (\d+)", text)
    assert hash_match and mgf_match and salt_match, text
    return names[hash_match.group(1)], names[mgf_match.group(1)], int(salt_match.group(1))


@pytest.mark.parametrize(
    ("hash_name", "mgf1", "salt", "expected"),
    [
        ("sha256", "sha256", 32, (S.RSA_PSS_PSS_SHA256,)),
        ("sha384", "sha384", 48, (S.RSA_PSS_PSS_SHA384,)),
        ("sha512", "sha512", 20, (S.RSA_PSS_PSS_SHA512,)),
        ("sha256", "sha1", 32, ()),  # MGF1 must use the scheme's hash
        ("sha256", "sha256", 64, ()),  # the key demands a longer salt than the scheme's 32 bytes
        (None, None, None, RSA_PSS_PSS_SCHEMES),  # no parameters: every rsa_pss_pss_* scheme
    ],
)
def test_rsa_pss_key_parameters_from_the_certificate(
    hash_name: str | None, mgf1: str | None, salt: int | None, expected: tuple[SignatureScheme, ...], tmp_path: Path
) -> None:
    opts = ["-pkeyopt", "rsa_keygen_bits:2048"]
    if hash_name is not None:
        opts += ["-pkeyopt", f"rsa_pss_keygen_md:{hash_name}", "-pkeyopt", f"rsa_pss_keygen_mgf1_md:{mgf1}",
                 "-pkeyopt", f"rsa_pss_keygen_saltlen:{salt}"]  # fmt: skip
    (tmp_path / "key.pem").write_bytes(openssl("genpkey", "-algorithm", "RSA-PSS", *opts))
    pem = openssl("req", "-new", "-x509", "-key", str(tmp_path / "key.pem"), "-subj", "/CN=pss", "-days", "2")
    certificate = x509.load_pem_x509_certificate(pem)
    key = rsa_pss_key(certificate)
    assert key is not None
    from_openssl = _openssl_pss_restrictions(pem)
    if from_openssl is None:
        assert key == RSAPSSKey()
    else:
        assert (key.hash, key.mgf1_hash, key.min_salt) == from_openssl
    public = certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert schemes_for(public, rsa_pss=key) == expected
    if expected:  # OpenSSL, signing under the key's own restrictions, makes a signature we accept
        digest = expected[0].name.rsplit("_", 1)[1].lower()
        (tmp_path / "data").write_bytes(b"server key exchange params")
        files = KeyFiles(load_pem_private_key((tmp_path / "key.pem").read_bytes(), None), tmp_path / "key.pem",  # type: ignore[arg-type]
                         tmp_path / "unused", key)  # fmt: skip
        signature = openssl_sign(files, digest, True, tmp_path / "data", tmp_path)
        verify(public, expected[0], signature, b"server key exchange params", rsa_pss=key)
    for scheme in set(RSA_PSS_PSS_SCHEMES) - set(expected):
        with pytest.raises(IllegalParameter):
            verify(public, scheme, b"\x00" * 256, b"data", rsa_pss=key)


def test_rsa_pss_key_is_none_for_other_keys(keys: dict[str, KeyFiles]) -> None:
    for name in ("rsa", "p256", "ed25519"):
        pem = openssl("req", "-new", "-x509", "-key", str(keys[name].key_pem), "-subj", "/CN=x", "-days", "2")
        assert rsa_pss_key(x509.load_pem_x509_certificate(pem)) is None


def test_ecdsa_key_on_another_curve_has_no_scheme() -> None:
    key = ec.generate_private_key(ec.SECP224R1())
    assert schemes_for(key) == ()
    signature = key.sign(b"data", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(IllegalParameter):
        verify(key.public_key(), S.ECDSA_SECP256R1_SHA256, signature, b"data")
