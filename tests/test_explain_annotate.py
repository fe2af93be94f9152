"""The byte-level annotation: every byte of every message belongs to exactly one named field.

For real messages (ours and OpenSSL's, both directions) and for generated
ones, the top-level fields tile the message, each group's children tile the
group, and the values named agree with what `tls12.messages` parses. Junk
never makes the walker raise: what it cannot follow is one opaque field.
"""

from __future__ import annotations

import contextlib
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from tls12 import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.enums import CipherSuite, ExtensionType, NamedGroup, ProtocolVersion, SignatureScheme
from tls12.explain import Recorder
from tls12.explain.annotate import annotate_change_cipher_spec, annotate_handshake, distinguished_name
from tls12.explain.model import Field
from tls12.messages import (
    ALPN,
    Alert,
    Certificate,
    ChangeCipherSpec,
    ClientHello,
    ClientKeyExchange,
    ECPointFormats,
    ExtendedMasterSecret,
    Finished,
    RenegotiationInfo,
    ServerHello,
    ServerKeyExchange,
    ServerName,
    SignatureAlgorithms,
    SupportedGroups,
    UnknownExtension,
    encode_handshake,
)
from tls12.trace import MessageTrace

from helpers import StdlibPeer, pump, stdlib_client_context, stdlib_server_context


def assert_tiles(fields: list[Field], start: int, end: int, where: str = "message") -> None:
    """The fields with bytes cover [start, end) exactly, in order; so do every group's children."""
    pos = start
    for f in fields:
        if f.kind == "info":
            assert f.start is None and f.end is None, f.name
            continue
        assert f.start == pos, f"{where}: {f.name} starts at {f.start}, expected {pos}"
        assert f.end is not None and f.end > f.start, f"{where}: {f.name} is empty"
        if any(c.kind != "info" for c in f.children):
            assert_tiles(f.children, f.start, f.end, f"{where} > {f.name}")
        pos = f.end
    assert pos == end, f"{where}: fields end at {pos}, the bytes at {end}"


def fields_named(fields: list[Field], name: str) -> list[Field]:
    return [f for top in fields for f in top.walk() if f.name == name]


def value_bytes(raw: bytes, fields: list[Field], name: str) -> bytes:
    (field,) = fields_named(fields, name)
    assert field.start is not None and field.end is not None
    return raw[field.start : field.end]


def traced_messages(events: list[object]) -> list[MessageTrace]:
    return [e.event for e in events if isinstance(e.event, MessageTrace)]  # type: ignore[attr-defined]


def _check_message(trace: MessageTrace) -> None:
    message, raw = trace.message, trace.raw
    if isinstance(message, ChangeCipherSpec):
        fields = annotate_change_cipher_spec(raw)
    elif isinstance(message, Alert):
        return  # the explanation names an alert; it breaks down handshake messages and ChangeCipherSpec
    else:
        fields = annotate_handshake(raw)
        assert fields[0].name == "handshake header" and fields[0].end == 4
    assert_tiles(fields, 0, len(raw), type(message).__name__)
    assert not fields_named(fields, "unparsed"), f"{type(message).__name__} was not fully understood"
    match message:
        case ClientHello() | ServerHello():
            assert value_bytes(raw, fields, "random") == message.random
            (ext_block,) = fields_named(fields, "extensions") or [None]
            if message.extensions:
                assert ext_block is not None
                names = [f.name.split(" (")[0] for f in ext_block.children if f.kind == "group"]
                assert len(names) == len(message.extensions)
        case Certificate():
            for i, der in enumerate(message.certificate_list):
                (cert,) = fields_named(fields, f"certificate[{i}]")
                subject = next(c.value for c in cert.children if c.name == "subject")
                assert subject == x509.load_der_x509_certificate(der).subject.rfc4514_string()
                (der_field,) = [c for c in cert.children if c.name == "certificate (DER)"]
                assert raw[der_field.start : der_field.end] == der  # type: ignore[misc]
                assert [c.name for c in der_field.children if c.kind != "length"] == \
                    ["tbsCertificate", "signatureAlgorithm", "signatureValue"]
        case ServerKeyExchange():
            assert value_bytes(raw, fields, "public")[1:] == message.public
            assert value_bytes(raw, fields, "signature")[2:] == message.signature
        case ClientKeyExchange():
            assert value_bytes(raw, fields, "ecdh_Yc")[1:] == message.public
        case Finished():
            assert value_bytes(raw, fields, "verify_data") == message.verify_data


def test_our_messages_are_annotated_byte_for_byte(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    recorder = Recorder()
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], alpn_protocols=("h2", "http/1.1")),
                              server_name="localhost", tracer=recorder.tracer("client"))
    server = ServerConnection(ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                                           alpn_protocols=("http/1.1",)), tracer=recorder.tracer("server"))
    pump(client, server)
    client.close()
    pump(client, server)
    messages = traced_messages(recorder.events)  # type: ignore[arg-type]
    kinds = {type(m.message).__name__ for m in messages}
    assert kinds >= {"ClientHello", "ServerHello", "Certificate", "ServerKeyExchange", "ServerHelloDone",
                     "ClientKeyExchange", "ChangeCipherSpec", "Finished", "Alert"}
    for trace in messages:
        _check_message(trace)
    hello = next(m for m in messages if isinstance(m.message, ClientHello))
    fields = annotate_handshake(hello.raw)
    assert [f.value for f in fields_named(fields, "host_name")] == ["localhost"]
    assert [f.value for f in fields_named(fields, "protocol_name")] == ["h2", "http/1.1"]


def test_openssls_messages_are_annotated_byte_for_byte(pem_dir: Path, ca: CertificateAuthority,
                                                        leaf: IssuedCertificate) -> None:
    """OpenSSL's ClientHello (many extensions, suites tls12 does not speak) and its server flight."""
    recorder = Recorder()
    server = ServerConnection(ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key),
                              tracer=recorder.tracer("server"))
    peer = StdlibPeer(stdlib_client_context(pem_dir), server_side=False, server_hostname="localhost")
    peer.obj.context.set_ciphers("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256")
    for _ in range(6):
        with contextlib.suppress(ssl.SSLWantReadError):
            peer.obj.do_handshake()
        data = peer.outgoing.read()
        if data:
            server.receive_data(data)
        out = server.data_to_send()
        if out:
            peer.incoming.write(out)
    client_recorder = Recorder()
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate]), server_name="localhost",
                              tracer=client_recorder.tracer("client"))
    openssl_server = StdlibPeer(stdlib_server_context(pem_dir, curve="prime256v1"), server_side=True)
    for _ in range(6):
        data = client.data_to_send()
        if data:
            openssl_server.incoming.write(data)
        with contextlib.suppress(ssl.SSLWantReadError):
            openssl_server.obj.do_handshake()
        out = openssl_server.outgoing.read()
        if out:
            client.receive_data(out)
    assert server.handshake_complete and client.handshake_complete
    incoming = [m for m in traced_messages(recorder.events) + traced_messages(client_recorder.events)  # type: ignore[arg-type]
                if m.direction == "in"]
    assert {type(m.message).__name__ for m in incoming} >= {"ClientHello", "ServerKeyExchange", "Finished"}
    for trace in incoming:
        _check_message(trace)
    hello = next(m for m in incoming if isinstance(m.message, ClientHello))
    suites = [f.value for f in fields_named(annotate_handshake(hello.raw), "cipher_suite")]
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (0xC02F)" in suites


def test_the_der_of_a_certificate_is_broken_down(leaf: IssuedCertificate) -> None:
    der = leaf.certificate.public_bytes(Encoding.DER)
    raw = encode_handshake(Certificate((der,)))
    fields = annotate_handshake(raw)
    assert_tiles(fields, 0, len(raw))
    tbs = fields_named(fields, "tbsCertificate")[0]
    names = [c.name for c in tbs.children if c.kind != "length"]
    assert names == ["version", "serialNumber", "signature", "issuer", "validity", "subject", "subjectPublicKeyInfo",
                     "extensions"]


_u16 = st.integers(0, 0xFFFF)
_extension = st.one_of(
    st.builds(lambda t, d: UnknownExtension(ExtensionType(t), d),
              st.integers(0, 0xFFFF).filter(lambda t: t not in (0, 10, 11, 13, 16, 23, 43, 0xFF01)),
              st.binary(max_size=40)),
    st.builds(lambda n: ServerName((n,)), st.from_regex(r"[a-z]{1,10}\.[a-z]{2,5}", fullmatch=True)),
    st.builds(lambda gs: SupportedGroups(tuple(NamedGroup(g) for g in gs)), st.lists(_u16, min_size=1, max_size=8)),
    st.builds(lambda ss: SignatureAlgorithms(tuple(SignatureScheme(s) for s in ss)),
              st.lists(_u16, min_size=1, max_size=8)),
    st.builds(lambda ps: ALPN(tuple(ps)), st.lists(st.binary(min_size=1, max_size=10), min_size=1, max_size=3)),
    st.just(ExtendedMasterSecret()),
    st.just(RenegotiationInfo(b"")),
    st.just(ECPointFormats((0,))),  # type: ignore[arg-type]
)


def _unique(extensions: list[object]) -> tuple[object, ...]:
    seen, out = set(), []
    for ext in extensions:
        kind = int(ext.ext_type)  # type: ignore[attr-defined]
        if kind not in seen:
            seen.add(kind)
            out.append(ext)
    return tuple(out)


@settings(max_examples=150, deadline=None)
@given(suites=st.lists(_u16, min_size=1, max_size=20), session_id=st.binary(max_size=32),
       extensions=st.lists(_extension, max_size=8), random=st.binary(min_size=32, max_size=32))
def test_any_client_hello_is_annotated_byte_for_byte(suites: list[int], session_id: bytes,
                                                     extensions: list[object], random: bytes) -> None:
    hello = ClientHello(ProtocolVersion.TLS1_2, random, session_id, tuple(CipherSuite(s) for s in suites),
                        b"\x00", _unique(extensions))  # type: ignore[arg-type]
    raw = encode_handshake(hello)
    fields = annotate_handshake(raw)
    assert_tiles(fields, 0, len(raw))
    assert not fields_named(fields, "unparsed")
    assert len(fields_named(fields, "cipher_suite")) == len(suites)
    assert value_bytes(raw, fields, "random") == random


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_junk_never_breaks_the_walker(data: bytes) -> None:
    for msg_type in (1, 2, 11, 12, 13, 15, 16, 20, 99):
        raw = bytes((msg_type,)) + len(data).to_bytes(3, "big") + data
        assert_tiles(annotate_handshake(raw), 0, len(raw))
        assert_tiles(annotate_handshake(raw, from_client=True), 0, len(raw))
    assert_tiles(annotate_handshake(data), 0, len(data))  # even a wrong header


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 4), st.binary(max_size=64))
def test_a_truncated_message_is_still_tiled(cut: int, tail: bytes) -> None:
    hello = ClientHello(ProtocolVersion.TLS1_2, bytes(32), b"", (CipherSuite(0xC030),), b"\x00",
                        (ServerName(("example.com",)), ExtendedMasterSecret()))
    raw = encode_handshake(hello)
    broken = raw[: len(raw) - 1 - cut] + tail
    fields = annotate_handshake(broken)
    assert_tiles(fields, 0, len(broken))


def test_server_key_exchange_points_are_split(ca: CertificateAuthority) -> None:
    for size in (65, 97):
        public = b"\x04" + bytes(range(size - 1))
        message = ServerKeyExchange(NamedGroup.SECP256R1, public, SignatureScheme.RSA_PKCS1_SHA256, b"\x01" * 256)
        raw = encode_handshake(message)
        fields = annotate_handshake(raw)
        assert_tiles(fields, 0, len(raw))
        half = (size - 1) // 2
        assert value_bytes(raw, fields, "x") == public[1 : 1 + half]
        assert value_bytes(raw, fields, "y") == public[1 + half :]


def test_a_server_hellos_session_ticket_extension_promises_a_ticket() -> None:
    """In a ClientHello the empty session_ticket extension asks for a ticket; in a ServerHello (OpenSSL's, as
    Chromium and Java captures show) it says the server will send one: NewSessionTicket (RFC 5077 §3.2)."""
    ticket = UnknownExtension(ExtensionType.SESSION_TICKET, b"")
    meanings = {}
    for hello in (ClientHello(ProtocolVersion.TLS1_2, bytes(32), b"", (CipherSuite(0xC02F),), b"\x00", (ticket,)),
                  ServerHello(ProtocolVersion.TLS1_2, bytes(32), b"", CipherSuite(0xC02F), 0, (ticket,))):
        raw = encode_handshake(hello)
        fields = annotate_handshake(raw)
        assert_tiles(fields, 0, len(raw))
        (field,) = fields_named(fields, "session_ticket (0x0023)")
        meanings[type(hello).__name__] = field.meaning
    assert meanings["ClientHello"].startswith("asks for a session ticket")
    assert "asks" not in meanings["ServerHello"]
    assert "NewSessionTicket" in meanings["ServerHello"]


def test_a_ticket_handed_back_is_named_and_sized() -> None:
    """A ClientHello resuming by ticket: the SessionTicket extension's data is the ticket, opaque to the client."""
    ticket = bytes(range(16)) + bytes(150)
    hello = ClientHello(ProtocolVersion.TLS1_2, bytes(32), bytes(32), (CipherSuite(0xC02F),), b"\x00",
                        (UnknownExtension(ExtensionType.SESSION_TICKET, ticket),))
    raw = encode_handshake(hello)
    fields = annotate_handshake(raw)
    assert_tiles(fields, 0, len(raw))
    (extension,) = fields_named(fields, "session_ticket (0x0023)")
    assert extension.value == "a ticket of 166 bytes"
    (field,) = fields_named(fields, "ticket")
    assert (field.start, field.end) == (len(raw) - len(ticket), len(raw))
    assert field.value == f"{ticket[:16].hex()}… (166 bytes)" and "cannot read" in field.meaning


def test_a_server_hellos_point_formats_are_described_as_listed() -> None:
    """OpenSSL's ServerHello lists all three point formats (as the Chromium and Java captures show): the meaning
    must not say the server accepts only uncompressed points."""
    formats = UnknownExtension(ExtensionType.EC_POINT_FORMATS, bytes([3, 0, 1, 2]))
    hello = ServerHello(ProtocolVersion.TLS1_2, bytes(32), b"", CipherSuite(0xC02F), 0, (formats,))
    raw = encode_handshake(hello)
    fields = annotate_handshake(raw)
    assert_tiles(fields, 0, len(raw))
    (field,) = fields_named(fields, "ec_point_formats (0x000B)")
    assert field.value == "uncompressed, ansix962_compressed_prime, ansix962_compressed_char2"
    assert "accepts: uncompressed" not in field.meaning
    assert field.meaning.startswith("the point formats the server can parse")


def test_mutual_tls_messages_are_annotated_byte_for_byte(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    """CertificateRequest (its CA names decoded, escapes and all), the client's Certificate and CertificateVerify."""
    client_ca = CertificateAuthority("tls12 client CA, with a comma")
    other_ca = CertificateAuthority("#another")
    mine = client_ca.issue(("client.example",), key_type="ecdsa-p256", client=True)
    recorder = Recorder()
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], client_credentials=[mine.credential()]),
                              server_name="localhost", tracer=recorder.tracer("client"))
    server = ServerConnection(ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                                           client_auth="required",
                                           client_trust_anchors=[client_ca.certificate, other_ca.certificate]))
    pump(client, server)
    assert server.handshake_complete
    by_type = {type(m.message).__name__ + m.direction: m for m in traced_messages(recorder.events)}  # type: ignore[arg-type]
    for name in ("CertificateRequestin", "Certificateout", "CertificateVerifyout"):
        _check_message(by_type[name])
    request = annotate_handshake(by_type["CertificateRequestin"].raw)
    names = [f.value for f in fields_named(request, "DistinguishedName")]
    assert names == [client_ca.certificate.subject.rfc4514_string(), other_ca.certificate.subject.rfc4514_string()]
    assert names[0].startswith("CN=tls12 client CA\\, with a comma,") and names[1].startswith("CN=\\#another,")
    assert [f.value for f in fields_named(request, "certificate_type")] == ["rsa_sign (1)", "ecdsa_sign (64)"]
    ours = annotate_handshake(by_type["Certificateout"].raw, from_client=True)
    (leaf_field,) = fields_named(ours, "certificate[0]")
    assert leaf_field.meaning.startswith("the client's own certificate")
    verify = by_type["CertificateVerifyout"]
    fields = annotate_handshake(verify.raw)
    assert value_bytes(verify.raw, fields, "signature")[2:] == verify.message.signature  # type: ignore[attr-defined]
    assert [f.value for f in fields_named(fields, "signature_algorithm")] == ["ecdsa_secp256r1_sha256 (0x0403)"]


def test_an_empty_client_certificate_says_so() -> None:
    fields = annotate_handshake(encode_handshake(Certificate(())), from_client=True)
    (chain,) = fields_named(fields, "certificate_list")
    assert chain.value == "0 certificates (empty)" and "handshake_failure" in chain.meaning


def test_a_name_that_is_not_der_is_shown_in_hex() -> None:
    assert distinguished_name(b"\x30\x03\x02\x01\x01") == "(not a DER name: 3003020101)"
    assert distinguished_name(b"\x30\x00") == "(an empty name)"
    name = x509.Name([x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "DE"),
                      x509.NameAttribute(x509.NameOID.COMMON_NAME, " spaced ")])
    assert distinguished_name(name.public_bytes()) == name.rfc4514_string() == "CN=\\ spaced\\ ,C=DE"
