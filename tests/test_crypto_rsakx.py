"""Static RSA key exchange: the premaster on the client, and the RFC 5246 §7.4.7.1 countermeasure on the server.

OpenSSL's command line is the independent side: it decrypts what we encrypt and
encrypts what we decrypt. Every kind of bad ClientKeyExchange (bad padding, a
message of the wrong length, the wrong version, a ciphertext of the wrong size
or not below the modulus) gives 48 bytes, the fallback premaster, and raises
nothing; and the lines the server runs are the same for a good premaster as for
every bad message.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from tls12.crypto import rsakx
from tls12.crypto.rsakx import PREMASTER_LEN, decrypt_premaster, encrypt_premaster

from helpers import openssl

TLS12 = 0x0303



@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def key_files(key: rsa.RSAPrivateKey, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("rsakx")
    (d / "key.pem").write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    (d / "pub.pem").write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return d / "key.pem", d / "pub.pem"


def openssl_encrypt(pub: Path, message: bytes) -> bytes:
    return openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", str(pub), "-pkeyopt", "rsa_padding_mode:pkcs1",
                   stdin=message)  # fmt: skip


def test_client_premaster_decrypts_with_openssl(key: rsa.RSAPrivateKey, key_files: tuple[Path, Path]) -> None:
    random46 = os.urandom(46)
    premaster, encrypted = encrypt_premaster(key.public_key(), TLS12, random46)
    assert premaster == b"\x03\x03" + random46 and len(premaster) == PREMASTER_LEN
    assert len(encrypted) == 256
    decrypted = openssl("pkeyutl", "-decrypt", "-inkey", str(key_files[0]), "-pkeyopt", "rsa_padding_mode:pkcs1",
                        stdin=encrypted)  # fmt: skip
    assert decrypted == premaster


def test_server_decrypts_openssl_premaster(key: rsa.RSAPrivateKey, key_files: tuple[Path, Path]) -> None:
    premaster = b"\x03\x03" + os.urandom(46)
    encrypted = openssl_encrypt(key_files[1], premaster)
    assert decrypt_premaster(key, encrypted, TLS12, os.urandom(46)) == premaster


def test_random_must_be_46_bytes(key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError):
        encrypt_premaster(key.public_key(), TLS12, os.urandom(48))
    with pytest.raises(ValueError):
        decrypt_premaster(key, b"", TLS12, os.urandom(48))


def _bad_inputs(key: rsa.RSAPrivateKey, pub: Path) -> dict[str, bytes]:
    n = key.public_key().public_numbers().n
    random_below_n = (int.from_bytes(os.urandom(256), "big") % n).to_bytes(256, "big")
    # Valid PKCS#1 v1.5 type 2 padding around a message of the wrong length or version.
    return {
        "bad-padding": random_below_n,
        "bad-padding-zero": bytes(256),
        "message-47-bytes": openssl_encrypt(pub, b"\x03\x03" + os.urandom(45)),
        "message-49-bytes": openssl_encrypt(pub, b"\x03\x03" + os.urandom(47)),
        "message-empty": key.public_key().encrypt(b"", padding.PKCS1v15()),
        "version-tls11": openssl_encrypt(pub, b"\x03\x02" + os.urandom(46)),
        "version-ssl3": openssl_encrypt(pub, b"\x03\x00" + os.urandom(46)),
        "version-tls10": openssl_encrypt(pub, b"\x03\x01" + os.urandom(46)),
        "version-tls13": key.public_key().encrypt(b"\x03\x04" + os.urandom(46), padding.PKCS1v15()),
        "ciphertext-short": random_below_n[:-1],
        "ciphertext-long": random_below_n + b"\x00",
        "ciphertext-empty": b"",
        "ciphertext-not-below-n": n.to_bytes(256, "big"),
        "ciphertext-all-ones": b"\xff" * 256,
    }


def test_every_bad_premaster_gives_the_fallback(key: rsa.RSAPrivateKey, key_files: tuple[Path, Path]) -> None:
    for label, encrypted in _bad_inputs(key, key_files[1]).items():
        random46 = os.urandom(46)
        result = decrypt_premaster(key, encrypted, TLS12, random46)  # raises nothing
        assert len(result) == PREMASTER_LEN, label
        assert result == b"\x03\x03" + random46, label


def test_fallback_uses_the_offered_version(key: rsa.RSAPrivateKey) -> None:
    """The premaster carries ClientHello.client_version, whatever was negotiated (RFC 5246 §7.4.7.1)."""
    random46 = os.urandom(46)
    assert decrypt_premaster(key, bytes(256), 0x0304, random46) == b"\x03\x04" + random46
    good = b"\x03\x04" + os.urandom(46)
    assert decrypt_premaster(key, key.public_key().encrypt(good, padding.PKCS1v15()), 0x0304, random46) == good


def _lines_run(function: Callable[..., Any], *args: Any) -> list[int]:
    """The line numbers `function` runs in rsakx, in order (sys.settrace)."""
    lines: list[int] = []

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        if frame.f_code.co_filename == rsakx.__file__ and event == "line":
            lines.append(frame.f_lineno)
        return tracer

    sys.settrace(tracer)
    try:
        function(*args)
    finally:
        sys.settrace(None)
    return lines


def test_one_code_path_for_good_and_bad_messages(key: rsa.RSAPrivateKey, key_files: tuple[Path, Path]) -> None:
    """A good premaster, a bad version, a wrong length and (with implicit rejection) bad padding run the same lines.

    Only a ValueError from the decryption (a ciphertext of the wrong size, known from public facts; or bad
    padding under an OpenSSL without implicit rejection) adds the lines of its except clause."""
    good = openssl_encrypt(key_files[1], b"\x03\x03" + os.urandom(46))
    reference = _lines_run(decrypt_premaster, key, good, TLS12, os.urandom(46))
    paths = {}
    for label, encrypted in _bad_inputs(key, key_files[1]).items():
        paths[label] = _lines_run(decrypt_premaster, key, encrypted, TLS12, os.urandom(46))
    for label in ("message-47-bytes", "message-49-bytes", "message-empty", "version-tls11", "version-ssl3",
                  "version-tls10", "version-tls13"):  # fmt: skip
        assert paths[label] == reference, label
    source = Path(rsakx.__file__).read_text().splitlines()
    except_clause = {i + 1 for i, text in enumerate(source) if text.strip() in ("except ValueError:", 'message = b""')}
    assert len(except_clause) == 2
    for label, lines in paths.items():
        assert [line for line in lines if line not in except_clause] == reference, label


def test_bad_padding_does_not_raise_inside_with_implicit_rejection(key: rsa.RSAPrivateKey) -> None:
    """Which decryption is underneath: with OpenSSL >= 3.2 (cryptography's wheels) bad padding returns a
    synthetic message, deterministic per ciphertext; older OpenSSL raises. Both give the fallback above."""
    n = key.public_key().public_numbers().n
    bad = (int.from_bytes(os.urandom(256), "big") % n).to_bytes(256, "big")
    try:
        first = key.decrypt(bad, padding.PKCS1v15())
    except ValueError:
        return  # explicit rejection: decrypt_premaster's except clause handles it
    assert key.decrypt(bad, padding.PKCS1v15()) == first
