"""How the commands name who holds a certificate: its subject's common name, its subjectAltName
entries and its kind of key, for `tls12 serve`'s log and page (the client) and `tls12 connect`.

What comes from a certificate is the peer's text: the log escapes it (`printable()`), the page
HTML-escapes it.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..crypto.credentials import key_type_of

__all__ = ["alt_names", "describe_certificate", "identity", "is_for_client_auth", "key_kind"]


def alt_names(cert: x509.Certificate) -> list[str]:
    """The subjectAltName entries, as OpenSSL prints them: ``DNS:name``, ``IP:addr``, ``email:addr``,
    ``URI:uri`` (other kinds are left out)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [
        *(f"DNS:{v}" for v in san.get_values_for_type(x509.DNSName)),
        *(f"IP:{v}" for v in san.get_values_for_type(x509.IPAddress)),
        *(f"email:{v}" for v in san.get_values_for_type(x509.RFC822Name)),
        *(f"URI:{v}" for v in san.get_values_for_type(x509.UniformResourceIdentifier)),
    ]


def identity(cert: x509.Certificate) -> str:
    """Who the certificate names: the subject's common name (the whole subject when it has none),
    then its subjectAltName entries, e.g. ``alice (DNS:alice.example, email:alice@example.com)``."""
    common = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    who = common[0] if common else (cert.subject.rfc4514_string() or "(empty subject)")
    names = alt_names(cert)
    return f"{who} ({', '.join(names)})" if names else who


def key_kind(cert: x509.Certificate) -> str:
    """The kind of key the certificate holds (``rsa``, ``ecdsa-p256``, ``ed25519``, ...)."""
    try:
        return str(key_type_of(cert))
    except ValueError as exc:
        return f"? ({exc})"


def is_for_client_auth(cert: x509.Certificate) -> bool:
    """Whether the certificate's extended key usage allows client authentication (absent: any use)."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    except ValueError:
        return False
    return ExtendedKeyUsageOID.CLIENT_AUTH in usage or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usage


def describe_certificate(cert: x509.Certificate) -> list[str]:
    """The lines `tls12 connect` prints of a certificate: subject, issuer, validity, names."""
    lines = [
        f"  subject:  {cert.subject.rfc4514_string()}",
        f"  issuer:   {cert.issuer.rfc4514_string()}",
        f"  validity: {cert.not_valid_before_utc:%Y-%m-%d %H:%M} to {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
    ]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(v) for v in san.get_values_for_type(x509.DNSName)]
        names += [str(v) for v in san.get_values_for_type(x509.IPAddress)]
        lines.append(f"  names:    {', '.join(names)}")
    except x509.ExtensionNotFound:
        pass
    return lines
