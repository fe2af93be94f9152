"""Static RSA key exchange, the crypto side (RFC 5246 §7.4.7.1).

The client makes a 48-byte premaster secret, ClientHello.client_version
followed by 46 random bytes, and encrypts it under the server certificate's RSA
key with PKCS#1 v1.5.

The server must not become a padding oracle (Bleichenbacher 1998, ROBOT 2017,
Marvin 2023). `decrypt_premaster` is the RFC's countermeasure as one code path:
the caller draws 46 random bytes R before anything is decrypted; the message M
is decrypted; then, without an early exit, the result is M when M is 48 bytes
and starts with client_version, and client_version ‖ R otherwise. Nothing is
raised and nothing is logged: a bad premaster shows only later, as a Finished
that does not verify, exactly like a good premaster with a wrong key. (The RFC's
algorithm keeps M[2..47] behind the expected version when only M's version is
wrong; that fails the Finished just the same and reveals nothing more. Taking the
random premaster for every kind of bad M keeps one rule for all of them.)

Two behaviours of the RSA decryption underneath are handled alike:
- OpenSSL 3.2 and later (the OpenSSL in current cryptography wheels) implement
  implicit rejection: bad padding returns a pseudo-random message derived from
  the key and the ciphertext, of a pseudo-random length, instead of an error;
- older OpenSSL raises ValueError on bad padding; so does every version for a
  ciphertext of the wrong length or not below the modulus (public facts about
  the ciphertext). Any ValueError counts as "no valid M".

What a Python process can and cannot promise about timing: the choice between
M and the random premaster is made with integer masks, and the version with
hmac.compare_digest, so this module has no branch on the secret. But Python
promises no constant-time arithmetic (big integers, slicing and allocation take
time that depends on sizes), raising and catching an exception (the pre-3.2
OpenSSL path) takes measurably longer than returning, and the interpreter, the
allocator and the garbage collector add noise that is not independent of the
data. The padding check itself is OpenSSL's; with implicit rejection there is no
exception path to time. The honest claim is: no difference in alerts, messages
or state, and no deliberate timing difference; not constant time. Static RSA is
off by default for that reason.
"""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["PREMASTER_LEN", "decrypt_premaster", "encrypt_premaster"]

PREMASTER_LEN = 48
_RANDOM_LEN = PREMASTER_LEN - 2


def _version_bytes(client_version: int) -> bytes:
    return client_version.to_bytes(2, "big")


def encrypt_premaster(public_key: rsa.RSAPublicKey, client_version: int, random: bytes) -> tuple[bytes, bytes]:
    """(premaster, EncryptedPreMasterSecret contents) for the client; `random` is 46 fresh random bytes."""
    if len(random) != _RANDOM_LEN:
        raise ValueError(f"the premaster needs {_RANDOM_LEN} random bytes, not {len(random)}")
    premaster = _version_bytes(client_version) + random
    return premaster, public_key.encrypt(premaster, padding.PKCS1v15())


def decrypt_premaster(
    private_key: rsa.RSAPrivateKey, encrypted: bytes, client_version: int, random: bytes
) -> bytes:
    """The server's premaster: the client's if it decrypts well, else client_version ‖ `random`; never raises.

    `random` is 46 random bytes the caller drew before calling (RFC 5246 §7.4.7.1 step 1).
    `client_version` is the version the ClientHello offered, not the negotiated one.
    """
    if len(random) != _RANDOM_LEN:
        raise ValueError(f"the countermeasure needs {_RANDOM_LEN} random bytes, not {len(random)}")
    version = _version_bytes(client_version)
    fallback = int.from_bytes(version + random, "big")
    try:
        message = private_key.decrypt(encrypted, padding.PKCS1v15())
    except ValueError:
        message = b""
    candidate = int.from_bytes(message[:PREMASTER_LEN], "big")
    good = (len(message) == PREMASTER_LEN) & hmac.compare_digest(message[:2], version)
    keep = -int(good)  # all ones when M is good, zero otherwise
    chosen = (candidate & keep) | (fallback & ~keep)
    return chosen.to_bytes(PREMASTER_LEN, "big")
