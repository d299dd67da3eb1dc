"""The invoice as EN 16931 data: the business terms both e-invoice syntaxes carry.

`invoice_data()` reads an issued invoice (or credit note) from its snapshot alone (never
from the account as it is today) into a frozen tree of plain values, in the invoice's
language. Two serialisers write it: `invoices.facturx` (UN/CEFACT CII, embedded in the
PDF) and `invoices.ubl` (OASIS UBL 2.1). What is decided here holds for both; the
serialisers only choose elements and formats. Choices, documented in docs/invoices.md:

- VAT categories: S for French VAT (a French customer, or an EU one without a valid VAT
  number); AE for the reverse charge, with « Autoliquidation » and VATEX-EU-AE; G for a
  customer outside the EU (art. 259-1 du CGI), with the printed mention and VATEX-EU-G.
  Not O: EN 16931 rule BR-O-02 forbids the seller's VAT number on an "O" invoice, and
  ours must carry it.
- Credit notes: type code 381 and POSITIVE amounts, the sign being carried by the type.
  Our credit notes store their lines negated (a sum of the books), so every amount is
  multiplied by -1 here; the corrected invoice is referenced (number and date, BG-3).
- Item net prices are never negative (BR-27): a line with a negative unit price (a credit
  for an unused period) is given a negative quantity and a positive price.
- Periods: ours are half-open [start, end); EN 16931's end date is the last day covered.
"""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext as _

from accounts.addresses import country_name
from accounts.vat import vat_prefix
from billing_portal.formatting import last_day

from .late_payment import terms_values
from .models import Invoice
from .references import rf_reference
from .tax import Treatment

# BT-24, the specification identifier: EN 16931 itself (both syntaxes).
SPECIFICATION = "urn:cen.eu:en16931:2017"
TYPE_INVOICE = "380"
TYPE_CREDIT_NOTE = "381"
SEPA_CREDIT_TRANSFER = "58"
UNIT_ONE = "C62"  # UN/ECE rec. 20: "one" (a unit, a service)
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
# The last resort for a buyer that neither a SIREN nor a tax number identifies (an
# association whose owner has not entered its SIREN yet, a customer without VAT number):
# its billing email address. "EM" is in the EAS code list the EN 16931 rules (BR-CL-25)
# and the French rules check; BR-FR-25 caps an electronic address at 125 characters.
SCHEME_EMAIL = "EM"
EMAIL_ADDRESS_MAX_LENGTH = 125
# BT-23, the billing framework (« cadre de facturation ») of the French reform: S1, an
# invoice for services, not paid yet (S2 would be already paid, S4 final after a deposit).
BILLING_FRAMEWORK = "S1"
# BT-6, the VAT accounting currency: the seller's books are in euros.
ACCOUNTING_CURRENCY = "EUR"

CENT = Decimal("0.01")


# --- The data --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """BG-4 seller or BG-7 buyer."""

    name: str  # BT-27 / BT-44, the registered name
    description: str  # BT-33, the seller's additional legal information
    siren: str  # BT-30 / BT-47, legal registration (scheme 0002)
    street: tuple[str, ...]  # BT-35, BT-36, BT-162 (BT-50, BT-51, BT-163)
    postcode: str
    city: str
    country: str
    vat: str  # BT-31 / BT-48, '' when the party has no VAT identifier
    electronic_address: tuple[str, str] | None  # BT-34 / BT-49: (address, EAS scheme)


@dataclass(frozen=True)
class Note:
    """BG-1: content and its UNTDID 4451 subject code."""

    content: str
    subject: str


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # the last day covered (inclusive)


@dataclass(frozen=True)
class Line:
    """BG-25."""

    id: int  # BT-126
    name: str  # BT-153
    quantity: Decimal  # BT-129, negative for a credit line
    price: Decimal  # BT-146, never negative
    amount: Decimal  # BT-131
    vat_rate: Decimal  # BT-152 (category: the document's)
    period: Period | None  # BG-26


@dataclass(frozen=True)
class VatBreakdown:
    """BG-23."""

    category: str  # BT-118: S, AE or G
    rate: Decimal  # BT-119
    basis: Decimal  # BT-116
    amount: Decimal  # BT-117
    exemption_reason: str  # BT-120
    exemption_reason_code: str  # BT-121


@dataclass(frozen=True)
class PaymentAccount:
    """BG-16/BG-17: a SEPA credit transfer to the seller's account."""

    means_code: str  # BT-81
    iban: str  # BT-84
    bic: str  # BT-86


@dataclass(frozen=True)
class Totals:
    """BG-22."""

    lines: Decimal  # BT-106
    tax_basis: Decimal  # BT-109
    vat: Decimal  # BT-110
    vat_in_accounting_currency: Decimal | None  # BT-111
    grand_total: Decimal  # BT-112
    payable: Decimal  # BT-115


@dataclass(frozen=True)
class Delivery:
    """BG-13, where the services were delivered when it is not the billing address: the
    buyer's name (BT-70) at that address (BG-15)."""

    name: str  # BT-70
    street: tuple[str, ...]  # BT-75, BT-76, BT-165
    postcode: str  # BT-78
    city: str  # BT-77
    country: str  # BT-80


@dataclass(frozen=True)
class Reference:
    """BG-3, the preceding invoice a credit note corrects."""

    number: str  # BT-25
    issue_date: date  # BT-26


@dataclass(frozen=True)
class Document:
    specification: str  # BT-24
    framework: str  # BT-23
    number: str  # BT-1
    type_code: str  # BT-3: 380 or 381
    issue_date: date  # BT-2
    due_date: date  # BT-9
    currency: str  # BT-5
    accounting_currency: str  # BT-6, '' when BT-111 is not given
    notes: tuple[Note, ...]
    seller: Party
    buyer: Party
    period: Period | None  # BG-14
    vat_on_invoice_date: bool | None  # BT-8: None without French VAT; else True on the
    # invoice date (the seller opted for « TVA d'après les débits »), False on payment
    payment_reference: str  # BT-83, '' on a credit note
    payment_account: PaymentAccount | None
    vat: tuple[VatBreakdown, ...]
    totals: Totals
    preceding: Reference | None
    lines: tuple[Line, ...]
    buyer_reference: str = ""  # BT-10 (Chorus Pro: the « code service »)
    order_reference: str = ""  # BT-13 (Chorus Pro: the « numéro d'engagement »)
    deliver_to: Delivery | None = None  # BG-13, only when not the billing address
    delivery_date: date | None = None  # BT-72: the day of the lines without a period

    @property
    def is_credit_note(self) -> bool:
        return self.type_code == TYPE_CREDIT_NOTE


# --- Text formats shared by the two syntaxes -------------------------------------------------


def format_amount(value: Decimal) -> str:
    """Two decimals, a point, no sign on zero: 1020.00, -12.50, 0.00."""
    value = Decimal(value).quantize(CENT)
    return f"{abs(value) if value == 0 else value:f}"


def format_price(value: Decimal) -> str:
    """A unit price: two decimals, up to the four the invoice may hold."""
    value = Decimal(value)
    places = max(2, -value.normalize().as_tuple().exponent)
    return f"{value:.{places}f}"


def format_quantity(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


# --- From the invoice ------------------------------------------------------------------------

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


def vat_identifier(number: str, country: str) -> str:
    """A VAT identifier as EN 16931 wants it (BR-CO-9: prefixed by its country), or ''.

    Outside the EU the account may hold any tax identifier (a US EIN...): printed on the
    PDF, but not declared a VAT number in the XML unless it has the country prefix."""
    number = (number or "").strip()
    return number if number[:2].upper() == vat_prefix(country) else ""


def electronic_address(
    *, siren: str, country: str, tax_number: str, email: str = ""
) -> tuple[str, str] | None:
    """(address, EAS scheme) of a party (BT-34, BT-49), or None when nothing identifies it:
    a company with a SIREN by it (the French directory routes by SIREN, whatever the
    country of the address), another by its VAT or registration number, and only when
    neither gives one, by the email address recorded at issue (`email`)."""
    address = _registered_address(siren=siren, country=country, tax_number=tax_number)
    if address is None and email and len(email) <= EMAIL_ADDRESS_MAX_LENGTH:
        return email, SCHEME_EMAIL
    return address


def _registered_address(*, siren: str, country: str, tax_number: str) -> tuple[str, str] | None:
    if siren:
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


def vat_category(invoice: Invoice) -> tuple[str, str, str]:
    """(category code, exemption reason, exemption reason code) of the invoice's treatment,
    the reason in the active language."""
    if invoice.tax_treatment == Treatment.EU_REVERSE_CHARGE:
        return "AE", _("Autoliquidation"), "VATEX-EU-AE"
    if invoice.tax_treatment == Treatment.OUTSIDE_EU:
        reason = invoice.tax_mention or _("TVA non applicable, art. 259-1 du CGI")
        return "G", reason, "VATEX-EU-G"
    return "S", "", ""


def _period(start: date | None, end: date | None) -> Period | None:
    return Period(start, last_day(end)) if start is not None else None


def _notes(invoice: Invoice) -> tuple[Note, ...]:
    """The mentions printed on the PDF, as notes (UNTDID 4451 subject codes)."""
    notes = []
    if invoice.tax_mention:
        notes.append(Note(invoice.tax_mention, "TXD"))
    # The payment terms of the French rules (BR-FR-05), on credit notes as well: a credit
    # note is a corrective invoice, and the reform checks the three on every document.
    terms = terms_values()
    notes += [
        Note(_("Pas d'escompte pour paiement anticipé."), "AAB"),
        Note(
            _(
                "En cas de retard de paiement, des pénalités sont exigibles au taux "
                "d'intérêt de la Banque centrale européenne majoré de %(margin)s points "
                "(art. L. 441-10 du Code de commerce)."
            )
            % terms,
            "PMD",
        ),
        Note(
            _(
                "Indemnité forfaitaire pour frais de recouvrement : %(indemnity)s € "
                "(art. D. 441-5 du Code de commerce)."
            )
            % terms,
            "PMT",
        ),
    ]
    return tuple(notes)


def _seller(invoice: Invoice) -> Party:
    street, postcode, city = split_address(invoice.seller_address_lines, invoice.seller_country)
    vat = vat_identifier(invoice.seller_vat_number, invoice.seller_country)
    return Party(
        name=invoice.seller_legal_name,
        description=" · ".join(filter(None, [invoice.seller_legal_form, invoice.seller_rcs])),
        siren=invoice.seller_siren,
        street=tuple(street),
        postcode=postcode,
        city=city,
        country=invoice.seller_country,
        vat=vat,
        electronic_address=electronic_address(
            siren=invoice.seller_siren, country=invoice.seller_country, tax_number=vat
        ),
    )


def _buyer(invoice: Invoice) -> Party:
    if invoice.buyer_city or invoice.buyer_postal_code or invoice.buyer_street_lines:
        street, postcode, city = (
            invoice.buyer_street_lines,
            invoice.buyer_postal_code,
            invoice.buyer_city,
        )
    else:
        street, postcode, city = split_address(invoice.buyer_address_lines, invoice.buyer_country)
    return Party(
        name=invoice.buyer_legal_name,
        description="",
        siren=invoice.buyer_siren,
        street=tuple(street),
        postcode=postcode,
        city=city,
        country=invoice.buyer_country,
        vat=vat_identifier(invoice.buyer_vat_number, invoice.buyer_country),
        electronic_address=electronic_address(
            siren=invoice.buyer_siren,
            country=invoice.buyer_country,
            tax_number=invoice.buyer_vat_number,
            email=invoice.buyer_email,
        ),
    )


def _deliver_to(invoice: Invoice) -> Delivery | None:
    """The delivery address recorded at issue, only when it differed from the billing
    address (invoices.services.documents); None on invoices issued before."""
    if not invoice.delivery_country:
        return None
    return Delivery(
        name=invoice.buyer_legal_name,
        street=tuple(invoice.delivery_street_lines),
        postcode=invoice.delivery_postal_code,
        city=invoice.delivery_city,
        country=invoice.delivery_country,
    )


def invoice_data(invoice: Invoice, *, lines: list | None = None) -> Document:
    """The invoice (or credit note) as EN 16931 business terms, texts in its language.
    `lines`: its lines in order, when the caller fetched them with others' (an export);
    else read here."""
    with translation.override(invoice.language):
        return _data(invoice, lines)


def _data(invoice: Invoice, stored_lines: list | None) -> Document:
    # EN 16931 carries a credit note's sign in its type code: its amounts are positive.
    sign = -1 if invoice.is_credit_note else 1
    category, reason, reason_code = vat_category(invoice)
    if stored_lines is None:
        stored_lines = list(invoice.lines.order_by("position"))
    lines = tuple(
        Line(
            id=line.position,
            name=line.description,
            quantity=line.quantity if sign * line.unit_price >= 0 else -line.quantity,
            price=abs(line.unit_price),
            amount=sign * line.amount,
            vat_rate=line.vat_rate,
            period=_period(line.period_start, line.period_end),
        )
        for line in stored_lines
    )
    # BT-6 and BT-111 (BR-FR-CO-12): an invoice in another currency gives its VAT in euros
    # too. Without VAT (reverse charge, export) that is 0.00 EUR whatever the rate; with
    # VAT, what the invoice recorded at issue at the ECB rate (invoices.exchange_rates).
    # None on an invoice with VAT issued before the rate was recorded: nothing to give.
    vat_in_euros = None
    if invoice.currency != ACCOUNTING_CURRENCY:
        if invoice.vat_amount == 0:
            vat_in_euros = Decimal(0)
        elif invoice.vat_amount_eur is not None:
            vat_in_euros = sign * invoice.vat_amount_eur
    # A credit note asks for no payment: it is taken off an unpaid invoice or owed back to
    # the customer, and the seller's IBAN on it would read as an invitation to pay.
    payment_account = None
    if not invoice.is_credit_note and invoice.seller_iban:
        payment_account = PaymentAccount(
            SEPA_CREDIT_TRANSFER, invoice.seller_iban.replace(" ", ""), invoice.seller_bic
        )
    corrected = invoice.corrects if invoice.corrects_id else None
    return Document(
        specification=SPECIFICATION,
        framework=BILLING_FRAMEWORK,
        number=invoice.number,
        type_code=TYPE_CREDIT_NOTE if invoice.is_credit_note else TYPE_INVOICE,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        accounting_currency=ACCOUNTING_CURRENCY if vat_in_euros is not None else "",
        notes=_notes(invoice),
        seller=_seller(invoice),
        buyer=_buyer(invoice),
        period=_period(invoice.period_start, invoice.period_end),
        vat_on_invoice_date=bool(invoice.seller_vat_on_debits) if category == "S" else None,
        payment_reference="" if invoice.is_credit_note else rf_reference(invoice.number),
        payment_account=payment_account,
        vat=(
            VatBreakdown(
                category=category,
                rate=invoice.vat_rate,
                basis=sign * invoice.subtotal,
                amount=sign * invoice.vat_amount,
                exemption_reason=reason,
                exemption_reason_code=reason_code,
            ),
        ),
        totals=Totals(
            lines=sign * sum((line.amount for line in stored_lines), Decimal(0)),
            tax_basis=sign * invoice.subtotal,
            vat=sign * invoice.vat_amount,
            vat_in_accounting_currency=vat_in_euros,
            grand_total=sign * invoice.total,
            payable=sign * invoice.total,
        ),
        preceding=Reference(corrected.number, corrected.issue_date) if corrected else None,
        lines=lines,
        buyer_reference=invoice.buyer_reference,
        order_reference=invoice.order_reference,
        deliver_to=_deliver_to(invoice),
        delivery_date=invoice.service_date,
    )
