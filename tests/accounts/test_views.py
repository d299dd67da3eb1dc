import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent, BillingContact, Membership
from emails.models import Email
from tests.factories import BillingContactFactory, MembershipFactory

HTMX = {"HX-Request": "true"}


def test_owner_sees_everything_and_the_controls(client_for, owner, manager):
    BillingContactFactory(
        organisation=owner.organisation,
        first_name="Claire",
        last_name="Dubois",
        email="compta@example.com",
    )
    html = client_for(owner).get(reverse("portal:contacts")).content.decode()
    for text in (
        "Contacts du compte",
        "Factures",
        "Abonnement",
        "Camille Martin",
        "Julien Bernard",
        "Claire Dubois",
        "compta@example.com",
        "Ajouter un contact",
        "Modifier le propriétaire du compte",
    ):
        assert text in html


def test_manager_sees_contacts_read_only(client_for, owner, manager):
    BillingContactFactory(organisation=owner.organisation, first_name="Claire", last_name="Dubois")
    html = client_for(manager).get(reverse("portal:contacts")).content.decode()
    assert "Claire Dubois" in html and "Camille Martin" in html
    for text in (
        "Ajouter un contact",
        "Modifier le propriétaire du compte",
        reverse("portal:invoices"),
        reverse("portal:subscription"),
    ):
        assert text not in html
    assert "contactez notre équipe support" in html


def test_pages_vary_on_htmx_and_forbid_inline_script(client_for, owner):
    response = client_for(owner).get(reverse("portal:contacts"))
    assert "HX-Request" in response["Vary"]
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in response.content.decode()


def test_add_contact_with_htmx_returns_the_updated_section(client_for, owner):
    response = client_for(owner).post(
        reverse("portal:contact_add"),
        {"first_name": "Claire", "last_name": "Dubois", "email": "compta@example.com"},
        headers=HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="billing-contacts"')
    assert "Claire Dubois" in html and "Le contact a été ajouté." in html
    assert BillingContact.objects.get().email == "compta@example.com"
    # The recent activity follows out of band, its newest row the change just made.
    oob = html[html.index('<section id="recent-activity"') :]
    assert 'hx-swap-oob="outerHTML"' in oob.split(">", 1)[0]
    first_row = oob[oob.index("<tbody") :].split("</tr>", 1)[0]
    assert "Contact de facturation ajouté" in first_row and "compta@example.com" in first_row


def test_a_failed_htmx_change_sends_no_activity(client_for, owner):
    response = client_for(owner).post(
        reverse("portal:contact_add"),
        {"first_name": "Claire", "last_name": "Dubois", "email": "not-an-email"},
        headers=HTMX,
    )
    assert "recent-activity" not in response.content.decode()
    assert not BillingContact.objects.exists()


def test_add_contact_without_javascript_redirects(client_for, owner):
    client = client_for(owner)
    response = client.post(
        reverse("portal:contact_add"),
        {"first_name": "Claire", "last_name": "Dubois", "email": "compta@example.com"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:contacts")
    page = client.get(response["Location"]).content.decode()
    assert "Le contact a été ajouté." in page and "Claire Dubois" in page


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"first_name": "Claire", "last_name": "Dubois", "email": "nope"},
            "Saisissez une adresse e-mail valide.",
        ),
        (
            {"first_name": "", "last_name": "Dubois", "email": "a@example.com"},
            "Ce champ est obligatoire.",
        ),
        (
            {"first_name": "x" * 151, "last_name": "Dubois", "email": "a@example.com"},
            "150 caractères",
        ),
        (
            {"first_name": "Claire", "last_name": "Dubois", "email": "DUP@example.com"},
            "existe déjà",
        ),
    ],
)
def test_bad_contact_input_shows_the_error_and_saves_nothing(
    client_for, owner, data, message, htmx
):
    BillingContactFactory(organisation=owner.organisation, email="dup@example.com")
    response = client_for(owner).post(
        reverse("portal:contact_add"), data, headers=HTMX if htmx else {}
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert BillingContact.objects.count() == 1
    assert not AuditEvent.objects.exists()


def test_edit_and_remove_contact(client_for, owner):
    contact = BillingContactFactory(organisation=owner.organisation, email="a@example.com")
    client = client_for(owner)
    form = client.get(reverse("portal:contact_edit", args=[contact.pk]), headers=HTMX)
    assert 'value="a@example.com"' in form.content.decode()
    client.post(
        reverse("portal:contact_edit", args=[contact.pk]),
        {"first_name": "Anne", "last_name": "Roux", "email": "anne@example.com"},
    )
    contact.refresh_from_db()
    assert (contact.first_name, contact.email) == ("Anne", "anne@example.com")
    confirm = client.get(reverse("portal:contact_remove", args=[contact.pk]))
    assert "Supprimer le contact Anne Roux ?" in confirm.content.decode()
    assert BillingContact.objects.filter(pk=contact.pk).exists()
    client.post(reverse("portal:contact_remove", args=[contact.pk]))
    assert not BillingContact.objects.filter(pk=contact.pk).exists()


def test_contact_of_another_account_is_not_found(client_for, owner, other_owner):
    contact = BillingContactFactory(organisation=other_owner.organisation)
    client = client_for(owner)
    assert client.post(reverse("portal:contact_remove", args=[contact.pk])).status_code == 404
    assert BillingContact.objects.filter(pk=contact.pk).exists()


def test_owner_search_filters_program_managers(client_for, owner, manager):
    MembershipFactory(
        organisation=owner.organisation, user__first_name="Sophie", user__last_name="Petit"
    )
    response = client_for(owner).get(
        reverse("portal:owner_change"),
        {"q": "jul"},
        headers={**HTMX, "HX-Target": "owner-candidates"},
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="owner-candidates"')
    assert "Julien Bernard" in html and "Sophie Petit" not in html
    assert "Camille Martin" not in html  # the owner is not a candidate


def test_owner_search_without_javascript_renders_the_whole_page(client_for, owner, manager):
    response = client_for(owner).get(reverse("portal:owner_change"), {"q": "bern"})
    html = response.content.decode()
    assert "<html" in html and "Julien Bernard" in html and 'name="new_owner"' in html


def test_transfer_with_htmx_redirects_the_whole_page(
    client_for, owner, manager, django_capture_on_commit_callbacks
):
    client = client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal:owner_change"), {"new_owner": manager.pk}, headers=HTMX
        )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("portal:contacts")
    assert Membership.objects.get(role="owner").user == manager.user
    assert set(Email.objects.values_list("to", flat=True)) == {
        "owner@example.com",
        "manager@example.com",
    }
    # The former owner is now a program manager: owner-only pages are closed to them.
    assert client.get(reverse("portal:invoices")).status_code == 403


def test_transfer_to_a_non_manager_shows_an_error(client_for, owner, other_owner):
    response = client_for(owner).post(reverse("portal:owner_change"), {"new_owner": other_owner.pk})
    assert response.status_code == 200
    assert "Choisissez un gestionnaire du programme de ce compte." in response.content.decode()
    assert Membership.objects.get(organisation=owner.organisation, role="owner") == owner


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_contacts_tab_query_count_does_not_grow(client_for, owner):
    client = client_for(owner)
    url = reverse("portal:contacts")
    MembershipFactory.create_batch(2, organisation=owner.organisation)
    BillingContactFactory.create_batch(2, organisation=owner.organisation)
    small = _count_queries(client, url)
    MembershipFactory.create_batch(198, organisation=owner.organisation)
    BillingContactFactory.create_batch(198, organisation=owner.organisation)
    large = _count_queries(client, url)
    assert small == large
    assert large <= 10


def test_owner_sees_recent_billing_activity_manager_does_not(client_for, owner, manager):
    client = client_for(owner)
    client.post(
        reverse("portal:contact_add"),
        {"first_name": "Claire", "last_name": "Dubois", "email": "compta@example.com"},
    )
    html = client.get(reverse("portal:contacts")).content.decode()
    assert "Activité récente" in html
    assert "Contact de facturation ajouté" in html and "Camille Martin" in html
    manager_html = client_for(manager).get(reverse("portal:contacts")).content.decode()
    assert "Activité récente" not in manager_html
