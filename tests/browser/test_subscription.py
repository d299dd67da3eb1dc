"""The « Abonnement » tab in a browser: upgrade with its emailed link, the closure dialog."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Membership, Organisation
from emails.models import Email
from subscriptions.demo import seed_plans
from subscriptions.models import Subscription

from ..factories import MembershipFactory, SubscriptionFactory, UserFactory
from .conftest import htmx_settled, login

pytestmark = pytest.mark.browser

LINK = re.compile(r"/confirm/[A-Za-z0-9_-]+/")


@pytest.fixture
def owner_on_professionnel(transactional_db):
    plans = seed_plans()
    owner = MembershipFactory(
        role=Membership.Role.OWNER,
        user=UserFactory(email="owner@example.com", first_name="Camille", last_name="Martin"),
    )
    SubscriptionFactory(organisation=owner.organisation, plan=plans["professionnel"])
    return owner


def emailed_link(kind):
    """The link as the recipient got it (the stored copy is redacted once sent)."""
    from django.core import mail

    email = Email.objects.filter(kind=kind).latest("pk")
    message = next(m for m in reversed(mail.outbox) if email.to in m.to)
    return LINK.search(message.body).group(0)


def test_upgrade_shows_the_amount_then_the_emailed_link_confirms_it(
    new_page, owner_on_professionnel
):
    page = new_page()
    login(page, "owner@example.com", next_url="/billing/subscription/")
    page.evaluate("window.sameDocument = true")

    page.locator("#upgrade-section").get_by_role("link", name="Mettre à niveau").click()
    htmx_settled(page)
    page.get_by_label("Forfait souhaité").select_option(label="Essentiel")
    expect(page.get_by_test_id("downgrade-refused")).to_contain_text("équipe support")

    page.get_by_label("Forfait souhaité").select_option(label="Entreprise")
    quote = page.get_by_test_id("upgrade-quote")
    expect(quote).to_contain_text("Passage du forfait Professionnel au forfait Entreprise")
    expect(quote.get_by_test_id("quote-total")).to_have_text(re.compile(r"\d.*€"))
    assert not Email.objects.filter(kind="upgrade_request").exists()

    page.get_by_role("button", name="Sauvegarder").click()
    expect(page.get_by_test_id("pending-upgrade")).to_contain_text("courrier indésirable")
    assert page.evaluate("window.sameDocument === true")  # htmx swapped, no reload

    # The owner opens the link from the email, on a device where nobody is signed in.
    phone = new_page()
    phone.goto(emailed_link("upgrade_request"))
    expect(phone.get_by_role("heading", name="Confirmer la mise à niveau")).to_be_visible()
    assert Subscription.objects.get().plan.code == "professionnel"
    phone.get_by_role("button", name="Confirmer").click()
    expect(phone.get_by_role("heading", name="Mise à niveau confirmée")).to_be_visible()
    assert Subscription.objects.get().plan.code == "entreprise"

    page.reload()
    expect(page.get_by_test_id("current-plan")).to_contain_text("Entreprise")


def test_closure_dialog_keeps_focus_and_escape_cancels(new_page, owner_on_professionnel):
    page = new_page()
    login(page, "owner@example.com", next_url="/billing/subscription/")
    opener = page.get_by_role("link", name="Supprimer le compte")
    dialog = page.get_by_role("dialog", name="Supprimer le compte ?")

    opener.click()
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Annuler")).to_be_focused()
    for _ in range(3):
        page.keyboard.press("Tab")
        assert page.evaluate("!!document.activeElement.closest('dialog')")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()

    opener.click()
    dialog.get_by_role("button", name="Annuler").click()
    expect(dialog).to_be_hidden()
    assert not Email.objects.filter(kind="closure_request").exists()

    opener.click()
    dialog.get_by_role("button", name="Supprimer").click()
    expect(page.get_by_test_id("pending-closure")).to_be_visible()
    assert Organisation.objects.get().status == Organisation.Status.ACTIVE

    page.goto(emailed_link("closure_request"))
    page.get_by_role("button", name="Confirmer").click()
    expect(page.get_by_role("heading", name="Compte fermé")).to_be_visible()
    page.goto("/billing/contacts/")
    expect(page.get_by_role("heading", name="Ce compte est fermé")).to_be_visible()


def test_without_javascript_the_button_leads_to_a_confirmation_page(
    new_page, owner_on_professionnel
):
    page = new_page(java_script_enabled=False)
    login(page, "owner@example.com", next_url="/billing/subscription/")
    page.get_by_role("link", name="Supprimer le compte").click()
    expect(page).to_have_url(re.compile(r"/billing/subscription/close/$"))
    page.get_by_role("button", name="Supprimer").click()
    expect(page.get_by_test_id("pending-closure")).to_be_visible()
    assert Email.objects.filter(kind="closure_request").count() == 1
