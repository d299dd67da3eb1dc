"""The organisation's details printed on its invoices (Factures tab)."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ..addresses import clean_postal_code, is_country
from ..audit import audit_record
from ..guards import lock_account, require_open
from ..models import BUYER_REFERENCE_MAX_LENGTH, ORDER_REFERENCE_MAX_LENGTH, Organisation, User
from ..siren import normalize_siren, siren_of_vat_number
from ..vat import normalize_vat_number

# Organisation details (Factures tab). Issued invoices keep their own snapshot of these, so
# a change here only affects the invoices issued from now on and the renewal estimate.

ADDRESS_MAX_LENGTHS = {"address_line1": 200, "address_line2": 200, "postal_code": 20, "city": 100}


def _clean_text(fields: dict, max_lengths: dict) -> tuple[dict, dict]:
    """One-line texts: spaces collapsed, at most so many characters, no control character.
    Returns (cleaned values, errors by field)."""
    cleaned, errors = {}, {}
    for field, max_length in max_lengths.items():
        value = " ".join(str(fields.get(field) or "").split())
        if len(value) > max_length:
            errors[field] = _("%(max)d caractères au maximum.") % {"max": max_length}
        elif any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in value):
            errors[field] = _("Caractères non autorisés.")
        cleaned[field] = value
    return cleaned, errors


def _clean_address(fields: dict) -> dict:
    cleaned, errors = _clean_text(fields, ADDRESS_MAX_LENGTHS)
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

    Raises ValidationError (field "vat_number") naming the expected format, or when a
    French number contains another SIREN than the organisation's; saves nothing.
    """
    organisation = lock_account(organisation)
    require_open(organisation)
    try:
        number = normalize_vat_number(vat_number, organisation.country)
    except ValidationError as exc:
        raise ValidationError({"vat_number": exc.messages}) from None
    # A French VAT number contains the SIREN: both are printed, they must not disagree.
    inside = siren_of_vat_number(number, organisation.country)
    if inside and organisation.siren and inside != organisation.siren:
        raise ValidationError(
            {
                "vat_number": _(
                    "Ce numéro de TVA contient le SIREN %(inside)s, et non celui de votre "
                    "organisation (%(siren)s). Si votre SIREN a changé, effacez le numéro de "
                    "TVA, corrigez le SIREN, puis saisissez le numéro de TVA."
                )
                % {"inside": inside, "siren": organisation.siren}
            }
        )
    return _organisation_change(
        organisation,
        {"vat_number": number},
        action="organisation.vat_changed",
        actor=actor,
        by_support=by_support,
        ip=ip,
    )


@transaction.atomic
def organisation_update_siren(
    *,
    organisation: Organisation,
    siren: str,
    actor: User | None,
    by_support: bool = False,
    ip: str | None = None,
) -> Organisation:
    """Set or clear the organisation's SIREN (accounts.siren: required in France).

    Raises ValidationError (field "siren") for a malformed number, a wrong check digit, an
    empty one in France, or one that contradicts the French VAT number; saves nothing.
    """
    organisation = lock_account(organisation)
    require_open(organisation)
    try:
        number = normalize_siren(siren, organisation.country)
    except ValidationError as exc:
        raise ValidationError({"siren": exc.messages}) from None
    inside = siren_of_vat_number(organisation.vat_number, organisation.country)
    if number and inside and number != inside:
        raise ValidationError(
            {
                "siren": _(
                    "Ce SIREN ne correspond pas au numéro de TVA %(vat)s, qui contient le SIREN "
                    "%(inside)s. Si c'est le numéro de TVA qui est faux, effacez-le d'abord."
                )
                % {"vat": organisation.vat_number, "inside": inside}
            }
        )
    return _organisation_change(
        organisation,
        {"siren": number},
        action="organisation.siren_changed",
        actor=actor,
        by_support=by_support,
        ip=ip,
    )


DELIVERY_FIELDS = {
    "delivery_line1": "address_line1",
    "delivery_line2": "address_line2",
    "delivery_postal_code": "postal_code",
    "delivery_city": "city",
    "delivery_country": "country",
}


@transaction.atomic
def organisation_update_delivery_address(
    *,
    organisation: Organisation,
    delivery_line1: str = "",
    delivery_line2: str = "",
    delivery_postal_code: str = "",
    delivery_city: str = "",
    delivery_country: str = "",
    actor: User | None,
    by_support: bool = False,
    ip: str | None = None,
) -> Organisation:
    """Set the address where the services are delivered, when it is not the billing
    address; all its lines empty removes it (the country alone means nothing).

    Checked like the billing address; raises ValidationError per field, saves nothing.
    Invoices print it only when it differs from the billing address (invoices.services).
    """
    organisation = lock_account(organisation)
    require_open(organisation)
    given = {
        "delivery_line1": delivery_line1,
        "delivery_line2": delivery_line2,
        "delivery_postal_code": delivery_postal_code,
        "delivery_city": delivery_city,
        "delivery_country": delivery_country,
    }
    lines = [given[field] for field in DELIVERY_FIELDS if field != "delivery_country"]
    if not any(str(line or "").strip() for line in lines):
        new = dict.fromkeys(DELIVERY_FIELDS, "")
    else:
        try:
            cleaned = _clean_address({DELIVERY_FIELDS[k]: v for k, v in given.items()})
        except ValidationError as exc:
            names = {address: delivery for delivery, address in DELIVERY_FIELDS.items()}
            raise ValidationError(
                {names[field]: errors for field, errors in exc.message_dict.items()}
            ) from None
        new = {delivery: cleaned[address] for delivery, address in DELIVERY_FIELDS.items()}
    return _organisation_change(
        organisation,
        new,
        action="organisation.delivery_address_changed",
        actor=actor,
        by_support=by_support,
        ip=ip,
    )


REFERENCE_MAX_LENGTHS = {
    "order_reference": ORDER_REFERENCE_MAX_LENGTH,
    "buyer_reference": BUYER_REFERENCE_MAX_LENGTH,
}


@transaction.atomic
def organisation_update_references(
    *,
    organisation: Organisation,
    order_reference: str = "",
    buyer_reference: str = "",
    actor: User | None,
    by_support: bool = False,
    ip: str | None = None,
) -> Organisation:
    """Set or clear the buyer's references copied onto its next invoices: its purchase order
    number (EN 16931 BT-13) and its own reference (BT-10). Public buyers on Chorus Pro give
    their « numéro d'engagement » and « code service » here.

    Raises ValidationError per field (too long, control characters); saves nothing.
    """
    organisation = lock_account(organisation)
    require_open(organisation)
    new, errors = _clean_text(
        {"order_reference": order_reference, "buyer_reference": buyer_reference},
        REFERENCE_MAX_LENGTHS,
    )
    if errors:
        raise ValidationError(errors)
    return _organisation_change(
        organisation,
        new,
        action="organisation.references_changed",
        actor=actor,
        by_support=by_support,
        ip=ip,
    )


NAME_MAX_LENGTHS = {"name": 200}


def _clean_name(name) -> str:
    cleaned, errors = _clean_text({"name": name}, NAME_MAX_LENGTHS)
    if not cleaned["name"] and "name" not in errors:
        errors["name"] = _("Ce champ est obligatoire.")
    if errors:
        raise ValidationError(errors)
    return cleaned["name"]


def _clean_language(language) -> str:
    codes = [code for code, _name in settings.LANGUAGES]
    if language not in codes:
        raise ValidationError(
            {
                "language": _("Choisissez une langue parmi : %(codes)s.")
                % {"codes": ", ".join(codes)}
            }
        )
    return language


def clean_currency(currency) -> str:
    """A currency code as stored: three capital letters (ISO 4217). Whether a plan has a
    price in it is the subscriptions app's question (subscriptions.pricing.plan_price)."""
    code = str(currency or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValidationError({"currency": _("Indiquez un code de devise ISO 4217 (ex. EUR).")})
    return code


@transaction.atomic
def organisation_create(
    *,
    name: str,
    address_line1: str,
    address_line2: str = "",
    postal_code: str = "",
    city: str,
    country: str,
    vat_number: str = "",
    siren: str = "",
    currency: str,
    language: str,
    actor: User | None,
    ip: str | None = None,
) -> Organisation:
    """A new customer account, with its identity checked as the portal's forms check it:
    address (postcode per country), VAT number against the country, SIREN (required in
    France, else taken from the French VAT number), currency code and language.

    Raises ValidationError with every field in error at once; creates nothing then. The
    account has no member yet and no subscription: subscriptions.services.account_create
    builds a whole account from this.
    """
    errors: dict = {}
    new = {}
    for check in (
        lambda: new.update(name=_clean_name(name)),
        lambda: new.update(
            _clean_address(
                {
                    "address_line1": address_line1,
                    "address_line2": address_line2,
                    "postal_code": postal_code,
                    "city": city,
                    "country": country,
                }
            )
        ),
        lambda: new.update(currency=clean_currency(currency)),
        lambda: new.update(language=_clean_language(language)),
    ):
        try:
            check()
        except ValidationError as exc:
            errors.update(exc.message_dict)
    country = str(country or "").strip().upper()
    if is_country(country):
        try:
            new["vat_number"] = normalize_vat_number(vat_number, country)
        except ValidationError as exc:
            errors["vat_number"] = exc.messages
        inside = siren_of_vat_number(new.get("vat_number", ""), country)
        try:
            new["siren"] = normalize_siren(siren or inside, country)
        except ValidationError as exc:
            errors["siren"] = exc.messages
        if new.get("siren") and inside and new["siren"] != inside:
            errors["siren"] = [
                _("Ce SIREN ne correspond pas au numéro de TVA, qui contient le SIREN %(inside)s.")
                % {"inside": inside}
            ]
    if errors:
        raise ValidationError(errors)
    organisation = Organisation.objects.create(**new)
    audit_record(
        organisation=organisation,
        action="organisation.created",
        actor=actor,
        after=new,
        ip=ip,
    )
    return organisation


@transaction.atomic
def organisation_update_profile(
    *,
    organisation: Organisation,
    name: str | None = None,
    language: str | None = None,
    actor: User | None,
    by_support: bool = False,
    ip: str | None = None,
) -> Organisation:
    """Rename the account or change the language of its emails and next invoices (None:
    unchanged). Raises ValidationError per field; saves nothing then."""
    organisation = lock_account(organisation)
    require_open(organisation)
    new, errors = {}, {}
    if name is not None:
        try:
            new["name"] = _clean_name(name)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if language is not None:
        try:
            new["language"] = _clean_language(language)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return _organisation_change(
        organisation,
        new,
        action="organisation.profile_changed",
        actor=actor,
        by_support=by_support,
        ip=ip,
    )
