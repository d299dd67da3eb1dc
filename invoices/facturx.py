"""Factur-X: the invoice as EN 16931 data (UN/CEFACT CII XML), embedded in its PDF.

`invoice_xml()` builds the XML from the invoice's snapshot alone (never from the account
as it is today), deterministically: the same invoice always gives the same bytes, so the
XML embedded in the stored PDF (invoices.pdf) and a fresh one can be compared.

Profile EN 16931 (Factur-X "EN 16931", formerly COMFORT). Choices, documented in
docs/invoices.md (Factur-X):

- VAT categories: S for French VAT (a French customer, or an EU one without a valid VAT
  number); AE for the reverse charge, with « Autoliquidation » and VATEX-EU-AE; G for a
  customer outside the EU (art. 259-1 du CGI), with the printed mention and VATEX-EU-G.
  Not O: EN 16931 rule BR-O-02 forbids the seller's VAT number on an "O" invoice, and
  ours must carry it.
- Credit notes: type code 381 and POSITIVE amounts, the sign being carried by the type.
  Our credit notes store their lines negated (a sum of the books), so every amount is
  multiplied by -1 here; the corrected invoice is referenced (number and date).
- Item net prices are never negative (BR-27): a line with a negative unit price (a credit
  for an unused period) is written with a negative quantity and a positive price.
"""

import re
from datetime import date
from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext as _
from lxml import etree

from accounts.addresses import country_name
from accounts.vat import vat_prefix
from billing_portal.formatting import last_day

from .models import Invoice
from .tax import Treatment

GUIDELINE = "urn:cen.eu:en16931:2017"
FLAVOR = "factur-x"
LEVEL = "en16931"

TYPE_INVOICE = "380"
TYPE_CREDIT_NOTE = "381"
SEPA_CREDIT_TRANSFER = "58"
UNIT_ONE = "C62"  # UN/ECE rec. 20: "one" (a unit, a service)
SCHEME_VAT = "VA"
SCHEME_SIREN = "0002"  # ISO 6523 ICD of the French SIRENE register
# EAS code of the French e-invoicing directory: a French company's electronic address
# (BT-34 seller, BT-49 buyer) is its SIREN, which the platforms route invoices by.
SCHEME_FR_ADDRESS = "0225"
# A foreign buyer is in no French directory, yet BR-FR-12 wants its BT-49: its VAT number
# (or the registration number inside it) under the EAS code of that country's scheme, as
# Peppol addresses businesses. VAT-number schemes take the number with its prefix.
VAT_ADDRESS_SCHEMES = {
    "AT": "9914",
    "BE": "9925",
    "BG": "9926",
    "CY": "9928",
    "CZ": "9929",
    "DE": "9930",
    "EE": "9931",
    "ES": "9920",
    "GB": "9932",
    "GR": "9933",
    "HR": "9934",
    "HU": "9910",
    "IE": "9935",
    "IT": "0211",
    "LT": "9937",
    "LU": "9938",
    "LV": "9939",
    "MT": "9943",
    "NL": "9944",
    "PL": "9945",
    "PT": "9946",
    "RO": "9947",
    "SI": "9949",
    "SK": "9950",
}
# Registration-number schemes: (EAS code, the number as a regex group of the VAT number).
REGISTRATION_ADDRESS_SCHEMES = {
    "DK": ("0184", re.compile(r"DK(\d{8})")),  # CVR, which the DK VAT number is
    "FI": ("0213", re.compile(r"(FI\d{8})")),  # the Finnish VAT number itself
    "SE": ("0007", re.compile(r"SE(\d{10})01")),  # organisationsnummer
    "US": ("9959", re.compile(r"(\d{2})-?(\d{7})")),  # Employer Identification Number
}
# BT-23, the billing framework (« cadre de facturation ») of the French reform: S1, an
# invoice for services, not paid yet (S2 would be already paid, S4 final after a deposit).
BILLING_FRAMEWORK = "S1"
# BT-6, the VAT accounting currency: the seller's books are in euros.
ACCOUNTING_CURRENCY = "EUR"
# BT-8, when the VAT becomes due: on payment (services, by default) or on the invoice date
# (the seller opted for « TVA d'après les débits »).
VAT_DUE_ON_PAYMENT = "72"
VAT_DUE_ON_INVOICE = "5"

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}

CENT = Decimal("0.01")


def _el(parent, tag: str, text=None, **attrib):
    prefix, name = tag.split(":")
    element = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}", attrib)
    if text is not None:
        element.text = str(text)
    return element


def _amount(value: Decimal) -> str:
    """Two decimals, a point, no sign on zero: 1020.00, -12.50, 0.00."""
    value = Decimal(value).quantize(CENT)
    return f"{abs(value) if value == 0 else value:f}"


def _price(value: Decimal) -> str:
    """A unit price: two decimals, up to the four the invoice may hold."""
    value = Decimal(value)
    places = max(2, -value.normalize().as_tuple().exponent)
    return f"{value:.{places}f}"


def _quantity(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


def _date(parent, tag: str, day: date, qualified: bool = False):
    wrapper = _el(parent, tag)
    _el(
        wrapper,
        "qdt:DateTimeString" if qualified else "udt:DateTimeString",
        day.strftime("%Y%m%d"),
        format="102",
    )
    return wrapper


def _period(parent, start: date | None, end: date | None):
    """Our periods are half-open [start, end); EN 16931's end date is the last day."""
    if start is None:
        return
    period = _el(parent, "ram:BillingSpecifiedPeriod")
    _date(period, "ram:StartDateTime", start)
    _date(period, "ram:EndDateTime", last_day(end))


POSTCODE_FIRST = re.compile(r"(\d[\d -]*\d)\s+(\D.*)")


def split_address(lines: list[str], country: str) -> tuple[list[str], str, str]:
    """(street lines, postcode, city) from an address as printed, for the seller (settings
    keep it as lines) and invoices issued before the buyer's parts were recorded."""
    names = {country_name(country, language).casefold() for language in ("fr", "en")}
    lines = [line.strip() for line in lines if line and line.strip()]
    if lines and lines[-1].casefold() in names:
        lines = lines[:-1]
    if not lines:
        return [], "", ""
    *street, town = lines
    match = POSTCODE_FIRST.fullmatch(town)
    if match:
        return street, match.group(1), match.group(2)
    return street, "", town


def _address(parent, street: list[str], postcode: str, city: str, country: str):
    address = _el(parent, "ram:PostalTradeAddress")
    if postcode:
        _el(address, "ram:PostcodeCode", postcode)
    # CII has three street lines; a fourth (never produced by our forms) joins the third.
    street = street[:2] + [", ".join(street[2:])] if len(street) > 3 else street
    for tag, line in zip(("ram:LineOne", "ram:LineTwo", "ram:LineThree"), street, strict=False):
        _el(address, tag, line)
    if city:
        _el(address, "ram:CityName", city)
    _el(address, "ram:CountryID", country)


def _vat_identifier(number: str, country: str) -> str:
    """A VAT identifier as EN 16931 wants it (BR-CO-9: prefixed by its country), or ''.

    Outside the EU the account may hold any tax identifier (a US EIN...): printed on the
    PDF, but not declared a VAT number in the XML unless it has the country prefix."""
    number = (number or "").strip()
    return number if number[:2].upper() == vat_prefix(country) else ""


def electronic_address(*, siren: str, country: str, tax_number: str) -> tuple[str, str] | None:
    """(address, EAS scheme) of a party (BT-34, BT-49), or None when nothing identifies it:
    a French company by its SIREN, a foreign one by its VAT or registration number."""
    if siren and country == "FR":
        return siren, SCHEME_FR_ADDRESS
    number = re.sub(r"[^A-Z0-9-]", "", (tax_number or "").upper())
    if country in VAT_ADDRESS_SCHEMES and number[:2] == vat_prefix(country):
        return number.replace("-", ""), VAT_ADDRESS_SCHEMES[country]
    if country in REGISTRATION_ADDRESS_SCHEMES:
        scheme, pattern = REGISTRATION_ADDRESS_SCHEMES[country]
        match = pattern.fullmatch(number)
        if match:
            return "".join(match.groups()), scheme
    return None


def _party(
    parent, tag: str, *, name, description, siren, street, postcode, city, country, vat, address
):
    party = _el(parent, tag)
    _el(party, "ram:Name", name)
    if description:
        _el(party, "ram:Description", description)
    if siren:
        organisation = _el(party, "ram:SpecifiedLegalOrganization")
        _el(organisation, "ram:ID", siren, schemeID=SCHEME_SIREN)
    _address(party, street, postcode, city, country)
    if address:  # the electronic address, after the postal one (CII order)
        communication = _el(party, "ram:URIUniversalCommunication")
        _el(communication, "ram:URIID", address[0], schemeID=address[1])
    if vat:
        registration = _el(party, "ram:SpecifiedTaxRegistration")
        _el(registration, "ram:ID", vat, schemeID=SCHEME_VAT)
    return party


def _buyer_address(invoice: Invoice) -> tuple[list[str], str, str]:
    if invoice.buyer_city or invoice.buyer_postal_code or invoice.buyer_street_lines:
        return list(invoice.buyer_street_lines), invoice.buyer_postal_code, invoice.buyer_city
    return split_address(invoice.buyer_address_lines, invoice.buyer_country)


def vat_category(invoice: Invoice) -> tuple[str, str, str]:
    """(category code, exemption reason, exemption reason code) of the invoice's treatment,
    the reason in the active language."""
    if invoice.tax_treatment == Treatment.EU_REVERSE_CHARGE:
        return "AE", _("Autoliquidation"), "VATEX-EU-AE"
    if invoice.tax_treatment == Treatment.OUTSIDE_EU:
        reason = invoice.tax_mention or _("TVA non applicable, art. 259-1 du CGI")
        return "G", reason, "VATEX-EU-G"
    return "S", "", ""


def _notes(document, invoice: Invoice):
    """The mentions printed on the PDF, as notes (UNTDID 4451 subject codes)."""
    notes = []
    if invoice.tax_mention:
        notes.append((invoice.tax_mention, "TXD"))
    # The payment terms of the French rules (BR-FR-05), on credit notes as well: a credit
    # note is a corrective invoice, and the reform checks the three on every document.
    notes += [
        (_("Pas d'escompte pour paiement anticipé."), "AAB"),
        (
            _(
                "En cas de retard de paiement, des pénalités sont exigibles au taux "
                "d'intérêt de la Banque centrale européenne majoré de 10 points "
                "(art. L. 441-10 du Code de commerce)."
            ),
            "PMD",
        ),
        (
            _(
                "Indemnité forfaitaire pour frais de recouvrement : 40 € "
                "(art. D. 441-5 du Code de commerce)."
            ),
            "PMT",
        ),
    ]
    for content, subject in notes:
        note = _el(document, "ram:IncludedNote")
        _el(note, "ram:Content", content)
        _el(note, "ram:SubjectCode", subject)


def invoice_xml(invoice: Invoice) -> bytes:
    """The invoice (or credit note) as Factur-X EN 16931 CII XML, UTF-8."""
    with translation.override(invoice.language):
        return _build(invoice)


def _build(invoice: Invoice) -> bytes:
    # EN 16931 carries a credit note's sign in its type code: its amounts are positive.
    sign = -1 if invoice.is_credit_note else 1
    category, reason, reason_code = vat_category(invoice)
    lines = list(invoice.lines.order_by("position"))

    root = etree.Element(f"{{{NS['rsm']}}}CrossIndustryInvoice", nsmap=NS)
    context = _el(root, "rsm:ExchangedDocumentContext")
    business_process = _el(context, "ram:BusinessProcessSpecifiedDocumentContextParameter")
    _el(business_process, "ram:ID", BILLING_FRAMEWORK)
    guideline = _el(context, "ram:GuidelineSpecifiedDocumentContextParameter")
    _el(guideline, "ram:ID", GUIDELINE)

    document = _el(root, "rsm:ExchangedDocument")
    _el(document, "ram:ID", invoice.number)
    _el(document, "ram:TypeCode", TYPE_CREDIT_NOTE if invoice.is_credit_note else TYPE_INVOICE)
    _date(document, "ram:IssueDateTime", invoice.issue_date)
    _notes(document, invoice)

    transaction = _el(root, "rsm:SupplyChainTradeTransaction")
    for line in lines:
        amount = sign * line.amount
        price = abs(line.unit_price)
        quantity = line.quantity if sign * line.unit_price >= 0 else -line.quantity
        item = _el(transaction, "ram:IncludedSupplyChainTradeLineItem")
        _el(_el(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", line.position)
        _el(_el(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.description)
        agreement = _el(item, "ram:SpecifiedLineTradeAgreement")
        _el(_el(agreement, "ram:NetPriceProductTradePrice"), "ram:ChargeAmount", _price(price))
        delivery = _el(item, "ram:SpecifiedLineTradeDelivery")
        _el(delivery, "ram:BilledQuantity", _quantity(quantity), unitCode=UNIT_ONE)
        settlement = _el(item, "ram:SpecifiedLineTradeSettlement")
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:TypeCode", "VAT")
        _el(tax, "ram:CategoryCode", category)
        _el(tax, "ram:RateApplicablePercent", _amount(line.vat_rate))
        _period(settlement, line.period_start, line.period_end)
        summation = _el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _el(summation, "ram:LineTotalAmount", _amount(amount))

    agreement = _el(transaction, "ram:ApplicableHeaderTradeAgreement")
    seller_street, seller_postcode, seller_city = split_address(
        invoice.seller_address_lines, invoice.seller_country
    )
    seller_vat = _vat_identifier(invoice.seller_vat_number, invoice.seller_country)
    _party(
        agreement,
        "ram:SellerTradeParty",
        name=invoice.seller_legal_name,
        description=" · ".join(filter(None, [invoice.seller_legal_form, invoice.seller_rcs])),
        siren=invoice.seller_siren,
        street=seller_street,
        postcode=seller_postcode,
        city=seller_city,
        country=invoice.seller_country,
        vat=seller_vat,
        address=electronic_address(
            siren=invoice.seller_siren, country=invoice.seller_country, tax_number=seller_vat
        ),
    )
    buyer_street, buyer_postcode, buyer_city = _buyer_address(invoice)
    _party(
        agreement,
        "ram:BuyerTradeParty",
        name=invoice.buyer_legal_name,
        description="",
        siren=invoice.buyer_siren,
        street=buyer_street,
        postcode=buyer_postcode,
        city=buyer_city,
        country=invoice.buyer_country,
        vat=_vat_identifier(invoice.buyer_vat_number, invoice.buyer_country),
        address=electronic_address(
            siren=invoice.buyer_siren,
            country=invoice.buyer_country,
            tax_number=invoice.buyer_vat_number,
        ),
    )
    # Services: no delivery address, no delivery date (the period says when).
    _el(transaction, "ram:ApplicableHeaderTradeDelivery")

    settlement = _el(transaction, "ram:ApplicableHeaderTradeSettlement")
    if not invoice.is_credit_note:
        # What to pay, where, quoting what. A credit note asks for no payment: it is taken
        # off an unpaid invoice or owed back to the customer, and the seller's IBAN on it
        # would read as an invitation to pay.
        _el(settlement, "ram:PaymentReference", invoice.number)
    # BT-6 and BT-111 (BR-FR-CO-12): an invoice in another currency gives its VAT in euros
    # too. Without VAT (reverse charge, export) that is 0.00 EUR whatever the rate; with
    # VAT it needs the day's exchange rate, which the invoice does not record (yet).
    vat_in_euros = invoice.currency != ACCOUNTING_CURRENCY and invoice.vat_amount == 0
    if vat_in_euros:
        _el(settlement, "ram:TaxCurrencyCode", ACCOUNTING_CURRENCY)
    _el(settlement, "ram:InvoiceCurrencyCode", invoice.currency)
    if not invoice.is_credit_note and invoice.seller_iban:
        means = _el(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        _el(means, "ram:TypeCode", SEPA_CREDIT_TRANSFER)
        account = _el(means, "ram:PayeePartyCreditorFinancialAccount")
        _el(account, "ram:IBANID", invoice.seller_iban.replace(" ", ""))
        if invoice.seller_bic:
            institution = _el(means, "ram:PayeeSpecifiedCreditorFinancialInstitution")
            _el(institution, "ram:BICID", invoice.seller_bic)

    tax = _el(settlement, "ram:ApplicableTradeTax")
    _el(tax, "ram:CalculatedAmount", _amount(sign * invoice.vat_amount))
    _el(tax, "ram:TypeCode", "VAT")
    if reason:
        _el(tax, "ram:ExemptionReason", reason)
    _el(tax, "ram:BasisAmount", _amount(sign * invoice.subtotal))
    _el(tax, "ram:CategoryCode", category)
    if reason_code:
        _el(tax, "ram:ExemptionReasonCode", reason_code)
    if category == "S":
        due = VAT_DUE_ON_INVOICE if invoice.seller_vat_on_debits else VAT_DUE_ON_PAYMENT
        _el(tax, "ram:DueDateTypeCode", due)
    _el(tax, "ram:RateApplicablePercent", _amount(invoice.vat_rate))

    _period(settlement, invoice.period_start, invoice.period_end)
    terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
    _date(terms, "ram:DueDateDateTime", invoice.due_date)

    totals = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(totals, "ram:LineTotalAmount", _amount(sign * sum(line.amount for line in lines)))
    _el(totals, "ram:TaxBasisTotalAmount", _amount(sign * invoice.subtotal))
    _el(
        totals,
        "ram:TaxTotalAmount",
        _amount(sign * invoice.vat_amount),
        currencyID=invoice.currency,
    )
    if vat_in_euros:
        _el(totals, "ram:TaxTotalAmount", _amount(0), currencyID=ACCOUNTING_CURRENCY)
    _el(totals, "ram:GrandTotalAmount", _amount(sign * invoice.total))
    _el(totals, "ram:DuePayableAmount", _amount(sign * invoice.total))

    if invoice.corrects_id:
        corrected = invoice.corrects
        reference = _el(settlement, "ram:InvoiceReferencedDocument")
        _el(reference, "ram:IssuerAssignedID", corrected.number)
        _date(reference, "ram:FormattedIssueDateTime", corrected.issue_date, qualified=True)

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
