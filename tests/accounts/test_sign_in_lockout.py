"""Sign-in throttling (OWASP ASVS V2.2.1): failures are counted per account, whatever the
client address, and separately per client address; a locked account tells nothing about
the password it is given; one account's failures never lock out another.
"""

import re
from datetime import timedelta

from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.sessions.models import Session
from django.db.models import F
from django.urls import reverse

from tests.factories import PASSWORD

ADDRESSES = [f"198.51.100.{n}" for n in range(1, 21)]  # 20 client addresses


def _sign_in(client, username, password, address, **headers):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        **headers,
    )


def _signed_in_sessions():
    return [s for s in Session.objects.all() if "_auth_user_id" in s.get_decoded()]


def _without_per_response_tokens(response):
    """The page apart from what differs on every response: CSRF token, CSP nonce."""
    body = response.content.decode()
    body = re.sub(r'("X-CSRFToken": |name="csrfmiddlewaretoken" value=)"[^"]+"', r"\1-", body)
    return re.sub(r'nonce="[^"]+"', "nonce=-", body)


def _cool_off_passes(settings):
    """Move every recorded failure back by the cool-off: as if that much time had passed."""
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - timedelta(hours=settings.AXES_COOLOFF_TIME, seconds=1)
    )


def test_failures_from_20_addresses_lock_the_account(client, owner, settings):
    """80 wrong passwords for one account from 20 addresses (4 each: under the per-address
    limit), the email typed in any case: the right password is then refused too."""
    spellings = [
        "owner@example.com",
        "Owner@Example.COM",
        " OWNER@example.com",
        "owner@EXAMPLE.com",
    ]
    for address in ADDRESSES:
        for spelling in spellings:
            _sign_in(client, spelling, "wrong", address)

    response = _sign_in(client, "owner@example.com", PASSWORD, "203.0.113.77")
    assert response.status_code == 429
    assert "Trop de tentatives" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert _signed_in_sessions() == []

    # Every failure is stored under the one normalised account name.
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"owner@example.com"}
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) >= set(ADDRESSES)
    assert set(AccessFailureLog.objects.values_list("username", flat=True)) == {"owner@example.com"}
    assert AccessFailureLog.objects.count() == 81


def test_a_locked_account_answers_the_same_to_right_and_wrong_passwords(client, owner, settings):
    limit = settings.AXES_FAILURE_LIMIT
    for address in ADDRESSES[: limit - 1]:  # one failure per address
        assert _sign_in(client, "owner@example.com", "wrong", address).status_code == 200
    assert _sign_in(client, "owner@example.com", "wrong", ADDRESSES[limit]).status_code == 429

    wrong = _sign_in(client, "owner@example.com", "wrong-again", ADDRESSES[10])
    right = _sign_in(client, "Owner@Example.com", PASSWORD, ADDRESSES[11])
    assert wrong.status_code == right.status_code == 429
    assert _without_per_response_tokens(wrong) == _without_per_response_tokens(right)
    assert "_auth_user_id" not in client.session
    assert _signed_in_sessions() == []

    _cool_off_passes(settings)
    response = _sign_in(client, "owner@example.com", PASSWORD, ADDRESSES[12])
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == owner.user.pk


def test_one_accounts_failures_never_lock_out_another(client, owner, manager, settings):
    for address in ADDRESSES:
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            _sign_in(client, "owner@example.com", "wrong", address)

    # The manager's first typo, from an address of their own: an ordinary error...
    typo = _sign_in(client, "manager@example.com", "typo", "203.0.113.50")
    assert typo.status_code == 200
    assert "Trop de tentatives" not in typo.content.decode()
    # ...and the right password signs them in.
    response = _sign_in(client, "manager@example.com", PASSWORD, "203.0.113.50")
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == manager.user.pk


def test_signing_in_to_ones_own_account_does_not_clear_failures_against_another(
    client, owner, manager, settings
):
    """An attacker with an account of their own, guessing the owner's password from one
    address, cannot wipe the owner's count by signing in to their own account there."""
    address = "203.0.113.9"
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _sign_in(client, "owner@example.com", "wrong", address)
        assert _sign_in(client, "manager@example.com", PASSWORD, address).status_code == 302
        client.logout()

    response = _sign_in(client, "owner@example.com", "wrong", ADDRESSES[0])
    assert response.status_code == 429
    assert _sign_in(client, "owner@example.com", PASSWORD, ADDRESSES[1]).status_code == 429
    assert "_auth_user_id" not in client.session


def test_behind_a_load_balancer_the_address_lockout_is_per_client(client, manager, settings):
    """django-axes takes the client's address from accounts.permissions.client_ip: behind a
    load balancer, one client's failures lock that client out, not everyone."""
    settings.TRUSTED_PROXY_COUNT = 1
    balancer = "10.0.0.2"
    for n in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(
            client, f"nobody{n}@example.com", "x", balancer, HTTP_X_FORWARDED_FOR="203.0.113.9"
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}

    locked = _sign_in(
        client, "manager@example.com", PASSWORD, balancer, HTTP_X_FORWARDED_FOR="203.0.113.9"
    )
    assert locked.status_code == 429
    # Entries the client adds on the left of the header do not get it out of the lockout.
    spoofed = _sign_in(
        client,
        "manager@example.com",
        PASSWORD,
        balancer,
        HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.9",
    )
    assert spoofed.status_code == 429
    # Another client behind the same balancer; the entry it added on the left is ignored.
    other = _sign_in(
        client,
        "manager@example.com",
        PASSWORD,
        balancer,
        HTTP_X_FORWARDED_FOR="203.0.113.9, 203.0.113.10",
    )
    assert other.status_code == 302
