"""`getpeercert()`'s dictionary, in the exact shape the stdlib `ssl` module returns."""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from ..crypto.x509 import serial_number

__all__ = ["certificate_dict"]

# OpenSSL long names where cryptography's differ.
_LONG_NAMES = {"userID": "userId", "DC": "domainComponent"}


def _rdns(name: x509.Name) -> tuple[tuple[tuple[str, str], ...], ...]:
    out = []
    for rdn in name.rdns:
        pairs = []
        for attr in rdn:
            key = attr.oid._name
            key = _LONG_NAMES.get(key, key)
            if key == "Unknown OID":
                key = attr.oid.dotted_string
            value = attr.value if isinstance(attr.value, str) else attr.value.hex()
            pairs.append((key, value))
        out.append(tuple(pairs))
    return tuple(out)


def _asn1_time(moment: datetime.datetime) -> str:
    return f"{moment:%b} {moment.day:2d} {moment:%H:%M:%S %Y} GMT"


def _ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address | Any) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        packed = address.packed
        return ":".join(f"{int.from_bytes(packed[i:i + 2], 'big'):X}" for i in range(0, 16, 2))
    return str(address)


def _general_name(name: x509.GeneralName) -> tuple[str, Any]:
    if isinstance(name, x509.DNSName):
        return ("DNS", name.value)
    if isinstance(name, x509.IPAddress):
        return ("IP Address", _ip(name.value))
    if isinstance(name, x509.RFC822Name):
        return ("email", name.value)
    if isinstance(name, x509.UniformResourceIdentifier):
        return ("URI", name.value)
    if isinstance(name, x509.DirectoryName):
        return ("DirName", _rdns(name.value))
    if isinstance(name, x509.RegisteredID):
        return ("Registered ID", name.value.dotted_string)
    return ("othername", "<unsupported>")


def _serial(cert: x509.Certificate) -> str:
    """As OpenSSL prints it: upper-case hex, an even number of digits; a minus sign if negative."""
    number = serial_number(cert)
    text = f"{abs(number):X}"
    text = text if len(text) % 2 == 0 else "0" + text
    return "-" + text if number < 0 else text


def certificate_dict(cert: x509.Certificate) -> dict[str, Any]:
    result: dict[str, Any] = {
        "subject": _rdns(cert.subject),
        "issuer": _rdns(cert.issuer),
        "version": cert.version.value + 1,
        "serialNumber": _serial(cert),
        "notBefore": _asn1_time(cert.not_valid_before_utc),
        "notAfter": _asn1_time(cert.not_valid_after_utc),
    }
    extensions = cert.extensions
    try:
        san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        result["subjectAltName"] = tuple(_general_name(n) for n in san)
    except x509.ExtensionNotFound:
        pass
    try:
        aia = extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        ocsp = tuple(d.access_location.value for d in aia
                     if d.access_method == AuthorityInformationAccessOID.OCSP
                     and isinstance(d.access_location, x509.UniformResourceIdentifier))
        issuers = tuple(d.access_location.value for d in aia
                        if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
                        and isinstance(d.access_location, x509.UniformResourceIdentifier))
        if ocsp:
            result["OCSP"] = ocsp
        if issuers:
            result["caIssuers"] = issuers
    except x509.ExtensionNotFound:
        pass
    try:
        crl = extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        points = tuple(n.value for dp in crl for n in (dp.full_name or ())
                       if isinstance(n, x509.UniformResourceIdentifier))
        if points:
            result["crlDistributionPoints"] = points
    except x509.ExtensionNotFound:
        pass
    return result
