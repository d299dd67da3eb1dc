"""Deploy check of the seller's SEPA creditor identifier (`manage.py check --deploy`): it is
printed on every mandate and every invoice collected by direct debit, and sent in every
pain.008 file; a mistyped one would make the bank refuse them all."""

from django.conf import settings
from django.core import checks

from .sepa import creditor_id_problem


@checks.register(deploy=True)
def creditor_id_check(app_configs=None, **kwargs):
    value = settings.SELLER.get("creditor_id", "")
    problem = creditor_id_problem(value)
    if problem is None:
        return []
    return [
        checks.Error(
            f"SELLER_CREDITOR_ID {value!r} is not a valid SEPA creditor identifier: {problem}.",
            hint="The identifier your bank (in France, the Banque de France) gave, e.g. "
            "FR72ZZZ123456.",
            id="payments.E001",
        )
    ]
