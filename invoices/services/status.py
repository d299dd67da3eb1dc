"""An issued document's status, the one column that changes after issue: paid, void."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import audit_record

from ..models import Invoice, InvoiceStatusEvent
from .history import lifecycle_portal_event


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
):
    """Change the status, audit it, and add `events` (portal steps) to the history."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status == new:
        return locked
    if locked.status not in allowed_from:
        raise ValidationError(
            _("Une facture « %(status)s » ne peut pas passer à « %(new)s ».")
            % {"status": locked.get_status_display(), "new": Invoice.Status(new).label}
        )
    # The immutability guard lets exactly this column change.
    Invoice.objects.filter(pk=locked.pk).update(status=new)
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
        lifecycle_portal_event(invoice=locked, code=code, actor=actor)
    return Invoice.objects.get(pk=locked.pk)


@transaction.atomic
def invoice_mark_paid(
    *, invoice: Invoice, actor=None, by_support: bool = False, ip: str | None = None
) -> Invoice:
    """Record that an open invoice was paid (the bank transfer arrived)."""
    return _set_status(
        invoice=invoice,
        new=Invoice.Status.PAID,
        allowed_from={Invoice.Status.OPEN},
        action="invoice.paid",
        actor=actor,
        by_support=by_support,
        ip=ip,
        # « Encaissée » (212), the status the seller transmits for services: it follows
        # from the payment.
        events=(InvoiceStatusEvent.Code.PAID, InvoiceStatusEvent.Code.CASHED),
    )
