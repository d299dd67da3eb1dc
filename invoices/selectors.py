"""What the Factures tab and the invoice pages show, each in a fixed number of queries."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import quote

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import (
    DecimalField,
    F,
    Min,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.http import RFC3986_SUBDELIMS

from accounts.models import Organisation

from .models import Invoice, InvoiceLine, InvoiceStatusEvent

INVOICES_PER_PAGE = 25


def invoices_page(*, organisation: Organisation, page_number=1) -> Page:
    """Newest first, 25 a page: a COUNT, one SELECT of the listed columns and one of the
    credit notes' sums of the page's invoices, whatever the number of invoices. Only
    columns of the invoice_account_list index: keep them in step. Each invoice of the page
    comes with its `detail_url` and `pdf_url`, and its `amount_due` and `credit_returned`."""
    invoices = (
        Invoice.objects.filter(organisation=organisation)
        .only(
            "number",
            "kind",
            "status",
            "issue_date",
            "total",
            "currency",
            "returned_to_credit",
            "amount_paid",
        )
        .order_by("-sequence")
    )
    page = Paginator(invoices, INVOICES_PER_PAGE).get_page(page_number)
    page.object_list = list(page.object_list)
    detail_url = _url_maker("portal:invoice_detail")
    pdf_url = _url_maker("portal:invoice_pdf")
    for invoice in page.object_list:
        invoice.detail_url = detail_url(invoice.number)
        invoice.pdf_url = pdf_url(invoice.number)
    _add_credit_sums([invoice for invoice in page.object_list if not invoice.is_credit_note])
    return page


@dataclass(frozen=True)
class Overdue:
    amount: Decimal
    currency: str
    since: date  # the oldest due date of the overdue invoices in that currency


def _still_due(*, organisation: Organisation, **filters) -> QuerySet:
    """What the account's open invoices (matching `filters`) still ask, per currency, with
    their oldest due date, in one aggregate query. What is still due is Invoice.amount_due,
    in SQL: the total, less the credit notes and what payments settled."""
    money = DecimalField(max_digits=14, decimal_places=2)
    return (
        with_credit_sums(
            Invoice.objects.filter(
                organisation=organisation,
                kind=Invoice.Kind.INVOICE,
                status=Invoice.Status.OPEN,
                **filters,
            )
        )
        .alias(
            still_due=F("total")
            + Coalesce(F("credited_sum"), Value(0), output_field=money)
            - F("amount_paid")
        )
        .filter(still_due__gt=0)
        .order_by()
        .values("currency")
        .annotate(amount=Sum("still_due"), since=Min("due_date"))
        .order_by("currency")
    )


def overdue_summary(*, organisation: Organisation, today: date) -> list[Overdue]:
    """What the account's invoices past their due date still ask, per currency, with the
    oldest due date: « 1 234,56 € en retard depuis le 3 octobre 2026 » at the top of the
    Factures tab. One aggregate query, whatever the number of invoices; empty when nothing
    is overdue."""
    rows = _still_due(organisation=organisation, due_date__lt=today)
    return [Overdue(row["amount"], row["currency"], row["since"]) for row in rows]


@dataclass(frozen=True)
class Due:
    amount: Decimal
    currency: str


def amount_due_summary(*, organisation: Organisation) -> list[Due]:
    """What the account's open invoices still ask, due or not, per currency (in practice
    one: the account's): named by the closure dialog and emails, and on the closed
    account's Factures tab. Empty when everything is paid."""
    rows = _still_due(organisation=organisation)
    return [Due(row["amount"], row["currency"]) for row in rows]


@dataclass(frozen=True)
class ClosedAccount:
    """What the Factures tab of a closed account tells its owner: until when the invoices
    stay open to them (the anonymisation, CLOSURE_GRACE_DAYS after the closure) and what
    they still ask."""

    closed_on: date
    until: date
    amount_due: list[Due]


def closed_account(*, organisation: Organisation) -> ClosedAccount | None:
    if not organisation.is_closed or organisation.closed_at is None:
        return None
    closed_at = timezone.localtime(organisation.closed_at)
    return ClosedAccount(
        closed_on=closed_at.date(),
        until=(closed_at + timedelta(days=settings.CLOSURE_GRACE_DAYS)).date(),
        amount_due=amount_due_summary(organisation=organisation),
    )


# What recording payments reads of an invoice (its amounts, status, dates and number), and
# no more: not the seller's and buyer's snapshots (addresses are JSON), which a bank
# statement's thousands of invoices would decode for nothing. `.only(*SETTLEMENT_FIELDS)`.
SETTLEMENT_FIELDS = (
    "number",
    "sequence",
    "organisation",
    "kind",
    "status",
    "issue_date",
    "due_date",
    "currency",
    "language",
    "total",
    "amount_paid",
    "paid_on",
    "returned_to_credit",
)


def with_credit_sums(invoices: QuerySet) -> QuerySet:
    """`invoices` with what their credit notes take off each (`credited_sum`) and what of
    that went back to the account's credit (`returned_sum`), read by Invoice.amount_due and
    credit_returned: two subqueries of the same SELECT (the support console's lists)."""
    notes = Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE, corrects=OuterRef("pk"))

    def sum_of(column):
        return Subquery(
            notes.values("corrects").annotate(sum=Sum(column)).values("sum")[:1],
            output_field=DecimalField(max_digits=14, decimal_places=2),
        )

    return invoices.annotate(
        credited_sum=sum_of("total"), returned_sum=sum_of("returned_to_credit")
    )


def _add_credit_sums(invoices: list[Invoice]) -> None:
    """Set on each invoice what its credit notes take off it (`credited_sum`) and what of
    that went back to the account's credit (`returned_sum`), read by Invoice.amount_due and
    credit_returned: one query."""
    if not invoices:
        return
    sums = {
        row["corrects_id"]: row
        for row in Invoice.objects.filter(
            kind=Invoice.Kind.CREDIT_NOTE, corrects__in=[invoice.pk for invoice in invoices]
        )
        .values("corrects_id")
        .annotate(credited_sum=Sum("total"), returned_sum=Sum("returned_to_credit"))
        .order_by()
    }
    for invoice in invoices:
        row = sums.get(invoice.pk, {})
        invoice.credited_sum = row.get("credited_sum")
        invoice.returned_sum = row.get("returned_sum")


_PLACEHOLDER = "NUMBER"


def _url_maker(name: str):
    """The URL of `name` for any invoice number, from one reverse() a page instead of one a
    row: `{% url %}` costs ~15 µs, twice a row, ~0.7 ms of the Factures tab
    (docs/performance.md). The number is quoted as reverse() quotes it; a test compares
    both for every row."""
    prefix, suffix = reverse(name, args=[_PLACEHOLDER]).split(_PLACEHOLDER)

    def url(number: str) -> str:
        return f"{prefix}{quote(number, safe=RFC3986_SUBDELIMS + '/~:@')}{suffix}"

    return url


def invoice_document(*, organisation: Organisation, number: str) -> Invoice | None:
    """One invoice of this account with its lines, the invoice it corrects (a credit note),
    its credit notes (`credit_notes`, oldest first) and its status history, oldest first
    (`history`), or None (another account's is None too)."""
    return (
        Invoice.objects.filter(organisation=organisation, number=number)
        .select_related("corrects")
        .prefetch_related(
            "lines",
            Prefetch(
                "corrections",
                queryset=Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE)
                .only("number", "issue_date", "corrects_id", "kind", "total", "returned_to_credit")
                .order_by("sequence"),
                to_attr="credit_notes",
            ),
            Prefetch(
                "status_events",
                queryset=InvoiceStatusEvent.objects.order_by("occurred_at", "id").only(
                    "invoice_id", "code", "occurred_at", "source", "note"
                ),
                to_attr="history",
            ),
        )
        .first()
    )


def invoice_file(*, organisation: Organisation, number: str) -> Invoice | None:
    """One invoice of this account with only what a download needs (its number and its
    stored PDF's name), or None (another account's is None too)."""
    return (
        Invoice.objects.filter(organisation=organisation, number=number)
        .only("number", "pdf_name")
        .first()
    )


@dataclass(frozen=True)
class LineRemaining:
    """One line of an invoice and what its credit notes took of it so far: quantity, and
    amount excl. VAT in the credit notes' sign (negative)."""

    line: InvoiceLine
    credited_quantity: Decimal
    credited_amount: Decimal

    @property
    def quantity(self) -> Decimal:
        """The quantity left to credit."""
        return self.line.quantity - self.credited_quantity

    @property
    def amount(self) -> Decimal:
        """The amount excl. VAT left to credit (the line's sign)."""
        return self.line.amount + self.credited_amount


@dataclass(frozen=True)
class CreditRemaining:
    """What is left to credit on an invoice after its credit notes: each line (by
    position), and the amounts excl. VAT, VAT and incl. VAT. `credited_subtotal` and
    `credited_vat` are the credit notes' sums (negative)."""

    invoice: Invoice
    lines: dict[int, LineRemaining]
    credit_notes: list[Invoice]
    credited_subtotal: Decimal
    credited_vat: Decimal

    @property
    def credited(self) -> Decimal:
        """What the credit notes credited so far, excl. VAT (positive)."""
        return -self.credited_subtotal

    @property
    def subtotal(self) -> Decimal:
        return self.invoice.subtotal + self.credited_subtotal

    @property
    def vat_amount(self) -> Decimal:
        return self.invoice.vat_amount + self.credited_vat

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.vat_amount


def invoice_credit_remaining(invoice: Invoice) -> CreditRemaining:
    """What is left to credit on `invoice` (the credit notes' form, the credit note service
    with the invoice row locked), in three queries: its lines, its credit notes, and their
    lines that credit one of its lines."""
    lines = list(invoice.lines.order_by("position"))
    credit_notes = list(
        invoice.corrections.filter(kind=Invoice.Kind.CREDIT_NOTE)
        .only(
            "number",
            "issue_date",
            "subtotal",
            "vat_amount",
            "total",
            "exchange_rate",
            "vat_amount_eur",
        )
        .order_by("sequence")
    )
    taken = {
        row["credited_line_id"]: (row["quantity"], row["amount"])
        for row in InvoiceLine.objects.filter(credited_line__invoice=invoice)
        .values("credited_line_id")
        .annotate(quantity=Sum("quantity"), amount=Sum("amount"))
        .order_by()
    }
    return CreditRemaining(
        invoice=invoice,
        lines={
            line.position: LineRemaining(
                line,
                *taken.get(line.pk, (Decimal("0.000"), Decimal("0.00"))),
            )
            for line in lines
        },
        credit_notes=credit_notes,
        credited_subtotal=sum((note.subtotal for note in credit_notes), Decimal("0.00")),
        credited_vat=sum((note.vat_amount for note in credit_notes), Decimal("0.00")),
    )
