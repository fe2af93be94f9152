"""Whether an HTTP/1.x response is complete by its own framing (RFC 9112 §6).

`tls12 connect --http-get` needs this when a server closes without
close_notify: a response whose length is known (Content-Length, the last
chunk of chunked coding, or no body by rule: 1xx, 204, 304) and that
arrived whole was not cut short, so it is shown with a warning, as curl
does; one that stops early is truncated; one that is delimited only by the
close cannot be told apart from a truncated one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Framing", "response_framing"]

State = Literal["complete", "incomplete", "unframed"]


@dataclass(frozen=True)
class Framing:
    state: State
    detail: str = ""


def _head_end(data: bytes | bytearray, start: int) -> tuple[int, int] | None:
    """Where the head starting at `start` ends: (end of the header lines, start of the body)."""
    crlf = data.find(b"\r\n\r\n", start)
    lf = data.find(b"\n\n", start, crlf if crlf >= 0 else len(data))  # not into the body
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return crlf, crlf + 4
    if lf >= 0:
        return lf, lf + 2
    return None


def _chunked(data: bytes | bytearray, pos: int) -> Framing:
    """Walk chunked coding from `pos`: complete once the last chunk and the trailer section are in."""
    received = 0
    while True:
        line_end = data.find(b"\n", pos)
        if line_end < 0:
            return Framing("incomplete", f"chunked body cut short after {received} bytes of data")
        size_text = data[pos:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return Framing("unframed", f"a chunk size that is not hex: {bytes(size_text[:20])!r}")
        pos = line_end + 1
        if size == 0:
            # The trailer section: header lines up to an empty line.
            while True:
                line_end = data.find(b"\n", pos)
                if line_end < 0:
                    return Framing("incomplete", "chunked body cut short in its trailer section")
                empty = not data[pos:line_end].strip()
                pos = line_end + 1
                if empty:
                    return Framing("complete", "its last chunk")
        end = pos + size
        if len(data) < end:
            return Framing("incomplete", f"chunked body cut short after {received + len(data) - pos} bytes "
                                         "of data, inside a chunk")
        received += size
        # The data is followed by CRLF.
        if data[end : end + 2] == b"\r\n":
            pos = end + 2
        elif data[end : end + 1] == b"\n":
            pos = end + 1
        elif len(data) - end < 2:
            return Framing("incomplete", f"chunked body cut short after {received} bytes of data")
        else:
            return Framing("unframed", "a chunk not followed by CRLF")


def response_framing(data: bytes | bytearray) -> Framing:
    """How far `data` (all that came back for one GET, not HEAD) holds a whole HTTP/1.x response."""
    pos = 0
    while True:
        head = _head_end(data, pos)
        if head is None:
            return Framing("incomplete", "the response head (status line and headers) is cut short")
        head_end, body = head
        lines = data[pos:head_end].decode("latin-1").splitlines()
        status_line = lines[0].split() if lines else []
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/1.") or not status_line[1].isdigit():
            return Framing("unframed", "not an HTTP/1.x response")
        status = int(status_line[1])
        if 100 <= status < 200 and status != 101:  # an interim response: the final one follows
            pos = body
            continue
        if status == 101:
            return Framing("unframed", "the server switched protocols")
        if status in (204, 304):
            return Framing("complete", f"its status ({status}: no body)")
        headers: dict[str, list[str]] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers.setdefault(name.strip().lower(), []).append(value.strip())
        if "transfer-encoding" in headers:
            codings = [c.strip().lower() for v in headers["transfer-encoding"] for c in v.split(",")]
            if codings and codings[-1] == "chunked":
                return _chunked(data, body)
            return Framing("unframed", "the body's length is set by the close (Transfer-Encoding without "
                                       "chunked)")
        if "content-length" in headers:
            values = {v.strip() for value in headers["content-length"] for v in value.split(",")}
            if len(values) != 1 or not next(iter(values)).isdigit():
                return Framing("unframed", "an invalid Content-Length")
            length = int(values.pop())
            have = len(data) - body
            if have >= length:
                return Framing("complete", "its Content-Length")
            return Framing("incomplete", f"{have} of the {length} bytes of its Content-Length")
        return Framing("unframed", "no Content-Length and not chunked: the body ends where the connection does")
