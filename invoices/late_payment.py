"""The late-payment terms every invoice states, and what they come to (Code de commerce).

One place for the rule: the invoice document and its e-invoice notes print these terms, and
the payment reminders (payments.reminders) compute their amounts from the same values.

- **Penalties** (art. L. 441-10 II): due from the day after the due date, without any
  reminder being needed, at the interest rate the European Central Bank applies to its most
  recent main refinancing operation, plus 10 percentage points. The ECB rate to use is the
  one in force on 1 January for the first half of the year and on 1 July for the second:
  the setting `LATE_PAYMENT_ECB_RATE`, which the seller updates twice a year.
  Amount = what is still due × (ECB rate + 10) / 100 × days late / 365, rounded half up
  to the cent, in the invoice's currency.
- **Recovery indemnity** (art. L. 441-10 II and D. 441-5): a fixed 40 euros per invoice
  paid late, owed in full from the first day late.
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

# Percentage points added to the ECB rate (art. L. 441-10 II, second paragraph).
PENALTY_MARGIN_POINTS = Decimal(10)
# Art. D. 441-5: « Le montant de l'indemnité forfaitaire pour frais de recouvrement […] est
# fixé à 40 euros. » Always in euros, whatever the invoice's currency.
RECOVERY_INDEMNITY = Decimal("40.00")
RECOVERY_INDEMNITY_CURRENCY = "EUR"
DAYS_PER_YEAR = 365
CENT = Decimal("0.01")


def penalty_rate() -> Decimal:
    """The yearly penalty rate in percent: the ECB rate of the half-year plus 10 points."""
    return Decimal(str(settings.LATE_PAYMENT_ECB_RATE)) + PENALTY_MARGIN_POINTS


def days_late(*, due_date: date, on: date) -> int:
    """Days of delay on `on`: 0 up to and on the due date, then 1, 2…"""
    return max((on - due_date).days, 0)


@dataclass(frozen=True)
class LateCharges:
    """What an unpaid amount owes on a given day under the invoice's terms."""

    amount: Decimal  # what is still due on the invoice
    currency: str
    days_late: int
    rate: Decimal  # yearly, in percent
    penalty: Decimal  # accrued over `days_late` days, in `currency`
    penalty_per_day: Decimal  # what each further day adds, in `currency`
    indemnity: Decimal  # owed once late, in RECOVERY_INDEMNITY_CURRENCY
    indemnity_currency: str = RECOVERY_INDEMNITY_CURRENCY

    @property
    def is_late(self) -> bool:
        return self.days_late > 0


def _penalty(amount: Decimal, rate: Decimal, days: int) -> Decimal:
    return (amount * rate * days / (100 * DAYS_PER_YEAR)).quantize(CENT, ROUND_HALF_UP)


def late_charges(*, amount: Decimal, currency: str, due_date: date, on: date) -> LateCharges:
    """The penalties and the indemnity `amount` (still due after `due_date`) owes on `on`.

    Before or on the due date nothing is owed yet: `penalty` is 0, and `penalty_per_day`
    and `indemnity` say what would apply from the first day late."""
    rate = penalty_rate()
    days = days_late(due_date=due_date, on=on)
    return LateCharges(
        amount=amount,
        currency=currency,
        days_late=days,
        rate=rate,
        penalty=_penalty(amount, rate, days),
        penalty_per_day=_penalty(amount, rate, 1),
        indemnity=RECOVERY_INDEMNITY,
    )


def terms_values() -> dict:
    """What the printed terms interpolate: the margin (« 10 ») and the indemnity (« 40 »),
    as the invoice has always printed them (whole numbers)."""
    return {
        "margin": f"{PENALTY_MARGIN_POINTS.normalize():f}",
        "indemnity": f"{RECOVERY_INDEMNITY.normalize():f}",
    }
