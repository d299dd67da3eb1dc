"""Password reset requests are limited per account and per client address; past a limit
no email is queued and the page answers exactly as before, revealing nothing."""

from django.urls import reverse

from accounts.forms import PASSWORD_RESET_PER_ACCOUNT, PASSWORD_RESET_PER_IP
from emails.models import Email


def _reset(client, email, address="198.51.100.1", **extra):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=address, **extra)


def _answer(response):
    return response.status_code, response.get("Location")


def test_25_rapid_requests_for_one_account_send_at_most_the_limit(client, owner, manager):
    spellings = ["owner@example.com", "Owner@Example.COM", " OWNER@example.com "]
    answers = {
        _answer(_reset(client, spellings[n % 3], address=f"198.51.100.{n % 5 + 1}"))
        for n in range(25)
    }
    assert answers == {(302, reverse("password_reset_done"))}
    sent = Email.objects.filter(kind="password_reset", to="owner@example.com").count()
    assert sent == PASSWORD_RESET_PER_ACCOUNT.hits == 3

    # Past the limit, an unknown address is answered exactly the same.
    assert _answer(_reset(client, "nobody@example.com")) == (302, reverse("password_reset_done"))
    # Another account, from another address, still gets its email.
    _reset(client, "manager@example.com", address="203.0.113.40")
    assert Email.objects.filter(kind="password_reset", to="manager@example.com").count() == 1
    assert Email.objects.filter(kind="password_reset").count() == 4


def test_one_client_address_asks_for_at_most_20_resets_an_hour(client, owner, manager):
    for n in range(PASSWORD_RESET_PER_IP.hits):
        response = _reset(client, f"nobody{n}@example.com", address="203.0.113.9")
        assert _answer(response) == (302, reverse("password_reset_done"))
    # That address has used its hour: a real account asked from it gets nothing...
    response = _reset(client, "manager@example.com", address="203.0.113.9")
    assert _answer(response) == (302, reverse("password_reset_done"))
    assert not Email.objects.filter(kind="password_reset").exists()
    # ...while the account's owner, from elsewhere, is not held back.
    _reset(client, "manager@example.com", address="203.0.113.10")
    assert list(Email.objects.values_list("to", flat=True)) == ["manager@example.com"]


def test_behind_a_load_balancer_the_address_limit_is_per_client(client, owner, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    balancer = "10.0.0.2"
    for n in range(PASSWORD_RESET_PER_IP.hits):
        _reset(client, f"nobody{n}@example.com", balancer, HTTP_X_FORWARDED_FOR="203.0.113.9")
    _reset(client, "owner@example.com", balancer, HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.9")
    assert not Email.objects.exists()
    _reset(client, "owner@example.com", balancer, HTTP_X_FORWARDED_FOR="203.0.113.10")
    assert list(Email.objects.values_list("to", flat=True)) == ["owner@example.com"]
