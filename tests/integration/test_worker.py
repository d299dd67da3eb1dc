"""End to end: a real worker takes the outbox tasks from Redis and talks SMTP."""

import pytest

from accounts import services
from emails.models import Email
from emails.tasks import email_send_task

from .support import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ACCOUNT = "Festival International du Film de Lyon"


def _statuses():
    return dict(Email.objects.values_list("to", "status"))


def test_worker_delivers_the_ownership_transfer_emails(
    owner, manager, smtp_sink, celery_worker_process
):
    services.ownership_transfer(
        organisation=owner.organisation, new_owner_membership_id=manager.pk, actor=owner.user
    )

    messages = smtp_sink.wait_for(2, describe=celery_worker_process.log_tail)
    by_recipient = {message["To"]: message for message in messages}
    assert sorted(by_recipient) == ["manager@example.com", "owner@example.com"]
    assert sorted(rcpt for _, rcpts in smtp_sink.envelopes for rcpt in rcpts) == [
        "manager@example.com",
        "owner@example.com",
    ]
    received = by_recipient["manager@example.com"]
    assert received["Subject"] == f"Vous êtes maintenant propriétaire du compte {ACCOUNT}"
    assert received["From"] == "Facturation <facturation@example.com>"
    text = received.get_body(preferencelist=("plain",)).get_content()
    assert text.startswith("Bonjour Julien Bernard,")
    assert "Camille Martin vous a transféré la propriété du compte." in text
    assert received.get_body(preferencelist=("html",)) is not None
    given = by_recipient["owner@example.com"]
    assert given["Subject"] == f"Propriété du compte {ACCOUNT} transférée"

    # The worker commits the status just after the SMTP conversation ends.
    wait_until(
        lambda: set(_statuses().values()) == {Email.Status.SENT},
        timeout=30,
        describe=lambda: f"statuses {_statuses()}. {celery_worker_process.log_tail()}",
    )
    assert sorted(Email.objects.values_list("to", "attempts")) == [
        ("manager@example.com", 1),
        ("owner@example.com", 1),
    ]
    assert len(smtp_sink.messages) == 2


def test_an_outbox_row_delivered_twice_reaches_the_sink_once(
    transactional_db, smtp_sink, celery_worker_process
):
    email = Email.objects.create(
        to="claire@example.com",
        kind="test",
        subject="Votre facture FA-2025-0042",
        body_text="Bonjour Claire,",
    )

    first = email_send_task.delay(email.pk)
    again = email_send_task.delay(email.pk)

    # One worker, one process: the tasks run one after the other, in publishing order.
    assert celery_worker_process.wait_for_task(first.id) == "True"
    assert celery_worker_process.wait_for_task(again.id) == "False"
    (message,) = smtp_sink.messages
    assert message["To"] == "claire@example.com"
    assert message["Subject"] == "Votre facture FA-2025-0042"
    email.refresh_from_db()
    assert (email.status, email.attempts) == (Email.Status.SENT, 1)
