"""What the commands share for output: where an explanation goes, whether in colour, and escaping.

`printable()` is the one escaping function for text that came from a peer
(every log line of `tls12 serve` goes through it).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any, TextIO, cast

from ..explain import FORMATS, Explanation

__all__ = ["add_explain_options", "escaped_explanation", "printable", "use_color", "write_out"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str, *, unicode: bool = False) -> str:
    """`text` made safe for a terminal or a log: every control character written as an escape.

    Line breaks, ESC (terminal escape sequences), the other C0 and C1 controls and
    DEL become ``\\n``, ``\\x1b``, ... so that what a peer sent can neither start a
    forged line nor drive the terminal. Non-ASCII is escaped too (``\\xe9``,
    ``\\u202e``), unless `unicode` keeps the printable part of it (for text tls12
    itself writes with symbols in it; invisible format characters are still escaped).
    Backslashes are left alone: escaping twice changes nothing."""
    if text.isascii() and text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0x20 <= code < 0x7F or (unicode and code > 0xA0 and ch.isprintable()):
            out.append(ch)
        elif ch in _NAMED:
            out.append(_NAMED[ch])
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


def escaped_explanation(exp: Explanation) -> Explanation:
    """A copy of `exp` with every string in it passed through `printable()` (symbols kept).

    An explanation quotes what the peer sent (the ALPN names it offered, the
    names in its certificates, ...); escaped here, before the text renderer adds
    its own colours, none of it can start a forged line or drive the terminal."""
    return cast(Explanation, _escape_all(exp))


def _escape_all(value: object) -> object:
    if isinstance(value, str):
        return printable(value, unicode=True)
    if isinstance(value, list):
        return [_escape_all(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_escape_all(v) for v in value)
    if (dataclasses.is_dataclass(value) and not isinstance(value, type)
            and type(value).__module__ == Explanation.__module__):
        return dataclasses.replace(value, **{f.name: _escape_all(getattr(value, f.name))
                                             for f in dataclasses.fields(value) if f.init})
    return value


def add_explain_options(p: Any, *, default: str | None, secrets_help: str) -> None:
    p.add_argument("--explain", choices=FORMATS, default=default, metavar="{text,html,json}",
                   help="show the handshake step by step: text, one self-contained HTML page, or JSON"
                        + (f" (default: {default})" if default else ""))
    p.add_argument("--output", metavar="FILE", help="write the explanation to FILE instead of standard output")
    p.add_argument("--reveal-secrets", action="store_true", help=secrets_help)


def use_color(fmt: str, output: str | None, stream: TextIO | None = None) -> bool:
    """ANSI colours for text on a terminal only (and never with NO_COLOR set)."""
    stream = stream or sys.stdout
    return fmt == "text" and output is None and stream.isatty() and not os.environ.get("NO_COLOR")


def write_out(text: str, output: str | None, stream: TextIO | None = None) -> None:
    if output is None:
        (stream or sys.stdout).write(text)
        (stream or sys.stdout).flush()
        return
    with open(output, "w", encoding="utf-8") as f:
        f.write(text)
