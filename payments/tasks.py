"""The daily payment reminder run. Thin: find the accounts with something to remind, hand
them to the workers in chunks, each chunk re-read and sent by the service.

Every task may run twice (beat overlap, redelivery after a lost worker): the service locks
the chunk's accounts and sends a reminder once per invoice and stage, so the second run
sends nothing.
"""

from datetime import date

from celery import shared_task
from django.conf import settings
from django.utils import timezone

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
