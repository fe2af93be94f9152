"""`tls12 serve`: a real TLS 1.2 server on loopback, for browsers, curl and openssl.

    --www    answer each HTTP request with a small page describing the connection
    --echo   send back whatever arrives

--cert/--key may be given once per kind of key (RSA, ECDSA, Ed25519): the
server then holds each chain and picks, per handshake, the one the client's
suites and signature algorithms allow, as nginx and OpenSSL do. --ciphers takes
an OpenSSL cipher string (evaluated as `SSLContext.set_ciphers` does).
Without --cert it makes a throwaway CA and a certificate for localhost and
127.0.0.1 (--key-type picks its key; --write-ca saves the CA so clients can
trust it). Ctrl-C stops it.

Client certificates (RFC 5246 §7.4.4): --verify-client CAFILE requires one
that a CA in CAFILE issued for client authentication, --optional only asks for
one (a client without one gets in anonymously; one that sends a certificate
that does not verify is refused all the same). --write-client-cert FILE has the
throwaway CA issue a client certificate too and write it with its key to FILE;
the server then trusts that CA for client certificates (as well as CAFILE), so
the certificate it wrote is the one it requires. The log names each client by
its certificate (or "no client certificate"), and the --www page shows it.

It is meant to survive hostile clients while serving the others: a handshake
must finish within --handshake-timeout seconds of the connection being
accepted (however slowly the client keeps sending), an established connection
on which nothing moves for --idle-timeout seconds is closed, a client that
does not read what it is sent stops being read (so --echo buffers a bounded
amount per client), and beyond --max-connections open connections new ones
are dropped as they arrive. The file descriptor limit is raised to the hard
limit, and --max-connections is kept below it.

--workers N runs N processes on the one port (cli/workers.py: SO_REUSEPORT
where it spreads connections, one shared socket otherwise); a worker that dies
is restarted, and every log line of a worker starts with its pid.

Sessions resume by ticket and by session ID. --session-store memory keeps
sessions in each process; redis://HOST:PORT/DB keeps them, and the ticket keys,
in Redis for every worker on every machine. --ticket-keys FILE derives the
ticket keys from a secret in FILE (the same file on every machine: a fleet
without a store); otherwise, with memory, the parent makes one secret before
forking, so tickets open in every worker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import itertools
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from cryptography import x509

from ..certs import CertificateAuthority
from ..config import DEFAULT_MAX_CERTIFICATE_SIZE, ServerConfig
from ..crypto.credentials import Credential
from ..crypto.suites import SUITES, KeyExchange
from ..crypto.tickets import RotatingTicketKeys, TicketKeySource
from ..errors import CertificateError, HandshakeFailure, TLSError
from ..explain import FORMATS, Recorder, explain, render, to_json
from ..io.aio import HANDSHAKE_TIMEOUT, TLSServerProtocol, start_server
from ..io.credentials import key_slot, server_identity
from ..io.keylog import key_log_writer
from ..io.redisurl import check_redis_url, shown_url
from ..session import MemorySessionStore, SessionStore
from .ciphers import cipher_suites_option
from .files import FileProblem, check_writable, read_certificates, read_credential
from .identity import alt_names, identity, key_kind
from .output import escaped_explanation, printable
from .wirecapture import ServerCaptures
from .workers import WorkerContext, listen, run_workers

if sys.platform != "win32":
    import resource

__all__ = ["add_parser", "run"]

MAX_REQUEST_HEAD = 16 * 1024
#: The name (subject CN and subjectAltName) of the client certificate --write-client-cert writes.
CLIENT_NAME = "tls12-client"
IDLE_TIMEOUT = 300.0
MAX_CONNECTIONS = 1000
#: File descriptors kept free of connections (stdio, the listening socket, the event loop, files).
FD_RESERVE = 32


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _session_store(text: str) -> str:
    if text == "memory":
        return text
    try:
        return check_redis_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}; or: memory") from None


def _certificate_size(text: str) -> int:
    value = _positive_int(text)
    if not 1024 <= value <= 0xFFFFFF:
        raise argparse.ArgumentTypeError("must be between 1024 and 16777215 bytes")
    return value


def add_parser(commands: Any) -> None:
    p = commands.add_parser("serve", help="run a TLS 1.2 server (default 127.0.0.1:4433)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=4433, help="port to listen on (0 picks a free one)")
    p.add_argument("--cert", metavar="PEM", action="append",
                   help="certificate chain, leaf first (default: a throwaway one); once per kind of key "
                        "(RSA, ECDSA, Ed25519) to serve each to the clients that take it")
    p.add_argument("--key", metavar="PEM", action="append",
                   help="the leaf's private key, RSA, ECDSA or Ed25519 (default: from --cert); with several "
                        "--cert, one --key for each, in the same order")
    p.add_argument("--key-type", choices=("rsa", "ecdsa", "ed25519"), default=None,
                   help="the throwaway certificate's key (default rsa; ecdsa is P-256)")
    p.add_argument("--ciphers", metavar="STR",
                   help="the suites to enable, as an OpenSSL cipher string in preference order, e.g. "
                        "'ECDHE+AESGCM' or 'ECDHE-ECDSA-CHACHA20-POLY1305:HIGH' (static RSA only when named: kRSA)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--www", action="store_true", help="answer HTTP requests with a page about the connection")
    mode.add_argument("--echo", action="store_true", help="echo what the client sends (the default)")
    p.add_argument("--alpn", metavar="LIST", help="comma-separated ALPN protocols to accept, in preference order")
    p.add_argument("--keylog", metavar="FILE", help="append NSS key log lines (for Wireshark) to FILE")
    p.add_argument("--explain", choices=FORMATS,
                   help="explain each handshake step by step: text (printed), json (one object per line, "
                        "printed) or html (one page per connection, written to --explain-dir)")
    p.add_argument("--explain-dir", metavar="DIR", default=".",
                   help="where --explain html writes its pages (default: the current directory)")
    p.add_argument("--reveal-secrets", action="store_true",
                   help="show secret values in explanations (implied by --keylog)")
    p.add_argument("--write-ca", metavar="FILE", help="write the throwaway CA certificate to FILE")
    p.add_argument("--verify-client", metavar="CAFILE",
                   help="require a client certificate issued by a CA in CAFILE (PEM) for client authentication "
                        "(extended key usage clientAuth); --optional only asks for one")
    p.add_argument("--optional", action="store_true",
                   help="with --verify-client or --write-client-cert: ask for a client certificate but let clients "
                        "without one in (one that is sent must still verify)")
    p.add_argument("--write-client-cert", metavar="FILE",
                   help="have the throwaway CA also issue a client certificate (clientAuth, for "
                        f"{CLIENT_NAME}, with the --key-type key) and write it, then its key, to FILE as PEM (one "
                        "file: give it as --cert, and as --key where one is needed, to tls12 connect, curl or "
                        "openssl s_client); the server then requires client certificates from the throwaway CA "
                        "(besides --verify-client's CAFILE; --optional only asks)")
    p.add_argument("--capture", metavar="DIR",
                   help="write each connection to DIR as a pcapng file with its key log inside (Wireshark opens it "
                        "decrypted)")
    p.add_argument("--handshake-timeout", type=_positive_seconds, default=HANDSHAKE_TIMEOUT, metavar="SECONDS",
                   help=f"close connections whose handshake is not done this long after they were accepted "
                        f"(default {HANDSHAKE_TIMEOUT:g})")
    p.add_argument("--idle-timeout", type=_seconds, default=IDLE_TIMEOUT, metavar="SECONDS",
                   help=f"close established connections on which nothing moves for this long "
                        f"(default {IDLE_TIMEOUT:g}; 0: never)")
    p.add_argument("--max-connections", type=_positive_int, default=MAX_CONNECTIONS, metavar="N",
                   help=f"drop new connections while N are open (default {MAX_CONNECTIONS}; "
                        "kept below the file descriptor limit)")
    p.add_argument("--max-certificate-size", type=_certificate_size, default=DEFAULT_MAX_CERTIFICATE_SIZE,
                   metavar="BYTES",
                   help=f"the largest certificate chain taken from a client (default {DEFAULT_MAX_CERTIFICATE_SIZE}; "
                        "1024 to 16777215); every other handshake message is bounded by its RFC structure "
                        "(a ClientHello by 131396 bytes)")
    p.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                   help="serve the port from N processes (default 1); a worker that dies is restarted, "
                        "Ctrl-C stops them all")
    p.add_argument("--session-store", type=_session_store, default="memory", metavar="memory|redis://HOST:PORT/DB",
                   help="where sessions are kept for resumption by session ID (default memory: in each process, so "
                        "with --workers a session ID resumes only in the worker that made it); a Redis URL keeps "
                        "them, and the ticket keys unless --ticket-keys is given, in Redis for every worker on every "
                        "machine (pip install 'tls12[redis]')")
    p.add_argument("--ticket-keys", metavar="FILE",
                   help="derive the session ticket keys from the secret in FILE (64 hex digits, e.g. from "
                        "'openssl rand -hex 32'): every server given the same file opens every ticket (default: "
                        "a secret made at start, shared by this server's workers)")
    p.add_argument("--ticket-rotation", type=_positive_int, default=3600, metavar="SECONDS",
                   help="a new ticket key every SECONDS (default 3600); the two before it still open tickets")
    p.set_defaults(run=run)


def _served(conn: Any, credentials: Sequence[Credential]) -> str:
    """Which of the server's certificates this connection was given."""
    if len(credentials) == 1:
        return credentials[0].description
    credential = getattr(conn, "credential", None)  # the one the handshake chose among several
    return credential.description if isinstance(credential, Credential) else "?"


def negotiated(conn: Any, credentials: Sequence[Credential]) -> list[tuple[str, str]]:
    """What the page and the log say of a connection: suite, key exchange, group, signature, certificate."""
    spec = SUITES.get(conn.cipher_suite) if conn.cipher_suite is not None else None
    rsa_kx = spec is not None and spec.key_exchange is KeyExchange.RSA
    none = "(none: RSA key exchange)" if rsa_kx else "?"
    return [
        ("Cipher suite", f"{spec.suite.name} ({spec.openssl_name})" if spec else "?"),
        ("Key exchange", spec.key_exchange.value if spec else "?"),
        ("Group", conn.group.name.lower() if conn.group else none),
        ("Signature scheme", conn.signature_scheme.name.lower() if conn.signature_scheme else none),
        ("Certificate", _served(conn, credentials)),
    ]


def client_certificate(conn: Any, client_auth: str) -> list[tuple[str, str]]:
    """What the page says of the client's certificate: who it names, who issued it, its key, and
    the path it was verified along (the handshake fails on one that does not verify)."""
    chain = conn.peer_certificate_chain
    if not chain:
        asked = "not asked for" if client_auth == "none" else f"asked for, {client_auth}"
        return [("Client certificate", f"no client certificate ({asked})")]
    leaf = chain[0]
    path = conn.verified_certificate_chain
    verified = (f"yes (clientAuth), path of {len(path)} certificates to {path[-1].subject.rfc4514_string()}"
                if path else "no")
    return [
        ("Client certificate", leaf.subject.rfc4514_string() or "(empty subject)"),
        ("Client issuer", leaf.issuer.rfc4514_string()),
        ("Client names", ", ".join(alt_names(leaf)) or "(none)"),
        ("Client key", key_kind(leaf)),
        ("Client verified", verified),
    ]


def client_log(conn: Any) -> str:
    """How the log names the client: by its certificate, or "no client certificate"."""
    chain = conn.peer_certificate_chain
    if not chain:
        return "no client certificate"
    return f"client {identity(chain[0])}"


def failure_reason(conn: Any, exc: Exception, client_auth: str) -> str:
    """A failed connection's reason as the log gives it; one about the client's certificate says
    so, with the alert that told the client.

    Once the ServerHello is out (the server random is set), the only certificate the server
    checks is the client's, and the only handshake_failure left is a required certificate that
    did not come."""
    if client_auth == "none" or not isinstance(exc, TLSError) or not conn.server_random or conn.handshake_complete:
        return str(exc)
    alert = exc.alert.name.lower() if exc.alert is not None else "no alert"
    if isinstance(exc, CertificateError):
        return f"client certificate refused ({alert} sent): {exc}"
    if isinstance(exc, HandshakeFailure) and not conn.peer_certificate_chain:
        return f"no client certificate ({alert} sent): {exc}"
    return str(exc)


def connection_page(tls: TLSServerProtocol, credentials: Sequence[Credential] = (), client_auth: str = "none",
                    worker: int | None = None) -> str:
    conn = tls.conn
    rows = [
        ("Protocol", "TLSv1.2"),
        *negotiated(conn, credentials),
        ("ALPN", conn.alpn_protocol or "(none)"),
        ("SNI", conn.server_name or "(none)"),
        ("Extended master secret", "yes" if conn.extended_master_secret else "no"),
        ("Session", "resumed" if conn.session_reused else "new"),
        ("Client random", conn.client_random.hex()),
        *client_certificate(conn, client_auth),
        *([("Worker", f"pid {worker}")] if worker is not None else []),
    ]
    width = max(len(k) for k, _ in rows)
    body = "\n".join(f"{k + ':':<{width + 1}} {html.escape(v)}" for k, v in rows)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>tls12</title></head>\n"
        f"<body><h1>tls12 serve</h1>\n<pre>\n{body}\n</pre></body></html>\n"
    )


class WebApp:
    """Reads one request head, answers with the connection page, closes; logs the request line."""

    def __init__(self, log: Callable[[str], None] | None = None, credentials: Sequence[Credential] = (),
                 client_auth: str = "none", worker: int | None = None) -> None:
        self.head = bytearray()
        self.answered = False
        self.log = log
        self.credentials = credentials
        self.client_auth = client_auth
        self.worker = worker  # the pid of this worker of --workers, shown on the page

    def established(self, tls: TLSServerProtocol) -> None:
        pass

    def data_received(self, tls: TLSServerProtocol, data: bytes) -> None:
        if self.answered:
            return
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            end = self.head.find(b"\n\n")
        if end < 0:
            if len(self.head) > MAX_REQUEST_HEAD:
                self._answer(tls, "431 Request Header Fields Too Large", "HTTP/1.1", "request head too large\n",
                             request_line=bytes(self.head[:200]).decode("latin-1") + "...")
            return
        request_line = bytes(self.head.split(b"\n", 1)[0]).strip().decode("latin-1")
        parts = request_line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._answer(tls, "400 Bad Request", "HTTP/1.1", "bad request\n", request_line=request_line)
            return
        self._answer(tls, "200 OK", parts[2], connection_page(tls, self.credentials, self.client_auth, self.worker),
                     content_type="text/html; charset=utf-8",
                     request_line=request_line)

    def _answer(self, tls: TLSServerProtocol, status: str, version: str, body: str,
                content_type: str = "text/plain; charset=utf-8", *, request_line: str) -> None:
        self.answered = True
        if self.log is not None:
            self.log(f"{_peer(tls)} \"{request_line}\" {status.split(maxsplit=1)[0]}")
        payload = body.encode("utf-8")
        head = (f"{version} {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(payload)}\r\n"
                "Connection: close\r\nServer: tls12\r\n\r\n").encode("ascii")
        tls.write(head + payload)
        tls.close()

    def peer_closed(self, tls: TLSServerProtocol) -> None:
        pass


class EchoApp:
    def established(self, tls: TLSServerProtocol) -> None:
        pass

    def data_received(self, tls: TLSServerProtocol, data: bytes) -> None:
        tls.write(data)

    def peer_closed(self, tls: TLSServerProtocol) -> None:
        pass


def _credentials(args: argparse.Namespace) -> list[tuple[Credential, str]]:
    """Each --cert with its --key (matched by order; none: the key is in the --cert file), and where
    it came from; one per kind of key."""
    certs: list[str] = args.cert
    keys: list[str] = args.key or []
    if keys and len(keys) != len(certs):
        raise FileProblem(f"{len(certs)} --cert and {len(keys)} --key: give one --key for each --cert, in the same "
                          "order, or none when each --cert file holds its key")
    out: list[tuple[Credential, str]] = []
    slots: dict[str, str] = {}
    for i, cert in enumerate(certs):
        credential = read_credential(cert, keys[i] if keys else None, command="tls12 serve")
        files = f"--cert {cert}" + (f" and --key {keys[i]}" if keys else "")
        slot = key_slot(credential)
        if slot in slots:
            raise FileProblem(f"{files}: a second {slot} certificate ({slots[slot]} is one); serve one certificate "
                              "per kind of key (RSA, ECDSA, Ed25519)")
        slots[slot] = f"--cert {cert}"
        out.append((credential, cert))
    return out


def _config(args: argparse.Namespace) -> tuple[ServerConfig, str, tuple[Credential, ...]]:
    extra: dict[str, Any] = {"max_certificate_size": args.max_certificate_size}
    if args.alpn:
        extra["alpn_protocols"] = tuple(p for p in args.alpn.split(",") if p)
    if args.ciphers is not None:
        extra["cipher_suites"] = cipher_suites_option(args.ciphers)
    if args.keylog:
        check_writable(args.keylog, "--keylog", create=True)
        extra["key_log"] = key_log_writer(args.keylog)
    if args.explain == "html" and not os.path.isdir(args.explain_dir):
        raise FileProblem(f"--explain-dir {args.explain_dir}: not a directory; expected one to write pages to")
    client_anchors: list[x509.Certificate] = []
    if args.verify_client:
        client_anchors += read_certificates(args.verify_client, "--verify-client")
    extra["session_store"], extra["ticket_keys"] = _sessions(args)
    if args.cert:
        loaded = _credentials(args)
        credentials = tuple(c for c, _ in loaded)
        client, asks = _client_auth(args, client_anchors)
        try:
            config = ServerConfig(**server_identity(credentials), **client, **extra)
        except (TypeError, ValueError) as exc:
            raise FileProblem(f"{', '.join('--cert ' + f for _, f in loaded)}: {exc}") from None
        about = "; ".join(f"{c.description} from {f}" for c, f in loaded)
        return config, about + asks, credentials
    for path, option in ((args.write_ca, "--write-ca"), (args.write_client_cert, "--write-client-cert")):
        if path:
            check_writable(path, option)
    ca = CertificateAuthority("tls12 serve throwaway CA")
    key_type = args.key_type or "rsa"
    leaf = ca.issue(("localhost", "127.0.0.1"), key_type=key_type)
    if args.write_ca:
        with open(args.write_ca, "wb") as f:
            f.write(ca.cert_pem())
    where = f", CA written to {args.write_ca}" if args.write_ca else " (use --write-ca to trust it)"
    if args.write_client_cert:
        client_leaf = ca.issue((CLIENT_NAME,), key_type=key_type, client=True)
        _write_private(args.write_client_cert, client_leaf.cert_pem() + client_leaf.key_pem())
        client_anchors.append(ca.certificate)
        where += f", client certificate for {CLIENT_NAME} written to {args.write_client_cert}"
    client, asks = _client_auth(args, client_anchors)
    credential = leaf.credential()
    config = ServerConfig(**server_identity([credential]), **client, **extra)
    return (config, f"throwaway {credential.key_type} certificate for localhost and 127.0.0.1{where}{asks}",
            (credential,))


def _client_auth(args: argparse.Namespace, anchors: Sequence[x509.Certificate]) -> tuple[dict[str, Any], str]:
    """The ServerConfig arguments that ask for client certificates issued by `anchors` (none: no
    asking), and what the first log line says of it."""
    if not anchors:
        return {}, ""
    policy = "optional" if args.optional else "required"
    issuers = "; ".join(dict.fromkeys(a.subject.rfc4514_string() for a in anchors))
    return ({"client_auth": policy, "client_trust_anchors": list(anchors)},
            f"; client certificate {policy}, issued by: {issuers}")


def _write_private(path: str, data: bytes) -> None:
    """Write a file that holds a private key: readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        if hasattr(os, "fchmod"):
            os.fchmod(f.fileno(), 0o600)  # O_CREAT's mode applies only to a new file
        f.write(data)


def _sessions(args: argparse.Namespace) -> tuple[SessionStore, TicketKeySource]:
    """The session store and ticket keys of --session-store, --ticket-keys and --ticket-rotation.

    Made before any worker is forked: a ticket secret made here is every worker's; a Redis client
    connects in each worker on first use (redis-py starts its pool afresh in a forked child); a
    MemorySessionStore becomes one store per worker."""
    keys: TicketKeySource | None = None
    if args.ticket_keys:
        try:
            keys = RotatingTicketKeys.from_file(args.ticket_keys, rotation=args.ticket_rotation)
        except OSError as exc:
            raise FileProblem(f"--ticket-keys {args.ticket_keys}: cannot read it ({exc.strerror or exc})") from None
        except ValueError as exc:
            raise FileProblem(f"--ticket-keys: {exc} (make one with: openssl rand -hex 32 > FILE)") from None
    if args.session_store == "memory":
        return MemorySessionStore(), keys or RotatingTicketKeys(rotation=args.ticket_rotation)
    try:
        from ..io.redisstore import RedisSessionStore, RedisTicketKeys  # noqa: PLC0415  (optional: the redis extra)
    except ImportError as exc:
        raise FileProblem(f"--session-store {shown_url(args.session_store)}: needs redis-py, which is not "
                          f"installed ({exc}); pip install 'tls12[redis]'") from None
    store = RedisSessionStore(args.session_store)
    return store, keys or RedisTicketKeys(args.session_store, rotation=args.ticket_rotation)


class _Logged:
    """The application, plus the per-connection log line and --explain recording.

    Everything per connection lives here (and so goes away with the connection)."""

    def __init__(self, app: WebApp | EchoApp, recorder: Recorder | None, log: _Log,
                 explain: Callable[[Recorder, str], None] | None = None,
                 credentials: Sequence[Credential] = (), client_auth: str = "none") -> None:
        self.app = app
        self.recorder = recorder
        self.log = log
        self._explain = explain
        self.credentials = credentials
        self.client_auth = client_auth

    def explain(self, peer: str = "?") -> None:
        recorder, self.recorder = self.recorder, None
        if recorder is None or self._explain is None:
            return
        try:
            self._explain(recorder, peer)
        except Exception as exc:  # a half-finished handshake must not take the server's callbacks down
            self.log(f"tls12 serve: cannot explain this connection: {exc!r}")

    def established(self, tls: TLSServerProtocol) -> None:
        conn = tls.conn
        peer = _peer(tls)
        scheme = conn.signature_scheme.name.lower() if conn.signature_scheme else "-"
        self.log(f"{peer} handshake ok: {conn.cipher_suite.name if conn.cipher_suite else '?'}, "
                 f"{conn.group.name.lower() if conn.group else '-'}, {scheme}, SNI {conn.server_name or '-'}, "
                 f"ALPN {conn.alpn_protocol or '-'}, EMS {'yes' if conn.extended_master_secret else 'no'}, "
                 f"session {'resumed' if conn.session_reused else 'new'}, certificate "
                 f"{_served(conn, self.credentials)}" + (f", {client_log(conn)}" if self.client_auth != "none" else ""))
        if self.recorder is not None:
            self.explain(peer)
        self.app.established(tls)

    def data_received(self, tls: TLSServerProtocol, data: bytes) -> None:
        self.app.data_received(tls, data)

    def peer_closed(self, tls: TLSServerProtocol) -> None:
        self.app.peer_closed(tls)


class _Log:
    """Lines to stdout; once stdout is gone (a closed pipe), the server keeps serving silently.

    Every line goes through `printable()`: what a client sent (a request line, a
    name, bytes quoted in an error) can neither forge a line nor drive the terminal."""

    def __init__(self, prefix: str = "") -> None:
        self.broken = False
        self.prefix = prefix  # "worker PID: " in a worker of --workers

    def __call__(self, line: str) -> None:
        self._write(self.prefix + printable(line))

    def explanation(self, text: str) -> None:
        """A text explanation, many lines (and colours) as rendered: every string in it that a peer
        sent went through the same `printable()` in `escaped_explanation()`, before rendering."""
        self._write(text)

    def _write(self, text: str) -> None:
        if self.broken:
            return
        try:
            # One write of the whole line: the workers of --workers share stdout, and a line
            # written in two pieces could be split by another worker's.
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):
            self.broken = True
            # Point stdout at /dev/null so that the flush at exit does not complain either.
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)


class _LogHandler(logging.Handler):
    """Logger "tls12" (a session store going away and coming back, ...) into the serve log."""

    def __init__(self, log: _Log) -> None:
        super().__init__(logging.INFO)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.log(f"tls12 serve: {record.getMessage()}")
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def _logging_to(log: _Log) -> Iterator[None]:
    logger = logging.getLogger("tls12")
    handler, level = _LogHandler(log), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _raise_fd_limit() -> int | None:
    """Raise the soft limit on open files to the hard limit; the soft limit now in force."""
    if sys.platform == "win32":
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and (soft == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (OSError, ValueError):
            pass
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _connection_limit(wanted: int) -> int:
    fds = _raise_fd_limit()
    if fds is None:
        return wanted
    return max(1, min(wanted, fds - FD_RESERVE))


async def _serve(args: argparse.Namespace, config: ServerConfig, about: str,
                 credentials: Sequence[Credential] = (), captures: ServerCaptures | None = None,
                 worker: WorkerContext | None = None) -> int:
    """Serve until SIGINT or SIGTERM (or, in a worker, until the parent is gone)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    pid = os.getpid() if worker else None  # a worker of --workers names itself
    log = _Log(f"worker {pid}: " if worker else "")
    tag = f"{pid}-" if worker else ""  # workers' file names must not collide
    if captures is not None:
        captures.name_prefix = f"tls12-serve-{tag}"

    def on_failure(tls: TLSServerProtocol, exc: Exception) -> None:
        log(f"{_peer(tls)} failed: {failure_reason(tls.conn, exc, config.client_auth)}")
        if isinstance(tls.app, _Logged):
            tls.app.explain(_peer(tls))

    def on_refused(peer: Any) -> None:
        log(f"{_addr(peer)} refused: {server.max_connections} connections are open (--max-connections)")

    explained = itertools.count(1)
    reveal = bool(args.reveal_secrets or args.keylog)

    def explain_connection(recorder: Recorder, peer: str) -> None:
        """Log the explanation of one connection (text, json), or write it to a page (html) and log where."""
        title = f"tls12 serve: a connection from {peer}"
        if args.explain == "json":
            log(json.dumps(to_json(explain(recorder.events, title=title), reveal_secrets=reveal)))
        elif args.explain == "html":
            number = next(explained)
            path = os.path.join(args.explain_dir, f"tls12-serve-{tag}{number}-{peer.replace(':', '-')}.html")
            with open(path, "w", encoding="utf-8") as f:
                f.write(render(recorder.events, "html", reveal_secrets=reveal, title=title))
            log(f"{peer} explanation written to {path}")
        else:
            color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
            exp = escaped_explanation(explain(recorder.events, title=title))
            log.explanation(render(exp, "text", reveal_secrets=reveal, color=color))

    def factory() -> TLSServerProtocol:
        recorder = Recorder() if args.explain else None
        served = WebApp(log, credentials, config.client_auth, pid) if args.www else EchoApp()
        app = _Logged(served, recorder, log, explain_connection, credentials, config.client_auth)
        protocol = captures.protocol if captures else TLSServerProtocol
        return protocol(config, app, tracer=recorder.tracer("server") if recorder else None,
                        on_failure=on_failure, handshake_timeout=args.handshake_timeout,
                        idle_timeout=args.idle_timeout or None)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = await start_server(factory, args.host, args.port,
                                max_connections=_connection_limit(args.max_connections), on_refused=on_refused,
                                sock=worker.sock if worker else None)
    if worker is not None:
        loop.add_reader(worker.lifeline, stop.set)  # readable only at its end: the parent is gone
        worker.ready()
    else:
        host, port = server.sockets[0].getsockname()[:2]
        log(f"tls12 serve: listening on {host}:{port} ({_mode(args)}; {about})")
    try:
        with _logging_to(log):
            await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if worker is not None:
            loop.remove_reader(worker.lifeline)
        await server.close()
    if worker is None:
        log("tls12 serve: stopped")
    return 0


def _mode(args: argparse.Namespace) -> str:
    return "www" if args.www else "echo"


def _serve_workers(args: argparse.Namespace, config: ServerConfig, about: str,
                   credentials: Sequence[Credential], captures: ServerCaptures | None) -> int:
    """--workers N: bind here, fork N workers that each run `_serve`, restart those that die."""
    log = _Log()
    try:
        listening = listen(args.host, args.port)
    except OSError as exc:
        print(f"tls12 serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    how = "SO_REUSEPORT" if listening.reuse_port else "one shared socket"

    def serve_one(worker: WorkerContext) -> int:
        return asyncio.run(_serve(args, config, about, credentials, captures, worker))

    def all_ready() -> None:
        log(f"tls12 serve: listening on {listening.host}:{listening.port} ({_mode(args)}; {about}; "
            f"{args.workers} workers, {how})")

    status = run_workers(args.workers, listening, serve_one, log, all_ready)
    log("tls12 serve: stopped")
    return status


def _peer(tls: TLSServerProtocol) -> str:
    return _addr(tls.transport.get_extra_info("peername") if tls.transport else None)


def _addr(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return "?"


def run(args: argparse.Namespace) -> int:
    if args.key and not args.cert:
        print("tls12 serve: --key needs --cert", file=sys.stderr)
        return 2
    if args.workers > 1 and not hasattr(os, "fork"):
        print("tls12 serve: --workers needs fork(), which this system does not have", file=sys.stderr)
        return 2
    if args.key_type and args.cert:
        print("tls12 serve: --key-type is for the throwaway certificate; --cert gives the certificate's own key",
              file=sys.stderr)
        return 2
    if args.write_client_cert and args.cert:
        print("tls12 serve: --write-client-cert is for the throwaway CA; with --cert, issue client certificates "
              "with your own CA and give its certificate to --verify-client", file=sys.stderr)
        return 2
    if args.optional and not (args.verify_client or args.write_client_cert):
        print("tls12 serve: --optional goes with --verify-client CAFILE (or --write-client-cert FILE): it makes "
              "the client certificate they require optional", file=sys.stderr)
        return 2
    try:
        config, about, credentials = _config(args)
    except FileProblem as exc:
        print(f"tls12 serve: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError, TypeError) as exc:
        print(f"tls12 serve: cannot load the certificate or key: {exc}", file=sys.stderr)
        return 2
    try:
        captures = ServerCaptures(args.capture, config) if args.capture else None  # adds its own key_log
    except (FileProblem, ValueError) as exc:  # a bad directory, or the pcap extra missing
        print(f"tls12 serve: {exc}", file=sys.stderr)
        return 2
    config = captures.config if captures else config
    if args.session_store != "memory":
        shared = "sessions" if args.ticket_keys else "sessions and ticket keys"
        about += f"; {shared} in Redis at {shown_url(args.session_store)}"
    if args.ticket_keys:
        about += f"; ticket keys from {args.ticket_keys}"
    if args.workers > 1:
        return _serve_workers(args, config, about, credentials, captures)
    try:
        return asyncio.run(_serve(args, config, about, credentials, captures))
    except OSError as exc:
        print(f"tls12 serve: {exc}", file=sys.stderr)
        return 1
