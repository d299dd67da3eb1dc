"""Payment reminders: send the day's reminders of a batch of accounts; support pauses and
resumes an account's reminders. Which invoice gets which reminder is payments.reminders'."""

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record, audit_record_many
from accounts.guards import lock_account
from accounts.models import Organisation
from accounts.selectors import invoice_recipients_of
from emails.services import email_queue_many
from invoices.models import Invoice
from invoices.payment_qr import epc_qr, epc_qr_png
from invoices.webhooks import invoice_data
from webhooks.services import webhook_emit_many

from ..models import Reminder, ReminderPause
from ..reminders import charges, invoices_to_remind
from . import _ledger

EMAIL_TEMPLATE = "payment_reminder"
# The key of the QR code attachment, rendered when the email is sent (emails.hooks,
# registered in payments.apps): {"payment_qr": {"invoice_id": 42, "amount": "1234.56"}}.
QR_ATTACHMENT = "payment_qr"


@transaction.atomic
def reminders_send(*, organisation_ids, today: date | None = None) -> list[Reminder]:
    """Send `today`'s payment reminders of these accounts; returns the reminders sent.

    In one transaction and a fixed number of queries, whatever the number of accounts and
    invoices: the accounts' rows are locked (in id order), then their invoices to remind,
    their recipients, and one INSERT each for the reminders, the emails and the audit
    events. The lock makes a second run of the same accounts (two workers, the task
    redelivered) wait for the first and then find the reminders sent; the unique
    (invoice, stage) constraint stands behind it.
    """
    today = today or timezone.localdate()
    ids = list(
        Organisation.objects.select_for_update()
        .filter(pk__in=list(organisation_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return []
    invoices = list(
        invoices_to_remind(today=today, organisation_ids=ids).select_related("organisation")
    )
    recipients = invoice_recipients_of(organisation_ids={i.organisation_id for i in invoices})
    reminders, messages, events = [], [], []
    for invoice in invoices:
        to = recipients.get(invoice.organisation_id)
        if not to:
            continue  # nobody to write to; sent once the account has an owner again
        due = charges(invoice, today=today)
        reminders.append(
            Reminder(
                organisation_id=invoice.organisation_id,
                invoice=invoice,
                stage=invoice.reminder_stage,
                sent_on=today,
                amount_due=due.amount,
                currency=due.currency,
                penalty_rate=due.rate,
                penalty=due.penalty,
                indemnity=due.indemnity if due.is_late else 0,
                recipients=len(to),
            )
        )
        messages.append(_message(invoice, due, to))
        events.append(_event(invoice, due, to))
    created = Reminder.objects.bulk_create(reminders)
    email_queue_many(messages=messages)
    audit_record_many(events=events)
    # The host hears of each reminder stage past the due date (the ones before it are
    # courtesy reminders of an invoice not yet late).
    webhook_emit_many(
        (
            "invoice.overdue",
            {
                **invoice_data(reminder.invoice),
                "days_late": reminder.stage,
                "amount_due": reminder.amount_due,
            },
        )
        for reminder in created
        if reminder.stage > 0
    )
    return created


def _message(invoice: Invoice, due, to: list[str]) -> dict:
    organisation = invoice.organisation
    attachments = []
    if epc_qr(invoice, due.amount) is not None:
        attachments.append(
            {
                QR_ATTACHMENT: {"invoice_id": invoice.pk, "amount": str(due.amount)},
                "filename": f"{invoice.number}-qr.png",
                "mimetype": "image/png",
            }
        )
    return {
        "to": to,
        "template": EMAIL_TEMPLATE,
        "context": {
            "invoice": invoice,
            "organisation": organisation,
            "due": due,
            "stage": invoice.reminder_stage,
            "qr_filename": attachments[0]["filename"] if attachments else "",
        },
        "language": organisation.language,
        "organisation": organisation,
        "attachments": attachments,
    }


def reminder_qr_png(*, payment_qr: dict) -> bytes:
    """The attachment: the EPC QR code of the amount the reminder asked (not what is due
    when it is sent, which the text would then contradict)."""
    invoice = Invoice.objects.get(pk=payment_qr["invoice_id"])
    return epc_qr_png(invoice, Decimal(payment_qr["amount"]))


def _event(invoice: Invoice, due, to: list[str]) -> dict:
    return {
        "organisation": invoice.organisation,
        "action": "payment_reminder.sent",
        "after": {
            "number": invoice.number,
            "stage": invoice.reminder_stage,
            "due_date": invoice.due_date.isoformat(),
            "amount_due": str(due.amount),
            "currency": due.currency,
            "days_late": due.days_late,
            "penalty_rate": str(due.rate),
            "penalty": str(due.penalty),
            "indemnity": str(due.indemnity) if due.is_late else "0",
            "recipients": to,
        },
    }


def _clean_reason(reason: str) -> str:
    reason = _ledger.clean_text(reason, 500)
    if not reason:
        raise ValidationError({"reason": _("Indiquez la raison.")})
    return reason


@transaction.atomic
def reminders_pause(
    *, organisation: Organisation, reason: str, actor, ip: str | None = None
) -> ReminderPause:
    """Support pauses the account's payment reminders: none is sent until they resume.
    Refused without a reason, or when they are already paused (nothing changes)."""
    reason = _clean_reason(reason)
    organisation = lock_account(organisation)
    if ReminderPause.objects.filter(organisation=organisation).exists():
        raise ValidationError(_("Les relances de ce compte sont déjà suspendues."))
    pause = ReminderPause.objects.create(organisation=organisation, reason=reason, actor=actor)
    audit_record(
        organisation=organisation,
        action="payment_reminders.paused",
        actor=actor,
        support=True,
        after={"reason": reason},
        ip=ip,
    )
    return pause


@transaction.atomic
def reminders_resume(
    *, organisation: Organisation, reason: str, actor, ip: str | None = None
) -> None:
    """Support resumes the account's payment reminders. The next run sends each unpaid
    invoice's latest due stage (not those missed while paused). Refused without a reason,
    or when they are not paused."""
    reason = _clean_reason(reason)
    organisation = lock_account(organisation)
    pause = ReminderPause.objects.filter(organisation=organisation).first()
    if pause is None:
        raise ValidationError(_("Les relances de ce compte ne sont pas suspendues."))
    pause.delete()
    audit_record(
        organisation=organisation,
        action="payment_reminders.resumed",
        actor=actor,
        support=True,
        before={"paused_at": pause.created_at.isoformat(), "pause_reason": pause.reason},
        after={"reason": reason},
        ip=ip,
    )
