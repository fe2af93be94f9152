"""Long fuzzing runs by hand with atheris (libFuzzer), over the same targets as the CI tests.

    pip install atheris            # not a CI dependency
    python tests/fuzz/atheris_main.py server  CORPUS_DIR -max_total_time=1800 -timeout=2 -rss_limit_mb=1024
    python tests/fuzz/atheris_main.py client  ...      (also: deframer, parsers)

The corpus directory is seeded from the golden transcripts (fuzz_targets.seeds) on first use.
Every input runs under the same invariants as in CI (fuzz_targets: only the documented TLSErrors,
never InternalError, sticky failures with their alert); memory is bounded by libFuzzer's
-rss_limit_mb (tracemalloc is left off for speed; pass --trace-memory to turn it on). A crash
leaves crash-<sha1> in the working directory: add it to test_fuzz_regressions.py.

`--skip-known` keeps a long run going past bugs already reported (KNOWN below, matched against the
failure message): each is written once to known-<label>-<sha1> and then counted, not raised.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["tls12"]):
    import fuzz_targets


#: Failures already reported and covered by a failing regression test: label -> source file the
#: original exception was raised through (InternalError's cause).
KNOWN = {
    "certificate-lazy-parse": "crypto/x509.py",
}
_seen: dict[str, int] = {}


def _known(exc: BaseException) -> str | None:
    cause: BaseException | None = exc
    while cause is not None and cause.__cause__ is not None:
        cause = cause.__cause__
    files = []
    tb = cause.__traceback__ if cause is not None else None
    while tb is not None:
        files.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    return next((label for label, where in KNOWN.items() if any(f.endswith(where) for f in files)), None)


def main() -> None:
    args = sys.argv[1:]
    trace_memory = "--trace-memory" in args
    skip_known = "--skip-known" in args
    args = [a for a in args if a not in ("--trace-memory", "--skip-known")]
    if not args or args[0] not in fuzz_targets.TARGETS:
        sys.exit(f"usage: atheris_main.py {{{','.join(fuzz_targets.TARGETS)}}} [CORPUS_DIR] [libFuzzer options]")
    name, rest = args[0], args[1:]
    target = fuzz_targets.TARGETS[name]
    corpus = next((Path(a) for a in rest if not a.startswith("-")), None)
    if corpus is not None:
        corpus.mkdir(parents=True, exist_ok=True)
        for seed in fuzz_targets.seeds(name):
            (corpus / f"seed-{hashlib.sha1(seed).hexdigest()}").write_bytes(seed)

    def one_input(data: bytes) -> None:
        try:
            if trace_memory:
                fuzz_targets.run_bounded(target, data)
            else:
                target(data)
        except fuzz_targets.FuzzFailure as exc:
            label = _known(exc)
            if not skip_known or label is None:
                raise
            # One sample per distinct message, so every variant of a known bug is kept.
            key = f"{label}: {str(exc)[:120]}"
            if key not in _seen:
                Path(f"known-{label}-{hashlib.sha1(data).hexdigest()}").write_bytes(data)
                print(f"KNOWN {key}", file=sys.stderr, flush=True)
            _seen[key] = _seen.get(key, 0) + 1

    atheris.Setup([sys.argv[0], *rest], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
