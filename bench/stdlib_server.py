#!/usr/bin/env python3
"""The stdlib side of the server benchmark: an asyncio echo server on the `ssl` module.

It is built the way `tls12 serve --echo` is (an `asyncio.Protocol` per connection
that writes back what it receives, reading paused while the transport's write
buffer is full), but TLS is the stdlib `ssl` module's, pinned to what tls12
speaks: TLS 1.2, ECDHE-RSA-AES256-GCM-SHA384, x25519, no session tickets.

    python bench/stdlib_server.py --cert leaf.pem --key leaf.key [--host 127.0.0.1] [--port 0]

It prints "listening on HOST:PORT" once ready and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl
import sys
from collections.abc import Sequence


def server_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-RSA-AES256-GCM-SHA384")
    ctx.set_ecdh_curve("X25519")
    ctx.options |= ssl.OP_NO_TICKET
    return ctx


class Echo(asyncio.Protocol):
    transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def eof_received(self) -> bool:
        return False

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()


async def serve(host: str, port: int, ctx: ssl.SSLContext) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = await loop.create_server(Echo, host, port, ssl=ctx)
    bound_host, bound_port = server.sockets[0].getsockname()[:2]
    print(f"stdlib ssl echo server: listening on {bound_host}:{bound_port}", flush=True)
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, server_context(args.cert, args.key)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
