"""A document's dated status history: the portal's own steps (issued, paid, cashed, payment
cancelled, void), written by the services that make them, inside their transaction. The
platform's statuses are recorded by lifecycle.py."""

from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Invoice, InvoiceStatusEvent

Code = InvoiceStatusEvent.Code


def lifecycle_portal_event(*, invoice: Invoice, code: str, actor=None, occurred_at=None):
    """Record one of the portal's own steps (issued, paid, cashed, void). Called inside the
    transaction of the service that made it, after the change it records."""
    return InvoiceStatusEvent.objects.create(
        invoice=invoice,
        code=code,
        occurred_at=occurred_at or timezone.now(),
        source=InvoiceStatusEvent.Source.PORTAL,
        actor=actor,
    )


def lifecycle_day_time(day) -> datetime:
    """When a step dated `day` happened (an invoice issued, paid): now for today, the start
    of the day for an earlier one."""
    if day == timezone.localdate():
        return timezone.now()
    return timezone.make_aware(datetime.combine(day, time.min))


def credit_note_allowed(invoice: Invoice) -> None:
    """A rejected invoice was never issued in the reform's sense: nothing to cancel. Raised
    from credit_note_issue, with the invoice locked."""
    if invoice.status_events.filter(code=Code.REJECTED).exists():
        raise ValidationError(
            _(
                "La facture %(number)s a été rejetée par la plateforme : elle est réputée "
                "non émise et ne s'annule pas par un avoir. Émettez la facture corrigée."
            )
            % {"number": invoice.number}
        )
