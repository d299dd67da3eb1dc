"""The mentions of decree 2022-1299 and the buyer's references, on the issued invoice and its
PDF (read back with pdftotext): the buyer's SIREN, the delivery address when it differs from
the billing address, the category of the operation, the option for VAT on debits, a date for
every line, and the purchase order number and buyer reference."""

import subprocess
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.files.storage import storages
from django.utils import timezone, translation

from accounts import services as account_services
from invoices import pdf
from invoices.models import Invoice
from invoices.services import credit_note_issue
from invoices.tax import TaxRule, Treatment
from invoices.totals import LineSpec
from tests.factories import OrganisationFactory

DELIVERY = {
    "delivery_line1": "Institut Lumière",
    "delivery_line2": "25 rue du Premier-Film",
    "delivery_postal_code": "69008",
    "delivery_city": "Lyon",
    "delivery_country": "FR",
}


def pdftotext(invoice: Invoice) -> str:
    """The printed text of the stored PDF, as poppler's pdftotext reads it, spaces folded."""
    invoice = pdf.invoice_pdf_ensure(invoice_id=invoice.pk)
    with storages["documents"].open(invoice.pdf_name, "rb") as fh:
        content = fh.read()
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"],
        input=content,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def _fill(owner):
    organisation = account_services.organisation_update_siren(
        organisation=owner.organisation, siren="732829320", actor=owner.user
    )
    organisation = account_services.organisation_update_delivery_address(
        organisation=organisation, **DELIVERY, actor=owner.user
    )
    return account_services.organisation_update_references(
        organisation=organisation,
        order_reference="EJ-2026-000123",
        buyer_reference="SERVICE-COMMUNICATION",
        actor=owner.user,
    )


def test_an_invoice_carries_the_buyers_siren_delivery_address_and_references(owner, issue):
    organisation = _fill(owner)
    invoice = issue(organisation)
    assert invoice.buyer_siren == "732829320"
    assert invoice.delivery_address_lines == [
        "Institut Lumière",
        "25 rue du Premier-Film",
        "69008 Lyon",
        "France",
    ]
    assert (invoice.delivery_street_lines, invoice.delivery_postal_code) == (
        ["Institut Lumière", "25 rue du Premier-Film"],
        "69008",
    )
    assert (invoice.delivery_city, invoice.delivery_country) == ("Lyon", "FR")
    assert (invoice.order_reference, invoice.buyer_reference) == (
        "EJ-2026-000123",
        "SERVICE-COMMUNICATION",
    )

    text = pdftotext(invoice)
    for fragment in (
        "SIREN 732829320",
        "ADRESSE DE LIVRAISON Institut Lumière 25 rue du Premier-Film 69008 Lyon France",
        "Bon de commande EJ-2026-000123",
        "Référence acheteur SERVICE-COMMUNICATION",
        "Catégorie d'opération Prestations de services",
    ):
        assert fragment in text, fragment


def test_issued_invoices_keep_their_snapshot_when_the_account_changes(owner, issue):
    invoice = issue(_fill(owner))
    organisation = account_services.organisation_update_references(
        organisation=owner.organisation, order_reference="EJ-2027-1", actor=owner.user
    )
    account_services.organisation_update_delivery_address(organisation=organisation, actor=None)
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.order_reference, invoice.buyer_reference) == (
        "EJ-2026-000123",
        "SERVICE-COMMUNICATION",
    )
    assert invoice.delivery_city == "Lyon"
    later = issue(Invoice.objects.get(pk=invoice.pk).organisation)
    assert (later.order_reference, later.buyer_reference, later.delivery_address_lines) == (
        "EJ-2027-1",
        "",
        [],
    )


def test_a_credit_note_repeats_the_invoice_snapshot_word_for_word(owner, issue):
    invoice = issue(_fill(owner))
    account_services.organisation_update_references(
        organisation=owner.organisation, actor=owner.user
    )
    credit_note = credit_note_issue(invoice=invoice, actor=None, reason="Doublon")
    for field in (
        "buyer_siren",
        "order_reference",
        "buyer_reference",
        "delivery_address_lines",
        "delivery_city",
        "service_date",
    ):
        assert getattr(credit_note, field) == getattr(invoice, field), field
    text = pdftotext(credit_note)
    assert "Bon de commande EJ-2026-000123" in text
    assert "ADRESSE DE LIVRAISON Institut Lumière" in text


@pytest.mark.parametrize(
    "same",
    [
        {"delivery_line1": "14 quai Saint-Antoine", "delivery_postal_code": "69002"},
        # Written differently, the same place.
        {"delivery_line1": "14  QUAI saint-antoine ", "delivery_postal_code": "69002"},
    ],
)
def test_a_delivery_address_that_is_the_billing_address_is_not_printed(owner, issue, same):
    account_services.organisation_update_delivery_address(
        organisation=owner.organisation,
        **{**DELIVERY, "delivery_line2": "", "delivery_city": "Lyon", **same},
        actor=owner.user,
    )
    invoice = issue(owner.organisation)
    assert invoice.delivery_address_lines == [] and invoice.delivery_country == ""
    assert "ADRESSE DE LIVRAISON" not in pdftotext(invoice).upper()


def test_without_references_nor_delivery_address_nothing_of_them_is_printed(owner, issue):
    text = pdftotext(issue(owner.organisation))
    for absent in ("ADRESSE DE LIVRAISON", "BON DE COMMANDE", "RÉFÉRENCE ACHETEUR"):
        assert absent not in text.upper()


def test_in_english_the_labels_are_english(swedish_owner, issue):
    organisation = account_services.organisation_update_delivery_address(
        organisation=swedish_owner.organisation,
        delivery_line1="Fotografiska",
        delivery_line2="Stadsgårdshamnen 22",
        delivery_postal_code="116 45",
        delivery_city="Stockholm",
        delivery_country="SE",
        actor=None,
    )
    account_services.organisation_update_references(
        organisation=organisation, order_reference="PO-7781", buyer_reference="DEPT-9", actor=None
    )
    text = pdftotext(issue(organisation))
    for fragment in (
        "DELIVERY ADDRESS Fotografiska Stadsgårdshamnen 22 116 45 Stockholm Sweden",
        "Purchase order PO-7781",
        "Buyer reference DEPT-9",
        "Supply of services",
    ):
        assert fragment in text, fragment


# --- A date for every line ------------------------------------------------------------------


def test_a_one_off_line_is_dated_by_the_service_date(owner, issue):
    today = timezone.localdate()
    rendered = today - timedelta(days=12)
    invoice = issue(
        owner.organisation,
        lines=[
            LineSpec(
                "Abonnement annuel — forfait Professionnel",
                Decimal(1),
                Decimal("6000.00"),
                date(2026, 3, 1),
                date(2027, 3, 1),
            ),
            LineSpec("Formation des administrateurs", Decimal(1), Decimal("650.00")),
        ],
        service_date=rendered,
    )
    assert invoice.service_date == rendered
    text = pdftotext(invoice)
    day = pdf_day(rendered)
    assert f"Date de la prestation {day}" in text
    # Each line its date: the period under the subscription, the day under the one-off line.
    assert "Du 1er mars 2026 au 28 février 2027 Formation des administrateurs" in text
    assert f"Formation des administrateurs Le {day}" in text


def pdf_day(day: date) -> str:
    from django.utils import translation

    from billing_portal.formatting import long_date

    with translation.override("fr"):
        return long_date(day)  # "1er décembre 2026" on the first of a month


def test_without_a_service_date_a_one_off_line_is_dated_by_the_issue_date(owner, issue):
    invoice = issue(owner.organisation)  # one line, no period
    assert invoice.service_date == invoice.issue_date
    assert f"Le {pdf_day(invoice.issue_date)}" in pdftotext(invoice)


def test_lines_all_with_a_period_need_no_service_date(owner, issue):
    invoice = issue(
        owner.organisation,
        lines=[
            LineSpec(
                "Abonnement annuel",
                Decimal(1),
                Decimal("10.00"),
                date(2026, 3, 1),
                date(2027, 3, 1),
            )
        ],
        service_date=date(2026, 3, 1),
    )
    assert invoice.service_date is None
    assert "Date de la prestation" not in pdftotext(invoice)


# --- VAT on debits ----------------------------------------------------------------------------


@pytest.mark.parametrize("opted", [False, True])
def test_the_option_for_vat_on_debits_is_printed_when_the_seller_opted(
    settings, owner, issue, opted
):
    settings.SELLER = {**settings.SELLER, "vat_on_debits": opted}
    invoice = issue(owner.organisation)
    assert invoice.seller_vat_on_debits is opted
    mention = "Option pour le paiement de la taxe d'après les débits"
    assert (mention in pdftotext(invoice)) is opted


# --- Reverse charge in English ----------------------------------------------------------------


def test_a_reverse_charge_invoice_in_english_still_says_autoliquidation(swedish_owner, issue):
    invoice = issue(swedish_owner.organisation)
    assert invoice.language == "en"
    text = pdftotext(invoice)
    assert "Autoliquidation" in text  # CGI, annexe II, art. 242 nonies A: the literal word
    assert "Autoliquidation (reverse charge): VAT to be accounted for by the customer" in text


def test_a_reverse_charge_in_french_is_unchanged(db, issue):
    organisation = OrganisationFactory(
        country="DE", vat_number="DE136695976", postal_code="10785", language="fr"
    )
    invoice = issue(organisation)
    assert invoice.tax_mention.startswith("Autoliquidation : TVA due par le preneur")
    assert "reverse charge" not in pdftotext(invoice)


@pytest.mark.parametrize("language", [code for code, _name in settings.LANGUAGES])
def test_every_language_keeps_the_word_autoliquidation(language):
    """A translator may not drop it: the law asks for the word itself."""
    rule = TaxRule(Treatment.EU_REVERSE_CHARGE, Decimal("0.00"), "DE136695976")
    with translation.override(language):
        assert rule.mention.startswith("Autoliquidation"), rule.mention
