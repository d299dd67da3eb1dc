"""Emails rendered when sent (email_queue_many with render_on_send): the row keeps the
template's values, the send renders them in the row's language and keeps what it sent."""

from datetime import date, datetime
from decimal import Decimal
from smtplib import SMTPServerDisconnected

import pytest
from django.core import mail
from django.utils import timezone

from emails import services
from emails.context import context_dump, context_load
from emails.models import Email

from .test_outbox import failing_smtp, probe_templates  # noqa: F401 - fixtures

VALUES = {
    "amount": Decimal("1200.50"),
    "day": date(2026, 2, 10),
    "at": datetime(2026, 2, 10, 9, 30, tzinfo=timezone.UTC),
    "lines": [{"number": "INV-1", "paid": True, "left": Decimal("0.00")}, None, 3, 1.5],
    "name": "Festival",
}


def test_the_context_comes_back_with_its_types():
    stored = context_dump(VALUES)
    assert stored["amount"] == {"$decimal": "1200.50"}
    loaded = context_load(stored)
    assert loaded == VALUES
    assert type(loaded["amount"]) is Decimal and type(loaded["day"]) is date


@pytest.mark.parametrize(
    "bad",
    [{"organisation": object()}, {"items": {1, 2}}, {"$decimal": "1"}, {1: "one"}],
    ids=["object", "set", "reserved key", "int key"],
)
def test_anything_but_values_is_refused_when_queued(db, bad):
    with pytest.raises(TypeError):
        services.email_queue_many(
            messages=[
                {"to": ["a@example.com"], "template": "probe", "context": bad, "language": "fr"}
            ],
            render_on_send=True,
        )
    assert not Email.objects.exists()


def _queue(language="en", ref="FA-1"):
    return services.email_queue_many(
        messages=[
            {
                "to": ["Claire@example.com", "compta@example.com"],
                "template": "probe",
                "context": {"ref": ref},
                "language": language,
            }
        ],
        render_on_send=True,
    )


@pytest.mark.usefixtures("probe_templates")
def test_nothing_is_rendered_when_queued_and_the_send_renders_in_its_language(
    db, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://portal.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        rows = _queue()
        stored = Email.objects.get(pk=rows[0].pk)
        assert (stored.subject, stored.body_text, stored.body_html) == ("", "", "")
        assert (stored.kind, stored.language, stored.context) == ("probe", "en", {"ref": "FA-1"})
        # What the send will write, already readable (the admin shows it).
        assert services.email_content(stored)["subject"] == "[en] January FA-1"
    assert sorted(m.to[0] for m in mail.outbox) == ["claire@example.com", "compta@example.com"]
    message = mail.outbox[0]
    assert message.subject == "[en] January FA-1"
    assert message.body.startswith("January https://portal.example.com/invoices/FA-1\n\n-- \n")
    assert message.from_email.startswith("Billing <")  # the sender's name in English too
    # Once sent, the row holds what was sent, as a row rendered when queued does.
    sent = Email.objects.get(to=message.to[0])
    assert sent.status == Email.Status.SENT
    assert (sent.subject, sent.body_text) == (message.subject, message.body)
    assert sent.body_html == message.alternatives[0].content
    assert sent.from_email == message.from_email


@pytest.mark.usefixtures("probe_templates", "failing_smtp")
def test_a_failed_send_renders_again_on_the_next_attempt(db, settings):
    (row, _other) = _queue(language="fr")
    with pytest.raises(SMTPServerDisconnected):
        services.email_send(email_id=row.pk)
    row.refresh_from_db()
    assert (row.status, row.attempts, row.body_text) == ("pending", 1, "")
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    assert services.email_send(email_id=row.pk)
    row.refresh_from_db()
    assert row.status == "sent" and row.subject == "[fr] janvier FA-1"


@pytest.mark.usefixtures("probe_templates")
def test_emails_rendered_when_queued_are_unchanged(db):
    (row,) = services.email_queue_many(
        messages=[
            {
                "to": ["a@example.com"],
                "template": "probe",
                "context": {"ref": "X"},
                "language": "fr",
            }
        ]
    )
    row.refresh_from_db()
    assert row.context is None and row.subject == "[fr] janvier X"
    assert services.email_content(row)["subject"] == row.subject
