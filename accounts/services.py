"""Every change to an account, its members and its billing contacts goes through here."""

from contextlib import contextmanager

from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from emails.addresses import is_email_address
from emails.services import email_queue

from . import hooks
from .addresses import clean_postal_code, is_country
from .audit import audit_anonymise, audit_record
from .guards import lock_account, require_open
from .models import NAME_MAX_LENGTH, BillingContact, Membership, Organisation, User


@transaction.atomic
def ownership_transfer(
    *,
    organisation: Organisation,
    new_owner_membership_id: int | str | None,
    actor: User,
    by_support: bool = False,
    reason: str = "",
    ip: str | None = None,
) -> Membership:
    """Make a program manager of the account its owner; the previous owner becomes a manager.

    Raises ValidationError (field "new_owner") for a choice that is not a current program
    manager of this account, PermissionDenied when the actor is no longer the owner.
    """
    organisation = lock_account(organisation)
    members = {m.pk: m for m in organisation.memberships.select_related("user").order_by("pk")}
    current = next((m for m in members.values() if m.role == Membership.Role.OWNER), None)
    if not by_support and (current is None or current.user_id != actor.pk):
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


def _clean_contact(organisation, first_name, last_name, email, *, exclude_pk=None):
    first_name, last_name = (first_name or "").strip(), (last_name or "").strip()
    email = (email or "").strip()
    errors = {}
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        if not value:
            errors[field] = _("Ce champ est obligatoire.")
        elif len(value) > NAME_MAX_LENGTH:
            errors[field] = _("%(max)d caractères au maximum.") % {"max": NAME_MAX_LENGTH}
        elif any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            errors[field] = _("Caractères non autorisés.")
    if not is_email_address(email):
        errors["email"] = _("Saisissez une adresse e-mail valide.")
    else:
        duplicates = BillingContact.objects.filter(
            organisation=organisation, email__iexact=email
        ).exclude(pk=exclude_pk)
        if duplicates.exists():
            errors["email"] = _("Un contact avec cette adresse e-mail existe déjà.")
    if errors:
        raise ValidationError(errors)
    return first_name, last_name, email.lower()


@contextmanager
def _unique_contact_email():
    # The check in _clean_contact can lose a race with a concurrent add: the unique index
    # then refuses the row, reported as the same field error.
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        raise ValidationError(
            {"email": _("Un contact avec cette adresse e-mail existe déjà.")}
        ) from None


def _contact_fields(contact: BillingContact) -> dict:
    """What the audit trail records of a contact."""
    return {"name": contact.full_name, "email": contact.email}


@transaction.atomic
def contact_add(
    *,
    organisation: Organisation,
    first_name: str,
    last_name: str,
    email: str,
    actor: User | None,
    by_support: bool = False,
    ip: str | None = None,
) -> BillingContact:
    require_open(organisation)
    first_name, last_name, email = _clean_contact(organisation, first_name, last_name, email)
    with _unique_contact_email():
        contact = BillingContact.objects.create(
            organisation=organisation, first_name=first_name, last_name=last_name, email=email
        )
    audit_record(
        organisation=organisation,
        action="contact.added",
        actor=actor,
        support=by_support,
        after=_contact_fields(contact),
        ip=ip,
    )
    return contact


@transaction.atomic
def contact_update(
    *,
    contact: BillingContact,
    first_name: str,
    last_name: str,
    email: str,
    actor: User | None,
    by_support: bool = False,
    ip: str | None = None,
) -> BillingContact:
    contact = BillingContact.objects.select_for_update().get(pk=contact.pk)
    require_open(contact.organisation)
    first_name, last_name, email = _clean_contact(
        contact.organisation_id, first_name, last_name, email, exclude_pk=contact.pk
    )
    before = _contact_fields(contact)
    contact.first_name, contact.last_name, contact.email = first_name, last_name, email
    with _unique_contact_email():
        contact.save(update_fields=["first_name", "last_name", "email"])
    audit_record(
        organisation=contact.organisation,
        action="contact.updated",
        actor=actor,
        support=by_support,
        before=before,
        after=_contact_fields(contact),
        ip=ip,
    )
    return contact


@transaction.atomic
def contact_remove(
    *, contact: BillingContact, actor: User | None, by_support: bool = False, ip: str | None = None
) -> bool:
    """Remove a billing contact. Returns False when it was already gone (a double click,
    two tabs): then nothing is written, so the trail has one event per removal."""
    contact = BillingContact.objects.select_for_update().filter(pk=contact.pk).first()
    if contact is None:
        return False
    require_open(contact.organisation)
    audit_record(
        organisation=contact.organisation,
        action="contact.removed",
        actor=actor,
        support=by_support,
        before=_contact_fields(contact),
        ip=ip,
    )
    contact.delete()
    return True


# Organisation details (Factures tab). Issued invoices keep their own snapshot of these, so
# a change here only affects the invoices issued from now on and the renewal estimate.

ADDRESS_MAX_LENGTHS = {"address_line1": 200, "address_line2": 200, "postal_code": 20, "city": 100}


def _clean_address(fields: dict) -> dict:
    cleaned, errors = {}, {}
    for field, max_length in ADDRESS_MAX_LENGTHS.items():
        value = " ".join(str(fields.get(field) or "").split())
        if len(value) > max_length:
            errors[field] = _("%(max)d caractères au maximum.") % {"max": max_length}
        elif any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            errors[field] = _("Caractères non autorisés.")
        cleaned[field] = value
    for required in ("address_line1", "city"):
        if not cleaned[required] and required not in errors:
            errors[required] = _("Ce champ est obligatoire.")
    country = str(fields.get("country") or "").strip().upper()
    if not is_country(country):
        errors["country"] = _("Choisissez un pays de la liste.")
    elif "postal_code" not in errors:
        try:
            cleaned["postal_code"] = clean_postal_code(cleaned["postal_code"], country)
        except ValidationError as error:
            errors["postal_code"] = error.messages[0]
    cleaned["country"] = country
    if errors:
        raise ValidationError(errors)
    return cleaned


def _organisation_change(organisation, new: dict, *, action, actor, by_support, ip):
    """Save the fields that differ and record them; nothing at all when none does."""
    before = {field: getattr(organisation, field) for field in new}
    if before == new:
        return organisation
    for field, value in new.items():
        setattr(organisation, field, value)
    organisation.save(update_fields=list(new))
    audit_record(
        organisation=organisation,
        action=action,
        actor=actor,
        support=by_support,
        before=before,
        after=new,
        ip=ip,
    )
    return organisation


@transaction.atomic
def organisation_update_address(
    *,
    organisation: Organisation,
    address_line1: str,
    address_line2: str = "",
    postal_code: str = "",
    city: str,
    country: str,
    actor: User | None,
    by_support: bool = False,
    ip: str | None = None,
) -> Organisation:
    """Change the account's postal address. Raises ValidationError per field, saves nothing.

    The country must stay consistent with the VAT number: to move an account to another
    country, clear its VAT number first (or change both, address first when it is empty).
    """
    from .vat import normalize_vat_number

    organisation = lock_account(organisation)
    require_open(organisation)
    new = _clean_address(
        {
            "address_line1": address_line1,
            "address_line2": address_line2,
            "postal_code": postal_code,
            "city": city,
            "country": country,
        }
    )
    if organisation.vat_number and new["country"] != organisation.country:
        try:
            normalize_vat_number(organisation.vat_number, new["country"])
        except ValidationError:
            raise ValidationError(
                {
                    "country": _(
                        "Le numéro de TVA %(vat)s ne correspond pas à ce pays. Effacez d'abord "
                        "le numéro de TVA, puis modifiez l'adresse."
                    )
                    % {"vat": organisation.vat_number}
                }
            ) from None
    return _organisation_change(
        organisation,
        new,
        action="organisation.address_changed",
        actor=actor,
        by_support=by_support,
        ip=ip,
    )


@transaction.atomic
def organisation_update_vat(
    *,
    organisation: Organisation,
    vat_number: str,
    actor: User | None,
    by_support: bool = False,
    ip: str | None = None,
) -> Organisation:
    """Set or clear the account's VAT number, checked offline against its country.

    Raises ValidationError (field "vat_number") naming the expected format; saves nothing.
    """
    from .vat import normalize_vat_number

    organisation = lock_account(organisation)
    require_open(organisation)
    try:
        number = normalize_vat_number(vat_number, organisation.country)
    except ValidationError as exc:
        raise ValidationError({"vat_number": exc.messages}) from None
    return _organisation_change(
        organisation,
        {"vat_number": number},
        action="organisation.vat_changed",
        actor=actor,
        by_support=by_support,
        ip=ip,
    )


# Anonymisation (called by subscriptions.services.account_anonymise once a closed account's
# grace period is over).


def _anonymous_email(user: User) -> str:
    # Unique because the pk is; ".invalid" can never be delivered (RFC 2606).
    return f"anonyme-{user.pk}@anonymised.invalid"


@transaction.atomic
def people_anonymise(*, organisation: Organisation) -> dict:
    """Erase the personal data of the account's people, in the tables of accounts: users'
    names cleared, email replaced by a unique placeholder, unusable password, inactive;
    billing contacts deleted; their names and addresses scrubbed from the audit trail.
    Returns what was done, for the caller's audit event."""
    users = list(User.objects.select_for_update().filter(membership__organisation=organisation))
    contacts = BillingContact.objects.filter(organisation=organisation)
    personal = {value for user in users for value in (user.email, user.get_full_name())}
    personal |= {value for c in contacts for value in (c.email, c.full_name)}
    audit_anonymise(organisation=organisation, personal_values=personal)
    for user in users:
        user.first_name = ""
        user.last_name = ""
        user.email = _anonymous_email(user)
        user.password = make_password(None)
        user.is_active = False
        user.save(update_fields=["first_name", "last_name", "email", "password", "is_active"])
    contacts_deleted, _by_model = contacts.delete()
    return {"users": len(users), "billing_contacts_deleted": contacts_deleted}
