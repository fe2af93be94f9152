"""Shared scripting for the adversarial tests (tests/test_adversarial_*.py); it holds no tests.

A scripted peer builds the bytes a broken or malicious peer would send: it runs a real handshake
between our client and our server flight by flight, then edits, drops, repeats, reorders or
forges messages and records before they are delivered (record_support.py has the records, frames,
flights and crafted ClientHellos). `expect_failure` then checks the whole contract of a failure:
the exception class and its alert, the one alert record queued for the peer (plaintext, or
protected and readable by the peer), and that the failure is sticky, strictly: the connection is
closed and the same data, no data or another record all raise the same exception again.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

from tls12 import ServerConfig, ServerConnection
from tls12.crypto import signatures
from tls12.enums import NamedGroup, SignatureScheme
from tls12.messages import HandshakeMessage, ServerHello, ServerKeyExchange

from record_support import edit_flight, handshake_frames, parse
from record_support import expect_failure as _expect_failure

HEARTBEAT = 24

# The adversarial tests hold every failure to the strict contract.
expect_failure = functools.partial(_expect_failure, strict=True)


# -- a forged ServerKeyExchange -----------------------------------------------------------------


def resign_ske(
    flight: bytes,
    client_random: bytes,
    private_key: object,
    *,
    public: bytes | None = None,
    group: NamedGroup | None = None,
    scheme: SignatureScheme | None = None,
    signed_override: Callable[[bytes], bytes] | None = None,
    signature_override: Callable[[bytes], bytes] | None = None,
) -> bytes:
    """The flight with its ServerKeyExchange replaced: new fields, signed with `private_key`
    (over client_random + server_random + params unless `signed_override` changes what is signed;
    `signature_override` edits the finished signature)."""
    sh = parse(handshake_frames(flight)[0])
    assert isinstance(sh, ServerHello)

    def edit(msg: HandshakeMessage) -> HandshakeMessage:
        assert isinstance(msg, ServerKeyExchange)
        unsigned = ServerKeyExchange(
            named_curve=msg.named_curve if group is None else group,
            public=msg.public if public is None else public,
            scheme=msg.scheme if scheme is None else scheme,
            signature=b"",
        )
        signed = client_random + sh.random + unsigned.params_bytes()
        if signed_override is not None:
            signed = signed_override(signed)
        signature = signatures.sign(private_key, unsigned.scheme, signed)  # type: ignore[arg-type]
        if signature_override is not None:
            signature = signature_override(signature)
        return dataclasses.replace(unsigned, signature=signature)

    return edit_flight(flight, 12, edit)


# -- a server that must answer ----------------------------------------------------------------


def server_answers(server_config: ServerConfig, data: bytes) -> list[bytes]:
    """Feed a hello to a fresh server; it must answer with its full first flight (the frames)."""
    server = ServerConnection(server_config)
    assert server.receive_data(data) == []
    assert server.failure is None
    out = handshake_frames(server.data_to_send())
    assert [f[0] for f in out] == [2, 11, 12, 14]
    return out
