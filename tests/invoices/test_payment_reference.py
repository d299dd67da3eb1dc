"""The payment reference (ISO 11649 « RF ») and the EPC QR code a banking app scans.

The QR code is read back from the rendered PDF with a barcode decoder (zxing-cpp), as a
banking app reads it from paper, and compared with the invoice.
"""

import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
import zxingcpp
from django.core import mail
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from stdnum import iso11649

from invoices import pdf
from invoices.models import Invoice
from invoices.references import rf_reference, rf_reference_display
from invoices.services import credit_note_issue, invoice_mark_paid

from .test_pdf import pdf_text, stored_pdf


def test_the_standards_example_reference():
    # ISO 11649's own example: the reference 539007547034 has check digits 18.
    assert rf_reference("539007547034") == "RF18539007547034"
    assert rf_reference("INV-10682") == "RF19INV10682"
    assert rf_reference_display("INV-10682") == "RF19 INV1 0682"


@given(st.integers(min_value=1, max_value=10**12))
def test_every_invoice_number_gives_a_valid_reference_of_its_own(sequence):
    number = f"INV-{sequence}"
    reference = rf_reference(number)
    assert iso11649.is_valid(reference)
    assert reference[4:] == f"INV{sequence}"
    # One mistyped character is caught by the check digits.
    typo = reference[:-1] + ("0" if reference[-1] != "0" else "1")
    assert not iso11649.is_valid(typo)


def test_a_number_without_letters_or_digits_has_no_reference():
    with pytest.raises(ValueError):
        rf_reference("--")


def decoded_qr_codes(pdf_bytes: bytes) -> list[str]:
    """Every QR code printed on the PDF's first page, rendered at 200 dpi as a scanner sees it."""
    with tempfile.TemporaryDirectory() as directory:
        source = Path(directory) / "invoice.pdf"
        source.write_bytes(pdf_bytes)
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "200",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                source,
                source.with_suffix(""),
            ],
            check=True,
        )
        image = Image.open(source.with_suffix(".png"))
        image.load()
    return [
        result.text
        for result in zxingcpp.read_barcodes(image)
        if result.format == zxingcpp.BarcodeFormat.QRCode
    ]


def assert_epc_payload_pays(payload: str, invoice: Invoice) -> None:
    """The EPC069-12 fields, one a line, against the invoice they must pay."""
    lines = payload.split("\n")
    assert lines[0:2] == ["BCD", "002"]
    assert lines[3] == "SCT"
    assert lines[4] == invoice.seller_bic
    assert lines[5] == invoice.seller_legal_name
    assert lines[6] == invoice.seller_iban
    assert Decimal(lines[7].removeprefix("EUR")) == invoice.total and lines[7].startswith("EUR")
    assert lines[9] == rf_reference(invoice.number)


def test_the_qr_code_on_the_pdf_pays_the_invoice(owner, issue):
    invoice = issue(owner.organisation, amount="850.00")
    document = stored_pdf(invoice)

    codes = decoded_qr_codes(document)

    assert len(codes) == 1
    assert_epc_payload_pays(codes[0], invoice)
    text = pdf_text(document)
    assert rf_reference_display(invoice.number) in text


def test_the_qr_check_fails_for_another_amount_or_reference(owner, issue):
    """Mutation: the decoded code is really compared with the invoice."""
    invoice = issue(owner.organisation, amount="850.00")
    payload = decoded_qr_codes(stored_pdf(invoice))[0]
    invoice.total += Decimal("0.01")
    with pytest.raises(AssertionError):
        assert_epc_payload_pays(payload, invoice)
    invoice.total -= Decimal("0.01")
    invoice.number = invoice.number + "9"
    with pytest.raises(AssertionError):
        assert_epc_payload_pays(payload, invoice)


def test_no_qr_code_for_an_invoice_in_another_currency(db, issue):
    from tests.factories import OrganisationFactory

    organisation = OrganisationFactory(
        name="Hollywood Shorts",
        address_line1="1 Main Street",
        postal_code="10001",
        city="New York",
        country="US",
        vat_number="",
        currency="USD",
        language="en",
    )
    invoice = issue(organisation, amount="500.00")
    document = pdf.render_pdf(invoice)

    assert decoded_qr_codes(document) == []
    # The RF reference is still the one to quote on any transfer.
    assert rf_reference_display(invoice.number) in pdf_text(document)


def test_the_invoice_page_shows_the_reference_and_the_code_while_it_is_due(owner, issue, client):
    invoice = issue(owner.organisation, amount="850.00")
    client.force_login(owner.user)
    url = reverse("portal:invoice_detail", args=[invoice.number])

    page = client.get(url).content.decode()
    assert rf_reference_display(invoice.number) in page
    assert page.count('class="inv-qr"') == 1
    assert 'role="img"' in page and "<title>" in page

    invoice_mark_paid(invoice=invoice)
    page = client.get(url).content.decode()
    assert rf_reference_display(invoice.number) in page
    assert 'class="inv-qr"' not in page


def test_a_credit_note_has_no_code(owner, issue, client):
    invoice = issue(owner.organisation, amount="850.00")
    credit_note = credit_note_issue(
        invoice=invoice, actor=owner.user, reason="Erreur de quantité", by_support=True
    )
    client.force_login(owner.user)

    page = client.get(reverse("portal:invoice_detail", args=[credit_note.number])).content.decode()

    assert 'class="inv-qr"' not in page
    assert decoded_qr_codes(pdf.render_pdf(credit_note)) == []


def test_the_invoice_email_gives_the_reference_to_quote(
    owner, issue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invoice = issue(owner.organisation, amount="850.00")

    emails = [m for m in mail.outbox if invoice.number in m.subject]
    assert emails
    reference = rf_reference_display(invoice.number)
    for message in emails:
        assert reference in message.body
        assert reference in message.alternatives[0][0]
