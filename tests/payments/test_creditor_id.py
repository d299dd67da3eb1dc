"""The seller's SEPA creditor identifier (SELLER_CREDITOR_ID), checked by `check --deploy`:
ISO 7064 MOD 97-10 check digits over the national identifier, the country code and "00",
the business code left out (EPC262)."""

import pytest

from payments.checks import creditor_id_check
from payments.sepa import creditor_id_problem


@pytest.mark.parametrize(
    "value",
    [
        "FR72ZZZ123456",  # the example of the Banque de France
        "FR72ABC123456",  # the business code is not in the check digits
        "DE98ZZZ09999999999",  # the Bundesbank's test identifier
    ],
)
def test_valid_identifiers_pass(value, settings):
    settings.SELLER = {**settings.SELLER, "creditor_id": value}
    assert creditor_id_problem(value) is None
    assert creditor_id_check() == []


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("FR73ZZZ123456", "check digits should be 72"),  # one check digit off
        ("FR72ZZZ123457", "check digits should be"),  # one digit of the national id off
        ("DE72ZZZ123456", "check digits should be"),  # another country, same digits
        ("FR72ZZ", "expected a country code"),
        ("", "expected a country code"),
        ("fr72zzz123456", "expected a country code"),
    ],
)
def test_invalid_identifiers_fail_the_deploy_check(value, says, settings):
    settings.SELLER = {**settings.SELLER, "creditor_id": value}
    errors = creditor_id_check()
    assert [e.id for e in errors] == ["payments.E001"]
    assert says in errors[0].msg and repr(value) in errors[0].msg


def test_the_check_runs_with_check_deploy(settings):
    from django.core import checks

    settings.SELLER = {**settings.SELLER, "creditor_id": "FR73ZZZ123456"}
    found = checks.run_checks(include_deployment_checks=True)
    assert "payments.E001" in [e.id for e in found]
