"""VAT numbers: which countries are in the EU VAT area, and offline checks with python-stdnum.

EU numbers are checked for format and check digits (no VIES call: the portal must work when
the Commission's service is down, and a number that passes the checksum but is not
registered is the customer's declaration, as on any paper order form). The number's prefix
must match the country of the address.

Outside the EU there is no common format: any tax identifier the customer wants printed
is accepted as free text (letters, digits, spaces, dots, dashes, slashes; 20 characters).
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import InvalidChecksum
from stdnum.exceptions import ValidationError as StdnumError

from .addresses import country_name

# The 27 member states, by ISO 3166-1 code (Greece is GR here, EL in VAT numbers).
EU_VAT_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)
# Monaco is inside the French VAT territory: its businesses hold FR numbers and are
# invoiced like French ones.
VAT_TERRITORY = {"MC": "FR"}
VAT_PREFIX = {"GR": "EL"}

# How each member state's number looks, with a real, valid example (checked by the tests).
_EIGHT = _("8 chiffres")
_NINE = _("9 chiffres")
FORMATS = {
    "AT": (_("U + 8 chiffres"), "ATU13585627"),
    "BE": (_("10 chiffres"), "BE0403019261"),
    "BG": (_("9 ou 10 chiffres"), "BG175074752"),
    "CY": (_("8 chiffres + 1 lettre"), "CY10259033P"),
    "CZ": (_("8 à 10 chiffres"), "CZ25123891"),
    "DE": (_NINE, "DE136695976"),
    "DK": (_EIGHT, "DK13585628"),
    "EE": (_NINE, "EE100931558"),
    "ES": (_("9 caractères"), "ESB58378431"),
    "FI": (_EIGHT, "FI20774740"),
    "FR": (_("11 chiffres"), "FR44732829320"),
    "GR": (_NINE, "EL094259216"),
    "HR": (_("11 chiffres"), "HR33392005961"),
    "HU": (_EIGHT, "HU12892312"),
    "IE": (_("8 ou 9 caractères"), "IE6433435F"),
    "IT": (_("11 chiffres"), "IT00743110157"),
    "LT": (_("9 ou 12 chiffres"), "LT119511515"),
    "LU": (_EIGHT, "LU15027442"),
    "LV": (_("11 chiffres"), "LV40003521600"),
    "MT": (_EIGHT, "MT11679112"),
    "NL": (_("9 chiffres + B + 2 chiffres"), "NL004495445B01"),
    "PL": (_("10 chiffres"), "PL8567346215"),
    "PT": (_NINE, "PT501964843"),
    "RO": (_("2 à 10 chiffres"), "RO18547290"),
    "SE": (_("12 chiffres"), "SE123456789701"),
    "SI": (_EIGHT, "SI50223054"),
    "SK": (_("10 chiffres"), "SK2022749619"),
}

FREE_TEXT_MAX_LENGTH = 20
_FREE_TEXT = re.compile(r"^[A-Z0-9][A-Z0-9 .\-/]*$")


def vat_territory(country: str) -> str:
    """The country whose VAT rules apply to an address in `country`."""
    country = (country or "").upper()
    return VAT_TERRITORY.get(country, country)


def is_eu(country: str) -> bool:
    return vat_territory(country) in EU_VAT_COUNTRIES


def vat_prefix(country: str) -> str:
    territory = vat_territory(country)
    return VAT_PREFIX.get(territory, territory)


def format_hint(country: str) -> str:
    """How a VAT number of `country` (an EU country) looks, e.g. "FR + 11 chiffres, ex. …"."""
    description, example = FORMATS[vat_territory(country)]
    return _("%(prefix)s + %(format)s, ex. %(example)s") % {
        "prefix": vat_prefix(country),
        "format": description,
        "example": example,
    }


def normalize_vat_number(value: str, country: str) -> str:
    """The number as stored and printed ('' when empty), for an address in `country`.

    Raises ValidationError with a message that names the expected format.
    """
    value = " ".join((value or "").split()).upper()
    if not value:
        return ""
    if is_eu(country):
        return _normalize_eu(value, country)
    if len(value) > FREE_TEXT_MAX_LENGTH or not _FREE_TEXT.match(value):
        raise ValidationError(
            _(
                "Identifiant fiscal non valide : %(max)d caractères au maximum (lettres, "
                "chiffres, espaces, points, tirets)."
            )
            % {"max": FREE_TEXT_MAX_LENGTH},
            code="invalid",
        )
    return value


def _normalize_eu(value: str, country: str) -> str:
    prefix = vat_prefix(country)
    try:
        number = eu_vat.compact(value)
    except StdnumError:
        number = re.sub(r"[^A-Z0-9]", "", value)
    if number[:1].isdigit():
        # "44732829320" for a French address means FR44732829320.
        number = prefix + number
    if number[:2] != prefix:
        raise ValidationError(
            _(
                "Ce numéro de TVA ne correspond pas au pays de l'adresse (%(country)s). "
                "Format attendu : %(hint)s."
            )
            % {"country": country_name(country), "hint": format_hint(country)},
            code="country_mismatch",
        )
    try:
        return eu_vat.validate(number)
    except InvalidChecksum:
        # Well formed, but its check digits do not match the rest: a typing error, most
        # likely. Naming the format here would send the user looking for the wrong fault.
        raise ValidationError(
            _(
                "Numéro de TVA non valide : il a le bon format, mais sa clé de contrôle ne "
                "correspond pas au reste du numéro. Vérifiez chaque chiffre."
            ),
            code="checksum",
        ) from None
    except StdnumError:
        raise ValidationError(
            _("Numéro de TVA non valide. Format attendu : %(hint)s.")
            % {"hint": format_hint(country)},
            code="invalid",
        ) from None


def is_valid_eu_vat_number(value: str, country: str) -> bool:
    """True for a well-formed number with valid check digits, of `country`, an EU country."""
    if not value or not is_eu(country):
        return False
    try:
        return normalize_vat_number(value, country) == value
    except ValidationError:
        return False
