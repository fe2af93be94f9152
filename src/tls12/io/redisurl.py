"""What `redis://` URL tls12 takes, checked without redis-py (the command line refuses a bad one before
anything starts, whether or not the redis extra is installed)."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

__all__ = ["check_redis_url", "shown_url"]


def check_redis_url(url: str) -> str:
    """`url` if it names a Redis tls12 can use, redis://[:PASSWORD@]HOST[:PORT][/DB]; ValueError otherwise,
    saying what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{shown_url(url)}: not a URL tls12 can read ({exc})") from None
    if parts.scheme != "redis":
        raise ValueError(f"{shown_url(url)}: only redis://HOST:PORT/DB URLs are taken (got {parts.scheme or 'no'} "
                         "scheme)")
    if not parts.hostname:
        raise ValueError(f"{shown_url(url)}: no host; write redis://HOST:PORT/DB, e.g. redis://127.0.0.1:6379/0")
    if port == 0:
        raise ValueError(f"{shown_url(url)}: port 0 is no Redis port")
    db = parts.path.removeprefix("/")
    if db and not (db.isascii() and db.isdigit()):
        raise ValueError(f"{shown_url(url)}: the database after the host must be a number (redis://HOST:PORT/0)")
    if parts.query or parts.fragment:
        raise ValueError(f"{shown_url(url)}: no ?options or #fragment: tls12 sets the timeouts itself")
    return url


def shown_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rpartition("@")[2]
        user = f"{parts.username}:***@" if parts.username else ":***@"
        return SplitResult(parts.scheme, user + netloc, parts.path, parts.query, parts.fragment).geturl()
    except ValueError:
        return "(an unreadable URL)"
