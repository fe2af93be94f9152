"""`--capture`: what `tls12 connect` and `tls12 serve` send and receive, written as pcapng.

Each connection becomes one pcapng file (`explain.pcapwrite.ConnectionWriter`)
with the connection's key log line in a Decryption Secrets Block, so that
Wireshark, tshark and `tls12 explain` open it decrypted with no key log given.
The bytes are taken at the socket: `tap()` wraps the client's socket;
`ServerCaptures.protocol` makes server connections that copy what arrives
and what their transport writes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import ServerConfig
from ..explain.pcapfile import pcapng_module
from ..explain.pcapwrite import ConnectionWriter
from ..io.aio import TLSServerProtocol
from .files import FileProblem, check_writable

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["ClientCapture", "ServerCaptures", "tapped"]


def _tee(first: Callable[[str], None] | None, second: Callable[[str], None]) -> Callable[[str], None]:
    def both(line: str) -> None:
        if first is not None:
            first(line)
        second(line)

    return both


def _endpoint(address: Any) -> tuple[str, int]:
    return str(address[0]).split("%")[0], int(address[1])


class ClientCapture:
    """`tls12 connect --capture FILE.pcapng`: the key log callback to configure, and the socket to tap."""

    def __init__(self, path: str, config_options: dict[str, Any]) -> None:
        """Check `path` and the pcap extra; the `key_log` of `config_options` is teed into the capture."""
        if not path.endswith(".pcapng"):
            raise FileProblem(f"--capture {path}: the capture is written as pcapng; give a name ending in .pcapng")
        check_writable(path, "--capture")
        pcapng_module()  # without the pcap extra: PcapSupportMissing (a ValueError) before connecting
        self.path = path
        self._writer: ConnectionWriter | None = None
        self._line: str | None = None
        config_options["key_log"] = _tee(config_options.get("key_log"), self._key_log)

    def _key_log(self, line: str) -> None:
        self._line = line
        if self._writer is not None:
            self._writer.key_log(line)

    def tap(self, sock: socket.socket) -> socket.socket:
        """`sock`, copying what goes over it into the capture; closing it closes the capture."""
        self._writer = ConnectionWriter(self.path, _endpoint(sock.getsockname()), _endpoint(sock.getpeername()),
                                        application="tls12 connect")
        return _Tap(sock, self._writer)


def tapped(sock: socket.socket, capture: ClientCapture | None) -> socket.socket:
    return capture.tap(sock) if capture is not None else sock


class _Tap(socket.socket):
    def __init__(self, sock: socket.socket, writer: ConnectionWriter) -> None:
        timeout = sock.gettimeout()
        super().__init__(sock.family, sock.type, sock.proto, fileno=sock.detach())
        self.settimeout(timeout)
        self._writer = writer

    def sendall(self, data: ReadableBuffer, flags: int = 0, /) -> None:
        self._writer.data("client", bytes(data))
        super().sendall(data, flags)

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        data = super().recv(bufsize, flags)
        self._writer.data("server", data)
        return data

    def close(self) -> None:
        self._writer.close()
        super().close()


class ServerCaptures:
    """`tls12 serve --capture DIR`: one pcapng file per connection in DIR."""

    def __init__(self, directory: str, config: ServerConfig) -> None:
        if not os.path.isdir(directory):
            raise FileProblem(f"--capture {directory}: not a directory; expected one to write a capture per "
                              "connection to")
        pcapng_module()  # without the pcap extra: PcapSupportMissing (a ValueError) before serving
        self.directory = directory
        self._numbers = itertools.count(1)
        self.name_prefix = "tls12-serve-"  # a worker of --workers adds its pid
        self._lines: dict[str, str] = {}  # client random (hex) -> key log line, until its connection takes it
        self._lock = threading.Lock()
        self.config = dataclasses.replace(config, key_log=_tee(config.key_log, self._key_log))

    def _key_log(self, line: str) -> None:
        parts = line.split()
        if len(parts) == 3:
            with self._lock:
                self._lines[parts[1].lower()] = line

    def take_line(self, client_random: bytes | None) -> str | None:
        if client_random is None:
            return None
        with self._lock:
            return self._lines.pop(client_random.hex(), None)

    def path_for(self, peer: tuple[str, int]) -> str:
        name = f"{self.name_prefix}{next(self._numbers)}-{peer[0].replace(':', '-')}-{peer[1]}.pcapng"
        return os.path.join(self.directory, name)

    def protocol(self, config: ServerConfig, app: Any, **options: Any) -> TLSServerProtocol:
        """A server connection whose bytes both ways go into a capture of its own (like `TLSServerProtocol`)."""
        return _CapturingProtocol(self, config, app, **options)


class _CapturingProtocol(TLSServerProtocol):
    def __init__(self, captures: ServerCaptures, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._captures = captures
        self._writer: ConnectionWriter | None = None
        self._keyed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer, local = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
        if peer is not None and local is not None:
            self._writer = ConnectionWriter(self._captures.path_for(_endpoint(peer)), _endpoint(peer),
                                            _endpoint(local), application="tls12 serve")
            transport = _TapTransport(transport, self._written)  # type: ignore[arg-type]
        super().connection_made(transport)

    def _written(self, data: bytes) -> None:
        if self._writer is None:
            return
        if not self._keyed:
            line = self._captures.take_line(self.conn.client_random if self.conn.version is not None else None)
            if line is not None:
                self._keyed = True
                self._writer.key_log(line)
        self._writer.data("server", data)

    def data_received(self, data: bytes) -> None:
        if self._writer is not None:
            self._writer.data("client", data)
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._writer is not None:
            if not self._keyed:
                line = self._captures.take_line(self.conn.client_random if self.conn.version is not None else None)
                if line is not None:
                    self._writer.key_log(line)
            self._writer.close()


class _TapTransport(asyncio.Transport):
    """The connection's transport, copying every write to `on_write` first."""

    def __init__(self, inner: asyncio.Transport, on_write: Callable[[bytes], None]) -> None:
        super().__init__()
        self._inner = inner
        self._on_write = on_write

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._on_write(bytes(data))
        self._inner.write(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._inner.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self._inner.is_closing()

    def close(self) -> None:
        self._inner.close()

    def abort(self) -> None:
        self._inner.abort()

    def can_write_eof(self) -> bool:
        return self._inner.can_write_eof()

    def write_eof(self) -> None:
        self._inner.write_eof()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._inner.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._inner.get_write_buffer_size()

    def pause_reading(self) -> None:
        self._inner.pause_reading()

    def resume_reading(self) -> None:
        self._inner.resume_reading()

    def is_reading(self) -> bool:
        return self._inner.is_reading()
