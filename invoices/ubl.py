"""UBL: the invoice as EN 16931 data in OASIS UBL 2.1 syntax, the other one platforms take.

`invoice_xml()` writes the same EN 16931 data as the Factur-X CII (`invoices.einvoice`),
an `Invoice` document for an invoice and a `CreditNote` one for a credit note, bound as
EN 16931-3-2 says. Where the French rules (BR-FR Flux 2) and Peppol BIS Billing 3 differ,
the French rules win: BT-23, the billing framework (S1), is the ProfileID, where Peppol
would put its own process identifier; BT-24, the CustomizationID, is EN 16931's. Details
in docs/invoices.md (UBL).
"""

from datetime import date

from lxml import etree

from .einvoice import SCHEME_SIREN, UNIT_ONE, Delivery, Document, Party, Period, invoice_data
from .einvoice import format_amount as _amount
from .einvoice import format_price as _price
from .einvoice import format_quantity as _quantity
from .models import Invoice

NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
# BT-8, when the VAT becomes due, in UBL's code list (UNTDID 2005, not CII's 2475): 3 on
# the invoice date (VAT on debits), 432 on payment (« paid to date »).
VAT_DUE_ON_PAYMENT = "432"
VAT_DUE_ON_INVOICE = "3"
# BT-9 of a credit note: UBL 2.1's CreditNote has no DueDate, EN 16931 puts it in a
# payment means (BG-16). A credit note asks for no transfer: UNTDID 4461 code 97,
# « clearing between partners », what a credit note against an invoice is.
CLEARING_BETWEEN_PARTNERS = "97"


def _el(parent, tag: str, text=None, **attrib):
    prefix, name = tag.split(":")
    element = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}", attrib)
    if text is not None:
        element.text = str(text)
    return element


def _day(day: date) -> str:
    return day.isoformat()


def _period(parent, period: Period | None, vat_due: str = ""):
    if period is None and not vat_due:
        return
    element = _el(parent, "cac:InvoicePeriod")
    if period is not None:
        _el(element, "cbc:StartDate", _day(period.start))
        _el(element, "cbc:EndDate", _day(period.end))
    if vat_due:
        _el(element, "cbc:DescriptionCode", vat_due)


def _address(parent, tag: str, place: Party | Delivery):
    postal = _el(parent, tag)
    # UBL has two street names and free address lines: a third and later lines join one.
    street = list(place.street)
    for tag_name, line in zip(("cbc:StreetName", "cbc:AdditionalStreetName"), street, strict=False):
        _el(postal, tag_name, line)
    if place.city:
        _el(postal, "cbc:CityName", place.city)
    if place.postcode:
        _el(postal, "cbc:PostalZone", place.postcode)
    if len(street) > 2:
        _el(_el(postal, "cac:AddressLine"), "cbc:Line", ", ".join(street[2:]))
    _el(_el(postal, "cac:Country"), "cbc:IdentificationCode", place.country)


def _party(parent, tag: str, party: Party):
    element = _el(_el(parent, tag), "cac:Party")
    if party.electronic_address:
        address, scheme = party.electronic_address
        _el(element, "cbc:EndpointID", address, schemeID=scheme)
    _address(element, "cac:PostalAddress", party)
    if party.vat:
        scheme = _el(element, "cac:PartyTaxScheme")
        _el(scheme, "cbc:CompanyID", party.vat)
        _el(_el(scheme, "cac:TaxScheme"), "cbc:ID", "VAT")
    legal = _el(element, "cac:PartyLegalEntity")
    _el(legal, "cbc:RegistrationName", party.name)
    if party.siren:
        _el(legal, "cbc:CompanyID", party.siren, schemeID=SCHEME_SIREN)
    if party.description:
        _el(legal, "cbc:CompanyLegalForm", party.description)


def invoice_xml(invoice: Invoice, *, lines: list | None = None) -> bytes:
    """The invoice (or credit note) as UBL 2.1 XML (EN 16931), UTF-8. `lines`: see
    `invoices.einvoice.invoice_data`."""
    return document_xml(invoice_data(invoice, lines=lines))


def document_xml(data: Document) -> bytes:
    """EN 16931 data as a UBL 2.1 Invoice or CreditNote, UTF-8."""
    credit = data.is_credit_note
    root_ns = NS_CREDIT_NOTE if credit else NS_INVOICE
    root = etree.Element(
        f"{{{root_ns}}}{'CreditNote' if credit else 'Invoice'}", nsmap={None: root_ns, **NS}
    )
    currency = data.currency
    _el(root, "cbc:CustomizationID", data.specification)
    _el(root, "cbc:ProfileID", data.framework)
    _el(root, "cbc:ID", data.number)
    _el(root, "cbc:IssueDate", _day(data.issue_date))
    if not credit:
        _el(root, "cbc:DueDate", _day(data.due_date))
    _el(root, "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode", data.type_code)
    for note in data.notes:  # EN 16931-3-2: the subject code (BT-21) as "#CODE#" first
        _el(root, "cbc:Note", f"#{note.subject}#{note.content}")
    _el(root, "cbc:DocumentCurrencyCode", currency)
    if data.accounting_currency:
        _el(root, "cbc:TaxCurrencyCode", data.accounting_currency)
    if data.buyer_reference:
        _el(root, "cbc:BuyerReference", data.buyer_reference)
    vat_due = ""
    if data.vat_on_invoice_date is not None:
        vat_due = VAT_DUE_ON_INVOICE if data.vat_on_invoice_date else VAT_DUE_ON_PAYMENT
    _period(root, data.period, vat_due)
    if data.order_reference:
        _el(_el(root, "cac:OrderReference"), "cbc:ID", data.order_reference)
    if data.preceding:
        reference = _el(_el(root, "cac:BillingReference"), "cac:InvoiceDocumentReference")
        _el(reference, "cbc:ID", data.preceding.number)
        _el(reference, "cbc:IssueDate", _day(data.preceding.issue_date))
    _party(root, "cac:AccountingSupplierParty", data.seller)
    _party(root, "cac:AccountingCustomerParty", data.buyer)
    if data.deliver_to or data.delivery_date:
        delivery = _el(root, "cac:Delivery")
        if data.delivery_date:
            _el(delivery, "cbc:ActualDeliveryDate", _day(data.delivery_date))
        if data.deliver_to:
            location = _el(delivery, "cac:DeliveryLocation")
            _address(location, "cac:Address", data.deliver_to)
            party = _el(delivery, "cac:DeliveryParty")
            _el(_el(party, "cac:PartyName"), "cbc:Name", data.deliver_to.name)

    if data.payment_account:
        means = _el(root, "cac:PaymentMeans")
        _el(means, "cbc:PaymentMeansCode", data.payment_account.means_code)
        if data.payment_reference:
            _el(means, "cbc:PaymentID", data.payment_reference)
        account = _el(means, "cac:PayeeFinancialAccount")
        _el(account, "cbc:ID", data.payment_account.iban)
        if data.payment_account.bic:
            branch = _el(account, "cac:FinancialInstitutionBranch")
            _el(branch, "cbc:ID", data.payment_account.bic)
    elif credit:
        means = _el(root, "cac:PaymentMeans")
        _el(means, "cbc:PaymentMeansCode", CLEARING_BETWEEN_PARTNERS)
        _el(means, "cbc:PaymentDueDate", _day(data.due_date))

    tax_total = _el(root, "cac:TaxTotal")
    _el(tax_total, "cbc:TaxAmount", _amount(data.totals.vat), currencyID=currency)
    for vat in data.vat:
        subtotal = _el(tax_total, "cac:TaxSubtotal")
        _el(subtotal, "cbc:TaxableAmount", _amount(vat.basis), currencyID=currency)
        _el(subtotal, "cbc:TaxAmount", _amount(vat.amount), currencyID=currency)
        category = _el(subtotal, "cac:TaxCategory")
        _el(category, "cbc:ID", vat.category)
        _el(category, "cbc:Percent", _amount(vat.rate))
        if vat.exemption_reason_code:
            _el(category, "cbc:TaxExemptionReasonCode", vat.exemption_reason_code)
        if vat.exemption_reason:
            _el(category, "cbc:TaxExemptionReason", vat.exemption_reason)
        _el(_el(category, "cac:TaxScheme"), "cbc:ID", "VAT")
    if data.totals.vat_in_accounting_currency is not None:  # BT-111: a TaxTotal alone
        _el(
            _el(root, "cac:TaxTotal"),
            "cbc:TaxAmount",
            _amount(data.totals.vat_in_accounting_currency),
            currencyID=data.accounting_currency,
        )

    totals = _el(root, "cac:LegalMonetaryTotal")
    _el(totals, "cbc:LineExtensionAmount", _amount(data.totals.lines), currencyID=currency)
    _el(totals, "cbc:TaxExclusiveAmount", _amount(data.totals.tax_basis), currencyID=currency)
    _el(totals, "cbc:TaxInclusiveAmount", _amount(data.totals.grand_total), currencyID=currency)
    _el(totals, "cbc:PayableAmount", _amount(data.totals.payable), currencyID=currency)

    category = data.vat[0].category
    for line in data.lines:
        element = _el(root, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")
        _el(element, "cbc:ID", line.id)
        _el(
            element,
            "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity",
            _quantity(line.quantity),
            unitCode=UNIT_ONE,
        )
        _el(element, "cbc:LineExtensionAmount", _amount(line.amount), currencyID=currency)
        _period(element, line.period)
        item = _el(element, "cac:Item")
        _el(item, "cbc:Name", line.name)
        tax = _el(item, "cac:ClassifiedTaxCategory")
        _el(tax, "cbc:ID", category)
        _el(tax, "cbc:Percent", _amount(line.vat_rate))
        _el(_el(tax, "cac:TaxScheme"), "cbc:ID", "VAT")
        _el(_el(element, "cac:Price"), "cbc:PriceAmount", _price(line.price), currencyID=currency)

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
