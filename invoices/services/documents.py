"""What every issued document, invoice or credit note, is made of and how it goes out.

`invoice_issue` (issuing.py) and `credit_note_issue` (credit_notes.py) each decide their
document's amounts, buyer, status and due date; both then write it here: numbered in the one
gapless series (invoices.numbering), the seller's identity copied in, the lines and totals
stored, the PDF rendered after commit and the document emailed, PDF attached.
"""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.addresses import country_name
from accounts.audit import audit_record
from accounts.models import Organisation
from accounts.selectors import invoice_recipients
from billing_portal.queue import enqueue_on_commit
from emails.services import email_queue

from .. import numbering
from ..einvoice import electronic_address
from ..exchange_rates import EuroVat
from ..models import Invoice, InvoiceLine
from ..tasks import invoice_pdf_render_task
from ..totals import ComputedLine, Totals

EMAIL_TEMPLATES = {
    Invoice.Kind.INVOICE: "invoice_issued",
    Invoice.Kind.CREDIT_NOTE: "credit_note_issued",
}


def _address_lines(line1, line2, postal_code, city, country, language) -> list[str]:
    """An address as printed, country name in the invoice's language."""
    if country in {"GB", "US", "CA", "AU", "IE", "NZ"}:
        town = f"{city} {postal_code}"
    else:
        town = f"{postal_code} {city}"
    lines = [line1, line2, town.strip(), country_name(country, language)]
    return [line for line in lines if line]


def buyer_address_lines(organisation: Organisation, language: str) -> list[str]:
    """The billing address as printed, country name in the invoice's language."""
    o = organisation
    return _address_lines(
        o.address_line1, o.address_line2, o.postal_code, o.city, o.country, language
    )


def buyer_street_lines(organisation: Organisation) -> list[str]:
    return [line for line in (organisation.address_line1, organisation.address_line2) if line]


def buyer_siren(organisation: Organisation) -> str:
    """The SIREN the invoice prints: the one the owner entered, else the one inside a
    French VAT number (accounts.models.Organisation.invoice_siren)."""
    return organisation.invoice_siren


def buyer_email(organisation: Organisation) -> str:
    """The buyer's billing email address (the owner's, else the first billing contact's),
    only when neither its SIREN nor its VAT number gives it an electronic address: BT-49,
    which the French rules require (BR-FR-12), then falls back to it (scheme EM). Not
    copied otherwise: an invoice keeps no personal address it does not need."""
    if electronic_address(
        siren=buyer_siren(organisation),
        country=organisation.country,
        tax_number=organisation.vat_number,
    ):
        return ""
    recipients = invoice_recipients(organisation=organisation)
    return recipients[0] if recipients else ""


def _same_place(organisation: Organisation) -> bool:
    """Whether the delivery address is the billing address, written alike or not."""

    def key(*parts):
        return tuple(" ".join(str(part).split()).casefold() for part in parts)

    o = organisation
    return key(o.delivery_line1, o.delivery_line2, o.delivery_postal_code, o.delivery_city) == key(
        o.address_line1, o.address_line2, o.postal_code, o.city
    ) and (o.delivery_country == o.country)


def _delivery_snapshot(organisation: Organisation, language: str) -> dict:
    """The delivery address, only when the organisation has one that is not its billing
    address (decree 2022-1299: printed « only when it differs »)."""
    o = organisation
    if not o.has_delivery_address or _same_place(o):
        return {}
    return {
        "delivery_address_lines": _address_lines(
            o.delivery_line1,
            o.delivery_line2,
            o.delivery_postal_code,
            o.delivery_city,
            o.delivery_country,
            language,
        ),
        "delivery_street_lines": [line for line in (o.delivery_line1, o.delivery_line2) if line],
        "delivery_postal_code": o.delivery_postal_code,
        "delivery_city": o.delivery_city,
        "delivery_country": o.delivery_country,
    }


def _buyer_snapshot(organisation: Organisation, language: str) -> dict:
    """The buyer block of a document issued today: the account as it is now."""
    return {
        "buyer_legal_name": organisation.name,
        "buyer_address_lines": buyer_address_lines(organisation, language),
        "buyer_country": organisation.country,
        "buyer_vat_number": organisation.vat_number,
        "buyer_siren": buyer_siren(organisation),
        "buyer_street_lines": buyer_street_lines(organisation),
        "buyer_postal_code": organisation.postal_code,
        "buyer_city": organisation.city,
        "buyer_email": buyer_email(organisation),
        "order_reference": organisation.order_reference,
        "buyer_reference": organisation.buyer_reference,
        **_delivery_snapshot(organisation, language),
    }


BUYER_FIELDS = [
    "buyer_legal_name",
    "buyer_address_lines",
    "buyer_country",
    "buyer_vat_number",
    "buyer_siren",
    "buyer_street_lines",
    "buyer_postal_code",
    "buyer_city",
    "buyer_email",
    "delivery_address_lines",
    "delivery_street_lines",
    "delivery_postal_code",
    "delivery_city",
    "delivery_country",
    "order_reference",
    "buyer_reference",
]


def _buyer_snapshot_of(document: Invoice) -> dict:
    """The buyer block an earlier document printed, word for word."""
    return {name: getattr(document, name) for name in BUYER_FIELDS}


def _period(lines: list[ComputedLine]) -> tuple[date | None, date | None]:
    starts = [line.period_start for line in lines if line.period_start]
    ends = [line.period_end for line in lines if line.period_end]
    return (min(starts), max(ends)) if starts else (None, None)


def _seller_snapshot() -> dict:
    seller = settings.SELLER
    return {
        "seller_legal_name": seller["legal_name"],
        "seller_legal_form": seller.get("legal_form", ""),
        "seller_address_lines": list(seller["address_lines"]),
        "seller_country": seller["country"],
        "seller_siren": seller.get("siren", ""),
        "seller_rcs": seller.get("rcs", ""),
        "seller_vat_number": seller.get("vat_number", ""),
        "seller_iban": seller.get("iban", ""),
        "seller_bic": seller.get("bic", ""),
        "seller_vat_on_debits": bool(seller.get("vat_on_debits", False)),
    }


def _document_create(
    *,
    organisation: Organisation,
    kind: str,
    status: str,
    issue_date: date,
    due_date: date,
    language: str,
    totals: Totals,
    buyer: dict,
    corrects: Invoice | None = None,
    service_date: date | None = None,
    returned_to_credit: Decimal = Decimal(0),
    credited_lines: Sequence[InvoiceLine | None] = (),
    euro_vat: EuroVat | None = None,
) -> Invoice:
    """Number and write a document the caller has checked: its totals and lines, the
    seller as configured today and the given buyer block; a credit note's lines each name
    the invoice line they credit (`credited_lines`, in the same order, None for an amount);
    `euro_vat`, its VAT in euros when it is due in another currency (invoices.exchange_rates).
    Inside the issuing transaction, the account row already locked.

    `service_date` dates the lines without a period (BT-72); kept only if there is one."""
    credited_lines = list(credited_lines) or [None] * len(totals.lines)
    if len(credited_lines) != len(totals.lines):
        raise ValueError("One credited line (or None) per line.")
    period_start, period_end = _period(totals.lines)
    if all(line.period_start for line in totals.lines):
        service_date = None
    # From here to commit the counter row is locked: keep this part short.
    # Invoices and credit notes share the one gapless series (docs/invoices.md, Numbering).
    sequence = numbering.next_number(issue_date=issue_date)
    document = Invoice(
        number=numbering.format_number(sequence),
        sequence=sequence,
        organisation=organisation,
        kind=kind,
        corrects=corrects,
        status=status,
        issue_date=issue_date,
        due_date=due_date,
        period_start=period_start,
        period_end=period_end,
        service_date=service_date,
        currency=totals.currency,
        language=language,
        subtotal=totals.subtotal,
        vat_rate=totals.vat_rate,
        vat_amount=totals.vat_amount,
        total=totals.total,
        tax_treatment=totals.treatment,
        tax_mention=totals.mention,
        returned_to_credit=returned_to_credit,
        **(euro_vat.as_fields() if euro_vat else {}),
        **_seller_snapshot(),
        **buyer,
    )
    document.save()
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=document,
            position=position,
            description=line.description,
            period_start=line.period_start,
            period_end=line.period_end,
            quantity=line.quantity,
            unit_price=line.unit_price,
            vat_rate=line.vat_rate,
            amount=line.amount,
            credited_line=credited,
        )
        for position, (line, credited) in enumerate(
            zip(totals.lines, credited_lines, strict=True), start=1
        )
    )
    return document


def _audit_after(document: Invoice) -> dict:
    """What the audit event of an issued document records, whatever its kind."""
    return {
        "number": document.number,
        "kind": document.kind,
        "issue_date": document.issue_date.isoformat(),
        "total": str(document.total),
        "currency": document.currency,
    }


def _document_send(document: Invoice, organisation: Organisation) -> None:
    """After commit, render the new document's PDF; email it to the account's recipients."""
    # A broker outage must not fail the issue: the PDF is then rendered by its first reader.
    enqueue_on_commit(invoice_pdf_render_task, document.pk)
    _email_document(document, organisation, invoice_recipients(organisation=organisation))


def _email_document(document: Invoice, organisation: Organisation, recipients: list[str]):
    """Queue the document's email, its PDF attached when it is sent (emails.hooks)."""
    return email_queue(
        to=recipients,
        template=EMAIL_TEMPLATES[document.kind],
        context={"invoice": document, "organisation": organisation},
        language=document.language,
        organisation=organisation,
        attachments=[
            {
                "invoice_id": document.pk,
                "filename": document.pdf_filename,
                "mimetype": "application/pdf",
            }
        ],
    )


@transaction.atomic
def invoice_email_resend(
    *, invoice: Invoice, actor, by_support: bool = False, ip: str | None = None
) -> list:
    """Email an invoice (or credit note) again, PDF attached, to today's recipients: the
    account owner and billing contacts as they are now, not as they were at issue."""
    invoice = Invoice.objects.select_related("organisation", "corrects").get(pk=invoice.pk)
    organisation = invoice.organisation
    recipients = invoice_recipients(organisation=organisation)
    if not recipients:
        raise ValidationError(
            _("Le compte n'a ni propriétaire ni contact de facturation : personne à qui écrire.")
        )
    rows = _email_document(invoice, organisation, recipients)
    audit_record(
        organisation=organisation,
        action="invoice.emailed",
        actor=actor,
        support=by_support,
        after={"number": invoice.number, "to": recipients},
        ip=ip,
    )
    return rows
