"""Short fuzzing runs in CI: Hypothesis drives the targets of fuzz_targets.py (shared with the
atheris entry point for long runs by hand) with mutations of the golden transcripts and with
arbitrary bytes. Every input runs under `run_bounded`: a time bound (an alarm) and a memory bound
(tracemalloc's peak), on top of each target's own invariants (only the documented TLSErrors,
never InternalError, a sticky failure with its one alert).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import fuzz_targets
import pytest
from fuzz_targets import TARGETS, FuzzFailure, run_bounded, seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tls12 import (
    ClientConnection,
    ConnectionClosed,
    DeterministicProvider,
    HandshakeComplete,
    NamedGroup,
    ServerConfig,
    ServerConnection,
)
from tls12.crypto.kx import EphemeralKey


def _mutate(seed: bytes, ops: list[tuple[int, float, float, bytes]], others: list[bytes]) -> bytes:
    """Apply byte-level mutations (the kinds libFuzzer uses) to a seed; positions are fractions."""
    data = bytearray(seed)
    for kind, where, size, value in ops:
        n = len(data)
        pos = min(int(where * n), max(n - 1, 0))
        span = max(1, int(size * 64))
        if kind == 0 and n:  # flip one bit
            data[pos] ^= 1 << (value[0] % 8 if value else 0)
        elif kind == 1 and n:  # overwrite bytes
            data[pos : pos + len(value)] = value
        elif kind == 2:  # delete a range
            del data[pos : pos + span]
        elif kind == 3:  # insert bytes
            data[pos:pos] = value
        elif kind == 4:  # truncate
            del data[pos:]
        elif kind == 5 and n:  # repeat a range (duplicated messages and records)
            data[pos:pos] = data[pos : pos + span * 4]
        elif kind == 6 and others:  # splice in part of another seed
            other = others[pos % len(others)]
            start = int(where * len(other))
            data[pos:pos] = other[start : start + span * 8]
        elif kind == 7 and n:  # set a byte to an interesting value
            data[pos] = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x16, 0x14, 0x15, 0x17)[value[0] % 9 if value else 0]
    return bytes(data)


def inputs(target: str) -> st.SearchStrategy[bytes]:
    corpus = seeds(target)
    op = st.tuples(st.integers(0, 7), st.floats(0, 1), st.floats(0, 1), st.binary(min_size=1, max_size=8))
    mutated = st.builds(_mutate, st.sampled_from(corpus), st.lists(op, min_size=1, max_size=6), st.just(corpus))
    header = st.integers(0, 255).map(lambda b: bytes((b,)))
    rehead = st.builds(lambda h, s: h + s[1:], header, mutated)
    return st.one_of(mutated, mutated, rehead, st.binary(max_size=600))


def _check(target: Callable[[bytes], None], data: bytes) -> None:
    try:
        run_bounded(target, data)
    except FuzzFailure:
        raise
    except Exception as exc:  # anything a target lets escape is a finding
        raise FuzzFailure(f"{type(exc).__name__} escaped: {exc!r}; input {data.hex()}") from exc


@pytest.mark.parametrize("name", list(TARGETS))
def test_fuzz_target(name: str, fuzz_examples: int) -> None:
    target = TARGETS[name]

    @settings(max_examples=fuzz_examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(data=inputs(name))
    def run(data: bytes) -> None:
        _check(target, data)

    run()


@pytest.mark.parametrize("name", list(TARGETS))
def test_seeds_pass_and_reach_the_end(name: str) -> None:
    """The seed corpus is clean, and the connection seeds complete a whole connection (so the
    fuzzer starts from inputs that get past the signature, key exchange and Finished checks)."""
    for seed in seeds(name):
        _check(TARGETS[name], seed)
    if name in ("server", "client"):
        for group in fuzz_targets.GOLDEN_NAMES:
            sender = "client" if name == "server" else "server"
            stream = b"".join(d for s, d in fuzz_targets.golden_flows(group) if s == sender)
            conn: ClientConnection | ServerConnection
            if name == "server":
                conn = ServerConnection(fuzz_targets.server_config(group))
            else:
                conn = ClientConnection(fuzz_targets.client_config(group), server_name="localhost")
                conn.data_to_send()
            events = conn.receive_data(stream)
            assert events[0] == HandshakeComplete() and events[-1] == ConnectionClosed()


class _BrokenProvider(DeterministicProvider):
    def ephemeral_key(self, group: NamedGroup) -> EphemeralKey:
        raise ZeroDivisionError("planted")


def test_invariants_catch_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness can fail: an unexpected exception inside the server (here from a provider)
    becomes InternalError, which the connection target reports as a finding."""
    real = fuzz_targets.server_config

    def broken(name: str) -> ServerConfig:
        return dataclasses.replace(real(name), provider=_BrokenProvider())

    monkeypatch.setattr(fuzz_targets, "server_config", broken)
    with pytest.raises(FuzzFailure, match="InternalError"):
        _check(TARGETS["server"], seeds("server")[0])


def test_time_bound_interrupts_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fuzz_targets, "TIME_LIMIT_S", 0.2)

    def hang(data: bytes) -> None:
        while True:
            pass

    with pytest.raises(fuzz_targets.Hang):
        run_bounded(hang, b"")


def test_memory_bound_catches_a_blow_up() -> None:
    def hog(data: bytes) -> None:
        blob = bytearray(fuzz_targets.MEMORY_LIMIT_BYTES * 2)
        assert blob is not None

    with pytest.raises(FuzzFailure, match="peaked"):
        run_bounded(hog, b"")
