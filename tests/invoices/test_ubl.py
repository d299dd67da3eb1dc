"""UBL 2.1: each invoice and credit note also as a UBL document, the same EN 16931 data as
its Factur-X CII (the rule sets run in test_conformance.py)."""

from decimal import Decimal

import pytest
from lxml import etree

from invoices import facturx as invoice_facturx
from invoices import ubl
from invoices.references import rf_reference
from invoices.services import credit_note_issue

from .test_facturx import CASES, issue_case

NS = {**ubl.NS, "inv": ubl.NS_INVOICE, "cn": ubl.NS_CREDIT_NOTE, **invoice_facturx.NS}
CII_SETTLEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
CII_TOTALS = f"{CII_SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
CII_PARTY = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:{}TradeParty"


def values(root, path):
    return [str(value) for value in root.xpath(path, namespaces=NS)]


def both(document):
    return (
        etree.fromstring(ubl.invoice_xml(document)),
        etree.fromstring(invoice_facturx.invoice_xml(document)),
    )


def test_an_invoice_is_a_ubl_invoice_for_en16931_and_the_french_framework(db):
    invoice, _ = issue_case("domestic")
    root, _cii = both(invoice)
    assert root.tag == f"{{{ubl.NS_INVOICE}}}Invoice"
    assert values(root, "cbc:CustomizationID/text()") == ["urn:cen.eu:en16931:2017"]
    assert values(root, "cbc:ProfileID/text()") == ["S1"]  # BT-23, BR-FR-08
    assert values(root, "cbc:InvoiceTypeCode/text()") == ["380"]
    assert values(root, "cbc:DueDate/text()") == [invoice.due_date.isoformat()]
    assert values(root, "cac:PaymentMeans/cbc:PaymentMeansCode/text()") == ["58"]
    assert values(root, "cac:PaymentMeans/cbc:PaymentID/text()") == [rf_reference(invoice.number)]
    notes = values(root, "cbc:Note/text()")
    assert [note[:5] for note in notes] == ["#AAB#", "#PMD#", "#PMT#"]
    # Negative unit price (the unused period's credit): negative quantity, positive price.
    credit = root.xpath("cac:InvoiceLine[2]", namespaces=NS)[0]
    assert values(credit, "cbc:InvoicedQuantity/text()") == ["-1"]
    assert values(credit, "cac:Price/cbc:PriceAmount/text()") == ["1019.18"]
    assert values(credit, "cac:InvoicePeriod/cbc:EndDate/text()") == ["2027-02-28"]


def test_a_credit_note_is_a_ubl_credit_note_of_its_invoice_with_positive_amounts(db):
    credit_note, invoice = issue_case("credit_note")
    root, _cii = both(credit_note)
    assert root.tag == f"{{{ubl.NS_CREDIT_NOTE}}}CreditNote"
    assert values(root, "cbc:CreditNoteTypeCode/text()") == ["381"]
    reference = "cac:BillingReference/cac:InvoiceDocumentReference"
    assert values(root, f"{reference}/cbc:ID/text()") == [invoice.number]
    assert values(root, f"{reference}/cbc:IssueDate/text()") == [invoice.issue_date.isoformat()]
    payable = Decimal(values(root, "cac:LegalMonetaryTotal/cbc:PayableAmount/text()")[0])
    assert payable == -credit_note.total > 0
    assert len(root.xpath("cac:CreditNoteLine", namespaces=NS)) == 3
    # No IBAN on a credit note; its BT-9 in the only place UBL 2.1 has for it.
    assert not root.xpath("//cac:PayeeFinancialAccount", namespaces=NS)
    assert values(root, "cac:PaymentMeans/cbc:PaymentMeansCode/text()") == ["97"]
    assert values(root, "cac:PaymentMeans/cbc:PaymentDueDate/text()") == [
        credit_note.due_date.isoformat()
    ]


@pytest.mark.parametrize("case", CASES)
def test_ubl_carries_the_same_data_as_the_cii(db, case):
    document, _ = issue_case(case)
    root, cii = both(document)
    assert values(root, "cbc:ID/text()") == values(cii, "rsm:ExchangedDocument/ram:ID/text()")
    for ubl_total, cii_total in [
        ("LineExtensionAmount", "LineTotalAmount"),
        ("TaxExclusiveAmount", "TaxBasisTotalAmount"),
        ("TaxInclusiveAmount", "GrandTotalAmount"),
        ("PayableAmount", "DuePayableAmount"),
    ]:
        assert values(root, f"cac:LegalMonetaryTotal/cbc:{ubl_total}/text()") == values(
            cii, f"{CII_TOTALS}/ram:{cii_total}/text()"
        ), ubl_total
    assert values(root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID/text()") == values(
        cii, f"{CII_SETTLEMENT}/ram:ApplicableTradeTax/ram:CategoryCode/text()"
    )
    for ubl_party, cii_party in [("Supplier", "Seller"), ("Customer", "Buyer")]:
        party = f"cac:Accounting{ubl_party}Party/cac:Party"
        cii_path = CII_PARTY.format(cii_party)
        for node in ("text()", "@schemeID"):
            assert values(root, f"{party}/cbc:EndpointID/{node}") == values(
                cii, f"{cii_path}/ram:URIUniversalCommunication/ram:URIID/{node}"
            )
        assert values(root, f"{party}/cac:PartyLegalEntity/cbc:RegistrationName/text()") == (
            values(cii, f"{cii_path}/ram:Name/text()")
        )
    assert values(root, "//cbc:Note/text()") == [
        f"#{subject}#{content}"
        for content, subject in zip(
            values(cii, "//ram:IncludedNote/ram:Content/text()"),
            values(cii, "//ram:IncludedNote/ram:SubjectCode/text()"),
            strict=True,
        )
    ]


def test_ubl_is_deterministic(db):
    invoice, _ = issue_case("reverse_charge")
    assert ubl.invoice_xml(invoice) == ubl.invoice_xml(invoice)


# --- Download ----------------------------------------------------------------------------------


def test_owner_downloads_the_ubl(owner, issue, client_for):
    invoice = issue(owner.organisation)
    response = client_for(owner).get(f"/billing/invoices/{invoice.number}/ubl.xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert response["Content-Disposition"] == (f'attachment; filename="{invoice.number}-ubl.xml"')
    assert "private" in response["Cache-Control"]
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{ubl.NS_INVOICE}}}Invoice"
    assert values(root, "cbc:ID/text()") == [invoice.number]


def test_a_credit_note_downloads_as_a_ubl_credit_note(owner, issue, client_for):
    invoice = issue(owner.organisation)
    credit_note = credit_note_issue(invoice=invoice, actor=None, reason="Doublon")
    response = client_for(owner).get(f"/billing/invoices/{credit_note.number}/ubl.xml")
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="{credit_note.number}-ubl.xml"'
    )
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{ubl.NS_CREDIT_NOTE}}}CreditNote"
    reference = "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID/text()"
    assert values(root, reference) == [invoice.number]


def _downloads(html: str) -> dict[str, str]:
    """{link text: href} of the invoice page's download links."""
    page = etree.fromstring(html, etree.HTMLParser())
    return {
        " ".join("".join(link.itertext()).split()): link.get("href")
        for link in page.xpath('//*[contains(@class, "invoice-downloads")]//a')
    }


def test_invoice_page_offers_pdf_factur_x_and_ubl(owner, issue, client_for):
    invoice = issue(owner.organisation)
    html = client_for(owner).get(f"/billing/invoices/{invoice.number}/").content.decode()
    base = f"/billing/invoices/{invoice.number}/"
    assert _downloads(html) == {
        "Factur-X (XML)": f"{base}factur-x.xml",
        "UBL": f"{base}ubl.xml",
        f"Télécharger {invoice.number} (PDF)": f"{base}pdf/",
    }
