"""The stdlib `ssl` exceptions, as tls12 raises them in its drop-in layer.

Each class subclasses its stdlib namesake, so code written against the `ssl`
module (asyncio's `SSLAgainErrors`, urllib's `OSError` handling, a user's
`except ssl.SSLCertVerificationError`) works unchanged. `to_ssl_error()`
translates a core `TLSError`; the original stays attached as `__cause__` and
as `.tls_error`.
"""

from __future__ import annotations

import ssl
from typing import TypeVar

from ..enums import AlertDescription
from ..errors import (
    AlertReceivedError,
    CertificateError,
    CertificateExpired,
    HostnameMismatch,
    LocalProtocolError,
    SelfSignedLeaf,
    SelfSignedRoot,
    TLSError,
    TruncatedConnection,
    UnknownCA,
    UnsuitablePurpose,
    UnsupportedCertificate,
)

__all__ = [
    "SSLCertVerificationError",
    "SSLEOFError",
    "SSLError",
    "SSLWantReadError",
    "SSLWantWriteError",
    "SSLZeroReturnError",
    "alert_reason",
    "missing_client_certificate",
    "to_ssl_error",
    "want_read",
    "want_write",
]


class SSLError(ssl.SSLError):
    tls_error: TLSError | None = None


class SSLZeroReturnError(ssl.SSLZeroReturnError, SSLError):
    pass


class SSLWantReadError(ssl.SSLWantReadError, SSLError):
    pass


class SSLWantWriteError(ssl.SSLWantWriteError, SSLError):
    pass


class SSLEOFError(ssl.SSLEOFError, SSLError):
    pass


class SSLCertVerificationError(ssl.SSLCertVerificationError, SSLError):
    pass


_E = TypeVar("_E", bound=SSLError)


def _make(cls: type[_E], errno: int, reason: str, message: str) -> _E:
    exc = cls(errno, f"[SSL: {reason}] {message}")
    exc.library = "SSL"
    exc.reason = reason
    return exc


def want_read() -> SSLWantReadError:
    return _make(SSLWantReadError, ssl.SSL_ERROR_WANT_READ, "WANT_READ", "The operation did not complete (read)")


def want_write() -> SSLWantWriteError:
    return _make(SSLWantWriteError, ssl.SSL_ERROR_WANT_WRITE, "WANT_WRITE", "The operation did not complete (write)")


# OpenSSL's X509_V_ERR codes for the verification failures tls12 distinguishes.
_X509_V_ERR_CERT_NOT_YET_VALID = 9
_X509_V_ERR_CERT_HAS_EXPIRED = 10
_X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18
_X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN = 19
_X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
_X509_V_ERR_INVALID_PURPOSE = 26
_X509_V_ERR_HOSTNAME_MISMATCH = 62
_X509_V_ERR_APPLICATION_VERIFICATION = 50


def _verify_details(exc: CertificateError, server_hostname: str | None) -> tuple[int, str]:
    if isinstance(exc, HostnameMismatch):
        return _X509_V_ERR_HOSTNAME_MISMATCH, f"Hostname mismatch, certificate is not valid for '{server_hostname}'."
    if isinstance(exc, SelfSignedLeaf):
        return _X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "self-signed certificate"
    if isinstance(exc, SelfSignedRoot):
        return _X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, "self-signed certificate in certificate chain"
    if isinstance(exc, UnknownCA):
        return _X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "unable to get local issuer certificate"
    if isinstance(exc, CertificateExpired):
        if "not yet valid" in str(exc):
            return _X509_V_ERR_CERT_NOT_YET_VALID, "certificate is not yet valid"
        return _X509_V_ERR_CERT_HAS_EXPIRED, "certificate has expired"
    if isinstance(exc, UnsuitablePurpose):
        return _X509_V_ERR_INVALID_PURPOSE, "unsuitable certificate purpose"
    if isinstance(exc, UnsupportedCertificate):
        return _X509_V_ERR_APPLICATION_VERIFICATION, "unsupported certificate key"
    return _X509_V_ERR_APPLICATION_VERIFICATION, str(exc).removeprefix("certificate verify failed: ") or "rejected"


#: OpenSSL's reason for each alert received (SSL_R_*_ALERT_*, the names the ssl module reports): the
#: alerts SSL 3.0 defined are SSLV3_ALERT_*, TLS 1.0's TLSV1_ALERT_*, RFC 6066's TLSV1_* and TLS 1.3's
#: TLSV13_ALERT_*.
_ALERT_REASONS = {
    10: "SSLV3_ALERT_UNEXPECTED_MESSAGE",
    20: "SSLV3_ALERT_BAD_RECORD_MAC",
    21: "TLSV1_ALERT_DECRYPTION_FAILED",
    22: "TLSV1_ALERT_RECORD_OVERFLOW",
    30: "SSLV3_ALERT_DECOMPRESSION_FAILURE",
    40: "SSLV3_ALERT_HANDSHAKE_FAILURE",
    41: "SSLV3_ALERT_NO_CERTIFICATE",
    42: "SSLV3_ALERT_BAD_CERTIFICATE",
    43: "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
    44: "SSLV3_ALERT_CERTIFICATE_REVOKED",
    45: "SSLV3_ALERT_CERTIFICATE_EXPIRED",
    46: "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    47: "SSLV3_ALERT_ILLEGAL_PARAMETER",
    48: "TLSV1_ALERT_UNKNOWN_CA",
    49: "TLSV1_ALERT_ACCESS_DENIED",
    50: "TLSV1_ALERT_DECODE_ERROR",
    51: "TLSV1_ALERT_DECRYPT_ERROR",
    60: "TLSV1_ALERT_EXPORT_RESTRICTION",
    70: "TLSV1_ALERT_PROTOCOL_VERSION",
    71: "TLSV1_ALERT_INSUFFICIENT_SECURITY",
    80: "TLSV1_ALERT_INTERNAL_ERROR",
    86: "TLSV1_ALERT_INAPPROPRIATE_FALLBACK",
    90: "TLSV1_ALERT_USER_CANCELLED",
    100: "TLSV1_ALERT_NO_RENEGOTIATION",
    109: "TLSV13_ALERT_MISSING_EXTENSION",
    110: "TLSV1_UNSUPPORTED_EXTENSION",
    111: "TLSV1_CERTIFICATE_UNOBTAINABLE",
    112: "TLSV1_UNRECOGNIZED_NAME",
    113: "TLSV1_BAD_CERTIFICATE_STATUS_RESPONSE",
    114: "TLSV1_BAD_CERTIFICATE_HASH_VALUE",
    115: "TLSV1_ALERT_UNKNOWN_PSK_IDENTITY",
    116: "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    120: "TLSV1_ALERT_NO_APPLICATION_PROTOCOL",
}


def alert_reason(description: AlertDescription) -> str:
    """The `reason` of the SSLError the ssl module raises when the peer sends this alert (an alert
    OpenSSL has no name for keeps the IANA one)."""
    return _ALERT_REASONS.get(int(description), description.name)


def missing_client_certificate(exc: TLSError) -> SSLError:
    """What the ssl module raises on a server that requires a client certificate and got none."""
    result = _make(SSLError, 1, "PEER_DID_NOT_RETURN_A_CERTIFICATE", f"peer did not return a certificate ({exc})")
    result.tls_error = exc
    result.__cause__ = exc
    return result


def to_ssl_error(exc: TLSError, server_hostname: str | None = None) -> SSLError:
    """The stdlib-shaped exception for a core failure."""
    result: SSLError
    if isinstance(exc, CertificateError):
        code, message = _verify_details(exc, server_hostname)
        cert_error = _make(SSLCertVerificationError, 1, "CERTIFICATE_VERIFY_FAILED",
                           f"certificate verify failed: {message}")
        cert_error.verify_code = code
        cert_error.verify_message = message
        result = cert_error
    elif isinstance(exc, TruncatedConnection):
        result = _make(SSLEOFError, ssl.SSL_ERROR_EOF, "UNEXPECTED_EOF_WHILE_READING",
                       f"EOF occurred in violation of protocol ({exc})")
    elif isinstance(exc, AlertReceivedError):
        # OpenSSL's reason string is its name in lower case: "tlsv1 alert unknown ca".
        reason = alert_reason(exc.description)
        result = _make(SSLError, 1, reason, f"{reason.lower().replace('_', ' ')} ({exc})")
    elif isinstance(exc, LocalProtocolError):
        result = _make(SSLError, 1, "BAD_STATE", str(exc))
    else:
        alert = exc.alert
        name = alert.name if alert is not None else "INTERNAL_ERROR"
        result = _make(SSLError, 1, name, str(exc))
    result.tls_error = exc
    result.__cause__ = exc
    return result
