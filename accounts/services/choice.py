"""The account a person works on, when they belong to several (the header's switcher)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Membership, User


@transaction.atomic
def organisation_choose(*, user: User, organisation_id) -> Membership:
    """`user` chose the account `organisation_id` (as the switcher's form sends it): returns
    their membership of it, and remembers the choice (`Membership.chosen_at`), so that
    their next session opens on it. The caller keeps the choice in the session.

    Raises ValidationError when the id names no account of theirs: nothing changes.
    Navigation, not a change to the account: no audit event (the events of the requests
    that follow name the chosen account).
    """
    try:
        pk = int(organisation_id)
    except (TypeError, ValueError):
        pk = None
    membership = (
        Membership.objects.select_related("organisation")
        .filter(user_id=user.pk, organisation_id=pk)
        .first()
        if pk is not None
        else None
    )
    if membership is None:
        raise ValidationError(_("Ce compte ne fait pas partie des vôtres."), code="not_a_member")
    membership.chosen_at = timezone.now()
    membership.save(update_fields=["chosen_at"])
    return membership
