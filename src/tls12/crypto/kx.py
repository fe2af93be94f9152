"""ECDHE over the named groups tls12 speaks: x25519 (RFC 7748), secp256r1 and secp384r1.

Peer public values are checked strictly (RFC 8422 §5.11): NIST points must be
uncompressed, the right length and on the curve; an x25519 exchange whose
result is all zeros (a low-order point) is refused. Every failure is
illegal_parameter.
"""

from __future__ import annotations

from typing import cast

from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..enums import NamedGroup
from ..errors import IllegalParameter

__all__ = ["SUPPORTED_GROUPS", "EphemeralKey", "curve_for"]

_CURVES: dict[NamedGroup, ec.EllipticCurve] = {
    NamedGroup.SECP256R1: ec.SECP256R1(),
    NamedGroup.SECP384R1: ec.SECP384R1(),
}

SUPPORTED_GROUPS: tuple[NamedGroup, ...] = (NamedGroup.X25519, NamedGroup.SECP256R1, NamedGroup.SECP384R1)


def curve_for(group: NamedGroup) -> ec.EllipticCurve:
    return _CURVES[group]


class EphemeralKey:
    """One side's ECDHE key pair for one handshake."""

    __slots__ = ("_private", "group", "public")

    def __init__(self, group: NamedGroup, private: x25519.X25519PrivateKey | ec.EllipticCurvePrivateKey) -> None:
        self.group = group
        self._private = private
        if group == NamedGroup.X25519:
            self.public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        else:
            self.public = private.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    @classmethod
    def generate(cls, group: NamedGroup) -> EphemeralKey:
        if group == NamedGroup.X25519:
            return cls(group, x25519.X25519PrivateKey.generate())
        return cls(group, ec.generate_private_key(_CURVES[group]))

    def exchange(self, peer_public: bytes) -> bytes:
        """The premaster secret (RFC 8422 §5.10: the x coordinate / the X25519 output)."""
        if self.group == NamedGroup.X25519:
            # The group says which kind of key this is (a cast, not an isinstance on an ABC: cheaper).
            private = cast(x25519.X25519PrivateKey, self._private)
            if len(peer_public) != 32:
                raise IllegalParameter(f"x25519 public value of {len(peer_public)} bytes")
            try:
                return private.exchange(x25519.X25519PublicKey.from_public_bytes(peer_public))
            except ValueError:
                raise IllegalParameter("x25519 shared secret is all zeros") from None
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
