"""Writing one connection as a pcapng file that Wireshark opens already decrypted.

What went over a socket both ways becomes Ethernet/IPv4 (or IPv6)/TCP
packets with the real addresses and ports: a SYN, SYN-ACK and ACK first,
then each send as segments with correct sequence and acknowledgment
numbers, then FIN both ways. The connection's NSS key log line goes into a
Decryption Secrets Block (pcapng §4.7, secrets type "TLSK") placed before the
first packet: packets are held in memory until the key log line is known (or
until `HOLD_BYTES`, or the end), so that a reader going through the file once
(tshark, `tls12 explain`) has the keys before the encrypted records.

The blocks are written by python-pcapng and the packets built by dpkt (the
pcap extra).
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from collections.abc import Callable
from typing import Any, BinaryIO, Literal

from .pcapfile import TLS_KEY_LOG, decryption_secrets_block, dpkt_module, pcapng_module

__all__ = ["ConnectionWriter"]

Side = Literal["client", "server"]
#: Packets held back waiting for the key log line, at most (beyond, they are written without it first).
HOLD_BYTES = 16 * 1024 * 1024
_MSS = {4: 1460, 6: 1440}
_MAC = {"client": b"\x02\x00\x00\x00\x00\x01", "server": b"\x02\x00\x00\x00\x00\x02"}
_SYN, _FIN, _PSH, _ACK = 0x02, 0x01, 0x08, 0x10


class ConnectionWriter:
    """One TCP connection, written to `path` as it happens. Thread-safe; `close()` ends it (FIN both ways)."""

    def __init__(self, path: str | os.PathLike[str], client: tuple[str, int], server: tuple[str, int], *,
                 clock: Callable[[], float] = time.time, application: str = "tls12") -> None:
        self._dpkt = dpkt_module()
        pcapng = pcapng_module()
        self._dsb = decryption_secrets_block()
        self._blocks = pcapng.blocks
        self._clock = clock
        self._lock = threading.Lock()
        self._ends = {"client": client, "server": server}
        version = ipaddress.ip_address(client[0]).version
        if ipaddress.ip_address(server[0]).version != version:
            raise ValueError("the client and the server must both be IPv4 or both IPv6")
        self._version = version
        self._mss = _MSS[version]
        # Initial sequence numbers: random, as a real stack's are.
        self._seq: dict[Side, int] = {"client": int.from_bytes(os.urandom(4), "big"),
                                      "server": int.from_bytes(os.urandom(4), "big")}
        self._file: BinaryIO = open(path, "wb")  # noqa: SIM115  (closed by close())
        self._shb = self._blocks.SectionHeader(options={"shb_userappl": application})
        self._shb.new_member(self._blocks.InterfaceDescription, link_type=1, snaplen=262144,
                             options={"if_name": "tls12"})
        self._writer = pcapng.FileWriter(self._file, self._shb)
        self._held: list[Any] | None = []  # blocks waiting for the key log; None once it went out
        self._held_bytes = 0
        self._closed = False
        self._packet("client", _SYN, b"", syn=True)
        self._packet("server", _SYN | _ACK, b"", syn=True)
        self._packet("client", _ACK, b"")

    def data(self, sender: Side, data: bytes) -> None:
        """Bytes `sender` wrote to the connection (written as segments of at most one MSS)."""
        with self._lock:
            if self._closed:
                return
            for i in range(0, len(data), self._mss):
                self._packet(sender, _PSH | _ACK, data[i : i + self._mss])

    def key_log(self, line: str) -> None:
        """The connection's NSS key log line: a Decryption Secrets Block, before the packets it opens."""
        with self._lock:
            if self._closed:
                return
            secrets = (line.strip() + "\n").encode("ascii")
            block = self._shb.new_member(self._dsb, secrets_type=TLS_KEY_LOG, secrets_length=len(secrets),
                                         secrets_data=secrets)
            self._writer.write_block(block)
            self._release()

    def close(self) -> None:
        """FIN both ways, everything out, the file closed."""
        with self._lock:
            if self._closed:
                return
            self._packet("client", _FIN | _ACK, b"", fin=True)
            self._packet("server", _FIN | _ACK, b"", fin=True)
            self._packet("client", _ACK, b"")
            self._release()
            self._closed = True
            self._file.close()

    # -- internals -------------------------------------------------------------------------------------

    def _release(self) -> None:
        held, self._held = self._held, None
        for block in held or ():
            self._writer.write_block(block)
        self._file.flush()

    def _packet(self, sender: Side, flags: int, payload: bytes, *, syn: bool = False, fin: bool = False) -> None:
        dpkt = self._dpkt
        receiver: Side = "server" if sender == "client" else "client"
        (src, sport), (dst, dport) = self._ends[sender], self._ends[receiver]
        ack = self._seq[receiver] if flags & _ACK else 0
        tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=self._seq[sender] % 2**32, ack=ack % 2**32, flags=flags,
                           win=65535, data=payload)
        self._seq[sender] += len(payload) + (1 if syn or fin else 0)
        src_ip, dst_ip = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
        if self._version == 4:
            ip = dpkt.ip.IP(src=src_ip, dst=dst_ip, p=6, ttl=64, data=tcp)
            ip.len = ip.__hdr_len__ + len(tcp)
            ethertype = dpkt.ethernet.ETH_TYPE_IP
        else:
            ip = dpkt.ip6.IP6(src=src_ip, dst=dst_ip, nxt=6, hlim=64, data=tcp, plen=len(tcp))
            ethertype = dpkt.ethernet.ETH_TYPE_IP6
        frame = bytes(dpkt.ethernet.Ethernet(src=_MAC[sender], dst=_MAC[receiver], type=ethertype, data=ip))
        micros = round(self._clock() * 1_000_000)
        block = self._shb.new_member(self._blocks.EnhancedPacket, interface_id=0, timestamp_high=micros >> 32,
                                     timestamp_low=micros & 0xFFFFFFFF, packet_data=frame,
                                     captured_len=len(frame), packet_len=len(frame))
        if self._held is None:
            self._writer.write_block(block)
            return
        self._held.append(block)
        self._held_bytes += len(frame)
        if self._held_bytes > HOLD_BYTES:
            self._release()
