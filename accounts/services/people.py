"""Erasing the personal data of a closed account's people."""

import secrets

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from ..audit import audit_anonymise, audit_record
from ..models import BillingContact, Membership, Organisation, User

# Anonymisation (called by subscriptions.services.account_anonymise once a closed account's
# grace period is over).


def _anonymous_email(user: User) -> str:
    # Unique because the pk is; ".invalid" can never be delivered (RFC 2606).
    return f"anonyme-{user.pk}@anonymised.invalid"


@transaction.atomic
def people_anonymise(*, organisation: Organisation) -> dict:
    """Erase the personal data of the account's people, in the tables of accounts: users'
    names cleared, email replaced by a unique placeholder, unusable password, no OpenID
    Connect subject, no second factor, inactive;
    billing contacts deleted; their names and addresses scrubbed from the audit trail.

    A person who is also a member of another account (an agency, a group of companies)
    keeps their user, which that account still needs: only their membership of this
    account goes, so they no longer see it, and this account's trail no longer names or
    links to them (names scrubbed, actor unset). Every other account of theirs is one not
    anonymised yet: an anonymised account keeps the memberships of anonymised people only.
    Returns what was done, for the caller's audit event."""
    members = list(
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(organisation=organisation)
        .order_by("pk")
    )
    elsewhere = set(
        Membership.objects.filter(user__in=[m.user_id for m in members])
        .exclude(organisation=organisation)
        .values_list("user_id", flat=True)
    )
    kept = [m for m in members if m.user_id in elsewhere]
    users = [m.user for m in members if m.user_id not in elsewhere]
    contacts = BillingContact.objects.filter(organisation=organisation)
    personal = {value for m in members for value in (m.user.email, m.user.get_full_name())}
    personal |= {value for c in contacts for value in (c.email, c.full_name)}
    audit_anonymise(
        organisation=organisation,
        personal_values=personal,
        unlink_actor_ids={m.user_id for m in kept},
    )
    for user in users:
        user.first_name = ""
        user.last_name = ""
        user.email = _anonymous_email(user)
        user.password = make_password(None)
        user.is_active = False
        # The identity provider's subject goes too: nothing links the row to the person.
        user.oidc_subject = None
        user.save(
            update_fields=[
                "first_name",
                "last_name",
                "email",
                "password",
                "is_active",
                "oidc_subject",
            ]
        )
    # Their second factor too: the secret and the recovery codes were theirs. (The people
    # kept for another account keep theirs: they still sign in.)
    TOTPDevice.objects.filter(user__in=users).delete()
    StaticDevice.objects.filter(user__in=users).delete()
    Membership.objects.filter(pk__in=[m.pk for m in kept]).delete()
    contacts_deleted, _by_model = contacts.delete()
    return {
        "users": len(users),
        "memberships_removed": len(kept),
        "billing_contacts_deleted": contacts_deleted,
    }


@transaction.atomic
def machine_user_create(*, label: str) -> User:
    """A user that stands for a machine client (an API client of the host) as the author of
    its changes in the audit trail: inactive, without password, never a member, so it
    signs in nowhere. Its names are what the trail prints: « API <label> »."""
    user = User(
        email=f"client-{secrets.token_hex(8)}@api.invalid",
        first_name="API",
        last_name=label[:150],
        is_active=False,
    )
    user.set_unusable_password()
    user.save()
    return user


# What support may change on a person from the admin's user page, and the audit keeps.
USER_SUPPORT_FIELDS = ("email", "first_name", "last_name", "is_active")


@transaction.atomic
def user_update_by_support(
    *, user: User, before: dict, actor: User, ip: str | None = None
) -> list[str]:
    """Save the person support changed in the admin (`user` holds the new values, `before`
    the ones the form was opened with) and record « user.updated » in the journal of every
    account they belong to — or one journal entry without account, for a person of none —
    naming the support user, with the fields before and after. An email changes where the
    person signs in and receives the billing emails: it must never change unseen. Returns
    the fields changed (none: nothing is written)."""
    changed = [name for name in USER_SUPPORT_FIELDS if before.get(name) != getattr(user, name)]
    user.save()
    if not changed:
        return []
    old = {name: before.get(name) for name in changed}
    new = {name: getattr(user, name) for name in changed}
    organisations = list(
        Organisation.objects.filter(memberships__user=user).order_by("pk").distinct()
    ) or [None]
    for organisation in organisations:
        audit_record(
            organisation=organisation,
            action="user.updated",
            actor=actor,
            support=True,
            before=old,
            after=new,
            ip=ip,
        )
    return changed
