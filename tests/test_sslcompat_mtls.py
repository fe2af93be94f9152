"""Mutual TLS through the drop-in layer, side by side with the stdlib ssl module (OpenSSL).

Every case runs three ways: tls12 on both ends, a tls12 server with a stdlib client, and a
stdlib server with a tls12 client; and once more with the stdlib on both ends, which is the
reference: the same handshakes succeed or fail, `getpeercert()` returns the same, and the
exceptions on each side carry the same class, reason, verify_code and verify_message.
In memory over `ssl.MemoryBIO`s first, then over sockets on 127.0.0.1 (plain sockets,
asyncio streams, http.server with urllib and http.client, requests and httpx).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import http.client
import http.server
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import requests.adapters
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import tls12
import tls12.sslcompat
from tls12 import ServerConfig, ServerConnection, SignatureScheme
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.crypto.credentials import PrivateKey
from tls12.io.ssl_errors import alert_reason

from sslcompat_support import TIMEOUT, ServeFn, connect, echo, https_server

HOST = "127.0.0.1"

#: (server, client): each runs against the reference, stdlib on both ends.
PAIRS = [("tls12", "tls12"), ("tls12", "stdlib"), ("stdlib", "tls12")]
MODES = {"CERT_NONE": ssl.CERT_NONE, "CERT_OPTIONAL": ssl.CERT_OPTIONAL, "CERT_REQUIRED": ssl.CERT_REQUIRED}


# -- the certificates: the session CA serves, a client CA issues the client certificates ----------


@dataclass(frozen=True)
class Clients:
    """PEM files on disk: `ca` is the client CA; `<name>.pem`/`<name>.key` each client certificate."""

    directory: Path
    issued: dict[str, IssuedCertificate]
    ca_certificate: x509.Certificate
    ca_key: PrivateKey

    @property
    def ca(self) -> Path:
        return self.directory / "client-ca.pem"

    def files(self, name: str) -> tuple[Path, Path]:
        return self.directory / f"{name}.pem", self.directory / f"{name}.key"

    def der(self, name: str) -> list[bytes]:
        return [c.public_bytes(serialization.Encoding.DER) for c in self.issued[name].chain]


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Clients:
    client_ca = CertificateAuthority("tls12 client CA")
    stranger = CertificateAuthority("another client CA")
    past = client_ca.now - datetime.timedelta(days=30)
    issued: dict[str, IssuedCertificate] = {
        "ecdsa": client_ca.issue(("alice.example",), key_type="ecdsa-p256", client=True),
        "rsa": client_ca.issue(("bob.example",), key_type="rsa", client=True),
        "ed25519": client_ca.issue(("carol.example",), key_type="ed25519", client=True),
        "ecdsa-2": client_ca.issue(("dave.example",), key_type="ecdsa-p256", client=True),
        "stranger": stranger.issue(("mallory.example",), key_type="ecdsa-p256", client=True),
        "expired": client_ca.issue(("alice.example",), key_type="ecdsa-p256", client=True,
                                   not_before=past - datetime.timedelta(days=1), not_after=past),
        "server-purpose": client_ca.issue(("alice.example",), key_type="ecdsa-p256"),  # serverAuth only
    }
    # Through an intermediate CA (the chain sent carries it).
    issued["via-intermediate"] = client_ca.intermediate("tls12 client issuing CA", key_type="ecdsa").issue(
        ("frank.example",), key_type="ecdsa-p256", client=True)
    # A chain that carries its own untrusted root; a self-signed certificate.
    chained = stranger.issue(("mallory.example",), key_type="ecdsa-p256", client=True)
    issued["stranger-with-root"] = IssuedCertificate(chained.certificate, chained.private_key,
                                                     (*chained.chain, stranger.certificate), chained.key_type)
    self_signed = CertificateAuthority("mallory.example", key_type="ecdsa-p256")
    issued["self-signed"] = IssuedCertificate(self_signed.certificate, self_signed.private_key,
                                              (self_signed.certificate,), self_signed.key_type)
    directory = tmp_path_factory.mktemp("clients")
    (directory / "client-ca.pem").write_bytes(client_ca.cert_pem())
    for name, cert in issued.items():
        (directory / f"{name}.pem").write_bytes(cert.cert_pem())
        (directory / f"{name}.key").write_bytes(cert.key_pem())
    return Clients(directory, issued, client_ca.certificate, client_ca.private_key)


def context_class(impl: str) -> type[ssl.SSLContext]:
    return tls12.SSLContext if impl == "tls12" else ssl.SSLContext


def server_context(impl: str, pem_dir: Path, mode: ssl.VerifyMode = ssl.CERT_REQUIRED,
                   client_ca: Path | None = None) -> ssl.SSLContext:
    ctx = context_class(impl)(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key")
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # what tls12 speaks: the reference speaks it too
    ctx.verify_mode = mode
    if client_ca is not None:
        ctx.load_verify_locations(client_ca)
    return ctx


def client_context(impl: str, pem_dir: Path, clients: Clients, *certs: str) -> ssl.SSLContext:
    ctx = context_class(impl)(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pem_dir / "ca.pem")
    for name in certs:
        ctx.load_cert_chain(*clients.files(name))
    return ctx


# -- one handshake in memory ---------------------------------------------------------------------


@dataclass
class Outcome:
    server: ssl.SSLObject
    client: ssl.SSLObject
    server_error: ssl.SSLError | None
    client_error: ssl.SSLError | None
    #: Each side's (incoming, outgoing) BIOs.
    bios: dict[str, tuple[ssl.MemoryBIO, ssl.MemoryBIO]]

    @property
    def ok(self) -> bool:
        return self.server_error is None and self.client_error is None

    def deliver(self, sender: str) -> None:
        """What `sender` ("server" or "client") wrote, to the other side."""
        other = "client" if sender == "server" else "server"
        self.bios[other][0].write(self.bios[sender][1].read())

    def exchange(self) -> None:
        """The connection carries data both ways."""
        self.client.write(b"ping")
        self.deliver("client")
        assert self.server.read(4) == b"ping"
        self.server.write(b"pong")
        self.deliver("server")
        assert self.client.read(4) == b"pong"


def handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> Outcome:
    """Both ends over MemoryBIOs until each has finished or failed; what each raised."""
    bios = {side: (ssl.MemoryBIO(), ssl.MemoryBIO()) for side in ("server", "client")}
    server = server_ctx.wrap_bio(*bios["server"], server_side=True)
    client = client_ctx.wrap_bio(*bios["client"], server_hostname="localhost")
    outcome = Outcome(server, client, None, None, bios)
    finished = set()
    for _ in range(10):
        for side, obj in (("client", client), ("server", server)):
            if side in finished:
                continue
            try:
                obj.do_handshake()
                finished.add(side)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                setattr(outcome, f"{side}_error", exc)
                finished.add(side)
            outcome.deliver(side)
        if len(finished) == 2:
            return outcome
    raise AssertionError("the handshake stalled")


def shape(error: ssl.SSLError | None) -> tuple[Any, ...] | None:
    """What a program can see of an exception: its stdlib class, the fields, the message up to the
    detail in parentheses (the stdlib's names its C source line, tls12's the core's reason)."""
    if error is None:
        return None
    kind = next(c for c in (ssl.SSLCertVerificationError, ssl.SSLEOFError, ssl.SSLError) if isinstance(error, c))
    return (kind.__name__, error.errno, error.library, error.reason, getattr(error, "verify_code", None),
            getattr(error, "verify_message", None), str(error).split(" (")[0])


def ours(impl: str, error: ssl.SSLError | None) -> None:
    """tls12 raises its own subclasses of the stdlib's exceptions."""
    if impl == "tls12" and error is not None:
        assert isinstance(error, tls12.sslcompat.SSLError)
        assert isinstance(error.tls_error, tls12.TLSError)


_REFERENCE: dict[tuple[Any, ...], Outcome] = {}


def reference(pem_dir: Path, clients: Clients, mode: ssl.VerifyMode, cert: str | None,
              anchors: bool = True) -> Outcome:
    """The same handshake with the stdlib on both ends (once per case)."""
    key = (mode, cert, anchors)
    if key not in _REFERENCE:
        _REFERENCE[key] = handshake(server_context("stdlib", pem_dir, mode, clients.ca if anchors else None),
                                    client_context("stdlib", pem_dir, clients, *([cert] if cert else [])))
    return _REFERENCE[key]


# -- each policy, each kind of client key -----------------------------------------------------------


@pytest.mark.parametrize("cert", [None, "ecdsa", "rsa", "ed25519"])
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(("server_impl", "client_impl"), PAIRS)
def test_policy_as_the_stdlib(server_impl: str, client_impl: str, mode: str, cert: str | None,
                              pem_dir: Path, clients: Clients) -> None:
    verify_mode = MODES[mode]
    server_ctx = server_context(server_impl, pem_dir, verify_mode, clients.ca)
    assert server_ctx.verify_mode == verify_mode
    got = handshake(server_ctx, client_context(client_impl, pem_dir, clients, *([cert] if cert else [])))
    want = reference(pem_dir, clients, verify_mode, cert)
    assert (shape(got.server_error), shape(got.client_error)) == (shape(want.server_error), shape(want.client_error))
    ours(server_impl, got.server_error)
    ours(client_impl, got.client_error)
    if not want.ok:
        assert (verify_mode, cert) == (ssl.CERT_REQUIRED, None)  # the one failure in this table
        return
    peercert = got.server.getpeercert()
    assert peercert == want.server.getpeercert()
    assert got.server.getpeercert(True) == want.server.getpeercert(True)
    sent = cert is not None and verify_mode != ssl.CERT_NONE
    if sent:
        assert peercert == ssl._ssl._test_decode_cert(str(clients.files(cert)[0]))  # type: ignore[attr-defined]
        assert got.server.getpeercert(True) == clients.der(cert)[0]
    else:
        assert peercert is None  # CERT_NONE asks for none; a client without one sends none
    if server_impl == "tls12":
        chain = clients.der(cert) if sent else []
        assert got.server.get_unverified_chain() == chain  # type: ignore[attr-defined]
        assert got.server.get_verified_chain() == (  # type: ignore[attr-defined]
            [*chain, ssl.PEM_cert_to_DER_cert(clients.ca.read_text())] if sent else [])
        if hasattr(want.server, "get_verified_chain"):  # the stdlib's, from Python 3.13
            assert got.server.get_unverified_chain() == want.server.get_unverified_chain()
            assert got.server.get_verified_chain() == want.server.get_verified_chain()
    got.exchange()


# -- a client certificate the server refuses ----------------------------------------------------------

#: cert: (verify_code, verify_message, the alert's reason on the client), as OpenSSL has them.
REFUSED = {
    "stranger": (20, "unable to get local issuer certificate", "TLSV1_ALERT_UNKNOWN_CA"),
    "stranger-with-root": (19, "self-signed certificate in certificate chain", "TLSV1_ALERT_UNKNOWN_CA"),
    "self-signed": (18, "self-signed certificate", "TLSV1_ALERT_UNKNOWN_CA"),
    "expired": (10, "certificate has expired", "SSLV3_ALERT_CERTIFICATE_EXPIRED"),
    "server-purpose": (26, "unsuitable certificate purpose", "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE"),
}


@pytest.mark.parametrize("cert", list(REFUSED))
@pytest.mark.parametrize("mode", ["CERT_OPTIONAL", "CERT_REQUIRED"])
@pytest.mark.parametrize(("server_impl", "client_impl"), PAIRS)
def test_refused_client_certificate_raises_as_the_stdlib(server_impl: str, client_impl: str, mode: str, cert: str,
                                                         pem_dir: Path, clients: Clients) -> None:
    got = handshake(server_context(server_impl, pem_dir, MODES[mode], clients.ca),
                    client_context(client_impl, pem_dir, clients, cert))
    want = reference(pem_dir, clients, MODES[mode], cert)
    code, message, alert = REFUSED[cert]
    # The reference says what OpenSSL does; each implementation does the same.
    assert isinstance(want.server_error, ssl.SSLCertVerificationError)
    assert (want.server_error.verify_code, want.server_error.verify_message) == (code, message)
    assert want.client_error is not None and want.client_error.reason == alert
    assert shape(got.server_error) == shape(want.server_error)
    assert shape(got.client_error) == shape(want.client_error)
    assert isinstance(got.server_error, ssl.SSLCertVerificationError)
    ours(server_impl, got.server_error)
    ours(client_impl, got.client_error)


def test_required_certificate_missing_raises_as_the_stdlib(pem_dir: Path, clients: Clients) -> None:
    """Spelled out, what the policy table checks against the reference for CERT_REQUIRED without a
    certificate: the server's own reason, and the handshake_failure alert on the client."""
    for server_impl, client_impl in PAIRS:
        got = handshake(server_context(server_impl, pem_dir, ssl.CERT_REQUIRED, clients.ca),
                        client_context(client_impl, pem_dir, clients))
        assert got.server_error is not None and got.client_error is not None
        assert not isinstance(got.server_error, ssl.SSLCertVerificationError)
        assert got.server_error.reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
        assert str(got.server_error).startswith("[SSL: PEER_DID_NOT_RETURN_A_CERTIFICATE] peer did not return a "
                                                "certificate")
        assert got.client_error.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE"
        assert str(got.client_error).startswith("[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure")


@pytest.mark.parametrize("cert", [None, "ecdsa"])
@pytest.mark.parametrize("mode", ["CERT_OPTIONAL", "CERT_REQUIRED"])
@pytest.mark.parametrize(("server_impl", "client_impl"), PAIRS)
def test_no_client_trust_anchors_as_the_stdlib(server_impl: str, client_impl: str, mode: str, cert: str | None,
                                               pem_dir: Path, clients: Clients) -> None:
    """A server that asks with nothing loaded to verify against: any certificate is from an unknown
    CA; without one, CERT_OPTIONAL connects and CERT_REQUIRED fails."""
    got = handshake(server_context(server_impl, pem_dir, MODES[mode]),
                    client_context(client_impl, pem_dir, clients, *([cert] if cert else [])))
    want = reference(pem_dir, clients, MODES[mode], cert, anchors=False)
    assert shape(got.server_error) == shape(want.server_error)
    assert shape(got.client_error) == shape(want.client_error)
    if cert is not None:
        assert getattr(got.server_error, "verify_code", None) == 20
    elif mode == "CERT_OPTIONAL":
        assert got.ok and got.server.getpeercert() is None
        got.exchange()


# -- several certificates on a client; the store of a server ----------------------------------------


def test_client_offers_each_kind_of_key_and_the_core_picks(pem_dir: Path, ca: CertificateAuthority,
                                                           clients: Clients) -> None:
    """RSA and ECDSA loaded on one client context: the server's CertificateRequest decides which is sent."""
    ctx = client_context("tls12", pem_dir, clients, "rsa", "ecdsa")
    rsa_only = (SignatureScheme.RSA_PSS_RSAE_SHA256, SignatureScheme.RSA_PKCS1_SHA256)
    ecdsa_only = (SignatureScheme.ECDSA_SECP256R1_SHA256,)
    for key_type, schemes, expected in (("rsa", rsa_only, "rsa"), ("ecdsa-p256", ecdsa_only, "ecdsa")):
        server_leaf = ca.issue(("localhost",), key_type=key_type)
        server = ServerConnection(ServerConfig(
            certificate_chain=server_leaf.chain, private_key=server_leaf.private_key, signature_schemes=schemes,
            client_auth="required", client_trust_anchors=[clients.ca_certificate]))
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
        for _ in range(10):
            with contextlib.suppress(ssl.SSLWantReadError):
                obj.do_handshake()
            if data := outgoing.read():
                server.receive_data(data)
            incoming.write(server.data_to_send())
            if server.handshake_complete:
                break
        assert server.handshake_complete
        assert server.peer_certificate_chain[0] == clients.issued[expected].certificate


@pytest.mark.parametrize("client_impl", ["tls12", "stdlib"])
def test_a_second_certificate_of_one_kind_replaces_the_first(client_impl: str, pem_dir: Path,
                                                             clients: Clients) -> None:
    """As in OpenSSL: a second ECDSA certificate takes the first one's place."""
    got = handshake(server_context("stdlib", pem_dir, ssl.CERT_REQUIRED, clients.ca),
                    client_context(client_impl, pem_dir, clients, "ecdsa", "ecdsa-2"))
    assert got.ok
    assert got.server.getpeercert(True) == clients.der("ecdsa-2")[0]


def test_loading_the_same_client_certificate_again_keeps_the_configuration(pem_dir: Path, clients: Clients) -> None:
    """urllib3 calls load_cert_chain() for every connection it opens."""
    ctx = client_context("tls12", pem_dir, clients, "ecdsa")
    assert isinstance(ctx, tls12.SSLContext)
    config = ctx._client_config()
    ctx.load_cert_chain(*clients.files("ecdsa"))
    assert ctx._client_config() is config
    ctx.load_cert_chain(*clients.files("rsa"))
    assert ctx._client_config() is not config
    assert [c.chain[0] for c in ctx._client_config().client_credentials] == [
        clients.issued["ecdsa"].certificate, clients.issued["rsa"].certificate]


def test_create_default_context_for_client_auth_as_the_stdlib(pem_dir: Path, clients: Clients) -> None:
    made = [tls12.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=clients.ca),
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=clients.ca)]
    assert isinstance(made[0], tls12.SSLContext)
    assert [(c.protocol, c.verify_mode, c.check_hostname) for c in made] == [
        (ssl.PROTOCOL_TLS_SERVER, ssl.CERT_NONE, False)] * 2  # the CA is loaded, but nothing is asked
    outcomes = []
    for ctx in made:
        ctx.load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key")
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        outcomes.append(handshake(ctx, client_context("tls12", pem_dir, clients, "ecdsa")))
        ctx.verify_mode = ssl.CERT_REQUIRED
        outcomes.append(handshake(ctx, client_context("tls12", pem_dir, clients, "ecdsa")))
    assert [o.ok for o in outcomes] == [True] * 4
    assert [o.server.getpeercert(True) for o in outcomes] == [None, clients.der("ecdsa")[0]] * 2


def _capath(clients: Clients, directory: Path) -> Path:
    """The client CA in a directory under its OpenSSL subject hash, as OpenSSL looks a capath up."""
    subject_hash = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(clients.ca)], check=True,
                                  capture_output=True, text=True, timeout=30).stdout.strip()
    (directory / f"{subject_hash}.0").write_bytes(clients.ca.read_bytes())
    return directory


@pytest.mark.parametrize("source", ["cafile", "capath", "cadata-pem", "cadata-der", "default-certs"])
@pytest.mark.parametrize("server_impl", ["tls12", "stdlib"])
def test_each_way_of_loading_the_client_trust_store(server_impl: str, source: str, pem_dir: Path,
                                                    clients: Clients, tmp_path: Path) -> None:
    """load_verify_locations() in each form, and load_default_certs(): the system's roots issued no
    certificate of ours, so a client certificate is then from an unknown CA, as in OpenSSL."""
    ctx = server_context(server_impl, pem_dir, ssl.CERT_REQUIRED)
    if source == "cafile":
        ctx.load_verify_locations(cafile=clients.ca)
    elif source == "capath":
        ctx.load_verify_locations(capath=_capath(clients, tmp_path))
    elif source == "cadata-pem":
        ctx.load_verify_locations(cadata=clients.ca.read_text())
    elif source == "cadata-der":
        ctx.load_verify_locations(cadata=ssl.PEM_cert_to_DER_cert(clients.ca.read_text()))
    else:
        ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    got = handshake(ctx, client_context("tls12", pem_dir, clients, "ecdsa"))
    if source == "default-certs":
        assert getattr(got.server_error, "verify_code", None) == 20
        assert got.client_error is not None and got.client_error.reason == "TLSV1_ALERT_UNKNOWN_CA"
    else:
        assert got.ok, (got.server_error, got.client_error)
        assert got.server.getpeercert(True) == clients.der("ecdsa")[0]


# -- over sockets on 127.0.0.1 ----------------------------------------------------------------------


def whoami(sock: ssl.SSLSocket) -> tuple[Any, bytes | None, bytes]:
    """A server handler: the client's certificate as getpeercert() has it, then an echo."""
    return sock.getpeercert(), sock.getpeercert(True), echo(sock)


@pytest.mark.parametrize(("server_impl", "client_impl"), PAIRS)
def test_sockets(server_impl: str, client_impl: str, pem_dir: Path, clients: Clients, serve: ServeFn) -> None:
    server = serve(server_context(server_impl, pem_dir, ssl.CERT_REQUIRED, clients.ca), whoami)
    with connect(client_context(client_impl, pem_dir, clients, "ed25519"), server.port) as sock:
        sock.sendall(b"ping")
        assert sock.recv(4) == b"ping"
    peercert, der, echoed = server.result()
    assert peercert == ssl._ssl._test_decode_cert(str(clients.files("ed25519")[0]))  # type: ignore[attr-defined]
    assert der == clients.der("ed25519")[0]
    assert echoed == b"ping"


@pytest.mark.parametrize("client_impl", ["tls12", "stdlib"])
@pytest.mark.parametrize("cert", [None, "stranger"])
def test_sockets_refused(client_impl: str, cert: str | None, pem_dir: Path, clients: Clients,
                         serve: ServeFn) -> None:
    """A tls12 server refuses the client, and the client reads why (the server's own failure and
    the client's are those of the in-memory tests; over a socket the alert arrives, not a reset)."""
    server = serve(server_context("tls12", pem_dir, ssl.CERT_REQUIRED, clients.ca), whoami)
    with pytest.raises(ssl.SSLError) as info:
        connect(client_context(client_impl, pem_dir, clients, *([cert] if cert else [])), server.port)
    refused = server.error()
    if cert is None:
        assert info.value.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE"
        assert isinstance(refused, ssl.SSLError) and refused.reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    else:
        assert info.value.reason == "TLSV1_ALERT_UNKNOWN_CA"
        assert isinstance(refused, ssl.SSLCertVerificationError) and refused.verify_code == 20


# -- asyncio streams ----------------------------------------------------------------------------------


async def _asyncio_round(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> list[Any]:
    """start_server() and open_connection() with these contexts: one line echoed; what the server's
    get_extra_info('peercert') said."""
    seen: list[Any] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(writer.get_extra_info("peercert"))
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async with asyncio.timeout(3 * TIMEOUT):
        server = await asyncio.start_server(handle, HOST, 0, ssl=server_ctx)
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection(HOST, port, ssl=client_ctx, server_hostname="localhost")
            writer.write(b"who am I\n")
            assert await reader.readline() == b"who am I\n"
            writer.close()
            await writer.wait_closed()
            server.close()
            await server.wait_closed()
    return seen


@pytest.mark.parametrize(("server_impl", "client_impl"), [*PAIRS, ("stdlib", "stdlib")])
def test_asyncio_streams(server_impl: str, client_impl: str, pem_dir: Path, clients: Clients) -> None:
    seen = asyncio.run(_asyncio_round(server_context(server_impl, pem_dir, ssl.CERT_REQUIRED, clients.ca),
                                      client_context(client_impl, pem_dir, clients, "ecdsa")))
    assert seen == [ssl._ssl._test_decode_cert(str(clients.files("ecdsa")[0]))]  # type: ignore[attr-defined]


def test_asyncio_client_without_a_certificate_is_refused(pem_dir: Path, clients: Clients) -> None:
    """asyncio closes the transport of a failed server handshake without sending what the TLS object
    queued (the ssl module's alert too), so the client sees the connection end during its handshake,
    which asyncio reports as ConnectionResetError: the same with either server context."""
    for server_impl in ("stdlib", "tls12"):
        with pytest.raises(ConnectionResetError):
            asyncio.run(_asyncio_round(server_context(server_impl, pem_dir, ssl.CERT_REQUIRED, clients.ca),
                                       client_context("tls12", pem_dir, clients)))


# -- http.server, urllib, http.client, requests, httpx ---------------------------------------------


class WhoAmI(http.server.BaseHTTPRequestHandler):
    """Answers with the common name of the client's certificate."""

    protocol_version = "HTTP/1.1"
    timeout = TIMEOUT

    def do_GET(self) -> None:
        cert = self.connection.getpeercert()  # type: ignore[attr-defined]
        names = dict(pair for rdn in cert["subject"] for pair in rdn) if cert else {}
        body = names.get("commonName", "nobody").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def mtls_https(pem_dir: Path, clients: Clients) -> Iterator[int]:
    """http.server requiring client certificates of the client CA, on tls12."""
    with https_server(server_context("tls12", pem_dir, ssl.CERT_REQUIRED, clients.ca), WhoAmI) as port:
        yield port


@pytest.mark.parametrize("server_impl", ["tls12", "stdlib"])
def test_urllib_and_http_client_with_a_client_certificate(server_impl: str, pem_dir: Path, clients: Clients) -> None:
    ctx = client_context("tls12", pem_dir, clients, "rsa")
    with https_server(server_context(server_impl, pem_dir, ssl.CERT_REQUIRED, clients.ca), WhoAmI) as port:
        with urllib.request.urlopen(f"https://localhost:{port}/", context=ctx, timeout=TIMEOUT) as response:
            assert response.read() == b"bob.example"
        conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=TIMEOUT)
        try:
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"bob.example"
        finally:
            conn.close()


def test_urllib_without_a_client_certificate_is_refused(mtls_https: int, pem_dir: Path, clients: Clients) -> None:
    with pytest.raises(urllib.error.URLError) as info:
        urllib.request.urlopen(f"https://localhost:{mtls_https}/", context=client_context("tls12", pem_dir, clients),
                               timeout=TIMEOUT)
    assert isinstance(info.value.reason, ssl.SSLError)
    assert info.value.reason.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE"


class ContextAdapter(requests.adapters.HTTPAdapter):
    """requests with one SSLContext for every connection (urllib3's `ssl_context`)."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self._ctx = ctx
        super().__init__()

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        kwargs["ssl_context"] = self._ctx
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]


def test_requests_cert_argument_on_a_tls12_context(mtls_https: int, pem_dir: Path, clients: Clients) -> None:
    """requests' cert=(certfile, keyfile) reaches the context as urllib3's load_cert_chain() call, once
    per connection: the same certificate each time keeps the configuration."""
    ctx = client_context("tls12", pem_dir, clients)
    assert isinstance(ctx, tls12.SSLContext)
    with requests.Session() as session:
        session.mount("https://", ContextAdapter(ctx))
        url = f"https://localhost:{mtls_https}/"
        first = session.get(url, cert=tuple(map(str, clients.files("ecdsa"))), verify=str(pem_dir / "ca.pem"),
                            timeout=TIMEOUT)
        assert first.text == "alice.example"
        config = ctx._client_config()
        again = session.get(url, cert=tuple(map(str, clients.files("ecdsa"))), verify=str(pem_dir / "ca.pem"),
                            timeout=TIMEOUT)
        assert again.text == "alice.example"
        assert ctx._client_config() is config


def test_httpx_with_load_cert_chain(mtls_https: int, pem_dir: Path, clients: Clients) -> None:
    ctx = client_context("tls12", pem_dir, clients, "ed25519")
    with httpx.Client(verify=ctx, timeout=TIMEOUT) as client:
        assert client.get(f"https://localhost:{mtls_https}/").text == "carol.example"


def test_client_identity_fields_as_the_stdlib(pem_dir: Path, clients: Clients, tmp_path: Path) -> None:
    """What servers read a client's identity from: an e-mail address in the subject and the
    subjectAltName (rfc822Name), an organizational unit, a SPIFFE-style URI."""
    ca_key = clients.ca_key
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tls12 throwaway"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "billing"),
            x509.NameAttribute(NameOID.COMMON_NAME, "erin"),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, "erin@example.com"),
        ]))
        .issuer_name(clients.ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.SubjectAlternativeName([
            x509.RFC822Name("erin@example.com"),
            x509.UniformResourceIdentifier("spiffe://example.com/billing/erin"),
        ]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    certfile, keyfile = tmp_path / "erin.pem", tmp_path / "erin.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    seen = []
    for server_impl, client_impl in [*PAIRS, ("stdlib", "stdlib")]:
        client_ctx = client_context(client_impl, pem_dir, clients)
        client_ctx.load_cert_chain(certfile, keyfile)
        got = handshake(server_context(server_impl, pem_dir, ssl.CERT_REQUIRED, clients.ca), client_ctx)
        assert got.ok, (got.server_error, got.client_error)
        seen.append(got.server.getpeercert())
    assert seen == [ssl._ssl._test_decode_cert(str(certfile))] * 4  # type: ignore[attr-defined]
    assert ("email", "erin@example.com") in seen[0]["subjectAltName"]


@pytest.mark.parametrize(("chain", "code"), [("self-signed", 18), ("root-sent", 19)])
def test_untrusted_self_signed_server_chain_as_the_stdlib(chain: str, code: int, pem_dir: Path,
                                                          tmp_path: Path) -> None:
    """The same verify codes on a client, for the server's chain: a self-signed server certificate
    (18), a chain that carries its own untrusted root (19)."""
    if chain == "self-signed":
        root = CertificateAuthority("localhost")
        issued = IssuedCertificate(root.certificate, root.private_key, (root.certificate,), root.key_type)
    else:
        root = CertificateAuthority("untrusted root")
        leaf = root.issue(("localhost",))
        issued = IssuedCertificate(leaf.certificate, leaf.private_key, (*leaf.chain, root.certificate), leaf.key_type)
    (tmp_path / "leaf.pem").write_bytes(issued.cert_pem())
    (tmp_path / "leaf.key").write_bytes(issued.key_pem())
    errors = []
    for client_impl in ("stdlib", "tls12"):
        client_ctx = context_class(client_impl)(ssl.PROTOCOL_TLS_CLIENT)
        client_ctx.load_verify_locations(pem_dir / "ca.pem")
        got = handshake(server_context("stdlib", tmp_path, ssl.CERT_NONE), client_ctx)
        errors.append(got.client_error)
    assert isinstance(errors[0], ssl.SSLCertVerificationError) and errors[0].verify_code == code
    assert shape(errors[1]) == shape(errors[0])


@pytest.mark.parametrize(("server_impl", "client_impl"), PAIRS)
def test_client_chain_through_an_intermediate(server_impl: str, client_impl: str, pem_dir: Path,
                                              clients: Clients) -> None:
    got = handshake(server_context(server_impl, pem_dir, ssl.CERT_REQUIRED, clients.ca),
                    client_context(client_impl, pem_dir, clients, "via-intermediate"))
    want = reference(pem_dir, clients, ssl.CERT_REQUIRED, "via-intermediate")
    assert got.ok and want.ok
    assert got.server.getpeercert() == want.server.getpeercert()
    if server_impl == "tls12":
        sent = clients.der("via-intermediate")
        assert len(sent) == 2
        assert got.server.get_unverified_chain() == sent  # type: ignore[attr-defined]
        assert got.server.get_verified_chain() == [  # type: ignore[attr-defined]
            *sent, ssl.PEM_cert_to_DER_cert(clients.ca.read_text())]


def test_alert_reasons_are_the_ssl_modules() -> None:
    """Every alert's reason is the name the ssl module gives OpenSSL's error for it (its table of
    (library, reason code) -> name; an alert is reason 1000 + its description in the SSL library)."""
    names = ssl._ssl.err_codes_to_names  # type: ignore[attr-defined]
    lib_ssl = 20
    known = {code - 1000: name for (lib, code), name in names.items() if lib == lib_ssl and 1000 <= code < 1256}
    assert len(known) >= 30
    for description, name in known.items():
        assert alert_reason(tls12.AlertDescription(description)) == name
