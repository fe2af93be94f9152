"""`--ciphers STR` of `tls12 serve` and `tls12 connect`: an OpenSSL cipher string, evaluated as the
drop-in `SSLContext.set_ciphers()` evaluates it (io/ciphers.py), or a message saying why not."""

from __future__ import annotations

import ssl

from ..config import SPOKEN_SUITES
from ..enums import CipherSuite
from ..io.ciphers import select_suites
from .files import FileProblem

__all__ = ["cipher_suites_option"]


def cipher_suites_option(text: str) -> tuple[CipherSuite, ...]:
    """The suites `--ciphers text` enables, in its order; a `FileProblem` (a usage error) if none."""
    try:
        return select_suites(text, SPOKEN_SUITES).suites
    except ssl.SSLError as exc:
        why = "; ".join(note.removeprefix("tls12: ").removeprefix(f"{text!r} ")
                        for note in getattr(exc, "__notes__", ()))
        raise FileProblem(f"--ciphers {text!r}: {why or exc}") from None
    except ValueError as exc:
        raise FileProblem(f"--ciphers {text!r}: {exc}") from None
