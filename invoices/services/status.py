"""An issued document's status and what payments settled of it: the columns that change
after issue (status, amount paid, paid date)."""

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record

from ..models import Invoice, InvoiceStatusEvent
from .history import lifecycle_day_time, lifecycle_portal_event


def _set_status(
    *,
    invoice,
    new: str,
    allowed_from: set[str],
    action: str,
    actor,
    by_support,
    ip,
    extra=None,
    events=(),
    columns=None,
    occurred_at=None,
):
    """Change the status (and `columns` with it), audit it, and add `events` (portal steps)
    to the history, dated `occurred_at` (now by default)."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status == new:
        return locked
    if locked.status not in allowed_from:
        raise ValidationError(
            _("Une facture « %(status)s » ne peut pas passer à « %(new)s ».")
            % {"status": locked.get_status_display(), "new": Invoice.Status(new).label}
        )
    # The immutability guard lets exactly these columns change.
    Invoice.objects.filter(pk=locked.pk).update(status=new, **(columns or {}))
    audit_record(
        organisation=locked.organisation,
        action=action,
        actor=actor,
        support=by_support,
        before={"number": locked.number, "status": locked.status},
        after={"number": locked.number, "status": new, **(extra or {})},
        ip=ip,
    )
    for code in events:
        lifecycle_portal_event(invoice=locked, code=code, actor=actor, occurred_at=occurred_at)
    return Invoice.objects.get(pk=locked.pk)


@transaction.atomic
def invoice_mark_paid(
    *,
    invoice: Invoice,
    paid_on: date | None = None,
    actor=None,
    by_support: bool = False,
    ip: str | None = None,
) -> Invoice:
    """Record that an open invoice was paid on `paid_on` (the payment's date; today when not
    given). The payments app calls it when allocations settle the invoice in full."""
    paid_on = paid_on or timezone.localdate()
    if paid_on > timezone.localdate():
        raise ValidationError({"paid_on": _("Un paiement ne peut pas être daté du futur.")})
    return _set_status(
        invoice=invoice,
        new=Invoice.Status.PAID,
        allowed_from={Invoice.Status.OPEN},
        action="invoice.paid",
        actor=actor,
        by_support=by_support,
        ip=ip,
        extra={"paid_on": paid_on.isoformat()},
        # « Encaissée » (212), the status the seller transmits for services: it follows
        # from the payment, on the payment's date.
        events=(InvoiceStatusEvent.Code.PAID, InvoiceStatusEvent.Code.CASHED),
        columns={"paid_on": paid_on},
        occurred_at=lifecycle_day_time(paid_on),
    )


@transaction.atomic
def invoice_payments_record(
    *,
    invoice: Invoice,
    amount_paid: Decimal,
    paid_on: date | None,
    actor=None,
    by_support: bool = False,
    ip: str | None = None,
) -> Invoice:
    """What payments have settled of `invoice` now: `amount_paid`, the sum of the
    allocations to it (the payments app computes it, in the transaction that changes them),
    and `paid_on`, the date of the payment that completes it.

    Settled in full (its total less its credit notes), an open invoice becomes paid
    (invoice_mark_paid: « Payée » and « Encaissée » on that date). An allocation undone
    below that makes a paid invoice open again (« Paiement annulé »). A void invoice takes
    nothing more; a credit note is never paid.
    """
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.is_credit_note:
        raise ValidationError(
            _("%(number)s est un avoir : il ne reçoit pas de paiement.") % {"number": locked.number}
        )
    if amount_paid < 0 or amount_paid > locked.total:
        raise ValidationError(
            _("Le montant réglé de %(number)s doit être entre zéro et son total.")
            % {"number": locked.number}
        )
    if amount_paid > locked.amount_paid and locked.status != Invoice.Status.OPEN:
        raise ValidationError(
            _("La facture %(number)s est « %(status)s » : elle ne reçoit plus de paiement.")
            % {"number": locked.number, "status": locked.status_label}
        )
    if amount_paid != locked.amount_paid:
        Invoice.objects.filter(pk=locked.pk).update(amount_paid=amount_paid)
    # What payments must settle: the total less what credit notes took off it.
    asked = locked.total - locked.credited
    if locked.status == Invoice.Status.OPEN and amount_paid >= asked:
        return invoice_mark_paid(
            invoice=locked, paid_on=paid_on, actor=actor, by_support=by_support, ip=ip
        )
    # Paid by its allocations (not ticked before payments were recorded), and no more.
    if locked.status == Invoice.Status.PAID and locked.amount_paid >= asked > amount_paid:
        return _set_status(
            invoice=locked,
            new=Invoice.Status.OPEN,
            allowed_from={Invoice.Status.PAID},
            action="invoice.unpaid",
            actor=actor,
            by_support=by_support,
            ip=ip,
            extra={"amount_paid": str(amount_paid)},
            events=(InvoiceStatusEvent.Code.UNPAID,),
            columns={"paid_on": None},
        )
    return Invoice.objects.get(pk=locked.pk)
