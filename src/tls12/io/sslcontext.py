"""`tls12.SSLContext`: the stdlib `ssl.SSLContext` interface over the tls12 engine.

It subclasses `ssl.SSLContext` (asyncio's `start_tls` checks isinstance) and
overrides every public member, so no setting reaches the unused OpenSSL
context underneath. A setting tls12 can honour is honoured; one it cannot
raises (`ValueError`, `NotImplementedError` or `ssl.SSLError`) instead of being
silently ignored. The settings become a frozen `ClientConfig`/`ServerConfig`,
built once and reused until a setting changes.

What each option (`ssl.OP_*`) and protocol version does is one table, in
`policy.py` (and in the README): settings tls12 already satisfies or that
cannot apply to TLS 1.2 are accepted and change nothing; those that would
change behaviour in a way tls12 cannot honour raise.

Cipher strings are OpenSSL's, evaluated by OpenSSL (`ciphers.py`, which the
command line shares); certificates are kept one per kind of key, as OpenSSL
keeps them (`credentials.py`), and the core picks among them per handshake: a
server for each client, a client for each server that asks for a certificate.

Mutual TLS as under the ssl module: on a server, `verify_mode` is the client
certificate policy (CERT_NONE asks for none, CERT_OPTIONAL asks and accepts a
client without one, CERT_REQUIRED refuses that client), and the store that
`load_verify_locations()`/`load_default_certs()` fill is what a client's chain
must reach (nothing loaded: every client certificate is from an unknown CA).

Sessions: a context that may serve keeps one session store and one source of
ticket keys for its whole life, given to every configuration it builds, so a
change of settings loses no session; the configuration's policy fingerprint
keeps a session from resuming under verification settings other than those
that admitted its peer. A context that may connect keeps its own sessions by
(server name, port) and offers them again by itself (`client_session_cache`),
as the ssl module does not; an `SSLSession` it made may also be given back
with `session=` as under the ssl module.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ..config import DEFAULT_GROUPS, SPOKEN_SUITES, ClientConfig, ServerConfig
from ..crypto import der
from ..crypto.credentials import Credential
from ..crypto.dhe import FFDHE_GROUPS
from ..crypto.tickets import RotatingTicketKeys
from ..crypto.x509 import MIN_RSA_BITS, load_anchor_der, load_pem_certificates, load_trust_pem, system_trust_anchors
from ..enums import CipherSuite, NamedGroup
from ..session import MemorySessionStore, Session
from .certdict import certificate_dict
from .ciphers import cipher_info, select_suites, stdlib_default_suites
from .credentials import server_identity, with_credential
from .keylog import key_log_writer
from .policy import DEFAULT_OPTIONS, MAXIMUM_VERSIONS, MINIMUM_VERSIONS, check_options
from .sslobject import SSLObject
from .sslsession import CacheKey, ClientSessionCache, SettableClock
from .sslsocket import SSLSocket

__all__ = ["SSLContext", "create_default_context"]

OP_NO_EXTENDED_MASTER_SECRET = 0x1

_ACCEPTED_VERIFY_FLAGS = int(
    ssl.VERIFY_DEFAULT | ssl.VERIFY_X509_TRUSTED_FIRST | ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN
)

#: set_ecdh_curve() names: OpenSSL's short names, as the stdlib takes them, and a few aliases.
_CURVES = {
    "x25519": NamedGroup.X25519,
    "x448": NamedGroup.X448,
    "prime256v1": NamedGroup.SECP256R1,
    "secp256r1": NamedGroup.SECP256R1,
    "p-256": NamedGroup.SECP256R1,
    "secp384r1": NamedGroup.SECP384R1,
    "p-384": NamedGroup.SECP384R1,
    "secp521r1": NamedGroup.SECP521R1,
    "p-521": NamedGroup.SECP521R1,
}

#: A server's verify_mode as the core's client certificate policy.
_CLIENT_AUTH: dict[int, Literal["none", "optional", "required"]] = {
    ssl.CERT_NONE: "none",
    ssl.CERT_OPTIONAL: "optional",
    ssl.CERT_REQUIRED: "required",
}

_SUPPORTED_PROTOCOLS = (ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS_SERVER, ssl.PROTOCOL_TLS, ssl.PROTOCOL_TLSv1_2)


def _ssl_error(reason: str, message: str) -> ssl.SSLError:
    exc = ssl.SSLError(1, f"[SSL: {reason}] {message}")
    exc.library = "SSL"
    exc.reason = reason
    return exc


def _load_pem_or_error(data: bytes, what: str) -> list[x509.Certificate]:
    try:
        certs = load_pem_certificates(data)
    except ValueError:
        certs = []
    if not certs:
        raise _ssl_error("NO_CERTIFICATE_OR_CRL_FOUND", f"no certificate or crl found in {what}")
    return certs


def _load_trust_or_error(data: bytes, what: str) -> list[x509.Certificate]:
    """Trust anchors from PEM: a certificate that does not parse is skipped (and logged); a
    source with none that does is an error, as in the stdlib."""
    certs = load_trust_pem(data, what)
    if not certs:
        raise _ssl_error("NO_CERTIFICATE_OR_CRL_FOUND", f"no certificate or crl found in {what}")
    return certs


class SSLContext(ssl.SSLContext):
    """A drop-in `ssl.SSLContext` whose connections run on tls12."""

    def __new__(cls, protocol: int | None = None, *args: Any, **kwargs: Any) -> SSLContext:
        if protocol is None:
            protocol = ssl.PROTOCOL_TLS_CLIENT
        if protocol not in _SUPPORTED_PROTOCOLS:
            raise ValueError(f"tls12 speaks only TLS 1.2; protocol {protocol!r} is not supported")
        return super().__new__(cls, protocol)

    def __init__(self, protocol: int | None = None, *args: Any, **kwargs: Any) -> None:
        protocol = ssl.PROTOCOL_TLS_CLIENT if protocol is None else protocol
        self._t_protocol = ssl._SSLMethod(protocol)
        self._t_is_client_only = protocol == ssl.PROTOCOL_TLS_CLIENT
        self._t_lock = threading.Lock()
        # Explicitly loaded anchors, once each, by DER, in the order loaded.
        self._t_anchors: dict[bytes, x509.Certificate] = {}
        self._t_default_paths = False
        # One certificate per kind of key, in the order loaded (io/credentials.py).
        self._t_credentials: tuple[Credential, ...] = ()
        # None: the configuration's defaults.
        self._t_suites: tuple[CipherSuite, ...] | None = None
        self._t_verify_mode = ssl.CERT_REQUIRED if self._t_is_client_only else ssl.CERT_NONE
        self._t_check_hostname = self._t_is_client_only
        self._t_alpn: tuple[str, ...] = ()
        self._t_curve: NamedGroup | None = None  # set_ecdh_curve()
        self._t_dh_group: NamedGroup | None = None  # load_dh_params()
        self._t_options = DEFAULT_OPTIONS
        self._t_post_handshake_auth = False
        self._t_num_tickets = 2  # the stdlib's default, on either side
        self._t_verify_flags = int(ssl.VERIFY_X509_TRUSTED_FIRST)
        self._t_keylog_filename: str | None = None
        self._t_keylog: Callable[[str], None] | None = None
        self._t_sni_callback: Callable[..., Any] | None = None
        self._t_client_config: ClientConfig | None = None
        self._t_server_config: ServerConfig | None = None
        self._t_stats = dict.fromkeys(
            ("number", "connect", "connect_good", "connect_renegotiate", "accept", "accept_good",
             "accept_renegotiate", "hits", "misses", "timeouts", "cache_full"), 0)
        # Sessions: one clock for all (tests move it), the server's store and ticket keys, the
        # client's cache; each only on a context that may take that side.
        self._t_clock = SettableClock()
        may_serve, may_connect = protocol != ssl.PROTOCOL_TLS_CLIENT, protocol != ssl.PROTOCOL_TLS_SERVER
        self._t_session_store = MemorySessionStore(clock=self._t_clock) if may_serve else None
        self._t_ticket_keys = RotatingTicketKeys(clock=self._t_clock) if may_serve else None
        self._t_client_sessions = ClientSessionCache(clock=self._t_clock) if may_connect else None

    def _changed(self) -> None:
        self._t_client_config = None
        self._t_server_config = None

    # -- the engine's configuration --------------------------------------------

    def _client_config(self) -> ClientConfig:
        config = self._t_client_config
        if config is None:
            config = ClientConfig(
                trust_anchors=self._anchors(),
                use_system_trust=False,
                verify_certificates=self._t_verify_mode != ssl.CERT_NONE,
                check_hostname=self._t_check_hostname,
                partial_chain=bool(self._t_verify_flags & ssl.VERIFY_X509_PARTIAL_CHAIN),
                alpn_protocols=self._t_alpn,
                extended_master_secret=not self._t_options & OP_NO_EXTENDED_MASTER_SECRET,
                key_log=self._t_keylog,
                groups=self._groups(server=False),
                cipher_suites=self._suites(),
                # What load_cert_chain() loaded, offered when a server asks (the core picks one).
                client_credentials=self._t_credentials,
                session_tickets=not self._t_options & ssl.OP_NO_TICKET,
                clock=self._t_clock,
            )
            self._t_client_config = config
        return config

    def _anchors(self) -> list[x509.Certificate]:
        """The trust store: a client's for servers, a server's for clients (load_verify_locations(),
        and the system's after load_default_certs() or set_default_verify_paths())."""
        anchors = list(self._t_anchors.values())
        if self._t_default_paths:
            anchors += system_trust_anchors()
        return anchors

    def _server_config(self) -> ServerConfig:
        config = self._t_server_config
        if config is None:
            if not self._t_credentials:
                raise _ssl_error("NO_CERTIFICATE_ASSIGNED", "no certificate assigned; call load_cert_chain() first")
            suites = self._suites()
            extra: dict[str, Any] = server_identity(self._t_credentials)
            if not self._t_options & ssl.OP_CIPHER_SERVER_PREFERENCE and len(suites) > 1:
                # OpenSSL servers follow the client's order unless this option is set (the stdlib sets
                # it); with a single suite enabled there is no order to follow.
                extra["prefer_client_order"] = True
            client_auth = _CLIENT_AUTH[self._t_verify_mode]
            config = ServerConfig(
                client_auth=client_auth,
                client_trust_anchors=self._anchors() if client_auth != "none" else (),
                # As OpenSSL under the ssl module: the CertificateRequest names no authorities (the
                # store may be the system's hundreds); a client picks its certificate by key type.
                client_ca_names=False,
                alpn_protocols=self._t_alpn,
                extended_master_secret=not self._t_options & OP_NO_EXTENDED_MASTER_SECRET,
                key_log=self._t_keylog,
                groups=self._groups(server=True),
                cipher_suites=suites,
                # The context's own, whatever configuration it builds next: its sessions survive a
                # change of settings (a changed client policy keeps them from resuming).
                session_store=self._t_session_store,
                ticket_keys=None if self._t_options & ssl.OP_NO_TICKET else self._t_ticket_keys,
                clock=self._t_clock,
                **extra,
            )
            self._t_server_config = config
        return config

    def _suites(self) -> tuple[CipherSuite, ...]:
        """The suites enabled: set_ciphers()'s selection, or those the ssl module enables by default."""
        return self._t_suites if self._t_suites is not None else stdlib_default_suites(SPOKEN_SUITES)

    def _groups(self, *, server: bool) -> tuple[NamedGroup, ...]:
        """set_ecdh_curve() replaces the elliptic-curve groups and load_dh_params() (on a server) the
        finite-field ones; each leaves the other kind as configured, as in OpenSSL."""
        ecdhe = tuple(g for g in DEFAULT_GROUPS if g not in FFDHE_GROUPS)
        ffdhe = tuple(g for g in DEFAULT_GROUPS if g in FFDHE_GROUPS)
        if self._t_curve is not None:
            ecdhe = (self._t_curve,)
        if server and self._t_dh_group is not None:
            ffdhe = (self._t_dh_group,)
        return ecdhe + ffdhe

    def _count(self, *keys: str) -> None:
        with self._t_lock:
            for key in keys:
                self._t_stats[key] += 1

    # -- a client's sessions ------------------------------------------------------

    def _now(self) -> float:
        return self._t_clock()

    def _cached_session(self, key: CacheKey) -> Session | None:
        cache = self._t_client_sessions
        return None if cache is None else cache.get(key)

    def _keep_session(self, key: CacheKey, session: Session) -> None:
        """Cache a client's session, if the handshake that made it admitted the server as this context
        would now (settings may have changed while it ran)."""
        cache = self._t_client_sessions
        if cache is not None and session.policy == self._client_config().session_policy:
            cache.put(key, session)

    def _forget_session(self, key: CacheKey, session: Session) -> None:
        cache = self._t_client_sessions
        if cache is not None:
            cache.discard(key, session)

    @property
    def client_session_cache(self) -> bool:
        """tls12's own: a client context caches the session of each handshake by (server name, port)
        and offers it again on the next connection there (`wrap_socket()`, and `wrap_bio()` by server
        name alone, as asyncio does not say the port), unless `session=` gives one. True by default;
        False turns it off and forgets what was cached, as under the ssl module, which caches no
        client sessions. A server context has none (False; setting True raises ValueError)."""
        return self._t_client_sessions is not None

    @client_session_cache.setter
    def client_session_cache(self, value: bool) -> None:
        if not value:
            self._t_client_sessions = None
        elif self._t_client_sessions is None:
            if self._t_protocol == ssl.PROTOCOL_TLS_SERVER:
                raise ValueError("SSLContext is not a client context.")
            self._t_client_sessions = ClientSessionCache(clock=self._t_clock)

    @property
    def _ignore_unexpected_eof(self) -> bool:
        return bool(self._t_options & ssl.OP_IGNORE_UNEXPECTED_EOF)

    # -- wrapping ---------------------------------------------------------------

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: Any = None,
    ) -> SSLSocket:
        return SSLSocket._create(
            sock=sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            context=self,
            session=session,
        )

    def wrap_bio(  # type: ignore[override]
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: Any = None,
    ) -> SSLObject:
        return SSLObject._create(incoming, outgoing, server_side=server_side, server_hostname=server_hostname,
                                 session=session, context=self)

    def _wrap_socket(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a tls12.SSLContext makes its sockets with wrap_socket(), never with OpenSSL")

    def _wrap_bio(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a tls12.SSLContext makes its objects with wrap_bio(), never with OpenSSL")

    # -- verification -----------------------------------------------------------

    @property
    def protocol(self) -> ssl._SSLMethod:  # type: ignore[override]
        return self._t_protocol

    @property
    def verify_mode(self) -> ssl.VerifyMode:
        return ssl.VerifyMode(self._t_verify_mode)

    @verify_mode.setter
    def verify_mode(self, value: int) -> None:
        """On a client, whether the server's chain is verified; on a server, whether a client
        certificate is asked for (CERT_OPTIONAL, CERT_REQUIRED) and required (CERT_REQUIRED)."""
        mode = ssl.VerifyMode(value)
        if mode == ssl.CERT_NONE and self._t_check_hostname:
            raise ValueError("Cannot set verify_mode to CERT_NONE when check_hostname is enabled.")
        if mode != self._t_verify_mode:
            self._t_verify_mode = mode
            self._changed()

    @property
    def check_hostname(self) -> bool:
        return self._t_check_hostname

    @check_hostname.setter
    def check_hostname(self, value: bool) -> None:
        value = bool(value)
        if value and self._t_verify_mode == ssl.CERT_NONE:
            # As the stdlib does: checking names implies verifying the chain.
            self.verify_mode = ssl.CERT_REQUIRED
        if value != self._t_check_hostname:
            self._t_check_hostname = value
            self._changed()

    @property
    def hostname_checks_common_name(self) -> bool:
        return False

    @hostname_checks_common_name.setter
    def hostname_checks_common_name(self, value: bool) -> None:
        if value:
            raise NotImplementedError("tls12 matches host names against subjectAltName only (RFC 6125)")

    @property
    def verify_flags(self) -> ssl.VerifyFlags:
        return ssl.VerifyFlags(self._t_verify_flags)

    @verify_flags.setter
    def verify_flags(self, value: int) -> None:
        value = int(value)
        if value & ~_ACCEPTED_VERIFY_FLAGS:
            raise ValueError(f"tls12 cannot honour verify flags {ssl.VerifyFlags(value & ~_ACCEPTED_VERIFY_FLAGS)!r}")
        changed = (value ^ self._t_verify_flags) & ssl.VERIFY_X509_PARTIAL_CHAIN
        self._t_verify_flags = value
        if changed:
            self._changed()

    def load_verify_locations(
        self,
        cafile: Any = None,
        capath: Any = None,
        cadata: Any = None,
    ) -> None:
        if cafile is None and capath is None and cadata is None:
            raise TypeError("cafile, capath and cadata cannot be all omitted")
        added: list[x509.Certificate] = []
        if cafile is not None:
            with open(cafile, "rb") as f:
                added += _load_trust_or_error(f.read(), os.fspath(cafile))
        if capath is not None:
            directory = os.fspath(capath)
            if not os.path.isdir(directory):
                raise FileNotFoundError(2, "No such directory", directory)
            for entry in sorted(os.listdir(directory)):
                full = os.path.join(directory, entry)
                if os.path.isfile(full):
                    with open(full, "rb") as f:
                        added += load_trust_pem(f.read(), full)
        if cadata is not None:
            if isinstance(cadata, str):
                added += _load_trust_or_error(cadata.encode("ascii"), "cadata")
            else:
                added += _load_der_sequence(bytes(cadata))
        # urllib3 loads its bundle again for every connection: what is already here changes nothing,
        # and the configuration built from the store (its verifiers) is kept.
        changed = False
        for cert in added:
            key = cert.public_bytes(serialization.Encoding.DER)
            if key not in self._t_anchors:
                self._t_anchors[key] = cert
                changed = True
        if changed:
            self._changed()

    def load_default_certs(self, purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH) -> None:
        if not isinstance(purpose, ssl._ASN1Object):
            raise TypeError(purpose)
        self.set_default_verify_paths()

    def set_default_verify_paths(self) -> None:
        if not self._t_default_paths:
            self._t_default_paths = True
            self._changed()

    def get_ca_certs(self, binary_form: bool = False) -> list[Any]:
        cas = [c for c in self._t_anchors.values() if _is_ca(c)]
        if binary_form:
            return [c.public_bytes(serialization.Encoding.DER) for c in cas]
        return [certificate_dict(c) for c in cas]

    def cert_store_stats(self) -> dict[str, int]:
        """Explicitly loaded certificates (the system store, like OpenSSL's capath, is not counted)."""
        ca = sum(1 for c in self._t_anchors.values() if _is_ca(c))
        return {"x509": len(self._t_anchors), "crl": 0, "x509_ca": ca}

    # -- our certificate --------------------------------------------------------

    def load_cert_chain(
        self,
        certfile: Any,
        keyfile: Any = None,
        password: Any = None,
    ) -> None:
        """A server's certificate, or a client's, sent when a server asks for one. One per kind of
        key (credentials.py): several kinds are offered, and the core picks the one the peer takes."""
        with open(certfile, "rb") as f:
            cert_pem = f.read()
        chain = _load_pem_or_error(cert_pem, os.fspath(certfile))
        if keyfile is None:
            key_pem = cert_pem
        else:
            with open(keyfile, "rb") as f:
                key_pem = f.read()
        if callable(password):
            password = password()
        if isinstance(password, str):
            password = password.encode("utf-8")
        elif isinstance(password, bytearray):
            password = bytes(password)
        elif password is not None and not isinstance(password, bytes):
            raise TypeError("password should be a string or callable")
        try:
            try:
                key = serialization.load_pem_private_key(key_pem, password=password)
            except TypeError:
                if password is None:
                    raise
                # As the ssl module does: a password for an unencrypted key is ignored.
                key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError) as exc:
            raise _ssl_error("PEM_LIB", f"could not load the private key: {exc}") from None
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise _ssl_error("KEY_TYPE_UNSUPPORTED",
                             f"{type(key).__name__} keys are not supported (RSA, ECDSA and Ed25519 are)")
        leaf_key = chain[0].public_key()
        if _spki(leaf_key) != _spki(key.public_key()):
            # OpenSSL files a key by its kind: one of another kind than the certificate's finds no
            # certificate to go with; one of the same kind does not match it.
            if _kind(leaf_key) != _kind(key.public_key()):
                raise _ssl_error("NO_CERTIFICATE_ASSIGNED", "no certificate assigned: the key is of another kind "
                                 "than the certificate's")
            raise _ssl_error("KEY_VALUES_MISMATCH", "key values mismatch")
        try:
            credential = Credential.from_chain(chain, key)
        except (TypeError, ValueError) as exc:
            # The stdlib's reasons: an RSA key under 2048 bits (security level 2) in the leaf or above it.
            if "too small" not in str(exc):
                reason = "KEY_TYPE_UNSUPPORTED"
            elif isinstance(key, rsa.RSAPrivateKey) and key.key_size < MIN_RSA_BITS:
                reason = "EE_KEY_TOO_SMALL"
            else:
                reason = "CA_KEY_TOO_SMALL"
            raise _ssl_error(reason, str(exc)) from None
        # As OpenSSL does: another kind of key adds a certificate; the same kind replaces its own.
        # urllib3 loads a client certificate again for every connection: the same one changes nothing,
        # and the configuration built with it is kept.
        credentials = with_credential(self._t_credentials, credential)
        if credentials != self._t_credentials:
            self._t_credentials = credentials
            self._changed()

    def load_dh_params(self, path: str, /) -> None:
        """DHE groups are negotiated (RFC 7919): parameters that are one of ffdhe2048, ffdhe3072 or
        ffdhe4096 make that the server's only finite-field group; any other group is refused."""
        with open(path, "rb") as f:
            p, g = _dh_parameters(f.read())
        for name, group in FFDHE_GROUPS.items():
            if (group.p, group.g) == (p, g):
                self._t_dh_group = name
                self._changed()
                return
        known = ", ".join(g.name.lower() for g in FFDHE_GROUPS)
        raise ValueError(f"tls12 negotiates only the RFC 7919 groups ({known}); {os.fspath(path)!r} holds "
                         f"another {p.bit_length()}-bit group")

    # -- protocol settings ------------------------------------------------------

    @property  # type: ignore[override]
    def minimum_version(self) -> ssl.TLSVersion:
        return ssl.TLSVersion.TLSv1_2

    @minimum_version.setter
    def minimum_version(self, value: ssl.TLSVersion) -> None:
        version = ssl.TLSVersion(value)
        if version not in MINIMUM_VERSIONS:
            raise ValueError(f"tls12 speaks only TLS 1.2: cannot set minimum_version to {version.name}")

    @property  # type: ignore[override]
    def maximum_version(self) -> ssl.TLSVersion:
        return ssl.TLSVersion.TLSv1_2

    @maximum_version.setter
    def maximum_version(self, value: ssl.TLSVersion) -> None:
        """TLSv1_3 and MAXIMUM_SUPPORTED are upper bounds above what tls12 speaks: accepted."""
        version = ssl.TLSVersion(value)
        if version not in MAXIMUM_VERSIONS:
            raise ValueError(f"tls12 speaks only TLS 1.2: cannot set maximum_version to {version.name}")

    @property
    def options(self) -> ssl.Options:
        return ssl.Options(self._t_options)

    @options.setter
    def options(self, value: int) -> None:
        """See `policy.OPTIONS`; what tls12 always does keeps reading as set."""
        self._t_options = check_options(self._t_options, int(value), self._t_protocol)
        self._changed()

    def set_ciphers(self, ciphers: str, /) -> None:
        """An OpenSSL cipher string, evaluated by OpenSSL: the suites enabled are those of OpenSSL's
        list tls12 speaks, in OpenSSL's order; static RSA only when named (io/ciphers.py). One that
        enables none raises `ssl.SSLError("No cipher can be selected.")`, as the stdlib does."""
        self._t_suites = select_suites(ciphers, SPOKEN_SUITES).suites
        self._changed()

    def get_ciphers(self) -> list[Any]:
        """The suites enabled, in order, as the stdlib describes them."""
        return [cipher_info(suite) for suite in self._suites()]

    def set_alpn_protocols(self, alpn_protocols: Iterable[str]) -> None:
        protocols = tuple(alpn_protocols)
        for p in protocols:
            raw = p.encode("ascii") if isinstance(p, str) else bytes(p)
            if not 1 <= len(raw) <= 255:
                raise ValueError("ALPN protocols must be 1 to 255 in length")
        alpn = tuple(p if isinstance(p, str) else bytes(p).decode("ascii") for p in protocols)
        if alpn != self._t_alpn:  # urllib3 sets the same list again for every connection
            self._t_alpn = alpn
            self._changed()

    def set_npn_protocols(self, npn_protocols: Iterable[str]) -> None:
        raise NotImplementedError("NPN is obsolete; use set_alpn_protocols()")

    def set_ecdh_curve(self, name: str | bytes, /) -> None:
        key = name.decode("ascii") if isinstance(name, bytes) else name
        group = _CURVES.get(key.lower())
        if group is None:
            raise ValueError(f"unknown elliptic curve name {key!r}")
        self._t_curve = group
        self._changed()

    @property
    def post_handshake_auth(self) -> bool:
        """A TLS 1.3 feature: set or not, a TLS 1.2 connection never does it (as in the stdlib)."""
        return self._t_post_handshake_auth

    @post_handshake_auth.setter
    def post_handshake_auth(self, value: bool) -> None:
        self._t_post_handshake_auth = bool(value)

    @property
    def num_tickets(self) -> int:
        """TLS 1.3 session tickets per handshake: no effect on TLS 1.2 (as in the stdlib)."""
        return self._t_num_tickets

    @num_tickets.setter
    def num_tickets(self, value: int) -> None:
        if self._t_protocol != ssl.PROTOCOL_TLS_SERVER:
            raise ValueError("SSLContext is not a server context.")
        if int(value) < 0:
            raise ValueError("value must be non-negative")
        self._t_num_tickets = int(value)

    @property
    def security_level(self) -> int:  # type: ignore[override]
        return 2

    # -- key log and SNI ----------------------------------------------------------

    @property  # type: ignore[override]
    def keylog_filename(self) -> str | None:
        return self._t_keylog_filename

    @keylog_filename.setter
    def keylog_filename(self, value: str | os.PathLike[str] | None) -> None:
        if value is None:
            self._t_keylog_filename = None
            self._t_keylog = None
        else:
            path = os.fspath(value)
            with open(path, "a", encoding="ascii"):
                pass  # fail now, as the stdlib does, if it cannot be written
            self._t_keylog_filename = path
            self._t_keylog = key_log_writer(path)
        self._changed()

    @property
    def sni_callback(self) -> Callable[..., Any] | None:
        return self._t_sni_callback

    @sni_callback.setter
    def sni_callback(self, value: Callable[..., Any] | None) -> None:
        if self._t_protocol == ssl.PROTOCOL_TLS_CLIENT:
            raise ValueError("sni_callback cannot be set on TLS_CLIENT context")
        if value is not None and not callable(value):
            raise TypeError("not a callable object")
        self._t_sni_callback = value

    def set_servername_callback(self, server_name_callback: Callable[..., Any] | None) -> None:
        self.sni_callback = server_name_callback

    def session_stats(self) -> dict[str, int]:
        """The stdlib's counters, for what happened here. `number`: the sessions held (a server's by
        session ID, a client's cache); `cache_full`: those dropped to make room. `hits`: handshakes that
        resumed; `misses`: a session offered and not found (a server: an unknown session ID or a ticket
        it could not open; a client: the server did a full handshake); `timeouts`: a server found the
        session offered expired. Renegotiations: none, ever."""
        store, cache = self._t_session_store, self._t_client_sessions
        held = (len(store) if store is not None else 0) + (len(cache) if cache is not None else 0)
        dropped = (store.evicted if store is not None else 0) + (cache.evicted if cache is not None else 0)
        with self._t_lock:
            stats = dict(self._t_stats)
        stats["number"], stats["cache_full"] = held, dropped
        return stats

    def __reduce__(self) -> Any:
        raise TypeError("cannot pickle 'tls12.SSLContext' object")


_DH_PEM = re.compile(rb"-----BEGIN (X9\.42 )?DH PARAMETERS-----(.*?)-----END (X9\.42 )?DH PARAMETERS-----", re.S)


def _dh_parameters(data: bytes) -> tuple[int, int]:
    """(p, g) from PEM DH parameters: PKCS #3 ``SEQUENCE {p, g, ...}`` or X9.42 ``SEQUENCE {p, g, q, ...}``."""
    found = _DH_PEM.search(data)
    if found is None:
        raise _ssl_error("NO_START_LINE", "no start line: expected PEM DH PARAMETERS")
    try:
        p, g = (int.from_bytes(der.contents(field), "big") for field in der.children(base64.b64decode(found[2]))[:2])
    except ValueError:
        raise _ssl_error("BAD_BASE64_DECODE", "the DH parameters are damaged") from None
    return p, g


def _kind(key: Any) -> str:
    for kind in (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey):
        if isinstance(key, kind):
            return kind.__name__
    return type(key).__name__


def _spki(key: Any) -> bytes:
    data: bytes = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return data


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _load_der_sequence(data: bytes) -> list[x509.Certificate]:
    """Concatenated DER certificates, as `cadata` may carry them."""
    certs = []
    while data:
        if len(data) < 4 or data[0] != 0x30:
            raise _ssl_error("NOT_ENOUGH_DATA", "not enough data: cadata does not contain a certificate")
        if data[1] < 0x80:
            length, header = data[1], 2
        else:
            n = data[1] & 0x7F
            length, header = int.from_bytes(data[2 : 2 + n], "big"), 2 + n
        end = header + length
        try:
            certs.append(load_anchor_der(data[:end]))
        except ValueError:
            raise _ssl_error("NOT_ENOUGH_DATA", "cadata does not contain a valid DER certificate") from None
        data = data[end:]
    if not certs:
        raise _ssl_error("NOT_ENOUGH_DATA", "not enough data: cadata does not contain a certificate")
    return certs


def create_default_context(
    purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH,
    *,
    cafile: str | os.PathLike[str] | None = None,
    capath: str | os.PathLike[str] | None = None,
    cadata: str | bytes | None = None,
) -> SSLContext:
    """Like `ssl.create_default_context()`, for tls12 (including SSLKEYLOGFILE)."""
    if not isinstance(purpose, ssl._ASN1Object):
        raise TypeError(purpose)
    if purpose == ssl.Purpose.SERVER_AUTH:
        context = SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = True
    elif purpose == ssl.Purpose.CLIENT_AUTH:
        context = SSLContext(ssl.PROTOCOL_TLS_SERVER)
    else:
        raise ValueError(purpose)
    if sys.version_info >= (3, 13):
        # As the stdlib's from 3.13: a trusted intermediate may end a path; strict X.509 checks.
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_X509_STRICT
    if cafile or capath or cadata:
        context.load_verify_locations(cafile, capath, cadata)
    elif context.verify_mode != ssl.CERT_NONE:
        context.load_default_certs(purpose)
    keylogfile = os.environ.get("SSLKEYLOGFILE")
    if keylogfile and not sys.flags.ignore_environment:
        context.keylog_filename = keylogfile
    return context
