from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.audit import ANONYMISED, audit_record
from accounts.models import Membership
from accounts.ratelimit import Limit, address_bucket, ratelimit_hit
from accounts.selectors import user_memberships
from emails.addresses import is_email_address
from emails.services import email_queue

from .models import MESSAGE_MAX_LENGTH, SUBJECT_MAX_LENGTH, SupportReply, SupportRequest

# At most this many requests per signed-in user, and per client address, in the window.
RATE_LIMIT_PER_USER = 5
RATE_LIMIT_PER_IP = 10
RATE_LIMIT_WINDOW = timedelta(hours=1)
# An address nobody verified gets at most this many acknowledgements in the window,
# whoever types it and from wherever: the form is no way to flood someone's mailbox.
ACKNOWLEDGEMENTS_PER_UNVERIFIED_ADDRESS = 3

PER_USER = Limit("support.user", RATE_LIMIT_PER_USER, RATE_LIMIT_WINDOW)
PER_IP = Limit("support.ip", RATE_LIMIT_PER_IP, RATE_LIMIT_WINDOW)
PER_UNVERIFIED_RECIPIENT = Limit(
    "support.ack", ACKNOWLEDGEMENTS_PER_UNVERIFIED_ADDRESS, RATE_LIMIT_WINDOW
)


class RateLimited(Exception):
    pass


def _has_control_chars(value: str, *, allow_newlines: bool = False) -> bool:
    allowed = {"\n", "\r", "\t"} if allow_newlines else set()
    return any((ord(ch) < 32 or ord(ch) == 127) and ch not in allowed for ch in value)


def _check_rate(*, user, ip) -> None:
    # Counted in the caller's transaction: a request refused further on is not counted.
    if user is not None and not ratelimit_hit(limit=PER_USER, value=str(user.pk)):
        raise RateLimited
    if ip and not ratelimit_hit(limit=PER_IP, value=address_bucket(ip)):
        raise RateLimited


def _page_language() -> str:
    language = translation.get_language() or settings.LANGUAGE_CODE
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


@transaction.atomic
def support_request_create(
    *,
    subject: str,
    message: str,
    topic: str = SupportRequest.Topic.GENERAL,
    user=None,
    membership: Membership | None = None,
    name: str = "",
    email: str = "",
    ip: str | None = None,
) -> SupportRequest:
    """Store a support request, email it to support and acknowledge it to the sender.

    A signed-in user's name, email, account and role are attached automatically (the
    account of `membership`, the one chosen in the header, when they have several; else
    their default one); an anonymous visitor gives a name and an email. Raises RateLimited
    past the limits.

    The acknowledgement repeats the request only to a signed-in user, whose address is
    verified. An anonymous visitor may type anyone's address: that person gets a fixed
    text in the page's language and nothing that was typed (no name, subject or message,
    so no link either), at most ACKNOWLEDGEMENTS_PER_UNVERIFIED_ADDRESS times an hour.
    """
    subject, message = (subject or "").strip(), (message or "").strip()
    if user is None or (membership is not None and membership.user_id != user.pk):
        membership = None
    if user is not None:
        if membership is None:
            membership = next(iter(user_memberships(user)), None)
        name, email = user.get_full_name() or user.email, user.email
    name, email = (name or "").strip(), (email or "").strip().lower()
    errors = {}
    if not subject:
        errors["subject"] = _("Ce champ est obligatoire.")
    elif len(subject) > SUBJECT_MAX_LENGTH or _has_control_chars(subject):
        errors["subject"] = _("Objet trop long ou caractères non autorisés.")
    if not message:
        errors["message"] = _("Ce champ est obligatoire.")
    elif len(message) > MESSAGE_MAX_LENGTH or _has_control_chars(message, allow_newlines=True):
        errors["message"] = _("Message trop long ou caractères non autorisés.")
    if topic not in SupportRequest.Topic.values:
        errors["topic"] = _("Choisissez un sujet de la liste.")
    if user is None:
        if not name:
            errors["name"] = _("Ce champ est obligatoire.")
        elif len(name) > 150 or _has_control_chars(name):
            errors["name"] = _("Nom trop long ou caractères non autorisés.")
        if not is_email_address(email):
            errors["email"] = _("Saisissez une adresse e-mail valide.")
    if errors:
        raise ValidationError(errors)
    _check_rate(user=user, ip=ip)

    organisation = membership.organisation if membership else None
    language = organisation.language if organisation else _page_language()
    request = SupportRequest.objects.create(
        organisation=organisation,
        user=user,
        role=membership.role if membership else "",
        name=name,
        email=email,
        topic=topic,
        subject=subject,
        message=message,
        ip_address=ip,
        language=language,
    )
    if organisation is not None:
        audit_record(
            organisation=organisation,
            action="support.request_created",
            actor=user,
            after={"request": request.pk, "topic": topic, "subject": subject},
            ip=ip,
        )
    context = {"request": request, "organisation": organisation}
    # Answering the email answers its author (Reply-To), not the portal's own address;
    # support can also answer from the admin (support_request_reply).
    email_queue(
        to=[settings.SUPPORT_EMAIL],
        template="support_request",
        context=context,
        language="fr",
        organisation=organisation,
        reply_to=email,
    )
    if user is not None:
        email_queue(
            to=[email],
            template="support_acknowledgement",
            context=context,
            language=language,
            organisation=organisation,
        )
    elif ratelimit_hit(limit=PER_UNVERIFIED_RECIPIENT, value=email):
        email_queue(to=[email], template="support_received", context={}, language=_page_language())
    return request


@transaction.atomic
def support_request_reply(
    *, support_request: SupportRequest, message: str, actor, ip: str | None = None
) -> SupportReply:
    """Email support's answer to the request's author, in the request's language, and keep
    it with the request. The author's reply comes back to support (Reply-To). Audited on
    the account when the author has one. A request whose author was anonymised cannot be
    answered."""
    message = (message or "").strip()
    if not message:
        raise ValidationError({"message": _("Ce champ est obligatoire.")})
    if len(message) > MESSAGE_MAX_LENGTH or _has_control_chars(message, allow_newlines=True):
        raise ValidationError({"message": _("Message trop long ou caractères non autorisés.")})
    support_request = SupportRequest.objects.select_for_update().get(pk=support_request.pk)
    if support_request.name == ANONYMISED:
        raise ValidationError(
            _("Demande anonymisée avec son compte : son auteur ne peut plus être joint.")
        )
    reply = SupportReply.objects.create(request=support_request, author=actor, message=message)
    organisation = support_request.organisation
    email_queue(
        to=[support_request.email],
        template="support_reply",
        context={"request": support_request, "reply": reply},
        language=support_request.language,
        organisation=organisation,
        reply_to=settings.SUPPORT_EMAIL,
    )
    if organisation is not None:
        audit_record(
            organisation=organisation,
            action="support.request_answered",
            actor=actor,
            after={"request": support_request.pk, "subject": support_request.subject},
            ip=ip,
        )
    return reply


@transaction.atomic
def support_request_close(*, support_request: SupportRequest) -> SupportRequest:
    support_request = SupportRequest.objects.select_for_update().get(pk=support_request.pk)
    if support_request.status != SupportRequest.Status.CLOSED:
        support_request.status = SupportRequest.Status.CLOSED
        support_request.closed_at = timezone.now()
        support_request.save(update_fields=["status", "closed_at"])
    return support_request


@transaction.atomic
def support_requests_anonymise(*, organisation) -> int:
    """Erase the name, address and message of an anonymised account's support requests
    (subscriptions.hooks.account_anonymised, registered in apps.py). Returns the number of
    requests."""
    SupportReply.objects.filter(request__organisation=organisation).update(message=ANONYMISED)
    return SupportRequest.objects.filter(organisation=organisation).update(
        name=ANONYMISED, email="anonyme@anonymised.invalid", message=ANONYMISED, user=None
    )
