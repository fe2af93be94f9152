"""tlslite_peer: a TLS client or echo server on tlslite-ng (pure Python), for test_peer_tlslite.py.

    python tlslite_peer.py client --port P --ca CA.pem [--sni NAME] [--alpn a,b] [--groups g1,g2]
                                  [--send TEXT] [--close us|peer]
    python tlslite_peer.py server --cert CERT.pem --key KEY.pem [--alpn a,b] [--groups g1,g2]
                                  [--close-after N] [--ciphers aes128gcm,...]

Everything stays on 127.0.0.1. tlslite-ng does no certificate path validation, so the
client checks the server's chain and name itself with `cryptography`'s verifier (never
with tls12). Output: "HANDSHAKE k=v ...", "RESULT k=v ...", or "FAIL ..." and exit 1.
"""

from __future__ import annotations

import argparse
import hashlib
import socket
import sys

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store
from tlslite.api import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey
from tlslite.constants import CipherSuite

VERSIONS = {(3, 3): "TLSv1.2", (3, 4): "TLSv1.3"}


def fail(what: str, exc: BaseException) -> None:
    print(f"FAIL {what}: {type(exc).__name__}: {exc}", flush=True)
    sys.exit(1)


def describe(c: TLSConnection, role: str) -> str:
    s = c.session
    alpn = bytes(s.appProto).decode() if s.appProto else "-"
    return (f"HANDSHAKE version={VERSIONS.get(c.version, c.version)} "
            f"cipher={CipherSuite.ietfNames.get(s.cipherSuite, hex(s.cipherSuite))} alpn={alpn} "
            f"ems={'yes' if s.extendedMasterSecret else 'no'} sni={s.serverName or '-'} "
            f"impl={c.getCipherImplementation()}")


def settings(args: argparse.Namespace) -> HandshakeSettings:
    st = HandshakeSettings()
    if args.groups:
        st.eccCurves = args.groups.split(",")
        st.keyShares = list(st.eccCurves)
    if getattr(args, "ciphers", None):
        st.cipherNames = args.ciphers.split(",")
    return st


def verify_chain(c: TLSConnection, ca_file: str, name: str) -> None:
    """The server's chain must lead to the CA and name `name` (RFC 5280 / 6125, by cryptography)."""
    with open(ca_file, "rb") as f:
        anchors = x509.load_pem_x509_certificates(f.read())
    certs = [x509.load_der_x509_certificate(bytes(cert.bytes)) for cert in c.session.serverCertChain.x509List]
    verifier = PolicyBuilder().store(Store(anchors)).build_server_verifier(x509.DNSName(name))
    verifier.verify(certs[0], certs[1:])


def client(args: argparse.Namespace) -> None:
    try:
        sock = socket.create_connection(("127.0.0.1", args.port), timeout=30)
        c = TLSConnection(sock)
        c.closeSocket = False  # close(): send close_notify and wait for the server's
        alpn = [bytearray(p.encode()) for p in args.alpn.split(",")] if args.alpn else None
        c.handshakeClientCert(settings=settings(args), serverName=args.sni, alpn=alpn)
        verify_chain(c, args.ca, args.sni)
    except Exception as exc:
        fail("handshake", exc)
    print(describe(c, "client"), flush=True)
    message = args.send.encode()
    try:
        c.write(message)
        got = b""
        while len(got) < len(message):
            data = bytes(c.read(max=65536))
            if not data:
                raise EOFError(f"end of stream after {len(got)} bytes")
            got += data
        if args.close == "us":
            c.close()  # close_notify, then wait for the server's
        else:
            rest = bytes(c.read())  # empty once the server's close_notify arrived (tlslite answers it)
            if rest:
                raise ValueError(f"unexpected data {rest!r}")
            c.close()
        sock.close()
    except Exception as exc:
        fail("data", exc)
    print(f"RESULT sent={len(message)} received={len(got)} echo_ok={got == message} closed_by={args.close}",
          flush=True)


def server(args: argparse.Namespace) -> None:
    try:
        chain = X509CertChain()
        with open(args.cert) as f:
            chain.parsePemList(f.read())
        with open(args.key) as f:
            key = parsePEMKey(f.read(), private=True)
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        ls.settimeout(60)
        print(f"LISTENING {ls.getsockname()[1]}", flush=True)
        sock, _ = ls.accept()
        ls.close()
        sock.settimeout(60)
        c = TLSConnection(sock)
        c.closeSocket = False
        alpn = [bytearray(p.encode()) for p in args.alpn.split(",")] if args.alpn else None
        c.handshakeServer(certChain=chain, privateKey=key, settings=settings(args), alpn=alpn)
    except Exception as exc:
        fail("handshake", exc)
    print(describe(c, "server"), flush=True)
    received = hashlib.sha256()
    count = 0
    closed_first = "peer"
    try:
        while True:
            if args.close_after >= 0 and count >= args.close_after:
                closed_first = "us"
                c.close()  # close_notify first, then wait for the client's
                break
            data = bytes(c.read(max=65536))
            if not data:
                break  # the client's close_notify (tlslite answered it)
            count += len(data)
            received.update(data)
            c.write(data)
        sock.close()
    except Exception as exc:
        fail("data", exc)
    print(f"RESULT received={count} received_sha256={received.hexdigest()} closed_first={closed_first}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    cp = sub.add_parser("client")
    cp.add_argument("--port", type=int, required=True)
    cp.add_argument("--ca", required=True)
    cp.add_argument("--sni", default="localhost")
    cp.add_argument("--alpn", default="")
    cp.add_argument("--groups", default="")
    cp.add_argument("--send", default="hello from tlslite-ng\n")
    cp.add_argument("--close", choices=["us", "peer"], default="us")
    sp = sub.add_parser("server")
    sp.add_argument("--cert", required=True)
    sp.add_argument("--key", required=True)
    sp.add_argument("--alpn", default="")
    sp.add_argument("--groups", default="")
    sp.add_argument("--ciphers", default="")
    sp.add_argument("--close-after", type=int, default=-1)
    args = ap.parse_args()
    client(args) if args.mode == "client" else server(args)


if __name__ == "__main__":
    main()
