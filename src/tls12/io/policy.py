"""What the drop-in `SSLContext` does with each OpenSSL option, protocol version and other setting a
program sets.

The rule: a setting whose meaning tls12 already satisfies, or that cannot apply to TLS 1.2 with
tls12's AEAD suites, is accepted and changes nothing; a setting that would change behaviour
in a way tls12 cannot honour raises `ValueError`. Some options concern only one side (a client
connecting to legacy servers, a server accepting client renegotiation): they are refused only on
a context that can act on that side. The README's tables "What the drop-in context accepts" are
`OPTIONS` and `SETTINGS`, word for word (a test holds them together).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ALWAYS_SET",
    "DEFAULT_OPTIONS",
    "MAXIMUM_VERSIONS",
    "MINIMUM_VERSIONS",
    "OPTIONS",
    "Option",
    "SETTINGS",
    "Setting",
    "check_options",
]

Verdict = Literal["accepted", "honoured", "refused", "refused on clients", "refused on servers"]


@dataclass(frozen=True)
class Option:
    name: str
    value: int
    when_set: Verdict
    when_cleared: Verdict
    why: str
    #: tls12 always behaves as if it were set, and `options` always reports it set.
    always: bool = False


_ALL = int(ssl.OP_ALL)

#: Every `ssl.OP_*` name (Python 3.11 to 3.13) and the OpenSSL 3 bits the ssl module has no name
#: for, in OpenSSL's bit order. Options worth 0 in OpenSSL 3 (OP_NO_SSLv2, OP_SINGLE_DH_USE,
#: OP_SINGLE_ECDH_USE) are listed too: they can be set and cleared and change nothing.
OPTIONS: tuple[Option, ...] = (
    Option("OP_NO_EXTENDED_MASTER_SECRET", 0x1, "honoured", "honoured",
           "no RFC 7627 extended master secret is offered or accepted"),
    Option("OP_CLEANSE_PLAINTEXT", 0x2, "refused", "accepted",
           "tls12 cannot wipe delivered plaintext (Python byte strings are immutable)"),
    Option("OP_LEGACY_SERVER_CONNECT", 0x4, "refused on clients", "accepted",
           "tls12 requires RFC 5746 from servers; the option means nothing to a server"),
    Option("OP_ENABLE_KTLS", 0x8, "accepted", "accepted",
           "a performance hint; OpenSSL too falls back to user-space encryption"),
    Option("OP_TLSEXT_PADDING", 0x10, "accepted", "accepted",
           "an OP_ALL workaround for a bug tls12 does not have"),
    Option("OP_SAFARI_ECDHE_ECDSA_BUG", 0x40, "accepted", "accepted",
           "an OP_ALL workaround for a bug tls12 does not have"),
    Option("OP_IGNORE_UNEXPECTED_EOF", int(ssl.OP_IGNORE_UNEXPECTED_EOF), "honoured", "honoured",
           "an EOF without close_notify reads as a clean end of stream"),
    Option("OP_ALLOW_CLIENT_RENEGOTIATION", 0x100, "refused on servers", "accepted",
           "tls12 never renegotiates; the option means nothing to a client"),
    Option("OP_DISABLE_TLSEXT_CA_NAMES", 0x200, "accepted", "accepted",
           "tls12 never sends the certificate_authorities extension"),
    Option("OP_ALLOW_NO_DHE_KEX", 0x400, "accepted", "accepted", "TLS 1.3 only (PSK key exchange)"),
    Option("OP_DONT_INSERT_EMPTY_FRAGMENTS", 0x800, "accepted", "accepted", "concerns CBC in TLS 1.0 only"),
    Option("OP_NO_QUERY_MTU", 0x1000, "accepted", "accepted", "DTLS only"),
    Option("OP_COOKIE_EXCHANGE", 0x2000, "accepted", "accepted", "DTLS only"),
    Option("OP_NO_TICKET", int(ssl.OP_NO_TICKET), "honoured", "honoured",
           "no RFC 5077 session tickets: a client neither asks for nor presents one, a server issues none and "
           "opens none; sessions resume by session ID"),
    Option("OP_CISCO_ANYCONNECT", 0x8000, "accepted", "accepted", "DTLS only"),
    Option("OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION", 0x10000, "accepted", "accepted",
           "tls12 never renegotiates"),
    Option("OP_NO_COMPRESSION", int(ssl.OP_NO_COMPRESSION), "accepted", "accepted",
           "tls12 never compresses (CRIME); clearing only permits it, and no peer gets it", always=True),
    Option("OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION", 0x40000, "refused", "accepted",
           "it permits handshakes with peers lacking RFC 5746, which tls12 requires of servers"),
    Option("OP_NO_ENCRYPT_THEN_MAC", 0x80000, "accepted", "accepted",
           "encrypt-then-MAC is for CBC suites; tls12's suite is AEAD"),
    Option("OP_ENABLE_MIDDLEBOX_COMPAT", int(ssl.OP_ENABLE_MIDDLEBOX_COMPAT), "accepted", "accepted",
           "TLS 1.3 only"),
    Option("OP_PRIORITIZE_CHACHA", 0x200000, "accepted", "accepted",
           "a tls12 server always prefers ChaCha20 suites when the client lists one first (the usual "
           "mobile-client rule); cleared, it still does: the suite is one both sides enable either way"),
    Option("OP_CIPHER_SERVER_PREFERENCE", int(ssl.OP_CIPHER_SERVER_PREFERENCE), "honoured", "honoured",
           "set (the stdlib's default): the server's set_ciphers() order wins; cleared: the client's "
           "(ServerConfig.prefer_client_order); no effect on a client"),
    Option("OP_TLS_ROLLBACK_BUG", 0x800000, "accepted", "accepted",
           "a workaround for SSL 3-era clients that put the negotiated version in the RSA premaster; "
           "tls12 speaks only TLS 1.2, which a client puts in both places"),
    Option("OP_NO_ANTI_REPLAY", 0x1000000, "accepted", "accepted", "TLS 1.3 early data only"),
    Option("OP_NO_SSLv3", int(ssl.OP_NO_SSLv3), "accepted", "accepted",
           "clearing permits nothing: minimum_version stays TLSv1_2 (as in the stdlib)", always=True),
    Option("OP_NO_TLSv1", int(ssl.OP_NO_TLSv1), "accepted", "accepted",
           "clearing permits nothing: minimum_version stays TLSv1_2 (as in the stdlib)", always=True),
    Option("OP_NO_TLSv1_2", int(ssl.OP_NO_TLSv1_2), "refused", "accepted",
           "setting it would leave no version: tls12 speaks only TLS 1.2"),
    Option("OP_NO_TLSv1_1", int(ssl.OP_NO_TLSv1_1), "accepted", "accepted",
           "clearing permits nothing: minimum_version stays TLSv1_2 (as in the stdlib)", always=True),
    Option("OP_NO_TLSv1_3", int(ssl.OP_NO_TLSv1_3), "accepted", "accepted",
           "clearing permits TLS 1.3, as maximum_version = TLSv1_3 does; TLS 1.2 is negotiated", always=True),
    Option("OP_NO_RENEGOTIATION", int(ssl.OP_NO_RENEGOTIATION), "accepted", "refused on clients",
           "a client that may renegotiate follows a server's HelloRequest, which tls12 refuses; a server "
           "cannot start one through the ssl API", always=True),
    Option("OP_CRYPTOPRO_TLSEXT_BUG", 0x80000000, "accepted", "accepted",
           "an OP_ALL workaround for a bug tls12 does not have"),
    Option("OP_NO_SSLv2", int(ssl.OP_NO_SSLv2), "accepted", "accepted", "0 in OpenSSL 3: no effect anywhere"),
    Option("OP_SINGLE_DH_USE", int(ssl.OP_SINGLE_DH_USE), "accepted", "accepted",
           "0 in OpenSSL 3; every tls12 handshake uses a fresh ephemeral key"),
    Option("OP_SINGLE_ECDH_USE", int(ssl.OP_SINGLE_ECDH_USE), "accepted", "accepted",
           "0 in OpenSSL 3; every tls12 handshake uses a fresh ephemeral key"),
    Option("OP_ALL", _ALL, "accepted", "accepted",
           "OpenSSL's bug workarounds (the bits above); tls12 has none of the bugs"),
)

_KNOWN = 0
for _option in OPTIONS:
    _KNOWN |= _option.value
ALWAYS_SET = 0
for _option in OPTIONS:
    if _option.always:
        ALWAYS_SET |= _option.value

#: What a new context reports, as the stdlib's does, plus what tls12 always does.
#: (OpenSSL 1.1.1's OP_ALL includes OP_LEGACY_SERVER_CONNECT, which tls12 does not do.)
_LEGACY_SERVER_CONNECT = 0x4
DEFAULT_OPTIONS = ALWAYS_SET | (
    int(ssl.OP_ALL | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_ENABLE_MIDDLEBOX_COMPAT) & ~_LEGACY_SERVER_CONNECT
)

#: minimum_version / maximum_version values accepted (all read back as TLSv1_2). Any other minimum
#: would let in a version tls12 cannot speak (or demand TLS 1.3); a maximum above TLS 1.2 is only
#: an upper bound, one below it would leave nothing.
MINIMUM_VERSIONS = frozenset({ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MINIMUM_SUPPORTED})
MAXIMUM_VERSIONS = frozenset({ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.MAXIMUM_SUPPORTED})


def _refuses(verdict: Verdict, may_be_client: bool, may_be_server: bool) -> bool:
    return (verdict == "refused" or (verdict == "refused on clients" and may_be_client)
            or (verdict == "refused on servers" and may_be_server))


def check_options(old: int, new: int, protocol: int) -> int:
    """The options value to store for `options = new` (raises ValueError for a refused change)."""
    may_be_client = protocol != ssl.PROTOCOL_TLS_SERVER
    may_be_server = protocol != ssl.PROTOCOL_TLS_CLIENT
    unknown = new & ~_KNOWN
    if unknown:
        raise ValueError(f"tls12 cannot honour options 0x{unknown:x} (unknown to it)")
    for option in OPTIONS:
        bits = option.value
        if not bits or bits == _ALL:
            continue
        if new & bits == bits and old & bits != bits and _refuses(option.when_set, may_be_client, may_be_server):
            raise ValueError(f"tls12 cannot honour {option.name}: {option.why}")
        if not new & bits and old & bits and _refuses(option.when_cleared, may_be_client, may_be_server):
            raise ValueError(f"tls12 cannot clear {option.name}: {option.why}")
    return new | ALWAYS_SET


@dataclass(frozen=True)
class Setting:
    """A row of the README's settings table: what is accepted and what is refused (Markdown)."""

    name: str
    accepted: str
    refused: str

    def row(self) -> str:
        return f"| {self.name} | {self.accepted} | {self.refused} |".replace("|  |", "| |")


SETTINGS: tuple[Setting, ...] = (
    Setting("`minimum_version`", "`TLSv1_2`, `MINIMUM_SUPPORTED` (reads `TLSv1_2`)",
            "`SSLv3`, `TLSv1`, `TLSv1_1` (versions tls12 cannot speak), `TLSv1_3`, `MAXIMUM_SUPPORTED` (would "
            "demand TLS 1.3)"),
    Setting("`maximum_version`", "`TLSv1_2`, `TLSv1_3`, `MAXIMUM_SUPPORTED`: an upper bound (reads `TLSv1_2`)",
            "`SSLv3`, `TLSv1`, `TLSv1_1`, `MINIMUM_SUPPORTED` (would leave no version)"),
    Setting("`verify_flags`",
            "`VERIFY_DEFAULT`, `VERIFY_X509_TRUSTED_FIRST`, `VERIFY_X509_STRICT` (the Web PKI profile is always "
            "applied); `VERIFY_X509_PARTIAL_CHAIN` is honoured: off (the default, as in the stdlib; from Python 3.13 "
            "`create_default_context()` sets it, in both), a path must end at a self-signed trusted root; on, any "
            "trusted certificate may end it. A server verifies client chains as if it were on",
            "`VERIFY_CRL_CHECK_LEAF`, `VERIFY_CRL_CHECK_CHAIN`, `VERIFY_ALLOW_PROXY_CERTS`"),
    Setting("`post_handshake_auth`", "`True`, `False`: TLS 1.3 only, no effect on TLS 1.2 (as in the stdlib)", ""),
    Setting("`num_tickets`",
            "any count on a server context: TLS 1.3 tickets only, no effect on TLS 1.2 (as in the stdlib)",
            "on a client context (`ValueError`, as in the stdlib)"),
    Setting("`hostname_checks_common_name`", "`False`", "`True` (names are matched against subjectAltName only)"),
    Setting("`verify_mode`",
            "all three on either side. On a server, the client certificate policy, as in the stdlib: `CERT_NONE` "
            "asks for none, `CERT_OPTIONAL` asks and takes a client without one, `CERT_REQUIRED` refuses that "
            "client (`PEER_DID_NOT_RETURN_A_CERTIFICATE`); a client chain that does not verify raises "
            "`SSLCertVerificationError` with OpenSSL's `verify_code` (20 unknown CA, 18 and 19 an untrusted "
            "self-signed certificate or root, 10 expired, 26 not for clientAuth), and the client gets the alert as "
            "the stdlib's reason (`TLSV1_ALERT_UNKNOWN_CA`, ...)",
            ""),
    Setting("`load_verify_locations()`, `load_default_certs()`",
            "`cafile`, `capath` (every file in it), `cadata` (PEM or DER), and the system's roots: a client's "
            "anchors for the server's chain, a server's for the client's (with nothing loaded every client "
            "certificate is from an unknown CA, as in OpenSSL); like the stdlib's, a server names no certificate "
            "authorities in its CertificateRequest",
            "a source without a certificate (`NO_CERTIFICATE_OR_CRL_FOUND`, `NOT_ENOUGH_DATA`)"),
    Setting("`set_ciphers()`",
            "any OpenSSL cipher string (`HIGH:!aNULL`, `ECDHE+AESGCM`, `DEFAULT`, single names; the IANA names of "
            "tls12's suites too), evaluated by OpenSSL itself: the suites enabled are OpenSSL's list for it, in its "
            "order, that tls12 speaks; `get_ciphers()` lists them as the stdlib does. Static RSA "
            "(`AES128-GCM-SHA256`, `AES256-GCM-SHA384`) only when a term that selects nothing but static RSA names "
            "it (`kRSA`, `RSA`, `AES128-GCM-SHA256`, `kRSA+AESGCM`): `DEFAULT`, `HIGH`, `ALL` and `AESGCM` include "
            "it in OpenSSL but not here, as it has no forward secrecy and invites padding oracles",
            "a string that enables none of tls12's suites (`ssl.SSLError(\"No cipher can be selected.\")`, as the "
            "stdlib raises), or a `@SECLEVEL` other than 2"),
    Setting("`set_ecdh_curve()`",
            "`prime256v1`, `secp384r1`, `secp521r1`, `X25519`, `X448`: the only elliptic-curve group; the "
            "finite-field (DHE) groups stay as they were",
            "other curves"),
    Setting("`load_dh_params()`",
            "a file with one of the RFC 7919 groups (`openssl genpkey -genparam -algorithm DH -pkeyopt "
            "group:ffdhe3072`): a server's only DHE group (DHE groups are negotiated through supported_groups, "
            "RFC 7919); no effect on a client",
            "any other group (`ValueError`: custom or `modp_*` primes, ffdhe6144/8192), a file without DH "
            "parameters (`ssl.SSLError`)"),
    Setting("`load_cert_chain()`",
            "RSA (2048 bits or more), ECDSA (P-256, P-384, P-521) and Ed25519 keys. As in OpenSSL, one certificate "
            "per kind of key (RSA, RSA-PSS, ECDSA, Ed25519): a second call with another kind adds its chain, and "
            "the handshake picks per client; one with the same kind replaces that one. On a client, sent when a "
            "server asks for a certificate: of several, the one whose key type and signature scheme the server's "
            "CertificateRequest takes",
            "other keys (`KEY_TYPE_UNSUPPORTED`), smaller RSA keys (`EE_KEY_TOO_SMALL`, `CA_KEY_TOO_SMALL`), a key "
            "that is not the certificate's (`KEY_VALUES_MISMATCH`)"),
    Setting("`session=`, `session`",
            "a `tls12.SSLSession` this context made, on a client before its handshake (`wrap_socket()`, "
            "`wrap_bio()`, the socket's or object's `session`), as in the stdlib",
            "an `ssl.SSLSession` or anything else (`TypeError`), a session of another context, on a server, "
            "after the handshake (`ValueError`), with the stdlib's messages"),
    Setting("`client_session_cache` (tls12's own)",
            "`True` (the default on a context that may connect): the session of each handshake is kept by server "
            "name and port (1,000 at most, until they expire) and offered on the next connection there; "
            "`wrap_bio()` (asyncio) keys it by server name alone and caches nothing without one. `False` turns it "
            "off, as in the stdlib",
            "`True` on a `PROTOCOL_TLS_SERVER` context (`ValueError`)"),
    Setting("`set_npn_protocols()`", "", "always (NPN is obsolete)"),
)
