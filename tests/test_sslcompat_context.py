"""`tls12.SSLContext` against the stdlib `ssl.SSLContext`: settings, loading, errors, key log.

The contract: a `tls12.SSLContext` is an `ssl.SSLContext` and behaves like one for a
user of the stdlib `ssl` module (TLS 1.2 and the suites tls12 speaks); every
setting it cannot honour raises instead of being silently ignored. Wherever the stdlib
has an answer for the same situation, the test computes it and compares.

Every connection is on 127.0.0.1 with a stdlib (OpenSSL) peer in a thread; every
socket has a timeout and every thread is joined at teardown.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

import tls12
from tls12 import NamedGroup
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.config import DEFAULT_CIPHER_SUITES, SPOKEN_SUITES
from tls12.crypto.suites import SUITES

from helpers import stdlib_client_context, stdlib_server_context
from sslcompat_support import TIMEOUT, ServeFn, connect, echo, ours_client, ours_server, peercert

SUITE = "ECDHE-RSA-AES256-GCM-SHA384"
# What the options policy allows an unhonourable setting to raise.
REFUSED = (ValueError, NotImplementedError, ssl.SSLError)
KEYLOG_LINE = re.compile(r"CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}")
OP_LEGACY_SERVER_CONNECT = 0x4  # SSL_OP_LEGACY_SERVER_CONNECT (ssl.OP_LEGACY_SERVER_CONNECT in 3.12+)
OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION = 0x40000
OP_ALLOW_CLIENT_RENEGOTIATION = 0x100


# -- a stdlib (or tls12) TLS server on 127.0.0.1 --------------------------------------------


def handshake_error(ctx: ssl.SSLContext, port: int, server_hostname: str = "localhost") -> ssl.SSLError:
    with pytest.raises(ssl.SSLError) as info:
        connect(ctx, port, server_hostname).close()
    return info.value


def group_of(sock: Any) -> NamedGroup:
    """The ECDHE group our side of a connection negotiated."""
    group = sock._engine.conn.group
    assert group is not None
    return NamedGroup(group)


# -- contexts and certificates ----------------------------------------------------------


def stdlib_server_any_group(certfile: Path, keyfile: Path) -> ssl.SSLContext:
    """OpenSSL as a TLS 1.2 server with its default groups (x25519, P-256, P-384, ...)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def write_issued(directory: Path, name: str, issued: IssuedCertificate) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    cert.write_bytes(issued.cert_pem())
    key.write_bytes(issued.key_pem())
    return cert, key


def sign_custom(
    ca: CertificateAuthority, subject: x509.Name, extensions: list[x509.ExtensionType]
) -> IssuedCertificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(0x00FF0012345678)
        .not_valid_before(datetime.datetime(2024, 3, 5, 7, 8, 9, tzinfo=datetime.UTC))
        .not_valid_after(now + datetime.timedelta(days=30))
    )
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    cert = builder.sign(ca.private_key, hashes.SHA256())
    return IssuedCertificate(cert, key, (cert,))


@pytest.fixture(scope="module")
def other_ca() -> CertificateAuthority:
    return CertificateAuthority("an unrelated CA")


# -- it is an ssl.SSLContext, and ssl is left alone ------------------------------------------


@pytest.mark.parametrize(
    "protocol", [ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS_SERVER], ids=["client", "server"]
)
def test_is_an_ssl_context(protocol: ssl._SSLMethod) -> None:
    ctx = tls12.SSLContext(protocol)
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.protocol == protocol
    assert isinstance(tls12.create_default_context(), ssl.SSLContext)


def test_importing_tls12_leaves_the_ssl_module_alone() -> None:
    # In this process tls12 is already imported: the stdlib still makes stdlib objects.
    std = ssl.create_default_context()
    assert type(std) is ssl.SSLContext
    assert type(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)) is ssl.SSLContext
    assert ssl.SSLContext.sslsocket_class is ssl.SSLSocket
    assert ssl.SSLContext.sslobject_class is ssl.SSLObject
    obj = std.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="localhost")
    assert type(obj) is ssl.SSLObject
    # And in a fresh interpreter, importing tls12 changes nothing in ssl or ssl.SSLContext.
    script = (
        "import ssl\n"
        "mod = dict(vars(ssl)); cls = dict(vars(ssl.SSLContext))\n"
        "import tls12, tls12.sslcompat\n"
        "changed = [k for k in set(mod) | set(vars(ssl)) if mod.get(k) is not vars(ssl).get(k)]\n"
        "changed += ['SSLContext.' + k for k in set(cls) | set(vars(ssl.SSLContext))"
        " if cls.get(k) is not vars(ssl.SSLContext).get(k)]\n"
        "assert type(ssl.create_default_context()) is ssl.SSLContext\n"
        "print(sorted(changed))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# -- defaults, check_hostname and verify_mode -------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "verify_mode", "check_hostname"),
    [(ssl.PROTOCOL_TLS_CLIENT, ssl.CERT_REQUIRED, True), (ssl.PROTOCOL_TLS_SERVER, ssl.CERT_NONE, False)],
    ids=["client", "server"],
)
def test_defaults_per_protocol(protocol: ssl._SSLMethod, verify_mode: ssl.VerifyMode, check_hostname: bool) -> None:
    ours, std = tls12.SSLContext(protocol), ssl.SSLContext(protocol)
    assert (ours.verify_mode, ours.check_hostname) == (verify_mode, check_hostname)
    assert (ours.verify_mode, ours.check_hostname) == (std.verify_mode, std.check_hostname)
    assert ours.minimum_version == ours.maximum_version == ssl.TLSVersion.TLSv1_2
    assert ours.post_handshake_auth is False
    assert ours.hostname_checks_common_name is False


def _run_script(ctx: ssl.SSLContext, steps: list[tuple[str, Any]]) -> list[Any]:
    """Apply (attribute, value) steps; record the state (or the exception type) after each."""
    trace: list[Any] = []
    for attr, value in steps:
        try:
            setattr(ctx, attr, value)
        except Exception as exc:
            trace.append(type(exc).__name__)
        trace.append((ssl.VerifyMode(ctx.verify_mode), ctx.check_hostname))
    return trace


@pytest.mark.parametrize(
    "steps",
    [
        [("verify_mode", ssl.CERT_NONE)],
        [("check_hostname", False), ("verify_mode", ssl.CERT_NONE), ("check_hostname", True)],
        [("check_hostname", False), ("verify_mode", ssl.CERT_OPTIONAL), ("check_hostname", True)],
        [("check_hostname", False), ("verify_mode", ssl.CERT_NONE), ("verify_mode", ssl.CERT_REQUIRED),
         ("check_hostname", True), ("verify_mode", ssl.CERT_NONE)],
    ],
    ids=["cert-none-with-check-hostname", "check-hostname-bumps-cert-none", "check-hostname-keeps-optional",
         "round-trip"],
)
def test_check_hostname_and_verify_mode_interplay_as_stdlib(steps: list[tuple[str, Any]]) -> None:
    ours = _run_script(tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT), steps)
    std = _run_script(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), steps)
    assert ours == std
    if steps == [("verify_mode", ssl.CERT_NONE)]:
        assert ours[0] == "ValueError"


@pytest.mark.parametrize(
    "purpose", [ssl.Purpose.SERVER_AUTH, ssl.Purpose.CLIENT_AUTH], ids=["server-auth", "client-auth"]
)
def test_create_default_context_mirrors_stdlib(purpose: ssl.Purpose, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    ours = tls12.create_default_context(purpose)
    std = ssl.create_default_context(purpose)
    assert isinstance(ours, tls12.SSLContext)
    assert ours.protocol == std.protocol
    assert (ours.verify_mode, ours.check_hostname) == (std.verify_mode, std.check_hostname)
    assert ours.keylog_filename is None and std.keylog_filename is None
    with pytest.raises(TypeError):
        tls12.create_default_context("serverAuth")


@pytest.mark.parametrize("source", ["cafile", "capath", "cadata-pem", "cadata-der"])
def test_create_default_context_trust_sources(
    source: str, pem_dir: Path, tmp_path: Path, ca: CertificateAuthority, serve: ServeFn
) -> None:
    kwargs: dict[str, Any] = {}
    if source == "cafile":
        kwargs["cafile"] = pem_dir / "ca.pem"
    elif source == "capath":
        kwargs["capath"] = hashed_capath(tmp_path, pem_dir / "ca.pem")
    elif source == "cadata-pem":
        kwargs["cadata"] = ca.cert_pem().decode("ascii")
    else:
        kwargs["cadata"] = ca.certificate.public_bytes(serialization.Encoding.DER)
    ours = tls12.create_default_context(**kwargs)
    std = ssl.create_default_context(**kwargs)
    if source != "capath":  # OpenSSL loads a capath lazily: the stdlib lists nothing before use
        assert ours.get_ca_certs() == std.get_ca_certs()
        assert ours.get_ca_certs(binary_form=True) == std.get_ca_certs(binary_form=True)
    server = serve(stdlib_server_context(pem_dir))
    with connect(ours, server.port) as sock:
        sock.sendall(b"ping")
        assert sock.recv(10) == b"ping"
        assert peercert(sock)["subjectAltName"] == (("DNS", "localhost"), ("IP Address", "127.0.0.1"))


def test_create_default_context_honours_sslkeylogfile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pem_dir: Path, serve: ServeFn
) -> None:
    ours_path, std_path = tmp_path / "ours.log", tmp_path / "stdlib.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(std_path))
    std = ssl.create_default_context()
    monkeypatch.setenv("SSLKEYLOGFILE", str(ours_path))
    ours = tls12.create_default_context(cafile=pem_dir / "ca.pem")
    assert std.keylog_filename == str(std_path)
    assert ours.keylog_filename == str(ours_path)
    server = serve(stdlib_server_context(pem_dir))
    with connect(ours, server.port) as sock:
        sock.sendall(b"x")
        assert sock.recv(1) == b"x"
    lines = ours_path.read_text().splitlines()
    assert len(lines) == 1 and KEYLOG_LINE.fullmatch(lines[0])


# -- settings tls12 cannot honour raise; those it can are accepted ----------------------------


Apply = Callable[[tls12.SSLContext, Path], None]


def _set(attr: str, value: Any) -> Apply:
    def apply(ctx: tls12.SSLContext, tmp: Path) -> None:
        setattr(ctx, attr, value)

    return apply


def _or_options(bits: int) -> Apply:
    def apply(ctx: tls12.SSLContext, tmp: Path) -> None:
        ctx.options |= bits

    return apply


def _clear_options(bits: int) -> Apply:
    def apply(ctx: tls12.SSLContext, tmp: Path) -> None:
        ctx.options &= ~bits

    return apply


def _call(method: str, *args: Any) -> Apply:
    def apply(ctx: tls12.SSLContext, tmp: Path) -> None:
        getattr(ctx, method)(*args)

    return apply


REFUSED_SETTINGS: dict[str, tuple[int, Apply]] = {
    "minimum_version=TLSv1": (ssl.PROTOCOL_TLS_CLIENT, _set("minimum_version", ssl.TLSVersion.TLSv1)),
    "minimum_version=TLSv1_1": (ssl.PROTOCOL_TLS_CLIENT, _set("minimum_version", ssl.TLSVersion.TLSv1_1)),
    "minimum_version=TLSv1_3": (ssl.PROTOCOL_TLS_CLIENT, _set("minimum_version", ssl.TLSVersion.TLSv1_3)),
    "minimum_version=SSLv3": (ssl.PROTOCOL_TLS_CLIENT, _set("minimum_version", ssl.TLSVersion.SSLv3)),
    "minimum_version=MAXIMUM_SUPPORTED": (
        ssl.PROTOCOL_TLS_CLIENT, _set("minimum_version", ssl.TLSVersion.MAXIMUM_SUPPORTED)),
    "maximum_version=TLSv1": (ssl.PROTOCOL_TLS_SERVER, _set("maximum_version", ssl.TLSVersion.TLSv1)),
    "maximum_version=TLSv1_1": (ssl.PROTOCOL_TLS_CLIENT, _set("maximum_version", ssl.TLSVersion.TLSv1_1)),
    "maximum_version=MINIMUM_SUPPORTED": (
        ssl.PROTOCOL_TLS_CLIENT, _set("maximum_version", ssl.TLSVersion.MINIMUM_SUPPORTED)),
    "set_ciphers=AES128-SHA": (ssl.PROTOCOL_TLS_CLIENT, _call("set_ciphers", "AES128-SHA")),
    "set_ciphers=CBC-only": (ssl.PROTOCOL_TLS_SERVER, _call("set_ciphers", "ECDHE+AES:!AESGCM")),
    # What is left is static RSA, which only a term naming it enables.
    "set_ciphers=HIGH-but-static-RSA": (ssl.PROTOCOL_TLS_SERVER, _call("set_ciphers", "HIGH:!kEECDH:!kDHE")),
    "set_ciphers=empty": (ssl.PROTOCOL_TLS_CLIENT, _call("set_ciphers", "")),
    "set_ciphers=nonsense": (ssl.PROTOCOL_TLS_CLIENT, _call("set_ciphers", "NO-SUCH-CIPHER")),
    "options-clear-OP_NO_RENEGOTIATION": (ssl.PROTOCOL_TLS_CLIENT, _clear_options(ssl.OP_NO_RENEGOTIATION)),
    "options-set-OP_NO_TLSv1_2": (ssl.PROTOCOL_TLS_CLIENT, _or_options(ssl.OP_NO_TLSv1_2)),
    "options-set-OP_LEGACY_SERVER_CONNECT": (ssl.PROTOCOL_TLS_CLIENT, _or_options(OP_LEGACY_SERVER_CONNECT)),
    "options-set-ALLOW_UNSAFE_LEGACY_RENEGOTIATION": (
        ssl.PROTOCOL_TLS_CLIENT, _or_options(OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION)),
    "options-set-ALLOW_CLIENT_RENEGOTIATION": (ssl.PROTOCOL_TLS_SERVER, _or_options(OP_ALLOW_CLIENT_RENEGOTIATION)),
    "options-set-unknown-bit": (ssl.PROTOCOL_TLS_CLIENT, _or_options(1 << 40)),
    "verify_flags=CRL_CHECK_LEAF": (ssl.PROTOCOL_TLS_CLIENT, _set("verify_flags", ssl.VERIFY_CRL_CHECK_LEAF)),
    "verify_flags=CRL_CHECK_CHAIN": (ssl.PROTOCOL_TLS_CLIENT, _set("verify_flags", ssl.VERIFY_CRL_CHECK_CHAIN)),
    "verify_flags|=CRL_CHECK_LEAF": (
        ssl.PROTOCOL_TLS_CLIENT, _set("verify_flags", ssl.VERIFY_X509_TRUSTED_FIRST | ssl.VERIFY_CRL_CHECK_LEAF)),
    "verify_flags=ALLOW_PROXY_CERTS": (ssl.PROTOCOL_TLS_CLIENT, _set("verify_flags", ssl.VERIFY_ALLOW_PROXY_CERTS)),
    "hostname_checks_common_name=True": (ssl.PROTOCOL_TLS_CLIENT, _set("hostname_checks_common_name", True)),
    "load_dh_params=modp_2048": (
        ssl.PROTOCOL_TLS_SERVER, lambda ctx, tmp: ctx.load_dh_params(_dh_params_file(tmp, "modp_2048"))),
    "load_dh_params=ffdhe6144": (
        ssl.PROTOCOL_TLS_SERVER, lambda ctx, tmp: ctx.load_dh_params(_dh_params_file(tmp, "ffdhe6144"))),
    "load_dh_params=not-DH": (
        ssl.PROTOCOL_TLS_SERVER, lambda ctx, tmp: ctx.load_dh_params(_not_dh_params_file(tmp))),
    "set_npn_protocols": (ssl.PROTOCOL_TLS_CLIENT, _call("set_npn_protocols", ["http/1.1"])),
    "set_ecdh_curve=brainpoolP256r1": (ssl.PROTOCOL_TLS_SERVER, _call("set_ecdh_curve", "brainpoolP256r1")),
}


def _dh_params_file(directory: Path, group: str) -> str:
    """A named DH group as PEM DH parameters (OpenSSL's names: ffdhe2048, modp_2048, ...), which the
    stdlib's load_dh_params accepts."""
    path = str(directory / f"{group}.pem")
    subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", f"group:{group}",
                    "-out", path], check=True, capture_output=True, timeout=30)
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_dh_params(path)  # a valid file for the stdlib
    return path


def _not_dh_params_file(directory: Path) -> str:
    """A PEM file that holds no DH parameters: the stdlib refuses it with an SSLError."""
    path = directory / "not-dh.pem"
    path.write_bytes(CertificateAuthority().cert_pem())
    with pytest.raises(ssl.SSLError):
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_dh_params(str(path))
    return str(path)


@pytest.mark.parametrize("name", list(REFUSED_SETTINGS))
def test_unsupported_setting_raises(name: str, tmp_path: Path) -> None:
    protocol, apply = REFUSED_SETTINGS[name]
    ctx = tls12.SSLContext(protocol)
    before = (ctx.options, ctx.verify_flags, ctx.verify_mode, ctx.minimum_version, ctx.maximum_version)
    with pytest.raises(REFUSED):
        apply(ctx, tmp_path)
    # A refused setting leaves the context as it was.
    assert (ctx.options, ctx.verify_flags, ctx.verify_mode, ctx.minimum_version, ctx.maximum_version) == before
    assert ctx.get_ciphers() == tls12.SSLContext(protocol).get_ciphers()


@pytest.mark.parametrize("protocol", ["PROTOCOL_TLSv1", "PROTOCOL_TLSv1_1"])
def test_old_protocol_at_construction_raises(protocol: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        value = getattr(ssl, protocol)
        with pytest.raises(REFUSED):
            tls12.SSLContext(value)


def test_set_ecdh_curve_unknown_name_is_value_error() -> None:
    with pytest.raises(ValueError, match="nosuchcurve"):
        tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_ecdh_curve("nosuchcurve")
    with pytest.raises(ValueError):
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_ecdh_curve("nosuchcurve")


def test_sni_callback_on_a_client_context_raises_as_in_stdlib() -> None:
    with pytest.raises(ValueError):
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).sni_callback = lambda *args: None
    with pytest.raises(REFUSED):
        tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT).sni_callback = lambda *args: None


def test_security_level_from_cipher_string_is_not_ignored() -> None:
    """OpenSSL's "@SECLEVEL=3" rejects 2048-bit RSA; tls12 must refuse it or honour it."""
    std = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    std.set_ciphers(f"{SUITE}:@SECLEVEL=3")
    assert std.security_level == 3
    ours = tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ours.set_ciphers(f"{SUITE}:@SECLEVEL=3")
    except REFUSED:
        return
    assert ours.security_level == 3


@pytest.mark.parametrize(
    ("protocol", "side"),
    [(ssl.PROTOCOL_TLS_CLIENT, "server"), (ssl.PROTOCOL_TLS_SERVER, "client")],
    ids=["client-context-as-server", "server-context-as-client"],
)
def test_context_side_is_enforced_as_in_stdlib(protocol: ssl._SSLMethod, side: str, pem_dir: Path) -> None:
    def attempt(ctx: ssl.SSLContext) -> None:
        ctx.load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key")
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # what a server context needs, so only the side is wrong
        if side == "server":
            ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=True)
        else:
            ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=False, server_hostname="localhost")

    with pytest.raises(ssl.SSLError):
        attempt(ssl.SSLContext(protocol))
    with pytest.raises(ssl.SSLError):
        attempt(tls12.SSLContext(protocol))


ACCEPTED_SETTINGS: dict[str, tuple[int, Apply, Callable[[tls12.SSLContext], bool]]] = {
    "minimum_version=TLSv1_2": (
        ssl.PROTOCOL_TLS_CLIENT, _set("minimum_version", ssl.TLSVersion.TLSv1_2),
        lambda c: c.minimum_version == ssl.TLSVersion.TLSv1_2),
    "minimum_version=MINIMUM_SUPPORTED": (
        ssl.PROTOCOL_TLS_CLIENT, _set("minimum_version", ssl.TLSVersion.MINIMUM_SUPPORTED),
        lambda c: c.minimum_version == ssl.TLSVersion.TLSv1_2),
    "maximum_version=TLSv1_2": (
        ssl.PROTOCOL_TLS_SERVER, _set("maximum_version", ssl.TLSVersion.TLSv1_2),
        lambda c: c.maximum_version == ssl.TLSVersion.TLSv1_2),
    "maximum_version=MAXIMUM_SUPPORTED": (
        ssl.PROTOCOL_TLS_CLIENT, _set("maximum_version", ssl.TLSVersion.MAXIMUM_SUPPORTED),
        lambda c: c.maximum_version == ssl.TLSVersion.TLSv1_2),
    # An upper bound above what tls12 speaks (issue: harmless settings are no-ops).
    "maximum_version=TLSv1_3": (
        ssl.PROTOCOL_TLS_CLIENT, _set("maximum_version", ssl.TLSVersion.TLSv1_3),
        lambda c: c.maximum_version == ssl.TLSVersion.TLSv1_2),
    # Clearing these permits nothing tls12 would do: what tls12 always does keeps reading as set.
    "options-clear-OP_NO_TLSv1_3": (
        ssl.PROTOCOL_TLS_CLIENT, _clear_options(ssl.OP_NO_TLSv1_3), lambda c: bool(c.options & ssl.OP_NO_TLSv1_3)),
    "options-clear-OP_NO_COMPRESSION": (
        ssl.PROTOCOL_TLS_CLIENT, _clear_options(ssl.OP_NO_COMPRESSION),
        lambda c: bool(c.options & ssl.OP_NO_COMPRESSION)),
    "options-clear-OP_NO_SSLv3": (
        ssl.PROTOCOL_TLS_SERVER, _clear_options(ssl.OP_NO_SSLv3), lambda c: bool(c.options & ssl.OP_NO_SSLv3)),
    "options-clear-OP_NO_TLSv1": (
        ssl.PROTOCOL_TLS_CLIENT, _clear_options(ssl.OP_NO_TLSv1), lambda c: bool(c.options & ssl.OP_NO_TLSv1)),
    # TLS 1.3 features: no effect on TLS 1.2, in the stdlib as here.
    "post_handshake_auth=True": (
        ssl.PROTOCOL_TLS_CLIENT, _set("post_handshake_auth", True), lambda c: c.post_handshake_auth is True),
    "num_tickets=1": (ssl.PROTOCOL_TLS_SERVER, _set("num_tickets", 1), lambda c: c.num_tickets == 1),
    "set_ciphers=openssl-name": (ssl.PROTOCOL_TLS_CLIENT, _call("set_ciphers", SUITE), lambda c: True),
    "set_ciphers=iana-name": (
        ssl.PROTOCOL_TLS_CLIENT, _call("set_ciphers", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"), lambda c: True),
    "set_ciphers=HIGH:!aNULL": (ssl.PROTOCOL_TLS_SERVER, _call("set_ciphers", "HIGH:!aNULL"), lambda c: True),
    "set_ciphers=ECDHE+AESGCM": (ssl.PROTOCOL_TLS_CLIENT, _call("set_ciphers", "ECDHE+AESGCM"), lambda c: True),
    "set_ciphers=DEFAULT": (ssl.PROTOCOL_TLS_SERVER, _call("set_ciphers", "DEFAULT"), lambda c: True),
    "set_ciphers=!ECDHE-ECDSA-AES128-GCM-SHA256:HIGH": (
        ssl.PROTOCOL_TLS_SERVER, _call("set_ciphers", "!ECDHE-ECDSA-AES128-GCM-SHA256:HIGH"), lambda c: True),
    "options|=OP_NO_TICKET": (
        ssl.PROTOCOL_TLS_CLIENT, _or_options(ssl.OP_NO_TICKET), lambda c: bool(c.options & ssl.OP_NO_TICKET)),
    "options|=OP_CIPHER_SERVER_PREFERENCE": (
        ssl.PROTOCOL_TLS_SERVER, _or_options(ssl.OP_CIPHER_SERVER_PREFERENCE),
        lambda c: bool(c.options & ssl.OP_CIPHER_SERVER_PREFERENCE)),
    "options&=~OP_CIPHER_SERVER_PREFERENCE": (
        ssl.PROTOCOL_TLS_SERVER, _clear_options(ssl.OP_CIPHER_SERVER_PREFERENCE),
        lambda c: not c.options & ssl.OP_CIPHER_SERVER_PREFERENCE),
    "options|=OP_NO_TLSv1|OP_NO_TLSv1_1": (
        ssl.PROTOCOL_TLS_CLIENT, _or_options(ssl.OP_NO_TLSv1 | ssl.OP_NO_TLSv1_1),
        lambda c: bool(c.options & ssl.OP_NO_TLSv1_1)),
    "verify_flags=TRUSTED_FIRST": (
        ssl.PROTOCOL_TLS_CLIENT, _set("verify_flags", ssl.VERIFY_X509_TRUSTED_FIRST),
        lambda c: c.verify_flags == ssl.VERIFY_X509_TRUSTED_FIRST),
    "hostname_checks_common_name=False": (
        ssl.PROTOCOL_TLS_CLIENT, _set("hostname_checks_common_name", False),
        lambda c: c.hostname_checks_common_name is False),
    "post_handshake_auth=False": (
        ssl.PROTOCOL_TLS_CLIENT, _set("post_handshake_auth", False), lambda c: c.post_handshake_auth is False),
    "num_tickets=0": (ssl.PROTOCOL_TLS_SERVER, _set("num_tickets", 0), lambda c: c.num_tickets == 0),
    "set_ecdh_curve=prime256v1": (ssl.PROTOCOL_TLS_CLIENT, _call("set_ecdh_curve", "prime256v1"), lambda c: True),
    "set_ecdh_curve=secp384r1": (ssl.PROTOCOL_TLS_SERVER, _call("set_ecdh_curve", "secp384r1"), lambda c: True),
    "set_ecdh_curve=X25519": (ssl.PROTOCOL_TLS_CLIENT, _call("set_ecdh_curve", "X25519"), lambda c: True),
    "set_ecdh_curve=secp521r1": (ssl.PROTOCOL_TLS_CLIENT, _call("set_ecdh_curve", "secp521r1"), lambda c: True),
    "set_ecdh_curve=X448": (ssl.PROTOCOL_TLS_SERVER, _call("set_ecdh_curve", "X448"), lambda c: True),
    "load_dh_params=ffdhe2048": (
        ssl.PROTOCOL_TLS_SERVER, lambda ctx, tmp: ctx.load_dh_params(_dh_params_file(tmp, "ffdhe2048")),
        lambda c: True),
    "load_dh_params=ffdhe4096": (
        ssl.PROTOCOL_TLS_CLIENT, lambda ctx, tmp: ctx.load_dh_params(_dh_params_file(tmp, "ffdhe4096")),
        lambda c: True),
}


#: The suites tls12 speaks (OpenSSL names), and how OpenSSL spells a string it does not take as it is.
SPOKEN = {SUITES[s].openssl_name for s in SPOKEN_SUITES}
OPENSSL_SPELLING = {"set_ciphers=iana-name": SUITE, "set_ciphers=openssl-name": SUITE}


@pytest.mark.parametrize("name", list(ACCEPTED_SETTINGS))
def test_supported_setting_is_accepted(name: str, tmp_path: Path) -> None:
    protocol, apply, holds = ACCEPTED_SETTINGS[name]
    ctx = tls12.SSLContext(protocol)
    apply(ctx, tmp_path)
    assert holds(ctx)
    if name.startswith("set_ciphers="):
        # OpenSSL's own list for the string, in its order, less what tls12 does not speak and
        # static RSA, which none of these strings names; described as the stdlib describes them.
        probe = ssl.SSLContext(protocol)
        probe.set_ciphers(OPENSSL_SPELLING.get(name, name.split("=", 1)[1]))
        expected = [c for c in probe.get_ciphers() if c["name"] in SPOKEN and c["kea"] != "kx-rsa"]
        assert expected
        assert ctx.get_ciphers() == expected
    else:
        assert ctx.get_ciphers() == tls12.SSLContext(protocol).get_ciphers()


@pytest.mark.parametrize(
    "cipher_string", [SUITE, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "HIGH:!aNULL", "ECDHE+AESGCM"]
)
def test_accepted_cipher_strings_still_connect(cipher_string: str, pem_dir: Path, serve: ServeFn) -> None:
    ctx = ours_client(pem_dir)
    ctx.set_ciphers(cipher_string)
    server = serve(stdlib_server_context(pem_dir))
    with connect(ctx, server.port) as sock:
        assert sock.cipher() == (SUITE, "TLSv1.2", 256)


CURVES = {"prime256v1": NamedGroup.SECP256R1, "secp384r1": NamedGroup.SECP384R1, "X25519": NamedGroup.X25519}


@pytest.mark.parametrize("curve", list(CURVES))
def test_set_ecdh_curve_restricts_our_client(curve: str, pem_dir: Path, serve: ServeFn) -> None:
    ctx = ours_client(pem_dir)
    ctx.set_ecdh_curve(curve)
    # A server that accepts every group gets the one we asked for.
    server = serve(stdlib_server_any_group(pem_dir / "leaf.pem", pem_dir / "leaf.key"))
    with connect(ctx, server.port) as sock:
        assert group_of(sock) == CURVES[curve]
    # A server restricted to another group finds nothing in common.
    other = next(c for c in CURVES if c != curve)
    refusing = serve(stdlib_server_context(pem_dir, curve=other))
    err = handshake_error(ctx, refusing.port)
    assert "HANDSHAKE_FAILURE" in str(err.reason)


@pytest.mark.parametrize("curve", list(CURVES))
def test_set_ecdh_curve_restricts_our_server(curve: str, pem_dir: Path, serve: ServeFn) -> None:
    ctx = ours_server(pem_dir)
    ctx.set_ecdh_curve(curve)
    groups: list[NamedGroup] = []

    def handler(sock: Any) -> bytes:
        groups.append(group_of(sock))
        return echo(sock)

    server = serve(ctx, handler)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(pem_dir / "ca.pem")
    with connect(client, server.port) as sock:
        sock.sendall(b"x")
        assert sock.recv(1) == b"x"
    server.join()
    assert groups == [CURVES[curve]]
    other = next(c for c in CURVES if c != curve)
    refusing = serve(ctx)
    with pytest.raises(ssl.SSLError):
        connect(stdlib_client_context(pem_dir, curve=other), refusing.port).close()
    assert isinstance(refusing.error(), ssl.SSLError)


# -- our certificate --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def encrypted_key(tmp_path_factory: pytest.TempPathFactory, leaf: IssuedCertificate) -> Path:
    path = tmp_path_factory.mktemp("enc") / "leaf-encrypted.key"
    path.write_bytes(leaf.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cr\xc3\xa9t"),
    ))
    return path


PASSWORDS: dict[str, Any] = {
    "str": "s3cr\u00e9t",
    "bytes": b"s3cr\xc3\xa9t",
    "bytearray": bytearray(b"s3cr\xc3\xa9t"),
    "callable-str": lambda: "s3cr\u00e9t",
    "callable-bytes": lambda: b"s3cr\xc3\xa9t",
}


@pytest.mark.parametrize("kind", list(PASSWORDS))
def test_load_cert_chain_encrypted_key(
    kind: str, encrypted_key: Path, pem_dir: Path, leaf: IssuedCertificate, serve: ServeFn
) -> None:
    # The stdlib takes the same key and password.
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(pem_dir / "leaf.pem", encrypted_key, PASSWORDS[kind])
    ctx = tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem_dir / "leaf.pem", encrypted_key, password=PASSWORDS[kind])
    server = serve(ctx)
    with connect(stdlib_client_context(pem_dir), server.port) as sock:
        assert sock.getpeercert(True) == leaf.certificate.public_bytes(serialization.Encoding.DER)
        sock.sendall(b"ok")
        assert sock.recv(2) == b"ok"


@pytest.mark.parametrize("password", ["wrong", b"wrong", lambda: "wrong"], ids=["str", "bytes", "callable"])
def test_load_cert_chain_wrong_password(password: Any, encrypted_key: Path, pem_dir: Path) -> None:
    with pytest.raises(ssl.SSLError):
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(pem_dir / "leaf.pem", encrypted_key, password)
    with pytest.raises(ssl.SSLError):
        tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(pem_dir / "leaf.pem", encrypted_key, password)


def test_load_cert_chain_password_for_an_unencrypted_key_is_ignored_as_in_stdlib(pem_dir: Path) -> None:
    # OpenSSL only asks for the password when the key is encrypted.
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key", "unused")
    tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key", "unused")


def test_load_cert_chain_key_mismatch(pem_dir: Path, tmp_path: Path, ca: CertificateAuthority) -> None:
    other = ca.issue(("localhost",))
    _, other_key = write_issued(tmp_path, "other", other)
    with pytest.raises(ssl.SSLError):
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(pem_dir / "leaf.pem", other_key)
    with pytest.raises(ssl.SSLError):
        tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(pem_dir / "leaf.pem", other_key)


def test_load_cert_chain_combined_file(pem_dir: Path, tmp_path: Path, leaf: IssuedCertificate, serve: ServeFn) -> None:
    combined = tmp_path / "combined.pem"
    combined.write_bytes(leaf.cert_pem() + leaf.key_pem())
    ctx = tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(combined)
    server = serve(ctx)
    with connect(stdlib_client_context(pem_dir), server.port) as sock:
        assert sock.getpeercert(True) == leaf.certificate.public_bytes(serialization.Encoding.DER)


# -- trust anchors ------------------------------------------------------------------------------


def hashed_capath(directory: Path, ca_pem: Path) -> Path:
    """A c_rehash-style directory (<subject hash>.0), as OpenSSL's capath requires."""
    capath = directory / "capath"
    capath.mkdir()
    proc = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(ca_pem)],
                          capture_output=True, text=True, timeout=30, check=True)
    shutil.copy(ca_pem, capath / f"{proc.stdout.strip()}.0")
    return capath


@pytest.mark.parametrize("source", ["cafile-str", "cafile-pathlike", "capath", "cadata-pem", "cadata-der"])
def test_load_verify_locations(
    source: str, pem_dir: Path, tmp_path: Path, ca: CertificateAuthority, serve: ServeFn
) -> None:
    ctx = tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if source == "cafile-str":
        ctx.load_verify_locations(str(pem_dir / "ca.pem"))
    elif source == "cafile-pathlike":
        ctx.load_verify_locations(cafile=pem_dir / "ca.pem")
    elif source == "capath":
        ctx.load_verify_locations(capath=hashed_capath(tmp_path, pem_dir / "ca.pem"))
    elif source == "cadata-pem":
        ctx.load_verify_locations(cadata=ca.cert_pem().decode("ascii"))
    else:
        ctx.load_verify_locations(cadata=ca.certificate.public_bytes(serialization.Encoding.DER))
    server = serve(stdlib_server_context(pem_dir))
    with connect(ctx, server.port) as sock:
        sock.sendall(b"verified")
        assert sock.recv(8) == b"verified"


def test_empty_capath_does_not_verify(pem_dir: Path, tmp_path: Path, serve: ServeFn) -> None:
    ctx = tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    (tmp_path / "empty").mkdir()
    ctx.load_verify_locations(capath=tmp_path / "empty")
    server = serve(stdlib_server_context(pem_dir))
    err = handshake_error(ctx, server.port)
    assert isinstance(err, ssl.SSLCertVerificationError)
    assert err.verify_code == 20


def test_load_verify_locations_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    for ctx in (ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT)):
        with pytest.raises(FileNotFoundError):
            ctx.load_verify_locations(missing)
        with pytest.raises(TypeError):
            ctx.load_verify_locations()
        with pytest.raises(ssl.SSLError):
            ctx.load_verify_locations(cadata="not a certificate")
        with pytest.raises(ssl.SSLError):
            ctx.load_verify_locations(cadata=b"\x30\x03\x02\x01")
    (tmp_path / "junk.pem").write_text("junk\n")
    for ctx in (ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT)):
        with pytest.raises(ssl.SSLError):
            ctx.load_verify_locations(tmp_path / "junk.pem")


def test_cert_store_stats_and_get_ca_certs_match_stdlib(pem_dir: Path, leaf: IssuedCertificate) -> None:
    ours, std = tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT), ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    assert ours.cert_store_stats() == std.cert_store_stats() == {"x509": 0, "crl": 0, "x509_ca": 0}
    assert ours.get_ca_certs() == std.get_ca_certs() == []
    for ctx in (ours, std):
        ctx.load_verify_locations(pem_dir / "ca.pem")
    assert ours.cert_store_stats() == std.cert_store_stats() == {"x509": 1, "crl": 0, "x509_ca": 1}
    # A non-CA certificate counts in x509 but is not listed by get_ca_certs().
    for ctx in (ours, std):
        ctx.load_verify_locations(cadata=leaf.certificate.public_bytes(serialization.Encoding.DER))
    assert ours.cert_store_stats() == std.cert_store_stats() == {"x509": 2, "crl": 0, "x509_ca": 1}
    assert ours.get_ca_certs() == std.get_ca_certs()
    assert len(ours.get_ca_certs()) == 1
    assert ours.get_ca_certs(True) == std.get_ca_certs(True)


def test_get_ciphers_are_the_stdlibs_default_suites_among_ours_as_it_describes_them() -> None:
    ours = tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT).get_ciphers()
    ours_names = {SUITES[s].openssl_name for s in DEFAULT_CIPHER_SUITES}
    stdlib_default = [c["name"] for c in ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).get_ciphers()]
    # A drop-in starts where the ssl module starts: its default selection, in its order, less what
    # tls12 does not speak (the ssl module's default has CBC suites, and no static RSA).
    assert [c["name"] for c in ours] == [n for n in stdlib_default if n in ours_names]
    assert SUITE in [c["name"] for c in ours]
    std = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    std.set_ciphers("ALL")
    std_entries = {c["name"]: c for c in std.get_ciphers()}
    assert ours == [std_entries[c["name"]] for c in ours]


def test_session_stats_count_connections(pem_dir: Path, serve: ServeFn) -> None:
    """The same sequence (one good handshake, one failed) through ours and through the stdlib."""
    stats = {}
    for name, ctx in (("ours", ours_client(pem_dir)), ("stdlib", stdlib_client_context(pem_dir))):
        good = serve(stdlib_server_context(pem_dir))
        with connect(ctx, good.port) as sock:
            sock.sendall(b"x")
            sock.recv(1)
        bad = serve(stdlib_server_context(pem_dir))
        handshake_error(ctx, bad.port, "wrong.test")
        stats[name] = {k: ctx.session_stats()[k] for k in ("connect", "connect_good", "accept", "accept_good")}
    assert stats["ours"] == {"connect": 2, "connect_good": 1, "accept": 0, "accept_good": 0}
    assert stats["ours"] == stats["stdlib"]


def test_session_stats_count_accepts(pem_dir: Path, serve: ServeFn) -> None:
    ctx = ours_server(pem_dir)
    server = serve(ctx, connections=2)
    with connect(stdlib_client_context(pem_dir), server.port) as sock:
        sock.sendall(b"x")
        sock.recv(1)
    wrong_ca = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    wrong_ca.load_verify_locations(cadata=CertificateAuthority("x").cert_pem().decode("ascii"))
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(wrong_ca, server.port)
    server.join()
    stats = ctx.session_stats()
    assert (stats["accept"], stats["accept_good"], stats["connect"]) == (2, 1, 0)


# -- exceptions ----------------------------------------------------------------------------------


def _verification_failure(
    scenario: str, impl: type[ssl.SSLContext], pem_dir: Path, tmp_path: Path, ca: CertificateAuthority,
    other_ca: CertificateAuthority, serve: ServeFn,
) -> ssl.SSLError:
    client = impl(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cadata=(other_ca if scenario == "unknown-ca" else ca).cert_pem().decode("ascii"))
    if scenario == "expired":
        now = datetime.datetime.now(datetime.UTC)
        expired = ca.issue(("localhost",), not_before=now - datetime.timedelta(days=30),
                           not_after=now - datetime.timedelta(days=1))
        cert, key = write_issued(tmp_path, "expired", expired)
        server = serve(stdlib_server_any_group(cert, key))
    else:
        server = serve(stdlib_server_context(pem_dir))
    return handshake_error(client, server.port, "wrong.test" if scenario == "hostname-mismatch" else "localhost")


@pytest.mark.parametrize(
    ("scenario", "code", "needle"),
    [("hostname-mismatch", 62, "wrong.test"), ("unknown-ca", 20, "issuer"), ("expired", 10, "expired")],
)
def test_certificate_verification_errors_match_stdlib(
    scenario: str, code: int, needle: str, pem_dir: Path, tmp_path: Path, ca: CertificateAuthority,
    other_ca: CertificateAuthority, serve: ServeFn,
) -> None:
    ours = _verification_failure(scenario, tls12.SSLContext, pem_dir, tmp_path, ca, other_ca, serve)
    std = _verification_failure(scenario, ssl.SSLContext, pem_dir, tmp_path, ca, other_ca, serve)
    assert isinstance(std, ssl.SSLCertVerificationError) and std.verify_code == code
    assert isinstance(ours, ssl.SSLCertVerificationError)
    assert isinstance(ours, ssl.SSLError) and isinstance(ours, OSError) and isinstance(ours, ValueError)
    assert ours.verify_code == code
    assert needle in ours.verify_message
    assert (ours.verify_code, ours.verify_message) == (std.verify_code, std.verify_message)
    assert (ours.errno, ours.library, ours.reason) == (std.errno, std.library, std.reason)


def test_peer_fatal_alert_is_ssl_error_naming_the_alert(pem_dir: Path, serve: ServeFn) -> None:
    """A stdlib server whose SNI callback refuses with access_denied."""
    server_ctx = stdlib_server_context(pem_dir)
    server_ctx.sni_callback = lambda sock, name, ctx: ssl.ALERT_DESCRIPTION_ACCESS_DENIED
    server = serve(server_ctx)
    err = handshake_error(ours_client(pem_dir), server.port)
    assert isinstance(err, OSError)
    assert not isinstance(err, ssl.SSLCertVerificationError)
    assert "ACCESS_DENIED" in str(err.reason)
    server.error()


def test_check_hostname_off_still_verifies_the_chain(
    pem_dir: Path, other_ca: CertificateAuthority, serve: ServeFn
) -> None:
    ctx = ours_client(pem_dir)
    ctx.check_hostname = False
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    server = serve(stdlib_server_context(pem_dir))
    with connect(ctx, server.port, "wrong.test") as sock:  # the name is not checked...
        assert peercert(sock)["subjectAltName"] == (("DNS", "localhost"), ("IP Address", "127.0.0.1"))
    untrusting = tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    untrusting.check_hostname = False
    untrusting.load_verify_locations(cadata=other_ca.cert_pem().decode("ascii"))
    refusing = serve(stdlib_server_context(pem_dir))
    err = handshake_error(untrusting, refusing.port, "wrong.test")  # ...but the chain is
    assert isinstance(err, ssl.SSLCertVerificationError) and err.verify_code == 20


def _garbage(sock: socket.socket) -> None:
    sock.recv(65536)
    sock.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def _hang_up(sock: socket.socket) -> None:
    sock.recv(65536)  # the ClientHello is read, so closing sends FIN, not RST


@pytest.mark.parametrize(
    ("handler", "expected"), [(_garbage, ssl.SSLError), (_hang_up, ssl.SSLEOFError)], ids=["not-tls", "hang-up"]
)
def test_broken_peers_raise_ssl_errors_as_stdlib(
    handler: Callable[[socket.socket], None], expected: type[ssl.SSLError], pem_dir: Path, serve: ServeFn
) -> None:
    for ctx in (stdlib_client_context(pem_dir), ours_client(pem_dir)):
        server = serve(None, handler)
        with pytest.raises(expected) as info:
            connect(ctx, server.port).close()
        assert not isinstance(info.value, ssl.SSLCertVerificationError)
        server.result()


def test_want_read_is_ssl_want_read_error_errno_2() -> None:
    for ctx in (tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT), ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)):
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
        with pytest.raises(ssl.SSLWantReadError) as info:
            obj.do_handshake()
        assert info.value.errno == ssl.SSL_ERROR_WANT_READ
        assert info.value.errno == 2
        assert isinstance(info.value, OSError)
        assert outgoing.pending > 0  # the ClientHello


# -- getpeercert ---------------------------------------------------------------------------------


def _rich_certificate(ca: CertificateAuthority, with_uid: bool) -> IssuedCertificate:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "\u00cele-de-France"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "Paris"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tls12 tests"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "QA"),
        x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "test"),
        x509.NameAttribute(NameOID.EMAIL_ADDRESS, "qa@example.test"),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, "1234"),
        x509.NameAttribute(NameOID.TITLE, "Dr"),
        x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
    ]
    if with_uid:
        attrs.insert(0, x509.NameAttribute(NameOID.USER_ID, "uid42"))
    extensions: list[x509.ExtensionType] = [
        x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
            x509.RFC822Name("a@b.test"),
            x509.UniformResourceIdentifier("https://x.test/"),
            x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dir")])),
        ]),
        x509.AuthorityInformationAccess([
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier("http://o.test/")),
            x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                   x509.UniformResourceIdentifier("http://ca.test/ca.der")),
        ]),
        x509.CRLDistributionPoints([
            x509.DistributionPoint([x509.UniformResourceIdentifier("http://crl.test/a.crl")], None, None, None)
        ]),
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
        x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()),
    ]
    return sign_custom(ca, x509.Name(attrs), extensions)


@pytest.mark.parametrize("which", ["leaf", "rich", "rich-with-uid"])
def test_getpeercert_equals_stdlib_decoding(
    which: str, pem_dir: Path, tmp_path: Path, ca: CertificateAuthority, leaf: IssuedCertificate, serve: ServeFn
) -> None:
    if which == "leaf":
        cert, key = pem_dir / "leaf.pem", pem_dir / "leaf.key"
        issued = leaf
    else:
        issued = _rich_certificate(ca, with_uid=which == "rich-with-uid")
        cert, key = write_issued(tmp_path, which, issued)
    expected = ssl._ssl._test_decode_cert(str(cert))  # type: ignore[attr-defined]
    server = serve(stdlib_server_any_group(cert, key), connections=2)
    with connect(ours_client(pem_dir), server.port) as sock:
        got = peercert(sock)
        assert sock.getpeercert(True) == issued.certificate.public_bytes(serialization.Encoding.DER)
        assert sock.getpeercert(binary_form=True) == ssl.PEM_cert_to_DER_cert(cert.read_text())
    with connect(stdlib_client_context(pem_dir), server.port) as std_sock:
        assert std_sock.getpeercert() == expected
    assert set(got) == set(expected)
    for key_name in expected:
        assert got[key_name] == expected[key_name], key_name


def test_getpeercert_with_cert_none(pem_dir: Path, leaf: IssuedCertificate, serve: ServeFn) -> None:
    der = leaf.certificate.public_bytes(serialization.Encoding.DER)
    server = serve(stdlib_server_context(pem_dir), connections=2)
    seen = {}
    for name, ctx in (("ours", tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT)),
                      ("stdlib", ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with connect(ctx, server.port, server_hostname=None) as sock:
            seen[name] = (sock.getpeercert(), sock.getpeercert(True))
    assert seen["ours"] == seen["stdlib"] == ({}, der)


def test_getpeercert_before_handshake_is_value_error(pem_dir: Path, serve: ServeFn) -> None:
    server = serve(stdlib_server_context(pem_dir))
    ctx = ours_client(pem_dir)
    with connect(ctx, server.port, do_handshake_on_connect=False) as sock:
        with pytest.raises(ValueError):
            sock.getpeercert()
        sock.do_handshake()
        assert peercert(sock)["subject"][-1] == (("commonName", "localhost"),)
    obj = ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="localhost")
    with pytest.raises(ValueError):
        obj.getpeercert()


# -- key log --------------------------------------------------------------------------------------


def _stdlib_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not line.startswith("#")]


def test_keylog_client_line_equals_stdlib_server_line(pem_dir: Path, tmp_path: Path, serve: ServeFn) -> None:
    ours_log, std_log = tmp_path / "ours.log", tmp_path / "std.log"
    ours_log.write_text("pre-existing\n")
    ctx = ours_client(pem_dir)
    ctx.keylog_filename = str(ours_log)
    assert ctx.keylog_filename == str(ours_log)
    server_ctx = stdlib_server_context(pem_dir)
    server_ctx.keylog_filename = str(std_log)
    server = serve(server_ctx, connections=2)
    for _ in range(2):
        with connect(ctx, server.port) as sock:
            sock.sendall(b"k")
            assert sock.recv(1) == b"k"
    server.join()
    lines = ours_log.read_text().splitlines()
    assert lines[0] == "pre-existing"
    assert len(lines) == 3
    assert all(KEYLOG_LINE.fullmatch(line) for line in lines[1:])
    assert lines[1] != lines[2]
    assert sorted(lines[1:]) == sorted(_stdlib_lines(std_log))


def test_keylog_server_line_equals_stdlib_client_line(pem_dir: Path, tmp_path: Path, serve: ServeFn) -> None:
    ours_log, std_log = tmp_path / "ours.log", tmp_path / "std.log"
    ctx = ours_server(pem_dir)
    ctx.keylog_filename = ours_log
    server = serve(ctx)
    client = stdlib_client_context(pem_dir)
    client.keylog_filename = str(std_log)
    with connect(client, server.port) as sock:
        sock.sendall(b"k")
        assert sock.recv(1) == b"k"
    server.join()
    lines = ours_log.read_text().splitlines()
    assert len(lines) == 1 and KEYLOG_LINE.fullmatch(lines[0])
    assert lines == _stdlib_lines(std_log)


def test_keylog_concurrent_connections_write_whole_distinct_lines(
    pem_dir: Path, tmp_path: Path, serve: ServeFn
) -> None:
    n = 8
    ours_log, std_log = tmp_path / "ours.log", tmp_path / "std.log"
    ctx = ours_client(pem_dir)
    ctx.keylog_filename = str(ours_log)
    server_ctx = stdlib_server_context(pem_dir)
    server_ctx.keylog_filename = str(std_log)
    server = serve(server_ctx, connections=n)
    barrier = threading.Barrier(n, timeout=TIMEOUT)
    errors: list[BaseException] = []

    def client(i: int) -> None:
        try:
            barrier.wait()
            with connect(ctx, server.port) as sock:
                sock.sendall(bytes([i]) * 100)
                got = b""
                while len(got) < 100:
                    chunk = sock.recv(100)
                    assert chunk
                    got += chunk
                assert got == bytes([i]) * 100
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    server.join()
    text = ours_log.read_text()
    assert text.endswith("\n")
    lines = text.splitlines()
    assert len(lines) == n
    assert all(KEYLOG_LINE.fullmatch(line) for line in lines), lines
    assert len(set(lines)) == n
    assert sorted(lines) == sorted(_stdlib_lines(std_log))
