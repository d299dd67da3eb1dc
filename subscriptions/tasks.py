"""Periodic work on subscriptions. Thin: find what is due, one task per row, call a service.

Every task may run twice (beat overlap, redelivery after a lost worker): the services lock
the row and re-check that the work is still due, so the second run does nothing.
"""

from celery import shared_task
from django.utils import timezone

from accounts.models import Organisation

from . import selectors, services
from .models import Subscription


def _one_task_each(task, ids) -> int:
    # One task per row, published after commit: a failing row does not hold up the others.
    for pk in ids:
        task.delay_on_commit(pk)
    return len(ids)


@shared_task
def renewals_run() -> int:
    return _one_task_each(renewal_issue_task, selectors.renewals_due(today=timezone.localdate()))


@shared_task(acks_late=True)
def renewal_issue_task(subscription_id: int) -> bool:
    subscription = Subscription.objects.filter(pk=subscription_id).first()
    if subscription is None:
        return False
    return services.renewal_issue(subscription=subscription) is not None


@shared_task
def renewal_reminders_run() -> int:
    return _one_task_each(renewal_remind_task, selectors.reminders_due(today=timezone.localdate()))


@shared_task(acks_late=True)
def renewal_remind_task(subscription_id: int) -> bool:
    subscription = Subscription.objects.filter(pk=subscription_id).first()
    if subscription is None:
        return False
    return services.renewal_remind(subscription=subscription)


@shared_task
def anonymisations_run() -> int:
    return _one_task_each(account_anonymise_task, selectors.anonymisations_due(now=timezone.now()))


@shared_task(acks_late=True)
def account_anonymise_task(organisation_id: int) -> bool:
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        return False
    return services.account_anonymise(organisation=organisation)
