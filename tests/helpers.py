"""Test helpers: in-memory pumps between our connections and the stdlib ssl module, the explained steps,
and the openssl command the known-answer tests check against."""

from __future__ import annotations

import datetime
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tls12 import ClientConnection, RotatingTicketKeys, ServerConnection
from tls12.events import Event

# The step headings of the explained handshake in `tls12`'s text output, in order (the CLI tests).
STEPS = [
    "Step 1  ClientHello",
    "Step 2  ServerHello",
    "Step 3  Certificate",
    "Step 4  ServerKeyExchange",
    "Step 5  ServerHelloDone",
    "Step 6  ClientKeyExchange",
    "Step 7a  ChangeCipherSpec (client)",
    "Step 7b  Finished (client)",
    "Step 8a  ChangeCipherSpec (server)",
    "Step 8b  Finished (server)",
]


class Clock:
    """A clock the test moves (unix seconds), for a configuration's `clock` or a store's."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fixed_sessions(now: datetime.datetime) -> dict[str, Any]:
    """Session settings for a server that must answer byte for byte the same every run (with a
    `DeterministicProvider`): ticket keys from a fixed secret, and a session clock stopped at `now`
    (a ticket holds the session's creation time)."""
    def clock() -> float:
        return now.timestamp()

    return {"ticket_keys": RotatingTicketKeys(b"tls12 test ticket key secret....", clock=clock), "clock": clock}


def pump(
    client: ClientConnection, server: ServerConnection, rounds: int = 10
) -> tuple[list[Event], list[Event]]:
    """Shuttle bytes between two of our connections until both go quiet."""
    client_events: list[Event] = []
    server_events: list[Event] = []
    for _ in range(rounds):
        to_server = client.data_to_send()
        if to_server:
            server_events += server.receive_data(to_server)
        to_client = server.data_to_send()
        if to_client:
            client_events += client.receive_data(to_client)
        if not to_server and not to_client:
            break
    return client_events, server_events


def stdlib_server_context(pem_dir: Path, curve: str = "X25519", ems: bool = True) -> ssl.SSLContext:
    """The stdlib ssl module (OpenSSL) as a server, pinned to TLS 1.2 and our suite."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key")
    _pin(ctx, curve, ems)
    return ctx


def stdlib_client_context(pem_dir: Path, curve: str = "X25519", ems: bool = True) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pem_dir / "ca.pem")
    _pin(ctx, curve, ems)
    return ctx


# OpenSSL's SSL_OP_NO_EXTENDED_MASTER_SECRET (the ssl module has no name for it).
OP_NO_EXTENDED_MASTER_SECRET = 0x1

# Our group names -> OpenSSL's.
OPENSSL_CURVES = {"x25519": "X25519", "secp256r1": "prime256v1", "secp384r1": "secp384r1"}


def _pin(ctx: ssl.SSLContext, curve: str, ems: bool) -> None:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-RSA-AES256-GCM-SHA384")
    ctx.set_ecdh_curve(curve)
    if not ems:
        ctx.options |= OP_NO_EXTENDED_MASTER_SECRET


class StdlibPeer:
    """An `ssl.SSLObject` over two `ssl.MemoryBIO`s: OpenSSL without sockets."""

    def __init__(self, ctx: ssl.SSLContext, server_side: bool, server_hostname: str | None = None) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=server_side,
                                server_hostname=server_hostname)

    def handshake_step(self) -> bool:
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            return False
        return True


def pump_stdlib(ours: ClientConnection | ServerConnection, peer: StdlibPeer, rounds: int = 10) -> list[Event]:
    """Run the handshake between one of ours and a stdlib peer; returns our events."""
    events: list[Event] = []
    peer_done = False
    for _ in range(rounds):
        data = ours.data_to_send()
        if data:
            peer.incoming.write(data)
        if not peer_done:
            peer_done = peer.handshake_step()
        out = peer.outgoing.read()
        if out:
            events += ours.receive_data(out)
        if peer_done and not data and not out:
            break
    return events



def openssl_command() -> str:
    """The openssl executable. Its absence fails the test rather than skipping it: CI installs it."""
    exe = shutil.which("openssl")
    if exe is None:
        pytest.fail("openssl is not on PATH: the known-answer tests need it (CI installs it)")
    return exe


def openssl(*args: str, stdin: bytes | None = None) -> bytes:
    """What `openssl args...` writes to stdout; the command must succeed."""
    proc = subprocess.run([openssl_command(), *args], input=stdin, capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, f"openssl {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}"
    return proc.stdout
