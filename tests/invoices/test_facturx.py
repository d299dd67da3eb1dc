"""Factur-X: every invoice and credit note carries its EN 16931 XML inside its stored PDF."""

import hashlib
import io
import re
from datetime import date
from decimal import Decimal

import facturx
import pytest
from django.core.files.storage import storages
from lxml import etree
from pypdf import PdfReader

from invoices import einvoice, pdf
from invoices import facturx as invoice_facturx
from invoices.models import Invoice
from invoices.references import rf_reference
from invoices.services import credit_note_issue, invoice_issue
from invoices.totals import LineSpec
from tests.factories import InvoiceFactory, OrganisationFactory

from .test_pdf import pdf_text, stored_pdf

NS = invoice_facturx.NS
SETTLEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
TOTALS = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
SELLER = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty"
BUYER = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:BuyerTradeParty"

LINES = [
    LineSpec(
        "Passage au forfait Entreprise, au prorata",
        Decimal(1),
        Decimal("2547.95"),
        date(2026, 9, 27),
        date(2027, 3, 1),
    ),
    LineSpec(
        "Crédit pour la période non utilisée",
        Decimal(1),
        Decimal("-1019.18"),
        date(2026, 9, 27),
        date(2027, 3, 1),
    ),
    LineSpec("Accompagnement au paramétrage (jour)", Decimal("1.5"), Decimal("900.00")),
]


def issue_case(case):
    """(document, invoice it corrects or None) for each tax case."""
    country, vat_number = {
        "domestic": ("FR", "FR44732829320"),
        "reverse_charge": ("DE", "DE136695976"),
        "export": ("US", "12-3456789"),
        "credit_note": ("FR", "FR44732829320"),
    }[case]
    organisation = OrganisationFactory(
        country=country, vat_number=vat_number, postal_code="69002", city="Lyon"
    )
    invoice = invoice_issue(organisation=organisation, lines=LINES)
    if case == "credit_note":
        return credit_note_issue(invoice=invoice, actor=None, reason="Doublon"), invoice
    return invoice, None


def text(root, path):
    (element,) = root.xpath(path, namespaces=NS)
    return element.text


def amount(root, path):
    return Decimal(text(root, path))


def printed_amount(pdf_content: bytes, label: str) -> Decimal:
    """The amount printed after `label` in the PDF, e.g. "Total TTC −1 020,00 €"."""
    match = re.search(rf"{label} (−?[\d ]+,\d\d) €", pdf_text(pdf_content))
    assert match, label
    number = match.group(1).replace(" ", "").replace(",", ".").replace("−", "-")
    return Decimal(number)


CASES = ["domestic", "reverse_charge", "export", "credit_note"]


@pytest.mark.parametrize("case", CASES)
def test_xml_is_valid_en16931_and_is_the_one_in_the_stored_pdf(db, case):
    document, _corrected = issue_case(case)
    xml = invoice_facturx.invoice_xml(document)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True

    content = stored_pdf(document)
    filename, embedded = facturx.get_xml_from_pdf(content, check_xsd=True)
    assert filename == "factur-x.xml"
    assert embedded == xml
    # The SHA-256 on the invoice is that of the final file, XML included.
    stored = Invoice.objects.get(pk=document.pk)
    assert hashlib.sha256(content).hexdigest() == stored.pdf_sha256


@pytest.mark.parametrize("case", CASES)
def test_xml_totals_are_the_invoice_totals_and_the_printed_ones(db, case):
    document, _corrected = issue_case(case)
    root = etree.fromstring(invoice_facturx.invoice_xml(document))
    # A credit note's amounts are positive in EN 16931: its type code carries the sign.
    sign = -1 if document.is_credit_note else 1
    assert amount(root, f"{TOTALS}/ram:TaxBasisTotalAmount") == sign * document.subtotal
    assert amount(root, f"{TOTALS}/ram:TaxTotalAmount") == sign * document.vat_amount
    assert amount(root, f"{TOTALS}/ram:GrandTotalAmount") == sign * document.total
    assert amount(root, f"{TOTALS}/ram:DuePayableAmount") == sign * document.total
    assert root.xpath(f"{TOTALS}/ram:TaxTotalAmount/@currencyID", namespaces=NS) == ["EUR"]
    line_amounts = [
        Decimal(value)
        for value in root.xpath(
            "//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount/text()",
            namespaces=NS,
        )
    ]
    assert sum(line_amounts) == amount(root, f"{TOTALS}/ram:LineTotalAmount")
    assert sum(line_amounts) == sign * document.subtotal
    # Every amount has two decimals.
    for value in root.xpath("//*[contains(local-name(), 'Amount')]/text()", namespaces=NS):
        assert re.fullmatch(r"-?\d+\.\d\d", value), value

    content = stored_pdf(document)
    assert printed_amount(content, "Total TTC") == sign * amount(
        root, f"{TOTALS}/ram:GrandTotalAmount"
    )
    assert printed_amount(content, "Total HT") == sign * amount(
        root, f"{TOTALS}/ram:TaxBasisTotalAmount"
    )


@pytest.mark.parametrize(
    ("case", "category", "rate", "reason", "reason_code"),
    [
        ("domestic", "S", "20.00", None, None),
        ("reverse_charge", "AE", "0.00", "Autoliquidation", "VATEX-EU-AE"),
        ("export", "G", "0.00", "TVA non applicable, art. 259-1 du CGI", "VATEX-EU-G"),
        ("credit_note", "S", "20.00", None, None),
    ],
)
def test_vat_category_per_tax_case(db, case, category, rate, reason, reason_code):
    document, _corrected = issue_case(case)
    root = etree.fromstring(invoice_facturx.invoice_xml(document))
    (tax,) = root.xpath(f"{SETTLEMENT}/ram:ApplicableTradeTax", namespaces=NS)
    assert text(tax, "ram:TypeCode") == "VAT"
    assert text(tax, "ram:CategoryCode") == category
    assert text(tax, "ram:RateApplicablePercent") == rate
    assert tax.xpath("ram:ExemptionReason/text()", namespaces=NS) == ([reason] if reason else [])
    assert tax.xpath("ram:ExemptionReasonCode/text()", namespaces=NS) == (
        [reason_code] if reason_code else []
    )
    # Standard rate: VAT due on payment (services, no option for the debits).
    assert tax.xpath("ram:DueDateTypeCode/text()", namespaces=NS) == (
        ["72"] if category == "S" else []
    )
    line_categories = root.xpath(
        "//ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode/text()",
        namespaces=NS,
    )
    line_rates = root.xpath(
        "//ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax"
        "/ram:RateApplicablePercent/text()",
        namespaces=NS,
    )
    assert line_categories == [category] * 3
    assert line_rates == [rate] * 3


def test_reverse_charge_reason_is_in_the_invoice_language(swedish_owner, issue):
    root = etree.fromstring(invoice_facturx.invoice_xml(issue(swedish_owner.organisation)))
    assert text(root, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:ExemptionReason") == (
        "Autoliquidation (reverse charge)"
    )


def test_invoice_document_parties_lines_payment(settings, db):
    document, _ = issue_case("domestic")
    root = etree.fromstring(invoice_facturx.invoice_xml(document))
    assert text(
        root, "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"
    ) == ("urn:cen.eu:en16931:2017")
    # BT-23, the billing framework of the French reform: S1, services.
    assert text(
        root,
        "rsm:ExchangedDocumentContext/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID",
    ) == ("S1")
    assert text(root, "rsm:ExchangedDocument/ram:ID") == document.number
    assert text(root, "rsm:ExchangedDocument/ram:TypeCode") == "380"
    issued = root.xpath("rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString", namespaces=NS)
    assert (issued[0].text, issued[0].get("format")) == (
        document.issue_date.strftime("%Y%m%d"),
        "102",
    )
    notes = root.xpath(
        "rsm:ExchangedDocument/ram:IncludedNote/ram:SubjectCode/text()", namespaces=NS
    )
    assert notes == ["AAB", "PMD", "PMT"]

    # Seller: name, SIREN (0002), address, VAT number (VA).
    assert text(root, f"{SELLER}/ram:Name") == "Palmarès Logiciels SAS"
    siren = root.xpath(f"{SELLER}/ram:SpecifiedLegalOrganization/ram:ID", namespaces=NS)[0]
    assert (siren.text, siren.get("schemeID")) == ("552100554", "0002")
    vat = root.xpath(f"{SELLER}/ram:SpecifiedTaxRegistration/ram:ID", namespaces=NS)[0]
    assert (vat.text, vat.get("schemeID")) == (settings.SELLER["vat_number"], "VA")
    assert text(root, f"{SELLER}/ram:PostalTradeAddress/ram:PostcodeCode") == "75002"
    assert text(root, f"{SELLER}/ram:PostalTradeAddress/ram:LineOne") == "12 rue de la Paix"
    assert text(root, f"{SELLER}/ram:PostalTradeAddress/ram:CityName") == "Paris"
    assert text(root, f"{SELLER}/ram:PostalTradeAddress/ram:CountryID") == "FR"
    # Electronic addresses (BT-34, BT-49): French parties by SIREN, EAS 0225.
    address = root.xpath(f"{SELLER}/ram:URIUniversalCommunication/ram:URIID", namespaces=NS)[0]
    assert (address.text, address.get("schemeID")) == ("552100554", "0225")
    # Buyer: the snapshot, SIREN from its VAT number.
    assert text(root, f"{BUYER}/ram:Name") == document.buyer_legal_name
    siren = root.xpath(f"{BUYER}/ram:SpecifiedLegalOrganization/ram:ID", namespaces=NS)[0]
    assert (siren.text, siren.get("schemeID")) == ("732829320", "0002")
    vat = root.xpath(f"{BUYER}/ram:SpecifiedTaxRegistration/ram:ID", namespaces=NS)[0]
    assert (vat.text, vat.get("schemeID")) == ("FR44732829320", "VA")
    assert text(root, f"{BUYER}/ram:PostalTradeAddress/ram:PostcodeCode") == "69002"
    assert text(root, f"{BUYER}/ram:PostalTradeAddress/ram:CityName") == "Lyon"
    address = root.xpath(f"{BUYER}/ram:URIUniversalCommunication/ram:URIID", namespaces=NS)[0]
    assert (address.text, address.get("schemeID")) == ("732829320", "0225")

    # Lines: id, name, net price (never negative), quantity in C62, amount, period.
    items = root.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
    got = [
        (
            text(item, "ram:AssociatedDocumentLineDocument/ram:LineID"),
            text(item, "ram:SpecifiedTradeProduct/ram:Name"),
            text(
                item,
                "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount",
            ),
            text(item, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity"),
            item.xpath(
                "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity/@unitCode", namespaces=NS
            )[0],
            text(
                item,
                "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation"
                "/ram:LineTotalAmount",
            ),
        )
        for item in items
    ]
    assert got == [
        ("1", "Passage au forfait Entreprise, au prorata", "2547.95", "1", "C62", "2547.95"),
        ("2", "Crédit pour la période non utilisée", "1019.18", "-1", "C62", "-1019.18"),
        ("3", "Accompagnement au paramétrage (jour)", "900.00", "1.5", "C62", "1350.00"),
    ]
    # Half-open period [27 Sept 2026, 1 March 2027) → last day 28 February 2027.
    period = items[0].xpath(
        ".//ram:BillingSpecifiedPeriod//udt:DateTimeString/text()", namespaces=NS
    )
    assert period == ["20260927", "20270228"]

    # Payment: SEPA credit transfer to the seller's IBAN, quoting the number, due date.
    assert text(root, f"{SETTLEMENT}/ram:PaymentReference") == rf_reference(document.number)
    means = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans"
    assert text(root, f"{means}/ram:TypeCode") == "58"
    assert text(root, f"{means}/ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == (
        "FR7630006000011234567890189"
    )
    assert text(
        root, f"{SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"
    ) == (document.due_date.strftime("%Y%m%d"))
    assert not root.xpath(f"{SETTLEMENT}/ram:InvoiceReferencedDocument", namespaces=NS)


def test_credit_note_is_type_381_referencing_its_invoice(db):
    credit_note, invoice = issue_case("credit_note")
    root = etree.fromstring(invoice_facturx.invoice_xml(credit_note))
    assert text(root, "rsm:ExchangedDocument/ram:TypeCode") == "381"
    assert text(root, "rsm:ExchangedDocument/ram:ID") == credit_note.number
    reference = f"{SETTLEMENT}/ram:InvoiceReferencedDocument"
    assert text(root, f"{reference}/ram:IssuerAssignedID") == invoice.number
    issued = root.xpath(f"{reference}/ram:FormattedIssueDateTime/qdt:DateTimeString", namespaces=NS)
    assert (issued[0].text, issued[0].get("format")) == (
        invoice.issue_date.strftime("%Y%m%d"),
        "102",
    )
    # The same lines as the invoice's XML: positive where the invoice was.
    invoice_root = etree.fromstring(invoice_facturx.invoice_xml(invoice))
    path = "//ram:IncludedSupplyChainTradeLineItem//ram:LineTotalAmount/text()"
    assert root.xpath(path, namespaces=NS) == invoice_root.xpath(path, namespaces=NS)
    path = "//ram:BilledQuantity/text()"
    assert root.xpath(path, namespaces=NS) == invoice_root.xpath(path, namespaces=NS)
    # Nothing to pay: no payment means (no IBAN to pay into), due at once.
    assert not root.xpath(f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans", namespaces=NS)
    assert not root.xpath(f"{SETTLEMENT}/ram:PaymentReference", namespaces=NS)
    assert amount(root, f"{TOTALS}/ram:GrandTotalAmount") == Decimal("3454.52")
    # The French rules (BR-FR-05) want the payment-terms notes on a credit note too.
    notes = root.xpath(
        "rsm:ExchangedDocument/ram:IncludedNote/ram:SubjectCode/text()", namespaces=NS
    )
    assert notes == ["AAB", "PMD", "PMT"]


def test_export_declares_no_foreign_tax_id_as_a_vat_number(db):
    document, _ = issue_case("export")
    root = etree.fromstring(invoice_facturx.invoice_xml(document))
    assert not root.xpath(f"{BUYER}/ram:SpecifiedTaxRegistration", namespaces=NS)
    assert not root.xpath(f"{BUYER}/ram:SpecifiedLegalOrganization", namespaces=NS)
    assert text(root, f"{BUYER}/ram:PostalTradeAddress/ram:CountryID") == "US"
    assert "12-3456789" in pdf_text(stored_pdf(document))  # still printed


def test_invoices_without_address_parts_use_the_printed_address(db):
    """Invoices issued before the buyer's postcode and city were recorded apart."""
    invoice = InvoiceFactory()
    assert (invoice.buyer_postal_code, invoice.buyer_city) == ("", "")
    xml = invoice_facturx.invoice_xml(invoice)
    invoice_facturx.check_xsd(xml)
    root = etree.fromstring(xml)
    assert text(root, f"{BUYER}/ram:PostalTradeAddress/ram:LineOne") == "14 quai Saint-Antoine"
    assert text(root, f"{BUYER}/ram:PostalTradeAddress/ram:PostcodeCode") == "69002"
    assert text(root, f"{BUYER}/ram:PostalTradeAddress/ram:CityName") == "Lyon"


def test_the_xml_is_the_same_every_time(owner, issue):
    invoice = issue(owner.organisation)
    assert invoice_facturx.invoice_xml(invoice) == invoice_facturx.invoice_xml(
        Invoice.objects.get(pk=invoice.pk)
    )


# --- The PDF ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["domestic", "credit_note"])
def test_pdf_renders_as_before_with_the_xml_attached(db, case):
    document, _ = issue_case(case)
    plain = pdf.render_document(document)
    final = stored_pdf(document)
    plain_reader, final_reader = PdfReader(io.BytesIO(plain)), PdfReader(io.BytesIO(final))
    assert len(final_reader.pages) == len(plain_reader.pages)
    assert [page.extract_text() for page in final_reader.pages] == [
        page.extract_text() for page in plain_reader.pages
    ]
    assert [page.mediabox for page in final_reader.pages] == [
        page.mediabox for page in plain_reader.pages
    ]
    # One attachment, factur-x.xml, declared as the document's data (PDF/A-3 /AF).
    root = final_reader.trailer["/Root"]
    assert [attachment.name for attachment in final_reader.attachment_list] == ["factur-x.xml"]
    (filespec,) = [spec.get_object() for spec in root["/AF"]]
    assert filespec["/AFRelationship"] == "/Data"
    # PDF/A-3b still, with the Factur-X XMP extension (EN 16931 conformance level).
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert "pdfaid:part>3<" in xmp.replace('"', "<").replace("'", "<") or "pdfaid:part=" in xmp
    assert "<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>" in xmp
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    assert "<fx:DocumentType>INVOICE</fx:DocumentType>" in xmp
    assert "/OutputIntents" in root


def test_an_xml_failing_the_xsd_stores_no_pdf(owner, issue, monkeypatch):
    invoice = issue(owner.organisation)
    real = invoice_facturx.invoice_xml

    def without_grand_total(inv):
        return re.sub(rb"\s*<ram:GrandTotalAmount>[^<]*</ram:GrandTotalAmount>", b"", real(inv))

    monkeypatch.setattr(invoice_facturx, "invoice_xml", without_grand_total)
    with pytest.raises(Exception, match="XML Schema Definition"):
        pdf.invoice_pdf_ensure(invoice_id=invoice.pk)
    assert not Invoice.objects.get(pk=invoice.pk).pdf_name
    documents = storages["documents"]
    assert not documents.exists("invoices") or documents.listdir("invoices") == ([], [])
    # Fixed, the next call renders and stores it.
    monkeypatch.setattr(invoice_facturx, "invoice_xml", real)
    assert pdf.invoice_pdf_ensure(invoice_id=invoice.pk).pdf_name


# --- Download ----------------------------------------------------------------------------------


def test_xml_download_is_the_embedded_xml(owner, issue, client_for):
    invoice = issue(owner.organisation)
    response = client_for(owner).get(f"/billing/invoices/{invoice.number}/factur-x.xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.xml"'
    assert "private" in response["Cache-Control"]
    _name, embedded = facturx.get_xml_from_pdf(stored_pdf(invoice))
    assert response.content == embedded
    facturx.xml_check_xsd(response.content, flavor="factur-x", level="en16931")


def test_invoice_page_links_the_xml(owner, issue, client_for):
    invoice = issue(owner.organisation)
    html = client_for(owner).get(f"/billing/invoices/{invoice.number}/").content.decode()
    assert f'href="/billing/invoices/{invoice.number}/factur-x.xml"' in html
    assert "Factur-X (XML)" in html


@pytest.mark.parametrize(
    ("case", "buyer_address"),
    [("reverse_charge", ("DE136695976", "9930")), ("export", ("123456789", "9959"))],
)
def test_a_foreign_buyer_is_addressed_by_its_tax_number(db, case, buyer_address):
    """A foreign buyer has no SIREN to be routed by, yet BR-FR-12 wants its BT-49: its
    VAT number (Peppol's VAT scheme of its country) or, in the US, its EIN. The seller
    keeps its SIREN (BT-34, 0225)."""
    document, _ = issue_case(case)
    root = etree.fromstring(invoice_facturx.invoice_xml(document))
    (seller,) = root.xpath(f"{SELLER}/ram:URIUniversalCommunication/ram:URIID", namespaces=NS)
    assert (seller.text, seller.get("schemeID")) == ("552100554", "0225")
    (buyer,) = root.xpath(f"{BUYER}/ram:URIUniversalCommunication/ram:URIID", namespaces=NS)
    assert (buyer.text, buyer.get("schemeID")) == buyer_address


@pytest.mark.parametrize(
    ("country", "tax_number", "expected"),
    [
        ("SE", "SE556677889901", ("5566778899", "0007")),
        ("DK", "DK13585628", ("13585628", "0184")),
        ("GR", "EL094259216", ("EL094259216", "9933")),
        ("GB", "GB 123 4567 89", ("GB123456789", "9932")),
        ("CH", "CHE-123.456.788 MWST", None),
        ("US", "not an EIN", None),
        ("SE", "", None),
        ("JP", "T1234567890123", None),
    ],
)
def test_electronic_address_of_a_foreign_party(country, tax_number, expected):
    assert einvoice.electronic_address(siren="", country=country, tax_number=tax_number) == expected


def test_a_zero_vat_invoice_in_dollars_gives_its_vat_in_euros_too(db, issue):
    """BR-FR-CO-12: BT-6 (EUR) and BT-111, which without VAT is 0.00 EUR at any rate."""
    organisation = OrganisationFactory(country="US", vat_number="", currency="USD")
    root = etree.fromstring(invoice_facturx.invoice_xml(issue(organisation)))
    assert text(root, f"{SETTLEMENT}/ram:TaxCurrencyCode") == "EUR"
    assert text(root, f"{SETTLEMENT}/ram:InvoiceCurrencyCode") == "USD"
    amounts = root.xpath(f"{TOTALS}/ram:TaxTotalAmount", namespaces=NS)
    assert [(a.text, a.get("currencyID")) for a in amounts] == [("0.00", "USD"), ("0.00", "EUR")]
    # In euros, nothing more.
    root = etree.fromstring(
        invoice_facturx.invoice_xml(issue(OrganisationFactory(country="US", vat_number="")))
    )
    assert not root.xpath(f"{SETTLEMENT}/ram:TaxCurrencyCode", namespaces=NS)
