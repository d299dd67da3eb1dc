"""Attachments rendered at send time: emails asks the app that owns the document
(emails.hooks.attachment_renderers, filled by invoices in its AppConfig.ready())."""

from decimal import Decimal

import pytest
from django.core import mail

from emails import services
from emails.hooks import AttachmentRenderers, MissingAttachmentRenderer, attachment_renderers
from emails.models import Email
from invoices.services import invoice_issue
from invoices.totals import LineSpec


def _invoice(organisation):
    lines = [LineSpec(description="Pack", quantity=Decimal(1), unit_price=Decimal("850.00"))]
    return invoice_issue(organisation=organisation, lines=lines)


def _row_as_queued_before(invoice):
    """An outbox row as the release before the registry wrote it."""
    return Email.objects.create(
        to="compta@example.com",
        kind="invoice_issued",
        subject=f"Facture {invoice.number}",
        body_text="Bonjour",
        attachments=[
            {
                "invoice_id": invoice.pk,
                "filename": f"{invoice.number}.pdf",
                "mimetype": "application/pdf",
            }
        ],
    )


def test_an_email_queued_before_the_registry_still_sends_with_its_pdf(owner):
    invoice = _invoice(owner.organisation)
    row = _row_as_queued_before(invoice)

    assert services.email_send(email_id=row.pk) is True

    ((filename, content, mimetype),) = mail.outbox[-1].attachments
    assert (filename, mimetype) == (f"{invoice.number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")


def test_an_attachment_without_its_renderer_fails_the_send_and_says_why(owner, monkeypatch):
    invoice = _invoice(owner.organisation)
    row = _row_as_queued_before(invoice)
    mail.outbox.clear()
    monkeypatch.setattr(attachment_renderers, "_renderers", {})

    with pytest.raises(MissingAttachmentRenderer, match="No renderer registered"):
        services.email_send(email_id=row.pk)

    assert mail.outbox == []  # never sent without its PDF
    row.refresh_from_db()
    assert row.status == Email.Status.PENDING  # retried, then failed after MAX_ATTEMPTS
    assert row.last_error.startswith("MissingAttachmentRenderer: No renderer registered")
    assert f"{invoice.number}.pdf" in row.last_error


def test_a_key_takes_one_renderer():
    renderers = AttachmentRenderers()

    def render(*, invoice_id):
        return b"%PDF"

    assert renderers.register("invoice_id", render) is render
    renderers.register("invoice_id", render)  # ready() run twice: no-op
    with pytest.raises(ValueError, match="already registered"):
        renderers.register("invoice_id", lambda *, invoice_id: b"")
    assert renderers.render({"invoice_id": 7, "filename": "x.pdf"}) == b"%PDF"
