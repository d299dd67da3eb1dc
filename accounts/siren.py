"""SIREN numbers: the 9 digits that identify a business in the French SIRENE register.

Checked offline with python-stdnum (length, digits, Luhn check digit), like VAT numbers:
a number that passes is the customer's declaration; the register is not queried.

Since the 2026 e-invoicing reform a French buyer's SIREN is printed on its invoices and is
its electronic address (docs/invoices.md). It is required of an organisation whose address
is in France; elsewhere it may stay empty (a foreign company has one only if it is
registered in France).
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum.exceptions import InvalidChecksum
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siren as stdnum_siren

from .vat import vat_territory

EXAMPLE = "732 829 320"
# Where a business is in the SIRENE register, so the field may not stay empty.
REQUIRED_IN = frozenset({"FR"})


def normalize_siren(value: str, country: str) -> str:
    """The SIREN as stored (9 digits, '' when empty) for an organisation in `country`.

    Spaces, dots and dashes are tolerated. Raises ValidationError with a message that says
    what is expected."""
    number = re.sub(r"[\s.\-]", "", value or "")
    if not number:
        if (country or "").upper() in REQUIRED_IN:
            raise ValidationError(
                _(
                    "Le SIREN est obligatoire pour une organisation établie en France : "
                    "9 chiffres, ex. %(example)s."
                )
                % {"example": EXAMPLE},
                code="required",
            )
        return ""
    try:
        return stdnum_siren.validate(number)
    except InvalidChecksum:
        raise ValidationError(
            _(
                "Ce SIREN n'existe pas : son dernier chiffre (la clé) ne correspond pas aux "
                "huit premiers. Vérifiez-le sur votre extrait Kbis ou votre avis de situation "
                "SIRENE."
            ),
            code="checksum",
        ) from None
    except StdnumError:
        raise ValidationError(
            _("Un SIREN compte 9 chiffres, ex. %(example)s.") % {"example": EXAMPLE},
            code="invalid",
        ) from None


def siren_of_vat_number(vat_number: str, country: str) -> str:
    """The SIREN inside a French VAT number (FR + 2-character key + SIREN), or ''."""
    number = vat_number or ""
    if vat_territory(country) == "FR" and number.startswith("FR") and len(number) == 13:
        return number[4:]
    return ""
