"""Periodic work on direct debits. Thin: find the accounts with something due, one task
per account, call the service (which locks the account and re-checks, so a task run twice,
or two runs at once, notify each collection once)."""

from celery import shared_task
from django.utils import timezone

from accounts.models import Organisation

from . import selectors, services


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
