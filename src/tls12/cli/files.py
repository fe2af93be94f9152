"""The files the commands' options name, checked before anything starts.

Each failure is a `FileProblem` whose message names the option, the file
and what was expected of it ("--cafile ca.der: not PEM: ..."), in words a
user can act on rather than a parsing library's.
"""

from __future__ import annotations

import os

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from ..crypto.credentials import Credential

__all__ = ["FileProblem", "check_writable", "read_certificates", "read_credential", "read_private_key"]

_CERT = b"-----BEGIN CERTIFICATE-----"


class FileProblem(Exception):
    """A file given to an option cannot be used; the message says why."""


def _read(path: str, option: str, expected: str) -> bytes:
    what = f"{option} {path}"
    if os.path.isdir(path):
        raise FileProblem(f"{what}: is a directory; expected {expected}")
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise FileProblem(f"{what}: no such file; expected {expected}") from None
    except PermissionError:
        raise FileProblem(f"{what}: permission denied (cannot read it)") from None
    except OSError as exc:
        raise FileProblem(f"{what}: cannot read it ({exc.strerror or exc})") from None


def _pem_kinds(data: bytes) -> list[str]:
    """The labels of the PEM blocks in `data` ("CERTIFICATE", "PRIVATE KEY", ...), in order."""
    kinds = []
    for raw in data.splitlines():
        line = raw.strip()
        if line.startswith(b"-----BEGIN ") and line.endswith(b"-----"):
            kinds.append(line[11:-5].decode("ascii", "replace"))
    return kinds


def _not_pem(what: str, data: bytes, expected: str) -> FileProblem:
    if data[:1] == b"\x30":  # an ASN.1 SEQUENCE: DER
        return FileProblem(f"{what}: looks like DER (binary), not PEM; expected {expected} "
                           f"(convert it: openssl x509 -inform der -in FILE -out FILE.pem)")
    return FileProblem(f"{what}: not PEM (no -----BEGIN ...----- line); expected {expected}")


def read_certificates(path: str, option: str) -> list[x509.Certificate]:
    """The PEM certificates in `path` (at least one), or a `FileProblem` saying what is wrong."""
    what = f"{option} {path}"
    expected = "PEM certificates (-----BEGIN CERTIFICATE-----)"
    data = _read(path, option, expected)
    kinds = _pem_kinds(data)
    if not kinds:
        raise _not_pem(what, data, expected)
    if "CERTIFICATE" not in kinds:
        raise FileProblem(f"{what}: holds {', '.join(sorted(set(kinds)))} but no certificate; expected {expected}")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise FileProblem(f"{what}: a certificate in it is damaged and cannot be parsed") from None
    return list(certificates)


def read_private_key(path: str, option: str) -> PrivateKeyTypes:
    """The PEM private key in `path` (unencrypted), or a `FileProblem` saying what is wrong."""
    what = f"{option} {path}"
    expected = "a PEM private key (-----BEGIN PRIVATE KEY-----), not encrypted"
    data = _read(path, option, expected)
    kinds = _pem_kinds(data)
    if not kinds:
        raise _not_pem(what, data, expected)
    if "ENCRYPTED PRIVATE KEY" in kinds or b"Proc-Type: 4,ENCRYPTED" in data:
        raise FileProblem(f"{what}: the key is encrypted; give an unencrypted one "
                          "(openssl pkey -in KEY -out PLAIN.key)")
    if not any(kind.endswith("PRIVATE KEY") for kind in kinds):
        raise FileProblem(f"{what}: holds {', '.join(sorted(set(kinds)))} but no private key; expected {expected}")
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:  # encrypted after all
        raise FileProblem(f"{what}: the key is encrypted; give an unencrypted one") from None
    except (ValueError, UnsupportedAlgorithm):
        raise FileProblem(f"{what}: the private key in it is damaged or of a kind tls12 cannot use") from None


def read_credential(cert: str, key: str | None, *, command: str) -> Credential:
    """The chain in `cert` (leaf first) and the leaf's key from `key` (None: from `cert` too, as
    openssl and curl read it), as a `Credential`; or a `FileProblem` naming the files and the fault."""
    key_file, key_option = (key, "--key") if key is not None else (cert, "--cert")
    chain = read_certificates(cert, "--cert")
    private_key = read_private_key(key_file, key_option)
    files = f"--cert {cert}" + (f" and --key {key}" if key is not None else "")
    if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise FileProblem(f"{key_option} {key_file}: a {type(private_key).__name__.removeprefix('_')}; {command} "
                          "needs an RSA, ECDSA or Ed25519 private key")
    try:
        return Credential.from_chain(chain, private_key)
    except (TypeError, ValueError) as exc:
        raise FileProblem(f"{files}: {exc}") from None


def check_writable(path: str, option: str, *, create: bool = False) -> None:
    """That `path` can be written: its directory exists and it is not a directory.

    With `create`, the file is opened for appending (and so created) now, as a
    key log is: what fails then fails at the start, not at the first handshake."""
    what = f"{option} {path}"
    if os.path.isdir(path):
        raise FileProblem(f"{what}: is a directory; expected a file name to write to")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileProblem(f"{what}: the directory {parent} does not exist")
    if not create:
        if not os.access(parent, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
            raise FileProblem(f"{what}: permission denied (cannot write it)")
        return
    try:
        with open(path, "a", encoding="ascii"):
            pass
    except PermissionError:
        raise FileProblem(f"{what}: permission denied (cannot write it)") from None
    except OSError as exc:
        raise FileProblem(f"{what}: cannot write it ({exc.strerror or exc})") from None
