"""Which invoices get a payment reminder today, at which stage, and what it says they owe.

A stage is a number of days from the invoice's due date (settings.PAYMENT_REMINDER_OFFSETS,
default −3, 1, 15, 30: three days before, then one, fifteen and thirty days after). On a
given day an unpaid invoice's *due stage* is the latest offset already reached; it gets a
reminder for that stage unless it already had one for that stage or a later one. So a run
missed for days sends the latest stage only, never a burst of the earlier ones; and an
invoice that has had its last stage gets nothing more.

`invoices_to_remind` is the one place that decides; the daily run (payments.selectors,
payments.tasks) and the service that sends (payments.services.reminders) both read it.
"""

from datetime import date, timedelta

from django.conf import settings
from django.db.models import (
    Case,
    DecimalField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from accounts.models import Organisation
from invoices.late_payment import LateCharges, late_charges
from invoices.models import Invoice
from invoices.selectors import with_credit_sums

from .models import Collection, Reminder, ReminderPause


def offsets() -> list[int]:
    """The stages, in days from the due date, in order."""
    return sorted(set(settings.PAYMENT_REMINDER_OFFSETS))


def due_stage(*, due_date: date, today: date) -> int | None:
    """The latest stage reached on `today` by an invoice due on `due_date`, or None before
    the first one."""
    reached = [offset for offset in offsets() if due_date + timedelta(days=offset) <= today]
    return reached[-1] if reached else None


def _stage_expression(today: date) -> Case:
    """due_stage in SQL: the latest offset whose day has come."""
    return Case(
        *[
            When(due_date__lte=today - timedelta(days=offset), then=Value(offset))
            for offset in reversed(offsets())
        ],
        default=None,
        output_field=IntegerField(),
    )


def invoices_to_remind(*, today: date, organisation_ids=None) -> QuerySet:
    """The invoices that get a reminder on `today`, each with its `reminder_stage`.

    An issued invoice (not a credit note), open, with something still to pay (its total,
    less its credit notes and the payments recorded: Invoice.amount_due), of an account that
    is not closed and whose reminders support has not paused, not being collected by direct
    debit, that has reached a stage and had no reminder for it or a later one. One SELECT,
    whatever the number of accounts.
    """
    # An invoice being collected by SEPA direct debit (a collection planned, pre-notified or
    # sent to the bank) gets no reminder: nobody is asked to pay by transfer what will be
    # debited. Once its collection is returned or cancelled, the reminders resume.
    if not offsets():
        return Invoice.objects.none()
    money = DecimalField(max_digits=14, decimal_places=2)
    latest_sent = Reminder.objects.filter(invoice=OuterRef("pk")).order_by("-stage")
    invoices = with_credit_sums(
        Invoice.objects.filter(
            kind=Invoice.Kind.INVOICE,
            status=Invoice.Status.OPEN,
            due_date__lte=today - timedelta(days=offsets()[0]),
        ).exclude(organisation__status=Organisation.Status.CLOSED)
    )
    if organisation_ids is not None:
        invoices = invoices.filter(organisation_id__in=list(organisation_ids))
    return (
        invoices.annotate(
            still_due=F("total")
            + Coalesce(F("credited_sum"), Value(0), output_field=money)
            - F("amount_paid"),
            reminder_stage=_stage_expression(today),
            last_reminder_stage=Subquery(latest_sent.values("stage")[:1]),
        )
        .filter(still_due__gt=0, reminder_stage__isnull=False)
        .filter(
            Q(last_reminder_stage__isnull=True) | Q(last_reminder_stage__lt=F("reminder_stage"))
        )
        .exclude(Exists(ReminderPause.objects.filter(organisation=OuterRef("organisation"))))
        .exclude(
            Exists(Collection.objects.filter(invoice=OuterRef("pk"), status__in=Collection.OPEN))
        )
        .order_by("organisation_id", "due_date", "sequence")
    )


def charges(invoice: Invoice, *, today: date) -> LateCharges:
    """What the reminder states: what is still due, and the penalties and indemnity it owes
    on `today` under the invoice's terms (before the due date: what would apply)."""
    return late_charges(
        amount=invoice.amount_due, currency=invoice.currency, due_date=invoice.due_date, on=today
    )
