"""Signing in: who an OpenID Connect identity is, and the audit event of each sign-in."""

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from ..audit import audit_record
from ..models import Membership, User
from ..selectors import MEMBERSHIP_ORDER

# Why an identity did not sign in (the callback page shown for each: accounts/views.py).
UNKNOWN = "unknown"
INACTIVE = "inactive"


@dataclass(frozen=True)
class OidcIdentity:
    """What the identity provider says of the person: its `sub` claim, and the email with
    whether the provider verified it."""

    subject: str
    email: str = ""
    email_verified: bool = False


@transaction.atomic
def oidc_user_resolve(*, identity: OidcIdentity) -> tuple[User | None, str]:
    """The provisioned user an identity signs in as, and "" — or None and why not.

    A subject already bound names its user, whatever the email says now. An unbound subject
    binds to the one user with that address only if the provider verified the address and
    that user has no subject yet: an address changed at the provider cannot take over
    another user, and an unverified one proves nothing. Nobody is ever created. An inactive
    user (deactivated, or anonymised after a closure) is refused and nothing is bound.
    """
    if not identity.subject:
        return None, UNKNOWN
    user = User.objects.select_for_update().filter(oidc_subject=identity.subject).first()
    if user is None:
        if not (identity.email and identity.email_verified is True):
            return None, UNKNOWN
        user = (
            User.objects.select_for_update()
            .filter(email__iexact=identity.email.strip(), oidc_subject__isnull=True)
            .first()
        )
        if user is None:
            return None, UNKNOWN
        if not user.is_active:
            return None, INACTIVE
        user.oidc_subject = identity.subject
        try:
            with transaction.atomic():
                user.save(update_fields=["oidc_subject"])
        except IntegrityError:
            # The same subject bound by a concurrent first sign-in: that one stands.
            return None, UNKNOWN
        _audit(user=user, action="user.oidc_bound", after={"method": "oidc"}, ip=None)
        return user, ""
    if not user.is_active:
        return None, INACTIVE
    return user, ""


@transaction.atomic
def sign_in_record(
    *, user: User, method: str, ip: str | None, second_factor: str | None = None
) -> None:
    """The audit event of a successful sign-in, naming how (``oidc`` or ``password``) and,
    after the second step, with what (``totp`` or ``recovery``)."""
    after = {"method": method, **({"second_factor": second_factor} if second_factor else {})}
    _audit(user=user, action="user.signed_in", after=after, ip=ip)


def _audit(*, user: User, action: str, after: dict, ip: str | None) -> None:
    # A person with several accounts: the event names the account the portal opens on
    # (the one chosen last, else the first by name: accounts.permissions.membership_chosen).
    membership = (
        Membership.objects.filter(user=user)
        .select_related("organisation")
        .order_by(*MEMBERSHIP_ORDER)
        .first()
    )
    audit_record(
        organisation=membership.organisation if membership else None,
        action=action,
        actor=user,
        after=after,
        ip=ip,
    )
