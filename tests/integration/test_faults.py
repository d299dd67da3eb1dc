"""Faults against the real services: the mail server down, a worker killed in the middle of
a send, the database dropping every connection between two web requests.

Each test states the guarantee it checks; where the honest guarantee is weaker than
"exactly once", the test asserts the weaker one and says why.
"""

import html
import os
import signal
from datetime import timedelta

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from billing_portal.celery import app as celery_app
from emails.models import Email
from emails.services import email_queue_message
from emails.tasks import email_sweep

from .support import (
    WEB_SERVER_APPLICATION_NAME,
    SmtpSink,
    free_port,
    unacked_tags,
    unacked_task_id,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SEND_TASK = "emails.tasks.email_send_task"
ACCOUNT = "Festival International du Film de Lyon"


def _rows():
    return list(Email.objects.order_by("to").values("to", "status", "attempts", "last_error"))


def _age_outbox():
    """Make the pending rows older than the sweep's one-minute threshold, as if the
    periodic task ran a minute later (the cutoff is the app's; the clock is ours)."""
    Email.objects.filter(status=Email.Status.PENDING).update(
        created_at=timezone.now() - timedelta(minutes=2), next_attempt_at=None
    )


def _queue_one_email() -> Email:
    # email_queue_message publishes on commit: the worker sees a committed row.
    with transaction.atomic():
        [email] = email_queue_message(
            to=["claire@example.com"],
            kind="invoice_issued",
            subject="Votre facture FA-2026-0042",
            body_text="Bonjour Claire,\n\nVeuillez trouver ci-joint la facture FA-2026-0042.",
        )
    return email


def _row_lock_free(pk: int) -> bool:
    try:
        with transaction.atomic():
            Email.objects.select_for_update(nowait=True).get(pk=pk)
    except DatabaseError:
        return False  # a worker's transaction still holds it
    return True


def _slow_sink() -> SmtpSink:
    """The first message is kept at once but acknowledged only after 8 s: less than the
    worker's SMTP timeout (EMAIL_TIMEOUT, 10 s), so the worker is still waiting, not
    failing, when the test kills it a few milliseconds in."""
    return SmtpSink(reply_delay=8, slow_messages=1)


def _redis():
    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_timeout=5, socket_connect_timeout=5
    )


# --- a. The mail server down, then back -------------------------------------------------


def test_mail_server_down_then_back_each_email_is_delivered_once(
    owner, manager, smtp_server, celery_workers
):
    """While nothing listens on the SMTP port, every send fails: the outbox row stays
    pending with the attempt and its error recorded, and the task schedules a retry
    (autoretry on OSError, exponential backoff from 5 s with full jitter). Once the server
    is back, the periodic sweep (the documented recovery path; the backoff has no setting
    to shorten it) and the retries still scheduled both try: each email arrives exactly
    once, because each send locks the row and sends only a row still pending.

    The outage here is short. One longer than the attempts budget (MAX_ATTEMPTS tries:
    about a minute of backoff, fewer with the sweep also trying every minute) leaves the
    rows failed, for support to resend from the admin.
    """
    port = free_port()  # reserved: the mail server will come back on it
    worker = celery_workers.start(email_url=f"smtp://127.0.0.1:{port}")

    account_services.ownership_transfer(
        organisation=owner.organisation, new_owner_membership_id=manager.pk, actor=owner.user
    )

    def all_failed_once():
        rows = _rows()
        # The attempt is committed before the send and its error after it (emails.services.
        # email_send): wait for both, or a slow machine catches a row between the two.
        failed = [
            r
            for r in rows
            if r["status"] == Email.Status.PENDING and r["attempts"] >= 1 and r["last_error"]
        ]
        return len(rows) == len(failed) == 2 and rows

    rows = wait_until(all_failed_once, timeout=30, describe=worker.log_tail)
    for row in rows:
        assert row["last_error"].startswith("ConnectionRefusedError"), row
    task_ids = worker.task_ids(SEND_TASK)
    assert len(task_ids) == 2
    for task_id in task_ids:
        worker.wait_for_log(rf"\[{task_id}\] retry: Retry in \d+s", timeout=30)

    sink = smtp_server(SmtpSink(), port=port)  # the mail server is back
    _age_outbox()
    sweep = email_sweep.delay()

    messages = sink.wait_for(2, describe=worker.log_tail)
    # The sweep has run, and every retry that was still scheduled has run too (each found
    # its row sent, or sent it itself): nothing else can send these emails any more.
    worker.wait_for_task(sweep.id)
    for task_id in task_ids:
        worker.wait_for_task(task_id, timeout=30)
    assert sorted(m["To"] for m in messages) == ["manager@example.com", "owner@example.com"]
    assert len(sink.messages) == 2
    for row in _rows():
        assert row["status"] == Email.Status.SENT
        assert row["attempts"] >= 2  # the failed attempt(s) and the one that went through
        assert row["last_error"] == ""


# --- b. A worker killed in the middle of a send ----------------------------------------


def test_worker_killed_mid_send_recovered_by_the_sweep_at_least_once(
    transactional_db, smtp_server, celery_workers
):
    """The guarantee when a worker dies mid-send is AT LEAST ONCE, not exactly once.

    The mail server here has the whole message (the final "." of DATA was sent) but is
    slow to answer "250", and the worker is SIGKILLed while waiting. The server delivers
    the message; the worker never learns it. Its database transaction dies with it, so the
    outbox row is still pending with no attempt recorded (the attempt counter is written
    in the same transaction as "sent"). Redis keeps the unacknowledged task aside and
    would hand it out again only after the visibility timeout (kombu's default, one hour;
    `reject_on_worker_lost` needs a surviving main process, which a killed solo worker is
    not). Recovery within the minute is the periodic sweep, on a new worker: it sends the
    email again, so it arrives TWICE (identical content).

    What does hold: once the row is marked sent, no redelivery sends it again (AT MOST
    ONCE after "sent"): the original task, handed back by the broker as after the
    visibility timeout, finds the row sent and does nothing.
    """
    sink = smtp_server(_slow_sink())
    first = celery_workers.start(email_url=sink.url)
    email = _queue_one_email()

    assert sink.data_complete.wait(timeout=30), first.log_tail()
    # Mid-send: the worker holds the row lock for the whole SMTP conversation.
    assert not _row_lock_free(email.pk)
    [task_id] = first.task_ids(SEND_TASK)
    first.kill()

    # PostgreSQL rolls the dead worker's transaction back and releases the lock.
    wait_until(lambda: _row_lock_free(email.pk), timeout=30)
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (Email.Status.PENDING, 1, "")
    assert len(sink.messages) == 1  # yet the server has it
    broker = _redis()
    try:
        [tag] = unacked_tags(broker, celery_workers.queue)
        assert unacked_task_id(broker, tag) == task_id  # not lost, not visible either

        second = celery_workers.start(email_url=sink.url)
        _age_outbox()
        sweep = email_sweep.delay()
        assert second.wait_for_task(sweep.id) == "1"
        first_copy, second_copy = sink.wait_for(2, describe=second.log_tail)
        email.refresh_from_db()
        assert (email.status, email.attempts) == (Email.Status.SENT, 2)
        for copy in (first_copy, second_copy):
            assert (copy["To"], copy["Subject"]) == (
                "claire@example.com",
                "Votre facture FA-2026-0042",
            )
        assert first_copy.get_content() == second_copy.get_content()
        assert first_copy["Message-ID"] == second_copy["Message-ID"]

        # What the broker does after the visibility timeout, done now with kombu's own
        # restore: the original task goes back to the queue and the new worker runs it.
        with celery_app.connection_for_write() as conn:
            conn.default_channel.qos.restore_by_tag(tag)
        assert second.wait_for_task(task_id) == "False"
        assert unacked_tags(broker, celery_workers.queue) == []
    finally:
        broker.close()
    assert len(sink.messages) == 2
    email.refresh_from_db()
    assert (email.status, email.attempts) == (Email.Status.SENT, 2)


def test_pool_process_killed_mid_send_the_task_is_redelivered_at_once(
    transactional_db, smtp_server, celery_workers
):
    """`acks_late` + `reject_on_worker_lost`, the case they cover: the process running the
    task dies (OOM killer, segfault in a native library) while the worker's main process
    lives. The main process sees WorkerLostError and puts the message back at the head of
    the queue; a new pool process runs it at once, no sweep needed.

    As above the server already had the message, and the rolled-back transaction left no
    trace of the attempt: the email arrives twice (AT LEAST ONCE), and the row is marked
    sent once, after the successful second attempt.
    """
    sink = smtp_server(_slow_sink())
    worker = celery_workers.start(email_url=sink.url, pool="prefork")
    email = _queue_one_email()

    assert sink.data_complete.wait(timeout=30), worker.log_tail()
    [child] = worker.pool_children()
    os.kill(child, signal.SIGKILL)

    sink.wait_for(2, describe=worker.log_tail)
    wait_until(
        lambda: Email.objects.get(pk=email.pk).status == Email.Status.SENT,
        timeout=30,
        describe=worker.log_tail,
    )
    [task_id] = worker.task_ids(SEND_TASK)
    assert worker.wait_for_task(task_id) == "True"
    log = worker.log()
    assert "WorkerLostError" in log
    assert log.count(f"[{task_id}] received") == 2  # the same message, delivered again
    email.refresh_from_db()
    assert (email.attempts, email.last_error) == (2, "")
    assert len(sink.messages) == 2
    assert worker.process.poll() is None  # the worker itself lived on


# --- c. The database drops every connection between two requests ----------------------


def _admin_connection():
    """A connection of our own, to another database, to watch and kill the test's."""
    params = connection.get_connection_params()
    params = {k: v for k, v in params.items() if k in ("host", "port", "user", "password")}
    return psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **params)


def test_web_requests_succeed_after_the_database_drops_every_connection(owner, web_server):
    """A real gunicorn (one sync worker, CONN_MAX_AGE=60, CONN_HEALTH_CHECKS=True as the
    settings say) serves a signed-in page; PostgreSQL then terminates every session of
    the database, which is what a restart or a failover looks like to its clients; the
    next request succeeds on a new connection: Django checks a persistent connection at
    the start of each request and replaces it when it is dead.

    Not done with Django's test client: it disconnects `close_old_connections` from the
    request signals, so the per-request health check never runs and every request after
    the kill fails ("terminating connection due to administrator command", then "the
    connection is closed"). With CONN_HEALTH_CHECKS off, gunicorn answers 500 here too.
    """
    test_database = connection.settings_dict["NAME"]
    browser = Client()
    browser.force_login(owner.user)  # the session row is committed (transactional_db)
    cookies = {settings.SESSION_COOKIE_NAME: browser.cookies[settings.SESSION_COOKIE_NAME].value}
    contacts = reverse("portal:contacts")

    def served_page():
        status, body = web_server.get(contacts, cookies=cookies)
        assert status == 200, f"{status} {body[:500]}\n{web_server.log_tail()}"
        assert ACCOUNT in html.unescape(body)
        assert "owner@example.com" in html.unescape(body)

    with _admin_connection() as admin:

        def server_backends() -> list[int]:
            rows = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
                (test_database, WEB_SERVER_APPLICATION_NAME),
            ).fetchall()
            return [pid for (pid,) in rows]

        served_page()
        [before] = server_backends()  # kept open between requests (CONN_MAX_AGE)
        served_page()
        assert server_backends() == [before]

        # In the select list, not the WHERE clause: PostgreSQL may evaluate WHERE
        # conditions in any order, and must only ever kill this test database's sessions.
        killed = admin.execute(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (test_database,),
        ).fetchall()
        assert (before, True) in killed
        # This process's own connection was among them: drop it, the teardown reconnects.
        connection.close()
        wait_until(lambda: not server_backends(), timeout=30)

        served_page()
        [after] = server_backends()
        assert after != before
        status, body = web_server.get("/readyz")
        assert status == 200, body
        served_page()
        assert server_backends() == [after]
