"""An independent reading of captured TLS 1.2 bytes, to check what `tls12.explain` shows.

Nothing here uses tls12: records are split by hand, the PRF is RFC 5246 §5
written out with the standard library's HMAC, and records are opened with
`cryptography`'s AES-GCM directly (RFC 5288: nonce = salt ‖ explicit nonce,
additional data = seq ‖ type ‖ version ‖ plaintext length).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tls12 import ClientConnection, ServerConnection

Flows = list[tuple[str, bytes]]  # ("client" | "server", bytes)


def pump(client: ClientConnection, server: ServerConnection) -> Flows:
    """Shuttle bytes between two connections in memory until both go quiet, keeping every flight."""
    flows: Flows = []
    for _ in range(20):
        moved = False
        for sender, conn, peer in (("client", client, server), ("server", server, client)):
            data = conn.data_to_send()
            if data:
                flows.append((sender, data))
                peer.receive_data(data)
                moved = True
        if not moved:
            break
    return flows


@dataclass(frozen=True)
class Record:
    sender: str
    content_type: int
    version: int
    fragment: bytes


@dataclass(frozen=True)
class Opened:
    sender: str
    content_type: int
    plaintext: bytes
    protected: bool
    seq: int | None


def read_flows_file(text: str) -> Flows:
    """The flows format, parsed with a regular expression (not with tls12's reader)."""
    flows: Flows = []
    for line in text.splitlines():
        header = re.fullmatch(r">>> Flow \d+ \((client|server) to (?:server|client)\)", line.strip())
        if header:
            flows.append((header[1], b""))
        elif line.strip() and not line.startswith("#"):
            sender, data = flows[-1]
            flows[-1] = (sender, data + bytes.fromhex(line.strip()))
    return flows


def split_records(flows: Flows) -> list[Record]:
    out = []
    for sender, data in flows:
        pos = 0
        while pos < len(data):
            length = int.from_bytes(data[pos + 3 : pos + 5], "big")
            out.append(Record(sender, data[pos], int.from_bytes(data[pos + 1 : pos + 3], "big"),
                              data[pos + 5 : pos + 5 + length]))
            pos += 5 + length
    return out


def prf(secret: bytes, label: bytes, seed: bytes, n: int, digest: str = "sha384") -> bytes:
    """RFC 5246 §5 with SHA-384 (or `digest`), from the standard library."""
    seed = label + seed
    out, a = b"", seed
    while len(out) < n:
        a = hmac.new(secret, a, digest).digest()
        out += hmac.new(secret, a + seed, digest).digest()
    return out[:n]


# The AES-GCM suites by code point (RFC 5288, RFC 5289): (PRF hash, AES key length).
_AES_GCM_SUITES = {
    0xC02B: ("sha256", 16), 0xC02F: ("sha256", 16), 0x009E: ("sha256", 16), 0x009C: ("sha256", 16),
    0xC02C: ("sha384", 32), 0xC030: ("sha384", 32), 0x009F: ("sha384", 32), 0x009D: ("sha384", 32),
}


def suite_of(flows: Flows) -> tuple[str, int]:
    """(PRF hash, AES key length) of the AES-GCM suite in the ServerHello."""
    server = next(r for r in split_records(flows) if r.sender == "server" and r.content_type == 22)
    at = 4 + 2 + 32  # handshake header, version, random; then session_id<0..32>
    at += 1 + server.fragment[at]
    return _AES_GCM_SUITES[int.from_bytes(server.fragment[at : at + 2], "big")]


def handshake_messages(opened: list[Opened], sender: str) -> list[tuple[int, bytes]]:
    """(type, body) of every handshake message `sender` sent, reassembled from its handshake records."""
    buf = b"".join(o.plaintext for o in opened if o.sender == sender and o.content_type == 22)
    out, pos = [], 0
    while pos + 4 <= len(buf):
        length = int.from_bytes(buf[pos + 1 : pos + 4], "big")
        out.append((buf[pos], buf[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    return out


def randoms(flows: Flows) -> tuple[bytes, bytes]:
    records = split_records(flows)
    client = next(r for r in records if r.sender == "client" and r.content_type == 22)
    server = next(r for r in records if r.sender == "server" and r.content_type == 22)
    # record fragment: handshake header (4), version (2), random (32)
    return client.fragment[6:38], server.fragment[6:38]


def open_all(flows: Flows, master: bytes) -> list[Opened]:
    """Every record, the protected ones opened with keys derived from `master` (AES-GCM, 4-byte salts)."""
    client_random, server_random = randoms(flows)
    digest, k = suite_of(flows)
    block = prf(master, b"key expansion", server_random + client_random, 2 * k + 8, digest)
    keys = {"client": (AESGCM(block[:k]), block[2 * k : 2 * k + 4]),
            "server": (AESGCM(block[k : 2 * k]), block[2 * k + 4 : 2 * k + 8])}
    protected = {"client": False, "server": False}
    seqs = {"client": 0, "server": 0}
    out = []
    for r in split_records(flows):
        if not protected[r.sender]:
            out.append(Opened(r.sender, r.content_type, r.fragment, False, None))
            if r.content_type == 20:
                protected[r.sender] = True
            continue
        aead, salt = keys[r.sender]
        seq = seqs[r.sender]
        seqs[r.sender] += 1
        explicit, body = r.fragment[:8], r.fragment[8:]
        aad = seq.to_bytes(8, "big") + bytes((r.content_type,)) + r.version.to_bytes(2, "big") + \
            (len(body) - 16).to_bytes(2, "big")
        out.append(Opened(r.sender, r.content_type, aead.decrypt(salt + explicit, body, aad), True, seq))
    return out
