"""One person, several accounts: the header's switcher, and every request scoped to the
account chosen in the session (accounts.permissions.membership_chosen)."""

import html

import pytest
from django.db import IntegrityError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent, BillingContact, Membership, Organisation
from accounts.permissions import ACCOUNT_SESSION_KEY
from tests.factories import (
    PASSWORD,
    BillingContactFactory,
    InvoiceFactory,
    MembershipFactory,
    OrganisationFactory,
)

SWITCH = reverse("portal:account_switch")
CONTACTS = reverse("portal:contacts")
INVOICES = reverse("portal:invoices")


def text(response):
    return html.unescape(response.content.decode())


@pytest.fixture
def agency(owner):
    """Camille Martin, owner of the festival, is also a program manager of an agency's
    account (« Agence Beta », after the festival by name)."""
    return MembershipFactory(user=owner.user, organisation=OrganisationFactory(name="Agence Beta"))


def _choose(client, organisation, tab=""):
    return client.post(SWITCH, {"organisation": organisation.pk, "tab": tab})


def _heading_account(response) -> str:
    page = text(response)
    return page.split('<span class="muted">· ', 1)[1].split("</span>", 1)[0]


def test_a_person_is_a_member_of_an_account_once(owner):
    with pytest.raises(IntegrityError):
        MembershipFactory(user=owner.user, organisation=owner.organisation)


def test_the_first_account_by_name_opens_by_default(client_for, owner, agency):
    response = client_for(owner).get(CONTACTS)
    assert _heading_account(response) == "Agence Beta"
    assert "Gestionnaire du programme" in text(response)


def test_choosing_an_account_scopes_the_next_requests(client_for, owner, agency):
    client = client_for(owner)
    response = _choose(client, owner.organisation, tab="contacts")
    assert (response.status_code, response.url) == (302, CONTACTS)
    assert client.session[ACCOUNT_SESSION_KEY] == owner.organisation.pk
    page = client.get(CONTACTS)
    assert _heading_account(page) == owner.organisation.name
    assert "Vous consultez maintenant le compte « Festival International" in text(page)
    # The owner's tabs are there for this account, not for the agency's.
    assert client.get(INVOICES).status_code == 200
    _choose(client, agency.organisation)
    assert client.get(INVOICES).status_code == 403


def test_the_last_choice_opens_the_next_session(client, owner, agency):
    client.post(reverse("login"), {"username": owner.user.email, "password": PASSWORD})
    _choose(client, owner.organisation)
    client.post(reverse("logout"))
    client.post(reverse("login"), {"username": owner.user.email, "password": PASSWORD})
    assert ACCOUNT_SESSION_KEY not in client.session
    assert _heading_account(client.get(CONTACTS)) == owner.organisation.name
    # The sign-in's audit event names the account the portal opened on.
    signed_in = AuditEvent.objects.filter(action="user.signed_in").order_by("pk")
    assert [e.organisation.name for e in signed_in] == ["Agence Beta", owner.organisation.name]


def test_back_to_the_same_tab_or_to_contacts_when_the_role_may_not_see_it(
    client_for, owner, agency
):
    client = client_for(owner)
    response = _choose(client, owner.organisation, tab="invoices")
    assert response.url == INVOICES
    # Factures is the owner's: as a program manager of the agency, back to Contacts.
    response = _choose(client, agency.organisation, tab="invoices")
    assert response.url == CONTACTS
    assert client.get(response.url).status_code == 200
    # An unknown tab is no address to go to.
    assert _choose(client, owner.organisation, tab="//evil.example").url == CONTACTS


def test_the_switcher_lists_the_accounts_with_their_role_and_marks_the_current_one(
    client_for, owner, agency
):
    client = client_for(owner)
    _choose(client, owner.organisation)
    page = text(client.get(CONTACTS))
    assert 'data-testid="account-menu"' in page
    assert f'action="{SWITCH}"' in page and "csrfmiddlewaretoken" in page
    assert "<legend>Changer de compte</legend>" in page
    current = page.split('aria-current="true"', 1)[1].split("</span></span>", 1)[0]
    assert owner.organisation.name in current and "Propriétaire du compte" in current
    assert (
        f'name="organisation" value="{agency.organisation.pk}"><span class="account-name">'
        'Agence Beta</span> <span class="account-role">Gestionnaire du programme' in page
    )
    # The current account is not a button: choosing it again is not offered.
    assert f'name="organisation" value="{owner.organisation.pk}"' not in page
    assert '<input type="hidden" name="tab" value="contacts">' in page


def test_the_switcher_speaks_english(client_for, owner, agency):
    client = client_for(owner)
    page = text(client.get(CONTACTS, headers={"accept-language": "en"}))
    assert "<legend>Switch account</legend>" in page
    assert "Program manager" in page


def test_one_account_no_switcher(client_for, owner):
    page = text(client_for(owner).get(CONTACTS))
    assert "account-menu" not in page


def test_the_switch_needs_the_csrf_token(owner, agency):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)
    assert _choose(client, owner.organisation).status_code == 403
    assert ACCOUNT_SESSION_KEY not in client.session
    assert not Membership.objects.filter(chosen_at__isnull=False).exists()


@pytest.mark.parametrize("value", ["", "abc", "-1", "99999999", None])
def test_an_account_that_is_not_theirs_changes_nothing(
    client_for, owner, agency, other_owner, value
):
    client = client_for(owner)
    _choose(client, owner.organisation)
    data = {} if value is None else {"organisation": value}
    response = client.post(SWITCH, data, follow=True)
    assert response.redirect_chain[0] == (reverse("portal:home"), 302)
    assert "Ce compte ne fait pas partie des vôtres." in text(response)
    assert client.session[ACCOUNT_SESSION_KEY] == owner.organisation.pk
    # Another tenant's account, named by its real id: refused the same way.
    response = _choose(client, other_owner.organisation)
    assert response.status_code == 302
    assert client.session[ACCOUNT_SESSION_KEY] == owner.organisation.pk
    assert (
        not Membership.objects.filter(organisation=other_owner.organisation)
        .exclude(pk=other_owner.pk)
        .exists()
    )


def test_the_switch_is_a_post(client_for, owner, agency):
    assert client_for(owner).get(SWITCH).status_code == 405


def test_a_stale_or_foreign_session_id_falls_back_to_ones_own_account(
    client_for, owner, agency, other_owner
):
    client = client_for(owner)
    session = client.session
    session[ACCOUNT_SESSION_KEY] = other_owner.organisation.pk  # never theirs
    session.save()
    response = client.get(CONTACTS)
    assert _heading_account(response) == "Agence Beta"
    assert other_owner.user.email not in text(response)
    # An account they chose, then left: the next request is about one of theirs.
    _choose(client, owner.organisation)
    Membership.objects.filter(pk=owner.pk).update(role=Membership.Role.MANAGER)
    Membership.objects.filter(pk=owner.pk).delete()
    assert _heading_account(client.get(CONTACTS)) == "Agence Beta"


def test_another_accounts_objects_are_404(client_for, owner, other_owner):
    """Owner of two accounts: an invoice or a contact of the one not chosen is a 404."""
    second = MembershipFactory(
        user=owner.user, organisation=other_owner.organisation, role=Membership.Role.MANAGER
    )
    Membership.objects.filter(pk=other_owner.pk).update(role=Membership.Role.MANAGER)
    Membership.objects.filter(pk=second.pk).update(role=Membership.Role.OWNER)
    invoice_a = InvoiceFactory(organisation=owner.organisation)
    invoice_b = InvoiceFactory(organisation=other_owner.organisation)
    contact_a = BillingContactFactory(organisation=owner.organisation)
    client = client_for(owner)
    _choose(client, other_owner.organisation)
    detail = "portal:invoice_detail"
    assert client.get(reverse(detail, args=[invoice_b.number])).status_code == 200
    assert client.get(reverse(detail, args=[invoice_a.number])).status_code == 404
    assert client.get(reverse("portal:invoice_pdf", args=[invoice_a.number])).status_code == 404
    edit = reverse("portal:contact_edit", args=[contact_a.pk])
    assert client.get(edit).status_code == 404
    remove = reverse("portal:contact_remove", args=[contact_a.pk])
    assert client.post(remove).status_code == 404
    assert BillingContact.objects.filter(pk=contact_a.pk).exists()
    _choose(client, owner.organisation)
    assert client.get(edit).status_code == 200


def test_audit_events_name_the_chosen_account(client_for, owner, other_owner):
    MembershipFactory(
        user=owner.user, organisation=other_owner.organisation, role=Membership.Role.MANAGER
    )
    Membership.objects.filter(pk=other_owner.pk).update(role=Membership.Role.MANAGER)
    Membership.objects.filter(user=owner.user, organisation=other_owner.organisation).update(
        role=Membership.Role.OWNER
    )
    client = client_for(owner)
    _choose(client, other_owner.organisation)
    assert not AuditEvent.objects.exists()  # choosing an account is navigation
    client.post(
        reverse("portal:contact_add"),
        {"first_name": "Ingrid", "last_name": "Berg", "email": "ingrid@example.com"},
    )
    event = AuditEvent.objects.get(action="contact.added")
    assert event.organisation == other_owner.organisation
    assert BillingContact.objects.get().organisation == other_owner.organisation


def test_the_page_query_count_does_not_grow_with_the_accounts(client_for, owner):
    client = client_for(owner)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(CONTACTS).status_code == 200
        return len(ctx.captured_queries)

    # The switcher shows from the second account on: compare two with twenty.
    MembershipFactory(user=owner.user, organisation=OrganisationFactory(name="Zeta 0"))
    few = count()
    for n in range(1, 20):
        MembershipFactory(user=owner.user, organisation=OrganisationFactory(name=f"Zeta {n}"))
    assert count() == few
    assert text(client.get(CONTACTS)).count('class="account-choice"') == 21


# --- Closed accounts --------------------------------------------------------------------


def test_one_closed_account_shows_the_closed_page_without_switcher(client_for, manager):
    Organisation.objects.filter(pk=manager.organisation_id).update(status="closed")
    response = client_for(manager).get(CONTACTS)
    assert response.status_code == 403
    assert "Ce compte est fermé" in text(response)
    assert "account-menu" not in text(response)


def test_from_a_closed_accounts_page_switch_to_an_open_one(client_for, owner, agency):
    Organisation.objects.filter(pk=agency.organisation_id).update(status="closed")
    client = client_for(owner)
    _choose(client, agency.organisation, tab="contacts")
    response = client.get(CONTACTS)
    assert response.status_code == 403
    page = text(response)
    assert "Ce compte est fermé" in page
    assert 'Agence Beta</span> <span class="account-role">Gestionnaire du programme · fermé' in (
        page
    )
    response = _choose(client, owner.organisation, tab="contacts")
    assert response.url == CONTACTS
    assert client.get(CONTACTS).status_code == 200


def test_switching_to_a_closed_account_lands_on_what_the_role_keeps(client_for, owner, agency):
    closed = MembershipFactory(
        user=owner.user,
        role=Membership.Role.OWNER,
        organisation=OrganisationFactory(name="Ancien compte", status="closed"),
    )
    client = client_for(owner)
    response = _choose(client, closed.organisation, tab="contacts")
    assert client.get(response.url).url == INVOICES  # its owner keeps the invoices
    assert client.get(INVOICES).status_code == 200
    # A program manager of a closed account: its closed page.
    Organisation.objects.filter(pk=agency.organisation_id).update(status="closed")
    response = _choose(client, agency.organisation, tab="invoices")
    assert response.url == reverse("portal:home")
    assert client.get(response.url).status_code == 403


# --- A tab still showing the account chosen before ---------------------------------------


@pytest.fixture
def two_owned(owner, other_owner):
    """Camille Martin owns the festival and, since a merger, the Nordic awards too."""
    Membership.objects.filter(pk=other_owner.pk).update(role=Membership.Role.MANAGER)
    return MembershipFactory(
        user=owner.user, organisation=other_owner.organisation, role=Membership.Role.OWNER
    )


NEW_CONTACT = {"first_name": "Ingrid", "last_name": "Berg", "email": "ingrid@example.com"}
STALE = "Vous avez changé de compte dans un autre onglet : rien n'a été enregistré."


def test_the_pages_say_which_account_their_forms_are_for(client_for, owner, two_owned):
    client = client_for(owner)
    _choose(client, owner.organisation)
    form = text(client.get(reverse("portal:contact_add")))
    assert f'<input type="hidden" name="account" value="{owner.organisation.pk}">' in form
    assert f'"X-Portal-Account": "{owner.organisation.pk}"' in form


def test_a_form_shown_for_another_account_changes_nothing(client_for, owner, two_owned):
    client = client_for(owner)
    _choose(client, owner.organisation)
    _choose(client, two_owned.organisation)  # in another tab
    data = {**NEW_CONTACT, "account": owner.organisation.pk}
    response = client.post(reverse("portal:contact_add"), data, follow=True)
    assert response.redirect_chain[0] == (reverse("portal:home"), 302)
    page = text(response)
    assert STALE in page and "le compte « Nordic Design Awards »" in page
    assert not BillingContact.objects.exists()
    assert not AuditEvent.objects.exists()
    # Sent again from a page of the account now chosen, it is done there.
    data["account"] = two_owned.organisation_id
    assert client.post(reverse("portal:contact_add"), data).status_code == 302
    assert BillingContact.objects.get().organisation == two_owned.organisation


def test_an_htmx_request_shown_for_another_account_reloads_the_page(client_for, owner, two_owned):
    client = client_for(owner)
    _choose(client, two_owned.organisation)
    response = client.post(
        reverse("portal:contact_add"),
        NEW_CONTACT,
        headers={"HX-Request": "true", "X-Portal-Account": str(owner.organisation.pk)},
    )
    assert response["HX-Redirect"] == reverse("portal:home")
    assert not BillingContact.objects.exists()
    assert STALE in text(client.get(CONTACTS))
