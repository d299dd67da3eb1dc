"""What the pages show of payments: an account's credit balance (the owner's Factures tab,
through invoices.hooks), its payments, balance and open invoices (support's account page),
and the invoices a queued bank entry could pay (the reconciliation queue); the direct
debits to pre-notify and to export."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Count,
    DecimalField,
    F,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Organisation
from invoices.models import Invoice
from invoices.selectors import with_credit_sums

from . import sepa
from .matching import number_of_reference, numbers_in, references_in
from .models import (
    Allocation,
    BankEntry,
    Collection,
    Mandate,
    Payment,
    Refund,
    ReminderPause,
)
from .reminders import invoices_to_remind

LATEST_PAYMENTS = 25
LATEST_REFUNDS = 10
CANDIDATES = 15
MONEY = DecimalField(max_digits=14, decimal_places=2)


def allocated() -> Coalesce:
    """What is allocated of a payment (to invoices or refunds, not undone), 0 when nothing:
    an expression over a Payment queryset."""
    total = (
        Allocation.objects.filter(payment=OuterRef("pk"), reversal__isnull=True)
        .order_by()
        .values("payment")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(Subquery(total, output_field=MONEY), Value(0), output_field=MONEY)


def unallocated() -> Sum:
    """What is left of payments once their allocations are taken off: the credit balance,
    summed over the payments of a queryset's group."""
    return Sum(F("amount") - allocated(), output_field=MONEY)


def credit_balances(*, organisation: Organisation) -> list[tuple[Decimal, str]]:
    """(amount, currency) of the account's credit balance, per currency, in one query."""
    rows = (
        Payment.objects.filter(organisation=organisation)
        .order_by()
        .values("currency")
        .annotate(left=unallocated())
        .values_list("left", "currency")
    )
    return sorted((amount, currency) for amount, currency in rows if amount > 0)


@dataclass
class AccountPayments:
    balance_due: list[tuple[Decimal, str]]  # what the open invoices still ask, per currency
    overdue_due: list[tuple[Decimal, str]]
    open_invoices: list[Invoice]  # oldest due first, each with `overdue`
    credit: list[tuple[Decimal, str]]
    payments: list[Payment]  # newest first, each with its allocations (and their reversal)
    refunds: list[Refund]
    reminder_pause: ReminderPause | None = None  # support paused the payment reminders


def account_payments(*, organisation: Organisation) -> AccountPayments:
    """Support's view of an account's money, in six queries whatever the number of rows."""
    today = timezone.localdate()
    open_invoices = list(
        with_credit_sums(
            Invoice.objects.filter(
                organisation=organisation, kind=Invoice.Kind.INVOICE, status=Invoice.Status.OPEN
            )
        ).order_by("due_date", "sequence")
    )
    balance, overdue = {}, {}
    for invoice in open_invoices:
        invoice.overdue = invoice.due_date < today
        balance[invoice.currency] = balance.get(invoice.currency, 0) + invoice.amount_due
        if invoice.overdue:
            overdue[invoice.currency] = overdue.get(invoice.currency, 0) + invoice.amount_due
    payments = list(
        Payment.objects.filter(organisation=organisation)
        .select_related("bank_entry", "actor")
        .prefetch_related(
            Prefetch(
                "allocations",
                queryset=Allocation.objects.select_related(
                    "invoice", "refund", "reversal__credit_note"
                ),
            )
        )
        .order_by("-received_on", "-pk")[:LATEST_PAYMENTS]
    )
    for payment in payments:
        active = [a.amount for a in payment.allocations.all() if not _reversed(a)]
        payment.unallocated = payment.amount - sum(active, Decimal(0))
    return AccountPayments(
        balance_due=sorted((amount, currency) for currency, amount in balance.items()),
        overdue_due=sorted((amount, currency) for currency, amount in overdue.items()),
        open_invoices=open_invoices,
        credit=credit_balances(organisation=organisation),
        payments=payments,
        refunds=list(Refund.objects.filter(organisation=organisation)[:LATEST_REFUNDS]),
        reminder_pause=reminder_pause(organisation=organisation),
    )


def _reversed(allocation: Allocation) -> bool:
    try:
        return allocation.reversal is not None
    except Allocation.reversal.RelatedObjectDoesNotExist:
        return False


def entry_candidates(*, entry: BankEntry, query: str = "") -> list[Invoice]:
    """The open invoices a queued entry could pay, most likely first: those matching
    stored when it was queued, those its text names, those of exactly its amount; or, with
    `query`, those whose number or account name contains it."""
    base = with_credit_sums(
        Invoice.objects.filter(
            kind=Invoice.Kind.INVOICE, status=Invoice.Status.OPEN, currency=entry.currency
        ).select_related("organisation")
    )
    query = " ".join(str(query or "").split())[:100]
    if query:
        found = list(
            base.filter(
                Q(number__icontains=query) | Q(organisation__name__icontains=query)
            ).order_by("due_date", "sequence")[:CANDIDATES]
        )
        return found
    text = f"{entry.creditor_reference} {entry.remittance}"
    named = set(numbers_in(text))
    named.update(filter(None, map(number_of_reference, references_in(text))))
    stored = list(entry.candidates.values_list("pk", flat=True))
    likely = Q(pk__in=stored) | Q(number__in=named) | Q(total=F("amount_paid") + entry.amount)
    if entry.payer_name:
        likely |= Q(organisation__name__iexact=entry.payer_name)
    likely = list(base.filter(likely).order_by("due_date", "sequence")[: CANDIDATES * 2])

    def rank(invoice):
        return (
            invoice.pk not in stored and invoice.number not in named,
            invoice.amount_due != entry.amount,
        )

    return sorted(likely, key=rank)[:CANDIDATES]


def prenotifications_due(*, today: date) -> list[int]:
    """The accounts with a planned collection to pre-notify by `today` (one query): the
    daily task fans out one task per account."""
    earliest = today + timedelta(days=settings.DIRECT_DEBIT_NOTICE_DAYS)
    return list(
        Collection.objects.filter(
            status=Collection.Status.PLANNED,
            collect_on__lte=earliest,
            mandate__status=Mandate.Status.ACTIVE,
        )
        .values_list("mandate__organisation_id", flat=True)
        .distinct()
        .order_by("mandate__organisation_id")
    )


def export_dates(*, today: date) -> list[dict]:
    """What support can send the bank: per collection date after today and scheme, the
    notified collections (count, total)."""
    rows = (
        Collection.objects.filter(
            status=Collection.Status.NOTIFIED,
            collect_on__gt=today,
            mandate__status=Mandate.Status.ACTIVE,
        )
        .values("collect_on", "mandate__scheme", "currency")
        .annotate(count=Count("pk"), total=Sum("amount"))
        .order_by("collect_on", "mandate__scheme", "currency")
    )
    return [
        {
            "collect_on": row["collect_on"],
            "scheme": row["mandate__scheme"],
            "currency": row["currency"],
            "count": row["count"],
            "total": row["total"],
        }
        for row in rows
    ]


def invoice_collection(*, invoice: Invoice) -> dict | None:
    """The open collection of an invoice, as its « Règlement » box prints it, in one query:
    when, from which account (masked), under which mandate and creditor identifier."""
    if invoice.is_credit_note or invoice.currency != "EUR":
        return None
    collection = (
        Collection.objects.select_related("mandate")
        .filter(invoice_id=invoice.pk, status__in=Collection.OPEN)
        .first()
    )
    if collection is None:
        return None
    return {
        "collect_on": collection.collect_on,
        "amount": collection.amount,
        "currency": collection.currency,
        "masked_iban": sepa.iban_masked(collection.mandate.iban),
        "mandate": collection.mandate.reference,
        "creditor_id": settings.SELLER["creditor_id"],
        "status": collection.status,
    }


def direct_debit_summary(*, organisation: Organisation) -> dict:
    """The « Prélèvement SEPA » section of the Factures tab, in one query: the mandate in
    force and the one waiting for its emailed confirmation, if any."""
    mandates = list(
        Mandate.objects.filter(
            organisation=organisation,
            status__in=[*Mandate.LIVE, Mandate.Status.PENDING],
        )
    )
    live = next((m for m in mandates if m.status in Mandate.LIVE), None)
    pending = next((m for m in mandates if m.status == Mandate.Status.PENDING), None)
    return {
        "live": live,
        "pending": pending,
        "live_iban": sepa.iban_masked(live.iban) if live else "",
        "pending_iban": sepa.iban_masked(pending.iban) if pending else "",
    }


def reminder_accounts_due(*, today) -> list[int]:
    """The accounts with at least one invoice to remind on `today` (payments.reminders), in
    id order: one query, for the daily run to hand out in chunks."""
    return list(
        invoices_to_remind(today=today)
        .order_by("organisation_id")
        .values_list("organisation_id", flat=True)
        .distinct()
    )


def reminder_pause(*, organisation: Organisation) -> ReminderPause | None:
    """The pause of the account's payment reminders, if support paused them."""
    return ReminderPause.objects.select_related("actor").filter(organisation=organisation).first()
