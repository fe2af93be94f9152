"""Shared fixtures: one throwaway CA per session, configs, and servers on 127.0.0.1 for the drop-in tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tls12 import ClientConfig, ServerConfig
from tls12.certs import CertificateAuthority, IssuedCertificate

from redis_support import RedisServer, running_redis
from sslcompat_support import ServeFn, serving


@pytest.fixture(scope="session")
def ca() -> CertificateAuthority:
    return CertificateAuthority()


@pytest.fixture(scope="session")
def leaf(ca: CertificateAuthority) -> IssuedCertificate:
    return ca.issue(("localhost", "127.0.0.1"))


@pytest.fixture(scope="session")
def pem_dir(tmp_path_factory: pytest.TempPathFactory, ca: CertificateAuthority, leaf: IssuedCertificate) -> Path:
    """ca.pem, leaf.pem and leaf.key on disk, for the stdlib ssl module and peers."""
    d = tmp_path_factory.mktemp("pem")
    (d / "ca.pem").write_bytes(ca.cert_pem())
    (d / "leaf.pem").write_bytes(leaf.cert_pem())
    (d / "leaf.key").write_bytes(leaf.key_pem())
    return d


@pytest.fixture
def client_config(ca: CertificateAuthority) -> ClientConfig:
    return ClientConfig(trust_anchors=[ca.certificate])


@pytest.fixture
def server_config(leaf: IssuedCertificate) -> ServerConfig:
    return ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key)


@pytest.fixture
def serve() -> Iterator[ServeFn]:
    """Starts TLS (or raw TCP) servers on 127.0.0.1 (sslcompat_support.Server); all stop after the test."""
    with serving() as start:
        yield start


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--update-golden``: rewrite tests/data/golden/ instead of comparing against it (see test_golden.py)."""
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the golden transcripts in tests/data/golden/ from the current implementation",
    )


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A `redis-server` of its own on 127.0.0.1 (tests/redis_support.py); killed after the test."""
    with running_redis(tmp_path / "redis") as server:
        yield server
