"""Certificate chains: parsing, trust stores and server verification.

Path building, validity periods, the Web PKI profile and host-name matching
all come from `cryptography.x509.verification`. This module only chooses the
trust anchors, names the subject, and turns the verifier's verdict into the
right alert: unknown_ca when no path reaches an anchor, certificate_expired
when a certificate is outside its validity period, bad_certificate (as
`HostnameMismatch`) when the name does not match, bad_certificate otherwise.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import ssl
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.verification import PolicyBuilder, ServerVerifier, Store, VerificationError

from ..errors import BadCertificate, CertificateExpired, HostnameMismatch, UnknownCA, UnsupportedCertificate

__all__ = [
    "MIN_RSA_BITS",
    "TrustStore",
    "check_key_sizes",
    "load_pem_file",
    "parse_chain",
    "rsa_public_key",
    "system_trust_anchors",
    "verify_server_chain",
]


def load_pem_certificates(data: bytes) -> list[x509.Certificate]:
    return list(x509.load_pem_x509_certificates(data))


def load_pem_file(path: str | os.PathLike[str]) -> list[x509.Certificate]:
    with open(path, "rb") as f:
        return load_pem_certificates(f.read())


@lru_cache(maxsize=1)
def system_trust_anchors() -> tuple[x509.Certificate, ...]:
    """The platform's CA bundle, found the way OpenSSL finds it (SSL_CERT_FILE, SSL_CERT_DIR)."""
    paths = ssl.get_default_verify_paths()
    anchors: list[x509.Certificate] = []
    if paths.cafile and os.path.isfile(paths.cafile):
        anchors.extend(_load_lenient(paths.cafile))
    elif paths.capath and os.path.isdir(paths.capath):
        for entry in sorted(os.listdir(paths.capath)):
            full = os.path.join(paths.capath, entry)
            if os.path.isfile(full):
                anchors.extend(_load_lenient(full))
    return tuple(anchors)


def _load_lenient(path: str) -> Iterable[x509.Certificate]:
    """Certificates from a PEM bundle, skipping any one that does not parse."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    marker = b"-----BEGIN CERTIFICATE-----"
    out = []
    with warnings.catch_warnings():
        # Some platform roots have quirks (e.g. a non-positive serial) that
        # cryptography warns about; they are the platform's choice, not ours.
        warnings.simplefilter("ignore")
        for chunk in data.split(marker)[1:]:
            try:
                out.append(x509.load_pem_x509_certificate(marker + chunk))
            except ValueError:
                continue
    return out


class TrustStore:
    """A set of trust anchors, built once per configuration, with its verifiers.

    A verifier is bound to a subject and a time; building one costs about as
    much as a verification, so the last few are kept, per name and second."""

    __slots__ = ("_verifiers", "anchors", "store")

    _MAX_VERIFIERS = 64

    def __init__(self, anchors: Sequence[x509.Certificate]) -> None:
        self.anchors = tuple(anchors)
        self.store = Store(list(self.anchors)) if self.anchors else None
        self._verifiers: dict[tuple[str, int], ServerVerifier] = {}

    def verifier(self, name: str, subject: DNSName | IPAddress, now: datetime.datetime) -> ServerVerifier:
        assert self.store is not None
        key = (name, int(now.timestamp()))
        verifier = self._verifiers.get(key)
        if verifier is None:
            if len(self._verifiers) >= self._MAX_VERIFIERS:
                self._verifiers.clear()
            verifier = PolicyBuilder().store(self.store).time(now).build_server_verifier(subject)
            self._verifiers[key] = verifier
        return verifier


@lru_cache(maxsize=256)
def _load_der(der: bytes) -> x509.Certificate:
    # Certificates are immutable: a server's chain, seen again, is not parsed again.
    return x509.load_der_x509_certificate(der)


def parse_chain(certificate_list: Sequence[bytes]) -> list[x509.Certificate]:
    chain = []
    for der in certificate_list:
        try:
            chain.append(_load_der(der))
        except (ValueError, x509.InvalidVersion):
            raise BadCertificate("certificate is not valid DER X.509") from None
    return chain


@contextmanager
def _certificate_errors() -> Iterator[None]:
    """cryptography decodes a certificate lazily: its key, names and extensions may fail to
    decode only when used. Such a certificate is unsupported (unknown algorithm) or bad."""
    try:
        yield
    except UnsupportedAlgorithm as exc:
        raise UnsupportedCertificate(f"certificate uses an unsupported algorithm ({exc})") from None
    except (ValueError, x509.InvalidVersion) as exc:
        raise BadCertificate(f"certificate cannot be decoded ({exc})") from None


#: The smallest RSA key accepted anywhere in a chain, and for our own certificate
#: (OpenSSL's default security level 2 draws the line at the same place).
MIN_RSA_BITS = 2048


def check_key_sizes(chain: Sequence[x509.Certificate]) -> None:
    with _certificate_errors():
        _check_key_sizes(chain)


def _check_key_sizes(chain: Sequence[x509.Certificate]) -> None:
    for cert in chain:
        key = cert.public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
            raise BadCertificate(f"certificate key too small: RSA {key.key_size} bits "
                                 f"({cert.subject.rfc4514_string()}); at least {MIN_RSA_BITS} are required")


@lru_cache(maxsize=256)
def rsa_public_key(cert: x509.Certificate) -> rsa.RSAPublicKey:
    """The leaf's RSA key, refusing keys that cannot sign for an ECDHE_RSA suite."""
    with _certificate_errors():
        return _rsa_public_key(cert)


def _rsa_public_key(cert: x509.Certificate) -> rsa.RSAPublicKey:
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise UnsupportedCertificate("ECDHE_RSA needs an RSA server certificate")
    check_key_sizes([cert])
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return key
    if not usage.digital_signature:
        raise BadCertificate("certificate key usage does not allow digitalSignature")
    return key


@lru_cache(maxsize=256)
def _subject(name: str) -> DNSName | IPAddress:
    try:
        return IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return DNSName(name)


def _any_subject(leaf: x509.Certificate) -> DNSName | IPAddress:
    """A name the leaf claims, for verification without a host-name check."""
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise BadCertificate("leaf certificate has no subjectAltName") from None
    for dns in san.get_values_for_type(x509.DNSName):
        try:
            return DNSName(dns)
        except ValueError:
            continue
    for ip in san.get_values_for_type(x509.IPAddress):
        return IPAddress(ip)
    raise BadCertificate("leaf certificate has no DNS or IP subjectAltName")


def verify_server_chain(
    trust: TrustStore,
    chain: Sequence[x509.Certificate],
    server_name: str | None,
    now: datetime.datetime,
) -> list[x509.Certificate]:
    """Verify `chain` (leaf first) for `server_name` (None: no host-name check).

    Returns the path that was built, leaf first, ending with the trust anchor."""
    with _certificate_errors():
        return _verify_server_chain(trust, chain, server_name, now)


def _verify_server_chain(
    trust: TrustStore,
    chain: Sequence[x509.Certificate],
    server_name: str | None,
    now: datetime.datetime,
) -> list[x509.Certificate]:
    if trust.store is None:
        raise UnknownCA("no trust anchors are configured")
    check_key_sizes(chain)
    leaf, intermediates = chain[0], list(chain[1:])
    if server_name is not None:
        verifier = trust.verifier(server_name, _subject(server_name), now)
    else:
        subject = _any_subject(leaf)
        verifier = trust.verifier(f"\0any:{subject.value}", subject, now)
    try:
        return list(verifier.verify(leaf, intermediates))
    except VerificationError as exc:
        error = _classify(str(exc), server_name)
        if isinstance(error, CertificateExpired):
            error = _which_expired(chain, now) or error
        raise error from None


def _which_expired(chain: Sequence[x509.Certificate], now: datetime.datetime) -> CertificateExpired | None:
    for cert in chain:
        subject = cert.subject.rfc4514_string()
        if now < cert.not_valid_before_utc:
            return CertificateExpired(
                f"certificate verify failed: certificate is not yet valid ({subject}, valid from "
                f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S} UTC)")
        if now > cert.not_valid_after_utc:
            return CertificateExpired(
                f"certificate verify failed: certificate has expired ({subject}, expired "
                f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC)")
    return None


def _classify(message: str, server_name: str | None) -> BadCertificate | UnknownCA | CertificateExpired:
    text = message.removeprefix("validation failed: ")
    # cryptography appends the certificate's repr; the subject is all a reader needs.
    text = re.sub(r" \(encountered processing <Certificate\(subject=<Name\((.*?)\)>.*\)$", r" (\1)", text)
    if "not valid at validation time" in text:
        return CertificateExpired(f"certificate verify failed: {text}")
    if "no matching subjectAltName" in text:
        return HostnameMismatch(
            f"certificate verify failed: Hostname mismatch, certificate is not valid for '{server_name}' ({text})")
    if text.startswith("candidates exhausted"):
        detail = text.removeprefix("candidates exhausted: ")
        if detail.startswith("all candidates exhausted with no interior errors"):
            # Nothing else went wrong: no issuer of the chain is among the trust anchors.
            return UnknownCA("certificate verify failed: unable to get local issuer certificate "
                             "(no trusted root issued this chain)")
        return UnknownCA(f"certificate verify failed: unable to get local issuer certificate ({detail})")
    return BadCertificate(f"certificate verify failed: {text}")
