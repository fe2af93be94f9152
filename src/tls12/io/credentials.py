"""A context's certificates as OpenSSL keeps them: one chain per kind of key.

OpenSSL holds one certificate (with its chain and key) per key type, and
`SSL_CTX_use_certificate` for a key type it already holds replaces that one:
`load_cert_chain()` with an RSA pair and then an ECDSA pair serves both (the
handshake picks per client), and a second ECDSA pair replaces the first. A
client context keeps its certificates the same way and offers them all when a
server asks; the core sends the one the server's CertificateRequest accepts.
OpenSSL's kinds are RSA, RSA-PSS, EC (every curve in one) and Ed25519; tls12
keeps the same four, so a P-384 key replaces a P-256 one as it does in
OpenSSL. `tls12 serve --cert/--key` follows the same rule but refuses a
second pair of one kind instead of silently replacing the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..crypto.credentials import Credential, KeyType

__all__ = ["key_slot", "server_identity", "with_credential"]

_SLOTS = {
    KeyType.RSA: "RSA",
    KeyType.RSA_PSS: "RSA-PSS",
    KeyType.ECDSA_P256: "ECDSA",
    KeyType.ECDSA_P384: "ECDSA",
    KeyType.ECDSA_P521: "ECDSA",
    KeyType.ED25519: "Ed25519",
}


def key_slot(credential: Credential) -> str:
    """The kind of key OpenSSL keeps one certificate for: "RSA", "RSA-PSS", "ECDSA" or "Ed25519"."""
    return _SLOTS[credential.key_type]


def with_credential(credentials: Sequence[Credential], new: Credential) -> tuple[Credential, ...]:
    """`credentials` with `new` in the place of the one of its kind, or after them all."""
    slot = key_slot(new)
    out = [new if key_slot(c) == slot else c for c in credentials]
    if all(key_slot(c) != slot for c in credentials):
        out.append(new)
    return tuple(out)


def server_identity(credentials: Sequence[Credential]) -> dict[str, Any]:
    """The `ServerConfig` arguments that present `credentials`: one RSA chain as `certificate_chain` and
    `private_key` (the form every configuration takes), anything else as the list `credentials`."""
    if not credentials:
        raise ValueError("a server needs at least one certificate")
    if len(credentials) == 1 and credentials[0].key_type is KeyType.RSA:
        only = credentials[0]
        return {"certificate_chain": tuple(only.chain), "private_key": only.private_key}
    return {"credentials": list(credentials)}
