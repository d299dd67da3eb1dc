"""The step-up: when the owner's sign-in has a second factor, confirming an upgrade or a
closure from the emailed link asks their code again, on the link's page. A missing or wrong
code confirms nothing and leaves the link usable; the code is the owner's (the link's
author), whoever opened the link, signed in or not."""

import html

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, Organisation
from accounts.services import TwoFactorRequired, two_factor_verify
from invoices.models import Invoice
from subscriptions import services
from subscriptions.models import Confirmation
from tests.two_factor import code_for, throttle_passes, two_factor_on

from .conftest import emails_to, link_token


def text(response) -> str:
    return html.unescape(response.content.decode())


def _link(client_for, owner, kind):
    client = client_for(owner)
    if kind == "upgrade":
        client.post(reverse("portal:upgrade_request"), {"plan": "entreprise"})
    else:
        client.post(reverse("portal:closure"))
    client.logout()
    [email] = emails_to("owner@example.com", f"{kind}_request")
    return reverse("subscription_confirm", args=[link_token(email)])


def _done(kind, subscription) -> bool:
    subscription.refresh_from_db()
    if kind == "upgrade":
        return subscription.plan.code == "entreprise"
    return Organisation.objects.get(pk=subscription.organisation_id).is_closed


@pytest.mark.parametrize("kind", ["upgrade", "closure"])
def test_the_owners_code_is_asked_again_and_a_wrong_one_confirms_nothing(
    client, client_for, owner, subscription, clock, kind
):
    two_factor_on(owner.user, clock)
    url = _link(client_for, owner, kind)  # opened signed out, as from a phone's mail app

    page = text(client.get(url))
    assert 'name="code"' in page and 'autocomplete="one-time-code"' in page
    assert "owner@example.com" in page

    for data in ({}, {"code": "000000"}):
        response = client.post(url, data)
        assert response.status_code == 200
        assert "Rien n'a été confirmé" in text(response)
        assert not _done(kind, subscription)
        assert Confirmation.objects.get(kind=kind).status == Confirmation.Status.PENDING
        throttle_passes(owner.user)
    assert "Code incorrect" in text(client.post(url, {"code": "123456"}))
    throttle_passes(owner.user)
    assert not Invoice.objects.exists()

    response = client.post(url, {"code": code_for(owner.user, clock)})
    assert response.status_code == 302
    assert _done(kind, subscription)
    assert Confirmation.objects.get(kind=kind).status == Confirmation.Status.USED
    event = AuditEvent.objects.get(action=f"{kind}.confirmed")
    assert event.actor == owner.user and event.after["second_factor"] == "totp"


def test_a_recovery_code_also_confirms(client, client_for, owner, subscription, clock):
    codes = two_factor_on(owner.user, clock)
    url = _link(client_for, owner, "upgrade")
    assert client.post(url, {"code": codes[0]}).status_code == 302
    assert _done("upgrade", subscription)


def test_the_code_is_the_owners_whoever_is_signed_in(
    client_for, owner, manager, subscription, clock
):
    """A program manager with a second factor of their own, signed in, opens the owner's
    link: their own code does not confirm it."""
    two_factor_on(owner.user, clock)
    two_factor_on(manager.user, clock)
    url = _link(client_for, owner, "closure")
    client = client_for(manager)
    response = client.post(url, {"code": code_for(manager.user, clock)})
    assert "Code incorrect" in text(response)
    assert not _done("closure", subscription)
    throttle_passes(owner.user)
    assert client.post(url, {"code": code_for(owner.user, clock)}).status_code == 302
    assert _done("closure", subscription)


def test_without_a_second_factor_nothing_more_is_asked(client, client_for, owner, subscription):
    url = _link(client_for, owner, "upgrade")
    assert 'name="code"' not in text(client.get(url))
    assert client.post(url).status_code == 302
    assert _done("upgrade", subscription)


def test_a_dead_link_says_so_before_asking_a_code(client, client_for, owner, subscription, clock):
    two_factor_on(owner.user, clock)
    url = _link(client_for, owner, "upgrade")
    Confirmation.objects.update(status=Confirmation.Status.SUPERSEDED)
    response = client.post(url, {"code": "000000"})
    assert response.status_code == 410
    assert "Lien remplacé" in text(response)


@pytest.mark.parametrize("kind", ["upgrade", "closure"])
def test_the_services_refuse_without_the_owners_proof(
    client_for, owner, manager, subscription, clock, kind
):
    """The guard no caller can forget: the service itself wants the owner's fresh proof."""
    two_factor_on(owner.user, clock)
    two_factor_on(manager.user, clock)
    url = _link(client_for, owner, kind)
    token = url.rstrip("/").rsplit("/", 1)[1]
    confirm = services.upgrade_confirm if kind == "upgrade" else services.closure_confirm
    managers_proof = two_factor_verify(user=manager.user, code=code_for(manager.user, clock))
    for proof in (None, managers_proof):
        with pytest.raises(TwoFactorRequired):
            confirm(token=token, second_factor=proof)
        assert not _done(kind, subscription)
        assert Confirmation.objects.get(kind=kind).status == Confirmation.Status.PENDING
    owners_proof = two_factor_verify(user=owner.user, code=code_for(owner.user, clock))
    confirm(token=token, second_factor=owners_proof)
    assert _done(kind, subscription)


def test_with_the_identity_providers_sign_in_the_link_asks_no_code(
    client, client_for, owner, subscription, settings, clock
):
    """The provider owns the second factor then (docs/security.md): the portal's devices,
    left from before, ask nothing."""
    two_factor_on(owner.user, clock)
    url = _link(client_for, owner, "closure")
    settings.PASSWORD_SIGN_IN = False
    assert 'name="code"' not in text(client.get(url))
    assert client.post(url).status_code == 302
    assert _done("closure", subscription)
