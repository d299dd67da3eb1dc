from datetime import timedelta

from django.utils import timezone

from accounts.models import AuditEvent, User
from emails.models import Email
from invoices.models import Invoice
from subscriptions import services, tasks
from subscriptions.models import AccountClosure, Subscription
from tests.factories import SubscriptionFactory


def test_renewals_run_twice_issues_once(
    owner, subscription, plans, today, django_capture_on_commit_callbacks
):
    Subscription.objects.filter(pk=subscription.pk).update(
        period_start=today - timedelta(days=365), period_end=today
    )
    # Another account, not due: untouched.
    other = SubscriptionFactory(plan=plans["essentiel"])
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.renewals_run.delay().get() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.renewals_run.delay().get() == 0
    assert tasks.renewal_issue_task.delay(subscription.pk).get() is False

    assert Invoice.objects.filter(organisation=owner.organisation).count() == 1
    assert not Invoice.objects.filter(organisation=other.organisation).exists()
    subscription.refresh_from_db()
    assert subscription.period_start == today
    assert AuditEvent.objects.filter(action="renewal.issued").count() == 1


def test_reminders_run_once_per_period(
    owner, subscription, today, django_capture_on_commit_callbacks
):
    Subscription.objects.filter(pk=subscription.pk).update(period_end=today + timedelta(days=20))
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            tasks.renewal_reminders_run.delay()
    [email] = Email.objects.filter(kind="renewal_reminder")
    assert email.to == "owner@example.com"
    assert email.status == Email.Status.SENT


def test_anonymisations_run_after_the_grace_period(
    owner, subscription, django_capture_on_commit_callbacks
):
    link = services.closure_request(organisation=owner.organisation, actor=owner.user)
    services.closure_confirm(token=link.token)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.anonymisations_run.delay().get() == 0
    owner.user.refresh_from_db()
    assert owner.user.is_active

    AccountClosure.objects.update(anonymise_after=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.anonymisations_run.delay().get() == 1
    owner.user.refresh_from_db()
    assert not owner.user.is_active
    assert not User.objects.filter(email="owner@example.com").exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.anonymisations_run.delay().get() == 0


def test_tasks_for_missing_rows_do_nothing(db):
    assert tasks.renewal_issue_task.delay(10**9).get() is False
    assert tasks.renewal_remind_task.delay(10**9).get() is False
    assert tasks.account_anonymise_task.delay(10**9).get() is False


def test_beat_schedules_the_periodic_tasks(settings):
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "subscriptions.tasks.renewals_run",
        "subscriptions.tasks.renewal_reminders_run",
        "subscriptions.tasks.anonymisations_run",
    } <= scheduled
