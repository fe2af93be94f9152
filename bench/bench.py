#!/usr/bin/env python3
"""tls12 against the stdlib `ssl` module, side by side in one process.

Both sides use the same RSA-2048 CA-issued certificate, TLS 1.2 with
ECDHE-RSA-AES256-GCM-SHA384, group x25519 and signature scheme
rsa_pss_rsae_sha256 (checked on every run from what each side negotiates), and
both clients verify the chain and the host name. The ECDSA handshake row does the
same with an ECDSA P-256 certificate from the same CA, ECDHE-ECDSA-AES256-GCM-SHA384
and ecdsa_secp256r1_sha256; the DHE handshake row with the RSA certificate,
DHE-RSA-AES256-GCM-SHA384 and the RFC 7919 group ffdhe2048. Session tickets are off
on both sides except in the rows that resume by ticket. Each round runs every section in
a new random order; within an in-process section the implementations take turns in
short slices (a new random order each turn), so that they see the same machine.
Ratios are taken within a round (tls12 / ssl) and reported as the median over the
rounds, with their range.

Sections (``--only`` takes a comma-separated list of these):

  handshake  full handshake, client and server in memory (sans-I/O pair against two
             `ssl.SSLObject`s over `ssl.MemoryBIO`), and the crypto floor in the same run:
             one RSA-2048 PSS signature, one verification, two x25519 key exchanges
             (generate, serialize, exchange) and a chain + host-name check; and the same
             full handshake with an ECDSA P-256 certificate (ECDHE-ECDSA, ecdsa_secp256r1_sha256),
             and with DHE-RSA on the RFC 7919 group ffdhe2048
  resumption resumed (abbreviated) handshakes in memory, each offering the session of one full
             handshake made in the same round and checked to resume on both ends: by RFC 5077
             ticket, by session ID (no tickets on either side), and by ticket with the ECDSA
             certificate; each connection ends with a close_notify from each end
  bulk       16 KiB and 256 B writes client to server, in memory; the same writes with both
             sides on ECDHE-RSA-CHACHA20-POLY1305 (unless --suite already pins a ChaCha20 suite)
  socket     the same over a socketpair, one thread per side (tls12's core with a minimal
             loop, and tls12's drop-in `SSLContext.wrap_socket`, against `ssl.SSLSocket`)
  memory     RSS per idle established pair (1,000 pairs, a fresh subprocess per side)
  server     `tls12 serve --echo` against an asyncio echo server on the `ssl` module, both
             driven by the same stdlib-ssl asyncio clients: handshakes/s and echo MB/s
  workers    `tls12 serve --echo --workers 2` against `--workers 1`: handshakes/s under a Go load
             client (bench/loadgen/main.go, built with `go build` at run time: needs Go) doing
             full handshakes on 32 connections, with the CPU per handshake of the workers and of
             the client, and the ceiling the client's share of the cores puts on the ratio
  tracer     what explanation support costs: calls into tracing code with no tracer
             attached (should be 0), and the time cost of attaching a no-op tracer

The table goes to stdout, then one line of JSON (the last line). Progress goes to stderr.

    python bench/bench.py                        # full run (7 rounds)
    python bench/bench.py --quick                # smoke run, a few seconds
    python bench/bench.py --only handshake,bulk --rounds 11
    python bench/bench.py --only bulk --suite ECDHE-RSA-CHACHA20-POLY1305   # another suite, both sides
    python bench/bench.py --profile handshake    # cProfile of tls12's side, top entries by tottime
    python bench/bench.py --profile handshake_ecdsa   # the same for the ECDSA P-256 handshake
    python bench/bench.py --profile handshake_dhe     # the same for the DHE-RSA (ffdhe2048) handshake
    python bench/bench.py --profile resumed_ticket    # resumed handshake: step by step both sides, by state
    python bench/bench.py --only workers --rounds 5   # serve --workers 2 against --workers 1 (needs Go)
    python bench/bench.py --update-readme out.txt   # README "Performance" table from a run's output
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime
import gc
import importlib
import io
import json
import os
import platform
import pstats
import random
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from types import CodeType, FrameType, FunctionType
from typing import Any

import cryptography
from cryptography import x509
from cryptography.hazmat.backends.openssl.backend import backend as cryptography_backend
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.verification import PolicyBuilder, Store

import tls12
from tls12 import ClientConfig, ClientConnection, ServerConfig, ServerConnection, Session
from tls12.certs import CertificateAuthority, KeyType
from tls12.config import SPOKEN_SUITES
from tls12.crypto.dhe import FFDHE_GROUPS, explicit_group
from tls12.crypto.suites import SUITES, KeyExchange
from tls12.enums import CipherSuite, HandshakeType, NamedGroup, SignatureScheme
from tls12.events import ApplicationDataReceived
from tls12.messages import (
    DHEServerKeyExchange,
    ExtendedMasterSecret,
    ServerHello,
    ServerKeyExchange,
    find_extension,
    parse_handshake,
)

with warnings.catch_warnings():  # cryptography 50 deprecates finite-field DH; only the DH parameters' PEM needs it
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    from cryptography.hazmat.primitives.asymmetric.dh import DHParameterNumbers

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
README = REPO / "README.md"
STDLIB_SERVER = BENCH_DIR / "stdlib_server.py"
LOADGEN_SOURCE = BENCH_DIR / "loadgen" / "main.go"

HOST = "127.0.0.1"
SERVER_NAME = "localhost"
DEFAULT_SUITE = "ECDHE-RSA-AES256-GCM-SHA384"
#: The suite every peer is pinned to: --suite replaces it (and EXPECTED's) before anything is built.
PINNED_SUITE = [DEFAULT_SUITE]
#: The suites --suite takes, by OpenSSL name.
BENCH_SUITES: dict[str, CipherSuite] = {SUITES[s].openssl_name: s for s in SPOKEN_SUITES}
#: The suite of the bulk section's ChaCha20-Poly1305 rows (RFC 7905), beside the pinned one.
CHACHA_SUITE = "ECDHE-RSA-CHACHA20-POLY1305"
#: The group of the handshake section's DHE row (on the DHE-RSA counterpart of the pinned suite), on both
#: sides: our client offers only it and our server only accepts it; the ssl server is given its p and g
#: (load_dh_params), which OpenSSL 3.0's TLS 1.2 server sends whatever the client lists (the ssl module
#: cannot turn on SSL_CTX_set_dh_auto); both pairs' groups are checked from their ServerKeyExchange.
DHE_GROUP = NamedGroup.FFDHE2048
#: The file in the PEM directory with DHE_GROUP's parameters, for the ssl server's load_dh_params.
DH_PARAMS = f"{DHE_GROUP.name.lower()}.pem"
#: The sections that run with another suite than the default: the drop-in's set_ciphers takes the
#: default one only so far, and the socket, memory and server sections use it or child processes.
SUITE_SECTIONS = ("handshake", "resumption", "bulk", "tracer")
EXPECTED = {
    "version": "TLSv1.2",
    "cipher_suite": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "group": "X25519",
    "signature_scheme": "RSA_PSS_RSAE_SHA256",
    "extended_master_secret": True,
}


@dataclass(frozen=True)
class Leaf:
    """A leaf certificate the benchmark's CA issues, and how both sides are pinned when it is served."""

    stem: str  # leaf.pem and leaf.key in the PEM directory
    key_type: KeyType
    scheme: SignatureScheme  # the one signature scheme both servers may sign with
    #: The groups the clients offer (the servers pick x25519): an ECDSA certificate's curve must be
    #: among them (RFC 8422 §5.1), so with it the stdlib client keeps OpenSSL's default list (x25519
    #: first, then secp256r1): on OpenSSL 3 the ssl module sets a single group or none.
    client_groups: tuple[NamedGroup, ...]


#: By key type: "rsa" is the certificate every section uses; "ecdsa" (P-256) serves the ECDSA
#: handshake row, on the ECDHE-ECDSA counterpart of the pinned suite.
LEAVES = {
    "rsa": Leaf("leaf", KeyType.RSA, SignatureScheme.RSA_PSS_RSAE_SHA256, (NamedGroup.X25519,)),
    "ecdsa": Leaf("leaf-ecdsa", KeyType.ECDSA_P256, SignatureScheme.ECDSA_SECP256R1_SHA256,
                  (NamedGroup.X25519, NamedGroup.SECP256R1)),
}
#: The resumption rows: (key type of the certificate, by ticket) for each; False is by session ID.
RESUMPTION = {
    "resumed_ticket": ("rsa", True),
    "resumed_id": ("rsa", False),
    "resumed_ticket_ecdsa": ("ecdsa", True),
}
SECTIONS = ("handshake", "resumption", "bulk", "socket", "memory", "server", "workers", "tracer")
#: The --workers counts the workers row compares (the second against the first).
WORKER_COUNTS = (1, 2)
PROFILE_SECTIONS = (
    "handshake", "handshake_ecdsa", "handshake_dhe", *RESUMPTION, "bulk_16k", "bulk_256", "socket_16k", "socket_256",
    "memory",
    "server_handshakes", "server_throughput",
)
README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"
MB = 1e6
KIB = 1024


@dataclass(frozen=True)
class Sizes:
    """How much work one measurement does (per implementation, per round)."""

    rounds: int = 7
    slices: int = 10  # turns per round in the in-memory sections (each implementation once per turn)
    socket_slices: int = 4
    handshakes: int = 100
    resumptions: int = 500  # resumed handshakes (about a sixth of a full one's time)
    bulk_16k: int = 4096  # writes of 16 KiB: 64 MiB
    bulk_256: int = 20000  # writes of 256 B: 5 MB
    socket_16k: int = 4096
    socket_256: int = 20000
    memory_pairs: int = 1000
    memory_rounds: int = 3
    load_seconds: float = 2.0
    load_handshake_clients: int = 16
    load_throughput_clients: int = 8
    workers_seconds: float = 4.0  # the Go load client's measured time per server and round, in two windows
    workers_warmup: float = 0.5  # before each window, not counted
    workers_clients: int = 32  # concurrent connections, each a loop of full handshakes
    tracer_handshakes: int = 50
    tracer_writes: int = 10000
    count_records: int = 1000


FULL = Sizes()
QUICK = Sizes(
    rounds=1, slices=2, socket_slices=2, handshakes=10, resumptions=20, bulk_16k=256, bulk_256=1000, socket_16k=256,
    socket_256=1000,
    memory_pairs=200, memory_rounds=1, load_seconds=0.4, load_handshake_clients=8, load_throughput_clients=4,
    workers_seconds=0.6, workers_warmup=0.2, workers_clients=8,
    tracer_handshakes=5, tracer_writes=500, count_records=100,
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the certificate and both sides' configuration ----------------------------------------------


def write_pem_dir(directory: Path) -> Path:
    """A throwaway RSA-2048 CA and the leaves for localhost / 127.0.0.1 it issued: ca.pem, leaf.pem and
    leaf.key (RSA-2048), leaf-ecdsa.pem and leaf-ecdsa.key (ECDSA P-256); and DH_PARAMS, DHE_GROUP's p and g
    (RFC 7919 Appendix A, tls12's copy) as PEM DH parameters for the ssl server."""
    ca = CertificateAuthority("tls12 bench CA")
    (directory / "ca.pem").write_bytes(ca.cert_pem())
    for spec in LEAVES.values():
        leaf = ca.issue((SERVER_NAME, HOST), key_type=spec.key_type)
        (directory / f"{spec.stem}.pem").write_bytes(leaf.cert_pem())
        (directory / f"{spec.stem}.key").write_bytes(leaf.key_pem())
    group = FFDHE_GROUPS[DHE_GROUP]
    (directory / DH_PARAMS).write_bytes(DHParameterNumbers(group.p, group.g).parameters().parameter_bytes(
        serialization.Encoding.PEM, serialization.ParameterFormat.PKCS3))
    return directory


def use_suite(name: str) -> None:
    """Pin every peer the benchmark builds to the suite `name` (an OpenSSL name in BENCH_SUITES)."""
    PINNED_SUITE[0] = name
    EXPECTED["cipher_suite"] = BENCH_SUITES[name].name


def suite_for(key: str, suite: str) -> str:
    """The OpenSSL name of `suite`'s counterpart for a certificate of key type `key` (a key of LEAVES):
    itself for "rsa"; ECDHE-RSA-X becomes ECDHE-ECDSA-X for "ecdsa"."""
    if key == "rsa" or suite.startswith("ECDHE-ECDSA-"):
        return suite
    counterpart = suite.replace("ECDHE-RSA-", "ECDHE-ECDSA-", 1)
    if counterpart == suite or counterpart not in BENCH_SUITES:
        raise SystemExit(f"{suite} has no ECDHE-ECDSA counterpart for the ECDSA handshake row")
    return counterpart


def dhe_for(suite: str) -> str:
    """The OpenSSL name of `suite`'s DHE-RSA counterpart, for the DHE handshake row: ECDHE-RSA-X and
    ECDHE-ECDSA-X become DHE-RSA-X; a DHE-RSA suite is its own."""
    counterpart = re.sub(r"^ECDHE-(RSA|ECDSA)-", "DHE-RSA-", suite)
    if counterpart not in BENCH_SUITES or SUITES[BENCH_SUITES[counterpart]].key_exchange is not KeyExchange.DHE:
        raise SystemExit(f"{suite} has no DHE-RSA counterpart for the DHE handshake row")
    return counterpart


def expected_dhe() -> dict[str, Any]:
    """What both pairs must negotiate in the DHE handshake row."""
    return {**EXPECTED, "cipher_suite": BENCH_SUITES[dhe_for(PINNED_SUITE[0])].name, "group": DHE_GROUP.name}


def expected_for(key: str) -> dict[str, Any]:
    """What both sides must negotiate with the certificate of key type `key` (EXPECTED for "rsa")."""
    if key == "rsa":
        return EXPECTED
    return {**EXPECTED, "cipher_suite": BENCH_SUITES[suite_for(key, PINNED_SUITE[0])].name,
            "signature_scheme": LEAVES[key].scheme.name}


def pin_stdlib(ctx: ssl.SSLContext, suite: str | None = None, x25519_only: bool = True,
               tickets: bool = False) -> None:
    """TLS 1.2, the benchmark's suite, x25519 only (or OpenSSL's default groups), and no session
    tickets unless `tickets` (our pair is set the same way: same messages both ways)."""
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(suite or PINNED_SUITE[0])
    if x25519_only:
        ctx.set_ecdh_curve("X25519")
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET


@dataclass(frozen=True)
class Peers:
    """Everything both implementations need, built once from one PEM directory."""

    pem: Path
    client_config: ClientConfig
    server_config: ServerConfig
    ssl_client: ssl.SSLContext
    ssl_server: ssl.SSLContext
    compat_client: ssl.SSLContext  # tls12.SSLContext, the drop-in
    compat_server: ssl.SSLContext
    tickets: bool  # RFC 5077 session tickets on, both sides (else sessions resume by session ID only)

    @classmethod
    def load(cls, pem: Path, key: str = "rsa", tickets: bool = False, suite: str | None = None) -> Peers:
        """Both sides on the certificate of key type `key` (a key of LEAVES), its suite and scheme pinned;
        the suite is `suite` if given (an OpenSSL name in BENCH_SUITES), else the pinned one. A DHE suite puts
        both sides on DHE_GROUP: our client offers it alone, our server accepts it alone, and the ssl server
        loads its parameters from DH_PARAMS (without them OpenSSL refuses every DHE suite).

        `tickets`: both clients ask for a session ticket and both servers issue one (our default
        configuration; the ssl module without OP_NO_TICKET). Without it neither does
        (ClientConfig(session_tickets=False) and ServerConfig(ticket_keys=None); OP_NO_TICKET), and
        both servers keep sessions by session ID in their default in-memory cache."""
        suite = suite or PINNED_SUITE[0]
        spec = LEAVES[key]
        leaf, leaf_key = pem / f"{spec.stem}.pem", pem / f"{spec.stem}.key"
        ca = x509.load_pem_x509_certificate((pem / "ca.pem").read_bytes())
        suites = (BENCH_SUITES[suite_for(key, suite)],)
        dhe = SUITES[suites[0]].key_exchange is KeyExchange.DHE
        client_config = ClientConfig(trust_anchors=[ca], groups=(DHE_GROUP,) if dhe else spec.client_groups,
                                     cipher_suites=suites, session_tickets=tickets)
        server_config = ServerConfig.from_pem_files(
            leaf, leaf_key, cipher_suites=suites, groups=(DHE_GROUP if dhe else NamedGroup.X25519,),
            signature_schemes=(spec.scheme,), **({} if tickets else {"ticket_keys": None}),
        )
        contexts: list[ssl.SSLContext] = []
        for factory in (ssl.SSLContext, tls12.SSLContext):
            client = factory(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname
            client.load_verify_locations(pem / "ca.pem")
            server = factory(ssl.PROTOCOL_TLS_SERVER)
            server.load_cert_chain(leaf, leaf_key)
            for ctx in (client, server):
                # The drop-in (socket and server sections only) stays on the default suite.
                pin_stdlib(ctx, suite_for(key, suite if factory is ssl.SSLContext else DEFAULT_SUITE),
                           x25519_only=ctx is server or spec.client_groups == (NamedGroup.X25519,), tickets=tickets)
            if dhe and factory is ssl.SSLContext:
                server.load_dh_params(pem / DH_PARAMS)
            contexts += [client, server]
        return cls(pem, client_config, server_config, *contexts, tickets=tickets)


# -- in-memory pairs -------------------------------------------------------------------------------


def tls12_pair(
    peers: Peers, tracer: Callable[[Any], None] | None = None, session: Session | None = None,
    capture: list[bytes] | None = None,
) -> tuple[ClientConnection, ServerConnection]:
    """A handshake between our client and our server, in memory: a full one, or one offering `session`.
    `capture` gets what the server sends, flight by flight."""
    client = ClientConnection(peers.client_config, server_name=SERVER_NAME, session=session, tracer=tracer)
    server = ServerConnection(peers.server_config, tracer=tracer)
    for _ in range(8):
        data = client.data_to_send()
        if data:
            server.receive_data(data)
        data = server.data_to_send()
        if data:
            if capture is not None:
                capture.append(data)
            client.receive_data(data)
        if client.handshake_complete and server.handshake_complete:
            return client, server
    raise RuntimeError("the tls12 handshake did not complete")


@dataclass(frozen=True, slots=True)
class SslPair:
    client: ssl.SSLObject
    server: ssl.SSLObject
    client_in: ssl.MemoryBIO
    client_out: ssl.MemoryBIO
    server_in: ssl.MemoryBIO
    server_out: ssl.MemoryBIO


def ssl_pair(peers: Peers, capture: list[bytes] | None = None, session: ssl.SSLSession | None = None) -> SslPair:
    """A handshake between two `ssl.SSLObject`s over `ssl.MemoryBIO`s: a full one, or one offering `session`."""
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client = peers.ssl_client.wrap_bio(client_in, client_out, server_hostname=SERVER_NAME, session=session)
    server = peers.ssl_server.wrap_bio(server_in, server_out, server_side=True)
    client_done = server_done = False
    for _ in range(8):
        if not client_done:
            try:
                client.do_handshake()
                client_done = True
            except ssl.SSLWantReadError:
                pass
        data = client_out.read()
        if data:
            server_in.write(data)
        if not server_done:
            try:
                server.do_handshake()
                server_done = True
            except ssl.SSLWantReadError:
                pass
        data = server_out.read()
        if data:
            if capture is not None:
                capture.append(data)
            client_in.write(data)
        if client_done and server_done:
            return SslPair(client, server, client_in, client_out, server_in, server_out)
    raise RuntimeError("the ssl module handshake did not complete")


def close_tls12_pair(client: ClientConnection, server: ServerConnection) -> None:
    """Each end sends its close_notify (what ends a resumed connection in the resumption rows)."""
    client.close()
    server.close()
    client.data_to_send()
    server.data_to_send()


def close_ssl_pair(pair: SslPair) -> None:
    """Each end sends its close_notify. Needed, not only fair: on Python 3.11 an SSLObject freed without
    SSL_shutdown makes OpenSSL drop its session (SSL_free -> ssl_clear_bad_session; python/cpython#123249
    changed that later), and a session ID then no longer resumes."""
    for end in (pair.client, pair.server):
        with contextlib.suppress(ssl.SSLWantReadError):  # sent; the peer's close_notify is not read
            end.unwrap()
    pair.client_out.read()
    pair.server_out.read()


# -- what each side negotiated ---------------------------------------------------------------------


def inspect_server_flight(data: bytes) -> dict[str, Any]:
    """Suite, group, signature scheme and EMS from a server's plaintext first flight. A DHE group is named
    by its p and g (an RFC 7919 group's name, else "explicit, N bits")."""
    handshake = bytearray()
    pos = 0
    while pos + 5 <= len(data) and data[pos] == 22:
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        handshake += data[pos + 5 : pos + 5 + length]
        pos += 5 + length
    found: dict[str, Any] = {}
    key_exchange = "ECDHE"
    pos = 0
    while pos + 4 <= len(handshake):
        msg_type = handshake[pos]
        length = int.from_bytes(handshake[pos + 1 : pos + 4], "big")
        body = bytes(handshake[pos + 4 : pos + 4 + length])
        pos += 4 + length
        if msg_type not in (2, 12):  # ServerHello, ServerKeyExchange
            continue
        message = parse_handshake(msg_type, body, key_exchange)
        if isinstance(message, ServerHello):
            found["cipher_suite"] = message.cipher_suite.name
            found["extended_master_secret"] = find_extension(message.extensions, ExtendedMasterSecret) is not None
            key_exchange = SUITES[message.cipher_suite].key_exchange.value
        elif isinstance(message, ServerKeyExchange):
            found["group"] = message.named_curve.name
            found["signature_scheme"] = message.scheme.name
        elif isinstance(message, DHEServerKeyExchange):
            group = explicit_group(message.dh_p, message.dh_g)
            found["group"] = group.name.name if group.name is not None else f"explicit, {group.bits} bits"
            found["signature_scheme"] = message.scheme.name
    return found


def negotiated_tls12(client: ClientConnection) -> dict[str, Any]:
    return {
        "version": "TLSv1.2" if client.version is not None and client.version.name == "TLS1_2" else str(client.version),
        "cipher_suite": client.cipher_suite.name if client.cipher_suite else None,
        "group": client.group.name if client.group else None,
        "signature_scheme": client.signature_scheme.name if client.signature_scheme else None,
        "extended_master_secret": client.extended_master_secret,
    }


def negotiated_ssl(peers: Peers) -> dict[str, Any]:
    flight: list[bytes] = []
    pair = ssl_pair(peers, capture=flight)
    found = inspect_server_flight(flight[0])
    cipher = pair.client.cipher()
    found["version"] = pair.client.version()
    found["openssl_cipher"] = cipher[0] if cipher else None
    return found


def describe_flight(data: bytes) -> list[str]:
    """The messages of a server flight in order: plaintext handshake messages by name, then
    ChangeCipherSpec and what follows it (encrypted, so by record only)."""
    names: list[str] = []
    pending = bytearray()
    encrypted = False
    pos = 0
    while pos + 5 <= len(data):
        content_type = data[pos]
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        body = data[pos + 5 : pos + 5 + length]
        pos += 5 + length
        if content_type == 20:
            names.append("ChangeCipherSpec")
            encrypted = True
        elif content_type == 22 and encrypted:
            names.append("encrypted handshake record")
        elif content_type == 22:
            pending += body
            while len(pending) >= 4 and len(pending) >= 4 + int.from_bytes(pending[1:4], "big"):
                names.append(HandshakeType(pending[0]).name)
                del pending[: 4 + int.from_bytes(pending[1:4], "big")]
        else:
            names.append(f"content type {content_type}")
    return names


def _resumption_found(first_flights: list[bytes], resumed_flights: list[bytes], resumed: bool,
                      version: str | None, by_ticket: bool) -> dict[str, Any]:
    found = inspect_server_flight(resumed_flights[0])  # suite and EMS from the abbreviated ServerHello
    found.update({
        "version": version,
        "resumed": resumed,
        "by": "ticket" if by_ticket else "session ID",
        "full_handshake_issued_ticket": "NEW_SESSION_TICKET" in describe_flight(first_flights[-1]),
        "resumed_flight": ", ".join(describe_flight(b"".join(resumed_flights))),
    })
    return found


def negotiated_resumption_tls12(peers: Peers) -> dict[str, Any]:
    """What our pair does when it resumes: a full handshake, then one offering its session."""
    first: list[bytes] = []
    client, server = tls12_pair(peers, capture=first)
    close_tls12_pair(client, server)
    session = client.session
    if session is None:
        raise SystemExit("the tls12 full handshake made no resumable session")
    flights: list[bytes] = []
    client, server = tls12_pair(peers, session=session, capture=flights)
    close_tls12_pair(client, server)
    version = "TLSv1.2" if client.version is not None and client.version.name == "TLS1_2" else str(client.version)
    return _resumption_found(first, flights, client.session_reused and server.session_reused, version,
                             bool(session.ticket))


def negotiated_resumption_ssl(peers: Peers) -> dict[str, Any]:
    first: list[bytes] = []
    pair = ssl_pair(peers, capture=first)
    close_ssl_pair(pair)
    session = pair.client.session
    if session is None:
        raise SystemExit("the ssl module's full handshake made no session")
    flights: list[bytes] = []
    pair = ssl_pair(peers, capture=flights, session=session)
    close_ssl_pair(pair)
    return _resumption_found(first, flights, pair.client.session_reused and pair.server.session_reused,
                             pair.client.version(), session.has_ticket)


def expected_resumption(key: str, tickets: bool) -> dict[str, Any]:
    """What both pairs must do in a resumption row: the same suite, EMS, resumed on both ends, no new
    ticket in the abbreviated handshake (the ticket's key is current)."""
    return {
        "version": "TLSv1.2",
        "cipher_suite": expected_for(key)["cipher_suite"],
        "extended_master_secret": True,
        "resumed": True,
        "by": "ticket" if tickets else "session ID",
        "full_handshake_issued_ticket": tickets,
        "resumed_flight": "SERVER_HELLO, ChangeCipherSpec, encrypted handshake record",
    }


def check_negotiated(name: str, found: dict[str, Any], expected: dict[str, Any] = EXPECTED) -> None:
    wrong = {k: found.get(k) for k, v in expected.items() if found.get(k) != v}
    if wrong:
        raise SystemExit(f"{name} did not negotiate what the benchmark requires: {wrong} (expected {expected})")


# -- workloads: what one implementation does in one slice of a round -------------------------------

#: The clock --profile uses: wall-clock by default (cheap to read, so small functions are
#: not inflated); --profile-clock cpu uses the thread's CPU time, which leaves out other
#: processes on a busy machine and time blocked in the kernel, but costs a system call per read.
PROFILE_TIMER: list[Callable[[], float]] = [time.perf_counter]


@contextlib.contextmanager
def profiling(profilers: list[cProfile.Profile] | None) -> Iterator[None]:
    """cProfile this thread for the duration of the block, if asked; the profile is appended."""
    if profilers is None:
        yield
        return
    profiler = cProfile.Profile(PROFILE_TIMER[0])
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profilers.append(profiler)


class Stopwatch:
    """Wall-clock and this thread's CPU time over a block (see --clock)."""

    wall = cpu = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self._wall, time.thread_time() - self._cpu


def _nothing() -> None:
    pass


@dataclass(frozen=True)
class Workload:
    """One implementation's side of a measurement, set up for one round.

    `step(n)` does n units of work (handshakes, writes) and returns what is counted
    (handshakes, bytes delivered); `extra()` adds per-round details to the sample."""

    step: Callable[[int], int]
    close: Callable[[], None] = _nothing
    extra: Callable[[], dict[str, float]] | None = None


def handshakes_tls12(peers: Peers, tracer: Callable[[Any], None] | None = None) -> Workload:
    """Full handshakes between our client and our server, in memory."""

    def step(n: int) -> int:
        for _ in range(n):
            tls12_pair(peers, tracer)
        return n

    return Workload(step)


def handshakes_ssl(peers: Peers) -> Workload:
    def step(n: int) -> int:
        for _ in range(n):
            ssl_pair(peers)
        return n

    return Workload(step)


def resumed_tls12(peers: Peers) -> Workload:
    """Resumed handshakes between our client and our server, in memory, all offering the session of
    one full handshake made when the workload is set up; each must resume on both ends, and each
    connection ends with a close_notify from each end (see close_ssl_pair)."""
    client, server = tls12_pair(peers)
    close_tls12_pair(client, server)
    session = client.session
    if session is None:
        raise RuntimeError("the tls12 full handshake made no resumable session")

    def step(n: int) -> int:
        for _ in range(n):
            client, server = tls12_pair(peers, session=session)
            if not (client.session_reused and server.session_reused):
                raise RuntimeError("a tls12 resumption fell back to a full handshake")
            close_tls12_pair(client, server)
        return n

    return Workload(step)


def resumed_ssl(peers: Peers) -> Workload:
    pair = ssl_pair(peers)
    close_ssl_pair(pair)
    session = pair.client.session

    def step(n: int) -> int:
        for _ in range(n):
            pair = ssl_pair(peers, session=session)
            if not (pair.client.session_reused and pair.server.session_reused):
                raise RuntimeError("an ssl module resumption fell back to a full handshake")
            close_ssl_pair(pair)
        return n

    return Workload(step)


#: The steps of a resumed handshake in memory, as `resumed_steps` times them on both sides.
RESUMED_STEPS = (
    "client: ClientHello offering the session",
    "server: ClientHello -> ServerHello, ChangeCipherSpec, Finished",
    "client: server flight -> ChangeCipherSpec, Finished",
    "server: client ChangeCipherSpec, Finished",
    "both: close_notify each",
)


def _resumed_steps_tls12(peers: Peers, session: Session, clock: Callable[[], float], n: int) -> list[float]:
    client_config, server_config = peers.client_config, peers.server_config
    totals = [0.0] * len(RESUMED_STEPS)
    for _ in range(n):
        t0 = clock()
        client = ClientConnection(client_config, server_name=SERVER_NAME, session=session)
        hello = client.data_to_send()
        t1 = clock()
        server = ServerConnection(server_config)
        server.receive_data(hello)
        flight = server.data_to_send()
        t2 = clock()
        client.receive_data(flight)
        finished = client.data_to_send()
        t3 = clock()
        server.receive_data(finished)
        t4 = clock()
        close_tls12_pair(client, server)
        t5 = clock()
        if not (client.session_reused and server.session_reused):
            raise RuntimeError("a tls12 resumption fell back to a full handshake")
        for i, (a, b) in enumerate(((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5))):
            totals[i] += b - a
    return totals


def _resumed_steps_ssl(peers: Peers, session: ssl.SSLSession, clock: Callable[[], float], n: int) -> list[float]:
    client_ctx, server_ctx = peers.ssl_client, peers.ssl_server
    totals = [0.0] * len(RESUMED_STEPS)
    for _ in range(n):
        t0 = clock()
        client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
        client = client_ctx.wrap_bio(client_in, client_out, server_hostname=SERVER_NAME, session=session)
        with contextlib.suppress(ssl.SSLWantReadError):
            client.do_handshake()
        hello = client_out.read()
        t1 = clock()
        server = server_ctx.wrap_bio(server_in, server_out, server_side=True)
        server_in.write(hello)
        with contextlib.suppress(ssl.SSLWantReadError):
            server.do_handshake()
        flight = server_out.read()
        t2 = clock()
        client_in.write(flight)
        client.do_handshake()
        finished = client_out.read()
        t3 = clock()
        server_in.write(finished)
        server.do_handshake()
        t4 = clock()
        close_ssl_pair(SslPair(client, server, client_in, client_out, server_in, server_out))
        t5 = clock()
        if not (client.session_reused and server.session_reused):
            raise RuntimeError("an ssl module resumption fell back to a full handshake")
        for i, (a, b) in enumerate(((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5))):
            totals[i] += b - a
    return totals


def ssl_client_hello_us(peers: Peers, clock: Callable[[], float], n: int) -> float:
    """µs for the ssl module's first client step (wrap_bio, ClientHello) with no session to offer."""
    start = clock()
    for _ in range(n):
        client_in, client_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        client = peers.ssl_client.wrap_bio(client_in, client_out, server_hostname=SERVER_NAME)
        with contextlib.suppress(ssl.SSLWantReadError):
            client.do_handshake()
        client_out.read()
    return (clock() - start) / n * 1e6


def resumed_steps(peers: Peers, n: int, slices: int, clock: Callable[[], float]) -> dict[str, list[float]]:
    """Microseconds per resumed handshake in each of RESUMED_STEPS, both implementations taking turns in
    `slices` slices of n / slices handshakes (median over the slices), with no profiler attached."""
    client, server = tls12_pair(peers)
    close_tls12_pair(client, server)
    pair = ssl_pair(peers)
    close_ssl_pair(pair)
    sessions: dict[str, Any] = {"tls12": client.session, "ssl": pair.client.session}
    measure = {"tls12": _resumed_steps_tls12, "ssl": _resumed_steps_ssl}
    per = max(1, n // slices)
    samples: dict[str, list[list[float]]] = {"tls12": [], "ssl": []}
    order = list(measure)
    for _ in range(slices):
        random.shuffle(order)
        for impl in order:
            gc.collect()
            totals = measure[impl](peers, sessions[impl], clock, per)
            samples[impl].append([t / per * 1e6 for t in totals])
    return {impl: [statistics.median(run[i] for run in runs) for i in range(len(RESUMED_STEPS))]
            for impl, runs in samples.items()}


class CryptoFloor:
    """The cryptography a full ECDHE-RSA handshake cannot avoid, done directly with `cryptography`.

    One RSA-2048 rsa_pss_rsae_sha256 signature over client_random + server_random +
    ECDH params, its verification, two x25519 exchanges (each: generate, serialize the
    public key, parse the peer's, derive) and one certificate check (parse the leaf's
    DER, verify the chain to the CA and the host name)."""

    COMPONENTS = ("sign", "verify", "ecdhe", "certificate")

    def __init__(self, pem: Path, clock: str = "wall") -> None:
        self.clock = time.thread_time if clock == "cpu" else time.perf_counter
        key = serialization.load_pem_private_key((pem / "leaf.key").read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        self.key = key
        self.public = key.public_key()
        self.store = Store([x509.load_pem_x509_certificate((pem / "ca.pem").read_bytes())])
        leaf = x509.load_pem_x509_certificate((pem / "leaf.pem").read_bytes())
        self.leaf_der = leaf.public_bytes(serialization.Encoding.DER)
        self.signed = os.urandom(32 + 32 + 4 + 32)
        self.padding = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)

    def workload(self) -> Workload:
        """Floors; `extra()` gives milliseconds per component (in the clock --clock chose)."""
        totals = dict.fromkeys(self.COMPONENTS, 0.0)
        done = [0]
        clock = self.clock
        raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
        subject = x509.DNSName(SERVER_NAME)

        def step(n: int) -> int:
            for _ in range(n):
                t0 = clock()
                signature = self.key.sign(self.signed, self.padding, hashes.SHA256())
                t1 = clock()
                self.public.verify(signature, self.signed, self.padding, hashes.SHA256())
                t2 = clock()
                server_key = x25519.X25519PrivateKey.generate()
                server_public = server_key.public_key().public_bytes(*raw)
                client_key = x25519.X25519PrivateKey.generate()
                client_public = client_key.public_key().public_bytes(*raw)
                client_key.exchange(x25519.X25519PublicKey.from_public_bytes(server_public))
                server_key.exchange(x25519.X25519PublicKey.from_public_bytes(client_public))
                t3 = clock()
                leaf = x509.load_der_x509_certificate(self.leaf_der)
                now = datetime.datetime.now(datetime.UTC)
                PolicyBuilder().store(self.store).time(now).build_server_verifier(subject).verify(leaf, [])
                t4 = clock()
                totals["sign"] += t1 - t0
                totals["verify"] += t2 - t1
                totals["ecdhe"] += t3 - t2
                totals["certificate"] += t4 - t3
            done[0] += n
            return n

        def extra() -> dict[str, float]:
            return {k: v / max(done[0], 1) * 1e3 for k, v in totals.items()}

        return Workload(step, extra=extra)


def bulk_tls12(peers: Peers, size: int, tracer: Callable[[Any], None] | None = None) -> Workload:
    """Writes of `size` bytes client to server in memory, one record each; counts bytes delivered."""
    client, server = tls12_pair(peers, tracer)
    chunk = bytes(size)

    def step(n: int) -> int:
        got = 0
        for _ in range(n):
            client.send_application_data(chunk)
            for event in server.receive_data(client.data_to_send()):
                if isinstance(event, ApplicationDataReceived):
                    got += len(event.data)
        if got != size * n:
            raise RuntimeError(f"tls12 delivered {got} bytes of {size * n}")
        return got

    return Workload(step)


def bulk_ssl(peers: Peers, size: int) -> Workload:
    pair = ssl_pair(peers)
    client, server, server_in, client_out = pair.client, pair.server, pair.server_in, pair.client_out
    chunk = bytes(size)

    def step(n: int) -> int:
        for _ in range(n):
            client.write(chunk)
            server_in.write(client_out.read())
            need = size
            while need:
                need -= len(server.read(need))
        return size * n

    return Workload(step)


# -- the same over a socketpair, one thread per side -----------------------------------------------

_RECV_SIZE = 65536


def _threaded_transfer(
    send: Callable[[], None], receive: Callable[[], int], total: int,
    profilers: list[cProfile.Profile] | None = None,
) -> int:
    """Run `send` in a new thread and `receive` in this one, started together; the bytes received."""
    barrier = threading.Barrier(2)
    failure: list[BaseException] = []

    def sender() -> None:
        barrier.wait()
        try:
            with profiling(profilers):
                send()
        except BaseException as exc:  # reported by the receiving side
            failure.append(exc)

    thread = threading.Thread(target=sender, name="bench-sender")
    thread.start()
    barrier.wait()
    with profiling(profilers):
        got = receive()
    thread.join()
    if failure:
        raise failure[0]
    if got != total:
        raise RuntimeError(f"received {got} bytes of {total}")
    return got


def socket_tls12(peers: Peers, size: int, profilers: list[cProfile.Profile] | None = None) -> Workload:
    """tls12's sans-I/O core over a socketpair with a minimal loop (the handshake is done in memory)."""
    client, server = tls12_pair(peers)
    a, b = socket.socketpair()
    chunk = bytes(size)

    def step(n: int) -> int:
        total = size * n

        def send() -> None:
            for _ in range(n):
                client.send_application_data(chunk)
                a.sendall(client.data_to_send())

        def receive() -> int:
            got = 0
            while got < total:
                data = b.recv(_RECV_SIZE)
                if not data:
                    break
                for event in server.receive_data(data):
                    if isinstance(event, ApplicationDataReceived):
                        got += len(event.data)
            return got

        return _threaded_transfer(send, receive, total, profilers)

    def close() -> None:
        a.close()
        b.close()

    return Workload(step, close)


def socket_wrapped(
    client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, size: int,
    profilers: list[cProfile.Profile] | None = None,
) -> Workload:
    """`ctx.wrap_socket()` on both ends of a socketpair: the stdlib's SSLSocket, or tls12's drop-in one."""
    a, b = socket.socketpair()
    client = client_ctx.wrap_socket(a, server_hostname=SERVER_NAME, do_handshake_on_connect=False)
    server = server_ctx.wrap_socket(b, server_side=True, do_handshake_on_connect=False)
    handshake = threading.Thread(target=server.do_handshake)
    handshake.start()
    client.do_handshake()
    handshake.join()
    cipher = client.cipher()
    if cipher is None or cipher[0] != PINNED_SUITE[0] or client.version() != "TLSv1.2":
        raise SystemExit(f"{type(client_ctx).__module__} socket negotiated {cipher}")
    chunk = bytes(size)

    def step(n: int) -> int:
        total = size * n

        def send() -> None:
            for _ in range(n):
                client.sendall(chunk)

        def receive() -> int:
            got = 0
            while got < total:
                data = server.recv(_RECV_SIZE)
                if not data:
                    break
                got += len(data)
            return got

        return _threaded_transfer(send, receive, total, profilers)

    def close() -> None:
        client.close()
        server.close()

    return Workload(step, close)


# -- tracing: what explanation support costs -----------------------------------------------------


def _noop_tracer(event: Any) -> None:
    pass


def tracing_code() -> dict[CodeType, str]:
    """Code objects that exist only for explanation: everything in tls12.trace and tls12.explain
    (the trace events' constructors included), and the core's tracing helpers."""
    codes: dict[CodeType, str] = {}

    def add(fn: object, name: str) -> None:
        if isinstance(fn, (staticmethod, classmethod)):
            fn = fn.__func__
        if isinstance(fn, FunctionType):
            codes[fn.__code__] = name

    for module_name in ("tls12.trace", "tls12.explain"):
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            if isinstance(obj, type) and obj.__module__ == module_name:
                for attr, member in vars(obj).items():
                    add(member, f"{module_name}.{name}.{attr}")
            elif isinstance(obj, FunctionType) and obj.__module__ == module_name:
                add(obj, f"{module_name}.{name}")
    helpers = re.compile(r"^(_?trace\w*|decide|_?explain\w*|peek)$")
    for module_name in ("tls12.connection", "tls12.record.layer", "tls12.handshake.base",
                        "tls12.handshake.client", "tls12.handshake.server"):
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            if isinstance(obj, FunctionType) and obj.__module__ == module_name and helpers.match(name):
                add(obj, f"{module_name}.{name}")
            elif isinstance(obj, type) and obj.__module__ == module_name:
                for attr, member in vars(obj).items():
                    if helpers.match(attr):
                        add(member, f"{module_name}.{name}.{attr}")
    return codes


def count_tracing_calls(
    peers: Peers, records: int, tracer: Callable[[Any], None] | None,
) -> tuple[Counter[str], Counter[str]]:
    """Calls into tracing code during one handshake, and during `records` 256 B records each way
    and the closing exchange."""
    codes = tracing_code()
    handshake: Counter[str] = Counter()
    traffic: Counter[str] = Counter()
    calls = handshake

    def hook(frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            name = codes.get(frame.f_code)
            if name is not None:
                calls[name] += 1

    sys.setprofile(hook)
    try:
        client, server = tls12_pair(peers, tracer)
        calls = traffic
        chunk = bytes(256)
        for _ in range(records):
            client.send_application_data(chunk)
            server.receive_data(client.data_to_send())
            server.send_application_data(chunk)
            client.receive_data(server.data_to_send())
        client.close()
        server.receive_data(client.data_to_send())
        client.receive_data(server.data_to_send())
    finally:
        sys.setprofile(None)
    return handshake, traffic


class _Out:
    tracer: Callable[[Any], None] | None = None


def _guarded_helper(out: _Out, what: str, value: str, why: str) -> None:
    if out.tracer is not None:
        out.tracer((what, value, why))


def guarded_call_cost() -> float:
    """Microseconds for one call of a tracing helper that returns at once (no tracer attached)."""
    out, n = _Out(), 200_000
    start = time.perf_counter()
    for _ in range(n):
        _guarded_helper(out, "cipher suite", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "why")
    return (time.perf_counter() - start) / n * 1e6


def count_trace_events(peers: Peers) -> int:
    events: list[Any] = []
    tls12_pair(peers, events.append)
    return len(events)


# -- memory per idle pair (run in a fresh subprocess per implementation) ---------------------------


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_child(impl: str, pairs: int, pem: Path, trace_malloc: bool) -> dict[str, Any]:
    peers = Peers.load(pem)
    make: Callable[[], object] = (lambda: tls12_pair(peers)) if impl == "tls12" else (lambda: ssl_pair(peers))
    keep = [make() for _ in range(20)]  # warm-up, kept so the measured pairs cannot reuse its memory
    if trace_malloc:
        tracemalloc.start(12)
    gc.collect()
    before = _rss()
    keep += [make() for _ in range(pairs)]
    gc.collect()
    after = _rss()
    out: dict[str, Any] = {"pairs": pairs, "rss_before": before, "rss_after": after,
                           "value": (after - before) / pairs}
    if trace_malloc:
        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        stats = snapshot.statistics("lineno")
        out["python_heap_per_pair"] = sum(s.size for s in stats) / pairs
        out["top"] = [
            {"where": f"{s.traceback[0].filename.split('/site-packages/')[-1].split('/src/')[-1]}:"
                      f"{s.traceback[0].lineno}", "bytes_per_pair": s.size / pairs, "blocks_per_pair": s.count / pairs}
            for s in stats[:25]
        ]
        tracemalloc.stop()
        out["native_probes"] = native_probes(pem, keep)
    return out


def _rss_per(make: Callable[[], object], keep: list[object], n: int = 2000) -> float:
    """RSS per object; the objects are kept (freed memory would be reused by the next probe)."""
    gc.collect()
    before = _rss()
    keep += [make() for _ in range(n)]
    gc.collect()
    return (_rss() - before) / n


def native_probes(pem: Path, keep: list[object]) -> dict[str, float]:
    """RSS of single objects an idle tls12 pair holds, to split the non-Python part of its footprint."""
    leaf_der = x509.load_pem_x509_certificate((pem / "leaf.pem").read_bytes()).public_bytes(serialization.Encoding.DER)

    def aead() -> AESGCM:
        cipher = AESGCM(os.urandom(32))
        cipher.encrypt(bytes(12), b"x", b"")
        return cipher

    return {
        "AESGCM object after one encrypt (a pair holds 4)": _rss_per(aead, keep),
        "x509 certificate parsed from its own DER copy (a pair holds the peer's chain)": _rss_per(
            lambda: x509.load_der_x509_certificate(bytes(bytearray(leaf_der))), keep),
    }


def run_memory_child(impl: str, pairs: int, pem: Path, trace_malloc: bool = False) -> dict[str, Any]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--child-memory", impl,
            "--pairs", str(pairs), "--pem-dir", str(pem)]
    if trace_malloc:
        argv.append("--tracemalloc")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"memory child for {impl} failed:\n{result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


# -- servers under load ------------------------------------------------------------------------------


class ServerProcess:
    """A server subprocess that prints 'listening on HOST:PORT'; its output goes to a file."""

    def __init__(self, name: str, argv: Sequence[str], workdir: Path) -> None:
        self.name = name
        self.log_path = workdir / f"{name.replace(' ', '_')}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(list(argv), stdout=self._log, stderr=subprocess.STDOUT, cwd=workdir)
        self.port = self._wait_for_port()

    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            match = re.search(rb"listening on [\d.]+:(\d+)", self.log_path.read_bytes())
            if match:
                return int(match.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.name} did not start:\n{self.log_path.read_text(errors='replace')}")

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


#: `tls12 serve` under cProfile (with the clock --profile-clock chose), from after its imports.
_PROFILED_SERVE = """
import cProfile, sys, time
from tls12.cli.main import main
out, clock = sys.argv[1], sys.argv[2]
profiler = cProfile.Profile(time.process_time if clock == "cpu" else time.perf_counter)
try:
    profiler.runcall(main, sys.argv[3:])
finally:
    profiler.dump_stats(out)
"""


def start_servers(pem: Path, workdir: Path, profile_to: Path | None = None) -> dict[str, ServerProcess]:
    cert = ["--cert", str(pem / "leaf.pem"), "--key", str(pem / "leaf.key")]
    tls12_serve = [sys.executable, "-m", "tls12"]
    if profile_to is not None:
        clock = "cpu" if PROFILE_TIMER[0] is time.thread_time else "wall"
        tls12_serve = [sys.executable, "-c", _PROFILED_SERVE, str(profile_to), clock]
    servers = {"tls12": ServerProcess(
        "tls12 serve", [*tls12_serve, "serve", "--host", HOST, "--port", "0", "--echo", *cert], workdir)}
    if profile_to is None:
        servers["ssl"] = ServerProcess(
            "stdlib server", [sys.executable, str(STDLIB_SERVER), "--host", HOST, "--port", "0", *cert], workdir)
    return servers


def probe_server(port: int, ctx: ssl.SSLContext) -> dict[str, Any]:
    """One connection from the load generator's kind of client; what the server negotiated."""
    with socket.create_connection((HOST, port), timeout=30) as sock:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(incoming, outgoing, server_hostname=SERVER_NAME)
        received = bytearray()
        while True:
            try:
                obj.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            data = outgoing.read()
            if data:
                sock.sendall(data)
            if done:
                break
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("the server closed the connection during the handshake")
            received += chunk
            incoming.write(chunk)
        found = inspect_server_flight(bytes(received))
        found["version"] = obj.version()
        with contextlib.suppress(ssl.SSLError, OSError):
            obj.write(b"ping")
            sock.sendall(outgoing.read())
            with contextlib.suppress(ssl.SSLWantReadError):
                obj.unwrap()
            sock.sendall(outgoing.read())
    return found


async def _handshake_load(port: int, ctx: ssl.SSLContext, clients: int, seconds: float) -> tuple[int, float]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    done = 0

    async def worker() -> None:
        nonlocal done
        while loop.time() < deadline:
            _, writer = await asyncio.open_connection(HOST, port, ssl=ctx, server_hostname=SERVER_NAME)
            done += 1
            writer.close()
            with contextlib.suppress(ssl.SSLError, OSError):
                await writer.wait_closed()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return done, time.perf_counter() - start


async def _throughput_load(
    port: int, ctx: ssl.SSLContext, clients: int, seconds: float, on_start: Callable[[], None],
) -> tuple[int, float]:
    """Each client writes 4 x 16 KiB and reads the 64 KiB echo back, until the time is up."""
    loop = asyncio.get_running_loop()
    streams = [await asyncio.open_connection(HOST, port, ssl=ctx, server_hostname=SERVER_NAME)
               for _ in range(clients)]
    chunk = bytes(16 * KIB)
    burst = 4
    echoed = 0
    on_start()
    start = time.perf_counter()
    deadline = loop.time() + seconds

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal echoed
        while loop.time() < deadline:
            for _ in range(burst):
                writer.write(chunk)
            await reader.readexactly(burst * len(chunk))
            echoed += burst * len(chunk)

    await asyncio.gather(*(worker(r, w) for r, w in streams))
    elapsed = time.perf_counter() - start
    for _, writer in streams:
        writer.close()
        with contextlib.suppress(ssl.SSLError, OSError):
            await writer.wait_closed()
    return echoed, elapsed


def measure_server_handshakes(
    server: ServerProcess, ctx: ssl.SSLContext, clients: int, seconds: float,
) -> dict[str, float]:
    cpu0, client_cpu0 = server.cpu_seconds(), time.process_time()
    done, elapsed = asyncio.run(_handshake_load(server.port, ctx, clients, seconds))
    server_cpu, client_cpu = server.cpu_seconds() - cpu0, time.process_time() - client_cpu0
    return {"value": done / elapsed, "handshakes": done, "server_cpu": server_cpu / elapsed,
            "server_cpu_ms_per_handshake": server_cpu / max(done, 1) * 1e3, "client_cpu": client_cpu / elapsed}


def measure_server_throughput(
    server: ServerProcess, ctx: ssl.SSLContext, clients: int, seconds: float,
) -> dict[str, float]:
    marks: dict[str, float] = {}

    def on_start() -> None:
        marks["cpu"], marks["client"] = server.cpu_seconds(), time.process_time()

    echoed, elapsed = asyncio.run(_throughput_load(server.port, ctx, clients, seconds, on_start))
    server_cpu, client_cpu = server.cpu_seconds() - marks["cpu"], time.process_time() - marks["client"]
    return {"value": echoed / elapsed / MB, "server_cpu": server_cpu / elapsed, "client_cpu": client_cpu / elapsed}


# -- tls12 serve --workers N under a Go load client ------------------------------------------------------


def build_loadgen(workdir: Path) -> Path:
    """bench/loadgen/main.go built with the Go toolchain into `workdir` (standard library only)."""
    go = shutil.which("go")
    if go is None:
        raise SystemExit("the workers section needs Go: `go` on PATH builds its load client, bench/loadgen/main.go "
                         "(.ci/install-peers installs it)")
    out = workdir / "loadgen"
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": ""}
    if "HOME" not in env and "GOCACHE" not in env:
        env["GOCACHE"] = str(workdir / "gocache")
    result = subprocess.run([go, "build", "-o", str(out), str(LOADGEN_SOURCE)], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        raise SystemExit(f"go build of {LOADGEN_SOURCE} failed:\n{result.stderr}")
    return out


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def process_tree(root: int) -> list[int]:
    """`root` and its children (the workers `tls12 serve --workers N` forks), from /proc."""
    pids = [root]
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != root:
            with contextlib.suppress(OSError, IndexError):
                if int(_stat_fields(int(entry))[1]) == root:
                    pids.append(int(entry))
    return sorted(pids)


def tree_cpu(pids: Sequence[int]) -> tuple[float, float]:
    """User and system CPU seconds of these processes so far."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0.0
    for pid in pids:
        fields = _stat_fields(pid)
        user += int(fields[11]) / tick
        system += int(fields[12]) / tick
    return user, system


def machine_cpu() -> tuple[float, float, float]:
    """CPU seconds of the whole machine so far (every process of every container on this kernel), from
    /proc/stat: in processes (user, nice, system); in interrupts and softirqs (where much of loopback
    traffic's receive side runs, charged to no process); stolen by the hypervisor."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]] + [0] * 8
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, irq, softirq, steal = fields[0], fields[1], fields[2], fields[5], fields[6], fields[7]
    return (user + nice + system) / tick, (irq + softirq) / tick, steal / tick


def start_worker_servers(pem: Path, workdir: Path) -> dict[int, ServerProcess]:
    cert = ["--cert", str(pem / "leaf.pem"), "--key", str(pem / "leaf.key")]
    servers: dict[int, ServerProcess] = {}
    try:
        for count in WORKER_COUNTS:
            servers[count] = ServerProcess(
                f"tls12 serve --workers {count}",
                [sys.executable, "-m", "tls12", "serve", "--host", HOST, "--port", "0", "--echo", *cert,
                 "--workers", str(count)], workdir)
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return servers


def workers_window(server: ServerProcess, count: int, loadgen: Path, sizes: Sizes, seconds: float) -> dict[str, float]:
    """One run of the Go load client against one server: after sizes.workers_warmup, `seconds` counted;
    the handshakes and the CPU seconds of the server's processes (the parent and its workers), of the
    client and of the rest of the machine in that window (totals, to be added up over windows)."""
    argv = [str(loadgen), "-addr", f"{HOST}:{server.port}", "-c", str(sizes.workers_clients),
            "-d", f"{seconds}s", "-warmup", f"{sizes.workers_warmup}s",
            "-suite", DEFAULT_SUITE, "-servername", SERVER_NAME]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            if proc.stdout.readline().strip() != "counting":
                raise RuntimeError(f"the load client did not start: {proc.stderr.read()}")
            pids = process_tree(server.proc.pid)
            user0, system0 = tree_cpu(pids)
            processes0, interrupts0, steal0 = machine_cpu()
            load = os.getloadavg()[0]
            line = proc.stdout.readline()
            user1, system1 = tree_cpu(pids)
            processes1, interrupts1, steal1 = machine_cpu()
            after = process_tree(server.proc.pid)
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        if proc.returncode != 0 or not line.strip():
            raise RuntimeError(f"the load client failed ({proc.returncode}): {proc.stderr.read()}")
    if after != pids:
        raise RuntimeError(f"{server.name}: its processes changed during the measurement ({pids} -> {after})")
    if len(pids) != (1 if count == 1 else count + 1):
        raise RuntimeError(f"{server.name}: {len(pids)} processes, expected {count} worker(s) (and a parent)")
    got: dict[str, Any] = json.loads(line)
    found = {"version": got["version"], "cipher_suite": got["cipher_suite"], "resumed": got["resumed"]}
    wanted = {"version": "TLSv1.2", "cipher_suite": EXPECTED["cipher_suite"], "resumed": False}
    if found != wanted or not got["handshakes"]:
        raise RuntimeError(f"{server.name}: the load client saw {found} in {got['handshakes']} handshakes, "
                           f"expected {wanted}")
    workers = (user1 - user0) + (system1 - system0)
    return {
        "seconds": got["seconds"],
        "handshakes": got["handshakes"],
        "errors": got["errors"],
        "workers": workers,
        "workers_system": system1 - system0,
        "generator": got["cpu_seconds"],
        "generator_system": got["system_seconds"],
        "interrupts": interrupts1 - interrupts0,  # the machine's irq + softirq time
        "steal": steal1 - steal0,  # what the hypervisor gave to others
        "others": max((processes1 - processes0) - workers - got["cpu_seconds"], 0.0),  # every other process
        "loadavg_1min": load,
    }


def measure_workers(servers: dict[int, ServerProcess], loadgen: Path, sizes: Sizes,
                    rng: random.Random) -> dict[str, Sample]:
    """Each server under the Go load client for sizes.workers_seconds in all, in two windows taken in
    the order A B B A (A chosen at random): what else runs on the machine drifts, and both see it alike.
    Per server: handshakes/s, and the CPU per handshake and the cores used by its processes, by the
    client, by interrupts and by every other process on the machine, over its windows."""
    order = list(servers)
    rng.shuffle(order)
    totals: dict[int, Counter[str]] = {count: Counter() for count in servers}
    loads: dict[int, list[float]] = {count: [] for count in servers}
    for count in (*order, *reversed(order)):
        window = workers_window(servers[count], count, loadgen, sizes, sizes.workers_seconds / 2)
        loads[count].append(window.pop("loadavg_1min"))
        totals[count].update(window)
    out: dict[str, Sample] = {}
    for count, t in totals.items():
        elapsed, handshakes = t["seconds"], t["handshakes"]
        out[f"workers_{count}"] = {
            "value": handshakes / elapsed,
            "handshakes": handshakes,
            "errors": t["errors"],
            "workers_cpu": t["workers"] / elapsed,  # cores
            "workers_system_cpu": t["workers_system"] / elapsed,
            "workers_cpu_ms_per_handshake": t["workers"] / handshakes * 1e3,
            "generator_cpu": t["generator"] / elapsed,
            "generator_system_cpu": t["generator_system"] / elapsed,
            "generator_cpu_ms_per_handshake": t["generator"] / handshakes * 1e3,
            "interrupts_cpu": t["interrupts"] / elapsed,
            "steal_cpu": t["steal"] / elapsed,
            "others_cpu": t["others"] / elapsed,
            "loadavg_1min": statistics.mean(loads[count]),
        }
    return out


# -- rounds --------------------------------------------------------------------------------------------

Sample = dict[str, float]


@dataclass(frozen=True)
class Group:
    """One in-process measurement: every implementation's workload is set up afresh each round,
    then they take turns, in a new random order each turn, `slices` times, so that all of them
    see the same machine. `units` (handshakes, writes) are split evenly over the slices."""

    section: str
    prepare: dict[str, Callable[[], Workload]]
    units: int
    slices: int
    rate: bool  # True: MB/s of what the steps return; False: milliseconds per unit
    threaded: bool = False  # the work runs in two threads: only wall-clock time means anything

    def run(self, rng: random.Random, clock: str, scale: float = 1.0) -> dict[str, Sample]:
        workloads: dict[str, Workload] = {}
        try:
            for impl, prepare in self.prepare.items():
                workloads[impl] = prepare()
            per_slice = max(1, round(self.units * scale / self.slices))
            wall, cpu, amount = (dict.fromkeys(workloads, 0.0) for _ in range(3))
            for _ in range(self.slices if scale >= 1 else 1):
                order = list(workloads)
                rng.shuffle(order)
                for impl in order:
                    gc.collect()
                    with Stopwatch() as watch:
                        got = workloads[impl].step(per_slice)
                    wall[impl] += watch.wall
                    cpu[impl] += watch.cpu
                    amount[impl] += got
        finally:
            for workload in workloads.values():
                workload.close()
        out: dict[str, Sample] = {}
        for impl, workload in workloads.items():
            if self.rate:
                sample = {"wall": amount[impl] / wall[impl] / MB, "cpu": amount[impl] / max(cpu[impl], 1e-9) / MB}
            else:
                sample = {"wall": wall[impl] / amount[impl] * 1e3, "cpu": cpu[impl] / amount[impl] * 1e3}
            if self.threaded:
                del sample["cpu"]
            sample["value"] = sample["wall" if self.threaded else clock]
            if workload.extra is not None:
                sample.update(workload.extra())
            out[impl] = sample
        return out


@dataclass(frozen=True)
class Task:
    """One entry of a round: a group of in-process workloads, a memory child, a server run."""

    section: str
    run: Callable[[], dict[str, Sample]]
    label: str = ""


def build_groups(peers: Peers, sizes: Sizes, sections: Sequence[str], clock: str,
                 ecdsa: Peers | None = None, chacha: Peers | None = None,
                 resumption: dict[str, Peers] | None = None, dhe: Peers | None = None) -> list[Group]:
    """The in-process groups; `ecdsa` (both sides on the ECDSA certificate) adds the ECDSA handshake,
    `dhe` (both sides on a DHE-RSA suite and DHE_GROUP) the DHE handshake, `chacha` (both sides on
    CHACHA_SUITE) the bulk section's ChaCha20-Poly1305 rows, `resumption` (the peers of each RESUMPTION
    row) the resumed handshakes."""
    floor = CryptoFloor(peers.pem, clock)
    groups: list[Group] = []
    if "handshake" in sections:
        groups.append(Group("handshake", {
            "tls12": partial(handshakes_tls12, peers),
            "ssl": partial(handshakes_ssl, peers),
            "floor": floor.workload,
        }, sizes.handshakes, sizes.slices, rate=False))
        if ecdsa is not None:
            groups.append(Group("handshake_ecdsa", {
                "tls12": partial(handshakes_tls12, ecdsa),
                "ssl": partial(handshakes_ssl, ecdsa),
            }, sizes.handshakes, sizes.slices, rate=False))
        if dhe is not None:
            groups.append(Group("handshake_dhe", {
                "tls12": partial(handshakes_tls12, dhe),
                "ssl": partial(handshakes_ssl, dhe),
            }, sizes.handshakes, sizes.slices, rate=False))
    for key, pair in (resumption or {}).items():
        groups.append(Group(key, {
            "tls12": partial(resumed_tls12, pair),
            "ssl": partial(resumed_ssl, pair),
        }, sizes.resumptions, sizes.slices, rate=False))
    if "bulk" in sections:
        for key, size, writes in (("bulk_16k", 16 * KIB, sizes.bulk_16k), ("bulk_256", 256, sizes.bulk_256)):
            groups.append(Group(key, {
                "tls12": partial(bulk_tls12, peers, size),
                "ssl": partial(bulk_ssl, peers, size),
            }, writes, sizes.slices, rate=True))
        if chacha is not None:
            for key, size, writes in (("bulk_chacha_16k", 16 * KIB, sizes.bulk_16k),
                                      ("bulk_chacha_256", 256, sizes.bulk_256)):
                groups.append(Group(key, {
                    "tls12": partial(bulk_tls12, chacha, size),
                    "ssl": partial(bulk_ssl, chacha, size),
                }, writes, sizes.slices, rate=True))
    if "socket" in sections:
        for key, size, writes in (("socket_16k", 16 * KIB, sizes.socket_16k), ("socket_256", 256, sizes.socket_256)):
            groups.append(Group(key, {
                "tls12": partial(socket_tls12, peers, size),
                "tls12_compat": partial(socket_wrapped, peers.compat_client, peers.compat_server, size),
                "ssl": partial(socket_wrapped, peers.ssl_client, peers.ssl_server, size),
            }, writes, sizes.socket_slices, rate=True, threaded=True))
    if "tracer" in sections:
        groups.append(Group("tracer_handshake", {
            "off": partial(handshakes_tls12, peers),
            "noop": partial(handshakes_tls12, peers, _noop_tracer),
        }, sizes.tracer_handshakes, sizes.slices, rate=False))
        groups.append(Group("tracer_256", {
            "off": partial(bulk_tls12, peers, 256),
            "noop": partial(bulk_tls12, peers, 256, _noop_tracer),
        }, sizes.tracer_writes, sizes.slices, rate=True))
    return groups


def build_tasks(peers: Peers, sizes: Sizes, sections: Sequence[str], servers: dict[str, ServerProcess],
                groups: Sequence[Group], rng: random.Random, clock: str,
                workers: tuple[dict[int, ServerProcess], Path] | None = None) -> Callable[[int], list[Task]]:
    """Every task of one round; `workers` (the --workers servers and the built load client) adds the
    workers row, one task per server."""
    def tasks(round_no: int) -> list[Task]:
        out = [Task(g.section, partial(g.run, rng, clock)) for g in groups]
        if workers is not None:
            out.append(Task("workers", partial(measure_workers, *workers, sizes, rng)))
        if "memory" in sections and round_no < sizes.memory_rounds:
            for impl in ("tls12", "ssl"):
                def memory(impl: str = impl) -> dict[str, Sample]:
                    return {impl: run_memory_child(impl, sizes.memory_pairs, peers.pem)}
                out.append(Task("memory", memory, impl))
        for impl, server in servers.items():
            def handshakes(impl: str = impl, server: ServerProcess = server) -> dict[str, Sample]:
                return {impl: measure_server_handshakes(server, peers.ssl_client, sizes.load_handshake_clients,
                                                        sizes.load_seconds)}

            def throughput(impl: str = impl, server: ServerProcess = server) -> dict[str, Sample]:
                return {impl: measure_server_throughput(server, peers.ssl_client, sizes.load_throughput_clients,
                                                        sizes.load_seconds)}
            out += [Task("server_handshakes", handshakes, impl), Task("server_throughput", throughput, impl)]
        return out

    return tasks


Samples = dict[str, dict[str, list[Sample]]]


def run_rounds(make_tasks: Callable[[int], list[Task]], groups: Sequence[Group], rounds: int,
               rng: random.Random, clock: str) -> Samples:
    """Every task once per round, in a new random order each round."""
    log("warm-up")
    for group in groups:  # a tenth of a round of each in-process group, not recorded
        group.run(rng, clock, scale=0.1)
    samples: Samples = {}
    for round_no in range(rounds):
        tasks = make_tasks(round_no)
        rng.shuffle(tasks)
        log(f"round {round_no + 1}/{rounds}: " + ", ".join(f"{t.section}{':' if t.label else ''}{t.label}"
                                                            for t in tasks))
        for task in tasks:
            for impl, sample in task.run().items():
                samples.setdefault(task.section, {}).setdefault(impl, []).append(sample)
    return samples


def _summary(values: Sequence[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "rounds": list(values)}


def _series(samples: Samples, section: str, impl: str, key: str = "value") -> list[float]:
    return [s[key] for s in samples[section][impl]]


def _ratios(samples: Samples, section: str, a: str, b: str) -> dict[str, Any]:
    xs, ys = _series(samples, section, a), _series(samples, section, b)
    return _summary([x / y for x, y in zip(xs, ys, strict=True)])


UNITS = {
    "handshake": ("ms per handshake, client and server in memory", "lower"),
    "handshake_ecdsa": ("ms per handshake, ECDSA P-256 certificate, client and server in memory", "lower"),
    "handshake_dhe": ("ms per handshake, DHE-RSA, ffdhe2048, client and server in memory", "lower"),
    "resumed_ticket": ("ms per resumed handshake, by ticket, client and server in memory", "lower"),
    "resumed_id": ("ms per resumed handshake, by session ID, client and server in memory", "lower"),
    "resumed_ticket_ecdsa": ("ms per resumed handshake, by ticket, ECDSA P-256 certificate, in memory", "lower"),
    "bulk_16k": ("MB/s, 16 KiB writes, client to server, in memory", "higher"),
    "bulk_256": ("MB/s, 256 B writes, client to server, in memory", "higher"),
    "bulk_chacha_16k": (f"MB/s, 16 KiB writes, client to server, in memory, {CHACHA_SUITE}", "higher"),
    "bulk_chacha_256": (f"MB/s, 256 B writes, client to server, in memory, {CHACHA_SUITE}", "higher"),
    "socket_16k": ("MB/s, 16 KiB writes over a socketpair, a thread per side", "higher"),
    "socket_256": ("MB/s, 256 B writes over a socketpair, a thread per side", "higher"),
    "memory": ("bytes of RSS per idle established client+server pair", "lower"),
    "server_handshakes": ("handshakes/s against the server subprocess", "higher"),
    "server_throughput": ("MB/s echoed (client -> server -> client), 16 KiB writes", "higher"),
}


def summarize_workers(samples: Samples) -> dict[str, Any]:
    """The workers row: each server's handshakes/s and CPU figures, the ratio of the second count to the
    first, and the ceiling on that ratio with the load client on the same cores: all the cores busy with
    nothing but the workers and the client, at the CPU per handshake measured with the second count,
    against one worker with a core of its own at the CPU per handshake measured with the first:
    cores * first's ms / (second's ms + the client's ms)."""
    runs = samples["workers"]
    first, second = (f"workers_{count}" for count in WORKER_COUNTS)
    entry: dict[str, Any] = {"unit": "full handshakes/s of tls12 serve --echo --workers N, Go load client",
                             "better": "higher"}
    for impl in (first, second):
        entry[impl] = _summary(_series(samples, "workers", impl))
        for field in sorted(set(runs[impl][0]) - {"value"}):
            entry[impl][field] = statistics.median(r[field] for r in runs[impl])
            entry[impl][f"{field}_range"] = [min(r[field] for r in runs[impl]), max(r[field] for r in runs[impl])]
    entry["ratio"] = _ratios(samples, "workers", second, first)
    cores = os.cpu_count() or 1
    entry["cores"] = cores
    entry["ratio_ceiling"] = _summary([
        cores * a["workers_cpu_ms_per_handshake"]
        / (b["workers_cpu_ms_per_handshake"] + b["generator_cpu_ms_per_handshake"])
        for a, b in zip(runs[first], runs[second], strict=True)])
    entry["cpu_per_handshake_ratio"] = _summary([
        b["workers_cpu_ms_per_handshake"] / a["workers_cpu_ms_per_handshake"]
        for a, b in zip(runs[first], runs[second], strict=True)])
    # With the cores to the workers alone (the client elsewhere): cores / the CPU-per-handshake ratio.
    entry["ratio_workers_alone"] = _summary([cores / r for r in entry["cpu_per_handshake_ratio"]["rounds"]])
    return entry


def summarize(samples: Samples, sizes: Sizes, extra: dict[str, Any]) -> dict[str, Any]:
    sections: dict[str, Any] = {}
    for key, (unit, better) in UNITS.items():
        if key not in samples:
            continue
        impls = samples[key]
        entry: dict[str, Any] = {"unit": unit, "better": better}
        for impl, runs in impls.items():
            entry[impl] = _summary([r["value"] for r in runs])
            for field in sorted(set(runs[0]) - {"value"}):
                values = [r[field] for r in runs if isinstance(r.get(field), (int, float))]
                if values:
                    entry[impl][field] = statistics.median(values)
        entry["ratio"] = _ratios(samples, key, "tls12", "ssl")
        if key == "handshake":
            entry["ratio_floor"] = _ratios(samples, key, "tls12", "floor")
            entry["ssl_ratio_floor"] = _ratios(samples, key, "ssl", "floor")
        if key.startswith("socket"):
            entry["ratio_compat"] = _ratios(samples, key, "tls12_compat", "ssl")
        sections[key] = entry
    if "workers" in samples:
        sections["workers"] = summarize_workers(samples)
    if "tracer_handshake" in samples:
        sections["tracer"] = {
            "unit": "no-op tracer attached / no tracer (time ratio; throughput ratio for records)",
            "handshake_ms": {impl: _summary(_series(samples, "tracer_handshake", impl)) for impl in ("off", "noop")},
            "records_256_mb_s": {impl: _summary(_series(samples, "tracer_256", impl)) for impl in ("off", "noop")},
            "handshake_ratio": _ratios(samples, "tracer_handshake", "noop", "off"),
            "records_256_ratio": _ratios(samples, "tracer_256", "noop", "off"),
            **extra.get("tracer", {}),
        }
        t = sections["tracer"]
        calls = sum(t["calls_without_tracer_per_handshake"].values())
        t["estimated_cost_without_tracer_us_per_handshake"] = calls * t["guarded_call_us"]
        t["estimated_share_of_handshake"] = calls * t["guarded_call_us"] / (t["handshake_ms"]["off"]["median"] * 1e3)
    result: dict[str, Any] = {
        "machine": {**machine(), "loadavg_1min_start": extra.get("loadavg_1min_start")},
        "settings": {**asdict(sizes), "clients_verify": "chain and host name",
                     "ssl_options": "OP_NO_TICKET except in the rows resuming by ticket "
                                    "(tls12 offers and issues tickets there only, too)"},
        "negotiated": extra.get("negotiated", {}),
        "sections": sections,
    }
    if "go" in extra:
        result["machine"]["go"] = extra["go"]
    for key in ("negotiated_ecdsa", "negotiated_dhe", "negotiated_chacha", "negotiated_resumption"):
        if key in extra:
            result[key] = extra[key]
    result["targets"] = targets(sections)
    return result


def targets(sections: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def check(name: str, value: float, op: str, limit: float) -> None:
        met = value <= limit if op == "<=" else value >= limit
        out[name] = {"value": value, "target": f"{op} {limit}", "met": met}

    if "handshake" in sections:
        check("handshake_vs_ssl", sections["handshake"]["ratio"]["median"], "<=", 0.85)
        check("handshake_vs_floor", sections["handshake"]["ratio_floor"]["median"], "<=", 1.3)
    for key in RESUMPTION:  # issue 13: a resumed handshake at most 0.85x the ssl module's, in memory
        if key in sections:
            check(key, sections[key]["ratio"]["median"], "<=", 0.85)
    for key, limit in (("bulk_16k", 1.0), ("bulk_256", 0.8), ("socket_16k", 1.0), ("socket_256", 0.8)):
        if key in sections:
            check(key, sections[key]["ratio"]["median"], ">=", limit)
    if "memory" in sections:
        check("memory", sections["memory"]["ratio"]["median"], "<=", 1.0)
    if "workers" in sections:  # issue 13: two workers at least 1.7x the handshakes/s of one, on 2 cores
        check("workers", sections["workers"]["ratio"]["median"], ">=", 1.7)
    if "tracer" in sections:
        check("tracer_off_calls", sections["tracer"]["calls_without_tracer"], "<=", 0)
    return out


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    revision = "unknown"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"], capture_output=True,
                               text=True, timeout=10, check=True).stdout.strip()
        revision = head + (" + uncommitted changes in src/" if dirty else "")
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "ssl_openssl": ssl.OPENSSL_VERSION,
        "cryptography": cryptography.__version__,
        "cryptography_openssl": cryptography_backend.openssl_version_text(),
        "kernel": platform.release(),
        "tls12_revision": revision,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_1min_end": round(os.getloadavg()[0], 2),
    }


# -- report ----------------------------------------------------------------------------------------------


def _ratio_text(r: dict[str, Any]) -> str:
    return f"{r['median']:.2f}x [{r['min']:.2f}-{r['max']:.2f}]"


def _target_text(result: dict[str, Any], name: str) -> str:
    t = result["targets"].get(name)
    if t is None:
        return ""
    op, limit = t["target"].split()
    sign = "<=" if op == "<=" else ">="
    return f"{sign} {float(limit):g}x: {'met' if t['met'] else 'MISSED'}"


def rows(result: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(measure, tls12, ssl module, tls12/ssl median [range], target) for the table."""
    s = result["sections"]
    out: list[tuple[str, str, str, str, str]] = []
    if "handshake" in s:
        h = s["handshake"]
        out.append(("Full handshake, client+server in memory (ms)", f"{h['tls12']['median']:.3f}",
                    f"{h['ssl']['median']:.3f}", _ratio_text(h["ratio"]), _target_text(result, "handshake_vs_ssl")))
        parts = ", ".join(f"{k} {h['floor'][k]:.3f}" for k in CryptoFloor.COMPONENTS)
        out.append((f"Crypto floor, same run (ms): {parts}", f"{h['floor']['median']:.3f}", "", "", ""))
        out.append(("Handshake / crypto floor", f"{h['ratio_floor']['median']:.2f}x",
                    f"{h['ssl_ratio_floor']['median']:.2f}x", _ratio_text(h["ratio_floor"]) + " (tls12)",
                    _target_text(result, "handshake_vs_floor")))
    if "handshake_ecdsa" in s:
        e = s["handshake_ecdsa"]
        out.append(("Full handshake, ECDSA P-256, client+server in memory (ms)", f"{e['tls12']['median']:.3f}",
                    f"{e['ssl']['median']:.3f}", _ratio_text(e["ratio"]),
                    "(no target in issue 11; issue 15 sets <= 0.85x)"))
    if "handshake_dhe" in s:
        e = s["handshake_dhe"]
        out.append(("Full handshake, DHE-RSA ffdhe2048, client+server in memory (ms)", f"{e['tls12']['median']:.3f}",
                    f"{e['ssl']['median']:.3f}", _ratio_text(e["ratio"]), "(no target in issue 15)"))
    resumed_labels = {
        "resumed_ticket": "Resumed handshake by ticket, client+server in memory (ms)",
        "resumed_id": "Resumed handshake by session ID, client+server in memory (ms)",
        "resumed_ticket_ecdsa": "Resumed handshake by ticket, ECDSA P-256, client+server in memory (ms)",
    }
    for key, label in resumed_labels.items():
        if key in s:
            e = s[key]
            out.append((label, f"{e['tls12']['median']:.3f}", f"{e['ssl']['median']:.3f}", _ratio_text(e["ratio"]),
                        _target_text(result, key)))
    labels = {
        "bulk_16k": "Bulk 16 KiB writes, in memory (MB/s)",
        "bulk_256": "Small records 256 B, in memory (MB/s)",
        "bulk_chacha_16k": "Bulk 16 KiB writes, ChaCha20-Poly1305, in memory (MB/s)",
        "bulk_chacha_256": "Small records 256 B, ChaCha20-Poly1305, in memory (MB/s)",
        "socket_16k": "Bulk 16 KiB writes, socketpair + threads (MB/s)",
        "socket_256": "Small records 256 B, socketpair + threads (MB/s)",
    }
    for key, label in labels.items():
        if key in s:
            e = s[key]
            out.append((label, f"{e['tls12']['median']:.1f}", f"{e['ssl']['median']:.1f}", _ratio_text(e["ratio"]),
                        _target_text(result, key)))
            if "ratio_compat" in e:
                out.append(("  same writes, tls12's drop-in SSLContext.wrap_socket()",
                            f"{e['tls12_compat']['median']:.1f}", f"{e['ssl']['median']:.1f}",
                            _ratio_text(e["ratio_compat"]), ""))
    if "memory" in s:
        m = s["memory"]
        out.append((f"Memory per idle pair, RSS over {result['settings']['memory_pairs']:,} pairs (KB)",
                    f"{m['tls12']['median'] / 1000:.1f}", f"{m['ssl']['median'] / 1000:.1f}",
                    _ratio_text(m["ratio"]), _target_text(result, "memory")))
    if "server_handshakes" in s:
        e = s["server_handshakes"]
        clients = result["settings"]["load_handshake_clients"]
        out.append((f"Server handshakes/s, {clients} concurrent clients (server CPU)",
                    f"{e['tls12']['median']:.0f} ({e['tls12']['server_cpu']:.0%})",
                    f"{e['ssl']['median']:.0f} ({e['ssl']['server_cpu']:.0%})", _ratio_text(e["ratio"]), ""))
        out.append(("  server CPU per handshake (ms)", f"{e['tls12']['server_cpu_ms_per_handshake']:.2f}",
                    f"{e['ssl']['server_cpu_ms_per_handshake']:.2f}", "", ""))
    if "server_throughput" in s:
        e = s["server_throughput"]
        clients = result["settings"]["load_throughput_clients"]
        out.append((f"Server echo MB/s, {clients} clients (server CPU)",
                    f"{e['tls12']['median']:.1f} ({e['tls12']['server_cpu']:.0%})",
                    f"{e['ssl']['median']:.1f} ({e['ssl']['server_cpu']:.0%})", _ratio_text(e["ratio"]), ""))
    if "workers" in s:
        out += workers_rows(result)
    if "tracer" in s:
        t = s["tracer"]
        per_handshake = sum(t["calls_without_tracer_per_handshake"].values())
        in_traffic = sum(t["calls_without_tracer_in_traffic"].values())
        out.append(("Tracing calls with no tracer: per handshake / in traffic",
                    f"{per_handshake} / {in_traffic}", "",
                    f"~{t['estimated_cost_without_tracer_us_per_handshake']:.2f} us "
                    f"({t['estimated_share_of_handshake']:.2%})",
                    _target_text(result, "tracer_off_calls").replace("<= 0x", "0 calls")))
        out.append(("No-op tracer attached / none: handshake time", "", "", _ratio_text(t["handshake_ratio"]), ""))
        out.append(("No-op tracer attached / none: 256 B record MB/s", "", "", _ratio_text(t["records_256_ratio"]), ""))
    return out


def workers_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """The workers row and its CPU figures: both counts go in the tls12 column (second / first)."""
    w = result["sections"]["workers"]
    first, second = (w[f"workers_{count}"] for count in WORKER_COUNTS)
    a, b = WORKER_COUNTS
    clients = result["settings"]["workers_clients"]
    return [
        (f"`tls12 serve` full handshakes/s, --workers {b} / --workers {a} (Go load client, {clients} connections)",
         f"{second['median']:.0f} / {first['median']:.0f}", "", _ratio_text(w["ratio"]),
         _target_text(result, "workers")),
        (f"  CPU per handshake (ms), {b} / {a} workers: workers; Go load client",
         f"{second['workers_cpu_ms_per_handshake']:.2f} / {first['workers_cpu_ms_per_handshake']:.2f}; "
         f"{second['generator_cpu_ms_per_handshake']:.2f} / {first['generator_cpu_ms_per_handshake']:.2f}", "",
         _ratio_text(w["cpu_per_handshake_ratio"]), ""),
        (f"  cores used (of {w['cores']}), {b} / {a} workers: workers; Go load client; interrupts; "
         "other processes; steal",
         f"{second['workers_cpu']:.2f} / {first['workers_cpu']:.2f}; "
         f"{second['generator_cpu']:.2f} / {first['generator_cpu']:.2f}; "
         f"{second['interrupts_cpu']:.2f} / {first['interrupts_cpu']:.2f}; "
         f"{second['others_cpu']:.2f} / {first['others_cpu']:.2f}; "
         f"{second['steal_cpu']:.2f} / {first['steal_cpu']:.2f}", "", "", ""),
        (f"  ceiling, load client on the same cores: {w['cores']} x CPU/handshake({a}) / (CPU/handshake({b}) "
         "+ client's)", "", "", _ratio_text(w["ratio_ceiling"]), ""),
        (f"  projection, the {w['cores']} cores to the workers alone: {w['cores']} / the CPU/handshake ratio above",
         "", "", _ratio_text(w["ratio_workers_alone"]), ""),
    ]


def _rounds(result: dict[str, Any]) -> str:
    n = result["settings"]["rounds"]
    memory = result["settings"]["memory_rounds"] if "memory" in result["sections"] else n
    return f"{n} round{'s' if n != 1 else ''}" + (f", memory {min(n, memory)}" if memory < n else "")


def _conditions(result: dict[str, Any]) -> str:
    m, clock = result["machine"], result["settings"].get("clock", "wall")
    how = ("wall-clock times" if clock == "wall" else
           "in-process single-threaded sections timed in thread CPU time (--clock cpu), the rest wall-clock")
    return (f"{how}; 1-minute load average {m.get('loadavg_1min_start')} at the start, "
            f"{m.get('loadavg_1min_end')} at the end")


def machine_line(result: dict[str, Any]) -> str:
    m = result["machine"]
    return (f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['ssl_openssl']} (ssl module), "
            f"cryptography {m['cryptography']} ({m['cryptography_openssl']}), Linux {m['kernel']}")


def print_table(result: dict[str, Any]) -> None:
    header = ("Measure", "tls12", "ssl module", "tls12/ssl median [range]", "target")
    table = [header, *rows(result)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print(f"tls12 vs the stdlib ssl module -- {machine_line(result)}")
    print(f"tls12 at {result['machine']['tls12_revision']}; {_rounds(result)}; "
          f"ratios are per round (tls12 / ssl), median [min-max]; {_conditions(result)}")
    for name, found in result["negotiated"].items():
        print(f"  negotiated ({name}): " + ", ".join(f"{k}={v}" for k, v in found.items()))
    for name, found in result.get("negotiated_ecdsa", {}).items():
        print(f"  negotiated ({name}, ECDSA P-256 certificate): " + ", ".join(f"{k}={v}" for k, v in found.items()))
    for name, found in result.get("negotiated_dhe", {}).items():
        print(f"  negotiated ({name}, DHE row): " + ", ".join(f"{k}={v}" for k, v in found.items()))
    for row, pairs in result.get("negotiated_resumption", {}).items():
        for name, found in pairs.items():
            print(f"  resumed ({row}, {name}): " + ", ".join(f"{k}={v}" for k, v in found.items()))
    for name, found in result.get("negotiated_chacha", {}).items():
        print(f"  negotiated ({name}, ChaCha20 rows): " + ", ".join(f"{k}={v}" for k, v in found.items()))
    for i, r in enumerate(table):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"tls12 against the stdlib `ssl` module in one process, interleaved and shuffled round by round "
        f"({_rounds(result)}; ratios are tls12 / ssl within a round, median [min-max]). "
        f"Same RSA-2048 CA-issued certificate, TLS 1.2 {result['settings'].get('suite', DEFAULT_SUITE)}, x25519, "
        "rsa_pss_rsae_sha256; both clients verify the chain and the host name."
        + _ecdsa_text(result) + _dhe_text(result) + _resumption_text(result) + _chacha_text(result)
        + _workers_text(result),
        "",
        f"Machine: {machine_line(result)}. tls12 at {result['machine']['tls12_revision']}, "
        f"{result['machine']['date']}; {_conditions(result)}. "
        "Reproduce with `python bench/bench.py` (see `bench/README.md`).",
        "",
        "| Measure | tls12 | ssl module | tls12 / ssl | target |",
        "|---|--:|--:|--:|---|",
    ]
    for r in rows(result):
        lines.append("| " + " | ".join(c.replace("|", "/") for c in r) + " |")
    return "\n".join(lines)


def _ecdsa_text(result: dict[str, Any]) -> str:
    """What the ECDSA handshake row runs, for the README's introduction (nothing if the run had no such row)."""
    suite = result["settings"].get("suite_ecdsa")
    if "handshake_ecdsa" not in result["sections"] or suite is None:
        return ""
    return (f" The ECDSA handshake row: an ECDSA P-256 certificate from the same CA on both sides, "
            f"{suite}, x25519, ecdsa_secp256r1_sha256.")


def _dhe_text(result: dict[str, Any]) -> str:
    """What the DHE handshake row runs, for the README's introduction (nothing if the run had no such row)."""
    suite = result["settings"].get("suite_dhe")
    if "handshake_dhe" not in result["sections"] or suite is None:
        return ""
    return (f" The DHE handshake row: the RSA certificate, {suite}, the RFC 7919 group ffdhe2048 (offered alone by "
            "our client; the `ssl` server loads its p and g, which OpenSSL sends in TLS 1.2 whatever the client "
            "lists), rsa_pss_rsae_sha256.")


def _resumption_text(result: dict[str, Any]) -> str:
    """What the resumed-handshake rows run, for the README's introduction (nothing if the run had none)."""
    if not any(key in result["sections"] for key in RESUMPTION):
        return ""
    return (" The resumed rows offer, on every handshake, the session of one full handshake made in the same "
            "round, and check that both ends resumed it: by ticket, both servers issue RFC 5077 tickets; by "
            "session ID, neither side does tickets (`OP_NO_TICKET`; `ClientConfig(session_tickets=False)`, "
            "`ServerConfig(ticket_keys=None)`) and both servers keep sessions in their default in-memory cache."
            + (" The full-handshake rows run without tickets on both sides." if "handshake" in result["sections"]
               else ""))


def _chacha_text(result: dict[str, Any]) -> str:
    """What the ChaCha20 bulk rows run, for the README's introduction (nothing if the run had none)."""
    if "bulk_chacha_256" not in result["sections"]:
        return ""
    return f" The ChaCha20-Poly1305 rows: the same writes with both sides on {CHACHA_SUITE}."


def _workers_text(result: dict[str, Any]) -> str:
    """What the workers rows run, for the README's introduction (nothing if the run had none)."""
    if "workers" not in result["sections"]:
        return ""
    settings = result["settings"]
    go = result["machine"].get("go", "Go")
    return (f" The workers rows: `tls12 serve --echo --workers N`, N = 1 and 2, under `bench/loadgen/main.go` "
            f"({go}, crypto/tls) on the same machine: {settings['workers_clients']} connections each in a loop of "
            f"connect, full TLS 1.2 handshake (no session cache, no tickets; {DEFAULT_SUITE}, x25519; the chain "
            f"not verified, the signature is), close_notify and close; {settings['workers_seconds']:g} s per "
            "server and round in two windows taken A B B A, each after "
            f"{settings['workers_warmup']:g} s of warm-up; CPU from /proc (the server's processes, the whole "
            "machine) and getrusage (the client) over the same windows.")


def update_readme(result: dict[str, Any], readme: Path) -> None:
    text = readme.read_text(encoding="utf-8")
    block = f"{README_START}\n{markdown(result)}\n{README_END}"
    if README_START in text and README_END in text:
        head, rest = text.split(README_START, 1)
        _, tail = rest.split(README_END, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n## Performance\n\n" + block + "\n"
    readme.write_text(text, encoding="utf-8")


# -- profiles --------------------------------------------------------------------------------------------


def print_profile(profilers: Sequence[cProfile.Profile], top: int, title: str) -> list[dict[str, Any]]:
    stream = io.StringIO()
    stats = pstats.Stats(profilers[0], stream=stream)
    for extra in profilers[1:]:
        stats.add(extra)
    return _print_stats(stats, stream, top, title)


_NATIVE_CRYPTO = re.compile(r"cryptography|x25519|x448|ed25519|keys\.|aead|hmac|hashes", re.IGNORECASE)


def _where(filename: str, name: str) -> str:
    """The group a profile entry belongs to: a tls12 module, cryptography's native code, other built-ins, ..."""
    if filename == "~":
        return "cryptography (native)" if _NATIVE_CRYPTO.search(name) else "other built-ins"
    if "/tls12/" in filename:
        return "tls12/" + filename.rsplit("/tls12/", 1)[1]
    return Path(filename).name


def _print_stats(stats: pstats.Stats, stream: io.StringIO, top: int, title: str) -> list[dict[str, Any]]:
    raw: dict[Any, Any] = dict(stats.stats)  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1e-9
    calls = sum(v[1] for v in raw.values())
    groups: Counter[str] = Counter()
    for (filename, _, name), (_, _, tt, _, _) in raw.items():
        groups[_where(filename, name)] += tt
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    clock = "CPU" if PROFILE_TIMER[0] is time.thread_time else "wall-clock"
    print(f"== cProfile ({clock} time), tls12 side: {title}; top {top} by tottime ==")
    print(stream.getvalue().strip())
    print(f"\nBy where the time is spent (tottime; {calls} function calls in all):")
    for where, tt in groups.most_common(15):
        print(f"  {tt:8.3f} s {tt / total:6.1%}  {where}")
    entries = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    return [{"function": f"{Path(f).name}:{line}({name})", "ncalls": nc, "tottime": tt, "cumtime": ct}
            for (f, line, name), (_, nc, tt, ct, _) in entries]


def run_profile(section: str, peers: Peers, sizes: Sizes, top: int, workdir: Path) -> dict[str, Any]:
    title = section
    entries: list[dict[str, Any]]
    if section == "memory":
        data = run_memory_child("tls12", sizes.memory_pairs, peers.pem, trace_malloc=True)
        print(f"== tracemalloc, tls12 side: {sizes.memory_pairs} idle pairs; RSS {data['value']:.0f} B/pair, "
              f"Python heap {data['python_heap_per_pair']:.0f} B/pair; top allocation sites ==")
        for entry in data["top"]:
            print(f"{entry['bytes_per_pair']:10.1f} B/pair {entry['blocks_per_pair']:7.2f} blocks/pair  "
                  f"{entry['where']}")
        print("RSS of single native objects:")
        for what, size in data["native_probes"].items():
            print(f"{size:10.1f} B  {what}")
        return {"profile": section, "memory": data}
    if section.startswith("server"):
        profile_path = workdir / "serve.prof"
        servers = start_servers(peers.pem, workdir, profile_to=profile_path)
        server = servers["tls12"]
        try:
            if section == "server_handshakes":
                measure_server_handshakes(server, peers.ssl_client, sizes.load_handshake_clients,
                                          sizes.load_seconds * 3)
            else:
                measure_server_throughput(server, peers.ssl_client, sizes.load_throughput_clients,
                                          sizes.load_seconds * 3)
        finally:
            server.stop()
        stream = io.StringIO()
        entries = _print_stats(pstats.Stats(str(profile_path), stream=stream), stream, top,
                               f"{section} (the tls12 serve process)")
        return {"profile": section, "entries": entries}
    profilers: list[cProfile.Profile] = []
    workload: Workload
    if section in RESUMPTION:
        return profile_resumption(section, peers.pem, sizes, top)
    if section.startswith("handshake"):
        units = sizes.handshakes * 2
        if section == "handshake_ecdsa":
            pair, what = Peers.load(peers.pem, "ecdsa"), ", ECDSA P-256 certificate"
        elif section == "handshake_dhe":
            suite = dhe_for(PINNED_SUITE[0])
            pair, what = Peers.load(peers.pem, suite=suite), f", {suite}, {DHE_GROUP.name.lower()}"
        else:
            pair, what = peers, ""
        workload = handshakes_tls12(pair)
        title += f" ({units} handshakes, client and server{what})"
    elif section.startswith("bulk"):
        size, units = (16 * KIB, sizes.bulk_16k) if section == "bulk_16k" else (256, sizes.bulk_256)
        workload = bulk_tls12(peers, size)
        title += f" ({units} writes of {size} B, sending and receiving side)"
    else:
        size, units = (16 * KIB, sizes.socket_16k) if section == "socket_16k" else (256, sizes.socket_256)
        workload = socket_tls12(peers, size, profilers)
        title += f" ({units} writes of {size} B; sender and receiver threads merged)"
    try:
        workload.step(max(1, units // 10))  # warm-up
        profilers.clear()
        gc.collect()
        with profiling(None if section.startswith("socket") else profilers):  # socket: profiled per thread
            workload.step(units)
    finally:
        workload.close()
    entries = print_profile(profilers, top, title)
    return {"profile": section, "entries": entries}


@contextlib.contextmanager
def timed_states(clock: Callable[[], float]) -> Iterator[Counter[str]]:
    """Time, while in the block, each handshake state's `handle` (both roles; it includes the records
    it sends), the client's ClientHello building and the parsing of handshake messages: a clock read
    around each call, no profiler. The seconds accumulate in the Counter yielded, by name."""
    totals: Counter[str] = Counter()
    patched: list[tuple[object, str, object]] = []

    def wrap(owner: object, attr: str, name: str) -> None:
        original = getattr(owner, attr)

        def timed(*args: Any) -> Any:
            start = clock()
            try:
                return original(*args)
            finally:
                totals[name] += clock() - start

        patched.append((owner, attr, original))
        setattr(owner, attr, timed)

    for module_name, role in (("tls12.handshake.client", "client"), ("tls12.handshake.server", "server")):
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            if isinstance(obj, type) and obj.__module__ == module_name and "handle" in vars(obj):
                wrap(obj, "handle", f"{role} {name}.handle")
    connection = importlib.import_module("tls12.connection")
    wrap(connection, "start_client", "client start_client (ClientConnection() building the ClientHello)")
    wrap(connection, "parse_handshake", "both parse_handshake (messages received)")
    try:
        yield totals
    finally:
        for owner, attr, original in reversed(patched):
            setattr(owner, attr, original)


def print_by_state(peers: Peers, n: int, clock: Callable[[], float]) -> dict[str, float]:
    """µs per resumed handshake in each state (see timed_states), and in what is left of the whole."""
    workload = resumed_tls12(peers)
    workload.step(max(1, n // 10))
    gc.collect()
    with timed_states(clock) as totals:
        start = clock()
        workload.step(n)
        whole = clock() - start
    found = {name: seconds / n * 1e6 for name, seconds in totals.items()}
    found["whole resumed handshake, close_notify included"] = whole / n * 1e6
    rest = whole - sum(totals.values())
    found["the rest: record layer, dispatch, connection objects, close_notify"] = rest / n * 1e6
    print(f"tls12 by state (µs per resumed handshake; a clock read around each call, no profiler; {n} handshakes):")
    for name, us in sorted(found.items(), key=lambda kv: kv[1], reverse=True):
        print(f"  {us:8.1f}  {name}")
    return found


def profile_resumption(section: str, pem: Path, sizes: Sizes, top: int) -> dict[str, Any]:
    """--profile resumed_*: step by step, both sides, without a profiler; then cProfile of tls12's side
    with the time by state."""
    key_type, tickets = RESUMPTION[section]
    peers = Peers.load(pem, key_type, tickets)
    clock = PROFILE_TIMER[0]
    units = sizes.resumptions * 2
    resumed_steps(peers, max(1, units // 10), 2, clock)  # warm-up
    steps = resumed_steps(peers, units, 10, clock)
    what = "CPU" if clock is time.thread_time else "wall-clock"
    print(f"== {section}: µs per resumed handshake by step ({what} time, no profiler; median of 10 slices "
          f"of {max(1, units // 10)}) ==")
    print(f"  {'step':66s} {'tls12':>8s} {'ssl':>8s}  tls12/ssl")
    for i, name in enumerate(RESUMED_STEPS):
        ours, theirs = steps["tls12"][i], steps["ssl"][i]
        print(f"  {name:66s} {ours:8.1f} {theirs:8.1f}  {ours / theirs:.2f}x")
    total = {impl: sum(values) for impl, values in steps.items()}
    print(f"  {'all':66s} {total['tls12']:8.1f} {total['ssl']:8.1f}  {total['tls12'] / total['ssl']:.2f}x")
    bare = ssl_client_hello_us(peers, clock, units)
    print(f"  (the ssl client's first step without a session to offer: {bare:.1f} µs; with one, CPython "
          f"{platform.python_version()}'s _ssl copies the session through i2d/d2i_SSL_SESSION when it is set, "
          "a workaround for openssl/openssl#1550, and d2i parses the server's certificate again)\n")
    by_state = print_by_state(peers, units, clock)
    print()
    workload = resumed_tls12(peers)
    profilers: list[cProfile.Profile] = []
    workload.step(max(1, units // 10))
    gc.collect()
    with profiling(profilers):
        workload.step(units)
    entries = print_profile(profilers, top, f"{section} ({units} resumed handshakes, client and server)")
    return {"profile": section, "steps_us": dict(zip(RESUMED_STEPS, zip(steps["tls12"], steps["ssl"], strict=True),
                                                   strict=True)),
            "by_state_us": by_state, "entries": entries}


# -- main ----------------------------------------------------------------------------------------------


def parse_sections(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="tls12 against the stdlib ssl module: handshakes, bulk data, memory, a server under load.")
    parser.add_argument("--rounds", type=int, help=f"rounds (default {FULL.rounds}; --quick: {QUICK.rounds})")
    parser.add_argument("--quick", action="store_true", help="small sizes for a fast smoke run")
    parser.add_argument("--only", type=parse_sections, metavar="SECTIONS",
                        help=f"comma-separated sections to run: {', '.join(SECTIONS)}")
    parser.add_argument("--profile", choices=PROFILE_SECTIONS, metavar="SECTION",
                        help=f"cProfile tls12's side of one section ({', '.join(PROFILE_SECTIONS)}; "
                             "memory uses tracemalloc) and print the top entries by tottime")
    parser.add_argument("--top", type=int, default=25, help="entries to print with --profile (default 25)")
    parser.add_argument("--profile-clock", choices=("wall", "cpu"), default="wall",
                        help="what --profile measures: wall-clock time (default) or each thread's CPU time "
                             "(for a busy machine; reading it costs more, which inflates small functions)")
    parser.add_argument("--suite", choices=list(BENCH_SUITES), default=DEFAULT_SUITE,
                        help=f"the suite both implementations are pinned to (default {DEFAULT_SUITE}; the ECDSA "
                             f"handshake row takes its ECDHE-ECDSA counterpart, the DHE row its DHE-RSA one); "
                             f"another one runs with --only "
                             f"{','.join(SUITE_SECTIONS)} (or some of them)")
    parser.add_argument("--seed", type=int, help="seed for the round-by-round shuffle")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="what the in-process single-threaded sections (handshake, floor, in-memory bulk, "
                             "tracer) report: wall-clock time (default) or the thread's CPU time, which other "
                             "processes on a busy machine disturb less; both are in the JSON either way")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the JSON result to FILE")
    parser.add_argument("--update-readme", nargs="?", const="", metavar="FILE",
                        help="rewrite the README's Performance table from FILE (a run's output or JSON; "
                             "its last line is used), or from this run if FILE is omitted")
    parser.add_argument("--readme", type=Path, default=README, help=argparse.SUPPRESS)
    parser.add_argument("--child-memory", choices=("tls12", "ssl"), help=argparse.SUPPRESS)
    parser.add_argument("--pairs", type=int, default=FULL.memory_pairs, help=argparse.SUPPRESS)
    parser.add_argument("--pem-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)
    return parser


@contextlib.contextmanager
def running_servers(peers: Peers, workdir: Path, wanted: bool) -> Iterator[dict[str, ServerProcess]]:
    servers: dict[str, ServerProcess] = {}
    try:
        if wanted:
            servers = start_servers(peers.pem, workdir)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@contextlib.contextmanager
def running_worker_servers(peers: Peers, workdir: Path, wanted: bool) -> Iterator[dict[int, ServerProcess]]:
    servers: dict[int, ServerProcess] = {}
    try:
        if wanted:
            servers = start_worker_servers(peers.pem, workdir)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def run_benchmark(args: argparse.Namespace, sizes: Sizes, peers: Peers, workdir: Path) -> dict[str, Any]:
    sections = list(args.only or SECTIONS)
    extra: dict[str, Any] = {"negotiated": {}, "loadavg_1min_start": round(os.getloadavg()[0], 2)}
    if "workers" in sections and shutil.which("go") is None and not args.only:
        log("note: no Go toolchain (`go`): the workers row, which needs it for its load client, is left out")
        sections.remove("workers")
    loadgen = None
    if "workers" in sections:
        log("building bench/loadgen/main.go")
        loadgen = build_loadgen(workdir)
        extra["go"] = subprocess.run(["go", "version"], capture_output=True, text=True, timeout=60,
                                     check=False).stdout.strip().removeprefix("go version ")
    if extra["loadavg_1min_start"] > 0.5:
        log(f"note: the machine is busy (1-minute load {extra['loadavg_1min_start']}); expect noisy numbers")
    client, _ = tls12_pair(peers)
    extra["negotiated"]["tls12 pair"] = negotiated_tls12(client)
    extra["negotiated"]["ssl pair"] = negotiated_ssl(peers)
    ecdsa = dhe = None
    if "handshake" in sections:  # the ECDSA handshake row: both sides on the ECDSA certificate
        ecdsa = Peers.load(peers.pem, "ecdsa")
        client, _ = tls12_pair(ecdsa)
        extra["negotiated_ecdsa"] = {"tls12 pair": negotiated_tls12(client), "ssl pair": negotiated_ssl(ecdsa)}
        for name, found in extra["negotiated_ecdsa"].items():
            check_negotiated(f"{name} (ECDSA)", found, expected_for("ecdsa"))
        dhe = Peers.load(peers.pem, suite=dhe_for(PINNED_SUITE[0]))  # the DHE row: both sides on DHE_GROUP
        client, _ = tls12_pair(dhe)
        extra["negotiated_dhe"] = {"tls12 pair": negotiated_tls12(client), "ssl pair": negotiated_ssl(dhe)}
        for name, found in extra["negotiated_dhe"].items():
            check_negotiated(f"{name} (DHE)", found, expected_dhe())
    chacha = None
    if "bulk" in sections and "CHACHA20" not in PINNED_SUITE[0]:  # the ChaCha20 rows, both sides on it
        chacha = Peers.load(peers.pem, suite=CHACHA_SUITE)
        client, _ = tls12_pair(chacha)
        extra["negotiated_chacha"] = {"tls12 pair": negotiated_tls12(client), "ssl pair": negotiated_ssl(chacha)}
        for name, found in extra["negotiated_chacha"].items():
            check_negotiated(f"{name} (ChaCha20)", found, {**EXPECTED, "cipher_suite": BENCH_SUITES[CHACHA_SUITE].name})
    resumption: dict[str, Peers] = {}
    if "resumption" in sections:
        extra["negotiated_resumption"] = {}
        for key, (key_type, tickets) in RESUMPTION.items():
            pair = peers if (key_type, tickets) == ("rsa", peers.tickets) else Peers.load(peers.pem, key_type, tickets)
            resumption[key] = pair
            found = {"tls12 pair": negotiated_resumption_tls12(pair), "ssl pair": negotiated_resumption_ssl(pair)}
            extra["negotiated_resumption"][key] = found
            for name, values in found.items():
                check_negotiated(f"{name} ({key})", values, expected_resumption(key_type, tickets))
    with running_servers(peers, workdir, "server" in sections) as servers, \
            running_worker_servers(peers, workdir, loadgen is not None) as worker_servers:
        for server in servers.values():
            extra["negotiated"][f"{server.name} (stdlib client)"] = probe_server(server.port, peers.ssl_client)
        for name, found in extra["negotiated"].items():
            check_negotiated(name, found)
        if "tracer" in sections:
            handshake, traffic = count_tracing_calls(peers, sizes.count_records, None)
            extra["tracer"] = {
                "calls_without_tracer": sum(handshake.values()) + sum(traffic.values()),
                "calls_without_tracer_per_handshake": dict(handshake.most_common()),
                "calls_without_tracer_in_traffic": dict(traffic.most_common()),
                "records_counted": 2 * sizes.count_records,
                "guarded_call_us": guarded_call_cost(),
                "trace_events_per_traced_handshake": count_trace_events(peers),
            }
        rng = random.Random(args.seed)
        groups = build_groups(peers, sizes, sections, args.clock, ecdsa, chacha=chacha, resumption=resumption,
                              dhe=dhe)
        workers = (worker_servers, loadgen) if loadgen is not None else None
        make_tasks = build_tasks(peers, sizes, sections, servers, groups, rng, args.clock, workers)
        samples = run_rounds(make_tasks, groups, sizes.rounds, rng, args.clock)
    result = summarize(samples, sizes, extra)
    result["settings"]["clock"] = args.clock
    result["settings"]["suite"] = PINNED_SUITE[0]
    if ecdsa is not None:
        result["settings"]["suite_ecdsa"] = suite_for("ecdsa", PINNED_SUITE[0])
    if dhe is not None:
        result["settings"]["suite_dhe"] = dhe_for(PINNED_SUITE[0])
        result["settings"]["group_dhe"] = DHE_GROUP.name
    return result


def last_json_line(text: str) -> dict[str, Any]:
    lines = [line for line in text.splitlines() if line.strip()]
    data: dict[str, Any] = json.loads(lines[-1])
    return data


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child_memory:
        print(json.dumps(memory_child(args.child_memory, args.pairs, args.pem_dir, args.tracemalloc)))
        return 0
    if args.update_readme:  # from a saved run
        update_readme(last_json_line(Path(args.update_readme).read_text(encoding="utf-8")), args.readme)
        log(f"updated {args.readme}")
        return 0
    if args.suite != DEFAULT_SUITE:
        if args.profile:
            requested = ["resumption" if args.profile in RESUMPTION else args.profile.split("_")[0]]
        else:
            requested = args.only
        if not requested or any(section not in SUITE_SECTIONS for section in requested):
            raise SystemExit(f"--suite {args.suite} runs with --only {','.join(SUITE_SECTIONS)} (or some of them)")
        use_suite(args.suite)
    sizes = QUICK if args.quick else FULL
    if args.rounds is not None:
        if args.rounds < 1:
            raise SystemExit("--rounds must be at least 1")
        sizes = replace(sizes, rounds=args.rounds)
    with tempfile.TemporaryDirectory(prefix="tls12-bench-") as tmp:
        workdir = Path(tmp)
        peers = Peers.load(write_pem_dir(workdir))
        if args.profile:
            PROFILE_TIMER[0] = time.thread_time if args.profile_clock == "cpu" else time.perf_counter
            result = run_profile(args.profile, peers, sizes, args.top, workdir)
            print(json.dumps(result, separators=(",", ":")))
            return 0
        started = time.perf_counter()
        result = run_benchmark(args, sizes, peers, workdir)
        result["settings"]["seconds"] = round(time.perf_counter() - started, 1)
    print_table(result)
    line = json.dumps(result, separators=(",", ":"))
    if args.json:
        args.json.write_text(line + "\n", encoding="utf-8")
    if args.update_readme is not None:
        update_readme(result, args.readme)
        log(f"updated {args.readme}")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
