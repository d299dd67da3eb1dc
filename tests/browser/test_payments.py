"""Paying INV-10682 by bank transfer, in a browser, on the demo data: the owner reads the
reference and scans the QR code, support uploads the bank's statement, the invoice is paid
and the owner gets a receipt. With and without JavaScript."""

import io
from decimal import Decimal

import pytest
import zxingcpp
from django.core import mail
from django.utils import timezone, translation
from PIL import Image
from playwright.sync_api import expect

from billing_portal.formatting import long_date, money
from emails.models import Email
from invoices.models import Invoice
from invoices.references import rf_reference, rf_reference_display
from payments.models import BankEntry, Payment

from ..factories import PASSWORD
from ..payments.statements import credit, statement
from .conftest import login

pytestmark = pytest.mark.browser

NUMBER = "INV-10682"


def scanned_qr_codes(page) -> list[str]:
    """What a banking app reads off the page: every QR code in a screenshot of it."""
    image = Image.open(io.BytesIO(page.screenshot(full_page=True)))
    return [
        result.text
        for result in zxingcpp.read_barcodes(image)
        if result.format == zxingcpp.BarcodeFormat.QRCode
    ]


def open_invoice(page):
    page.get_by_role("link", name="Factures", exact=True).click()
    page.get_by_role("link", name=NUMBER, exact=True).click()
    expect(page.get_by_role("heading", name="FACTURE")).to_be_visible()


def in_french(function, *args):
    with translation.override("fr"):
        return function(*args)


def sign_in_to_the_admin(page, email, next_url):
    page.goto(f"/admin/login/?next={next_url}")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()


@pytest.mark.parametrize("java_script_enabled", [True, False], ids=["js", "no-js"])
def test_the_owner_pays_by_transfer_and_support_imports_the_statement(
    new_page, demo, java_script_enabled
):
    invoice = Invoice.objects.get(number=NUMBER)
    assert invoice.status == "open" and invoice.amount_due == invoice.total > 0
    reference = rf_reference(NUMBER)  # RF19INV10682
    due = in_french(money, invoice.amount_due, "EUR")  # as the pages print it
    qr_name = f"QR code de virement de {due} pour la facture {NUMBER}"

    # The owner opens the invoice: the reference to quote, and the code a banking app scans.
    owner = new_page(java_script_enabled=java_script_enabled, device_scale_factor=2)
    login(owner, "owner@example.com")
    open_invoice(owner)
    expect(owner.locator(".inv-bank .inv-reference")).to_have_text(rf_reference_display(NUMBER))
    expect(owner.get_by_role("img", name=qr_name)).to_be_visible()
    (payload,) = scanned_qr_codes(owner)
    lines = payload.split("\n")
    assert (lines[:2], lines[3]) == (["BCD", "002"], "SCT")  # (lines[2]: the encoding)
    assert lines[4:7] == [invoice.seller_bic, invoice.seller_legal_name, invoice.seller_iban]
    assert lines[7].startswith("EUR")
    assert Decimal(lines[7].removeprefix("EUR")) == invoice.amount_due
    assert lines[9] == reference
    assert not Email.objects.filter(kind="payment_received").exists()

    # The transfer arrives with the reference; support imports the bank's statement.
    today = timezone.localdate()
    data = statement(
        credit(
            f"{invoice.amount_due}",
            reference=reference,
            payer="FESTIVAL INTERNATIONAL DU FILM DE LYON",
            iban="FR1420041010050500013M02606",
            bank_ref=f"BANK-{NUMBER}",
            booked=today.isoformat(),
        ),
        message_id=f"STMT-{today:%Y%m%d}",
    )
    support = new_page(java_script_enabled=java_script_enabled)
    sign_in_to_the_admin(support, "support@example.com", "/admin/payments/bankstatement/import/")
    expect(support.get_by_role("heading", name="Importer un relevé bancaire")).to_be_visible()
    support.get_by_label("Fichier camt.053 ou camt.054").set_input_files(
        {"name": "releve.xml", "mimeType": "application/xml", "buffer": data}
    )
    support.get_by_role("button", name="Importer").click()
    expect(support.locator(".messagelist")).to_contain_text(
        "Import de releve.xml terminé : 1 crédit(s) lu(s), 1 nouveau(x), 1 rapproché(s) et "
        "enregistré(s), 0 à rapprocher"
    )

    # Recorded: one payment from the bank's entry, matched by the reference, the invoice paid.
    entry = BankEntry.objects.get()
    assert (entry.status, entry.rule, entry.creditor_reference) == ("matched", "rf", reference)
    payment = Payment.objects.get(bank_entry=entry)
    assert (payment.organisation, payment.amount, payment.received_on) == (
        demo,
        invoice.total,
        today,
    )
    paid = Invoice.objects.get(pk=invoice.pk)
    assert (paid.status, paid.amount_paid, paid.paid_on) == ("paid", invoice.total, today)

    # The owner's Factures tab shows it paid; its page no longer asks for a transfer.
    owner.get_by_role("link", name="Factures", exact=True).click()
    row = owner.get_by_role("row").filter(has=owner.get_by_role("link", name=NUMBER, exact=True))
    expect(row.locator(".status")).to_have_text("Payée")
    row.get_by_role("link", name=NUMBER, exact=True).click()
    expect(owner.get_by_test_id("invoice-payment")).to_have_text(
        f"Payée le {in_french(long_date, today)}"
    )
    expect(owner.get_by_role("img", name=qr_name)).to_have_count(0)
    assert scanned_qr_codes(owner) == []

    # The receipt, as the owner received it.
    receipt = Email.objects.get(kind="payment_received")
    assert receipt.to == "owner@example.com"
    (message,) = [m for m in mail.outbox if m.subject.startswith("Paiement reçu")]
    assert message.to == ["owner@example.com"]
    # (The subject's no-break spaces are plain ones once in a mail header.)
    assert message.subject == f"Paiement reçu : {due}".replace("\xa0", " ")
    assert f"Facture {NUMBER} : {due} imputés, facture payée." in message.body
