"""`tls12 connect --cert/--key`: answering a server's CertificateRequest, and saying what came of it.

`ClientCertificate` is the connection's `client_credential_callback`: it notes
that the server asked, what it asked for, and whether the certificate given
fits (the core's own rule, `choose_client_credential`, decides; an unfit one
is not sent, and the core sends an empty Certificate, RFC 5246 §7.4.6). After
the handshake it prints what happened; after a refusal it turns the server's
alert into what the user can do about it.
"""

from __future__ import annotations

from typing import TextIO

from ..crypto.credentials import Credential
from ..enums import AlertDescription, SignatureScheme
from ..errors import AlertReceivedError
from ..handshake.client import choose_client_credential
from ..messages import CertificateRequest
from .identity import alt_names, key_kind

__all__ = ["ClientCertificate"]

#: ClientCertificateType (RFC 5246 §7.4.4, RFC 8422 §5.5).
_CERTIFICATE_TYPES = {1: "rsa_sign", 2: "dss_sign", 3: "rsa_fixed_dh", 4: "dss_fixed_dh", 64: "ecdsa_sign",
                      65: "rsa_fixed_ecdh", 66: "ecdsa_fixed_ecdh"}

#: The alerts a server sends when it will not go on without a client certificate: handshake_failure
#: (OpenSSL, tls12), bad_certificate (Go, Java), certificate_required (TLS 1.3's, sent by some anyway).
_NONE_REFUSED = frozenset({AlertDescription.HANDSHAKE_FAILURE, AlertDescription.BAD_CERTIFICATE,
                           AlertDescription.CERTIFICATE_REQUIRED, AlertDescription.CERTIFICATE_UNKNOWN,
                           AlertDescription.ACCESS_DENIED, AlertDescription.NO_CERTIFICATE})

#: What a server's alert says of the client certificate it was sent (RFC 5246 §7.2.2).
_SENT_REFUSED = {
    AlertDescription.UNKNOWN_CA: "it does not trust the CA that issued it ({issuer}); use a certificate from a CA "
                                 "the server trusts, or have the server trust this one",
    AlertDescription.CERTIFICATE_EXPIRED: "it has expired or is not valid yet (valid {validity} UTC)",
    AlertDescription.UNSUPPORTED_CERTIFICATE: "it is not of a kind the server takes (a certificate for client "
                                              "authentication has clientAuth in its extended key usage)",
    AlertDescription.BAD_CERTIFICATE: "the server found it invalid (a damaged or badly signed chain, or a "
                                      "signature by a key that is not the certificate's)",
    AlertDescription.CERTIFICATE_REVOKED: "it has been revoked",
    AlertDescription.CERTIFICATE_UNKNOWN: "the server could not accept it",
    AlertDescription.ACCESS_DENIED: "the server verified it but does not let its holder in",
    AlertDescription.DECRYPT_ERROR: "the signature made with the key (CertificateVerify) did not verify",
    AlertDescription.HANDSHAKE_FAILURE: "the server ended the handshake after receiving it",
}


class ClientCertificate:
    """The client certificate given with --cert/--key (or none), and the server's request for one."""

    def __init__(self, credential: Credential | None) -> None:
        self.credential = credential
        #: The server sent a CertificateRequest.
        self.requested = False
        self.authorities: tuple[bytes, ...] = ()
        self.certificate_types = b""
        self.schemes: tuple[SignatureScheme, ...] = ()
        #: What answered it (None: an empty Certificate).
        self.sent: Credential | None = None

    def __call__(self, authorities: tuple[bytes, ...], schemes: tuple[SignatureScheme, ...],
                 certificate_types: bytes) -> Credential | None:
        self.requested = True
        self.authorities, self.schemes, self.certificate_types = authorities, schemes, certificate_types
        if self.credential is not None:
            # Sent even when the server names other CAs, as openssl and curl do: the server decides.
            request = CertificateRequest(certificate_types, schemes, ())
            self.sent = self.credential if choose_client_credential((self.credential,), request) else None
        return self.sent

    def _asked(self) -> str:
        names = len(self.authorities)
        return f"the server names {names} CA{'' if names == 1 else 's'} it accepts" if names else \
            "the server names no CA: any may do"

    def _request(self) -> str:
        types = ", ".join(_CERTIFICATE_TYPES.get(t, str(t)) for t in self.certificate_types)
        schemes = ", ".join(s.name.lower() for s in self.schemes)
        return f"certificate types {types or '(none)'}; signature schemes {schemes or '(none)'}"

    def print(self, out: TextIO) -> None:
        """What `tls12 connect` says after the handshake: whether the server asked, and what was sent."""
        if not self.requested:
            lines = ["Client certificate: not asked for by the server"
                     + (" (--cert not sent)" if self.credential is not None else "")]
        elif self.sent is not None:
            leaf = self.sent.leaf
            lines = [f"Client certificate: asked for ({self._asked()}); sent {self.sent.description}:",
                     f"  subject:  {leaf.subject.rfc4514_string()}",
                     f"  issuer:   {leaf.issuer.rfc4514_string()}",
                     f"  names:    {', '.join(alt_names(leaf)) or '(none)'}",
                     f"  key:      {key_kind(leaf)}"]
        elif self.credential is not None:
            lines = [f"Client certificate: asked for ({self._asked()}); none sent: --cert is a "
                     f"{self.credential.key_type} certificate, and the server asks for {self._request()}"]
        else:
            lines = [f"Client certificate: asked for ({self._asked()}); none sent (no --cert): the server "
                     "let us in without one"]
        out.write("\n".join(lines) + "\n")
        out.flush()

    def refusal(self, exc: Exception, cert_file: str | None) -> str | None:
        """What to tell the user when the server's alert `exc` is about the client certificate (None:
        it is not)."""
        if not self.requested or not isinstance(exc, AlertReceivedError):
            return None
        alert = exc.description
        if self.sent is None:
            if alert not in _NONE_REFUSED:
                return None
            if self.credential is None:
                return (f"the server requires a client certificate ({alert.name.lower()} after none was sent): "
                        "pass --cert and --key")
            return (f"the server requires a client certificate, and --cert {cert_file} was not sent: it is a "
                    f"{self.credential.key_type} certificate, and the server asks for {self._request()}")
        why = _SENT_REFUSED.get(alert)
        if why is None:
            return None
        leaf = self.sent.leaf
        validity = f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} to {leaf.not_valid_after_utc:%Y-%m-%d %H:%M}"
        return (f"the server refused the client certificate ({alert.name.lower()}): --cert {cert_file} "
                f"({leaf.subject.rfc4514_string()}): "
                + why.format(issuer=leaf.issuer.rfc4514_string(), validity=validity))
