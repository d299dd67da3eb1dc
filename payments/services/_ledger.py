"""What the payment services share: the checks of an amount, which invoices money goes to
and in what order, how it is allocated to them (in memory, then written by settle()), what
is left of each payment (the credit balance), and what the receipt email holds.

Every caller holds the account's row lock first (accounts.guards.lock_account, or
payments_record's lock of a chunk's accounts): the allocations of one account are written
one transaction at a time, so what is left of a payment, read here, is still true when the
allocation is written.
"""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.db.models import DecimalField, F, Q, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum import iban as iban_number

from accounts.models import Membership, Organisation
from invoices import services as invoice_services
from invoices.models import Invoice
from invoices.selectors import SETTLEMENT_FIELDS, with_credit_sums

from ..models import Allocation, Payment
from ..selectors import allocated, unallocated

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
    iban = valid_iban(value)
    if iban is None:
        raise ValidationError({field: _("IBAN invalide.")})
    return iban


@lru_cache(maxsize=4096)
def valid_iban(value: str) -> str | None:
    """`value` compact if it is a valid IBAN, else None. Kept for the next time: a bank
    statement names the same payers' IBANs thousands of times."""
    try:
        return iban_number.validate(value)
    except Exception:  # noqa: BLE001 - stdnum raises one of its ValidationError subclasses
        return None


def clean_text(value: str, limit: int) -> str:
    return " ".join(str(value or "").split())[:limit]


def remainders(organisation: Organisation, currency: str) -> list[list]:
    """[payment, what is left of it] for the account's payments in `currency` that are not
    wholly allocated, oldest first: the credit balance, payment by payment."""
    payments = (
        Payment.objects.filter(organisation=organisation, currency=currency)
        .annotate(allocated=allocated())
        .filter(amount__gt=F("allocated"))
        .order_by("received_on", "pk")
    )
    return [[payment, payment.amount - payment.allocated] for payment in payments]


# The order money goes to an account's open invoices beyond those a payment names: oldest
# due first (open_invoices, oldest_open_invoices).
OPEN_ORDER = ("due_date", "sequence", "pk")


def _open_in(currency_filter: Q):
    return with_credit_sums(
        Invoice.objects.select_for_update()
        .only(*SETTLEMENT_FIELDS)
        .filter(currency_filter, kind=Invoice.Kind.INVOICE, status=Invoice.Status.OPEN)
    )


def open_invoices(
    organisation: Organisation, currency: str, first: list[Invoice] = (), others: bool = True
):
    """The invoices money goes to, locked, in order: `first` (those a payment names), then,
    if `others`, the account's other open invoices in `currency`, oldest due first.

    Lazy: the others are read and locked a few at a time, when the money the caller
    allocates goes beyond the invoices before them, so using a credit costs the same number
    of queries whatever the number of the account's open invoices."""
    first_ids = [invoice.pk for invoice in first]
    locked = invoices_locked(first_ids)
    for pk in first_ids:
        if pk in locked and takes_money(locked[pk], currency):
            yield locked[pk]
    if not others:
        return
    rest = (
        _open_in(Q(organisation=organisation, currency=currency))
        .exclude(pk__in=first_ids)
        .order_by(*OPEN_ORDER)
    )
    seen = []
    while True:
        # Not OFFSET: the invoices just allocated to may have left the open ones.
        page = list(rest.exclude(pk__in=seen)[:OTHERS_PAGE])
        seen += [invoice.pk for invoice in page]
        yield from (invoice for invoice in page if takes_money(invoice, currency))
        if len(page) < OTHERS_PAGE:
            return


def invoices_locked(ids) -> dict[int, Invoice]:
    """The invoices of `ids`, locked (in the order of their pk), with their credit notes'
    sums: one query, none for no id."""
    if not ids:
        return {}
    return {
        invoice.pk: invoice
        for invoice in with_credit_sums(
            Invoice.objects.select_for_update()
            .only(*SETTLEMENT_FIELDS)
            .filter(pk__in=set(ids))
            .order_by("pk")
        )
    }


def oldest_open_invoices(keys: set[tuple[int, str]], count: int) -> dict[tuple, list[Invoice]]:
    """For each (account id, currency) of `keys`: its first `count` open invoices in that
    currency, oldest due first, locked. One query for all the keys (a window function ranks
    each account's invoices), none for no key."""
    if not keys:
        return {}
    ranked = (
        Invoice.objects.filter(
            organisation_id__in={organisation_id for organisation_id, _currency in keys},
            currency__in={currency for _organisation_id, currency in keys},
            kind=Invoice.Kind.INVOICE,
            status=Invoice.Status.OPEN,
        )
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("organisation_id"), F("currency")],
                order_by=[F(column) for column in OPEN_ORDER],
            )
        )
        .filter(rank__lte=count)
        .values("pk")
    )
    found: dict[tuple, list[Invoice]] = {key: [] for key in keys}
    for invoice in _open_in(Q(pk__in=ranked)).order_by(*OPEN_ORDER):
        key = (invoice.organisation_id, invoice.currency)
        if key in found:
            found[key].append(invoice)
    return found


def takes_money(invoice: Invoice, currency: str) -> bool:
    return (
        invoice.status == Invoice.Status.OPEN
        and not invoice.is_credit_note
        and invoice.currency == currency
    )


def allocate(
    *, sources: list[list], invoices: Iterable[Invoice], actor
) -> tuple[list[Allocation], list[tuple[Invoice, Decimal, date]]]:
    """Send what is left of `sources` ([payment, left]) to `invoices`, in order, each up to
    what it still asks. In memory: returns the allocations, unsaved, and what the invoices
    now have, (invoice, amount_paid, paid_on: the date of the payment that completed it, or
    its issue date for money received before it), for settle(). Each invoice is changed as
    settle() will write it (`amount_paid`, and paid when settled in full), so that a second
    payment allocated before the writes sees it as the first one left it. The next invoice
    is not even read once nothing is left."""
    allocations, settlements = [], []
    invoices = iter(invoices)
    while any(left > 0 for _payment, left in sources):
        invoice = next(invoices, None)
        if invoice is None:
            break
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
            paid_on = min(paid_on, timezone.localdate())
            if invoice_services.invoice_settled_by(invoice, invoice.amount_paid):
                invoice.status, invoice.paid_on = Invoice.Status.PAID, paid_on
            settlements.append((invoice, invoice.amount_paid, paid_on))
    return allocations, settlements


def settle(settlements: list[tuple], *, actor, by_support: bool, ip) -> None:
    """Write what allocate() left of the invoices: the invoices service records what they
    now have, and makes those settled in full paid (one query each for all of them)."""
    if settlements:
        invoice_services.invoices_payments_record(
            settlements=settlements, actor=actor, by_support=by_support, ip=ip
        )


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


def credit_balances(keys: set[tuple[int, str]]) -> dict[tuple[int, str], Decimal]:
    """credit_balance() of each (account id, currency) of `keys`, in one query."""
    if not keys:
        return {}
    rows = (
        Payment.objects.filter(
            organisation_id__in={organisation_id for organisation_id, _currency in keys}
        )
        .order_by()
        .values("organisation_id", "currency")
        .annotate(left=unallocated())
        .values_list("organisation_id", "currency", "left")
    )
    balances = dict.fromkeys(keys, ZERO)
    for organisation_id, currency, left in rows:
        if (organisation_id, currency) in balances:
            balances[organisation_id, currency] = left
    return balances


def owner_emails(organisation_ids: set[int]) -> dict[int, list[str]]:
    """The owner's email address of each account, in one query."""
    emails: dict[int, list[str]] = {}
    rows = Membership.objects.filter(
        organisation_id__in=organisation_ids, role=Membership.Role.OWNER
    ).values_list("organisation_id", "user__email")
    for organisation_id, email in rows:
        emails.setdefault(organisation_id, []).append(email)
    return emails


def receipt(
    payment: Payment, allocations: list[Allocation], credit: Decimal, to: list[str]
) -> dict:
    """The receipt of `payment` to the account owner (`to`), in the account's language, for
    emails.services.email_queue_many (rendered when sent): the invoices it paid as it left
    them (each allocation's `invoice` as it was right after this payment), and the
    account's credit balance after it. Values, not rows: the receipt says what was true
    when the payment was recorded, whatever happens before it is sent."""
    organisation = payment.organisation
    settled: dict[int, list] = {}
    for allocation in allocations:
        settled.setdefault(allocation.invoice_id, [allocation.invoice, ZERO])
        settled[allocation.invoice_id][1] += allocation.amount
    return {
        "to": to,
        "template": "payment_received",
        "context": {
            "organisation": {"name": organisation.name},
            "payment": {
                "amount": payment.amount,
                "currency": payment.currency,
                "received_on": payment.received_on,
            },
            "settled": [
                {
                    "invoice": {
                        "number": invoice.number,
                        "status": str(invoice.status),
                        "amount_due": invoice.amount_due,
                        "currency": invoice.currency,
                    },
                    "amount": amount,
                }
                for invoice, amount in settled.values()
            ],
            "credit": credit,
        },
        "language": organisation.language or "fr",
        "organisation": organisation,
    }
