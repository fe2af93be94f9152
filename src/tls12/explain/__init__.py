"""The glass box: a real handshake explained step by step, with the real values.

A connection given a tracer (`Recorder.tracer("client")`) reports what it
sent, received, decided, verified and derived (`tls12.trace`). This package
turns those events, from one end, both ends, or a replayed capture
(`replay`), into the textbook's steps (`explain()` -> `Explanation`) and
renders them as text, JSON or one self-contained HTML page::

    recorder = Recorder()
    client = ClientConnection(config, server_name="localhost", tracer=recorder.tracer("client"))
    ...
    print(render(recorder.events, "text"))

Modules: `model` (the data), `build` (events -> steps), `annotate` (every
byte of a message named), `names` (code points for display), `text`,
`jsonout` and `htmlpage` (the renderers), `replay` (a passive observer
over recorded bytes and a key log).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from .build import explain
from .htmlpage import render_html
from .jsonout import SCHEMA, render_json, to_json
from .model import AppData, Explanation, ObserverNote, Recorder, Step, Tagged
from .text import render_text

__all__ = [
    "FORMATS",
    "SCHEMA",
    "AppData",
    "Explanation",
    "Format",
    "ObserverNote",
    "Recorder",
    "Step",
    "Tagged",
    "explain",
    "render",
    "render_html",
    "render_json",
    "render_text",
    "to_json",
]

Format = Literal["text", "html", "json"]
FORMATS: tuple[Format, ...] = ("text", "html", "json")


def render(events: Sequence[Tagged] | Explanation, fmt: Format = "text", *, reveal_secrets: bool = False,
           color: bool = False, title: str = "", subtitle: str = "") -> str:
    """Explain `events` (or an `Explanation` already built) in one of `FORMATS`.

    `color` only applies to text (ANSI colours: pass it only for a terminal).
    Secret values (premaster, master, keys) are shown only with `reveal_secrets`."""
    exp = events if isinstance(events, Explanation) else explain(events, title=title, subtitle=subtitle)
    if fmt == "text":
        return render_text(exp, reveal_secrets=reveal_secrets, color=color)
    if fmt == "json":
        return render_json(exp, reveal_secrets=reveal_secrets)
    if fmt == "html":
        return render_html(exp, reveal_secrets=reveal_secrets)
    raise ValueError(f"unknown explanation format {fmt!r}; expected one of {', '.join(FORMATS)}")
