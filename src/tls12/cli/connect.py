"""`tls12 connect HOST:PORT`: a TLS 1.2 client for trying servers, like `openssl s_client`.

It verifies the server's chain and name by default (the system trust store,
or --cafile), prints what was negotiated and the certificate, optionally
sends text or an HTTP GET and prints the answer, and exits non-zero with
the reason when anything fails.
"""

from __future__ import annotations

import argparse
import socket
import sys
from typing import Any, TextIO

from cryptography import x509

from ..config import ClientConfig
from ..connection import ClientConnection
from ..errors import TLSError
from ..explain import Recorder, render
from ..io.keylog import key_log_writer
from ..io.sync import BlockingTLS
from .output import add_explain_options, use_color, write_out

__all__ = ["add_parser", "run"]

TIMEOUT = 10.0
MAX_RESPONSE = 16 * 1024 * 1024


def add_parser(commands: Any) -> None:
    p = commands.add_parser("connect", help="connect to a TLS server and show what was negotiated")
    p.add_argument("target", metavar="HOST:PORT")
    p.add_argument("--servername", help="the name to send (SNI) and verify (default: HOST)")
    p.add_argument("--cafile", metavar="PEM", help="trust these CA certificates instead of the system store")
    p.add_argument("--insecure", action="store_true", help="do not verify the certificate (testing only)")
    p.add_argument("--alpn", metavar="LIST", help="comma-separated ALPN protocols to offer, e.g. h2,http/1.1")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--send", metavar="TEXT", help="send TEXT, then print what comes back until the server closes")
    what.add_argument("--http-get", metavar="PATH", help="send an HTTP/1.1 GET for PATH and print the response")
    p.add_argument("--keylog", metavar="FILE", help="append the NSS key log line (for Wireshark) to FILE")
    add_explain_options(p, default=None,
                        secrets_help="show secret values (premaster, master secret, keys); --keylog implies it")
    p.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds to wait for the network (default 10)")
    p.set_defaults(run=run)


def split_target(target: str) -> tuple[str, int]:
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {target!r}")
    return host.strip("[]"), int(port)


def describe_certificate(cert: x509.Certificate) -> list[str]:
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
    server_name = args.servername or host
    extra: dict[str, Any] = {}
    if args.alpn:
        extra["alpn_protocols"] = tuple(p for p in args.alpn.split(",") if p)
    if args.keylog:
        extra["key_log"] = key_log_writer(args.keylog)
    try:
        config = ClientConfig(cafile=args.cafile, verify_certificates=not args.insecure, **extra)
    except (OSError, ValueError) as exc:
        print(f"tls12 connect: {exc}", file=sys.stderr)
        return 2
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
        text = render(recorder.events, fmt, reveal_secrets=args.reveal_secrets or bool(args.keylog),
                      color=use_color(fmt, args.output, explanation_out),
                      title=f"tls12 connect {host}:{port}",
                      subtitle=f"Traced at the client (server name {server_name!r}): the server's choices are "
                               "seen through its messages.")
        write_out(text, args.output, explanation_out)

    try:
        with socket.create_connection((host, port), timeout=args.timeout) as sock:
            tls = BlockingTLS(sock, conn)
            tls.handshake()
            if at_handshake:
                explain()
            _print_session(out, conn, config)
            if args.send is not None or args.http_get is not None:
                if args.http_get is not None:
                    request = (f"GET {args.http_get} HTTP/1.1\r\nHost: {server_name}\r\n"
                               "Connection: close\r\nUser-Agent: tls12\r\n\r\n")
                else:
                    request = args.send
                tls.send(request.encode("utf-8"))
                received = 0
                while received < MAX_RESPONSE:
                    data = tls.recv()
                    if not data:
                        break
                    received += len(data)
                    out.write(data.decode("utf-8", "replace"))
                out.flush()
            tls.close()
    except TLSError as exc:
        explain()
        print(f"tls12 connect: handshake or connection failed: {exc}", file=sys.stderr)
        alert = exc.alert
        if alert is not None:
            print(f"tls12 connect: sent alert {alert.name.lower()}", file=sys.stderr)
        return 1
    except OSError as exc:
        explain()
        print(f"tls12 connect: {host}:{port}: {exc}", file=sys.stderr)
        return 1
    explain()
    return 0


def _print_session(out: TextIO, conn: ClientConnection, config: ClientConfig) -> None:
    verified = "verified" if config.verify_certificates else "NOT verified (--insecure)"
    lines = [
        "Connected: TLSv1.2",
        f"  cipher suite:     {conn.cipher_suite.name if conn.cipher_suite else '?'} (ECDHE-RSA-AES256-GCM-SHA384)",
        f"  group:            {conn.group.name.lower() if conn.group else '?'}",
        f"  signature scheme: {conn.signature_scheme.name.lower() if conn.signature_scheme else '?'}",
        f"  extended master secret: {'yes' if conn.extended_master_secret else 'no'}",
        f"  ALPN:             {conn.alpn_protocol or '(none)'}",
        f"  SNI sent:         {conn.server_name or '(none)'}",
        f"Server certificate ({verified}, chain of {len(conn.peer_certificate_chain)}):",
    ]
    if conn.peer_certificate_chain:
        lines += describe_certificate(conn.peer_certificate_chain[0])
    out.write("\n".join(lines) + "\n")
    out.flush()
