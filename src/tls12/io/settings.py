"""What a connection of the drop-in layer needs from the context that made it.

`tls12.SSLContext` satisfies this protocol; the sockets, the BIO objects and
the engine know the context only through it, so `sslcontext` can import them
without their importing it back.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any, Protocol

from ..config import ClientConfig, ServerConfig
from ..session import Session
from .sslsession import CacheKey

__all__ = ["ContextSettings"]


class ContextSettings(Protocol):
    """The context's settings a connection reads, the counters it bumps, and a client's session cache."""

    @property
    def protocol(self) -> ssl._SSLMethod: ...

    @property
    def check_hostname(self) -> bool: ...

    @property
    def sni_callback(self) -> Callable[..., Any] | None: ...

    @property
    def _ignore_unexpected_eof(self) -> bool: ...

    def _client_config(self) -> ClientConfig: ...

    def _server_config(self) -> ServerConfig: ...

    def _count(self, *keys: str) -> None: ...

    def _now(self) -> float: ...

    def _cached_session(self, key: CacheKey) -> Session | None: ...

    def _keep_session(self, key: CacheKey, session: Session) -> None: ...

    def _forget_session(self, key: CacheKey, session: Session) -> None: ...

    def wrap_socket(
        self,
        sock: Any,
        server_side: bool = ...,
        do_handshake_on_connect: bool = ...,
        suppress_ragged_eofs: bool = ...,
        server_hostname: str | bytes | None = ...,
        session: Any = ...,
    ) -> Any: ...
