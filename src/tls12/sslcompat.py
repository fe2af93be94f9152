"""The drop-in layer: `ssl`-module shapes over the tls12 engine.

    import tls12.sslcompat as tls
    ctx = tls.create_default_context(cafile="ca.pem")
    with socket.create_connection((host, port)) as raw, ctx.wrap_socket(raw, server_hostname=host) as s:
        ...

`SSLContext` works wherever an `ssl.SSLContext` is expected: asyncio
(`open_connection`, `start_server`, `start_tls`), `http.client`, `urllib.request`.
"""

from .io.ssl_errors import (
    SSLCertVerificationError,
    SSLEOFError,
    SSLError,
    SSLWantReadError,
    SSLWantWriteError,
    SSLZeroReturnError,
)
from .io.sslcontext import SSLContext, create_default_context
from .io.sslobject import SSLObject
from .io.sslsession import SSLSession
from .io.sslsocket import SSLSocket

__all__ = [
    "SSLCertVerificationError",
    "SSLContext",
    "SSLEOFError",
    "SSLError",
    "SSLObject",
    "SSLSession",
    "SSLSocket",
    "SSLWantReadError",
    "SSLWantWriteError",
    "SSLZeroReturnError",
    "create_default_context",
]
