"""The explanation as one self-contained HTML page.

Everything is inline: the CSS, a little JavaScript, the timeline (SVG). The
page loads nothing from anywhere (its Content-Security-Policy forbids it) and
names no outside URL, so it can be opened from a file, mailed, or shown to a
class offline. It reads without JavaScript: steps are ``<details>`` elements,
every byte's field is in its ``title``. With JavaScript, hovering a byte names
its field in a panel next to the bytes (a click pins it), hovering a field in
the table lights up its bytes, and steps can be opened or closed all at once.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

from ..enums import AlertLevel
from .annotate import annotate_record_header
from .model import Check, DecisionInfo, Derivation, Explanation, Field, Flight, Step, TrafficItem
from .names import alert_name, content_type_name, decision_value, version_name

__all__ = ["render_html"]

_PALETTE = 6
_OPEN_BYTES_LIMIT = 600  # longer messages start with their bytes folded


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


class _Ids:
    def __init__(self) -> None:
        self._n = 0

    def next(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"


# -- bytes -----------------------------------------------------------------------------------------


def _with_bytes(fields: list[Field]) -> Iterator[tuple[Field, int, int, str]]:
    """(field, depth, top-level index, path) for every field that has bytes."""
    def walk(f: Field, depth: int, top: int, path: str) -> Iterator[tuple[Field, int, int, str]]:
        here = f"{path} \u203a {f.name}" if path else f.name
        if f.start is not None and f.end is not None and f.end > f.start:
            yield f, depth, top, here
        for child in f.children:
            yield from walk(child, depth + 1, top, here)

    for index, f in enumerate(fields):
        yield from walk(f, 0, index, "")


def _hex_view(raw: bytes, fields: list[Field], ids: _Ids, prefix: str, refs: dict[int, str]) -> str:
    """The bytes as hex, each field a (nested) span carrying its name, value and meaning."""
    opens: dict[int, list[tuple[int, str]]] = {}
    closes: dict[int, int] = {}
    for f, depth, top, path in _with_bytes(fields):
        assert f.start is not None and f.end is not None
        span_id = ids.next(prefix)
        refs[id(f)] = span_id
        classes = f"f k-{f.kind} c{top % _PALETTE} d{min(depth, 3)}"
        tip = f"{f.name}: {f.value}" + (f"\n{f.meaning}" if f.meaning else "")
        tag = (f'<span id="{span_id}" class="{classes}" data-n="{_e(f.name)}" data-p="{_e(path)}" '
               f'data-v="{_e(f.value)}" data-m="{_e(f.meaning)}" data-o="{f.start}" data-l="{f.end - f.start}" '
               f'title="{_e(tip)}">')
        opens.setdefault(f.start, []).append((depth, tag))
        closes[f.end - 1] = closes.get(f.end - 1, 0) + 1
    out: list[str] = []
    last = len(raw) - 1
    for i, byte in enumerate(raw):
        for _, tag in sorted(opens.get(i, []), key=lambda t: t[0]):
            out.append(tag)
        out.append(f"{byte:02x}")
        out.append("</span>" * closes.get(i, 0))
        if i != last:
            out.append(" ")
    return "".join(out)


def _bytes_block(raw: bytes, fields: list[Field], ids: _Ids, prefix: str, refs: dict[int, str], *,
                 title: str, open_: bool, note: str = "") -> str:
    rows = (len(raw) + 15) // 16
    offsets = "\n".join(f"{16 * r:04x}" for r in range(rows))
    view = _hex_view(raw, fields, ids, prefix, refs)
    return (
        f'<details class="bytes"{" open" if open_ else ""}><summary>{_e(title)}</summary>'
        + (f'<p class="bnote">{_e(note)}</p>' if note else "")
        + '<div class="hexblock"><pre class="offsets" aria-hidden="true">' + offsets + "</pre>"
        + f'<div class="hex" tabindex="0">{view}</div>'
        + '<div class="info"><p class="hint">Hover over the bytes to see what each one is; click to pin. '
        + "Without JavaScript, hovering shows a tooltip.</p></div></div></details>"
    )


# -- the parts of a step ---------------------------------------------------------------------------


def _soft(text: str, longer_than: int = 24) -> str:
    """Escaped text whose long identifiers (a cipher suite's name) may wrap after an underscore."""
    def token(word: str) -> str:
        if len(word) <= longer_than:
            return _e(word)
        return "<wbr>".join(_e(part) for part in re.split(r"(?<=_)", word))

    return "".join(token(word) for word in re.split(r"(\s+)", text))


def _name_html(name: str) -> str:
    """A field's name; an extension's code point goes under it, smaller."""
    match = re.fullmatch(r"(.+) \((0x[0-9A-F]{4})\)", name)
    if match is None:
        return _soft(name, 16)
    return f'{_soft(match[1], 16)} <small class="cp">{match[2]}</small>'


def _field_rows(fields: list[Field], refs: dict[int, str], depth: int = 0) -> list[str]:
    rows: list[str] = []
    for f in fields:
        if f.kind in ("length", "header"):
            continue
        ref = refs.get(id(f), "")
        attrs = f' data-ref="{ref}"' if ref else ""
        cls = f"lvl{min(depth, 2)}" + (" info" if f.kind == "info" else "")
        value = _value_html(f)
        rows.append(f'<tr class="{cls}"{attrs}><th scope="row">{_name_html(f.name)}</th><td class="v">{value}</td>'
                    f'<td class="m">{_e(f.meaning)}</td></tr>')
        if f.expand:
            rows += _field_rows(f.children, refs, depth + 1)
        else:
            rows += _field_rows([c for c in f.children if c.kind == "info"], refs, depth + 1)
    return rows


def _hex_html(value: str) -> str:
    """Hex that may wrap only between 4-byte groups (and copies without spaces)."""
    return "<wbr>".join(value[i : i + 8] for i in range(0, len(value), 8))


def _value_html(f: Field) -> str:
    value = f.value
    if value and all(c in "0123456789abcdef" for c in value) and len(value) >= 16:
        return f'<code class="hexval">{_hex_html(value)}</code>'
    return _soft(value)


def _record_html(step: Step, ids: _Ids, refs: dict[int, str]) -> str:
    if not step.records:
        return ""
    parts = []
    for index, record in enumerate(step.records):
        raw, fields = annotate_record_header(record)
        view = _hex_view(raw, fields, ids, f"r{step.id}-{index}-", refs)
        kind = f"{content_type_name(record.content_type)} ({record.content_type})"
        if record.protected:
            nonce = ("" if record.explicit_nonce is None
                     else f"{len(record.explicit_nonce)}-byte explicit nonce + ")
            what = (f"{kind}, {version_name(record.version)}, <b>encrypted</b>: sequence number {record.seq}, "
                    f"{record.length} bytes = {nonce}{record.plaintext_length} encrypted + 16-byte tag")
        else:
            what = f"{kind}, {version_name(record.version)}, {record.length} bytes"
        parts.append(f'<div class="record"><span class="rlabel">Record</span><span class="hex mini">{view}</span>'
                     f'<span class="rwhat">{what}</span></div>')
    return "".join(parts)


def _decisions_html(decisions: list[DecisionInfo]) -> str:
    if not decisions:
        return ""
    items = []
    for d in decisions:
        who = d.chooser
        items.append(f'<li><span class="who {who}">{who}</span> chose <b>{_e(d.what)}</b>: '
                     f'<code>{_e(decision_value(d.what, d.value))}</code> <span class="why">— {_e(d.why)}</span></li>')
    return f'<ul class="decisions">{"".join(items)}</ul>'


def _who(by: str) -> str:
    return {"observer": "tls12 explain", "both": "client and server"}.get(by, by)


def _checks_html(checks: list[Check]) -> str:
    if not checks:
        return ""
    items = []
    for c in checks:
        mark = {"ok": "✓", "failed": "✗", "skipped": "\u2013"}[c.status]
        verdict = {"ok": "verified", "failed": "failed", "skipped": "not checked"}[c.status]
        who_class = c.by if c.by in ("client", "server") else "other"
        if c.by == "both":
            head = f'<span class="who other">{_e(_who(c.by))}</span> derived the same <b>{_e(c.what)}</b>'
        else:
            verb = "did not check" if c.status == "skipped" else "checked"
            head = f'<span class="who {who_class}">{_e(_who(c.by))}</span> {verb} <b>{_e(c.what)}</b>'
        verdict_html = "" if c.status == "skipped" else f' <span class="verdict">{verdict}</span>'
        body = f'{head}:{verdict_html} <span class="why">— {_e(c.detail)}</span>'
        if c.expected or c.received:
            same = c.expected == c.received
            computer = "tls12 explain" if c.by == "observer" else f"the {c.by}"
            body += (f'<div class="vd"><div><span>expected — computed by {_e(computer)} from its own '
                     f'transcript</span><code>{_e(c.expected.hex())}</code></div>'
                     f'<div class="eq {"ok" if same else "bad"}">{"=" if same else "≠"}</div>'
                     f'<div><span>received — in the message</span><code>{_e(c.received.hex())}</code></div></div>')
        items.append(f'<li class="chk {c.status}"><span class="mark">{mark}</span><div>{body}</div></li>')
    return f'<ul class="checks">{"".join(items)}</ul>'


def _derivation_box(d: Derivation, reveal: bool) -> str:
    if d.value is None:
        value = '<span class="unknown">unknown to an observer</span>'
    elif d.secret and not reveal:
        value = f'<span class="hidden">{d.length} bytes hidden — --reveal-secrets shows them</span>'
    else:
        value = f'<code class="{"secret" if d.secret else ""}">{_hex_html(d.value.hex())}</code>'
    source = f'<div class="ks-src">taken from {_e(d.source)}</div>' if d.source else ""
    return (f'<div class="ks-box{" is-secret" if d.secret else ""}"><div class="ks-label">{_e(d.label)} '
            f'<small>{d.length} bytes</small></div><div class="ks-val">{value}</div>'
            f'<div class="ks-f">{"= " + _e(d.formula) if d.formula else ""}</div>{source}'
            f'<div class="ks-m">{_e(d.meaning)}</div></div>')


def _derivations_html(derivations: list[Derivation], reveal: bool, *, resumed: bool = False) -> str:
    if not derivations:
        return ""
    # Resumed, there is no premaster: the session's master secret, and keys from the new randoms (RFC 5246 §7.3).
    refs = "RFC 5246 §7.3 and §6.3" if resumed else "RFC 5246 §8.1 and §6.3, RFC 7627 §4"
    by = derivations[0].by
    who = "tls12 explain, from the key log" if by == "observer" else f"the {by}"
    top = [d for d in derivations if not d.label.startswith(("client_write", "server_write"))]
    keys = [d for d in derivations if d.label.startswith(("client_write", "server_write"))]
    parts = []
    for index, d in enumerate(top):
        if index:
            parts.append('<div class="ks-arrow" aria-hidden="true">↓</div>')
        parts.append(_derivation_box(d, reveal))
    if keys:
        parts.append('<div class="ks-arrow" aria-hidden="true">↓ cut into</div>')
        parts.append('<div class="ks-keys">' + "".join(_derivation_box(d, reveal) for d in keys) + "</div>")
    return (f'<div class="ks"><h4>Key schedule <span class="muted">as computed by {_e(who)} · {refs}</span></h4>'
            f'{"".join(parts)}</div>')


def _failure_html(exp: Explanation) -> str:
    f = exp.failure
    if f is None:
        return ""
    where = f"at step {f.step} ({f.step_title})" if f.step is not None else "after the handshake"
    alert = "none could be sent"
    if f.alert is not None:
        direction = {"sent": f"sent by the {f.detected_by}", "received": f"received by the {f.detected_by}",
                     "none": "not sent"}[f.alert_direction]
        alert = f"fatal {alert_name(f.alert)} ({f.alert}), {direction}"
    rows = [("expected", f.expected), ("received", f.received),
            ("what was wrong", f"{f.error_type + ': ' if f.error_type else ''}{f.error}"), ("alert", alert)]
    if f.peer_view:
        rows.append(("the other side", f.peer_view))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    inferred = '<p class="muted">Only the alert was seen: the step is inferred from it.</p>' if f.inferred else ""
    not_reached = ""
    if exp.not_reached:
        items = "".join(f"<li>{_e(n.number)} {_e(n.title)}{' — sent, never processed' if n.sent else ''}</li>"
                        for n in exp.not_reached)
        not_reached = f'<p class="nr-title">Not reached:</p><ul class="nr">{items}</ul>'
    return (f'<div class="failure" id="failure"><h3>✗ The connection failed {_e(where)}, detected by the '
            f'{_e(f.detected_by)}</h3><table>{body}</table>{inferred}{not_reached}</div>')


def _step_html(step: Step, exp: Explanation, ids: _Ids, reveal: bool) -> str:
    refs: dict[int, str] = {}
    anchor = f"step-{step.number}" if step.number else f"extra-{step.id}"
    number = step.number or "+"
    direction = "client → server" if step.sender == "client" else "server → client"
    status = ('<span class="badge bad">✗ failed here</span>' if step.status == "failed"
              else ('<span class="badge ok">✓</span>' if step.seen else ""))
    parts = [f'<p class="purpose">{_e(step.purpose)}</p>']
    if not step.seen:
        parts.append(f'<p class="missing">It never arrived: the {step.receiver} expected {_e(step.expected)}.</p>')
    else:
        parts.append(_record_html(step, ids, refs))
        bytes_html = ""
        if step.raw:
            note = ("Sent encrypted under the new keys; these are the decrypted bytes, as the transcript hashes "
                    "them." if step.protected else "")
            bytes_html = _bytes_block(step.raw, step.fields, ids, f"b{step.id}-", refs,
                                      title=f"The {len(step.raw)} byte{'s' if len(step.raw) != 1 else ''} of "
                                            "this message — hover or click a field",
                                      open_=len(step.raw) <= _OPEN_BYTES_LIMIT, note=note)
        rows = _field_rows(step.fields, refs)
        if rows:
            parts.append('<table class="fields"><colgroup><col class="c-name"><col class="c-value"><col class="c-mean">'
                         '</colgroup><thead><tr><th>field</th><th>value</th><th>what it is for</th>'
                         f'</tr></thead><tbody>{"".join(rows)}</tbody></table>')
        parts += [f'<p class="note">{_e(n)}</p>' for n in step.notes if not n.startswith("sent encrypted")]
        parts.append(_decisions_html(step.decisions))
        parts.append(_checks_html(step.checks))
        parts.append(_derivations_html(step.derivations, reveal, resumed=step.id == "server_hello"))
        parts.append(bytes_html)
    if step.status == "failed":
        parts.append(_failure_html(exp))
    return (f'<section class="step {"failed" if step.status == "failed" else ""} from-{step.sender}" '
            f'id="{anchor}"><details open><summary><span class="num">{_e(number)}</span>'
            f'<span class="title">{"Step " + _e(step.number) + " · " if step.number else ""}{_e(step.title)}</span>'
            f'<span class="dir {step.sender}">{direction}</span><span class="rfc">{_e(step.rfc)}</span>{status}'
            f'</summary><div class="body">{"".join(parts)}</div></details></section>')


# -- the timeline ----------------------------------------------------------------------------------


def _timeline_svg(flights: list[Flight]) -> str:
    width, left, right = 300, 34, 266
    line_h, pad = 17, 14
    y = 46
    body: list[str] = []
    for flight in flights:
        n = len(flight.items)
        top = y
        for i, item in enumerate(flight.items):
            ty = top + i * line_h + 12
            cls = ("t-fail" if item.status == "failed" else "t-unp" if item.status == "unprocessed"
                   else "t-enc" if item.protected else "t-plain")
            label = item.label + (" ✗" if item.status == "failed" else "")
            text = (f'<text x="{width // 2}" y="{ty}" class="{cls}" text-anchor="middle">{_e(label)}</text>')
            if item.step:
                text = f'<a href="#step-{_e(item.step)}">{text}</a>'
            body.append(text)
        ay = top + n * line_h + 6
        cls = {"failure": "a-fail", "close": "a-close"}.get(flight.phase, "a-c2s" if flight.sender == "client"
                                                                else "a-s2c")
        if flight.sender == "client":
            body.append(f'<line x1="{left}" y1="{ay}" x2="{right - 2}" y2="{ay}" class="{cls}" '
                        f'marker-end="url(#head-{cls})"/>')
        else:
            body.append(f'<line x1="{right}" y1="{ay}" x2="{left + 2}" y2="{ay}" class="{cls}" '
                        f'marker-end="url(#head-{cls})"/>')
        size = f"{flight.wire_bytes} B" if flight.wire_bytes else ""
        sx = left + 4 if flight.sender == "client" else right - 4
        anchor = "start" if flight.sender == "client" else "end"
        body.append(f'<text x="{sx}" y="{ay + 13}" class="size" text-anchor="{anchor}">{_e(size)}</text>')
        y = ay + pad + 6
    height = y + 6
    markers = "".join(
        f'<marker id="head-{c}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="{c}-head"/></marker>'
        for c in ("a-c2s", "a-s2c", "a-fail", "a-close"))
    return (f'<svg class="ladder" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="The flights between client and server"><defs>{markers}</defs>'
            f'<text x="{left}" y="18" class="lane" text-anchor="middle">Client</text>'
            f'<text x="{right}" y="18" class="lane" text-anchor="middle">Server</text>'
            f'<line x1="{left}" y1="26" x2="{left}" y2="{height - 4}" class="life"/>'
            f'<line x1="{right}" y1="26" x2="{right}" y2="{height - 4}" class="life"/>'
            f'{"".join(body)}</svg>')


def _mutual_intro(exp: Explanation) -> str:
    """A word on the three steps mutual TLS adds, or on the abbreviated handshake, when this is one."""
    if exp.kind == "abbreviated":
        return ('<p class="intro">This one is an abbreviated handshake: the server resumed a session the client '
                "offered (by its session ID or its ticket), so there is no Certificate and no key exchange. The "
                "master secret is the session's; the keys are new, from it and the two new randoms. The server's "
                "ChangeCipherSpec and Finished come first (3a, 3b), then the client's (4a, 4b), whose Finished "
                "covers the server's.</p>")
    if not any(step.id == "certificate_request" for step in exp.steps):
        return ""
    return ('<p class="intro">This one is mutual TLS: the server also asks who the client is. Three steps join the '
            "eight: the server's CertificateRequest (4b), the client's Certificate (5b) and its CertificateVerify "
            "(6b), a signature over the handshake so far that proves the client holds its certificate's key.</p>")


def _toc(exp: Explanation) -> str:
    items = []
    for step in exp.steps:
        if not step.number:
            continue
        cls = "failed" if step.status == "failed" else step.sender
        items.append(f'<li class="{cls}"><a href="#step-{_e(step.number)}"><span class="tn">{_e(step.number)}</span>'
                     f'{_e(step.title)}</a></li>')
    for nr in exp.not_reached:
        items.append(f'<li class="nreach"><span class="tn">{_e(nr.number)}</span>{_e(nr.title)}</li>')
    if exp.traffic:
        label = "After the handshake" if exp.complete else "Alerts"
        items.append(f'<li class="after"><a href="#after"><span class="tn">→</span>{label}</a></li>')
    return f'<ol class="toc">{"".join(items)}</ol>'


# -- after the handshake ---------------------------------------------------------------------------


def _traffic_html(exp: Explanation, reveal: bool) -> str:
    if not exp.traffic:
        return ""
    rows = []
    closes = set()
    for item in exp.traffic:
        rows.append(_traffic_row(item, reveal))
        if item.kind == "alert" and item.alert_description == 0:
            closes.add(item.sender)
    done = exp.handshake_done
    intro = f"<p>{_e(exp.record_protection)}</p>" if done else ""
    close = ("<p class=\"closed\">✓ Each side sent <code>close_notify</code>: the connection ended cleanly, so no "
             "one could have cut the data short unnoticed (RFC 5246 §7.2.1).</p>") if closes == {"client", "server"} \
        else ""
    decisions = _decisions_html(exp.traffic_decisions)
    aead_rfc = "RFC 7905 §2" if "ChaCha20" in exp.record_protection else "RFC 5288 §3"
    rfc = f"RFC 5246 §6.2.3.3, {aead_rfc}" if done else "RFC 5246 §7.2"
    return (f'<section class="after" id="after"><h2>{"After the handshake" if done else "Alerts"} '
            f'<span class="rfc">{rfc}</span></h2>{intro}'
            '<table class="traffic"><thead><tr><th>direction</th><th>record</th><th>sequence number · explicit '
            f'nonce</th><th>AEAD nonce</th><th>size on the wire</th><th>content</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>'
            f'{decisions}{close}</section>')


def _traffic_row(item: TrafficItem, reveal: bool) -> str:
    r = item.record
    direction = "client → server" if item.sender == "client" else "server → client"
    if item.kind == "alert":
        level = {int(AlertLevel.WARNING): "warning", int(AlertLevel.FATAL): "fatal"}.get(item.alert_level or 0, "?")
        kind = "alert"
        content = f"{level} {alert_name(item.alert_description or 0)} ({item.alert_description})"
    elif item.kind == "application_data":
        kind = "application_data"
        content = repr(item.plaintext)[2:-1] if item.plaintext is not None else "(not decrypted)"
    else:
        kind = "handshake"
        content = item.note
    seq = (f"{r.seq} · {r.explicit_nonce.hex()}" if r is not None and r.explicit_nonce is not None
           else f"{r.seq} · none" if r is not None and r.protected else "—")
    nonce_size = f"{len(r.explicit_nonce)} + " if r is not None and r.explicit_nonce is not None else ""
    size = (f"{5 + r.length} = 5 + {nonce_size}{r.plaintext_length} + 16" if r is not None and r.protected
            else (f"{5 + r.length}" if r is not None else "—"))
    if not item.nonce_rule:
        nonce = "—"
    elif item.nonce is not None and reveal:
        nonce = f"<code>{_e(item.nonce.hex())}</code><br>= {_e(item.nonce_rule)}"
    else:
        hidden = "hidden — --reveal-secrets shows it" if item.nonce is not None else "write_IV unknown"
        nonce = f'<span class="hidden">{hidden}</span><br>= {_e(item.nonce_rule)}'
    return (f'<tr class="{item.sender}"><td class="dir {item.sender}">{direction}</td><td>{kind}</td>'
            f'<td><code>{_e(seq)}</code></td><td>{nonce}</td><td>{_e(size)}</td><td><code>{_e(content)}</code></td>'
            '</tr>')


# -- the page --------------------------------------------------------------------------------------


def render_html(exp: Explanation, *, reveal_secrets: bool = False) -> str:
    ids = _Ids()
    failure = exp.failure
    if failure is not None and failure.step is not None:
        banner = (f'<a class="status bad" href="#failure">✗ Failed at step {_e(failure.step)} '
                  f'({_e(failure.step_title)})</a>')
    elif failure is not None:
        banner = '<a class="status bad" href="#failure">✗ Failed after the handshake</a>'
    elif exp.complete:
        banner = '<span class="status ok">✓ Handshake complete</span>'
    else:
        banner = '<span class="status">Handshake incomplete</span>'
    chips = "".join(f'<span class="chip"><b>{_e(k)}</b> {_e(v)}</span>' for k, v in exp.summary)
    traced = {"live": "Traced live at the " + " and ".join(s for s in exp.traced if s != "observer"),
              "replay": "Replayed offline from a capture and its key log"}[exp.source]
    subtitle = "".join(f"<p>{_e(line)}</p>" for line in exp.subtitle.splitlines())
    steps = "".join(_step_html(step, exp, ids, reveal_secrets) for step in exp.steps)
    failure_after = _failure_html(exp) if failure is not None and failure.step is None else ""
    notes = "".join(f'<p class="note">Note: {_e(n)}</p>' for n in exp.notes)
    title = exp.title or "The TLS 1.2 handshake, step by step"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; \
script-src 'unsafe-inline'; img-src data:">
<title>{_e(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header class="top">
<div class="brand">tls12 · the glass box</div>
<h1>The TLS 1.2 handshake, step by step</h1>
<div class="sub"><p class="ttl">{_e(exp.title)}</p>{subtitle}<p class="traced">{_e(traced)}. Every value below is \
the real one from this connection.</p></div>
<div class="chips">{banner}{chips}</div>
</header>
<div class="layout">
<nav class="side" aria-label="Flights and steps">
<h2>The flights</h2>
<p class="legend"><span class="lg-c2s">client → server</span> <span class="lg-s2c">server → client</span> \
<span class="lg-enc">encrypted</span></p>
{_timeline_svg(exp.flights)}
<h2>The steps</h2>
{_toc(exp)}
<div class="controls js-only"><button type="button" data-act="open">Open all</button>\
<button type="button" data-act="close">Close all</button></div>
</nav>
<main>
<p class="intro">People learn TLS 1.2 as eight steps: ClientHello, ServerHello, Certificate, ServerKeyExchange, \
ServerHelloDone, ClientKeyExchange, ChangeCipherSpec and Finished — then the server's ChangeCipherSpec and Finished, \
then encrypted data. Here they are as they really happened. Each step says what it is for, shows every field with \
its value and meaning, what the receiver checked, and its bytes: hover over them.</p>{_mutual_intro(exp)}
{steps}
{failure_after}
{_traffic_html(exp, reveal_secrets)}
{notes}
<footer>Made by <b>tls12</b>. This page is self-contained: it loads nothing from anywhere.</footer>
</main>
</div>
<script>{_JS}</script>
</body>
</html>
"""


_CSS = """
:root{--bg:#f5f6f8;--card:#fff;--ink:#1c2431;--muted:#5d6878;--line:#e2e6ec;--client:#2456c6;--server:#0c7a68;
--ok:#157347;--bad:#b3261e;--warn:#8a6100;--secret:#7b3fb0;--hl:#fcd34d;
--mono:ui-monospace,"SFMono-Regular","Cascadia Mono",Menlo,Consolas,"DejaVu Sans Mono",monospace;
--sans:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","DejaVu Sans",Arial,sans-serif}
*{box-sizing:border-box}
html{scroll-behavior:smooth}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.55 var(--sans)}
code,pre,.hex{font-family:var(--mono);font-size:13px}
a{color:inherit}
header.top{background:linear-gradient(120deg,#13203b 0%,#1d3768 60%,#21507a 100%);color:#eef3fb;
padding:26px 40px 22px}
.brand{font-size:13px;letter-spacing:.08em;text-transform:uppercase;color:#9fb7dd}
header h1{margin:4px 0 6px;font-size:28px;font-weight:650;letter-spacing:-.01em}
.sub p{margin:2px 0;color:#c9d6ea;max-width:1100px}
.sub .ttl{color:#fff;font-weight:600}
.sub .traced{color:#9fb7dd;font-size:14px}
.chips{display:flex;flex-wrap:wrap;gap:8px;margin-top:14px}
.chip,.status{display:inline-block;padding:4px 10px;border-radius:999px;background:rgba(255,255,255,.1);
font-size:13px;color:#eef3fb;border:1px solid rgba(255,255,255,.16);text-decoration:none}
.chip b{color:#9fb7dd;font-weight:500;margin-right:4px}
.status.ok{background:#1f7a4d;border-color:#2f9a64;font-weight:600}
.status.bad{background:#a3261e;border-color:#d0453a;font-weight:600}
.layout{display:grid;grid-template-columns:330px minmax(0,1fr);gap:28px;max-width:1440px;margin:0 auto;
padding:22px 32px 60px}
nav.side{position:sticky;top:14px;align-self:start;max-height:calc(100vh - 28px);overflow:auto;
background:var(--card);border:1px solid var(--line);border-radius:12px;padding:14px 14px 16px}
nav.side h2{font-size:13px;text-transform:uppercase;letter-spacing:.07em;color:var(--muted);margin:4px 4px 6px}
.legend{display:flex;flex-wrap:wrap;gap:2px 12px;font-size:12px;margin:0 4px 6px;color:var(--muted)}
.legend span::before{content:"";display:inline-block;width:14px;height:3px;margin:0 4px 3px 0;vertical-align:middle}
.lg-c2s::before{background:var(--client)}.lg-s2c::before{background:var(--server)}
.lg-enc::before{background:var(--secret)}
svg.ladder{display:block;margin:0 auto 8px;font-family:var(--sans)}
svg .lane{font-size:13px;font-weight:650;fill:var(--ink)}
svg .life{stroke:#c5ccd6;stroke-width:2}
svg text{font-size:12px}
svg .t-plain{fill:var(--ink)}svg .t-enc{fill:var(--secret);font-weight:600}
svg .t-fail{fill:var(--bad);font-weight:700}svg .t-unp{fill:#9aa3af;font-style:italic}
svg a text:hover{text-decoration:underline}
svg .size{font-size:10.5px;fill:var(--muted)}
svg line.a-c2s{stroke:var(--client);stroke-width:2}svg line.a-s2c{stroke:var(--server);stroke-width:2}
svg line.a-fail{stroke:var(--bad);stroke-width:2;stroke-dasharray:5 3}
svg line.a-close{stroke:#8b95a3;stroke-width:2}
.a-c2s-head{fill:var(--client)}.a-s2c-head{fill:var(--server)}.a-fail-head{fill:var(--bad)}
.a-close-head{fill:#8b95a3}
ol.toc{list-style:none;padding:0;margin:0 0 8px}
ol.toc li{margin:1px 0}
ol.toc a,ol.toc li.nreach{display:flex;gap:8px;align-items:baseline;padding:3px 6px;border-radius:6px;
text-decoration:none;font-size:14px}
ol.toc a:hover{background:#eef2f8}
ol.toc .tn{display:inline-block;min-width:26px;font-weight:650;color:var(--muted);font-variant-numeric:tabular-nums}
ol.toc li.client .tn{color:var(--client)}ol.toc li.server .tn{color:var(--server)}
ol.toc li.failed a{color:var(--bad);font-weight:650}ol.toc li.nreach{color:#a0a8b4}
.controls{display:flex;gap:8px;margin:6px 4px 0}
.controls button{font:inherit;font-size:13px;padding:4px 10px;border:1px solid var(--line);border-radius:7px;
background:#f7f9fc;cursor:pointer}
.js-only{display:none}.js .js-only{display:flex}
main{min-width:0}
.intro{margin:0 0 18px;color:var(--muted);max-width:980px}
section.step{background:var(--card);border:1px solid var(--line);border-radius:12px;margin:0 0 16px;
border-left:5px solid var(--client);scroll-margin-top:12px}
section.step.from-server{border-left-color:var(--server)}
section.step.failed{border-left-color:var(--bad);box-shadow:0 0 0 2px rgba(179,38,30,.15)}
section.step>details>summary{display:flex;flex-wrap:wrap;align-items:center;gap:6px 14px;padding:13px 18px;
cursor:pointer;list-style:none}
section.step>details>summary::-webkit-details-marker{display:none}
section.step>details>summary::before{content:"▸";color:var(--muted);width:10px;transition:transform .15s}
section.step>details[open]>summary::before{transform:rotate(90deg)}
.num{display:inline-grid;place-items:center;min-width:34px;height:34px;border-radius:9px;background:#e9effb;
color:var(--client);font-weight:700;font-size:15px;padding:0 6px}
.from-server .num{background:#e3f3ef;color:var(--server)}
.failed .num{background:#fbe5e3;color:var(--bad)}
.title{font-size:19px;font-weight:650}
.dir{font-size:13px;font-weight:600;padding:2px 9px;border-radius:999px}
.dir.client{color:var(--client);background:#eef3fd}.dir.server{color:var(--server);background:#e8f5f2}
.rfc{font-size:13px;color:var(--muted)}
.badge{margin-left:auto;font-size:13px;font-weight:700;border-radius:999px;padding:2px 10px}
.badge.ok{color:var(--ok);background:#e6f4ec}.badge.bad{color:#fff;background:var(--bad)}
.body{padding:0 20px 16px 22px}
.purpose{font-size:16px;margin:0 0 10px;max-width:980px}
.missing{color:var(--bad);font-weight:600}
.record{display:flex;flex-wrap:wrap;gap:6px 12px;align-items:baseline;font-size:13px;color:var(--muted);
margin:0 0 10px}
.rlabel{font-weight:650;text-transform:uppercase;letter-spacing:.06em;font-size:11px}
.hex.mini{width:auto;display:inline}
table.fields{border-collapse:collapse;width:100%;margin:4px 0 12px;font-size:14px;table-layout:fixed}
col.c-name{width:25%}col.c-value{width:39%}col.c-mean{width:36%}
table.fields thead th{text-align:left;font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);
font-weight:600;border-bottom:1px solid var(--line);padding:4px 8px}
table.fields td,table.fields th{padding:5px 8px;vertical-align:top;border-bottom:1px solid #f0f2f5}
table.fields tbody th{text-align:left;font-weight:600;font-family:var(--mono);font-size:13px;
overflow-wrap:break-word}
table.fields th small.cp{display:block;font-weight:400;color:var(--muted);font-size:11.5px}
table.fields td.v{overflow-wrap:break-word}
table.fields td.m{color:var(--muted);font-size:13.5px}
table.fields tr.lvl1 th{padding-left:24px;font-weight:500}table.fields tr.lvl2 th{padding-left:42px;font-weight:500}
table.fields tr.info th{color:var(--muted);font-family:var(--sans);font-size:13px}
table.fields tr[data-ref]:hover{background:#fff8dc;cursor:default}
code.hexval{overflow-wrap:anywhere}
ul.decisions,ul.checks{list-style:none;padding:0;margin:6px 0 12px}
ul.decisions li{padding:3px 0}
.who{display:inline-block;font-size:12px;font-weight:700;text-transform:uppercase;letter-spacing:.05em;
padding:0 7px;border-radius:5px;margin-right:2px}
.who.client{color:var(--client);background:#eef3fd}.who.server{color:var(--server);background:#e8f5f2}
.who.other{color:#5a3d8a;background:#f1ecfa}
.why{color:var(--muted)}
li.chk{display:flex;gap:10px;align-items:flex-start;padding:6px 10px;border-radius:8px;margin:4px 0;
background:#f2faf5}
li.chk.failed{background:#fdecea}li.chk.skipped{background:#fdf6e3}
li.chk .mark{font-weight:800;font-size:16px;color:var(--ok);line-height:1.4}
li.chk.failed .mark{color:var(--bad)}li.chk.skipped .mark{color:var(--warn)}
li.chk .verdict{font-weight:650;color:var(--ok)}li.chk.failed .verdict{color:var(--bad)}
li.chk.skipped .verdict{color:var(--warn)}
.vd{display:flex;flex-wrap:wrap;align-items:center;gap:8px 14px;margin:6px 0 2px}
.vd>div:not(.eq){display:flex;flex-direction:column;font-size:12px;color:var(--muted)}
.vd code{font-size:14px;color:var(--ink);background:#fff;border:1px solid var(--line);border-radius:6px;padding:2px 7px}
.vd .eq{font-size:22px;font-weight:800}.vd .eq.ok{color:var(--ok)}.vd .eq.bad{color:var(--bad)}
.ks{border:1px solid #e7def3;background:#fbf9fe;border-radius:10px;padding:10px 14px 14px;margin:8px 0 12px}
.ks h4{margin:2px 0 10px;font-size:15px}
.muted{color:var(--muted);font-weight:400;font-size:13px}
.ks-box{background:#fff;border:1px solid #e2d8f0;border-radius:8px;padding:7px 11px;max-width:860px}
.ks-box.is-secret{border-left:4px solid var(--secret)}
.ks-label{font-family:var(--mono);font-weight:700;font-size:13.5px}
.ks-label small{font-family:var(--sans);font-weight:400;color:var(--muted);margin-left:6px}
.ks-val code{overflow-wrap:anywhere;font-size:12.5px}.ks-val code.secret{color:var(--secret)}
.ks-val .hidden,.ks-val .unknown{font-size:13px;color:var(--muted);font-style:italic}
.ks-f{font-family:var(--mono);font-size:12.5px;color:#334155}
.ks-src{font-size:12.5px;color:var(--secret)}
.ks-m{font-size:13px;color:var(--muted)}
.ks-arrow{color:#a78bcd;font-size:14px;padding:2px 0 2px 22px;font-weight:700}
.ks-keys{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:8px}
details.bytes{margin:6px 0 0;border-top:1px dashed var(--line);padding-top:8px}
details.bytes>summary{cursor:pointer;font-size:13.5px;font-weight:600;color:#3d4a5c}
.bnote{font-size:13px;color:var(--secret);margin:6px 0 0}
.hexblock{display:flex;flex-wrap:wrap;gap:4px 18px;align-items:flex-start;margin-top:8px}
pre.offsets{margin:0;color:#a0a8b4;line-height:1.75;user-select:none;font-size:13px}
.hex{width:48ch;line-height:1.75;word-spacing:0;white-space:normal;color:#243044}
.hex .f{border-radius:2px}
.hex .f.c0{background:#e7effd}.hex .f.c1{background:#e3f5ec}.hex .f.c2{background:#fdf1d6}
.hex .f.c3{background:#fbe7ef}.hex .f.c4{background:#ece8fb}.hex .f.c5{background:#ddf2f5}
.hex .f.k-header{background:#eceff3}
.hex .f.d1,.hex .f.d2,.hex .f.d3{box-shadow:inset 0 -2px rgba(60,80,120,.18)}
.hex .f.k-length{color:#8b95a3}
.hex .f.hl{background:var(--hl)!important;box-shadow:0 0 0 1px #d99a06;color:#1c2431}
.hex .f.pin{background:#fbbf24!important;color:#1c2431}
.hex .f.hl .f,.hex .f.pin .f{background:transparent!important;box-shadow:none}
.info{flex:1 1 260px;min-width:240px;max-width:460px;font-size:13.5px;background:#f7f9fc;border:1px solid var(--line);
border-radius:8px;padding:9px 12px;position:sticky;top:12px}
.info .hint{margin:0;color:var(--muted)}
.info .ip{font-size:12px;color:var(--muted)}
.info .iname{font-family:var(--mono);font-weight:700;font-size:14px}
.info .ival{font-family:var(--mono);word-break:break-all;margin:4px 0}
.info .imean{color:#374151}
.failure{border:1px solid #f1b8b2;background:#fff5f4;border-radius:10px;padding:10px 16px 12px;margin:12px 0}
.failure h3{color:var(--bad);margin:2px 0 8px;font-size:17px}
.failure table{border-collapse:collapse;font-size:14px}
.failure th{text-align:left;vertical-align:top;padding:3px 14px 3px 0;color:var(--muted);font-weight:600;
white-space:nowrap}
.failure td{padding:3px 0}
.nr-title{margin:10px 0 2px;font-weight:600}ul.nr{margin:0;color:var(--muted)}
section.after{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:6px 20px 14px;
margin:0 0 16px}
section.after h2{font-size:19px;margin:10px 0 6px}
table.traffic{border-collapse:collapse;width:100%;font-size:14px}
table.traffic th{text-align:left;font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);
border-bottom:1px solid var(--line);padding:4px 8px;font-weight:600}
table.traffic td{padding:6px 8px;border-bottom:1px solid #f0f2f5}
table.traffic td.dir{background:none;border-radius:0}
td.dir.client{color:var(--client)}td.dir.server{color:var(--server)}
.closed{color:var(--ok);font-weight:600}
.note{color:var(--muted);font-size:14px}
footer{color:var(--muted);font-size:13px;margin-top:26px}
@media (max-width:980px){.layout{grid-template-columns:1fr}nav.side{position:static;max-height:none}}
@media (prefers-color-scheme:dark){:root{--bg:#0f141b;--card:#161d27;--ink:#e3e8ef;--muted:#98a3b3;--line:#263041;
--client:#7aa7ff;--server:#4cc7ad;--ok:#5fd08f;--bad:#ff8a80;--secret:#c69cf0}
.hex{color:#d6deea}.hex .f.c0{background:#1d2b46}.hex .f.c1{background:#173328}.hex .f.c2{background:#3a2f15}
.hex .f.c3{background:#3b1f2b}.hex .f.c4{background:#2a2445}.hex .f.c5{background:#15343a}
.hex .f.k-header{background:#232b37}.info,.controls button{background:#1b2330;color:var(--ink)}
table.fields tr[data-ref]:hover{background:#2a2a1a}li.chk{background:#16281f}li.chk.failed{background:#3a1d1b}
li.chk.skipped{background:#332a14}.ks{background:#1b1726;border-color:#3a2f52}.ks-box{background:#161d27;
border-color:#3a2f52}.ks-f{color:#c2cad6}.vd code{background:#0f141b}.failure{background:#2a1715}
.num{background:#1d2b46}.from-server .num{background:#173328}.dir.client,.who.client{background:#1d2b46}
.dir.server,.who.server{background:#173328}.info .imean{color:#c2cad6}.hex .f.hl{color:#1c2431}}
@media print{nav.side{display:none}.layout{display:block}}
"""

_JS = r"""
document.documentElement.classList.add('js');
(function () {
  function fieldOf(el) { return el && el.closest ? el.closest('.hex .f') : null; }
  function panelOf(el) { var b = el.closest('.hexblock'); return b ? b.querySelector('.info') : null; }
  function clear(cls, root) { (root || document).querySelectorAll('.' + cls).forEach(function (e) {
    e.classList.remove(cls); }); }
  function show(f) {
    var info = panelOf(f); if (!info) return;
    var o = +f.dataset.o, l = +f.dataset.l;
    info.innerHTML = '';
    function add(cls, text) { var p = document.createElement('div'); p.className = cls; p.textContent = text;
      info.appendChild(p); }
    add('ip', f.dataset.p);
    add('iname', f.dataset.n);
    add('ip', 'bytes ' + o + '\u2013' + (o + l - 1) + ' (' + l + ' byte' + (l === 1 ? '' : 's') + ')');
    add('ival', f.dataset.v);
    if (f.dataset.m) add('imean', f.dataset.m);
  }
  var pinned = null;
  document.addEventListener('mouseover', function (ev) {
    var f = fieldOf(ev.target);
    if (f) { clear('hl'); f.classList.add('hl'); if (!pinned) show(f); return; }
    var row = ev.target.closest && ev.target.closest('tr[data-ref]');
    if (row) { clear('hl'); var t = document.getElementById(row.dataset.ref); if (t) { t.classList.add('hl');
      if (!pinned) show(t); } }
  });
  document.addEventListener('mouseout', function (ev) {
    if (fieldOf(ev.target) || (ev.target.closest && ev.target.closest('tr[data-ref]'))) clear('hl');
  });
  document.addEventListener('click', function (ev) {
    var f = fieldOf(ev.target);
    var row = !f && ev.target.closest && ev.target.closest('tr[data-ref]');
    if (row) f = document.getElementById(row.dataset.ref);
    if (!f) return;
    if (pinned === f) { f.classList.remove('pin'); pinned = null; return; }
    if (pinned) pinned.classList.remove('pin');
    pinned = f; f.classList.add('pin'); show(f);
    var bytes = f.closest('details.bytes'); if (bytes && !bytes.open) bytes.open = true;
  });
  document.querySelectorAll('.controls button').forEach(function (b) {
    b.addEventListener('click', function () {
      var open = b.dataset.act === 'open';
      document.querySelectorAll('section.step > details, details.bytes').forEach(function (d) { d.open = open; });
    });
  });
  function reveal() {
    var id = decodeURIComponent(location.hash.slice(1)); if (!id) return;
    if (id.indexOf('pin:') === 0) {  // #pin:<field id> pins a field without scrolling to it
      var f = document.getElementById(id.slice(4));
      if (f && fieldOf(f)) { if (pinned) pinned.classList.remove('pin'); pinned = f; f.classList.add('pin'); show(f); }
      return;
    }
    var s = document.getElementById(id); var d = s && s.querySelector('details'); if (d) d.open = true;
  }
  window.addEventListener('hashchange', reveal); reveal();
})();
"""
