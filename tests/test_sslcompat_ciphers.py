"""The drop-in context's cipher settings against the stdlib's: OpenSSL cipher strings over every suite,
`get_ciphers()`, `shared_ciphers()`, and the chains `load_cert_chain()` keeps.

What OpenSSL does with a string is asked of OpenSSL (a stdlib context); what tls12 adds is written
out here: the suites it speaks, and static RSA only when a term of the string names it alone.
Connections in this file use the suites every build of tls12 speaks; every suite and key type end
to end is in test_sslcompat_suites_e2e.py.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

import tls12
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.config import SPOKEN_SUITES
from tls12.crypto.credentials import KeyType
from tls12.crypto.suites import SUITES
from tls12.io.ciphers import cipher_info, select_suites
from tls12.io.credentials import key_slot, server_identity, with_credential

from sslcompat_support import ServeFn, connect, echo, ours_server

STATIC_RSA = {"AES128-GCM-SHA256", "AES256-GCM-SHA384"}
ALL_OURS = [spec.openssl_name for spec in SUITES.values()]


def stdlib_list(cipher_string: str) -> list[str]:
    """OpenSSL's TLS 1.2 list for `cipher_string`, in its order."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers(cipher_string)
    return [c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2"]


def stdlib_entries() -> dict[str, dict[str, object]]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ALL:COMPLEMENTOFALL")
    return {c["name"]: c for c in ctx.get_ciphers()}


# -- the evaluation (io/ciphers.py), over every suite of the table ---------------------------------

#: Cipher string -> the static RSA suites it names (by a term selecting nothing else).
STRINGS: dict[str, set[str]] = {
    "DEFAULT": set(),
    "HIGH": set(),
    "HIGH:!aNULL": set(),
    "ALL": set(),
    "AESGCM": set(),
    "aRSA": set(),
    "ECDHE+AESGCM": set(),
    "ECDHE:DHE:!AES128": set(),
    "CHACHA20": set(),
    "ECDSA": set(),
    "DHE": set(),
    "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256": set(),
    "kRSA": STATIC_RSA,
    "RSA:HIGH": STATIC_RSA,
    "HIGH:kRSA+AESGCM": STATIC_RSA,
    "AES128-GCM-SHA256:HIGH": {"AES128-GCM-SHA256"},
    "HIGH:AES256-GCM-SHA384:!AES128-GCM-SHA256": {"AES256-GCM-SHA384"},
    "kRSA:!AES256-GCM-SHA384": STATIC_RSA,
    "@SECLEVEL=2:ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20": set(),
}


@pytest.mark.parametrize("cipher_string", list(STRINGS))
def test_suites_are_openssls_list_in_openssls_order(cipher_string: str) -> None:
    named = STRINGS[cipher_string]
    expected = [n for n in stdlib_list(cipher_string) if n in ALL_OURS and (n not in STATIC_RSA or n in named)]
    assert expected
    got = [SUITES[s].openssl_name for s in select_suites(cipher_string).suites]
    assert got == expected


def test_generic_strings_leave_static_rsa_off() -> None:
    """OpenSSL's DEFAULT and HIGH include the two static RSA suites; tls12 enables them only by name."""
    for cipher_string in ("DEFAULT", "HIGH", "ALL", "AESGCM"):
        assert set(stdlib_list(cipher_string)) >= STATIC_RSA
        selection = select_suites(cipher_string)
        assert not STATIC_RSA & {SUITES[s].openssl_name for s in selection.suites}
        assert {SUITES[s].openssl_name for s in selection.static_rsa_left_off} == STATIC_RSA


@pytest.mark.parametrize("spec", list(SUITES.values()), ids=lambda spec: spec.openssl_name)
def test_each_suite_by_openssl_and_iana_name(spec: tls12.crypto.suites.SuiteSpec) -> None:
    assert select_suites(spec.openssl_name).suites == (spec.suite,)
    assert select_suites(spec.suite.name).suites == (spec.suite,)
    with pytest.raises(ssl.SSLError):  # OpenSSL itself takes no IANA name in a TLS 1.2 string
        stdlib_list(spec.suite.name)


@pytest.mark.parametrize("cipher_string", ["", "NO-SUCH-CIPHER", "AES128-SHA", "ECDHE+AES:!AESGCM",
                                           "HIGH:!kEECDH:!kDHE", "PSK"])
def test_a_string_that_enables_none_raises_as_the_stdlib(cipher_string: str) -> None:
    with pytest.raises(ssl.SSLError) as ours:
        select_suites(cipher_string)
    context = tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ssl.SSLError) as drop_in:
        context.set_ciphers(cipher_string)
    with pytest.raises(ssl.SSLError) as std:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_ciphers("")
    assert type(ours.value) is type(drop_in.value) is type(std.value)
    assert ours.value.args == drop_in.value.args == std.value.args == ("No cipher can be selected.",)
    assert str(drop_in.value) == str(std.value)


def test_the_message_says_why_static_rsa_was_left_off() -> None:
    with pytest.raises(ssl.SSLError) as info:
        select_suites("HIGH:!kEECDH:!kDHE")
    assert "enabled only when named" in "\n".join(info.value.__notes__)


@pytest.mark.parametrize("level", [0, 1, 3, 4, 5])
def test_a_security_level_other_than_two_is_refused(level: int) -> None:
    with pytest.raises(ValueError, match=f"security level {level}"):
        select_suites(f"HIGH:@SECLEVEL={level}")
    assert select_suites("HIGH:@SECLEVEL=2").suites == select_suites("HIGH").suites


def test_spoken_limits_the_selection() -> None:
    only = (SUITES[next(iter(SUITES))].suite,)
    assert select_suites("HIGH", spoken=only).suites == only
    with pytest.raises(ssl.SSLError):
        select_suites("ECDHE-RSA-AES256-GCM-SHA384", spoken=only)


@pytest.mark.parametrize("spec", list(SUITES.values()), ids=lambda spec: spec.openssl_name)
def test_cipher_info_is_the_stdlib_entry(spec: tls12.crypto.suites.SuiteSpec) -> None:
    assert cipher_info(spec.suite) == stdlib_entries()[spec.openssl_name]


# -- the context --------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS_SERVER], ids=["client", "server"])
def test_get_ciphers_lists_what_is_enabled(protocol: ssl._SSLMethod) -> None:
    ctx = tls12.SSLContext(protocol)
    entries = stdlib_entries()
    # A new context: the configuration's defaults, static RSA off.
    default = ctx.get_ciphers()
    assert default and all(c["kea"] != "kx-rsa" for c in default)
    assert default == [entries[c["name"]] for c in default]
    for cipher_string in ("HIGH:!aNULL", "ECDHE+AESGCM", "ECDHE-RSA-AES256-GCM-SHA384"):
        ctx.set_ciphers(cipher_string)
        spoken = {SUITES[s].openssl_name for s in SPOKEN_SUITES}
        assert ctx.get_ciphers() == [entries[n] for n in stdlib_list(cipher_string)
                                     if n in spoken and n not in STATIC_RSA]


def test_a_refused_string_leaves_the_suites_as_they_were() -> None:
    ctx = tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers("ECDHE-RSA-AES256-GCM-SHA384")
    before = ctx.get_ciphers()
    with pytest.raises(ssl.SSLError):
        ctx.set_ciphers("AES128-SHA")
    assert ctx.get_ciphers() == before


def test_shared_ciphers_are_the_servers_in_its_order_as_in_the_stdlib(pem_dir: Path, serve: ServeFn) -> None:
    """The stdlib lists the suites the client offered that the server enables, in the server's order:
    not every offered suite tls12 knows of."""
    server_string = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"
    client_string = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256"
    spoken = {SUITES[s].openssl_name for s in SPOKEN_SUITES}

    def shared_with(server_ctx: ssl.SSLContext) -> list[tuple[str, str, int]]:
        answers: list[list[tuple[str, str, int]]] = []

        def handler(sock: ssl.SSLSocket) -> bytes:
            answers.append(sock.shared_ciphers() or [])
            return echo(sock)

        server = serve(server_ctx, handler)
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.load_verify_locations(pem_dir / "ca.pem")
        client.maximum_version = ssl.TLSVersion.TLSv1_2
        client.set_ciphers(client_string)
        with connect(client, server.port) as sock:
            assert sock.shared_ciphers() is None  # a client's answer, in both
            sock.sendall(b"x")
            assert sock.recv(1) == b"x"
        server.join()
        return answers[0]

    std = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    std.load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key")
    std.set_ciphers(server_string)
    ours = ours_server(pem_dir)
    ours.set_ciphers(server_string)
    expected = [c for c in shared_with(std) if c[1] == "TLSv1.2" and c[0] in spoken]
    assert expected
    assert shared_with(ours) == expected


# -- certificates: one per kind of key ------------------------------------------------------------


def _write(directory: Path, name: str, issued: IssuedCertificate) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    cert.write_bytes(issued.cert_pem())
    key.write_bytes(issued.key_pem())
    return cert, key


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    directory = tmp_path_factory.mktemp("keys")
    ca = CertificateAuthority("keys CA")
    return {kind: _write(directory, kind, ca.issue(("localhost",), key_type=kind))
            for kind in ("rsa", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519")}


@pytest.mark.parametrize("kind", ["rsa", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519"])
def test_load_cert_chain_takes_each_key_type_as_the_stdlib_does(
    kind: str, issued: dict[str, tuple[Path, Path]]
) -> None:
    cert, key = issued[kind]
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    ctx = tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    assert [c.key_type for c in ctx._t_credentials] == [KeyType(kind)]


def test_another_key_type_adds_a_chain_and_the_same_kind_replaces_it(issued: dict[str, tuple[Path, Path]]) -> None:
    ctx = tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*issued["rsa"])
    ctx.load_cert_chain(*issued["ecdsa-p256"])
    ctx.load_cert_chain(*issued["ed25519"])
    assert [c.key_type for c in ctx._t_credentials] == [KeyType.RSA, KeyType.ECDSA_P256, KeyType.ED25519]
    # OpenSSL keeps one EC certificate whatever its curve: P-384 replaces P-256, in its place.
    ctx.load_cert_chain(*issued["ecdsa-p384"])
    assert [c.key_type for c in ctx._t_credentials] == [KeyType.RSA, KeyType.ECDSA_P384, KeyType.ED25519]
    ctx.load_cert_chain(*issued["rsa"])
    assert [key_slot(c) for c in ctx._t_credentials] == ["RSA", "ECDSA", "Ed25519"]
    assert server_identity(ctx._t_credentials) == {"credentials": list(ctx._t_credentials)}


def test_one_rsa_chain_is_presented_as_certificate_and_key(pem_dir: Path, serve: ServeFn) -> None:
    ctx = ours_server(pem_dir)
    (credential,) = ctx._t_credentials
    assert server_identity([credential]) == {"certificate_chain": tuple(credential.chain),
                                             "private_key": credential.private_key}
    server = serve(ctx, echo)
    client = ssl.create_default_context(cafile=pem_dir / "ca.pem")
    with connect(client, server.port) as sock:
        sock.sendall(b"x")
        assert sock.recv(1) == b"x"


def test_with_credential_keeps_the_order_loaded(issued: dict[str, tuple[Path, Path]]) -> None:
    ctx = tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*issued["ed25519"])
    ctx.load_cert_chain(*issued["rsa"])
    ed, rsa_ = ctx._t_credentials
    assert with_credential((ed, rsa_), rsa_) == (ed, rsa_)
    assert with_credential((), ed) == (ed,)


def test_a_key_of_another_certificate_is_refused_as_in_the_stdlib(issued: dict[str, tuple[Path, Path]]) -> None:
    pairs = (("rsa", "ecdsa-p256"), ("ecdsa-p256", "ecdsa-p384"), ("ed25519", "rsa"), ("ecdsa-p521", "ed25519"))
    for cert_kind, key_kind in pairs:
        cert, key = issued[cert_kind][0], issued[key_kind][1]
        with pytest.raises(ssl.SSLError) as std:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
        ctx = tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with pytest.raises(ssl.SSLError) as ours:
            ctx.load_cert_chain(cert, key)
        assert ours.value.reason == std.value.reason
        assert ctx._t_credentials == ()


def test_a_small_rsa_key_is_refused_as_in_the_stdlib(tmp_path: Path) -> None:
    cert, key = _write(tmp_path, "small", CertificateAuthority("keys CA").issue(("localhost",), key_size=1024))
    with pytest.raises(ssl.SSLError) as std:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    with pytest.raises(ssl.SSLError) as ours:
        tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    assert ours.value.reason == std.value.reason == "EE_KEY_TOO_SMALL"
