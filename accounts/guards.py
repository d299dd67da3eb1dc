"""The checks a service starts with, whatever app it is in: lock the account's row, then
check that the account is open and who asks.

Every change that involves an account takes the row lock first (`lock_account`), so two
concurrent changes of one account (ownership transfers, confirmations, requests, support
actions) run one after the other and the second sees the first's result.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from .models import Membership, Organisation, User


def lock_account(organisation: Organisation) -> Organisation:
    return Organisation.objects.select_for_update().get(pk=organisation.pk)


def require_open(organisation: Organisation) -> None:
    """A closed account changes only by being reopened (past its grace period its people's
    data is erased: nothing may be put back in meanwhile)."""
    if organisation.is_closed:
        raise ValidationError(_("Ce compte est fermé."), code="closed")


def require_owner(organisation: Organisation, actor: User) -> None:
    is_owner = Membership.objects.filter(
        organisation=organisation, user_id=actor.pk, role=Membership.Role.OWNER
    ).exists()
    if not is_owner:
        raise PermissionDenied(_("Seul le propriétaire du compte peut faire cette demande."))
