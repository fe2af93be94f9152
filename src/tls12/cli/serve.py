"""`tls12 serve`: a real TLS 1.2 server on loopback, for browsers, curl and openssl.

    --www    answer each HTTP request with a small page describing the connection
    --echo   send back whatever arrives

Without --cert it makes a throwaway CA and a certificate for localhost and
127.0.0.1 (--write-ca saves the CA so clients can trust it). Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import signal
import sys
from typing import Any

from ..certs import CertificateAuthority
from ..config import ServerConfig
from ..explain import Recorder, build_steps, render_text
from ..io.aio import TLSServerProtocol
from ..io.keylog import key_log_writer

__all__ = ["add_parser", "run"]

MAX_REQUEST_HEAD = 16 * 1024


def add_parser(commands: Any) -> None:
    p = commands.add_parser("serve", help="run a TLS 1.2 server (default 127.0.0.1:4433)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=4433, help="port to listen on (0 picks a free one)")
    p.add_argument("--cert", metavar="PEM", help="certificate chain, leaf first (default: a throwaway one)")
    p.add_argument("--key", metavar="PEM", help="the leaf's RSA private key (default: from --cert)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--www", action="store_true", help="answer HTTP requests with a page about the connection")
    mode.add_argument("--echo", action="store_true", help="echo what the client sends (the default)")
    p.add_argument("--alpn", metavar="LIST", help="comma-separated ALPN protocols to accept, in preference order")
    p.add_argument("--keylog", metavar="FILE", help="append NSS key log lines (for Wireshark) to FILE")
    p.add_argument("--explain", choices=["text"], help="print each handshake step by step")
    p.add_argument("--write-ca", metavar="FILE", help="write the throwaway CA certificate to FILE")
    p.set_defaults(run=run)


def connection_page(tls: TLSServerProtocol) -> str:
    conn = tls.conn
    rows = [
        ("Protocol", "TLSv1.2"),
        ("Cipher suite", f"{conn.cipher_suite.name} (ECDHE-RSA-AES256-GCM-SHA384)" if conn.cipher_suite else "?"),
        ("Group", conn.group.name.lower() if conn.group else "?"),
        ("Signature scheme", conn.signature_scheme.name.lower() if conn.signature_scheme else "?"),
        ("ALPN", conn.alpn_protocol or "(none)"),
        ("SNI", conn.server_name or "(none)"),
        ("Extended master secret", "yes" if conn.extended_master_secret else "no"),
        ("Client random", conn.client_random.hex()),
    ]
    width = max(len(k) for k, _ in rows)
    body = "\n".join(f"{k + ':':<{width + 1}} {html.escape(v)}" for k, v in rows)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>tls12</title></head>\n"
        f"<body><h1>tls12 serve</h1>\n<pre>\n{body}\n</pre></body></html>\n"
    )


class WebApp:
    """Reads one request head, answers with the connection page, closes."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.answered = False

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
                self._answer(tls, "431 Request Header Fields Too Large", "HTTP/1.1", "request head too large\n")
            return
        request_line = bytes(self.head.split(b"\n", 1)[0]).strip().decode("latin-1")
        parts = request_line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._answer(tls, "400 Bad Request", "HTTP/1.1", "bad request\n")
            return
        self._answer(tls, "200 OK", parts[2], connection_page(tls), content_type="text/html; charset=utf-8")

    def _answer(self, tls: TLSServerProtocol, status: str, version: str, body: str,
                content_type: str = "text/plain; charset=utf-8") -> None:
        self.answered = True
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


def _config(args: argparse.Namespace) -> tuple[ServerConfig, str]:
    extra: dict[str, Any] = {}
    if args.alpn:
        extra["alpn_protocols"] = tuple(p for p in args.alpn.split(",") if p)
    if args.keylog:
        extra["key_log"] = key_log_writer(args.keylog)
    if args.cert:
        return ServerConfig.from_pem_files(args.cert, args.key, **extra), f"certificate from {args.cert}"
    ca = CertificateAuthority("tls12 serve throwaway CA")
    leaf = ca.issue(("localhost", "127.0.0.1"))
    if args.write_ca:
        with open(args.write_ca, "wb") as f:
            f.write(ca.cert_pem())
    where = f", CA written to {args.write_ca}" if args.write_ca else " (use --write-ca to trust it)"
    config = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key, **extra)
    return config, f"throwaway certificate for localhost and 127.0.0.1{where}"


async def _serve(args: argparse.Namespace, config: ServerConfig, about: str) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    active: set[TLSServerProtocol] = set()

    def log(line: str) -> None:
        print(line, flush=True)

    def on_failure(tls: TLSServerProtocol, exc: Exception) -> None:
        peer = tls.transport.get_extra_info("peername") if tls.transport else None
        log(f"{_addr(peer)} failed: {exc}")
        _explain(tls)

    def on_closed(tls: TLSServerProtocol) -> None:
        active.discard(tls)

    recorders: dict[int, Recorder] = {}

    def _explain(tls: TLSServerProtocol) -> None:
        recorder = recorders.pop(id(tls), None)
        if recorder is not None:
            log(render_text(build_steps(recorder.events), color=sys.stdout.isatty()))

    class _Logged:
        def __init__(self, app: WebApp | EchoApp) -> None:
            self.app = app

        def established(self, tls: TLSServerProtocol) -> None:
            peer = tls.transport.get_extra_info("peername") if tls.transport else None
            conn = tls.conn
            log(f"{_addr(peer)} handshake ok: {conn.cipher_suite.name if conn.cipher_suite else '?'}, "
                f"{conn.group.name.lower() if conn.group else '?'}, SNI {conn.server_name or '-'}, "
                f"ALPN {conn.alpn_protocol or '-'}, EMS {'yes' if conn.extended_master_secret else 'no'}")
            _explain(tls)
            self.app.established(tls)

        def data_received(self, tls: TLSServerProtocol, data: bytes) -> None:
            self.app.data_received(tls, data)

        def peer_closed(self, tls: TLSServerProtocol) -> None:
            self.app.peer_closed(tls)

    def factory() -> TLSServerProtocol:
        recorder = Recorder() if args.explain else None
        app = _Logged(WebApp() if args.www else EchoApp())
        tls = TLSServerProtocol(config, app, tracer=recorder.tracer("server") if recorder else None,
                                on_failure=on_failure, on_closed=on_closed)
        if recorder is not None:
            recorders[id(tls)] = recorder
        active.add(tls)
        return tls

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = await loop.create_server(factory, args.host, args.port)
    host, port = server.sockets[0].getsockname()[:2]
    mode = "www" if args.www else "echo"
    log(f"tls12 serve: listening on {host}:{port} ({mode}; {about})")
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        server.close()
        for tls in list(active):
            tls.close()
        await server.wait_closed()
    log("tls12 serve: stopped")
    return 0


def _addr(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return "?"


def run(args: argparse.Namespace) -> int:
    if args.key and not args.cert:
        print("tls12 serve: --key needs --cert", file=sys.stderr)
        return 2
    try:
        config, about = _config(args)
    except (OSError, ValueError, TypeError) as exc:
        print(f"tls12 serve: cannot load the certificate or key: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(args, config, about))
    except OSError as exc:
        print(f"tls12 serve: {exc}", file=sys.stderr)
        return 1
