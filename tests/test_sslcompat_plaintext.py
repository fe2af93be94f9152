"""The drop-in layer's buffer of decrypted data: every way of taking from it gives the bytes in
order, none twice, and `take()` never crosses a record (as one SSL read returns one record)."""

from __future__ import annotations

import random

import pytest

from tls12.io.engine import Plaintext


def _records(rng: random.Random) -> list[bytes]:
    return [rng.randbytes(rng.choice((0, 1, 7, 256, 1000))) for _ in range(rng.randint(1, 12))]


@pytest.mark.parametrize("seed", range(200))
def test_takes_give_the_records_bytes_in_order(seed: int) -> None:
    rng = random.Random(seed)
    plain = Plaintext()
    expected = bytearray()
    got = bytearray()
    for _ in range(20):
        for record in _records(rng):
            plain.append(record)
            expected += record
        while plain and rng.random() < 0.8:
            n = rng.choice((1, 5, 256, 999, 2000, 100_000))
            before = len(plain)
            how = rng.choice(("take", "across", "into"))
            if how == "take":
                data = plain.take(n)
            elif how == "across":
                data = plain.take_across(n)
                # Across records: as much as asked for, or everything there was.
                assert len(data) == min(n, before)
            else:
                buffer = bytearray(n + 3)
                done = plain.take_into(memoryview(buffer), n)
                assert done == min(n, before)
                assert buffer[done:] == bytes(len(buffer) - done)
                data = bytes(buffer[:done])
            assert 0 < len(data) <= n
            assert len(plain) == before - len(data)
            got += data
    while plain:
        got += plain.take_across(100_000)
    assert got == expected
    assert len(plain) == 0


def test_take_stops_at_the_end_of_a_record() -> None:
    plain = Plaintext()
    plain.append(b"abc")
    plain.append(b"defg")
    assert plain.take(2) == b"ab"
    assert plain.take(10) == b"c"
    assert plain.take(10) == b"defg"


def test_taking_everything_after_part_of_a_record() -> None:
    plain = Plaintext()
    for record in (b"abc", b"de", b"fgh"):
        plain.append(record)
    assert plain.take(1) == b"a"
    assert plain.take_across(100) == b"bcdefgh"
    assert len(plain) == 0
    plain.append(b"xyz")
    assert plain.take_across(100) == b"xyz"


def test_a_whole_record_is_handed_over_without_a_copy() -> None:
    plain = Plaintext()
    record = bytes(range(200))
    plain.append(record)
    assert plain.take_across(1000) is record
