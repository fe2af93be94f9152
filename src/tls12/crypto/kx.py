"""ECDHE over the named groups tls12 speaks (RFC 8422, RFC 7748), and the shape every key exchange shares.

Groups: x25519 and x448 (RFC 7748), secp256r1, secp384r1 and secp521r1.
Peer public values are checked strictly (RFC 8422 §5.11): NIST points must be
uncompressed, the right length and on the curve; an x25519 or x448 exchange
whose result is all zeros (a low-order point, RFC 7748 §6) is refused. Every
failure is illegal_parameter.

`KeyShare` is what the handshake needs from one side's ephemeral key, whatever
the key exchange: the public value it sends and the premaster secret it derives
from the peer's. `EphemeralKey` (ECDHE, here) and `dhe.DHEKey` (finite-field
DHE) both are one.
"""

from __future__ import annotations

from typing import Protocol, cast

from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..enums import NamedGroup
from ..errors import IllegalParameter

__all__ = ["ECDHE_GROUPS", "EphemeralKey", "KeyShare", "curve_for"]

_CURVES: dict[NamedGroup, ec.EllipticCurve] = {
    NamedGroup.SECP256R1: ec.SECP256R1(),
    NamedGroup.SECP384R1: ec.SECP384R1(),
    NamedGroup.SECP521R1: ec.SECP521R1(),
}

# The Montgomery curves: group -> public value length (RFC 7748 §5, §6).
_MONTGOMERY: dict[NamedGroup, int] = {NamedGroup.X25519: 32, NamedGroup.X448: 56}

# Every ECDHE group this module can compute.
ECDHE_GROUPS: tuple[NamedGroup, ...] = (
    NamedGroup.X25519,
    NamedGroup.SECP256R1,
    NamedGroup.SECP384R1,
    NamedGroup.X448,
    NamedGroup.SECP521R1,
)


class KeyShare(Protocol):
    """One side's ephemeral key for one handshake, whatever the key exchange."""

    @property
    def public(self) -> bytes:
        """The public value as it goes on the wire."""
        ...

    def exchange(self, peer_public: bytes) -> bytes:
        """The premaster secret from the peer's public value; bad values raise IllegalParameter."""
        ...


def curve_for(group: NamedGroup) -> ec.EllipticCurve:
    return _CURVES[group]


_Private = x25519.X25519PrivateKey | x448.X448PrivateKey | ec.EllipticCurvePrivateKey


class EphemeralKey:
    """One side's ECDHE key pair for one handshake."""

    __slots__ = ("_private", "group", "public")

    def __init__(self, group: NamedGroup, private: _Private) -> None:
        self.group = group
        self._private = private
        if group in _MONTGOMERY:
            self.public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        else:
            self.public = private.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    @classmethod
    def generate(cls, group: NamedGroup) -> EphemeralKey:
        if group == NamedGroup.X25519:
            return cls(group, x25519.X25519PrivateKey.generate())
        if group == NamedGroup.X448:
            return cls(group, x448.X448PrivateKey.generate())
        return cls(group, ec.generate_private_key(_CURVES[group]))

    def exchange(self, peer_public: bytes) -> bytes:
        """The premaster secret (RFC 8422 §5.10: the x coordinate / the X25519 or X448 output)."""
        size = _MONTGOMERY.get(self.group)
        if size is not None:
            if len(peer_public) != size:
                raise IllegalParameter(f"{self.group.name.lower()} public value of {len(peer_public)} bytes")
            try:
                # The group says which kind of key this is (a cast, not an isinstance on an ABC: cheaper).
                if self.group == NamedGroup.X25519:
                    private = cast(x25519.X25519PrivateKey, self._private)
                    return private.exchange(x25519.X25519PublicKey.from_public_bytes(peer_public))
                private448 = cast(x448.X448PrivateKey, self._private)
                return private448.exchange(x448.X448PublicKey.from_public_bytes(peer_public))
            except ValueError:
                # cryptography refuses an all-zero result (RFC 7748 §6.1, §6.2; RFC 8422 §5.11).
                raise IllegalParameter(f"{self.group.name.lower()} shared secret is all zeros") from None
        ec_private = cast(ec.EllipticCurvePrivateKey, self._private)
        curve = ec_private.curve
        coord = (curve.key_size + 7) // 8
        if len(peer_public) != 1 + 2 * coord or peer_public[0] != 4:
            raise IllegalParameter(f"{curve.name} point is not an uncompressed point of the right length")
        try:
            peer = ec.EllipticCurvePublicKey.from_encoded_point(curve, peer_public)
            return ec_private.exchange(ec.ECDH(), peer)
        except ValueError:
            raise IllegalParameter(f"{curve.name} point is not on the curve") from None
