"""`tls12 explain CAPTURE --keylog FILE`: explain a recorded connection offline.

The capture is a pcap or pcapng file (tcpdump, Wireshark, dumpcap, `tls12
connect --capture`), a flows file (what `tls12 demo --capture` writes), or
two raw files, client to server then server to client. A pcap or pcapng file
may hold many connections: they are listed (addresses, SNI, version, suite,
whether the key log covers them), and one is chosen with --stream N or
--connection HOST:PORT; a capture with one TLS 1.2 connection is explained
directly. With the NSS key log of the connection (--keylog, or the Decryption
Secrets Block of a pcapng), the encrypted records (the Finished messages, the
application data, the alerts) are decrypted and explained too. See
`tls12.explain.capture` for the text formats, `tls12.explain.pcapfile`,
`tcpstream` and `connections` for packet captures, and
`tls12.explain.replay` for the explaining.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..explain import explain, render
from ..explain.capture import read_capture
from ..explain.replay import replay
from .files import FileProblem, read_certificates
from .output import add_explain_options, escaped_explanation, printable, use_color, write_out

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    p = commands.add_parser("explain", help="explain a recorded connection (a pcap/pcapng capture and a key log)")
    p.add_argument("capture", nargs="+", metavar="FILE",
                   help="a pcap or pcapng capture; or a flows file (as `tls12 demo --capture FILE` writes), or two "
                        "raw files: client to server, then server to client")
    p.add_argument("--keylog", metavar="FILE",
                   help="the NSS key log (SSLKEYLOGFILE) holding the connection's CLIENT_RANDOM line, to decrypt its "
                        "records (a pcapng may carry it already, in a Decryption Secrets Block)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--stream", type=int, metavar="N",
                       help="in a pcap/pcapng capture: explain TCP stream N (the number listed, as Wireshark's "
                            "tcp.stream)")
    which.add_argument("--connection", metavar="HOST:PORT",
                       help="in a pcap/pcapng capture: explain the connection with this endpoint (client or server)")
    p.add_argument("--cafile", metavar="PEM", help="verify the server's chain against these CA certificates")
    add_explain_options(p, default="text", secrets_help="show secret values (master secret, key block, keys)")
    p.set_defaults(run=run)


def _fail(message: str, code: int = 2) -> int:
    print(f"tls12 explain: {printable(message, unicode=True)}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    if len(args.capture) > 2:
        return _fail("give one capture file, or two raw files (client to server, server to client)")
    try:
        keylog = Path(args.keylog).read_text(encoding="ascii", errors="replace") if args.keylog else None
        anchors = read_certificates(args.cafile, "--cafile") if args.cafile else []
        if len(args.capture) == 1 and _is_packet_file(args.capture[0]):
            return _explain_packets(args, keylog, anchors)
        if args.stream is not None or args.connection is not None:
            return _fail("--stream and --connection choose a connection in a pcap or pcapng capture")
        capture = read_capture(args.capture)
    except (FileProblem, OSError) as exc:
        return _fail(str(exc))
    except ValueError as exc:
        if len(args.capture) == 1:
            return _fail(f"{args.capture[0]} is not a pcap or pcapng capture, nor a flows file ({exc})")
        return _fail(str(exc))
    events = replay(capture, keylog, trust_anchors=anchors)
    names = " and ".join(str(p) for p in args.capture)
    where = "the key log " + args.keylog if args.keylog else "no key log (the encrypted records stay closed)"
    _render(args, events, f"tls12 explain: {names}", f"A recorded connection, replayed offline with {where}.")
    return 0


def _is_packet_file(path: str) -> bool:
    from ..explain.pcapfile import looks_like_packet_file  # noqa: PLC0415

    with open(path, "rb") as f:
        return looks_like_packet_file(f.read(4))


def _render(args: argparse.Namespace, events: Any, title: str, subtitle: str) -> None:
    exp = explain(events, title=title, subtitle=subtitle)
    fmt = args.explain
    if fmt == "text":  # a capture may come from anywhere: what its peers sent is escaped
        exp = escaped_explanation(exp)
    write_out(render(exp, fmt, reveal_secrets=args.reveal_secrets, color=use_color(fmt, args.output)), args.output)


def _explain_packets(args: argparse.Namespace, keylog_text: str | None, anchors: Any) -> int:
    from ..explain.connections import (  # noqa: PLC0415
        explain_connection,
        find_tls,
        format_listing,
        listing_json,
        pick,
    )
    from ..explain.pcapfile import CaptureError, read_packet_file  # noqa: PLC0415
    from ..explain.replay import parse_keylog  # noqa: PLC0415
    from ..explain.tcpstream import reassemble  # noqa: PLC0415

    name = args.capture[0]
    try:
        packets = read_packet_file(name)
        connections = reassemble(packets.segments)
    except CaptureError as exc:
        return _fail(str(exc))
    keylog = parse_keylog(packets.keylog)
    keylog.update(parse_keylog(keylog_text or ""))
    found = find_tls(connections, keylog)
    chosen, candidates, why = pick(found, stream=args.stream, connection=args.connection)
    sources = [s for s in (f"--keylog {args.keylog}" if args.keylog else "",
                           "the capture's Decryption Secrets Block" if packets.keylog else "") if s]
    about = (f"{name}: {packets.format}, {packets.packets} packets, {len(connections)} TCP connection"
             f"{'s' if len(connections) != 1 else ''}, {len(found)} TLS; key log: "
             f"{' and '.join(sources) if sources else 'none'}")
    if chosen is None:
        if not found:
            extra = f"; packets not taken: {packets.describe_skipped()}" if packets.skipped else ""
            for note in packets.notes:
                print(f"tls12 explain: {printable(note, unicode=True)}", file=sys.stderr)
            return _fail(f"{about}: no TLS connection found{extra}", 1)
        if args.explain == "json":
            write_out(listing_json(candidates), args.output)
        else:
            listing = format_listing(candidates, len(connections) - len(found) if not args.connection else 0)
            lines = [about, *(f"  note: {n}" for n in packets.notes), *listing.splitlines(), "", why,
                     "Choose one with --stream N (or --connection HOST:PORT)."]
            write_out("".join(printable(line, unicode=True) + "\n" for line in lines), args.output)
        # Several connections to choose from is an answer; a choice that found nothing is not.
        ambiguous = args.stream is None and sum(c.explainable for c in candidates) > 1
        return 0 if ambiguous else 1
    if not chosen.explainable:
        return _fail(f"TCP stream {chosen.index} ({chosen.tcp.client} to {chosen.tcp.server}) is not explained: "
                     f"{chosen.skip_reason}", 1)
    events = explain_connection(chosen, keylog, packets, found, trust_anchors=anchors)
    where = (f"the key log from {' and '.join(sources)}" if chosen.in_key_log
             else "no key log line for it (the encrypted records stay closed)")
    _render(args, events, f"tls12 explain: {name}, TCP stream {chosen.index}",
            f"{chosen.tcp.client} to {chosen.tcp.server}"
            + (f" (SNI {chosen.sni})" if chosen.sni else "") + f", replayed offline with {where}.")
    return 0
