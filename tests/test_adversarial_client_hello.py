"""Adversarial ClientHellos, byte by byte: truncated at every offset, every length field wrong,
thousands of suites and extensions, the largest legal hello (131,396 bytes), malformed server_name.

test_policy.py covers the negotiation policy (no null compression, GREASE and TLS 1.3-style hellos,
duplicates, versions); test_codec_properties.py the parsers alone. Here every case goes through a
real ServerConnection and must end in the exact alert.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from test_adversarial_support import expect_failure, server_answers
from tls12 import (
    AlertDescription,
    ApplicationDataReceived,
    CipherSuite,
    ClientConfig,
    ClientConnection,
    DecodeError,
    HandshakeComplete,
    HandshakeFailure,
    IllegalParameter,
    ServerConfig,
    ServerConnection,
    TLSError,
    TruncatedConnection,
)
from tls12.enums import ExtensionType
from tls12.handshake.client import _hello_template as client_hello_template
from tls12.messages import (
    ALPN,
    ClientHello,
    ServerHello,
    ServerName,
    UnknownExtension,
    encode_handshake,
    find_extension,
)

from helpers import pump
from record_support import HANDSHAKE, SUITE, TLS10, default_extensions, frame, hello_record, make_hello, parse, record

HELLO_BODY = encode_handshake(make_hello())[4:]
# version 2, random 32, session_id<0> 1, cipher_suites<2> 2+2, compression<1> 1+1
EXTENSIONS_AT = 2 + 32 + 1 + 2 + 2 + 1 + 1


# -- truncation -----------------------------------------------------------------------------------


def test_client_hello_truncated_at_every_offset(server_config: ServerConfig) -> None:
    """Every strict prefix of the body, framed with a matching length: decode_error, except the one
    that ends exactly before the extensions, which is a well-formed hello without extensions and
    so without signature_algorithms: handshake_failure (RFC 9155 §3 rules out the SHA-1 default)."""
    assert HELLO_BODY[EXTENSIONS_AT - 1] == 0  # the null compression method ends the fixed part
    for k in range(len(HELLO_BODY)):
        error, alert = (HandshakeFailure, AlertDescription.HANDSHAKE_FAILURE) if k == EXTENSIONS_AT else \
            (DecodeError, AlertDescription.DECODE_ERROR)
        expect_failure(ServerConnection(server_config), record(HANDSHAKE, frame(1, HELLO_BODY[:k]), TLS10),
                       error, alert)


def test_client_hello_stream_cut_at_every_offset(server_config: ServerConfig) -> None:
    """The record stream cut anywhere, then EOF: the server waits, then reports truncation and
    sends nothing (there is nothing to answer yet)."""
    stream = hello_record(make_hello())
    for k in range(1, len(stream)):
        server = ServerConnection(server_config)
        assert server.receive_data(stream[:k]) == []
        assert server.data_to_send() == b""
        with pytest.raises(TruncatedConnection):
            server.receive_data(b"")
        assert server.data_to_send() == b""


# -- every length field wrong ------------------------------------------------------------------------


def _length_fields(body: bytes) -> list[tuple[str, int, int]]:
    """(name, offset, size) of every length prefix in our ClientHello body."""
    fields = [("session_id", 34, 1)]
    pos = 35 + body[34]
    fields.append(("cipher_suites", pos, 2))
    pos += 2 + int.from_bytes(body[pos : pos + 2], "big")
    fields.append(("compression_methods", pos, 1))
    pos += 1 + body[pos]
    fields.append(("extensions", pos, 2))
    pos += 2
    inner = {
        ExtensionType.SERVER_NAME: [("server_name_list", 0, 2), ("host_name", 3, 2)],
        ExtensionType.SUPPORTED_GROUPS: [("named_group_list", 0, 2)],
        ExtensionType.EC_POINT_FORMATS: [("ec_point_format_list", 0, 1)],
        ExtensionType.SIGNATURE_ALGORITHMS: [("supported_signature_algorithms", 0, 2)],
        ExtensionType.RENEGOTIATION_INFO: [("renegotiated_connection", 0, 1)],
    }
    while pos < len(body):
        ext_type = ExtensionType(int.from_bytes(body[pos : pos + 2], "big"))
        size = int.from_bytes(body[pos + 2 : pos + 4], "big")
        fields.append((f"{ext_type.name} extension_data", pos + 2, 2))
        fields += [(f"{ext_type.name} {name}", pos + 4 + off, n) for name, off, n in inner.get(ext_type, [])]
        pos += 4 + size
    return fields


FIELDS = _length_fields(HELLO_BODY)


def _variants(value: int, size: int) -> list[int]:
    top = (1 << (8 * size)) - 1
    return sorted({value + 1, value - 1, 0, top, value + 2, value // 2} - {value, -1, top + 1})


@pytest.mark.parametrize(("name", "offset", "size"), FIELDS, ids=[f[0] for f in FIELDS])
def test_client_hello_length_disagrees(server_config: ServerConfig, name: str, offset: int, size: int) -> None:
    """Each length prefix of the ClientHello set to values that disagree with what follows (±1, ±2,
    0, half, the maximum), the message length left consistent: always decode_error."""
    value = int.from_bytes(HELLO_BODY[offset : offset + size], "big")
    assert len(FIELDS) == 16
    for wrong in _variants(value, size):
        body = HELLO_BODY[:offset] + wrong.to_bytes(size, "big") + HELLO_BODY[offset + size :]
        expect_failure(ServerConnection(server_config), record(HANDSHAKE, frame(1, body), TLS10), DecodeError,
                       AlertDescription.DECODE_ERROR)


def test_handshake_length_shorter_than_the_hello(server_config: ServerConfig) -> None:
    """The message length one byte short: the hello is cut (decode_error) before the stray byte
    could be read as the start of another message."""
    raw = frame(1, HELLO_BODY)
    short = raw[:1] + (len(HELLO_BODY) - 1).to_bytes(3, "big") + raw[4:]
    expect_failure(ServerConnection(server_config), record(HANDSHAKE, short, TLS10), DecodeError,
                   AlertDescription.DECODE_ERROR)


def test_handshake_length_longer_than_the_hello(server_config: ServerConfig) -> None:
    """One byte longer: the server waits for the missing byte (it cannot know it will not come);
    a following record completes it with a trailing byte, which is decode_error."""
    raw = frame(1, HELLO_BODY)
    long = raw[:1] + (len(HELLO_BODY) + 1).to_bytes(3, "big") + raw[4:]
    server = ServerConnection(server_config)
    assert server.receive_data(record(HANDSHAKE, long, TLS10)) == []
    expect_failure(server, record(HANDSHAKE, b"\x00", TLS10), DecodeError, AlertDescription.DECODE_ERROR)


# -- compression -----------------------------------------------------------------------------------


def test_empty_compression_methods(server_config: ServerConfig) -> None:
    """compression_methods<1..2^8-1>: an empty list is decode_error."""
    body = HELLO_BODY[: EXTENSIONS_AT - 2] + b"\x00" + HELLO_BODY[EXTENSIONS_AT:]
    expect_failure(ServerConnection(server_config), record(HANDSHAKE, frame(1, body), TLS10), DecodeError,
                   AlertDescription.DECODE_ERROR)


def test_255_compression_methods_with_null_last(server_config: ServerConfig) -> None:
    flight = server_answers(server_config, hello_record(make_hello(compression=bytes(range(255, 0, -1))[:254]
                                                                   + b"\x00")))
    sh = parse(flight[0])
    assert isinstance(sh, ServerHello) and sh.compression_method == 0


# -- thousands of suites and extensions --------------------------------------------------------------


#: Generous on purpose (a loaded CI machine): the work is linear in the hello's size and takes
#: about 0.2 s here; a quadratic scan of 32,767 suites or 16,000 extensions would take minutes.
TIME_BOUND_S = 3.0


def _timed_answer(server_config: ServerConfig, data: bytes) -> list[bytes]:
    started = time.perf_counter()
    flight = server_answers(server_config, data)
    assert time.perf_counter() - started < TIME_BOUND_S
    return flight


def test_32767_cipher_suites(server_config: ServerConfig) -> None:
    """The most suites a hello can carry (2^16 - 2 bytes), ours last: found, in bounded time.
    (Such a hello is over 64 KiB: served with the default configuration.)"""
    suites = [*[2570 + i for i in range(32766) if 2570 + i != SUITE][:32766], SUITE]
    assert len(suites) * 2 == 0xFFFE
    hello = make_hello(suites=suites)
    sh = parse(_timed_answer(server_config, hello_record(hello))[0])
    assert isinstance(sh, ServerHello) and sh.cipher_suite == SUITE


def test_32767_cipher_suites_none_ours(server_config: ServerConfig) -> None:
    suites = [s for s in range(1, 32768) if s not in server_config.cipher_suites]
    assert len(suites) == 32767 - len([s for s in server_config.cipher_suites if s < 32768])
    expect_failure(ServerConnection(server_config), hello_record(make_hello(suites=suites)), HandshakeFailure,
                   AlertDescription.HANDSHAKE_FAILURE)


def _many_extensions(extra: int) -> list[UnknownExtension | object]:
    base = default_extensions()
    used = {int(e.ext_type) for e in base}
    unknown = [UnknownExtension(ExtensionType(t), b"") for t in range(0x1000, 0x1000 + extra + 10)
               if t not in used][:extra]
    return [*base, *unknown]


def test_thousands_of_extensions(server_config: ServerConfig) -> None:
    """Nearly as many empty unknown extensions as fit in the 2^16 - 1 byte block (15,900): ignored,
    none echoed, in bounded time."""
    hello = make_hello(extensions=_many_extensions(15900))  # type: ignore[arg-type]
    assert len(encode_handshake(hello)) > 63000
    sh = parse(_timed_answer(server_config, hello_record(hello))[0])
    assert isinstance(sh, ServerHello)
    assert all(int(e.ext_type) < 0x1000 or int(e.ext_type) == ExtensionType.RENEGOTIATION_INFO
               for e in sh.extensions)


def test_thousands_of_extensions_with_one_duplicate(server_config: ServerConfig) -> None:
    exts = _many_extensions(10000)
    exts.append(UnknownExtension(ExtensionType(0x1000), b"\x00"))
    hello = make_hello(extensions=exts)  # type: ignore[arg-type]
    started = time.perf_counter()
    expect_failure(ServerConnection(server_config), hello_record(hello), IllegalParameter,
                   AlertDescription.ILLEGAL_PARAMETER)
    assert time.perf_counter() - started < TIME_BOUND_S


# -- the largest legal hello -------------------------------------------------------------------------

#: version 2, random 32, session_id<0..32> 1+32, cipher_suites<2..2^16-2> 2+65534,
#: compression_methods<1..2^8-1> 1+255, extensions<0..2^16-1> 2+65535 (OpenSSL accepts up to this).
LARGEST_HELLO = 2 + 32 + 33 + 2 + 65534 + 1 + 255 + 2 + 65535


def _hello_of(size: int) -> bytes:
    """A valid ClientHello body of exactly `size` bytes, padded with the padding extension (21)."""
    without = len(encode_handshake(make_hello())) - 4
    pad = size - without - 4
    hello = make_hello(extensions=[*default_extensions(), UnknownExtension(ExtensionType(21), bytes(pad))])
    body = encode_handshake(hello)[4:]
    assert len(body) == size
    return body


def _largest_hello(base: ClientHello) -> ClientHello:
    """`base` grown to the largest legal size: a full session_id, 32,767 suites (ours last), 255
    compression methods (null first), and an extensions block of 65,535 bytes, filled by one
    padding extension (RFC 7685) and unknown empty extensions."""
    suites = [*[s for s in range(0x0A0A, 0x0A0A + 32767) if s != SUITE][:32766], SUITE]
    used = sum(4 + len(e.body()) for e in base.extensions)
    room = 0xFFFF - used
    filler = [UnknownExtension(ExtensionType(0xFE00 + i), b"") for i in range(8)]
    padding = UnknownExtension(ExtensionType(21), bytes(room - 4 * len(filler) - 4))
    hello = dataclasses.replace(
        base,
        session_id=bytes(range(32)),
        cipher_suites=tuple(CipherSuite(s) for s in suites),
        compression_methods=bytes(range(255)),
        extensions=(*base.extensions, *filler, padding),
    )
    assert len(encode_handshake(hello)) - 4 == LARGEST_HELLO
    return hello


def test_largest_legal_hello_completes_a_handshake(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """A ClientHello of 131,396 bytes (every vector at its RFC maximum) from our own client: the
    server takes it (the configurable limit is for certificate chains, not hellos), the handshake
    completes over the transcript of that hello, and data flows. The client's config is the
    default one; only the hello it sends (a template the client keeps per server name) is grown."""
    template = client_hello_template(client_config, "localhost")[0]
    big = _largest_hello(template)
    raw = encode_handshake(big)
    random_at = 4 + 2
    client_config.hello_templates["localhost"] = (big, raw[:random_at], raw[random_at + 32 :])
    try:
        client = ClientConnection(client_config, server_name="localhost")
        server = ServerConnection(server_config)
        hello = client.data_to_send()
        assert sum(length for _, _, length in _record_headers(hello)) == 4 + LARGEST_HELLO
        started = time.perf_counter()
        assert server.receive_data(hello) == []
        assert time.perf_counter() - started < TIME_BOUND_S
        assert pump(client, server) == ([HandshakeComplete()], [HandshakeComplete()])
        client.send_application_data(b"ping")
        assert server.receive_data(client.data_to_send()) == [ApplicationDataReceived(b"ping")]
    finally:
        client_config.hello_templates.pop("localhost", None)


def test_largest_legal_hello_with_a_small_certificate_limit(server_config: ServerConfig) -> None:
    config = dataclasses.replace(server_config, max_certificate_size=1024)
    _timed_answer(config, hello_record(_largest_hello(make_hello())))


def test_hello_one_byte_over_the_largest_legal_size(server_config: ServerConfig) -> None:
    """A header declaring one byte more than any ClientHello can hold is refused from the first
    record, before the rest is buffered. No such hello is well-formed, so the alert is
    decode_error (RFC 5246 §7.2.2: "the length of the message was incorrect")."""
    data = hello_record(encode_handshake(_largest_hello(make_hello()))[4:] + b"\x00")
    assert int.from_bytes(data[5 + 1 : 5 + 4], "big") == LARGEST_HELLO + 1
    expect_failure(ServerConnection(server_config), data[: 5 + 2**14], DecodeError, AlertDescription.DECODE_ERROR)


def test_hello_over_64_kib(server_config: ServerConfig) -> None:
    """What the old 64 KiB limit refused: served with the default configuration."""
    _timed_answer(server_config, hello_record(_hello_of(65537)))


def _record_headers(data: bytes) -> list[tuple[int, int, int]]:
    out = []
    pos = 0
    while pos < len(data):
        out.append((data[pos], int.from_bytes(data[pos + 1 : pos + 3], "big"),
                    int.from_bytes(data[pos + 3 : pos + 5], "big")))
        pos += 5 + out[-1][2]
    return out


# -- server_name -------------------------------------------------------------------------------------


def _with_sni(body: bytes) -> bytes:
    exts = [UnknownExtension(ExtensionType.SERVER_NAME, body) if isinstance(e, ServerName) else e
            for e in default_extensions()]
    return hello_record(make_hello(extensions=exts))


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "empty extension (only a server may send it empty)"),
        (b"\x00\x00", "empty server_name_list (<1..2^16-1>)"),
        (b"\x00\x03\x00\x00\x00", "empty host_name (<1..2^16-1>)"),
        (b"\x00\x0c\x01\x00\x09localhost", "name_type 1 (only host_name(0) is defined)"),
        (b"\x00\x0c\x00\x00\x0alocalhost", "host_name length past the list"),
        (b"\x00\x0d\x00\x00\x09localhost", "list length past the extension"),
        (b"\x00\x0c\x00\x00\x09localhost\x00", "trailing byte after the list"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_malformed_server_name(server_config: ServerConfig, body: bytes, why: str) -> None:
    """RFC 6066 §3: a malformed server_name is decode_error."""
    expect_failure(ServerConnection(server_config), _with_sni(body), DecodeError, AlertDescription.DECODE_ERROR)


def test_two_host_names(server_config: ServerConfig) -> None:
    """RFC 6066 §3: "The ServerNameList MUST NOT contain more than one name of the same
    name_type" -- well-formed but not allowed: illegal_parameter."""
    body = b"\x00\x18" + b"\x00\x00\x09localhost" + b"\x00\x00\x09otherhost"
    expect_failure(ServerConnection(server_config), _with_sni(body), IllegalParameter,
                   AlertDescription.ILLEGAL_PARAMETER)


def test_server_name_alert_reaches_no_sni_callback(server_config: ServerConfig) -> None:
    """A malformed server_name fails before the application's SNI hook is called."""
    called: list[str | None] = []

    def hook(name: str | None) -> ServerConfig | None:
        called.append(name)
        return None

    server = ServerConnection(server_config, config_for_name=hook)
    with pytest.raises(TLSError):
        server.receive_data(_with_sni(b"\x00\x03\x00\x00\x00"))
    assert called == []


def _sni_body(name: bytes) -> bytes:
    entry = b"\x00" + len(name).to_bytes(2, "big") + name
    return len(entry).to_bytes(2, "big") + entry


@pytest.mark.parametrize(
    ("name", "why"),
    [
        (b"loc\xe4lhost", "non-ASCII byte"),
        (b"xn--bcher-kva.\xc3\xa9xample", "UTF-8 bytes"),
        (b"local\x00host", "NUL"),
        (b"localhost\x00.evil.example", "NUL before another name"),
        (b"\x1b[2J\x1b[31mlocalhost", "terminal escape sequence"),
        (b"localhost\r\n127.0.0.1 - - forged log line", "CR LF"),
        (b"local\thost", "tab"),
        (b"local\x7fhost", "DEL"),
        (b"local host", "space"),
        (b"localhost/../etc", "slash"),
        (b"user@localhost", "at sign"),
        (b"[::1]", "IPv6 literal"),
        (b"localhost:443", "port"),
        (b"localhost.", "trailing dot (RFC 6066 §3: no trailing dot)"),
        (b".localhost", "empty first label"),
        (b"local..host", "empty label"),
        (b"a" * 64 + b".example", "label of 64 bytes"),
        (b".".join([b"a" * 63] * 4) + b".ab", "256 bytes"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_invalid_host_name(server_config: ServerConfig, name: bytes, why: str) -> None:
    """RFC 6066 §3: HostName is an ASCII DNS host name (labels of letters, digits, hyphens; tls12
    also takes underscores), at most 255 bytes, no trailing dot. Anything else is
    illegal_parameter, and the name never reaches the application's SNI hook."""
    called: list[str | None] = []

    def hook(name: str | None) -> ServerConfig | None:
        called.append(name)
        return None

    server = ServerConnection(server_config, config_for_name=hook)
    expect_failure(server, _with_sni(_sni_body(name)), IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)
    assert called == []


@pytest.mark.parametrize(
    "name",
    [
        b"localhost",
        b"LocalHost",
        b"a",
        b"my-host.example.com",
        b"_acme-challenge.example.com",
        b"xn--bcher-kva.example",
        b"127.0.0.1",
        b"a" * 63 + b".example",
        b".".join([b"a" * 63] * 4)[:255],
    ],
)
def test_valid_host_name_reaches_the_hook(server_config: ServerConfig, name: bytes) -> None:
    assert len(name) <= 255
    called: list[str | None] = []

    def hook(name: str | None) -> ServerConfig | None:
        called.append(name)
        return None

    server = ServerConnection(server_config, config_for_name=hook)
    assert server.receive_data(_with_sni(_sni_body(name))) == []
    assert server.failure is None and server.data_to_send()
    assert called == [name.decode("ascii")]


# -- GREASE where test_policy.py does not put it -------------------------------------------------------


def test_grease_in_alpn_and_extension_bodies(server_config: ServerConfig) -> None:
    """RFC 8701: GREASE ALPN names and GREASE extensions with bodies, first and last, are ignored;
    the server still picks its real ALPN protocol and echoes no GREASE value."""
    config = dataclasses.replace(server_config, alpn_protocols=("h2",))
    grease_ext = [UnknownExtension(ExtensionType(0x0A0A), b"\x00"), UnknownExtension(ExtensionType(0xFAFA), bytes(7))]
    hello = make_hello(suites=(0x1A1A, SUITE, 0x2A2A), extensions=[
        grease_ext[0], *default_extensions(), ALPN((b"\x3a\x3a", b"h2", b"\x4a\x4a")), grease_ext[1]])
    sh = parse(server_answers(config, hello_record(hello))[0])
    assert isinstance(sh, ServerHello)
    assert find_extension(sh.extensions, ALPN) == ALPN((b"h2",))
    assert not {int(e.ext_type) for e in sh.extensions} & {0x0A0A, 0xFAFA}
