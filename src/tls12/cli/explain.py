"""`tls12 explain CAPTURE --keylog FILE`: explain a recorded connection offline.

The capture is what went over the wire both ways: a flows file (what
`tls12 demo --capture` writes), or two raw files, client to server then
server to client. With the NSS key log
of the connection, the encrypted records (the Finished messages, the
application data, the alerts) are decrypted and explained too. See
`tls12.explain.capture` for the formats and `tls12.explain.replay` for how.
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
from .output import add_explain_options, escaped_explanation, use_color, write_out

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    p = commands.add_parser("explain", help="explain a recorded connection (bytes both ways and a key log)")
    p.add_argument("capture", nargs="+", metavar="FILE",
                   help="a flows file (as `tls12 demo --capture FILE` writes), or two raw files: "
                        "client to server, then server to client")
    p.add_argument("--keylog", metavar="FILE",
                   help="the NSS key log holding the connection's CLIENT_RANDOM line (to decrypt its records)")
    p.add_argument("--cafile", metavar="PEM", help="verify the server's chain against these CA certificates")
    add_explain_options(p, default="text", secrets_help="show secret values (master secret, key block, keys)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if len(args.capture) > 2:
        print("tls12 explain: give one flows file, or two raw files (client to server, server to client)",
              file=sys.stderr)
        return 2
    try:
        capture = read_capture(args.capture)
        keylog = Path(args.keylog).read_text(encoding="ascii", errors="replace") if args.keylog else None
        anchors = read_certificates(args.cafile, "--cafile") if args.cafile else []
    except (FileProblem, OSError, ValueError) as exc:
        print(f"tls12 explain: {exc}", file=sys.stderr)
        return 2
    events = replay(capture, keylog, trust_anchors=anchors)
    names = " and ".join(str(p) for p in args.capture)
    where = "the key log " + args.keylog if args.keylog else "no key log (the encrypted records stay closed)"
    exp = explain(events, title=f"tls12 explain: {names}",
                  subtitle=f"A recorded connection, replayed offline with {where}.")
    fmt = args.explain
    if fmt == "text":  # a capture may come from anywhere: what its peers sent is escaped
        exp = escaped_explanation(exp)
    write_out(render(exp, fmt, reveal_secrets=args.reveal_secrets, color=use_color(fmt, args.output)), args.output)
    return 0
