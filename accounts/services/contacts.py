"""The billing contacts of an account: people who receive the invoices."""

from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from emails.addresses import is_email_address

from ..audit import audit_record
from ..guards import require_open
from ..models import NAME_MAX_LENGTH, BillingContact, Organisation, User


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
