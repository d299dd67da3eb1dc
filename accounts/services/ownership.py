"""Handing an account over to another of its members."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from emails.services import email_queue
from webhooks.services import account_data, webhook_emit

from .. import hooks
from ..audit import audit_record
from ..guards import lock_account
from ..models import Membership, Organisation, User


@transaction.atomic
def ownership_transfer(
    *,
    organisation: Organisation,
    new_owner_membership_id: int | str | None,
    actor: User,
    by_support: bool = False,
    by_host: bool = False,
    reason: str = "",
    ip: str | None = None,
) -> Membership:
    """Make a program manager of the account its owner; the previous owner becomes a manager.

    Raises ValidationError (field "new_owner") for a choice that is not a current program
    manager of this account, PermissionDenied when the actor is no longer the owner.
    `by_host`: the host SaaS asks, through its provisioning API (api/): it provisions the
    account's people, so it may hand the account over as support may.
    """
    organisation = lock_account(organisation)
    members = {m.pk: m for m in organisation.memberships.select_related("user").order_by("pk")}
    current = next((m for m in members.values() if m.role == Membership.Role.OWNER), None)
    if not (by_support or by_host) and (current is None or current.user_id != actor.pk):
        raise PermissionDenied(_("Seul le propriétaire du compte peut le transférer."))
    try:
        new_owner = members.get(int(new_owner_membership_id))
    except (TypeError, ValueError):
        new_owner = None
    if new_owner is None or new_owner.role != Membership.Role.MANAGER:
        raise ValidationError(
            {"new_owner": _("Choisissez un gestionnaire du programme de ce compte.")}
        )
    if by_support and not reason.strip():
        raise ValidationError({"reason": _("Indiquez la raison du changement.")})

    # Demote first: the partial unique index allows one owner per account at every moment.
    if current is not None:
        current.role = Membership.Role.MANAGER
        current.save(update_fields=["role"])
    new_owner.role = Membership.Role.OWNER
    new_owner.save(update_fields=["role"])

    # What hangs on the former owner's authority (a pending upgrade or closure link) is
    # cancelled by the apps that own it, in this transaction (accounts.hooks).
    if current is not None:
        hooks.ownership_transferred(
            organisation=organisation, former_owner=current.user, actor=actor
        )

    webhook_emit(
        "account.owner_changed",
        {
            "account": account_data(organisation),
            "previous_owner": current.user.email if current else None,
            "owner": new_owner.user.email,
            "by_support": by_support,
        },
    )
    audit_record(
        organisation=organisation,
        action="ownership.transferred",
        actor=actor,
        support=by_support,
        before={"owner": current.user.email if current else None},
        after={"owner": new_owner.user.email, **({"reason": reason} if reason else {})},
        ip=ip,
    )
    context = {
        "organisation": organisation,
        "previous_owner": current.user if current else None,
        "new_owner": new_owner.user,
    }
    email_queue(
        to=[new_owner.user.email],
        template="ownership_received",
        context=context,
        language=organisation.language,
        organisation=organisation,
    )
    if current is not None:
        email_queue(
            to=[current.user.email],
            template="ownership_given",
            context=context,
            language=organisation.language,
            organisation=organisation,
        )
    return new_owner
