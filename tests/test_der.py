"""The few DER helpers the RSA-PSS certificate code relies on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tls12.crypto import der


@given(st.binary(max_size=70000), st.sampled_from([0x02, 0x04, 0x30, 0xA0]))
def test_encode_then_read(contents: bytes, tag: int) -> None:
    encoded = der.encode(tag, contents)
    read_tag, start, end = der.read(encoded)
    assert (read_tag, encoded[start:end], end) == (tag, contents, len(encoded))


@pytest.mark.parametrize(("length", "header"), [(0, "0400"), (127, "047f"), (128, "048180"), (255, "0481ff"),
                                                (256, "04820100"), (65536, "0483010000")])
def test_minimal_lengths(length: int, header: str) -> None:
    assert der.encode(0x04, bytes(length)).hex().startswith(header)


def test_children() -> None:
    inner = der.encode(0x30, der.encode(0x02, b"\x01") + der.encode(0x05, b""))
    outer = der.encode(0x30, inner + der.encode(0x04, b"abc"))
    assert der.children(outer) == [inner, bytes.fromhex("0403616263")]
    assert der.children(inner) == [bytes.fromhex("020101"), bytes.fromhex("0500")]


@pytest.mark.parametrize("bad", ["30", "3004020101", "3003020201", "308100", "30820005" + "00" * 5, "3f00", "30800000"])
def test_malformed(bad: str) -> None:
    with pytest.raises(ValueError):
        der.children(bytes.fromhex(bad))


def test_children_of_a_primitive_or_with_trailing_bytes() -> None:
    with pytest.raises(ValueError):
        der.children(bytes.fromhex("020101"))
    with pytest.raises(ValueError):
        der.children(bytes.fromhex("300000"))


def test_contents_of_one_element() -> None:
    assert der.contents(bytes.fromhex("020201ff")) == b"\x01\xff"
    assert der.contents(der.encode(0x04, bytes(300))) == bytes(300)
    for bad in ("02010100", "02030102", "02"):  # trailing bytes, truncated, no length
        with pytest.raises(ValueError):
            der.contents(bytes.fromhex(bad))


def test_spki_index_skips_the_optional_version() -> None:
    fields = [der.encode(0x02, b"\x01"), *(der.encode(0x30, b"") for _ in range(5))]
    assert der.spki_index(fields) == 5
    assert der.spki_index([der.encode(0xA0, der.encode(0x02, b"\x02")), *fields]) == 6
