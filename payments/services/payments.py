"""Recording payments, and using an account's credit balance."""

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import audit_record, audit_record_many
from accounts.guards import lock_account
from accounts.models import Organisation
from billing_portal.bulk import rows_insert
from emails.services import email_queue_many
from invoices.models import Invoice
from webhooks.services import account_data, webhook_emit_many

from ..models import Allocation, BankEntry, Payment
from . import _ledger


@dataclass
class Received:
    """One payment to record (payments_record): what payment_record takes, less who
    records it."""

    organisation: Organisation
    amount: Decimal
    currency: str
    received_on: date
    method: str = Payment.Method.TRANSFER
    payer_name: str = ""
    payer_iban: str = ""
    bank_reference: str = ""
    note: str = ""
    invoices: Sequence[Invoice] = ()
    bank_entry: BankEntry | None = None


@transaction.atomic
def payment_record(
    *,
    organisation: Organisation,
    amount: Decimal,
    currency: str,
    received_on: date,
    method: str = Payment.Method.TRANSFER,
    payer_name: str = "",
    payer_iban: str = "",
    bank_reference: str = "",
    note: str = "",
    invoices: Sequence[Invoice] = (),
    bank_entry: BankEntry | None = None,
    actor=None,
    by_support: bool = False,
    ip: str | None = None,
) -> Payment:
    """Record money the account paid, and allocate it: to `invoices` (those the payment
    names) first, then to the account's oldest open invoices in that currency; what is left
    is the account's credit balance, which its next invoice uses. Invoices settled in full
    become paid on the payment's date. The owner gets a receipt.

    ValidationError (keyed by field) for an amount that is not positive cents, a date in
    the future, an unknown method, an invalid IBAN, or an invoice of another account or
    currency. An invoice named but no longer open (paid meanwhile) is passed over.

    payments_record with a list of one: one path for a payment entered by hand and for the
    thousands of a bank statement.
    """
    (payment,) = payments_record(
        payments=[
            Received(
                organisation=organisation,
                amount=amount,
                currency=currency,
                received_on=received_on,
                method=method,
                payer_name=payer_name,
                payer_iban=payer_iban,
                bank_reference=bank_reference,
                note=note,
                invoices=invoices,
                bank_entry=bank_entry,
            )
        ],
        actor=actor,
        by_support=by_support,
        ip=ip,
    )
    return payment


@transaction.atomic
def payments_record(
    *, payments: Sequence[Received], actor=None, by_support: bool = False, ip: str | None = None
) -> list[Payment]:
    """payment_record for each of `payments`, in that order, with the same result as
    recording them one after the other, in a fixed number of queries whatever their number
    (a bank statement's credits, a chunk at a time): the accounts locked in one query, the
    invoices named in one, the accounts' oldest open invoices (for money beyond those named)
    in one, usually; the payments, the allocations, the audit events, the invoices' history
    steps and the receipts each written by one INSERT, the invoices' settlement by one
    UPDATE.

    All or nothing: the first payment that fails a check raises its ValidationError.
    """
    if not payments:
        return []
    cleaned = [_cleaned(received) for received in payments]
    # In the order of their ids, as payment_record locks them one after the other: two
    # imports running at the same time wait on each other, never deadlock.
    accounts = {
        organisation.pk: organisation
        for organisation in Organisation.objects.select_for_update()
        .filter(pk__in={received.organisation.pk for received in cleaned})
        .order_by("pk")
    }
    for received in cleaned:
        _check_invoices(received)
    keys = {(received.organisation.pk, received.currency) for received in cleaned}
    credit = _ledger.credit_balances(keys)
    rows = rows_insert(
        Payment,
        [
            Payment(
                organisation=accounts[received.organisation.pk],
                amount=received.amount,
                currency=received.currency,
                received_on=received.received_on,
                method=received.method,
                payer_name=received.payer_name,
                payer_iban=received.payer_iban,
                bank_reference=received.bank_reference,
                note=received.note,
                source=Payment.Source.STATEMENT if received.bank_entry else Payment.Source.SUPPORT,
                bank_entry=received.bank_entry,
                actor=actor,
            )
            for received in cleaned
        ],
    )
    allocated, settlements = _allocated(rows, [list(r.invoices) for r in cleaned], actor=actor)
    _ledger.settle(settlements, actor=actor, by_support=by_support, ip=ip)
    rows_insert(Allocation, [a for allocations in allocated for a in allocations])
    owners = _ledger.owner_emails(set(accounts))
    events, receipts = [], []
    for payment, allocations in zip(rows, allocated, strict=True):
        key = (payment.organisation_id, payment.currency)
        left = payment.amount - sum((a.amount for a in allocations), Decimal(0))
        credit[key] += left
        events.append(
            {
                "organisation": payment.organisation,
                "action": "payment.recorded",
                "actor": actor,
                "support": by_support,
                "after": {
                    "payment": payment.pk,
                    "amount": str(payment.amount),
                    "currency": payment.currency,
                    "received_on": payment.received_on.isoformat(),
                    "method": payment.method,
                    "payer": payment.payer_name,
                    "bank_reference": payment.bank_reference,
                    "bank_entry": payment.bank_entry.entry_key if payment.bank_entry else "",
                    "invoices": _ledger.allocated_summary(allocations),
                    "credit": str(left),
                },
                "ip": ip,
            }
        )
        if owners.get(payment.organisation_id):
            receipts.append(
                _ledger.receipt(payment, allocations, credit[key], owners[payment.organisation_id])
            )
    audit_record_many(events=events)
    email_queue_many(messages=receipts, render_on_send=True)
    webhook_emit_many(
        (
            "payment.recorded",
            {
                "account": account_data(payment.organisation),
                "payment": {
                    "id": payment.pk,
                    "amount": payment.amount,
                    "currency": payment.currency,
                    "received_on": payment.received_on,
                    "method": payment.method,
                    "invoices": _ledger.allocated_summary(allocations),
                },
            },
        )
        for payment, allocations in zip(rows, allocated, strict=True)
    )
    return rows


def _cleaned(received: Received) -> Received:
    amount = _ledger.clean_amount(received.amount)
    currency = _ledger.clean_currency(received.currency)
    received_on = _ledger.clean_day(received.received_on, "received_on")
    if received.method not in Payment.Method.values:
        raise ValidationError({"method": _("Moyen de paiement inconnu.")})
    return Received(
        organisation=received.organisation,
        amount=amount,
        currency=currency,
        received_on=received_on,
        method=received.method,
        payer_name=_ledger.clean_text(received.payer_name, 140),
        payer_iban=_ledger.clean_iban(received.payer_iban, "payer_iban"),
        bank_reference=_ledger.clean_text(received.bank_reference, 140),
        note=str(received.note or "").strip()[:2000],
        invoices=list(received.invoices),
        bank_entry=received.bank_entry,
    )


def _check_invoices(received: Received) -> None:
    for invoice in received.invoices:
        if invoice.organisation_id != received.organisation.pk or invoice.is_credit_note:
            raise ValidationError(
                {
                    "invoices": _("%(number)s n'est pas une facture de ce compte.")
                    % {"number": invoice.number}
                }
            )
        if invoice.currency != received.currency:
            raise ValidationError(
                {
                    "invoices": _(
                        "La facture %(number)s est en %(invoice_currency)s, le paiement en "
                        "%(currency)s."
                    )
                    % {
                        "number": invoice.number,
                        "invoice_currency": invoice.currency,
                        "currency": received.currency,
                    }
                }
            )


def _allocated(
    payments: list[Payment], named: list[list[Invoice]], *, actor
) -> tuple[list[list[Allocation]], list[tuple]]:
    """Allocate each new payment as payment_record's rule says (_ledger.allocate: the
    invoices it names, then the account's oldest open invoices), one after the other, in
    memory, each seeing the invoices as the payments before it left them. Returns the
    allocations of each payment (each allocation's `invoice` as it was right after its
    payment: what the receipt shows) and the settlements to write.

    The invoices named are read and locked in one query; the accounts' oldest open invoices
    in one more for the accounts whose payments seem to go beyond them (more than the
    invoices named ask), OTHERS_PAGE each. If an account's payments want more than that,
    its next ones are read (four times as many) and the allocation starts over."""
    invoices = _ledger.invoices_locked([i.pk for invoices in named for i in invoices])
    wanted = set()
    for payment, invoices_named in zip(payments, named, strict=True):
        asked = sum(
            (
                invoices[i.pk].amount_due
                for i in {i.pk: i for i in invoices_named}.values()
                if i.pk in invoices
            ),
            Decimal(0),
        )
        if payment.amount > asked:
            wanted.add((payment.organisation_id, payment.currency))
    others: dict[tuple, list[int]] = {}
    complete: set[tuple] = set()
    count = _ledger.OTHERS_PAGE
    while True:
        for key, rows in _ledger.oldest_open_invoices(wanted, count).items():
            others[key] = [invoice.pk for invoice in rows]
            for invoice in rows:
                invoices.setdefault(invoice.pk, invoice)
            if len(rows) < count:
                complete.add(key)
        result, short = _allocated_once(payments, named, invoices, others, complete, actor=actor)
        if not short:
            return result
        wanted, count = short, count * 4


def _allocated_once(payments, named, invoices, others, complete, *, actor):
    """One go of _allocated, on copies of the invoices as read: the result, and the
    accounts whose payments went past the open invoices read of them (then the result is
    not the right one)."""
    state = {pk: copy.copy(invoice) for pk, invoice in invoices.items()}
    short = set()
    allocated, settlements = [], []
    for payment, invoices_named in zip(payments, named, strict=True):
        key = (payment.organisation_id, payment.currency)
        first = [invoice.pk for invoice in invoices_named]

        def targets(first=first, key=key, currency=payment.currency):
            for pk in first:
                if pk in state and _ledger.takes_money(state[pk], currency):
                    yield state[pk]
            for pk in others.get(key, ()):
                if pk not in first and _ledger.takes_money(state[pk], currency):
                    yield state[pk]
            if key not in complete:
                short.add(key)

        allocations, settled = _ledger.allocate(
            sources=[[payment, payment.amount]], invoices=targets(), actor=actor
        )
        after = {}
        for allocation in allocations:
            # The invoice as this payment left it, for its receipt.
            allocation.invoice = after.setdefault(
                allocation.invoice.pk, copy.copy(allocation.invoice)
            )
        allocated.append(allocations)
        settlements += settled
    return (allocated, settlements), short


@transaction.atomic
def credit_apply(
    *,
    organisation: Organisation,
    currency: str | None = None,
    invoice: Invoice | None = None,
    actor=None,
    by_support: bool = False,
    ip: str | None = None,
) -> list[Allocation]:
    """Use the account's credit balance: what is left of its payments, oldest first, goes
    to `invoice`, or to its oldest open invoices. Nothing to do is no error: returns the
    allocations made (none when there is no credit or nothing open)."""
    organisation = lock_account(organisation)
    if invoice is not None:
        currencies = [invoice.currency]
    elif currency:
        currencies = [_ledger.clean_currency(currency)]
    else:
        currencies = list(
            Payment.objects.filter(organisation=organisation)
            .values_list("currency", flat=True)
            .distinct()
            .order_by("currency")
        )
    allocations = []
    for code in currencies:
        sources = _ledger.remainders(organisation, code)
        if not sources:
            continue
        targets = _ledger.open_invoices(
            organisation, code, first=[invoice] if invoice else [], others=invoice is None
        )
        made, settlements = _ledger.allocate(sources=sources, invoices=targets, actor=actor)
        _ledger.settle(settlements, actor=actor, by_support=by_support, ip=ip)
        allocations += Allocation.objects.bulk_create(made)
    if allocations:
        audit_record(
            organisation=organisation,
            action="credit.applied",
            actor=actor,
            support=by_support,
            after={
                "invoices": _ledger.allocated_summary(allocations),
                "currency": allocations[0].payment.currency,
            },
            ip=ip,
        )
    return allocations


def credit_apply_to_new_invoice(*, invoice: Invoice, actor=None) -> None:
    """invoices.hooks.invoice_issued: the account's credit pays the invoice just issued
    (inside invoice_issue's transaction, the account already locked)."""
    if invoice.is_credit_note:
        return
    if _ledger.credit_balance(invoice.organisation, invoice.currency) > 0:
        credit_apply(organisation=invoice.organisation, invoice=invoice, actor=actor)
