"""Prorated amounts for a mid-period plan change. Pure functions: no database, no clock.

The period is half-open, [start, end): `end` is the renewal date, the first day of the next
period. On day `today` the unused part of the period is (end - today) / (end - start),
counted in whole days; today itself counts as unused, because the new plan starts today.
Each amount is rounded half up to the cent on its own (it becomes one invoice line).
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def round_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def remaining_days(*, period_start: date, period_end: date, today: date) -> int:
    """Days of [period_start, period_end) from `today` on, clamped to the period."""
    total = (period_end - period_start).days
    if total <= 0:
        raise ValueError("A billing period must not be empty.")
    return max(0, min((period_end - today).days, total))


def prorate(amount: Decimal, *, period_start: date, period_end: date, today: date) -> Decimal:
    """The part of a price for the whole period that falls on the unused days."""
    total = (period_end - period_start).days
    remaining = remaining_days(period_start=period_start, period_end=period_end, today=today)
    # Multiply before dividing: Decimal keeps 28 significant digits, far more than needed.
    return round_cents(Decimal(amount) * remaining / total)


@dataclass(frozen=True)
class Proration:
    remaining_days: int
    total_days: int
    credit: Decimal  # what the old plan's unused days are worth (a positive amount)
    charge: Decimal  # what the new plan costs for the same days

    @property
    def net(self) -> Decimal:
        return self.charge - self.credit


def plan_change(
    *,
    old_price: Decimal,
    new_price: Decimal,
    period_start: date,
    period_end: date,
    today: date,
) -> Proration:
    """Credit for the old plan and charge for the new one, both to the end of the period."""
    dates = {"period_start": period_start, "period_end": period_end, "today": today}
    return Proration(
        remaining_days=remaining_days(**dates),
        total_days=(period_end - period_start).days,
        credit=prorate(old_price, **dates),
        charge=prorate(new_price, **dates),
    )
