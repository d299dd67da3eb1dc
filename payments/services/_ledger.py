"""What the payment services share: the checks of an amount, how money is allocated to
invoices, what is left of each payment (the credit balance), and the receipt email.

Every caller holds the account's row lock (accounts.guards.lock_account) first: the
allocations of one account are written one transaction at a time, so what is left of a
payment, read here, is still true when the allocation is written.
"""

from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import DecimalField, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum import iban as iban_number

from accounts.models import Membership, Organisation
from emails.services import email_queue
from invoices import services as invoice_services
from invoices.models import Invoice
from invoices.selectors import with_credit_sums

from ..models import Allocation, Payment

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)
# The account's other open invoices are locked this many at a time (open_invoices).
OTHERS_PAGE = 20


def clean_amount(value, field: str = "amount") -> Decimal:
    """A positive amount in cents, or ValidationError keyed by `field`."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError({field: _("Montant invalide.")}) from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationError({field: _("Le montant doit être positif.")})
    if amount != amount.quantize(CENT):
        raise ValidationError({field: _("Le montant a au plus deux décimales.")})
    if amount >= Decimal("1e12"):
        raise ValidationError({field: _("Montant trop grand.")})
    return amount


def clean_currency(value: str) -> str:
    currency = str(value or "").strip().upper()
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise ValidationError({"currency": _("Devise invalide : trois lettres, EUR par exemple.")})
    return currency


def clean_day(value: date, field: str) -> date:
    if value > timezone.localdate():
        raise ValidationError({field: _("La date ne peut pas être dans le futur.")})
    return value


def clean_iban(value: str, field: str) -> str:
    if not (value or "").strip():
        return ""
    try:
        return iban_number.validate(value)
    except Exception:  # noqa: BLE001 - stdnum raises one of its ValidationError subclasses
        raise ValidationError({field: _("IBAN invalide.")}) from None


def clean_text(value: str, limit: int) -> str:
    return " ".join(str(value or "").split())[:limit]


def remainders(organisation: Organisation, currency: str) -> list[list]:
    """[payment, what is left of it] for the account's payments in `currency` that are not
    wholly allocated, oldest first: the credit balance, payment by payment."""
    allocated = (
        Allocation.objects.filter(payment=OuterRef("pk"), reversal__isnull=True)
        .values("payment")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    payments = (
        Payment.objects.filter(organisation=organisation, currency=currency)
        .annotate(allocated=Coalesce(Subquery(allocated, output_field=MONEY_FIELD), Value(ZERO)))
        .filter(amount__gt=F("allocated"))
        .order_by("received_on", "pk")
    )
    return [[payment, payment.amount - payment.allocated] for payment in payments]


def open_invoices(
    organisation: Organisation, currency: str, first: list[Invoice] = (), others: bool = True
):
    """The invoices money goes to, locked, in order: `first` (those a payment names), then,
    if `others`, the account's other open invoices in `currency`, oldest due first.

    Lazy: the others are read and locked a few at a time, when the money the caller
    allocates goes beyond the invoices before them, so a payment costs the same number of
    queries whatever the number of the account's open invoices."""
    first_ids = [invoice.pk for invoice in first]
    locked = {
        invoice.pk: invoice
        for invoice in with_credit_sums(
            Invoice.objects.select_for_update().filter(pk__in=first_ids)
        )
    }
    for pk in first_ids:
        if pk in locked and _takes_money(locked[pk], currency):
            yield locked[pk]
    if not others:
        return
    rest = (
        with_credit_sums(
            Invoice.objects.select_for_update().filter(
                organisation=organisation,
                kind=Invoice.Kind.INVOICE,
                status=Invoice.Status.OPEN,
                currency=currency,
            )
        )
        .exclude(pk__in=first_ids)
        .order_by("due_date", "sequence", "pk")
    )
    seen = []
    while True:
        # Not OFFSET: the invoices just allocated to may have left the open ones.
        page = list(rest.exclude(pk__in=seen)[:OTHERS_PAGE])
        seen += [invoice.pk for invoice in page]
        yield from (invoice for invoice in page if _takes_money(invoice, currency))
        if len(page) < OTHERS_PAGE:
            return


def _takes_money(invoice: Invoice, currency: str) -> bool:
    return (
        invoice.status == Invoice.Status.OPEN
        and not invoice.is_credit_note
        and invoice.currency == currency
    )


def allocate(
    *, sources: list[list], invoices: list[Invoice], actor, by_support: bool, ip
) -> list[Allocation]:
    """Send what is left of `sources` ([payment, left]) to `invoices`, in order, each up to
    what it still asks; the invoices service records what they now have (and makes those
    settled in full paid, on the date of the payment that completed them, or their issue
    date for money received before it)."""
    allocations = []
    for invoice in invoices:
        if all(left <= 0 for _payment, left in sources):
            break  # nothing left to allocate: the next invoices are not even read
        due = invoice.amount_due  # its total, less its credit notes and earlier payments
        paid_on = None
        before = invoice.amount_paid
        for source in sources:
            payment, left = source
            if due <= 0:
                break
            if left <= 0:
                continue
            part = min(due, left)
            allocations.append(
                Allocation(payment=payment, invoice=invoice, amount=part, actor=actor)
            )
            source[1] -= part
            due -= part
            invoice.amount_paid += part
            paid_on = max(payment.received_on, invoice.issue_date, paid_on or date.min)
        if invoice.amount_paid != before:
            invoice_services.invoice_payments_record(
                invoice=invoice,
                amount_paid=invoice.amount_paid,
                paid_on=min(paid_on, timezone.localdate()),
                actor=actor,
                by_support=by_support,
                ip=ip,
            )
    return Allocation.objects.bulk_create(allocations)


def credit_balance(organisation: Organisation, currency: str) -> Decimal:
    paid = (
        Payment.objects.filter(organisation=organisation, currency=currency).aggregate(
            total=Sum("amount")
        )["total"]
        or ZERO
    )
    allocated = (
        Allocation.objects.filter(
            Q(payment__organisation=organisation, payment__currency=currency),
            reversal__isnull=True,
        ).aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    return paid - allocated


def allocated_summary(allocations: list[Allocation]) -> dict[str, str]:
    """What the audit trail keeps of allocations: invoice number → amount."""
    summary: dict[str, Decimal] = {}
    for allocation in allocations:
        number = allocation.invoice.number
        summary[number] = summary.get(number, ZERO) + allocation.amount
    return {number: str(amount) for number, amount in summary.items()}


def receipt_queue(payment: Payment, allocations: list[Allocation]) -> None:
    """The receipt to the account owner, in the account's language, sent after commit."""
    organisation = payment.organisation
    owner_emails = list(
        Membership.objects.filter(
            organisation=organisation, role=Membership.Role.OWNER
        ).values_list("user__email", flat=True)
    )
    if not owner_emails:
        return
    invoices = {}
    for allocation in allocations:
        invoices.setdefault(allocation.invoice_id, [allocation.invoice, ZERO])
        invoices[allocation.invoice_id][1] += allocation.amount
    fresh = Invoice.objects.in_bulk(list(invoices))
    email_queue(
        to=owner_emails,
        template="payment_received",
        context={
            "organisation": organisation,
            "payment": payment,
            "settled": [
                {"invoice": fresh[pk], "amount": amount} for pk, (_inv, amount) in invoices.items()
            ],
            "credit": credit_balance(organisation, payment.currency),
        },
        language=organisation.language or "fr",
        organisation=organisation,
    )
