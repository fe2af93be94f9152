"""`tls12 demo`: our client and our server over loopback, explained step by step.

Needs no set-up: a throwaway CA and server certificate are made in memory,
the server listens on 127.0.0.1 on a free port, the client verifies it, one
message goes each way, and both ends close with close_notify. Both ends are
traced, so the explanation shows what each one sent, chose, checked and
derived. ``--keylog`` writes the connection's NSS key log line and
``--capture`` the bytes both ways, which ``tls12 explain`` replays offline.
With ``--client-cert`` the handshake is mutual TLS: a second throwaway CA
issues the client a certificate, and the server requires it. With ``--resume``
the client connects twice: the first, full handshake leaves it a session (a
ticket, or with ``--resume id`` a session ID the server keeps in its store),
and the second connection, the one explained (and logged and captured),
resumes it with an abbreviated handshake (RFC 5246 §7.3).
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
from ..session import Session
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
    p.add_argument("--resume", nargs="?", const="ticket", choices=("ticket", "id"),
                   help="connect twice and explain the second connection, which resumes the first one's session "
                        "(an abbreviated handshake): by its ticket (the default), or by its session ID (the client "
                        "asks for no ticket and the server keeps the session in its store)")
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


def _serve_one(listener: socket.socket, config: ServerConfig, recorder: Recorder | None,
               result: dict[str, object]) -> None:
    try:
        sock, _ = listener.accept()
        with sock:
            sock.settimeout(_TIMEOUT)
            tls = BlockingTLS(sock, ServerConnection(config, tracer=recorder.tracer("server") if recorder else None))
            tls.handshake()
            received = tls.recv()
            if recorder is not None:
                recorder.application_data("server", "in", received)
            result["received"] = received
            tls.send(SERVER_MESSAGE)
            if recorder is not None:
                recorder.application_data("server", "out", SERVER_MESSAGE)
            tls.close()
    except (TLSError, OSError) as exc:
        result["error"] = exc


def _connect_once(listener: socket.socket, client: ClientConnection, server_config: ServerConfig,
                  recorder: Recorder | None, flows: FlowRecorder | None) -> Exception | None:
    """One connection of our client to our server (served in a thread): a message each way, then close_notify.
    Traced into `recorder` and captured into `flows` when they are given. The first error, if any."""
    server_result: dict[str, object] = {}
    host, port = listener.getsockname()
    thread = threading.Thread(target=_serve_one, args=(listener, server_config, recorder, server_result))
    thread.start()
    client_error: Exception | None = None
    try:
        sock = socket.create_connection((host, port), timeout=_TIMEOUT)
        with _Tap(sock, flows) if flows is not None else sock as conn:
            tls = BlockingTLS(conn, client)
            tls.handshake()
            tls.send(CLIENT_MESSAGE)
            if recorder is not None:
                recorder.application_data("client", "out", CLIENT_MESSAGE)
            reply = tls.recv()
            if recorder is not None:
                recorder.application_data("client", "in", reply)
            tls.close()
    except (TLSError, OSError) as exc:
        client_error = exc
    thread.join(_TIMEOUT)
    error = server_result.get("error")
    return client_error or (error if isinstance(error, Exception) else None)


def _first_session(session: Session, how: str) -> str:
    """What the first connection left the client, in a sentence."""
    if how == "ticket" and session.ticket:
        return (f"a ticket of {len(session.ticket)} bytes (its key name {session.ticket[:16].hex()}, lifetime hint "
                f"{session.ticket_lifetime_hint} s)")
    return f"the session ID {session.session_id.hex()}, which the server keeps in its session store"


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
    resume: str | None = args.resume
    if resume == "id":
        client_config = dataclasses.replace(client_config, session_tickets=False)
    recorder = Recorder()
    flows = FlowRecorder()
    session: Session | None = None
    story = ""
    error: Exception | None = None

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(_TIMEOUT)
        host, port = listener.getsockname()
        if resume is not None:
            first = ClientConnection(client_config, server_name="localhost")
            error = _connect_once(listener, first, server_config, None, None)
            session = first.session
            if error is None and session is None:
                error = RuntimeError("the first connection left the client no session to resume")
            if session is not None:
                story = (f"\nConnection 1, a full handshake (plain tls12 demo explains one), left the client "
                         f"{_first_session(session, resume)}. Connection 2, explained here, offers it, and the "
                         "server resumes the session: an abbreviated handshake.")
        if error is None:
            client = ClientConnection(client_config, server_name="localhost", session=session,
                                      tracer=recorder.tracer("client"))
            error = _connect_once(listener, client, server_config, recorder, flows)

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
        f"{SERVER_MESSAGE.decode()!r}, then both close.{mutual}{story}"))
    fmt = args.explain
    text = render(exp, fmt, reveal_secrets=args.reveal_secrets or bool(args.keylog),
                  color=use_color(fmt, args.output))
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
