"""Mutual TLS through the drop-in layer, side by side with the stdlib ssl module (OpenSSL).

Every case runs three ways: tls12 on both ends, a tls12 server with a stdlib client, and a
stdlib server with a tls12 client; and once more with the stdlib on both ends, which is the
reference: the same handshakes succeed or fail, `getpeercert()` returns the same, and the
exceptions on each side carry the same class, reason, verify_code and verify_message.
In memory over `ssl.MemoryBIO`s first, then over sockets on 127.0.0.1 (plain sockets,
asyncio streams, http.server with urllib and http.client, requests and httpx).
"""

from __future__ import annotations

import datetime
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

import tls12
import tls12.sslcompat
from tls12.certs import CertificateAuthority, IssuedCertificate

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
    directory = tmp_path_factory.mktemp("clients")
    (directory / "client-ca.pem").write_bytes(client_ca.cert_pem())
    for name, cert in issued.items():
        (directory / f"{name}.pem").write_bytes(cert.cert_pem())
        (directory / f"{name}.key").write_bytes(cert.key_pem())
    return Clients(directory, issued)


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
    if server_impl == "tls12":  # (the stdlib has these from Python 3.13)
        chain = clients.der(cert) if sent else []
        assert got.server.get_unverified_chain() == chain  # type: ignore[attr-defined]
        assert got.server.get_verified_chain() == (  # type: ignore[attr-defined]
            [*chain, ssl.PEM_cert_to_DER_cert(clients.ca.read_text())] if sent else [])
    got.exchange()


# -- a client certificate the server refuses ----------------------------------------------------------

#: cert: (verify_code, verify_message, the alert's reason on the client), as OpenSSL has them.
REFUSED = {
    "stranger": (20, "unable to get local issuer certificate", "TLSV1_ALERT_UNKNOWN_CA"),
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
