"""`tls12 serve` and `tls12 connect` with --ciphers, several --cert/--key pairs and --key-type:
what they refuse, and what they show of a connection (suite, key exchange, group, signature scheme
and the certificate served).

Every suite and key type end to end, through real processes, is in test_sslcompat_suites_e2e.py;
here the servers serve the suite every build of tls12 speaks. Servers listen on 127.0.0.1 on a
port the OS picks and are stopped by the test; every process runs with a timeout.
"""

from __future__ import annotations

import re
import socket
import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed448

from cli_support import serve, tls12
from tls12.certs import CertificateAuthority, IssuedCertificate

SUITE = "ECDHE-RSA-AES256-GCM-SHA384"
IANA_SUITE = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"


def _write(directory: Path, name: str, issued: IssuedCertificate) -> tuple[str, str]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    cert.write_bytes(issued.cert_pem())
    key.write_bytes(issued.key_pem())
    return str(cert), str(key)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory, ca: CertificateAuthority) -> dict[str, tuple[str, str]]:
    d = tmp_path_factory.mktemp("pairs")
    out = {kind: _write(d, kind, ca.issue(("localhost", "127.0.0.1"), key_type=kind))
           for kind in ("rsa", "ecdsa-p256", "ecdsa-p384", "ed25519")}
    ed448_key = d / "ed448.key"
    ed448_key.write_bytes(ed448.Ed448PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    out["ed448"] = (out["rsa"][0], str(ed448_key))
    return out


def _refused(command: str, *args: str) -> str:
    result = tls12(command, *args, timeout=20)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


# -- what is refused, and why ----------------------------------------------------------------------------


@pytest.mark.parametrize(("cipher_string", "why"), [
    ("AES128-SHA", "selects none of the suites tls12 speaks"),
    ("NO-SUCH-CIPHER", "OpenSSL selects no cipher"),
    ("HIGH:@SECLEVEL=3", "security level 3"),
])
@pytest.mark.parametrize("command", ["serve", "connect"])
def test_ciphers_that_enable_nothing_are_a_usage_error(command: str, cipher_string: str, why: str) -> None:
    args = ["--port", "0"] if command == "serve" else ["127.0.0.1:1", "--insecure"]
    err = _refused(command, *args, "--ciphers", cipher_string)
    assert err.startswith(f"tls12 {command}: --ciphers {cipher_string!r}: "), err
    assert why in err, err


def test_serve_refuses_two_certificates_of_one_kind(pairs: dict[str, tuple[str, str]]) -> None:
    (p256, p256_key), (p384, p384_key) = pairs["ecdsa-p256"], pairs["ecdsa-p384"]
    err = _refused("serve", "--port", "0", "--cert", p256, "--key", p256_key, "--cert", p384, "--key", p384_key)
    assert f"--cert {p384} and --key {p384_key}: a second ECDSA certificate (--cert {p256} is one)" in err, err


def test_serve_needs_a_key_for_each_cert_or_none(pairs: dict[str, tuple[str, str]]) -> None:
    (rsa, rsa_key), (ec, _) = pairs["rsa"], pairs["ecdsa-p256"]
    err = _refused("serve", "--port", "0", "--cert", rsa, "--key", rsa_key, "--cert", ec)
    assert "2 --cert and 1 --key: give one --key for each --cert, in the same order" in err, err


def test_serve_pairs_keys_with_certificates_by_order(pairs: dict[str, tuple[str, str]]) -> None:
    """Keys in the other order: the first pair does not match, and the message names it."""
    (rsa, rsa_key), (ec, ec_key) = pairs["rsa"], pairs["ecdsa-p256"]
    err = _refused("serve", "--port", "0", "--cert", rsa, "--key", ec_key, "--cert", ec, "--key", rsa_key)
    assert f"--cert {rsa} and --key {ec_key}: the private key does not match the leaf certificate" in err, err


def test_serve_refuses_a_key_tls12_cannot_use(pairs: dict[str, tuple[str, str]]) -> None:
    cert, key = pairs["ed448"]
    err = _refused("serve", "--port", "0", "--cert", cert, "--key", key)
    assert f"--key {key}: " in err and "needs an RSA, ECDSA or Ed25519 private key" in err, err


def test_key_type_is_for_the_throwaway_certificate(pairs: dict[str, tuple[str, str]]) -> None:
    cert, key = pairs["rsa"]
    err = _refused("serve", "--port", "0", "--cert", cert, "--key", key, "--key-type", "ecdsa")
    assert "--key-type is for the throwaway certificate" in err, err
    result = tls12("serve", "--port", "0", "--key-type", "dsa", timeout=20)
    assert result.returncode == 2 and "invalid choice: 'dsa'" in result.stderr


# -- what a connection shows ------------------------------------------------------------------------------


def _field(text: str, name: str) -> str:
    match = re.search(rf"^\s*{re.escape(name)}:\s+(.*?)\s*$", text, re.MULTILINE | re.IGNORECASE)
    assert match is not None, f"no {name!r} in:\n{text}"
    return match.group(1)


def test_the_page_and_connect_show_suite_exchange_signature_and_certificate(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    with serve(tmp_path, "--www", "--write-ca", str(ca_file), "--ciphers", f"HIGH:{IANA_SUITE}") as server:
        result = tls12("connect", f"localhost:{server.port}", "--cafile", str(ca_file), "--http-get", "/",
                       "--ciphers", SUITE)
        line = server.wait_for(rb"handshake ok: [^\n]*").group(0).decode()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # connect's own account of the session ...
    assert _field(out, "cipher suite") == f"{IANA_SUITE} ({SUITE})"
    assert _field(out, "key exchange") == "ECDHE"
    group, scheme = _field(out, "group"), _field(out, "signature scheme")
    assert group in ("x25519", "secp256r1", "secp384r1")
    assert re.fullmatch(r"rsa_(pss_rsae|pkcs1)_sha(256|384|512)", scheme)
    assert _field(out, "key") == "rsa"
    # ... and the server's page says the same.
    page = out.split("<pre>", 1)[1]
    assert _field(page, "Cipher suite") == f"{IANA_SUITE} ({SUITE})"
    assert _field(page, "Key exchange") == "ECDHE"
    assert _field(page, "Group") == group
    assert _field(page, "Signature scheme") == scheme
    assert _field(page, "Certificate") == "rsa certificate for localhost"
    assert f"{IANA_SUITE}, {group}, {scheme}, SNI localhost" in line
    assert line.endswith("certificate rsa certificate for localhost")


def test_serve_says_which_certificates_it_holds(pairs: dict[str, tuple[str, str]], tmp_path: Path) -> None:
    cert, key = pairs["rsa"]
    with serve(tmp_path, "--cert", cert, "--key", key) as server:
        listening = server.wait_for(rb"listening on [^\n]*").group(0).decode()
    assert f"rsa certificate for localhost from {cert}" in listening


def test_serve_ciphers_limit_what_a_client_may_use(tmp_path: Path) -> None:
    """A stdlib client that offers only suites --ciphers left out finds none in common."""
    ca_file = tmp_path / "ca.pem"
    with serve(tmp_path, "--write-ca", str(ca_file), "--ciphers", SUITE) as server:
        client = ssl.create_default_context(cafile=str(ca_file))
        client.maximum_version = ssl.TLSVersion.TLSv1_2
        client.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, \
                pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
            client.wrap_socket(raw, server_hostname="localhost")
        client.set_ciphers(f"ECDHE-RSA-AES128-GCM-SHA256:{SUITE}")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, \
                client.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.cipher() == (SUITE, "TLSv1.2", 256)
