"""Key exchange as a small strategy chosen by the suite row's `key_exchange`.

The states never ask which key exchange a suite uses; they ask the strategy:

    server:  offer = STRATEGIES[kx].server_offer(...)       after the ServerHello
             offer.params                                  ServerKeyExchange params, or None (static RSA)
             offer.premaster(ClientKeyExchange)            the premaster secret
    client:  STRATEGIES[kx].expects_server_key_exchange
             peer = STRATEGIES[kx].read_params(ServerKeyExchange, offered groups)
             message, premaster = STRATEGIES[kx].client_share(peer, ...)

One strategy per key exchange:

- ECDHE (RFC 8422): ServerECDHParams carry a named group and the server's
  point; the ClientKeyExchange carries the client's point.
- DHE (RFC 5246 §7.4.3, §7.4.7.2; groups by RFC 7919): ServerDHParams carry
  p, g and the server's Ys; the client validates p and g with
  `crypto.dhe.explicit_group` (under 2048 bits: insufficient_security) and Ys
  (1 < Y < p-1: illegal_parameter) before it uses them.
- RSA (RFC 5246 §7.4.7.1): no ServerKeyExchange; the client encrypts a
  48-byte premaster (client_version ‖ 46 random bytes) to the certificate's key;
  the server decrypts with the countermeasure of `crypto.rsakx`: 46 random bytes
  are drawn before anything is decrypted, and a premaster that is bad in any way
  is replaced by client_version ‖ those bytes without a word; the handshake goes on
  and fails at the client's Finished exactly as a wrong key would make it fail.

Which group (ECDHE or FFDHE) the server uses is negotiation, done by the server
state with the helpers below (`ecdhe_group`, `ffdhe_group`), before a strategy
is asked for an offer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from cryptography.hazmat.primitives.asymmetric import rsa

from ..crypto import rsakx
from ..crypto.dhe import FFDHE_GROUPS, DHEKey, FFDHEGroup, explicit_group
from ..crypto.kx import ECDHE_GROUPS, EphemeralKey
from ..crypto.provider import Provider
from ..crypto.signatures import PublicKey
from ..crypto.suites import KeyExchange
from ..enums import NamedGroup, SignatureScheme
from ..errors import IllegalParameter, InternalError
from ..messages import (
    ClientKeyExchange,
    DHEClientKeyExchange,
    DHEServerKeyExchange,
    RSAClientKeyExchange,
    ServerKeyExchange,
)

__all__ = [
    "STRATEGIES",
    "ClientKeyExchangeMessage",
    "KeyExchangeStrategy",
    "PeerParams",
    "ServerKeyExchangeMessage",
    "ServerOffer",
    "is_ffdhe",
]

ServerKeyExchangeMessage = ServerKeyExchange | DHEServerKeyExchange
ClientKeyExchangeMessage = ClientKeyExchange | DHEClientKeyExchange | RSAClientKeyExchange


# The scheme of an unsigned ServerKeyExchange, replaced when the server signs it.
_NO_SCHEME = SignatureScheme(0)


def is_ffdhe(group: int) -> bool:
    """RFC 7919 §2: the code points 256 to 511 are finite-field groups, known or not."""
    return 256 <= group <= 511


class ServerOffer(Protocol):
    """The server's side of one key exchange, from its offer to the premaster secret."""

    @property
    def params(self) -> ServerKeyExchangeMessage | None:
        """The ServerKeyExchange, unsigned (empty signature), or None when none is sent."""
        ...

    def premaster(self, message: ClientKeyExchangeMessage) -> bytes:
        """The premaster secret from the client's ClientKeyExchange; bad public values raise."""
        ...

    def describe(self) -> str:
        """How the premaster is made, for the glass box."""
        ...


@dataclass(frozen=True, slots=True)
class PeerParams:
    """What the client took from the server for the key exchange."""

    #: The negotiated group (None for static RSA, or an explicit DH group that is no named group).
    group: NamedGroup | None
    #: ECDHE: the group of the server's point.
    ecdhe_group: NamedGroup | None = None
    #: The server's public value (ECDHE point or DH Ys).
    public: bytes = b""
    #: DHE: the server's group, validated.
    ffdhe: FFDHEGroup | None = None
    #: Static RSA: the certificate's key, which the premaster is encrypted to.
    rsa_key: rsa.RSAPublicKey | None = None


class KeyExchangeStrategy(Protocol):
    kind: ClassVar[KeyExchange]
    #: Whether the server sends a (signed) ServerKeyExchange.
    expects_server_key_exchange: ClassVar[bool]

    def server_offer(self, provider: Provider, group: NamedGroup | None, private_key: object,
                     client_version: int) -> ServerOffer: ...

    def read_params(self, message: ServerKeyExchangeMessage | None, offered_groups: tuple[NamedGroup, ...],
                    server_key: PublicKey) -> PeerParams: ...

    def client_share(self, peer: PeerParams, provider: Provider,
                     client_version: int) -> tuple[ClientKeyExchangeMessage, bytes]: ...


# -- ECDHE -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ECDHEOffer:
    key: EphemeralKey

    @property
    def params(self) -> ServerKeyExchange:
        return ServerKeyExchange(named_curve=self.key.group, public=self.key.public,
                                 scheme=_NO_SCHEME, signature=b"")

    def premaster(self, message: ClientKeyExchangeMessage) -> bytes:
        if not isinstance(message, ClientKeyExchange):  # pragma: no cover - parsed in this form
            raise InternalError("ClientKeyExchange parsed in another key exchange's form")
        return self.key.exchange(message.public)

    def describe(self) -> str:
        return f"ECDH({self.key.group.name.lower()}): our private key with the peer's public key"


class _ECDHE:
    kind: ClassVar[KeyExchange] = KeyExchange.ECDHE
    expects_server_key_exchange: ClassVar[bool] = True

    def server_offer(self, provider: Provider, group: NamedGroup | None, private_key: object,
                     client_version: int) -> ServerOffer:
        if group is None:  # pragma: no cover - negotiation always names one
            raise InternalError("ECDHE without a group")
        return _ECDHEOffer(provider.ephemeral_key(group))

    def read_params(self, message: ServerKeyExchangeMessage | None, offered_groups: tuple[NamedGroup, ...],
                    server_key: PublicKey) -> PeerParams:
        if not isinstance(message, ServerKeyExchange):  # pragma: no cover - parsed in this form
            raise InternalError("ServerKeyExchange parsed in another key exchange's form")
        # RFC 8422 §5.4: the server must choose one of the client's groups.
        if message.named_curve not in offered_groups or message.named_curve not in ECDHE_GROUPS:
            raise IllegalParameter(f"server chose group {message.named_curve.name}, which was not offered")
        return PeerParams(group=message.named_curve, ecdhe_group=message.named_curve, public=message.public)

    def client_share(self, peer: PeerParams, provider: Provider,
                     client_version: int) -> tuple[ClientKeyExchangeMessage, bytes]:
        assert peer.ecdhe_group is not None
        key = provider.ephemeral_key(peer.ecdhe_group)
        # RFC 8422 §5.10: the premaster is the shared x coordinate (the X25519/X448 output).
        return ClientKeyExchange(key.public), key.exchange(peer.public)


# -- DHE ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _DHEOffer:
    key: DHEKey

    @property
    def params(self) -> DHEServerKeyExchange:
        group = self.key.group
        return DHEServerKeyExchange(dh_p=group.p_bytes, dh_g=group.g_bytes, dh_Ys=self.key.public,
                                    scheme=_NO_SCHEME, signature=b"")

    def premaster(self, message: ClientKeyExchangeMessage) -> bytes:
        if not isinstance(message, DHEClientKeyExchange):  # pragma: no cover - parsed in this form
            raise InternalError("ClientKeyExchange parsed in another key exchange's form")
        return self.key.exchange(message.dh_Yc)

    def describe(self) -> str:
        group = self.key.group
        name = group.name.name.lower() if group.name is not None else f"a {group.bits}-bit group"
        return f"DH({name}): Yc^x mod p, leading zero bytes stripped (RFC 5246 §8.1.2)"


class _DHE:
    kind: ClassVar[KeyExchange] = KeyExchange.DHE
    expects_server_key_exchange: ClassVar[bool] = True

    def server_offer(self, provider: Provider, group: NamedGroup | None, private_key: object,
                     client_version: int) -> ServerOffer:
        if group is None or group not in FFDHE_GROUPS:  # pragma: no cover - negotiation always names one
            raise InternalError("DHE without an RFC 7919 group")
        return _DHEOffer(provider.dhe_key(FFDHE_GROUPS[group]))

    def read_params(self, message: ServerKeyExchangeMessage | None, offered_groups: tuple[NamedGroup, ...],
                    server_key: PublicKey) -> PeerParams:
        if not isinstance(message, DHEServerKeyExchange):  # pragma: no cover - parsed in this form
            raise InternalError("ServerKeyExchange parsed in another key exchange's form")
        # p under 2048 bits: insufficient_security; anything else wrong: illegal_parameter.
        group = explicit_group(message.dh_p, message.dh_g)
        # RFC 7919 §5.1: 1 < Ys < p-1, refused before it is used.
        group.peer_value(message.dh_Ys)
        return PeerParams(group=group.name, public=message.dh_Ys, ffdhe=group)

    def client_share(self, peer: PeerParams, provider: Provider,
                     client_version: int) -> tuple[ClientKeyExchangeMessage, bytes]:
        assert peer.ffdhe is not None
        key = provider.dhe_key(peer.ffdhe)
        return DHEClientKeyExchange(key.public), key.exchange(peer.public)


# -- static RSA --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _RSAOffer:
    private_key: rsa.RSAPrivateKey
    provider: Provider
    client_version: int

    @property
    def params(self) -> None:
        return None

    def premaster(self, message: ClientKeyExchangeMessage) -> bytes:
        if not isinstance(message, RSAClientKeyExchange):  # pragma: no cover - parsed in this form
            raise InternalError("ClientKeyExchange parsed in another key exchange's form")
        # RFC 5246 §7.4.7.1, step 1: the random premaster first, whatever the message holds.
        random = self.provider.random(rsakx.PREMASTER_LEN - 2)
        # Steps 2-4 in one code path that never raises: the client's premaster, or ours.
        return rsakx.decrypt_premaster(self.private_key, message.encrypted_pre_master_secret,
                                       self.client_version, random)

    def describe(self) -> str:
        return ("RSA: the client's 48 bytes decrypted with our key; anything malformed is replaced by "
                "client_version + 46 random bytes and never reported (RFC 5246 §7.4.7.1)")


class _RSA:
    kind: ClassVar[KeyExchange] = KeyExchange.RSA
    expects_server_key_exchange: ClassVar[bool] = False

    def server_offer(self, provider: Provider, group: NamedGroup | None, private_key: object,
                     client_version: int) -> ServerOffer:
        if not isinstance(private_key, rsa.RSAPrivateKey):  # pragma: no cover - the chooser checked it
            raise InternalError("static RSA needs an RSA key")
        return _RSAOffer(private_key, provider, client_version)

    def read_params(self, message: ServerKeyExchangeMessage | None, offered_groups: tuple[NamedGroup, ...],
                    server_key: PublicKey) -> PeerParams:
        if not isinstance(server_key, rsa.RSAPublicKey):  # pragma: no cover - the certificate check did it
            raise InternalError("static RSA needs an RSA certificate")
        return PeerParams(group=None, rsa_key=server_key)

    def client_share(self, peer: PeerParams, provider: Provider,
                     client_version: int) -> tuple[ClientKeyExchangeMessage, bytes]:
        assert peer.rsa_key is not None
        # RFC 5246 §7.4.7.1: client_version (the offered one) ‖ 46 random bytes, PKCS#1 v1.5.
        premaster, encrypted = rsakx.encrypt_premaster(peer.rsa_key, client_version,
                                                       provider.random(rsakx.PREMASTER_LEN - 2))
        return RSAClientKeyExchange(encrypted), premaster


STRATEGIES: dict[KeyExchange, KeyExchangeStrategy] = {
    KeyExchange.ECDHE: _ECDHE(),
    KeyExchange.DHE: _DHE(),
    KeyExchange.RSA: _RSA(),
}
