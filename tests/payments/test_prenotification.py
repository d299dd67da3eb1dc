"""The pre-notification: the owner and billing contacts are told of each collection at
least DIRECT_DEBIT_NOTICE_DAYS before it, once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent, Membership
from emails.models import Email
from payments import tasks
from payments.models import Collection, Mandate
from payments.services import collections_prenotify

from .conftest import invoice
from .direct_debit import collection, mandate

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def planned(owner, billing_contact, today):
    account = owner.organisation
    debit = mandate(account)
    return {
        "soon": collection(
            invoice(account, "INV-10682", "7200.00"), debit, collect_on=today + timedelta(days=14)
        ),
        "later": collection(
            invoice(account, "INV-10683", "600.00"), debit, collect_on=today + timedelta(days=15)
        ),
    }


def fresh(row):
    return type(row).objects.get(pk=row.pk)


def test_each_collection_within_the_notice_period_is_notified_once(planned, owner, today):
    assert collections_prenotify(organisation=owner.organisation, today=today) == 1
    soon, later = fresh(planned["soon"]), fresh(planned["later"])
    assert soon.status == Collection.Status.NOTIFIED and soon.notified_at is not None
    assert soon.collect_on == today + timedelta(days=14)
    assert later.status == Collection.Status.PLANNED and later.notified_at is None
    emails = Email.objects.filter(kind="direct_debit_notice")
    assert sorted(emails.values_list("to", flat=True)) == [
        "compta@example.com",
        "owner@example.com",
    ]
    body = emails.first().body_text
    for fact in (
        "7\xa0200,00\xa0€",
        (today + timedelta(days=14)).strftime("%Y"),
        "INV-10682",
        "FR14 **** **** **** **** **** 606",
        "PAL-MDT-0001",
        "FR72ZZZ123456",
    ):
        assert fact in body, fact
    assert "20041010050500013" not in body  # the IBAN is masked
    assert emails.first().subject.startswith("Prélèvement SEPA de 7 200,00 € le ")
    event = AuditEvent.objects.get(action="collection.notified")
    assert event.after["invoice"] == "INV-10682" and event.organisation == owner.organisation

    # The second run of the day, and the next day's, find nothing more to say about it.
    assert collections_prenotify(organisation=owner.organisation, today=today) == 0
    assert Email.objects.filter(kind="direct_debit_notice").count() == 2
    assert collections_prenotify(
        organisation=owner.organisation, today=today + timedelta(days=1)
    ) == (1)
    assert fresh(planned["later"]).status == Collection.Status.NOTIFIED
    assert Email.objects.filter(kind="direct_debit_notice").count() == 4


def test_a_missed_run_moves_the_collection_to_keep_the_notice_period(planned, owner, today):
    late = planned["soon"]
    Collection.objects.filter(pk=late.pk).update(collect_on=today + timedelta(days=3))
    collections_prenotify(organisation=owner.organisation, today=today)
    late = fresh(late)
    assert late.status == Collection.Status.NOTIFIED
    assert late.collect_on == today + timedelta(days=14)
    event = AuditEvent.objects.get(action="collection.notified", after__invoice="INV-10682")
    assert event.before == {"collect_on": (today + timedelta(days=3)).isoformat()}
    assert event.after["collect_on"] == (today + timedelta(days=14)).isoformat()


def test_the_email_is_in_the_account_language(planned, owner, today):
    owner.organisation.language = "en"
    owner.organisation.save(update_fields=["language"])
    collections_prenotify(organisation=owner.organisation, today=today)
    email = Email.objects.filter(kind="direct_debit_notice").first()
    assert "We will collect €7,200.00" in email.body_text
    assert "Mandate reference" in email.body_text
    assert email.subject.startswith("SEPA direct debit of €7,200.00 on ")


def test_nothing_is_said_of_a_suspended_mandate_or_a_paid_invoice(planned, owner, today):
    Mandate.objects.update(status=Mandate.Status.SUSPENDED)
    assert collections_prenotify(organisation=owner.organisation, today=today) == 0
    Mandate.objects.update(status=Mandate.Status.ACTIVE)
    planned["soon"].invoice.__class__.objects.filter(pk=planned["soon"].invoice_id).update(
        status="paid"
    )
    assert collections_prenotify(organisation=owner.organisation, today=today) == 0
    assert not Email.objects.filter(kind="direct_debit_notice").exists()


def test_the_daily_task_fans_out_one_task_per_account(
    planned, other_owner, today, django_capture_on_commit_callbacks
):
    nordic = other_owner.organisation
    theirs = collection(
        invoice(nordic, "INV-10690", "500.00"),
        mandate(nordic, reference="PAL-MDT-0002"),
        collect_on=today + timedelta(days=10),
    )
    with django_capture_on_commit_callbacks() as published:
        assert tasks.prenotifications_run() == 2
    # Queued after commit, one per account: nothing is done before the commit.
    assert len(published) == 2
    assert fresh(theirs).status == Collection.Status.PLANNED
    for task in published:
        task()
    assert fresh(theirs).status == Collection.Status.NOTIFIED
    assert fresh(theirs).collect_on == today + timedelta(days=14)
    assert fresh(planned["soon"]).status == Collection.Status.NOTIFIED
    assert tasks.prenotifications_run() == 0
    assert Email.objects.filter(kind="direct_debit_notice").count() == 3


def test_an_account_with_nobody_to_tell_is_not_notified(owner, today):
    account = owner.organisation
    planned = collection(
        invoice(account, "INV-10682", "7200.00"),
        mandate(account),
        collect_on=today + timedelta(days=14),
    )
    Membership.objects.filter(pk=owner.pk).delete()
    assert collections_prenotify(organisation=account, today=today) == 0
    assert fresh(planned).status == Collection.Status.PLANNED
    assert not Email.objects.exists()
