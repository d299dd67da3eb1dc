"""Periodic work on subscriptions. Thin: find what is due, one task per row, call a service.

Every task may run twice (beat overlap, redelivery after a lost worker): the services lock
the row and re-check that the work is still due, so the second run does nothing.
"""

from celery import shared_task
from django.utils import timezone

from accounts.models import Organisation

from . import selectors, services
from .models import Subscription


@shared_task
def renewals_run() -> int:
    ids = selectors.renewals_due(today=timezone.localdate())
    for pk in ids:
        renewal_issue_task.delay_on_commit(pk)
    return len(ids)


@shared_task(acks_late=True)
def renewal_issue_task(subscription_id: int) -> bool:
    subscription = Subscription.objects.filter(pk=subscription_id).first()
    if subscription is None:
        return False
    return services.renewal_issue(subscription=subscription) is not None


@shared_task
def renewal_reminders_run() -> int:
    ids = selectors.reminders_due(today=timezone.localdate())
    for pk in ids:
        renewal_remind_task.delay_on_commit(pk)
    return len(ids)


@shared_task(acks_late=True)
def renewal_remind_task(subscription_id: int) -> bool:
    subscription = Subscription.objects.filter(pk=subscription_id).first()
    if subscription is None:
        return False
    return services.renewal_remind(subscription=subscription)


@shared_task
def anonymisations_run() -> int:
    ids = selectors.anonymisations_due(now=timezone.now())
    for pk in ids:
        account_anonymise_task.delay_on_commit(pk)
    return len(ids)


@shared_task(acks_late=True)
def account_anonymise_task(organisation_id: int) -> bool:
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        return False
    return services.account_anonymise(organisation=organisation)
