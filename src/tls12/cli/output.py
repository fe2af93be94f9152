"""What the commands share for showing an explanation: where it goes, and whether in colour."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from ..explain import FORMATS

__all__ = ["add_explain_options", "use_color", "write_out"]


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
