"""Every kind of document the portal issues passes the three rule sets a French platform
applies, in both syntaxes: for the Factur-X CII, the Factur-X EN 16931 XSD, the EN 16931
schematron and the BR-FR (Flux 2) schematron; for UBL 2.1, the UBL XSD, the EN 16931 UBL
schematron and the BR-FR UBL schematron (see tests/invoices/conformance.py and
docs/invoices.md, Conformance)."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import services as account_services
from invoices import facturx as invoice_facturx
from invoices import ubl as invoice_ubl
from invoices.models import ExchangeRate, Invoice
from invoices.services import credit_note_issue, invoice_mark_paid
from subscriptions import services as subscription_services
from subscriptions.models import Subscription
from tests.factories import MembershipFactory, OrganisationFactory

from . import conformance
from .test_partial_credit_notes import LINES

# The warnings the documents are known to raise, each explained in docs/invoices.md
# (Conformance). A new warning fails the test until it is fixed or explained there.
KNOWN_WARNINGS = {
    # The empty ApplicableHeaderTradeDelivery: the XSD requires it; a subscription invoice
    # (every line with its period, BG-26) delivered at the billing address has no
    # deliver-to party (BG-13) and no delivery date (BT-72).
    "PEPPOL-EN16931-R008",
}
# The same for UBL (docs/invoices.md, UBL).
KNOWN_UBL_WARNINGS: set[str] = set()


def _account(**fields):
    return MembershipFactory(organisation=OrganisationFactory(**fields), role="owner")


def domestic(issue, **_):
    return issue(_account().organisation)


def reverse_charge_fr(issue, **_):
    owner = _account(
        name="Berlinale Partner GmbH",
        address_line1="Potsdamer Straße 5",
        postal_code="10785",
        city="Berlin",
        country="DE",
        vat_number="DE136695976",
        language="fr",
    )
    return issue(owner.organisation)


def reverse_charge_en(issue, swedish_owner, **_):
    return issue(swedish_owner.organisation)


def export(issue, currency="EUR", vat_number="12-3456789", **_):
    owner = _account(
        name="Sundance Partners Inc.",
        address_line1="1825 Three Kings Drive",
        postal_code="84060",
        city="Park City",
        country="US",
        vat_number=vat_number,
        language="en",
        currency=currency,
    )
    return issue(owner.organisation)


def export_usd(issue, **_):
    """In dollars: the VAT, none, is also given in euros (BT-6, BT-111)."""
    return export(issue, currency="USD")


def _dollar_account():
    """A French account billed in dollars: French VAT, in another currency than the euro."""
    day = timezone.localdate()
    ExchangeRate.objects.create(
        currency="USD", date=day - timedelta(days=1), rate=Decimal("1.0856"), source="ecb"
    )
    return _account(name="Cinémathèque Outre-Atlantique", currency="USD").organisation


def dollars_with_vat(issue, **_):
    """The VAT is also given in euros at the ECB rate recorded at issue (BT-6, BT-111)."""
    invoice = issue(_dollar_account())
    assert (invoice.vat_amount, invoice.vat_amount_eur) == (Decimal("170.00"), Decimal("156.60"))
    return invoice


def dollars_with_vat_credit_note(issue, **_):
    """Part of a dollar invoice with VAT: its VAT in euros at the invoice's rate."""
    invoice = issue(_dollar_account(), lines=LINES)
    return credit_note_issue(
        invoice=invoice, actor=None, reason="Geste", lines={1: Decimal(2), 2: Decimal("0.5")}
    )


def upgrade(owner, subscription, plans, **_):
    link = subscription_services.upgrade_request(
        organisation=owner.organisation, plan=plans["entreprise"], actor=owner.user
    )
    subscription_services.upgrade_confirm(token=link.token)
    invoice = Invoice.objects.get(organisation=owner.organisation)
    assert min(line.amount for line in invoice.lines.all()) < 0  # the credit line
    return invoice


def renewal(subscription, **_):
    today = timezone.localdate()
    Subscription.objects.filter(pk=subscription.pk).update(
        period_start=today - timedelta(days=366), period_end=today - timedelta(days=1)
    )
    subscription.refresh_from_db()
    return subscription_services.renewal_issue(subscription=subscription)


def credit_note(issue, **_):
    invoice = issue(_account().organisation)
    return credit_note_issue(invoice=invoice, actor=None, reason="Facture émise en double")


def buyer_details(issue, **_):
    """SIREN, purchase order number, buyer reference and a delivery address, all given."""
    organisation = _account().organisation
    organisation = account_services.organisation_update_siren(
        organisation=organisation, siren="732829320", actor=None
    )
    organisation = account_services.organisation_update_references(
        organisation=organisation,
        order_reference="EJ-2026-000123",
        buyer_reference="SERVICE-COMMUNICATION",
        actor=None,
    )
    organisation = account_services.organisation_update_delivery_address(
        organisation=organisation,
        delivery_line1="Institut Lumière",
        delivery_line2="25 rue du Premier-Film",
        delivery_postal_code="69008",
        delivery_city="Lyon",
        delivery_country="FR",
        actor=None,
    )
    return issue(organisation)


def buyer_details_credit_note(issue, **_):
    invoice = buyer_details(issue)
    return credit_note_issue(invoice=invoice, actor=None, reason="Facture émise en double")


def siren_without_vat_number(issue, **_):
    """A French association without a VAT number: its SIREN is its electronic address."""
    organisation = _account(name="Association Cinéma Solidaire", vat_number="").organisation
    organisation = account_services.organisation_update_siren(
        organisation=organisation, siren="552100554", actor=None
    )
    return issue(organisation)


def email_address(issue, **_):
    """An association whose owner has not entered its SIREN yet, without VAT number: its
    billing email address is its electronic address (BT-49, scheme EM)."""
    return issue(_account(name="Association Cinéma Solidaire", vat_number="").organisation)


def email_address_credit_note(issue, **_):
    invoice = email_address(issue)
    return credit_note_issue(invoice=invoice, actor=None, reason="Facture émise en double")


def eu_without_vat_number(issue, **_):
    """An EU customer without VAT number: French VAT, addressed by its email."""
    owner = _account(
        name="Kinofest Verein",
        address_line1="Potsdamer Straße 5",
        postal_code="10785",
        city="Berlin",
        country="DE",
        vat_number="",
        language="en",
    )
    return issue(owner.organisation)


def export_without_tax_number(issue, **_):
    """A customer outside the EU without tax identifier, addressed by its email."""
    return export(issue, vat_number="")


def _three_lines(issue):
    return issue(_account().organisation, lines=LINES)


def partial_credit_note(issue, **_):
    """Chosen lines of an open invoice: two of its twelve seats and half a set-up day."""
    invoice = _three_lines(issue)
    credit_note = credit_note_issue(
        invoice=invoice, actor=None, reason="Geste", lines={1: Decimal(2), 2: Decimal("0.5")}
    )
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.OPEN
    return credit_note


def rest_credit_note(issue, **_):
    """What is left of each line after a partial one, the negative credit line included."""
    invoice = _three_lines(issue)
    credit_note_issue(invoice=invoice, actor=None, reason="Geste", lines={1: Decimal(2)})
    credit_note = credit_note_issue(invoice=invoice, actor=None, reason="Annulation")
    assert max(line.amount for line in credit_note.lines.all()) > 0  # the credit line, negated
    return credit_note


def paid_credit_note(issue, **_):
    """An amount credited on a paid invoice: given back to the account's credit."""
    invoice = invoice_mark_paid(invoice=_three_lines(issue))
    credit_note = credit_note_issue(
        invoice=invoice, actor=None, reason="Remboursement", amount=Decimal("150.00")
    )
    assert credit_note.returned_to_credit == -credit_note.total
    return credit_note


def rounded_vat_credit_note(issue, **_):
    """The second of two 0.03 credits of a 0.10 invoice: its VAT is 0.00 where 0.03 × 20 %
    alone rounds to 0.01, so that the credit notes add up to the invoice's 0.02 of VAT."""
    invoice = issue(_account().organisation, amount="0.10")
    credit_note_issue(invoice=invoice, actor=None, reason="Geste", amount=Decimal("0.03"))
    credit_note = credit_note_issue(
        invoice=invoice, actor=None, reason="Geste", amount=Decimal("0.03")
    )
    assert (credit_note.subtotal, credit_note.vat_amount) == (Decimal("-0.03"), 0)
    return credit_note


KINDS = {
    "domestic": domestic,
    "reverse_charge_fr": reverse_charge_fr,
    "reverse_charge_en": reverse_charge_en,
    "export": export,
    "export_usd": export_usd,
    "upgrade": upgrade,
    "renewal": renewal,
    "credit_note": credit_note,
    "buyer_details": buyer_details,
    "buyer_details_credit_note": buyer_details_credit_note,
    "siren_without_vat_number": siren_without_vat_number,
    "email_address": email_address,
    "email_address_credit_note": email_address_credit_note,
    "eu_without_vat_number": eu_without_vat_number,
    "export_without_tax_number": export_without_tax_number,
    "dollars_with_vat": dollars_with_vat,
    "dollars_with_vat_credit_note": dollars_with_vat_credit_note,
    "partial_credit_note": partial_credit_note,
    "rest_credit_note": rest_credit_note,
    "paid_credit_note": paid_credit_note,
    "rounded_vat_credit_note": rounded_vat_credit_note,
}


@pytest.fixture
def document(request, issue, swedish_owner, owner, subscription, plans):
    return KINDS[request.param](
        issue=issue,
        swedish_owner=swedish_owner,
        owner=owner,
        subscription=subscription,
        plans=plans,
    )


@pytest.mark.parametrize("document", list(KINDS), indirect=True)
def test_every_document_passes_the_three_rule_sets(document):
    report = conformance.validate(invoice_facturx.invoice_xml(document))
    assert not report.errors, str(report)
    assert {warning.id for warning in report.warnings} <= KNOWN_WARNINGS, str(report)


# --- Mutations: the rules do run --------------------------------------------------------------


@pytest.fixture
def invoice_xml(owner, issue):
    xml = invoice_facturx.invoice_xml(issue(owner.organisation))
    assert not conformance.validate(xml).errors
    return xml


def test_a_wrong_grand_total_fails_br_co_15(invoice_xml):
    xml = re.sub(
        rb"<ram:GrandTotalAmount>[^<]*<", b"<ram:GrandTotalAmount>1.00<", invoice_xml, count=1
    )
    report = conformance.validate(xml)
    assert "BR-CO-15" in report.ids("en16931"), str(report)
    assert not conformance.check_xsd(xml)


def test_an_empty_billing_framework_fails_br_fr_08(invoice_xml):
    xml = re.sub(
        rb"(<ram:BusinessProcessSpecifiedDocumentContextParameter>\s*<ram:ID>)[^<]*<",
        rb"\1<",
        invoice_xml,
    )
    assert xml != invoice_xml
    report = conformance.validate(xml)
    assert "BR-FR-08_BT-23" in report.ids("br-fr"), str(report)
    assert all(failure.severity == "fatal" for failure in report.errors)


def test_a_credit_note_without_its_invoice_reference_fails_br_fr_co_05(owner, issue):
    invoice = issue(owner.organisation, lines=LINES)
    credit_note = credit_note_issue(
        invoice=invoice, actor=None, reason="Geste", lines={1: Decimal(1)}
    )
    xml = invoice_facturx.invoice_xml(credit_note)
    reference = re.search(
        rb"<ram:InvoiceReferencedDocument>\s*<ram:IssuerAssignedID>([^<]*)</ram:IssuerAssignedID>"
        rb"\s*<ram:FormattedIssueDateTime>\s*<qdt:DateTimeString format=\"102\">(\d+)<",
        xml,
    )
    assert reference.groups() == (
        invoice.number.encode(),
        invoice.issue_date.strftime("%Y%m%d").encode(),
    )
    assert not conformance.validate(xml).errors
    mutated = re.sub(
        rb"<ram:InvoiceReferencedDocument>.*?</ram:InvoiceReferencedDocument>", b"", xml, flags=re.S
    )
    report = conformance.validate(mutated)
    assert "BR-FR-CO-05" in {failure.id.split("_")[0] for failure in report.errors}, str(report)


@pytest.mark.parametrize(
    ("serialise", "validate", "euro_total", "rules"),
    [
        (
            invoice_facturx.invoice_xml,
            conformance.validate,
            rb'<ram:TaxTotalAmount currencyID="EUR">[^<]*</ram:TaxTotalAmount>\s*',
            "br-fr",
        ),
        (
            invoice_ubl.invoice_xml,
            conformance.validate_ubl,
            rb'<cac:TaxTotal>\s*<cbc:TaxAmount currencyID="EUR">[^<]*</cbc:TaxAmount>\s*'
            rb"</cac:TaxTotal>\s*",
            "ubl-br-fr",
        ),
    ],
    ids=["cii", "ubl"],
)
def test_a_dollar_invoice_without_its_vat_in_euros_fails_br_fr_co_12(
    db, issue, serialise, validate, euro_total, rules
):
    xml = serialise(dollars_with_vat(issue))
    assert re.search(euro_total.replace(rb"[^<]*", rb"156\.60"), xml)
    assert not validate(xml).errors
    mutated = re.sub(euro_total, b"", xml)
    assert mutated != xml
    report = validate(mutated)
    assert "BR-FR-CO-12_BT-5" in report.ids(rules), str(report)


def test_an_unknown_element_fails_the_xsd(invoice_xml):
    xml = invoice_xml.replace(
        b"<ram:InvoiceCurrencyCode>", b"<ram:Currency>EUR</ram:Currency><ram:InvoiceCurrencyCode>"
    )
    failures = conformance.check_xsd(xml)
    assert failures and failures[0].severity == "fatal"
    assert "Currency" in failures[0].text


# --- UBL 2.1: the same documents, the UBL rule sets -------------------------------------------


@pytest.mark.parametrize("document", list(KINDS), indirect=True)
def test_every_document_in_ubl_passes_the_three_rule_sets(document):
    report = conformance.validate_ubl(invoice_ubl.invoice_xml(document))
    assert not report.errors, str(report)
    assert {warning.id for warning in report.warnings} <= KNOWN_UBL_WARNINGS, str(report)


@pytest.fixture
def ubl_xml(owner, issue):
    xml = invoice_ubl.invoice_xml(issue(owner.organisation))
    assert not conformance.validate_ubl(xml).errors
    return xml


def test_a_wrong_total_in_ubl_fails_br_co_15(ubl_xml):
    xml = re.sub(rb"(<cbc:TaxInclusiveAmount [^>]*>)[^<]*<", rb"\g<1>1.00<", ubl_xml, count=1)
    assert xml != ubl_xml
    report = conformance.validate_ubl(xml)
    assert "BR-CO-15" in report.ids("ubl-en16931"), str(report)
    assert not conformance.check_xsd(xml, ubl=True)


def test_a_wrong_payable_amount_in_ubl_fails_br_co_16(ubl_xml):
    xml = re.sub(rb"(<cbc:PayableAmount [^>]*>)[^<]*<", rb"\g<1>1.00<", ubl_xml, count=1)
    assert xml != ubl_xml
    assert "BR-CO-16" in conformance.validate_ubl(xml).ids("ubl-en16931")


def test_an_empty_billing_framework_in_ubl_fails_br_fr_08(ubl_xml):
    xml = ubl_xml.replace(b"<cbc:ProfileID>S1<", b"<cbc:ProfileID><")
    assert xml != ubl_xml
    report = conformance.validate_ubl(xml)
    assert "BR-FR-08_BT-23" in report.ids("ubl-br-fr"), str(report)


def test_an_unknown_element_fails_the_ubl_xsd(ubl_xml):
    xml = ubl_xml.replace(
        b"<cbc:DocumentCurrencyCode>", b"<cbc:Currency>EUR</cbc:Currency><cbc:DocumentCurrencyCode>"
    )
    failures = conformance.check_xsd(xml, ubl=True)
    assert failures and failures[0].severity == "fatal"
    assert "Currency" in failures[0].text


@pytest.fixture
def ubl_credit_note_xml(db, issue):
    xml = invoice_ubl.invoice_xml(credit_note(issue))
    assert not conformance.validate_ubl(xml).errors
    return xml


def test_a_wrong_payable_amount_on_a_ubl_credit_note_fails_br_co_16(ubl_credit_note_xml):
    xml = re.sub(
        rb"(<cbc:PayableAmount [^>]*>)[^<]*<", rb"\g<1>1.00<", ubl_credit_note_xml, count=1
    )
    assert xml != ubl_credit_note_xml
    assert "BR-CO-16" in conformance.validate_ubl(xml).ids("ubl-en16931")


def test_a_due_date_on_a_ubl_credit_note_fails_the_credit_note_xsd(ubl_credit_note_xml):
    """UBL 2.1's CreditNote has no DueDate: BT-9 goes in its payment means."""
    xml = ubl_credit_note_xml.replace(
        b"<cbc:CreditNoteTypeCode>",
        b"<cbc:DueDate>2026-01-01</cbc:DueDate><cbc:CreditNoteTypeCode>",
    )
    failures = conformance.check_xsd(xml, ubl=True)
    assert failures and "DueDate" in failures[0].text


def test_a_buyer_without_any_electronic_address_fails_br_fr_12_in_both_syntaxes(db, issue):
    """What an invoice issued before the billing email was recorded gives (docs/invoices.md,
    Conformance): no BT-49. The mutation that shows BR-FR-12 runs."""
    invoice = email_address(issue)
    assert invoice.buyer_email
    invoice.buyer_email = ""  # as the row of an invoice issued before (not saved)
    for report, rules in [
        (conformance.validate(invoice_facturx.invoice_xml(invoice)), "br-fr"),
        (conformance.validate_ubl(invoice_ubl.invoice_xml(invoice)), "ubl-br-fr"),
    ]:
        assert {failure.id for failure in report.errors} == {"BR-FR-12_BT-49"}, str(report)
        assert report.ids(rules) >= {"BR-FR-12_BT-49"}


# --- The buyer's SIREN and the service date ---------------------------------------------------


@pytest.mark.parametrize(
    ("serialise", "validate", "rules"),
    [
        (invoice_facturx.invoice_xml, conformance.validate, "br-fr"),
        (invoice_ubl.invoice_xml, conformance.validate_ubl, "ubl-br-fr"),
    ],
    ids=["cii", "ubl"],
)
def test_a_buyer_without_vat_number_passes_br_fr_12_by_email_then_by_its_siren(
    db, issue, serialise, validate, rules
):
    organisation = _account(name="Association Cinéma Solidaire", vat_number="").organisation
    owner_email = organisation.memberships.get().user.email
    xml = serialise(issue(organisation))
    before = validate(xml)
    # Nothing else identifies it: its billing email is its electronic address (BT-49).
    assert not before.errors, str(before)
    assert f'schemeID="EM">{owner_email}<'.encode() in xml

    organisation = account_services.organisation_update_siren(
        organisation=organisation, siren="552100554", actor=None
    )
    xml = serialise(issue(organisation))
    after = validate(xml)
    assert not after.errors, str(after)
    # Once entered, the SIREN takes precedence: the French directory routes by it.
    assert b'schemeID="0225">552100554<' in xml
    assert owner_email.encode() not in xml


def test_a_one_off_invoice_has_its_delivery_date_and_no_warning_left(owner, issue):
    """BT-72 fills ApplicableHeaderTradeDelivery: PEPPOL-EN16931-R008 (empty element) is
    gone; it stays on subscription invoices, dated by their periods."""
    invoice = issue(owner.organisation)  # one line without a period
    report = conformance.validate(invoice_facturx.invoice_xml(invoice))
    assert not report.failures, str(report)
