"""Finite-field Diffie-Hellman (DHE) for TLS 1.2: the RFC 7919 groups and server-chosen parameters.

Two ways to a group:
- a named one, ffdhe2048/3072/4096 (RFC 7919 Appendix A: p below, g = 2),
  negotiated through supported_groups;
- explicit (p, g) sent by a server in its ServerKeyExchange (RFC 5246 §7.4.3),
  which a client accepts only through `explicit_group`: p of 2048 bits at least
  (else insufficient_security, RFC 5246 §7.2.2: the parameters are too weak),
  at most 8192 bits (a bound on the work a server can make us do), odd, and
  2 <= g <= p-2 (else illegal_parameter). Parameters equal to an RFC 7919 group
  are that group. Any other (p, g) goes through cryptography, which runs
  OpenSSL's DH_check on them: p must be a safe prime and g a suitable generator
  (illegal_parameter otherwise). That check is a primality test of p and of
  (p-1)/2 in C, about a quarter of a second for 2048 bits here, so verdicts are
  cached per (p, g): a server sends the same parameters to every client. (The
  check runs again when the server's public value is loaded: cryptography checks
  the parameters of every key it builds from numbers, so a handshake with
  parameters that are not an RFC 7919 group costs that much each time; the
  named groups are recognised by OpenSSL and cost a few milliseconds.) A pure
  Python Miller-Rabin would cost about as much per round as OpenSSL's whole
  check, so tls12 does not add its own. One consequence: RFC 5114-style
  parameters (a prime whose (p-1)/2 is not prime) are refused.

Peer public values are checked as RFC 7919 §5.1 requires: 1 < Y < p-1, given in
at most as many bytes as p (illegal_parameter otherwise). Our own public value
is sent left-padded to the length of p: TLS 1.3's encoding (RFC 8446 §4.2.8.1),
the same integer in TLS 1.2's opaque<1..2^16-1>, and what OpenSSL sends.

The premaster secret is Z with its leading zero bytes stripped (RFC 5246
§8.1.2). cryptography returns Z padded to the length of p; stripping it is a
length that depends on the secret (the Raccoon attack measures it), which is
harmless only because every DHEKey is used for one handshake and thrown away:
never reuse one.

cryptography 50 deprecates finite-field DH (a warning on first use of its `dh`
names). The names are bound once here, with that warning silenced, so that a
DHE handshake does not warn the application; when cryptography removes FFDH,
this module is what has to change.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import dh
from cryptography.utils import CryptographyDeprecationWarning

from ..enums import NamedGroup
from ..errors import IllegalParameter, InsufficientSecurity

with warnings.catch_warnings():
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    from cryptography.hazmat.primitives.asymmetric.dh import (
        DHParameterNumbers,
        DHPrivateNumbers,
        DHPublicNumbers,
    )

__all__ = [
    "FFDHE_GROUPS",
    "MAX_DH_BITS",
    "MIN_DH_BITS",
    "DHEKey",
    "FFDHEGroup",
    "explicit_group",
]

MIN_DH_BITS = 2048
MAX_DH_BITS = 8192

# RFC 7919 Appendix A: the primes (g = 2 for each).
_FFDHE2048_P = int(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695"
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A"
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935"
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A"
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61"
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005"
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B423861285C97FFFFFFFFFFFFFFFF",
    16,
)

_FFDHE3072_P = int(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695"
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A"
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935"
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A"
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61"
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005"
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B4238611FCFDCDE355B3B6519035B"
    "BC34F4DEF99C023861B46FC9D6E6C9077AD91D2691F7F7EE598CB0FAC186D91C"
    "AEFE130985139270B4130C93BC437944F4FD4452E2D74DD364F2E21E71F54BFF"
    "5CAE82AB9C9DF69EE86D2BC522363A0DABC521979B0DEADA1DBF9A42D5C4484E"
    "0ABCD06BFA53DDEF3C1B20EE3FD59D7C25E41D2B66C62E37FFFFFFFFFFFFFFFF",
    16,
)

_FFDHE4096_P = int(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695"
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A"
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935"
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A"
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61"
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005"
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B4238611FCFDCDE355B3B6519035B"
    "BC34F4DEF99C023861B46FC9D6E6C9077AD91D2691F7F7EE598CB0FAC186D91C"
    "AEFE130985139270B4130C93BC437944F4FD4452E2D74DD364F2E21E71F54BFF"
    "5CAE82AB9C9DF69EE86D2BC522363A0DABC521979B0DEADA1DBF9A42D5C4484E"
    "0ABCD06BFA53DDEF3C1B20EE3FD59D7C25E41D2B669E1EF16E6F52C3164DF4FB"
    "7930E9E4E58857B6AC7D5F42D69F6D187763CF1D5503400487F55BA57E31CC7A"
    "7135C886EFB4318AED6A1E012D9E6832A907600A918130C46DC778F971AD0038"
    "092999A333CB8B7A1A1DB93D7140003C2A4ECEA9F98D0ACC0A8291CDCEC97DCF"
    "8EC9B55A7F88A46B4DB5A851F44182E1C68A007E5E655F6AFFFFFFFFFFFFFFFF",
    16,
)


@dataclass(frozen=True, slots=True)
class FFDHEGroup:
    """A finite-field group: prime p and generator g; `name` is its RFC 7919 code point, if it has one."""

    p: int
    g: int
    name: NamedGroup | None = None

    @property
    def bits(self) -> int:
        return self.p.bit_length()

    @property
    def byte_len(self) -> int:
        return (self.bits + 7) // 8

    @property
    def p_bytes(self) -> bytes:
        """dh_p as it goes on the wire (RFC 5246 §7.4.3): big-endian, no leading zeros."""
        return self.p.to_bytes(self.byte_len, "big")

    @property
    def g_bytes(self) -> bytes:
        return self.g.to_bytes((self.g.bit_length() + 7) // 8, "big")

    def peer_value(self, peer_public: bytes) -> int:
        """The peer's public value as an integer, refused unless 1 < Y < p-1 (RFC 7919 §5.1)."""
        if not 0 < len(peer_public) <= self.byte_len:
            raise IllegalParameter(f"DH public value of {len(peer_public)} bytes for a {self.bits}-bit group")
        y = int.from_bytes(peer_public, "big")
        if not 1 < y < self.p - 1:
            raise IllegalParameter("DH public value is not in the range 1 < Y < p-1")
        return y

    def _parameter_numbers(self) -> dh.DHParameterNumbers:
        return DHParameterNumbers(self.p, self.g)

    def _parameters(self) -> dh.DHParameters:
        return _checked_parameters(self.p, self.g)


FFDHE_GROUPS: dict[NamedGroup, FFDHEGroup] = {
    NamedGroup.FFDHE2048: FFDHEGroup(_FFDHE2048_P, 2, NamedGroup.FFDHE2048),
    NamedGroup.FFDHE3072: FFDHEGroup(_FFDHE3072_P, 2, NamedGroup.FFDHE3072),
    NamedGroup.FFDHE4096: FFDHEGroup(_FFDHE4096_P, 2, NamedGroup.FFDHE4096),
}
_BY_PRIME: dict[tuple[int, int], FFDHEGroup] = {(group.p, group.g): group for group in FFDHE_GROUPS.values()}


@functools.lru_cache(maxsize=32)
def _checked_parameters(p: int, g: int) -> dh.DHParameters:
    # cryptography runs OpenSSL's DH_check here (safe prime, suitable generator).
    try:
        return DHParameterNumbers(p, g).parameters()
    except ValueError:
        raise IllegalParameter("DH parameters are not a safe prime with a suitable generator") from None


def explicit_group(dh_p: bytes, dh_g: bytes) -> FFDHEGroup:
    """The group a server's ServerDHParams name, validated (see the module docstring); refusals raise."""
    p = int.from_bytes(dh_p, "big")
    g = int.from_bytes(dh_g, "big")
    if p.bit_length() < MIN_DH_BITS:
        raise InsufficientSecurity(f"DH prime of {p.bit_length()} bits (at least {MIN_DH_BITS} required)")
    if p.bit_length() > MAX_DH_BITS:
        raise IllegalParameter(f"DH prime of {p.bit_length()} bits (at most {MAX_DH_BITS} accepted)")
    if p % 2 == 0:
        raise IllegalParameter("DH prime is even")
    if not 2 <= g <= p - 2:
        raise IllegalParameter("DH generator is not in the range 2..p-2")
    known = _BY_PRIME.get((p, g))
    if known is not None:
        return known
    _checked_parameters(p, g)
    return FFDHEGroup(p, g)


class DHEKey:
    """One side's DHE key pair for one handshake (a `kx.KeyShare`)."""

    __slots__ = ("_private", "group", "public")

    def __init__(self, group: FFDHEGroup, private: dh.DHPrivateKey) -> None:
        self.group = group
        self._private = private
        self.public = private.public_key().public_numbers().y.to_bytes(group.byte_len, "big")

    @classmethod
    def generate(cls, group: FFDHEGroup) -> DHEKey:
        return cls(group, group._parameters().generate_private_key())

    @classmethod
    def from_exponent(cls, group: FFDHEGroup, x: int) -> DHEKey:
        """A key with a chosen private exponent, for reproducible tests only (`DeterministicProvider`)."""
        if not 1 < x < (group.p - 1) // 2:
            raise ValueError("DH private exponent out of range")
        group._parameters()  # the same checks as a generated key
        y = pow(group.g, x, group.p)  # not constant time: test keys only
        public = DHPublicNumbers(y, group._parameter_numbers())
        return cls(group, DHPrivateNumbers(x, public).private_key())

    def exchange(self, peer_public: bytes) -> bytes:
        """The premaster secret: Z with leading zero bytes stripped (RFC 5246 §8.1.2)."""
        y = self.group.peer_value(peer_public)
        try:
            peer = DHPublicNumbers(y, self.group._parameter_numbers()).public_key()
            z = self._private.exchange(peer)
        except ValueError:
            raise IllegalParameter("DH public value refused") from None
        return z.lstrip(b"\x00")
