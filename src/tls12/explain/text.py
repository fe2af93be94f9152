"""The explanation as text: for a terminal (with colour) or a file (plain).

One section per step, in the textbook's order: a heading with the number,
the message, who sends it to whom and the RFC section; one line saying what
the step is for; the record that carried it; each field with its value and
(dimmed) its meaning; what the sender chose and why; what the receiver
checked and the verdict; and at the key exchange, the key schedule. Secret
values are replaced by their length unless `reveal_secrets` is set.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from ..enums import AlertLevel
from .model import Check, DecisionInfo, Derivation, Explanation, Field, Step, TrafficItem
from .names import alert_name, code, content_type_name, decision_value, version_name

__all__ = ["render_text"]

_NAME_WIDTH = 30
_HEX_PER_LINE = 64  # hex digits (32 bytes) per line
_WIDTH = 120
_HIDDEN = "[{n} bytes hidden; --reveal-secrets shows them]"


@dataclass(frozen=True)
class _Style:
    color: bool

    def _wrap(self, code_: str, text: str) -> str:
        return f"\x1b[{code_}m{text}\x1b[0m" if self.color and text else text

    def head(self, text: str) -> str:
        return self._wrap("1;36", text)

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def ok(self, text: str) -> str:
        return self._wrap("32", text)

    def bad(self, text: str) -> str:
        return self._wrap("1;31", text)

    def warn(self, text: str) -> str:
        return self._wrap("33", text)

    def secret(self, text: str) -> str:
        return self._wrap("35", text)


def _arrow(sender: str) -> str:
    return "client → server" if sender == "client" else "server → client"


def _is_hex(text: str) -> bool:
    return len(text) > _HEX_PER_LINE and all(c in "0123456789abcdef" for c in text)


def _value_lines(value: str, width: int) -> list[str]:
    """A value cut to fit: long hex in fixed-size chunks, lists at their commas."""
    if _is_hex(value):
        return [value[i : i + _HEX_PER_LINE] for i in range(0, len(value), _HEX_PER_LINE)]
    if len(value) <= width:
        return [value]
    return textwrap.wrap(value, width, break_long_words=True, break_on_hyphens=False) or [value]


def _row(s: _Style, indent: int, name: str, value: str, meaning: str = "", *, value_style: str = "") -> list[str]:
    pad = " " * indent
    column = _NAME_WIDTH - (indent - 4)
    value_width = max(_WIDTH - indent - column, 40)
    lines = _value_lines(value, value_width)
    styled = [s.secret(v) if value_style == "secret" else v for v in lines]
    cont = " " * (indent + column)
    if len(name) >= column:  # a long name gets a line of its own
        out = [f"{pad}{name}", f"{cont}{styled[0]}".rstrip()]
    else:
        out = [f"{pad}{name:<{column}}{styled[0]}".rstrip()]
    out += [f"{cont}{v}" for v in styled[1:]]
    if meaning:
        for line in textwrap.wrap(meaning, max(_WIDTH - indent - column, 40)):
            out.append(cont + s.dim(line))
    return out


def _field_lines(s: _Style, f: Field, indent: int, meanings: bool) -> list[str]:
    if f.kind in ("length", "header"):
        return []
    if f.expand:
        out = _row(s, indent, f.name, f.value, f.meaning if meanings else "")
        for child in f.children:
            out += _field_lines(s, child, indent + 2, meanings)
        return out
    out = _row(s, indent, f.name, f.value, f.meaning if meanings else "")
    for child in f.children:
        if child.kind == "info":
            out += _row(s, indent + 2, child.name, child.value)
    return out


def _record_lines(s: _Style, step: Step) -> list[str]:
    out = []
    for r in step.records:
        kind = f"{content_type_name(r.content_type)} ({r.content_type})"
        if r.protected:
            if r.explicit_nonce is not None:  # AES-GCM (RFC 5288)
                nonce = f"explicit nonce {r.explicit_nonce.hex()}"
                parts = f"{len(r.explicit_nonce)} nonce + {r.plaintext_length} encrypted + 16 tag"
            else:  # ChaCha20-Poly1305 sends no nonce (RFC 7905)
                nonce, parts = "no explicit nonce", f"{r.plaintext_length} encrypted + 16 tag"
            text = (f"{kind}, {version_name(r.version)}, protected: sequence number {r.seq}, {nonce}, "
                    f"{r.length} bytes = {parts}")
        else:
            plural = "s" if r.length != 1 else ""
            text = f"{kind}, {version_name(r.version)} ({code(r.version)}), {r.length} byte{plural}"
        out += _row(s, 4, "record", text)
    return out


def _decision_lines(s: _Style, d: DecisionInfo) -> list[str]:
    return textwrap.wrap(f"{d.chooser} chose {d.what}: {s.bold(decision_value(d.what, d.value))} — {d.why}", _WIDTH - 4,
                         initial_indent="    ", subsequent_indent="        ")


def _who(by: str) -> str:
    return {"observer": "tls12 explain", "both": "client and server"}.get(by, by)


def _check_lines(s: _Style, c: Check) -> list[str]:
    if c.status == "ok":
        verdict = s.ok("✓ verified")
    elif c.status == "skipped":
        verdict = s.warn("- not checked")
    else:
        verdict = s.bad("✗ failed")
    subject = f" ({c.subject})" if c.subject and c.status == "failed" else ""
    if c.by == "both":
        text = f"client and server derived the same {c.what}: {verdict} — {c.detail}"
    elif c.status == "skipped":
        text = f"{s.warn('-')} {_who(c.by)} did not check {c.what}: {c.detail}"
    else:
        text = f"{_who(c.by)} checked {c.what}: {verdict} — {c.detail}{subject}"
    lines = textwrap.wrap(text, _WIDTH - 4, initial_indent="    ", subsequent_indent="        ")
    if c.expected or c.received:
        computer = "tls12 explain" if c.by == "observer" else f"the {c.by}"
        lines += _row(s, 8, "expected", c.expected.hex(), f"computed by {computer} from its own transcript")
        lines += _row(s, 8, "received", c.received.hex(), "the verify_data in the message")
    return lines


def _derivation_lines(s: _Style, step: Step, reveal: bool) -> list[str]:
    if not step.derivations:
        return []
    by = step.derivations[0].by
    who = {"observer": "tls12 explain, from the key log"}.get(by, f"the {by}")
    # Resumed, the schedule goes with the ServerHello: no premaster, the session's master secret (RFC 5246 §7.3).
    refs = "RFC 5246 §7.3 and §6.3" if step.id == "server_hello" else "RFC 5246 §8.1 and §6.3, RFC 7627 §4"
    out = ["", "  " + s.bold(f"Key schedule, as computed by {who}") + s.dim(f"   {refs}")]
    for d in step.derivations:
        out += _derivation_row(s, d, reveal)
    return out


def _derivation_row(s: _Style, d: Derivation, reveal: bool) -> list[str]:
    indent = 6 if d.label.startswith(("client_write", "server_write")) else 4
    name = ("└ " if d.label == "server_write_IV" else "├ ") + d.label if indent == 6 else d.label
    if d.value is None:
        value = f"(unknown: {d.length} bytes)"
        style = ""
    elif d.secret and not reveal:
        value = _HIDDEN.format(n=d.length)
        style = ""
    else:
        value = d.value.hex()
        style = "secret" if d.secret else ""
    lines = _row(s, indent, name, value, value_style=style)
    column = " " * (indent + _NAME_WIDTH - (indent - 4))
    if d.formula:
        lines.append(column + f"= {d.formula}")
    if d.source:
        lines.append(column + s.dim(f"taken from {d.source}"))
    for line in textwrap.wrap(d.meaning, max(_WIDTH - len(column), 40)):
        lines.append(column + s.dim(line))
    return lines


def _step_lines(s: _Style, step: Step, reveal: bool, meanings: bool) -> list[str]:
    number = f"Step {step.number}" if step.number else "Also"
    status = "" if step.status == "ok" else "   " + s.bad("✗ FAILED HERE")
    out = ["", s.head(f"{number}  {step.title}") + f"   {_arrow(step.sender)}   " + s.dim(step.rfc) + status]
    out += textwrap.wrap(step.purpose, _WIDTH - 2, initial_indent="  ", subsequent_indent="  ")
    if not step.seen:
        out.append(s.bad(f"  It never arrived: the {step.receiver} expected {step.expected}."))
        return out
    out += _record_lines(s, step)
    for note in step.notes:
        out += [s.dim(line) for line in textwrap.wrap(f"({note})", _WIDTH - 4, initial_indent="    ",
                                                       subsequent_indent="     ")]
    for f in step.fields:
        out += _field_lines(s, f, 4, meanings)
    for d in step.decisions:
        out += _decision_lines(s, d)
    for c in step.checks:
        out += _check_lines(s, c)
    out += _derivation_lines(s, step, reveal)
    return out


def _failure_lines(s: _Style, exp: Explanation) -> list[str]:
    f = exp.failure
    if f is None:
        return []
    where = f"at step {f.step} ({f.step_title})" if f.step is not None else "after the handshake"
    out = ["", s.bad(f"✗ The connection failed {where}, detected by the {f.detected_by}.")]
    out += _row(s, 4, "expected", f.expected)
    out += _row(s, 4, "received", f.received)
    out += _row(s, 4, "what was wrong", f"{f.error_type + ': ' if f.error_type else ''}{f.error}")
    if f.alert is not None:
        level = "fatal"
        direction = {"sent": f"sent by the {f.detected_by}",
                     "received": f"received by the {f.detected_by}",
                     "none": "not sent"}[f.alert_direction]
        out += _row(s, 4, "alert", f"{level} {alert_name(f.alert)} ({f.alert}), {direction}")
    else:
        out += _row(s, 4, "alert", "none could be sent (the connection was already gone)")
    if f.peer_view:
        out += _row(s, 4, "the other side", f.peer_view)
    if f.inferred:
        out.append(s.dim("    (Only the alert was seen: the step is inferred from it.)"))
    if exp.not_reached:
        names = ", ".join(f"{n.number} {n.title}" + (" (sent, never processed)" if n.sent else "")
                          for n in exp.not_reached)
        out += textwrap.wrap(f"Not reached: {names}.", _WIDTH - 4, initial_indent="    ",
                             subsequent_indent="    ")
    return out


def _traffic_lines(s: _Style, exp: Explanation, reveal: bool) -> list[str]:
    if not exp.traffic and not exp.traffic_decisions:
        return []
    handshake_done = exp.handshake_done
    out = [""]
    if handshake_done:
        rfc = "RFC 7905 §2" if "ChaCha20" in exp.record_protection else "RFC 5288 §3"
        out.append(s.head("After the handshake") + "   " + s.dim(f"RFC 5246 §6.2.3.3, {rfc}"))
        out += textwrap.wrap(exp.record_protection, _WIDTH - 2, initial_indent="  ", subsequent_indent="  ")
    else:
        out.append(s.head("Alerts") + "   " + s.dim("RFC 5246 §7.2"))
    closes: set[str] = set()
    for item in exp.traffic:
        out += _traffic_item(s, item, reveal)
        if item.kind == "alert" and item.alert_description == 0:
            closes.add(item.sender)
    for d in exp.traffic_decisions:
        out += _decision_lines(s, d)
    if closes == {"client", "server"}:
        out.append("")
        out.append(s.head("Close") + "   " + s.dim("RFC 5246 §7.2.1"))
        out.append("  Each side sent close_notify: the connection ended cleanly (no one can cut the data short "
                   "unnoticed).")
    return out


def _traffic_item(s: _Style, item: TrafficItem, reveal: bool) -> list[str]:
    r = item.record
    where = ""
    nonce = ""
    if item.nonce_rule:
        value = item.nonce.hex() if item.nonce is not None and reveal else (
            _HIDDEN.format(n=len(item.nonce)) if item.nonce is not None else "write_IV unknown")
        nonce = f"AEAD nonce {value} = {item.nonce_rule}"
    if r is not None and r.protected:
        if r.explicit_nonce is not None:
            where = (f"seq {r.seq}, nonce {r.explicit_nonce.hex()}, {r.length} bytes = {len(r.explicit_nonce)} + "
                     f"{r.plaintext_length} + 16")
        else:
            where = f"seq {r.seq}, no explicit nonce, {r.length} bytes = {r.plaintext_length} + 16"
    elif r is not None:
        where = f"{r.length} bytes, not encrypted"
    if item.kind == "alert":
        level = {int(AlertLevel.WARNING): "warning", int(AlertLevel.FATAL): "fatal"}.get(item.alert_level or 0, "?")
        what = f"alert {level} {alert_name(item.alert_description or 0)} ({item.alert_description})"
    elif item.kind == "application_data":
        what = "application_data"
        if item.plaintext is not None:
            shown = item.plaintext[:60]
            what += f"  {shown!r}" + ("…" if len(item.plaintext) > 60 else "")
    else:
        what = f"handshake: {item.note}"
    line = f"    {_arrow(item.sender)}   {what}"
    return [line] + ([s.dim(f"{' ' * 8}{where}")] if where else []) + ([s.dim(f"{' ' * 8}{nonce}")] if nonce else [])


def _flight_lines(s: _Style, exp: Explanation) -> list[str]:
    if not exp.flights:
        return []
    out = ["", s.head("The flights") + s.dim("   (each is everything one side sends before it waits for the other)")]
    rows: list[tuple[str, list[str], str]] = []
    for flight in exp.flights:
        arrow = "client ──▶ server" if flight.sender == "client" else "client ◀── server"
        labels = []
        for item in flight.items:
            label = item.label + ("*" if item.protected else "")
            if item.status == "failed":
                label += " ✗"
            elif item.status == "unprocessed":
                label = f"({label})"
            labels.append(label)
        size = f"{flight.wire_bytes} bytes" if flight.wire_bytes else ""
        rows.append((f"  {flight.number:>2}  {arrow}   ", textwrap.wrap(", ".join(labels), _WIDTH - 44) or [""], size))
    width = max(len(line) for _, lines, _ in rows for line in lines)
    for head, lines, size in rows:
        out.append(f"{head}{lines[0]:<{width}}   {s.dim(size)}".rstrip())
        out += [f"{' ' * len(head)}{line}" for line in lines[1:]]
    marks = ["* encrypted"]
    if any(i.status == "unprocessed" for f in exp.flights for i in f.items):
        marks.append("(x) sent, never processed")
    if any(i.status == "failed" for f in exp.flights for i in f.items):
        marks.append("✗ failed")
    out.append(s.dim("      " + "    ".join(marks)))
    return out


def render_text(exp: Explanation, *, reveal_secrets: bool = False, color: bool = False,
                meanings: bool = True) -> str:
    """The whole explanation as text. `color`: ANSI colours, for a terminal only."""
    s = _Style(color)
    lines: list[str] = []
    if exp.title:
        lines.append(s.bold(exp.title))
    if exp.subtitle:
        for line in exp.subtitle.splitlines():
            lines += textwrap.wrap(line, _WIDTH - 2, initial_indent="  ", subsequent_indent="  ")
    if exp.summary:
        lines.append("")
        width = max(len(k) for k, _ in exp.summary) + 2
        lines.append(s.bold("Negotiated"))
        lines += [f"  {k + ':':<{width}}{v}" for k, v in exp.summary]
    if exp.source == "replay":
        lines.append(s.dim("  (replayed from a capture: tls12 explain saw only the bytes on the wire and the key log)"))
    lines += _flight_lines(s, exp)
    for step in exp.steps:
        lines += _step_lines(s, step, reveal_secrets, meanings)
    lines += _failure_lines(s, exp)
    lines += _traffic_lines(s, exp, reveal_secrets)
    for note in exp.notes:
        lines.append(s.dim(f"Note: {note}"))
    return "\n".join(lines) + "\n"
