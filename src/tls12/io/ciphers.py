"""OpenSSL cipher strings, evaluated the way OpenSSL evaluates them, and what the ssl module says of a suite.

`SSLContext.set_ciphers()` and `tls12 serve/connect --ciphers` take the same
strings ("ECDHE+AESGCM:!aNULL", "HIGH", "ECDHE-ECDSA-AES128-GCM-SHA256", ...).
tls12 does not reimplement OpenSSL's cipher-string grammar: OpenSSL itself (a
stdlib `ssl.SSLContext`) evaluates the string, and the suites tls12 enables
are OpenSSL's resulting list, in OpenSSL's order, less the suites tls12 does
not speak. OpenSSL rejects IANA names in TLS 1.2 cipher strings; tls12 takes
the IANA names of its own suites too, as their OpenSSL names.

One rule is tls12's own: static RSA key exchange (AES128-GCM-SHA256,
AES256-GCM-SHA384) is off unless asked for by name. OpenSSL's "DEFAULT",
"HIGH", "ALL" and "AESGCM" include those two suites; tls12 enables a static
RSA suite only when a term of the string that adds suites selects nothing but
static RSA suites ("kRSA", "RSA", "AES128-GCM-SHA256", "kRSA+AESGCM", ...) and
that term selects it. Static RSA has no forward secrecy and a server speaking
it stands one padding-oracle defect away from Bleichenbacher (ROBOT, Marvin);
a string written years ago as "HIGH:!aNULL" did not mean to ask for that.
"""

from __future__ import annotations

import functools
import re
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..crypto.suites import SUITES, AEADKind, Authentication, KeyExchange, SuiteSpec
from ..enums import CipherSuite

__all__ = [
    "NO_CIPHER",
    "SECURITY_LEVEL",
    "CipherSelection",
    "cipher_info",
    "is_static_rsa",
    "select_suites",
    "stdlib_default_suites",
]

#: OpenSSL's security level tls12 enforces (RSA keys of 2048 bits or more, groups of 112 bits or more).
SECURITY_LEVEL = 2
#: The stdlib's message when a cipher string selects nothing.
NO_CIPHER = "No cipher can be selected."

_BY_OPENSSL_NAME: dict[str, SuiteSpec] = {spec.openssl_name: spec for spec in SUITES.values()}
_IANA_NAME = re.compile(r"\bTLS_[A-Z0-9_]+\b")
_TERM_SEPARATORS = re.compile(r"[:, ]+")

# SSL_CIPHER_description's columns, as OpenSSL prints them for these suites.
_KX = {KeyExchange.ECDHE: "ECDH", KeyExchange.DHE: "DH", KeyExchange.RSA: "RSA"}
_KEA = {KeyExchange.ECDHE: "kx-ecdhe", KeyExchange.DHE: "kx-dhe", KeyExchange.RSA: "kx-rsa"}
_AU = {Authentication.RSA_SIGNATURE: "RSA", Authentication.RSA_DECRYPTION: "RSA",
       Authentication.ECDSA_SIGNATURE: "ECDSA"}


def is_static_rsa(suite: CipherSuite) -> bool:
    return SUITES[suite].key_exchange is KeyExchange.RSA


def cipher_info(suite: CipherSuite) -> dict[str, Any]:
    """The dict `ssl.SSLContext.get_ciphers()` gives for `suite` (the same keys, values and description)."""
    spec = SUITES[suite]
    gcm = spec.aead is AEADKind.AES_GCM
    enc = f"AESGCM({spec.bits})" if gcm else f"CHACHA20/POLY1305({spec.bits})"
    au = _AU[spec.authentication]
    return {
        "id": 0x03000000 | int(suite),
        "name": spec.openssl_name,
        "protocol": "TLSv1.2",
        "description": (f"{spec.openssl_name:<30} TLSv1.2 Kx={_KX[spec.key_exchange]:<8} Au={au:<5} "
                        f"Enc={enc:<22} Mac=AEAD"),
        "strength_bits": spec.bits,
        "alg_bits": spec.bits,
        "aead": True,
        "symmetric": f"aes-{spec.bits}-gcm" if gcm else "chacha20-poly1305",
        "digest": None,
        "kea": _KEA[spec.key_exchange],
        "auth": f"auth-{au.lower()}",
    }


@dataclass(frozen=True)
class CipherSelection:
    #: The suites enabled, in OpenSSL's order for the string.
    suites: tuple[CipherSuite, ...]
    #: The static RSA suites OpenSSL's list held that no term named (so left off), for messages.
    static_rsa_left_off: tuple[CipherSuite, ...]


def _no_cipher(note: str) -> ssl.SSLError:
    exc = ssl.SSLError(NO_CIPHER)
    exc.add_note(note)
    return exc


def _openssl_list(spec: str) -> tuple[list[str], int]:
    """OpenSSL's TLS 1.2 cipher names for `spec` and the security level it sets; SSLError if none."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.set_ciphers(spec)
    return _openssl_list_of(probe)


def _openssl_list_of(probe: ssl.SSLContext) -> tuple[list[str], int]:
    return [c["name"] for c in probe.get_ciphers() if c.get("protocol") != "TLSv1.3"], probe.security_level


@functools.cache
def stdlib_default_suites(spoken: tuple[CipherSuite, ...]) -> tuple[CipherSuite, ...]:
    """The suites of `spoken` that a fresh `ssl.SSLContext` enables, in OpenSSL's order: what the
    drop-in context starts with, so that code moving from the ssl module negotiates the same suite.
    (The core's own defaults follow Mozilla's intermediate order instead.) The ssl module's default
    selection names no static RSA suite."""
    names, _ = _openssl_list_of(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    allowed = set(spoken)
    return tuple(row.suite for name in names if (row := _BY_OPENSSL_NAME.get(name)) is not None
                 and row.suite in allowed and row.key_exchange is not KeyExchange.RSA)


@functools.lru_cache(maxsize=256)
def _names_only_static_rsa(term: str) -> frozenset[str]:
    """The static RSA suites of ours that `term`, on its own, selects when it selects nothing else
    (kx-rsa only: "kRSA", "AES128-GCM-SHA256"); empty for a term that selects anything else too."""
    try:
        probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        probe.set_ciphers(term)
    except ssl.SSLError:
        return frozenset()
    selected = [c for c in probe.get_ciphers() if c.get("protocol") != "TLSv1.3"]
    if not selected or any(c.get("kea") != "kx-rsa" for c in selected):
        return frozenset()
    return frozenset(c["name"] for c in selected if c["name"] in _BY_OPENSSL_NAME)


def _adding_terms(spec: str) -> Iterable[str]:
    """The terms of a cipher string that add suites (not "!X", "-X", "+X" or "@COMMAND")."""
    for term in _TERM_SEPARATORS.split(spec):
        if term and term[0] not in "!-+@":
            yield term


def select_suites(cipher_string: str, spoken: Iterable[CipherSuite] = SUITES) -> CipherSelection:
    """The suites `cipher_string` enables among `spoken`, in OpenSSL's order (see the module docstring).

    Raises `ssl.SSLError("No cipher can be selected.")`, as the stdlib does, when it
    enables none of them, and ValueError for a security level other than tls12's."""
    if not isinstance(cipher_string, str):
        raise TypeError(f"cipher string must be str, not {type(cipher_string).__name__}")
    spec = _IANA_NAME.sub(lambda m: _openssl_name(m.group()), cipher_string)
    try:
        names, level = _openssl_list(spec)
    except ssl.SSLError:
        raise _no_cipher(f"tls12: OpenSSL selects no cipher for {cipher_string!r}") from None
    if level != SECURITY_LEVEL:
        # tls12 enforces level 2 (RSA keys of 2048 bits or more, 128-bit groups) and no other.
        raise ValueError(f"tls12 cannot honour security level {level} (it enforces level {SECURITY_LEVEL})")
    named = frozenset().union(*(_names_only_static_rsa(term) for term in _adding_terms(spec)))
    allowed = set(spoken)
    suites: list[CipherSuite] = []
    left_off: list[CipherSuite] = []
    for name in names:
        row = _BY_OPENSSL_NAME.get(name)
        if row is None or row.suite not in allowed:
            continue
        if row.key_exchange is KeyExchange.RSA and name not in named:
            left_off.append(row.suite)
            continue
        suites.append(row.suite)
    if not suites:
        why = f"{cipher_string!r} selects none of the suites tls12 speaks ({', '.join(_names(allowed))})"
        if left_off:
            why += (f"; static RSA ({', '.join(SUITES[s].openssl_name for s in left_off)}) is enabled only when "
                    "named, e.g. kRSA or AES128-GCM-SHA256")
        raise _no_cipher(f"tls12: {why}")
    return CipherSelection(tuple(suites), tuple(left_off))


def _openssl_name(iana: str) -> str:
    try:
        return SUITES[CipherSuite[iana]].openssl_name
    except KeyError:
        return iana


def _names(suites: Iterable[CipherSuite]) -> list[str]:
    return [spec.openssl_name for spec in SUITES.values() if spec.suite in set(suites)]
