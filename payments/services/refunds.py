"""Paying an account's credit balance back."""

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.guards import lock_account
from accounts.models import Organisation
from billing_portal.formatting import money

from ..models import Allocation, Refund
from . import _ledger


@transaction.atomic
def refund_record(
    *,
    organisation: Organisation,
    amount: Decimal,
    currency: str,
    refunded_on: date,
    reason: str,
    payee_iban: str = "",
    reference: str = "",
    actor=None,
    ip: str | None = None,
) -> Refund:
    """Record that support paid `amount` of the account's credit balance back (the transfer
    itself is made from the bank): the oldest payments' unallocated money goes to the
    refund. Refused beyond the credit balance. Final: a refund is not undone."""
    amount = _ledger.clean_amount(amount)
    currency = _ledger.clean_currency(currency)
    refunded_on = _ledger.clean_day(refunded_on, "refunded_on")
    payee_iban = _ledger.clean_iban(payee_iban, "payee_iban")
    reason = _ledger.clean_text(reason, 500)
    if not reason:
        raise ValidationError({"reason": _("Indiquez la raison du remboursement.")})
    organisation = lock_account(organisation)
    sources = _ledger.remainders(organisation, currency)
    available = sum((left for _payment, left in sources), Decimal(0))
    if amount > available:
        raise ValidationError(
            {
                "amount": _("Le crédit du compte en %(currency)s est de %(available)s.")
                % {"currency": currency, "available": money(available, currency)}
            }
        )
    refund = Refund.objects.create(
        organisation=organisation,
        amount=amount,
        currency=currency,
        refunded_on=refunded_on,
        payee_iban=payee_iban,
        reference=_ledger.clean_text(reference, 140),
        reason=reason,
        actor=actor,
    )
    allocations, still = [], amount
    for payment, left in sources:
        if still <= 0:
            break
        part = min(left, still)
        allocations.append(Allocation(payment=payment, refund=refund, amount=part, actor=actor))
        still -= part
    Allocation.objects.bulk_create(allocations)
    audit_record(
        organisation=organisation,
        action="refund.recorded",
        actor=actor,
        support=True,
        after={
            "amount": str(amount),
            "currency": currency,
            "refunded_on": refunded_on.isoformat(),
            "reference": refund.reference,
            "reason": reason,
        },
        ip=ip,
    )
    return refund
