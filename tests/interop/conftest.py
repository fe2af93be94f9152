"""Fixtures for the interop tests, and the record of their results for the README matrix.

Each test calls `matrix.row(direction, variant)` first and fills in what was negotiated;
when the session ends, every row with its test's outcome goes to a JSON file
(`$TLS12_INTEROP_RESULTS`, default `build/interop-results.json`) that
`scripts/interop_matrix.py` turns into the README's interop matrix.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from interop_support import GO, PEERS, ClientPki, Ctx, Leaf, Matrix, Pki, Row, require_tool, run

from tls12.certs import CertificateAuthority

RESULTS_ENV = "TLS12_INTEROP_RESULTS"
_ROWS: list[dict[str, Any]] = []
_VERSIONS: dict[str, dict[str, str]] = {}


# -- the results matrix ------------------------------------------------------------------


@pytest.fixture
def matrix(request: pytest.FixtureRequest) -> Matrix:
    m = Matrix(getattr(request.module, "PEER", "?"))
    request.node._interop_matrix = m
    return m


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" or report.failed:
        m: Matrix | None = getattr(item, "_interop_matrix", None)
        rows = m.rows if m is not None else []
        if not rows:
            rows = [Row(getattr(getattr(item, "module", None), "PEER", "?"), "?", item.name)]
        for r in rows:
            # A test that runs several suites fails as a whole; a suite whose own connection passed
            # (its row says suite_ok) keeps its pass in the matrix.
            passed = report.passed or (report.when == "call" and r.details.get("suite_ok") is True)
            _ROWS.append({
                "test": item.nodeid, "peer": r.peer, "direction": r.direction, "variant": r.variant,
                "outcome": "passed" if passed else "failed", "when": report.when,
                "seconds": round(report.duration, 3), **r.details,
            })
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _ROWS:
        return
    default = Path(str(session.config.rootpath)) / "build" / "interop-results.json"
    path = Path(os.environ.get(RESULTS_ENV) or default)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A failed test is recorded once per phase that failed; keep the last word per row.
    data = {
        "generated": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": _platform(),
        "peers": _VERSIONS,
        "rows": _ROWS,
    }
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")


def _platform() -> str:
    try:
        with open("/etc/os-release") as f:
            info = dict(line.rstrip().split("=", 1) for line in f if "=" in line)
        return info.get("PRETTY_NAME", "?").strip('"')
    except OSError:
        return sys.platform


# -- peer versions ---------------------------------------------------------------------------

def _version(argv: list[str], pattern: str) -> str:
    if shutil.which(argv[0]) is None:
        return "not installed"
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"? ({exc})"
    m = re.search(pattern, out.stdout + out.stderr)
    return m.group(1) if m else "?"


def _dpkg_version(package: str) -> str:
    v = _version(["dpkg-query", "-W", "-f=${Version}", package], r"(\S+)")
    return re.sub(r"^\d+:", "", v).split("-")[0] if v[0].isdigit() else v


@pytest.fixture(scope="session", autouse=True)
def peer_versions() -> dict[str, dict[str, str]]:
    """Which implementation and version each peer is (for the matrix)."""
    if _VERSIONS:
        return _VERSIONS
    openssl = _version(["openssl", "version"], r"OpenSSL (\S+)")
    try:
        tlslite_version = importlib.metadata.version("tlslite-ng")
    except importlib.metadata.PackageNotFoundError:
        tlslite_version = "not installed"
    table = {
        "openssl": ("openssl s_client / s_server", "OpenSSL", openssl),
        "curl": ("curl", "OpenSSL " + _version(["curl", "--version"], r"OpenSSL/(\S+)"),
                 _version(["curl", "--version"], r"curl (\S+)")),
        "gnutls": ("gnutls-cli / gnutls-serv", "GnuTLS", _version(["gnutls-cli", "--version"], r"gnutls-cli (\S+)")),
        "nss": ("tstclnt / selfserv", "NSS", _dpkg_version("libnss3")),
        "java": ("Java SSLSocket / SSLServerSocket", "SunJSSE (OpenJDK)",
                 _version(["java", "-version"], r'version "([^"]+)"')),
        "go": ("Go crypto/tls", "Go", _version([str(GO), "version"], r"go version go(\S+)")),
        "botan": ("botan tls_client / tls_server", "Botan", _version(["botan", "version"], r"(\d[\w.]*)")),
        "chromium": ("headless Chromium", "BoringSSL", _version(["chromium", "--version"], r"Chromium (\S+)")),
        "tlslite": ("tlslite-ng", "tlslite-ng (pure Python)", tlslite_version),
        "tshark": ("tshark (Wireshark)", "Wireshark",
                   _version(["tshark", "--version"], r"TShark \(Wireshark\) (\d[\d.]*\d)")),
    }
    for key, (name, library, version) in table.items():
        _VERSIONS[key] = {"name": name, "library": library, "version": version}
    return _VERSIONS


# -- certificates ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("interop-pki")
    ca = CertificateAuthority("tls12 interop CA")
    leaf = ca.issue(("localhost", "127.0.0.1"))
    other = ca.issue(("wrong.example",))
    (d / "ca.pem").write_bytes(ca.cert_pem())
    for name, cert in (("leaf", leaf), ("other", other)):
        (d / f"{name}.pem").write_bytes(cert.cert_pem())
        (d / f"{name}.key").write_bytes(cert.key_pem())
    return Pki(d, ca, leaf, other)


# -- peers that need building or a database -------------------------------------------------


@pytest.fixture(scope="session")
def java_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TlsPeer.java compiled once per session."""
    require_tool("javac", "java")
    out = tmp_path_factory.mktemp("java-classes")
    rc, text = run(["javac", "-d", out, PEERS / "TlsPeer.java"], name="javac", timeout=120)
    assert rc == 0, f"javac failed:\n{text}"
    return out


@pytest.fixture(scope="session")
def go_peer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gopeer.go built once per session by Go 1.23 (`GO`), offline, from the standard library only."""
    require_tool(str(GO))
    work = tmp_path_factory.mktemp("go-build")
    binary = work / "gopeer"
    env = {"HOME": str(work), "GOCACHE": str(work / "cache"), "GOPATH": str(work / "gopath"),
           "GOPROXY": "off", "GOFLAGS": "", "GO111MODULE": "on", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    rc, text = run([GO, "build", "-o", binary, "gopeer.go"], name="go build", timeout=300, env=env, cwd=PEERS)
    assert rc == 0, f"go build failed:\n{text}"
    return binary


@pytest.fixture(scope="session")
def botan_peer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """botanpeer.cpp built once per session with g++ against Debian's libbotan-2-dev: the botan command-line
    tool can neither send nor verify a client certificate (see test_mutual_tls_interop.py)."""
    require_tool("g++")
    include = Path("/usr/include/botan-2")
    if not include.is_dir():
        pytest.fail(f"{include} missing: libbotan-2-dev is not installed (.ci/install-peers installs it)",
                    pytrace=False)
    binary = tmp_path_factory.mktemp("botan-build") / "botanpeer"
    rc, text = run(["g++", "-std=c++17", "-O1", "-Wall", "-Wextra", f"-I{include}", PEERS / "botanpeer.cpp",
                    "-o", binary, "-lbotan-2"], name="g++", timeout=300)
    assert rc == 0, f"g++ failed:\n{text}"
    return binary


@pytest.fixture(scope="session")
def nss_client_db(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Path:
    """An NSS database that trusts our CA (for tstclnt, and as Chromium's $HOME/.pki/nssdb)."""
    require_tool("certutil")
    home = tmp_path_factory.mktemp("nss-client")
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    commands: list[list[str | Path]] = [
        ["certutil", "-d", f"sql:{db}", "-N", "--empty-password"],
        ["certutil", "-d", f"sql:{db}", "-A", "-n", "interop-ca", "-t", "CT,C,", "-i", pki.ca_pem],
    ]
    for argv in commands:
        rc, text = run(argv, name="certutil", timeout=30)
        assert rc == 0, text
    return db


@pytest.fixture(scope="session")
def nss_server_db(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Path:
    """An NSS database holding our leaf and its key under the nickname "server" (for selfserv)."""
    require_tool("certutil", "pk12util")
    db = tmp_path_factory.mktemp("nss-server")
    p12 = db / "server.p12"
    for name, cert in (("server", pki.leaf), ("other", pki.other)):
        p12.write_bytes(pkcs12.serialize_key_and_certificates(
            name.encode(), cert.private_key, cert.certificate, [pki.ca.certificate],
            BestAvailableEncryption(b"interop")))
        if name == "server":
            rc, text = run(["certutil", "-d", f"sql:{db}", "-N", "--empty-password"], name="certutil", timeout=30)
            assert rc == 0, text
        rc, text = run(["pk12util", "-i", p12, "-d", f"sql:{db}", "-W", "interop"], name="pk12util", timeout=30)
        assert rc == 0, text
    p12.unlink()
    return db


#: The certificate key types of the suite matrix (tls12.certs.KeyType values).
KEY_TYPES = ("rsa", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519")


@pytest.fixture(scope="session")
def leaves(pki: Pki) -> dict[str, Leaf]:
    """A leaf for localhost/127.0.0.1 of every key type, each issued by the (RSA) interop CA: the ECDSA and
    Ed25519 chains mix key types, as Let's Encrypt's do. Files: leaf-<key type>.pem (the chain) and .key."""
    out: dict[str, Leaf] = {}
    for key_type in KEY_TYPES:
        issued = pki.ca.issue(("localhost", "127.0.0.1"), key_type=key_type)
        cert, key = pki.dir / f"leaf-{key_type}.pem", pki.dir / f"leaf-{key_type}.key"
        cert.write_bytes(issued.cert_pem())
        key.write_bytes(issued.key_pem())
        out[key_type] = Leaf(key_type, issued, cert, key)
    return out


@pytest.fixture(scope="session")
def letsencrypt_chain(pki: Pki) -> Leaf:
    """Let's Encrypt's shape: an ECDSA P-256 leaf, issued by an ECDSA P-384 intermediate, under an RSA root
    (the interop CA). The chain file holds the leaf and the intermediate; clients trust the root only."""
    intermediate = pki.ca.intermediate("tls12 interop E5 (ECDSA intermediate)", key_type="ecdsa-p384")
    issued = intermediate.issue(("localhost", "127.0.0.1"), key_type="ecdsa-p256")
    assert len(issued.chain) == 2
    cert, key = pki.dir / "le-chain.pem", pki.dir / "le-leaf.key"
    cert.write_bytes(issued.cert_pem())
    key.write_bytes(issued.key_pem())
    return Leaf("ecdsa-p256", issued, cert, key)


#: The key types of the mutual-TLS client certificates.
CLIENT_KEY_TYPES = ("rsa", "ecdsa-p256", "ed25519")


@pytest.fixture(scope="session")
def client_pki(pki: Pki) -> ClientPki:
    """Client certificates under a client CA of their own (files client-<key type>.pem/.key, client-ca.pem),
    and a stranger's (stranger.pem/.key) from a CA that nothing here trusts."""
    ca = CertificateAuthority("tls12 interop client CA")
    (pki.dir / "client-ca.pem").write_bytes(ca.cert_pem())

    def write(name: str, issued: Any) -> Leaf:
        cert, key = pki.dir / f"{name}.pem", pki.dir / f"{name}.key"
        cert.write_bytes(issued.cert_pem())
        key.write_bytes(issued.key_pem())
        return Leaf(str(issued.key_type), issued, cert, key)

    leaves = {kt: write(f"client-{kt}", ca.issue((f"{kt}.client.example",), key_type=kt, client=True))
              for kt in CLIENT_KEY_TYPES}
    stranger = CertificateAuthority("another client CA").issue(("stranger.client.example",), key_type="ecdsa-p256",
                                                                client=True)
    return ClientPki(pki.dir, ca, leaves, write("stranger", stranger))


def _p12(name: str, leaf: Leaf) -> bytes:
    return pkcs12.serialize_key_and_certificates(name.encode(), leaf.issued.private_key, leaf.issued.certificate,
                                                 None, BestAvailableEncryption(b"interop"))


@pytest.fixture(scope="session")
def nss_mtls_client_db(tmp_path_factory: pytest.TempPathFactory, pki: Pki, client_pki: ClientPki) -> Path:
    """An NSS database for tstclnt with client certificates: trusts the interop CA, and holds each client
    leaf with its key under the nickname client-<key type> (and the stranger's as "stranger")."""
    require_tool("certutil", "pk12util")
    db = tmp_path_factory.mktemp("nss-mtls-client")
    for argv in (["certutil", "-d", f"sql:{db}", "-N", "--empty-password"],
                 ["certutil", "-d", f"sql:{db}", "-A", "-n", "interop-ca", "-t", "CT,C,", "-i", pki.ca_pem]):
        rc, text = run(argv, name="certutil", timeout=30)
        assert rc == 0, text
    p12 = db / "client.p12"
    for name, leaf in [*((f"client-{kt}", leaf) for kt, leaf in client_pki.leaves.items()),
                       ("stranger", client_pki.stranger)]:
        if leaf.key_type == "ed25519":
            continue  # NSS has no Ed25519 in TLS
        p12.write_bytes(_p12(name, leaf))
        rc, text = run(["pk12util", "-i", p12, "-d", f"sql:{db}", "-W", "interop"], name="pk12util", timeout=30)
        assert rc == 0, text
    p12.unlink()
    return db


@pytest.fixture(scope="session")
def nss_mtls_server_db(tmp_path_factory: pytest.TempPathFactory, pki: Pki, client_pki: ClientPki) -> Path:
    """An NSS database for selfserv asking for client certificates: our leaf and key as "server", and the
    client CA trusted to issue client certificates (trust flags T)."""
    require_tool("certutil", "pk12util")
    db = tmp_path_factory.mktemp("nss-mtls-server")
    p12 = db / "server.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(b"server", pki.leaf.private_key, pki.leaf.certificate,
                                                          [pki.ca.certificate], BestAvailableEncryption(b"interop")))
    for argv in (["certutil", "-d", f"sql:{db}", "-N", "--empty-password"],
                 ["pk12util", "-i", p12, "-d", f"sql:{db}", "-W", "interop"],
                 ["certutil", "-d", f"sql:{db}", "-A", "-n", "client-ca", "-t", "T,,", "-i", client_pki.ca_pem]):
        rc, text = run(argv, name=str(argv[0]), timeout=30)
        assert rc == 0, text
    p12.unlink()
    return db


@pytest.fixture
def ctx(request: pytest.FixtureRequest, pki: Pki, client_pki: ClientPki, tmp_path: Path) -> Ctx:
    return Ctx(request, pki, client_pki, tmp_path)
