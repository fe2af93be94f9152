"""`tls12 demo`: our client and our server over loopback, explained step by step.

Needs no set-up: a throwaway CA and server certificate are made in memory,
the server listens on 127.0.0.1 on a free port, the client verifies it, one
message goes each way, and both ends close with close_notify. Both ends are
traced, so the explanation shows what each one sent, chose, checked and
derived. ``--keylog`` writes the connection's NSS key log line and
``--capture`` the bytes both ways, which ``tls12 explain`` replays offline.
With ``--client-cert`` the handshake is mutual TLS: a second throwaway CA
issues the client a certificate, and the server requires it.
"""

from __future__ import annotations

import argparse
import dataclasses
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any

from ..certs import CertificateAuthority
from ..config import ClientConfig, ServerConfig
from ..connection import ClientConnection, ServerConnection
from ..errors import TLSError
from ..explain import Recorder, explain, render
from ..explain.capture import C2S, S2C, FlowRecorder, format_flows
from ..io.sync import BlockingTLS
from .output import add_explain_options, use_color, write_out

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["CLIENT_MESSAGE", "CLIENT_NAME", "SERVER_MESSAGE", "add_parser", "run"]

CLIENT_MESSAGE = b"hello from the tls12 client"
CLIENT_NAME = "client.localhost"  # the name on the demo's client certificate (--client-cert)
SERVER_MESSAGE = b"hello back from the tls12 server"
_TIMEOUT = 10.0


def add_parser(commands: Any) -> None:
    p = commands.add_parser("demo", help="run our client against our server on 127.0.0.1 and explain every step")
    add_explain_options(p, default="text",
                        secrets_help="show secret values (premaster, master secret, keys); --keylog implies it")
    p.add_argument("--keylog", metavar="FILE", help="append the NSS key log line (for Wireshark) to FILE")
    p.add_argument("--capture", metavar="FILE",
                   help="write the bytes both ways to FILE (flows format), for: tls12 explain FILE --keylog ...")
    p.add_argument("--client-cert", action="store_true",
                   help="mutual TLS: the server requires a client certificate, which a second throwaway CA issues "
                        "to the client")
    p.set_defaults(run=run)


class _Tap(socket.socket):
    """The client's socket, copying every byte that goes out or comes in to a `FlowRecorder`."""

    def __init__(self, sock: socket.socket, flows: FlowRecorder) -> None:
        timeout = sock.gettimeout()
        super().__init__(sock.family, sock.type, sock.proto, fileno=sock.detach())
        self.settimeout(timeout)
        self._flows = flows

    def sendall(self, data: ReadableBuffer, flags: int = 0, /) -> None:
        self._flows.add(C2S, bytes(data))
        super().sendall(data, flags)

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        data = super().recv(bufsize, flags)
        self._flows.add(S2C, data)
        return data


def _serve_one(listener: socket.socket, config: ServerConfig, recorder: Recorder, result: dict[str, object]) -> None:
    try:
        sock, _ = listener.accept()
        with sock:
            sock.settimeout(_TIMEOUT)
            tls = BlockingTLS(sock, ServerConnection(config, tracer=recorder.tracer("server")))
            tls.handshake()
            received = tls.recv()
            recorder.application_data("server", "in", received)
            result["received"] = received
            tls.send(SERVER_MESSAGE)
            recorder.application_data("server", "out", SERVER_MESSAGE)
            tls.close()
    except (TLSError, OSError) as exc:
        result["error"] = exc


def run(args: argparse.Namespace) -> int:
    keylog_lines: list[str] = []
    ca = CertificateAuthority("tls12 demo CA")
    leaf = ca.issue(("localhost", "127.0.0.1"))
    server_config = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key)
    client_config = ClientConfig(trust_anchors=[ca.certificate], key_log=keylog_lines.append)
    mutual = ""
    if args.client_cert:
        client_ca = CertificateAuthority("tls12 demo client CA")
        issued = client_ca.issue((CLIENT_NAME,), key_type="ecdsa-p256", client=True)
        server_config = dataclasses.replace(server_config, client_auth="required",
                                            client_trust_anchors=[client_ca.certificate])
        client_config = dataclasses.replace(client_config, client_credentials=[issued.credential()])
        mutual = (f"\nMutual TLS: the server requires a client certificate; another throwaway CA "
                  f"({client_ca.certificate.subject.rfc4514_string()}) issued one for {CLIENT_NAME} (ECDSA P-256), "
                  "which the client presents and the server verifies.")
    recorder = Recorder()
    flows = FlowRecorder()
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
        try:
            with _Tap(socket.create_connection((host, port), timeout=_TIMEOUT), flows) as sock:
                tls = BlockingTLS(sock, client)
                tls.handshake()
                tls.send(CLIENT_MESSAGE)
                recorder.application_data("client", "out", CLIENT_MESSAGE)
                reply = tls.recv()
                recorder.application_data("client", "in", reply)
                tls.close()
        except (TLSError, OSError) as exc:
            client_error = exc
        thread.join(_TIMEOUT)

    if args.keylog and keylog_lines:
        with open(args.keylog, "a", encoding="ascii") as f:
            f.writelines(line + "\n" for line in keylog_lines)
    if args.capture:
        with open(args.capture, "w", encoding="ascii") as f:
            f.write(format_flows(flows.flows, [
                f"tls12 demo: our client and our server over {host}:{port}, captured at the client's socket.",
                "Replay it with: tls12 explain THIS_FILE --keylog KEYLOG (the key log from --keylog).",
            ]))

    issuer = ca.certificate.subject.rfc4514_string()
    exp = explain(recorder.events, title=f"tls12 demo: our client and our server over {host}:{port}", subtitle=(
        f"A throwaway CA ({issuer}) issued the server's certificate for localhost and 127.0.0.1;\n"
        f"the client trusts that CA only. The client sends {CLIENT_MESSAGE.decode()!r}, the server answers "
        f"{SERVER_MESSAGE.decode()!r}, then both close.{mutual}"))
    fmt = args.explain
    text = render(exp, fmt, reveal_secrets=args.reveal_secrets or bool(args.keylog),
                  color=use_color(fmt, args.output))
    error = client_error or server_result.get("error")
    epilogue = []
    if error is not None:
        epilogue.append(f"\nhandshake failed: {error}\n")
    if args.keylog:
        epilogue.append(f"Key log written to {args.keylog} (Wireshark: TLS protocol preferences, "
                        "(Pre)-Master-Secret log filename).\n")
    if args.capture:
        epilogue.append(f"Capture written to {args.capture}: tls12 explain {args.capture}"
                        + (f" --keylog {args.keylog}" if args.keylog else " --keylog KEYLOG") + "\n")
    if fmt == "text":
        write_out(text + "".join(epilogue), args.output)
    else:
        write_out(text, args.output)
        sys.stderr.write("".join(epilogue))
    return 1 if error is not None else 0
