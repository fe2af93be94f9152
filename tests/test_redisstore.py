"""The Redis session store and ticket keys against a real redis-server (tests/redis_support.py).

What a fleet relies on: sessions put by one process are found by another until their TTL; every
process agrees on the ticket keys, slot by slot; and Redis going away (killed, or hung) never
raises, costs at most one timeout per pause, falls back to what is known, and heals by itself.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from tls12.crypto.tickets import TicketKey
from tls12.io.redisstore import RedisSessionStore, RedisTicketKeys, check_redis_url

from redis_support import RedisServer

PAUSE = 0.05  # the breaker's first pause, short for the tests (the default is 0.5 s)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


def _commands(client: redis.Redis) -> int:
    stats = client.info("stats")
    return int(stats["total_commands_processed"])


def _eventually(check: Callable[[], object], timeout: float = 5.0) -> None:
    """Until `check()` is true (Redis came back: the next try after the breaker's pause finds it)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("no recovery after Redis came back")
        time.sleep(PAUSE)


# -- the session store ---------------------------------------------------------------------------


def test_put_get_delete(redis_server: RedisServer, raw: redis.Redis) -> None:
    one = RedisSessionStore(redis_server.url)
    other = RedisSessionStore(redis_server.url)  # another worker
    assert one.get(b"\x01" * 32) is None
    one.put(b"\x01" * 32, b"session bytes", 60)
    assert other.get(b"\x01" * 32) == b"session bytes"
    assert raw.get(b"tls12:s:" + b"\x01" * 32) == b"session bytes"
    assert 0 < raw.ttl(b"tls12:s:" + b"\x01" * 32) <= 60
    other.delete(b"\x01" * 32)
    assert one.get(b"\x01" * 32) is None
    other.delete(b"never stored")  # nothing there: nothing happens


def test_values_are_bounded_both_ways(redis_server: RedisServer, raw: redis.Redis) -> None:
    """Whatever another process put in Redis, a read takes at most max_value + 1 bytes and a longer
    value is a miss; a value longer than that is not stored."""
    store = RedisSessionStore(redis_server.url, max_value=1024)
    raw.set(b"tls12:s:huge", b"\x00" * (8 * 1024 * 1024))
    assert store.get(b"huge") is None
    raw.set(b"tls12:s:edge", b"e" * 1024)
    assert store.get(b"edge") == b"e" * 1024
    raw.set(b"tls12:s:empty", b"")
    assert store.get(b"empty") is None
    store.put(b"too long", b"x" * 1025, 60)
    assert raw.get(b"tls12:s:too long") is None
    store.put(b"fits", b"x" * 1024, 60)
    assert raw.get(b"tls12:s:fits") == b"x" * 1024


def test_prefixes_keep_fleets_apart(redis_server: RedisServer) -> None:
    a = RedisSessionStore(redis_server.url, prefix=b"a:")
    b = RedisSessionStore(redis_server.url, prefix=b"b:")
    a.put(b"id", b"A", 60)
    assert b.get(b"id") is None
    assert a.get(b"id") == b"A"


def test_sessions_expire_with_their_ttl(redis_server: RedisServer, raw: redis.Redis) -> None:
    store = RedisSessionStore(redis_server.url)
    store.put(b"short", b"x", 1)
    store.put(b"long", b"y", 3600)
    store.put(b"dead", b"z", 0)  # no lifetime left: not stored
    assert raw.pttl(b"tls12:s:short") in range(1, 1001)
    assert store.get(b"dead") is None
    assert store.get(b"short") == b"x"
    time.sleep(1.1)
    assert store.get(b"short") is None
    assert store.get(b"long") == b"y"


def test_a_killed_redis_is_a_miss_then_heals(redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    store = RedisSessionStore(redis_server.url, first_pause=PAUSE, max_pause=4 * PAUSE)
    store.put(b"before", b"1", 60)
    redis_server.kill()
    with caplog.at_level(logging.WARNING, logger="tls12"):
        for _ in range(50):
            assert store.get(b"before") is None
            store.put(b"during", b"2", 60)
            store.delete(b"before")
        assert not store.available
        redis_server.start()  # same port, empty (nothing was saved)
        _eventually(lambda: store.get(b"x") is None and store.available)
        store.put(b"after", b"3", 60)
        assert store.get(b"after") == b"3"
    messages = [r.getMessage() for r in caplog.records if r.name == "tls12"]
    assert len(messages) == 2, messages  # once down, once back: not once per call
    assert "session store: Redis at " + redis_server.url + " is unavailable" in messages[0]
    assert messages[1] == f"session store: Redis at {redis_server.url} answers again"


def test_a_hung_redis_costs_one_timeout_per_pause(redis_server: RedisServer) -> None:
    store = RedisSessionStore(redis_server.url, timeout=0.05, first_pause=0.5, max_pause=0.5)
    store.put(b"k", b"v", 60)
    with redis_server.paused():  # the kernel takes the connection and the command; nothing answers
        started = time.monotonic()
        assert store.get(b"k") is None
        first = time.monotonic() - started
        started = time.monotonic()
        for _ in range(500):
            assert store.get(b"k") is None
            store.put(b"k", b"w", 60)
        rest = time.monotonic() - started
    assert 0.04 < first < 0.4, first  # bounded by the timeout
    assert rest < 0.2, rest  # the breaker is open: Redis is not asked
    time.sleep(0.55)
    assert store.get(b"k") == b"v"  # a fresh connection, not the one whose answer came late
    assert store.available


# -- ticket keys --------------------------------------------------------------------------------


def test_two_processes_agree_on_the_ticket_keys(redis_server: RedisServer, raw: redis.Redis) -> None:
    clock = Clock()
    a = RedisTicketKeys(redis_server.url, rotation=60, keep=2, clock=clock)
    b = RedisTicketKeys(redis_server.url, rotation=60, keep=2, clock=clock)
    ring = a.ticket_keys()
    assert ring == b.ticket_keys()
    assert len(ring) == 1 and isinstance(ring[0], TicketKey)  # no older slot was ever made
    slot = int(clock.now // 60)
    assert raw.get(f"tls12:tk:{slot}".encode()) == ring[0].name + ring[0].key
    assert 170 < raw.ttl(f"tls12:tk:{slot}".encode()) <= 180  # (keep + 1) rotations


def test_keys_rotate_with_the_clock(redis_server: RedisServer) -> None:
    clock = Clock()
    a = RedisTicketKeys(redis_server.url, rotation=60, keep=2, clock=clock)
    b = RedisTicketKeys(redis_server.url, rotation=60, keep=2, clock=clock)
    rings = []
    for _ in range(5):
        ring = a.ticket_keys()
        assert b.ticket_keys() == ring
        rings.append(ring)
        clock.now += 60
    newest = [ring[0] for ring in rings]
    assert len({k.name for k in newest}) == 5  # a new key each slot
    assert rings[1] == (newest[1], newest[0])
    assert rings[2] == (newest[2], newest[1], newest[0])
    assert rings[3] == (newest[3], newest[2], newest[1])  # keep=2: the oldest no longer opens
    assert rings[4] == (newest[4], newest[3], newest[2])


def test_a_late_process_gets_the_older_keys_too(redis_server: RedisServer) -> None:
    clock = Clock()
    early = RedisTicketKeys(redis_server.url, rotation=60, keep=1, clock=clock)
    first = early.ticket_keys()
    clock.now += 60
    second = early.ticket_keys()
    late = RedisTicketKeys(redis_server.url, rotation=60, keep=1, clock=clock)  # a worker started just now
    assert late.ticket_keys() == second == (second[0], first[0])


def test_keys_are_read_once_per_slot(redis_server: RedisServer, raw: redis.Redis) -> None:
    clock = Clock()
    keys = RedisTicketKeys(redis_server.url, rotation=60, keep=2, clock=clock)
    ring = keys.ticket_keys()
    before = _commands(raw)  # (an INFO counts itself once it has run: in the next INFO's figure)
    for _ in range(1000):
        assert keys.ticket_keys() is ring
    assert _commands(raw) - before == 1  # the INFO above: the handshakes asked Redis nothing
    clock.now += 60
    keys.ticket_keys()
    assert _commands(raw) - before == 2 + 4  # two INFOs, and the new slot's SET NX and 3 GETs


def test_redis_away_keys_fall_back_then_heal(redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    keys = RedisTicketKeys(redis_server.url, rotation=60, keep=2, clock=clock, first_pause=PAUSE,
                           max_pause=4 * PAUSE)
    other = RedisTicketKeys(redis_server.url, rotation=60, keep=2, clock=clock)
    known = keys.ticket_keys()
    assert other.ticket_keys() == known
    redis_server.kill()
    with caplog.at_level(logging.WARNING, logger="tls12"):
        assert keys.ticket_keys() is known  # the same slot: cached, Redis not asked
        clock.now += 60
        assert keys.ticket_keys() == known  # the last known keys, still in their slots: the fleet has them
        clock.now += 60
        assert keys.ticket_keys() == known  # the last slot in which they open
        clock.now += 60
        own = keys.ticket_keys()  # out of their slots: a key of this process
        assert len(own) == 1 and own[0] not in known
        for _ in range(100):
            assert keys.ticket_keys() == own  # one key per slot, kept while Redis is away
        redis_server.start()  # empty: every key it had is gone
        _eventually(lambda: keys.ticket_keys() and keys.available)
    # The key this process sealed with while Redis was away became the fleet's key for the slot.
    assert keys.ticket_keys() == own
    assert other.ticket_keys() == own
    messages = [r.getMessage() for r in caplog.records if r.name == "tls12"]
    assert len(messages) == 2, messages
    assert "ticket keys: Redis at" in messages[0] and "is unavailable" in messages[0]
    assert messages[1].endswith("answers again")


def test_a_malformed_key_in_redis_is_not_used(redis_server: RedisServer, raw: redis.Redis,
                                               caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    raw.set(f"tls12:tk:{int(clock.now // 60)}".encode(), b"too short")
    keys = RedisTicketKeys(redis_server.url, rotation=60, clock=clock, first_pause=PAUSE)
    with caplog.at_level(logging.WARNING, logger="tls12"):
        ring = keys.ticket_keys()
    assert len(ring) == 1 and ring[0].name + ring[0].key != b"too short"
    assert "holds no ticket key" in caplog.text


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "redis://localhost", "redis://:pw@10.0.0.1:6380/3",
                                 "redis://[::1]:6379/1"])
def test_good_urls(url: str) -> None:
    assert check_redis_url(url) == url


@pytest.mark.parametrize(("url", "reason"), [
    ("rediss://127.0.0.1:6379/0", "only redis://HOST:PORT/DB"),
    ("unix:///run/redis.sock", "only redis://HOST:PORT/DB"),
    ("127.0.0.1:6379", "only redis://HOST:PORT/DB"),
    ("redis://:6379/0", "no host"),
    ("redis:///0", "no host"),
    ("redis://127.0.0.1:99999/0", "not a URL tls12 can read"),
    ("redis://127.0.0.1:0/0", "port 0"),
    ("redis://127.0.0.1:6379/zero", "must be a number"),
    ("redis://127.0.0.1:6379/0?socket_timeout=9", "no ?options"),
])
def test_bad_urls_are_refused_early(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        check_redis_url(url)
    with pytest.raises(ValueError):
        RedisSessionStore(url)


def test_the_password_is_never_shown() -> None:
    store = RedisSessionStore("redis://:hunter2@127.0.0.1:1/0")
    assert "hunter2" not in repr(store)
    with pytest.raises(ValueError) as info:
        check_redis_url("redis://:hunter2@127.0.0.1:1/x")
    assert "hunter2" not in str(info.value)
