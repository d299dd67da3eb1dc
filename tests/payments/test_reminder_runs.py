"""The daily reminder run: the fan-out in chunks, the queries it costs, and two runs at once
on PostgreSQL."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership
from billing_portal import bulk
from emails.models import Email
from payments import tasks
from payments.models import Reminder
from payments.selectors import reminder_accounts_due
from payments.services import reminders_pause, reminders_send
from tests.factories import (
    BillingContactFactory,
    InvoiceFactory,
    MembershipFactory,
    OrganisationFactory,
)
from tests.test_concurrency import _run_together

TODAY = date(2026, 3, 1)


@pytest.fixture(autouse=True)
def _terms(settings):
    settings.LATE_PAYMENT_ECB_RATE = Decimal("2.15")
    settings.PAYMENT_REMINDER_OFFSETS = [-3, 1, 15, 30]


def accounts_with_late_invoices(count: int, *, today=TODAY, invoices=2, contacts=2) -> list:
    """`count` accounts, each with an owner, billing contacts and unpaid invoices at
    different stages."""
    organisations = []
    for _ in range(count):
        organisation = MembershipFactory(role=Membership.Role.OWNER).organisation
        BillingContactFactory.create_batch(contacts, organisation=organisation)
        for n in range(invoices):
            InvoiceFactory(organisation=organisation, due_date=today - timedelta(days=1 + 15 * n))
        organisations.append(organisation)
    return organisations


def queries_to_send(organisations, today=TODAY) -> int:
    with CaptureQueriesContext(connection) as captured:
        sent = reminders_send(organisation_ids=[o.pk for o in organisations], today=today)
    assert len(sent) == 2 * len(organisations)
    return len(captured.captured_queries)


@pytest.mark.parametrize("copy", [False, True], ids=["insert", "copy"])
def test_a_chunk_costs_the_same_queries_for_5_and_20_accounts(db, monkeypatch, copy):
    # Every table's rows written one way, whatever their number: INSERTs, or (PostgreSQL,
    # from billing_portal.bulk.COPY_MIN_ROWS rows) COPY after a query for their ids.
    monkeypatch.setattr(bulk, "COPY_MIN_ROWS", 1 if copy else 10**9)
    five = queries_to_send(accounts_with_late_invoices(5))
    twenty = queries_to_send(accounts_with_late_invoices(20, invoices=2, contacts=3))
    assert five == twenty
    # The lock, the invoices, the owners, the contacts, the reminders, the emails, the audit
    # events, the host's webhooks (the enabled endpoints, the events; none here, so no
    # deliveries) (and the savepoint of the transaction); by COPY, the ids of the emails,
    # audit events and webhook events first.
    assert twenty <= 11 + (3 if copy else 0)
    assert Email.objects.filter(kind="payment_reminder").count() == 5 * 2 * 3 + 20 * 2 * 4


def test_the_accounts_due_are_read_in_one_query(db, django_assert_num_queries):
    due = accounts_with_late_invoices(3)
    paid_up = OrganisationFactory()
    InvoiceFactory(organisation=paid_up, due_date=TODAY + timedelta(days=10))  # not yet
    paused = accounts_with_late_invoices(1)[0]
    reminders_pause(organisation=paused, reason="Litige", actor=None)
    with django_assert_num_queries(1):
        ids = reminder_accounts_due(today=TODAY)
    assert ids == sorted(o.pk for o in due)


def test_the_run_hands_the_accounts_out_in_chunks(db, settings, monkeypatch):
    settings.PAYMENT_REMINDER_CHUNK = 2
    organisations = accounts_with_late_invoices(5, today=timezone.localdate())
    chunks = []
    monkeypatch.setattr(
        tasks.payment_reminders_send_task, "delay_on_commit", lambda ids: chunks.append(ids)
    )
    assert tasks.payment_reminders_run() == 5
    ids = sorted(o.pk for o in organisations)
    assert chunks == [ids[0:2], ids[2:4], ids[4:5]]


def test_with_tasks_in_process_the_run_just_sends(db, django_capture_on_commit_callbacks):
    accounts_with_late_invoices(3, today=timezone.localdate())
    with django_capture_on_commit_callbacks(execute=True):
        tasks.payment_reminders_run()
    assert Reminder.objects.count() == 6
    with django_capture_on_commit_callbacks(execute=True):
        tasks.payment_reminders_run()  # the second run of the day finds nothing to do
    assert Reminder.objects.count() == 6


def test_the_chunk_task_rereads_and_is_idempotent(db):
    (organisation,) = accounts_with_late_invoices(1)
    assert tasks.payment_reminders_send_task([organisation.pk], TODAY.isoformat()) == 2
    assert tasks.payment_reminders_send_task([organisation.pk], TODAY.isoformat()) == 0
    assert tasks.payment_reminders_send_task([999999], TODAY.isoformat()) == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_each_reminder_once():
    organisations = accounts_with_late_invoices(4)
    ids = [o.pk for o in organisations]

    def run(order):
        return lambda: len(reminders_send(organisation_ids=order, today=TODAY))

    # Two workers with the same chunk, one of them listing the accounts the other way round.
    outcomes = _run_together(run(ids), run(list(reversed(ids))))
    # Both finish without error (not a unique-constraint violation): the second run waited
    # for the first and found its reminders.
    assert all(isinstance(o, int) for o in outcomes), outcomes
    assert sorted(outcomes) == [0, 8], outcomes
    assert Reminder.objects.count() == 8
    assert Reminder.objects.values("invoice", "stage").distinct().count() == 8
    assert Email.objects.filter(kind="payment_reminder").count() == 8 * 3
