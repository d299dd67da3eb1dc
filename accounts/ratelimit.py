"""Rate limits: at most N hits per client (an account, an address) in a window.

One counter row per limit and client, changed by a single statement, an UPSERT that adds
the hit and returns the new count (`INSERT … ON CONFLICT DO UPDATE … RETURNING`, the same
on PostgreSQL and SQLite). Parallel requests never both read « 9 » and both pass a limit
of 10, as counting rows then inserting did: PostgreSQL makes each statement wait for the
row the previous one locked. A hit made inside a transaction that rolls back (a request
refused further on) is not counted.

The window opens with the first hit and lasts `window`; the first hit after it ends opens
a new one. `ratelimit_purge` (periodic) removes the counters whose window has ended.
"""

import ipaddress
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .models import RateLimitCounter


@dataclass(frozen=True)
class Limit:
    scope: str  # names the limit in the key: "support.ip", "password_reset.account"…
    hits: int
    window: timedelta


def address_bucket(ip: str) -> str:
    """An IPv6 client holds a whole /64: counting per address would let it take a new one
    for every request. IPv4 addresses count one by one."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _key(limit: Limit, value: str) -> str:
    # Keyed with SECRET_KEY: the table holds no email or address, nor a plain hash of one.
    digest = salted_hmac("accounts.ratelimit", f"{limit.scope}\n{value}", algorithm="sha256")
    return f"{limit.scope}:{digest.hexdigest()}"


def ratelimit_hit(*, limit: Limit, value: str) -> bool:
    """Count one hit for `value` (an account, an address) against `limit`.

    True while the hits in the current window, this one included, are within the limit.
    """
    now = timezone.now()
    ops = connection.ops
    table = ops.quote_name(RateLimitCounter._meta.db_table)
    key, count, expires_at = (ops.quote_name(name) for name in ("key", "count", "expires_at"))
    sql = (
        f"INSERT INTO {table} ({key}, {count}, {expires_at}) VALUES (%s, 1, %s) "
        f"ON CONFLICT ({key}) DO UPDATE SET "
        f"{count} = CASE WHEN {table}.{expires_at} <= %s THEN 1 "
        f"ELSE {table}.{count} + 1 END, "
        f"{expires_at} = CASE WHEN {table}.{expires_at} <= %s "
        f"THEN EXCLUDED.{expires_at} ELSE {table}.{expires_at} END "
        f"RETURNING {count}"
    )
    now_param = ops.adapt_datetimefield_value(now)
    params = [_key(limit, value), ops.adapt_datetimefield_value(now + limit.window)]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, now_param, now_param])
        (hits,) = cursor.fetchone()
    return hits <= limit.hits


def ratelimit_purge() -> int:
    """Remove the counters whose window has ended; returns how many."""
    deleted, _ = RateLimitCounter.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
