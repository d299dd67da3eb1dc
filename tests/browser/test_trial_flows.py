"""What a new user's trial found in three flows (defects numbered as the trial report
numbers them): a closed account's invoices, the upgrade, the ownership transfer. Each shown
in a real browser, with and without JavaScript."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone, translation
from playwright.sync_api import expect

from accounts.models import Membership, Organisation
from billing_portal.formatting import money
from emails.models import Email
from invoices.models import Invoice
from subscriptions.demo import seed_plans
from subscriptions.models import Subscription

from ..factories import MembershipFactory, SubscriptionFactory, UserFactory
from .conftest import htmx_settled, login

pytestmark = pytest.mark.browser

LINK = re.compile(r"/confirm/[A-Za-z0-9_-]+/")


def _amount_due(organisation) -> str:
    """What the account's open invoices still ask, as a French reader reads it."""
    due = sum(
        (invoice.amount_due for invoice in Invoice.objects.filter(organisation=organisation)),
        Decimal(0),
    )
    assert due > 0
    with translation.override("fr"):
        return money(due, organisation.currency)


def _sent_to(address, kind):
    email = Email.objects.filter(kind=kind, to=address).latest("pk")
    return next(m for m in reversed(mail.outbox) if email.to in m.to)


# --- 1. A closed account keeps its invoices until anonymisation ------------------------


def test_1_closing_names_the_amount_due_and_the_closed_owner_still_reaches_the_invoices(
    new_page, demo
):
    due = _amount_due(demo)
    page = new_page()
    login(page, "owner@example.com", next_url="/billing/subscription/")
    page.get_by_role("link", name="Supprimer le compte").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(due)
    expect(dialog).to_contain_text("reste dû")
    dialog.get_by_role("button", name="Supprimer").click()
    expect(page.get_by_test_id("pending-closure")).to_be_visible()

    request = _sent_to("owner@example.com", "closure_request")
    assert due in request.body
    link = LINK.search(request.body).group(0)
    page.goto(link)
    expect(page.get_by_test_id("closure-amount-due")).to_contain_text(due)
    page.get_by_role("button", name="Confirmer").click()
    demo.refresh_from_db()
    assert demo.status == Organisation.Status.CLOSED
    closed = _sent_to("owner@example.com", "account_closed")
    assert due in closed.body

    # The portal now opens on the invoices, read only.
    page.goto("/billing/")
    expect(page).to_have_url(re.compile(r"/billing/invoices/$"))
    expect(page.get_by_test_id("account-closed")).to_contain_text(due)
    expect(page.get_by_role("navigation", name="Portail de facturation")).not_to_contain_text(
        "Abonnement"
    )
    expect(page.get_by_role("link", name=re.compile("^Modifier"))).to_have_count(0)
    open_invoice = Invoice.objects.filter(organisation=demo, status=Invoice.Status.OPEN).first()
    page.get_by_role("link", name=open_invoice.number, exact=True).click()
    expect(page.get_by_test_id("invoice-payment")).to_contain_text("Reste à payer")
    expect(page.locator(".inv-payment")).to_contain_text("Référence")
    pdf = page.request.get(f"/billing/invoices/{open_invoice.number}/pdf/")
    assert (pdf.status, pdf.headers["content-type"]) == (200, "application/pdf")
    xml = page.request.get(f"/billing/invoices/{open_invoice.number}/factur-x.xml")
    assert xml.status == 200

    # Nothing else: no contacts, no plan, no edit.
    for url in ("/billing/contacts/", "/billing/subscription/", "/billing/invoices/vat/"):
        assert page.goto(url).status == 403, url
    expect(page.get_by_role("heading", name="Ce compte est fermé")).to_be_visible()
    page.get_by_role("link", name="Voir vos factures").click()
    expect(page).to_have_url(re.compile(r"/billing/invoices/$"))

    # After the grace period the people are anonymised: no access to Lyon at all. Camille
    # Martin also manages Nordic's programme (the demo): she keeps her login for it alone.
    from subscriptions.services import account_anonymise

    assert account_anonymise(organisation=demo, now=timezone.now() + timedelta(days=60))
    assert page.goto(f"/billing/invoices/{open_invoice.number}/").status == 403
    page.goto("/billing/")
    expect(page.locator("main h1")).to_contain_text("Nordic Design Awards")
    expect(page.get_by_test_id("account-menu")).to_have_count(0)  # one account left


def test_1_without_javascript_the_closure_page_names_the_amount_due(new_page, demo):
    due = _amount_due(demo)
    page = new_page(java_script_enabled=False)
    login(page, "owner@example.com", next_url="/billing/subscription/")
    page.get_by_role("link", name="Supprimer le compte").click()
    expect(page).to_have_url(re.compile(r"/billing/subscription/close/$"))
    expect(page.locator("main")).to_contain_text(due)
    page.get_by_role("button", name="Supprimer").click()
    assert due in _sent_to("owner@example.com", "closure_request").body


# --- 6. Upgrade: choose a plan, Sauvegarder, the email leaves --------------------------


@pytest.fixture
def plans(transactional_db):
    return seed_plans()


def _owner_on(plan):
    owner = MembershipFactory(
        role=Membership.Role.OWNER,
        user=UserFactory(email="owner@example.com", first_name="Camille", last_name="Martin"),
    )
    SubscriptionFactory(organisation=owner.organisation, plan=plan)
    return owner


def test_6_the_amount_shows_on_choosing_and_sauvegarder_sends_the_email(new_page, plans):
    _owner_on(plans["professionnel"])
    page = new_page()
    login(page, "owner@example.com", next_url="/billing/subscription/")
    page.evaluate("window.sameDocument = true")
    section = page.locator("#upgrade-section")
    section.get_by_role("link", name="Mettre à niveau").click()

    # The lowest higher plan is proposed, its amount shown at once.
    quote = page.get_by_test_id("upgrade-quote")
    expect(quote).to_contain_text("Passage du forfait Professionnel au forfait Entreprise")
    expect(quote.get_by_test_id("quote-total")).to_have_text(re.compile(r"\d.*€"))

    select = page.get_by_label("Forfait souhaité")
    htmx_settled(page)
    select.select_option(label="Essentiel")
    refused = page.get_by_test_id("downgrade-refused")
    expect(refused).to_contain_text("inférieur à votre forfait actuel")
    expect(quote).to_have_count(0)
    select.select_option(label="Professionnel (forfait actuel)")
    expect(refused).to_contain_text("Vous êtes déjà au forfait Professionnel")
    expect(refused).not_to_contain_text("inférieur")
    select.select_option(label="Entreprise")
    expect(quote).to_contain_text("Passage du forfait Professionnel au forfait Entreprise")

    # One step: Sauvegarder and one Annuler, nothing else.
    expect(section.get_by_role("button")).to_have_text(["Sauvegarder"])
    expect(section.get_by_role("link", name="Annuler")).to_have_count(1)
    assert not Email.objects.filter(kind="upgrade_request").exists()
    section.get_by_role("button", name="Sauvegarder").click()
    expect(page.get_by_test_id("pending-upgrade")).to_contain_text("Entreprise")
    assert page.evaluate("window.sameDocument === true")  # htmx swapped, no reload
    assert Email.objects.filter(kind="upgrade_request", to="owner@example.com").count() == 1
    assert Subscription.objects.get().plan.code == "professionnel"


def test_6_without_javascript_voir_le_montant_then_sauvegarder(new_page, plans):
    _owner_on(plans["essentiel"])
    page = new_page(java_script_enabled=False)
    login(page, "owner@example.com", next_url="/billing/subscription/")
    section = page.locator("#upgrade-section")
    section.get_by_role("link", name="Mettre à niveau").click()
    quote = page.get_by_test_id("upgrade-quote")
    expect(quote).to_contain_text("au forfait Professionnel")

    page.get_by_label("Forfait souhaité").select_option(label="Entreprise")
    page.get_by_role("button", name="Voir le montant").click()
    expect(quote).to_contain_text("Passage du forfait Essentiel au forfait Entreprise")
    assert not Email.objects.filter(kind="upgrade_request").exists()
    expect(section.get_by_role("link", name="Annuler")).to_have_count(1)
    page.get_by_role("button", name="Sauvegarder").click()
    expect(page.get_by_test_id("pending-upgrade")).to_contain_text("Entreprise")
    assert Email.objects.filter(kind="upgrade_request").count() == 1


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_6_on_the_top_plan_mettre_a_niveau_is_not_offered(new_page, plans, javascript):
    _owner_on(plans["entreprise"])
    page = new_page(java_script_enabled=javascript)
    login(page, "owner@example.com", next_url="/billing/subscription/")
    section = page.locator("#upgrade-section")
    expect(section).to_contain_text("forfait le plus complet")
    expect(section.get_by_role("link", name="Mettre à niveau")).to_have_count(0)
    expect(section.get_by_role("button")).to_have_count(0)


# --- 7. Ownership transfer: a second look before Sauvegarder ---------------------------


def _transfer_setup():
    owner = MembershipFactory(
        role=Membership.Role.OWNER,
        user=UserFactory(email="owner@example.com", first_name="Camille", last_name="Martin"),
    )
    MembershipFactory(
        organisation=owner.organisation,
        user=UserFactory(email="julien@example.com", first_name="Julien", last_name="Bernard"),
    )
    return owner


def _roles():
    return dict(Membership.objects.values_list("user__email", "role"))


BEFORE = {"owner@example.com": "owner", "julien@example.com": "manager"}
AFTER = {"owner@example.com": "manager", "julien@example.com": "owner"}


def test_7_choosing_the_new_owner_shows_what_changes_before_sauvegarder(new_page, transactional_db):
    _transfer_setup()
    page = new_page()
    login(page, "owner@example.com")
    page.get_by_test_id("owner").hover()
    page.get_by_role("link", name="Modifier le propriétaire du compte").click()
    page.locator("#owner-candidates").get_by_label("Julien Bernard").check()

    preview = page.get_by_test_id("owner-preview")
    expect(preview).to_contain_text("Julien Bernard deviendra propriétaire du compte")
    expect(preview).to_contain_text("gestionnaire du programme")
    expect(preview).to_contain_text("Factures")
    expect(preview).to_contain_text("Abonnement")
    expect(preview).to_contain_text("fermer le compte")
    assert _roles() == BEFORE

    page.get_by_role("button", name="Sauvegarder").click()
    expect(page.get_by_role("status")).to_have_text("Le propriétaire du compte a été modifié.")
    assert _roles() == AFTER


def test_7_without_javascript_sauvegarder_shows_the_change_then_applies_it(
    new_page, transactional_db
):
    _transfer_setup()
    page = new_page(java_script_enabled=False)
    login(page, "owner@example.com", next_url="/billing/contacts/owner/")
    page.locator("#owner-candidates").get_by_label("Julien Bernard").check()
    page.get_by_role("button", name="Sauvegarder").click()

    preview = page.get_by_test_id("owner-preview")
    expect(preview).to_contain_text("Julien Bernard deviendra propriétaire du compte")
    expect(preview).to_contain_text("Abonnement")
    assert _roles() == BEFORE
    expect(page.locator("#owner-candidates").get_by_label("Julien Bernard")).to_be_checked()

    page.get_by_role("button", name="Sauvegarder").click()
    expect(page.get_by_role("status")).to_have_text("Le propriétaire du compte a été modifié.")
    assert _roles() == AFTER
