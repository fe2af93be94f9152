"""Adversarial key exchange and ServerKeyExchange signatures.

test_policy.py covers bad NIST points and x25519 low-order points sent *to the server* in the
ClientKeyExchange, and SKE groups/schemes the client did not offer. Here: an empty key share, a
share for another group, every bad point sent *to the client* in a validly signed
ServerKeyExchange (a malicious server), and signatures over the wrong data, by the wrong key,
truncated or extended.
"""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from test_adversarial_support import expect_failure, resign_ske
from tls12 import (
    AlertDescription,
    ClientConfig,
    DecodeError,
    DecryptError,
    IllegalParameter,
    ServerConfig,
    ServerConnection,
)
from tls12.certs import IssuedCertificate
from tls12.crypto import signatures
from tls12.crypto.kx import EphemeralKey
from tls12.enums import NamedGroup, SignatureScheme
from tls12.messages import ClientKeyExchange, encode_handshake

from record_support import GROUPS, HANDSHAKE, P256, X25519, hello_record, make_hello, record, start, to_flight2

# -- the client's key share, to the server ------------------------------------------------------


def _server_waiting_for_cke(server_config: ServerConfig, group: NamedGroup) -> ServerConnection:
    server = ServerConnection(dataclasses.replace(server_config, groups=(group,)))
    assert server.receive_data(hello_record(make_hello())) == []
    assert server.group == group
    server.data_to_send()
    return server


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
def test_empty_client_key_exchange(server_config: ServerConfig, group: NamedGroup) -> None:
    """ecdh_Yc<1..2^8-1>: an empty point is decode_error (RFC 8422 §5.7)."""
    server = _server_waiting_for_cke(server_config, group)
    expect_failure(server, record(HANDSHAKE, b"\x10\x00\x00\x01\x00"), DecodeError, AlertDescription.DECODE_ERROR)


CROSS = [(picked, other) for picked in GROUPS for other in GROUPS if other != picked]


@pytest.mark.parametrize(("picked", "other"), CROSS, ids=[f"{p.name}-got-{o.name}" for p, o in CROSS])
def test_client_key_share_for_another_group(server_config: ServerConfig, picked: NamedGroup,
                                             other: NamedGroup) -> None:
    """A valid public key, but on a group the server did not pick: illegal_parameter (RFC 8422
    §5.11), never an exchange on the wrong curve."""
    server = _server_waiting_for_cke(server_config, picked)
    cke = record(HANDSHAKE, encode_handshake(ClientKeyExchange(EphemeralKey.generate(other).public)))
    expect_failure(server, cke, IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)


# -- the server's key share, to the client (a malicious but authenticated server) -----------------


def _encoded(curve: ec.EllipticCurve, compressed: bool = False) -> bytes:
    fmt = PublicFormat.CompressedPoint if compressed else PublicFormat.UncompressedPoint
    return ec.generate_private_key(curve).public_key().public_bytes(Encoding.X962, fmt)


def _bad_server_points(group: NamedGroup) -> list[tuple[str, bytes]]:
    if group == X25519:
        p = 2**255 - 19
        low_order = [0, 1, p - 1, p, p + 1,
                     int.from_bytes(bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
                                    "little")]
        return [*((f"low order {u:#x}"[:24], u.to_bytes(32, "little")) for u in low_order),
                ("31 bytes", bytes(range(31))), ("33 bytes", bytes(range(33))),
                ("a P-256 point", _encoded(ec.SECP256R1()))]
    curve: ec.EllipticCurve = ec.SECP256R1() if group == P256 else ec.SECP384R1()
    other: ec.EllipticCurve = ec.SECP384R1() if group == P256 else ec.SECP256R1()
    good = _encoded(curve)
    size = (len(good) - 1) // 2
    x, y = good[1 : 1 + size], int.from_bytes(good[1 + size :], "big")
    return [
        ("compressed", _encoded(curve, compressed=True)),
        ("off the curve", b"\x04" + x + ((y + 1) % 2 ** (8 * size)).to_bytes(size, "big")),
        ("(0, 0)", b"\x04" + bytes(2 * size)),
        ("coordinates >= p", b"\x04" + b"\xff" * (2 * size)),
        ("identity", b"\x00"),
        ("one byte short", good[:-1]),
        ("hybrid form", b"\x06" + good[1:]),
        ("other curve", _encoded(other)),
        ("x25519-sized", bytes(range(32))),
    ]


SERVER_POINTS = [(group, label, point) for group in GROUPS for label, point in _bad_server_points(group)]


@pytest.mark.parametrize(("group", "label", "point"), SERVER_POINTS,
                         ids=[f"{g.name}-{label}" for g, label, _ in SERVER_POINTS])
def test_client_refuses_bad_server_point(
    client_config: ClientConfig, server_config: ServerConfig, leaf: IssuedCertificate,
    group: NamedGroup, label: str, point: bytes,
) -> None:
    """Invalid-curve attacks against the client: the point is signed by the real server key, so
    only the client's own point validation (RFC 8422 §5.11, RFC 7748 §6.1) can refuse it."""
    hs = start(client_config, server_config)
    flight = resign_ske(to_flight2(hs), hs.client.client_random, leaf.private_key, public=point, group=group)
    expect_failure(hs.client, flight, IllegalParameter, AlertDescription.ILLEGAL_PARAMETER)
    assert not hs.client.handshake_complete


def test_client_refuses_empty_server_point(
    client_config: ClientConfig, server_config: ServerConfig, leaf: IssuedCertificate
) -> None:
    hs = start(client_config, server_config)
    flight = resign_ske(to_flight2(hs), hs.client.client_random, leaf.private_key, public=b"")
    expect_failure(hs.client, flight, DecodeError, AlertDescription.DECODE_ERROR)


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
def test_client_accepts_resigned_good_point(
    client_config: ClientConfig, server_config: ServerConfig, leaf: IssuedCertificate, group: NamedGroup
) -> None:
    """The control: the same re-signing with a valid point of each group is accepted."""
    hs = start(client_config, server_config)
    flight = resign_ske(to_flight2(hs), hs.client.client_random, leaf.private_key,
                        public=EphemeralKey.generate(group).public, group=group)
    assert hs.client.receive_data(flight) == []
    assert hs.client.failure is None and hs.client.group == group
    assert hs.client.data_to_send()


# -- signatures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _swap_randoms(signed: bytes) -> bytes:
    return signed[32:64] + signed[:32] + signed[64:]


SIGNED_OVER = [
    ("randoms swapped", _swap_randoms),
    ("client random zeroed", lambda s: bytes(32) + s[32:]),
    ("server random zeroed", lambda s: s[:32] + bytes(32) + s[64:]),
    ("params only", lambda s: s[64:]),
    ("randoms only", lambda s: s[:64]),
    ("another curve id", lambda s: s[:65] + b"\x00\x18" + s[67:]),
]


@pytest.mark.parametrize("change", [c for _, c in SIGNED_OVER], ids=[n for n, _ in SIGNED_OVER])
def test_ske_signed_over_the_wrong_data(
    client_config: ClientConfig, server_config: ServerConfig, leaf: IssuedCertificate, change: object
) -> None:
    """RFC 5246 §7.4.3: the signature covers client_random + server_random + ServerECDHParams. A
    genuine signature by the server's key over anything else (the randoms of another session, in
    another order, or the parameters alone) is decrypt_error."""
    hs = start(client_config, server_config)
    flight = resign_ske(to_flight2(hs), hs.client.client_random, leaf.private_key,
                        signed_override=change)  # type: ignore[arg-type]
    expect_failure(hs.client, flight, DecryptError, AlertDescription.DECRYPT_ERROR)


def test_ske_signed_with_another_key(
    client_config: ClientConfig, server_config: ServerConfig, other_key: rsa.RSAPrivateKey
) -> None:
    """Right data, right scheme, a key that is not the certificate's: decrypt_error."""
    hs = start(client_config, server_config)
    flight = resign_ske(to_flight2(hs), hs.client.client_random, other_key)
    expect_failure(hs.client, flight, DecryptError, AlertDescription.DECRYPT_ERROR)


SIGNATURE_EDITS = [
    ("one byte short", lambda s: s[:-1]),
    ("first byte only", lambda s: s[:1]),
    ("empty", lambda s: b""),
    ("one byte long", lambda s: s + b"\x00"),
    ("leading zero added", lambda s: b"\x00" + s),
    ("twice", lambda s: s + s),
]


@pytest.mark.parametrize("edit", [e for _, e in SIGNATURE_EDITS], ids=[n for n, _ in SIGNATURE_EDITS])
def test_ske_signature_truncated_or_extended(
    client_config: ClientConfig, server_config: ServerConfig, leaf: IssuedCertificate, edit: object
) -> None:
    hs = start(client_config, server_config)
    flight = resign_ske(to_flight2(hs), hs.client.client_random, leaf.private_key,
                        signature_override=edit)  # type: ignore[arg-type]
    expect_failure(hs.client, flight, DecryptError, AlertDescription.DECRYPT_ERROR)


def test_ske_scheme_label_does_not_match_the_signature(
    client_config: ClientConfig, server_config: ServerConfig, leaf: IssuedCertificate
) -> None:
    """A PKCS#1 v1.5 signature labelled rsa_pss_rsae_sha256 (both offered): the label decides
    the verification, so it fails (decrypt_error) instead of falling back to the other padding."""
    hs = start(client_config, server_config)
    f2 = to_flight2(hs)
    captured: list[bytes] = []

    def keep(signed: bytes) -> bytes:
        captured.append(signed)
        return signed

    resign_ske(f2, hs.client.client_random, leaf.private_key, scheme=SignatureScheme.RSA_PSS_RSAE_SHA256,
               signed_override=keep)
    pkcs1 = signatures.sign(leaf.private_key, SignatureScheme.RSA_PKCS1_SHA256, captured[0])
    flight = resign_ske(f2, hs.client.client_random, leaf.private_key, scheme=SignatureScheme.RSA_PSS_RSAE_SHA256,
                        signature_override=lambda _: pkcs1)
    expect_failure(hs.client, flight, DecryptError, AlertDescription.DECRYPT_ERROR)
    assert isinstance(hs.client.failure, DecryptError)
