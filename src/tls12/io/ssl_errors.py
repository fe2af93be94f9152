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

from ..errors import (
    AlertReceivedError,
    CertificateError,
    CertificateExpired,
    HostnameMismatch,
    LocalProtocolError,
    TLSError,
    TruncatedConnection,
    UnknownCA,
    UnsupportedCertificate,
)

__all__ = [
    "SSLCertVerificationError",
    "SSLEOFError",
    "SSLError",
    "SSLWantReadError",
    "SSLWantWriteError",
    "SSLZeroReturnError",
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
_X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
_X509_V_ERR_HOSTNAME_MISMATCH = 62
_X509_V_ERR_APPLICATION_VERIFICATION = 50


def _verify_details(exc: CertificateError, server_hostname: str | None) -> tuple[int, str]:
    if isinstance(exc, HostnameMismatch):
        return _X509_V_ERR_HOSTNAME_MISMATCH, f"Hostname mismatch, certificate is not valid for '{server_hostname}'."
    if isinstance(exc, UnknownCA):
        return _X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "unable to get local issuer certificate"
    if isinstance(exc, CertificateExpired):
        if "not yet valid" in str(exc):
            return _X509_V_ERR_CERT_NOT_YET_VALID, "certificate is not yet valid"
        return _X509_V_ERR_CERT_HAS_EXPIRED, "certificate has expired"
    if isinstance(exc, UnsupportedCertificate):
        return _X509_V_ERR_APPLICATION_VERIFICATION, "unsupported certificate key"
    return _X509_V_ERR_APPLICATION_VERIFICATION, str(exc).removeprefix("certificate verify failed: ") or "rejected"


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
        name = exc.description.name
        result = _make(SSLError, 1, name, f"peer sent alert {name.lower()} ({exc})")
    elif isinstance(exc, LocalProtocolError):
        result = _make(SSLError, 1, "BAD_STATE", str(exc))
    else:
        alert = exc.alert
        name = alert.name if alert is not None else "INTERNAL_ERROR"
        result = _make(SSLError, 1, name, str(exc))
    result.tls_error = exc
    result.__cause__ = exc
    return result
