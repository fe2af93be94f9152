"""`tls12 demo`: our client and our server over loopback, explained step by step.

Needs no set-up: a throwaway CA and server certificate are made in memory,
the server listens on 127.0.0.1 on a free port, the client verifies it, one
message goes each way, and both ends close with close_notify.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
from typing import Any, TextIO

from ..certs import CertificateAuthority
from ..config import ClientConfig, ServerConfig
from ..connection import ClientConnection, ServerConnection
from ..errors import TLSError
from ..explain import Recorder, build_steps, render_text
from ..io.sync import BlockingTLS

__all__ = ["add_parser", "run"]

CLIENT_MESSAGE = b"hello from the tls12 client"
SERVER_MESSAGE = b"hello back from the tls12 server"
_TIMEOUT = 10.0


def add_parser(commands: Any) -> None:
    p = commands.add_parser("demo", help="run our client against our server on 127.0.0.1 and explain every step")
    p.add_argument("--explain", choices=["text"], default="text", help="how to show the handshake (default: text)")
    p.add_argument("--output", metavar="FILE", help="write the explanation to FILE instead of the terminal")
    p.add_argument("--keylog", metavar="FILE", help="append the NSS key log line (for Wireshark) to FILE")
    p.add_argument("--reveal-secrets", action="store_true", help="print secret values (premaster, master, keys)")
    p.set_defaults(run=run)


def _serve_one(listener: socket.socket, config: ServerConfig, recorder: Recorder, result: dict[str, object]) -> None:
    try:
        sock, _ = listener.accept()
        with sock:
            sock.settimeout(_TIMEOUT)
            tls = BlockingTLS(sock, ServerConnection(config, tracer=recorder.tracer("server")))
            tls.handshake()
            result["received"] = tls.recv()
            tls.send(SERVER_MESSAGE)
            tls.close()
    except (TLSError, OSError) as exc:
        result["error"] = exc


def run(args: argparse.Namespace) -> int:
    keylog_lines: list[str] = []
    ca = CertificateAuthority("tls12 demo CA")
    leaf = ca.issue(("localhost", "127.0.0.1"))
    server_config = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key)
    client_config = ClientConfig(trust_anchors=[ca.certificate], key_log=keylog_lines.append)
    recorder = Recorder()
    server_result: dict[str, object] = {}

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(_TIMEOUT)
        host, port = listener.getsockname()
        thread = threading.Thread(target=_serve_one, args=(listener, server_config, recorder, server_result))
        thread.start()
        client = ClientConnection(client_config, server_name="localhost", tracer=recorder.tracer("client"))
        client_error: Exception | None = None
        reply = b""
        try:
            with socket.create_connection((host, port), timeout=_TIMEOUT) as sock:
                tls = BlockingTLS(sock, client)
                tls.handshake()
                tls.send(CLIENT_MESSAGE)
                reply = tls.recv()
                tls.close()
        except (TLSError, OSError) as exc:
            client_error = exc
        thread.join(_TIMEOUT)

    if args.keylog and keylog_lines:
        with open(args.keylog, "a", encoding="ascii") as f:
            f.writelines(line + "\n" for line in keylog_lines)

    out: TextIO
    to_file = args.output is not None
    out = open(args.output, "w", encoding="utf-8") if to_file else sys.stdout  # noqa: SIM115
    try:
        color = not to_file and sys.stdout.isatty()
        out.write(f"tls12 demo: our client and our server over {host}:{port}\n")
        issuer = ca.certificate.subject.rfc4514_string()
        out.write(f"  server certificate for localhost, issued by a throwaway CA ({issuer})\n")
        out.write(render_text(build_steps(recorder.events), reveal_secrets=args.reveal_secrets or bool(args.keylog),
                              color=color))
        error = client_error or server_result.get("error")
        if error is not None:
            out.write(f"\nhandshake failed: {error}\n")
            return 1
        out.write("\nApplication data (AES-256-GCM records, explicit nonce = sequence number)\n")
        received = server_result.get("received")
        out.write(f"    client → server  {CLIENT_MESSAGE.decode()!r}  (server received {received!r})\n")
        out.write(f"    server → client  {SERVER_MESSAGE.decode()!r}  (client received {reply!r})\n")
        out.write("\nClose: each side sent close_notify; the connection ended cleanly.\n")
        out.write(
            f"\nNegotiated: {client.version.name if client.version else '?'}, "
            f"{client.cipher_suite.name if client.cipher_suite else '?'}, "
            f"group {client.group.name.lower() if client.group else '?'}, "
            f"signature {client.signature_scheme.name.lower() if client.signature_scheme else '?'}, "
            f"extended master secret {'yes' if client.extended_master_secret else 'no'}\n"
        )
        if args.keylog:
            out.write(f"Key log written to {args.keylog} "
                      "(Wireshark: TLS protocol preferences, (Pre)-Master-Secret log)\n")
    finally:
        if to_file:
            out.close()
    return 0
