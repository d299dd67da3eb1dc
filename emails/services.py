"""The email outbox: queue an email with the change that causes it, send it after commit.

Delivery is at least once (a worker that dies in the middle of a send sends again), every
copy of one email with the same Message-ID; once a row is marked sent it is never sent
again (docs/reliability.md, section 8).
"""

import logging
from collections.abc import Iterable
from datetime import timedelta
from email.headerregistry import Address
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.core.mail import EmailMultiAlternatives
from django.core.mail.utils import DNS_NAME
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext, gettext_noop

from billing_portal.bulk import rows_insert
from billing_portal.queue import enqueue_on_commit

from .context import context_dump, context_load
from .hooks import attachment_renderers
from .layout import layout_context, render_html, render_text
from .models import Email

logger = logging.getLogger(__name__)

# Attempts before a row is marked failed. The task retries quickly a few times (seconds
# to a minute); then the sweep retries on the schedule of `retry_delay`: the last of ten
# attempts comes about eight hours after the first, so an SMTP outage of a few hours
# delays emails but does not fail them.
MAX_ATTEMPTS = 10
TASK_RETRIES = 4


def retry_delay(attempts: int) -> timedelta:
    """Wait after the n-th failed attempt before the sweep tries again: 1, 2, 4… minutes."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), timedelta(hours=6))


# The tasks (emails.tasks) call this module: it publishes them by their registered name,
# never importing them (billing_portal.queue resolves the name).
SEND_TASK = "emails.tasks.email_send_task"
SEND_BATCH_TASK = "emails.tasks.email_send_batch_task"

REDACTED_BODY = "[Contenu retiré après envoi : ce message contenait un lien personnel.]"


def _one_line(text: str) -> str:
    # Subjects are single-line headers: any CR/LF from user data is folded into spaces.
    return " ".join(str(text).split())


def email_queue(
    *,
    to: Iterable[str],
    template: str,
    context: dict,
    language: str,
    organisation=None,
    attachments: Iterable[dict] = (),
    redact_after_send: bool = False,
    reply_to: str = "",
) -> list[Email]:
    """Render `emails/<template>.txt|.html|_subject.txt` in the layout of every email
    (emails.layout) and queue it, one row per recipient.

    Call inside the transaction of the change; the send is scheduled on commit.
    """
    return email_queue_message(
        **_rendered(template=template, context=context, language=language),
        to=to,
        organisation=organisation,
        attachments=attachments,
        redact_after_send=redact_after_send,
        reply_to=reply_to,
    )


def _rendered(*, template: str, context: dict, language: str) -> dict:
    with translation.override(language):
        return {
            "kind": template,
            "subject": _one_line(
                render_to_string(f"emails/{template}_subject.txt", layout_context(context))
            ),
            "body_text": render_text(f"emails/{template}.txt", context),
            "body_html": render_html(f"emails/{template}.html", context),
            "from_email": sender(),
        }


def email_queue_many(*, messages: Iterable[dict], render_on_send: bool = False) -> list[Email]:
    """Queue many emails of a batch (a reminder run) in one INSERT and one task message,
    whatever their number. Each dict holds email_queue's arguments (`to`, `template`,
    `context`, `language`, optionally `organisation` and `attachments`).

    With `render_on_send`, nothing is rendered now: each row keeps its template, language
    and context, and the send renders it (a bank statement's thousands of receipts, written
    in its transaction). The context then holds values only (emails.context: the numbers
    and words the template prints, as they are now), never rows to read again later."""
    rows = []
    for message in messages:
        if render_on_send:
            content = {
                "kind": message["template"],
                "context": context_dump(message["context"]),
                "language": message["language"],
            }
        else:
            content = _rendered(
                template=message["template"],
                context=message["context"],
                language=message["language"],
            )
            content["subject"] = content["subject"][:255]
        rows += [
            Email(
                organisation=message.get("organisation"),
                to=addr,
                attachments=list(message.get("attachments", ())),
                **content,
            )
            for addr in _addresses(message["to"])
        ]
    rows = rows_insert(Email, rows)
    if rows:
        enqueue_on_commit(SEND_BATCH_TASK, [row.pk for row in rows])
    return rows


def email_content(email: Email) -> dict:
    """The subject, bodies and sender of `email`: as stored, or, for an email rendered when
    sent that is not yet, rendered from its context (what the send will write)."""
    if email.context is None or email.body_text:
        return {
            "subject": email.subject,
            "body_text": email.body_text,
            "body_html": email.body_html,
            "from_email": email.from_email,
        }
    content = _rendered(
        template=email.kind,
        context=context_load(email.context),
        language=email.language or settings.LANGUAGE_CODE,
    )
    del content["kind"]
    content["subject"] = content["subject"][:255]
    return content


def _addresses(to: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(addr.strip().lower() for addr in to if addr))


def email_queue_message(
    *,
    to: Iterable[str],
    kind: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    organisation=None,
    attachments: Iterable[dict] = (),
    redact_after_send: bool = False,
    from_email: str = "",
    reply_to: str = "",
) -> list[Email]:
    """Queue an already rendered message, one outbox row per recipient."""
    recipients = _addresses(to)
    rows = Email.objects.bulk_create(
        [
            Email(
                organisation=organisation,
                kind=kind,
                from_email=from_email,
                to=addr,
                subject=_one_line(subject)[:255],
                body_text=body_text,
                body_html=body_html,
                attachments=list(attachments),
                redact_after_send=redact_after_send,
                reply_to=reply_to,
            )
            for addr in recipients
        ]
    )
    if rows:
        # One message for all the recipients: handing work to the broker costs a request
        # the same whatever the number of billing contacts.
        enqueue_on_commit(SEND_BATCH_TASK, [row.pk for row in rows])
    return rows


# The default sender's display name is a product word, translated like the rest.
gettext_noop("Facturation")


def sender() -> str:
    """DEFAULT_FROM_EMAIL, its display name in the active language when the catalogue has
    it ("Facturation <…>" → "Billing <…>"); a name the catalogue does not know stays."""
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    if not name or not address:
        return settings.DEFAULT_FROM_EMAIL
    return str(Address(display_name=gettext(name), addr_spec=address))


def _message_id(email: Email) -> str:
    # The same on every attempt at one outbox row: when a send is repeated because the
    # worker died before the server's "250" (delivery is at least once), the receiving
    # side can tell the second copy is the same message. Keyed with SECRET_KEY so that two
    # deployments sending from the same domain never share an id.
    digest = salted_hmac("emails.Email.message_id", str(email.pk), algorithm="sha256").hexdigest()[
        :24
    ]
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or str(DNS_NAME)
    return f"<{digest}.{email.pk}@{domain}>"


def _message(email: Email) -> EmailMultiAlternatives:
    """The message of `email`; an email rendered when sent is rendered first, and its
    content kept on the row (email_send writes it once sent)."""
    if email.context is not None and not email.body_text:
        for field, value in email_content(email).items():
            setattr(email, field, value)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=email.from_email or settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        reply_to=[email.reply_to] if email.reply_to else None,
        headers={"Message-ID": _message_id(email)},
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    for attachment in email.attachments:
        if "name" not in attachment:
            # Rendered at send time by the app that owns the document (an invoice's PDF,
            # {"invoice_id": ...}); no renderer raises: the email never goes without it.
            content = attachment_renderers.render(attachment)
            message.attach(attachment["filename"], content, attachment["mimetype"])
            continue
        storage = storages[attachment.get("storage", "documents")]
        with storage.open(attachment["name"], "rb") as fh:
            message.attach(attachment["filename"], fh.read(), attachment["mimetype"])
    return message


def email_send(*, email_id: int) -> bool:
    """Send one outbox row if it is still pending. Returns True when it was sent now.

    The row stays locked during the SMTP conversation, so a redelivered task waits and
    then finds it sent: each row is marked sent once. The attempt is counted and committed
    before the send: a process that dies during it (killed, out of memory while rendering
    the PDF) has still used an attempt, so an email that kills its worker every time ends
    up failed instead of being redelivered forever.
    """
    counted = Email.objects.filter(pk=email_id, status=Email.Status.PENDING).update(
        attempts=F("attempts") + 1
    )
    if not counted:
        return False
    with transaction.atomic():
        email = Email.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.status != Email.Status.PENDING:
            return False
        if email.attempts > MAX_ATTEMPTS:
            email.status = Email.Status.FAILED
            email.save(update_fields=["status"])
            return False
        try:
            _message(email).send()
        except Exception as exc:
            error = exc
            email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if email.attempts >= MAX_ATTEMPTS:
                email.status = Email.Status.FAILED
            email.next_attempt_at = timezone.now() + retry_delay(email.attempts)
            email.save(update_fields=["last_error", "status", "next_attempt_at"])
            logger.warning("email %s not sent (attempt %s)", email.pk, email.attempts)
        else:
            email.status = Email.Status.SENT
            email.sent_at = timezone.now()
            email.last_error = ""
            email.next_attempt_at = None
            fields = ["status", "sent_at", "last_error", "next_attempt_at"]
            if email.context is not None:
                # Rendered by this send: the row keeps what was sent, as any other.
                fields += ["subject", "body_text", "body_html", "from_email"]
            if email.redact_after_send:
                email.body_text, email.body_html = REDACTED_BODY, ""
                fields += ["body_text", "body_html"]
            email.save(update_fields=fields)
            return True
    # Raised only once the block above has committed the attempt and its error: raising
    # inside it would roll them back, and a failing row would be retried forever.
    if email.status == Email.Status.FAILED:
        return False
    raise error


def email_resend(*, email_id: int) -> Email:
    """Put a failed (or sent) email back in the outbox; support uses it from the admin.

    ValidationError for a delivered email whose link was removed from the stored copy:
    resending it would mail the customer a message without its link.
    """
    with transaction.atomic():
        email = Email.objects.select_for_update().get(pk=email_id)
        if email.redact_after_send and email.status == Email.Status.SENT:
            raise ValidationError(
                gettext(
                    "Cet e-mail contenait un lien personnel qui n'est plus conservé : "
                    "envoyez un nouveau lien (renvoyer la confirmation, ou nouvelle "
                    "demande de réinitialisation du mot de passe)."
                )
            )
        email.status = Email.Status.PENDING
        email.attempts = 0
        email.next_attempt_at = None
        email.save(update_fields=["status", "attempts", "next_attempt_at"])
        enqueue_on_commit(SEND_TASK, email.pk)
    return email


def pending_email_ids(*, older_than: timedelta = timedelta(minutes=1)) -> list[int]:
    now = timezone.now()
    cutoff = now - older_than
    return list(
        Email.objects.filter(status=Email.Status.PENDING, created_at__lt=cutoff)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("created_at")
        .values_list("pk", flat=True)[:500]
    )


@transaction.atomic
def emails_anonymise(*, organisation_id: int) -> int:
    """Delete an anonymised account's outbox rows (they hold its people's names and
    addresses). Called by the account's anonymisation, in its transaction. Returns the
    number of rows deleted."""
    deleted, _by_model = Email.objects.filter(organisation_id=organisation_id).delete()
    return deleted
