"""SEPA identifiers checked with python-stdnum: the debtor's IBAN and BIC, the seller's
creditor identifier; and the masked IBAN printed on invoices collected by direct debit.

A mandate is signed for an account in a country of the SEPA scheme (EPC409, the
countries whose IBANs SEPA direct debits reach); the BIC is optional: since 2016 banks
route SEPA debits by IBAN alone, so it is checked when given and never guessed.
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.iso7064 import mod_97_10

# IBAN country codes of the SEPA scheme (EPC409, 2025): the EU, the EEA, Switzerland, the
# United Kingdom (Guernsey, Jersey and the Isle of Man use GB IBANs), Gibraltar, Monaco,
# San Marino, the Vatican, Andorra, Albania, Moldova, Montenegro and North Macedonia.
# The French overseas departments and Åland use FR and FI IBANs.
SEPA_COUNTRIES = frozenset(
    "AD AL AT BE BG CH CY CZ DE DK EE ES FI FR GB GI GR HR HU IE IS IT LI LT LU LV MC MD "
    "ME MK MT NL NO PL PT RO SE SI SK SM VA".split()
)

# The SEPA character set (EPC217): what a mandate reference or an end-to-end id may hold.
SEPA_ID = re.compile(r"^[A-Za-z0-9/\-?:().,'+]{1,35}$")
CREDITOR_ID = re.compile(r"^([A-Z]{2})(\d{2})([A-Za-z0-9]{3})([A-Za-z0-9]{1,28})$")


def iban_clean(value: str) -> str:
    """The IBAN of a SEPA account, compact and upper case; ValidationError with a message
    the owner understands otherwise."""
    compact = stdnum_iban.compact(value or "")
    if not compact:
        raise ValidationError(_("Saisissez l'IBAN du compte à débiter."), code="required")
    try:
        stdnum_iban.validate(compact)
    except StdnumError:
        raise ValidationError(
            _(
                "Cet IBAN n'est pas valide : vérifiez-le sur votre relevé d'identité bancaire "
                "(la clé de contrôle ne correspond pas, ou la longueur est fausse)."
            ),
            code="invalid",
        ) from None
    if compact[:2] not in SEPA_COUNTRIES:
        raise ValidationError(
            _(
                "Le prélèvement SEPA n'est possible que depuis un compte d'un pays de la zone "
                "SEPA ; cet IBAN est d'un autre pays (%(country)s)."
            )
            % {"country": compact[:2]},
            code="not_sepa",
        )
    return compact


def bic_clean(value: str) -> str:
    """The BIC (8 or 11 characters, upper case), or "" when none is given."""
    compact = stdnum_bic.compact(value or "")
    if not compact:
        return ""
    try:
        stdnum_bic.validate(compact)
    except StdnumError:
        raise ValidationError(
            _("Ce BIC n'est pas valide : 8 ou 11 caractères, par exemple AGRIFRPPXXX."),
            code="invalid",
        ) from None
    return compact


def iban_format(value: str) -> str:
    return stdnum_iban.format(value) if value else ""


def iban_masked(value: str) -> str:
    """« FR76 **** **** **** **** **** 189 »: the country code and check digits, then the
    last three characters, grouped by four as the IBAN is printed; enough to recognise
    one's account, not to use it."""
    if not value:
        return ""
    masked = value[:4] + "*" * (len(value) - 7) + value[-3:]
    return " ".join(masked[i : i + 4] for i in range(0, len(masked), 4))


def creditor_id_problem(value: str) -> str | None:
    """Why a SEPA creditor identifier is not valid, or None.

    Its form (EPC262): country code, two check digits, a three-character business code,
    the national identifier. The check digits are ISO 7064 MOD 97-10 over the national
    identifier, then the country code and "00" (the business code is left out)."""
    match = CREDITOR_ID.match(value or "")
    if not match:
        return (
            "expected a country code, 2 check digits, a 3-character business code and the "
            "national identifier (e.g. FR72ZZZ123456)"
        )
    country, digits, _business, national = match.groups()
    expected = mod_97_10.calc_check_digits(f"{national}{country}")
    if digits != expected:
        return f"the check digits should be {expected}, not {digits}"
    return None
