"""Relay 127.0.0.1:<free port> here to 127.0.0.1:<target port> inside another network namespace.

    python relay.py --netns-pid PID --target-port PORT [--limit SECONDS]

Some peer servers (gnutls-serv, NSS selfserv, botan tls_server) can only bind the
wildcard address. The tests run them in a private network namespace that holds
nothing but its own loopback, and this relay makes them reachable on 127.0.0.1:

1. bind the listening socket on 127.0.0.1 in our own namespace (the kernel picks the port);
2. wait until PORT listens inside the target namespace (read from /proc/PID/net/tcp);
3. setns() into the target namespace: sockets created from now on live there, the
   listening socket stays where it was bound;
4. print "READY <port>" and relay each accepted connection, half-closes included.

It exits when its parent goes away, on SIGTERM, or after --limit seconds.
Needs root (setns), like `unshare --net`.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import selectors
import signal
import socket
import sys
import time
from pathlib import Path

CLONE_NEWNET = 0x40000000


def listening(pid: int, port: int) -> bool:
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def enter_netns(pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns: {os.strerror(err)}")
    finally:
        os.close(fd)


class Pair:
    """One relayed connection: two sockets and what each direction still has to write."""

    def __init__(self, a: socket.socket, b: socket.socket) -> None:
        self.socks = (a, b)
        self.buf = [bytearray(), bytearray()]  # buf[i]: bytes to write to socks[i]
        self.eof = [False, False]  # eof[i]: socks[i] sent FIN
        self.shut = [False, False]  # shut[i]: we shut down writing to socks[i]

    def other(self, i: int) -> int:
        return 1 - i

    def done(self) -> bool:
        return all(self.shut)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--netns-pid", type=int, required=True)
    ap.add_argument("--target-port", type=int, required=True)
    ap.add_argument("--limit", type=float, default=300.0)
    args = ap.parse_args()
    parent = os.getppid()
    end = time.monotonic() + args.limit
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(32)
    port = listener.getsockname()[1]

    start_deadline = time.monotonic() + 20
    while not listening(args.netns_pid, args.target_port):
        if time.monotonic() > start_deadline or not Path(f"/proc/{args.netns_pid}").exists():
            print(f"FAILED: nothing listens on port {args.target_port} in the namespace of "
                  f"pid {args.netns_pid}", flush=True)
            return 1
        time.sleep(0.05)
    if os.readlink(f"/proc/{args.netns_pid}/ns/net") == os.readlink("/proc/self/ns/net"):
        print("FAILED: the target is in our own network namespace", flush=True)
        return 1
    enter_netns(args.netns_pid)

    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    pairs: list[Pair] = []
    registrations: set[socket.socket] = set()
    print(f"READY {port}", flush=True)

    while time.monotonic() < end and os.getppid() == parent:
        for key, mask in sel.select(0.5):
            if key.data is None:
                try:
                    client, _ = listener.accept()
                except BlockingIOError:
                    continue
                upstream = socket.socket()
                try:
                    upstream.connect(("127.0.0.1", args.target_port))
                except OSError as exc:
                    print(f"connect failed: {exc}", flush=True)
                    client.close()
                    upstream.close()
                    continue
                client.setblocking(False)
                upstream.setblocking(False)
                pair = Pair(client, upstream)
                pairs.append(pair)
                for k, sock in enumerate(pair.socks):
                    sel.register(sock, selectors.EVENT_READ, (pair, k))
                    registrations.add(sock)
                continue
            pair, i = key.data
            if pair not in pairs:
                continue  # closed earlier in this round
            s = pair.socks[i]
            j = pair.other(i)
            if mask & selectors.EVENT_READ and not pair.eof[i]:
                try:
                    data = s.recv(262144)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError:
                    data = b""
                if data is not None:
                    if data:
                        pair.buf[j] += data
                    else:
                        pair.eof[i] = True
            if mask & selectors.EVENT_WRITE and pair.buf[i]:
                try:
                    n = s.send(pair.buf[i])
                    del pair.buf[i][:n]
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    # This side is gone: nothing more to read from it or write to it.
                    pair.buf[i].clear()
                    pair.eof[i] = pair.shut[i] = True
            # Propagate FIN once everything before it is written.
            for k in (0, 1):
                if pair.eof[pair.other(k)] and not pair.buf[k] and not pair.shut[k]:
                    pair.shut[k] = True
                    with contextlib.suppress(OSError):
                        pair.socks[k].shutdown(socket.SHUT_WR)
            for k in (0, 1):
                sock = pair.socks[k]
                events = (0 if pair.eof[k] else selectors.EVENT_READ) | (selectors.EVENT_WRITE if pair.buf[k] else 0)
                registered = sock in registrations
                if pair.done() or not events:
                    if registered:
                        sel.unregister(sock)
                        registrations.discard(sock)
                elif registered:
                    sel.modify(sock, events, (pair, k))
                else:
                    sel.register(sock, events, (pair, k))
                    registrations.add(sock)
            if pair.done():
                for sock in pair.socks:
                    if sock in registrations:
                        sel.unregister(sock)
                        registrations.discard(sock)
                    sock.close()
                pairs.remove(pair)
    return 0


if __name__ == "__main__":
    sys.exit(main())
