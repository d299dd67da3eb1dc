"""Support sends a pending confirmation link again, through the request that issued it."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import User

from ..models import Confirmation
from .closure import closure_request
from .links import IssuedLink
from .mandate_links import mandate_link_resend
from .upgrades import upgrade_request


def confirmation_resend(
    *, confirmation: Confirmation, actor: User, ip: str | None = None
) -> IssuedLink:
    """Support sends a pending confirmation again (the customer never got the email).

    Only a hash of the old link is stored, so a new link is issued to the same requester
    for the same change, through the same request path (which supersedes the old link
    and re-checks that the requester is still the owner).
    """
    if not actor.is_staff:
        raise PermissionDenied(_("Réservé à l'équipe support."))
    if confirmation.status != Confirmation.Status.PENDING:
        raise ValidationError(_("Seule une confirmation en attente peut être renvoyée."))
    with transaction.atomic():
        if confirmation.kind == Confirmation.Kind.UPGRADE:
            link = upgrade_request(
                organisation=confirmation.organisation,
                plan=confirmation.plan,
                actor=confirmation.requested_by,
                ip=ip,
            )
        elif confirmation.kind in (Confirmation.Kind.MANDATE, Confirmation.Kind.MANDATE_REVOKE):
            link = mandate_link_resend(confirmation=confirmation, ip=ip)
        else:
            link = closure_request(
                organisation=confirmation.organisation,
                actor=confirmation.requested_by,
                ip=ip,
            )
        audit_record(
            organisation=confirmation.organisation,
            action="confirmation.resent",
            actor=actor,
            support=True,
            after={"kind": confirmation.kind, "to": confirmation.requested_by.email},
            ip=ip,
        )
    return link
