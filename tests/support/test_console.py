"""The support console (support.admin): support corrects an account's billing address, VAT
number and billing contacts through the portal's services, and the account page reads
everything about the account in a fixed number of queries."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent, BillingContact, Organisation
from payments.services import allocation_reverse, payment_record
from subscriptions import services as subscription_services
from support.models import SupportRequest
from support.selectors import account_overview
from tests.factories import (
    BillingContactFactory,
    InvoiceFactory,
    MembershipFactory,
    SubscriptionFactory,
    UserFactory,
)


@pytest.fixture
def support(client, support_user):
    client.force_login(support_user)
    return client


def _url(name, organisation, *args):
    return reverse(f"admin:accounts_organisation_{name}", args=[organisation.pk, *args])


def _details(organisation):
    return Organisation.objects.filter(pk=organisation.pk).values().get()


def _event_by_support(action, support_user):
    event = AuditEvent.objects.get(action=action)
    assert (event.actor, event.actor_label) == (support_user, "support: Léa Moreau")
    assert event.ip_address == "127.0.0.1"
    return event


ADDRESS = {
    "address_line1": "3 rue de la Paix",
    "address_line2": "",
    "postal_code": "75002",
    "city": "Paris",
    "country": "FR",
}


def test_support_corrects_the_billing_address(support, owner, support_user):
    organisation = owner.organisation
    page = support.get(_url("change_address", organisation)).content.decode()
    assert 'value="14 quai Saint-Antoine"' in page  # the current address, to correct
    response = support.post(_url("change_address", organisation), ADDRESS)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:accounts_organisation_change", args=[organisation.pk]
    )
    organisation.refresh_from_db()
    assert (organisation.address_line1, organisation.city) == ("3 rue de la Paix", "Paris")
    event = _event_by_support("organisation.address_changed", support_user)
    assert event.after["address_line1"] == "3 rue de la Paix"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"address_line1": ""}, "Ce champ est obligatoire."),
        ({"address_line1": "3 rue\x07"}, "Caractères non autorisés."),
        # The form is valid; the service refuses a country the VAT number does not match.
        ({"country": "DE"}, "ne correspond pas à ce pays"),
    ],
)
def test_an_invalid_address_shows_why_and_changes_nothing(support, owner, change, message):
    before = _details(owner.organisation)
    response = support.post(_url("change_address", owner.organisation), {**ADDRESS, **change})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert _details(owner.organisation) == before
    assert not AuditEvent.objects.exists()


def test_support_corrects_the_vat_number(support, owner, support_user):
    response = support.post(
        _url("change_vat", owner.organisation), {"vat_number": "FR 40 303 265 045"}
    )
    assert response.status_code == 302
    owner.organisation.refresh_from_db()
    assert owner.organisation.vat_number == "FR40303265045"
    event = _event_by_support("organisation.vat_changed", support_user)
    assert event.before == {"vat_number": "FR44732829320"}


def test_a_bad_vat_number_shows_the_expected_format_and_changes_nothing(support, owner):
    before = _details(owner.organisation)
    response = support.post(_url("change_vat", owner.organisation), {"vat_number": "FR123"})
    assert response.status_code == 200
    assert "Numéro de TVA non valide. Format attendu : FR + 11 chiffres" in (
        response.content.decode()
    )
    assert _details(owner.organisation) == before
    assert not AuditEvent.objects.exists()


def test_support_sets_the_siren_through_the_portals_service(support, owner, support_user):
    page = support.get(_url("change_siren", owner.organisation)).content.decode()
    assert 'value="732829320"' in page  # the one inside the VAT number, to confirm
    response = support.post(_url("change_siren", owner.organisation), {"siren": "732 829 320"})
    assert response.status_code == 302
    assert _details(owner.organisation)["siren"] == "732829320"
    event = _event_by_support("organisation.siren_changed", support_user)
    assert event.after == {"siren": "732829320"}


@pytest.mark.parametrize(
    ("siren", "message"),
    [
        ("732829321", "Ce SIREN n&#x27;existe pas"),
        ("552100554", "Ce SIREN ne correspond pas au numéro de TVA FR44732829320"),
    ],
)
def test_a_bad_siren_shows_why_and_changes_nothing(support, owner, siren, message):
    before = _details(owner.organisation)
    response = support.post(_url("change_siren", owner.organisation), {"siren": siren})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert _details(owner.organisation) == before
    assert not AuditEvent.objects.exists()


def test_support_adds_a_billing_contact(support, owner, support_user):
    response = support.post(
        _url("add_contact", owner.organisation),
        {"first_name": "Claire", "last_name": "Dubois", "email": "Compta@Example.com"},
    )
    assert response.status_code == 302
    contact = BillingContact.objects.get(organisation=owner.organisation)
    assert (contact.full_name, contact.email) == ("Claire Dubois", "compta@example.com")
    event = _event_by_support("contact.added", support_user)
    assert event.after == {"name": "Claire Dubois", "email": "compta@example.com"}


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("pas-une-adresse", "Saisissez une adresse e-mail valide."),
        ("compta@example.com", "Un contact avec cette adresse e-mail existe déjà."),
    ],
)
def test_an_invalid_contact_shows_why_and_adds_nothing(support, owner, email, message):
    BillingContactFactory(organisation=owner.organisation, email="compta@example.com")
    response = support.post(
        _url("add_contact", owner.organisation),
        {"first_name": "Claire", "last_name": "Dubois", "email": email},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert BillingContact.objects.count() == 1
    assert not AuditEvent.objects.exists()


def test_support_removes_a_billing_contact(support, owner, support_user):
    contact = BillingContactFactory(
        organisation=owner.organisation,
        first_name="Claire",
        last_name="Dubois",
        email="compta@example.com",
    )
    url = _url("remove_contact", owner.organisation, contact.pk)
    assert "Supprimer le contact Claire Dubois ?" in support.get(url).content.decode()
    assert BillingContact.objects.exists()  # asking is not removing
    response = support.post(url)
    assert response.status_code == 302
    assert not BillingContact.objects.exists()
    event = _event_by_support("contact.removed", support_user)
    assert event.before == {"name": "Claire Dubois", "email": "compta@example.com"}


def test_a_contact_is_removed_only_through_its_own_account(support, owner, other_owner):
    contact = BillingContactFactory(organisation=other_owner.organisation)
    response = support.post(_url("remove_contact", owner.organisation, contact.pk))
    assert response.status_code == 404
    assert BillingContact.objects.filter(pk=contact.pk).exists()


def _close(owner):
    link = subscription_services.closure_request(organisation=owner.organisation, actor=owner.user)
    subscription_services.closure_confirm(token=link.token)


def test_a_closed_account_is_reopened_before_its_details_change(support, owner, plans):
    SubscriptionFactory(organisation=owner.organisation, plan=plans["professionnel"])
    contact = BillingContactFactory(organisation=owner.organisation)
    _close(owner)
    page = support.get(reverse("admin:accounts_organisation_change", args=[owner.organisation.pk]))
    assert _url("change_address", owner.organisation) not in page.content.decode()
    before, events = _details(owner.organisation), AuditEvent.objects.count()
    for name, args, data in [
        ("change_address", [], ADDRESS),
        ("change_vat", [], {"vat_number": ""}),
        ("change_siren", [], {"siren": "732829320"}),
        ("add_contact", [], {"first_name": "A", "last_name": "B", "email": "a@example.com"}),
        ("remove_contact", [contact.pk], {}),
    ]:
        response = support.post(_url(name, owner.organisation, *args), data)
        assert response.status_code == 200
        assert "Ce compte est fermé." in response.content.decode()
    assert _details(owner.organisation) == before
    assert list(BillingContact.objects.all()) == [contact]
    assert AuditEvent.objects.count() == events


ACTIONS = ["change_address", "change_vat", "change_siren", "add_contact", "remove_contact"]


def _action_url(name, owner):
    if name == "remove_contact":
        contact = BillingContactFactory(organisation=owner.organisation)
        return _url(name, owner.organisation, contact.pk)
    return _url(name, owner.organisation)


@pytest.mark.parametrize("name", ACTIONS)
def test_only_the_support_group_acts(client, support_user, owner, manager, name):
    url = _action_url(name, owner)
    client.force_login(support_user)
    assert client.get(url).status_code == 200
    client.force_login(UserFactory(is_staff=True))  # staff outside the Support group
    assert client.get(url).status_code == 403
    assert client.post(url, {**ADDRESS, "vat_number": ""}).status_code == 403
    client.force_login(manager.user)
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not AuditEvent.objects.exists()


def test_the_account_page_links_the_support_actions(support, owner):
    contact = BillingContactFactory(organisation=owner.organisation)
    html = support.get(
        reverse("admin:accounts_organisation_change", args=[owner.organisation.pk])
    ).content.decode()
    for name in ("change_address", "change_vat", "change_siren", "add_contact"):
        assert _url(name, owner.organisation) in html
    assert _url("remove_contact", owner.organisation, contact.pk) in html


def _fill(organisation, n):
    """`n` more of everything the account page lists."""
    for _ in range(n):
        MembershipFactory(organisation=organisation)
        BillingContactFactory(organisation=organisation)
        invoice = InvoiceFactory(organisation=organisation)
        payment = payment_record(
            organisation=organisation,
            amount=Decimal("150.00"),
            currency="EUR",
            received_on=date(2026, 2, 1),
            invoices=[invoice],
        )
        for allocation in payment.allocations.all():
            allocation_reverse(allocation=allocation, reason="Erreur", actor=None)
        SupportRequest.objects.create(
            organisation=organisation, name="X", email="x@example.com", subject="S", message="M"
        )
        AuditEvent.objects.create(organisation=organisation, actor_label="x", action="a")


def test_the_overview_costs_thirteen_queries_whatever_the_account_holds(
    owner, plans, django_assert_num_queries
):
    organisation = owner.organisation
    SubscriptionFactory(organisation=organisation, plan=plans["essentiel"])
    subscription_services.upgrade_request(
        organisation=organisation, plan=plans["entreprise"], actor=owner.user
    )
    _fill(organisation, 3)
    with django_assert_num_queries(13):
        overview = account_overview(organisation=organisation)
    assert overview.members[0] == owner and len(overview.members) == 4
    assert len(overview.billing_contacts) == 3 and len(overview.invoices) == 3
    assert len(overview.support_requests) == 3
    assert [e.action for e in overview.audit_events].count("a") == 3
    assert "upgrade.requested" in [e.action for e in overview.audit_events]
    assert overview.subscription.plan == plans["essentiel"]
    assert [c.plan for c in overview.pending_confirmations] == [plans["entreprise"]]
    assert len(overview.money.payments) == 3 and len(overview.money.open_invoices) == 3
    assert overview.money.credit == [(Decimal("450.00"), "EUR")]


def test_the_account_page_does_not_grow_with_the_account(support, owner, plans):
    url = reverse("admin:accounts_organisation_change", args=[owner.organisation.pk])
    SubscriptionFactory(organisation=owner.organisation, plan=plans["essentiel"])
    _fill(owner.organisation, 1)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert support.get(url).status_code == 200
        return len(captured)

    queries()  # warms the per-process caches (content types, the session's first save)
    few = queries()
    _fill(owner.organisation, 8)
    assert queries() == few


def test_the_account_page_prints_amounts_as_everywhere_and_offers_no_save(support, owner):
    from decimal import Decimal

    from billing_portal.formatting import money

    InvoiceFactory(organisation=owner.organisation, total=Decimal("7200.00"), currency="EUR")
    html = support.get(_url("change", owner.organisation)).content.decode()
    assert money(Decimal("7200.00"), "EUR") == "7\xa0200,00\xa0€"
    assert "7\xa0200,00\xa0€" in html
    assert "7200.00 EUR" not in html
    # Read-only: every change goes through a support action, so no Save button.
    assert 'name="_save"' not in html and 'name="_continue"' not in html
