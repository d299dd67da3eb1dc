"""Undoing an allocation: never a delete, a reversing record that says who and why."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.guards import lock_account
from invoices import services as invoice_services
from invoices.models import Invoice

from ..models import Allocation, AllocationReversal
from . import _ledger


@transaction.atomic
def allocation_reverse(
    *, allocation: Allocation, reason: str, actor, by_support: bool = True, ip: str | None = None
) -> AllocationReversal:
    """Undo a wrong allocation of a payment to an invoice: its amount goes back to the
    account's credit balance (support then applies it where it belongs, or refunds it) and
    the invoice asks for it again; a paid invoice that no longer is becomes open
    (« Paiement annulé »). Refused for an allocation already undone, or one to a refund."""
    reason = _ledger.clean_text(reason, 500)
    if not reason:
        raise ValidationError({"reason": _("Indiquez pourquoi l'imputation est annulée.")})
    allocation = Allocation.objects.select_related("payment").get(pk=allocation.pk)
    organisation = lock_account(allocation.payment.organisation)
    if allocation.invoice_id is None:
        raise ValidationError(_("Un remboursement est définitif : il ne s'annule pas."))
    if AllocationReversal.objects.filter(allocation=allocation).exists():
        raise ValidationError(_("Cette imputation est déjà annulée."))
    invoice = Invoice.objects.select_for_update().get(pk=allocation.invoice_id)
    try:
        with transaction.atomic():
            reversal = AllocationReversal.objects.create(
                allocation=allocation, reason=reason, actor=actor
            )
    except IntegrityError:
        raise ValidationError(_("Cette imputation est déjà annulée.")) from None
    invoice_services.invoice_payments_record(
        invoice=invoice,
        amount_paid=invoice.amount_paid - allocation.amount,
        paid_on=None,
        actor=actor,
        by_support=by_support,
        ip=ip,
    )
    audit_record(
        organisation=organisation,
        action="allocation.reversed",
        actor=actor,
        support=by_support,
        before={
            "payment": allocation.payment_id,
            "invoice": invoice.number,
            "amount": str(allocation.amount),
            "currency": allocation.payment.currency,
        },
        after={"reason": reason},
        ip=ip,
    )
    return reversal
