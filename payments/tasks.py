"""Periodic work on payments: the daily payment reminder run and the direct-debit
pre-notification run. Thin: find the accounts with something due, hand them to the workers
(in chunks, or one task per account), each re-read and done by the service.

Every task may run twice (beat overlap, redelivery after a lost worker): the services lock
the accounts and do each piece of work once (a reminder per invoice and stage, a
pre-notification per collection), so the second run sends nothing.
"""

from datetime import date

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from accounts.models import Organisation

from . import selectors, services


@shared_task
def payment_reminders_run() -> int:
    """One task per chunk of PAYMENT_REMINDER_CHUNK accounts, published after commit."""
    ids = selectors.reminder_accounts_due(today=timezone.localdate())
    size = max(settings.PAYMENT_REMINDER_CHUNK, 1)
    for start in range(0, len(ids), size):
        payment_reminders_send_task.delay_on_commit(ids[start : start + size])
    return len(ids)


@shared_task(acks_late=True)
def payment_reminders_send_task(organisation_ids: list[int], today: str | None = None) -> int:
    day = date.fromisoformat(today) if today else None
    return len(services.reminders_send(organisation_ids=organisation_ids, today=day))


@shared_task
def prenotifications_run() -> int:
    ids = selectors.prenotifications_due(today=timezone.localdate())
    # Published after commit, one per account: a failing account does not hold up the others.
    for pk in ids:
        prenotification_send_task.delay_on_commit(pk)
    return len(ids)


@shared_task(acks_late=True)
def prenotification_send_task(organisation_id: int) -> int:
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        return 0
    return services.collections_prenotify(organisation=organisation)
