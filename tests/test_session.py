"""Sessions, their stores and tickets, without a handshake: the strict `Session` encoding (round
trip, every prefix and anything malformed refused with DecodeError), `MemorySessionStore` (a
bounded LRU with expiry), ticket sealing (AES-256-GCM under a named key) and `RotatingTicketKeys`
(per-slot keys from one secret, so that a fleet agrees). tests/test_resumption.py has the handshakes."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tls12 import CipherSuite, DecodeError, MemorySessionStore, RotatingTicketKeys, Session
from tls12.crypto.suites import SUITES
from tls12.crypto.tickets import TicketKey, open_ticket, seal_ticket

from helpers import Clock

SECRET = bytes(range(32))


# -- tickets ---------------------------------------------------------------------------------------------


def test_ticket_key_file_must_hold_a_secret(tmp_path: Path) -> None:
    for content in ("", "00" * 31, "zz" * 32, "00" * 33, "00" * 32 + "\n" * 300):
        path = tmp_path / "bad.key"
        path.write_text(content)
        with pytest.raises(ValueError, match="64 hex digits"):
            RotatingTicketKeys.from_file(path)


def test_rotating_keys_derive_per_slot() -> None:
    clock = Clock(7200.0)
    keys = RotatingTicketKeys(SECRET, rotation=3600, keep=2, clock=clock)
    now = keys.ticket_keys()
    assert len(now) == 3 and len({k.name for k in now}) == 3 and len({k.key for k in now}) == 3
    clock.now += 3600
    later = keys.ticket_keys()
    assert later[1:] == now[:2]  # the slot's key moves down one place, the oldest is dropped
    assert RotatingTicketKeys(SECRET, rotation=3600, keep=2, clock=clock).ticket_keys() == later
    assert RotatingTicketKeys(bytes(32), rotation=3600, keep=2, clock=clock).ticket_keys()[0] != later[0]
    assert "secret" not in repr(keys) and SECRET.hex() not in repr(keys) and later[0].key.hex() not in repr(later)
    with pytest.raises(ValueError):
        RotatingTicketKeys(b"short")


def test_seal_and_open() -> None:
    a, b = TicketKey(b"A" * 16, bytes(32)), TicketKey(b"B" * 16, bytes(range(32)))
    ticket = seal_ticket(a, b"session", bytes(12))
    assert ticket[:16] == a.name and len(ticket) == 16 + 12 + len(b"session") + 16
    assert open_ticket([b, a], ticket) == (b"session", 1)
    assert open_ticket([b], ticket) is None
    assert open_ticket([dataclasses.replace(a, key=b.key)], ticket) is None  # same name, another key
    assert open_ticket([a], ticket[:43]) is None and open_ticket([a], b"") is None
    with pytest.raises(ValueError):
        seal_ticket(a, b"x", bytes(8))
    with pytest.raises(ValueError):
        TicketKey(b"short", bytes(32))


# -- the Session encoding -------------------------------------------------------------------------------

_chains = st.lists(st.binary(min_size=1, max_size=40), max_size=4).map(tuple)
sessions = st.builds(
    Session,
    session_id=st.binary(max_size=32),
    master_secret=st.binary(min_size=48, max_size=48),
    cipher_suite=st.sampled_from(list(SUITES)),
    extended_master_secret=st.booleans(),
    server_name=st.one_of(st.none(), st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-:", min_size=1,
                                             max_size=255)),
    alpn_protocol=st.one_of(st.none(), st.binary(min_size=1, max_size=255)),
    peer_chain_der=_chains,
    verified_chain_der=_chains,
    local_chain_der=_chains,
    policy=st.binary(min_size=32, max_size=32),
    created=st.integers(0, 2**64 - 1),
    lifetime=st.integers(0, 2**32 - 1),
    ticket=st.binary(max_size=200),
    ticket_lifetime_hint=st.integers(0, 2**32 - 1),
)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(session=sessions)
def test_session_round_trip_and_every_prefix_fails(session: Session) -> None:
    data = session.to_bytes()
    assert Session.from_bytes(data) == session
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            Session.from_bytes(data[:cut])
    with pytest.raises(DecodeError):
        Session.from_bytes(data + b"\x00")


@PROPERTY
@given(data=st.binary(max_size=300))
def test_session_from_arbitrary_bytes_only_decode_errors(data: bytes) -> None:
    try:
        session = Session.from_bytes(data)
    except DecodeError:
        return
    assert session.to_bytes() == data


def _valid() -> bytes:
    return Session(b"\x07" * 32, b"\x01" * 48, CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, True,
                   "localhost", b"h2", (b"\x30",), (), (), b"\x02" * 32, 1, 2).to_bytes()


@pytest.mark.parametrize(("what", "edit"), [
    ("another version", lambda d: b"\x02" + d[1:]),
    ("version 0", lambda d: b"\x00" + d[1:]),
    ("session_id of 33 bytes", lambda d: d[:1] + b"\x21" + d[2:34] + b"\x07" + d[34:]),
    ("a suite tls12 does not speak", lambda d: d[:82] + b"\x13\x01" + d[84:]),
    ("unknown flags", lambda d: d[:84] + b"\x03" + d[85:]),
    ("server_name not ASCII", lambda d: d[:86] + b"\xe9" + d[87:]),
    ("an empty certificate", lambda d: d[:98] + b"\x00\x00\x03" + b"\x00\x00\x00" + d[105:]),
    ("trailing data", lambda d: d + b"\x00"),
    ("nothing", lambda d: b""),
])
def test_malformed_sessions_raise_decode_error(what: str, edit: Callable[[bytes], bytes]) -> None:
    data = _valid()
    # version, session_id, master secret, then the suite at 82, the flags at 84, the name at 85, the ALPN
    # protocol at 95, the peer chain at 98 (one certificate, b"0").
    assert data[82:84] == b"\xc0\x2f" and data[84] == 1 and data[85] == 9 and data[95] == 2
    assert data[98:105] == b"\x00\x00\x04\x00\x00\x01\x30"
    with pytest.raises(DecodeError):
        Session.from_bytes(edit(data))


def test_session_bounds_at_construction() -> None:
    good = Session.from_bytes(_valid())
    for change in (dict(session_id=bytes(33)), dict(master_secret=bytes(47)), dict(policy=bytes(31)),
                   dict(ticket=bytes(0x10000)), dict(lifetime=2**32), dict(server_name=""), dict(server_name="é"),
                   dict(alpn_protocol=b""), dict(peer_chain_der=(b"",))):
        with pytest.raises(ValueError):
            dataclasses.replace(good, **change)  # type: ignore[arg-type]
    assert good.master_secret.hex() not in repr(good)


# -- MemorySessionStore -------------------------------------------------------------------------------


def test_memory_store_is_a_bounded_lru_with_expiry() -> None:
    clock = Clock()
    store = MemorySessionStore(max_entries=3, clock=clock)
    for key in (b"a", b"b", b"c"):
        store.put(key, key * 2, 10)
    assert store.get(b"a") == b"aa"  # now the most recently used
    assert store.evicted == 0
    store.put(b"d", b"dd", 10)  # evicts b, the least recently used
    assert store.get(b"b") is None and len(store) == 3 and store.evicted == 1
    store.put(b"d", b"dd", 10)  # replaces d: nothing evicted
    assert store.evicted == 1
    assert [store.get(k) for k in (b"a", b"c", b"d")] == [b"aa", b"cc", b"dd"]
    clock.now += 10
    assert store.get(b"a") is None and len(store) == 2  # expired and dropped
    store.put(b"c", b"new", 0)  # no time to live: gone
    assert store.get(b"c") is None
    store.delete(b"d")
    assert len(store) == 0
    with pytest.raises(ValueError):
        MemorySessionStore(max_entries=0)


def test_memory_store_from_threads() -> None:
    store = MemorySessionStore(max_entries=100)

    def work(n: int) -> None:
        for i in range(500):
            key = bytes((n, i % 200))
            store.put(key, key, 60)
            store.get(key)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 100
