"""Explaining never fails: any part of a trace, in any order, and any bytes as a capture.

`tls12 serve --explain` explains connections that stop anywhere (a scanner
that sends half a ClientHello, a client that gives up), and `tls12 explain`
reads captures from anyone. Every prefix of a real trace, every subset of
it, each side alone, and junk bytes must give an explanation in all three
formats, not an exception.
"""

from __future__ import annotations

import contextlib
import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tls12 import ClientConfig, ClientConnection, ServerConfig, ServerConnection, TLSError
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.explain import FORMATS, Recorder, Tagged, explain, render
from tls12.explain.capture import C2S, S2C, Capture
from tls12.explain.replay import replay

_ca = CertificateAuthority("robustness CA")
_leaf = _ca.issue(("localhost",))


def _trace(ca: CertificateAuthority = _ca, leaf: IssuedCertificate = _leaf) -> tuple[list[Tagged], list[bytes]]:
    recorder = Recorder()
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate]), server_name="localhost",
                              tracer=recorder.tracer("client"))
    server = ServerConnection(ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key),
                              tracer=recorder.tracer("server"))
    wire: list[bytes] = []
    for _ in range(6):
        for sender, receiver in ((client, server), (server, client)):
            data = sender.data_to_send()
            if data:
                wire.append(data)
                receiver.receive_data(data)
    client.send_application_data(b"hello")
    client.close()
    for sender, receiver in ((client, server), (server, client)):
        data = sender.data_to_send()
        wire.append(data)
        receiver.receive_data(data)
    return recorder.events, wire


EVENTS, WIRE = _trace()


def _render_all(events: list[Tagged]) -> None:
    for fmt in FORMATS:
        out = render(events, fmt, reveal_secrets=True)
        assert out
        if fmt == "json":
            json.loads(out)


def test_every_prefix_of_a_trace_is_explained() -> None:
    for n in range(len(EVENTS) + 1):
        _render_all(EVENTS[:n])
        for side in ("client", "server"):
            _render_all([e for e in EVENTS[:n] if e.side == side])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, len(EVENTS) - 1), max_size=len(EVENTS)), st.randoms(use_true_random=False))
def test_any_subset_in_any_order_is_explained(picks: list[int], rnd: object) -> None:
    events = [EVENTS[i] for i in picks]
    rnd.shuffle(events)  # type: ignore[attr-defined]
    _render_all(events)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=120)), max_size=6))
def test_junk_captures_are_explained(chunks: list[tuple[bool, bytes]]) -> None:
    flows = [(C2S if first else S2C, data) for first, data in chunks if data]
    _render_all(replay(Capture(flows), "CLIENT_RANDOM zz 00\n"))  # type: ignore[arg-type]


@settings(max_examples=80, deadline=None)
@given(st.integers(0, sum(map(len, WIRE))), st.integers(0, 255), st.integers(0, 5000))
@example(cut=184, byte=0, where=428)  # a certificate whose key algorithm cryptography cannot load
def test_a_damaged_capture_is_explained(cut: int, byte: int, where: int) -> None:
    data = bytearray(b"".join(WIRE))
    if data:
        data[where % len(data)] = byte
    flows = []
    pos = 0
    for i, chunk in enumerate(WIRE):
        flows.append((C2S if i % 2 == 0 else S2C, bytes(data[pos : pos + len(chunk)])))
        pos += len(chunk)
    _render_all(replay(Capture(flows[: max(1, cut % (len(flows) + 1))])))


def test_a_connection_that_stops_in_the_middle() -> None:
    """What serve sees from a client that sends half a ClientHello and leaves."""
    recorder = Recorder()
    server = ServerConnection(ServerConfig(certificate_chain=_leaf.chain, private_key=_leaf.private_key),
                              tracer=recorder.tracer("server"))
    client = ClientConnection(ClientConfig(trust_anchors=[_ca.certificate]), server_name="localhost")
    hello = client.data_to_send()
    server.receive_data(hello[:30])
    with contextlib.suppress(TLSError):
        server.receive_data(b"")
    exp = explain(recorder.events)
    assert exp.failure is not None and exp.failure.step == "1"
    _render_all(recorder.events)
