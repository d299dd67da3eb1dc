"""The organisation's details printed on its invoices (Factures tab)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ..addresses import clean_postal_code, is_country
from ..audit import audit_record
from ..guards import lock_account, require_open
from ..models import Organisation, User

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
    from ..vat import normalize_vat_number

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
    from ..vat import normalize_vat_number

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
