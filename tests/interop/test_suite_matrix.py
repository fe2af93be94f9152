"""Every suite tls12 speaks with every certificate key type, against every peer that has it, both roles.

The matrix: RSA certificates with ECDHE_RSA, DHE_RSA and static RSA (each with the ciphers it has:
AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305; static RSA has the two AES-GCM ones), and ECDSA
P-256 / P-384 / P-521 and Ed25519 certificates with ECDHE_ECDSA (three ciphers). Every leaf is
issued by the interop CA, an RSA root, so the ECDSA and Ed25519 chains mix key types.

Each connection enables one suite on our side (our server's `cipher_suites`, or our client's), so
the suite is not a matter of preference: the peer runs with its own defaults, except where a peer
needs a suite switched on (said where it is done). A connection passes when the handshake gives
that suite, the signature (or, for static RSA, none) fits the certificate's key, application data
goes both ways and it closes cleanly. Combinations a peer cannot do are not in the parametrization
at all: `LIMITS` lists them with the reason, and tests/interop/README.md shows the same table.

One test runs every suite of one key type with one peer in one role, so the peer's server is
started once per key type where it serves several connections (s_server, gnutls-serv, selfserv,
botan tls_server) and the peer's client once per connection.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from interop_support import (
    ALL_SUITES,
    LOOPBACK,
    PEERS,
    App,
    ClientScript,
    EchoApp,
    HttpApp,
    Leaf,
    Matrix,
    NetnsServer,
    Pki,
    Proc,
    SessionResult,
    Suite,
    drive_stdin_client,
    echo_server_app,
    free_port,
    key_auth,
    our_server,
    report_line,
    require_tool,
    run,
    run_client,
    start_peer_server,
    wait_listening,
)

from tls12.enums import CipherSuite

PEER = "?"
pytestmark = pytest.mark.interop

KEY_TYPES = ("rsa", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519")


def suites_for(key_type: str) -> tuple[Suite, ...]:
    """The suites a certificate of `key_type` serves."""
    return tuple(s for s in ALL_SUITES if s.auth == key_auth(key_type))


# -- what each peer cannot do ----------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """Combinations a peer does not have: left out of the matrix, with the reason."""

    peer: str
    roles: tuple[str, ...]  # "server": our server <- its client; "client": our client -> its server
    reason: str
    kx: str | None = None  # ECDHE, DHE, RSA
    key_types: tuple[str, ...] = ()

    def excludes(self, peer: str, role: str, suite: Suite, key_type: str) -> bool:
        return (peer == self.peer and role in self.roles
                and (self.kx is None or suite.kx == self.kx)
                and (not self.key_types or key_type in self.key_types))


BOTH = ("server", "client")
LIMITS: tuple[Limit, ...] = (
    Limit("go", BOTH, "Go's crypto/tls has no finite-field DHE key exchange", kx="DHE"),
    Limit("chromium", ("server",), "BoringSSL has no DHE suites", kx="DHE"),
    Limit("chromium", ("server",), "Chromium removed the static RSA key exchange (Chrome 131)", kx="RSA"),
    Limit("chromium", ("server",), "Chromium does not list secp521r1 in supported_groups, so a P-521 "
          "certificate may not be used with it (RFC 8422 §5.1)", key_types=("ecdsa-p521",)),
    Limit("chromium", ("server",), "Chromium does not list ed25519 in signature_algorithms", key_types=("ed25519",)),
    Limit("nss", BOTH, "NSS has no Ed25519 signatures in TLS", key_types=("ed25519",)),
    Limit("botan", BOTH, "Botan 2 has no Ed25519 signatures in TLS 1.2", key_types=("ed25519",)),
)

#: Which roles each peer has: its client against our server, its server against our client.
ROLES: dict[str, tuple[str, ...]] = {
    "openssl": BOTH, "curl": ("server",), "gnutls": BOTH, "nss": BOTH, "java": BOTH, "go": BOTH,
    "botan": BOTH, "chromium": ("server",), "tlslite": BOTH,
}


def plan(peer: str, role: str) -> list[tuple[str, tuple[Suite, ...]]]:
    """(key type, its suites) for `peer` in `role`, without what LIMITS leaves out."""
    out = []
    for key_type in KEY_TYPES:
        suites = tuple(s for s in suites_for(key_type)
                       if not any(lim.excludes(peer, role, s, key_type) for lim in LIMITS))
        if suites:
            out.append((key_type, suites))
    return out


def cases(role: str) -> list[pytest.param]:  # type: ignore[valid-type]
    return [pytest.param(peer, key_type, suites, id=f"{peer}-{key_type}")
            for peer, roles in ROLES.items() if role in roles for key_type, suites in plan(peer, role)]


# -- what every connection must show -------------------------------------------------------------

#: The signature scheme our server uses with each key: the key's own curve and hash (RFC 8446 §4.2.3
#: names, which TLS 1.2 shares), Ed25519, or an RSA one.
OUR_SCHEME = {"ecdsa-p256": "ecdsa_secp256r1_sha256", "ecdsa-p384": "ecdsa_secp384r1_sha384",
              "ecdsa-p521": "ecdsa_secp521r1_sha512", "ed25519": "ed25519"}


def check(r: SessionResult, suite: Suite, key_type: str) -> None:
    assert r.error is None, f"our {r.role} failed: {r.error}"
    assert r.handshake and (r.version, r.suite) == ("TLSv1.2", suite.iana), r
    if suite.kx == "RSA":
        assert (r.group, r.signature_scheme) == (None, None), r
    else:
        assert r.signature_scheme is not None, r
        if key_type == "rsa":
            assert r.signature_scheme.startswith("rsa_"), r.signature_scheme
        elif r.role == "server":
            assert r.signature_scheme == OUR_SCHEME[key_type], r.signature_scheme
        else:  # the peer's server signs: with ECDSA for an ECDSA key (TLS 1.2 does not bind the hash)
            assert r.signature_scheme.startswith("ecdsa_" if key_type.startswith("ecdsa") else "ed25519"), r
        if suite.kx == "DHE" and r.role == "server":
            # RFC 7919 §4: a group the client lists, at least as strong as our 2048-bit key; or, for a
            # client listing none, our first one. ffdhe2048 either way (every client here lists it first).
            assert r.group == "ffdhe2048", r
        elif suite.kx == "DHE":
            # A server may send any (p, g): an RFC 7919 group is named, another one (OpenSSL's built-in
            # groups) is not, and our client has checked it has 2048 bits or more.
            assert r.group is None or r.group.startswith("ffdhe"), r
        elif r.role == "server":
            # Our first group, x25519, is in every peer client's supported_groups.
            assert r.group == "x25519", r
        else:
            # The peer's server chooses among our groups: x25519 mostly, but NSS takes its ECDSA
            # certificate's curve (secp384r1 with a P-384 key, secp521r1 with a P-521 key).
            assert r.group in ("x25519", "secp256r1", "secp384r1", "secp521r1", "x448"), r
    assert r.sent > 0 and r.received > 0, r
    assert r.clean, f"not a clean close: {r}"


def record(matrix: Matrix, role: str, peer: str, suite: Suite, key_type: str) -> dict[str, object]:
    row = matrix.row(role, f"{suite.openssl} / {key_type}", peer=peer)
    row.details.update({"matrix_suite": suite.openssl, "matrix_kx": suite.kx, "matrix_auth": suite.auth,
                        "matrix_cipher": suite.cipher, "key_type": key_type})
    return row.details


def run_all(suites: tuple[Suite, ...], one: Callable[[Suite], None]) -> None:
    """Run `one` for every suite, then fail with every suite that failed (not only the first). A suite's
    row says `suite_ok` when its connection passed, so the matrix shows which suites of a test failed."""
    failures: list[str] = []
    for suite in suites:
        try:
            one(suite)
        except AssertionError as exc:
            failures.append(f"{suite.openssl}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)


# -- our server <- the peer's client ---------------------------------------------------------------

MESSAGE = b"one suite, one key type\n"


class PeerClient(Protocol):
    def __call__(self, port: int, pki: Pki, suite: Suite, key_type: str, tmp: Path) -> None: ...


def openssl_client(port: int, pki: Pki, suite: Suite, key_type: str, tmp: Path) -> None:
    # s_client's default list has every suite of ours, DHE and static RSA included.
    require_tool("openssl")
    rc, text = drive_stdin_client(
        ["openssl", "s_client", "-connect", f"{LOOPBACK}:{port}", "-servername", "localhost", "-CAfile",
         str(pki.ca_pem), "-verify_return_error", "-verify_hostname", "localhost"],
        name="s_client", message=MESSAGE, closed_first="peer")
    assert rc == 0 and f"Cipher    : {suite.openssl}" in text and "Verify return code: 0 (ok)" in text, text


def curl_client(port: int, pki: Pki, suite: Suite, key_type: str, tmp: Path) -> None:
    require_tool("curl")
    rc, text = run(["curl", "-sS", "-v", "--max-time", "20", "--cacert", pki.ca_pem, "--resolve",
                    f"localhost:{port}:127.0.0.1", "-o", tmp / "page.html", f"https://localhost:{port}/"],
                   name="curl", timeout=30)
    assert rc == 0 and f"SSL connection using TLSv1.2 / {suite.openssl}" in text, text
    assert "served by tls12" in (tmp / "page.html").read_text()


GNUTLS_CIPHER = {"AES128-GCM": "AES-128-GCM", "AES256-GCM": "AES-256-GCM", "CHACHA20": "CHACHA20-POLY1305"}


def gnutls_client(port: int, pki: Pki, suite: Suite, key_type: str, tmp: Path) -> None:
    # NORMAL has every suite of ours; static RSA and DHE-RSA included.
    require_tool("gnutls-cli")
    rc, text = drive_stdin_client(
        ["gnutls-cli", f"--x509cafile={pki.ca_pem}", "--sni-hostname=localhost", "--verify-hostname=localhost",
         "--priority=NORMAL", "-p", str(port), LOOPBACK], name="gnutls-cli", message=MESSAGE, closed_first="peer")
    assert rc == 0 and "- Status: The certificate is trusted." in text, text
    assert f"({GNUTLS_CIPHER[suite.cipher]})" in text and "(TLS1.2-X.509)" in text, text


NSS_CIPHER = {"AES128-GCM": "128-bit AES-GCM", "AES256-GCM": "256-bit AES-GCM",
              "CHACHA20": "256-bit CHACHA20POLY1305"}


def nss_client(port: int, pki: Pki, suite: Suite, key_type: str, tmp: Path, *, db: Path) -> None:
    require_tool("tstclnt")
    request = tmp / "request.txt"
    request.write_bytes(MESSAGE)
    # tstclnt's defaults leave DHE and static RSA suites to the policy; -c enables exactly this suite.
    rc, text = run(["tstclnt", "-h", LOOPBACK, "-p", str(port), "-a", "localhost", "-d", f"sql:{db}", "-4", "-v",
                    "-G", "-c", f":{suite.code:04X}", "-A", request], name="tstclnt", timeout=30)
    assert rc == 0 and f"SSL version 3.3 using {NSS_CIPHER[suite.cipher]}" in text, text


def program_client(argv: list[str | Path], suite: Suite, name: str) -> None:
    rc, text = run(argv, name=name, timeout=90)
    assert rc == 0, text
    hs = report_line(text, "HANDSHAKE")
    assert (hs["version"], hs["cipher"]) == ("TLSv1.2", suite.iana), text
    assert report_line(text, "RESULT")["echo_ok"] in ("true", "True"), text


def go_suites(suite: Suite) -> list[str]:
    """gopeer's -suites for `suite`: Go's defaults, except static RSA, which Go 1.22 took out of them and a Go peer
    offers (client) or accepts (server) only when named."""
    return ["-suites", f"{suite.code:04x}"] if suite.kx == "RSA" else []


def go_client(port: int, pki: Pki, suite: Suite, key_type: str, tmp: Path, *, binary: Path) -> None:
    program_client([binary, "client", "-port", str(port), "-ca", pki.ca_pem, "-sni", "localhost",
                    "-send", MESSAGE.decode(), *go_suites(suite)], suite, "gopeer client")


def java_client(port: int, pki: Pki, suite: Suite, key_type: str, tmp: Path, *, classes: Path) -> None:
    require_tool("java")
    program_client(["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", classes, "TlsPeer", "client",
                    "-port", str(port), "-ca", pki.ca_pem, "-sni", "localhost", "-send", MESSAGE.decode()],
                   suite, "TlsPeer client")


def tlslite_client(port: int, pki: Pki, suite: Suite, key_type: str, tmp: Path) -> None:
    program_client([sys.executable, PEERS / "tlslite_peer.py", "client", "--port", str(port), "--ca", pki.ca_pem,
                    "--sni", "localhost", "--send", MESSAGE.decode()], suite, "tlslite client")


def botan_policy(tmp: Path) -> Path:
    """Botan's default policy with the static RSA key exchange switched on (it is off by default): the RSA
    key exchange method, and IMPLICIT authentication (the key exchange itself proves the server's key)."""
    f = tmp / "botan.policy"
    f.write_text("key_exchange_methods = ECDH DH RSA\nsignature_methods = ECDSA RSA IMPLICIT\n")
    return f


def botan_client(port: int, pki: Pki, suite: Suite, key_type: str, tmp: Path) -> None:
    require_tool("botan", "stdbuf")
    rc, text = drive_stdin_client(
        ["stdbuf", "-oL", "botan", "tls_client", "localhost", f"--port={port}", "--skip-system-cert-store",
         f"--trusted-cas={pki.ca_pem}", f"--policy={botan_policy(tmp)}"],
        name="botan tls_client", message=MESSAGE, closed_first="peer")
    assert rc == 0 and f"using {suite.iana.removeprefix('TLS_')}" in text, text


def chromium_client(port: int, pki: Pki, suite: Suite, key_type: str, tmp: Path, *, db: Path) -> None:
    require_tool("chromium")
    home = tmp / f"home-{suite.code:04x}"
    shutil.copytree(db.parent.parent, home)
    rc, text = run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-extensions", f"--user-data-dir={tmp / f'profile-{suite.code:04x}'}",
                    "--host-resolver-rules=MAP localhost 127.0.0.1", "--dump-dom", f"https://localhost:{port}/"],
                   name="chromium", timeout=90, env={"HOME": str(home)})
    assert rc == 0 and "served by tls12" in text, text[-3000:]


SERVER_APPS: dict[str, Callable[[], App]] = {
    "curl": lambda: HttpApp("served by tls12 to curl"),
    "chromium": lambda: HttpApp("served by tls12 to Chromium"),
    "nss": lambda: EchoApp(close_after=len(MESSAGE)),  # tstclnt cannot close first
}


@pytest.mark.parametrize(("peer", "key_type", "suites"), cases("server"))
def test_our_server(peer: str, key_type: str, suites: tuple[Suite, ...], pki: Pki, leaves: dict[str, Leaf],
                    matrix: Matrix, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The peer's client, with its default offer, against our server enabling one suite at a time."""
    client: PeerClient
    if peer == "go":
        binary = request.getfixturevalue("go_peer")
        client = lambda *a: go_client(*a, binary=binary)  # noqa: E731
    elif peer == "java":
        classes = request.getfixturevalue("java_classes")
        client = lambda *a: java_client(*a, classes=classes)  # noqa: E731
    elif peer in ("nss", "chromium"):
        db = request.getfixturevalue("nss_client_db")
        client = (lambda *a: nss_client(*a, db=db)) if peer == "nss" else (
            lambda *a: chromium_client(*a, db=db))
    else:
        client = {"openssl": openssl_client, "curl": curl_client, "gnutls": gnutls_client,
                  "tlslite": tlslite_client, "botan": botan_client}[peer]
    app = SERVER_APPS.get(peer, echo_server_app("peer", MESSAGE))
    leaf = leaves[key_type]

    def one(suite: Suite) -> None:
        details = record(matrix, "server", peer, suite, key_type)
        # No resumption: each row is a full handshake with its suite (a client that opens a second
        # connection, as Chromium may, would otherwise resume the first and show no key exchange).
        config = leaf.server_config(cipher_suites=[CipherSuite(suite.code)],
                                    alpn_protocols=("http/1.1",) if peer in ("curl", "chromium") else (),
                                    session_store=None, ticket_keys=None)
        with our_server(config, app) as server:
            client(server.port, pki, suite, key_type, tmp_path)
            results = server.wait_results()
        served = [r for r in results if r.received > 0] or results
        details.update(served[0].summary())
        for r in served:
            check(r, suite, key_type)
        details["suite_ok"] = True

    run_all(suites, one)


# -- our client -> the peer's server ---------------------------------------------------------------


@dataclass
class Served:
    """A peer server for one key type: where it listens, what our client sends and must get back."""

    port: int
    script: Callable[[], App]
    text: Callable[[], str]
    #: For a server that serves one connection: wait for it to end, its exit status.
    finish: Callable[[], int] | None = None


LINE = b"hello from tls12\n"


def echo_script() -> App:
    return ClientScript(LINE)


@contextlib.contextmanager
def openssl_server(leaf: Leaf, count: int, tmp: Path) -> Iterator[Served]:
    # s_server enables every suite of ours by default (static RSA and DHE with its built-in groups).
    require_tool("openssl")
    port = free_port()
    with Proc(["openssl", "s_server", "-accept", f"{LOOPBACK}:{port}", "-cert", leaf.cert_pem, "-key", leaf.key_pem,
               "-rev", "-naccept", str(count)], name="s_server", limit=120) as proc:
        wait_listening(port, 15, proc)
        yield Served(port, lambda: ClientScript(LINE, expect=len(LINE)), lambda: proc.text)


@contextlib.contextmanager
def gnutls_server(leaf: Leaf, count: int, tmp: Path) -> Iterator[Served]:
    require_tool("gnutls-serv", "stdbuf")
    with NetnsServer(["stdbuf", "-oL", "gnutls-serv", "--echo", "-p", "4433", f"--x509certfile={leaf.cert_pem}",
                      f"--x509keyfile={leaf.key_pem}", "--priority=NORMAL"],
                     name="gnutls-serv", inner_port=4433) as server:
        yield Served(server.port, echo_script, lambda: server.text)


@contextlib.contextmanager
def nss_server(leaf: Leaf, count: int, tmp: Path) -> Iterator[Served]:
    require_tool("selfserv", "stdbuf", "certutil", "pk12util")
    db = tmp / "nss-server"
    db.mkdir(exist_ok=True)
    p12 = db / "server.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"server", leaf.issued.private_key, leaf.issued.certificate, list(leaf.issued.chain[1:]),
        BestAvailableEncryption(b"interop")))
    for argv in (["certutil", "-d", f"sql:{db}", "-N", "--empty-password"],
                 ["pk12util", "-i", p12, "-d", f"sql:{db}", "-W", "interop"]):
        rc, text = run(argv, name=str(argv[0]), timeout=30)
        assert rc == 0, text
    # -n names the RSA certificate, -e the ECDSA one; -c enables every suite of ours (selfserv's
    # defaults follow NSS's policy, which leaves DHE off).
    nick = ["-n", "server"] if leaf.key_type == "rsa" else ["-e", "server"]
    suites = "".join(f":{s.code:04X}" for s in suites_for(leaf.key_type))
    with NetnsServer(["stdbuf", "-oL", "selfserv", "-p", "4433", "-d", f"sql:{db}", *nick, "-v", "-G",
                      "-c", suites], name="selfserv", inner_port=4433) as server:
        yield Served(server.port, lambda: ClientScript(b"GET / HTTP/1.0\r\n\r\n", expect=1, close="peer"),
                     lambda: server.text)


@contextlib.contextmanager
def botan_server(leaf: Leaf, count: int, tmp: Path) -> Iterator[Served]:
    require_tool("botan", "stdbuf")
    with NetnsServer(["stdbuf", "-oL", "botan", "tls_server", leaf.cert_pem, leaf.key_pem, "--port=4433",
                      f"--policy={botan_policy(tmp)}"], name="botan tls_server", inner_port=4433) as server:
        yield Served(server.port, echo_script, lambda: server.text)


@contextlib.contextmanager
def program_server(argv: list[str | Path], name: str, ready: float) -> Iterator[Served]:
    proc, port = start_peer_server(argv, name=name, ready=ready)
    with proc:
        yield Served(port, echo_script, lambda: proc.text, finish=lambda: proc.wait(30))


def one_server(peer: str, request: pytest.FixtureRequest, leaf: Leaf, suite: Suite, tmp: Path
               ) -> contextlib.AbstractContextManager[Served]:
    if peer == "go":
        return program_server([request.getfixturevalue("go_peer"), "server", "-cert", leaf.cert_pem,
                               "-key", leaf.key_pem, *go_suites(suite)], "gopeer server", 15)
    if peer == "java":
        require_tool("java")
        return program_server(["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp",
                               request.getfixturevalue("java_classes"), "TlsPeer", "server", "-cert", leaf.cert_pem,
                               "-key", leaf.key_pem], "TlsPeer server", 30)
    assert peer == "tlslite"
    return program_server([sys.executable, PEERS / "tlslite_peer.py", "server", "--cert", leaf.cert_pem,
                           "--key", leaf.key_pem], "tlslite server", 30)


SHARED_SERVERS = {"openssl": openssl_server, "gnutls": gnutls_server, "nss": nss_server, "botan": botan_server}


@pytest.mark.parametrize(("peer", "key_type", "suites"), cases("client"))
def test_our_client(peer: str, key_type: str, suites: tuple[Suite, ...], pki: Pki, leaves: dict[str, Leaf],
                    matrix: Matrix, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Our client enabling one suite at a time against the peer's server with a certificate of `key_type`."""
    leaf = leaves[key_type]

    def connect(served: Served, suite: Suite) -> dict[str, object]:
        details = record(matrix, "client", peer, suite, key_type)
        config = pki.client_config(cipher_suites=[CipherSuite(suite.code)])
        r = run_client(served.port, served.script(), config=config)
        details.update(r.summary())
        check(r, suite, key_type)
        return details

    if peer in SHARED_SERVERS:
        with SHARED_SERVERS[peer](leaf, len(suites), tmp_path) as served:
            def shared(suite: Suite) -> None:
                connect(served, suite)["suite_ok"] = True

            run_all(suites, shared)
    else:
        def one(suite: Suite) -> None:
            with one_server(peer, request, leaf, suite, tmp_path) as served:
                details = connect(served, suite)
                assert served.finish is not None
                rc = served.finish()
            assert rc == 0, served.text()
            hs = report_line(served.text(), "HANDSHAKE")
            assert (hs["version"], hs["cipher"]) == ("TLSv1.2", suite.iana), served.text()
            assert report_line(served.text(), "RESULT")["received"] == str(len(LINE)), served.text()
            details["suite_ok"] = True

        run_all(suites, one)


def test_limits_are_documented() -> None:
    """Every combination left out is in tests/interop/README.md's table, with its reason."""
    readme = (Path(__file__).parent / "README.md").read_text()
    for lim in LIMITS:
        assert lim.reason in readme, f"tests/interop/README.md does not give the reason: {lim.reason}"
    assert re.search(r"\| *Peer *\| *Role", readme), "no limits table"
