"""Factur-X: the invoice as EN 16931 data (UN/CEFACT CII XML), embedded in its PDF.

`invoice_xml()` writes the EN 16931 data of `invoices.einvoice` (built from the invoice's
snapshot alone) as CII, deterministically: the same invoice always gives the same bytes,
so the XML embedded in the stored PDF (invoices.pdf) and a fresh one can be compared.
Profile EN 16931 (Factur-X "EN 16931", formerly COMFORT). The choices of content (VAT
categories, credit notes' signs, prices) are the data's: see invoices/einvoice.py and
docs/invoices.md (Factur-X). `invoices.ubl` writes the same data as UBL 2.1.
"""

from datetime import date

from lxml import etree

from .einvoice import SCHEME_SIREN, UNIT_ONE, Delivery, Document, Party, Period, invoice_data
from .einvoice import format_amount as _amount
from .einvoice import format_price as _price
from .einvoice import format_quantity as _quantity
from .models import Invoice

FLAVOR = "factur-x"
LEVEL = "en16931"

SCHEME_VAT = "VA"
# BT-8, when the VAT becomes due (UNTDID 2475): on payment (services, by default) or on
# the invoice date (the seller opted for « TVA d'après les débits »).
VAT_DUE_ON_PAYMENT = "72"
VAT_DUE_ON_INVOICE = "5"

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}


def _el(parent, tag: str, text=None, **attrib):
    prefix, name = tag.split(":")
    element = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}", attrib)
    if text is not None:
        element.text = str(text)
    return element


def _date(parent, tag: str, day: date, qualified: bool = False):
    wrapper = _el(parent, tag)
    _el(
        wrapper,
        "qdt:DateTimeString" if qualified else "udt:DateTimeString",
        day.strftime("%Y%m%d"),
        format="102",
    )
    return wrapper


def _period(parent, period: Period | None):
    if period is None:
        return
    element = _el(parent, "ram:BillingSpecifiedPeriod")
    _date(element, "ram:StartDateTime", period.start)
    _date(element, "ram:EndDateTime", period.end)


def _address(parent, party: Party | Delivery):
    address = _el(parent, "ram:PostalTradeAddress")
    if party.postcode:
        _el(address, "ram:PostcodeCode", party.postcode)
    # CII has three street lines; a fourth (never produced by our forms) joins the third.
    street = list(party.street)
    street = street[:2] + [", ".join(street[2:])] if len(street) > 3 else street
    for tag, line in zip(("ram:LineOne", "ram:LineTwo", "ram:LineThree"), street, strict=False):
        _el(address, tag, line)
    if party.city:
        _el(address, "ram:CityName", party.city)
    _el(address, "ram:CountryID", party.country)


def _party(parent, tag: str, party: Party):
    element = _el(parent, tag)
    _el(element, "ram:Name", party.name)
    if party.description:
        _el(element, "ram:Description", party.description)
    if party.siren:
        organisation = _el(element, "ram:SpecifiedLegalOrganization")
        _el(organisation, "ram:ID", party.siren, schemeID=SCHEME_SIREN)
    _address(element, party)
    if party.electronic_address:  # after the postal one (CII order)
        communication = _el(element, "ram:URIUniversalCommunication")
        address, scheme = party.electronic_address
        _el(communication, "ram:URIID", address, schemeID=scheme)
    if party.vat:
        registration = _el(element, "ram:SpecifiedTaxRegistration")
        _el(registration, "ram:ID", party.vat, schemeID=SCHEME_VAT)
    return element


def invoice_xml(invoice: Invoice) -> bytes:
    """The invoice (or credit note) as Factur-X EN 16931 CII XML, UTF-8."""
    return document_xml(invoice_data(invoice))


def document_xml(data: Document) -> bytes:
    """EN 16931 data as CII XML, UTF-8."""
    root = etree.Element(f"{{{NS['rsm']}}}CrossIndustryInvoice", nsmap=NS)
    context = _el(root, "rsm:ExchangedDocumentContext")
    business_process = _el(context, "ram:BusinessProcessSpecifiedDocumentContextParameter")
    _el(business_process, "ram:ID", data.framework)
    guideline = _el(context, "ram:GuidelineSpecifiedDocumentContextParameter")
    _el(guideline, "ram:ID", data.specification)

    document = _el(root, "rsm:ExchangedDocument")
    _el(document, "ram:ID", data.number)
    _el(document, "ram:TypeCode", data.type_code)
    _date(document, "ram:IssueDateTime", data.issue_date)
    for note in data.notes:
        element = _el(document, "ram:IncludedNote")
        _el(element, "ram:Content", note.content)
        _el(element, "ram:SubjectCode", note.subject)

    transaction = _el(root, "rsm:SupplyChainTradeTransaction")
    for line in data.lines:
        item = _el(transaction, "ram:IncludedSupplyChainTradeLineItem")
        _el(_el(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", line.id)
        _el(_el(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.name)
        agreement = _el(item, "ram:SpecifiedLineTradeAgreement")
        price = _el(agreement, "ram:NetPriceProductTradePrice")
        _el(price, "ram:ChargeAmount", _price(line.price))
        delivery = _el(item, "ram:SpecifiedLineTradeDelivery")
        _el(delivery, "ram:BilledQuantity", _quantity(line.quantity), unitCode=UNIT_ONE)
        settlement = _el(item, "ram:SpecifiedLineTradeSettlement")
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:TypeCode", "VAT")
        _el(tax, "ram:CategoryCode", data.vat[0].category)
        _el(tax, "ram:RateApplicablePercent", _amount(line.vat_rate))
        _period(settlement, line.period)
        summation = _el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _el(summation, "ram:LineTotalAmount", _amount(line.amount))

    agreement = _el(transaction, "ram:ApplicableHeaderTradeAgreement")
    if data.buyer_reference:
        _el(agreement, "ram:BuyerReference", data.buyer_reference)
    _party(agreement, "ram:SellerTradeParty", data.seller)
    _party(agreement, "ram:BuyerTradeParty", data.buyer)
    if data.order_reference:
        order = _el(agreement, "ram:BuyerOrderReferencedDocument")
        _el(order, "ram:IssuerAssignedID", data.order_reference)
    # Required by the XSD, empty when every line has its period and the services were
    # delivered at the billing address.
    delivery = _el(transaction, "ram:ApplicableHeaderTradeDelivery")
    if data.deliver_to:
        ship_to = _el(delivery, "ram:ShipToTradeParty")
        _el(ship_to, "ram:Name", data.deliver_to.name)
        _address(ship_to, data.deliver_to)
    if data.delivery_date:
        event = _el(delivery, "ram:ActualDeliverySupplyChainEvent")
        _date(event, "ram:OccurrenceDateTime", data.delivery_date)

    settlement = _el(transaction, "ram:ApplicableHeaderTradeSettlement")
    if data.payment_reference:
        _el(settlement, "ram:PaymentReference", data.payment_reference)
    if data.accounting_currency:
        _el(settlement, "ram:TaxCurrencyCode", data.accounting_currency)
    _el(settlement, "ram:InvoiceCurrencyCode", data.currency)
    if data.payment_account:
        means = _el(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        _el(means, "ram:TypeCode", data.payment_account.means_code)
        account = _el(means, "ram:PayeePartyCreditorFinancialAccount")
        _el(account, "ram:IBANID", data.payment_account.iban)
        if data.payment_account.bic:
            institution = _el(means, "ram:PayeeSpecifiedCreditorFinancialInstitution")
            _el(institution, "ram:BICID", data.payment_account.bic)

    for vat in data.vat:
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:CalculatedAmount", _amount(vat.amount))
        _el(tax, "ram:TypeCode", "VAT")
        if vat.exemption_reason:
            _el(tax, "ram:ExemptionReason", vat.exemption_reason)
        _el(tax, "ram:BasisAmount", _amount(vat.basis))
        _el(tax, "ram:CategoryCode", vat.category)
        if vat.exemption_reason_code:
            _el(tax, "ram:ExemptionReasonCode", vat.exemption_reason_code)
        if data.vat_on_invoice_date is not None:
            due = VAT_DUE_ON_INVOICE if data.vat_on_invoice_date else VAT_DUE_ON_PAYMENT
            _el(tax, "ram:DueDateTypeCode", due)
        _el(tax, "ram:RateApplicablePercent", _amount(vat.rate))

    _period(settlement, data.period)
    terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
    _date(terms, "ram:DueDateDateTime", data.due_date)

    totals = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(totals, "ram:LineTotalAmount", _amount(data.totals.lines))
    _el(totals, "ram:TaxBasisTotalAmount", _amount(data.totals.tax_basis))
    _el(totals, "ram:TaxTotalAmount", _amount(data.totals.vat), currencyID=data.currency)
    if data.totals.vat_in_accounting_currency is not None:
        _el(
            totals,
            "ram:TaxTotalAmount",
            _amount(data.totals.vat_in_accounting_currency),
            currencyID=data.accounting_currency,
        )
    _el(totals, "ram:GrandTotalAmount", _amount(data.totals.grand_total))
    _el(totals, "ram:DuePayableAmount", _amount(data.totals.payable))

    if data.preceding:
        reference = _el(settlement, "ram:InvoiceReferencedDocument")
        _el(reference, "ram:IssuerAssignedID", data.preceding.number)
        _date(reference, "ram:FormattedIssueDateTime", data.preceding.issue_date, qualified=True)

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def check_xsd(xml: bytes) -> None:
    """Raise unless `xml` is valid against the Factur-X EN 16931 XSD (no Schematron here)."""
    import facturx

    facturx.xml_check_xsd(xml, flavor=FLAVOR, level=LEVEL)


def embed(pdf: bytes, xml: bytes, invoice: Invoice, *, title: str) -> bytes:
    """The PDF/A-3b `pdf` with `xml` attached as factur-x.xml (AFRelationship "Data") and
    the Factur-X XMP metadata; the XML is checked against the XSD first."""
    import facturx

    return facturx.generate_from_binary(
        pdf,
        xml,
        flavor=FLAVOR,
        level=LEVEL,
        check_xsd=True,
        pdf_metadata={
            "author": invoice.seller_legal_name,
            "title": title,
            "subject": f"{title} · {invoice.buyer_legal_name}",
            "keywords": f"{title}, Factur-X",
        },
        lang=invoice.language,
    )


def xml_from_pdf(pdf: bytes, *, check_xsd: bool = True) -> bytes | None:
    """The factur-x.xml embedded in a PDF (checked against the XSD unless told not), or None."""
    import facturx

    _name, xml = facturx.get_facturx_xml_from_pdf(pdf, check_xsd=check_xsd)
    return xml or None
