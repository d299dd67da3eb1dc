"""What a credit note gives back: money already paid on the invoice it credits returns to the
account's credit balance, the one place the portal keeps money owed to a customer."""

from decimal import Decimal

from django.db import transaction

from accounts.audit import audit_record
from accounts.guards import lock_account
from invoices import services as invoice_services
from invoices.models import Invoice

from ..models import Allocation, AllocationReversal, Payment
from . import _ledger

ZERO = Decimal("0.00")


@transaction.atomic
def credit_return(
    *,
    invoice: Invoice,
    credit_note: Invoice,
    amount: Decimal,
    reason: str = "",
    actor=None,
    by_support: bool = False,
    ip: str | None = None,
) -> list[AllocationReversal]:
    """invoices.hooks.invoice_credited: `credit_note` credits `amount` (incl. VAT) of what
    payments settled of `invoice`; that much of the invoice's allocations is undone, newest
    payment first, so the money is again unallocated: the account's credit balance, which
    its next invoice uses or support refunds. An allocation undone in part is undone whole
    and its kept part allocated again to the invoice (records are never edited). The
    invoice's `amount_paid` drops by `amount`; it asks that much less since the credit note,
    so a paid invoice stays paid.

    An invoice paid before payments were recorded (paid by a tick, `amount_paid` 0) has no
    allocation to undo: the part not covered is recorded as a payment received before
    payments were recorded (source « earlier »), unallocated, so it is credit all the same.

    Runs inside credit_note_issue's transaction, the account and the invoice locked."""
    organisation = lock_account(invoice.organisation)
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    reason = _ledger.clean_text(reason, 500) or credit_note.number
    active = list(
        Allocation.objects.filter(invoice=invoice, reversal__isnull=True)
        .select_related("payment")
        .order_by("-payment__received_on", "-payment_id", "-pk")
    )
    reversals, kept, undone, still = [], [], [], amount
    for allocation in active:
        if still <= 0:
            break
        part = min(allocation.amount, still)
        reversals.append(
            AllocationReversal(
                allocation=allocation, reason=reason, credit_note=credit_note, actor=actor
            )
        )
        if part < allocation.amount:
            kept.append(
                Allocation(
                    payment=allocation.payment,
                    invoice=invoice,
                    amount=allocation.amount - part,
                    actor=actor,
                )
            )
        undone.append({"payment": allocation.payment_id, "amount": str(part)})
        still -= part
    reversals = AllocationReversal.objects.bulk_create(reversals)
    Allocation.objects.bulk_create(kept)
    from_payments = amount - still
    if from_payments:
        invoice_services.invoice_payments_record(
            invoice=invoice,
            amount_paid=invoice.amount_paid - from_payments,
            paid_on=credit_note.issue_date,
            actor=actor,
            by_support=by_support,
            ip=ip,
        )
    earlier = None
    if still > 0:
        earlier = Payment.objects.create(
            organisation=organisation,
            amount=still,
            currency=invoice.currency,
            received_on=min(invoice.paid_on or credit_note.issue_date, credit_note.issue_date),
            method=Payment.Method.OTHER,
            payer_name=invoice.buyer_legal_name[:140],
            # Stored as written, in the portal's reference language (like the audit trail).
            note=f"Règlement de {invoice.number} antérieur à l'enregistrement des paiements, "
            f"rendu par l'avoir {credit_note.number}.",
            source=Payment.Source.EARLIER,
            actor=actor,
        )
    audit_record(
        organisation=organisation,
        action="credit.returned",
        actor=actor,
        support=by_support,
        after={
            "credit_note": credit_note.number,
            "invoice": invoice.number,
            "amount": str(amount),
            "currency": invoice.currency,
            "allocations_undone": undone,
            "earlier_payment": str(still) if earlier else "",
            "credit": str(_ledger.credit_balance(organisation, invoice.currency)),
        },
        ip=ip,
    )
    return reversals
