"""Names for the code points a real peer may send, for display only.

tls12's enums know what tls12 speaks; a browser's or OpenSSL's ClientHello
carries many more suites, groups, schemes and extensions. Showing
``UNKNOWN_0xC02F`` would hide what the peer asked for, so the explanation
names them from the IANA registries here. Nothing in the protocol uses this.
"""

from __future__ import annotations

from ..enums import (
    AlertDescription,
    CipherSuite,
    ContentType,
    ExtensionType,
    HandshakeType,
    NamedGroup,
    OpenEnum,
    ProtocolVersion,
    SignatureScheme,
)

__all__ = [
    "alert_name",
    "code",
    "content_type_name",
    "decision_value",
    "extension_name",
    "group_name",
    "handshake_name",
    "is_grease",
    "scheme_name",
    "suite_name",
    "version_name",
]

_SUITES: dict[int, str] = {
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    0x006B: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0x1304: "TLS_AES_128_CCM_SHA256",
    0x1305: "TLS_AES_128_CCM_8_SHA256",
    0x5600: "TLS_FALLBACK_SCSV",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xC09C: "TLS_RSA_WITH_AES_128_CCM",
    0xC09D: "TLS_RSA_WITH_AES_256_CCM",
    0xC09E: "TLS_DHE_RSA_WITH_AES_128_CCM",
    0xC09F: "TLS_DHE_RSA_WITH_AES_256_CCM",
    0xC0AC: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
    0xC0AD: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}

_EXTENSIONS: dict[int, str] = {
    0: "server_name",
    1: "max_fragment_length",
    5: "status_request",
    10: "supported_groups",
    11: "ec_point_formats",
    13: "signature_algorithms",
    14: "use_srtp",
    15: "heartbeat",
    16: "application_layer_protocol_negotiation",
    17: "status_request_v2",
    18: "signed_certificate_timestamp",
    21: "padding",
    22: "encrypt_then_mac",
    23: "extended_master_secret",
    27: "compress_certificate",
    28: "record_size_limit",
    35: "session_ticket",
    41: "pre_shared_key",
    42: "early_data",
    43: "supported_versions",
    44: "cookie",
    45: "psk_key_exchange_modes",
    47: "certificate_authorities",
    49: "post_handshake_auth",
    50: "signature_algorithms_cert",
    51: "key_share",
    57: "quic_transport_parameters",
    13172: "next_protocol_negotiation",
    17513: "application_settings_old",
    17613: "application_settings",
    0xFE0D: "encrypted_client_hello",
    0xFF01: "renegotiation_info",
}

_GROUPS: dict[int, str] = {
    23: "secp256r1",
    24: "secp384r1",
    25: "secp521r1",
    29: "x25519",
    30: "x448",
    256: "ffdhe2048",
    257: "ffdhe3072",
    258: "ffdhe4096",
    259: "ffdhe6144",
    260: "ffdhe8192",
    0x0200: "MLKEM512",
    0x0201: "MLKEM768",
    0x0202: "MLKEM1024",
    0x11EB: "SecP256r1MLKEM768",
    0x11EC: "X25519MLKEM768",
    0x11ED: "SecP384r1MLKEM1024",
    0x6399: "X25519Kyber768Draft00",
}

_SCHEMES: dict[int, str] = {
    0x0201: "rsa_pkcs1_sha1",
    0x0203: "ecdsa_sha1",
    0x0401: "rsa_pkcs1_sha256",
    0x0403: "ecdsa_secp256r1_sha256",
    0x0501: "rsa_pkcs1_sha384",
    0x0503: "ecdsa_secp384r1_sha384",
    0x0601: "rsa_pkcs1_sha512",
    0x0603: "ecdsa_secp521r1_sha512",
    0x0804: "rsa_pss_rsae_sha256",
    0x0805: "rsa_pss_rsae_sha384",
    0x0806: "rsa_pss_rsae_sha512",
    0x0807: "ed25519",
    0x0808: "ed448",
    0x0809: "rsa_pss_pss_sha256",
    0x080A: "rsa_pss_pss_sha384",
    0x080B: "rsa_pss_pss_sha512",
    0x081A: "ecdsa_brainpoolP256r1tls13_sha256",
    0x081B: "ecdsa_brainpoolP384r1tls13_sha384",
    0x081C: "ecdsa_brainpoolP512r1tls13_sha512",
    0x0904: "mldsa44",
    0x0905: "mldsa65",
    0x0906: "mldsa87",
}

_VERSIONS: dict[int, str] = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2",
                             0x0304: "TLS 1.3"}


def code(value: int, width: int = 4) -> str:
    """``0xC030``: code points as the RFCs and IANA write them."""
    return f"0x{value:0{width}X}"


def is_grease(value: int) -> bool:
    """RFC 8701 reserved values (0x0A0A, 0x1A1A, ... 0xFAFA) that peers send to keep others tolerant."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def _named(value: int, table: dict[int, str], member: OpenEnum, lower: bool = True) -> str:
    if value in table:
        return table[value]
    if is_grease(value):
        return "GREASE"
    if member.known:
        return member.name.lower() if lower else member.name
    return "unknown"


def suite_name(value: int) -> str:
    return _named(value, _SUITES, CipherSuite(value), lower=False)


def extension_name(value: int) -> str:
    return _named(value, _EXTENSIONS, ExtensionType(value))


def group_name(value: int) -> str:
    return _named(value, _GROUPS, NamedGroup(value))


_LEGACY_HASHES = {1: "md5", 2: "sha1", 3: "sha224", 4: "sha256", 5: "sha384", 6: "sha512"}
_LEGACY_SIGNATURES = {1: "rsa", 2: "dsa", 3: "ecdsa"}


def scheme_name(value: int) -> str:
    name = _named(value, _SCHEMES, SignatureScheme(value))
    hash_, signature = value >> 8, value & 0xFF
    if name == "unknown" and hash_ in _LEGACY_HASHES and signature in _LEGACY_SIGNATURES:
        # A TLS 1.2 SignatureAndHashAlgorithm pair with no TLS 1.3 name (RFC 5246 §7.4.1.4.1).
        return f"{_LEGACY_SIGNATURES[signature]}_{_LEGACY_HASHES[hash_]}"
    return name


def version_name(value: int) -> str:
    return _VERSIONS.get(value, "GREASE" if is_grease(value) else ProtocolVersion(value).name)


def handshake_name(value: int) -> str:
    return _named(value, {}, HandshakeType(value))


def alert_name(value: int) -> str:
    return _named(value, {}, AlertDescription(value))


def content_type_name(value: int) -> str:
    return _named(value, {}, ContentType(value))


def decision_value(what: str, value: str) -> str:
    """A Decision's value (an enum member's name in the core's trace) with its registry name and code point."""
    tables: dict[str, tuple[type[CipherSuite] | type[NamedGroup] | type[SignatureScheme], object]] = {
        "cipher suite": (CipherSuite, suite_name),
        "group": (NamedGroup, group_name),
        "signature scheme": (SignatureScheme, scheme_name),
    }
    if what not in tables:
        return value
    enum, namer = tables[what]
    try:
        number = int(enum[value])
    except KeyError:
        return value
    assert callable(namer)
    return f"{namer(number)} ({code(number)})"
