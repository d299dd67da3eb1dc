"""Recording a payment, and using an account's credit balance."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.guards import lock_account
from accounts.models import Organisation
from invoices.models import Invoice

from ..models import Allocation, BankEntry, Payment
from . import _ledger


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
    """
    amount = _ledger.clean_amount(amount)
    currency = _ledger.clean_currency(currency)
    received_on = _ledger.clean_day(received_on, "received_on")
    if method not in Payment.Method.values:
        raise ValidationError({"method": _("Moyen de paiement inconnu.")})
    payer_iban = _ledger.clean_iban(payer_iban, "payer_iban")
    organisation = lock_account(organisation)
    for invoice in invoices:
        if invoice.organisation_id != organisation.pk or invoice.is_credit_note:
            raise ValidationError(
                {
                    "invoices": _("%(number)s n'est pas une facture de ce compte.")
                    % {"number": invoice.number}
                }
            )
        if invoice.currency != currency:
            raise ValidationError(
                {
                    "invoices": _(
                        "La facture %(number)s est en %(invoice_currency)s, le paiement en "
                        "%(currency)s."
                    )
                    % {
                        "number": invoice.number,
                        "invoice_currency": invoice.currency,
                        "currency": currency,
                    }
                }
            )
    payment = Payment.objects.create(
        organisation=organisation,
        amount=amount,
        currency=currency,
        received_on=received_on,
        method=method,
        payer_name=_ledger.clean_text(payer_name, 140),
        payer_iban=payer_iban,
        bank_reference=_ledger.clean_text(bank_reference, 140),
        note=str(note or "").strip()[:2000],
        source=Payment.Source.STATEMENT if bank_entry else Payment.Source.SUPPORT,
        bank_entry=bank_entry,
        actor=actor,
    )
    allocations = _ledger.allocate(
        sources=[[payment, amount]],
        invoices=_ledger.open_invoices(organisation, currency, first=list(invoices)),
        actor=actor,
        by_support=by_support,
        ip=ip,
    )
    left = amount - sum((a.amount for a in allocations), Decimal(0))
    audit_record(
        organisation=organisation,
        action="payment.recorded",
        actor=actor,
        support=by_support,
        after={
            "payment": payment.pk,
            "amount": str(amount),
            "currency": currency,
            "received_on": received_on.isoformat(),
            "method": method,
            "payer": payment.payer_name,
            "bank_reference": payment.bank_reference,
            "bank_entry": bank_entry.entry_key if bank_entry else "",
            "invoices": _ledger.allocated_summary(allocations),
            "credit": str(left),
        },
        ip=ip,
    )
    _ledger.receipt_queue(payment, allocations)
    return payment


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
        allocations += _ledger.allocate(
            sources=sources, invoices=targets, actor=actor, by_support=by_support, ip=ip
        )
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
