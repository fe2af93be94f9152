"""Finite-field DHE: the RFC 7919 groups, peer values, the premaster, and server-chosen parameters.

The primes are proven twice, independently of the transcription in
tls12.crypto.dhe: against OpenSSL's built-in groups (`openssl genpkey -genparam
-pkeyopt group:ffdheN`, read back with `openssl asn1parse`) and against the
formula RFC 7919 Appendix A defines them by (p = 2^b - 2^{b-64} +
{[2^{b-130} e] + X} * 2^64 - 1), computed here with exact rationals.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from tls12 import DefaultProvider, DeterministicProvider
from tls12.crypto.dhe import FFDHE_GROUPS, MIN_DH_BITS, DHEKey, explicit_group
from tls12.enums import AlertDescription, NamedGroup
from tls12.errors import IllegalParameter, InsufficientSecurity

from helpers import openssl

ILLEGAL = AlertDescription.ILLEGAL_PARAMETER
GROUPS = tuple(FFDHE_GROUPS)
FFDHE2048 = FFDHE_GROUPS[NamedGroup.FFDHE2048]



def _floor_e_times_power_of_two(shift: int) -> int:
    """floor(2^shift * e), e = sum of 1/k!, exactly (the tail after the last term is below 2^-64)."""
    total, factorial, k = Fraction(0), 1, 0
    while Fraction(2**shift, factorial) >= Fraction(1, 2**64):
        total += Fraction(1, factorial)
        k += 1
        factorial *= k
    return (2**shift * total.numerator) // total.denominator


# RFC 7919 Appendix A: bits and the constant X of each group's formula.
_FORMULA = {NamedGroup.FFDHE2048: (2048, 560316), NamedGroup.FFDHE3072: (3072, 2625351),
            NamedGroup.FFDHE4096: (4096, 5736041)}  # fmt: skip


@pytest.mark.parametrize("name", GROUPS, ids=lambda g: g.name.lower())
def test_prime_matches_openssl(name: NamedGroup) -> None:
    bits = name.name.removeprefix("FFDHE")
    pem = openssl("genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", f"group:ffdhe{bits}")
    parsed = openssl("asn1parse", stdin=pem).decode()
    integers = re.findall(r"prim: INTEGER\s+:([0-9A-F]+)", parsed)
    assert len(integers) >= 2, parsed
    assert int(integers[0], 16) == FFDHE_GROUPS[name].p
    assert int(integers[1], 16) == FFDHE_GROUPS[name].g == 2


@pytest.mark.parametrize("name", GROUPS, ids=lambda g: g.name.lower())
def test_prime_matches_rfc7919_formula(name: NamedGroup) -> None:
    b, x = _FORMULA[name]
    p = 2**b - 2 ** (b - 64) + (_floor_e_times_power_of_two(b - 130) + x) * 2**64 - 1
    group = FFDHE_GROUPS[name]
    assert group.p == p
    assert group.bits == b and group.name == name


@pytest.mark.parametrize("name", GROUPS, ids=lambda g: g.name.lower())
def test_exchange_agrees_and_public_is_padded(name: NamedGroup) -> None:
    group = FFDHE_GROUPS[name]
    a, b = DHEKey.generate(group), DHEKey.generate(group)
    assert len(a.public) == len(b.public) == group.byte_len
    premaster = a.exchange(b.public)
    assert premaster == b.exchange(a.public)
    assert premaster[0] != 0  # RFC 5246 §8.1.2: leading zero bytes stripped


def test_premaster_matches_openssl_derive(tmp_path: Path) -> None:
    """Two ffdhe2048 keys made by OpenSSL: its `pkeyutl -derive` Z, leading zeros stripped, is our premaster."""
    params = openssl("genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048")
    (tmp_path / "params.pem").write_bytes(params)
    for name in ("ours", "peer"):
        (tmp_path / f"{name}.pem").write_bytes(openssl("genpkey", "-paramfile", str(tmp_path / "params.pem")))
    peer_public_pem = openssl("pkey", "-pubout", "-in", str(tmp_path / "peer.pem"))
    (tmp_path / "peer.pub").write_bytes(peer_public_pem)
    z = openssl("pkeyutl", "-derive", "-inkey", str(tmp_path / "ours.pem"), "-peerkey", str(tmp_path / "peer.pub"))
    # OpenSSL's CLI may or may not pad Z to the length of p (a Z with a leading zero byte, about 1 in
    # 256, came back as 255 bytes): the premaster is Z without leading zeros either way (RFC 5246 §8.1.2).
    assert 1 <= len(z) <= 256
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography's own FFDH deprecation, for these test-side loads
        ours_private = load_pem_private_key((tmp_path / "ours.pem").read_bytes(), None)
        y = load_pem_public_key(peer_public_pem).public_numbers().y  # type: ignore[union-attr]
    ours = DHEKey(FFDHE2048, ours_private)  # type: ignore[arg-type]
    assert ours.exchange(y.to_bytes(256, "big")) == z.lstrip(b"\x00")
    # A minimal encoding of the same Y (no padding) is the same value.
    assert ours.exchange(y.to_bytes((y.bit_length() + 7) // 8, "big")) == z.lstrip(b"\x00")


def test_premaster_strips_leading_zeros() -> None:
    """Some exchanges give a Z with leading zero bytes (about 1 in 256): the premaster has none of them."""
    provider = DeterministicProvider(b"zeros")
    peer = DHEKey.generate(FFDHE2048)
    for _ in range(2000):
        key = provider.dhe_key(FFDHE2048)
        premaster = key.exchange(peer.public)
        if len(premaster) < FFDHE2048.byte_len:
            assert premaster == peer.exchange(key.public)
            assert premaster[0] != 0
            return
    pytest.fail("no exchange with a short Z in 2000 tries")


@pytest.mark.parametrize(
    ("label", "value"),
    [
        ("zero", bytes(256)),
        ("one", (1).to_bytes(256, "big")),
        ("p-minus-one", (FFDHE2048.p - 1).to_bytes(256, "big")),
        ("p", FFDHE2048.p.to_bytes(256, "big")),
        ("p-plus-one", (FFDHE2048.p + 1).to_bytes(256, "big")),
        ("all-ones", b"\xff" * 256),
        ("too-long", b"\x00" + (2).to_bytes(256, "big")),
        ("empty", b""),
        ("one-minimal", b"\x01"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_peer_value_out_of_range_is_illegal_parameter(label: str, value: bytes) -> None:
    key = DHEKey.generate(FFDHE2048)
    with pytest.raises(IllegalParameter) as info:
        key.exchange(value)
    assert info.value.alert == ILLEGAL


def test_smallest_and_largest_accepted_peer_values() -> None:
    key = DHEKey.generate(FFDHE2048)
    assert key.exchange(b"\x02")  # Y = 2 is in range
    assert key.exchange((FFDHE2048.p - 2).to_bytes(256, "big"))


@pytest.mark.parametrize("name", GROUPS, ids=lambda g: g.name.lower())
def test_deterministic_provider_reproduces_dhe_keys(name: NamedGroup) -> None:
    group = FFDHE_GROUPS[name]
    first = DeterministicProvider(b"seed").dhe_key(group)
    assert first.public == DeterministicProvider(b"seed").dhe_key(group).public
    assert first.public != DeterministicProvider(b"another").dhe_key(group).public
    peer = DefaultProvider().dhe_key(group)
    assert first.exchange(peer.public) == peer.exchange(first.public)


# -- server-chosen parameters (ServerKeyExchange with explicit p, g) --------------------------------------


def test_explicit_rfc7919_parameters_are_the_named_group() -> None:
    for group in FFDHE_GROUPS.values():
        assert explicit_group(group.p_bytes, group.g_bytes) is group
        assert explicit_group(b"\x00" + group.p_bytes, b"\x00\x02") is group


def test_explicit_small_prime_is_insufficient_security() -> None:
    """1024-bit (and 2047-bit) primes: RFC 5246 §7.2.2 insufficient_security."""
    prime_1024 = int(openssl("prime", "-generate", "-bits", "1024").decode().strip())
    for p in (prime_1024, FFDHE2048.p >> 1 | 1):
        with pytest.raises(InsufficientSecurity) as info:
            explicit_group(p.to_bytes((p.bit_length() + 7) // 8, "big"), b"\x02")
        assert info.value.alert == AlertDescription.INSUFFICIENT_SECURITY
    assert MIN_DH_BITS == 2048


@pytest.mark.parametrize(
    ("label", "p", "g"),
    [
        ("even-p", FFDHE2048.p + 1, 2),
        ("g-zero", FFDHE2048.p, 0),
        ("g-one", FFDHE2048.p, 1),
        ("g-p-minus-one", FFDHE2048.p, FFDHE2048.p - 1),
        ("g-p", FFDHE2048.p, FFDHE2048.p),
        ("g-above-p", FFDHE2048.p, FFDHE2048.p + 5),
        ("composite-p", 2**2048 - 1, 2),
        ("composite-p-odd", FFDHE2048.p * 3 % 2**2048 | (1 << 2047) | 1, 2),
        ("too-big", 2**8200 - 1, 2),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_explicit_bad_parameters_are_illegal_parameter(label: str, p: int, g: int) -> None:
    with pytest.raises(IllegalParameter) as info:
        explicit_group(_wire(p), _wire(g))
    assert info.value.alert == ILLEGAL


def _wire(n: int) -> bytes:
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")


def test_explicit_prime_that_is_not_safe_is_refused() -> None:
    """A 2048-bit prime whose (p-1)/2 is not prime (OpenSSL made it): DH_check refuses it."""
    p = int(openssl("prime", "-generate", "-bits", "2048").decode().strip())
    with pytest.raises(IllegalParameter):
        explicit_group(p.to_bytes(256, "big"), b"\x02")


def test_explicit_safe_prime_with_another_generator_is_accepted_and_works() -> None:
    """ffdhe2048's safe prime with g = 4 (a quadratic residue: generates the order-q subgroup) is valid."""
    group = explicit_group(FFDHE2048.p_bytes, b"\x04")
    assert group.name is None and (group.p, group.g) == (FFDHE2048.p, 4)
    a, b = DHEKey.generate(group), DHEKey.generate(group)
    assert a.exchange(b.public) == b.exchange(a.public)


def test_dhe_emits_no_deprecation_warning() -> None:
    """cryptography 50 deprecates its FFDH names; importing and using DHE through tls12 does not warn.

    A fresh interpreter with every warning an error, so the import itself is covered."""
    code = (
        "from tls12.crypto.dhe import FFDHE_GROUPS, DHEKey, explicit_group\n"
        "g = FFDHE_GROUPS[256]\n"
        "a, b = DHEKey.generate(g), DHEKey.generate(g)\n"
        "assert a.exchange(b.public) == b.exchange(a.public)\n"
        "explicit_group(g.p_bytes, b'\\x04')\n"
    )
    cmd = [sys.executable, "-W", "error", "-c", code]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
