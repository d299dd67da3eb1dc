"""accounts.ratelimit: one counter row per limit and client, changed in one statement."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import F
from django.test import RequestFactory

from accounts.models import RateLimitCounter
from accounts.permissions import client_ip
from accounts.ratelimit import Limit, address_bucket, ratelimit_hit, ratelimit_purge

LIMIT = Limit("test.scope", 3, timedelta(hours=1))


def test_hits_within_the_limit_pass_and_the_rest_do_not(db):
    assert [ratelimit_hit(limit=LIMIT, value="a") for _ in range(5)] == [True] * 3 + [False] * 2
    assert ratelimit_hit(limit=LIMIT, value="b")  # another client has its own count
    other_scope = Limit("test.other", 3, timedelta(hours=1))
    assert ratelimit_hit(limit=other_scope, value="a")  # and another limit too
    assert RateLimitCounter.objects.count() == 3


def test_the_count_starts_again_when_the_window_ends(db):
    for _ in range(4):
        ratelimit_hit(limit=LIMIT, value="a")
    assert not ratelimit_hit(limit=LIMIT, value="a")
    RateLimitCounter.objects.update(expires_at=F("expires_at") - timedelta(hours=1))
    assert ratelimit_hit(limit=LIMIT, value="a")
    assert RateLimitCounter.objects.get().count == 1


def test_a_hit_in_a_rolled_back_transaction_is_not_counted(db):
    for _ in range(2):
        ratelimit_hit(limit=LIMIT, value="a")
    with pytest.raises(RuntimeError), transaction.atomic():
        ratelimit_hit(limit=LIMIT, value="a")
        raise RuntimeError
    assert ratelimit_hit(limit=LIMIT, value="a")
    assert not ratelimit_hit(limit=LIMIT, value="a")


def test_no_email_or_address_is_stored_in_clear(db):
    ratelimit_hit(limit=LIMIT, value="owner@example.com")
    [key] = RateLimitCounter.objects.values_list("key", flat=True)
    assert key.startswith("test.scope:") and "owner" not in key and "example" not in key


def test_purge_removes_only_ended_windows(db):
    ratelimit_hit(limit=LIMIT, value="old")
    RateLimitCounter.objects.update(expires_at=F("expires_at") - timedelta(hours=2))
    ratelimit_hit(limit=LIMIT, value="current")
    assert ratelimit_purge() == 1
    assert RateLimitCounter.objects.count() == 1


def test_an_ipv6_client_counts_as_its_64():
    assert address_bucket("2001:db8:1:2:aaaa::1") == address_bucket("2001:db8:1:2:bbbb::9")
    assert address_bucket("2001:db8:1:3::1") != address_bucket("2001:db8:1:2::1")
    assert address_bucket("192.0.2.1") == "192.0.2.1"


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "expected"),
    [
        (0, None, "10.0.0.2"),
        (0, "203.0.113.9", "10.0.0.2"),  # no proxy trusted: the header is the client's
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "192.0.2.66, 203.0.113.9", "203.0.113.9"),  # spoofed entry on the left
        (1, "192.0.2.66,203.0.113.9 ", "203.0.113.9"),
        (2, "192.0.2.66, 203.0.113.9, 10.0.0.1", "203.0.113.9"),
        (2, "203.0.113.9", "10.0.0.2"),  # fewer entries than proxies
        (1, "", "10.0.0.2"),
        (1, None, "10.0.0.2"),
        (1, "not-an-address", "10.0.0.2"),
        (1, "2001:DB8::1", "2001:db8::1"),
    ],
)
def test_client_ip_behind_trusted_proxies(settings, proxies, forwarded_for, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    headers = {"REMOTE_ADDR": "10.0.0.2"}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    assert client_ip(RequestFactory().get("/", **headers)) == expected


def test_client_ip_without_a_usable_remote_addr(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(RequestFactory().get("/", REMOTE_ADDR="")) is None
