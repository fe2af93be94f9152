"""What `tls12.SSLContext` trusts, and what it reports about the chain it verified.

Every case runs a real TLS server on 127.0.0.1 (the stdlib's, i.e. OpenSSL) and, where the
stdlib has an answer for the same trust settings, compares against it: a store that does not
pile up duplicates when a library reloads it on every connection (requests/urllib3), an
explicitly trusted self-signed certificate, partial chains and `VERIFY_X509_PARTIAL_CHAIN`,
the verified path against what the server sent, wildcard certificates without a host-name
check, and trust stores with certificates cryptography warns about or cannot parse.
"""

from __future__ import annotations

import datetime
import http.server
import logging
import ssl
import subprocess
import time
import warnings
from pathlib import Path

import pytest
import requests
import requests.adapters
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import tls12
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.crypto.x509 import system_trust_anchors

from helpers import pump
from sslcompat_support import TIMEOUT, ServeFn, connect, https_server, peercert

NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def stdlib_server(directory: Path, chain: bytes, key: rsa.RSAPrivateKey) -> ssl.SSLContext:
    """OpenSSL as a TLS 1.2 server sending `chain` (PEM, in that order) as its Certificate message."""
    (directory / "chain.pem").write_bytes(chain)
    (directory / "chain.key").write_bytes(key_pem(key))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(directory / "chain.pem", directory / "chain.key")
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def issue_ca(issuer: CertificateAuthority, common_name: str) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """An intermediate CA under `issuer`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name(common_name))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 30 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.private_key.public_key()),
                       critical=False)
        .sign(issuer.private_key, hashes.SHA256())
    )
    return cert, key


def issue_leaf(issuer: x509.Certificate, issuer_key: rsa.RSAPrivateKey, names: list[str]) -> IssuedCertificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name(names[0]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 30 * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
    return IssuedCertificate(cert, key, (cert,))


def openssl_self_signed(directory: Path, common_name: str, *extra: str) -> tuple[Path, Path]:
    """A self-signed certificate as `openssl req -x509` makes it (basicConstraints CA:TRUE)."""
    cert, key = directory / f"{common_name}.pem", directory / f"{common_name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={common_name}",
                    "-addext", f"subjectAltName=DNS:{common_name}", *extra],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def cryptography_self_signed(common_name: str) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A self-signed CA:TRUE server certificate made with cryptography."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name(common_name))
        .issuer_name(name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 30 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def verify_failure(ctx: ssl.SSLContext, port: int, server_hostname: str) -> ssl.SSLCertVerificationError:
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        connect(ctx, port, server_hostname).close()
    return info.value


def reason(error: ssl.SSLCertVerificationError) -> str:
    """The core's account of a verification failure (the ssl-shaped message stays the stdlib's)."""
    core = getattr(error, "tls_error", None)
    assert core is not None, error
    return str(core)


# -- requests reloading the store on every connection --------------------------------------------------


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = TIMEOUT

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"hello")
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


class ContextAdapter(requests.adapters.HTTPAdapter):
    """requests with one shared SSLContext for every connection (urllib3's `ssl_context`)."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self._ctx = ctx
        super().__init__()

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        kwargs["ssl_context"] = self._ctx
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]


def test_requests_reloading_the_store_on_every_connection_keeps_it_flat(pem_dir: Path) -> None:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key")
    ctx = tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pem_dir / "ca.pem")
    with https_server(server_ctx, _Hello) as port, requests.Session() as session:
        session.mount("https://", ContextAdapter(ctx))
        sizes: list[dict[str, int]] = []
        durations: list[float] = []
        for _ in range(300):
            start = time.perf_counter()
            # verify=True: urllib3 calls ctx.load_verify_locations(<certifi's bundle>) on each new connection.
            response = session.get(f"https://localhost:{port}/", headers={"Connection": "close"}, timeout=TIMEOUT)
            durations.append(time.perf_counter() - start)
            assert response.content == b"hello"
            sizes.append(ctx.cert_store_stats())
            assert sizes[-1] == sizes[0], f"the store grew after {len(sizes)} requests: {sizes[0]} -> {sizes[-1]}"
    assert sizes[0]["x509"] > 100  # certifi's bundle (plus our CA), once
    assert len(ctx.get_ca_certs()) == sizes[0]["x509_ca"]
    first, last = sum(durations[:50]), sum(durations[-50:])
    assert last < 2 * first, f"the last 50 requests took {last:.2f}s, the first 50 {first:.2f}s"


def test_reloading_the_same_bundle_keeps_the_built_configuration(pem_dir: Path, ca: CertificateAuthority) -> None:
    ctx = tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pem_dir / "ca.pem")
    config = ctx._client_config()
    ctx.load_verify_locations(pem_dir / "ca.pem")
    ctx.load_verify_locations(cadata=ca.cert_pem().decode("ascii"))
    ctx.load_verify_locations(cadata=der(ca.certificate))
    ctx.set_default_verify_paths()
    with_system = ctx._client_config()
    ctx.set_default_verify_paths()
    ctx.load_default_certs()
    assert ctx.cert_store_stats() == {"x509": 1, "crl": 0, "x509_ca": 1}
    assert config is not with_system  # a real change rebuilds ...
    assert ctx._client_config() is with_system  # ... a repeated one does not


# -- an explicitly trusted self-signed certificate --------------------------------------------------------


@pytest.mark.parametrize("maker", ["openssl-req-x509", "cryptography"])
def test_explicitly_trusted_self_signed_server_certificate(maker: str, tmp_path: Path, serve: ServeFn) -> None:
    if maker == "openssl-req-x509":
        certfile, keyfile = openssl_self_signed(tmp_path, "selfsigned.test")
        cert = x509.load_pem_x509_certificate(certfile.read_bytes())
    else:
        cert, key = cryptography_self_signed("selfsigned.test")
        certfile, keyfile = tmp_path / "ss.pem", tmp_path / "ss.key"
        certfile.write_bytes(pem(cert))
        keyfile.write_bytes(key_pem(key))
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(certfile, keyfile)
    server_ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    server = serve(server_ctx, connections=4)
    for ctx in (tls12.create_default_context(cafile=certfile), ssl.create_default_context(cafile=certfile)):
        with connect(ctx, server.port, "selfsigned.test") as sock:
            sock.sendall(b"ping")
            assert sock.recv(10) == b"ping"
            assert peercert(sock)["subjectAltName"] == (("DNS", "selfsigned.test"),)
        # The host name is still checked.
        error = verify_failure(ctx, server.port, "other.test")
        assert "Hostname mismatch" in str(error), error


# -- partial chains and VERIFY_X509_PARTIAL_CHAIN --------------------------------------------------------


@pytest.fixture(scope="module")
def two_tier() -> tuple[CertificateAuthority, x509.Certificate, IssuedCertificate]:
    """root -> intermediate -> leaf (localhost)."""
    root = CertificateAuthority("partial chain root")
    intermediate, intermediate_key = issue_ca(root, "partial chain intermediate")
    return root, intermediate, issue_leaf(intermediate, intermediate_key, ["localhost"])


def test_trusted_intermediate_alone_is_not_an_anchor_without_partial_chain(
    two_tier: tuple[CertificateAuthority, x509.Certificate, IssuedCertificate], tmp_path: Path, serve: ServeFn
) -> None:
    _, intermediate, leaf = two_tier
    server = serve(stdlib_server(tmp_path, pem(leaf.certificate, intermediate), leaf.private_key), connections=5)
    cadata = pem(intermediate).decode("ascii")
    ours, std = tls12.create_default_context(cadata=cadata), ssl.create_default_context(cadata=cadata)
    assert not ours.verify_flags & ssl.VERIFY_X509_PARTIAL_CHAIN
    assert not std.verify_flags & ssl.VERIFY_X509_PARTIAL_CHAIN
    # Without the flag, as OpenSSL: the path must end at a self-signed root.
    verify_failure(std, server.port, "localhost")
    error = verify_failure(ours, server.port, "localhost")
    assert error.verify_message == "unable to get local issuer certificate"
    assert "'CN=partial chain intermediate' is trusted but is not a self-signed root" in reason(error)
    # With the flag, as OpenSSL: the trusted intermediate ends the path.
    for ctx in (ours, std):
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        assert ctx.verify_flags & ssl.VERIFY_X509_PARTIAL_CHAIN
        with connect(ctx, server.port) as sock:
            assert peercert(sock)["subjectAltName"] == (("DNS", "localhost"),)
    with connect(ours, server.port) as sock:
        assert sock.get_verified_chain() == [der(leaf.certificate), der(intermediate)]


@pytest.mark.parametrize("purpose", [ssl.Purpose.SERVER_AUTH, ssl.Purpose.CLIENT_AUTH], ids=["server", "client"])
def test_default_verify_flags_are_the_stdlibs(purpose: ssl.Purpose, pem_dir: Path) -> None:
    ours = tls12.create_default_context(purpose, cafile=pem_dir / "ca.pem")
    std = ssl.create_default_context(purpose, cafile=pem_dir / "ca.pem")
    assert ours.verify_flags == std.verify_flags
    plain = tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    assert plain.verify_flags == ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).verify_flags


def test_path_ends_at_the_self_signed_root_without_partial_chain(
    two_tier: tuple[CertificateAuthority, x509.Certificate, IssuedCertificate], tmp_path: Path, serve: ServeFn
) -> None:
    root, intermediate, leaf = two_tier
    server = serve(stdlib_server(tmp_path, pem(leaf.certificate), leaf.private_key))
    ctx = tls12.create_default_context(cadata=pem(intermediate, root.certificate).decode("ascii"))
    with connect(ctx, server.port) as sock:
        # The intermediate came from the store, the root ends the path.
        assert sock.get_verified_chain() == [der(leaf.certificate), der(intermediate), der(root.certificate)]


# -- the verified path, not what the server sent ---------------------------------------------------------


def test_get_verified_chain_is_the_path_and_get_unverified_chain_what_was_sent(
    ca: CertificateAuthority, leaf: IssuedCertificate, tmp_path: Path, serve: ServeFn
) -> None:
    unrelated = CertificateAuthority("an unrelated root")
    # The server appends a copy of a trusted root that has nothing to do with its path, and its own root.
    sent = [leaf.certificate, unrelated.certificate, ca.certificate]
    server = serve(stdlib_server(tmp_path, pem(*sent), leaf.private_key))
    ctx = tls12.create_default_context(cadata=pem(ca.certificate, unrelated.certificate).decode("ascii"))
    with connect(ctx, server.port) as sock:
        assert sock.get_verified_chain() == [der(leaf.certificate), der(ca.certificate)]
        assert sock.get_unverified_chain() == [der(c) for c in sent]


def test_core_connection_exposes_the_verified_path(
    ca: CertificateAuthority, leaf: IssuedCertificate
) -> None:
    unrelated = CertificateAuthority("another unrelated root")
    client = tls12.ClientConnection(tls12.ClientConfig(trust_anchors=[ca.certificate, unrelated.certificate]),
                                    server_name="localhost")
    server = tls12.ServerConnection(tls12.ServerConfig(
        certificate_chain=[leaf.certificate, unrelated.certificate], private_key=leaf.private_key))
    pump(client, server)
    assert client.handshake_complete
    assert client.peer_certificate_chain == (leaf.certificate, unrelated.certificate)
    assert client.verified_certificate_chain == (leaf.certificate, ca.certificate)
    unverified = tls12.ClientConnection(tls12.ClientConfig(verify_certificates=False), server_name="localhost")
    server = tls12.ServerConnection(tls12.ServerConfig(certificate_chain=[leaf.certificate],
                                                       private_key=leaf.private_key))
    pump(unverified, server)
    assert unverified.handshake_complete and unverified.verified_certificate_chain == ()


# -- wildcard certificates without a host-name check -----------------------------------------------------


@pytest.mark.parametrize("names", [["*.example.test"], ["*.example.test", "example.test"]])
def test_wildcard_certificate_with_check_hostname_off(
    names: list[str], ca: CertificateAuthority, tmp_path: Path, serve: ServeFn
) -> None:
    wildcard = ca.issue(names)
    server = serve(stdlib_server(tmp_path, wildcard.cert_pem(), wildcard.private_key), connections=2)
    ctx = tls12.create_default_context(cadata=ca.cert_pem().decode("ascii"))
    with connect(ctx, server.port, "www.example.test") as sock:
        assert peercert(sock)["subjectAltName"][0] == ("DNS", "*.example.test")
    ctx.check_hostname = False
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    with connect(ctx, server.port, None) as sock:
        sock.sendall(b"ping")
        assert sock.recv(10) == b"ping"
        assert peercert(sock)["subjectAltName"][0] == ("DNS", "*.example.test")


def test_wildcard_certificate_from_an_untrusted_ca_still_fails_with_check_hostname_off(
    tmp_path: Path, serve: ServeFn, ca: CertificateAuthority
) -> None:
    stranger = CertificateAuthority("stranger")
    wildcard = stranger.issue(["*.example.test"])
    server = serve(stdlib_server(tmp_path, wildcard.cert_pem(), wildcard.private_key))
    ctx = tls12.create_default_context(cadata=ca.cert_pem().decode("ascii"))
    ctx.check_hostname = False
    error = verify_failure(ctx, server.port, "www.example.test")
    assert "no trusted certificate issued 'CN=*.example.test,O=tls12 throwaway'" in reason(error)
    assert "its issuer is 'CN=stranger,O=tls12 throwaway'" in reason(error)


# -- trust stores with certificates cryptography warns about or cannot parse --------------------------------


def test_system_trust_store_loads_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        system_trust_anchors.cache_clear()
        anchors = system_trust_anchors()
        ctx = tls12.create_default_context()
        ctx._client_config()
        bundle = ssl.get_default_verify_paths().cafile
        assert bundle is not None
        ctx.load_verify_locations(bundle)
        listed = ctx.get_ca_certs()
    assert len(anchors) > 100
    assert len(listed) == ctx.cert_store_stats()["x509_ca"] > 100


def openssl_root(directory: Path, common_name: str, serial: str) -> tuple[Path, x509.Certificate, rsa.RSAPrivateKey]:
    """A root made by `openssl req -x509 -set_serial`, which takes serial numbers RFC 5280 forbids."""
    certfile, keyfile = directory / f"{serial}.pem", directory / f"{serial}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-keyout",
                    str(keyfile), "-out", str(certfile), "-subj", f"/CN={common_name}", "-set_serial", serial,
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                   check=True, capture_output=True, timeout=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cert = x509.load_pem_x509_certificate(certfile.read_bytes())
    key = serialization.load_pem_private_key(keyfile.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return certfile, cert, key


def test_zero_serial_anchor_loads_without_warnings_and_is_trusted(tmp_path: Path, serve: ServeFn) -> None:
    """Debian's bundle has two such roots (Starfield G2); cryptography warns about them."""
    certfile, root, root_key = openssl_root(tmp_path, "zero serial root", "0")
    with pytest.warns(CryptographyDeprecationWarning):
        x509.load_pem_x509_certificate(certfile.read_bytes())
    leaf = issue_leaf(root, root_key, ["localhost"])
    # The server sends the root too: our client parses it from the wire as well.
    server = serve(stdlib_server(tmp_path, pem(leaf.certificate, root), leaf.private_key))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ctx = tls12.create_default_context(cafile=certfile)
        assert ctx.cert_store_stats() == {"x509": 1, "crl": 0, "x509_ca": 1}
        std = ssl.create_default_context(cafile=certfile)
        assert ctx.get_ca_certs() == std.get_ca_certs()
        assert len(tls12.ClientConfig(cafile=certfile).trust_anchors) == 1
        with connect(ctx, server.port) as sock:
            sock.sendall(b"ping")
            assert sock.recv(10) == b"ping"
            assert sock.get_verified_chain()[-1] == der(root)
            assert sock.get_unverified_chain() == [der(leaf.certificate), der(root)]


def test_negative_serial_anchor_is_skipped_with_a_logged_reason_and_no_warning(
    tmp_path: Path, ca: CertificateAuthority, caplog: pytest.LogCaptureFixture
) -> None:
    certfile, _, _ = openssl_root(tmp_path, "negative serial root", "-1")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(certfile.read_bytes() + ca.cert_pem())
    with caplog.at_level(logging.WARNING, logger="tls12"), warnings.catch_warnings():
        warnings.simplefilter("error")
        ctx = tls12.create_default_context(cafile=bundle)
        config = tls12.ClientConfig(cafile=bundle)
    assert ctx.get_ca_certs(binary_form=True) == [der(ca.certificate)]
    assert config.trust_anchors == (ca.certificate,)
    records = [r.getMessage() for r in caplog.records if r.name == "tls12"]
    assert len(records) == 2, records
    assert all(str(bundle) in m and "#1" in m and "negative serial number" in m for m in records), records


GARBAGE = b"-----BEGIN CERTIFICATE-----\nTUlJQm5vdCBhIGNlcnRpZmljYXRlIGF0IGFsbA==\n-----END CERTIFICATE-----\n"


def test_garbage_certificate_in_a_bundle_is_skipped_with_a_logged_reason(
    ca: CertificateAuthority, pem_dir: Path, tmp_path: Path, serve: ServeFn, caplog: pytest.LogCaptureFixture
) -> None:
    other = CertificateAuthority("second good root")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(other.cert_pem() + GARBAGE + ca.cert_pem())
    server = serve(stdlib_server(tmp_path, (pem_dir / "leaf.pem").read_bytes(), _leaf_key(pem_dir)))
    with caplog.at_level(logging.WARNING, logger="tls12"), warnings.catch_warnings():
        warnings.simplefilter("error")
        ctx = tls12.create_default_context(cafile=bundle)
        config = tls12.ClientConfig(cafile=bundle)
    assert ctx.cert_store_stats() == {"x509": 2, "crl": 0, "x509_ca": 2}
    assert set(config.trust_anchors) == {ca.certificate, other.certificate}
    records = [r for r in caplog.records if r.name == "tls12"]
    assert len(records) == 2 and all(str(bundle) in r.getMessage() for r in records), records
    assert all("skipped" in r.getMessage() for r in records)
    with connect(ctx, server.port) as sock:
        sock.sendall(b"ping")
        assert sock.recv(10) == b"ping"
    # A file with nothing usable is still an error, as in the stdlib.
    only_garbage = tmp_path / "garbage.pem"
    only_garbage.write_bytes(GARBAGE)
    with pytest.raises(ssl.SSLError):
        ssl.create_default_context(cafile=only_garbage)
    with pytest.raises(ssl.SSLError):
        tls12.create_default_context(cafile=only_garbage)


def _leaf_key(pem_dir: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key((pem_dir / "leaf.key").read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key

