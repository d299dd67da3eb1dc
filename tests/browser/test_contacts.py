"""The « Contacts du compte » tab, driven the way its users drive it."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import AuditEvent, BillingContact, Membership
from emails.models import Email

from ..factories import BillingContactFactory, MembershipFactory, UserFactory
from .conftest import htmx_settled, login

pytestmark = pytest.mark.browser

CONTACTS_URL = re.compile(r"/billing/contacts/$")


def open_portal_from_user_menu(page, full_name):
    menu = page.get_by_test_id("user-menu")
    billing = page.get_by_role("link", name="Facturation", exact=True)
    expect(menu).to_have_text(full_name)
    expect(billing).to_be_hidden()
    menu.click()
    billing.click()
    expect(page).to_have_url(CONTACTS_URL)


def tabs(page):
    return page.get_by_role("navigation", name="Portail de facturation").get_by_role("link")


def contact_form(page):
    return page.locator("form.contact-form")


def fill_contact(form, first_name, last_name, email):
    # exact: « Nom » is a substring of « Prénom ».
    form.get_by_label("Prénom", exact=True).fill(first_name)
    form.get_by_label("Nom", exact=True).fill(last_name)
    form.get_by_label("Adresse e-mail", exact=True).fill(email)


def mark_document(page):
    """Tag the loaded document; the tag survives htmx swaps but not a page load."""
    page.evaluate("window.sameDocument = true")


def is_same_document(page):
    return page.evaluate("window.sameDocument === true")


def test_owner_reaches_the_portal_from_the_user_menu_and_sees_three_tabs(page, owner, other_owner):
    BillingContactFactory(organisation=owner.organisation, first_name="Jeanne", last_name="Dupont")
    BillingContactFactory(
        organisation=other_owner.organisation, first_name="Astrid", last_name="Berg"
    )
    login(page, owner.user.email, next_url="/support/contact/")

    open_portal_from_user_menu(page, "Camille Martin")

    expect(tabs(page)).to_have_text(["Contacts du compte", "Factures", "Abonnement"])
    expect(page.get_by_role("link", name="Contacts du compte")).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_test_id("owner")).to_contain_text("Camille Martin")
    expect(page.get_by_role("link", name="Ajouter un contact")).to_be_visible()
    contacts = page.get_by_test_id("billing-contacts")
    expect(contacts).to_contain_text("Jeanne Dupont")
    expect(contacts.get_by_role("link", name="Modifier Jeanne Dupont")).to_be_visible()
    # Another account's contact never shows up.
    expect(contacts).not_to_contain_text("Astrid Berg")


def test_program_manager_sees_the_contacts_tab_read_only(page, owner, manager):
    BillingContactFactory(organisation=owner.organisation, first_name="Jeanne", last_name="Dupont")
    login(page, manager.user.email, next_url="/support/contact/")

    open_portal_from_user_menu(page, "Julien Bernard")

    expect(tabs(page)).to_have_text(["Contacts du compte"])
    expect(page.get_by_test_id("owner")).to_contain_text("Camille Martin")
    expect(page.get_by_test_id("managers")).to_contain_text("Julien Bernard")
    # The contact is listed, so the missing controls are a decision, not an empty list.
    expect(page.get_by_test_id("billing-contacts")).to_contain_text("Jeanne Dupont")
    for name in ("Ajouter un contact", "Modifier", "Supprimer"):
        expect(page.get_by_role("link", name=re.compile(f"^{name}"))).to_have_count(0)
        expect(page.get_by_role("button", name=re.compile(f"^{name}"))).to_have_count(0)
    expect(page.get_by_text("Modifier le propriétaire du compte")).to_have_count(0)
    note = page.locator("p.note")
    expect(note).to_contain_text("Seul le propriétaire du compte peut modifier la facturation.")
    expect(note).to_contain_text("contactez notre équipe support")
    expect(note.get_by_role("link", name="Contacter le support")).to_have_attribute(
        "href", "/support/contact/?topic=ownership"
    )

    # Hidden controls are not the only guard: the URLs behind them refuse a manager.
    assert page.goto("/billing/contacts/add/").status == 403
    assert page.goto("/billing/contacts/owner/").status == 403


def test_owner_transfers_ownership_to_a_program_manager(page, organisation, owner, manager):
    other_manager = MembershipFactory(
        organisation=organisation,
        user=UserFactory(email="sophie@example.com", first_name="Sophie", last_name="Lefèvre"),
    )
    login(page, owner.user.email)
    expect(tabs(page)).to_have_count(3)
    mark_document(page)

    owner_card = page.get_by_test_id("owner")
    change_owner = owner_card.get_by_role("link", name="Modifier le propriétaire du compte")
    page.mouse.move(0, 0)  # the login click left the pointer somewhere on the page
    expect(change_owner).to_be_hidden()
    owner_card.hover()
    expect(change_owner).to_be_visible()
    change_owner.click()

    candidates = page.locator("#owner-candidates")
    expect(candidates.get_by_role("radio")).to_have_count(2)
    expect(candidates).to_contain_text("Sophie Lefèvre")
    htmx_settled(page)
    page.locator("#owner-search").press_sequentially("bern", delay=30)
    expect(candidates).not_to_contain_text("Sophie Lefèvre")
    expect(candidates.get_by_role("radio")).to_have_count(1)
    candidates.get_by_label("Julien Bernard").check()
    expect(page.get_by_test_id("owner-preview")).to_contain_text("Julien Bernard deviendra")
    page.get_by_role("button", name="Sauvegarder").click()

    expect(page.get_by_role("status")).to_have_text("Le propriétaire du compte a été modifié.")
    assert not is_same_document(page), "the page should reload after the transfer"
    expect(page.get_by_test_id("owner")).to_contain_text("Julien Bernard")
    expect(page.get_by_test_id("managers")).to_contain_text("Camille Martin")
    # The former owner, still signed in, is now a program manager.
    expect(tabs(page)).to_have_text(["Contacts du compte"])
    expect(page.get_by_text("Modifier le propriétaire du compte")).to_have_count(0)
    expect(page.get_by_role("link", name="Ajouter un contact")).to_have_count(0)

    roles = dict(Membership.objects.values_list("user__email", "role"))
    assert roles == {
        "owner@example.com": Membership.Role.MANAGER,
        "manager@example.com": Membership.Role.OWNER,
        other_manager.user.email: Membership.Role.MANAGER,
    }
    assert set(Email.objects.values_list("to", "kind")) == {
        ("manager@example.com", "ownership_received"),
        ("owner@example.com", "ownership_given"),
    }
    event = AuditEvent.objects.get(action="ownership.transferred")
    assert (event.actor, event.after["owner"]) == (owner.user, "manager@example.com")


def test_owner_adds_a_billing_contact_without_reloading_the_page(page, organisation, owner):
    login(page, owner.user.email)
    mark_document(page)

    page.get_by_role("link", name="Ajouter un contact").click()
    form = contact_form(page)
    fill_contact(form, "Jeanne", "Dupont", "Jeanne.Dupont@example.org")
    form.get_by_role("button", name="Sauvegarder").click()

    contacts = page.get_by_test_id("billing-contacts")
    expect(contacts).to_contain_text("Jeanne Dupont")
    expect(contacts).to_contain_text("jeanne.dupont@example.org")
    expect(page.get_by_role("status")).to_have_text("Le contact a été ajouté.")
    expect(form).to_have_count(0)
    expect(page.get_by_role("link", name="Ajouter un contact")).to_be_visible()
    assert is_same_document(page), "htmx should have swapped the list in place"
    expect(page).to_have_url(CONTACTS_URL)

    contact = BillingContact.objects.get()
    assert (contact.organisation, contact.first_name, contact.last_name, contact.email) == (
        organisation,
        "Jeanne",
        "Dupont",
        "jeanne.dupont@example.org",
    )


def test_invalid_email_shows_an_error_next_to_the_field_and_saves_nothing(page, owner):
    login(page, owner.user.email)

    page.get_by_role("link", name="Ajouter un contact").click()
    form = contact_form(page)
    fill_contact(form, "Jeanne", "Dupont", "jeanne.dupont@")
    form.get_by_role("button", name="Sauvegarder").click()

    email_field = form.locator(".field").filter(has=page.locator("#id_email"))
    expect(email_field.locator(".error")).to_have_text(re.compile(r"adresse .*valide"))
    expect(form.locator(".error")).to_have_count(1)
    expect(form.get_by_label("Prénom", exact=True)).to_have_value("Jeanne")
    expect(form.get_by_label("Adresse e-mail")).to_have_value("jeanne.dupont@")
    expect(page.get_by_role("status")).to_have_count(0)
    expect(page.get_by_test_id("billing-contacts")).to_contain_text("Aucun contact de facturation.")
    assert not BillingContact.objects.exists()


def test_invalid_email_error_is_announced_with_the_field(page, owner):
    login(page, owner.user.email)
    page.get_by_role("link", name="Ajouter un contact").click()
    form = contact_form(page)
    fill_contact(form, "Jeanne", "Dupont", "jeanne.dupont@")
    form.get_by_role("button", name="Sauvegarder").click()
    email = form.get_by_label("Adresse e-mail")
    expect(email).to_have_attribute("aria-invalid", "true")

    expect(email).to_have_accessible_description(re.compile(r"valide"), timeout=500)


def test_owner_adds_a_billing_contact_with_javascript_off(new_page, organisation, owner):
    page = new_page(java_script_enabled=False)
    login(page, owner.user.email)

    page.get_by_role("link", name="Ajouter un contact").click()
    expect(page).to_have_url(re.compile(r"/billing/contacts/add/$"))
    form = contact_form(page)
    fill_contact(form, "Jeanne", "Dupont", "jeanne.dupont@example.org")
    form.get_by_role("button", name="Sauvegarder").click()

    expect(page).to_have_url(CONTACTS_URL)
    expect(page.get_by_role("status")).to_have_text("Le contact a été ajouté.")
    expect(page.get_by_test_id("billing-contacts")).to_contain_text("Jeanne Dupont")
    expect(contact_form(page)).to_have_count(0)

    contact = BillingContact.objects.get()
    assert (contact.organisation, contact.full_name, contact.email) == (
        organisation,
        "Jeanne Dupont",
        "jeanne.dupont@example.org",
    )


def test_owner_edits_then_removes_a_billing_contact(page, organisation, owner):
    jeanne = BillingContactFactory(
        organisation=organisation,
        first_name="Jeanne",
        last_name="Dupont",
        email="jeanne@example.org",
    )
    paul = BillingContactFactory(
        organisation=organisation,
        first_name="Paul",
        last_name="Girard",
        email="paul@example.org",
    )
    login(page, owner.user.email)
    contacts = page.get_by_test_id("billing-contacts")

    page.get_by_role("link", name="Modifier Jeanne Dupont").click()
    form = contact_form(page)
    expect(form.get_by_label("Prénom", exact=True)).to_have_value("Jeanne")
    expect(form.get_by_label("Adresse e-mail")).to_have_value("jeanne@example.org")
    form.get_by_label("Nom", exact=True).fill("Dupont-Moreau")
    form.get_by_label("Adresse e-mail").fill("jeanne.dm@example.org")
    form.get_by_role("button", name="Sauvegarder").click()

    expect(page.get_by_role("status")).to_have_text("Le contact a été modifié.")
    expect(contacts).to_contain_text("Jeanne Dupont-Moreau")
    expect(contacts).to_contain_text("jeanne.dm@example.org")
    jeanne.refresh_from_db()
    assert (jeanne.last_name, jeanne.email) == ("Dupont-Moreau", "jeanne.dm@example.org")

    # Cancelling the confirmation keeps the contact.
    page.get_by_role("link", name="Supprimer Jeanne Dupont-Moreau").click()
    expect(page.get_by_role("alert")).to_have_text("Supprimer le contact Jeanne Dupont-Moreau ?")
    page.get_by_role("link", name="Annuler").click()
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(contacts).to_contain_text("Jeanne Dupont-Moreau")
    assert BillingContact.objects.count() == 2

    page.get_by_role("link", name="Supprimer Jeanne Dupont-Moreau").click()
    expect(page.get_by_role("alert")).to_have_text("Supprimer le contact Jeanne Dupont-Moreau ?")
    page.get_by_role("button", name="Supprimer", exact=True).click()

    expect(page.get_by_role("status")).to_have_text("Le contact a été supprimé.")
    expect(contacts).not_to_contain_text("Jeanne")
    expect(contacts).to_contain_text("Paul Girard")
    assert list(BillingContact.objects.all()) == [paul]
