"""`tls12 connect HOST:PORT`: a TLS 1.2 client for trying servers, like `openssl s_client`.

It verifies the server's chain and name by default (the system trust store,
or --cafile), prints what was negotiated and the certificate, optionally
sends text or an HTTP GET and prints the answer, and exits non-zero with
the reason when anything fails.

With --cert (and --key, unless the key is in the --cert file, as openssl and
curl allow) it answers a server's CertificateRequest with that certificate,
when it fits what the server asks for (RFC 5246 §7.4.6); it prints whether
the server asked and what was sent, and when the server refuses the
connection over its client certificate, says so and what to do.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
from typing import Any, TextIO

from ..config import ClientConfig
from ..connection import ClientConnection
from ..crypto.suites import SUITES, KeyExchange
from ..errors import TLSError, TruncatedConnection, UnknownCA
from ..explain import Recorder, render
from ..explain import explain as build_explanation
from ..io.keylog import key_log_writer
from ..io.sync import BlockingTLS
from .ciphers import cipher_suites_option
from .clientcert import ClientCertificate
from .files import FileProblem, check_writable, read_certificates, read_credential
from .http import response_framing
from .identity import describe_certificate, is_for_client_auth, key_kind
from .output import add_explain_options, escaped_explanation, use_color, write_out
from .wirecapture import ClientCapture, tapped

__all__ = ["add_parser", "run"]

TIMEOUT = 10.0
MAX_RESPONSE = 16 * 1024 * 1024
#: With --send: close our side once the server has not begun to answer for this long (seconds),
#: or, once it has, has been quiet for QUIET_WAIT.
ANSWER_WAIT = 2.0
QUIET_WAIT = 0.5


def add_parser(commands: Any) -> None:
    p = commands.add_parser("connect", help="connect to a TLS server and show what was negotiated")
    p.add_argument("target", metavar="HOST:PORT")
    p.add_argument("--servername", help="the name to send (SNI) and verify (default: HOST)")
    p.add_argument("--cafile", metavar="PEM", help="trust these CA certificates instead of the system store")
    p.add_argument("--insecure", action="store_true", help="do not verify the certificate (testing only)")
    p.add_argument("--alpn", metavar="LIST", help="comma-separated ALPN protocols to offer, e.g. h2,http/1.1")
    p.add_argument("--ciphers", metavar="STR",
                   help="the suites to offer, as an OpenSSL cipher string in preference order, e.g. "
                        "'ECDHE-ECDSA-AES128-GCM-SHA256' or 'CHACHA20' (static RSA only when named: kRSA)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--send", metavar="TEXT",
                      help="send TEXT, print what comes back, close our side once the server is quiet, "
                           "and print what follows until the server closes")
    what.add_argument("--http-get", metavar="PATH", help="send an HTTP/1.1 GET for PATH and print the response")
    p.add_argument("--cert", metavar="PEM",
                   help="a client certificate chain, leaf first, sent when the server asks for one (the file may "
                        "hold the key too)")
    p.add_argument("--key", metavar="PEM", help="the client certificate's private key (default: from --cert)")
    p.add_argument("--keylog", metavar="FILE", help="append the NSS key log line (for Wireshark) to FILE")
    p.add_argument("--capture", metavar="FILE.pcapng",
                   help="write the connection to FILE.pcapng, with its key log inside: Wireshark opens it decrypted")
    add_explain_options(p, default=None,
                        secrets_help="show secret values (premaster, master secret, keys); --keylog implies it")
    p.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds to wait for the network (default 10)")
    p.set_defaults(run=run)


def split_target(target: str) -> tuple[str, int]:
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {target!r}")
    return host.strip("[]"), int(port)


class _Timeout(Exception):
    """The network went quiet for --timeout seconds; the message says during what."""


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.explain not in (None, "text") and args.output is None:
        # The JSON or HTML goes to standard output alone; everything else to standard error.
        explanation_out, out = out, sys.stderr
    else:
        explanation_out = out
    try:
        host, port = split_target(args.target)
    except ValueError as exc:
        print(f"tls12 connect: {exc}", file=sys.stderr)
        return 2
    if args.key and not args.cert:
        print("tls12 connect: --key needs --cert (the client certificate it is the key of)", file=sys.stderr)
        return 2
    server_name = args.servername or host
    extra: dict[str, Any] = {}
    if args.alpn:
        extra["alpn_protocols"] = tuple(p for p in args.alpn.split(",") if p)
    try:
        if args.ciphers is not None:
            extra["cipher_suites"] = cipher_suites_option(args.ciphers)
        if args.cafile:
            extra["trust_anchors"] = read_certificates(args.cafile, "--cafile")
        if args.keylog:
            check_writable(args.keylog, "--keylog", create=True)
            extra["key_log"] = key_log_writer(args.keylog)
        if args.output:
            check_writable(args.output, "--output")
        client_certificate = ClientCertificate(
            read_credential(args.cert, args.key, command="tls12 connect") if args.cert else None)
        extra["client_credential_callback"] = client_certificate
        capture = ClientCapture(args.capture, extra) if args.capture else None  # takes over extra["key_log"]
        config = ClientConfig(verify_certificates=not args.insecure, **extra)
    except (FileProblem, OSError, ValueError) as exc:
        print(f"tls12 connect: {exc}", file=sys.stderr)
        return 2
    if client_certificate.credential is not None and not is_for_client_auth(client_certificate.credential.leaf):
        print(f"tls12 connect: warning: --cert {args.cert} is not for client authentication (its extended key "
              "usage lacks clientAuth): servers that check (most do) will refuse it", file=sys.stderr)
    recorder = Recorder() if args.explain else None
    conn = ClientConnection(config, server_name=server_name,
                            tracer=recorder.tracer("client") if recorder else None)

    # Text on the terminal comes right after the handshake, as the step-by-step account of it; a file,
    # JSON or HTML is written at the end, so it also holds the application data and the close.
    at_handshake = args.explain == "text" and args.output is None
    explained = False

    def explain() -> None:
        nonlocal explained
        if recorder is None or explained or not recorder.events:
            return
        explained = True
        fmt = args.explain
        exp = build_explanation(recorder.events, title=f"tls12 connect {host}:{port}",
                                subtitle=f"Traced at the client (server name {server_name!r}): the server's "
                                         "choices are seen through its messages.")
        text = render(escaped_explanation(exp) if fmt == "text" else exp, fmt,
                      reveal_secrets=args.reveal_secrets or bool(args.keylog),
                      color=use_color(fmt, args.output, explanation_out))
        write_out(text, args.output, explanation_out)

    def fail(message: str) -> int:
        explain()
        print(f"tls12 connect: {message}", file=sys.stderr)
        return 1

    phase = f"connecting to {host}:{port}"
    try:
        with tapped(socket.create_connection((host, port), timeout=args.timeout), capture) as sock:
            tls = BlockingTLS(sock, conn)
            phase = "handshake"
            tls.handshake()
            phase = "after the handshake"
            if at_handshake:
                explain()
            _print_session(out, conn, config)
            client_certificate.print(out)
            if args.http_get is not None:
                warning = _http_get(tls, args.http_get, server_name, out)
                if warning:
                    print(f"tls12 connect: warning: {warning}", file=sys.stderr)
            elif args.send is not None:
                _send(tls, args.send.encode("utf-8"), out, min(ANSWER_WAIT, args.timeout),
                      min(QUIET_WAIT, args.timeout))
            else:
                _close_and_print(tls, out, 0)
    except TLSError as exc:
        what = "handshake failed" if phase == "handshake" else "connection failed"
        explain()
        print(f"tls12 connect: {what}: {exc}", file=sys.stderr)
        if exc.alert is not None:
            print(f"tls12 connect: sent alert {exc.alert.name.lower()}", file=sys.stderr)
        refused = client_certificate.refusal(exc, args.cert)
        if refused:
            print(f"tls12 connect: {refused}", file=sys.stderr)
        elif isinstance(exc, UnknownCA):
            print("tls12 connect: hint: " + (
                f"no CA certificate in {args.cafile} issued the server's chain; give the right one with --cafile"
                if args.cafile else
                "a server whose certificate comes from a private CA needs --cafile CA.pem (that CA's "
                "certificate); --insecure connects without verifying"), file=sys.stderr)
        return 1
    except _Timeout as exc:
        return fail(f"timed out after {args.timeout:g} s {exc}")
    except TimeoutError:
        if phase == "handshake":
            during = ("waiting for the ServerHello (is this a TLS port?)" if conn.version is None
                      else "during the handshake, after the ServerHello")
        elif phase == "after the handshake":
            during = "reading from the server"  # (the loops after the handshake raise _Timeout with the detail)
        else:
            during = phase
        return fail(f"timed out after {args.timeout:g} s {during}")
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        if phase == "handshake":
            maybe = (" (after the server asked for a client certificate: it may have refused "
                     + ("the one sent)" if client_certificate.sent else "to go on without one)")
                     if client_certificate.requested else "")
            return fail(f"{host}:{port}: the connection broke during the handshake{maybe}: {reason}")
        return fail(f"{host}:{port}: {reason}")
    explain()
    return 0


def _http_get(tls: BlockingTLS, path: str, server_name: str, out: TextIO) -> str | None:
    """GET `path`, print the response; the warning to show if the server did not close cleanly.

    A server that closes without close_notify (Python's http.server does) may
    have cut the response short; one that is complete by its own framing was
    not, so it is printed with a warning, as curl does. One that stops early,
    or that only the close delimits, is an error (`TruncatedConnection`)."""
    request = (f"GET {path} HTTP/1.1\r\nHost: {server_name}\r\n"
               "Connection: close\r\nUser-Agent: tls12\r\n\r\n")
    tls.send(request.encode("utf-8"))
    response = bytearray()
    framing = response_framing(b"")
    try:
        while len(response) < MAX_RESPONSE:
            try:
                data = tls.recv()
            except TimeoutError:
                if framing.state == "complete":
                    return (f"the server did not close the connection after the response (complete by "
                            f"{framing.detail})")
                raise _Timeout("reading the response") from None
            if not data:
                break
            response += data
            out.write(data.decode("utf-8", "replace"))
            out.flush()
            framing = response_framing(response)  # walks the head and the chunk headers, not the body
            if framing.state == "complete" and not tls.conn.close_sent:
                # Our close_notify: a server that keeps the connection open despite "Connection: close"
                # answers it and closes; one that closes anyway does so as it would have.
                tls.conn.close()
                tls.sock.sendall(tls.conn.data_to_send())
    except (TruncatedConnection, OSError) as exc:
        if framing.state == "complete":
            return (f"the server closed the connection without close_notify (the response is complete by "
                    f"{framing.detail})")
        if isinstance(exc, OSError):
            raise
        if framing.state == "incomplete":
            raise TruncatedConnection(f"the response is truncated: the server closed the connection without "
                                      f"close_notify after {framing.detail}") from exc
        raise TruncatedConnection(f"the server closed the connection without close_notify, and the response "
                                  f"may be truncated ({framing.detail})") from exc
    with contextlib.suppress(OSError, TLSError, _Timeout):
        _close_and_print(tls, out, len(response))
    return None


def _send(tls: BlockingTLS, data: bytes, out: TextIO, wait: float, quiet: float) -> None:
    """Send `data`, print what comes back, close our side, and print what follows until the peer closes.

    Our close_notify goes once the server has not begun to answer for `wait`
    seconds, or has been quiet for `quiet` seconds since its last data: a TLS
    1.2 peer that reads our data and our close_notify together must answer
    the close at once, "discarding any pending writes" (RFC 5246 §7.2.1), and
    an echo would be lost."""
    tls.send(data)
    sock = tls.sock
    timeout = sock.gettimeout()
    received = 0
    try:
        sock.settimeout(wait)
        while received < MAX_RESPONSE:
            try:
                chunk = tls.recv()
            except TimeoutError:
                break
            if not chunk:
                return  # the peer closed first (close_notify); ours went back at once
            received += len(chunk)
            out.write(chunk.decode("utf-8", "replace"))
            out.flush()
            sock.settimeout(quiet)
    finally:
        sock.settimeout(timeout)
    _close_and_print(tls, out, received)


def _close_and_print(tls: BlockingTLS, out: TextIO, received: int) -> None:
    """Our close_notify (if not sent yet), then print what still comes until the peer closes.

    We closed first, so a peer that answers by closing the transport without
    its own close_notify cuts nothing short that it meant to send."""
    if not tls.conn.close_sent:
        tls.conn.close()
        tls.sock.sendall(tls.conn.data_to_send())
    try:
        while received < MAX_RESPONSE:
            try:
                chunk = tls.recv()
            except TimeoutError:
                raise _Timeout("waiting for the server to close after our close_notify") from None
            if not chunk:
                break
            received += len(chunk)
            out.write(chunk.decode("utf-8", "replace"))
            out.flush()
    except (TruncatedConnection, ConnectionResetError):
        pass


def _print_session(out: TextIO, conn: ClientConnection, config: ClientConfig) -> None:
    verified = "verified" if config.verify_certificates else "NOT verified (--insecure)"
    spec = SUITES.get(conn.cipher_suite) if conn.cipher_suite is not None else None
    none = "(none: RSA key exchange)" if spec is not None and spec.key_exchange is KeyExchange.RSA else "?"
    lines = [
        "Connected: TLSv1.2",
        f"  cipher suite:     {f'{spec.suite.name} ({spec.openssl_name})' if spec else '?'}",
        f"  key exchange:     {spec.key_exchange.value if spec else '?'}",
        f"  group:            {conn.group.name.lower() if conn.group else none}",
        f"  signature scheme: {conn.signature_scheme.name.lower() if conn.signature_scheme else none}",
        f"  extended master secret: {'yes' if conn.extended_master_secret else 'no'}",
        f"  ALPN:             {conn.alpn_protocol or '(none)'}",
        f"  SNI sent:         {conn.server_name or '(none)'}",
        f"Server certificate ({verified}, chain of {len(conn.peer_certificate_chain)}):",
    ]
    if conn.peer_certificate_chain:
        lines += describe_certificate(conn.peer_certificate_chain[0])
        lines.append(f"  key:      {key_kind(conn.peer_certificate_chain[0])}")
    out.write("\n".join(lines) + "\n")
    out.flush()
