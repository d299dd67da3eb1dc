"""The upgrade, end to end: the owner asks in the portal, a real worker emails the link over
SMTP, the owner opens it, confirms, and receives the prorated invoice (PDF attached).

Only the portal's HTTP interface (Django's test client, CSRF enforced, forms submitted as
the page offers them) and the mailbox (the SMTP sink) are used to act; the database is
read to check what changed.
"""

import hashlib
import html
import io
import re
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from emails.models import Email
from emails.services import REDACTED_BODY
from invoices.models import Invoice
from subscriptions.demo import seed_plans
from subscriptions.models import Confirmation, Subscription
from tests.factories import BillingContactFactory

from .support import page_form, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ACCOUNT = "Festival International du Film de Lyon"
TAB = reverse("portal:subscription")
UPGRADE = reverse("portal:upgrade")
CENT = Decimal("0.01")


def text(response) -> str:
    """The page as a reader sees it: entities decoded."""
    return html.unescape(response.content.decode())


def money(amount: Decimal) -> str:
    """French formatting as the pages print it: "5 227,40 €" with no-break spaces, "−" (U+2212)
    before a negative amount."""
    whole, cents = f"{amount:.2f}".split(".")
    sign, whole = ("\u2212", whole[1:]) if whole.startswith("-") else ("", whole)
    groups = f"{int(whole):,}".replace(",", "\xa0")
    return f"{sign}{groups},{cents}\xa0€"


def plain_text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def by_subject(messages, prefix: str):
    found = [m for m in messages if m["Subject"].startswith(prefix)]
    assert found, f"no message {prefix!r} among {[m['Subject'] for m in messages]}"
    return found


def test_owner_upgrades_and_confirms_from_the_emailed_link(owner, smtp_sink, celery_worker_process):
    plans = seed_plans()
    today = timezone.localdate()
    start = today - timedelta(days=100)
    subscription = Subscription.objects.create(
        organisation=owner.organisation,
        plan=plans["professionnel"],
        period_start=start,
        period_end=start + timedelta(days=365),
    )
    BillingContactFactory(
        organisation=owner.organisation,
        first_name="Claire",
        last_name="Dubois",
        email="compta@example.com",
    )
    assert owner.organisation.language == "fr"
    # What docs/subscriptions.md says the invoice will hold, computed here independently.
    unused = Decimal((subscription.period_end - today).days) / 365
    credit = (Decimal("6000.00") * unused).quantize(CENT, rounding=ROUND_HALF_UP)
    charge = (Decimal("12000.00") * unused).quantize(CENT, rounding=ROUND_HALF_UP)
    vat = ((charge - credit) * Decimal("0.20")).quantize(CENT, rounding=ROUND_HALF_UP)
    total = charge - credit + vat

    portal = Client(enforce_csrf_checks=True)
    portal.force_login(owner.user)

    # 1. « Mettre à niveau »: the drop-down proposes the next plan, its amount shown at once.
    response = portal.get(UPGRADE)
    page = text(response)
    assert response.status_code == 200
    assert "Passage du forfait Professionnel au forfait Entreprise" in page
    for amount in (-credit, charge, vat, total):
        assert money(amount) in page
    assert not Confirmation.objects.exists() and not Email.objects.exists()

    # 2. « Sauvegarder »: a POST, CSRF token from the page; the email leaves.
    ask = page_form(page, button="Sauvegarder")
    assert ask.method == "post" and ask.fields["plan"] == "entreprise"
    response = portal.post(ask.action, ask.fields)
    assert (response.status_code, response["Location"]) == (302, TAB)
    assert "Nous avons envoyé un e-mail à owner@example.com" in text(portal.get(TAB))
    subscription.refresh_from_db()
    assert subscription.plan.code == "professionnel"

    # 3. The worker takes the task from Redis and hands the email to the SMTP server.
    [request_mail] = smtp_sink.wait_for(1, describe=celery_worker_process.log_tail)
    assert request_mail["To"] == "owner@example.com"
    assert request_mail["Subject"] == (
        f"Confirmez la mise à niveau de votre abonnement ({ACCOUNT})"
    )
    body = plain_text(request_mail)
    assert body.startswith("Bonjour Camille Martin,")
    assert "Montant au prorata jusqu'au renouvellement" in body and money(total) in body
    link = re.search(rf"{re.escape(settings.SITE_URL)}/confirm/[A-Za-z0-9_-]+/", body)
    assert link, body
    link_path = urlsplit(link.group()).path
    # Once sent, the outbox no longer holds the link: it exists in the mailbox only.
    wait_until(
        lambda: Email.objects.get(kind="upgrade_request").status == Email.Status.SENT,
        timeout=30,
        describe=celery_worker_process.log_tail,
    )
    assert Email.objects.get(kind="upgrade_request").body_text == REDACTED_BODY

    # 4. The owner opens the link on a phone where nobody is signed in: it only shows.
    phone = Client(enforce_csrf_checks=True)
    for _ in range(2):  # the owner, and a mail scanner before them
        response = phone.get(link_path)
        assert response.status_code == 200
    page = text(response)
    assert "Confirmer la mise à niveau" in page
    assert f"Le compte {ACCOUNT} passera du forfait Professionnel au forfait Entreprise" in page
    assert money(total) in page
    assert "no-store" in response["Cache-Control"]
    subscription.refresh_from_db()
    assert subscription.plan.code == "professionnel"
    assert not Invoice.objects.exists()
    assert Confirmation.objects.get().status == Confirmation.Status.PENDING
    assert Email.objects.count() == 1

    # 5. « Confirmer »: a POST, then the same URL shows the outcome.
    confirm = page_form(page, button="Confirmer")
    assert (confirm.method, confirm.action) == ("post", link_path)
    response = phone.post(confirm.action, confirm.fields)
    assert (response.status_code, response["Location"]) == (302, link_path)
    assert "Mise à niveau confirmée" in text(phone.get(link_path))

    subscription.refresh_from_db()
    assert subscription.plan.code == "entreprise"
    invoice = Invoice.objects.get()
    assert invoice.organisation_id == owner.organisation.pk
    assert (invoice.currency, invoice.language) == ("EUR", "fr")
    assert [(line.description, line.amount) for line in invoice.lines.order_by("position")] == [
        ("Crédit pour la période non utilisée — forfait Professionnel", -credit),
        ("Mise à niveau au prorata — forfait Entreprise", charge),
    ]
    assert (invoice.subtotal, invoice.vat_amount, invoice.total) == (charge - credit, vat, total)
    assert {(line.period_start, line.period_end) for line in invoice.lines.all()} == {
        (today, subscription.period_end)
    }

    # 6. The invoice (owner and billing contact, PDF attached) and the confirmation arrive.
    messages = smtp_sink.wait_for(4, describe=celery_worker_process.log_tail)
    invoice_mails = by_subject(messages, f"Facture {invoice.number} de ")
    assert sorted(m["To"] for m in invoice_mails) == ["compta@example.com", "owner@example.com"]
    pdfs = []
    for mail in invoice_mails:
        assert money(total) in plain_text(mail)
        [attachment] = list(mail.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_filename() == f"{invoice.number}.pdf"
        pdfs.append(attachment.get_content())
    assert pdfs[0] == pdfs[1] and pdfs[0].startswith(b"%PDF")
    assert invoice.number in PdfReader(io.BytesIO(pdfs[0])).pages[0].extract_text()
    [confirmed_mail] = by_subject(messages, "Votre abonnement est passé au forfait Entreprise")
    assert confirmed_mail["To"] == "owner@example.com"
    assert f"La facture {invoice.number} ({money(total)} TTC)" in plain_text(confirmed_mail)

    wait_until(
        lambda: set(Email.objects.values_list("status", flat=True)) == {Email.Status.SENT},
        timeout=30,
        describe=celery_worker_process.log_tail,
    )
    invoice.refresh_from_db()
    assert invoice.pdf_sha256 == hashlib.sha256(pdfs[0]).hexdigest()  # the stored PDF was sent
    assert Email.objects.count() == len(smtp_sink.messages) == 4  # each email once
