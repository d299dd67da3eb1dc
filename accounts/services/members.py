"""The people of an account: adding a member, changing their name or role, removing them.

The host's provisioning API (api/) calls these; making a program manager the owner goes
through `ownership_transfer`, as on the portal's Contacts tab. A new member has no password:
they sign in through the host's identity provider, whose verified email binds their account
at the first sign-in (accounts.services.sign_in).
"""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ..audit import audit_record
from ..guards import lock_account, require_open
from ..models import NAME_MAX_LENGTH, Membership, Organisation, User
from .ownership import ownership_transfer


def _clean_name(value, field: str, errors: dict) -> str:
    name = " ".join(str(value or "").split())
    if not name:
        errors[field] = _("Ce champ est obligatoire.")
    elif len(name) > NAME_MAX_LENGTH:
        errors[field] = _("%(max)d caractères au maximum.") % {"max": NAME_MAX_LENGTH}
    elif any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in name):
        errors[field] = _("Caractères non autorisés.")
    return name


def _clean_email(value, errors: dict) -> str:
    email = str(value or "").strip().lower()
    try:
        if len(email) > 254 or "\x00" in email:
            raise ValidationError("")
        validate_email(email)
    except ValidationError:
        errors["email"] = _("Saisissez une adresse e-mail valide.")
    return email


def _member_data(membership: Membership) -> dict:
    user = membership.user
    return {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": membership.role,
    }


@transaction.atomic
def member_add(
    *,
    organisation: Organisation,
    email: str,
    first_name: str,
    last_name: str,
    role: str = Membership.Role.MANAGER,
    actor: User | None,
    ip: str | None = None,
) -> Membership:
    """Add a person to the account as a program manager, or as its owner when it has none.

    A person already known keeps their user row: a former member with the names given now;
    a member of another account joins this one too, with the names they have (a person may
    belong to several, docs/architecture.md, Permissions). Raises ValidationError per
    field: an invalid email or name, a person already a member of this account, an owner
    when the account has one (a program manager becomes the owner through
    `ownership_transfer`). Saves nothing then.
    """
    organisation = lock_account(organisation)
    require_open(organisation)
    errors: dict = {}
    email = _clean_email(email, errors)
    first_name = _clean_name(first_name, "first_name", errors)
    last_name = _clean_name(last_name, "last_name", errors)
    if role not in Membership.Role.values:
        errors["role"] = _("Choisissez le rôle : propriétaire ou gestionnaire du programme.")
    elif role == Membership.Role.OWNER and organisation.memberships.filter(role=role).exists():
        errors["role"] = _(
            "Ce compte a déjà un propriétaire : ajoutez la personne comme gestionnaire du "
            "programme, puis transférez-lui le compte."
        )
    if errors:
        raise ValidationError(errors)

    user = User.objects.select_for_update().filter(email__iexact=email).first()
    if user is not None:
        if Membership.objects.filter(user=user, organisation=organisation).exists():
            raise ValidationError(
                {"email": _("Cette personne est déjà membre de ce compte.")}, code="member"
            )
        if not user.is_active:
            raise ValidationError(
                {"email": _("Cette adresse appartient à un utilisateur désactivé.")},
                code="inactive",
            )
        # The names are the person's: a member of another account keeps theirs (this
        # account's input never renames them there); a former member gets the names given.
        member_elsewhere = Membership.objects.filter(user=user).exists()
        if not member_elsewhere and (user.first_name, user.last_name) != (first_name, last_name):
            user.first_name, user.last_name = first_name, last_name
            user.save(update_fields=["first_name", "last_name"])
    try:
        with transaction.atomic():
            if user is None:
                user = User.objects.create_user(
                    email=email, first_name=first_name, last_name=last_name
                )
            membership = Membership.objects.create(organisation=organisation, user=user, role=role)
    except IntegrityError:
        # Someone added the same person at the same moment (to this account or another).
        raise ValidationError(
            {"email": _("Cette personne vient d'être ajoutée à un compte.")}, code="race"
        ) from None
    audit_record(
        organisation=organisation,
        action="member.added",
        actor=actor,
        after=_member_data(membership),
        ip=ip,
    )
    return membership


@transaction.atomic
def member_update(
    *,
    membership: Membership,
    first_name: str | None = None,
    last_name: str | None = None,
    role: str | None = None,
    actor: User,
    by_host: bool = False,
    ip: str | None = None,
) -> Membership:
    """Change a member's name, or make a program manager the owner (`ownership_transfer`,
    which demotes the current owner, emails both and tells the host's webhooks).

    The owner cannot be made a program manager: the account would have none; make another
    member the owner instead. Raises ValidationError per field; saves nothing then.
    """
    organisation = lock_account(membership.organisation)
    require_open(organisation)
    membership = Membership.objects.select_related("user").get(pk=membership.pk)
    errors: dict = {}
    user = membership.user
    names = {
        "first_name": user.first_name if first_name is None else first_name,
        "last_name": user.last_name if last_name is None else last_name,
    }
    names = {field: _clean_name(value, field, errors) for field, value in names.items()}
    if role is not None and role not in Membership.Role.values:
        errors["role"] = _("Choisissez le rôle : propriétaire ou gestionnaire du programme.")
    elif role == Membership.Role.MANAGER and membership.is_owner:
        errors["role"] = _(
            "Le propriétaire reste propriétaire tant qu'un autre membre ne l'est pas devenu : "
            "donnez ce rôle à un gestionnaire du programme."
        )
    if errors:
        raise ValidationError(errors)

    before = _member_data(membership)
    if (user.first_name, user.last_name) != (names["first_name"], names["last_name"]):
        user.first_name, user.last_name = names["first_name"], names["last_name"]
        user.save(update_fields=["first_name", "last_name"])
        audit_record(
            organisation=organisation,
            action="member.updated",
            actor=actor,
            before=before,
            after=_member_data(membership),
            ip=ip,
        )
    if role == Membership.Role.OWNER and not membership.is_owner:
        ownership_transfer(
            organisation=organisation,
            new_owner_membership_id=membership.pk,
            actor=actor,
            by_host=by_host,
            ip=ip,
        )
        membership.refresh_from_db()
    return membership


@transaction.atomic
def member_remove(*, membership: Membership, actor: User | None, ip: str | None = None) -> None:
    """Take a program manager out of the account. Their user row stays (a person may be
    added again, here or elsewhere); without a membership they reach no portal page.

    The owner cannot be removed: make another member the owner first (ValidationError).
    """
    organisation = lock_account(membership.organisation)
    require_open(organisation)
    membership = Membership.objects.select_related("user").filter(pk=membership.pk).first()
    if membership is None:
        return
    if membership.is_owner:
        raise ValidationError(
            {
                "role": _(
                    "Le propriétaire du compte ne peut pas être retiré : donnez d'abord ce rôle "
                    "à un autre membre."
                )
            },
            code="owner",
        )
    before = _member_data(membership)
    membership.delete()
    audit_record(
        organisation=organisation, action="member.removed", actor=actor, before=before, ip=ip
    )
