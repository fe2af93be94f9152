"""Certificate chains: parsing, trust stores and server verification.

Path building, validity periods, the Web PKI profile and host-name matching
all come from `cryptography.x509.verification`. This module only chooses the
trust anchors, names the subject, and turns the verifier's verdict into the
right alert: unknown_ca when no path reaches an anchor, certificate_expired
when a certificate is outside its validity period, bad_certificate (as
`HostnameMismatch`) when the name does not match, bad_certificate otherwise.

What counts as an anchor follows OpenSSL. cryptography's verifier ends a path
at any certificate of its store; OpenSSL, unless partial chains are allowed
(`X509_V_FLAG_PARTIAL_CHAIN`), ends it only at a self-signed trusted root and
uses other trusted certificates as intermediates. `TrustStore` does the same
when `partial_chain` is off. A server certificate that is itself trusted is
accepted as OpenSSL accepts it, even when it says CA:TRUE (as `openssl req
-x509` makes it): trusting that exact certificate overrides the profile's
rule that a server certificate is not a CA.

Trust stores are loaded leniently: a certificate that cannot be parsed or used is
skipped and the reason logged (logger "tls12"); one that cryptography merely
warns about (serial number 0, as in some platform roots) is loaded without
the warning reaching the program.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import logging
import os
import re
import ssl
import warnings
from collections.abc import Iterator, Sequence
from contextlib import suppress
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    ServerVerifier,
    Store,
    VerificationError,
)

from ..errors import (
    BadCertificate,
    CertificateExpired,
    HostnameMismatch,
    SelfSignedLeaf,
    SelfSignedRoot,
    UnknownCA,
    UnsuitablePurpose,
    UnsupportedCertificate,
)
from .signatures import PublicKey, is_rsa_pss_certificate
from .suites import Authentication

__all__ = [
    "MIN_RSA_BITS",
    "TrustStore",
    "check_key_sizes",
    "load_anchor_der",
    "load_pem_file",
    "load_trust_file",
    "load_trust_pem",
    "parse_chain",
    "path_der",
    "serial_number",
    "server_public_key",
    "system_trust_anchors",
    "verify_client_chain",
    "verify_server_chain",
]


def load_pem_certificates(data: bytes) -> list[x509.Certificate]:
    return list(x509.load_pem_x509_certificates(data))


def load_pem_file(path: str | os.PathLike[str]) -> list[x509.Certificate]:
    with open(path, "rb") as f:
        return load_pem_certificates(f.read())


logger = logging.getLogger("tls12")


@lru_cache(maxsize=1)
def system_trust_anchors() -> tuple[x509.Certificate, ...]:
    """The platform's CA bundle, found the way OpenSSL finds it (SSL_CERT_FILE, SSL_CERT_DIR)."""
    paths = ssl.get_default_verify_paths()
    anchors: list[x509.Certificate] = []
    if paths.cafile and os.path.isfile(paths.cafile):
        anchors.extend(load_trust_file(paths.cafile, missing_ok=True))
    elif paths.capath and os.path.isdir(paths.capath):
        for entry in sorted(os.listdir(paths.capath)):
            full = os.path.join(paths.capath, entry)
            if os.path.isfile(full):
                anchors.extend(load_trust_file(full, missing_ok=True))
    return tuple(anchors)


def load_trust_file(path: str | os.PathLike[str], *, missing_ok: bool = False) -> list[x509.Certificate]:
    """The certificates of a PEM bundle on disk, for a trust store (see `load_trust_pem`)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        if missing_ok:
            return []
        raise
    return load_trust_pem(data, os.fspath(path))


def load_trust_pem(data: bytes, source: str) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle that parses; each one that does not is skipped with a
    logged reason (logger "tls12") instead of failing the whole bundle. Parsed once per
    distinct bundle."""
    certs, problems = _parse_trust_bundle(data)
    for problem in problems:
        logger.warning("%s: skipped a certificate that cannot be used as a trust anchor: %s", source, problem)
    return list(certs)


_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)


@lru_cache(maxsize=16)
def _parse_trust_bundle(data: bytes) -> tuple[tuple[x509.Certificate, ...], tuple[str, ...]]:
    # A program may load the same bundle for every connection (urllib3 does): parse it once.
    certs: list[x509.Certificate] = []
    problems: list[str] = []
    for number, match in enumerate(_PEM_CERTIFICATE.finditer(data), 1):
        try:
            der = base64.b64decode(b"".join(match.group(1).split()), validate=True)
        except (binascii.Error, ValueError):
            problems.append(f"certificate #{number} is not valid base64")
            continue
        try:
            certs.append(load_anchor_der(der))
        except (ValueError, x509.InvalidVersion) as exc:
            problems.append(f"certificate #{number} cannot be parsed ({exc})")
    return tuple(certs), tuple(problems)


@lru_cache(maxsize=1024)
def load_anchor_der(der: bytes) -> x509.Certificate:
    """A DER certificate for a trust store. RFC 5280 wants a positive serial number; platform
    stores hold roots with serial 0 (Debian's Starfield roots), which OpenSSL and cryptography's
    verifier accept: cryptography's warning about them is kept from the program. A negative
    serial number the verifier refuses outright: such a certificate is refused here (ValueError)."""
    serial = _der_serial(der)
    if serial is not None and serial < 0:
        raise ValueError("negative serial number (RFC 5280 §4.1.2.2); the verifier cannot use it")
    return _load_der_quietly(der, serial)


def _load_der_quietly(der: bytes, serial: int | None) -> x509.Certificate:
    if serial is None or serial > 0:
        return x509.load_der_x509_certificate(der)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        cert = x509.load_der_x509_certificate(der)
        # Decoding the extensions reads the serial number again (and warns again); the
        # certificate keeps them once decoded, so decode them here. Extensions that do not
        # decode fail later, where they are used, as for any certificate.
        with suppress(Exception):
            cert.extensions  # noqa: B018
        return cert


def serial_number(cert: x509.Certificate) -> int:
    """The certificate's serial number, read without cryptography's warning for a non-positive one."""
    serial = _der_serial(cert.public_bytes(serialization.Encoding.DER))
    return cert.serial_number if serial is None else serial


def _der_header(der: bytes, pos: int) -> tuple[int, int]:
    """(where the content starts, its length) of the DER element at `pos`."""
    first = der[pos + 1]
    if first < 0x80:
        return pos + 2, first
    size = first & 0x7F
    return pos + 2 + size, int.from_bytes(der[pos + 2 : pos + 2 + size], "big")


def _der_serial(der: bytes) -> int | None:
    """The serialNumber INTEGER of a DER certificate (RFC 5280 §4.1), or None if it is not where
    a certificate has it (cryptography will then say what is wrong)."""
    try:
        pos, _ = _der_header(der, 0)  # Certificate ::= SEQUENCE
        pos, _ = _der_header(der, pos)  # tbsCertificate ::= SEQUENCE
        if der[pos] == 0xA0:  # [0] EXPLICIT version
            start, length = _der_header(der, pos)
            pos = start + length
        if der[pos] != 0x02:
            return None
        start, length = _der_header(der, pos)
        if length == 0 or start + length > len(der):
            return None
        return int.from_bytes(der[start : start + length], "big", signed=True)
    except IndexError:
        return None


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _self_issued(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer


#: For a server certificate that is itself trusted: the Web PKI rules, except that it may be a CA
#: (basicConstraints CA:TRUE, keyUsage keyCertSign) and, being self-signed, need not name an
#: issuer key (authorityKeyIdentifier). Its key must still do its job (`server_public_key`).
_TRUSTED_LEAF_POLICY = (
    ExtensionPolicy.webpki_defaults_ee()
    .may_be_present(x509.BasicConstraints, Criticality.AGNOSTIC, None)
    .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, None)
    .may_be_present(x509.AuthorityKeyIdentifier, Criticality.AGNOSTIC, None)
)


class TrustStore:
    """A set of trust anchors, built once per configuration, with its verifiers.

    `anchors` are the trusted certificates, once each (by DER). With `partial_chain`, every one
    of them may end a path (OpenSSL's X509_V_FLAG_PARTIAL_CHAIN); without it only the
    self-signed ones do, and the others serve as intermediates.

    A verifier is bound to a subject and a time; building one costs about as
    much as a verification, so the last few are kept, per name and second. A verifier is
    deterministic, so the paths it built are kept with it (`path`)."""

    __slots__ = ("_der_by_id", "_ders", "_paths", "_verifiers", "anchors", "intermediates", "partial_chain", "store")

    _MAX_VERIFIERS = 64
    _MAX_PATHS = 64

    def __init__(self, anchors: Sequence[x509.Certificate], *, partial_chain: bool = True) -> None:
        unique: dict[bytes, x509.Certificate] = {}
        for cert in anchors:
            unique.setdefault(_der(cert), cert)
        self.anchors = tuple(unique.values())
        self._ders = frozenset(unique)
        self.partial_chain = partial_chain
        self.intermediates: tuple[x509.Certificate, ...]
        if partial_chain:
            roots, self.intermediates = self.anchors, ()
        else:
            roots = tuple(c for c in self.anchors if _self_issued(c))
            self.intermediates = tuple(c for c in self.anchors if not _self_issued(c))
        self.store = Store(list(roots)) if roots else None
        self._verifiers: dict[tuple[str, int, bool], ServerVerifier] = {}
        self._paths: dict[tuple[ServerVerifier, tuple[bytes, ...]], tuple[x509.Certificate, ...]] = {}
        # The anchors' DER by object: a path the verifier builds ends with the store's own object.
        self._der_by_id = {id(cert): der for der, cert in unique.items()}

    def trusts(self, cert: x509.Certificate, der: bytes | None = None) -> bool:
        """Is this exact certificate in the store? (`der`: its DER, when it is at hand.)"""
        return (_der(cert) if der is None else der) in self._ders

    def der(self, cert: x509.Certificate) -> bytes:
        """A certificate's DER: an anchor's as it was loaded, any other's encoded (about 3 µs)."""
        der = self._der_by_id.get(id(cert))
        return _der(cert) if der is None else der

    def digest(self) -> bytes:
        """SHA-256 over the anchors (their DER, in a fixed order) and `partial_chain`: equal for two
        stores that trust the same paths."""
        h = hashes.Hash(hashes.SHA256())
        h.update(b"\x01" if self.partial_chain else b"\x00")
        for der in sorted(self._ders):
            h.update(len(der).to_bytes(4, "big"))
            h.update(der)
        return h.finalize()

    def verifier(
        self, name: str, subject: DNSName | IPAddress, now: datetime.datetime, trusted_leaf: bool = False
    ) -> ServerVerifier:
        assert self.store is not None
        key = (name, int(now.timestamp()), trusted_leaf)
        verifier = self._verifiers.get(key)
        if verifier is None:
            if len(self._verifiers) >= self._MAX_VERIFIERS:
                self._verifiers.clear()
                self._paths.clear()
            builder = PolicyBuilder().store(self.store).time(now)
            if trusted_leaf:
                builder = builder.extension_policies(
                    ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=_TRUSTED_LEAF_POLICY)
            verifier = builder.build_server_verifier(subject)
            self._verifiers[key] = verifier
        return verifier

    def path(self, verifier: ServerVerifier, chain: Sequence[x509.Certificate],
             chain_der: tuple[bytes, ...] | None) -> list[x509.Certificate]:
        """The path `verifier` builds for `chain` (leaf first; the store's intermediates join it).

        A verifier holds its name, time and store, and verifies the same chain the same way every
        time: the path it built for a chain given with its DER (`chain_der`) is kept while the
        verifier is (within the second it was built for) and given again without verifying again.
        That is exactly the answer verifying again would give, with nothing else to go stale: no
        revocation is checked. A client that connects to the same server many times a second
        saves the verification: 37 µs down to 3 µs for a leaf and its root, and 65-70 µs of a
        whole handshake in bench.py. A chain that fails is verified again, and fails again, every time."""
        key = None if chain_der is None else (verifier, chain_der)
        path = None if key is None else self._paths.get(key)
        if path is None:
            path = tuple(verifier.verify(chain[0], [*chain[1:], *self.intermediates]))
            if key is not None:
                if len(self._paths) >= self._MAX_PATHS:
                    self._paths.clear()
                self._paths[key] = path
        return list(path)


@lru_cache(maxsize=256)
def _load_der(der: bytes) -> x509.Certificate:
    # Certificates are immutable: a server's chain, seen again, is not parsed again. One with a
    # serial number that is not positive is loaded without cryptography's warning reaching the
    # program; the verifier judges it (it refuses a negative one).
    return _load_der_quietly(der, _der_serial(der))


def parse_chain(certificate_list: Sequence[bytes]) -> list[x509.Certificate]:
    chain = []
    for der in certificate_list:
        try:
            chain.append(_load_der(der))
        except (ValueError, x509.InvalidVersion):
            raise BadCertificate("certificate is not valid DER X.509") from None
    return chain


def path_der(path: Sequence[x509.Certificate], chain: Sequence[x509.Certificate], chain_der: Sequence[bytes],
             trust: TrustStore) -> tuple[bytes, ...]:
    """The DER of each certificate of a `path` verified for `chain` (received as `chain_der`): the
    bytes received for the peer's own certificates, the store's for its anchors, none encoded again."""
    received = {id(cert): der for cert, der in zip(chain, chain_der, strict=True)}
    return tuple(received.get(id(cert)) or trust.der(cert) for cert in path)


class _CertificateErrors:
    """cryptography decodes a certificate lazily: its key, names and extensions may fail to
    decode only when used. Such a certificate is unsupported (unknown algorithm) or bad.

    ``with _certificate_errors:`` (a class rather than a @contextmanager generator: every
    verification enters it, at 0.2 µs instead of 1.2)."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, UnsupportedAlgorithm):
            raise UnsupportedCertificate(f"certificate uses an unsupported algorithm ({exc})") from None
        if isinstance(exc, ValueError | x509.InvalidVersion):
            raise BadCertificate(f"certificate cannot be decoded ({exc})") from None


_certificate_errors = _CertificateErrors()


#: The smallest RSA key accepted anywhere in a chain, and for our own certificate
#: (OpenSSL's default security level 2 draws the line at the same place).
MIN_RSA_BITS = 2048


def check_key_sizes(chain: Sequence[x509.Certificate]) -> None:
    with _certificate_errors:
        _check_key_sizes(chain)


def _check_key_sizes(chain: Sequence[x509.Certificate]) -> None:
    for cert in chain:
        key = cert.public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
            raise BadCertificate(f"certificate key too small: RSA {key.key_size} bits "
                                 f"({cert.subject.rfc4514_string()}); at least {MIN_RSA_BITS} are required")


#: The ECDSA curves a server certificate may use in TLS 1.2 (RFC 8422 §5.1.1's named curves that
#: crypto/signatures verifies).
_ECDSA_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})


@lru_cache(maxsize=256)
def server_public_key(cert: x509.Certificate, authentication: Authentication) -> PublicKey:
    """The leaf's key, refused unless it can do what the suite asks of it (RFC 5246 §7.4.2, RFC 8422 §5.3):

    - sign with RSA (ECDHE_RSA, DHE_RSA): an rsaEncryption or RSASSA-PSS key;
    - sign with ECDSA or Ed25519 (ECDHE_ECDSA): a P-256, P-384 or P-521 key, or Ed25519;
    - decrypt with RSA (static RSA): an rsaEncryption key (an RSASSA-PSS key only signs).

    A key of another kind is unsupported_certificate (RFC 5246 §7.2.2: "a certificate was of an
    unsupported type"); a keyUsage that does not allow the use (digitalSignature to sign,
    keyEncipherment to decrypt: RFC 5246 §7.4.2, RFC 5280 §4.2.1.3) is bad_certificate, as is an
    RSA key under MIN_RSA_BITS."""
    with _certificate_errors:
        return _server_public_key(cert, authentication)


def _server_public_key(cert: x509.Certificate, authentication: Authentication) -> PublicKey:
    key = cert.public_key()
    if authentication is Authentication.ECDSA_SIGNATURE:
        fits = isinstance(key, ed25519.Ed25519PublicKey) or (
            isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _ECDSA_CURVES)
    elif authentication is Authentication.RSA_SIGNATURE:
        fits = isinstance(key, rsa.RSAPublicKey)
    else:
        fits = isinstance(key, rsa.RSAPublicKey) and not is_rsa_pss_certificate(cert)
    if not fits:
        kind = "an RSASSA-PSS key" if is_rsa_pss_certificate(cert) else _key_name(key)
        raise UnsupportedCertificate(f"the suite needs {authentication.value}; the server certificate has {kind}")
    _check_key_sizes([cert])
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return key  # type: ignore[return-value]
    if authentication is Authentication.RSA_DECRYPTION:
        if not usage.key_encipherment:
            raise BadCertificate("certificate key usage does not allow keyEncipherment (static RSA)")
    elif not usage.digital_signature:
        raise BadCertificate("certificate key usage does not allow digitalSignature")
    return key  # type: ignore[return-value]


def _key_name(key: object) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"an RSA-{key.key_size} key"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"an ECDSA key on {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "an Ed25519 key"
    return f"a {type(key).__name__}"


@lru_cache(maxsize=256)
def _subject(name: str) -> DNSName | IPAddress:
    try:
        return IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return DNSName(name)


def _claimed_subjects(leaf: x509.Certificate) -> Iterator[DNSName | IPAddress]:
    """Names the leaf claims, for verification without a host-name check: its DNS names (a
    wildcard stands for one name it matches) and IP addresses."""
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise BadCertificate("leaf certificate has no subjectAltName") from None
    for dns in san.get_values_for_type(x509.DNSName):
        # RFC 6125 §6.4.3: "*" is the whole left-most label and matches exactly one label.
        yield DNSName("wildcard" + dns[1:] if dns.startswith("*.") else dns)
    for ip in san.get_values_for_type(x509.IPAddress):
        yield IPAddress(ip)


def _any_name_verifier(trust: TrustStore, leaf: x509.Certificate, now: datetime.datetime,
                       trusted_leaf: bool) -> ServerVerifier:
    for subject in _claimed_subjects(leaf):
        try:
            return trust.verifier(f"\0any:{subject.value}", subject, now, trusted_leaf)
        except ValueError:
            continue  # a name the verifier cannot take (not a valid DNS name): try the next
    raise BadCertificate("leaf certificate has no usable DNS or IP subjectAltName")


def verify_server_chain(
    trust: TrustStore,
    chain: Sequence[x509.Certificate],
    server_name: str | None,
    now: datetime.datetime,
    chain_der: tuple[bytes, ...] | None = None,
) -> list[x509.Certificate]:
    """Verify `chain` (leaf first) for `server_name` (None: no host-name check). `chain_der`, the
    chain as received, lets the store give a chain it verified this second its path again
    (`TrustStore.path`).

    Returns the path that was built, leaf first, ending with the trust anchor."""
    with _certificate_errors:
        return _verify_server_chain(trust, chain, server_name, now, chain_der)


def _verify_server_chain(
    trust: TrustStore,
    chain: Sequence[x509.Certificate],
    server_name: str | None,
    now: datetime.datetime,
    chain_der: tuple[bytes, ...] | None,
) -> list[x509.Certificate]:
    if not trust.anchors:
        raise UnknownCA("no trust anchors are configured")
    _check_key_sizes(chain)
    leaf = chain[0]
    trusted_leaf = trust.trusts(leaf, chain_der[0] if chain_der else None)
    if trust.store is None:
        raise _not_trusted(trust, chain)
    if server_name is not None:
        verifier = trust.verifier(server_name, _subject(server_name), now, trusted_leaf)
    else:
        verifier = _any_name_verifier(trust, leaf, now, trusted_leaf)
    try:
        return trust.path(verifier, chain, chain_der)
    except VerificationError as exc:
        error = _classify(str(exc), server_name)
        if isinstance(error, CertificateExpired):
            error = _which_expired(chain, now) or error
        elif not trusted_leaf and _self_issued(leaf):
            # Whatever rule the verifier tripped over first, this is what went wrong.
            error = SelfSignedLeaf(f"certificate verify failed: self-signed certificate is not trusted "
                                   f"({leaf.subject.rfc4514_string()})")
        elif isinstance(error, UnknownCA) and any(words in str(exc) for words in _NO_PATH):
            error = _not_trusted(trust, chain)
        raise error from None


#: cryptography's words for "no path reaches an anchor" with nothing else wrong (a path through
#: an untrusted self-signed root loops until the depth limit).
_NO_PATH = ("all candidates exhausted with no interior errors", "chain construction exceeds max depth")


def _not_trusted(trust: TrustStore, chain: Sequence[x509.Certificate]) -> UnknownCA:
    """Name the certificate at which the chain stops short of a trust anchor."""
    pool = [*chain[1:], *trust.intermediates]
    top = chain[0]
    seen = {_der(top)}
    while not _self_issued(top):
        parent = next((c for c in pool if c.subject == top.issuer and _der(c) not in seen), None)
        if parent is None:
            break
        top = parent
        seen.add(_der(parent))
    subject = top.subject.rfc4514_string()
    if _self_issued(top):
        return SelfSignedRoot(f"certificate verify failed: self-signed certificate in certificate chain: "
                              f"the chain ends at '{subject}', which is not a trusted root")
    reason = (f"unable to get local issuer certificate: no trusted certificate issued '{subject}' "
              f"(its issuer is '{top.issuer.rfc4514_string()}')")
    if trust.trusts(top):
        reason += (f"; '{subject}' is trusted but is not a self-signed root, and partial chains are not "
                   "accepted")
    return UnknownCA(f"certificate verify failed: {reason}")


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


def _readable(message: str) -> str:
    """cryptography's verification message without its prefix, and with the subject for the certificate's repr
    it appends (the subject is all a reader needs)."""
    text = message.removeprefix("validation failed: ")
    return re.sub(r" \(encountered processing <Certificate\(subject=<Name\((.*?)\)>.*\)$", r" (\1)", text)


def _classify(message: str, server_name: str | None) -> BadCertificate | UnknownCA | CertificateExpired:
    text = _readable(message)
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


def verify_client_chain(
    trust: TrustStore, chain: Sequence[x509.Certificate], now: datetime.datetime
) -> list[x509.Certificate]:
    """Verify a client's `chain` (leaf first) for the clientAuth purpose (RFC 5280 §4.2.1.12).

    Returns the path that was built, leaf first, ending with the trust anchor. The failures are
    classified as for a server's chain; a leaf without the clientAuth purpose is unsupported_certificate."""
    with _certificate_errors:
        return _verify_client_chain(trust, chain, now)


def _verify_client_chain(
    trust: TrustStore, chain: Sequence[x509.Certificate], now: datetime.datetime
) -> list[x509.Certificate]:
    if not trust.anchors:
        raise UnknownCA("no client trust anchors are configured")
    _check_key_sizes(chain)
    leaf, intermediates = chain[0], [*chain[1:], *trust.intermediates]
    if trust.store is None:
        raise _not_trusted(trust, chain)
    verifier = PolicyBuilder().store(trust.store).time(now).build_client_verifier()
    try:
        return list(verifier.verify(leaf, intermediates).chain)
    except VerificationError as exc:
        if "EKU" in str(exc) or "extended key usage" in str(exc).lower():
            raise UnsuitablePurpose(
                f"certificate verify failed: the client certificate is not for client authentication "
                f"({_readable(str(exc))})") from None
        error = _classify(str(exc), None)
        if isinstance(error, CertificateExpired):
            error = _which_expired(chain, now) or error
        elif not trust.trusts(leaf) and _self_issued(leaf):
            error = SelfSignedLeaf(f"certificate verify failed: self-signed certificate is not trusted "
                                   f"({leaf.subject.rfc4514_string()})")
        elif isinstance(error, UnknownCA) and any(words in str(exc) for words in _NO_PATH):
            error = _not_trusted(trust, chain)
        raise error from None
