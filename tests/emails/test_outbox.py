"""The outbox: one row per recipient, written with the change, sent once after commit."""

from datetime import timedelta
from smtplib import SMTPServerDisconnected

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone, translation

from emails import services, tasks
from emails.models import Email

FAILING_MAILER = {"default": {"BACKEND": f"{__name__}.FailingSMTPBackend"}}


class FailingSMTPBackend(BaseEmailBackend):
    """A mailer whose SMTP server hangs up on every message, counting the attempts."""

    attempts = 0

    def send_messages(self, email_messages):
        type(self).attempts += 1
        raise SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.fixture
def failing_smtp(settings):
    FailingSMTPBackend.attempts = 0
    settings.MAILERS = FAILING_MAILER
    return FailingSMTPBackend


# Templates that show which language and catalogue were active while rendering.
# "January" is one of Django's own strings, translated in its French catalogue.
PROBE_TEMPLATES = {
    "emails/probe_subject.txt": (
        '{% load i18n %}{% get_current_language as lang %}[{{ lang }}] {% translate "January" %}'
        " {{ ref }}\n"
    ),
    "emails/probe.txt": (
        '{% load i18n %}{% translate "January" %} {{ site_url }}/invoices/{{ ref }}'
    ),
    "emails/probe.html": '{% load i18n %}<p>{% translate "January" %}</p>',
}


@pytest.fixture
def probe_templates(settings):
    settings.TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {
                "loaders": [("django.template.loaders.locmem.Loader", PROBE_TEMPLATES)],
            },
        }
    ]


def _pending_email(created_at=None):
    email = Email.objects.create(to="claire@example.com", kind="test", subject="S", body_text="B")
    if created_at is not None:
        Email.objects.filter(pk=email.pk).update(created_at=created_at)
    return Email.objects.get(pk=email.pk)


def _queue_one(to="claire@example.com", subject="Votre facture"):
    (row,) = services.email_queue_message(to=[to], kind="test", subject=subject, body_text="Corps")
    return row


@pytest.mark.parametrize(
    ("language", "month"), [("fr", "janvier"), ("en", "January")], ids=["fr", "en"]
)
def test_queue_renders_in_the_given_language_one_row_per_recipient_sent_after_commit(
    db, settings, probe_templates, django_capture_on_commit_callbacks, language, month
):
    settings.SITE_URL = "https://portal.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        with translation.override("fr" if language == "en" else "en"):
            rows = services.email_queue(
                to=["Claire@Example.com", "compta@example.com", "claire@example.com", ""],
                template="probe",
                context={"ref": "FA-2025-0042"},
                language=language,
            )
        # Nothing leaves before the surrounding transaction commits.
        assert mail.outbox == []
        assert {r.status for r in Email.objects.all()} == {Email.Status.PENDING}

    assert sorted(r.to for r in rows) == ["claire@example.com", "compta@example.com"]
    stored = list(Email.objects.order_by("to"))
    assert [e.to for e in stored] == ["claire@example.com", "compta@example.com"]
    for email in stored:
        assert email.kind == "probe"
        assert email.subject == f"[{language}] {month} FA-2025-0042"
        # The layout's footer follows the message (emails.layout).
        assert email.body_text.startswith(
            f"{month} https://portal.example.com/invoices/FA-2025-0042\n\n-- \nPalmarès · "
        )
        assert email.body_text.endswith(" https://portal.example.com/support/contact/\n")
        assert f"<p>{month}</p>" in email.body_html
        assert email.status == Email.Status.SENT
        assert email.attempts == 1
        assert email.sent_at is not None
    assert sorted(m.to[0] for m in mail.outbox) == ["claire@example.com", "compta@example.com"]
    message = mail.outbox[0]
    assert message.subject == f"[{language}] {month} FA-2025-0042"
    assert message.alternatives[0].content == email.body_html


def test_queue_renders_the_ownership_templates(
    owner, manager, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://portal.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        services.email_queue(
            to=[manager.user.email],
            template="ownership_received",
            context={
                "organisation": owner.organisation,
                "previous_owner": owner.user,
                "new_owner": manager.user,
            },
            language="fr",
            organisation=owner.organisation,
        )
    email = Email.objects.get()
    assert email.organisation == owner.organisation
    assert email.subject == (
        "Vous êtes maintenant propriétaire du compte Festival International du Film de Lyon"
    )
    assert email.body_text.startswith("Bonjour Julien Bernard,")
    assert "Camille Martin vous a transféré la propriété du compte." in email.body_text
    assert "https://portal.example.com/billing/" in email.body_text
    (message,) = mail.outbox
    assert message.to == ["manager@example.com"]
    assert message.subject == email.subject


def test_a_redelivered_send_does_not_send_again(db):
    row = _queue_one()

    assert services.email_send(email_id=row.pk) is True
    assert services.email_send(email_id=row.pk) is False

    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Email.Status.SENT, 1)


def test_send_of_a_missing_row_is_a_no_op(db):
    assert services.email_send(email_id=987654) is False
    assert mail.outbox == []


def test_smtp_failure_keeps_the_row_pending_records_the_error_and_reraises(db, failing_smtp):
    row = _queue_one()

    with pytest.raises(SMTPServerDisconnected):
        services.email_send(email_id=row.pk)

    row.refresh_from_db()
    assert row.status == Email.Status.PENDING
    assert row.attempts == 1
    assert row.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
    assert row.sent_at is None
    assert failing_smtp.attempts == 1


def test_after_max_attempts_the_row_fails_and_is_not_retried(db, failing_smtp):
    row = _queue_one()
    for _ in range(services.MAX_ATTEMPTS - 1):
        with pytest.raises(SMTPServerDisconnected):
            services.email_send(email_id=row.pk)

    # The last attempt gives up quietly: Celery must not schedule another retry.
    assert services.email_send(email_id=row.pk) is False
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Email.Status.FAILED, services.MAX_ATTEMPTS)

    assert services.email_send(email_id=row.pk) is False
    Email.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert tasks.email_sweep() == 0
    assert failing_smtp.attempts == services.MAX_ATTEMPTS
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Email.Status.FAILED, services.MAX_ATTEMPTS)


def test_resend_puts_a_failed_email_back_and_sends_it(
    db, settings, failing_smtp, django_capture_on_commit_callbacks
):
    row = _queue_one()
    Email.objects.filter(pk=row.pk).update(
        status=Email.Status.FAILED, attempts=services.MAX_ATTEMPTS, last_error="SMTPError: 554"
    )
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}

    with django_capture_on_commit_callbacks(execute=True):
        services.email_resend(email_id=row.pk)
        row.refresh_from_db()
        assert (row.status, row.attempts) == (Email.Status.PENDING, 0)
        assert mail.outbox == []

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (Email.Status.SENT, 1, "")
    assert [m.to for m in mail.outbox] == [["claire@example.com"]]


def test_sweep_sends_pending_rows_older_than_a_minute_only(db):
    old = _queue_one(to="old@example.com")
    _queue_one(to="recent@example.com")
    already_sent = _queue_one(to="sent@example.com")
    Email.objects.filter(pk__in=[old.pk, already_sent.pk]).update(
        created_at=timezone.now() - timedelta(minutes=2)
    )
    Email.objects.filter(pk=already_sent.pk).update(status=Email.Status.SENT)

    assert tasks.email_sweep() == 1

    assert [m.to for m in mail.outbox] == [["old@example.com"]]
    statuses = dict(Email.objects.values_list("to", "status"))
    assert statuses == {
        "old@example.com": Email.Status.SENT,
        "recent@example.com": Email.Status.PENDING,
        "sent@example.com": Email.Status.SENT,
    }


def test_sweep_keeps_going_past_a_failing_row(db, failing_smtp):
    first = _queue_one(to="first@example.com")
    second = _queue_one(to="second@example.com")
    Email.objects.update(created_at=timezone.now() - timedelta(minutes=5))

    assert tasks.email_sweep() == 2

    assert failing_smtp.attempts == 2
    for row in (first, second):
        row.refresh_from_db()
        assert (row.status, row.attempts) == (Email.Status.PENDING, 1)


def test_rolled_back_transaction_leaves_no_row_and_sends_nothing(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            _queue_one()
            raise RuntimeError("the change that caused the email failed")

    assert callbacks == []
    assert not Email.objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize(
    "subject", ["Facture\r\nBcc: attacker@evil.test", "Facture\nBcc: attacker@evil.test\r\n"]
)
def test_line_breaks_in_a_subject_never_reach_the_headers(
    db, django_capture_on_commit_callbacks, subject
):
    with django_capture_on_commit_callbacks(execute=True):
        row = _queue_one(subject=subject)

    row.refresh_from_db()
    assert row.subject == "Facture Bcc: attacker@evil.test"
    (message,) = mail.outbox
    assert message.recipients() == ["claire@example.com"]
    raw = message.message()
    assert raw["Subject"] == "Facture Bcc: attacker@evil.test"
    assert raw["Bcc"] is None
    assert "attacker@evil.test" not in raw["To"]


def test_line_breaks_from_an_account_name_are_folded_in_a_rendered_subject(
    owner, manager, django_capture_on_commit_callbacks
):
    organisation = owner.organisation
    organisation.name = "ACME\r\nBcc: attacker@evil.test"
    with django_capture_on_commit_callbacks(execute=True):
        services.email_queue(
            to=[manager.user.email],
            template="ownership_received",
            context={
                "organisation": organisation,
                "previous_owner": None,
                "new_owner": manager.user,
            },
            language="fr",
        )

    (message,) = mail.outbox
    raw = message.message()
    assert (
        raw["Subject"] == "Vous êtes maintenant propriétaire du compte ACME Bcc: attacker@evil.test"
    )
    assert raw["Bcc"] is None
    assert message.recipients() == ["manager@example.com"]


def test_links_are_removed_from_the_stored_copy_once_sent(db, django_capture_on_commit_callbacks):
    from django.core import mail

    from emails.services import REDACTED_BODY, email_queue_message

    with django_capture_on_commit_callbacks(execute=True):
        (row,) = email_queue_message(
            to=["owner@example.com"],
            kind="upgrade_request",
            subject="Confirmez",
            body_text="https://billing.example.com/confirm/SECRET-TOKEN/",
            redact_after_send=True,
        )
    row.refresh_from_db()
    assert "SECRET-TOKEN" in mail.outbox[0].body  # the recipient got the link
    assert row.status == "sent" and row.body_text == REDACTED_BODY
    assert "SECRET-TOKEN" not in row.body_html


def test_support_resends_a_failed_email_from_the_admin(
    client, support_user, django_capture_on_commit_callbacks
):
    from django.core import mail
    from django.urls import reverse

    failed = Email.objects.create(
        to="compta@example.com",
        kind="invoice_issued",
        subject="Facture",
        body_text="x",
        status=Email.Status.FAILED,
        attempts=6,
        last_error="SMTPServerDisconnected",
    )
    client.force_login(support_user)
    page = client.get(reverse("admin:emails_email_changelist"), {"status__exact": "failed"})
    assert "compta@example.com" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:emails_email_changelist"),
            {"action": "resend", "_selected_action": [failed.pk]},
        )
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == Email.Status.SENT and failed.attempts == 1
    assert [m.to for m in mail.outbox] == [["compta@example.com"]]


def test_after_a_failure_the_sweep_waits_for_the_backoff(db, failing_smtp):
    email = _pending_email(created_at=timezone.now() - timedelta(minutes=5))
    with pytest.raises(SMTPServerDisconnected):
        services.email_send(email_id=email.pk)
    email.refresh_from_db()
    assert email.next_attempt_at > timezone.now()  # one minute after the first failure
    assert services.pending_email_ids() == []  # not before it is due
    Email.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    assert services.pending_email_ids() == [email.pk]
    assert services.retry_delay(1) == timedelta(minutes=1)
    assert services.retry_delay(5) == timedelta(minutes=16)
    assert services.retry_delay(30) == timedelta(hours=6)


def test_the_same_row_always_carries_the_same_message_id(db):
    email = _pending_email()
    first = services._message(email).message()["Message-ID"]
    again = services._message(Email.objects.get(pk=email.pk)).message()["Message-ID"]
    other = services._message(_pending_email()).message()["Message-ID"]
    assert first == again != other


@pytest.mark.parametrize("state", ["pending", "failed"])
def test_support_never_sees_a_live_reset_or_confirmation_link(
    client, owner, support_user, settings, state
):
    """A reset or confirmation link waiting in the outbox is the customer's credential:
    the admin shows neither it nor the body around it, in the list or on the row."""
    import re

    from django.urls import reverse

    from tests.factories import SubscriptionFactory

    settings.MAILERS = FAILING_MAILER
    with translation.override("fr"):
        client.post(reverse("password_reset"), {"email": "owner@example.com"})
    reset = Email.objects.get(kind="password_reset")
    assert reset.status == Email.Status.PENDING
    if state == "failed":
        Email.objects.filter(pk=reset.pk).update(status=Email.Status.FAILED, attempts=10)
    link = re.search(r"https?://\S+/reset/\S+/", reset.body_text).group(0)
    # The link works: this is what must not leak.
    assert client.get(link, follow=True).status_code == 200

    from subscriptions.demo import seed_plans
    from subscriptions.services import upgrade_request

    plans = seed_plans()
    SubscriptionFactory(organisation=owner.organisation, plan=plans["professionnel"])
    upgrade_request(organisation=owner.organisation, plan=plans["entreprise"], actor=owner.user)
    confirmation = Email.objects.get(kind="upgrade_request")
    confirm_link = re.search(r"https?://\S+/confirm/\S+/", confirmation.body_text).group(0)

    client.force_login(support_user)
    for email in (reset, confirmation):
        page = client.get(reverse("admin:emails_email_change", args=[email.pk]))
        assert page.status_code == 200
        html = page.content.decode()
        assert email.to in html  # the row itself is there for support to work with
        assert "/reset/" not in html and "/confirm/" not in html
        assert "Contenu masqué" in html
    listing = client.get(reverse("admin:emails_email_changelist")).content.decode()
    for secret in (link, confirm_link, link.split("/reset/")[1].split("/")[1]):
        assert secret not in listing


def test_support_resends_a_failed_reset_email_with_its_link(
    client, owner, support_user, settings, django_capture_on_commit_callbacks
):
    """Hidden from support, the link still reaches the customer when support resends."""
    from django.urls import reverse

    settings.MAILERS = FAILING_MAILER
    client.post(reverse("password_reset"), {"email": "owner@example.com"})
    reset = Email.objects.get(kind="password_reset")
    Email.objects.filter(pk=reset.pk).update(status=Email.Status.FAILED, attempts=10)
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    client.force_login(support_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:emails_email_changelist"),
            {"action": "resend", "_selected_action": [reset.pk]},
        )
    reset.refresh_from_db()
    assert reset.status == Email.Status.SENT
    [message] = mail.outbox
    assert "/reset/" in message.body
    assert "/reset/" not in reset.body_text  # redacted again once delivered


def test_a_delivered_link_email_is_not_resent_empty(
    client, owner, support_user, django_capture_on_commit_callbacks
):
    """Once sent, only a placeholder is stored: resending it would mail the customer a
    message without its link, so support is told to have a new link issued instead."""
    from django.urls import reverse

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("password_reset"), {"email": "owner@example.com"})
    reset = Email.objects.get(kind="password_reset")
    assert reset.status == Email.Status.SENT
    mail.outbox.clear()
    client.force_login(support_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:emails_email_changelist"),
            {"action": "resend", "_selected_action": [reset.pk]},
            follow=True,
        )
    assert "nouveau lien" in response.content.decode()
    assert mail.outbox == []
    reset.refresh_from_db()
    assert reset.status == Email.Status.SENT


class PickySMTPBackend(BaseEmailBackend):
    """A server that refuses one recipient and accepts the others."""

    def send_messages(self, email_messages):
        for message in email_messages:
            if message.to == ["refused@example.com"]:
                raise SMTPServerDisconnected("Connection unexpectedly closed")
            mail.outbox.append(message)
        return len(email_messages)


def test_one_refused_recipient_does_not_hold_back_the_others(
    db, settings, django_capture_on_commit_callbacks
):
    """The emails of a change travel together to the worker, then each goes on its own."""
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.PickySMTPBackend"}}
    with django_capture_on_commit_callbacks(execute=True):
        services.email_queue_message(
            to=["refused@example.com", "a@example.com", "b@example.com"],
            kind="invoice_issued",
            subject="Facture",
            body_text="Bonjour",
        )
    statuses = dict(Email.objects.values_list("to", "status"))
    assert statuses == {
        "refused@example.com": Email.Status.PENDING,
        "a@example.com": Email.Status.SENT,
        "b@example.com": Email.Status.SENT,
    }
    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.com", "b@example.com"]
