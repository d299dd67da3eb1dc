"""The checks every subscription service starts with: lock the account (and the subscription),
then check who asks and that the account is open."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from accounts.models import Membership, Organisation, User

from ..models import Subscription


def lock_account(organisation: Organisation) -> Organisation:
    # Same lock as accounts.services: requests, confirmations and ownership transfers of one
    # account run one after the other.
    return Organisation.objects.select_for_update().get(pk=organisation.pk)


def subscriptions_locked():
    """Subscriptions whose rows a service locks as it reads them (their plans and account
    are read along, not locked: the account has its own lock, taken first)."""
    return Subscription.objects.select_for_update(of=("self",)).select_related(
        "organisation", "plan", "next_plan"
    )


def require_owner(organisation: Organisation, actor: User) -> None:
    is_owner = Membership.objects.filter(
        organisation=organisation, user_id=actor.pk, role=Membership.Role.OWNER
    ).exists()
    if not is_owner:
        raise PermissionDenied(_("Seul le propriétaire du compte peut faire cette demande."))


def require_open(organisation: Organisation) -> None:
    if organisation.is_closed:
        raise ValidationError(_("Ce compte est fermé."), code="closed")
