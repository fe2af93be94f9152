"""Sessions and ticket keys in Redis, so that every worker on every machine of a fleet resumes every session.

`RedisSessionStore` is a `SessionStore`: a session is `SET <prefix>s:<id> <session> EX <ttl>`,
found with GET and dropped with DEL. `RedisTicketKeys` is a `TicketKeySource`: the key of time
slot n = floor(now / rotation) lives at `<prefix>tk:<n>` as name (16 bytes) || key (32 bytes).
The first worker that needs it makes it with SET NX (so exactly one value wins, whoever races),
with an expiry of (keep + 1) rotations, past the last slot in which it still opens tickets; every
worker then reads the same value. Keys are cached per slot: a handshake asks nothing of Redis,
except the first one of each slot in each worker (one round trip for the whole ring).

Redis is a help, never a dependency of a handshake. Every call has a bounded timeout (50 ms by
default) and no retries of redis-py's own; any failure (refused, reset, timed out, an answer that
makes no sense) is a miss: `get` returns None, `put` and `delete` do nothing, and `ticket_keys`
answers with the keys it last had while they are still in their slots, else with keys of its own
(tickets it seals then open only in this process until Redis is back). Handshakes go full, none
fails. After a failure a circuit breaker stops asking for a while (0.5 s, doubling up to 5 s while
Redis stays away): a dead or hung Redis costs one timeout per pause, not one per handshake. The
next call after the pause tries again, on a new connection; when it succeeds everything is as
before. Logger "tls12" says so once when Redis goes away and once when it is back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..crypto.tickets import TicketKey
from .redisurl import check_redis_url, shown_url

__all__ = ["RedisSessionStore", "RedisTicketKeys", "check_redis_url"]

logger = logging.getLogger("tls12")

#: Seconds a call to Redis may take (connecting included) before it counts as a failure.
DEFAULT_TIMEOUT = 0.05
#: After a failure, Redis is left alone this long, then twice as long after each failed try, up to MAX_PAUSE.
FIRST_PAUSE = 0.5
MAX_PAUSE = 5.0
DEFAULT_PREFIX = b"tls12:"

_T = TypeVar("_T")


class _Link:
    """A redis-py client behind a circuit breaker: `call(op, fallback)` is op's answer, or `fallback` when
    Redis fails or is being left alone after a failure. Thread-safe; never raises."""

    def __init__(self, url: str, *, timeout: float, role: str, first_pause: float, max_pause: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        check_redis_url(url)
        if not timeout > 0:
            raise ValueError("timeout must be positive")
        if not 0 < first_pause <= max_pause:
            raise ValueError("the pauses must be positive, the first no longer than the longest")
        self.where = shown_url(url)
        self.role = role
        self.timeout = timeout
        self.first_pause = first_pause
        self.max_pause = max_pause
        self._monotonic = monotonic
        self.client: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # one try per call: the breaker decides when to try again
            health_check_interval=0,
        )
        self._lock = threading.Lock()
        self._retry_at: float | None = None  # None: Redis is up (as far as we know)
        self._pause = first_pause
        self._probing = False

    @property
    def up(self) -> bool:
        return self._retry_at is None

    def call(self, op: Callable[[redis.Redis], _T], fallback: _T) -> _T:
        with self._lock:
            probe = self._retry_at is not None
            if probe:
                assert self._retry_at is not None
                if self._probing or self._monotonic() < self._retry_at:
                    return fallback
                self._probing = True
        try:
            result = op(self.client)  # (redis-py's pool starts afresh in a forked child by itself)
        except Exception as exc:  # redis.RedisError, OSError, a malformed answer: all a miss
            self._failed(exc, probe)
            return fallback
        if probe:
            self._recovered()
        return result

    def _failed(self, exc: Exception, probe: bool) -> None:
        with self._lock:
            now = self._monotonic()
            if self._retry_at is None:
                self._pause = self.first_pause
                self._retry_at = now + self._pause
                logger.warning("%s: Redis at %s is unavailable (%s); %s; trying again in %g s",
                               self.role, self.where, _reason(exc), _CONSEQUENCE[self.role], self._pause)
            elif probe:
                self._pause = min(self.max_pause, self._pause * 2)
                self._retry_at = now + self._pause
            self._probing = False
        # A connection that timed out may still get its answer later: never reuse it.
        with contextlib.suppress(Exception):  # closing the sockets of a Redis that is gone: nothing to report
            self.client.connection_pool.disconnect()

    def _recovered(self) -> None:
        with self._lock:
            was_down = self._retry_at is not None
            self._retry_at = None
            self._pause = self.first_pause
            self._probing = False
        if was_down:
            logger.warning("%s: Redis at %s answers again", self.role, self.where)


_CONSEQUENCE = {
    "session store": "sessions are neither stored nor found (handshakes go full)",
    "ticket keys": "tickets are sealed with the keys last known, or with keys of this process",
}


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


#: The largest session value stored or read (a session with a long client chain stays well below).
MAX_SESSION_VALUE = 256 * 1024


class RedisSessionStore:
    """A `SessionStore` in Redis: every worker of a fleet finds every session by its ID.

    `url`: redis://HOST:PORT/DB. `timeout`: seconds one call may take. Keys are `prefix` + b"s:" + the
    session ID; values are the sessions' bytes, expiring after their TTL (Redis drops them)."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT, prefix: bytes = DEFAULT_PREFIX,
                 first_pause: float = FIRST_PAUSE, max_pause: float = MAX_PAUSE,
                 max_value: int = MAX_SESSION_VALUE) -> None:
        self._link = _Link(url, timeout=timeout, role="session store", first_pause=first_pause,
                           max_pause=max_pause)
        self._prefix = bytes(prefix) + b"s:"
        self._max_value = max_value

    @property
    def available(self) -> bool:
        """False while Redis is being left alone after a failure."""
        return self._link.up

    def get(self, key: bytes) -> bytes | None:
        def op(client: redis.Redis) -> bytes | None:
            # At most max_value + 1 bytes come back, whatever the store holds: a longer value is no
            # session of ours, and is never read whole. A missing key reads as b"".
            value = client.getrange(self._prefix + key, 0, self._max_value)
            if not isinstance(value, bytes):
                raise TypeError(f"GETRANGE answered a {type(value).__name__}")
            if not value or len(value) > self._max_value:
                return None
            return value

        return self._link.call(op, None)

    def put(self, key: bytes, value: bytes, ttl: int) -> None:
        if ttl < 1 or len(value) > self._max_value:
            return  # already expired, or more than get() would read back: nothing to keep

        def op(client: redis.Redis) -> None:
            client.set(self._prefix + key, value, ex=ttl)

        self._link.call(op, None)

    def delete(self, key: bytes) -> None:
        def op(client: redis.Redis) -> None:
            client.delete(self._prefix + key)

        self._link.call(op, None)

    def close(self) -> None:
        self._link.client.close()

    def __repr__(self) -> str:
        return f"RedisSessionStore({self._link.where!r})"


class RedisTicketKeys:
    """A `TicketKeySource` in Redis: every worker of a fleet seals and opens with the same keys.

    The key of slot n = floor(clock() / rotation) is at `prefix` + b"tk:" + n (in decimal), made once
    with SET NX and expiring after (keep + 1) * rotation seconds. `ticket_keys()` is that slot's key
    (it seals) and the `keep` before it that Redis still has (they open), read once per slot."""

    def __init__(self, url: str, *, rotation: int = 3600, keep: int = 2, timeout: float = DEFAULT_TIMEOUT,
                 prefix: bytes = DEFAULT_PREFIX, clock: Callable[[], float] = time.time,
                 first_pause: float = FIRST_PAUSE, max_pause: float = MAX_PAUSE) -> None:
        if isinstance(rotation, bool) or not isinstance(rotation, int) or rotation < 1:
            raise ValueError("rotation must be a whole number of seconds, at least 1")
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise ValueError("keep must be a whole number, 0 or more")
        self._link = _Link(url, timeout=timeout, role="ticket keys", first_pause=first_pause,
                           max_pause=max_pause)
        self.rotation = rotation
        self.keep = keep
        self._prefix = bytes(prefix) + b"tk:"
        self._clock = clock
        self._lock = threading.Lock()
        self._ring: tuple[int, tuple[TicketKey, ...]] | None = None  # (slot, keys) as read from Redis
        self._shared: dict[int, TicketKey] = {}  # slot -> its key as Redis had it
        self._own: dict[int, TicketKey] = {}  # slot -> a key made here while Redis was away

    @property
    def available(self) -> bool:
        """False while Redis is being left alone after a failure."""
        return self._link.up

    def ticket_keys(self) -> tuple[TicketKey, ...]:
        slot = int(self._clock() // self.rotation)
        ring = self._ring
        if ring is not None and ring[0] == slot:
            return ring[1]
        with self._lock:
            ring = self._ring
            if ring is not None and ring[0] == slot:
                return ring[1]
            window = range(slot, slot - self.keep - 1, -1)  # newest first
            for cache in (self._shared, self._own):
                for old in [s for s in cache if s not in window]:
                    del cache[old]
            read = self._link.call(lambda client: self._read(client, slot), None)
            if read is not None:
                self._shared.update(read)
                keys = self._keys(window, self._shared, self._own)
                self._ring = (slot, keys)
                return keys
            # Redis is away: the keys last read while they are in their slots (the rest of the fleet
            # has them too), else keys of our own.
            if not any(s in self._shared for s in window):
                self._own.setdefault(slot, _random_key())
            return self._keys(window, self._shared, self._own)

    @staticmethod
    def _keys(window: range, first: dict[int, TicketKey], then: dict[int, TicketKey]) -> tuple[TicketKey, ...]:
        keys = [first[s] for s in window if s in first]
        names = {k.name for k in keys}
        keys += [then[s] for s in window if s in then and then[s].name not in names]
        return tuple(keys)

    def _read(self, client: redis.Redis, slot: int) -> dict[int, TicketKey]:
        """One round trip: make this slot's key unless it exists, and read the window's keys."""
        mine = self._shared.get(slot) or self._own.get(slot) or _random_key()
        pipe = client.pipeline(transaction=False)
        pipe.set(self._key(slot), mine.name + mine.key, nx=True, ex=(self.keep + 1) * self.rotation)
        slots = range(slot, slot - self.keep - 1, -1)
        for s in slots:
            pipe.get(self._key(s))
        answers: list[Any] = pipe.execute()
        found: dict[int, TicketKey] = {}
        for s, value in zip(slots, answers[1:], strict=True):
            if value is None:
                continue  # expired or never made (or Redis restarted): the key we had, if any, stays
            if not isinstance(value, bytes) or len(value) != 48:
                raise ValueError(f"{self._key(s).decode('ascii', 'replace')} holds no ticket key "
                                 f"(48 bytes: name, then key)")
            found[s] = TicketKey(value[:16], value[16:])
        if slot not in found:
            raise ValueError(f"{self._key(slot).decode('ascii', 'replace')} was not kept")
        return found

    def _key(self, slot: int) -> bytes:
        return self._prefix + str(slot).encode("ascii")

    def close(self) -> None:
        self._link.client.close()

    def __repr__(self) -> str:
        return f"RedisTicketKeys({self._link.where!r}, rotation={self.rotation}, keep={self.keep})"


def _random_key() -> TicketKey:
    return TicketKey(os.urandom(16), os.urandom(32))
