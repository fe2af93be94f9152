"""`tls12.SSLContext.wrap_bio()` against the stdlib `ssl.SSLObject`, over `ssl.MemoryBIO`s, by hand.

Every behavioural test runs twice: with tls12's object under test ("tls12") and with the
stdlib's own `ssl.SSLObject` in the same seat ("stdlib"). The stdlib run is the control: it
proves each expectation is what the `ssl` module itself does, so a tls12 failure next to a
passing stdlib run is a compatibility bug, not a wrong test. The peer is always the stdlib
(OpenSSL), pinned to TLS 1.2 and ECDHE-RSA-AES256-GCM-SHA384. Both directions: the object
under test as client and as server.
"""

from __future__ import annotations

import ssl
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import tls12
from tls12.certs import CertificateAuthority
from tls12.sslcompat import SSLObject as Tls12SSLObject

from helpers import stdlib_client_context, stdlib_server_context

IMPLS = ("tls12", "stdlib")
SIDES = ("client", "server")
CIPHER = ("ECDHE-RSA-AES256-GCM-SHA384", "TLSv1.2", 256)
# What the stdlib ssl module reports for the throwaway leaf's subjectAltName.
LEAF_SAN = (("DNS", "localhost"), ("IP Address", "127.0.0.1"))
BIG = bytes((i * 7 + i // 251) & 0xFF for i in range(100_000))  # > 2^14: several records
ALERT_RECORD = 0x15


# -- contexts and plumbing ---------------------------------------------------------------


def client_context(impl: str, pem_dir: Path, cafile: Path | None = None) -> ssl.SSLContext:
    """A client context of `impl` trusting `cafile` (the session CA by default)."""
    cafile = cafile or pem_dir / "ca.pem"
    if impl == "stdlib":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_verify_locations(cafile)
        return ctx
    ours = tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ours.load_verify_locations(cafile)
    return ours


def server_context(impl: str, pem_dir: Path) -> ssl.SSLContext:
    if impl == "stdlib":
        return stdlib_server_context(pem_dir)
    ours = tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ours.load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key")
    return ours


@dataclass
class End:
    """One side: an SSL object and the two BIOs it was wrapped over."""

    obj: Any
    incoming: ssl.MemoryBIO
    outgoing: ssl.MemoryBIO

    def send_to(self, other: End) -> bytes:
        """Move everything this side has written into the other side's incoming BIO."""
        data = self.outgoing.read()
        if data:
            other.incoming.write(data)
        return data


def wrap(ctx: ssl.SSLContext, server_side: bool, server_hostname: str | None = None) -> End:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_side=server_side, server_hostname=server_hostname)
    return End(obj, incoming, outgoing)


def handshake(client: End, server: End, rounds: int = 10) -> None:
    """Shuttle bytes until both sides finished the handshake."""
    done = {id(client): False, id(server): False}
    for _ in range(rounds):
        for this, other in ((client, server), (server, client)):
            if not done[id(this)]:
                try:
                    this.obj.do_handshake()
                    done[id(this)] = True
                except ssl.SSLWantReadError:
                    pass
            this.send_to(other)
        if all(done.values()):
            return
    raise AssertionError(f"handshake did not complete: {done}")


def connect(impl: str, side: str, pem_dir: Path) -> tuple[End, End]:
    """(object under test, stdlib peer), after a completed handshake."""
    if side == "client":
        ours = wrap(client_context(impl, pem_dir), False, "localhost")
        peer = wrap(stdlib_server_context(pem_dir), True)
        handshake(ours, peer)
    else:
        ours = wrap(server_context(impl, pem_dir), True)
        peer = wrap(stdlib_client_context(pem_dir), False, "localhost")
        handshake(peer, ours)
    return ours, peer


def expect_want_read(call: Any, *args: Any) -> None:
    with pytest.raises(ssl.SSLWantReadError) as info:
        call(*args)
    assert info.value.errno == ssl.SSL_ERROR_WANT_READ


def record_types(wire: bytes) -> list[int]:
    types = []
    pos = 0
    while pos < len(wire):
        content_type, _version, length = struct.unpack_from(">BHH", wire, pos)
        types.append(content_type)
        pos += 5 + length
    assert pos == len(wire), "trailing partial record"
    return types


def read_all(end: End, expected: int) -> bytes:
    """Read until `expected` bytes arrived (the data must already be in the incoming BIO)."""
    out = bytearray()
    while len(out) < expected:
        chunk = end.obj.read(1 << 16)
        assert chunk, "connection closed early"
        out += chunk
    return bytes(out)


@pytest.fixture(scope="module")
def stranger_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA nobody trusts, as ca.pem (for clients that must reject the session's leaf)."""
    d = tmp_path_factory.mktemp("stranger")
    (d / "ca.pem").write_bytes(CertificateAuthority("stranger CA", key_size=1024).cert_pem())
    return d


# -- the handshake --------------------------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLS)
def test_client_handshake_wants_read_until_each_server_flight(impl: str, pem_dir: Path) -> None:
    ours = wrap(client_context(impl, pem_dir), False, "localhost")
    peer = wrap(stdlib_server_context(pem_dir), True)

    expect_want_read(ours.obj.do_handshake)
    hello = ours.outgoing.read()
    assert record_types(hello) == [22]
    expect_want_read(ours.obj.do_handshake)  # nothing arrived: still waiting, nothing re-sent
    assert ours.outgoing.pending == 0

    peer.incoming.write(hello)
    expect_want_read(peer.obj.do_handshake)
    assert peer.send_to(ours)  # ServerHello .. ServerHelloDone
    expect_want_read(ours.obj.do_handshake)  # sent ClientKeyExchange/CCS/Finished, waits for the server's
    assert ours.send_to(peer)
    expect_want_read(ours.obj.do_handshake)
    assert ours.outgoing.pending == 0

    peer.obj.do_handshake()
    assert peer.send_to(ours)  # CCS + Finished
    ours.obj.do_handshake()
    ours.obj.do_handshake()  # already done: a no-op
    assert ours.obj.version() == "TLSv1.2"


@pytest.mark.parametrize("impl", IMPLS)
def test_server_handshake_wants_read_until_each_client_flight(impl: str, pem_dir: Path) -> None:
    ours = wrap(server_context(impl, pem_dir), True)
    peer = wrap(stdlib_client_context(pem_dir), False, "localhost")

    expect_want_read(ours.obj.do_handshake)  # no ClientHello yet
    assert ours.outgoing.pending == 0
    expect_want_read(peer.obj.do_handshake)
    peer.send_to(ours)
    expect_want_read(ours.obj.do_handshake)
    assert ours.send_to(peer)  # ServerHello .. ServerHelloDone
    expect_want_read(ours.obj.do_handshake)
    assert ours.outgoing.pending == 0

    expect_want_read(peer.obj.do_handshake)
    assert peer.send_to(ours)
    ours.obj.do_handshake()
    assert ours.send_to(peer)  # CCS + Finished
    peer.obj.do_handshake()
    assert ours.obj.version() == "TLSv1.2"


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("impl", IMPLS)
def test_nothing_negotiated_before_the_handshake(impl: str, side: str, pem_dir: Path) -> None:
    if side == "client":
        ours = wrap(client_context(impl, pem_dir), False, "localhost")
    else:
        ours = wrap(server_context(impl, pem_dir), True)
    assert ours.obj.cipher() is None
    assert ours.obj.version() is None
    assert ours.obj.selected_alpn_protocol() is None
    assert ours.obj.get_channel_binding("tls-unique") is None
    with pytest.raises(ValueError):
        ours.obj.getpeercert()
    with pytest.raises(ValueError):
        ours.obj.getpeercert(binary_form=True)
    assert ours.obj.pending() == 0
    assert ours.obj.server_side is (side == "server")
    assert ours.obj.server_hostname == ("localhost" if side == "client" else None)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("impl", IMPLS)
def test_session_information_matches_the_stdlib_peer(impl: str, side: str, pem_dir: Path) -> None:
    ours, peer = connect(impl, side, pem_dir)
    obj = ours.obj
    assert obj.cipher() == CIPHER == peer.obj.cipher()
    assert obj.version() == "TLSv1.2" == peer.obj.version()
    assert obj.compression() is None
    assert obj.selected_alpn_protocol() is None
    binding = obj.get_channel_binding("tls-unique")
    assert isinstance(binding, bytes)
    assert len(binding) == 12
    assert binding == peer.obj.get_channel_binding("tls-unique")
    assert obj.server_side is (side == "server")
    if side == "client":
        assert obj.server_hostname == "localhost"
        cert = obj.getpeercert()
        assert isinstance(cert, dict)
        assert cert["subjectAltName"] == LEAF_SAN
        # Exactly the dictionary the stdlib decodes from the same certificate.
        assert cert == ssl._ssl._test_decode_cert(str(pem_dir / "leaf.pem"))  # type: ignore[attr-defined]
        der = obj.getpeercert(binary_form=True)
        assert der == ssl.PEM_cert_to_DER_cert((pem_dir / "leaf.pem").read_text())
    else:
        assert obj.server_hostname is None
        # No client certificate was asked for.
        assert obj.getpeercert() is None
        assert obj.getpeercert(binary_form=True) is None


@pytest.mark.parametrize("side", SIDES)
def test_tls12_object_shape(side: str, pem_dir: Path) -> None:
    ours, peer = connect("tls12", side, pem_dir)
    obj = ours.obj
    assert isinstance(obj, Tls12SSLObject)
    assert isinstance(obj.context, tls12.SSLContext)
    assert isinstance(obj.context, ssl.SSLContext)
    assert isinstance(obj.session, tls12.SSLSession)
    assert obj.session_reused is False
    assert obj.cipher() == peer.obj.cipher()


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("impl", IMPLS)
def test_alpn_is_negotiated(impl: str, side: str, pem_dir: Path) -> None:
    if side == "client":
        cctx, sctx = client_context(impl, pem_dir), stdlib_server_context(pem_dir)
    else:
        cctx, sctx = stdlib_client_context(pem_dir), server_context(impl, pem_dir)
    cctx.set_alpn_protocols(["h2", "http/1.1"])
    sctx.set_alpn_protocols(["http/1.1"])
    client, server = wrap(cctx, False, "localhost"), wrap(sctx, True)
    handshake(client, server)
    assert client.obj.selected_alpn_protocol() == "http/1.1"
    assert server.obj.selected_alpn_protocol() == "http/1.1"


# -- application data -------------------------------------------------------------------------


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("impl", IMPLS)
def test_read_sizes_buffers_and_pending(impl: str, side: str, pem_dir: Path) -> None:
    ours, peer = connect(impl, side, pem_dir)
    obj = ours.obj
    expect_want_read(obj.read)  # nothing sent yet
    expect_want_read(obj.read, 10, bytearray(10))

    assert peer.obj.write(b"hello, wonderful world") == 22
    peer.send_to(ours)
    assert obj.read(5) == b"hello"
    assert obj.pending() == 17

    buf = bytearray(b"..........")
    assert obj.read(3, buf) == 3
    assert buf == b", w........."[:10]
    assert obj.pending() == 14

    backing = bytearray(b"#" * 12)
    view = memoryview(backing)
    assert obj.read(4, view[2:]) == 4  # a slice of a memoryview, as asyncio passes it
    assert backing == b"##onde######"
    assert obj.pending() == 10

    small = bytearray(3)
    assert obj.read(100, small) == 3  # never more than the buffer holds
    assert small == b"rfu"
    assert obj.read(1000) == b"l world"
    assert obj.pending() == 0
    expect_want_read(obj.read)
    expect_want_read(obj.read, 5, bytearray(5))


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("impl", IMPLS)
def test_write_returns_counts_and_large_writes_cross(impl: str, side: str, pem_dir: Path) -> None:
    ours, peer = connect(impl, side, pem_dir)
    obj = ours.obj
    assert obj.write(b"abc") == 3
    assert obj.write(bytearray(b"defg")) == 4
    assert obj.write(memoryview(b"--hij--")[2:5]) == 3
    ours.send_to(peer)
    assert read_all(peer, 10) == b"abcdefghij"

    assert obj.write(BIG) == len(BIG)
    wire = ours.send_to(peer)
    assert len(record_types(wire)) >= len(BIG) // 16384 + 1
    assert read_all(peer, len(BIG)) == BIG

    assert peer.obj.write(BIG[::-1]) == len(BIG)
    peer.send_to(ours)
    assert read_all(ours, len(BIG)) == BIG[::-1]
    expect_want_read(obj.read)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("impl", IMPLS)
def test_input_one_byte_at_a_time(impl: str, side: str, pem_dir: Path) -> None:
    """The transport may deliver any split: each partial record is just "want more input"."""
    if side == "client":
        ours = wrap(client_context(impl, pem_dir), False, "localhost")
        peer = wrap(stdlib_server_context(pem_dir), True)
    else:
        ours = wrap(server_context(impl, pem_dir), True)
        peer = wrap(stdlib_client_context(pem_dir), False, "localhost")
    first, second = (ours, peer) if side == "client" else (peer, ours)
    done = {id(ours): False, id(peer): False}
    for _ in range(10):
        for this, other in ((first, second), (second, first)):
            if this is ours:
                # Feed what the peer sent one byte at a time, stepping the handshake each time.
                pending = this.incoming.read()
                for i in range(len(pending)):
                    this.incoming.write(pending[i : i + 1])
                    if not done[id(this)]:
                        try:
                            this.obj.do_handshake()
                            done[id(this)] = True
                        except ssl.SSLWantReadError:
                            pass
            if not done[id(this)]:
                try:
                    this.obj.do_handshake()
                    done[id(this)] = True
                except ssl.SSLWantReadError:
                    pass
            this.send_to(other)
        if all(done.values()):
            break
    assert all(done.values()), done

    peer.obj.write(b"split record")
    wire = peer.outgoing.read()
    for i in range(len(wire) - 1):
        ours.incoming.write(wire[i : i + 1])
        expect_want_read(ours.obj.read)
        assert ours.obj.pending() == 0
    ours.incoming.write(wire[-1:])
    assert ours.obj.read() == b"split record"


# -- closing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("impl", IMPLS)
def test_read_returns_empty_after_the_peers_close_notify(impl: str, side: str, pem_dir: Path) -> None:
    ours, peer = connect(impl, side, pem_dir)
    peer.obj.write(b"last words")
    expect_want_read(peer.obj.unwrap)  # close_notify sent, waits for ours
    peer.send_to(ours)

    assert ours.obj.read(1024) == b"last words"
    assert ours.obj.read(1024) == b""
    assert ours.obj.read() == b""
    assert ours.obj.read(10, bytearray(10)) == 0
    assert ours.obj.read(10, memoryview(bytearray(10))) == 0

    assert ours.obj.unwrap() is None  # the peer already closed: completes at once
    wire = ours.send_to(peer)
    assert record_types(wire) == [ALERT_RECORD]
    assert peer.obj.unwrap() is None


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("impl", IMPLS)
def test_unwrap_sends_close_notify_and_waits_for_the_peers(impl: str, side: str, pem_dir: Path) -> None:
    ours, peer = connect(impl, side, pem_dir)
    expect_want_read(ours.obj.unwrap)
    wire = ours.send_to(peer)
    assert record_types(wire) == [ALERT_RECORD]
    expect_want_read(ours.obj.unwrap)  # still waiting; close_notify is not sent twice
    assert ours.outgoing.pending == 0

    assert peer.obj.read(1024) == b""  # the stdlib peer saw our close_notify
    assert peer.obj.unwrap() is None
    peer.send_to(ours)
    assert ours.obj.unwrap() is None


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("impl", IMPLS)
def test_eof_without_close_notify_is_an_eof_error(impl: str, side: str, pem_dir: Path) -> None:
    ours, peer = connect(impl, side, pem_dir)
    peer.obj.write(b"cut short")
    peer.send_to(ours)
    ours.incoming.write_eof()
    assert ours.obj.read(1024) == b"cut short"  # what arrived intact is still delivered
    with pytest.raises(ssl.SSLEOFError):
        ours.obj.read(1024)
    with pytest.raises(ssl.SSLEOFError):
        ours.obj.read(10, bytearray(10))


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("impl", IMPLS)
def test_eof_during_the_handshake_is_an_eof_error(impl: str, side: str, pem_dir: Path) -> None:
    if side == "client":
        ours = wrap(client_context(impl, pem_dir), False, "localhost")
    else:
        ours = wrap(server_context(impl, pem_dir), True)
    expect_want_read(ours.obj.do_handshake)
    ours.incoming.write_eof()
    with pytest.raises(ssl.SSLEOFError):
        ours.obj.do_handshake()


# -- failures ---------------------------------------------------------------------------------------

CERT_FAILURES = {
    # case: (server_hostname, trust the stranger CA?, verify_code, verify_message, alert the peer names)
    "unknown_ca": ("localhost", True, 20, "unable to get local issuer certificate", "TLSV1_ALERT_UNKNOWN_CA"),
    "hostname": (
        "example.com",
        False,
        62,
        "Hostname mismatch, certificate is not valid for 'example.com'.",
        "SSLV3_ALERT_BAD_CERTIFICATE",
    ),
}


@pytest.mark.parametrize("case", sorted(CERT_FAILURES))
@pytest.mark.parametrize("impl", IMPLS)
def test_certificate_failure_raises_and_sends_the_alert(
    impl: str, case: str, pem_dir: Path, stranger_pem: Path
) -> None:
    hostname, stranger, code, message, alert = CERT_FAILURES[case]
    ctx = client_context(impl, pem_dir, stranger_pem / "ca.pem" if stranger else None)
    ours = wrap(ctx, False, hostname)
    peer = wrap(stdlib_server_context(pem_dir), True)

    expect_want_read(ours.obj.do_handshake)
    ours.send_to(peer)
    expect_want_read(peer.obj.do_handshake)
    peer.send_to(ours)
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        ours.obj.do_handshake()
    exc = info.value
    assert exc.verify_code == code
    assert exc.verify_message == message
    assert exc.reason == "CERTIFICATE_VERIFY_FAILED"
    assert "certificate verify failed" in str(exc)

    wire = ours.send_to(peer)  # the fatal alert is waiting in the outgoing BIO
    assert record_types(wire) == [ALERT_RECORD]
    assert wire[5] == 2  # fatal
    with pytest.raises(ssl.SSLError) as peer_info:
        peer.obj.do_handshake()
    assert not isinstance(peer_info.value, ssl.SSLWantReadError)
    assert peer_info.value.reason == alert

    with pytest.raises(ssl.SSLError) as again:  # the failure is final
        ours.obj.do_handshake()
    assert not isinstance(again.value, ssl.SSLWantReadError)


def test_wrap_bio_without_server_hostname_under_check_hostname(pem_dir: Path) -> None:
    # tls12 refuses up front, as the stdlib's wrap_socket() does (the stdlib's wrap_bio()
    # accepts it and then skips the name check, so there is no stdlib control here).
    ctx = client_context("tls12", pem_dir)
    assert ctx.check_hostname
    with pytest.raises(ValueError):
        ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname=None)
    ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="localhost")  # the name is all it lacked


@pytest.mark.parametrize("impl", IMPLS)
def test_server_without_a_certificate_chain_is_an_ssl_error(impl: str, pem_dir: Path) -> None:
    ctx = tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER) if impl == "tls12" else ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    peer = wrap(stdlib_client_context(pem_dir), False, "localhost")
    expect_want_read(peer.obj.do_handshake)
    hello = peer.outgoing.read()
    # Raised by wrap_bio() or, as the stdlib does, by the handshake: never a want-read.
    with pytest.raises(ssl.SSLError) as info:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(incoming, outgoing, server_side=True)
        incoming.write(hello)
        obj.do_handshake()
    assert not isinstance(info.value, ssl.SSLWantReadError)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("impl", IMPLS)
def test_read_zero_into_a_buffer_fills_the_buffer(impl: str, side: str, pem_dir: Path) -> None:
    """As in the ssl module: with a buffer, a length of 0 means "as much as the buffer holds"."""
    ours, peer = connect(impl, side, pem_dir)
    peer.obj.write(b"0123456789abcdef")
    peer.send_to(ours)
    buffer = bytearray(10)
    assert ours.obj.read(0, buffer) == 10
    assert bytes(buffer) == b"0123456789"
    assert ours.obj.read(100, bytearray(3)) == 3  # never more than the buffer


# The stdlib reports the callback's exception through sys.unraisablehook.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("impl", IMPLS)
def test_an_exception_in_sni_callback_is_handshake_failure(impl: str, pem_dir: Path) -> None:
    """The ssl module documents it: the handshake ends with a handshake_failure alert."""

    def callback(sslobj: Any, name: str | None, ctx: ssl.SSLContext) -> None:
        raise RuntimeError("no such site")

    server_ctx = server_context(impl, pem_dir)
    server_ctx.sni_callback = callback
    server = wrap(server_ctx, True)
    client = wrap(stdlib_client_context(pem_dir), False, "localhost")
    with pytest.raises(ssl.SSLWantReadError):
        client.obj.do_handshake()
    client.send_to(server)
    with pytest.raises(ssl.SSLError):
        server.obj.do_handshake()
    server.send_to(client)
    with pytest.raises(ssl.SSLError) as info:
        client.obj.do_handshake()
    assert "HANDSHAKE_FAILURE" in str(info.value)
