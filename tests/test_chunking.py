"""Chunking invariance: how the peer's bytes are cut into receive_data() calls changes nothing.

A deterministic exchange between our client and our server is recorded once (both sides use
`DeterministicProvider`, and the server signs with PKCS#1 v1.5, which is deterministic). Then
each side's inbound stream is replayed into a fresh connection built from the same seed: in one
call, one byte per call, one record per call, and at split points chosen by Hypothesis. The
events (concatenated over calls) and everything the connection queued for its peer must be
identical in every case. ApplicationDataReceived is per record, so a record split across calls
still gives the same event.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tls12 import (
    ApplicationDataReceived,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    DeterministicProvider,
    HandshakeComplete,
    ServerConfig,
    ServerConnection,
    SignatureScheme,
)
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.crypto.suites import SUITES
from tls12.enums import CipherSuite
from tls12.events import Event

from helpers import fixed_sessions

CLIENT_SEED = b"chunking-client"
SERVER_SEED = b"chunking-server"
HEADER_LEN = 5
# Each nonce rule: AES-GCM sends an 8-byte explicit nonce in each record, ChaCha20-Poly1305 none.
SUITES_UNDER_TEST = (CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                     CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256)

CLIENT_DATA = (b"first", bytes(range(256)) * 80, b"last")  # the middle one spans two records
SERVER_DATA = (b"pong", bytes(range(255, -1, -1)) * 70)

SPLITS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Peers:
    """Builds fresh, identically seeded connections."""

    ca: CertificateAuthority
    leaf: IssuedCertificate
    now: datetime.datetime
    suite: CipherSuite

    @property
    def sealed_alert_len(self) -> int:
        """A sealed close_notify: header, explicit nonce (8 for AES-GCM, none for ChaCha20), alert (2), tag (16)."""
        return HEADER_LEN + SUITES[self.suite].record_overhead + 2

    def client(self) -> ClientConnection:
        config = ClientConfig(
            trust_anchors=[self.ca.certificate],
            provider=DeterministicProvider(CLIENT_SEED, now=self.now),
            alpn_protocols=("h2", "http/1.1"),
            cipher_suites=(self.suite,),
        )
        return ClientConnection(config, server_name="localhost")

    def server(self) -> ServerConnection:
        config = ServerConfig(
            certificate_chain=self.leaf.chain,
            private_key=self.leaf.private_key,
            provider=DeterministicProvider(SERVER_SEED, now=self.now),
            signature_schemes=(SignatureScheme.RSA_PKCS1_SHA256,),
            alpn_protocols=("http/1.1",),
            cipher_suites=(self.suite,),
            **fixed_sessions(self.now),
        )
        return ServerConnection(config)


@dataclass(frozen=True)
class Recording:
    client_flights: tuple[bytes, ...]  # ClientHello; CKE+CCS+Finished; application data + close_notify
    server_flights: tuple[bytes, ...]  # ServerHello..ServerHelloDone; CCS+Finished; application data; close_notify
    client_events: tuple[Event, ...]
    server_events: tuple[Event, ...]
    sealed_alert_len: int

    @property
    def to_server(self) -> bytes:
        return b"".join(self.client_flights)

    @property
    def to_client(self) -> bytes:
        return b"".join(self.server_flights)


def record(peers: Peers) -> Recording:
    client, server = peers.client(), peers.server()
    client_events: list[Event] = []
    server_events: list[Event] = []

    hello = client.data_to_send()
    server_events += server.receive_data(hello)
    server_hello_flight = server.data_to_send()
    client_events += client.receive_data(server_hello_flight)
    client_finished_flight = client.data_to_send()
    server_events += server.receive_data(client_finished_flight)
    server_finished_flight = server.data_to_send()
    client_events += client.receive_data(server_finished_flight)
    assert client.handshake_complete and server.handshake_complete

    for chunk in SERVER_DATA:
        server.send_application_data(chunk)
    server_data_flight = server.data_to_send()
    for chunk in CLIENT_DATA:
        client.send_application_data(chunk)
    client.close()
    client_data_flight = client.data_to_send()

    server_events += server.receive_data(client_data_flight)
    server_close_flight = server.data_to_send()  # its close_notify in reply
    client_events += client.receive_data(server_data_flight + server_close_flight)
    assert client.closed and server.closed
    assert client.data_to_send() == b""

    return Recording(
        client_flights=(hello, client_finished_flight, client_data_flight),
        server_flights=(server_hello_flight, server_finished_flight, server_data_flight, server_close_flight),
        client_events=tuple(client_events),
        server_events=tuple(server_events),
        sealed_alert_len=peers.sealed_alert_len,
    )


@pytest.fixture(scope="module", params=SUITES_UNDER_TEST, ids=lambda s: SUITES[s].openssl_name)
def peers(ca: CertificateAuthority, leaf: IssuedCertificate, request: pytest.FixtureRequest) -> Peers:
    # The provider's clock must fall inside the leaf's validity period.
    return Peers(ca, leaf, leaf.certificate.not_valid_before_utc + datetime.timedelta(days=1), request.param)


@pytest.fixture(scope="module")
def recording(peers: Peers) -> Recording:
    return record(peers)


def replay(conn: ClientConnection | ServerConnection, stream: bytes, cuts: list[int]) -> tuple[list[Event], bytes]:
    """Feed `stream` cut at `cuts` (sorted, strictly inside); (all events, all output)."""
    events: list[Event] = []
    out = bytearray(conn.data_to_send())
    start = 0
    for end in [*cuts, len(stream)]:
        assert start < end  # an empty chunk would mean EOF
        events += conn.receive_data(stream[start:end])
        out += conn.data_to_send()
        start = end
    return events, bytes(out)


def record_boundaries(stream: bytes) -> list[int]:
    """The offsets where each record after the first starts."""
    out: list[int] = []
    pos = 0
    while pos < len(stream):
        pos += HEADER_LEN + int.from_bytes(stream[pos + 3 : pos + 5], "big")
        out.append(pos)
    assert pos == len(stream)
    return out[:-1]


def expected_data_events(chunks: tuple[bytes, ...]) -> list[Event]:
    """ApplicationDataReceived per record: the sender cuts data into records of at most 2^14."""
    return [ApplicationDataReceived(c[i : i + 2**14]) for c in chunks for i in range(0, len(c), 2**14)]


# --------------------------------------------------------------------------------------------
# The recording itself
# --------------------------------------------------------------------------------------------


def test_recording_is_deterministic(peers: Peers, recording: Recording) -> None:
    assert record(peers) == recording


def test_recording_shape(recording: Recording) -> None:
    assert all(recording.client_flights) and all(recording.server_flights)
    assert list(recording.server_events) == [
        HandshakeComplete(), *expected_data_events(CLIENT_DATA), ConnectionClosed(),
    ]
    assert list(recording.client_events) == [
        HandshakeComplete(), *expected_data_events(SERVER_DATA), ConnectionClosed(),
    ]
    hello, finished, data = recording.client_flights
    assert hello[0] == 22 and hello[5] == 1  # a handshake record holding the ClientHello
    assert len(record_boundaries(finished)) == 2  # CKE, CCS, Finished: three records
    assert len(record_boundaries(data)) == 4  # four application data records, then close_notify
    alert_len = recording.sealed_alert_len
    assert data[-alert_len] == 21
    assert recording.server_flights[-1][0] == 21 and len(recording.server_flights[-1]) == alert_len


# --------------------------------------------------------------------------------------------
# Server side: fed the client's stream
# --------------------------------------------------------------------------------------------


def _check_server_output(recording: Recording, out: bytes) -> None:
    # The replayed server sends no application data, so only its handshake flights match the
    # recording byte for byte; then comes its close_notify in reply.
    server_hello_flight, server_finished_flight, _, _ = recording.server_flights
    handshake = server_hello_flight + server_finished_flight
    assert out[: len(handshake)] == handshake
    assert len(out) == len(handshake) + recording.sealed_alert_len
    assert out[len(handshake)] == 21


@pytest.fixture(scope="module")
def server_whole(peers: Peers, recording: Recording) -> tuple[list[Event], bytes]:
    return replay(peers.server(), recording.to_server, [])


def test_server_whole(recording: Recording, server_whole: tuple[list[Event], bytes]) -> None:
    events, out = server_whole
    assert events == list(recording.server_events)
    _check_server_output(recording, out)


def test_server_byte_by_byte(peers: Peers, recording: Recording, server_whole: tuple[list[Event], bytes]) -> None:
    stream = recording.to_server
    assert replay(peers.server(), stream, list(range(1, len(stream)))) == server_whole


def test_server_record_by_record(
    peers: Peers, recording: Recording, server_whole: tuple[list[Event], bytes]
) -> None:
    stream = recording.to_server
    assert replay(peers.server(), stream, record_boundaries(stream)) == server_whole


def test_server_flight_by_flight(
    peers: Peers, recording: Recording, server_whole: tuple[list[Event], bytes]
) -> None:
    a, b, _ = (len(f) for f in recording.client_flights)
    assert replay(peers.server(), recording.to_server, [a, a + b]) == server_whole


# --------------------------------------------------------------------------------------------
# Client side: fed the server's stream
# --------------------------------------------------------------------------------------------


def _check_client_output(recording: Recording, out: bytes) -> None:
    # The ClientHello and the CKE/CCS/Finished flight are the recorded ones byte for byte
    # (same seed); then comes the client's close_notify in reply to the server's.
    hello, finished, _ = recording.client_flights
    assert out[: len(hello) + len(finished)] == hello + finished
    assert len(out) == len(hello) + len(finished) + recording.sealed_alert_len
    assert out[len(hello) + len(finished)] == 21


@pytest.fixture(scope="module")
def client_whole(peers: Peers, recording: Recording) -> tuple[list[Event], bytes]:
    return replay(peers.client(), recording.to_client, [])


def test_client_whole(recording: Recording, client_whole: tuple[list[Event], bytes]) -> None:
    events, out = client_whole
    assert events == list(recording.client_events)
    _check_client_output(recording, out)


def test_client_byte_by_byte(peers: Peers, recording: Recording, client_whole: tuple[list[Event], bytes]) -> None:
    stream = recording.to_client
    assert replay(peers.client(), stream, list(range(1, len(stream)))) == client_whole


def test_client_record_by_record(
    peers: Peers, recording: Recording, client_whole: tuple[list[Event], bytes]
) -> None:
    stream = recording.to_client
    assert replay(peers.client(), stream, record_boundaries(stream)) == client_whole


def test_client_flight_by_flight(
    peers: Peers, recording: Recording, client_whole: tuple[list[Event], bytes]
) -> None:
    a, b, c, _ = (len(f) for f in recording.server_flights)
    assert replay(peers.client(), recording.to_client, [a, a + b, a + b + c]) == client_whole


# --------------------------------------------------------------------------------------------
# Hypothesis-chosen split points
# --------------------------------------------------------------------------------------------


def split_points(stream: bytes) -> st.SearchStrategy[list[int]]:
    """Sorted cut offsets strictly inside the stream, anywhere or near record boundaries."""
    n = len(stream)
    near_boundaries = st.builds(
        lambda b, d: min(max(b + d, 1), n - 1),
        st.sampled_from(record_boundaries(stream)),
        st.integers(-HEADER_LEN - 1, HEADER_LEN + 1),
    )
    cut = st.one_of(st.integers(1, n - 1), near_boundaries)
    return st.sets(cut, max_size=40).map(sorted)


def _check_splits(
    make: Callable[[], ClientConnection | ServerConnection],
    stream: bytes,
    whole: tuple[list[Event], bytes],
    data: st.DataObject,
) -> None:
    cuts = data.draw(split_points(stream), label="cuts")
    events, out = replay(make(), stream, cuts)
    assert events == whole[0]
    assert out == whole[1]


@SPLITS
@given(data=st.data())
def test_server_any_split(
    peers: Peers, recording: Recording, server_whole: tuple[list[Event], bytes], data: st.DataObject
) -> None:
    _check_splits(peers.server, recording.to_server, server_whole, data)


@SPLITS
@given(data=st.data())
def test_client_any_split(
    peers: Peers, recording: Recording, client_whole: tuple[list[Event], bytes], data: st.DataObject
) -> None:
    _check_splits(peers.client, recording.to_client, client_whole, data)
