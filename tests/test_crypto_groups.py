"""ECDHE over secp521r1 and x448 beside the first three groups, and the new code points.

Known answers come from outside tls12: RFC 7748 §6.2 for x448, the OpenSSL
command line (`openssl pkeyutl -derive`) for every group, `openssl ciphers
-stdname -V` for the cipher suite code points. Every refused peer value is
illegal_parameter.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, x448
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_public_key,
)

from tls12 import DeterministicProvider
from tls12.config import DEFAULT_GROUPS, SUPPORTED_GROUPS
from tls12.crypto.kx import ECDHE_GROUPS, EphemeralKey, curve_for
from tls12.enums import AlertDescription, CipherSuite, NamedGroup
from tls12.errors import IllegalParameter

from helpers import openssl

ILLEGAL = AlertDescription.ILLEGAL_PARAMETER
NEW_GROUPS = (NamedGroup.SECP521R1, NamedGroup.X448)



def test_groups_listed_and_defaults() -> None:
    assert set(ECDHE_GROUPS) == {
        NamedGroup.X25519, NamedGroup.SECP256R1, NamedGroup.SECP384R1, NamedGroup.SECP521R1, NamedGroup.X448,
    }  # fmt: skip
    # The configuration negotiates every ECDHE group and the RFC 7919 ones, and offers them all by default.
    assert set(SUPPORTED_GROUPS) == {*ECDHE_GROUPS, NamedGroup.FFDHE2048, NamedGroup.FFDHE3072, NamedGroup.FFDHE4096}
    assert DEFAULT_GROUPS == (
        NamedGroup.X25519, NamedGroup.SECP256R1, NamedGroup.SECP384R1, NamedGroup.SECP521R1, NamedGroup.X448,
        NamedGroup.FFDHE2048, NamedGroup.FFDHE3072, NamedGroup.FFDHE4096,
    )  # fmt: skip


def test_x448_rfc7748_section_6_2() -> None:
    alice = x448.X448PrivateKey.from_private_bytes(bytes.fromhex(
        "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b"
    ))  # fmt: skip
    bob_public = bytes.fromhex(
        "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609"
    )
    key = EphemeralKey(NamedGroup.X448, alice)
    assert key.public == bytes.fromhex(
        "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0"
    )
    assert key.exchange(bob_public) == bytes.fromhex(
        "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56fd2464c335543936521c24403085d59a449a5037514a879d"
    )


@pytest.mark.parametrize("group", ECDHE_GROUPS, ids=lambda g: g.name.lower())
def test_premaster_matches_openssl_derive(group: NamedGroup, tmp_path: Path) -> None:
    """Our premaster equals what `openssl pkeyutl -derive` computes from the same two keys."""
    ours, theirs = EphemeralKey.generate(group), EphemeralKey.generate(group)
    (tmp_path / "ours.pem").write_bytes(
        ours._private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    (tmp_path / "theirs.pem").write_bytes(
        theirs._private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    derived = openssl(
        "pkeyutl", "-derive", "-inkey", str(tmp_path / "ours.pem"), "-peerkey", str(tmp_path / "theirs.pem")
    )
    assert ours.exchange(theirs.public) == derived == theirs.exchange(ours.public)
    montgomery = {NamedGroup.X25519: 32, NamedGroup.X448: 56}
    expected_len = montgomery[group] if group in montgomery else (curve_for(group).key_size + 7) // 8
    assert len(derived) == expected_len


def test_openssl_public_value_is_accepted(tmp_path: Path) -> None:
    """A key OpenSSL generated (not cryptography) exchanges with ours on both new groups."""
    p521 = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"]
    for group, algorithm in ((NamedGroup.X448, ["-algorithm", "X448"]), (NamedGroup.SECP521R1, p521)):
        pem = openssl("genpkey", *algorithm)
        public_pem = openssl("pkey", "-pubout", stdin=pem)
        public = load_pem_public_key(public_pem)
        if isinstance(public, ec.EllipticCurvePublicKey):
            raw = public.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        else:
            raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        ours = EphemeralKey.generate(group)
        (tmp_path / "peer.pem").write_bytes(pem)
        (tmp_path / "ours.pub").write_bytes(
            ours._private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        )
        derived = openssl(
            "pkeyutl", "-derive", "-inkey", str(tmp_path / "peer.pem"), "-peerkey", str(tmp_path / "ours.pub")
        )
        assert ours.exchange(raw) == derived


def _p521_bad_points() -> list[tuple[str, bytes]]:
    good = EphemeralKey.generate(NamedGroup.SECP521R1).public
    assert len(good) == 133 and good[0] == 4
    compressed = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP521R1(), good).public_bytes(
        Encoding.X962, PublicFormat.CompressedPoint
    )
    off_curve = good[:-1] + bytes([good[-1] ^ 1])
    return [
        ("compressed", compressed),
        ("short", good[:-1]),
        ("long", good + b"\x00"),
        ("wrong-prefix", b"\x03" + good[1:]),
        ("hybrid-prefix", b"\x06" + good[1:]),
        ("off-curve", off_curve),
        ("x-and-y-too-big", b"\x04" + b"\xff" * 132),
        ("p256-point", EphemeralKey.generate(NamedGroup.SECP256R1).public),
        ("empty", b""),
    ]


@pytest.mark.parametrize(("label", "point"), _p521_bad_points(), ids=lambda v: v if isinstance(v, str) else "")
def test_secp521r1_refuses_bad_points(label: str, point: bytes) -> None:
    key = EphemeralKey.generate(NamedGroup.SECP521R1)
    with pytest.raises(IllegalParameter) as info:
        key.exchange(point)
    assert info.value.alert == ILLEGAL


_X448_P = 2**448 - 2**224 - 1


@pytest.mark.parametrize(
    ("label", "value"),
    [
        ("zero", bytes(56)),
        ("one", (1).to_bytes(56, "little")),
        ("p-minus-one", (_X448_P - 1).to_bytes(56, "little")),
        ("p", _X448_P.to_bytes(56, "little")),
        ("p-plus-one", (_X448_P + 1).to_bytes(56, "little")),
        ("short", bytes(range(55))),
        ("long", bytes(range(57))),
        ("x25519-sized", bytes(range(1, 33))),
        ("empty", b""),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_x448_refuses_bad_values(label: str, value: bytes) -> None:
    """Wrong lengths and the low-order points (all-zero results, RFC 7748 §6.2) are illegal_parameter."""
    key = EphemeralKey.generate(NamedGroup.X448)
    with pytest.raises(IllegalParameter) as info:
        key.exchange(value)
    assert info.value.alert == ILLEGAL


@pytest.mark.parametrize("group", ECDHE_GROUPS, ids=lambda g: g.name.lower())
def test_deterministic_provider_reproduces_keys(group: NamedGroup) -> None:
    first = DeterministicProvider(b"seed").ephemeral_key(group)
    again = DeterministicProvider(b"seed").ephemeral_key(group)
    other = DeterministicProvider(b"other seed").ephemeral_key(group)
    assert first.public == again.public != other.public
    peer = EphemeralKey.generate(group)
    assert first.exchange(peer.public) == peer.exchange(first.public)


# IANA name (RFC 5288, 5289, 7905) -> code point, checked against OpenSSL's own table.
_NEW_SUITES = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
)


def test_cipher_suite_code_points_match_openssl() -> None:
    listing = openssl("ciphers", "-V", "-stdname", "ALL:@SECLEVEL=0").decode()
    table = {
        m.group(3): int(m.group(1) + m.group(2), 16)
        for m in re.finditer(r"0x([0-9A-F]{2}),0x([0-9A-F]{2}) - (TLS_\w+)", listing)
    }
    for name in _NEW_SUITES:
        assert CipherSuite[name] == table[name], name
        assert CipherSuite(table[name]).known


def test_ffdhe_code_points() -> None:
    """RFC 7919 §8 registers ffdhe2048..4096 at 256..258."""
    assert (NamedGroup.FFDHE2048, NamedGroup.FFDHE3072, NamedGroup.FFDHE4096) == (256, 257, 258)
    assert NamedGroup(257).name == "FFDHE3072"
