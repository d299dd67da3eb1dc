"""Issuing invoices and changing their status: the only writes to invoices.

`invoice_issue` is the one way an invoice comes to exist (renewals, upgrades, support and
the demo all call it); `invoice_preview` runs the same computation without writing, for
the renewal estimate.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.countries import country_name
from accounts.models import Organisation
from accounts.selectors import invoice_recipients
from accounts.vat import vat_territory
from emails.services import email_queue

from . import numbering
from .models import Invoice, InvoiceLine
from .tax import TaxRule, tax_rule

CENT = Decimal("0.01")
PAYMENT_TERM = timedelta(days=30)
MAX_LINES = 200
# What a DecimalField(max_digits=14, decimal_places=2) holds.
MAX_AMOUNT = Decimal("999999999999.99")


@dataclass(frozen=True)
class LineSpec:
    description: str
    quantity: Decimal
    unit_price: Decimal  # excl. VAT, invoice currency; may be negative (credit for unused period)
    period_start: date | None = None
    period_end: date | None = None  # half-open [start, end)


@dataclass(frozen=True)
class ComputedLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    amount: Decimal  # excl. VAT, rounded half up to the cent
    period_start: date | None = None
    period_end: date | None = None


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    vat_amount: Decimal
    total: Decimal
    vat_rate: Decimal
    treatment: str
    mention: str
    currency: str
    lines: list[ComputedLine] = field(default_factory=list)


def round_money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _decimal(value, name: str, places: int) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        # Floats are refused: 0.1 is not a price.
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite() or number.as_tuple().exponent < -places:
        raise ValueError(f"{name} must be finite with at most {places} decimal places: {value}")
    return number


def _compute_line(spec: LineSpec, vat_rate: Decimal) -> ComputedLine:
    description = " ".join(str(spec.description or "").split())
    if not description or len(description) > 500:
        raise ValueError("A line needs a description of 1 to 500 characters.")
    quantity = _decimal(spec.quantity, "quantity", 3)
    if quantity <= 0:
        raise ValueError("quantity must be positive (use a negative unit price for a credit).")
    unit_price = _decimal(spec.unit_price, "unit_price", 4)
    if (spec.period_start is None) != (spec.period_end is None):
        raise ValueError("A line period needs both its start and its (excluded) end.")
    if spec.period_start is not None and spec.period_end <= spec.period_start:
        raise ValueError("A line period must end after it starts.")
    amount = round_money(quantity * unit_price)
    if abs(amount) > MAX_AMOUNT:
        raise ValueError("Line amount out of range.")
    return ComputedLine(
        description=description,
        quantity=quantity,
        unit_price=unit_price,
        vat_rate=vat_rate,
        amount=amount,
        period_start=spec.period_start,
        period_end=spec.period_end,
    )


def _tax_rule(organisation: Organisation) -> TaxRule:
    return tax_rule(
        seller_country=settings.SELLER["country"],
        seller_vat_rate=settings.SELLER["vat_rate"],
        buyer_country=organisation.country,
        buyer_vat_number=organisation.vat_number,
    )


def _currency(organisation: Organisation, currency: str | None) -> str:
    currency = (currency or organisation.currency or "").upper()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        raise ValueError(f"Not an ISO 4217 currency code: {currency!r}")
    return currency


def _compute(organisation: Organisation, lines: Sequence[LineSpec], currency: str) -> Totals:
    """Lines rounded half up to the cent one by one; VAT on their sum (one rate per invoice,
    as EN 16931 computes it), rounded half up. The mention is in the active language."""
    if not lines:
        raise ValueError("An invoice needs at least one line.")
    if len(lines) > MAX_LINES:
        raise ValueError(f"At most {MAX_LINES} lines.")
    rule = _tax_rule(organisation)
    computed = [_compute_line(spec, rule.vat_rate) for spec in lines]
    subtotal = sum((line.amount for line in computed), Decimal("0.00"))
    vat_amount = round_money(subtotal * rule.vat_rate / 100)
    total = subtotal + vat_amount
    if abs(total) > MAX_AMOUNT:
        raise ValueError("Invoice total out of range.")
    return Totals(
        subtotal=subtotal,
        vat_amount=vat_amount,
        total=total,
        vat_rate=rule.vat_rate,
        treatment=rule.treatment,
        mention=rule.mention,
        currency=currency,
        lines=computed,
    )


def invoice_preview(
    *, organisation: Organisation, lines: Sequence[LineSpec], currency: str | None = None
) -> Totals:
    """What invoice_issue would compute today for these lines, without writing anything."""
    return _compute(organisation, lines, _currency(organisation, currency))


def buyer_address_lines(organisation: Organisation, language: str) -> list[str]:
    """The address as printed, country name in the invoice's language."""
    if organisation.country in {"GB", "US", "CA", "AU", "IE", "NZ"}:
        town = f"{organisation.city} {organisation.postal_code}"
    else:
        town = f"{organisation.postal_code} {organisation.city}"
    lines = [organisation.address_line1, organisation.address_line2, town.strip()]
    lines.append(country_name(organisation.country, language))
    return [line for line in lines if line]


def buyer_siren(organisation: Organisation) -> str:
    """A French business's SIREN, read from its VAT number (FR + 2-character key + SIREN).

    Printed since the 2026 e-invoicing reform; the account has no separate SIREN field.
    """
    number = organisation.vat_number
    if (
        vat_territory(organisation.country) == "FR"
        and number.startswith("FR")
        and len(number) == 13
    ):
        return number[4:]
    return ""


def _period(lines: list[ComputedLine]) -> tuple[date | None, date | None]:
    starts = [line.period_start for line in lines if line.period_start]
    ends = [line.period_end for line in lines if line.period_end]
    return (min(starts), max(ends)) if starts else (None, None)


@transaction.atomic
def invoice_issue(
    *,
    organisation: Organisation,
    lines: Sequence[LineSpec],
    currency: str | None = None,
    issue_date: date | None = None,
    actor=None,
    by_support: bool = False,
    ip: str | None = None,
    kind: str = "invoice",
    corrects=None,
) -> Invoice:
    """Issue an invoice (or a credit note) to `organisation`, numbered, snapshotted, final.

    After commit its PDF is rendered (invoices.tasks) and it is emailed, PDF attached, to
    the account owner and billing contacts. Raises ValidationError for a date before the
    last issued invoice or in the future, ValueError for malformed lines.
    """
    # Lock the account: the snapshot must not interleave with an address or VAT change.
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    today = timezone.localdate()
    issue_date = issue_date or today
    if issue_date > today:
        raise ValidationError({"issue_date": _("Une facture ne peut pas être datée du futur.")})
    if kind not in Invoice.Kind.values:
        raise ValueError(f"Unknown kind {kind!r}")
    if (kind == Invoice.Kind.CREDIT_NOTE) != (corrects is not None):
        raise ValueError("A credit note corrects exactly one invoice; an invoice corrects none.")
    if corrects is not None and (
        corrects.organisation_id != organisation.pk or corrects.kind != Invoice.Kind.INVOICE
    ):
        raise ValueError("A credit note corrects an invoice of the same account.")
    currency = _currency(organisation, currency)
    language = organisation.language or settings.LANGUAGE_CODE
    with translation.override(language):
        totals = _compute(organisation, lines, currency)
        address_lines = buyer_address_lines(organisation, language)
    if kind == Invoice.Kind.INVOICE and totals.total < 0:
        raise ValueError("An invoice total cannot be negative: issue a credit note.")
    period_start, period_end = _period(totals.lines)
    seller = settings.SELLER

    # From here to commit the counter row is locked: keep this part short.
    sequence = numbering.next_number(issue_date=issue_date)
    invoice = Invoice(
        number=numbering.format_number(sequence),
        sequence=sequence,
        organisation=organisation,
        kind=kind,
        corrects=corrects,
        issue_date=issue_date,
        due_date=issue_date + PAYMENT_TERM,
        period_start=period_start,
        period_end=period_end,
        currency=currency,
        language=language,
        subtotal=totals.subtotal,
        vat_rate=totals.vat_rate,
        vat_amount=totals.vat_amount,
        total=totals.total,
        tax_treatment=totals.treatment,
        tax_mention=totals.mention,
        seller_legal_name=seller["legal_name"],
        seller_legal_form=seller.get("legal_form", ""),
        seller_address_lines=list(seller["address_lines"]),
        seller_country=seller["country"],
        seller_siren=seller.get("siren", ""),
        seller_rcs=seller.get("rcs", ""),
        seller_vat_number=seller.get("vat_number", ""),
        seller_iban=seller.get("iban", ""),
        seller_bic=seller.get("bic", ""),
        seller_vat_on_debits=bool(seller.get("vat_on_debits", False)),
        buyer_legal_name=organisation.name,
        buyer_address_lines=address_lines,
        buyer_country=organisation.country,
        buyer_vat_number=organisation.vat_number,
        buyer_siren=buyer_siren(organisation),
    )
    invoice.save()
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=position,
            description=line.description,
            period_start=line.period_start,
            period_end=line.period_end,
            quantity=line.quantity,
            unit_price=line.unit_price,
            vat_rate=line.vat_rate,
            amount=line.amount,
        )
        for position, line in enumerate(totals.lines, start=1)
    )
    audit_record(
        organisation=organisation,
        action="invoice.issued",
        actor=actor,
        support=by_support,
        after={
            "number": invoice.number,
            "kind": kind,
            "issue_date": issue_date.isoformat(),
            "total": str(invoice.total),
            "currency": currency,
        },
        ip=ip,
    )

    from .tasks import invoice_pdf_render_task

    invoice_pdf_render_task.delay_on_commit(invoice.pk)
    email_queue(
        to=invoice_recipients(organisation=organisation),
        template="invoice_issued",
        context={"invoice": invoice, "organisation": organisation},
        language=language,
        organisation=organisation,
        attachments=[
            {
                "invoice_id": invoice.pk,
                "filename": invoice.pdf_filename,
                "mimetype": "application/pdf",
            }
        ],
    )
    return invoice


def _set_status(*, invoice, new: str, allowed_from: set[str], action: str, actor, by_support, ip):
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status == new:
        return locked
    if locked.status not in allowed_from:
        raise ValidationError(
            _("Une facture « %(status)s » ne peut pas passer à « %(new)s ».")
            % {"status": locked.get_status_display(), "new": Invoice.Status(new).label}
        )
    # The immutability guard lets exactly this column change.
    Invoice.objects.filter(pk=locked.pk).update(status=new)
    audit_record(
        organisation=locked.organisation,
        action=action,
        actor=actor,
        support=by_support,
        before={"number": locked.number, "status": locked.status},
        after={"number": locked.number, "status": new},
        ip=ip,
    )
    return Invoice.objects.get(pk=locked.pk)


@transaction.atomic
def invoice_mark_paid(
    *, invoice: Invoice, actor=None, by_support: bool = False, ip: str | None = None
) -> Invoice:
    """Record that an open invoice was paid (the bank transfer arrived)."""
    return _set_status(
        invoice=invoice,
        new=Invoice.Status.PAID,
        allowed_from={Invoice.Status.OPEN},
        action="invoice.paid",
        actor=actor,
        by_support=by_support,
        ip=ip,
    )


@transaction.atomic
def invoice_void(
    *, invoice: Invoice, actor=None, by_support: bool = False, ip: str | None = None
) -> Invoice:
    """Mark an open invoice void. The invoice keeps its number and stays in the books; the
    accounting correction itself is the credit note that cancels it."""
    return _set_status(
        invoice=invoice,
        new=Invoice.Status.VOID,
        allowed_from={Invoice.Status.OPEN},
        action="invoice.voided",
        actor=actor,
        by_support=by_support,
        ip=ip,
    )
