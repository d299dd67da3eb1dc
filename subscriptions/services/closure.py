"""Closure of an account: the owner asks (`closure_request` emails a confirmation link),
then confirms (`closure_confirm` closes it); support may reopen it (`account_reopen`) until
its people are anonymised (anonymisation.py)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Organisation, User
from accounts.selectors import invoice_recipients
from accounts.services import TwoFactorProof, two_factor_require
from emails.services import email_queue
from invoices.selectors import amount_due_summary
from webhooks.services import account_data, webhook_emit

from ..models import AccountClosure, Confirmation, Subscription
from ._guards import lock_account, require_open, require_owner
from .links import IssuedLink, link_audit, link_claim, link_send, link_used


@transaction.atomic
def closure_request(
    *, organisation: Organisation, actor: User, ip: str | None = None
) -> IssuedLink:
    """Email the owner a link to confirm the closure of the account. Nothing closes yet."""
    organisation = lock_account(organisation)
    require_owner(organisation, actor)
    require_open(organisation)
    webhook_emit(
        "account.closure_requested",
        {"account": account_data(organisation), "requested_by": actor.email},
    )
    return link_send(
        organisation=organisation,
        kind=Confirmation.Kind.CLOSURE,
        actor=actor,
        ip=ip,
        after={},
        context={
            "grace_days": settings.CLOSURE_GRACE_DAYS,
            # What the open invoices still ask: it stays payable after the closure.
            "amount_due": amount_due_summary(organisation=organisation),
        },
    )


@transaction.atomic
def closure_confirm(
    *,
    token: str,
    ip: str | None = None,
    signed_in: User | None = None,
    second_factor: TwoFactorProof | None = None,
    now: datetime | None = None,
) -> AccountClosure:
    """Close the account the link stands for.

    The subscription will not renew, members see the "account closed" page, the owner and
    billing contacts are told by email. Issued invoices stay. People's personal data is
    anonymised after CLOSURE_GRACE_DAYS (see account_anonymise); until then support may
    reopen the account.
    """
    now = now or timezone.now()
    confirmation = link_claim(token, kind=Confirmation.Kind.CLOSURE, now=now)
    # The owner who asked, whoever opened the link: their code if they have a second factor.
    two_factor_require(user=confirmation.requested_by, proof=second_factor)
    link_used(confirmation, now)
    return _close(
        organisation=confirmation.organisation,
        requested_by=confirmation.requested_by,
        now=now,
        ip=ip,
        audit_actor=confirmation.requested_by,
        audit_extra=link_audit(signed_in, confirmation, second_factor),
    )


@transaction.atomic
def account_close(
    *, organisation: Organisation, actor: User, ip: str | None = None, now: datetime | None = None
) -> AccountClosure:
    """The host closes an account through its provisioning API (api/): the closure the
    owner's confirmed link makes, at once, without a link (the host asked its customer).
    ValidationError when the account is already closed."""
    organisation = lock_account(organisation)
    require_open(organisation)
    return _close(
        organisation=organisation,
        requested_by=actor,
        now=now or timezone.now(),
        ip=ip,
        audit_actor=actor,
        audit_extra={},
    )


def _close(*, organisation, requested_by, now, ip, audit_actor, audit_extra) -> AccountClosure:
    """What a closure does, whoever asked: the caller holds the account's lock."""
    recipients = invoice_recipients(organisation=organisation)

    organisation.status = Organisation.Status.CLOSED
    organisation.closed_at = now
    organisation.save(update_fields=["status", "closed_at"])
    renewal_date = None
    subscription = Subscription.objects.select_for_update().filter(organisation=organisation)
    subscription = subscription.first()
    if subscription is not None:
        renewal_date = subscription.period_end
        subscription.status = Subscription.Status.CANCELLED
        subscription.save(update_fields=["status"])
    # Any other pending link (an upgrade) is moot now.
    Confirmation.objects.filter(
        organisation=organisation, status=Confirmation.Status.PENDING
    ).update(status=Confirmation.Status.CANCELLED)
    closure = AccountClosure.objects.create(
        organisation=organisation,
        requested_by=requested_by,
        closed_at=now,
        anonymise_after=now + timedelta(days=settings.CLOSURE_GRACE_DAYS),
    )
    audit_record(
        organisation=organisation,
        action="closure.confirmed",
        actor=audit_actor,
        before={"status": Organisation.Status.ACTIVE},
        after={
            "status": Organisation.Status.CLOSED,
            "anonymise_after": closure.anonymise_after.isoformat(),
            **audit_extra,
        },
        ip=ip,
    )
    webhook_emit(
        "account.closed",
        {
            "account": account_data(organisation),
            "closed_at": now,
            "anonymise_after": closure.anonymise_after,
        },
    )
    email_queue(
        to=recipients,
        template="account_closed",
        context={
            "organisation": organisation,
            "closure": closure,
            "renewal_date": renewal_date,
            "grace_days": settings.CLOSURE_GRACE_DAYS,
            "amount_due": amount_due_summary(organisation=organisation),
        },
        language=organisation.language,
        organisation=organisation,
    )
    return closure


@transaction.atomic
def account_reopen(
    *, organisation: Organisation, actor: User, reason: str, ip: str | None = None
) -> Organisation:
    """Support reopens a closed account during its grace period (before anonymisation).

    The subscription becomes active again with its period unchanged: if the period ended
    meanwhile, the next renewal run issues the renewal from the old period's end. The
    owner and billing contacts, told of the closure, are told of the reopening
    (account_reopened, in the account's language); support's reason stays internal.
    """
    if not actor.is_staff:
        raise PermissionDenied(_("Seule l'équipe support peut rouvrir un compte."))
    if not reason.strip():
        raise ValidationError({"reason": _("Indiquez la raison de la réouverture.")})
    organisation = lock_account(organisation)
    closure = (
        AccountClosure.objects.select_for_update()
        .filter(organisation=organisation, reopened_at__isnull=True)
        .first()
    )
    if not organisation.is_closed or closure is None:
        raise ValidationError(_("Ce compte n'est pas fermé."), code="not_closed")
    if closure.anonymised_at is not None:
        raise ValidationError(
            _(
                "Les données personnelles de ce compte ont été anonymisées : "
                "il ne peut plus être rouvert."
            ),
            code="anonymised",
        )
    now = timezone.now()
    closed_at = organisation.closed_at
    organisation.status = Organisation.Status.ACTIVE
    organisation.closed_at = None
    organisation.save(update_fields=["status", "closed_at"])
    Subscription.objects.filter(organisation=organisation).update(status=Subscription.Status.ACTIVE)
    closure.reopened_at = now
    closure.reopened_by = actor
    closure.reopen_reason = reason.strip()
    closure.save(update_fields=["reopened_at", "reopened_by", "reopen_reason"])
    audit_record(
        organisation=organisation,
        action="account.reopened",
        actor=actor,
        support=True,
        before={"status": Organisation.Status.CLOSED, "closed_at": closed_at.isoformat()},
        after={"status": Organisation.Status.ACTIVE, "reason": closure.reopen_reason},
        ip=ip,
    )
    webhook_emit("account.reopened", {"account": account_data(organisation), "reopened_at": now})
    subscription = Subscription.objects.filter(organisation=organisation).first()
    email_queue(
        to=invoice_recipients(organisation=organisation),
        template="account_reopened",
        context={
            "organisation": organisation,
            "reopened_at": now,
            "renewal_date": subscription.period_end if subscription else None,
        },
        language=organisation.language,
        organisation=organisation,
    )
    return organisation
