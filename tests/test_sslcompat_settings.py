"""Every `ssl.OP_*` option, protocol version and TLS 1.3-only attribute on `tls12.SSLContext`:
harmless settings are accepted, and only those tls12 cannot honour raise.

The expectations here are written out independently of the code's table (`tls12.io.policy`):
which settings must be refused, and where. The README's table is checked against the code's,
and hypercorn's own recipe for its server context runs on a tls12 context and serves HTTP/2's
ALPN to an OpenSSL client.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import hypercorn.config
import pytest

import tls12
from tls12.io.policy import OPTIONS, SETTINGS

from sslcompat_support import ServeFn, connect, echo

README = Path(__file__).resolve().parent.parent / "README.md"
SUITE = "ECDHE-RSA-AES256-GCM-SHA384"
CLIENT, SERVER = ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS_SERVER

#: OpenSSL 3 option bits the ssl module does not name (or names only from Python 3.12).
OPENSSL_BITS = {
    "OP_NO_EXTENDED_MASTER_SECRET": 0x1, "OP_CLEANSE_PLAINTEXT": 0x2, "OP_LEGACY_SERVER_CONNECT": 0x4,
    "OP_ENABLE_KTLS": 0x8, "OP_TLSEXT_PADDING": 0x10, "OP_SAFARI_ECDHE_ECDSA_BUG": 0x40,
    "OP_ALLOW_CLIENT_RENEGOTIATION": 0x100, "OP_DISABLE_TLSEXT_CA_NAMES": 0x200, "OP_ALLOW_NO_DHE_KEX": 0x400,
    "OP_DONT_INSERT_EMPTY_FRAGMENTS": 0x800, "OP_NO_QUERY_MTU": 0x1000, "OP_COOKIE_EXCHANGE": 0x2000,
    "OP_CISCO_ANYCONNECT": 0x8000, "OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION": 0x10000,
    "OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION": 0x40000, "OP_NO_ENCRYPT_THEN_MAC": 0x80000,
    "OP_PRIORITIZE_CHACHA": 0x200000, "OP_TLS_ROLLBACK_BUG": 0x800000, "OP_NO_ANTI_REPLAY": 0x1000000,
    "OP_CRYPTOPRO_TLSEXT_BUG": 0x80000000,
}
ALL_OPTIONS = {**OPENSSL_BITS, **{n: int(getattr(ssl, n)) for n in dir(ssl) if n.startswith("OP_")}}

# What must be refused, and on which side; every other option is accepted both ways.
REFUSED_WHEN_SET = {
    "OP_NO_TLSv1_2": {CLIENT, SERVER},  # no version left
    "OP_CLEANSE_PLAINTEXT": {CLIENT, SERVER},  # cannot wipe Python bytes
    "OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION": {CLIENT, SERVER},  # servers without RFC 5746
    "OP_LEGACY_SERVER_CONNECT": {CLIENT},  # servers without RFC 5746; a server-side no-op
    "OP_ALLOW_CLIENT_RENEGOTIATION": {SERVER},  # renegotiation; a client-side no-op
}
REFUSED_WHEN_CLEARED = {"OP_NO_RENEGOTIATION": {CLIENT}}  # a client would follow a HelloRequest
# What tls12 always does: cleared or not, these read as set.
ALWAYS_ON = {"OP_NO_SSLv3", "OP_NO_TLSv1", "OP_NO_TLSv1_1", "OP_NO_TLSv1_3", "OP_NO_COMPRESSION",
             "OP_NO_RENEGOTIATION"}


def test_every_option_is_in_the_table() -> None:
    table = {o.name: o.value for o in OPTIONS}
    for name, value in ALL_OPTIONS.items():
        assert table.get(name) == value, name


CASES = [(name, value, protocol) for name, value in sorted(ALL_OPTIONS.items()) if value
         for protocol in (CLIENT, SERVER)]


@pytest.mark.parametrize(("name", "value", "protocol"), CASES,
                         ids=[f"{n}-{'client' if p == CLIENT else 'server'}" for n, _, p in CASES])
def test_setting_and_clearing_each_option(name: str, value: int, protocol: ssl._SSLMethod) -> None:
    ctx = tls12.SSLContext(protocol)
    before = ctx.options
    if protocol in REFUSED_WHEN_SET.get(name, ()):
        with pytest.raises(ValueError, match=name):
            ctx.options |= value
        assert ctx.options == before
    else:
        ctx.options |= value
        assert ctx.options & value == value
        assert ctx.get_ciphers() == tls12.SSLContext(protocol).get_ciphers()
    with_bit = ctx.options
    if protocol in REFUSED_WHEN_CLEARED.get(name, ()):
        with pytest.raises(ValueError, match=name):
            ctx.options &= ~value
        assert ctx.options == with_bit
    else:
        ctx.options &= ~value
        assert bool(ctx.options & value) == (name in ALWAYS_ON)


@pytest.mark.parametrize("protocol", [CLIENT, SERVER], ids=["client", "server"])
def test_unknown_option_bits_are_refused(protocol: ssl._SSLMethod) -> None:
    ctx = tls12.SSLContext(protocol)
    for bit in (1 << 40, 0x20, 0x4000000000):
        with pytest.raises(ValueError, match="unknown"):
            ctx.options |= bit


def test_assigning_options_outright_as_hypercorn_does() -> None:
    """`options = OP_NO_COMPRESSION` clears every other bit: what tls12 always does stays reported."""
    ctx = tls12.SSLContext(SERVER)
    ctx.options = ssl.OP_NO_COMPRESSION
    assert ctx.options & ssl.OP_NO_COMPRESSION
    assert ctx.options & ssl.OP_NO_TLSv1 and ctx.options & ssl.OP_NO_TLSv1_3
    assert not ctx.options & ssl.OP_CIPHER_SERVER_PREFERENCE
    client = tls12.SSLContext(CLIENT)
    with pytest.raises(ValueError, match="OP_NO_RENEGOTIATION"):
        client.options = ssl.OP_NO_COMPRESSION


VERSIONS = list(ssl.TLSVersion)
MINIMUM_OK = {ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MINIMUM_SUPPORTED}
MAXIMUM_OK = {ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.MAXIMUM_SUPPORTED}


@pytest.mark.parametrize("attribute", ["minimum_version", "maximum_version"])
@pytest.mark.parametrize("version", VERSIONS, ids=[v.name for v in VERSIONS])
def test_each_protocol_version(attribute: str, version: ssl.TLSVersion) -> None:
    ctx = tls12.SSLContext(CLIENT)
    accepted = MINIMUM_OK if attribute == "minimum_version" else MAXIMUM_OK
    if version in accepted:
        setattr(ctx, attribute, version)
    else:
        with pytest.raises(ValueError, match=version.name):
            setattr(ctx, attribute, version)
    assert ctx.minimum_version == ctx.maximum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize("protocol", [CLIENT, SERVER], ids=["client", "server"])
def test_tls13_only_attributes_are_accepted_as_in_the_stdlib(protocol: ssl._SSLMethod) -> None:
    for ctx in (tls12.SSLContext(protocol), ssl.SSLContext(protocol)):
        ctx.post_handshake_auth = True
        assert ctx.post_handshake_auth is True
        ctx.post_handshake_auth = False
        assert ctx.post_handshake_auth is False
        assert ctx.num_tickets == 2
        if protocol == SERVER:
            ctx.num_tickets = 5
            assert ctx.num_tickets == 5
            with pytest.raises(ValueError):
                ctx.num_tickets = -1
        else:
            with pytest.raises(ValueError):
                ctx.num_tickets = 1


def test_harmless_settings_still_connect(pem_dir: Path, serve: ServeFn) -> None:
    server_ctx = tls12.SSLContext(SERVER)
    server_ctx.load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key")
    server_ctx.options = ssl.OP_NO_COMPRESSION
    server_ctx.num_tickets = 0
    server = serve(server_ctx, echo)
    client = tls12.create_default_context(cafile=pem_dir / "ca.pem")
    client.maximum_version = ssl.TLSVersion.TLSv1_3
    client.post_handshake_auth = True
    client.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_TICKET | 0x8
    client.options &= ~ssl.OP_NO_TLSv1_3
    with connect(client, server.port) as sock:
        assert sock.version() == "TLSv1.2"
        sock.sendall(b"ping")
        assert sock.recv(10) == b"ping"


def test_hypercorn_recipe_runs_on_a_tls12_context(
    pem_dir: Path, serve: ServeFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hypercorn's own Config.create_ssl_context, with tls12 making the context it configures. The suite
    is the one OpenSSL picks with the same recipe: hypercorn's cipher string, and `options = OP_NO_COMPRESSION`
    clears OP_CIPHER_SERVER_PREFERENCE, so the client's order wins."""
    config = hypercorn.config.Config()
    config.certfile, config.keyfile = str(pem_dir / "leaf.pem"), str(pem_dir / "leaf.key")
    stdlib_ctx = config.create_ssl_context()
    assert stdlib_ctx is not None and not isinstance(stdlib_ctx, tls12.SSLContext)
    stdlib_ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # what tls12 speaks; the rest of the recipe as it is
    monkeypatch.setattr(hypercorn.config, "create_default_context", tls12.create_default_context)
    ctx = config.create_ssl_context()
    assert isinstance(ctx, tls12.SSLContext)
    assert ctx.options & ssl.OP_NO_COMPRESSION
    assert not ctx.options & ssl.OP_CIPHER_SERVER_PREFERENCE
    client = ssl.create_default_context(cafile=pem_dir / "ca.pem")
    client.set_alpn_protocols(["h2", "http/1.1"])
    ciphers = []
    for server_ctx in (stdlib_ctx, ctx):
        server = serve(server_ctx, echo)
        with connect(client, server.port) as sock:
            assert sock.selected_alpn_protocol() == "h2"
            ciphers.append(sock.cipher())
            sock.sendall(b"ping")
            assert sock.recv(10) == b"ping"
    assert ciphers[1] == ciphers[0] == (SUITE, "TLSv1.2", 256)


def test_readme_table_is_the_code_table() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("#### What the drop-in context accepts", 1)[1].split("\n#", 1)[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(OP_\w+)` \|.*\|$", section, re.MULTILINE)}
    assert set(rows) == {o.name for o in OPTIONS}
    for o in OPTIONS:
        expected = f"| `{o.name}` | {o.when_set}{' (always on)' if o.always else ''} | {o.when_cleared} | {o.why} |"
        assert rows[o.name] == expected
    for name in REFUSED_WHEN_SET:
        assert "refused" in rows[name].split("|")[2], name


def test_readme_settings_table_is_the_code_table() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("#### What the drop-in context accepts", 1)[1].split("\n#", 1)[0]
    table = section.split("| Setting | Accepted | Refused |\n|---|---|---|\n", 1)[1].split("\n\n", 1)[0]
    assert table.strip().splitlines() == [s.row() for s in SETTINGS]
