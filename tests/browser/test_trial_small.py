"""What a new user's trial found, the smaller defects (numbered as the trial report numbers
them: 8, the mixed languages of the invoice page, and the list of 9), each shown in a real
browser on the demo data."""

import re
from datetime import date, datetime

import pytest
from django.core import mail
from django.utils import timezone, translation
from playwright.sync_api import expect

from billing_portal.formatting import long_date

from ..factories import PASSWORD
from .conftest import login

pytestmark = pytest.mark.browser

NORDIC_OWNER = "other@example.com"


def _support_admin(page, path):
    page.goto(f"/admin/login/?next={path}")
    page.locator("#id_username").fill("support@example.com")
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()


def _open(invoice_number):
    """Make a paid demo invoice open again, as it was before its payment."""
    from invoices.models import Invoice

    Invoice.objects.filter(number=invoice_number).update(status="open", amount_paid=0, paid_on=None)


# --- 8. Mixed languages ---------------------------------------------------------------


def test_8_the_invoice_page_speaks_the_users_language_around_the_accounts_document(new_page, demo):
    """Nordic Design Awards is invoiced in English; its owner reads the portal in French.
    The document stays as its PDF prints it, the page around it (amounts included) is
    French, and the page says why the document is in another language."""
    _open("INV-10681")
    page = new_page()
    login(page, NORDIC_OWNER, next_url="/billing/invoices/INV-10681/")
    document = page.locator("article.invoice-document")
    expect(document).to_have_attribute("lang", "en")
    expect(document).to_contain_text("Total incl. VAT")
    expect(document).to_contain_text("€650.00")
    expect(page.get_by_test_id("invoice-payment")).to_have_text("Reste à payer 650,00\xa0€")
    note = page.get_by_test_id("document-language")
    expect(note).to_have_text(re.compile(r"Ce document est en anglais, la langue de votre compte"))
    # Nothing outside the document is English or written the English way.
    outside = page.evaluate(
        """() => {
            const main = document.querySelector('main').cloneNode(true);
            main.querySelector('article.invoice-document').remove();
            return main.innerText;
        }"""
    )
    assert "€650" not in outside and "Invoice" not in outside, outside
    assert "650,00\xa0€" in outside


def test_8_in_english_the_page_is_english_and_a_french_invoice_stays_french(new_page, demo):
    page = new_page()
    login(page, "owner@example.com", next_url="/billing/invoices/INV-10682/")
    page.get_by_role("button", name="EN").click()
    expect(page.get_by_test_id("invoice-payment")).to_have_text("Left to pay €1,020.00")
    expect(page.locator("article.invoice-document")).to_contain_text("Total TTC")
    expect(page.get_by_test_id("document-language")).to_contain_text(
        "This document is in French, your account's language"
    )


def test_8_no_language_note_when_page_and_document_agree(new_page, demo):
    page = new_page()
    login(page, "owner@example.com", next_url="/billing/invoices/INV-10682/")
    expect(page.get_by_role("heading", name="Facture")).to_be_visible()
    expect(page.get_by_test_id("document-language")).to_have_count(0)


# --- 9. Smaller ones ------------------------------------------------------------------


def test_9_a_link_valid_until_the_first_of_the_month_reads_1er_with_its_time(new_page, demo):
    from accounts.models import User
    from subscriptions import services
    from subscriptions.models import Confirmation

    services.closure_request(organisation=demo, actor=User.objects.get(email="owner@example.com"))
    today = timezone.localdate()
    first = date(today.year + today.month // 12, today.month % 12 + 1, 1)  # next month's
    expires = timezone.make_aware(datetime(first.year, first.month, 1, 10, 30))
    Confirmation.objects.filter(organisation=demo).update(expires_at=expires)
    page = new_page()
    login(page, "owner@example.com", next_url="/billing/subscription/")
    with translation.override("fr"):
        day = long_date(first)
    assert day.startswith("1er ")
    expect(page.get_by_test_id("pending-closure")).to_contain_text(
        f"Le lien est valable jusqu'au {day} à 10:30."
    )


def test_9_unit_prices_carry_the_currency_and_negatives_the_minus_sign(new_page, demo):
    from accounts.models import User
    from invoices.models import Invoice
    from invoices.services import credit_note_issue

    page = new_page()
    login(page, "owner@example.com", next_url="/billing/invoices/INV-10682/")
    line = page.locator("article.invoice-document .inv-lines tbody tr").first
    expect(line.locator("td").nth(2)).to_have_text("850,00\xa0€")

    credit_note = credit_note_issue(
        invoice=Invoice.objects.get(number="INV-10682"),
        actor=User.objects.get(email="support@example.com"),
        reason="Doublon",
        by_support=True,
    )
    page.goto(f"/billing/invoices/{credit_note.number}/")
    line = page.locator("article.invoice-document .inv-lines tbody tr").first
    expect(line.locator("td").nth(2)).to_have_text("\u2212850,00\xa0€")
    expect(line.locator("td").nth(4)).to_have_text("\u2212850,00\xa0€")

    # Support's screen prints the same amounts the same way (no hyphen-minus).
    support = new_page()
    _support_admin(support, f"/admin/invoices/invoice/{credit_note.pk}/change/")
    lines = support.locator("#lines-group")
    expect(lines).to_contain_text("\u2212850,00\xa0€")
    assert "-850" not in support.locator("#content").inner_text()


def test_9_the_support_request_shows_the_authors_role_by_its_label(new_page, demo):
    page = new_page()
    login(page, "owner@example.com", next_url="/support/contact/")
    page.get_by_label("Objet").fill("Question")
    page.get_by_label("Message").fill("Bonjour.")
    page.get_by_role("button", name="Envoyer").click()
    from support.models import SupportRequest

    request = SupportRequest.objects.get()
    support = new_page()
    _support_admin(support, f"/admin/support/supportrequest/{request.pk}/change/")
    role = support.locator(".field-role_label")
    expect(role).to_contain_text("Propriétaire du compte")
    expect(role.locator(".readonly")).to_have_text("Propriétaire du compte")


def test_9_the_audit_journal_reads_as_labelled_values_not_python(new_page, demo):
    support = new_page()
    _support_admin(support, f"/admin/accounts/organisation/{demo.pk}/change/")
    journal = support.locator("#support-audit")
    expect(journal).to_contain_text("Facture émise")
    expect(journal).to_contain_text("Numéro : INV-10682")
    expect(journal).to_contain_text("Total : 1\xa0020,00\xa0€")
    text = journal.inner_text()
    assert not re.search(r"[{}]|'\w+': ", text), text  # no dict as Python prints it
    # The action by name, its code beside it for whoever searches the trail.
    action = journal.get_by_role("cell", name="Paiement enregistré payment.recorded").first
    expect(action.locator("code")).to_have_text("payment.recorded")
    expect(journal).to_contain_text("Mode de paiement : Virement")


def test_9_the_customer_is_told_when_support_schedules_a_downgrade(new_page, demo):
    mail.outbox.clear()
    support = new_page()
    _support_admin(support, f"/admin/accounts/organisation/{demo.pk}/change-plan/")
    support.get_by_label("Forfait").select_option(label="Essentiel")
    support.get_by_label("Raison du changement").fill("Demandé par téléphone")
    support.get_by_role("button", name="Sauvegarder").click()
    expect(support.get_by_text("Le forfait a été modifié.")).to_be_visible()
    sent = [m for m in mail.outbox if m.to == ["owner@example.com"]]
    assert len(sent) == 1, [m.subject for m in mail.outbox]
    subscription = demo.subscription
    with translation.override("fr"):
        renewal = long_date(subscription.period_end)
    assert sent[0].subject == "Passage au forfait Essentiel le " + renewal
    assert "Professionnel" in sent[0].body and renewal in sent[0].body
    assert "Demandé par téléphone" not in sent[0].body  # support's reason stays internal


def test_9_the_customer_is_told_when_support_reopens_the_account(new_page, demo):
    from accounts.models import Organisation
    from subscriptions.models import AccountClosure

    now = timezone.now()
    Organisation.objects.filter(pk=demo.pk).update(status="closed", closed_at=now)
    AccountClosure.objects.create(
        organisation=demo,
        closed_at=now,
        anonymise_after=now + timezone.timedelta(days=30),
    )
    mail.outbox.clear()
    support = new_page()
    _support_admin(support, f"/admin/accounts/organisation/{demo.pk}/reopen/")
    support.get_by_label("Raison").fill("Fermé par erreur")
    support.get_by_role("button", name="Sauvegarder").click()
    expect(support.get_by_text("Le compte a été rouvert.")).to_be_visible()
    sent = {m.to[0]: m for m in mail.outbox}
    assert set(sent) == {"owner@example.com", "compta@example.com"}, list(sent)
    message = sent["owner@example.com"]
    assert message.subject == f"Le compte {demo.name} est rouvert"
    assert "rouvert" in message.body and "Fermé par erreur" not in message.body


def test_9_the_contact_form_has_one_subject_field_label(new_page, demo):
    page = new_page()
    login(page, "owner@example.com", next_url="/support/contact/")
    labels = page.locator("form label").all_inner_texts()
    assert not {"Sujet", "Objet"} <= {label.strip() for label in labels}, labels
    expect(page.get_by_label("Votre demande concerne")).to_be_visible()
    expect(page.get_by_label("Objet")).to_be_visible()


def test_9_recent_activity_shows_a_contact_added_without_reloading(new_page, demo):
    page = new_page()
    login(page, "owner@example.com")
    activity = page.locator("#recent-activity")
    expect(activity).to_be_visible()
    page.get_by_role("link", name="Ajouter un contact").click()
    page.get_by_label("Prénom").fill("Inès")
    page.get_by_label("Nom", exact=True).fill("Garnier")
    page.get_by_label("Adresse e-mail").fill("ines.garnier@example.com")
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.locator("#billing-contacts").get_by_role("button", name="Sauvegarder").click()
    assert posted.value.request.headers.get("hx-request") == "true"  # an htmx swap
    expect(page.get_by_test_id("billing-contacts")).to_contain_text("Inès Garnier")
    first = activity.locator("tbody tr").first
    expect(first).to_contain_text("Contact de facturation ajouté")
    expect(first).to_contain_text("Inès Garnier (ines.garnier@example.com)")
