"""Every way a connection can fail, and the one table that maps failures to alerts.

Code below `connection` raises these and never sends alerts itself. The
connection is the single choke point: it looks the alert up in `ALERTS`
(nearest class in the exception's MRO wins), queues it, marks the connection
failed for good, and re-raises. Messages are for the local caller only; no
exception text ever goes to the peer.
"""

from __future__ import annotations

from .enums import AlertDescription

__all__ = [
    "ALERTS",
    "AlertReceivedError",
    "ApplicationAlert",
    "BadCertificate",
    "BadRecordMac",
    "CertificateError",
    "CertificateExpired",
    "DecodeError",
    "DecryptError",
    "HandshakeFailure",
    "HostnameMismatch",
    "IllegalParameter",
    "InsufficientSecurity",
    "InternalError",
    "LocalProtocolError",
    "NoApplicationProtocol",
    "ProtocolVersionError",
    "RecordOverflow",
    "NoClientCertificate",
    "SelfSignedLeaf",
    "SelfSignedRoot",
    "SequenceExhausted",
    "TLSError",
    "TruncatedConnection",
    "UnexpectedMessage",
    "UnknownCA",
    "UnsuitablePurpose",
    "UnsupportedCertificate",
    "UnsupportedExtension",
    "alert_for",
]


class TLSError(Exception):
    """Base of every error tls12 raises."""

    @property
    def alert(self) -> AlertDescription | None:
        """The alert this failure sends to the peer (None: nothing is sent)."""
        return alert_for(self)


class LocalProtocolError(TLSError):
    """The caller used the API in a way the connection's state does not allow.

    Nothing is sent to the peer and the connection is not failed."""


class TruncatedConnection(TLSError):
    """The transport ended without a close_notify: the data may be cut short."""


class AlertReceivedError(TLSError):
    """The peer sent a fatal alert (or an unexpected warning) and the connection is over."""

    def __init__(self, description: AlertDescription, level: int = 2) -> None:
        self.description = description
        self.level = level
        super().__init__(f"peer sent {'fatal' if level == 2 else 'warning'} alert {description.name.lower()}")


class DecodeError(TLSError):
    """A message or record could not be parsed."""


class UnexpectedMessage(TLSError):
    """A message or record arrived that the current state does not allow."""


class IllegalParameter(TLSError):
    """A field was well-formed but its value is not acceptable."""


class InsufficientSecurity(TLSError):
    """The peer offered parameters weaker than tls12 accepts (e.g. a DH prime under 2048 bits)."""


class HandshakeFailure(TLSError):
    """No acceptable set of security parameters could be agreed."""


class ProtocolVersionError(TLSError):
    """The peer's protocol version is not TLS 1.2."""


class BadRecordMac(TLSError):
    """A record failed authentication (or was too short to be one)."""


class RecordOverflow(TLSError):
    """A record was longer than RFC 5246 §6.2 allows."""


class DecryptError(TLSError):
    """A signature or Finished value did not verify."""


class UnsupportedExtension(TLSError):
    """The server answered with an extension the client never offered."""


class NoApplicationProtocol(TLSError):
    """The peers share no ALPN protocol."""


class InternalError(TLSError):
    """A failure inside tls12 that is not the peer's fault."""


class SequenceExhausted(InternalError):
    """2^64 records went one way under one key; TLS 1.2 would need a renegotiation."""


class ApplicationAlert(TLSError):
    """The application (e.g. an SNI callback) ended the handshake with an alert of its choosing.

    The one failure whose alert is not in `ALERTS`: the application named it."""

    def __init__(self, description: int, message: str = "") -> None:
        if not isinstance(description, int) or not 0 <= description <= 255:
            raise ValueError(f"an alert description is an int from 0 to 255, not {description!r}")
        self.description = AlertDescription(description)
        super().__init__(message or f"the application ended the handshake with {self.description.name.lower()}")

    @property
    def alert(self) -> AlertDescription | None:
        return self.description


class CertificateError(TLSError):
    """The peer's certificate chain was not accepted."""


class BadCertificate(CertificateError):
    """The certificate is corrupt or does not satisfy the verification policy."""


class HostnameMismatch(BadCertificate):
    """The certificate is not valid for the name the client asked for."""


class UnknownCA(CertificateError):
    """No chain from the certificate to a trust anchor was found."""


class SelfSignedLeaf(UnknownCA):
    """The certificate is self-signed and not trusted (OpenSSL's X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT)."""


class SelfSignedRoot(UnknownCA):
    """The chain ends at a self-signed root that is not trusted (X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN)."""


class CertificateExpired(CertificateError):
    """A certificate in the chain is outside its validity period."""


class UnsupportedCertificate(CertificateError):
    """The certificate's key cannot be used with the negotiated suite."""


class NoClientCertificate(HandshakeFailure):
    """A server requires a client certificate and the client sent an empty Certificate (RFC 5246
    §7.4.6: handshake_failure). OpenSSL tells this one apart (PEER_DID_NOT_RETURN_A_CERTIFICATE)."""


class UnsuitablePurpose(UnsupportedCertificate):
    """The leaf's extended key usage does not allow what it is used for (RFC 5280 §4.2.1.12): a
    client certificate without clientAuth. OpenSSL tells this one apart (X509_V_ERR_INVALID_PURPOSE)."""


# THE table. Anything not listed (and not a subclass of something listed)
# sends internal_error.
ALERTS: dict[type[TLSError], AlertDescription | None] = {
    LocalProtocolError: None,
    TruncatedConnection: None,
    AlertReceivedError: None,
    DecodeError: AlertDescription.DECODE_ERROR,
    UnexpectedMessage: AlertDescription.UNEXPECTED_MESSAGE,
    IllegalParameter: AlertDescription.ILLEGAL_PARAMETER,
    HandshakeFailure: AlertDescription.HANDSHAKE_FAILURE,
    InsufficientSecurity: AlertDescription.INSUFFICIENT_SECURITY,
    ProtocolVersionError: AlertDescription.PROTOCOL_VERSION,
    BadRecordMac: AlertDescription.BAD_RECORD_MAC,
    RecordOverflow: AlertDescription.RECORD_OVERFLOW,
    DecryptError: AlertDescription.DECRYPT_ERROR,
    UnsupportedExtension: AlertDescription.UNSUPPORTED_EXTENSION,
    NoApplicationProtocol: AlertDescription.NO_APPLICATION_PROTOCOL,
    InternalError: AlertDescription.INTERNAL_ERROR,
    CertificateError: AlertDescription.BAD_CERTIFICATE,
    UnknownCA: AlertDescription.UNKNOWN_CA,
    CertificateExpired: AlertDescription.CERTIFICATE_EXPIRED,
    UnsupportedCertificate: AlertDescription.UNSUPPORTED_CERTIFICATE,
}


def alert_for(exc: BaseException) -> AlertDescription | None:
    """The alert a failure sends: the nearest entry in `ALERTS` along the MRO."""
    for cls in type(exc).__mro__:
        if cls in ALERTS:
            return ALERTS[cls]
    return AlertDescription.INTERNAL_ERROR
