"""A person with several accounts: emailed links act on their own account, whichever one the
session shows; the pricing page and the contact form follow the account chosen."""

import html

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.services import ownership_transfer
from subscriptions.models import Subscription
from support.models import SupportRequest
from tests.factories import MembershipFactory, OrganisationFactory, SubscriptionFactory

from .conftest import emails_to, link_token

SWITCH = reverse("portal:account_switch")


def text(response):
    return html.unescape(response.content.decode())


@pytest.fixture
def second(owner, plans, subscription):
    """Camille Martin also owns « Agence Beta », on Essentiel, in US dollars."""
    membership = MembershipFactory(
        user=owner.user,
        role=Membership.Role.OWNER,
        organisation=OrganisationFactory(name="Agence Beta", currency="USD"),
    )
    SubscriptionFactory(organisation=membership.organisation, plan=plans["essentiel"])
    return membership


def _upgrade_link(client, organisation):
    client.post(SWITCH, {"organisation": organisation.pk})
    response = client.post(reverse("portal:upgrade_request"), {"plan": "entreprise"})
    assert response.status_code == 302
    email = emails_to("owner@example.com", "upgrade_request")[-1]
    return reverse("subscription_confirm", args=[link_token(email)])


def _plans():
    return dict(Subscription.objects.values_list("organisation__name", "plan__code"))


def test_a_link_confirms_its_own_account_whichever_the_session_shows(
    client_for, owner, second, subscription
):
    client = client_for(owner)
    link = _upgrade_link(client, owner.organisation)
    client.post(SWITCH, {"organisation": second.organisation.pk})  # the session: account B
    page = text(client.get(link))
    assert owner.organisation.name in page
    assert client.post(link).status_code == 302
    assert _plans() == {owner.organisation.name: "entreprise", "Agence Beta": "essentiel"}


def test_a_link_of_an_account_one_no_longer_owns_does_nothing(
    client_for, owner, manager, second, subscription
):
    client = client_for(owner)
    link = _upgrade_link(client, owner.organisation)
    ownership_transfer(
        organisation=owner.organisation, new_owner_membership_id=manager.pk, actor=owner.user
    )
    client.post(SWITCH, {"organisation": second.organisation.pk})  # still owner of B
    response = client.post(link)
    assert response.status_code == 410
    assert _plans() == {owner.organisation.name: "professionnel", "Agence Beta": "essentiel"}


def test_the_pricing_page_follows_the_chosen_account(client_for, owner, second):
    client = client_for(owner)
    client.post(SWITCH, {"organisation": owner.organisation.pk})
    assert "6\xa0000,00\xa0€" in text(client.get(reverse("pricing")))
    client.post(SWITCH, {"organisation": second.organisation.pk})
    page = text(client.get(reverse("pricing")))
    assert "\xa0$\xa0US" in page and "\xa0€" not in page.split("<main", 1)[1]


def test_a_support_request_names_the_chosen_account(client_for, owner, second):
    client = client_for(owner)
    client.post(SWITCH, {"organisation": second.organisation.pk})
    client.post(
        reverse("support_contact"),
        {"topic": "general", "subject": "Facture", "message": "Une question."},
    )
    request = SupportRequest.objects.get()
    assert (request.organisation, request.role) == (second.organisation, "owner")
